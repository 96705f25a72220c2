"""The applications, each declared once: its one name, where its code lives, the backends it uses, the slot its
tab queues on, its endpoint and its older names. The tab list, the CLI commands, the evaluation tasks, the flag
panels' hints, the Models tab's "used by" and the benchmark rows (bench/pipeline_row.py) are all derived from these
records, so a new application is one record here plus its own modules (docs/architecture.md).

This module imports nothing heavy: the CLI reads it to build its parser before any model library loads.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Application:
    key: str  # the one name: CLI command, evaluation task, flag folder, docs/<page>.md
    title: str  # the tab's title
    pipeline: str  # its package or module under mmdemo.pipelines
    tab: str  # its module under demos/
    cli: str  # its module under mmdemo.cli
    backends: tuple[str, ...]  # every backend a request may load (the Models tab's "used by")
    slot: str  # the backend its tab's heavy event queues on (one request at a time per slot)
    endpoint: str  # the tab's main API endpoint (/<endpoint>)
    aliases: tuple[str, ...] = ()  # older names still accepted: CLI commands, evaluation tasks
    evaluated: bool = False  # an evaluation task of this key exists (mmdemo.pipelines.evaluation.tasks)
    reference_hint: str = ""  # the flag panel's box for the right answer; empty: no box

    @property
    def names(self) -> tuple[str, ...]:
        return (self.key, *self.aliases)

    def options(self) -> type:
        """Its settings' declaration: the ``Options`` record its pipeline exposes (mmdemo.options). Imported on
        demand: this module stays free of the pipelines' imports."""
        import importlib

        return importlib.import_module(f"mmdemo.pipelines.{self.pipeline}").Options


# The slot is the backend doing the largest share of a request: the captioner (caption), the denoising loop
# (text-to-image), decoding (speech), keyframe features and tags (video, bench.video), the text reader (emotion:
# every modality's words go through it; the tab's own event takes the readers' slots, mmdemo.slots), the sentence
# embedder (search: transcripts, offline images, text queries).
APPLICATIONS: tuple[Application, ...] = (
    Application("caption", "Image captioning", "captioning", "captioning", "caption",
                ("captioner", "clip", "vqa", "translator", "image_classifier", "embedder"), "captioner", "caption",
                aliases=("captioning",), evaluated=True,
                reference_hint="The right caption (optional; a result marked good is its own reference)"),
    Application("text-to-image", "Text-to-image", "text_to_image", "text_to_image", "generate",
                ("diffusion", "clip", "captioner"), "diffusion", "generate",
                aliases=("generate",), evaluated=True),
    # whisper runs the VAD before decoding: every application that transcribes uses vad too
    Application("speech", "Speech", "speech", "speech", "transcribe",
                ("whisper", "vad", "translator"), "whisper", "transcribe",
                aliases=("transcribe",), evaluated=True,
                reference_hint="The right transcript (optional; a result marked good is its own reference)"),
    Application("video", "Video summarization", "video_summary", "video", "summarize_video",
                ("image_classifier", "captioner", "whisper", "vad", "embedder", "summarizer",
                 "text_emotion", "speech_emotion", "face_emotion"), "image_classifier",
                "summarize_video", aliases=("summarize-video", "video-summary"), evaluated=True,
                reference_hint="The right cut times in seconds, separated by ; (optional)"),
    Application("emotion", "Emotion analysis", "emotion", "emotion", "emotion",
                ("text_emotion", "embedder", "speech_emotion", "whisper", "vad", "face_emotion"), "text_emotion",
                "emotion", evaluated=True,
                reference_hint="The right label: anger, disgust, fear, joy, neutral, sadness or surprise (optional)"),
    Application("chat", "Visual chat", "chat", "chat", "chat", ("chat",), "chat", "chat"),
    Application("search", "Search", "search", "search", "search",
                ("clip", "image_classifier", "embedder", "whisper", "vad"), "embedder", "search"),
)


def get(name: str) -> Application:
    """The application of a key or an alias (case and surrounding spaces ignored); KeyError otherwise."""
    wanted = str(name).strip().lower()
    for app in APPLICATIONS:
        if wanted in app.names:
            return app
    raise KeyError(name)


def of_pipeline(module_name: str) -> Application:
    """The record of a pipeline module, by its ``__name__`` (``mmdemo.pipelines.speech``)."""
    package = module_name.removeprefix("mmdemo.pipelines.").split(".")[0]
    return next(app for app in APPLICATIONS if app.pipeline == package)


def evaluated() -> list[Application]:
    return [app for app in APPLICATIONS if app.evaluated]


def used_by() -> dict[str, list[str]]:
    """backend name -> titles of the applications that use it, in APPLICATIONS order."""
    users: dict[str, list[str]] = {}
    for app in APPLICATIONS:
        for backend in app.backends:
            users.setdefault(backend, []).append(app.title)
    return users
