"""Small helpers shared by the tab modules."""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import inspect
import logging
import os
import queue
import threading
import warnings
from collections import OrderedDict
from pathlib import Path

import gradio as gr

from mmdemo import downloads
from mmdemo.errors import BackendUnavailable, MMDemoError

log = logging.getLogger("mmdemo.ui")

# session -> the last error shown to it as a toast, for the tab's status line (run_event's failure step)
_last_errors: OrderedDict[str, str] = OrderedDict()
_errors_lock = threading.Lock()


# session -> the last progress text of its running job, and the sessions that pressed Stop (stop_button)
_last_progress: OrderedDict[str, str] = OrderedDict()
_stopped: OrderedDict[str, str] = OrderedDict()


def _remember(table: OrderedDict, message: str, session: str | None = None) -> None:
    from gradio.context import LocalContext

    session = session or getattr(LocalContext.request.get(None), "session_hash", None)
    if session:
        with _errors_lock:
            table[session] = message
            table.move_to_end(session)
            while len(table) > 1000:  # sessions that never came back
                table.popitem(last=False)


def _remember_error(message: str) -> None:
    _remember(_last_errors, message)


def _error_line(request: gr.Request):
    session = getattr(request, "session_hash", None) or ""
    with _errors_lock:
        message = _last_errors.pop(session, None)
        stopped = _stopped.pop(session, None)
    if stopped is not None and message is None:  # a stopped run is cancelled, which Gradio reports as a failure
        return stopped
    return f"**Error:** {message}" if message else "**Error:** the run failed; the message is shown above."


def stop_button(button, event, status, said: str = "") -> None:
    """``button`` stops ``event`` (a run_event) and says so in ``status``: "Stopped during: <the job's last
    progress text>" and ``said`` (what is kept), never the failure line that Gradio's cancel would bring."""

    def stopped(request: gr.Request) -> str:
        session = getattr(request, "session_hash", None) or ""
        with _errors_lock:
            last = _last_progress.get(session)
        line = f"**Stopped** during: {last}." if last else "**Stopped.**"
        line += f" {said}" if said else ""
        _remember(_stopped, line, session)
        return line

    button.click(stopped, None, status, cancels=[event], queue=False, api_visibility="private")


def run_event(listener, fn, inputs, outputs, status, *, clear=None, **options):
    """Wire one run of a tab: the outputs of the previous run are cleared and the status line says it is running
    before ``fn`` starts; if ``fn`` fails, its message stays in the status line (the toast fades). ``listener`` is
    e.g. ``button.click``; ``clear`` lists the outputs to empty (default: ``outputs`` except ``status``, which
    ``fn`` fills); the returned event is the one with ``api_name``, as before."""
    to_clear = [c for c in (outputs if clear is None else clear) if c is not status and not isinstance(c, gr.State)]
    started = listener(lambda: [gr.update(value=None) for _ in to_clear] + ["*Running...*"], None,
                       to_clear + [status], queue=False, api_visibility="private")
    event = started.then(fn, inputs, outputs, **options)
    event.failure(_error_line, None, status, queue=False, api_visibility="private")
    return event


def user_errors(fn):
    """Turn library errors into one clear message in the browser; never a traceback, never a dead server. An
    expected refusal (bad file, empty input, missing weights) is one line in the server log; a bug keeps its
    traceback there. The message is also kept for the tab's status line (run_event). A model load during the
    call is announced in the progress text. A generator handler (a streamed answer) stays a generator, its errors
    worded the same."""

    def worded(exc: Exception) -> gr.Error:
        if isinstance(exc, gr.Error):
            exc.print_exception = False  # Gradio would print a traceback for it
            log.warning("%s refused: %s", fn.__name__, exc.message)
            error = exc
        elif isinstance(exc, MMDemoError):
            log.warning("%s refused: %s", fn.__name__, exc)
            error = gr.Error(str(exc), print_exception=False)
        else:  # a bug: keep the traceback in the server log, show one line
            log.error("unexpected error in %s", fn.__name__, exc_info=exc)
            from demos.guard import caller

            # an exception's text often holds server paths: the operator reads it, a visitor its type only
            detail = f"{type(exc).__name__}: {exc}" if caller().operator else type(exc).__name__
            error = gr.Error(f"Internal error ({detail}). The server log has the details.", print_exception=False)
        _remember_error(error.message)
        return error

    def remembering(args, kwargs):
        """The handler's gr.Progress, as one that keeps its last fraction (a load is announced at it)."""
        args = [RememberedProgress(a) if isinstance(a, gr.Progress) else a for a in args]
        kwargs = {k: RememberedProgress(v) if isinstance(v, gr.Progress) else v for k, v in kwargs.items()}
        progress = next((a for a in (*args, *kwargs.values()) if isinstance(a, gr.Progress)), None)
        return args, kwargs, (stages_shown(progress) if progress is not None else contextlib.nullcontext())

    if inspect.isgeneratorfunction(fn):
        @functools.wraps(fn)
        def streamed(*args, **kwargs):
            try:  # no load announcements here: a context variable cannot span the yields of a generator
                yield from fn(*args, **kwargs)
            except Exception as exc:
                error = worded(exc)
                if error is exc:
                    raise
                raise error from None

        return streamed

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            args, kwargs, announced = remembering(args, kwargs)
            with announced:
                return fn(*args, **kwargs)
        except Exception as exc:
            error = worded(exc)
            if error is exc:
                raise
            raise error from None

    return wrapper


class RememberedProgress(gr.Progress):
    """A gr.Progress that keeps the last fraction it was given: the page shows a progress text only beside a
    fraction, so a model load is announced at the fraction the handler had reached."""

    def __init__(self, inner: gr.Progress):
        super().__init__()
        self.inner, self.last = inner, 0.0

    def __call__(self, progress, desc=None, **kwargs):
        if isinstance(progress, (int, float)):
            self.last = float(progress)
        return self.inner(progress, desc=desc, **kwargs)

    def tqdm(self, *args, **kwargs):
        return self.inner.tqdm(*args, **kwargs)


@contextlib.contextmanager
def stages_shown(progress):
    """While a handler runs, a model it loads for the first time is a visible stage of its progress: the download
    (bytes, file in flight) and the load ("loading whisper from pack:whisper-base (first use)..."), so a
    multi-GB first use is not a silent wait. ``progress`` is a gr.Progress or any ``(fraction, desc=)``
    callable; a load is shown at the last fraction reached (without one, the page would show no text)."""
    from mmdemo.registry import announce_loads

    with announce_loads(lambda message: progress(getattr(progress, "last", 0.0), desc=message)), \
            downloads.progress_to(lambda state: progress(state.fraction, desc=state.describe())):
        yield


class StopRequested(Exception):
    """Raised in a worker at its next progress report once its stream was closed (Stop pressed, browser gone)."""


def worker_stream(work, progress):
    """Run ``work(report, emit, stop)`` in a thread and stream it: a generator of what ``work`` passes to
    ``emit`` (a transcript's segments), whose return value (``yield from``) is ``work``'s result. ``report(fraction,
    message)`` and first-use downloads and loads reach ``progress`` (gr.Progress answers only in the handler's
    own thread, hence the queue). Closing the generator early sets ``stop`` (a threading.Event) and makes the
    worker's next ``report`` raise StopRequested: the long job ends at its next step and the slot is free at once."""
    updates: queue.Queue = queue.Queue()
    outcome: dict = {}
    stop = threading.Event()

    def report(fraction, message):
        if stop.is_set():
            raise StopRequested()
        updates.put(("progress", fraction, message))

    def target():
        try:
            with stages_shown(lambda fraction, desc=None: updates.put(("progress", fraction, desc))):
                outcome["value"] = work(report, lambda item: updates.put(("item", item)), stop)
        except BaseException as exc:  # raised below, in the handler's thread, where user_errors words it
            outcome["error"] = exc
        finally:
            updates.put(("done",))

    threading.Thread(target=target, name="worker", daemon=True).start()
    try:
        while (update := updates.get())[0] != "done":
            if update[0] == "progress":
                progress(update[1], desc=update[2])
                if update[2]:
                    _remember(_last_progress, update[2])  # for stop_button's line
            else:
                yield update[1]
    finally:
        if not outcome:
            stop.set()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


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

        from mmdemo.media.image import max_pixels

        limit = max_pixels()
        try:
            with warnings.catch_warnings():  # images sent inline (data: URLs) meet the pixel cap here
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                return super().preprocess(payload)
        except gr.Error:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise gr.Error(f"{label}: the image is too large to decode safely (limit {limit:,} pixels).") from None
        except Exception as exc:  # Pillow fails on pixel data past a valid header: a damaged file
            raise gr.Error(f"{label}: the image file is damaged or truncated ({exc}).") from None


def show_to(power: str, components: list, values: dict | None = None) -> None:
    """``components`` are shown, on each page load, only to callers who hold ``power`` ("folders" or "models":
    see mmdemo.access); ``values`` (component -> value) fills some for the operator alone (a server path is
    theirs to see). Hiding is for the page; the handlers refuse on their own."""
    from demos.guard import caller

    values = values or {}

    def check():
        who = caller()
        allowed = who.may_use_folders if power == "folders" else who.may_change_models
        return [gr.update(visible=allowed, **({"value": values[c]} if who.operator and c in values else {}))
                for c in components]

    gr.context.Context.root_block.load(check, None, components, queue=False, api_visibility="private")


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


def unavailable(backend: str) -> bool:
    """True when a backend has no weights here (nothing configured, no cache, no Hub, no pack); loads nothing."""
    from mmdemo import backends

    try:
        backends.resolve(backend)
        return False
    except BackendUnavailable:
        return True


def gate_features(notice: gr.Markdown, features: dict[str, tuple[str, list]]) -> None:
    """``notice`` (a Markdown under the tab's description) says on each page load, in one line, which features have
    no weights here and the variable that gives each; their controls are hidden meanwhile. ``features``: label ->
    (backend, components shown only when the backend is available). Choosing a source in the Models tab shows
    them again on the next page load."""
    from mmdemo import backends

    gated = [c for _, components in features.values() for c in components]

    def check():
        missing = {label: backend for label, (backend, _) in features.items() if unavailable(backend)}
        text = ""
        if missing:
            parts = ", ".join(f"{label} (`{backends.REGISTRY.spec(b).env_var}`)" for label, b in missing.items())
            text = (f"**Not available here, for lack of weights:** {parts}. Set the variable to a folder or Hub id, "
                    "or choose a source in the Models tab; the rest of the tab works.")
        hidden = {id(c) for label, (_, components) in features.items() if label in missing for c in components}
        return [text] + [gr.update(visible=id(c) not in hidden) for c in gated]

    gr.context.Context.root_block.load(check, None, [notice, *gated], queue=False, api_visibility="private")
