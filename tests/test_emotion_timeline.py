"""A video's fused emotion timeline: one row per transcript segment with its text, voice and face readings fused
with the user's weights, in the Emotion reading, its CLI JSON, and the video summary's report."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mmdemo.emotion_labels import LABELS
from mmdemo.pipelines import emotion
from mmdemo.pipelines.emotion import timeline as tl
from mmdemo.pipelines.emotion.fusion import fuse
from mmdemo.testing.speech_clips import have_espeak
from mmdemo.testing.videos import Narration, Scene, make_video
from tests.conftest import requires_pack

ROOT = Path(__file__).resolve().parent.parent
SMILE = Image.open(ROOT / "assets" / "emotion_smiling_astronaut.jpg").convert("RGB")
SR = 16000
HAPPY, GRIM = "I am so happy today, this is wonderful news!", "The old house stood empty by the grey sea."


@pytest.fixture(scope="module")
def face_then_none(tmp_path_factory):
    """A smiling face for 4 s, then 4 s of a plain scene without any face; no sound."""
    folder = tmp_path_factory.mktemp("timeline")
    return make_video(folder / "face_then_none.mp4", [Scene(4.0, photo=SMILE, pan=0.0), Scene(4.0, (40, 90, 160))],
                      size=(320, 320), fps=10, audio=False)


@pytest.fixture(scope="module")
def talking(tmp_path_factory):
    """The face for 4 s, narrated from 0.3 s; then 6 s of a plain scene, narrated from 6 s."""
    if not have_espeak():
        pytest.skip("espeak-ng not installed (.ci/run installs it)")
    folder = tmp_path_factory.mktemp("timeline-talk")
    return make_video(folder / "talking.mp4", [Scene(4.0, photo=SMILE, pan=0.0), Scene(6.0, (40, 90, 160))],
                      size=(320, 320), fps=10, narration=[Narration(0.3, HAPPY), Narration(6.0, GRIM)])


def _tone(seconds: float) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    return (0.2 * np.sin(2 * np.pi * (180 + 30 * np.sin(2 * np.pi * t)) * t)).astype(np.float32)


def _onehot(label: str, p: float = 0.7) -> np.ndarray:
    out = np.full(len(LABELS), (1 - p) / (len(LABELS) - 1))
    out[LABELS.index(label)] = p
    return out


# -- the timeline on its own ---------------------------------------------------------------------------------------
@requires_pack("fer")
def test_each_segment_fuses_its_own_parts_and_says_when_no_face_was_seen(offline, face_then_none, monkeypatch):
    asked = []
    real = tl.video_media.sample_frames
    monkeypatch.setattr(tl.video_media, "sample_frames",
                        lambda path, times, **kw: asked.extend(times) or real(path, times=times, **kw))
    segments = [(0.5, 3.5, "first words"), (4.5, 7.5, "second words"), (7.6, 7.9, "a word")]
    readings = [_onehot("sadness"), _onehot("anger"), _onehot("fear")]
    timeline = tl.read_timeline(face_then_none.path, _tone(8.0), segments, "text=1,face=3", text_readings=readings,
                                text_method="given")
    first, second, short = timeline.segments
    assert [(s.start, s.end, s.text) for s in timeline.segments] == segments
    # only frames inside the segments were decoded, at most one a second and four per segment
    assert asked and all(any(a <= t <= b for a, b, _ in segments) for t in asked)
    assert (first.frames_sampled, second.frames_sampled, short.frames_sampled) == (3, 3, 1)
    assert first.frames_with_faces == 3 and LABELS[int(np.argmax(first.probs["face"]))] == "joy"
    assert second.frames_with_faces == 0 and "face" not in second.probs and second.notes["face"] == tl.NO_FACE
    # no speech-emotion model offline: the voice is prosody's arousal, reported and not fused
    assert all("voice" not in s.probs and s.arousal is not None for s in timeline.segments)
    expected, _ = fuse({"text": readings[0], "face": first.probs["face"]}, {"text": 1, "face": 3})
    assert np.allclose(first.fused, expected) and np.allclose(first.fused, (readings[0] + 3 * first.probs["face"]) / 4)
    assert first.fused_weights == {"text": 0.25, "face": 0.75}
    assert np.allclose(second.fused, readings[1]) and second.fused_weights == {"text": 1.0}

    d = timeline.to_dict()
    json.dumps(d)
    row = d["segments"][1]
    assert row["modalities"]["face"] == {"label": None, "confidence": None, "note": "no face seen",
                                         "frames_sampled": 3, "frames_with_faces": 0}
    assert row["modalities"]["voice"]["label"] is None and row["modalities"]["voice"]["arousal_level"]
    assert row["fused"]["label"] == "anger" and d["segments"][0]["fused"]["label"] == "joy"
    cells = tl.table_rows(d)
    assert cells[1]["face"] == "no face seen" and cells[0]["face"].startswith("joy ")
    assert "prosody heuristic, not fused" in cells[0]["voice"]
    again = tl.reweigh(d, "face=0")  # the sliders: fused again without reading anything
    assert again["segments"][0]["fused"]["label"] == "sadness" and again["weights"]["face"] == 0
    assert tl.reweigh(d, "text=0,face=0")["segments"][1]["fused"]["label"] is None  # said, not a failure


def test_face_looks_are_bounded_for_a_long_film():
    rows = [tl.SegmentReading(10.0 * i, 10.0 * i + 9.0, "words", {}, {}) for i in range(100)]
    times = tl.face_times(rows, 1000.0)
    assert sum(map(len, times)) <= tl.MAX_FACE_FRAMES and all(len(t) >= 1 for t in times)
    assert all(r.start <= t <= r.end for r, ts in zip(rows, times) for t in ts)
    assert tl.face_times(rows[:1], 1000.0) == [[1.125, 3.375, 5.625, 7.875]]  # 9 s: four looks, evenly


def test_no_segments_is_one_line():
    timeline = tl.read_timeline("never-opened.mp4", np.zeros(SR, np.float32), [(0.0, 1.0, "   ")])
    assert timeline.to_dict()["segments"] == [] and timeline.note == tl.NO_SPEECH


@requires_pack("fer")
def test_speech_emotion_model_reads_each_segment_and_joins_the_fusion(offline, face_then_none, tiny_models,
                                                                      use_backend):
    use_backend("speech_emotion", tiny_models.get("wav2vec2_emotion"))
    segments = [(4.5, 6.0, "one"), (6.0, 6.2, "two")]  # the second is shorter than the model's minimum
    readings = [_onehot("joy"), _onehot("neutral")]
    timeline = tl.read_timeline(face_then_none.path, _tone(8.0), segments, {"voice": 2}, text_readings=readings,
                                text_method="given")
    for seg, text in zip(timeline.segments, readings):
        assert set(seg.probs) == {"text", "voice"} and seg.probs["voice"].sum() == pytest.approx(1)
        assert np.allclose(seg.fused, (text + 2 * seg.probs["voice"]) / 3)
        assert "wav2vec2_emotion" in seg.methods["voice"] and seg.arousal is not None


# -- through the Emotion reading, the CLI and the video summary ------------------------------------------------------
@requires_pack("fer")
@requires_pack("whisper-base")
@requires_pack("minilm")
def test_a_video_reading_carries_its_timeline_in_the_json(offline, talking):
    from mmdemo.cli import emotion as cli

    args = argparse.Namespace(conversation=None, text=None, text_file=None, audio=None, image=None,
                              video=str(talking.path), weights="text=1,voice=1,face=1", annotated=None)
    result = cli.run(args)
    timeline = result["timeline"]
    segments = timeline["segments"]
    assert len(segments) >= 2 and timeline["note"] is None
    # the rows are the transcript's segments: same starts as the voice's own timeline, same words
    assert [round(s["start"], 2) for s in segments] == pytest.approx([p["time"] for p in result["timelines"]["voice"]],
                                                                      abs=0.011)
    assert " ".join(s["text"] for s in segments) == result["modalities"]["voice"]["transcript"]
    # faces are looked for where the VAD heard speech inside the segment; where those looks all fall in the face
    # scene (0-4 s) a face is read, where they all fall after it, none is
    looks = tl.face_times([tl.SegmentReading(s["start"], s["end"], "", {}, {}, spoken=tuple(s["spoken"]))
                           for s in segments],
                          tl.video_media.probe(talking.path).duration)
    with_face = [s for s, ts in zip(segments, looks) if max(ts) < 3.85]
    without = [s for s, ts in zip(segments, looks) if min(ts) > 4.15]
    assert with_face and without
    assert all(s["modalities"]["face"]["label"] == "joy" for s in with_face)
    assert all(s["modalities"]["face"]["note"] == "no face seen" for s in without)
    for s in segments:
        parts = {name: np.array(list(m["scores"].values())) for name, m in s["modalities"].items() if m["label"]}
        fused, _ = fuse(parts, {"text": 1, "voice": 1, "face": 1})
        assert list(s["fused"]["scores"].values()) == pytest.approx(fused, abs=2e-4)
    assert "timeline (per transcript segment" in cli.render(result) and "no face seen" in cli.render(result)
    first = segments.index(with_face[0])
    assert emotion.reweigh(result, "text=0")["timeline"]["segments"][first]["fused"]["weights"] == {"text": 0.0,
                                                                                                    "face": 1.0}


@requires_pack("fer")
def test_a_video_without_sound_says_so_in_one_line(offline, face_then_none):
    result = emotion.analyze(video=face_then_none.path).to_dict()
    assert result["timeline"]["segments"] == [] and result["timeline"]["note"] == tl.NO_AUDIO
    assert "timeline" not in emotion.analyze(text="hello there").to_dict()


@requires_pack("whisper-base")
@requires_pack("efficientnet-lite0")
@requires_pack("minilm")
@requires_pack("fer")
def test_video_summary_report_holds_the_timeline_when_asked(offline, talking, tmp_path):
    from mmdemo.pipelines import video_summary as vs

    result = vs.summarize_video(talking.path, emotion_timeline=True, emotion_weights="face=2")
    d = result.to_dict()
    timeline = d["emotion_timeline"]
    assert [(s["start"], s["end"]) for s in timeline["segments"]] == [(s["start"], s["end"]) for s in d["segments"]
                                                                      if s["text"].strip()]
    assert timeline["weights"]["face"] == 2 and "emotion" in result.timings
    assert any(s["modalities"]["face"].get("note") == "no face seen" for s in timeline["segments"]), timeline
    files = vs.write_report(result, tmp_path)
    md = files["markdown"].read_text()
    assert "## Emotion timeline" in md and "no face seen" in md and files["emotion_plot"].name in md
    assert Image.open(files["emotion_plot"]).format == "PNG"
    assert json.loads(files["json"].read_text())["emotion_timeline"] == timeline
    plain = vs.summarize_video(talking.path)  # off by default: nothing read, nothing written
    assert "emotion_timeline" not in plain.to_dict() and "emotion" not in plain.timings
    assert "Emotion timeline" not in vs.markdown(plain)


def test_summary_cli_weights_need_the_timeline():
    from mmdemo.cli import summarize_video as cli
    from mmdemo.errors import BadInput

    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    with pytest.raises(BadInput, match="add --emotion-timeline"):
        cli.run(parser.parse_args(["clip.mp4", "--emotion-weights", "face=2"]))


def test_the_plot_of_a_long_video_has_a_readable_time_axis():
    """Past six hours the ticks are whole half hours (the tick table once ran out: StopIteration)."""
    from mmdemo.pipelines.emotion import timeline_plot

    image = timeline_plot.draw({"segments": []}, 7 * 3600.0)
    assert image.width == 1280
