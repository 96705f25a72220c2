"""Emotion analysis of any subset of text, audio, image and video, fused with user-set weights.

Each modality is read by its own model(s) onto one label set (emotion_labels.LABELS); the modalities that carried
a signal are combined by weighted late fusion (emotion_fusion.fuse). A modality without a signal (no face, no
speech) is reported in ``no_signal`` and left out of the fusion.

    from mmdemo.pipelines import emotion
    report = emotion.analyze(text="I got the job!", image="me.jpg", weights="text=1,face=2")
    report.to_dict()  # {"modalities": {...}, "fused": {"label", "scores"}, ...}
"""

from __future__ import annotations

from pathlib import Path

from mmdemo import applications, config
from mmdemo.emotion_labels import scores_dict, top_label
from mmdemo.errors import BadInput
from mmdemo.media import video as video_media
from mmdemo.media.image import load_image
from mmdemo.media.text import check_text
from mmdemo.media.text import read_text_file as read_text
from mmdemo.pipelines.emotion import face as emotion_face
from mmdemo.pipelines.emotion import text as emotion_text
from mmdemo.pipelines.emotion import timeline as emotion_timeline
from mmdemo.pipelines.emotion import voice as emotion_voice
from mmdemo.pipelines.emotion.fusion import fuse_modalities, fuse_scores, parse_weights
from mmdemo.pipelines.emotion.options import EmotionOptions as Options
from mmdemo.pipelines.emotion.report import EmotionReport, Modality

__all__ = ["analyze", "analyze_many", "reweigh", "read_text_file", "EmotionReport", "Modality", "Options",
           "max_texts"]

# what it uses and where its tab queues: its record in mmdemo.applications
BACKENDS, SLOT = applications.of_pipeline(__name__).backends, applications.of_pipeline(__name__).slot


def max_texts() -> int:
    """The most texts in one batch, or utterances in one conversation: MMDEMO_MAX_EMOTION_TEXTS."""
    return config.get("MMDEMO_MAX_EMOTION_TEXTS")


def analyze(text: str | None = None, audio=None, image=None, video=None, weights=None, progress=None,
            text_reader: str = "auto") -> EmotionReport:
    """Read every given input and fuse. ``progress`` is None or a callable(fraction, message); ``text_reader``:
    one of emotion_text.READERS."""
    return analyze_many([text] if text is not None else None, audio, image, video, weights, progress, text_reader)[0]


def reweigh(result: dict, weights) -> dict:
    """A ``to_dict()`` report fused again with new ``weights`` without reading any input again (the per-modality
    readings do not depend on the weights), as captioning's ``rerank`` re-ranks stored candidates."""
    weights = parse_weights(weights)
    fused, used = fuse_scores({name: mod["scores"] for name, mod in result["modalities"].items()}, weights)
    out = {**result, "weights": weights,
           "fused": {"label": top_label(fused), "scores": scores_dict(fused),
                     "weights": {k: round(v, 4) for k, v in used.items()}}}
    if result.get("timeline"):  # the video's segments follow the same sliders
        out["timeline"] = emotion_timeline.reweigh(result["timeline"], weights)
    return out


def analyze_many(texts: list[str] | None, audio=None, image=None, video=None, weights=None,
                 progress=None, text_reader: str = "auto") -> list[EmotionReport]:
    """One report per text (audio, image and video are read once and shared); one report when texts is None."""
    weights = parse_weights(weights)
    options = Options(text_reader=text_reader, **{f"{name}_weight": value for name, value in weights.items()})
    text_reader = options.text_reader
    texts = _check_texts(texts)
    if texts is None and audio is None and image is None and video is None:
        raise BadInput("give at least one input: text, audio, an image or a video.")

    def step(start, span):
        return (lambda f, m: progress(start + span * f, m)) if progress else None

    # validate cheap inputs before any heavy model runs: a bad audio file fails before minutes of video work
    loaded_image = load_image(image) if image is not None else None
    video_info = video_media.probe(video) if video is not None else None
    voice_source = audio if audio is not None else (video if video_info and video_info.has_audio else None)
    samples = emotion_voice.load(voice_source) if voice_source is not None else None

    shared: dict[str, Modality] = {}
    no_signal: dict[str, str] = {}
    faces = None
    if loaded_image is not None or video is not None:
        faces = emotion_face.read_faces(loaded_image, video, progress=step(0.02 if video is None else 0.1, 0.35))
        if faces.modality is not None:
            shared["face"] = faces.modality
        else:
            no_signal["face"] = faces.no_signal

    voice = None
    if samples is not None:
        voice = emotion_voice.read_voice(samples, "audio" if audio is not None else "video's audio track",
                                         progress=step(0.45, 0.45))
        if voice.modality is not None:
            shared["voice"] = voice.modality
        else:
            no_signal["voice"] = voice.no_signal
    elif video is not None and audio is None:
        no_signal["voice"] = "the video has no audio track"

    timeline = None
    if video is not None:
        timeline = _video_timeline(video, video_info, audio, samples, voice, weights, step(0.9, 0.05))

    text_readings = []
    if texts is not None:
        if progress:
            progress(0.95, "reading the text")
        text_readings = emotion_text.read_texts(texts, reader=text_reader)

    timelines = {}
    if faces is not None and faces.timeline is not None:
        timelines["face"] = faces.timeline
    if voice is not None:
        timelines["voice"] = voice.timeline
    reports = []
    for index in range(len(texts) if texts is not None else 1):
        modalities = {"text": text_readings[index], **shared} if texts is not None else dict(shared)
        report = EmotionReport(modalities, dict(no_signal), weights, timelines=timelines,
                               arousal_timeline=voice.arousal if voice is not None else [],
                               annotated=faces.annotated if faces is not None else None,
                               keyframes=faces.keyframes if faces is not None else [],
                               text=texts[index] if texts is not None else None, timeline=timeline,
                               options=options)
        report.fused, report.fused_weights = fuse_modalities(modalities, weights)
        reports.append(report)
    if progress:
        progress(1.0, "done")
    return reports


def _video_timeline(video, info, audio, samples, voice, weights, progress) -> emotion_timeline.Timeline:
    """The video's fused timeline over its own transcript's segments, or the one line that says why there is
    none."""
    if audio is not None:
        return emotion_timeline.empty("A separate recording was given: its transcript's times are not the video's, "
                                      "so there is no timeline.", weights)
    if not info.has_audio:
        return emotion_timeline.empty(emotion_timeline.NO_AUDIO, weights)
    heard = voice.heard
    if not heard.segments:
        failed = [n for n in heard.notes if n.startswith("no transcript")]
        return emotion_timeline.empty(f"No timeline: {failed[0]}." if failed else emotion_timeline.NO_SPEECH, weights)
    return emotion_timeline.read_timeline(video, samples, [(s["start"], s["end"], s["text"]) for s in heard.segments],
                                          weights, text_readings=[s["probs"] for s in heard.segments],
                                          text_method=heard.text_method, progress=progress)


def _check_texts(texts: list[str] | None) -> list[str] | None:
    if texts is None:
        return None
    if not texts or not any(t.strip() for t in texts):
        raise BadInput("the text is empty.")
    if len(texts) > (limit := max_texts()):
        raise BadInput(f"{len(texts)} texts is over the limit of {limit} (MMDEMO_MAX_EMOTION_TEXTS).")
    for i, t in enumerate(texts):
        check_text(t, "the text" if len(texts) == 1 else f"text {i + 1} of {len(texts)}")
    blank = [i + 1 for i, t in enumerate(texts) if not t.strip()]
    if blank:
        raise BadInput(f"text {blank[0]} of {len(texts)} is empty.")
    return [t.strip() for t in texts]


def read_text_file(path) -> list[str]:
    """Non-blank lines of a UTF-8 text file, one text each."""
    path = Path(path)
    lines = read_text(path).splitlines()
    texts = [line.strip() for line in lines if line.strip()]
    if not texts:
        raise BadInput(f"{path.name}: no text in the file (one text per line).")
    return texts
