"""Captioning tab: handlers with tiny models, slider re-ranking without models, batch downloads, and the /caption
API endpoint of a launched app."""

from __future__ import annotations

import csv
import json

import gradio as gr
import numpy as np
import pytest
from PIL import Image

from demos import captioning as tab
from mmdemo.pipelines import captioning

DEFAULTS = dict(labels="dog, cat, car", question="", prompt="", decoding="beam", candidates=3, max_tokens=6,
                alpha=1.0, beta=0.2, seed=0, translate_to="")


def _image(tmp_path, name="pic.png", seed=0):
    rng = np.random.default_rng(seed)
    Image.fromarray((rng.random((48, 64, 3)) * 255).astype(np.uint8)).resize((128, 96)).save(tmp_path / name)
    return str(tmp_path / name)


@pytest.fixture
def tiny(tiny_models, use_backend):
    use_backend("captioner", tiny_models.get("blip"))
    use_backend("clip", tiny_models.get("clip"))
    use_backend("vqa", tiny_models.get("blip_vqa"))


def test_caption_handler_shows_scores_and_backends(tiny, tmp_path):
    summary, rows, tags, imagenet, answer, raw = tab.caption(_image(tmp_path), **dict(DEFAULTS, question="what?"))
    assert "captioner + clip" in summary and raw["backend"] == "captioner + clip"
    assert rows and all(len(row) == len(tab.CANDIDATE_COLUMNS) for row in rows)
    assert [row[0] for row in rows] == [c["text"] for c in raw["captions"]]
    assert set(tags) == {"dog", "cat", "car"} and answer == raw["answer"]

    # moving the sliders re-ranks the stored candidates: alpha 0 ranks by the CLIP logit alone
    _, by_clip, *_ , reranked = tab.rerank(raw, 0.0, 1.0)
    assert [row[3] for row in by_clip] == sorted((row[3] for row in by_clip), reverse=True)
    assert all(c["score"] == pytest.approx(c["clip"], abs=1e-3) for c in reranked["captions"])
    assert reranked["caption"] == reranked["captions"][0]["text"]


def test_bad_upload_is_one_clear_ui_error(tmp_path):
    bad = tmp_path / "notes.png"
    bad.write_text("not a picture")
    with pytest.raises(gr.Error, match="not an image"):
        tab.caption(str(bad), **DEFAULTS)
    with pytest.raises(gr.Error, match="Upload an image"):
        tab.caption(None, **DEFAULTS)


def test_batch_table_csv_and_json(tiny, tmp_path):
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"\xff\xd8\xff garbage")
    paths = [_image(tmp_path, "a.png", 1), str(bad), _image(tmp_path, "b.png", 2)]
    rows, csv_path, json_path = tab.caption_batch(paths, **DEFAULTS)
    assert [row[0] for row in rows] == ["a.png", "b.png", "broken.jpg"] and rows[2][1].startswith("skipped:")
    with open(csv_path, newline="", encoding="utf-8") as handle:
        table = list(csv.reader(handle))
    assert table[0] == captioning.BATCH_COLUMNS and table[1:] == [[str(x) for x in row] for row in rows]
    docs = json.loads(open(json_path, encoding="utf-8").read())
    assert docs[0]["file"] == "a.png" and docs[0]["backend"] == "captioner + clip" and "error" in docs[2]


def test_batching_gives_the_same_captions_as_one_at_a_time(tiny, tmp_path):
    paths = [_image(tmp_path, f"{i}.png", i) for i in range(3)]
    together = captioning.caption_images(paths, labels="dog, cat", batch_size=3, max_new_tokens=6)
    alone = [captioning.caption_images([p], labels="dog, cat", max_new_tokens=6)[0] for p in paths]
    for a, b in zip(together, alone):
        assert [c.text for c in a.captions] == [c.text for c in b.captions]
        assert np.allclose([c.score for c in a.captions], [c.score for c in b.captions], atol=1e-4)


def test_caption_api_endpoint(tiny, tmp_path):
    from gradio_client import Client, handle_file

    with gr.Blocks() as app:
        tab.build()
    app.queue().launch(prevent_thread_lock=True, server_name="127.0.0.1", quiet=True)
    try:
        client = Client(app.local_url, verbose=False)
        assert "/caption" in client.view_api(print_info=False, return_format="dict")["named_endpoints"]
        out = client.predict(handle_file(_image(tmp_path)), "dog, cat", "", "", "beam", 2, 6, 1.0, 0.2, 0, "",
                             api_name="/caption")
        raw = out[-1]
        assert raw["backend"] == "captioner + clip" and raw["captions"] and raw["labels"]
    finally:
        app.close()
