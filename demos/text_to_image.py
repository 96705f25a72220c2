"""Text-to-image tab: prompt, negative prompt, seed, steps, guidance, size and batch; live progress with previews,
Stop, PNGs carrying their parameters, a CLIP score under every image and a "Caption it" round trip."""

from __future__ import annotations

import os
import queue
import threading

import gradio as gr

from demos.common import gate_features, gpu, run_event, user_errors
from demos.compare import compare_panel
from demos.controls import control
from demos.flagging import flag_panel
from mmdemo import outputs
from mmdemo.pipelines import captioning
from mmdemo.pipelines import text_to_image as t2i
from mmdemo.pipelines.shared.png_parameters import infotext


_running: dict[str, threading.Event] = {}  # session -> stop flag of its generation in progress
_running_lock = threading.Lock()


def _model_notice(defaults: t2i.Suggested, where: str) -> str:
    hint = f" Family: {defaults.family_note}." if defaults.family_note else ""
    previews = " Live previews and fast decoding use the tiny autoencoder in MMDEMO_TAESD_MODEL." \
        if defaults.previews else " Set MMDEMO_TAESD_MODEL to a TAESD folder or Hub id for live previews."
    return where + hint + previews


def _key(request: gr.Request | None) -> str:
    return getattr(request, "session_hash", None) or "default"


def _gallery_items(records: list[dict]) -> list[tuple[str, str]]:
    return [(r["path"], r["label"]) for r in records]


def _scores_text(gen: t2i.Generation) -> str:
    lines = []
    if any(i.clip_score is not None for i in gen.images):
        scores = ", ".join(f"seed {i.seed}: **{i.clip_score:.1f}**" if i.clip_score is not None else f"seed {i.seed}: n/a"
                           for i in gen.images)
        lines.append(f"CLIP score (100 x cosine of image and prompt): {scores}")
    if gen.clip_note:
        lines.append(gen.clip_note)
    return "\n\n".join(lines)


@user_errors
def _finish(result: dict, previous: list[dict]):
    """Outputs of a finished run; errors from the worker are raised here so user_errors can word them."""
    if "error" in result:
        raise result["error"]
    gen: t2i.Generation = result["value"]
    notes = "".join(f"\n\n*{n}*" for n in gen.notes)
    if gen.stopped:  # the previous run's images were cleared when this one started
        return ([], gen.summary() + notes, "", "", [], gr.skip(), "")
    folder = outputs.request_dir("images-")
    gen.save(folder)
    records = [{"path": str(i.path), "seed": i.seed, "label": i.label, "parameters": infotext(i.params)}
               for i in gen.images]
    return (_gallery_items(records), gen.summary() + notes, _scores_text(gen), gen.parameters, records, gen.seed, "")


@gpu(duration=120)
def generate(prompt, negative, seed, steps, guidance, width, height, count, previews, fast_decode, records,
             request: gr.Request, progress=gr.Progress()):
    """Runs the pipeline in a worker thread so this handler can stream previews and progress, and so Stop (a
    separate, unqueued event) can reach it through the session's stop flag."""
    stop = threading.Event()
    key = _key(request)
    with _running_lock:
        _running[key] = stop
    updates: queue.Queue = queue.Queue()
    result: dict = {}

    def work():
        try:
            result["value"] = t2i.generate(
                prompt, negative, seed=seed, steps=steps, guidance=guidance, width=width, height=height,
                num_images=count, progress=lambda f, m: updates.put(("progress", f, m)),
                preview=(lambda step, images: updates.put(("preview", images[0]))) if previews else None,
                stop=stop, fast_decode=bool(fast_decode))
        except BaseException as exc:  # handed to _finish, which turns it into one message
            result["error"] = exc
        finally:
            updates.put(("done",))

    worker = threading.Thread(target=work, name="text-to-image", daemon=True)
    worker.start()
    finished = False
    try:
        while True:
            item = updates.get()
            if item[0] == "done":
                finished = True
                break
            if item[0] == "progress":
                progress(item[1], desc=item[2])
                # also as text: once previews stream in, the progress overlay is no longer drawn
                yield gr.skip(), gr.skip(), item[2], gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip()
            else:
                yield item[1], gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip()
    finally:
        if not finished:  # the browser went away or the event was cancelled: end the run too
            stop.set()
        with _running_lock:
            if _running.get(key) is stop:
                del _running[key]
    yield (gr.skip(), *_finish(result, records))


def stop_generation(request: gr.Request):
    with _running_lock:
        flag = _running.get(_key(request))
    if flag is not None:
        flag.set()


@gpu
@user_errors
def use_model_defaults():
    """Loads the model and applies its family's steps, guidance and size."""
    d = t2i.suggested_settings()
    where = f"Model: `{d.model}` (loaded)."
    return (d.steps, d.guidance, gr.update(value=d.width, step=d.multiple), gr.update(value=d.height, step=d.multiple),
            _model_notice(d, where))


def select_image(records: list[dict], evt: gr.SelectData):
    index = evt.index if isinstance(evt.index, int) else 0
    if not records or index >= len(records):
        return 0, gr.skip()
    return index, records[index]["parameters"]


@gpu
@user_errors
def caption_it(records: list[dict], index: int):
    """The round trip: the generated image goes through the captioning pipeline."""
    from mmdemo.media.image import load_image
    from mmdemo.pipelines.captioning import caption_images

    if not records:
        raise gr.Error("Generate an image first, then caption it.")
    record = records[min(int(index or 0), len(records) - 1)]
    if not os.path.isfile(record["path"]):
        raise gr.Error("The generated images have expired (MMDEMO_OUTPUT_TTL); generate again, then caption.")
    outputs.touch(record["path"])  # in use again: its folder's age restarts
    result = caption_images([load_image(record["path"])])[0]
    return f"**Caption** of the image with seed {record['seed']} ({result.backend}): {result.describe()}"


def build() -> None:
    defaults, where = t2i.configured_defaults()  # no model load, no network: start-up stays fast
    header = gr.Markdown(_model_notice(defaults, where))
    notice = gr.Markdown()
    with gr.Row():
        with gr.Column(scale=2):
            prompt = gr.Textbox(label="Prompt", lines=3, placeholder="a watercolor lighthouse on a cliff at dusk")
            negative = control(t2i.Options, "negative", lines=2,
                               placeholder="what to keep out of the image (takes effect with guidance above 1)")
            with gr.Row():
                run = gr.Button("Generate", variant="primary")
                stop = gr.Button("Stop", variant="stop")
            with gr.Row(equal_height=True):
                seed = control(t2i.Options, "seed", number=True, scale=3)
                with gr.Column(scale=1, min_width=120):
                    random_seed = gr.Button("Random seed", size="sm")  # plain text: Debian's Chromium drew
                    reuse_seed = gr.Button("Last seed", size="sm")  # the emoji as a missing-glyph box
            # the page shows the model family's own values where the declaration leaves them to the family
            steps = control(t2i.Options, "steps", value=defaults.steps)
            guidance = control(t2i.Options, "guidance", value=defaults.guidance)
            with gr.Row():
                width, height = (control(t2i.Options, side, minimum=t2i.MIN_SIDE, maximum=t2i.max_side(),
                                         step=defaults.multiple, value=getattr(defaults, side))
                                 for side in ("width", "height"))
            count = control(t2i.Options, "num_images")
            with gr.Row():
                previews = gr.Checkbox(True, label="Live previews (tiny autoencoder)")
                fast_decode = control(t2i.Options, "fast_decode")
            defaults_button = gr.Button("Model defaults", size="sm")
        with gr.Column(scale=3):
            preview = gr.Image(label="Live preview", type="pil", interactive=False, height=256)
            gallery = gr.Gallery(label="Images", columns=2, height=480, format="png", interactive=False)
            scores = gr.Markdown(label="CLIP scores")
            status = gr.Markdown(label="Status")
            parameters = gr.Textbox(label="Parameters (also stored in each PNG)", lines=3, interactive=False,
                                    buttons=["copy"])
            caption_button = gr.Button("Caption it")
            caption = gr.Markdown()
    records = gr.State([])  # [{path, label, parameters}] of the images on show
    selected = gr.State(0)
    last_seed = gr.State(None)

    inputs = [prompt, negative, seed, steps, guidance, width, height, count, previews, fast_decode, records]
    outputs = [preview, gallery, status, scores, parameters, records, last_seed, caption]
    event = run_event(run.click, generate, inputs, outputs, status, api_name="generate", concurrency_limit=1,
                      concurrency_id=t2i.SLOT)
    run_event(prompt.submit, generate, inputs, outputs, status, api_visibility="private", concurrency_limit=1,
              concurrency_id=t2i.SLOT)
    stop.click(stop_generation, None, None, queue=False, api_visibility="private")
    random_seed.click(lambda: -1, None, seed, api_visibility="private", queue=False)
    reuse_seed.click(lambda s: s if s is not None else -1, last_seed, seed, api_visibility="private", queue=False)
    defaults_button.click(use_model_defaults, None, [steps, guidance, width, height, header], api_visibility="private",
                   concurrency_limit=1, concurrency_id=t2i.SLOT)
    gallery.select(select_image, records, [selected, parameters], api_visibility="private", queue=False)
    caption_button.click(caption_it, [records, selected], caption, api_visibility="private", concurrency_limit=1,
                         concurrency_id=captioning.SLOT)
    event.then(lambda: 0, None, selected, api_visibility="private", queue=False)
    compare_panel("text-to-image", [prompt, seed], _compared, "1 step:steps=1\n4 steps:steps=4", t2i.SLOT)
    flag_panel("text-to-image", [prompt, negative, selected], records, _flagged)
    gr.context.Context.root_block.load(lambda: _model_notice(*t2i.configured_defaults(check_hub=True)), None, header,
                                       queue=False, api_visibility="private")  # where the weights come from
    gate_features(notice, {"text-to-image (a diffusers folder, e.g. a copy of stabilityai/sd-turbo)": ("diffusion", []),
                           "captioning the image": ("captioner", [caption_button, caption])})


def _compared(prompt, seed):
    if not (prompt or "").strip():
        raise gr.Error("Write a prompt first.")
    return {"prompt": prompt, "seed": int(seed) if seed is not None and int(seed) >= 0 else None}


def _flagged(prompt, negative, selected, records):
    """The image on show (the one selected in the gallery) is what a flag is about."""
    record = records[min(int(selected or 0), len(records) - 1)]
    return dict(input={"prompt": prompt, "negative": negative, "seed": record["seed"]},
                files={"image": record["path"]}, output=record)
