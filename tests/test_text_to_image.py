"""Text-to-image: the real diffusers code path (AutoPipelineForText2Image on a folder) with a tiny random Stable
Diffusion pipeline, loaded through the registry: seeds, sizes, family defaults, PNG metadata, progress, Stop,
TAESD previews, CLIP scores through the shared clip backend, the CLI and the tab's handlers. Images of random
models are noise: nothing here judges quality."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image

from mmdemo import backends
from mmdemo.backends.diffusion import detect_family
from mmdemo.errors import BadInput
from mmdemo.pipelines import text_to_image as t2i
from mmdemo.pipelines.shared.png_parameters import infotext, parse_infotext, read_parameters

ROOT = Path(__file__).resolve().parent.parent
PROMPT = "a red bicycle leaning on a blue wall"


@pytest.fixture(scope="module")
def sd_folder(tiny_models):
    """The tiny pipeline configured for the whole module (loaded once, not once per test); no CLIP, no TAESD."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MMDEMO_DIFFUSION_MODEL", str(tiny_models.get("sd")))
        mp.setenv("MMDEMO_CLIP_MODEL", "/nonexistent/clip-model")
        mp.delenv("MMDEMO_TAESD_MODEL", raising=False)
        mp.delenv("MMDEMO_DIFFUSION_FAMILY", raising=False)
        for name in ("diffusion", "clip"):
            backends.unload(name)
        yield tiny_models.get("sd")
        for name in ("diffusion", "clip"):
            backends.unload(name)


@pytest.fixture
def tiny_sd(sd_folder):
    return sd_folder


@pytest.fixture
def tiny_sd_taesd(sd_folder, tiny_models, monkeypatch):
    monkeypatch.setenv("MMDEMO_TAESD_MODEL", str(tiny_models.get("taesd")))
    backends.unload("diffusion")
    yield sd_folder
    backends.unload("diffusion")  # the next test gets the pipeline without TAESD again


def _pixels(item) -> np.ndarray:
    return np.asarray(item.image, dtype=np.uint8)


# -- seeds, sizes, defaults -------------------------------------------------------------------------------------
def test_same_seed_same_pixels_and_different_seeds_differ(tiny_sd):
    first = t2i.generate(PROMPT, seed=1234, steps=2, guidance=0)
    again = t2i.generate(PROMPT, seed=1234, steps=2, guidance=0)
    other = t2i.generate(PROMPT, seed=1235, steps=2, guidance=0)
    assert first.seed == 1234 and first.images[0].seed == 1234
    assert np.array_equal(_pixels(first.images[0]), _pixels(again.images[0]))
    assert not np.array_equal(_pixels(first.images[0]), _pixels(other.images[0]))
    batch = t2i.generate(PROMPT, seed=1234, steps=2, guidance=0, num_images=2, width=96)
    assert [i.seed for i in batch.images] == [1234, 1235]
    assert len({_pixels(i).tobytes() for i in batch.images}) == 2


def test_random_seed_is_drawn_and_reported(tiny_sd):
    runs = [t2i.generate(PROMPT, seed=-1, steps=1) for _ in range(2)]
    seeds = [r.seed for r in runs]
    assert all(0 <= s <= t2i.MAX_SEED for s in seeds) and seeds[0] != seeds[1]
    remade = t2i.generate(PROMPT, seed=seeds[0], steps=1)  # the reported seed reproduces the image
    assert np.array_equal(_pixels(runs[0].images[0]), _pixels(remade.images[0]))


def test_sizes_follow_the_request_and_the_models_multiple(tiny_sd):
    gen = t2i.generate(PROMPT, seed=0, steps=1, width=96, height=64, num_images=2)
    assert [i.image.size for i in gen.images] == [(96, 64), (96, 64)]
    with pytest.raises(BadInput, match="not a multiple of 8.*use 96 or 104"):
        t2i.generate(PROMPT, seed=0, steps=1, width=100, height=64)


@pytest.mark.parametrize("kwargs, message", [
    (dict(prompt="   "), "Write a prompt"),
    (dict(steps=0), "steps must be a whole number from 1"),
    (dict(steps=2.5), "steps must be a whole number"),
    (dict(width=20000), "width must be a whole number from 64 to"),
    (dict(height=16), "The height must be a whole number, at least 64, not 16"),
    (dict(guidance=-1), "The guidance scale must be a number from 0 to 30, not -1"),
    (dict(seed=-7), "The seed must be a whole number from -1 to 4294967295, not -7"),
    (dict(seed="abc"), "seed must be a whole number"),
    (dict(num_images=0), "number of images must be"),
    (dict(num_images=99), "number of images must be"),
])
def test_bad_settings_give_one_clear_message_before_any_model_loads(kwargs, message):
    args = dict(prompt=PROMPT) | kwargs
    with pytest.raises(BadInput, match=message):
        t2i.generate(args.pop("prompt"), **args)


def test_family_defaults_turbo_from_the_folder_name(tiny_sd):
    backends.unload("diffusion")
    defaults, where = t2i.configured_defaults()
    assert not backends.REGISTRY.is_loaded("diffusion")  # read from config files, nothing loaded
    assert (defaults.family, defaults.steps, defaults.guidance) == ("turbo", 1, 0.0)
    assert (defaults.width, defaults.multiple) == (64, 8) and "local files" in where
    gen = t2i.generate(PROMPT, seed=3)
    params = gen.images[0].params
    assert (params["steps"], params["guidance"], params["width"], params["height"]) == (1, 0.0, 64, 64)
    assert params["family"] == "turbo" and params["scheduler"] == "EulerDiscreteScheduler"
    loaded = backends.get_loaded("diffusion")
    assert loaded.engine == "diffusers" and loaded.parameters > 0 and loaded.memory_bytes > 0
    assert t2i.suggested_settings().steps == 1
    notes = t2i.generate(PROMPT, seed=3, steps=6, negative_prompt="blurry").notes
    assert any("at most 4 steps" in n for n in notes) and any("negative prompt has no effect" in n for n in notes)


@pytest.mark.parametrize("name, cls, family", [
    ("stabilityai/sd-turbo", "", "turbo"), ("stabilityai/sdxl-turbo", "StableDiffusionXLPipeline", "turbo"),
    ("stabilityai/stable-diffusion-xl-base-1.0", "StableDiffusionXLPipeline", "sdxl"),
    ("stable-diffusion-v1-5/stable-diffusion-v1-5", "StableDiffusionPipeline", "sd"),
    ("SimianLuo/LCM_Dreamshaper_v7", "LatentConsistencyModelPipeline", "lcm"),
    ("black-forest-labs/FLUX.1-schnell", "FluxPipeline", "schnell"),
])
def test_family_detection(name, cls, family, monkeypatch):
    monkeypatch.delenv("MMDEMO_DIFFUSION_FAMILY", raising=False)
    assert detect_family(name, cls).name == family
    monkeypatch.setenv("MMDEMO_DIFFUSION_FAMILY", "sd")
    assert detect_family(name, cls).name == "sd"


def test_the_family_variable_names_every_family_and_refuses_others(monkeypatch):
    """MMDEMO_DIFFUSION_FAMILY's declaration (mmdemo.config, which may not import backends) lists FAMILIES."""
    from mmdemo import config
    from mmdemo.backends.diffusion import FAMILIES

    monkeypatch.setenv("MMDEMO_DIFFUSION_FAMILY", "flux")
    with pytest.raises(BadInput, match="MMDEMO_DIFFUSION_FAMILY must be one of turbo, lcm, schnell, sdxl, sd"):
        detect_family("any", "")
    for name in FAMILIES:
        monkeypatch.setenv("MMDEMO_DIFFUSION_FAMILY", name.upper())
        assert config.get("MMDEMO_DIFFUSION_FAMILY") == name


# -- PNG metadata -----------------------------------------------------------------------------------------------
def test_png_metadata_round_trips(tiny_sd, tmp_path):
    prompt = 'a "quoted" café, at night:\nsecond line, with commas'
    gen = t2i.generate(prompt, negative_prompt="blurry, low quality", seed=77, steps=2, guidance=3.5, width=96,
                       height=64, num_images=2)
    paths = gen.save(tmp_path / "out.png")
    assert [p.name for p in paths] == ["out-1.png", "out-2.png"]
    for item, path in zip(gen.images, paths):
        stored = read_parameters(path)
        assert stored == item.params
        assert (stored["seed"], stored["steps"], stored["guidance"], stored["width"], stored["height"]) == \
               (item.seed, 2, 3.5, 96, 64)
        assert stored["model"] == str(tiny_sd) and stored["negative_prompt"] == "blurry, low quality"
        with Image.open(path) as img:  # the A1111-style text other tools read parses back to the same values
            assert parse_infotext(img.info["parameters"]) == {k: v for k, v in item.params.items()}
            assert np.array_equal(np.asarray(img.convert("RGB")), _pixels(item))  # PNG is lossless
    assert gen.parameters == infotext(gen.images[0].params)


def test_infotext_of_other_tools_is_read():
    text = ("masterpiece, a cat\nNegative prompt: ugly, blurry\nSteps: 20, Sampler: Euler a, Schedule type: Karras, "
            'CFG scale: 7, Seed: 1234, Size: 512x768, Model hash: abc123, Model: "v1-5, pruned", Version: v1.10.0')
    params = parse_infotext(text)
    assert params["prompt"] == "masterpiece, a cat" and params["negative_prompt"] == "ugly, blurry"
    assert (params["steps"], params["guidance"], params["seed"], params["width"], params["height"]) == \
           (20, 7.0, 1234, 512, 768)
    assert params["model"] == "v1-5, pruned" and params["schedule_type"] == "Karras"


def test_image_without_parameters_is_a_clear_message(tmp_path):
    path = tmp_path / "plain.png"
    Image.new("RGB", (8, 8)).save(path)
    with pytest.raises(BadInput, match="no generation parameters"):
        read_parameters(path)


# -- progress, Stop, previews -----------------------------------------------------------------------------------
def test_progress_reports_every_denoising_step(tiny_sd):
    seen = []
    t2i.generate(PROMPT, seed=5, steps=4, progress=lambda f, m: seen.append((f, m)))
    steps = [m for _, m in seen if m.startswith("step ") and not m.startswith("step 0/")]
    assert [m.split(" ")[1] for m in steps] == ["1/4", "2/4", "3/4", "4/4"]
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions) and fractions[0] == 0.0 and fractions[-1] == 1.0
    assert "decoding" in steps[-1] and seen[-1][1].startswith("done in")


def test_stop_mid_run_ends_cleanly_and_the_model_stays_usable(tiny_sd):
    stop = threading.Event()
    seen = []

    def progress(fraction, message):
        seen.append(message)
        if message.startswith("step 2/"):
            stop.set()

    gen = t2i.generate(PROMPT, seed=9, steps=8, progress=progress, stop=stop)
    assert gen.stopped and gen.stopped_at == 2 and gen.images == []
    assert "Stopped after step 2 of 8" in gen.summary()
    assert not any(m.startswith("step 3/") for m in seen)
    # a stop raised inside the UNet (before the first step ends) is honoured too
    assert t2i.generate(PROMPT, seed=9, steps=3, stop=lambda: True).stopped_at == 0
    model = backends.get("diffusion")
    assert all(not block._forward_pre_hooks for block in model.denoiser.modules())  # stop hooks removed
    after = t2i.generate(PROMPT, seed=9, steps=2)
    fresh = t2i.generate(PROMPT, seed=9, steps=2)
    assert not after.stopped and np.array_equal(_pixels(after.images[0]), _pixels(fresh.images[0]))


def test_without_taesd_previews_are_skipped_with_a_note(tiny_sd):
    calls = []
    gen = t2i.generate(PROMPT, seed=1, steps=2, preview=lambda s, images: calls.append(s))
    assert calls == [] and len(gen.images) == 1
    assert any("MMDEMO_TAESD_MODEL" in n for n in gen.notes)


# -- CLIP score ---------------------------------------------------------------------------------------------------
def test_clip_score_is_100_times_the_shared_clip_cosine(tiny_sd, tiny_models, use_backend):
    use_backend("clip", tiny_models.get("clip"))
    gen = t2i.generate(PROMPT, seed=21, steps=1, num_images=2)
    clip = backends.get("clip")
    for item in gen.images:
        expected = 100.0 * float(clip.similarity([item.image], [PROMPT])[0, 0])
        assert item.clip_score == pytest.approx(expected, abs=0.01)
        assert f"CLIP {item.clip_score:.1f}" in item.label
    assert gen.clip_note is None and gen.to_dict()["clip_score"] == gen.images[0].clip_score


def test_clip_unavailable_keeps_the_images(tiny_sd):
    gen = t2i.generate(PROMPT, seed=22, steps=1)
    assert len(gen.images) == 1 and gen.images[0].clip_score is None
    assert gen.clip_note.startswith("CLIP score unavailable: ") and "MMDEMO_CLIP_MODEL" in gen.clip_note


# -- CLI ----------------------------------------------------------------------------------------------------------
def test_cli_generate_json(tiny_sd, tmp_path, capsys, monkeypatch):
    from mmdemo.cli import main

    monkeypatch.setenv("MMDEMO_DIFFUSION_MODEL", "")  # --model writes it for this process; restored after
    backends.unload("diffusion")
    out = tmp_path / "cat.png"
    code = main(["generate", "a cat", "--out", str(out), "--model", str(tiny_sd), "--seed", "7", "--steps", "2",
                 "--guidance", "1.5", "--width", "64", "--height", "72", "--negative", "dog", "--json"])
    result = json.loads(capsys.readouterr().out)
    assert code == 0 and set(result) >= {"images", "seed", "model", "seconds", "clip_score"}
    assert result["images"] == [str(out)] and result["seed"] == 7 and result["model"] == str(tiny_sd)
    assert result["clip_score"] is None and result["clip_note"].startswith("CLIP score unavailable")
    params = read_parameters(out)
    assert (params["seed"], params["steps"], params["guidance"], params["negative_prompt"]) == (7, 2, 1.5, "dog")
    assert Image.open(out).size == (64, 72)


def test_cli_without_weights_is_one_line_and_nonzero(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("MMDEMO_")}
    env.update(HF_HUB_OFFLINE="1", PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, "-m", "mmdemo", "generate", "a cat", "--out", str(tmp_path / "x.png")],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2 and proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "MMDEMO_DIFFUSION_MODEL" in lines[0]
    assert not (tmp_path / "x.png").exists()


def test_taesd_previews_each_step_and_fast_decode(tiny_sd_taesd):
    previews = []
    gen = t2i.generate(PROMPT, seed=11, steps=3, width=96, height=64, num_images=2,
                       preview=lambda step, images: previews.append((step, [i.size for i in images])))
    assert previews == [(1, [(96, 64)] * 2), (2, [(96, 64)] * 2), (3, [(96, 64)] * 2)]
    assert gen.images[0].params["decoder"] == "vae" and not gen.notes
    fast = t2i.generate(PROMPT, seed=11, steps=2, fast_decode=True)
    again = t2i.generate(PROMPT, seed=11, steps=2, fast_decode=True)
    assert fast.images[0].params["decoder"] == "taesd" and fast.images[0].image.size == (64, 64)
    assert np.array_equal(_pixels(fast.images[0]), _pixels(again.images[0]))
    assert "TAESD" in backends.get_loaded("diffusion").note


# -- the tab ------------------------------------------------------------------------------------------------------
def _run_handler(inputs: dict, request, on_preview=None):
    from demos import text_to_image as tab

    args = dict(prompt=PROMPT, negative="", seed=5, steps=3, guidance=0.0, width=64, height=64, count=1,
                previews=True, fast_decode=False, records=[]) | inputs
    outputs = []
    for out in tab.generate(*args.values(), request=request, progress=lambda *a, **k: None):
        outputs.append(out)
        if on_preview is not None and not isinstance(out[0], dict):
            on_preview()
    return outputs


def test_tab_generates_files_with_parameters_and_captions_them(tiny_sd_taesd, tiny_models, use_backend, tmp_path,
                                                               monkeypatch):
    from demos import text_to_image as tab

    monkeypatch.setenv("MMDEMO_OUTPUT_DIR", str(tmp_path))
    use_backend("clip", tiny_models.get("clip"))  # scores under the images, and CLIP for the captioner
    outputs = _run_handler({"count": 2, "width": 96, "steps": 2}, SimpleNamespace(session_hash="one"))
    previews = [o[0] for o in outputs[:-1] if isinstance(o[0], Image.Image)]
    assert len(previews) == 2  # one per step
    progress = [o[2] for o in outputs[:-1] if isinstance(o[2], str)]  # streamed status: step and elapsed time
    assert [p.split(" · ")[0] for p in progress[:-1]] == ["step 0/2", "step 1/2", "step 2/2"]
    assert progress[1].endswith(" s") and progress[-1].startswith("done in")
    _, gallery, status, scores, parameters, records, last_seed, caption = outputs[-1]
    assert [label.split(" · ")[0] for _, label in gallery] == ["seed 5", "seed 6"]
    assert all(" · CLIP " in label and "n/a" not in label for _, label in gallery)
    assert read_parameters(gallery[1][0])["seed"] == 6 and last_seed == 5
    assert "2 images in" in status and scores.startswith("CLIP score") and parameters.startswith(PROMPT)
    assert tab.select_image(records, SimpleNamespace(index=1)) == (1, records[1]["parameters"])

    use_backend("captioner", tiny_models.get("blip"))  # the round trip through the captioning pipeline
    text = tab.caption_it(records, 1)
    assert text.startswith("**Caption** of the image with seed 6") and "captioner" in text


def test_tab_stop_button_ends_the_run(tiny_sd_taesd, tmp_path, monkeypatch):
    from demos import text_to_image as tab

    monkeypatch.setenv("MMDEMO_OUTPUT_DIR", str(tmp_path))
    request = SimpleNamespace(session_hash="two")
    outputs = _run_handler({"steps": 12, "width": 96}, request, on_preview=lambda: tab.stop_generation(request))
    status = outputs[-1][2]
    assert status.startswith("Stopped after step ") and " of 12 " in status and len(outputs) >= 2
    assert "two" not in tab._running
    tab.stop_generation(SimpleNamespace(session_hash="nobody"))  # nothing running: harmless


def test_tab_bad_input_is_one_message(tiny_sd, tmp_path, monkeypatch):
    import gradio as gr

    from demos import text_to_image as tab

    monkeypatch.setenv("MMDEMO_OUTPUT_DIR", str(tmp_path))
    with pytest.raises(gr.Error, match="Write a prompt"):
        _run_handler({"prompt": ""}, SimpleNamespace(session_hash="three"))
    with pytest.raises(gr.Error, match="Generate an image first"):
        tab.caption_it([], 0)


def test_tab_registers_the_generate_endpoint_only():
    import gradio as gr

    from demos import text_to_image as tab

    with gr.Blocks() as demo:
        tab.build()
    public = [d["api_name"] for d in demo.config["dependencies"] if d.get("api_visibility", "public") == "public"]
    assert public == ["generate"]
