"""Speech benchmark: `python -m bench.speech [--seconds 60] [--skip-transformers]`.

1. Warm real-time factor of the whisper backend (offline pack, faster-whisper int8) on English espeak-ng speech.
2. The whole `python -m mmdemo transcribe FILE --json` process against a plain faster-whisper script doing the
   same work (load the same folder, int8, VAD on, greedy with temperature fallback, collect the segments).
3. The transformers engine against the faster-whisper engine on the same audio and the same weights: the pack is
   converted to a transformers folder (bench/whisper_ct2_to_hf.py) unless --transformers-folder names one.

Prints a Markdown table with the machine and its load average.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SENTENCES = [
    "The quick brown fox jumps over the lazy dog.",
    "Speech recognition turns spoken words into written text.",
    "This benchmark measures how fast the model transcribes English speech on a small computer.",
    "Every sentence is spoken by a synthetic voice and then written down by the model.",
    "The weather today is sunny with a light breeze from the west.",
    "Please remember to bring your notebook and a pen to the meeting tomorrow morning.",
]

PLAIN_SCRIPT = """
import sys
from faster_whisper import WhisperModel
model = WhisperModel(sys.argv[1], device="cpu", compute_type="int8")
segments, info = model.transcribe(sys.argv[2], beam_size=1, vad_filter=True)
print(info.language, " ".join(s.text for s in segments))
"""


def make_clip(folder: Path, seconds: float) -> Path:
    """English espeak-ng speech, sentences repeated until ``seconds`` long, as a 16 kHz wav."""
    import numpy as np
    import soundfile as sf

    from mmdemo.media.audio import load_audio

    pieces, total, i = [], 0.0, 0
    while total < seconds:
        raw = folder / f"s{i % len(SENTENCES)}.wav"
        if not raw.exists():
            subprocess.run(["espeak-ng", "-v", "en", "-s", "150", "-w", str(raw), SENTENCES[i % len(SENTENCES)]],
                           check=True)
        audio = load_audio(raw)
        pieces += [audio, np.zeros(8000, np.float32)]
        total += len(audio) / 16000 + 0.5
        i += 1
    clip = folder / "english.wav"
    sf.write(clip, np.concatenate(pieces), 16000)
    return clip


def timed(fn, repeat: int = 1):
    best, value = None, None
    for _ in range(repeat):
        start = time.perf_counter()
        value = fn()
        elapsed = time.perf_counter() - start
        best = elapsed if best is None else min(best, elapsed)
    return best, value


def engine_row(name: str, audio, duration: float, reference: str):
    from mmdemo.pipelines import speech

    speech.transcribe(audio[:16000 * 5])  # warm-up: load, first-call allocations
    seconds, result = timed(lambda: speech.transcribe(audio), repeat=2)
    wer = speech.score(reference, result.text)["wer"]
    return f"| {name} | {duration:.1f} | {seconds:.2f} | {seconds / duration:.3f} | {wer:.3f} |"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="length of the English clip (default 60)")
    parser.add_argument("--transformers-folder", default=None,
                        help="a transformers-format Whisper folder (default: the pack converted from CTranslate2)")
    parser.add_argument("--skip-transformers", action="store_true", help="only time the faster-whisper engine")
    args = parser.parse_args(argv)

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from mmdemo import backends
    from mmdemo.backends.whisper import pack_model_folder
    from mmdemo.media.audio import load_audio

    folder = Path(tempfile.mkdtemp(prefix="bench-speech-"))
    clip = make_clip(folder, args.seconds)
    audio = load_audio(clip)
    duration = len(audio) / 16000
    spoken, total, i = [], 0.0, 0
    while total < args.seconds:  # the same loop as make_clip, without audio
        spoken.append(SENTENCES[i % len(SENTENCES)])
        total += len(load_audio(folder / f"s{i % len(SENTENCES)}.wav")) / 16000 + 0.5
        i += 1
    reference = " ".join(spoken)

    ct2 = pack_model_folder()
    print(f"Machine: {platform.machine()} {platform.processor() or ''}, {os.cpu_count()} CPUs, "
          f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}\n")

    print("| engine (whisper-base) | audio s | warm transcription s | real-time factor | WER |")
    print("|---|---|---|---|---|")
    os.environ.pop("MMDEMO_WHISPER_MODEL", None)
    backends.unload("whisper")
    os.environ["MMDEMO_WHISPER_MODEL"] = str(ct2)
    print(engine_row("faster-whisper int8 (offline pack)", audio, duration, reference))
    backends.unload("whisper")
    if not args.skip_transformers:
        from bench.whisper_ct2_to_hf import convert

        hf = args.transformers_folder or str(convert(ct2, folder / "hf-whisper-base"))
        os.environ["MMDEMO_WHISPER_MODEL"] = hf
        print(engine_row("transformers fp32 (same weights)", audio, duration, reference))
        backends.unload("whisper")

    env = {**os.environ, "MMDEMO_WHISPER_MODEL": str(ct2)}
    cli = [sys.executable, "-m", "mmdemo", "transcribe", str(clip), "--json"]
    plain = [sys.executable, "-c", PLAIN_SCRIPT, str(ct2), str(clip)]
    cli_s, _ = timed(lambda: subprocess.run(cli, cwd=ROOT, env=env, check=True, capture_output=True), repeat=2)
    plain_s, _ = timed(lambda: subprocess.run(plain, cwd=ROOT, env=env, check=True, capture_output=True), repeat=2)
    print("\n| whole process | seconds (best of 2) |")
    print("|---|---|")
    print(f"| `python -m mmdemo transcribe english.wav --json` | {cli_s:.2f} |")
    print(f"| plain faster-whisper script, same folder and options | {plain_s:.2f} |")
    print(f"| ratio | {cli_s / plain_s:.2f}x |")
    print(f"\nLoad average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
