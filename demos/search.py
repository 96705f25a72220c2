"""Search tab: index uploads or a server folder (images, videos by shot, speech by segment), query by a sentence or
an example image, play a video or audio result from its moment. UI only: the work is in mmdemo.pipelines.search."""

from __future__ import annotations

import os
from pathlib import Path

import gradio as gr

from demos.common import ImageInput, gpu, on_space, user_errors
from mmdemo import outputs
from mmdemo.errors import BadInput
from mmdemo.pipelines import search
from mmdemo.pipelines.search.moments import audio_moment, video_moment

TITLE = "Search"
DEFAULT_INDEX = os.environ.get("MMDEMO_SEARCH_INDEX", "").strip() or str(Path.home() / ".cache" / "mmdemo" / "search")
THUMB_SIDE = (320, 180)


def _moment(r: dict) -> str:
    return f"{r['start']:.1f}–{r['end']:.1f} s" if "start" in r else ""


def caption(r: dict) -> str:
    """score · kind · 12.3–15.0 s · text"""
    parts = [f"{r['score']:.3f}", r["kind"], _moment(r), r.get("text", ""), Path(r["path"]).name]
    return " · ".join(p for p in parts if p)


def _waveform(r: dict, folder: Path) -> str:
    """A picture for an audio result: the waveform of its segment."""
    from PIL import Image, ImageDraw

    out = folder / f"wave-{abs(hash((r['path'], r.get('start'), r.get('end'))))}.png"
    if not out.is_file():
        image = Image.new("RGB", THUMB_SIDE, (245, 245, 250))
        try:
            _, samples = audio_moment(r["path"], r["start"], r["end"])
        except BadInput:
            samples = []
        width, height = THUMB_SIDE
        draw = ImageDraw.Draw(image)
        if len(samples):
            step = max(1, len(samples) // width)
            peak = max(1e-3, float(abs(samples).max()))
            for x in range(min(width, len(samples) // step)):
                chunk = samples[x * step:(x + 1) * step]
                low, high = float(chunk.min()) / peak, float(chunk.max()) / peak
                draw.line((x, height / 2 * (1 - high), x, height / 2 * (1 - low)), fill=(70, 90, 180))
        image.save(out)
    return str(out)


def _thumbnail(path: str, out: Path) -> str:
    """A small copy in the request's folder: the browser gets what it shows (not a full photo), and Gradio serves
    only the app's own folders, not the index folder or the folder that was indexed."""
    from PIL import Image

    with Image.open(path) as image:
        image.thumbnail((THUMB_SIDE[0] * 2, THUMB_SIDE[1] * 2))
        image.convert("RGB").save(out, quality=88)
    return str(out)


def _gallery(results: list[dict]) -> list[tuple[str, str]]:
    folder = outputs.request_dir("search-")
    items = []
    for i, r in enumerate(results):
        picture = r["path"] if r["kind"] == "image" else r.get("thumbnail")
        try:
            shown = _thumbnail(picture, folder / f"{i}.jpg") if picture else _waveform(r, folder)
        except OSError:  # the file moved or changed since it was indexed: say so in the caption
            shown = _waveform(r, folder)
            r = {**r, "text": (r.get("text", "") + " (file no longer readable)").strip()}
        items.append((shown, caption(r)))
    return items


def _index_dir(index_dir: str) -> str:
    # on a public Space the server's folders are not the visitor's to choose
    return DEFAULT_INDEX if on_space() else (index_dir or "").strip() or DEFAULT_INDEX


@gpu(duration=300)
@user_errors
def index_files(uploads, folder, index_dir, progress=gr.Progress()):
    index_dir = _index_dir(index_dir)
    paths = [str(p) for p in search.keep_copies(uploads or [], index_dir)] if uploads else []
    if folder and folder.strip() and not on_space():
        paths.append(folder.strip())
    if not paths:
        raise BadInput("Upload files or give a folder on the server to index.")
    report = search.build_index(paths, index_dir, progress=lambda f, m: progress(f, desc=m)).to_dict()
    counts = report["counts"]
    status = (f"**{len(report['added'])} added, {len(report['unchanged'])} unchanged, {len(report['skipped'])} "
              f"skipped** in {report['seconds']:.1f} s. The index holds {counts['files']} files: "
              f"{counts['visual']} pictures (images and video shots), {counts['speech']} speech segments.\n\n"
              f"*Space: {report['method']}.*")
    notes = [f"- {n}" if n.startswith(f"{Path(a['path']).name}:") else f"- {Path(a['path']).name}: {n}"
             for a in report["added"] for n in a["notes"]]  # a media note already names its file
    if notes:
        status += "\n\n" + "\n".join(notes)
    skipped = [[Path(s["path"]).name, s["reason"]] for s in report["skipped"]]
    return status, skipped, report


@user_errors
def run_query(text, image, top, index_dir):
    what = Path(image) if image else (text or "")  # a path object: a query by example, whatever its name
    if not image and not (text or "").strip():
        raise BadInput("Type a sentence or give an example image.")
    found = search.query(what, _index_dir(index_dir), top=int(top)).to_dict()
    status = (f"{len(found['results'])} result(s) for the {found['query_kind']} query"
              f"{' ' + repr(found['query']) if found['query_kind'] == 'text' else ''}. *{found['method']}.*")
    if not found["results"]:
        status += " The index is empty: index some files first."
    return status, _gallery(found["results"]), found["results"], found, None, None, ""


@user_errors
def play(results, evt: gr.SelectData):
    """The chosen result's moment: a clip of the video shot or speech segment, or the audio segment."""
    if not results or evt.index is None or evt.index >= len(results):
        return gr.update(value=None, visible=False), gr.update(value=None, visible=False), ""
    r = results[evt.index]
    label = f"**{Path(r['path']).name}** {_moment(r)} {('· “' + r['text'] + '”') if r.get('text') else ''}"
    if r["kind"] == "video" and "start" in r:
        clip = video_moment(r["path"], r["start"], r["end"], str(outputs.request_dir("moment-") / "moment.mp4"))
        return gr.update(value=str(clip), visible=True), gr.update(value=None, visible=False), label
    if r["kind"] == "audio" and "start" in r:
        return (gr.update(value=None, visible=False), gr.update(value=audio_moment(r["path"], r["start"], r["end"]),
                                                                 visible=True), label)
    return gr.update(value=None, visible=False), gr.update(value=None, visible=False), label


def build() -> None:
    gr.Markdown(
        "Indexes images, videos (one keyframe per shot, with its times) and speech (transcript segments of audio "
        "files and video sound tracks, with their times), then finds them by a sentence or an example image. "
        "With CLIP weights pictures are CLIP embeddings; offline they are ImageNet class probabilities mapped into "
        "the MiniLM sentence space (only what ImageNet's classes cover). Speech is matched by MiniLM. Click a "
        "video or audio result to play it from its moment."
    )
    with gr.Row():
        with gr.Column(scale=2):
            uploads = gr.File(label="Files to index (images, videos, audio)", file_count="multiple")
            folder = gr.Textbox(label="...or a folder on the server (recursive)", visible=not on_space(),
                                placeholder="/data/photos")
            index_dir = gr.Textbox(value=DEFAULT_INDEX, label="Index folder", visible=not on_space(),
                                   info="created when new; re-indexing skips unchanged files")
            go_index = gr.Button("Index", variant="secondary")
            index_status = gr.Markdown()
            skipped = gr.Dataframe(headers=["skipped file", "reason"], datatype=["str", "str"], wrap=True,
                                   interactive=False, label="Skipped")
        with gr.Column(scale=3):
            with gr.Row():
                text = gr.Textbox(label="Search by a sentence", placeholder="a cat asleep on a sofa", scale=3)
                image = ImageInput(label="...or by an example image", type="filepath", height=140, scale=1)
            with gr.Row():
                top = gr.Slider(1, 50, value=12, step=1, label="Results")
                go = gr.Button("Search", variant="primary")
            status = gr.Markdown()
            gallery = gr.Gallery(label="Results: score · kind · moment · what was said", columns=4, height="auto",
                                 object_fit="contain", allow_preview=False)
            moment = gr.Markdown()
            player = gr.Video(label="The moment", visible=False, autoplay=True, interactive=False)
            listener = gr.Audio(label="The moment", visible=False, autoplay=True, interactive=False)
    results = gr.State([])
    with gr.Accordion("JSON", open=False):
        raw = gr.JSON(label="JSON")
        index_raw = gr.JSON(label="Index report")
    go_index.click(index_files, inputs=[uploads, folder, index_dir], outputs=[index_status, skipped, index_raw],
                   api_name="search_index", concurrency_limit=1, concurrency_id=search.SLOT)
    query_event = dict(fn=run_query, inputs=[text, image, top, index_dir],
                       outputs=[status, gallery, results, raw, player, listener, moment])
    go.click(**query_event, api_name="search", concurrency_limit=1, concurrency_id=search.SLOT)
    text.submit(**query_event, api_name=False, concurrency_limit=1, concurrency_id=search.SLOT)
    gallery.select(play, inputs=[results], outputs=[player, listener, moment], api_name=False)
