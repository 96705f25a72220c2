"""Opening user images safely: one clear message for anything that is not a usable picture."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from mmdemo import config
from mmdemo.errors import BadInput

MIN_SIDE = 8  # smaller than this carries no content any model can use


def max_pixels() -> int:
    """The decompression-bomb guard, MMDEMO_MAX_IMAGE_PIXELS. Also set as Pillow's own guard (warning at the limit,
    error at twice it), which then covers every other opener in the process too."""
    limit = config.get("MMDEMO_MAX_IMAGE_PIXELS")
    Image.MAX_IMAGE_PIXELS = limit
    return limit


try:
    max_pixels()  # at import too, for openers that run before any of ours (a bad value is reported at first use)
except BadInput:
    pass


def load_image(image: "str | os.PathLike | Image.Image", name: str | None = None) -> Image.Image:
    """An RGB PIL image, fully decoded, or BadInput naming the problem."""
    label = name or (Path(image).name if not isinstance(image, Image.Image) else "image")
    if isinstance(image, Image.Image):
        img = image
    else:
        img = _open_checked(Path(image), label)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                img.load()  # decode now: truncated files fail here, not deep inside a model
        except (OSError, SyntaxError, ValueError, Image.DecompressionBombWarning) as exc:
            raise BadInput(f"{label}: the image file is damaged or truncated ({exc}).") from None
    _check_size(img, label)
    return img.convert("RGB") if img.mode != "RGB" else img


def check_image_file(path: "str | os.PathLike", name: str | None = None) -> tuple[int, int]:
    """(width, height) of an image file from its header alone, or BadInput: empty, not an image, over the pixel
    cap or too small. Cheap enough to run before anything else (e.g. a web framework) decodes the upload."""
    path = Path(path)
    with _open_checked(path, name or path.name) as img:
        return img.size


def _open_checked(path: Path, label: str) -> Image.Image:
    """The image opened lazily (header read, pixels not decoded) after the file and size checks."""
    if not path.is_file():
        raise BadInput(f"{label}: file not found.")
    if path.stat().st_size == 0:
        raise BadInput(f"{label}: the file is empty.")
    limit = max_pixels()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(path)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise BadInput(f"{label}: the image is too large to decode safely (limit {limit:,} pixels).") from None
    except UnidentifiedImageError:
        raise BadInput(f"{label}: not an image file (or a format Pillow cannot read).") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise BadInput(f"{label}: the image file is damaged or truncated ({exc}).") from None
    try:
        _check_size(img, label)
    except BadInput:
        img.close()
        raise
    return img


def _check_size(img: Image.Image, label: str) -> None:
    width, height, limit = *img.size, max_pixels()
    if width * height > limit:
        raise BadInput(f"{label}: {width}x{height} pixels is over the limit of {limit:,} pixels.")
    if min(width, height) < MIN_SIDE:
        raise BadInput(f"{label}: {width}x{height} pixels is too small (at least {MIN_SIDE}x{MIN_SIDE}).")
