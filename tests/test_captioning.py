"""Captioning: the real BLIP / BLIP-VQA / open_clip code paths with tiny random models of the same architectures,
loaded through the registry (shapes, determinism, likelihood and fusion arithmetic, backend labelling, bad input).
Outputs of random models are noise: nothing here judges caption quality."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from mmdemo import backends, cli
from mmdemo.errors import BackendUnavailable, BadInput
from mmdemo.pipelines.shared import zero_shot
from mmdemo.pipelines.captioning import caption_images, fuse


def _photo(seed: int, size=(96, 72)) -> Image.Image:
    """A smooth random picture (gradients + blobs): deterministic, different per seed."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size[1], 0:size[0]] / max(size)
    channels = [np.sin(rng.uniform(2, 9) * x + rng.uniform(0, 6)) * np.cos(rng.uniform(2, 9) * y) for _ in range(3)]
    return Image.fromarray(((np.stack(channels, -1) + 1) * 127.5).astype(np.uint8))


@pytest.fixture
def tiny_captioner(tiny_models, use_backend):
    use_backend("captioner", tiny_models.get("blip"))
    return backends.get("captioner")


@pytest.fixture
def tiny_clip(tiny_models, use_backend):
    use_backend("clip", tiny_models.get("clip"))
    return backends.get("clip")


@pytest.fixture
def tiny_vqa(tiny_models, use_backend):
    use_backend("vqa", tiny_models.get("blip_vqa"))
    return backends.get("vqa")


# -- captioner ---------------------------------------------------------------------------------------------------
def test_captioner_candidates_shapes_and_determinism(tiny_captioner):
    images = [_photo(1), _photo(2), _photo(3)]
    first = tiny_captioner.caption(images, num_candidates=4, max_new_tokens=8)
    again = tiny_captioner.caption(images, num_candidates=4, max_new_tokens=8)
    assert len(first) == 3
    for cands in first:
        assert 1 <= len(cands) <= 4
        assert len({c.text for c in cands}) == len(cands)  # distinct
        assert [c.loglik for c in cands] == sorted((c.loglik for c in cands), reverse=True)
        assert all(np.isfinite(c.loglik) and c.loglik < 0 for c in cands)
    assert [[(c.text, c.loglik) for c in cands] for cands in first] == \
           [[(c.text, c.loglik) for c in cands] for cands in again]
    loaded = backends.get_loaded("captioner")
    assert loaded.engine == "transformers" and loaded.parameters > 0 and loaded.memory_bytes > 0


def test_captioner_loglik_equals_the_models_own_loss(tiny_captioner):
    """Our teacher-forced score must be minus BLIP's own language-modelling loss on the same caption."""
    import torch

    image = _photo(4)
    proc, model = tiny_captioner.processor, tiny_captioner.model
    inputs = proc(images=[image], return_tensors="pt")
    with torch.inference_mode():
        sequence = model.generate(**inputs, max_new_tokens=8, num_beams=3, do_sample=False)
        embeds = model.vision_model(pixel_values=inputs["pixel_values"]).last_hidden_state
        ours = tiny_captioner._loglik(sequence, embeds, prompt_len=1)[0]
        labels = sequence.masked_fill(sequence == model.config.text_config.pad_token_id, -100)
        loss = model(pixel_values=inputs["pixel_values"], input_ids=sequence, labels=labels).loss
    assert ours == pytest.approx(-loss.item(), abs=1e-4)
    best = tiny_captioner.caption([image], num_candidates=1, max_new_tokens=8)[0][0]
    assert best.text == proc.decode(sequence[0], skip_special_tokens=True) and best.loglik == pytest.approx(ours)


def test_prompt_is_continued_and_sampling_is_seeded(tiny_captioner):
    images = [_photo(5)]
    prompted = tiny_captioner.caption(images, prompt="a photograph of", num_candidates=2, max_new_tokens=6)[0]
    assert all(c.text.startswith("a photograph of") for c in prompted)
    one = tiny_captioner.caption(images, decoding="sample", num_candidates=3, seed=7, max_new_tokens=6)
    two = tiny_captioner.caption(images, decoding="sample", num_candidates=3, seed=7, max_new_tokens=6)
    assert [c.text for c in one[0]] == [c.text for c in two[0]]
    with pytest.raises(BadInput, match="candidates"):
        tiny_captioner.caption(images, num_candidates=0)
    with pytest.raises(BadInput, match="Decoding"):
        tiny_captioner.caption(images, decoding="greedy-ish")


# -- CLIP --------------------------------------------------------------------------------------------------------
def test_clip_similarity_is_cosine_of_unit_rows(tiny_clip):
    import torch

    images, texts = [_photo(1), _photo(2)], ["a dog on the grass", "a red car", "a cup of coffee"]
    img, txt = tiny_clip.encode_images(images), tiny_clip.encode_texts(texts)
    assert img.shape == (2, 32) and txt.shape == (3, 32) and img.dtype == np.float32
    assert np.allclose(np.linalg.norm(img, axis=1), 1, atol=1e-5)
    sims = tiny_clip.similarity(images, texts)
    assert sims.shape == (2, 3) and np.allclose(sims, img @ txt.T, atol=1e-6)
    # the same numbers as open_clip's own forward pass
    with torch.inference_mode():
        pixels = torch.stack([tiny_clip.preprocess(i) for i in images])
        out = tiny_clip.model(pixels, tiny_clip.tokenizer(texts))
    image_features, text_features = (out["image_features"], out["text_features"]) if isinstance(out, dict) else out[:2]
    assert np.allclose(sims, (image_features @ text_features.T).numpy(), atol=1e-5)
    assert tiny_clip.encode_texts([]).shape == (0, 32)
    # the text cache returns exactly what a fresh encoding gives, in the order asked, duplicates included
    mixed = ["a red car", "a bird in a tree", "a red car"]
    assert np.allclose(tiny_clip.encode_texts(mixed), tiny_clip._encode_texts(mixed, 64), atol=1e-6)


def test_clip_folder_without_weights_is_refused(tiny_models, use_backend, tmp_path):
    (tmp_path / "open_clip_config.json").write_text((tiny_models.get("clip") / "open_clip_config.json").read_text())
    use_backend("clip", tmp_path)
    with pytest.raises(BackendUnavailable, match="no open_clip weights"):
        backends.get("clip")


# -- fusion --------------------------------------------------------------------------------------------------------
def test_fusion_arithmetic_and_ranking(tiny_captioner, tiny_clip):
    image = _photo(6)
    kwargs = dict(labels="dog, cat, car", num_candidates=4, max_new_tokens=8)
    result = caption_images([image], alpha=1.0, beta=0.5, **kwargs)[0]
    assert result.backend == "captioner + clip" and not result.fallback
    scale = tiny_clip.logit_scale
    for c in result.captions:
        cosine = float(tiny_clip.similarity([image], [c.text])[0, 0])
        assert c.cosine == pytest.approx(cosine, abs=1e-5)
        assert c.clip == pytest.approx(scale * cosine, abs=1e-4)
        assert c.score == pytest.approx(1.0 * c.loglik + 0.5 * c.clip, abs=1e-6)
        assert c.score == pytest.approx(fuse(c.loglik, c.clip, 1.0, 0.5))
    assert [c.score for c in result.captions] == sorted((c.score for c in result.captions), reverse=True)
    by_clip = caption_images([image], alpha=0.0, beta=1.0, **kwargs)[0].captions
    assert [c.clip for c in by_clip] == sorted((c.clip for c in by_clip), reverse=True)
    by_loglik = caption_images([image], alpha=1.0, beta=0.0, **kwargs)[0].captions
    assert [c.loglik for c in by_loglik] == sorted((c.loglik for c in by_loglik), reverse=True)
    assert {c.text for c in by_clip} == {c.text for c in by_loglik} == {c.text for c in result.captions}
    with pytest.raises(BadInput, match="alpha"):
        caption_images([image], alpha=-1, **kwargs)


def test_zero_shot_labels_with_clip(tiny_clip):
    images = [_photo(1), _photo(2)]
    scored = zero_shot.clip_scores(images, zero_shot.parse_labels("dog, cat, dog, car "))
    assert scored.labels == ["dog", "cat", "car"] and scored.method == zero_shot.CLIP_METHOD
    assert np.allclose(scored.scores.sum(1), 1) and np.allclose(scored.similarity, tiny_clip.similarity(images, scored.labels))
    expected = zero_shot.softmax(scored.similarity, tiny_clip.logit_scale)
    assert np.allclose(scored.scores, expected)
    ranked = scored.ranked(0)
    assert [s for _, s, _ in ranked] == sorted((s for _, s, _ in ranked), reverse=True)
    with pytest.raises(BadInput, match="empty"):
        zero_shot.parse_labels(" , ,")


# -- VQA -----------------------------------------------------------------------------------------------------------
def test_vqa_answers_each_image_deterministically(tiny_vqa):
    images = [_photo(1), _photo(2)]
    answers = tiny_vqa.answer(images, "what color is the car?", max_new_tokens=5)
    assert len(answers) == 2 and all(isinstance(a, str) for a in answers)
    assert answers == tiny_vqa.answer(images, "what color is the car?", max_new_tokens=5)
    with pytest.raises(BadInput, match="empty"):
        tiny_vqa.answer(images, "   ")


# -- the whole pipeline and the CLI ------------------------------------------------------------------------------
def test_pipeline_with_every_tiny_backend_reports_who_answered(tiny_captioner, tiny_clip, tiny_vqa):
    results = caption_images([_photo(1), _photo(2)], labels="dog, cat", question="how many dogs?",
                             names=["one.png", "two.png"], num_candidates=2, max_new_tokens=6)
    assert [r.name for r in results] == ["one.png", "two.png"]
    for r in results:
        d = r.to_dict()
        assert d["backend"] == "captioner + clip" and d["fallback"] is False
        assert d["backends"]["labels"] == "clip" and d["backends"]["answer"] == "vqa"
        assert d["caption"] == d["captions"][0]["text"] and isinstance(d["answer"], str)
        assert {x["label"] for x in d["labels"]} == {"dog", "cat"} and d["tags"][0] == d["labels"][0]["label"]
        assert set(d["tags"]) <= {"dog", "cat"}
        assert d["imagenet"] == []  # the classifier only runs when a fallback needs it
        json.dumps(d)


def _png_header(path, width, height):
    """A PNG whose header declares width x height but carries one row of pixels (a decompression-bomb stand-in)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + header + chunk(b"IDAT", zlib.compress(bytes(1 + 3 * width)))
                     + chunk(b"IEND", b""))
    return path


@pytest.mark.parametrize("case, message", [("text", "not an image"), ("truncated", "damaged or truncated"),
                                           ("tiny", "too small"), ("huge", "too large")])
def test_bad_images_give_one_clear_message(tmp_path, capsys, case, message):
    path = tmp_path / f"{case}.png"
    if case == "text":
        path.write_text("certainly not a picture")
    elif case == "truncated":
        _photo(1, size=(256, 256)).save(tmp_path / "full.png")
        data = (tmp_path / "full.png").read_bytes()
        path.write_bytes(data[: len(data) // 2])
    elif case == "tiny":
        Image.new("RGB", (1, 1)).save(path)
    else:
        _png_header(path, 20000, 20000)
    with pytest.raises(BadInput, match=message):
        caption_images([path])
    assert cli.main(["caption", str(path), "--json"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.strip().count("\n") == 0 and message in err


def test_cli_bad_image_in_a_real_process(tmp_path):
    path = tmp_path / "fake.jpg"
    path.write_text("certainly not a picture")
    done = subprocess.run([sys.executable, "-m", "mmdemo", "caption", str(path), "--json"], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode != 0 and done.stdout == ""
    assert done.stderr.strip().count("\n") == 0 and "not an image" in done.stderr


def test_cli_json_one_image_is_a_document_several_are_a_list(tiny_models, use_backend, tmp_path, capsys):
    folders = {"captioner": "blip", "clip": "clip", "vqa": "blip_vqa"}
    env = dict(os.environ, **{backends.REGISTRY.spec(n).env_var: str(tiny_models.get(a)) for n, a in folders.items()})
    paths = []
    for i in range(2):
        paths.append(tmp_path / f"p{i}.jpg")
        _photo(i).save(paths[-1])
    args = ["caption", "--labels", "dog,cat,car", "--question", "what is it?", "--max-tokens", "6", "--json"]
    one = subprocess.run([sys.executable, "-m", "mmdemo", *args, str(paths[0])], capture_output=True, text=True,
                         timeout=300, env=env)
    assert one.returncode == 0, one.stderr
    doc = json.loads(one.stdout)
    assert {"captions", "tags", "labels", "answer", "backend"} <= set(doc)
    assert all({"text", "score"} <= set(c) for c in doc["captions"]) and doc["backend"] == "captioner + clip"
    assert {x["label"] for x in doc["labels"]} == {"dog", "cat", "car"} and isinstance(doc["answer"], str)

    for name, arch in folders.items():  # the same models in this process, through the same CLI entry point
        use_backend(name, tiny_models.get(arch))
    assert cli.main([*args, *map(str, paths)]) == 0
    docs = json.loads(capsys.readouterr().out)
    assert isinstance(docs, list) and [d["file"] for d in docs] == ["p0.jpg", "p1.jpg"]
    assert docs[0]["captions"] == doc["captions"]  # the same image gets the same answer alone or in a batch


def test_translation_goes_to_the_chosen_caption_only(tiny_captioner, monkeypatch):
    """Wiring to the shared translation pipeline (owned by the speech tab): stand-in translate(), real captions."""
    from mmdemo.pipelines import captioning

    calls = []
    monkeypatch.setattr(captioning, "translate", lambda texts, target, source=None: calls.append((list(texts), target))
                        or [f"[{target}] {t}" for t in texts])
    result = caption_images([_photo(7)], labels="dog, cat", translate_to="fr", max_new_tokens=6)[0]
    assert calls == [([result.captions[0].text], "fr")]
    assert result.translation == f"[fr] {result.captions[0].text}" and result.backends["translation"] == "translator"

    def unavailable(texts, target, source=None):
        raise BackendUnavailable("No weights for the translator backend: set MMDEMO_TRANSLATOR_MODEL.")

    monkeypatch.setattr(captioning, "translate", unavailable)
    result = caption_images([_photo(7)], labels="dog, cat", translate_to="fr", max_new_tokens=6)[0]
    assert result.translation is None and any("MMDEMO_TRANSLATOR_MODEL" in n for n in result.notes)
