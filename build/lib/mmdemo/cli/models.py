"""`python -m mmdemo models`: every backend, where its weights come from, and whether it is loaded."""

NAME = "models"
HELP = "list every backend with its resolved weight source"


def add_arguments(parser) -> None:
    parser.add_argument("--load", metavar="NAME", action="append", default=[],
                        help="load this backend first (repeatable), to report its device and memory")


def run(args) -> list[dict]:
    from mmdemo import backends
    from mmdemo.errors import BadInput
    from mmdemo.pipelines import used_by

    for name in args.load:
        if name not in backends.REGISTRY.names:
            raise BadInput(f"unknown backend {name!r}; choose from {', '.join(backends.REGISTRY.names)}")
        backends.get(name)
    users = used_by()
    return [dict(row, used_by=users.get(row["name"], [])) for row in backends.report()]


def render(rows: list[dict]) -> str:
    lines = [f"{'backend':<17} {'loaded':<6} source"]
    for row in rows:
        where = row["source"] or f"unavailable: {row['error']}"
        lines.append(f"{row['name']:<17} {'yes' if row['loaded'] else 'no':<6} {where}")
    return "\n".join(lines)
