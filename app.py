"""mmdemo: the multimodal AI demo studio. `python app.py [--share] [--host H] [--port P]`.

Assembles one tab per demo module; models load lazily on first use, so start-up stays fast.
"""

from __future__ import annotations

import argparse
import os
import re

from mmdemo import outputs

# Gradio's upload cache lives next to the app's request folders, so both expire together (set before Gradio reads it).
os.environ.setdefault("GRADIO_TEMP_DIR", str(outputs.gradio_cache_dir()))

import gradio as gr  # noqa: E402

from demos import captioning, chat, emotion, evaluate, models, search, speech, text_to_image, video  # noqa: E402
from mmdemo.errors import BadInput  # noqa: E402

TABS = [captioning, text_to_image, speech, video, emotion, chat, search, evaluate, models]


def build_app() -> gr.Blocks:
    # Gradio deletes the uploads and copies it made once unused for the TTL (outputs.Sweeper does the app's own
    # folders and whatever a previous process left behind).
    ttl = int(max(outputs.ttl_seconds(), 1))
    with gr.Blocks(title="mmdemo", delete_cache=(max(ttl // 4, 1), ttl)) as app:
        gr.Markdown("# mmdemo\nMultimodal models side by side: captions, images, speech, video, emotion, visual chat "
                    "and search, with comparison and evaluation everywhere.")
        with gr.Tabs():
            for tab in TABS:
                with gr.Tab(tab.TITLE):
                    tab.build()
    return app


# Requests queue (position shown in the UI); heavy events further limit themselves per backend (concurrency_id).
QUEUE = dict(default_concurrency_limit=2, max_size=64)


# Gallery captions wrap instead of ending in "...": a video shot's caption says what was shown and said.
CSS = ".caption-label { white-space: normal !important; max-width: 100% !important; max-height: 60%; overflow: auto; }"


def launch_options(argv: list[str] | None = None) -> dict:
    """The keyword arguments of launch(): private by default (127.0.0.1, no share link) unless asked for."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--share", action="store_true", help="create a public gradio.live link (off by default)")
    parser.add_argument("--host", default=None, help="bind address (default 127.0.0.1, or GRADIO_SERVER_NAME)")
    parser.add_argument("--port", type=int, default=None, help="port (default 7860, or GRADIO_SERVER_PORT)")
    args = parser.parse_args(argv)
    # GRADIO_SERVER_NAME is how a host (Hugging Face Spaces, Docker) asks for 0.0.0.0; nothing else widens it.
    host = args.host or os.environ.get("GRADIO_SERVER_NAME") or "127.0.0.1"
    max_upload = os.environ.get("MMDEMO_MAX_UPLOAD", "").strip() or "1gb"
    if not re.fullmatch(r"\d+(\.\d+)?\s*[kmgt]?b", max_upload, re.IGNORECASE):  # else Gradio fails deep in launch()
        parser.error(f"MMDEMO_MAX_UPLOAD must be a size such as 200mb or 1gb, not {max_upload!r}")
    try:
        outputs.ttl_seconds()
    except BadInput as exc:
        parser.error(str(exc))
    # request folders may sit outside the temp directory (MMDEMO_OUTPUT_DIR); Gradio serves only allowed paths
    # show_error: an API payload that fails Gradio's own validation (a number where a file goes) is answered with
    # the validation message instead of an empty error; the handlers' own errors are gr.Error already
    return dict(server_name=host, server_port=args.port, share=args.share, max_file_size=max_upload, css=CSS,
                allowed_paths=[str(outputs.outputs_dir())], show_error=True)


def main(argv: list[str] | None = None) -> None:
    options = launch_options(argv)
    outputs.Sweeper().start()
    build_app().queue(**QUEUE).launch(**options)


if __name__ == "__main__":
    main()
