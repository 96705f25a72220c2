"""Every MMDEMO_* environment variable, declared once: name, theme, kind (how a value is read and checked), default
and one line of documentation.

    from mmdemo import config
    config.get("MMDEMO_MAX_AUDIO_MINUTES")    # 120.0, or the variable's value now

A variable is read at each call (a later change is seen; nothing is kept from import), and a bad value is one
BadInput sentence naming it. docs/configuration.md's tables are generated from these declarations
(``python -m mmdemo.config --write``) and tests/test_configuration.py fails when the file, the declarations and the
code's reads disagree. Only the standard library is imported: the CLI imports this before any model library.
"""

from __future__ import annotations

import math
import os
import re
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from mmdemo.errors import BadInput

TRUE_WORDS = frozenset({"1", "true", "yes", "on"})  # what turns a switch on, in a variable or a config value
FALSE_WORDS = frozenset({"0", "false", "no", "off"})


def switch(name: str) -> bool:
    """A library's on/off variable (HF_HUB_OFFLINE) as that library reads it: on for 1, true, yes or on (any case),
    off otherwise. mmdemo's own switches are declared below and refuse a value that is neither on nor off."""
    return os.environ.get(name, "").strip().lower() in TRUE_WORDS


# -- kinds: how a value is read ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Kind:
    """``parse`` turns the stripped, non-empty text into a value or raises ValueError; ``wants`` completes "NAME
    must be ..." in the error; ``name`` is what the docs call it."""

    name: str
    parse: Callable[[str], Any]
    wants: str = ""


def _positive(unit: str) -> Kind:
    def parse(raw: str) -> float:
        value = float(raw)
        if not (value > 0 and math.isfinite(value)):
            raise ValueError(raw)
        return value

    article = "an" if unit[0] in "aeiou" else "a"
    return Kind("number", parse, f"{article} positive number of {unit}")


def _whole(unit: str, minimum: int = 1) -> Kind:
    def parse(raw: str) -> int:
        value = int(raw)  # "1.5" and "1e6" are refused: a count is written as one
        if value < minimum:
            raise ValueError(raw)
        return value

    least = "a positive whole number" if minimum == 1 else f"a whole number ({minimum} or more)"
    return Kind("whole number", parse, f"{least} of {unit}")


def _one_of(*choices: str) -> Kind:
    def parse(raw: str) -> str:
        if raw.lower() not in choices:
            raise ValueError(raw)
        return raw.lower()

    return Kind("choice", parse, "one of " + ", ".join(choices))


def _matching(pattern: str, wants: str) -> Kind:
    def parse(raw: str) -> str:
        if not re.fullmatch(pattern, raw, re.IGNORECASE):
            raise ValueError(raw)
        return raw.lower()

    return Kind("pattern", parse, wants)


def on_off(raw: str) -> bool:
    """A switch's words (1, true, yes, on / 0, false, no, off, any case); ValueError for anything else."""
    if raw.lower() not in TRUE_WORDS | FALSE_WORDS:
        raise ValueError(raw)
    return raw.lower() in TRUE_WORDS


TEXT = Kind("text", str)
FOLDER = Kind("folder", lambda raw: Path(raw).expanduser())
FOLDERS = Kind("folders", lambda raw: tuple(p.strip() for p in raw.split(os.pathsep) if p.strip()))
NAMES = Kind("names", lambda raw: tuple(p.strip().lower() for p in raw.split(",") if p.strip()))
SWITCH = Kind("switch", on_off, "1, true, yes or on, or 0, false, no or off")
# Gradio's max_file_size syntax: a whole number and a unit (it reads "1.5gb" as 1 and ".5GB", and fails in launch())
SIZE = _matching(r"\d+\s*[kmgt]?b", "a size such as 200mb or 1gb")
DEVICE = _matching(r"cpu|mps|cuda(:\d+)?", "one of cpu, cuda, cuda:N, mps")
# CTranslate2's compute types (https://opennmt.net/CTranslate2/quantization.html)
COMPUTE = _one_of("default", "auto", "int8", "int8_float32", "int8_float16", "int8_bfloat16", "int16", "float16",
                  "bfloat16", "float32")


# -- declarations ------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Variable:
    name: str
    theme: str  # the docs' section
    kind: Kind
    default: Any  # the value when unset or empty; a callable is called then (a default that depends on the machine)
    doc: str  # one line of Markdown
    shown: str = ""  # the default as the docs say it, when the value itself does not say it well

    def get(self) -> Any:
        """The value now: the default when unset or empty, BadInput naming the variable when it cannot be read."""
        raw = os.environ.get(self.name, "").strip()
        if not raw:
            return self.default() if callable(self.default) else self.default
        try:
            return self.kind.parse(raw)
        except ValueError:
            raise BadInput(f"{self.name} must be {self.kind.wants}, not {raw!r}.") from None

    def shown_default(self) -> str:
        """The docs' default column: ``shown``, else the value (numbers with thousands separators, text as code)."""
        if self.shown or self.default is None:
            return self.shown or "unset"
        if isinstance(self.default, (int, float)):
            return f"{self.default:,g}" if self.default < 1e6 else f"{self.default:,.0f}"
        return f"`{self.default}`"


def _cache_dir() -> Path:
    xdg = os.environ.get("XDG_CACHE_HOME", "").strip()
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "mmdemo"


def _output_dir() -> Path:
    user = os.getuid() if hasattr(os, "getuid") else os.environ.get("USERNAME", "user")
    return Path(tempfile.gettempdir()) / f"mmdemo-{user}"


MODEL_PATTERN = "MMDEMO_<BACKEND>_MODEL"  # one per backend of mmdemo.backends, made by model_variable()

THEMES = {
    "limits": "What one request may ask for; a bigger one is refused with one sentence naming the variable.",
    "folders": "Where mmdemo reads and writes.",
    "lifetimes and quotas": "How long and how much the server keeps for its visitors.",
    "models": "Which weights load, and where and how they run.",
    "security": "What the operator opens to visitors ([security.md](security.md)).",
    "scale": "The Ray engine of `evaluate --engine ray` ([evaluate.md](evaluate.md)).",
    "debugging": "",
}

VARIABLES = (
    # limits
    Variable("MMDEMO_MAX_UPLOAD", "limits", SIZE, "1gb",
             "largest upload the server accepts (Gradio's `max_file_size`)"),
    Variable("MMDEMO_MAX_AUDIO_MINUTES", "limits", _positive("minutes"), 120.0, "longest audio accepted"),
    Variable("MMDEMO_MAX_VIDEO_MINUTES", "limits", _positive("minutes"), 30.0, "longest video accepted"),
    Variable("MMDEMO_MAX_IMAGE_PIXELS", "limits", _whole("pixels"), 50_000_000,
             "decompression-bomb guard for images (also Pillow's own limit in the process)"),
    Variable("MMDEMO_MAX_IMAGE_SIDE", "limits", _whole("pixels"), 2048, "largest text-to-image width or height"),
    Variable("MMDEMO_MAX_EMOTION_TEXTS", "limits", _whole("texts"), 1000,
             "most lines in one emotion batch or utterances in one conversation"),
    Variable("MMDEMO_MAX_TEXT_CHARS", "limits", _whole("characters"), 100_000,
             "longest free text (emotion texts, reference transcripts)"),
    # folders
    Variable("MMDEMO_OUTPUT_DIR", "folders", FOLDER, _output_dir,
             "the root of request files (downloads, reports, generated images) and Gradio's upload cache",
             "`<tmp>/mmdemo-<uid>`"),
    Variable("MMDEMO_CACHE_DIR", "folders", FOLDER, _cache_dir,
             "where mmdemo keeps what it builds (the joined whisper pack, the operator's search index)",
             "`$XDG_CACHE_HOME/mmdemo` or `~/.cache/mmdemo`"),
    Variable("MMDEMO_SEARCH_INDEX", "folders", FOLDER, lambda: get("MMDEMO_CACHE_DIR") / "search",
             "the operator's search index folder", "`<MMDEMO_CACHE_DIR>/search`"),
    Variable("MMDEMO_FLAG_DIR", "folders", FOLDER, Path("flagged"),
             "where flagged results are kept ([evaluate.md](evaluate.md#flags))", "`./flagged`"),
    # lifetimes and quotas
    Variable("MMDEMO_OUTPUT_TTL", "lifetimes and quotas", _positive("seconds"), 3600.0,
             "seconds a request's files live after they were last handed out ([server.md](server.md))"),
    Variable("MMDEMO_FLAG_QUOTA_MB", "lifetimes and quotas", _positive("megabytes"), 200.0,
             "disk each visitor's flags may hold"),
    Variable("MMDEMO_FLAG_TOTAL_MB", "lifetimes and quotas", _positive("megabytes"), 2000.0,
             "disk all visitors' flags may hold together"),
    Variable("MMDEMO_FLAG_TTL_DAYS", "lifetimes and quotas", _positive("days"), 30.0,
             "days a visitor's flag is kept (the operator's are kept)"),
    Variable("MMDEMO_SESSION_INDEX_MB", "lifetimes and quotas", _positive("megabytes"), 500.0,
             "disk a visitor's own search index may hold (its uploads included)"),
    # models
    Variable(MODEL_PATTERN, "models", TEXT, None,
             "weights of one backend: a local folder, a Hub id, or `pack` for its offline pack (table below)",
             "the backend's default"),
    Variable("MMDEMO_DEVICE", "models", DEVICE, None, "where models run: `cpu`, `cuda`, `cuda:N` or `mps`",
             "CUDA, then MPS, then CPU"),
    Variable("MMDEMO_MAX_MEMORY_GB", "models", _positive("gigabytes"), None,
             "memory budget for loaded models; the least recently used backend is unloaded to make room",
             "no limit"),
    Variable("MMDEMO_THREADS", "models", _whole("threads", minimum=0), 0, "CPU threads for faster-whisper; 0: all",
             "all cores"),
    Variable("MMDEMO_WHISPER_COMPUTE", "models", COMPUTE, None,
             "CTranslate2 compute type (`int8`: about 1.6x faster, less accurate on some languages)",
             "`float32` on CPU, `float16` on CUDA"),
    Variable("MMDEMO_TAESD_MODEL", "models", TEXT, None,
             "tiny autoencoder (folder or Hub id) for text-to-image previews and fast decoding", "none"),
    # the names of mmdemo.backends.diffusion.FAMILIES (tests/test_text_to_image.py keeps the two equal)
    Variable("MMDEMO_DIFFUSION_FAMILY", "models", _one_of("turbo", "lcm", "schnell", "sdxl", "sd"), None,
             "force a model family's default steps and guidance (`turbo`, `lcm`, `schnell`, `sdxl`, `sd`)",
             "detected from the model"),
    Variable("MMDEMO_ATTENTION_SLICING", "models", SWITCH, False,
             "`1`: attention slicing in diffusers (less memory, slower)", "off"),
    # security
    Variable("MMDEMO_OPERATOR_TOKEN", "security", TEXT, None,
             "the operator's secret (the operator link's token, the `X-MMDemo-Token` header)", "random at each start"),
    Variable("MMDEMO_ALLOW_DIRS", "security", FOLDERS, (),
             "server folders visitors may read and index, separated by `:` (`;` on Windows; as `--allow-dir`)",
             "none"),
    Variable("MMDEMO_ALLOW_MODEL_CHANGES", "security", SWITCH, False,
             "`1`: visitors may choose, load and unload models (as `--allow-model-changes`)", "off"),
    Variable("MMDEMO_ALLOWED_HOSTS", "security", NAMES, (),
             "more host names the app answers to, comma-separated, `*.example.org` patterns (a reverse proxy's)",
             "loopback, the bind address"),
    # scale
    Variable("MMDEMO_RAY_CPUS", "scale", _whole("CPUs"), None, "CPUs of the local Ray cluster it starts",
             "all cores"),
    Variable("MMDEMO_RAY_ACTORS", "scale", _whole("actors"), None, "most Ray actors per config",
             "one per CPU, or per GPU when there are GPUs"),
    # debugging
    Variable("MMDEMO_DEBUG", "debugging", SWITCH, False, "`1`: the CLI prints tracebacks of internal errors", "off"),
)
_BY_NAME = {v.name: v for v in VARIABLES}


def variable(name: str) -> Variable:
    """The declaration of ``name``; KeyError for a name nobody declared (a bug, not a user's mistake)."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise KeyError(f"{name} is not declared in mmdemo/config.py") from None


def get(name: str) -> Any:
    """``name``'s value now (see Variable.get)."""
    return variable(name).get()


def model_variable(backend: str) -> Variable:
    """MMDEMO_<BACKEND>_MODEL of one backend, as MODEL_PATTERN declares it."""
    pattern = _BY_NAME[MODEL_PATTERN]
    return Variable(MODEL_PATTERN.replace("<BACKEND>", backend.upper()), pattern.theme, pattern.kind,
                    pattern.default, f"weights of the {backend} backend")


# -- docs/configuration.md ----------------------------------------------------------------------------------------
DOC = Path(__file__).resolve().parent.parent / "docs" / "configuration.md"
BEGIN = "<!-- variables: generated by `python -m mmdemo.config --write` from mmdemo/config.py; do not edit -->"
END = "<!-- end of generated variables -->"


def markdown() -> str:
    """The variables' tables, one per theme, then the per-backend model variables (read from mmdemo.backends,
    imported here only: generating the docs may load the registry, reading a variable never does)."""
    from mmdemo import backends

    lines = []
    for theme, intro in THEMES.items():
        lines += [f"## {theme.capitalize()}", ""] + ([intro, ""] if intro else [])
        lines += ["| variable | meaning | default |", "|---|---|---|"]
        lines += [f"| `{v.name}` | {v.doc} | {v.shown_default()} |" for v in VARIABLES if v.theme == theme]
        lines.append("")
    lines += [f"## `{MODEL_PATTERN}`, one per backend", "",
              "A folder, a Hub id, or `pack`: the backend's offline pack even when the Hub is reachable. The Models",
              "tab's \"Use this source\" box sets the same choice for the running process, without a restart.", "",
              "| variable | backend's task | default (Hub id) | offline pack |", "|---|---|---|---|"]
    for name in backends.REGISTRY.names:
        spec = backends.REGISTRY.spec(name)
        default, pack = (f"`{value}`" if value else "none" for value in (spec.default_model, spec.pack))
        lines.append(f"| `{model_variable(name).name}` | {spec.task} | {default} | {pack} |")
    return "\n".join(lines) + "\n"


def with_tables(text: str) -> str:
    """``text`` (docs/configuration.md) with the part between BEGIN and END replaced by markdown()."""
    head, begin, rest = text.partition(BEGIN)
    _, end, tail = rest.partition(END)
    if not (begin and end):
        raise ValueError(f"{DOC} lacks the markers {BEGIN!r} ... {END!r}")
    return f"{head}{BEGIN}\n\n{markdown()}\n{END}{tail}"


def main(argv: list[str]) -> int:
    if argv == ["--markdown"]:
        print(markdown(), end="")
    elif argv == ["--write"]:
        DOC.write_text(with_tables(DOC.read_text(encoding="utf-8")), encoding="utf-8")
        print(f"wrote {DOC}")
    else:
        print("usage: python -m mmdemo.config --markdown | --write", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
