"""Small helpers shared by the tab modules."""

from __future__ import annotations

import functools
import logging

import gradio as gr

from mmdemo.errors import MMDemoError

log = logging.getLogger("mmdemo.ui")


def user_errors(fn):
    """Turn library errors into one clear message in the browser; never a traceback, never a dead server."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except gr.Error:
            raise
        except MMDemoError as exc:
            raise gr.Error(str(exc)) from None
        except Exception as exc:  # a bug: keep the traceback in the server log, show one line
            log.exception("unexpected error in %s", fn.__name__)
            raise gr.Error(f"Internal error ({type(exc).__name__}: {exc}). The server log has the details.") from None

    return wrapper


def pending_notice(what: str) -> None:
    gr.Markdown(f"*{what} arrives in a coming release; the other tabs work now.*")
