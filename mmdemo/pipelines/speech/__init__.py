"""Speech to text: transcribe (or translate to English) a file or 16 kHz samples with the shared whisper backend.

    from mmdemo.pipelines.speech import transcribe
    t = transcribe("talk.mp3", task="transcribe", language=None)   # auto-detects the language
    t.text, t.language, t.language_probability, t.segments[0].start, t.to_dict()
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from mmdemo import applications, backends
from mmdemo.errors import BadInput
from mmdemo.media.audio import SAMPLE_RATE, load_audio, max_audio_seconds
from mmdemo.media.text import check_text
from mmdemo.pipelines.speech.options import SpeechOptions as Options
from mmdemo.pipelines.speech.scoring import score as _score
from mmdemo.pipelines.shared.translation import translate

# what it uses and where its tab queues: its record in mmdemo.applications
BACKENDS, SLOT = applications.of_pipeline(__name__).backends, applications.of_pipeline(__name__).slot

MIN_SECONDS = 0.1  # shorter than this is a click, not something to transcribe


@dataclass
class Segment:
    start: float
    end: float
    text: str
    words: list[tuple[float, float, str]] = field(default_factory=list, repr=False)  # with word_timestamps=True

    def to_dict(self) -> dict:
        return {"start": round(self.start, 3), "end": round(self.end, 3), "text": self.text}


@dataclass
class Transcript:
    language: str
    language_probability: float
    duration: float
    text: str
    segments: list[Segment] = field(default_factory=list)
    task: str = "transcribe"
    engine: str = ""  # "faster-whisper" or "transformers"
    model: str = ""  # where the whisper weights came from, e.g. "pack:whisper-base"
    decoding: dict = field(default_factory=dict)  # what the engine did: beam_size, batch_size, mode, precision
    options: Options | None = None  # the settings it was asked for
    notes: list[str] = field(default_factory=list)  # what the user should know (damaged file, skipped steps)
    translation: "Transcript | None" = None  # the text translated into another language (process(translate_to=))
    score: dict | None = None  # WER/CER against a reference (process(reference=))

    @property
    def shown(self) -> "Transcript":
        """What a subtitle file should hold: the translation when there is one."""
        return self.translation or self

    def to_dict(self) -> dict:
        out = {
            "language": self.language,
            "language_probability": round(self.language_probability, 4),
            "duration": round(self.duration, 3),
            "text": self.text,
            "segments": [s.to_dict() for s in self.segments],
            "task": self.task,
            "engine": self.engine,
            "model": self.model,
            "decoding": dict(self.decoding),
            "notes": list(self.notes),
        }
        if self.options is not None:
            out["settings"] = self.options.to_dict()
        if self.translation is not None:
            out["translation"] = self.translation.to_dict()
        if self.score is not None:
            out["score"] = dict(self.score)
        return out


def process(audio: "str | os.PathLike", task: str = "transcribe", language: str | None = None,
            translate_to: str | None = None, reference: str | None = None, beam_size: int | None = None,
            batch_size: int | None = None, vad: bool = True,
            progress: Callable[[float, str], None] | None = None,
            on_segment: Callable[[Segment], None] | None = None, stop=None) -> Transcript:
    """The Speech tab's and the transcribe CLI's one request: decode ``audio`` (a file; damage becomes a note),
    transcribe or translate its speech, optionally translate the text into ``translate_to`` and score it against
    ``reference``. Everything that can be refused is checked before the audio is decoded: a missing translation
    model fails in a second, not after minutes of transcription. ``on_segment`` hears each segment as soon as it
    is decoded (the tab streams them); ``stop`` (a threading.Event) ends decoding after the segment in progress
    (the tab sets it when its client goes away or presses Stop)."""
    options = Options(task=task, language=language, translate_to=translate_to, beam_size=beam_size,
                      batch_size=batch_size, vad=vad)
    reference = check_text(reference, "the reference text") or ""
    target = options.translate_to or None
    whisper_did_it = options.task == "translate" and target == "en"
    if target and not whisper_did_it:
        backends.resolve("translator")  # BackendUnavailable now, naming MMDEMO_TRANSLATOR_MODEL
    notes: list[str] = []
    samples = load_audio(audio, notes=notes)
    result = transcribe(samples, task=options.task, language=options.language or None, progress=progress, vad=options.vad,
                        beam_size=options.beam_size, batch_size=options.batch_size, on_segment=on_segment,
                        stop=stop)
    result.options = options
    notes += result.notes  # transcribe's own (a stop)
    result.notes = notes
    if whisper_did_it:
        notes.append("Whisper already translated the speech to English.")
    elif target and result.segments:
        result.translation = translate_transcript(result, target)
        notes.append(f"Text translated to {target} by the translator backend; timestamps kept.")
    if reference.strip():
        result.score = score(reference, result.text, "en" if options.task == "translate" else result.language)
    return result


def transcribe(audio: "str | os.PathLike | np.ndarray", task: str = "transcribe", language: str | None = None,
               progress: Callable[[float, str], None] | None = None, require_speech: bool = False,
               vad: bool = True, beam_size: int | None = None, batch_size: int | None = None,
               word_timestamps: bool = False, on_segment: Callable[[Segment], None] | None = None,
               stop=None) -> Transcript:
    """Transcribe ``audio`` (a file path, or 16 kHz mono float32 samples), or translate its speech to English
    with task="translate". Silence gives no segments, or BadInput when ``require_speech`` is set.
    ``beam_size`` and ``batch_size`` (chunks of long audio decoded together) are checked against their declaration
    (``Options``); None is the default (beam 5, batch 1: in order). ``on_segment`` and ``stop``: see ``process``."""
    options = Options(task=task, language=language, beam_size=beam_size, batch_size=batch_size, vad=vad)
    task, language, vad = options.task, options.language or None, options.vad
    beam_size, batch_size = options.beam_size, options.batch_size
    samples = _samples(audio)
    duration = len(samples) / SAMPLE_RATE
    if duration < MIN_SECONDS:
        raise BadInput(f"The audio is too short to transcribe ({duration:.2f} s).")
    if not np.any(np.abs(samples) > 1e-4):  # digital silence: nothing to hear, no model needed
        silent = _empty(require_speech, language or "", duration, task, why="the audio is silent")
        silent.options = options
        return silent
    step = progress or (lambda fraction, message: None)
    step(0.0, "loading the speech model")
    loaded = backends.get_loaded("whisper")
    engine = loaded.model
    language = _check_language(language, engine.languages)
    step(0.02, "listening")
    decoding = {**engine.decoding(duration, vad, beam_size, batch_size), "precision": loaded.dtype}
    heard = (lambda raw: on_segment(Segment(raw.start, raw.end, raw.text, raw.words)) if raw.text else None) \
        if on_segment else None
    result = engine.transcribe(samples, task=task, language=language, progress=step, vad=vad, beam_size=beam_size,
                               batch_size=batch_size, word_timestamps=word_timestamps, on_segment=heard, stop=stop)
    segments = [Segment(s.start, s.end, s.text, s.words) for s in result.segments if s.text]
    if not segments:  # the language "detected" in noise means nothing: only a chosen one is kept
        empty = _empty(require_speech, language or "", duration, task, engine=engine.name,
                       why=result.no_speech or "Whisper returned no text")
        empty.decoding, empty.options = decoding, options
        step(1.0, "no speech found")
        return empty
    step(1.0, "done")
    transcript = Transcript(result.language, result.language_probability, duration,
                            " ".join(s.text for s in segments), segments, task, engine.name,
                            backends.REGISTRY.loaded_source("whisper"), decoding, options=options)
    if result.stopped_at is not None:
        transcript.notes.append(f"Stopped on request after {result.stopped_at:.1f} s of {duration:.1f} s.")
    return transcript


def _samples(audio) -> np.ndarray:
    if isinstance(audio, np.ndarray):
        samples = np.asarray(audio, dtype=np.float32).reshape(-1) if audio.ndim <= 1 or 1 in audio.shape else None
        if samples is None:
            raise BadInput("Pass mono audio: a 1-D array of 16 kHz samples.")
        if len(samples) / SAMPLE_RATE > max_audio_seconds() + 1.0:
            raise BadInput(f"The audio is over the limit of {max_audio_seconds() / 60:.0f} minutes "
                           "(MMDEMO_MAX_AUDIO_MINUTES).")
        return np.nan_to_num(samples, nan=0.0, posinf=0.0, neginf=0.0)
    return load_audio(audio)


def _check_language(language: str | None, known: list[str]) -> str | None:
    if language is None or not str(language).strip() or str(language).strip().lower() == "auto":
        return None
    code = str(language).strip().lower()
    if len(code) > 16:  # never echo a pasted essay back in the message
        raise BadInput("Unknown language: use a Whisper language code such as en, es, de, fr "
                       "(or leave it empty to detect it).")
    if code not in known:
        raise BadInput(f"Unknown language {language!r}: use a Whisper language code such as en, es, de, fr "
                       "(or leave it empty to detect it).")
    return code


NO_SPEECH = "No speech found"


def _empty(require_speech: bool, language: str, duration: float, task: str, engine: str = "",
           why: str = "") -> Transcript:
    """A transcript without speech; its note (the CLI's stderr, the tab's summary) starts with NO_SPEECH and
    says why: silent audio, no speech for the voice detector, or none for Whisper (music, noise)."""
    if require_speech:
        raise BadInput("No speech was found in the audio (silence or noise only).")
    return Transcript(language, 0.0, duration, "", [], task, engine,
                      notes=[f"{NO_SPEECH} in {duration:.1f} s of audio: {why}."])


def translate_transcript(transcript: Transcript, target: str) -> Transcript:
    """The transcript's segments translated as text into ``target`` through the translator backend (raises
    BackendUnavailable when no translation model is available, e.g. offline). Timestamps are kept."""
    source = "en" if transcript.task == "translate" else transcript.language or None
    texts = translate([s.text for s in transcript.segments], target, source)
    segments = [Segment(s.start, s.end, t) for s, t in zip(transcript.segments, texts)]
    return Transcript(target, 1.0, transcript.duration, " ".join(t for t in texts if t), segments,
                      f"text translation {source or '?'} -> {target}", "translator")


def score(reference: str, hypothesis: str, language: str | None = None) -> dict:
    """WER and CER of ``hypothesis`` against ``reference`` after Whisper's text normalization for ``language``
    (English normalizer for "en", basic normalizer otherwise), with the headline metric for that language (CER for
    languages written without spaces). See mmdemo.pipelines.speech.scoring."""
    return _score(reference, hypothesis, language)
