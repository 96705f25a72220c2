"""Image captioning tab: BLIP caption candidates re-ranked with CLIP, zero-shot tags, visual questions,
translation, and a batch mode with CSV/JSON downloads. Every result says which backend produced it."""

from __future__ import annotations

from pathlib import Path

import gradio as gr

from demos.common import ImageInput, gate_features, gpu, run_event, user_errors
from demos.compare import compare_panel
from demos.controls import control
from demos.flagging import flag_panel
from mmdemo import outputs
from mmdemo.errors import BadInput
from mmdemo.pipelines import captioning
from mmdemo.pipelines.shared import zero_shot

ASSETS = Path(__file__).resolve().parent.parent / "assets"
EXAMPLES = [ASSETS / name for name in ("captioning_cat.jpg", "captioning_coffee.jpg", "captioning_rocket.jpg")]
LANGUAGES = [("no translation", ""), ("French", "fr"), ("German", "de"), ("Spanish", "es"), ("Portuguese", "pt"),
             ("Italian", "it"), ("Dutch", "nl"), ("Chinese", "zh"), ("Japanese", "ja"), ("Arabic", "ar")]
CANDIDATE_COLUMNS = ["caption", "fused score", "captioner log-likelihood", "CLIP logit", "CLIP cosine"]


def _options(prompt, decoding, candidates, max_tokens, alpha, beta, seed, translate_to) -> dict:
    """The pipeline's keyword arguments for the controls' values (checked by the declaration)."""
    return captioning.Options(prompt=prompt, decoding=decoding, candidates=candidates, max_tokens=max_tokens,
                              alpha=alpha, beta=beta, seed=seed, translate_to=translate_to).pipeline_kwargs()


def _progress(progress: gr.Progress):
    return lambda fraction, message: progress(fraction, desc=message)


def _summary(d: dict) -> str:
    if d["fallback"]:
        head = f"### {d['caption'] or 'no tags'}\n*Honest offline fallback, not a caption:* ImageNet tags from " \
               "the image classifier, because no captioner weights were found."
    else:
        head = f"### {d['caption']}"
    lines = [head, "", f"- **caption by:** {d['backend']}"]
    if d.get("label_method"):
        lines.append(f"- **tags by:** {d['backends'].get('labels', '')} ({d['label_method']})")
    if d.get("answer") is not None:
        lines.append(f"- **answer ({d['backends'].get('answer', 'vqa')}):** {d['answer']}")
    if d.get("translation") is not None:
        lines.append(f"- **{d['translation_language']}:** {d['translation']}")
    for note in dict.fromkeys(d["notes"]):
        lines.append(f"- *{note}*")
    return "\n".join(lines)


def _candidates(d: dict) -> list[list]:
    return [[c["text"], c["score"], c["loglik"], c["clip"] if c["clip"] is not None else "",
             c["cosine"] if c["cosine"] is not None else ""] for c in d["captions"]]


def _show(d: dict):
    labels = {x["label"]: x["score"] for x in d["labels"]}
    imagenet = {x["label"]: x["prob"] for x in d["imagenet"]}
    return _summary(d), _candidates(d), labels or None, imagenet or None, d.get("answer") or "", d


@gpu
@user_errors
def caption(image=None, labels=None, question=None, prompt=None, decoding=None, candidates=None, max_tokens=None,
            alpha=None, beta=None, seed=None, translate_to=None, progress=gr.Progress()):
    """Defaults on every parameter: an API call needs only the image (Gradio makes a None default optional)."""
    if not image:
        raise BadInput("Upload an image first.")
    result = captioning.caption_images([image], labels=labels, question=question, imagenet=True,
                                       progress=_progress(progress),
                                       **_options(prompt, decoding, candidates, max_tokens, alpha, beta, seed,
                                                  translate_to))[0]
    return _show(result.to_dict())


@user_errors
def rerank(result, alpha, beta):
    """Slider moves re-rank the candidates already computed: no model runs."""
    if not result or not result.get("captions"):
        return gr.skip()
    return _show(captioning.rerank(result, float(alpha), float(beta)))


@gpu
@user_errors
def caption_batch(files=None, labels=None, question=None, prompt=None, decoding=None, candidates=None, max_tokens=None,
                  alpha=None, beta=None, seed=None, translate_to=None, progress=gr.Progress()):
    paths = [f if isinstance(f, str) else getattr(f, "name", f) for f in (files or [])]
    report = captioning.caption_batch(paths, labels=labels, question=question, progress=_progress(progress),
                                      **_options(prompt, decoding, candidates, max_tokens, alpha, beta, seed,
                                                 translate_to))
    folder = outputs.request_dir("captions-")
    return (report.rows(), str(report.write_csv(folder / "captions.csv")),
            str(report.write_json(folder / "captions.json")))


def build() -> None:
    gr.Markdown(
        "Caption candidates from BLIP are re-ranked by **alpha × captioner log-likelihood + beta × CLIP logit**; "
        "CLIP also scores your label list (zero-shot tags), BLIP-VQA answers a question, and the chosen caption "
        "can be translated. Without captioner/CLIP weights the tab falls back, and says so, to ImageNet tags "
        "from EfficientNet-Lite0 and labels matched through MiniLM sentence embeddings."
    )
    notice = gr.Markdown()
    with gr.Accordion("Options", open=False):
        with gr.Row():
            labels = gr.Textbox(", ".join(zero_shot.default_labels()), label="Zero-shot labels (comma-separated)",
                                lines=2, scale=3)
            question = gr.Textbox(label="Question about the image (optional)", placeholder="what is on the table?",
                                  scale=2)
        with gr.Row():
            prompt = control(captioning.Options, "prompt", placeholder="a photograph of")
            decoding, candidates, max_tokens = (control(captioning.Options, name) for name in
                                                ("decoding", "candidates", "max_tokens"))
        with gr.Row():
            alpha = control(captioning.Options, "alpha", maximum=2)
            beta = control(captioning.Options, "beta", maximum=1)
            seed = control(captioning.Options, "seed", number=True)
            translate_to = control(captioning.Options, "translate_to", choices=LANGUAGES, allow_custom_value=False)
    options = [labels, question, prompt, decoding, candidates, max_tokens, alpha, beta, seed, translate_to]
    caption_controls = [prompt, decoding, candidates, max_tokens, alpha, seed]

    with gr.Tab("One image"):
        with gr.Row():
            with gr.Column(scale=2):
                image = ImageInput(type="filepath", label="Image", height=320)
                run = gr.Button("Caption", variant="primary")
                gr.Examples([[str(p)] for p in EXAMPLES if p.is_file()], inputs=[image], cache_examples=False)
            with gr.Column(scale=3):
                summary = gr.Markdown()
                table = gr.Dataframe(headers=CANDIDATE_COLUMNS, label="Candidates (best fused score first)",
                                     interactive=False, wrap=True)
                answer = gr.Textbox(label="Answer", interactive=False)
        with gr.Row():
            tags = gr.Label(num_top_classes=8, label="Zero-shot tags")
            imagenet = gr.Label(num_top_classes=5, label="ImageNet classes (image classifier)")
        with gr.Accordion("Raw result (JSON)", open=False):
            raw = gr.JSON()
        outputs = [summary, table, tags, imagenet, answer, raw]
        run_event(run.click, caption, [image, *options], outputs, summary, api_name="caption",
                  concurrency_limit=1, concurrency_id=captioning.SLOT)
        for slider in (alpha, beta):
            slider.release(rerank, inputs=[raw, alpha, beta], outputs=outputs, api_visibility="private")
        compare_panel("caption", [image], _compared, "likelihood:alpha=1.0,beta=0.0\nfused:alpha=1.0,beta=0.2",
                      captioning.SLOT, reference="Reference caption (optional): BLEU of each")
        flag_panel("caption", [image, alpha, beta], raw, _flagged)
    gate_features(notice, {"captions": ("captioner", caption_controls + [table]), "CLIP re-ranking": ("clip", [beta]),
                           "visual questions": ("vqa", [question, answer]),
                           "caption translation": ("translator", [translate_to])})

    with gr.Tab("Batch"):
        files = gr.File(file_count="multiple", file_types=["image"], label="Images")
        run_batch = gr.Button("Caption all", variant="primary")
        batch_table = gr.Dataframe(headers=captioning.BATCH_COLUMNS, interactive=False, wrap=True)
        with gr.Row():
            csv_file = gr.File(label="CSV")
            json_file = gr.File(label="JSON")
        run_batch.click(caption_batch, inputs=[files, *options], outputs=[batch_table, csv_file, json_file],
                        api_name="caption_batch", concurrency_limit=1, concurrency_id=captioning.SLOT)


def _flagged(image, alpha, beta, result):
    return dict(files={"path": image}, answer=result.get("caption", ""), settings={"alpha": alpha, "beta": beta})


def _compared(image, reference):
    if not image:
        raise BadInput("Upload an image first.")
    return {"path": image, "reference": reference or None}
