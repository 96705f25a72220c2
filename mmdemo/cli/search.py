"""`python -m mmdemo search index PATH... --index DIR [--space auto|clip|offline] [--json]` and
`python -m mmdemo search query TEXT_OR_IMAGE --index DIR [--top K] [--json]` (or `search query --image FILE ...`):
the Search tab's twin."""

import argparse
import sys
import time
from pathlib import Path

HELP = "cross-modal search: index images, videos and speech into a folder, then query it by a sentence or an image"


def add_arguments(parser) -> None:
    from mmdemo.options import add_flags
    from mmdemo.pipelines.search.options import SearchOptions

    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    index = actions.add_parser("index", help="add files or folders (recursive) to an index; unchanged files are "
                                             "skipped by content hash")
    index.add_argument("paths", nargs="+", metavar="PATH", help="image, video or audio files, or folders")
    add_flags(index, SearchOptions, ("space",))
    query = actions.add_parser("query", help="the best matches of a sentence, or of an example image file")
    query.add_argument("query", metavar="TEXT_OR_IMAGE", nargs="?", default=None,
                       help="a sentence, or the path of an image file")
    query.add_argument("--image", metavar="FILE", default=None,
                       help="an example image file (the same as giving its path as TEXT_OR_IMAGE)")
    add_flags(query, SearchOptions, ("top",))
    for sub in (index, query):
        sub.add_argument("--index", required=True, metavar="DIR", help="the index folder")
        # also accepted after the action; SUPPRESS keeps an earlier `search --json` from being reset
        sub.add_argument("--json", action="store_true", default=argparse.SUPPRESS,
                         help="print one JSON document on stdout")
        sub.add_argument("--verbose", action="store_true", default=argparse.SUPPRESS,
                         help="let the model libraries print their progress and warnings on stderr")


class _Progress:
    """Progress lines on stderr once a run has lasted a few seconds, at most one a second."""

    def __init__(self, after: float = 3.0):
        self.started, self.after, self.last = time.monotonic(), after, 0.0

    def __call__(self, fraction: float, message: str) -> None:
        now = time.monotonic()
        if now - self.started >= self.after and (now - self.last >= 1.0 or fraction >= 1.0):
            self.last = now
            print(f"[{fraction:4.0%}] {message}", file=sys.stderr, flush=True)


def run(args) -> dict:
    from mmdemo.errors import BadInput
    from mmdemo.options import from_args
    from mmdemo.pipelines import search
    from mmdemo.pipelines.search.options import SearchOptions

    settings = from_args(SearchOptions, args)  # the flags of the chosen action; the other's are unset
    if args.action == "index":
        return search.build_index(args.paths, args.index, space=settings.space, progress=_Progress()).to_dict()
    if (args.query is None) == (args.image is None):
        raise BadInput("search query takes one query: a sentence or an image path (TEXT_OR_IMAGE), or --image FILE.")
    if args.image:  # --image is always an image: a Path is never read as a sentence
        return search.query(Path(args.image), args.index, top=settings.top).to_dict()
    # on the command line a one-word query naming an image file is a query by example (the app never guesses)
    what = Path(args.query) if search.looks_like_image_path(args.query) else args.query
    return search.query(what, args.index, top=settings.top).to_dict()


def render(result: dict) -> str:
    if "results" in result:
        lines = [f"{len(result['results'])} result(s) for {result['query_kind']} query {result['query']!r} "
                 f"({result['method']})"]
        for n, r in enumerate(result["results"], start=1):
            moment = f" {r['start']:.1f}-{r['end']:.1f} s" if "start" in r else ""
            said = f"  \"{r['text']}\"" if r.get("text") else ""
            lines.append(f"{n:3d}. {r['score']:.3f}  {r['kind']}{moment}  {r['path']}{said}")
        return "\n".join(lines)
    lines = [f"{result['index']}: {len(result['added'])} added, {len(result['unchanged'])} unchanged, "
             f"{len(result['skipped'])} skipped in {result['seconds']:.1f} s ({result['method']})"]
    lines += [f"added {a['path']} ({a['kind']}, {a['items']} item(s))" for a in result["added"]]
    lines += [f"note: {a['path']}: {note.removeprefix(Path(a['path']).name + ': ')}" for a in result["added"]
              for note in a["notes"]]  # a media note already names its file: once is enough
    lines += [f"skipped {s['path']}: {s['reason']}" for s in result["skipped"]]
    counts = result["counts"]
    lines.append(f"index holds {counts.get('files', 0)} file(s): {counts.get('visual', 0)} picture item(s), "
                 f"{counts.get('speech', 0)} speech segment(s)")
    return "\n".join(lines)
