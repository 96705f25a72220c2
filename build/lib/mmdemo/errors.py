"""Errors meant for the person using the app: their message is shown as is (gr.Error in the UI, one stderr
line in the CLI). Anything else that escapes a pipeline is a bug and is reported as an internal error."""


class MMDemoError(Exception):
    """Base class: the message is a complete sentence written for the user."""


class BadInput(MMDemoError):
    """The request cannot be served as given (empty file, wrong type, out-of-range value...)."""


class BackendUnavailable(MMDemoError):
    """No weights could be found for a backend; the message names what to configure."""
