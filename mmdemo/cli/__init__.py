"""`python -m mmdemo <command> ... [--json]`: the command-line twin of every tab.

Each command is a module in this package with ``HELP``, ``add_arguments(parser)``, ``run(args)`` (returning a
JSON-ready result) and optionally ``render(result)`` (plain-text output without --json). An application's command
is named by its record in ``mmdemo.applications`` (its key, its older names as aliases); the two tools that work
across applications (``models``, ``evaluate``) carry their own ``NAME``.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import traceback

from mmdemo.applications import APPLICATIONS

TOOLS_FIRST, TOOLS_LAST = ["models"], ["evaluate"]
# module name -> (command, aliases): the tools, then one command per application
COMMANDS = {**{name: (name, ()) for name in TOOLS_FIRST},
            **{app.cli: (app.key, app.aliases) for app in APPLICATIONS},
            **{name: (name, ()) for name in TOOLS_LAST}}


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The whole parser; given ``argv``, only the named command gets its arguments: a command's arguments import
    its application's settings declaration (and so its pipeline), which the other commands need not pay for."""
    chosen = next((a for a in argv or [] if not a.startswith("-")), None)
    parser = argparse.ArgumentParser(prog="mmdemo", description="mmdemo: multimodal AI demo studio")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module_name, (name, aliases) in COMMANDS.items():
        module = importlib.import_module(f"mmdemo.cli.{module_name}")
        cmd = sub.add_parser(name, aliases=list(aliases), help=module.HELP, description=module.HELP)
        if argv is None or chosen in (name, *aliases):
            module.add_arguments(cmd)
        cmd.add_argument("--json", action="store_true", help="print one JSON document on stdout")
        cmd.add_argument("--verbose", action="store_true",
                         help="let the model libraries print their progress bars and warnings on stderr")
        cmd.set_defaults(_module=module)
    return parser




def _quiet_libraries() -> None:
    """stderr is for mmdemo's notes and errors: the model libraries' loading bars and advice stay off it (set
    before they are imported, which happens only inside a command's run())."""
    import logging
    import warnings

    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")  # also transformers' "Loading weights" bar
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("DIFFUSERS_VERBOSITY", "error")
    os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
    warnings.filterwarnings("ignore")
    logging.getLogger("faster_whisper").setLevel(logging.ERROR)


def main(argv: list[str] | None = None) -> int:
    from mmdemo import config
    from mmdemo.errors import MMDemoError

    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    if not args.verbose:
        _quiet_libraries()
    module = args._module
    debug = False
    try:
        debug = config.get("MMDEMO_DEBUG")  # before the run: a bad value is one line, not a second error later
        result = module.run(args)
    except MMDemoError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug: one line for the user, the traceback only when asked for
        if debug:
            traceback.print_exc()
        print(f"error: internal error ({type(exc).__name__}: {exc}); set MMDEMO_DEBUG=1 for details",
              file=sys.stderr)
        return 1
    try:
        if args.json:
            json.dump(result, sys.stdout, ensure_ascii=False)
            sys.stdout.write("\n")
        else:
            render = getattr(module, "render", None)
            text = render(result) if render else json.dumps(result, indent=2, ensure_ascii=False)
            if text:  # e.g. transcribe -o FILE: the subtitles went to the file, nothing is left for stdout
                print(text)
        sys.stdout.flush()
    except BrokenPipeError:  # `... | head`: the reader left; no traceback, and none again at interpreter exit
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0
