"""The Video summarization application's settings, declared once (mmdemo.options): the tab's controls, the CLI's
flags, the evaluation keys and the record a summary carries all come from here."""

from __future__ import annotations

from dataclasses import dataclass

from mmdemo.options import Options, setting
from mmdemo.pipelines.video_summary.shots import (DEFAULT_DETECTOR, DEFAULT_EVERY_SECONDS, DETECTORS,
                                                  MAX_SAMPLES_PER_SECOND)
from mmdemo.pipelines.video_summary.summary import DEFAULT_SENTENCES, MAX_SENTENCES, METHODS


@dataclass(frozen=True)
class VideoOptions(Options):
    detector: str = setting(DEFAULT_DETECTOR, "cut detector (combined: PySceneDetect's ContentDetector for hard cuts "
                                              "and AdaptiveDetectors a second apart for fades and dissolves)",
                            choices=DETECTORS, label="Cut detector",
                            labels=("combined (default)", "adaptive", "content", "embedding change (slow)"),
                            info="combined: cuts, fades and dissolves; adaptive, content: PySceneDetect's cut "
                                 "detectors; embedding: the image backend")
    every_seconds: float = setting(DEFAULT_EVERY_SECONDS, "seconds between frames sampled for cut detection "
                                                          "(0.04: every frame of a 25 fps video)",
                                   low=1 / MAX_SAMPLES_PER_SECOND, high=5.0, step=0.02, flag="--every",
                                   metavar="SECONDS", label="Sample a frame every (s)",
                                   info="for cut detection; finer finds cuts in fast motion")
    threshold: float = setting(0.0, "cut threshold of the detector (0: the detector's own default)", low=0.0,
                               label="Cut threshold")
    summary_method: str = setting("auto", "summary method (auto: abstractive when a summarization model is "
                                          "available)", choices=METHODS, flag="--method", label="Summary",
                                  labels=("auto: abstractive when a model is available", "extractive (MiniLM)",
                                          "abstractive (summarizer backend)"),
                                  evaluated=False)
    max_sentences: int = setting(DEFAULT_SENTENCES, "extractive summary length in sentences", low=1,
                                 high=MAX_SENTENCES, flag="--sentences", label="Extractive summary sentences",
                                 evaluated=False)
    language: str = setting("", "spoken language code (en, es...); empty: detect", metavar="LANG", evaluated=False)
    emotion_timeline: bool = setting(False, "also read each transcript segment's emotion (its words, its voice, the "
                                            "faces during it), fused, as the Emotion tab's video timeline does",
                                     label="Emotion timeline", evaluated=False,
                                     info="each spoken segment's words, voice and faces, fused (adds time)")
    emotion_weights: str = setting("", "fusion weights of the emotion timeline, e.g. text=1,voice=1,face=2 (empty: 1 "
                                       "each)", metavar="W", label="Emotion weights", evaluated=False)
