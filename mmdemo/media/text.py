"""Taking user text safely: bounded length, valid Unicode, and text files that must be UTF-8.

Models read only the first few hundred tokens of a text, but tokenizers, VADER and jiwer still walk all of it, so a
pasted book would hold a worker for minutes; refusing it up front keeps the server responsive.
"""

from __future__ import annotations

import os
from pathlib import Path

from mmdemo import config
from mmdemo.errors import BadInput

MAX_PROMPT_CHARS = 2_000  # prompts, questions: a few sentences (CLIP reads 77 tokens, BLIP 512)


def max_text_chars() -> int:
    """Free text (emotion texts, reference transcripts): MMDEMO_MAX_TEXT_CHARS, default 100,000 characters
    (about two hours of speech as a transcript)."""
    return config.get("MMDEMO_MAX_TEXT_CHARS")


def check_text(text: str | None, what: str = "the text", max_chars: int | None = None) -> str:
    """``text`` unchanged if it is a string within ``max_chars`` (default: max_text_chars()) made of valid
    Unicode; BadInput naming ``what`` otherwise. Empty text is the caller's business (it may be optional)."""
    if text is None:
        return ""
    if not isinstance(text, str):
        raise BadInput(f"{_capital(what)} must be text, not {type(text).__name__}.")
    limit = max_text_chars() if max_chars is None else max_chars
    if len(text) > limit:
        raise BadInput(f"{_capital(what)} is {len(text):,} characters long, over the limit of {limit:,}"
                       f"{' (MMDEMO_MAX_TEXT_CHARS)' if max_chars is None else ''}.")
    try:
        # JSON lets a client send lone surrogates (\ud800); tokenizers would fail on them deep inside a model.
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise BadInput(f"{_capital(what)} contains characters that are not valid Unicode text.") from None
    if "\x00" in text:
        raise BadInput(f"{_capital(what)} contains NUL characters: is it a binary file?")
    return text


def read_text_file(path: "str | os.PathLike", what: str | None = None, max_chars: int | None = None) -> str:
    """The content of a UTF-8 text file (a byte-order mark is allowed), checked like check_text."""
    path = Path(path)
    label = what or path.name
    if not path.is_file():
        raise BadInput(f"{label}: file not found.")
    limit = max_text_chars() if max_chars is None else max_chars
    # UTF-8 takes at most 4 bytes a character: a larger file is over the limit without reading it.
    if path.stat().st_size > 4 * limit:
        raise BadInput(f"{label}: the file is over the limit of {limit:,} characters"
                       f"{' (MMDEMO_MAX_TEXT_CHARS)' if max_chars is None else ''}.")
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BadInput(f"{label}: not a UTF-8 text file (byte {exc.start} is not UTF-8); save it as UTF-8.") from None
    return check_text(text, f"the text of {label}", max_chars)


def _capital(what: str) -> str:
    return what[:1].upper() + what[1:]
