"""Who may do what on a shared app: the operator (whoever started it) and clients (every other caller, the browser
on the same machine included). No Gradio import: the UI layer says who is calling, this module says what follows.

A client reaches its own uploads and the files the app wrote for it. Powers over the server are granted by the
operator at start, explicitly:

- ``--allow-dir PATH`` (repeatable) or ``MMDEMO_ALLOW_DIRS`` (paths separated by ``os.pathsep``): folders under
  these roots may be read and indexed by clients, and hold search indexes they name;
- ``--allow-model-changes`` or ``MMDEMO_ALLOW_MODEL_CHANGES=1``: clients may choose, load and unload model sources
  and name models in evaluation configs.

The operator gets every power through a secret only they can see: the token printed with the link at start (as
Jupyter does), or ``MMDEMO_OPERATOR_TOKEN``. The source address alone is never trusted: a web page in the same
browser, or another user of the machine, also comes from loopback. The model is written out in docs/security.md.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import threading
from dataclasses import dataclass, field
from pathlib import Path

from mmdemo import config
from mmdemo.errors import MMDemoError

ALLOW_DIRS_VAR = "MMDEMO_ALLOW_DIRS"
ALLOW_MODELS_VAR = "MMDEMO_ALLOW_MODEL_CHANGES"
TOKEN_VAR = "MMDEMO_OPERATOR_TOKEN"
TOKEN_QUERY = "mmdemo_token"  # the operator link's query parameter, exchanged for a cookie at once
TOKEN_HEADER = "x-mmdemo-token"  # scripts (gradio_client's headers=) send the token here
TOKEN_COOKIE = "mmdemo_operator"
CLIENT_COOKIE = "mmdemo_client"  # a random id per browser: its flags and search index survive a page reload

FOLDERS_REFUSED = ("Server folders are not open to visitors of this app. The person who started it can open some "
                   "with --allow-dir PATH (or MMDEMO_ALLOW_DIRS), or use the operator link printed at start.")
MODELS_REFUSED = ("Choosing, loading and unloading models is not open to visitors of this app. The person who "
                  "started it can allow it with --allow-model-changes (or MMDEMO_ALLOW_MODEL_CHANGES=1), or use "
                  "the operator link printed at start.")


class Refused(MMDemoError):
    """A client asked for a power the operator did not grant; the message names the flag that grants it."""


@dataclass(frozen=True)
class Grants:
    """What the operator opened to clients at start. ``private``: the app's own folders (other visitors' files,
    flags, the operator's index), never reachable through a granted root even when one holds them."""

    dirs: tuple[Path, ...] = ()
    models: bool = False
    private: tuple[Path, ...] = ()

    @classmethod
    def from_options(cls, dirs=(), models: bool = False, private=()) -> "Grants":
        """Grants from the command line, widened by the variables (both are the operator's)."""
        roots = []
        for value in [*dirs, *config.get(ALLOW_DIRS_VAR)]:
            root = Path(value.strip()).expanduser().resolve()
            if not root.is_dir():
                raise MMDemoError(f"--allow-dir / {ALLOW_DIRS_VAR}: {value} is not a folder.")
            roots.append(root)
        hidden = tuple(dict.fromkeys(Path(p).expanduser().resolve() for p in private))
        return cls(tuple(dict.fromkeys(roots)), models or config.get(ALLOW_MODELS_VAR), hidden)

    def reachable(self, path: Path) -> bool:
        """``path`` (resolved) lies under a granted root and in none of the app's own folders."""
        def under(p: Path, root: Path) -> bool:
            return p == root or root in p.parents

        return any(under(path, root) for root in self.dirs) and not any(under(path, own) for own in self.private)

    def describe(self) -> list[str]:
        folders = ", ".join(f"`{d}`" for d in self.dirs) if self.dirs else "none"
        return [f"server folders open to visitors: {folders}",
                "model changes by visitors: " + ("allowed" if self.models else "not allowed")]


_grants = Grants()
_lock = threading.Lock()
_direct_calls_trusted = True


def configure(grants: Grants) -> None:
    """Set at start by the app (tests set it for the server they launch)."""
    global _grants
    with _lock:
        _grants = grants


def serving() -> None:
    """Called once by ``python app.py``: from now on a call that cannot say who made it (no request: a thread, a
    forked GPU worker) is the least trusted client, not the operator. Library, CLI and tests keep calling as the
    person who runs them."""
    global _direct_calls_trusted
    _direct_calls_trusted = False


def direct_calls_trusted() -> bool:
    return _direct_calls_trusted


def grants() -> Grants:
    return _grants


# -- the operator's secret ---------------------------------------------------------------------------------------
_token: str | None = None


def operator_token() -> str:
    """The secret that makes a caller the operator: MMDEMO_OPERATOR_TOKEN, else a random one made per process."""
    global _token
    fixed = config.get(TOKEN_VAR)
    if fixed:
        return fixed
    with _lock:
        if _token is None:
            _token = secrets.token_urlsafe(24)
        return _token


def is_operator_token(given: str | None) -> bool:
    return bool(given) and hmac.compare_digest(given.encode(), operator_token().encode())


def operator_cookie() -> str:
    """The operator's sign-in cookie: derived from the token, so a cookie seen elsewhere does not give the token."""
    return hmac.new(operator_token().encode(), b"operator-cookie", hashlib.sha256).hexdigest()


def is_operator_cookie(given: str | None) -> bool:
    return bool(given) and hmac.compare_digest(given.encode(), operator_cookie().encode())


def private_key(value: str) -> str:
    """A stable, unguessable name derived from a client's id (folder names, flag owners): knowing the name does
    not give the id, and an id cannot name another client's folder."""
    return hmac.new(operator_token().encode(), value.encode(), hashlib.sha256).hexdigest()[:24]


# -- callers -----------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Caller:
    """One request's caller: the operator, or a client known by an opaque key (its browser cookie or session)."""

    operator: bool
    key: str = ""  # private_key of the client's id; empty for the operator
    grants: Grants = field(default_factory=grants)

    @classmethod
    def the_operator(cls) -> "Caller":
        return cls(True, "", grants())

    @property
    def owner(self) -> str:
        """Whose flags and indexes these are: "" for the operator (sees everything), else the client's key."""
        return "" if self.operator else self.key

    @property
    def may_change_models(self) -> bool:
        return self.operator or self.grants.models

    @property
    def may_use_folders(self) -> bool:
        return self.operator or bool(self.grants.dirs)

    def require_model_changes(self) -> None:
        if not self.may_change_models:
            raise Refused(MODELS_REFUSED)

    def server_path(self, raw: str, what: str = "the folder") -> Path:
        """A path a caller typed, as a server path it may use. The operator's is taken as given; a client's must
        lie under a granted root after resolving symlinks and ``..``. A refusal never says whether the path
        exists."""
        text = (raw or "").strip()
        if self.operator:
            return Path(text).expanduser()
        if not self.grants.dirs:
            raise Refused(FOLDERS_REFUSED)
        path = Path(text)  # never expanduser for a client: "~someone" would tell whether that account exists
        if not text or not path.is_absolute() or "\x00" in text:  # a NUL: no path at all (resolve() would raise)
            raise Refused(f"Give {what} as a full path under a folder opened to visitors: "
                          f"{', '.join(map(str, self.grants.dirs))}.")
        resolved = path.resolve()
        if not self.grants.reachable(resolved):
            raise Refused(f"{what.capitalize()} must lie under a folder opened to visitors: "
                          f"{', '.join(map(str, self.grants.dirs))} (the app's own folders excepted).")
        return resolved

    def may_read(self, path: "str | os.PathLike", own: "Path | None" = None) -> bool:
        """Whether a file an index names may be shown to this caller: the operator any; a client one under a
        granted root, or inside its own index folder ``own`` (its uploads' copies)."""
        if self.operator:
            return True
        resolved = Path(path).resolve()
        return self.grants.reachable(resolved) or (own is not None and own.resolve() in resolved.parents)

    def describe(self) -> str:
        """One line for the page: who this caller is and what it may do."""
        if self.operator:
            return ("**Operator** (signed in with the link printed at start): server folders, model sources and "
                    "every visitor's flags are yours to use.")
        g = self.grants
        folders = (f"server folders under {', '.join(f'`{d}`' for d in g.dirs)}" if g.dirs
                   else "no server folders (`--allow-dir`)")
        models = "model changes allowed" if g.models else "no model changes (`--allow-model-changes`)"
        return (f"**Visitor**: you reach your own uploads and results; {folders}; {models}. "
                "The person who started the app grants more with those flags.")
