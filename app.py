"""mmdemo: the multimodal AI demo studio. `python app.py [--share] [--host H] [--port P]`.

Assembles one tab per demo module; models load lazily on first use, so start-up stays fast.
"""

from __future__ import annotations

import argparse
import os
import re

import gradio as gr

from demos import captioning, emotion, models, search, speech, text_to_image, video

TABS = [captioning, text_to_image, speech, video, emotion, search, models]


def build_app() -> gr.Blocks:
    with gr.Blocks(title="mmdemo") as app:
        gr.Markdown("# mmdemo\nMultimodal models side by side: captions, images, speech, video, emotion and search.")
        with gr.Tabs():
            for tab in TABS:
                with gr.Tab(tab.TITLE):
                    tab.build()
    return app


# Requests queue (position shown in the UI); heavy events further limit themselves per backend (concurrency_id).
QUEUE = dict(default_concurrency_limit=2, max_size=64)


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
    return dict(server_name=host, server_port=args.port, share=args.share, max_file_size=max_upload)


def main(argv: list[str] | None = None) -> None:
    options = launch_options(argv)
    build_app().queue(**QUEUE).launch(**options)


if __name__ == "__main__":
    main()
