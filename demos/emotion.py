"""Emotion analysis tab."""

from demos.common import pending_notice

TITLE = "Emotion analysis"


def build() -> None:
    pending_notice("Emotion analysis (text, voice, face)")
