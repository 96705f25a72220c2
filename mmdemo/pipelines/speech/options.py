"""The Speech application's settings, declared once (mmdemo.options): the tab's controls, the CLI's flags, the
evaluation keys and the record a transcript carries all come from here."""

from __future__ import annotations

from dataclasses import dataclass

from mmdemo.backends.whisper import BATCH_SIZE, BEAM_SIZE, MAX_BATCH_SIZE, MAX_BEAM_SIZE, TASKS
from mmdemo.options import Options, setting


@dataclass(frozen=True)
class SpeechOptions(Options):
    task: str = setting("transcribe", "transcribe in the spoken language, or translate the speech to English",
                        choices=TASKS, labels=("Transcribe", "Translate speech to English"), label="Task")
    # the evaluation has its own: the manifest's language column, else detected (mmdemo.pipelines.evaluation)
    language: str = setting("", "spoken language code (en, es, de...); empty: detect", label="Spoken language",
                            info="or type any Whisper code", metavar="LANG", evaluated=False)
    translate_to: str = setting("", "also translate the transcript's text into this language (translator backend)",
                                label="Translate the transcript's text to", metavar="LANG", evaluated=False,
                                info="translator backend (NLLB); offline, only English via Task: translate")
    beam_size: int = setting(BEAM_SIZE, "beam search width (1 is greedy decoding: faster, less accurate)",
                             low=1, high=MAX_BEAM_SIZE, step=1, info="1 is greedy: faster, less accurate")
    batch_size: int = setting(BATCH_SIZE, "speech chunks of audio over 30 s decoded together (1 decodes them in "
                                          "order, each conditioned on the text before)",
                              low=1, high=MAX_BATCH_SIZE, step=1,
                              info="speech chunks of audio over 30 s decoded together; 1 decodes them in order, each "
                                   "conditioned on the text before")
    vad: bool = setting(True, "skip silence with voice activity detection",
                        label="Skip silence (voice activity detection)")
