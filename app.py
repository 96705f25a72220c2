"""mmdemo: the multimodal AI demo studio. `python app.py [--share] [--host H] [--port P]`.

Assembles one tab per demo module; models load lazily on first use, so start-up stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from pathlib import Path

from mmdemo import access, applications, config, flags, outputs

# Gradio's upload cache lives next to the app's request folders, so both expire together (set before Gradio reads it).
os.environ.setdefault("GRADIO_TEMP_DIR", str(outputs.gradio_cache_dir()))

import gradio as gr  # noqa: E402

from demos import evaluate, guard, models, search  # noqa: E402
from demos.common import on_space  # noqa: E402
from mmdemo.errors import MMDemoError  # noqa: E402

# (title, module): one tab per application, in the records' order, then the tools that work across them
TABS = [(app.title, importlib.import_module(f"demos.{app.tab}")) for app in applications.APPLICATIONS] + [
    (evaluate.TITLE, evaluate), (models.TITLE, models)]


ASSETS = Path(__file__).resolve().parent / "assets"


def _who(request: gr.Request) -> str:
    """The page names its visitor's role and what the operator granted."""
    return guard.caller(request).describe()


def build_app() -> gr.Blocks:
    # outputs.Sweeper expires the uploads and copies Gradio made, the app's own folders and whatever a previous
    # process left behind; the copies of the tabs' example files are kept (Gradio's own delete_cache is not used:
    # it would expire them too).
    outputs.keep_forever(sorted(ASSETS.glob("*")))
    with gr.Blocks(title="mmdemo") as app:
        gr.Markdown("# mmdemo\nMultimodal models side by side: captions, images, speech, video, emotion, visual chat "
                    "and search, with comparison and evaluation everywhere.")
        who = gr.Markdown()
        app.load(_who, None, who, queue=False, api_visibility="private")
        with gr.Tabs():
            for title, tab in TABS:
                with gr.Tab(title):
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
    parser.add_argument("--allow-dir", action="append", default=[], metavar="PATH",
                        help="let visitors read, index and search server folders under PATH (repeatable; also "
                             f"{access.ALLOW_DIRS_VAR}); by default they reach only their own uploads")
    parser.add_argument("--allow-model-changes", action="store_true",
                        help="let visitors choose, load and unload model sources and name models in evaluation "
                             f"configs (also {access.ALLOW_MODELS_VAR}=1); the operator link always can")
    args = parser.parse_args(argv)
    # GRADIO_SERVER_NAME is how a host (Hugging Face Spaces, Docker) asks for 0.0.0.0; nothing else widens it.
    host = args.host or os.environ.get("GRADIO_SERVER_NAME") or "127.0.0.1"
    try:
        max_upload = config.get("MMDEMO_MAX_UPLOAD")  # checked now, else Gradio fails deep in launch()
        outputs.ttl_seconds()
        # the app's own folders stay out of reach even under a granted root (other visitors' files, flags)
        private = [outputs.root(), flags.flag_dir(), search.lasting_index(),
                   os.environ.get("GRADIO_TEMP_DIR") or outputs.gradio_cache_dir()]
        access.configure(access.Grants.from_options(args.allow_dir, args.allow_model_changes, private))
        outputs.check_root()  # an unwritable output or flag folder is one line now, not a traceback later
        flags.check_dir()
    except MMDemoError as exc:
        parser.error(str(exc))
    # request folders may sit outside the temp directory (MMDEMO_OUTPUT_DIR); Gradio serves only allowed paths
    # show_error: an API payload that fails Gradio's own validation (a number where a file goes) is answered with
    # the validation message instead of an empty error; the handlers' own errors are gr.Error already
    # app_kwargs: the trust boundary's middleware (Host and Origin checks, security headers, the operator link)
    return dict(server_name=host, server_port=args.port, share=args.share, max_file_size=max_upload, css=CSS,
                allowed_paths=[str(outputs.outputs_dir())], show_error=True,
                app_kwargs={"middleware": [guard.middleware(host, args.share, on_space())]})


def operator_link(local_url: str) -> str:
    return f"{local_url.rstrip('/')}/?{access.TOKEN_QUERY}={access.operator_token()}"


def main(argv: list[str] | None = None) -> None:
    options = launch_options(argv)
    os.umask(0o077)  # every folder and file the app writes is the operator's alone (0700 / 0600)
    access.serving()  # from now on a call that cannot say who made it is a visitor, not the operator
    app = build_app().queue(**QUEUE)  # first: it marks the examples' files, which no sweep may remove
    # Gradio's cache is GRADIO_TEMP_DIR wherever it was set; visitors' flags expire too
    caches = [outputs.gradio_cache_dir(), Path(os.environ["GRADIO_TEMP_DIR"]).expanduser()]
    outputs.Sweeper(caches=caches, also=[flags.expire]).start()
    app.launch(**options, prevent_thread_lock=True)
    # as Jupyter does: the secret that makes a browser the operator is shown only to whoever started the app
    print(f"* Operator link (keep it private: it grants server folders and model changes): "
          f"{operator_link(app.local_url)}", file=sys.stderr, flush=True)
    for line in access.grants().describe():
        print(f"* Visitors: {line}", file=sys.stderr, flush=True)
    app.block_thread()


if __name__ == "__main__":
    main()
