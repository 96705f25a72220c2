"""Reading the app's environment variables: at call time (a later change is seen), and a bad value is one
sentence naming the variable. The start of one declaration per variable (the rest still read os.environ where
they are used)."""

from __future__ import annotations

import math
import os

from mmdemo.errors import BadInput


TRUE_WORDS = frozenset({"1", "true", "yes", "on"})  # what turns a switch on, in a variable or a config value


def switch(name: str) -> bool:
    """``name`` as an on/off switch: on for 1, true, yes or on (any case), off otherwise or when unset."""
    return os.environ.get(name, "").strip().lower() in TRUE_WORDS


def positive_number(name: str, default: float, unit: str = "number") -> float:
    """``name`` as a positive finite number, ``default`` when unset or empty; BadInput naming it otherwise."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not (value > 0 and math.isfinite(value)):
        article = "an" if unit[0] in "aeiou" else "a"
        raise BadInput(f"{name} must be {article} positive {unit}, not {raw!r}.")
    return value
