"""Search tab: index uploads or a server folder (images, videos by shot, speech by segment), query by a sentence or
an example image, play a video or audio result from its moment. UI only: the work is in mmdemo.pipelines.search.

Whose index: a visitor's uploads go into an index of its own under the app's output folder, which expires with its
other files; server folders and named index folders are the operator's, or a visitor's under the roots granted
with --allow-dir (mmdemo.access). The JSON a caller gets names files, never server paths."""

from __future__ import annotations

from pathlib import Path

import gradio as gr

from demos.common import ImageInput, gpu, show_to, user_errors
from demos.controls import control
from demos.guard import caller
from mmdemo import access, config, outputs
from mmdemo.errors import BadInput
from mmdemo.pipelines import search
from mmdemo.pipelines.search.moments import audio_moment, video_moment

THUMB_SIDE = (320, 180)
SESSION_INDEX_VAR = "MMDEMO_SESSION_INDEX_MB"


def lasting_index() -> str:
    """The operator's default index folder: MMDEMO_SEARCH_INDEX, else in mmdemo's cache (MMDEMO_CACHE_DIR)."""
    return str(config.get("MMDEMO_SEARCH_INDEX"))


def _session_limit_bytes() -> float:
    return config.get(SESSION_INDEX_VAR) * 1e6


def _moment(r: dict) -> str:
    return f"{r['start']:.1f}–{r['end']:.1f} s" if "start" in r else ""


def caption(r: dict) -> str:
    """score · kind · 12.3–15.0 s · text"""
    parts = [f"{r['score']:.3f}", r["kind"], _moment(r), r.get("text", ""), Path(r["path"]).name]
    return " · ".join(p for p in parts if p)


def shown(path: str, who: access.Caller) -> str:
    """How a file is named to a caller: the operator sees the server path; a visitor the file's name, or its path
    under the granted root it was indexed from."""
    resolved = Path(path)
    if resolved.parent.parent.name == search.UPLOADS:  # an upload's copy inside the index: its own name
        return resolved.name
    if who.operator:
        return path
    for root in who.grants.dirs:
        if root in resolved.parents:
            return str(resolved.relative_to(root))
    return resolved.name


def public_result(r: dict, who: access.Caller) -> dict:
    """A result as the JSON output shows it: ``file`` instead of a server ``path``, no thumbnail path (a client
    such as gradio_client takes a ``path`` key for a file to download)."""
    out = {k: v for k, v in r.items() if k not in ("path", "thumbnail")}
    return {"file": shown(r["path"], who), **out}


def public_report(report: dict, who: access.Caller) -> dict:
    out = {**report, "added": [{**{k: v for k, v in a.items() if k != "path"}, "file": shown(a["path"], who)}
                               for a in report["added"]],
           "unchanged": [shown(p, who) for p in report["unchanged"]],
           "skipped": [{"file": shown(s["path"], who), "reason": s["reason"]} for s in report["skipped"]]}
    out["index"] = report["index"] if who.operator else "your own index (expires with your other files)"
    return out


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


def _index_dir(index_dir: str, who: access.Caller) -> Path:
    """The index a request uses: a folder the caller named (the operator anywhere, a visitor under a granted
    root), else the operator's lasting index or the visitor's own."""
    typed = (index_dir or "").strip()
    if typed:
        return who.server_path(typed, "the index folder")
    if who.operator:
        return Path(lasting_index()).expanduser()
    return outputs.client_dir("search-", who.key)


def _size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) if folder.is_dir() else 0


def _check_room(index_dir: Path, uploads: list[str], who: access.Caller) -> None:
    """A visitor's index is bounded (MMDEMO_SESSION_INDEX_MB, uploads and what indexing writes included), and all
    visitors' own indexes together at most ten times that."""
    if who.operator:
        return
    adding = sum(Path(u).stat().st_size for u in uploads if Path(u).is_file())
    limit = _session_limit_bytes()
    would_hold = _size(index_dir) + adding
    if would_hold > limit:
        raise BadInput(f"Your index would hold {would_hold / 1e6:.0f} MB, over the "
                       f"{limit / 1e6:g} MB each visitor may keep ({SESSION_INDEX_VAR}).")
    everyone = sum(_size(p) for p in outputs.outputs_dir().glob("search-*"))
    if everyone + adding > 10 * limit:
        raise BadInput(f"Visitors' indexes fill the {10 * limit / 1e6:g} MB this server keeps for them; try again "
                       "once older ones expire (an hour unused).")


@gpu(duration=300)
@user_errors
def index_files(uploads=None, folder="", index_dir="", progress=gr.Progress(), request: gr.Request = None):
    # the request is passed in, not looked up: on ZeroGPU this runs in a forked worker without Gradio's context
    who = caller(request)
    server_folder = who.server_path(folder, "the folder") if (folder or "").strip() else None  # refused first
    index_dir = _index_dir(index_dir, who)
    uploads = [str(getattr(u, "name", u)) for u in uploads or []]
    if not uploads and server_folder is None:
        raise BadInput("Upload files" + (" or give a folder on the server" if who.may_use_folders else "")
                       + " to index.")
    _check_room(index_dir, uploads, who)
    paths = [str(p) for p in search.keep_copies(uploads, index_dir)] if uploads else []
    if server_folder is not None:
        paths.append(str(server_folder))
    within = None if who.operator else (lambda path: who.may_read(path, own=index_dir))  # no link leads out
    report = public_report(search.build_index(paths, index_dir, progress=lambda f, m: progress(f, desc=m),
                                              within=within).to_dict(), who)
    counts = report["counts"]
    status = (f"**{len(report['added'])} added, {len(report['unchanged'])} unchanged, {len(report['skipped'])} "
              f"skipped** in {report['seconds']:.1f} s. The index holds {counts['files']} files: "
              f"{counts['visual']} pictures (images and video shots), {counts['speech']} speech segments.\n\n"
              f"*Space: {report['method']}.*")
    notes = [f"- {n}" if n.startswith(f"{Path(a['file']).name}:") else f"- {Path(a['file']).name}: {n}"
             for a in report["added"] for n in a["notes"]]  # a media note already names its file
    if notes:
        status += "\n\n" + "\n".join(notes)
    skipped = [[s["file"], s["reason"]] for s in report["skipped"]]
    return status, skipped, report


@user_errors
def run_query(text="", image=None, top=None, index_dir=""):
    who = caller()
    # a sentence is a sentence, whatever it looks like; only the image box makes a query by example
    what = Path(image) if image else (text or "")
    if not image and not (text or "").strip():
        raise BadInput("Type a sentence or give an example image.")
    folder = _index_dir(index_dir, who)
    if not who.operator and not (index_dir or "").strip() and not folder.is_dir():
        raise BadInput("Your index is empty: index some files first.")
    outputs.touch(folder / "meta.json")  # a visitor's own index lives as long as it is used
    found = search.query(what, folder, top=top).to_dict()
    if not who.operator:  # an index under a granted root may name files elsewhere (built by the operator)
        found["results"] = [r for r in found["results"] if who.may_read(r["path"], own=folder)
                            and (not r.get("thumbnail") or who.may_read(r["thumbnail"], own=folder))]
    status = (f"{len(found['results'])} result(s) for the {found['query_kind']} query"
              f"{' ' + repr(found['query']) if found['query_kind'] == 'text' else ''}. *{found['method']}.*")
    if not found["results"]:
        status += " The index is empty: index some files first."
    public = {**found, "results": [public_result(r, who) for r in found["results"]]}
    # the server's paths stay in the session's state (for playing a moment), never in what is sent
    return status, _gallery(found["results"]), found["results"], public, None, None, ""


@user_errors
def play(results, evt: gr.SelectData):
    """The chosen result's moment: a clip of the video shot or speech segment, or the audio segment."""
    if not results or evt.index is None or evt.index >= len(results):
        return gr.update(value=None, visible=False), gr.update(value=None, visible=False), ""
    r = results[evt.index]
    label = f"**{shown(r['path'], caller())}** {_moment(r)} {('· “' + r['text'] + '”') if r.get('text') else ''}"
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
            folder = gr.Textbox("", label="...or a folder on the server (recursive)", visible=False,
                                placeholder="/data/photos")
            index_dir = gr.Textbox("", label="Index folder", visible=False,
                                   info="created when new; re-indexing skips unchanged files; empty: your own "
                                        "index, which expires with your other files")
            show_to("folders", [folder, index_dir], values={index_dir: lasting_index()})
            go_index = gr.Button("Index", variant="secondary")
            index_status = gr.Markdown()
            skipped = gr.Dataframe(headers=["skipped file", "reason"], datatype=["str", "str"], wrap=True,
                                   interactive=False, label="Skipped")
        with gr.Column(scale=3):
            with gr.Row():
                text = gr.Textbox(label="Search by a sentence", placeholder="a cat asleep on a sofa", scale=3)
                # wide enough for its own "Drop Image Here - or - Click to Upload" (it was cut at scale 1)
                image = ImageInput(label="...or by an example image", type="filepath", height=160, scale=2,
                                   min_width=260)
            with gr.Row():
                top = control(search.Options, "top", maximum=50, value=12)  # 12: three full rows
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
