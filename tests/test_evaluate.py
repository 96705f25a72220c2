"""Evaluation of data sets: each task on a 2-4 item manifest with tiny models or the offline packs, every metric
recomputed here from the report's items with the library made for it; bad manifests, rows, files and config keys;
the CLI's JSON and files; the Ray engine against the local one."""

from __future__ import annotations

import csv
import importlib.util
import json
import sys
from pathlib import Path

import pytest

from mmdemo import backends
from mmdemo.errors import BadInput
from mmdemo.pipelines import evaluation
from tests.conftest import requires_espeak, requires_pack

ROOT = Path(__file__).resolve().parent.parent
ASSETS = ROOT / "assets"
TEXTS = [("I got the job! Best day of my life!", "joy"),
         ("My grandmother passed away and I cannot stop crying.", "sadness"),
         ("This is outrageous, they cancelled my flight again!", "anger"),
         ("The meeting is at ten in room four.", "neutral")]


def _csv(path: Path, header: list[str], rows: list[list]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def _ok(config: dict) -> list[dict]:
    return [i for i in config["items"] if "error" not in i]


# -- manifests and configs (no model) ----------------------------------------------------------------------------
def test_missing_column_names_it_and_the_task_needs(tmp_path):
    path = _csv(tmp_path / "m.csv", ["path", "transcript"], [["a.wav", "hello"]])
    with pytest.raises(BadInput, match=r"m.csv has no column 'reference': a speech manifest needs path, reference"):
        evaluation.read_manifest("speech", path)


def test_bad_rows_are_skipped_and_listed_with_row_numbers(tmp_path):
    (tmp_path / "clips").mkdir()
    (tmp_path / "clips" / "a.wav").write_bytes(b"RIFF")
    path = _csv(tmp_path / "m.csv", ["path", "reference", "language"],
                [["clips/a.wav", "hello there", "en"], ["clips/missing.wav", "hi", ""], ["clips/a.wav", "", "en"],
                 ["clips/a.wav", "too", "many", "values"]])
    items, skipped = evaluation.read_manifest("speech", path)
    assert [(i["row"], i["path"], i["language"]) for i in items] == [(2, str(tmp_path / "clips" / "a.wav"), "en")]
    assert skipped == [{"row": 3, "reason": "file not found: clips/missing.wav"},
                       {"row": 4, "reason": "'reference' is empty"},
                       {"row": 5, "reason": "4 values for 3 columns"}]


def test_no_usable_row_and_undecodable_file_are_one_message(tmp_path):
    path = _csv(tmp_path / "m.csv", ["text", "label"], [["hi", "bliss"]])
    with pytest.raises(BadInput, match=r"no usable row \(row 2: label 'bliss' is none of anger"):
        evaluation.read_manifest("emotion", path)
    (tmp_path / "latin1.csv").write_bytes("text,label\ncaf\xe9,joy\n".encode("latin-1"))
    with pytest.raises(BadInput, match="not UTF-8"):
        evaluation.read_manifest("emotion", tmp_path / "latin1.csv")


def test_uploads_only_resolve_to_uploaded_files(tmp_path):
    upload = tmp_path / "upload" / "a.jpg"
    upload.parent.mkdir()
    upload.write_bytes(b"x")
    path = _csv(tmp_path / "m.csv", ["path", "label"], [["photos/a.jpg", "cat"], ["/etc/passwd", "dog"]])
    items, skipped = evaluation.read_manifest("caption", path, uploads={"a.jpg": str(upload)})
    assert items[0]["path"] == str(upload)
    assert skipped == [{"row": 3, "reason": "/etc/passwd is not among the uploaded files"}]


def test_config_keys_are_typed_and_a_bad_key_lists_the_valid_ones():
    name, settings = evaluation.parse_config("greedy:beam_size=1,vad=off,language=en", "speech")
    assert name == "greedy" and settings["beam_size"] == 1 and settings["vad"] is False
    assert settings["language"] == "en" and settings["batch_size"] == 1  # defaults completed
    assert evaluation.parse_config("beam_size=2", "speech")[0] == "beam_size=2"
    with pytest.raises(BadInput, match=r"config a: unknown key 'beam' for the speech task; valid keys: model, task, "
                                       r"beam_size, batch_size"):
        evaluation.parse_config("a:beam=1", "speech")
    with pytest.raises(BadInput, match="config a: beam_size must be a whole number from 1 to 10, not '1.5'"):
        evaluation.parse_config("a:beam_size=1.5", "speech")
    with pytest.raises(BadInput, match="config b: text_reader must be one of auto, head, zero-shot"):
        evaluation.parse_config("b:text_reader=best", "emotion")
    with pytest.raises(BadInput, match="two configs are named 'a'"):
        evaluation.evaluate("emotion", [{"row": 2, "text": "hi", "label": "joy"}], ["a", "a:text_reader=head"])


# -- emotion: offline head, zero-shot and the face pack; the CLI -------------------------------------------------
@pytest.fixture(scope="module")
def emotion_manifest(tmp_path_factory):
    folder = tmp_path_factory.mktemp("emotion")
    (folder / "faces").mkdir()
    (folder / "faces" / "smile.jpg").write_bytes((ASSETS / "emotion_smiling_astronaut.jpg").read_bytes())
    rows = [[t, "", label] for t, label in TEXTS] + [["", "faces/smile.jpg", "happy"], ["", "faces/gone.jpg", "joy"]]
    return _csv(folder / "manifest.csv", ["text", "path", "label"], rows)


@requires_pack("minilm")
@requires_pack("fer")
def test_emotion_metrics_are_sklearn_on_the_items(emotion_manifest, tmp_path, capsys):
    from sklearn.metrics import accuracy_score, confusion_matrix, f1_score

    from mmdemo.cli import main

    code = main(["evaluate", "emotion", str(emotion_manifest), "--config", "head:text_reader=head",
                 "zero:text_reader=zero-shot", "--out", str(tmp_path / "out"), "--json"])
    out = capsys.readouterr()
    assert code == 0, out.err
    result = json.loads(out.out)
    assert set(result) >= {"task", "n", "configs", "skipped"} and result["task"] == "emotion" and result["n"] == 5
    assert result["skipped"] == [{"row": 7, "reason": "file not found: faces/gone.jpg"}]
    assert "skipped row 7: file not found: faces/gone.jpg" in out.err
    assert [c["name"] for c in result["configs"]] == ["head", "zero"]
    for config in result["configs"]:
        assert set(config) >= {"name", "settings", "metrics", "seconds", "items"}
        assert set(config["items"][0]) >= {"input", "reference", "output", "row", "seconds"}
        items = _ok(config)
        assert config["metrics"]["n"] == len(items) == 5  # the face row was read by the fer pack
        truth, said = [i["reference"] for i in items], [i["output"] for i in items]
        assert truth == [label for _, label in TEXTS] + ["joy"]  # "happy" is the app's "joy"
        assert config["metrics"]["accuracy"] == round(accuracy_score(truth, said), 4)
        assert config["metrics"]["macro_f1"] == round(f1_score(truth, said, average="macro", zero_division=0), 4)
        labels = config["metrics"]["labels"]
        assert len(labels) == 7 and config["metrics"]["confusion"] == confusion_matrix(truth, said, labels=labels).tolist()
    head, zero = result["configs"]
    assert "head trained on GoEmotions" in head["items"][0]["modalities"]["text"]
    assert "zero-shot" in zero["items"][0]["modalities"]["text"]
    # --out: the same report as JSON, one CSV row per item per config, an HTML page
    assert json.loads((tmp_path / "out" / "report.json").read_text())["configs"][0]["metrics"] == head["metrics"]
    with (tmp_path / "out" / "report.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 10 and {r["config"] for r in rows} == {"head", "zero"}
    assert [r["output"] for r in rows if r["config"] == "zero"] == [i["output"] for i in zero["items"]]
    page = (tmp_path / "out" / "report.html").read_text()
    assert "Confusion matrix: head" in page and "macro_f1" in page
    # a single input under two configs: the same as a one-row manifest, and no metric without a reference
    compared = evaluation.compare("emotion", {"text": TEXTS[0][0]}, [("head", {"text_reader": "head"}),
                                                                      ("zero", {"text_reader": "zero-shot"})])
    assert [c.items[0]["output"] for c in compared.configs] == [head["items"][0]["output"], zero["items"][0]["output"]]
    assert all(c.metrics == {"n": 0} for c in compared.configs)


def test_cli_bad_input_exits_2_with_one_line(emotion_manifest, tmp_path, capsys, monkeypatch):
    from mmdemo.cli import main

    assert main(["evaluate", "emotion", str(emotion_manifest), "--config", "a:weight=2"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["error: config a: unknown key 'weight' for the emotion task; valid keys: model, embedder, "
                   "voice_model, face_model, text_reader, text_weight, voice_weight, face_weight, context."]
    bad = _csv(tmp_path / "bad.csv", ["sentence", "label"], [["hi", "joy"]])
    assert main(["evaluate", "emotion", str(bad)]) == 2
    assert capsys.readouterr().err.startswith("error: bad.csv has no column 'text or path'")
    assert main(["evaluate", "emotion", str(tmp_path / "nowhere.csv")]) == 2
    assert "cannot read the manifest nowhere.csv" in capsys.readouterr().err
    monkeypatch.setitem(sys.modules, "ray", None)  # as if Ray were not installed
    assert main(["evaluate", "emotion", str(emotion_manifest), "--engine", "ray"]) == 2
    assert capsys.readouterr().err == "error: --engine ray needs Ray Data: pip install -r requirements-scale.txt.\n"


# -- speech: the whisper-base pack on espeak-ng clips ------------------------------------------------------------
@requires_pack("whisper-base")
@requires_pack("silero-vad")
@requires_espeak
def test_speech_corpus_wer_is_jiwer_after_whisper_normalizers(tmp_path):
    import jiwer

    from mmdemo.pipelines.speech.scoring import normalize
    from mmdemo.testing.speech_clips import espeak

    said = ["The quick brown fox jumps over the lazy dog.", "Go forward ten meters and turn left."]
    for number, text in enumerate(said):
        espeak(tmp_path / f"clip{number}.wav", text, "en", 150)
    # references as a data set gives them: lower case, numbers as words, no punctuation
    path = _csv(tmp_path / "speech.csv", ["path", "reference", "language"],
                [["clip0.wav", "the quick brown fox jumps over the lazy dog", "en"],
                 ["clip1.wav", "go forward 10 meters and turn right", "en"]])
    items, skipped = evaluation.read_manifest("speech", path)
    report = evaluation.evaluate("speech", items, ["beam1:beam_size=1"], skipped=skipped).to_dict()
    config = report["configs"][0]
    done = _ok(config)
    assert len(done) == 2 and config["metrics"]["n"] == 2 and config["metrics"]["normalizer"] == "whisper-english"
    refs = [normalize(i["reference"], "en") for i in done]
    hyps = [normalize(i["output"], "en") for i in done]
    assert config["metrics"]["wer"] == round(jiwer.wer(refs, hyps), 4)
    assert config["metrics"]["cer"] == round(jiwer.cer(refs, hyps), 4)
    assert 0 < config["metrics"]["wer"] < 0.5  # "right" was never said


# -- caption: tiny BLIP + tiny CLIP ------------------------------------------------------------------------------
def test_caption_zero_shot_accuracy_and_bleu(tiny_models, use_backend, tmp_path):
    import sacrebleu
    from sklearn.metrics import accuracy_score

    use_backend("captioner", tiny_models.get("blip"))
    use_backend("clip", tiny_models.get("clip"))
    photos = {"cat": "captioning_cat.jpg", "coffee": "captioning_coffee.jpg", "rocket": "captioning_rocket.jpg"}
    labelled = _csv(tmp_path / "labels.csv", ["path", "label"],
                    [[str(ASSETS / f), label] for label, f in photos.items()])
    items, _ = evaluation.read_manifest("caption", labelled)
    config = evaluation.evaluate("caption", items, [("default", {"candidates": 1})]).to_dict()["configs"][0]
    done = _ok(config)
    assert len(done) == 3 and all(i["output"] in photos for i in done)  # chosen among the manifest's labels
    assert config["metrics"]["accuracy"] == round(accuracy_score([i["reference"] for i in done],
                                                                 [i["output"] for i in done]), 4)
    described = _csv(tmp_path / "refs.csv", ["path", "reference"],
                     [[str(ASSETS / "captioning_cat.jpg"), "a cat lying on a sofa"],
                      [str(ASSETS / "captioning_rocket.jpg"), "a rocket on the launch pad"]])
    items, _ = evaluation.read_manifest("caption", described)
    config = evaluation.evaluate("caption", items, [("default", {"candidates": 1})]).to_dict()["configs"][0]
    done = _ok(config)
    bleu = sacrebleu.corpus_bleu([i["output"] for i in done], [[i["reference"] for i in done]])
    assert config["metrics"]["bleu"] == round(bleu.score, 2) and config["metrics"]["n"] == 2
    assert config["metrics"]["clip_score"] == round(sum(i["clip_score"] for i in done) / 2, 2)


# -- video: generated videos with known cuts ---------------------------------------------------------------------
@requires_pack("efficientnet-lite0")
def test_video_cut_precision_recall_are_mir_eval_matches(tmp_path):
    import mir_eval
    import numpy as np

    from mmdemo.testing.videos import Scene, make_video

    made = make_video(tmp_path / "three.mp4", [Scene(1.5, (200, 40, 40)), Scene(1.5, (40, 200, 40)),
                                               Scene(1.5, (40, 40, 200))], size=(160, 90), seed=3)
    make_video(tmp_path / "one.mp4", [Scene(2.0, (120, 120, 40))], size=(160, 90), seed=4)
    # the second row's truth has a cut that is not in the video: recall must drop
    path = _csv(tmp_path / "cuts.csv", ["path", "cuts"],
                [["three.mp4", ";".join(map(str, made.cuts))], ["one.mp4", "1.0"], ["three.mp4", "1.5;x"]])
    items, skipped = evaluation.read_manifest("video", path)
    assert skipped == [{"row": 4, "reason": "cut 'x' is not a time in seconds"}]
    config = evaluation.evaluate("video", items).to_dict()["configs"][0]
    done = _ok(config)
    matched = sum(len(mir_eval.util.match_events(np.array(i["reference"]), np.array(i["output"]), 0.5))
                  for i in done)
    found, truth = sum(len(i["output"]) for i in done), sum(len(i["reference"]) for i in done)
    metrics = config["metrics"]
    assert (metrics["precision"], metrics["recall"]) == (round(matched / found, 4), round(matched / truth, 4))
    assert metrics["recall"] < 1.0 and metrics["n"] == 2
    assert metrics["f1"] == round(2 * matched / (found + truth), 4)


# -- text-to-image: tiny SD chosen by the config itself, restored afterwards --------------------------------------
def test_text_to_image_model_from_the_config_and_restored(tiny_models, use_backend, tmp_path, monkeypatch):
    use_backend("clip", tiny_models.get("clip"))
    monkeypatch.setenv("MMDEMO_DIFFUSION_MODEL", "/nonexistent/diffusion")
    backends.unload("diffusion")
    path = _csv(tmp_path / "prompts.csv", ["prompt", "seed"], [["a red bicycle", "7"], ["a blue boat", ""]])
    items, _ = evaluation.read_manifest("text-to-image", path)
    config = ("tiny", {"model": str(tiny_models.get("sd")), "steps": 1, "width": 64, "height": 64, "seed": 3})
    report = evaluation.evaluate("text-to-image", items, [config], folder=tmp_path / "images").to_dict()
    result = report["configs"][0]
    done = _ok(result)
    assert [i["seed"] for i in done] == [7, 3] and all(Path(i["output"]).is_file() for i in done)
    assert result["metrics"]["clip_score"] == round(sum(i["clip_score"] for i in done) / 2, 2)
    assert result["metrics"]["seconds_per_image"] == round(sum(i["seconds_per_image"] for i in done) / 2, 3)
    assert backends.REGISTRY.chosen("diffusion") is None and not backends.REGISTRY.is_loaded("diffusion")
    with pytest.raises(BadInput, match="config bad: model=/nowhere/sd: "):
        evaluation.evaluate("text-to-image", items, [("bad", {"model": "/nowhere/sd"})])
    assert backends.REGISTRY.chosen("diffusion") is None


# -- the Ray engine gives what the local one gives ---------------------------------------------------------------
@requires_pack("minilm")
@pytest.mark.skipif(importlib.util.find_spec("ray") is None, reason="ray not installed (pip install -r requirements-scale.txt)")
def test_ray_engine_matches_local(tmp_path, monkeypatch):
    import ray

    path = _csv(tmp_path / "m.csv", ["text", "label"], [list(row) for row in TEXTS[:2]])
    items, _ = evaluation.read_manifest("emotion", path)
    configs = ["zero:text_reader=zero-shot"]
    local = evaluation.evaluate("emotion", items, configs).to_dict()["configs"][0]
    monkeypatch.setenv("MMDEMO_RAY_ACTORS", "1")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        progress = []
        distributed = evaluation.evaluate("emotion", items, configs, engine="ray",
                                          progress=lambda f, m: progress.append(m))
    finally:
        ray.shutdown()
    assert distributed.engine == "ray"
    remote = distributed.to_dict()["configs"][0]
    assert remote["metrics"] == local["metrics"]
    assert [i["output"] for i in remote["items"]] == [i["output"] for i in local["items"]]
    assert progress[-1].startswith("2/2 items") and progress[-1].endswith("left")


# -- the tab's handler ---------------------------------------------------------------------------------------------
@requires_pack("minilm")
@requires_pack("fer")
def test_tab_matches_uploads_by_name_and_filters_disagreements(tmp_path):
    import gradio as gr

    from demos import evaluate as tab

    steps = []
    upload = tmp_path / "upload" / "smile.jpg"  # the browser's upload folder, not the manifest's
    upload.parent.mkdir()
    upload.write_bytes((ASSETS / "emotion_smiling_astronaut.jpg").read_bytes())
    manifest = _csv(tmp_path / "manifest.csv", ["text", "path", "label"],
                    [[t, "", label] for t, label in TEXTS[:2]] + [["", "faces/smile.jpg", "joy"], ["", "faces/gone.jpg", "joy"]])
    out = tab.evaluate("emotion", str(manifest), [str(upload)], "head:text_reader=head\nzero:text_reader=zero-shot",
                       "local", progress=lambda f, desc: steps.append(desc))
    status, metrics, *plots, confusion, items, downloads, result = out
    assert "**3 items**, 1 row(s) skipped" in status and "faces/gone.jpg is not among the uploaded files" in status
    assert list(metrics.columns) == ["metric", "head", "zero"] and "macro_f1" in set(metrics["metric"])
    assert [p.title for p in plots if p.visible] == ["accuracy", "macro_f1", "weighted_f1"]
    assert confusion.visible and len(confusion.value["data"]) == 14  # 7 rows per config
    assert list(items.columns) == ["row", "input", "reference", "head", "zero"] and len(items) == 3
    assert "smile.jpg" in list(items["input"]) and not any(str(tmp_path) in str(i) for i in items["input"])
    for plot in (p for p in plots if p.visible):  # bars from 0, in config order (as the table), not alphabetical
        assert plot.y_lim[0] == 0 and plot.sort == ["head", "zero"]
    assert sorted(Path(p).name for p in downloads) == ["report.csv", "report.html", "report.json"]
    assert steps[-1].startswith("6/6 items")
    differing = tab.refilter(result, True)
    assert list(differing["row"]) == evaluation.Report.from_dict(result).disagreements()
    assert all(r["head"] != r["zero"] for _, r in differing.iterrows())
    with pytest.raises(gr.Error, match="Upload a manifest first"):
        tab.evaluate("emotion", None, None, "", "local", progress=lambda f, desc: None)
    with pytest.raises(gr.Error, match="unknown key 'beam'"):
        tab.evaluate("emotion", str(manifest), None, "a:beam=1", "local", progress=lambda f, desc: None)


def test_cuts_are_matched_one_to_one_within_the_tolerance():
    """Each reference cut is matched by at most one found cut, nearest first, within 0.5 s: the evaluation's count,
    and bench.real's beside it."""
    from mmdemo.pipelines.evaluation.tasks import matched_cuts

    assert matched_cuts([1.05, 3.0], [1.0, 1.1, 5.0]) == 1
    assert matched_cuts([1.2, 3.0], [1.0, 2.9]) == 2 and matched_cuts([1.0], []) == 0 and matched_cuts([], [0.2]) == 0
