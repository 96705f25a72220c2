"""The app against the plain libraries on real recordings and films, side by side in one run.

    python -m bench.real [--data DIR] [--asterisk DIR] [--fetch-asterisk] [--per-language 10] [--only speech,video]
                         [--long-per-language 20] [--batch-size 8] [--opencv-doc DIR] [--fetch-opencv-doc]
                         [--previous-head FILE]

Speech: ``pipelines.speech.transcribe(file)`` with the app's defaults against faster-whisper with its own defaults
(``WhisperModel(folder).transcribe(file)``: beam 5, no VAD), on the same whisper-base weights (the offline pack);
both scored by the app's scorer (Whisper's normalizers), corpus-level per language. Clips: the English readings of
the development data folder, and with ``--asterisk`` (or ``--fetch-asterisk``) recorded telephone prompts in
en/es/fr/it/ru from Debian's Asterisk sound packages; ``--long-per-language N`` adds minutes of speech per language
(N other prompts joined into one recording). ``MMDEMO_WHISPER_COMPUTE=int8`` measures the app at int8;
``--batch-size N`` measures the app's batched mode (VAD chunks decoded N at a time) on the long recordings.
Audio without speech (the Big Buck Bunny clip's ambient sound; generated noise and music): time and text of both.
Video: ``pipelines.shots.detect_shots(file)`` against PySceneDetect's ``detect(file, ContentDetector())`` on every
frame, cut precision and recall with a 0.5 s tolerance, on the films whose cut times the data README gives, and with
``--opencv-doc`` (or ``--fetch-opencv-doc``) two more from Debian's opencv-doc: a damaged copy of the Megamind
excerpt and a static street camera.
Emotion: the offline text reader on the report halves of MELD's and GoEmotions' dev splits (halves no choice was
tuned on), beside always-neutral and the earlier heads (``bench.emotion_real``).
Calls alternate which side goes first; the machine is shared, so compare the ratio of times, not the times.
Prints one line and exits 0 when the data folder is absent.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from pathlib import Path

from bench.common import DEFAULT_DATA, load_average, machine_line
from mmdemo.pipelines.evaluation.tasks import CUT_TOLERANCE, matched_cuts
from bench.real_data import (Clip, Film, asterisk_prompts, fetch_asterisk, fetch_opencv_doc, films,
                             opencv_films, readings)

def _timed(call):
    start = time.perf_counter()
    result = call()
    return result, time.perf_counter() - start


# -- speech ---------------------------------------------------------------------------------------------------------

def speech_rows(clips: list[Clip]) -> list[str]:
    from faster_whisper import WhisperModel

    from mmdemo import backends
    from mmdemo.backends.whisper import pack_model_folder
    from mmdemo.pipelines.speech import transcribe
    from mmdemo.pipelines.speech.scoring import corpus_score

    plain = WhisperModel(str(pack_model_folder()))  # its defaults: device, compute type, threads
    transcribe(clips[0].path)  # load the app's model before timing
    backends.get_loaded("whisper")
    refs, ours, theirs = defaultdict(list), defaultdict(list), defaultdict(list)
    seconds = defaultdict(lambda: [0.0, 0.0, 0.0])  # audio, app, plain
    for i, clip in enumerate(clips):
        def app():
            return transcribe(clip.path).text

        def lib():
            segments, _ = plain.transcribe(str(clip.path))
            return " ".join(s.text.strip() for s in segments)

        first, second = (app, lib) if i % 2 == 0 else (lib, app)
        a, ta = _timed(first)
        b, tb = _timed(second)
        (text_app, t_app), (text_lib, t_lib) = ((a, ta), (b, tb)) if i % 2 == 0 else ((b, tb), (a, ta))
        refs[clip.language].append(clip.reference)
        ours[clip.language].append(text_app)
        theirs[clip.language].append(text_lib)
        info = seconds[clip.language]
        info[0] += _duration(clip.path)
        info[1] += t_app
        info[2] += t_lib
        print(f"  {clip.language} {clip.path.name}: app {t_app:.1f} s, plain {t_lib:.1f} s", file=sys.stderr)
    rows = ["| language | clips | audio (s) | app WER | plain WER | app CER | plain CER | normalizer | app time (s) | "
            "plain time (s) | time ratio |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for lang in refs:
        mine, base = corpus_score(refs[lang], ours[lang], lang), corpus_score(refs[lang], theirs[lang], lang)
        audio, t_app, t_lib = seconds[lang]
        rows.append(f"| {lang} | {len(refs[lang])} | {audio:.0f} | {mine['wer']:.3f} | {base['wer']:.3f} | "
                    f"{mine['cer']:.3f} | {base['cer']:.3f} | {mine['normalizer']} | {t_app:.1f} | {t_lib:.1f} | "
                    f"{t_app / t_lib:.2f} |")
    # all languages but English, pooled as the issue that set the goal measured them (basic normalizer for both)
    others = [lang for lang in refs if lang != "en"]
    if len(others) > 1:
        pool = lambda texts: [t for lang in others for t in texts[lang]]  # noqa: E731
        mine, base = corpus_score(pool(refs), pool(ours), None), corpus_score(pool(refs), pool(theirs), None)
        audio, t_app, t_lib = (sum(seconds[lang][k] for lang in others) for k in range(3))
        rows.append(f"| **{'+'.join(others)}** | {len(pool(refs))} | {audio:.0f} | {mine['wer']:.3f} | "
                    f"{base['wer']:.3f} | {mine['cer']:.3f} | {base['cer']:.3f} | {mine['normalizer']} | "
                    f"{t_app:.1f} | {t_lib:.1f} | {t_app / t_lib:.2f} |")
    return rows


def no_speech_sounds(data: Path, seconds: float = 8.0) -> list[tuple[str, "np.ndarray"]]:
    """Audio that holds no speech: the Big Buck Bunny clip's ambient sound (real), and generated white noise, pink
    noise and music (a chord progression with overtones and a beat), 16 kHz mono."""
    import numpy as np

    from mmdemo.media.audio import load_audio

    sr, rng = 16000, np.random.default_rng(0)
    sounds = []
    bunny = data / "video" / "bigbuckbunny.mp4"
    if bunny.is_file():
        sounds.append(("bigbuckbunny.mp4 (ambient sound)", load_audio(bunny)))
    n = int(seconds * sr)
    sounds.append(("white noise", (0.1 * rng.standard_normal(n)).astype(np.float32)))
    spectrum = np.fft.rfft(rng.standard_normal(n))
    spectrum[1:] /= np.sqrt(np.arange(1, len(spectrum)))  # 1/f power
    pink = np.fft.irfft(spectrum, n)
    sounds.append(("pink noise", (0.2 * pink / np.abs(pink).max()).astype(np.float32)))
    t = np.arange(n) / sr
    music = np.zeros(n)
    for i, root in enumerate([220.0, 174.6, 261.6, 196.0] * int(np.ceil(seconds / 8))):  # A F C G, 2 s each
        span = (t >= 2 * i) & (t < 2 * i + 2)
        for ratio in (1.0, 1.26, 1.5, 2.0):  # a major chord and its octave, each with three overtones
            for k, level in ((1, 1.0), (2, 0.4), (3, 0.2)):
                music[span] += level * np.sin(2 * np.pi * root * ratio * k * t[span])
    beat = np.exp(-30 * (t % 0.5)) * rng.standard_normal(n) * 0.8  # a noise hit every half second
    music = (music / np.abs(music).max() * 0.25 + 0.1 * beat).astype(np.float32)
    sounds.append(("music (generated chords and beat)", music))
    return sounds


def no_speech_rows(data: Path) -> list[str]:
    """Audio without speech: the app must answer "no speech" in about the audio's duration; plain faster-whisper
    (its defaults) for comparison, alternated."""
    from faster_whisper import WhisperModel

    from mmdemo import backends
    from mmdemo.backends.whisper import pack_model_folder
    from mmdemo.pipelines.speech import transcribe

    plain = WhisperModel(str(pack_model_folder()))
    backends.get_loaded("whisper")
    rows = ["| audio | seconds | app time (s) | app text | plain time (s) | plain text | time ratio |",
            "|---|---|---|---|---|---|---|"]
    for i, (name, audio) in enumerate(no_speech_sounds(data)):
        def app():
            return transcribe(audio).text

        def lib():
            return " ".join(s.text.strip() for s in plain.transcribe(audio)[0])

        if i % 2 == 0:
            (a, ta), (b, tb) = _timed(app), _timed(lib)
        else:
            (b, tb), (a, ta) = _timed(lib), _timed(app)
        shown = lambda text: repr(text[:40] + ("..." if len(text) > 40 else ""))  # noqa: E731
        rows.append(f"| {name} | {len(audio) / 16000:.1f} | {ta:.1f} | {shown(a)} | {tb:.1f} | {shown(b)} | "
                    f"{ta / tb:.2f} |")
        print(f"  {name}: app {ta:.1f} s, plain {tb:.1f} s", file=sys.stderr)
    return rows


def _duration(path: Path) -> float:
    import soundfile as sf

    return sf.info(str(path)).duration


# -- video ----------------------------------------------------------------------------------------------------------

def video_rows(found: list[Film]) -> list[str]:
    from scenedetect import ContentDetector, detect

    from mmdemo.pipelines.video_summary.shots import detect_shots

    rows = ["| film | true cuts | app found | app extra | plain found | plain extra | app time (s) | plain time (s) |",
            "|---|---|---|---|---|---|---|---|"]
    totals = [0, 0, 0, 0, 0]
    detect_shots(found[0].path)  # warm the keyframe model
    for i, film in enumerate(found):
        def app():
            return detect_shots(film.path).cuts

        def lib():
            return [start.seconds for start, _ in detect(str(film.path), ContentDetector())[1:]]

        first, second = (app, lib) if i % 2 == 0 else (lib, app)
        a, ta = _timed(first)
        b, tb = _timed(second)
        (ours, t_app), (theirs, t_lib) = ((a, ta), (b, tb)) if i % 2 == 0 else ((b, tb), (a, ta))
        hit_app, hit_lib = matched_cuts(film.cuts, ours), matched_cuts(film.cuts, theirs)
        totals = [x + y for x, y in zip(totals, [len(film.cuts), hit_app, len(ours) - hit_app, hit_lib,
                                                 len(theirs) - hit_lib])]
        rows.append(f"| {film.path.name} | {len(film.cuts)} | {hit_app} | {len(ours) - hit_app} | {hit_lib} | "
                    f"{len(theirs) - hit_lib} | {t_app:.2f} | {t_lib:.2f} |")
    rows.append("| **all** | {} | {} | {} | {} | {} | | |".format(*totals))
    return rows


def long_rows(folder: Path, per_language: int, batch_size: int | None = None) -> list[str]:
    """Minutes of speech per language: a second draw of Asterisk prompts (seed 1) joined with 0.5 s pauses into
    one recording each, transcribed whole by the app (long-form decoding, VAD) and by plain faster-whisper."""
    import numpy as np
    from faster_whisper import WhisperModel

    from mmdemo.backends.whisper import pack_model_folder
    from mmdemo.media.audio import load_audio
    from mmdemo.pipelines.speech import transcribe
    from mmdemo.pipelines.speech.scoring import corpus_score

    plain = WhisperModel(str(pack_model_folder()))
    by_language = defaultdict(list)
    for clip in asterisk_prompts(folder, per_language, seed=1):
        by_language[clip.language].append(clip)
    rows = ["| language | prompts | audio (s) | app WER | plain WER | app time (s) | plain time (s) | time ratio |",
            "|---|---|---|---|---|---|---|---|"]
    seen = []  # how the app decoded each recording (short ones stay sequential even with a batch size)
    for i, (lang, clips) in enumerate(by_language.items()):
        audio = np.concatenate([part for clip in clips for part in (load_audio(clip.path), np.zeros(8000, np.float32))])
        reference = " ".join(clip.reference for clip in clips)

        def app():
            return transcribe(audio, batch_size=batch_size)

        def lib():
            return " ".join(s.text.strip() for s in plain.transcribe(audio)[0])

        if i == 0:
            app()  # loads the app's model before timing
        if i % 2 == 0:  # alternate which side goes first
            (a, ta), (b, tb) = _timed(app), _timed(lib)
        else:
            (b, tb), (a, ta) = _timed(lib), _timed(app)
        mine, base = corpus_score([reference], [a.text], lang), corpus_score([reference], [b], lang)
        d = a.decoding
        how = f"{d.get('precision')}, beam {d.get('beam_size')}, {d.get('mode')}" + (
            f" (batch {d['batch_size']})" if d.get("batch_size", 1) > 1 else "")
        seen += [how] if how not in seen else []
        rows.append(f"| {lang} | {len(clips)} | {len(audio) / 16000:.0f} | {mine['wer']:.3f} | {base['wer']:.3f} | "
                    f"{ta:.1f} | {tb:.1f} | {ta / tb:.2f} |")
    plain_line = "Plain faster-whisper: its defaults (float32 on CPU, beam 5, sequential, no VAD)."
    return [f"App: {'; '.join(seen)}. {plain_line}", "", *rows]


def _print(lines: list[str]) -> None:
    print("\n".join(lines), flush=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="development data folder (speech/, video/)")
    parser.add_argument("--asterisk", type=Path, default=None,
                        help="folder with Debian's asterisk-core-sounds packages unpacked (dpkg-deb -x)")
    parser.add_argument("--fetch-asterisk", action="store_true",
                        help="apt-get download the Asterisk packages into --asterisk (default ~/.cache/mmdemo-bench)")
    parser.add_argument("--per-language", type=int, default=10, help="Asterisk prompts per language")
    parser.add_argument("--only", default="speech,video,emotion",
                        help="any of speech, nospeech (audio without speech; part of speech too), video, emotion")
    parser.add_argument("--previous-head", type=Path, default=None,
                        help="the text-emotion head the shipped one replaced (default: read from git history)")
    parser.add_argument("--long-per-language", type=int, default=0,
                        help="also join this many other Asterisk prompts per language into one long recording each")
    parser.add_argument("--opencv-doc", type=Path, default=None,
                        help="folder with Debian's opencv-doc unpacked (dpkg-deb -x): two more films")
    parser.add_argument("--fetch-opencv-doc", action="store_true",
                        help="apt-get download opencv-doc into --opencv-doc (default ~/.cache/mmdemo-bench/opencv-doc)")
    parser.add_argument("--batch-size", type=int, default=None,
                        help="the app's batch size on the long recordings (default: the app's default, in order)")
    args = parser.parse_args(argv)
    if not args.data.is_dir():
        print(f"bench.real: skipped, no data folder at {args.data} (pass --data).")
        return 0
    parts = {p.strip() for p in args.only.split(",") if p.strip()}
    load_start = load_average()
    print(machine_line(load_start) + "\n", flush=True)
    if "video" in parts:  # each table is printed as soon as it is measured
        if args.fetch_opencv_doc:
            cache = Path.home() / ".cache" / "mmdemo-bench" / "opencv-doc"
            args.opencv_doc = fetch_opencv_doc(args.opencv_doc or cache)
        found = films(args.data) + (opencv_films(args.opencv_doc) if args.opencv_doc else [])
        _print(["Shots: app defaults vs PySceneDetect ContentDetector on every frame (cuts within "
                f"{CUT_TOLERANCE} s)\n", *video_rows(found), ""])
    if "speech" in parts or "nospeech" in parts:
        _print(["Audio without speech: app defaults vs faster-whisper defaults (the app must answer no speech, "
                "in about the audio's duration)\n", *no_speech_rows(args.data), ""])
    if "speech" in parts:
        clips = readings(args.data)
        if args.fetch_asterisk:
            args.asterisk = fetch_asterisk(args.asterisk or Path.home() / ".cache" / "mmdemo-bench" / "asterisk")
        if args.asterisk:
            clips += asterisk_prompts(args.asterisk, args.per_language)
        else:
            print("(Asterisk prompts in es/fr/it/ru skipped: pass --asterisk DIR or --fetch-asterisk.)\n")
        _print(["Speech: app defaults vs faster-whisper defaults, whisper-base (offline pack)\n", *speech_rows(clips),
                ""])
        if args.asterisk and args.long_per_language:
            app = f"the app at batch {args.batch_size}" if args.batch_size else "app defaults"
            _print([f"Long recordings: {app} vs faster-whisper defaults, one call per language\n",
                    *long_rows(args.asterisk, args.long_per_language, args.batch_size), ""])
    if "emotion" in parts and (args.data / "emotion").is_dir():
        from bench.emotion_real import emotion_rows

        _print(["Text emotion, offline reader, report halves of the dev splits (seed 0; MELD cut by dialogue)\n",
                *emotion_rows(args.data, args.previous_head), ""])
    print(f"Load average at the end: {load_average():.2f} (1 min).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
