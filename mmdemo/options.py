"""Settings, each declared once per application, as faster-whisper's ``TranscriptionOptions`` or Whisper-WebUI's
``WhisperParams`` are: an application's ``Options`` is a frozen dataclass whose fields are declared with
``setting()`` (default, help, bounds, choices). From that one declaration come

- the check of a value, wherever it comes from (one sentence naming the setting: ``Setting.check``);
- the CLI flags and their help (``add_flags`` / ``from_args``);
- the evaluation and Compare config keys and their validation (``evaluation_settings``);
- the tab's controls (``demos.controls``, the UI layer's reader of these declarations);
- the record of the settings a result was made with (the record itself, ``to_dict()``).

Each pipeline module exposes its application's record as ``Options`` (``mmdemo.applications.Application.options``).
This module imports nothing heavy: the CLI builds its parser from it before any model library loads.
"""

from __future__ import annotations

import dataclasses
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from mmdemo.config import on_off
from mmdemo.errors import BadInput

MAX_SEED = 2**32 - 1  # the largest random seed a setting takes: every generator the applications seed accepts it


@dataclass(frozen=True)
class Setting:
    name: str
    type: type  # bool, int, float or str
    default: Any
    help: str  # one line: what it does (CLI help, evaluation keys, the control's info unless ``info`` says more)
    low: float | None = None  # bounds, inclusive
    high: float | None = None
    choices: tuple = ()  # the values allowed; empty: any value of the type within the bounds
    labels: tuple[str, ...] = ()  # the tab's words for the choices, in the same order
    label: str = ""  # the tab control's label; default: the name in words
    info: str = ""  # the tab's explanation under the control, when it needs other words than ``help``
    flag: str = ""  # the CLI flag; default --name-with-dashes (--no-name for a switch that is on by default)
    step: float | None = None  # the tab slider's step
    metavar: str = ""  # the CLI's name for the value (default N for a whole number, X for a number)
    noun: str = ""  # what a message calls it ("The number of results must be..."); default: the name in words
    cli: bool = True  # a CLI flag exists (False: the CLI gives it another way, or not at all)
    evaluated: bool = True  # an evaluation and Compare config key

    @property
    def words(self) -> str:
        return self.noun or self.name.replace("_", " ")

    @property
    def title(self) -> str:
        return self.label or self.words.capitalize()

    @property
    def cli_flag(self) -> str:
        if self.flag:
            return self.flag
        dashed = self.name.replace("_", "-")
        return f"--no-{dashed}" if self.type is bool and self.default else f"--{dashed}"

    def bounds_text(self) -> str:
        if self.low is None and self.high is None:
            return ""
        if self.high is None:
            return f"at least {_number(self.low)}"
        if self.low is None:
            return f"at most {_number(self.high)}"
        return f"from {_number(self.low)} to {_number(self.high)}"

    def describe(self) -> str:
        """The CLI help: what it does, its range and its default."""
        if self.low is not None and self.low >= 0 and self.high is not None:
            span = f", {_number(self.low)}-{_number(self.high)}"
        else:
            span = f", {self.bounds_text()}" if self.bounds_text() else ""
        if self.type is bool:
            return f"{self.help}: on unless this flag is given" if self.default else f"{self.help} (off by default)"
        if self.default is None or (self.type is str and not self.default):  # the help says what unset means
            return f"{self.help}{span}"
        return f"{self.help}{span} (default {self.default})"

    def check(self, value, name: str = "") -> Any:
        """``value`` (typed, or a string as typed on a command line or in a config) as this setting's type within
        its bounds and choices; None is the default, and so is a blank string for a setting that is not text (a
        text setting keeps its blank, which its choices may refuse). BadInput names the setting otherwise."""
        name = name or f"The {self.words}"
        if value is None or (isinstance(value, str) and not value.strip() and self.type is not str):
            return self.default
        kind, bounds = self.type, self.bounds_text()
        want = {bool: "on or off (true/false)", int: "a whole number", float: "a number"}.get(kind, "text")
        if bounds and kind in (int, float):  # "from 1 to 10"; a one-sided bound reads "a number, at least 0"
            want += f" {bounds}" if bounds.startswith("from") else f", {bounds}"
        shown = repr(value) if isinstance(value, str) else str(value)[:40]
        try:
            typed = _convert(kind, value)
        except (TypeError, ValueError):
            raise BadInput(f"{name} must be {want}, not {shown[:40]}.") from None
        if (self.low is not None and typed < self.low) or (self.high is not None and typed > self.high):
            raise BadInput(f"{name} must be {want}, not {shown}.")
        if self.choices and typed not in self.choices:
            raise BadInput(f"{name} must be one of {', '.join(map(str, self.choices))}, not {shown}.")
        return typed


def _number(value) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _convert(kind: type, value):
    if kind is bool:
        return value if isinstance(value, bool) else on_off(str(value).strip())
    if kind is int:
        if isinstance(value, bool):
            raise ValueError
        if isinstance(value, int):
            return value
        if isinstance(value, str):  # exactly, as Python reads a whole number ("12"); "5.0" as a number
            try:
                return int(value.strip())
            except ValueError:
                value = float(value.strip())
        number = float(value)
        if not number.is_integer():
            raise ValueError
        return int(number)
    if kind is float:
        if isinstance(value, bool):
            raise ValueError
        number = float(str(value).strip()) if isinstance(value, str) else float(value)
        if not math.isfinite(number):
            raise ValueError
        return number
    return str(value).strip()


def setting(default, help: str, **spec) -> Any:
    """A field of an ``Options`` record: its default, a one-line help and the rest of ``Setting`` (bounds, choices,
    labels, label, info, flag, step, cli, evaluated; ``type`` when the default's own type is not the setting's)."""
    return field(default=default, metadata={"setting": spec | {"help": help}})


class Options:
    """An application's settings record. Subclasses are ``@dataclass(frozen=True)`` with ``setting()`` fields; an
    instance holds every value checked (construct it with None for a default)."""

    def __post_init__(self):
        for s in self.settings():
            object.__setattr__(self, s.name, s.check(getattr(self, s.name)))

    @classmethod
    def settings(cls) -> tuple[Setting, ...]:
        out = []
        for f in dataclasses.fields(cls):
            spec = dict(f.metadata["setting"])
            kind = spec.pop("type", type(f.default))
            out.append(Setting(f.name, kind, f.default, **spec))
        return tuple(out)

    @classmethod
    def setting(cls, name: str) -> Setting:
        return next(s for s in cls.settings() if s.name == name)

    @classmethod
    def make(cls, values: Mapping[str, Any] | None = None, **more):
        """A record from ``values`` and ``more`` (missing or None: the default); BadInput for a name that is not
        a setting, naming the valid ones."""
        given = {**(values or {}), **more}
        names = [s.name for s in cls.settings()]
        unknown = [k for k in given if k not in names]
        if unknown:
            raise BadInput(f"unknown setting {unknown[0]!r}; valid settings: {', '.join(names)}.")
        return cls(**given)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def changed(self) -> dict:
        """The settings that differ from their defaults."""
        return {s.name: getattr(self, s.name) for s in self.settings() if getattr(self, s.name) != s.default}


# -- the CLI -----------------------------------------------------------------------------------------------------

def add_flags(parser, options: type[Options], names: tuple[str, ...] | None = None) -> None:
    """One flag per setting (``cli=True``; only ``names`` when given), its help from the declaration. Values stay
    strings until ``from_args`` checks them, so a bad one is the setting's own sentence."""
    for s in options.settings():
        if not s.cli or (names is not None and s.name not in names):
            continue
        if s.type is bool:
            parser.add_argument(s.cli_flag, dest=s.name, action="store_false" if s.default else "store_true",
                                default=None, help=s.describe())
        else:
            metavar = None if s.choices else s.metavar or {int: "N", float: "X"}.get(s.type, "TEXT")
            parser.add_argument(s.cli_flag, dest=s.name, default=None, metavar=metavar,
                                choices=[str(c) for c in s.choices] or None, help=s.describe())


def from_args(options: type[Options], args) -> Options:
    """The record of the parsed flags (unset flags: defaults), with each flag named in a bad value's sentence."""
    values = {}
    for s in options.settings():
        if s.cli:
            values[s.name] = s.check(getattr(args, s.name, None), s.cli_flag)
    return options.make(values)


# -- evaluation and Compare configs -------------------------------------------------------------------------------

def evaluation_settings(options: type[Options]) -> dict[str, Setting]:
    """The settings an evaluation or Compare config may set (``evaluated=True``), by name."""
    return {s.name: s for s in options.settings() if s.evaluated}


# -- the docs ----------------------------------------------------------------------------------------------------

DOCS = Path(__file__).resolve().parent.parent / "docs"
BEGIN = "<!-- settings: generated by `python -m mmdemo.options --write` from the application's Options; do not edit -->"
END = "<!-- end of generated settings -->"


def markdown(options: type[Options], command: str) -> str:
    """The settings' table of an application's docs page: what the tab, the CLI and an evaluation config accept."""
    lines = [f"What the tab's controls, `python -m mmdemo {command}` and the API accept; an evaluation or Compare "
             "config takes the evaluation keys as `name=value`. A bad value is refused with one sentence naming it.",
             "", "| setting | CLI flag | default | accepts | what it does |", "|---|---|---|---|---|"]
    for s in options.settings():
        flag = f"`{s.cli_flag}`" if s.cli else "—"
        if s.choices:
            accepts = ", ".join(f"`{c}`" for c in s.choices)
        elif s.type is bool:
            accepts = "on / off"
        else:
            accepts = {int: "whole number", float: "number", str: "text"}[s.type]
            accepts += f" {s.bounds_text()}" if s.bounds_text() else ""
        default = ("on" if s.default else "off") if s.type is bool else "empty" if s.default == "" else \
            "unset" if s.default is None else f"`{s.default}`"
        key = f"`{s.name}`" + (" (evaluation key)" if s.evaluated else "")
        lines.append(f"| {key} | {flag} | {default} | {accepts} | {s.help} |")
    return "\n".join(lines) + "\n"


def with_table(text: str, options: type[Options], command: str) -> str:
    """A docs page with its generated settings table replaced (or, the first time, appended as a section)."""
    table = markdown(options, command)
    head, begin, rest = text.partition(BEGIN)
    if not begin:
        return f"{text.rstrip()}\n\n## Settings\n\n{BEGIN}\n\n{table}\n{END}\n"
    _, end, tail = rest.partition(END)
    return f"{head}{BEGIN}\n\n{table}\n{END}{tail}"


def main(argv: list[str]) -> int:
    from mmdemo.applications import APPLICATIONS

    if argv != ["--write"]:
        print("usage: python -m mmdemo.options --write   (each application's settings table in docs/<tab>.md)",
              file=sys.stderr)
        return 2
    for app in APPLICATIONS:
        page = DOCS / f"{app.tab}.md"
        page.write_text(with_table(page.read_text(encoding="utf-8"), app.options(), app.key), encoding="utf-8")
        print(f"wrote {page}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
