"""The CLI as a user meets it: a batch with one unreadable file, and a quiet stderr."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import requires_pack

ROOT = Path(__file__).resolve().parent.parent


def _mmdemo(*args, cwd=ROOT):
    # the variables an in-process CLI call of another test may have set (_quiet_libraries) are not inherited
    quiet = {"HF_HUB_DISABLE_PROGRESS_BARS", "TRANSFORMERS_VERBOSITY", "DIFFUSERS_VERBOSITY",
             "TRANSFORMERS_NO_ADVISORY_WARNINGS"}
    env = {k: v for k, v in os.environ.items() if k not in quiet}
    env["HF_HUB_OFFLINE"] = "1"
    return subprocess.run([sys.executable, "-m", "mmdemo", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=600)


@requires_pack("efficientnet-lite0")
@requires_pack("minilm")
def test_caption_batch_skips_an_unreadable_file_like_the_tab(tmp_path):
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n not really")
    proc = _mmdemo("caption", str(ROOT / "assets" / "captioning_cat.jpg"), str(broken), "--labels", "cat, car",
                   "--json")
    assert proc.returncode == 0, proc.stderr
    items = json.loads(proc.stdout)
    assert [item["file"] for item in items] == ["captioning_cat.jpg", "broken.png"]
    assert "error" not in items[0] and items[0]["labels"][0]["label"] == "cat"
    assert "broken.png" in items[1]["error"]
    # the model libraries' chatter ("Loading weights" bars, advice) stays off stderr without --verbose
    assert "Loading weights" not in proc.stderr and "%|" not in proc.stderr, proc.stderr

    text = _mmdemo("caption", str(ROOT / "assets" / "captioning_cat.jpg"), str(broken), "--labels", "cat, car")
    assert text.returncode == 0 and "broken.png: skipped:" in text.stdout


@requires_pack("minilm")
def test_verbose_lets_the_libraries_speak():
    proc = _mmdemo("emotion", "--text", "I got the job!", "--json", "--verbose")
    assert proc.returncode == 0, proc.stderr
    assert "Loading weights" in proc.stderr


def test_installed_package_runs_from_any_folder(tmp_path):
    """`pip install .` carries the library and its data files; the `mmdemo` command needs no repository."""
    target = tmp_path / "site"
    build = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
                            "--target", str(target), str(ROOT)], capture_output=True, text=True, timeout=600)
    assert build.returncode == 0, build.stderr
    assert (target / "mmdemo" / "data" / "labels.txt").is_file()
    assert (target / "mmdemo" / "data" / "text_emotion_head.npz").is_file()
    assert (target / "bin" / "mmdemo").is_file()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = dict(os.environ, PYTHONPATH=str(target), HF_HUB_OFFLINE="1")
    proc = subprocess.run([str(target / "bin" / "mmdemo"), "models", "--json"], cwd=elsewhere, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)
    assert {row["name"] for row in rows} >= {"whisper", "captioner", "embedder"}
    labels = subprocess.run([sys.executable, "-c", "from mmdemo.pipelines.shared import zero_shot; "
                             "print(len(zero_shot.default_labels()))"], cwd=elsewhere, env=env, capture_output=True,
                            text=True, timeout=300)
    assert labels.returncode == 0 and int(labels.stdout) > 10, labels.stderr


def test_looking_for_an_uncached_model_imports_no_hub_client(tmp_path):
    """A cold CLI call asks the Hugging Face cache for the default models before it takes an offline pack; when the
    cache holds nothing of a model, the answer needs no huggingface_hub (importing its client was 0.4 s of a
    `transcribe` call, python -X importtime)."""
    code = ("import sys; from mmdemo import hub; print(hub.cached_snapshot('openai/whisper-small'), "
            "'huggingface_hub.hf_api' in sys.modules)")
    env = {**os.environ, "HF_HUB_CACHE": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert out.stdout.split() == ["None", "False"], (out.stdout, out.stderr)
