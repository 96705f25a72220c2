"""Plain-ASCII punctuation for text readers, shared by the emotion backend and pipelines (below both).

Typographic quotes, dashes and ellipses, and the same characters mis-decoded from Windows-1252 as Latin-1 (MELD's
CSVs carry "\\x92" for an apostrophe), become the ASCII the reader's word features were trained on.
"""

_PUNCTUATION = str.maketrans({
    "\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u2026": "...", "\u2013": "-", "\u2014": "-",
    "\x91": "'", "\x92": "'", "\x93": '"', "\x94": '"', "\x85": "...", "\x96": "-", "\x97": "-", "\xa0": " "})


def normalise(text: str) -> str:
    """Typographic and mis-decoded quotes, dashes and ellipses to ASCII; whitespace collapsed."""
    return " ".join(str(text).translate(_PUNCTUATION).split())
