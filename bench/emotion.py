"""Emotion tab costs per modality, with the weights this machine has (offline packs), warm models.

    python -m bench.emotion [--runs 5]

Rows: model load times, the text reader the app uses here (offline: the trained head) on a batch of sentences,
face detection + mini-XCEPTION on the sample photo, the prosody heuristic on 10 s of audio, and (when the
speech/video modules are present and espeak-ng is installed) the whole voice path on a synthesised sentence and
faces over time in a short video.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SMILE = ROOT / "assets" / "emotion_smiling_astronaut.jpg"
SENTENCES = [
    "You lied to me again and I'm absolutely livid about it.",
    "The bathroom was filthy, covered in grime, and it stank.",
    "I heard footsteps downstairs at 3am and froze in terror.",
    "I got the job! Best day of my life!",
    "My grandmother passed away last night and I can't stop crying.",
    "Wait, you're getting married? Since when?",
    "The package was delivered on Tuesday.",
    "Our baby was born healthy this morning and we are overjoyed.",
]

# Written after the zero-shot prototypes were final and never used to tune them: an honest (tiny) quality check.
HELD_OUT = [
    ("anger", "My roommate ate my birthday cake and then denied it. Unbelievably rude, I'm so mad."),
    ("anger", "Customer service hung up on me three times today and I am losing my temper."),
    ("disgust", "The public toilet was smeared with filth and the stench made me retch."),
    ("disgust", "He picked his nose and wiped it on the table, absolutely nasty."),
    ("fear", "The doctor called and said they need to talk about my scan, I'm shaking."),
    ("fear", "We got lost in the woods after dark and heard wolves howling."),
    ("joy", "My sister just got engaged and we're all over the moon!"),
    ("joy", "The sun is shining, I got a raise, and life feels amazing."),
    ("neutral", "The quarterly report lists revenue by region in a table."),
    ("neutral", "Turn left at the second traffic light and park behind the building."),
    ("sadness", "Our cat died yesterday and the house feels so empty without her."),
    ("sadness", "I spent the holidays alone this year and cried most of the evening."),
    ("surprise", "I walked in and the whole office shouted happy birthday, I had no clue!"),
    ("surprise", "The quiet intern turned out to be the company founder's daughter, nobody knew!"),
]


def timed(fn, runs: int) -> tuple[float, float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times), min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    load_start = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")

    from PIL import Image

    from mmdemo import backends
    from mmdemo.pipelines import emotion
    from mmdemo.pipelines.emotion import face as emotion_face
    from mmdemo.pipelines.emotion import text as emotion_text
    from mmdemo.pipelines.emotion import voice as emotion_voice
    from mmdemo.emotion_labels import LABELS

    rows = []
    for name in ("embedder", "face_emotion"):
        started = time.perf_counter()
        loaded = backends.get_loaded(name)
        rows.append((f"load `{name}` ({loaded.engine or 'transformers'})", time.perf_counter() - started, None))

    reader = emotion_text.analyze(SENTENCES[:1])[0].method  # warm: the head (or prototype vectors) loaded once
    med, low = timed(lambda: emotion_text.analyze(SENTENCES), args.runs)
    rows.append((f"text, {len(SENTENCES)} sentences, {reader} + VADER", med, low))

    held_out = emotion_text.analyze([sentence for _, sentence in HELD_OUT])
    hits = [LABELS[int(np.argmax(r.probs))] == label for (label, _), r in zip(HELD_OUT, held_out)]
    p_true = [r.probs[LABELS.index(label)] for (label, _), r in zip(HELD_OUT, held_out)]
    quality = (f"text reader on {len(HELD_OUT)} held-out sentences (2 per emotion): top-1 {sum(hits)}/{len(hits)}, "
               f"mean p(true label) {np.mean(p_true):.2f}, chance 1/7; method: {held_out[0].method}")

    photo = Image.open(SMILE).convert("RGB")
    med, low = timed(lambda: emotion_face.detect_faces(photo), args.runs)
    rows.append(("face detection (Haar), 320x320 photo", med, low))
    crop = photo.crop((90, 78, 220, 208))
    classifier = backends.get("face_emotion")
    med, low = timed(lambda: classifier.predict([crop]), args.runs)
    rows.append(("mini-XCEPTION, 1 face", med, low))
    med, low = timed(lambda: classifier.predict([crop] * 16), args.runs)
    rows.append(("mini-XCEPTION, batch of 16 faces", med, low))
    med, low = timed(lambda: emotion.analyze(image=SMILE), args.runs)
    rows.append(("image path end to end (load, detect, classify, draw)", med, low))

    t = np.arange(10 * 16000) / 16000
    tone = (0.2 * np.sin(2 * np.pi * np.cumsum(180 + 40 * np.sin(2 * np.pi * t)) / 16000)).astype(np.float32)
    emotion_voice.prosody_reading(tone[:16000])  # warm: numba compiles pYIN once per process
    med, low = timed(lambda: emotion_voice.prosody_reading(tone), args.runs)
    rows.append(("prosody heuristic (pYIN + RMS), 10 s audio", med, low))

    notes = []
    with tempfile.TemporaryDirectory() as tmp:
        wav = _speech(Path(tmp))
        if wav is None:
            notes.append("voice path skipped: espeak-ng or the speech pipeline is missing")
        else:
            emotion.analyze(audio=wav)  # warm: whisper load
            med, low = timed(lambda: emotion.analyze(audio=wav), max(1, args.runs // 2))
            rows.append((f"voice path end to end, {_seconds(wav):.1f} s sentence (whisper-base + text + prosody)",
                         med, low))
        clip = _video(Path(tmp))
        if clip is None:
            notes.append("video path skipped: the video module is missing")
        else:
            med, low = timed(lambda: emotion.analyze(video=clip), max(1, args.runs // 2))
            rows.append(("video path, 10 s silent clip, 20 sampled frames", med, low))

    import torch

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"Machine: {platform.machine()}, {os.cpu_count()} CPU cores, Python {platform.python_version()}, "
          f"device {backends.get_loaded('face_emotion').device}, torch threads {torch.get_num_threads()}; "
          f"1-min load average {load_start:.2f} at start, {load:.2f} at the end; "
          f"median and min of {args.runs} runs (end-to-end voice/video rows: {max(1, args.runs // 2)})\n")
    print("| what | median (s) | min (s) |\n|---|---|---|")
    for what, med, low in rows:
        print(f"| {what} | {med:.3f} | {'' if low is None else f'{low:.3f}'} |")
    print(f"\n{quality}")
    for note in notes:
        print(f"\n{note}")


def _seconds(path: Path) -> float:
    import soundfile as sf

    return sf.info(path).duration


def _speech(folder: Path) -> Path | None:
    try:
        import mmdemo.media.audio  # noqa: F401
        import mmdemo.pipelines.speech  # noqa: F401
    except ImportError:
        return None
    if shutil.which("espeak-ng") is None:
        return None
    wav = folder / "speech.wav"
    subprocess.run(["espeak-ng", "-w", str(wav), "I am so happy today. This is wonderful news, I love it!"],
                   check=True, timeout=60)
    return wav


def _video(folder: Path) -> Path | None:
    try:
        import mmdemo.media.video  # noqa: F401
    except ImportError:
        return None
    import av
    from PIL import Image

    face = Image.open(SMILE).convert("RGB")
    path = folder / "clip.mp4"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("mpeg4", rate=5)
        stream.width = stream.height = 320
        stream.pix_fmt = "yuv420p"
        for _ in range(50):
            for packet in stream.encode(av.VideoFrame.from_image(face)):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


if __name__ == "__main__":
    main()
