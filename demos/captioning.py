"""Image captioning tab."""

from demos.common import pending_notice

TITLE = "Image captioning"


def build() -> None:
    pending_notice("Image captioning (captions, CLIP tags, visual questions)")
