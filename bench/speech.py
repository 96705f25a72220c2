"""Speech benchmark: `python -m bench.speech [--manifest M.json ...] [--runs 3] [--seconds 60] [--skip-transformers]`.

1. Accuracy on real speech (only with --manifest: a JSON list of {file, lang, reference}, paths relative to the
   manifest): the app's defaults (`pipelines.speech.transcribe(file)`) against faster-whisper with its own
   defaults (`WhisperModel(folder).transcribe(file)`, nothing else: beam 5, no VAD, the model's compute type), on
   the same weights (the offline pack). Pooled WER and CER per language after Whisper's normalizers; the
   headline column is the metric the field uses for that language.
2. Warm real-time factor of the whisper backend (offline pack, faster-whisper at the app's default precision)
   on English espeak-ng speech, and the transformers engine on the same weights (the pack converted by
   bench/whisper_ct2_to_hf.py).
3. The whole `python -m mmdemo transcribe FILE --json` process against a plain faster-whisper script with its
   defaults (the one of 1.), on a multi-minute file: the manifests' English clips joined (or the espeak clip
   without a manifest). Runs alternate (app, plain, plain, app, ...) because the machine is noisy; the ratio is of
   the medians, and each pair's ratio is printed too.

Prints Markdown tables with the machine and its load average.
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
model = WhisperModel(sys.argv[1])
segments, info = model.transcribe(sys.argv[2])
print(info.language, " ".join(s.text.strip() for s in segments))
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
    wer = speech.score(reference, result.text, "en")["wer"]
    return f"| {name} | {duration:.1f} | {seconds:.2f} | {seconds / duration:.3f} | {wer:.3f} |"


def read_manifests(paths: list[str]) -> list[dict]:
    """Clips of the manifests ({file, lang, reference}), files resolved against each manifest's folder."""
    import json

    clips = []
    for path in paths:
        base = Path(path).resolve().parent
        for item in json.loads(Path(path).read_text(encoding="utf-8")):
            clips.append({"file": str(base / item["file"]), "lang": item["lang"], "reference": item["reference"]})
    return clips


def pooled(clips: list[dict], texts: dict[str, str], language: str) -> dict:
    """WER/CER over all clips of ``language`` together (errors summed over all reference words), after the same
    normalizer as pipelines.speech.score."""
    import jiwer

    from mmdemo.pipelines.speech.scoring import NO_SPACE_LANGUAGES, headline_metric, normalize

    chosen = [c for c in clips if c["lang"] == language]
    refs = [normalize(c["reference"], language) for c in chosen]
    hyps = [normalize(texts[c["file"]], language) for c in chosen]
    if language in NO_SPACE_LANGUAGES:
        chars = [r.replace(" ", "") for r in refs], [h.replace(" ", "") for h in hyps]
    else:
        chars = refs, hyps
    return {"wer": jiwer.wer(refs, hyps), "cer": jiwer.cer(*chars), "headline": headline_metric(language)}


def accuracy_table(clips: list[dict], ct2: Path) -> list[str]:
    """App defaults against faster-whisper defaults, same weights, per language (clips alternate between them)."""
    from faster_whisper import WhisperModel

    from mmdemo.media.audio import load_audio
    from mmdemo.pipelines import speech
    from mmdemo.pipelines.speech.scoring import normalizer_name

    plain_model = WhisperModel(str(ct2))
    app, plain, seconds = {}, {}, {}
    app_s = plain_s = 0.0
    for clip in clips:
        seconds[clip["file"]] = len(load_audio(clip["file"])) / 16000
        start = time.perf_counter()
        app[clip["file"]] = speech.transcribe(clip["file"]).text
        app_s += time.perf_counter() - start
        start = time.perf_counter()
        segments, _ = plain_model.transcribe(clip["file"])
        plain[clip["file"]] = " ".join(s.text.strip() for s in segments)
        plain_s += time.perf_counter() - start
    lines = ["| language | clips | audio s | normalizer | headline | app WER | plain WER | app CER | plain CER |",
             "|---|---|---|---|---|---|---|---|---|"]
    for lang in sorted({c["lang"] for c in clips}):
        ours, theirs = pooled(clips, app, lang), pooled(clips, plain, lang)
        chosen = [c for c in clips if c["lang"] == lang]
        lines.append(f"| {lang} | {len(chosen)} | {sum(seconds[c['file']] for c in chosen):.0f} | "
                     f"{normalizer_name(lang)} | {ours['headline'].upper()} | {ours['wer']:.3f} | {theirs['wer']:.3f} "
                     f"| {ours['cer']:.3f} | {theirs['cer']:.3f} |")
    lines.append(f"| all (decoding time, warm) | {len(clips)} | {sum(seconds.values()):.0f} | | | "
                 f"{app_s:.1f} s | {plain_s:.1f} s | | |")
    return lines


def long_english(clips: list[dict], folder: Path) -> tuple[Path, str]:
    """The manifests' English clips joined with 0.5 s pauses into one wav, and the joined references."""
    import numpy as np
    import soundfile as sf

    from mmdemo.media.audio import load_audio

    english = [c for c in clips if c["lang"] == "en"]
    pieces = []
    for clip in english:
        pieces += [load_audio(clip["file"]), np.zeros(8000, np.float32)]
    path = folder / "long_english.wav"
    sf.write(path, np.concatenate(pieces), 16000)
    return path, " ".join(c["reference"] for c in english)


def process_table(clip: Path, reference: str, ct2: Path, runs: int) -> list[str]:
    """Whole processes, alternated: `python -m mmdemo transcribe` (app defaults) and the plain defaults script."""
    import json
    import statistics

    from mmdemo.media.audio import load_audio
    from mmdemo.pipelines import speech

    env = {**os.environ, "MMDEMO_WHISPER_MODEL": str(ct2), "HF_HUB_OFFLINE": "1"}
    commands = {"app": [sys.executable, "-m", "mmdemo", "transcribe", str(clip), "--json"],
                "plain": [sys.executable, "-c", PLAIN_SCRIPT, str(ct2), str(clip)]}
    times: dict[str, list[float]] = {"app": [], "plain": []}
    texts = {}
    for run in range(runs):
        for name in (["app", "plain"] if run % 2 == 0 else ["plain", "app"]):
            start = time.perf_counter()
            proc = subprocess.run(commands[name], cwd=ROOT, env=env, check=True, capture_output=True, text=True)
            times[name].append(time.perf_counter() - start)
            texts[name] = json.loads(proc.stdout)["text"] if name == "app" else proc.stdout.split(" ", 1)[-1]
    duration = len(load_audio(clip)) / 16000
    app, plain = statistics.median(times["app"]), statistics.median(times["plain"])
    pairs = ", ".join(f"{a / b:.2f}" for a, b in zip(times["app"], times["plain"]))
    lines = [f"{clip.name}: {duration:.0f} s of audio, {runs} runs each, alternated", "",
             "| whole process | median s | runs s | WER (whisper-english) |", "|---|---|---|---|"]
    for name, label, median in (("app", "`python -m mmdemo transcribe FILE --json` (defaults)", app),
                                ("plain", "plain faster-whisper, its defaults", plain)):
        wer = speech.score(reference, texts[name], "en")["wer"] if reference else float("nan")
        lines.append(f"| {label} | {median:.1f} | {' '.join(f'{t:.1f}' for t in times[name])} | {wer:.3f} |")
    lines.append(f"| ratio app / plain | {app / plain:.2f}x | pairs: {pairs} | |")
    return lines


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="length of the English clip (default 60)")
    parser.add_argument("--transformers-folder", default=None,
                        help="a transformers-format Whisper folder (default: the pack converted from CTranslate2)")
    parser.add_argument("--skip-transformers", action="store_true", help="only time the faster-whisper engine")
    parser.add_argument("--manifest", action="append", default=[],
                        help="JSON list of real clips {file, lang, reference} for the accuracy table (repeatable)")
    parser.add_argument("--runs", type=int, default=3, help="whole-process runs of each command (default 3)")
    parser.add_argument("--skip-engines", action="store_true", help="skip the warm engine table (2.)")
    parser.add_argument("--skip-accuracy", action="store_true",
                        help="use the manifests only to build the long English file of 3. (bench.real has accuracy)")
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

    clips = read_manifests(args.manifest)
    if clips and not args.skip_accuracy:
        print("Real speech: app defaults vs faster-whisper defaults, same weights (pooled over each language)\n")
        print("\n".join(accuracy_table(clips, ct2)) + "\n")
        backends.unload("whisper")

    if not args.skip_engines:
        print("| engine (whisper-base) | audio s | warm transcription s | real-time factor | WER |")
        print("|---|---|---|---|---|")
        os.environ.pop("MMDEMO_WHISPER_MODEL", None)
        backends.unload("whisper")
        os.environ["MMDEMO_WHISPER_MODEL"] = str(ct2)
        print(engine_row("faster-whisper (offline pack, app default precision)", audio, duration, reference))
        backends.unload("whisper")
        if not args.skip_transformers:
            from bench.whisper_ct2_to_hf import convert

            hf = args.transformers_folder or str(convert(ct2, folder / "hf-whisper-base"))
            os.environ["MMDEMO_WHISPER_MODEL"] = hf
            print(engine_row("transformers fp32 (same weights)", audio, duration, reference))
            backends.unload("whisper")
        print()

    long_clip, long_reference = (long_english(clips, folder) if any(c["lang"] == "en" for c in clips)
                                 else (clip, reference))
    print("\n".join(process_table(long_clip, long_reference, ct2, args.runs)))
    print(f"\nLoad average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
