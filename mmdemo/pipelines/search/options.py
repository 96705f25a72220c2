"""The Search application's settings, declared once (mmdemo.options): the tab's controls and the CLI's flags come
from here."""

from __future__ import annotations

from dataclasses import dataclass

from mmdemo.options import Options, setting
from mmdemo.pipelines.search.embed import SPACES

MAX_TOP = 200


@dataclass(frozen=True)
class SearchOptions(Options):
    top: int = setting(10, "number of results", low=1, high=MAX_TOP, metavar="K", label="Results",
                       noun="number of results")
    space: str = setting("auto", "embedding space of a new index (auto: CLIP when its weights exist, else the "
                                 "offline ImageNet-to-MiniLM space); an existing index keeps its own",
                         choices=("auto", *SPACES), label="Embedding space")
