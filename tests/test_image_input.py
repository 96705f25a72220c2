"""Opening user images: every bad file gets one clear BadInput."""

import pytest
from PIL import Image

from mmdemo.errors import BadInput
from mmdemo.media.image import load_image


def _png(path, size=(64, 48), mode="RGB"):
    Image.new(mode, size, "red" if mode == "RGB" else 0).save(path)
    return path


def test_good_image_is_rgb(tmp_path):
    img = load_image(_png(tmp_path / "a.png", mode="L"))
    assert img.mode == "RGB" and img.size == (64, 48)


@pytest.mark.parametrize("case, message", [
    ("empty", "empty"), ("text", "not an image"), ("truncated", "damaged or truncated"),
    ("tiny", "too small"), ("missing", "not found"), ("bomb", "too large"),
])
def test_bad_images(tmp_path, case, message):
    path = tmp_path / f"{case}.png"
    if case == "empty":
        path.write_bytes(b"")
    elif case == "text":
        path.write_text("hello, not a picture")
    elif case == "truncated":
        _png(tmp_path / "full.png", size=(256, 256))
        Image.effect_noise((256, 256), 64).save(tmp_path / "full.png")
        data = (tmp_path / "full.png").read_bytes()
        path.write_bytes(data[: len(data) // 2])
    elif case == "tiny":
        _png(path, size=(1, 1))
    elif case == "bomb":  # 20000x20000 declared in the header: refused before any pixel is decoded
        Image.new("1", (20000, 20000)).save(path)
    with pytest.raises(BadInput, match=message):
        load_image(path)
