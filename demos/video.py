"""Video summarization tab."""

from demos.common import pending_notice

TITLE = "Video summarization"


def build() -> None:
    pending_notice("Video summarization")
