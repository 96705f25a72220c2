"""Video summarization end to end on generated videos: summaries (extractive on real MiniLM, abstractive through
a tiny random BART), the transcript assigned to shots, videos without audio or speech, damaged files, the
storyboard and reports, the CLI and the tab's handler."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mmdemo import backends
from mmdemo.errors import BackendUnavailable, BadInput
from mmdemo.pipelines.video_summary import summary as summ
from mmdemo.pipelines import video_summary as vs
from mmdemo.pipelines.speech import Segment
from mmdemo.testing.videos import Narration, Scene, make_video, photos
from tests.conftest import requires_pack

ROOT = Path(__file__).resolve().parent.parent
CLI_KEYS = {"duration", "shots", "transcript", "summary", "summary_method"}
SHOT_KEYS = {"start", "end", "keyframe_time", "caption", "transcript"}
quiet = lambda *a, **k: None  # noqa: E731


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("video-summary")


@pytest.fixture(scope="module")
def narrated(folder):
    """Astronaut (narrated from 0.3 s), a red scene with nothing said, a rocket (narrated from 8.4 s)."""
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng not installed (.ci/run installs it)")
    pictures = photos()
    return make_video(folder / "narrated.mp4", [Scene(4.0, photo=pictures[0]), Scene(4.0, (200, 40, 40)),
                                                Scene(4.0, photo=pictures[3])],
                      narration=[Narration(0.3, "An astronaut stands in front of a flag."),
                                 Narration(8.4, "A rocket waits on the launch pad.")])


@pytest.fixture(scope="module")
def silent(folder):
    """Two coloured scenes, no audio track."""
    return make_video(folder / "silent.mkv", [Scene(2.0, (30, 160, 30)), Scene(2.0, (30, 30, 160))])


@pytest.fixture
def no_summarizer(monkeypatch):
    monkeypatch.delenv("MMDEMO_SUMMARIZER_MODEL", raising=False)
    backends.unload("summarizer")
    yield
    backends.unload("summarizer")


# -- summary -------------------------------------------------------------------------------------------------------
def test_split_sentences_shares_the_time_span():
    parts = summ.split_sentences("One two three. Four five six! Seven?", 10.0, 13.0, "speech")
    assert [p.text for p in parts] == ["One two three.", "Four five six!", "Seven?"]
    assert parts[0].start == 10.0 and parts[-1].end == pytest.approx(13.0)
    assert all(a.end == pytest.approx(b.start) for a, b in zip(parts, parts[1:]))


def test_select_prefers_central_and_skips_repeats():
    topic_a, topic_b, stray = np.array([1.0, 0, 0]), np.array([0, 1.0, 0]), np.array([0, 0, 1.0])
    rows = np.array([topic_a, topic_a, topic_a * 0.95 + topic_b * 0.31, topic_b, stray])
    rows /= np.linalg.norm(rows, axis=1, keepdims=True)
    picked = summ.select(rows, 3)
    assert picked[0] in (0, 1, 2)  # the most repeated topic first
    assert not {0, 1} <= set(picked)  # an exact repeat is never picked twice
    assert 4 in picked or 3 in picked  # the second pick covers something else
    assert sorted(summ.select(rows, 10)) == [2, 3, 4]  # rows 0 and 1 repeat row 2 (cosine >= 0.95): never added


def test_summary_options_are_checked():
    with pytest.raises(BadInput, match="Unknown summary method"):
        summ.summarize([], method="poem")
    with pytest.raises(BadInput, match="1 to 20 sentences"):
        summ.summarize([], max_sentences=0)
    assert summ.summarize([]).text == ""


@requires_pack("minilm")
def test_extractive_keeps_time_order_and_drops_repeats(no_summarizer):
    said = [("The rocket engines ignite and the launch begins.", 0), ("The weather is sunny today.", 5),
            ("Flames pour from the rocket engines as it lifts off.", 9), ("A cat sleeps on the sofa.", 14),
            ("The rocket engines ignite and the launch begins.", 20), ("The rocket climbs into the sky.", 25)]
    sentences = [summ.Sentence(text, t, t + 3, "speech") for text, t in said]
    result = summ.summarize(sentences, max_sentences=3)
    assert result.method == summ.EXTRACTIVE_METHOD
    assert "no summarization model" in result.notes[0]
    starts = [s.start for s in result.sentences]
    assert starts == sorted(starts) and len(result.sentences) == 3
    assert len({s.text for s in result.sentences}) == 3
    assert "rocket" in result.sentences[0].text.lower()  # the repeated topic is central
    with pytest.raises(BackendUnavailable, match="summarizer"):
        summ.summarize(sentences, method="abstractive")


def test_abstractive_through_the_registry_with_a_tiny_bart(tiny_models, use_backend):
    use_backend("summarizer", tiny_models.get("bart"))
    summarizer = backends.get("summarizer")
    long_text = " ".join(f"Sentence number {i} says the cat sat on the mat." for i in range(40))
    chunks = summarizer.chunks(long_text)
    assert len(chunks) > 1 and " ".join(chunks) == long_text
    assert all(len(summarizer.tokenizer(c)["input_ids"]) <= summarizer.max_input_tokens + 2 for c in chunks[:-1])
    sentences = [summ.Sentence("The cat sat on the mat.", 0, 2, "speech"),
                 summ.Sentence("a cat on a mat", 0, 2, "caption")]
    first = summ.summarize(sentences)
    assert first.method.startswith("abstractive (") and isinstance(first.text, str)
    assert summ.summarize(sentences).text == first.text  # beam search: deterministic
    assert summ.summarize(sentences, method="extractive").method == summ.EXTRACTIVE_METHOD
    with pytest.raises(BadInput, match="no text"):
        summarizer.summarize("   ")


# -- assigning speech to shots ---------------------------------------------------------------------------------
def _shots(*bounds):
    return [vs.ShotResult(i, a, b, (a + b) / 2) for i, (a, b) in enumerate(bounds)]


def test_segments_go_to_the_shot_where_they_were_spoken():
    results = _shots((0, 4), (4, 8), (8, 12))
    # Whisper after a pause: the segment "starts" at 3.0 but the words are at 8.4-11 (the VAD says so)
    segments = [Segment(0.0, 3.0, "first."), Segment(3.0, 10.96, "second.")]
    vs.assign_transcript(results, segments, speech_spans=[(0.3, 2.9), (8.4, 11.0)])
    assert [r.transcript for r in results] == ["first.", "", "second."]
    vs.assign_transcript(results, segments)  # no VAD: the overlap of the whole segment decides
    assert [r.transcript for r in results] == ["first.", "second.", ""]
    vs.assign_transcript(results, [Segment(13.0, 13.0, "late.")])
    assert results[2].transcript == "late."


# -- the pipeline --------------------------------------------------------------------------------------------------
@requires_pack("whisper-base")
@requires_pack("efficientnet-lite0")
@requires_pack("minilm")
def test_narration_lands_on_the_right_shot(narrated, no_summarizer, folder):
    stages = []
    result = vs.summarize_video(narrated.path, progress=lambda f, m: stages.append(f))
    assert stages == sorted(stages) and stages[-1] <= 1.0
    assert np.allclose([s.start for s in result.shots], [0.0, 4.0, 8.0], atol=0.1)
    said = [s.transcript.lower() for s in result.shots]
    assert "astronaut" in said[0] and said[1] == "" and "rocket" in said[2]  # "launch" or "lunch" pad
    assert all(s.caption_fallback and s.caption.startswith("offline tags: ") for s in result.shots)
    d = result.to_dict()
    assert CLI_KEYS <= set(d) and all(SHOT_KEYS <= set(s) for s in d["shots"])
    assert d["summary_method"] == summ.EXTRACTIVE_METHOD and "astronaut" in d["summary"].lower()
    assert set(result.timings) == {"probe", "shots", "captions", "speech", "summary"}

    files = vs.write_report(result, folder / "report")
    report = json.loads(files["json"].read_text())
    assert report["summary"] == d["summary"] and "report" in report["timings"]
    md = files["markdown"].read_text()
    assert "| 3 | 0:08.0-0:12.0 |" in md and "rocket" in md and files["storyboard"].name in md
    sheet = Image.open(files["storyboard"])
    assert sheet.format == "PNG" and sheet.width == 1280 and sheet.height < sheet.width  # 2 columns, 2 rows
    assert len(files["keyframes"]) == 3 and all(p.stat().st_size > 1000 for p in files["keyframes"])


@requires_pack("efficientnet-lite0")
@requires_pack("minilm")
def test_no_audio_track_and_silent_audio(silent, folder, no_summarizer):
    result = vs.summarize_video(silent.path)
    assert len(result.shots) == 2 and result.transcript is None
    assert any("no audio track" in n for n in result.notes)
    assert result.summary.text.startswith("Shown: ")  # from the pictures alone
    quiet_video = make_video(folder / "quiet.mp4", [Scene(3.0, (120, 120, 20))], audio=True)
    result = vs.summarize_video(quiet_video.path)
    assert len(result.shots) == 1 and result.transcript is not None and not result.transcript.segments
    assert any("No speech was found" in n for n in result.notes)


def test_damaged_file_is_one_sentence(folder):
    broken = folder / "broken.mp4"
    broken.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(3000))
    with pytest.raises(BadInput, match="not a readable video"):
        vs.summarize_video(broken)


def test_storyboard_grid_for_many_shots(folder):
    info = vs.VideoInfo(duration=30, fps=25, width=320, height=180, has_audio=False)
    jpeg = _jpeg(Image.new("RGB", (320, 180), (200, 10, 10)))
    shots = [vs.ShotResult(i, i * 3.0, i * 3.0 + 3.0, i * 3.0 + 1, jpeg, caption="red") for i in range(10)]
    result = vs.VideoSummary("x.mp4", info, shots, None, summ.Summary("", "none"), "adaptive", 0.1)
    sheet = Image.open(vs.write_storyboard(result, folder / "grid.png"))
    assert sheet.width == 1280
    tile = (1280 - 8 * 5) // 4  # 10 shots: 4 columns, 3 rows
    assert sheet.height == 8 + 3 * (round(tile * 180 / 320) + max(18, tile // 12) + 8)
    assert sheet.getpixel((8 + tile // 2, 8 + 10))[0] > 150  # a keyframe, not the background
    assert vs.clock(75.25) == "1:15.2" and vs.clock(3725) == "1:02:05.0"
    # rounded before it is split: a carry reaches the minute and the hour, never "0:60.0"
    assert (vs.clock(59.96), vs.clock(119.97), vs.clock(3599.96)) == ("1:00.0", "2:00.0", "1:00:00.0")


def _jpeg(image: Image.Image) -> bytes:
    import io

    buffer = io.BytesIO()
    image.save(buffer, format="JPEG")
    return buffer.getvalue()


# -- CLI and tab -----------------------------------------------------------------------------------------------------
@requires_pack("efficientnet-lite0")
@requires_pack("minilm")
def test_cli_json_and_error_line(silent, tmp_path):
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    env.pop("MMDEMO_SUMMARIZER_MODEL", None)
    out = subprocess.run([sys.executable, "-m", "mmdemo", "summarize-video", str(silent.path), "--json",
                          "--report-dir", str(tmp_path)], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert CLI_KEYS <= set(doc) and len(doc["shots"]) == 2 and all(set(s) >= SHOT_KEYS for s in doc["shots"])
    assert doc["duration"] == pytest.approx(4.0, abs=0.05) and doc["transcript"] == ""
    assert Path(doc["files"]["storyboard"]).is_file() and Path(doc["files"]["markdown"]).is_file()
    bad = subprocess.run([sys.executable, "-m", "mmdemo", "summarize-video", str(tmp_path / "nothing.mp4")],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and bad.stderr.startswith("error:")
    assert "file not found" in bad.stderr


@requires_pack("efficientnet-lite0")
@requires_pack("minilm")
def test_tab_handler(silent, folder, no_summarizer):
    gr = pytest.importorskip("gradio")
    from demos import video as tab

    def last(updates):  # the handler streams (so Stop can end it); its final outputs come last
        *_, final = updates
        return final

    with pytest.raises(gr.Error, match="Upload a video"):
        last(tab.run(None, "adaptive", 0.1, "auto", 5, progress=quiet))
    text = folder / "notes.mp4"
    text.write_text("not a video")
    with pytest.raises(gr.Error, match="not a readable video"):
        last(tab.run(str(text), "adaptive", 0.1, "auto", 5, progress=quiet))
    overview, gallery, rows, storyboard, files, *_, raw = last(tab.run(str(silent.path), "adaptive", 0.1, "extractive",
                                                                      3, progress=quiet))
    assert "Written by:** extractive" in overview and "no audio track" in overview
    assert len(gallery) == 2 and re.match(r"#1 · 0:00\.0-0:0[12]\.\d · offline tags: ", gallery[0][1])
    assert [r[0] for r in rows] == [1, 2] and Path(storyboard).is_file()
    assert sorted(Path(f).suffix for f in files) == [".json", ".md", ".png"]
    assert raw["summary_method"] == summ.EXTRACTIVE_METHOD


def test_tab_declares_summarize_video_endpoint():
    gr = pytest.importorskip("gradio")
    from demos import video as tab

    with gr.Blocks() as app:
        tab.build()
    endpoint = app.get_api_info()["named_endpoints"]["/summarize_video"]
    required = [p["parameter_name"] for p in endpoint["parameters"] if not p.get("parameter_has_default")]
    assert required == ["video"]  # the detector, sampling and summary options have defaults
    assert [r["label"] for r in endpoint["returns"]][:2] == ["Summary", "Timeline: keyframe, time range, caption, "
                                                                        "what was said"]
    assert endpoint["returns"][-1]["label"] == "JSON"  # clients read the result as the last output


def test_summarizer_decodes_with_the_checkpoints_settings(tiny_models, use_backend):
    use_backend("summarizer", tiny_models.get("bart"))
    summarizer = backends.get("summarizer")
    options = summarizer.generation_options()
    assert (options["num_beams"], options["max_length"], options["min_length"]) == (2, 16, 4)  # its config's
    assert summarizer.generation_options(max_length=30, num_beams=None)["max_length"] == 30
    with pytest.raises(BadInput, match="Summary length"):
        summarizer.summarize("some words here", max_length=5, min_length=9)


@requires_pack("efficientnet-lite0")
def test_captioner_path_with_a_tiny_blip(silent, tiny_models, use_backend):
    """With captioner weights the keyframes get captions (noise from a random BLIP), not the offline tags."""
    use_backend("captioner", tiny_models.get("blip"))
    use_backend("summarizer", tiny_models.get("bart"))
    result = vs.summarize_video(silent.path)
    assert all(not s.caption_fallback and s.caption_backend.startswith("captioner") for s in result.shots)
    assert not any("offline fallback" in n for n in result.notes)
    assert result.summary.method.startswith("abstractive (")
