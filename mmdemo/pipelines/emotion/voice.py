"""Voice: what was said (the transcript, read by the text emotion model) and how it was said (the
``speech_emotion`` model when one is available; offline, prosody as a heuristic arousal reading).

Prosody is one axis (calm <-> aroused), not seven emotions: it is reported next to the scores and never fused.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from mmdemo import backends
from mmdemo.emotion_labels import scores_dict, top_label
from mmdemo.errors import BackendUnavailable
from mmdemo.media.audio import load_audio
from mmdemo.pipelines.emotion import text as emotion_text
from mmdemo.pipelines.emotion.report import Modality
from mmdemo.pipelines.speech import transcribe

SAMPLE_RATE = 16000
PROSODY_METHOD = "heuristic arousal from prosody (pitch, energy, speaking rate); not an emotion classifier"
# Ranges mapped onto 0..1 for the arousal heuristic: typical of conversational speech recorded at normal gain.
ENERGY_DB = (-35.0, -12.0)  # mean RMS level of voiced frames, dBFS
PITCH_SPREAD_ST = (1.0, 5.0)  # standard deviation of F0 in semitones
RATE_WPS = (1.5, 4.0)  # words per second of speech
PROSODY_MAX_S = 300.0  # pYIN costs ~0.1 s per second of audio on a laptop CPU: read the first 5 minutes only


@dataclass
class Prosody:
    pitch_median_hz: float | None
    pitch_spread_semitones: float | None
    energy_db: float
    voiced_fraction: float
    speaking_rate_wps: float | None
    arousal: float  # 0 calm .. 1 aroused (heuristic)
    timeline: list[tuple[float, float]] = field(default_factory=list)  # (time s, arousal) per 2 s window

    @property
    def level(self) -> str:
        return arousal_level(self.arousal)

    def to_dict(self) -> dict:
        def r(v, n=2):
            return None if v is None else round(float(v), n)

        return {"method": PROSODY_METHOD, "arousal": r(self.arousal, 3), "arousal_level": self.level,
                "pitch_median_hz": r(self.pitch_median_hz, 1), "pitch_spread_semitones": r(self.pitch_spread_semitones),
                "energy_db": r(self.energy_db, 1), "voiced_fraction": r(self.voiced_fraction, 3),
                "speaking_rate_wps": r(self.speaking_rate_wps)}


def arousal_level(arousal: float) -> str:
    return "low" if arousal < 0.35 else "medium" if arousal < 0.65 else "high"


@dataclass
class VoiceResult:
    duration: float
    transcript: str
    language: str | None
    segments: list[dict]  # start, end, text, and the text model's probs for each spoken segment
    text_probs: np.ndarray | None  # whole transcript through the text emotion model
    text_method: str | None
    acoustic_probs: np.ndarray | None  # speech_emotion model over the speech, when one is available
    acoustic_method: str | None
    acoustic_covered: list[str] | None
    prosody: Prosody | None
    probs: np.ndarray | None  # what voice brings to the fusion; None when nothing was said
    notes: list[str] = field(default_factory=list)
    text_fallback: bool = False  # the transcript was read by the zero-shot fallback, not a trained model

    @property
    def timeline(self) -> list[tuple[float, np.ndarray]]:
        return [(s["start"], s["probs"]) for s in self.segments if s.get("probs") is not None]


def load(path) -> np.ndarray:
    """16 kHz mono float32 samples of an audio file or of a video's audio track (BadInput on bad files)."""
    return load_audio(path, sample_rate=SAMPLE_RATE)


def analyze(audio, progress=None) -> VoiceResult:
    """Transcribe, read the transcript's emotion per segment and overall, and read the voice itself."""
    samples = load(audio) if not isinstance(audio, np.ndarray) else np.asarray(audio, dtype=np.float32)
    duration = len(samples) / SAMPLE_RATE
    notes: list[str] = []

    def step(fraction, message):
        if progress:
            progress(fraction, message)

    step(0.0, "transcribing")
    try:
        transcript = transcribe(samples, progress=(lambda f, m: step(0.6 * f, m)) if progress else None)
    except BackendUnavailable as exc:  # no recogniser: the sound of the voice can still be read
        transcript = None
        notes.append(f"no transcript: {exc}")
    spoken = [s for s in transcript.segments if s.text.strip()] if transcript is not None else []
    segments = [{"start": float(s.start), "end": float(s.end), "text": s.text.strip()} for s in spoken]
    text = " ".join(s["text"] for s in segments)

    text_probs = text_method = None
    text_fallback = False
    if segments:
        step(0.65, "reading the transcript's emotion")
        results = emotion_text.analyze([text] + [s["text"] for s in segments])
        text_probs, text_method, text_fallback = results[0].probs, results[0].method, results[0].fallback
        for seg, res in zip(segments, results[1:]):
            seg["probs"] = res.probs
    elif transcript is not None:
        notes.append("no speech detected")

    acoustic_probs = acoustic_method = covered = prosody = None
    step(0.8, "reading the voice")
    try:
        classifier = backends.get("speech_emotion")
    except BackendUnavailable as exc:
        classifier = None
        notes.append(f"no speech-emotion model ({exc}) - showing prosody as a heuristic instead")
    if classifier is not None and (segments or transcript is None):
        # Only the spoken stretches when the transcript timed them; the whole clip when there is no transcript.
        speech = np.concatenate([samples[int(s["start"] * SAMPLE_RATE):int(s["end"] * SAMPLE_RATE)]
                                 for s in segments]) if segments else samples
        acoustic_probs = classifier.predict([speech], SAMPLE_RATE)[0]
        acoustic_method, covered = classifier.name, classifier.covered
    if duration > PROSODY_MAX_S:
        notes.append(f"prosody read on the first {PROSODY_MAX_S:.0f} s only")
    prosody = prosody_reading(samples[:int(PROSODY_MAX_S * SAMPLE_RATE)], words=len(text.split()) if segments else None,
                              speech_seconds=sum(s["end"] - s["start"] for s in segments) or None,
                              progress=lambda f, m: step(0.82 + 0.16 * f, m))

    parts = [p for p in (text_probs, acoustic_probs) if p is not None]
    probs = np.mean(parts, axis=0) if parts else None  # what was said and how, equally
    step(1.0, "voice done")
    return VoiceResult(duration, text, getattr(transcript, "language", None), segments, text_probs, text_method,
                       acoustic_probs, acoustic_method, covered, prosody, probs, notes, text_fallback)


@dataclass
class VoiceReading:
    """What a voice brings to an emotion reading: the modality (None when nothing was said: ``no_signal`` says
    why), the full ``heard`` result, and its timelines."""
    modality: Modality | None
    no_signal: str | None
    heard: VoiceResult
    timeline: list[tuple[float, np.ndarray]]  # per transcript segment
    arousal: list[tuple[float, float]]  # prosody heuristic per 2 s window


def read_voice(samples: np.ndarray, source: str, progress=None) -> VoiceReading:
    """The voice modality of ``samples`` (``source`` says where they came from: "audio", "video's audio track")."""
    heard = analyze(samples, progress=progress)
    details = {"transcript": heard.transcript, "language": heard.language, "duration": round(heard.duration, 2),
               "from": source, "prosody": heard.prosody.to_dict() if heard.prosody else None}
    if heard.text_probs is not None:
        details["transcript_emotion"] = {"label": top_label(heard.text_probs),
                                         "scores": scores_dict(heard.text_probs), "method": heard.text_method}
    if heard.acoustic_probs is not None:
        details["acoustic_emotion"] = {"label": top_label(heard.acoustic_probs),
                                       "scores": scores_dict(heard.acoustic_probs),
                                       "method": heard.acoustic_method, "covers": heard.acoustic_covered}
    if heard.notes:
        details["notes"] = heard.notes
    arousal = heard.prosody.timeline if heard.prosody else []
    if heard.probs is not None:
        method = " + ".join(m for m in (f"transcript: {heard.text_method}" if heard.text_method else None,
                                        f"voice: {heard.acoustic_method}" if heard.acoustic_method else None) if m)
        # a missing acoustic model is no fallback: its absence is in `method`
        modality = Modality("voice", heard.probs, method, heard.text_fallback, details)
        return VoiceReading(modality, None, heard, heard.timeline, arousal)
    why = "no speech detected in the audio" if "no speech detected" in heard.notes else "; ".join(heard.notes)
    why += f" (prosody: {heard.prosody.level} arousal, heuristic)" if heard.prosody else ""
    return VoiceReading(None, why, heard, heard.timeline, arousal)


def _unit(value, bounds) -> float:
    low, high = bounds
    return float(np.clip((value - low) / (high - low), 0.0, 1.0))


PITCH_CHUNK_S = 20.0  # pYIN reads long audio in pieces of this length, so that its progress can be reported


def prosody_reading(samples: np.ndarray, words: int | None = None, speech_seconds: float | None = None,
                    window_s: float = 2.0, progress=None) -> Prosody:
    """Pitch (pYIN), loudness (RMS) and speaking rate folded into a 0..1 arousal heuristic. ``progress(fraction,
    message)`` hears each PITCH_CHUNK_S of audio read (pYIN is the slow part: 0.1 s per second of audio, and its
    first use in a process compiles it)."""
    import librosa

    hop, frame = 320, 1024  # 20 ms hop at 16 kHz; pYIN needs ~2 periods of the lowest pitch in a frame
    if len(samples) < frame:
        samples = np.pad(samples, (0, frame - len(samples)))
    step = max(hop, int(PITCH_CHUNK_S * SAMPLE_RATE) // hop * hop)
    starts = list(range(0, len(samples), step))
    if len(starts) > 1 and len(samples) - starts[-1] < frame:  # a last piece too short for pYIN joins the one before
        starts.pop()
    pieces_f0, pieces_voiced = [], []
    for i, start in enumerate(starts):
        if progress:
            progress(i / len(starts), f"reading the voice's pitch ({start / SAMPLE_RATE:.0f}/"
                                      f"{len(samples) / SAMPLE_RATE:.0f} s)")
        end = starts[i + 1] if i + 1 < len(starts) else len(samples)
        f0, voiced, _ = librosa.pyin(samples[start:end], fmin=65.0, fmax=500.0, sr=SAMPLE_RATE, frame_length=frame,
                                     hop_length=hop)
        if i + 1 < len(starts):  # a piece of k hops has k + 1 centred frames: the last one is the next piece's first
            f0, voiced = f0[:(end - start) // hop], voiced[:(end - start) // hop]
        pieces_f0.append(f0)
        pieces_voiced.append(voiced)
    f0, voiced = np.concatenate(pieces_f0), np.concatenate(pieces_voiced)
    rms = librosa.feature.rms(y=samples, frame_length=frame, hop_length=hop)[0]
    n = min(len(f0), len(rms))
    f0, voiced, level = f0[:n], voiced[:n], librosa.amplitude_to_db(rms[:n], ref=1.0, top_db=None)

    def read(mask) -> tuple[float | None, float | None, float, float]:
        pitch = f0[mask & voiced]
        pitch = pitch[np.isfinite(pitch)]
        median = float(np.median(pitch)) if len(pitch) else None
        spread = float(np.std(12 * np.log2(pitch / median))) if len(pitch) > 2 else None
        loud = level[mask & voiced] if (mask & voiced).any() else level[mask]
        energy = float(np.mean(loud)) if len(loud) else -100.0
        return median, spread, energy, float(np.mean(voiced[mask])) if mask.any() else 0.0

    def arousal(spread, energy, rate) -> float:
        parts = [_unit(energy, ENERGY_DB)]
        if spread is not None:
            parts.append(_unit(spread, PITCH_SPREAD_ST))
        if rate is not None:
            parts.append(_unit(rate, RATE_WPS))
        return float(np.mean(parts))

    everything = np.ones(n, dtype=bool)
    median, spread, energy, voiced_fraction = read(everything)
    rate = words / speech_seconds if words and speech_seconds else None
    per_window = max(1, int(window_s * SAMPLE_RATE / hop))
    timeline = []
    for start in range(0, n, per_window):
        mask = np.zeros(n, dtype=bool)
        mask[start:start + per_window] = True
        _, w_spread, w_energy, _ = read(mask)
        timeline.append((start * hop / SAMPLE_RATE, round(arousal(w_spread, w_energy, None), 3)))
    return Prosody(median, spread, energy, voiced_fraction, rate, arousal(spread, energy, rate), timeline)
