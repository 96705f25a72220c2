"""Text translation through the shared ``translator`` backend (NLLB-200 by default).

    translate(["Hola, ¿qué tal?"], target="en", source="es") -> ["Hello, how are you?"]

Raises BackendUnavailable when no translation weights can be found (always the case offline: no translation
model exists as an offline pack); speech can still be translated to English by Whisper itself.
"""

from __future__ import annotations

from mmdemo import backends
from mmdemo.errors import BadInput


def translate(texts: list[str], target: str, source: str | None = None) -> list[str]:
    if isinstance(texts, str):
        raise BadInput("translate() takes a list of texts, not a single string.")
    if not target or not str(target).strip():
        raise BadInput("Choose a target language to translate into.")
    target = str(target).strip()
    source = str(source).strip() if source else None
    texts = [str(t) for t in texts]
    if source and source.lower() == target.lower():
        return list(texts)
    keep = [i for i, t in enumerate(texts) if t.strip()]  # empty lines stay empty, the model never sees them
    out = [""] * len(texts)
    if not keep:
        return out
    translated = backends.get("translator").translate([texts[i] for i in keep], target, source)
    for i, text in zip(keep, translated):
        out[i] = text
    return out
