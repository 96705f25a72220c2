"""Flags: saved with their inputs and outputs under MMDEMO_FLAG_DIR, listed, exported as an evaluate manifest."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from mmdemo import flags
from mmdemo.errors import BadInput
from tests.conftest import requires_pack


@pytest.fixture
def flag_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("MMDEMO_FLAG_DIR", str(tmp_path / "flags"))
    return tmp_path / "flags"


def test_flag_keeps_a_copy_of_its_input_and_survives_the_request_files(flag_dir, tmp_path):
    clip = tmp_path / "request" / "clip.wav"
    clip.parent.mkdir()
    clip.write_bytes(b"RIFF....WAVE")
    flag = flags.record("speech", "bad", comment="names wrong", reference="Hello Ana.", files={"path": str(clip)},
                        settings={"language": "en", "beam_size": 5}, output={"text": "Hello Anna."},
                        answer="Hello Anna.")
    clip.unlink()  # the request's file expires; the flag keeps its own copy, stored once by content hash
    saved = json.loads((flag_dir / "speech" / flag.folder.split("/")[-1] / "flag.json").read_text())
    assert saved["verdict"] == "bad" and saved["reference"] == "Hello Ana."
    assert saved["input"]["path"].startswith("files/") and saved["input"]["path"].endswith("/clip.wav")
    assert (flag_dir / saved["input"]["path"]).read_bytes() == b"RIFF....WAVE"
    [listed] = flags.list_flags("speech")
    assert listed.comment == "names wrong" and listed.output == {"text": "Hello Anna."}
    assert listed.input_file() == flag_dir / saved["input"]["path"]


def test_a_flag_saved_before_content_hashing_still_exports(flag_dir, tmp_path):
    old = flag_dir / "video" / "20260101T000000Z-abcd1234"
    old.mkdir(parents=True)
    (old / "film.mp4").write_bytes(b"\x00" * 8)
    (old / "flag.json").write_text(json.dumps({"task": "video", "verdict": "good", "reference": "1.0",
                                               "input": {"path": "film.mp4"}, "output": {"cuts": [1.0]},
                                               "time": "20260101T000000Z"}))
    path, written, _ = flags.export_manifest("video", tmp_path / "m.csv")
    [row] = list(csv.DictReader(path.open(encoding="utf-8")))
    assert written == 1 and row["path"] == str(old / "film.mp4")


def test_exported_paths_resolve_from_any_folder(tmp_path, monkeypatch):
    """The default flag folder is relative (./flagged); the manifest still names absolute files."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MMDEMO_FLAG_DIR", raising=False)
    clip = tmp_path / "clip.wav"
    clip.write_bytes(b"RIFF")
    flags.record("speech", "good", files={"path": str(clip)}, output={"text": "hi"}, answer="hi")
    path, _, _ = flags.export_manifest("speech", tmp_path / "m.csv")
    [row] = list(csv.DictReader(path.open(encoding="utf-8")))
    assert Path(row["path"]).is_absolute() and Path(row["path"]).read_bytes() == b"RIFF"


def test_a_good_result_is_its_own_reference_a_bad_one_needs_the_right_answer(flag_dir):
    good = flags.record("emotion", "good", input={"text": "What a lovely day!"}, output={"label": "joy"},
                        answer="joy")
    bad = flags.record("emotion", "bad", input={"text": "I'm absolutely livid"}, output={"label": "joy"},
                       answer="joy")
    assert good.reference == "joy" and bad.reference == ""


def test_export_writes_the_manifest_evaluate_reads(flag_dir, tmp_path):
    flags.record("emotion", "good", input={"text": "What a lovely day!"}, output={"label": "joy"}, answer="joy")
    flags.record("emotion", "bad", input={"text": "I'm absolutely livid"}, output={"label": "joy"}, answer="joy",
                 reference="anger")
    flags.record("emotion", "bad", input={"text": "meh"}, output={"label": "neutral"}, answer="neutral")
    path, written, left_out = flags.export_manifest("emotion", tmp_path / "manifest.csv")
    rows = list(csv.DictReader(path.open(encoding="utf-8")))
    assert (written, left_out) == (2, 1)  # the bad flag without a right answer cannot be scored
    assert sorted((r["text"], r["label"]) for r in rows) == [("I'm absolutely livid", "anger"),
                                                              ("What a lovely day!", "joy")]


def test_file_flags_export_absolute_paths(flag_dir, tmp_path):
    video = tmp_path / "film.mp4"
    video.write_bytes(b"\x00" * 16)
    flags.record("video", "bad", files={"path": str(video)}, output={"cuts": [1.0]}, answer="1.0",
                 reference="1.0;3.04")
    path, written, _ = flags.export_manifest("video", tmp_path / "cuts.csv")
    [row] = list(csv.DictReader(path.open(encoding="utf-8")))
    assert row["cuts"] == "1.0;3.04" and row["path"].endswith("film.mp4")
    assert open(row["path"], "rb").read() == b"\x00" * 16


def test_flagging_refuses_what_cannot_be_saved(flag_dir):
    with pytest.raises(BadInput, match="good or bad"):
        flags.record("speech", "", output={"text": "x"})
    with pytest.raises(BadInput, match="no result to flag"):
        flags.record("speech", "good", output={})
    with pytest.raises(BadInput, match="No caption flag has a reference"):
        flags.export_manifest("caption", flag_dir / "m.csv")


def test_each_tab_describes_its_result_for_a_flag(flag_dir, tmp_path):
    """The tabs' flag panels turn their inputs and JSON result into a flag that exports (keys as the pipelines
    write them)."""
    from demos import captioning, emotion, speech, text_to_image, video

    media = tmp_path / "in.bin"
    media.write_bytes(b"x")
    cases = [
        ("speech", speech._flagged(str(media), None, "transcribe", "", 5, {"text": "hello", "language": "en"})),
        ("emotion", emotion._flagged("so happy", None, None, None, "auto", {"fused": {"label": "joy"}, "weights": {}})),
        ("caption", captioning._flagged(str(media), 1.0, 0.1, {"caption": "a cat on a mat"})),
        ("video", video._flagged(str(media), "combined", 0.04, {"shots": [{"start": 0.0}, {"start": 3.04}]})),
        ("text-to-image", text_to_image._flagged("a red fox", "", 0, [{"path": str(media), "seed": 7,
                                                                        "label": "x", "parameters": "p"}])),
    ]
    for task, details in cases:
        output = details.pop("output", {"any": "result"})
        flags.record(task, "good", output=output, **details)
    assert flags.export_manifest("speech", tmp_path / "s.csv")[1:] == (1, 0)
    assert flags.export_manifest("emotion", tmp_path / "e.csv")[1:] == (1, 0)
    _, written, _ = flags.export_manifest("text-to-image", tmp_path / "t.csv")
    assert written == 1 and "7" in (tmp_path / "t.csv").read_text()
    flags.export_manifest("caption", tmp_path / "c.csv")
    assert "a cat on a mat" in (tmp_path / "c.csv").read_text()
    flags.export_manifest("video", tmp_path / "v.csv")
    assert ",3.04" in (tmp_path / "v.csv").read_text()


@requires_pack("minilm")
def test_flags_are_evaluated_from_the_evaluate_tab(flag_dir):
    """Flags with a right answer are a data set: the Evaluate tab lists them and runs them under the configs."""
    from demos import evaluate as tab

    flags.record("emotion", "good", input={"text": "We won the cup, what a night!"}, output={"label": "joy"},
                 answer="joy")
    flags.record("emotion", "bad", input={"text": "They lied to me again and I am furious."},
                 output={"label": "sadness"}, answer="sadness", reference="anger")
    table, note = tab.list_flags("emotion")
    assert len(table) == 2 and "2 emotion flag(s)" in note
    status, metrics, *rest = tab.evaluate_flags("emotion", "head:text_reader=head", "local",
                                                progress=lambda *a, **k: None)
    result = rest[-1]
    assert result["n"] == 2 and sorted(i["reference"] for i in result["configs"][0]["items"]) == ["anger", "joy"]
    assert "accuracy" in set(metrics["metric"])


def test_a_long_good_transcript_can_be_flagged_and_bad_unicode_is_one_sentence(flag_dir):
    """A "good" result is its own reference: a transcript longer than a typed answer may be is still flagged (the
    record's size bounds it); a typed answer that long, or text a file cannot hold, is one sentence."""
    long_answer = "word " * 2500  # 12,500 characters: about a quarter of an hour of speech
    flag = flags.record("speech", "good", answer=long_answer, output={"text": long_answer})
    assert flag.reference == long_answer.strip()
    with pytest.raises(BadInput, match="The right answer is 12,499 characters long; a flag keeps at most 10,000"):
        flags.record("speech", "bad", reference=long_answer, output={"text": "x"})
    with pytest.raises(BadInput, match="not valid Unicode"):
        flags.record("speech", "bad", comment="a\ud800b", output={"text": "x"})
