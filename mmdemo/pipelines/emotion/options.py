"""The Emotion analysis application's settings, declared once (mmdemo.options): the tab's controls, the CLI's
flags and the evaluation keys come from here. The CLI also takes the three weights as one ``--weights`` list."""

from __future__ import annotations

from dataclasses import dataclass

from mmdemo.options import Options, setting
from mmdemo.pipelines.emotion.text import READERS

_WEIGHT = "fusion weight of the {} (0 leaves it out; only the ratios between the weights matter)"


@dataclass(frozen=True)
class EmotionOptions(Options):
    text_reader: str = setting("auto", "text reader: auto (Hub model, else the trained head), head, zero-shot",
                               choices=READERS, label="Text reader",
                               labels=("auto: Hub model, else the trained head",
                                       "MiniLM + head trained on GoEmotions comments and MELD dialogue",
                                       "zero-shot (MiniLM similarity to prototypes)"))
    text_weight: float = setting(1.0, _WEIGHT.format("text"), low=0.0, label="text weight", cli=False)
    voice_weight: float = setting(1.0, _WEIGHT.format("voice"), low=0.0, label="voice weight", cli=False)
    face_weight: float = setting(1.0, _WEIGHT.format("face"), low=0.0, label="face weight", cli=False)
