"""Video summarization: shots and keyframes, keyframe captions, the transcript of the audio track assigned to shots,
a summary, a storyboard PNG and a Markdown + JSON report. This module runs the stages; the result types are in
``result``, the writers in ``report``, shot detection in ``shots`` and the summary in ``summary``.

    result = summarize_video("clip.mp4", progress=lambda fraction, message: ...)
    result.to_dict()          # {"duration", "shots": [{"start", "end", "keyframe_time", "caption", "transcript"}],
                              #  "transcript", "summary", "summary_method", ...}
    write_report(result, folder)   # {"markdown": ..., "json": ..., "storyboard": ..., "keyframes": [...]}

Stages (each timed in ``result.timings``): probe, shots (one sampled decoding pass, see ``shots``), captions
(unique keyframes in batches through the captioning pipeline, its offline fallback included and labelled),
speech (the speech pipeline on the audio track), summary (see ``summary``). The storyboard and report are written
by ``write_report`` and timed there. A video with no audio track, no speech or a single shot still gets a
timeline and a summary; whatever is missing is said in ``notes``.
"""

from __future__ import annotations

import contextvars
import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable

from mmdemo import applications, backends
from mmdemo.errors import BackendUnavailable, BadInput
from mmdemo.media.audio import SAMPLE_RATE, load_audio
from mmdemo.media.video import VideoInfo, probe
from mmdemo.pipelines.captioning import FALLBACK_PREFIX, caption_images
from mmdemo.pipelines.emotion import timeline as segment_emotion
from mmdemo.pipelines.emotion.fusion import parse_weights
from mmdemo.pipelines.speech import MIN_SECONDS, Segment, transcribe
from mmdemo.pipelines.video_summary import shots as shot_detection
from mmdemo.pipelines.video_summary.options import VideoOptions as Options
from mmdemo.pipelines.video_summary.report import markdown, write_report, write_storyboard
from mmdemo.pipelines.video_summary.result import ShotResult, VideoSummary
from mmdemo.pipelines.video_summary.summary import Sentence, split_sentences, summarize
from mmdemo.timecode import clock

__all__ = ["summarize_video", "Options", "ShotResult", "VideoSummary", "write_report", "write_storyboard", "markdown", "clock",
           "assign_transcript", "summary_sentences"]

# what it uses and where its tab queues: its record in mmdemo.applications
BACKENDS, SLOT = applications.of_pipeline(__name__).backends, applications.of_pipeline(__name__).slot

CAPTION_BATCH = 8
# Share of the progress bar per stage (roughly their share of the time on a CPU).
STAGE_SPAN = {"probe": (0.0, 0.02), "shots": (0.02, 0.45), "captions": (0.45, 0.6), "speech": (0.6, 0.88),
              "emotion": (0.88, 0.92), "summary": (0.92, 0.97), "report": (0.97, 1.0)}


def summarize_video(path: "str | os.PathLike", *, every_seconds: float | None = None, detector: str | None = None,
                    threshold: float | None = None, summary_method: str | None = None,
                    max_sentences: int | None = None, language: str | None = None,
                    emotion_timeline: bool | None = None, emotion_weights: str | None = None,
                    progress: Callable[[float, str], None] | None = None) -> VideoSummary:
    """Everything the Video tab shows, for the video at ``path``. The settings are ``Options``' (None: the
    declared default); ``emotion_timeline``: also read each transcript segment's emotion (text, voice, faces
    during it) fused with ``emotion_weights`` ("text=1,voice=1,face=1")."""
    options = Options(detector=detector, every_seconds=every_seconds, threshold=threshold,
                      summary_method=summary_method, max_sentences=max_sentences, language=language,
                      emotion_timeline=emotion_timeline, emotion_weights=emotion_weights)
    emotion_timeline, emotion_weights = options.emotion_timeline, options.emotion_weights
    report = progress or (lambda fraction, message: None)
    if emotion_timeline:  # a bad weight is one sentence before any decoding
        emotion_weights = parse_weights(emotion_weights)
    timings: dict[str, float] = {}

    shown, pictures = [0.0], []  # the bar's position (speech runs alongside the pictures and only changes the
    # message while they are analysed); ``pictures`` is non-empty once they are done

    def stage(name: str):
        low, high = STAGE_SPAN[name]

        def step(fraction, message):
            shown[0] = low + (high - low) * min(max(fraction, 0.0), 1.0)
            report(shown[0], message)
        return step

    def alongside(fraction, message):
        if pictures:
            stage("speech")(fraction, message)
        else:
            report(shown[0], f"{message} (while the pictures are analysed)")

    started = time.perf_counter()
    stage("probe")(0.0, "reading the video")
    info = probe(path)
    timings["probe"] = time.perf_counter() - started

    # The sound is transcribed while the pictures are cut into shots and described: shot detection decodes and
    # compares frames on about one core, Whisper's decoder uses the rest (python -m bench.video, docs/video.md).
    speech_notes: list[str] = []

    def listen():
        began = time.perf_counter()
        heard = _transcribe(path, info, options.language or None, speech_notes, alongside,
                            keep_samples=emotion_timeline)
        timings["speech"] = time.perf_counter() - began
        return heard

    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="video-speech")
    listening = pool.submit(contextvars.copy_context().run, listen)  # load announcements reach the caller
    try:
        started = time.perf_counter()
        found = shot_detection.detect_shots(path, every_seconds=options.every_seconds, detector=options.detector,
                                            threshold=options.threshold or None, progress=stage("shots"))
        timings["shots"] = time.perf_counter() - started
        notes = list(found.notes)
        results = [ShotResult(s.index, s.start, s.end, s.keyframe_time, s.keyframe_jpeg,
                              duplicate_of=s.duplicate_of, keyframe_method=s.keyframe_method) for s in found.shots]

        started = time.perf_counter()
        _caption(found.shots, results, notes, stage("captions"))
        timings["captions"] = time.perf_counter() - started
        pictures.append(True)
        stage("speech")(0.0, "transcribing the speech")
        transcript, speech_spans, samples = listening.result()
    finally:  # a failure above returns at once; the speech thread ends on its own (or at Stop, its next step)
        pool.shutdown(wait=False)
    stage("speech")(1.0, "speech transcribed")
    notes += speech_notes
    if transcript is not None:
        assign_transcript(results, transcript.segments, speech_spans)

    feelings = None
    if emotion_timeline:
        started = time.perf_counter()
        stage("emotion")(0.0, "reading emotion per spoken segment")
        feelings = _emotion_timeline(path, info, transcript, samples, speech_spans, emotion_weights, stage("emotion"))
        timings["emotion"] = time.perf_counter() - started

    started = time.perf_counter()
    stage("summary")(0.0, "summarizing")
    summary = summarize(summary_sentences(results, transcript), options.summary_method, options.max_sentences)
    timings["summary"] = time.perf_counter() - started
    stage("summary")(1.0, "summary written")
    return VideoSummary(Path(path).name, info, results, transcript, summary, found.detector, found.every_seconds,
                        timings, notes, feelings, options=options)


# -- stages ------------------------------------------------------------------------------------------------------
def _caption(found, results: list[ShotResult], notes: list[str], report) -> None:
    """Caption each distinct keyframe once (duplicates reuse their original's caption)."""
    originals = [s for s in found if s.duplicate_of is None]
    report(0.0, f"captioning {len(originals)} keyframes")
    captions: dict[int, tuple[str, str, bool]] = {}
    try:
        for start in range(0, len(originals), CAPTION_BATCH):
            batch = originals[start:start + CAPTION_BATCH]
            described = caption_images([s.keyframe() for s in batch], names=[f"shot {s.index + 1}" for s in batch],
                                       num_candidates=1, batch_size=CAPTION_BATCH)
            for shot, r in zip(batch, described):
                captions[shot.index] = (r.describe(), r.backend, r.fallback)
            report(min(1.0, (start + len(batch)) / max(1, len(originals))), "captioning keyframes")
    except BackendUnavailable as exc:
        notes.append(f"Keyframes are not described: {exc}")
        return
    if any(fallback for _, _, fallback in captions.values()):
        notes.append("Keyframes are described by ImageNet tags (offline fallback), not captions: no captioner "
                     "weights were found (set MMDEMO_CAPTIONER_MODEL).")
    for r in results:
        source = r.index if r.duplicate_of is None else r.duplicate_of
        r.caption, r.caption_backend, r.caption_fallback = captions.get(source, ("", "", False))


def _transcribe(path, info: VideoInfo, language: str | None, notes: list[str], report, keep_samples: bool = False):
    """(transcript or None, speech spans from the VAD or None, the 16 kHz samples when ``keep_samples`` and a
    transcript has segments, else None)."""
    if not info.has_audio:
        notes.append("The video has no audio track: the summary comes from the pictures alone.")
        return None, None, None
    try:
        samples = load_audio(path, notes=notes)  # a damaged or truncated track says so in the summary
    except BadInput as exc:  # a damaged audio track: the pictures still make a timeline
        notes.append(f"The audio track was not transcribed: {exc}")
        return None, None, None
    if len(samples) < MIN_SECONDS * SAMPLE_RATE:
        notes.append("The audio track is too short to hold speech: the summary comes from the pictures alone.")
        return None, None, None
    try:
        # word times put each word on its shot: beam search often returns one segment across a cut
        transcript = transcribe(samples, language=language, progress=report, word_timestamps=True)
    except BackendUnavailable as exc:
        notes.append(f"The audio track was not transcribed: {exc}")
        return None, None, None
    if not transcript.segments:
        notes.append("No speech was found in the audio track: the summary comes from the pictures alone.")
        return transcript, None, None
    return transcript, _speech_spans(samples), samples if keep_samples else None


def _emotion_timeline(path, info: VideoInfo, transcript, samples, speech_spans, weights, report):
    """The emotion timeline over the transcript's segments (``emotion.timeline``), or the line saying why there
    is none."""
    if not info.has_audio:
        return segment_emotion.empty(segment_emotion.NO_AUDIO, weights)
    if transcript is None:
        return segment_emotion.empty("The audio track was not transcribed, so there is no timeline.", weights)
    if samples is None or not transcript.segments:
        return segment_emotion.empty(segment_emotion.NO_SPEECH, weights)
    return segment_emotion.read_timeline(path, samples, [(s.start, s.end, s.text) for s in transcript.segments],
                                         weights, speech_spans=speech_spans or [], progress=report)


def _speech_spans(samples) -> list[tuple[float, float]] | None:
    """Where speech actually is (the vad backend), or None without it. Whisper's segment times are loose: after
    a pause a segment often starts where the previous one ended, seconds before its first word."""
    try:
        return backends.get("vad").speech_spans(samples)
    except BackendUnavailable:
        return None


def assign_transcript(results: list[ShotResult], segments, speech_spans=None) -> None:
    """Give each transcript segment to the shot during which most of it was spoken (time inside the segment where
    the VAD heard speech, or the whole segment without VAD spans); each shot's transcript is its segments' text
    in order."""
    said: dict[int, list[str]] = {r.index: [] for r in results}
    for segment in _split_at_cuts(segments, results):
        spoken = [(max(a, segment.start), min(b, segment.end)) for a, b in (speech_spans or [])]
        spoken = [(a, b) for a, b in spoken if b > a] or [(segment.start, segment.end)]
        overlaps = [sum(max(0.0, min(b, r.end) - max(a, r.start)) for a, b in spoken) for r in results]
        best = max(range(len(results)), key=lambda i: overlaps[i])
        if overlaps[best] <= 0:  # a zero-length segment or one past the last shot: the nearest shot
            middle = (segment.start + segment.end) / 2
            best = min(range(len(results)), key=lambda i: abs((results[i].start + results[i].end) / 2 - middle))
        said[results[best].index].append(segment.text.strip())
    for r in results:
        r.transcript = " ".join(t for t in said[r.index] if t)


def _split_at_cuts(segments, results: list[ShotResult]):
    """Segments with word times, cut into one piece per shot their words fall in (by each word's middle);
    segments without word times are kept whole."""
    for segment in segments:
        words = getattr(segment, "words", None)
        if not words:
            yield segment
            continue
        pieces: dict[int, list] = {}
        for start, end, word in words:
            middle = (start + end) / 2
            shot = next((i for i, r in enumerate(results) if r.start <= middle < r.end), len(results) - 1)
            pieces.setdefault(shot, []).append((start, end, word))
        for chunk in pieces.values():
            yield Segment(chunk[0][0], chunk[-1][1], "".join(w for _, _, w in chunk).strip())


def summary_sentences(results: list[ShotResult], transcript) -> list[Sentence]:
    """What was said (sentence by sentence, timed) and what each distinct shot shows (its caption), as
    sentences for the summary. Offline tags stand in for captions without their "offline tags:" prefix."""
    sentences: list[Sentence] = []
    for segment in getattr(transcript, "segments", []) or []:
        sentences += split_sentences(segment.text, segment.start, segment.end, "speech")
    for r in results:
        if r.duplicate_of is None and r.caption:
            text = r.caption[len(FALLBACK_PREFIX):] if r.caption.startswith(FALLBACK_PREFIX) else r.caption
            sentences.append(Sentence(text, r.start, r.end, "caption"))
    return sentences
