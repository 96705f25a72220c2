"""Silero VAD from the offline pack: where is someone speaking in a 16 kHz clip?

The pack ships the same network as TorchScript and ONNX. We run the ONNX file with onnxruntime (a faster-whisper
dependency): measured on the 2-core CPU, TorchScript took 8-20 s per minute of audio, ONNX about 0.3 s. We never
import ``silero_vad`` itself (it sets torch's thread count to 1 for the whole process).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mmdemo import packs
from mmdemo.registry import Loaded, Source

SAMPLE_RATE = 16000
WINDOW = 512  # samples per decision at 16 kHz (32 ms), fixed by the model
CONTEXT = 64  # the model sees the previous window's last 64 samples too (Silero v5+)


@dataclass(frozen=True)
class VadOptions:
    threshold: float = 0.5  # probability above which a window is speech
    min_speech_s: float = 0.25  # shorter bursts are clicks, not speech
    min_silence_s: float = 0.5  # shorter pauses stay inside one span
    pad_s: float = 0.2  # keep a little audio around each span so word edges survive


class SileroVad:
    def __init__(self, session):
        self.session = session

    def probabilities(self, audio: np.ndarray) -> np.ndarray:
        """Speech probability of each 32 ms window of 16 kHz mono audio."""
        audio = np.asarray(audio, dtype=np.float32).reshape(-1)
        n = -(-len(audio) // WINDOW)
        padded = np.zeros(n * WINDOW + CONTEXT, dtype=np.float32)
        padded[CONTEXT:CONTEXT + len(audio)] = audio
        state = np.zeros((2, 1, 128), dtype=np.float32)
        sr = np.array(SAMPLE_RATE, dtype=np.int64)
        probs = np.empty(n, dtype=np.float32)
        for i in range(n):  # the model is recurrent: one window at a time, carrying its state
            x = padded[i * WINDOW:i * WINDOW + WINDOW + CONTEXT][None, :]
            out, state = self.session.run(None, {"input": x, "state": state, "sr": sr})
            probs[i] = out[0, 0]
        return probs

    def speech_spans(self, audio: np.ndarray, options: VadOptions = VadOptions()) -> list[tuple[float, float]]:
        """(start, end) seconds of each stretch of speech, padded and merged across short pauses."""
        return spans_from_probabilities(self.probabilities(audio), len(audio) / SAMPLE_RATE, options)


def spans_from_probabilities(probs: np.ndarray, duration: float, options: VadOptions = VadOptions()
                             ) -> list[tuple[float, float]]:
    # Hysteresis: enter speech above threshold, leave only below threshold - 0.15 (Silero's own rule), so a
    # voice fading around the threshold does not flicker.
    step = WINDOW / SAMPLE_RATE
    enter, leave = options.threshold, max(options.threshold - 0.15, 0.01)
    raw: list[list[float]] = []
    speaking = False
    for i, p in enumerate(probs):
        if not speaking and p >= enter:
            speaking = True
            raw.append([i * step, (i + 1) * step])
        elif speaking:
            if p < leave:
                speaking = False
            else:
                raw[-1][1] = (i + 1) * step
    merged: list[list[float]] = []
    for start, end in raw:
        if merged and start - merged[-1][1] < options.min_silence_s:
            merged[-1][1] = end
        else:
            merged.append([start, end])
    spans = []
    for start, end in merged:
        if end - start < options.min_speech_s:
            continue
        start, end = max(0.0, start - options.pad_s), min(duration, end + options.pad_s)
        if spans and start <= spans[-1][1]:
            spans[-1] = (spans[-1][0], end)
        else:
            spans.append((start, end))
    return spans


def load(source: Source) -> Loaded:
    import onnxruntime

    onnx_path = packs.PACKS["silero-vad"].path("silero_vad/data/silero_vad.onnx") if source.kind == "pack" \
        else _folder_onnx(source.location)
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1  # tiny recurrent net: threads only add overhead
    options.log_severity_level = 3
    session = onnxruntime.InferenceSession(str(onnx_path), sess_options=options, providers=["CPUExecutionProvider"])
    size = onnx_path.stat().st_size
    return Loaded(SileroVad(session), "cpu", "float32", None, size, engine="onnxruntime")


def _folder_onnx(location: str):
    from pathlib import Path

    from mmdemo.errors import BackendUnavailable

    folder = Path(location)
    found = sorted(folder.glob("*.onnx"))
    if not found:
        raise BackendUnavailable(f"MMDEMO_VAD_MODEL={location} holds no Silero VAD .onnx file.")
    return found[0]
