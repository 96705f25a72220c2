"""Generation parameters inside PNG files, readable by people and by other tools.

Two text chunks are written:
- ``parameters``: the infotext layout of AUTOMATIC1111's web UI (prompt, "Negative prompt: ...", then one line of
  "Key: value" pairs), which image viewers, A1111's PNG Info tab and model sites already read;
- ``mmdemo``: the same parameters as JSON, so a round trip is exact (newlines, commas, types).

``read_parameters`` prefers the JSON chunk and falls back to parsing the infotext (files from other tools).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from PIL import Image, PngImagePlugin

from mmdemo.errors import BadInput

JSON_KEY = "mmdemo"
INFOTEXT_KEY = "parameters"

# infotext label <-> our field, in the order they are written
_LABELS = [("Steps", "steps"), ("Sampler", "scheduler"), ("CFG scale", "guidance"), ("Seed", "seed"),
           ("Size", "size"), ("Model", "model"), ("VAE", "decoder"), ("Family", "family")]
_PAIR = re.compile(r'\s*([\w][\w \-/]*):\s*("(?:\\.|[^"\\])*"|[^,]*)(?:,|$)')


def infotext(params: dict) -> str:
    """The A1111-style text of a parameter dict (keys as in GenerationParams.to_dict())."""
    lines = [params.get("prompt", "")]
    if params.get("negative_prompt"):
        lines.append(f"Negative prompt: {params['negative_prompt']}")
    values = dict(params, size=f"{params.get('width')}x{params.get('height')}")
    pairs = []
    for label, key in _LABELS:
        value = values.get(key)
        if value is None or value == "":
            continue
        text = str(value)
        if any(c in text for c in ',:"\n'):
            text = json.dumps(text)  # A1111 quotes values that would break the pair syntax
        pairs.append(f"{label}: {text}")
    lines.append(", ".join(pairs))
    return "\n".join(lines)


def parse_infotext(text: str) -> dict:
    """Parameters back from an infotext (ours or another tool's): prompt, negative_prompt and the known keys."""
    lines = text.strip("\n").split("\n")
    last = lines[-1] if lines else ""
    pairs = {m.group(1).strip(): m.group(2) for m in _PAIR.finditer(last)} if ": " in last else {}
    if pairs:
        lines = lines[:-1]
    prompt, negative = [], []
    for line in lines:
        if line.startswith("Negative prompt:") or negative:
            negative.append(line.removeprefix("Negative prompt:").lstrip() if not negative else line)
        else:
            prompt.append(line)
    params: dict = {"prompt": "\n".join(prompt), "negative_prompt": "\n".join(negative)}
    by_label = dict(_LABELS)
    for label, raw in pairs.items():
        value = json.loads(raw) if raw.startswith('"') else raw.strip()
        key = by_label.get(label, label.lower().replace(" ", "_"))
        if key == "size" and "x" in value:
            width, _, height = value.partition("x")
            params["width"], params["height"] = int(width), int(height)
        elif key in ("steps", "seed"):
            params[key] = int(value)
        elif key == "guidance":
            params[key] = float(value)
        else:
            params[key] = value
    return params


def png_info(params: dict) -> PngImagePlugin.PngInfo:
    info = PngImagePlugin.PngInfo()
    info.add_itxt(INFOTEXT_KEY, infotext(params))  # iTXt: UTF-8, so prompts in any language survive
    info.add_itxt(JSON_KEY, json.dumps(params, ensure_ascii=False))
    return info


def save_png(image: Image.Image, path: "str | os.PathLike", params: dict) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, format="PNG", pnginfo=png_info(params))
    return path


def read_parameters(image: "str | os.PathLike | Image.Image") -> dict:
    """The generation parameters stored in a PNG (ours exactly, other tools' infotext parsed), or BadInput."""
    if isinstance(image, Image.Image):
        text = dict(image.info)
    else:
        try:
            with Image.open(image) as img:
                img.load()
                text = dict(img.info)
        except (OSError, ValueError) as exc:
            raise BadInput(f"{Path(image).name}: not a readable image ({exc}).") from None
    if JSON_KEY in text:
        return json.loads(text[JSON_KEY])
    if INFOTEXT_KEY in text:
        return parse_infotext(text[INFOTEXT_KEY])
    raise BadInput("This image carries no generation parameters.")
