"""What a video summary is: its shots and the summary's record (``to_dict()`` is the JSON the tab, the CLI and the
report share)."""

from __future__ import annotations

from dataclasses import dataclass, field

from mmdemo.media.video import VideoInfo
from mmdemo.pipelines.video_summary.summary import Summary


@dataclass
class ShotResult:
    index: int
    start: float
    end: float
    keyframe_time: float
    keyframe_jpeg: bytes = field(repr=False, default=b"")
    caption: str = ""
    caption_backend: str = ""
    caption_fallback: bool = False
    duplicate_of: int | None = None
    transcript: str = ""  # what was said during the shot
    keyframe_method: str = "centrality"

    def to_dict(self) -> dict:
        return {"index": self.index, "start": round(self.start, 3), "end": round(self.end, 3),
                "keyframe_time": round(self.keyframe_time, 3), "caption": self.caption,
                "transcript": self.transcript, "caption_backend": self.caption_backend,
                "caption_fallback": self.caption_fallback, "duplicate_of": self.duplicate_of,
                "keyframe_method": self.keyframe_method}


@dataclass
class VideoSummary:
    name: str
    info: VideoInfo
    shots: list[ShotResult]
    transcript: object | None  # speech.Transcript, or None when there was nothing to transcribe
    summary: Summary
    detector: str
    every_seconds: float
    timings: dict[str, float] = field(default_factory=dict)  # stage -> seconds
    notes: list[str] = field(default_factory=list)
    emotion_timeline: object | None = None  # emotion.timeline.Timeline, when asked for
    options: object | None = None  # the settings it was asked for (video_summary.Options)

    @property
    def duration(self) -> float:
        return self.shots[-1].end if self.shots else self.info.duration

    @property
    def transcript_text(self) -> str:
        return getattr(self.transcript, "text", "") or ""

    def to_dict(self) -> dict:
        t = self.transcript
        out = {
            "file": self.name,
            "duration": round(self.duration, 3),
            "shots": [s.to_dict() for s in self.shots],
            "transcript": self.transcript_text,
            "summary": self.summary.text,
            "summary_method": self.summary.method,
            "summary_sentences": [s.to_dict() for s in self.summary.sentences],
            "language": getattr(t, "language", None) or None,
            "segments": [s.to_dict() for s in getattr(t, "segments", [])],
            "video": self.info.to_dict(),
            "detector": self.detector,
            "every_seconds": self.every_seconds,
            "timings": {k: round(v, 3) for k, v in self.timings.items()},
            "notes": list(dict.fromkeys(self.notes + self.summary.notes)),
            **({"settings": self.options.to_dict()} if self.options is not None else {}),
        }
        if self.emotion_timeline is not None:
            out["emotion_timeline"] = self.emotion_timeline.to_dict()
        return out
