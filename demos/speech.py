"""Speech tab."""

from demos.common import pending_notice

TITLE = "Speech"


def build() -> None:
    pending_notice("Speech transcription, translation and subtitles")
