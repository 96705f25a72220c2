"""Small helpers shared by the tab modules."""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import logging
import os
import warnings
from pathlib import Path

import gradio as gr

from mmdemo import downloads
from mmdemo.errors import MMDemoError

log = logging.getLogger("mmdemo.ui")


def user_errors(fn):
    """Turn library errors into one clear message in the browser; never a traceback, never a dead server. An
    expected refusal (bad file, empty input, missing weights) is one line in the server log; a bug keeps its
    traceback there."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            with _downloads_shown(args, kwargs):
                return fn(*args, **kwargs)
        except gr.Error as exc:
            exc.print_exception = False  # Gradio would print a traceback for it
            log.warning("%s refused: %s", fn.__name__, exc.message)
            raise
        except MMDemoError as exc:
            log.warning("%s refused: %s", fn.__name__, exc)
            raise gr.Error(str(exc), print_exception=False) from None
        except Exception as exc:  # a bug: keep the traceback in the server log, show one line
            log.exception("unexpected error in %s", fn.__name__)
            raise gr.Error(f"Internal error ({type(exc).__name__}: {exc}). The server log has the details.",
                           print_exception=False) from None

    return wrapper


def _downloads_shown(args, kwargs):
    """While a handler runs, a model it loads for the first time reports its download (bytes, file in flight) to
    the handler's gr.Progress, so a multi-GB first use is not a silent wait."""
    progress = next((a for a in (*args, *kwargs.values()) if isinstance(a, gr.Progress)), None)
    if progress is None:
        return contextlib.nullcontext()
    return downloads.progress_to(lambda state: progress(state.fraction, desc=state.describe()))


class ImageInput(gr.Image):
    """gr.Image whose uploads are checked by mmdemo before Gradio opens them with Pillow.

    Gradio decodes an uploaded image (and re-encodes it when its mode differs) before any handler runs, so an
    empty, truncated or non-image upload, or a decompression bomb, used to fail inside Gradio with a generic
    "the app raised an exception". Checking the header first turns each into one clear message."""

    is_template = True  # the browser draws it with the plain Image component

    def preprocess(self, payload):
        from mmdemo.media.image import check_image_file

        if payload is not None and not payload.path and not payload.url:  # an API call's empty file: no image
            return None

        label = Path(payload.orig_name or payload.path).name if payload is not None and payload.path else "image"
        if payload is not None and payload.path:
            try:
                check_image_file(payload.path, name=label)
            except MMDemoError as exc:
                raise gr.Error(str(exc)) from None
        from PIL import Image

        from mmdemo.media.image import MAX_PIXELS

        try:
            with warnings.catch_warnings():  # images sent inline (data: URLs) meet the pixel cap here
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                return super().preprocess(payload)
        except gr.Error:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise gr.Error(f"{label}: the image is too large to decode safely (limit {MAX_PIXELS:,} pixels).") from None
        except Exception as exc:  # Pillow fails on pixel data past a valid header: a damaged file
            raise gr.Error(f"{label}: the image file is damaged or truncated ({exc}).") from None


def on_space() -> bool:
    """True on a Hugging Face Space (the platform sets SPACE_ID)."""
    return bool(os.environ.get("SPACE_ID"))


def gpu(fn=None, *, duration: int | None = None):
    """Mark a heavy handler for ZeroGPU: ``spaces.GPU`` when running on a Space that provides the ``spaces``
    package, else ``fn`` itself, unchanged (locally there is nothing to allocate). Usable as ``@gpu`` or
    ``@gpu(duration=120)``; apply it outside ``user_errors`` so the GPU is held for the whole call."""
    if fn is None:
        return lambda f: gpu(f, duration=duration)
    if not on_space() or importlib.util.find_spec("spaces") is None:
        return fn
    import spaces

    return spaces.GPU(duration=duration)(fn) if duration else spaces.GPU(fn)
