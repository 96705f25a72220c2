"""Text-to-image tab."""

from demos.common import pending_notice

TITLE = "Text-to-image"


def build() -> None:
    pending_notice("Text-to-image generation")
