"""`python -m mmdemo evaluate TASK MANIFEST [--config NAME:key=value,... ...] [--engine local|ray] [--out DIR]
[--json]`: a data set through one application under one or more configs, with metrics (the Evaluate tab's twin)."""

NAME = "evaluate"
HELP = "evaluate a data set (a CSV manifest) on speech, emotion, caption, video or text-to-image, config by config"



def add_arguments(parser) -> None:
    from mmdemo.applications import evaluated  # the records, not the tasks module: the parser must stay light

    names = [app.key for app in evaluated()]
    aliases = [alias for app in evaluated() for alias in app.aliases]
    parser.add_argument("task", metavar="TASK", choices=names + aliases, help=" | ".join(names))
    parser.add_argument("manifest", metavar="MANIFEST",
                        help="CSV with a header; relative file paths resolve against its folder")
    parser.add_argument("--config", metavar="NAME:key=value,...", action="extend", nargs="+", default=[],
                        help="a named config (repeatable); keys are the task's settings, listed by a bad key's "
                             "message and in docs/evaluate.md; default: one config named 'default'")
    parser.add_argument("--engine", choices=["local", "ray"], default="local",
                        help="run items in this process (local) or through Ray Data actors (ray)")
    parser.add_argument("--out", metavar="DIR", help="write report.json, report.csv and report.html here")


def run(args) -> dict:
    import sys

    from mmdemo.pipelines import evaluation

    def progress(fraction: float, message: str) -> None:
        print(f"\r{message}   ", end="" if fraction < 1 else "\n", file=sys.stderr, flush=True)

    report, paths = evaluation.run(args.task, args.manifest, args.config or None, engine=args.engine,
                                   out=args.out, progress=progress if sys.stderr.isatty() else None,
                                   reports=bool(args.out))
    for s in report.skipped:
        print(f"skipped row {s['row']}: {s['reason']}", file=sys.stderr)
    result = report.to_dict()
    if args.out:
        result["reports"] = paths
    return result


def render(result: dict) -> str:
    from mmdemo.pipelines.evaluation import Report, metrics_table

    rows = metrics_table(Report.from_dict(result))
    names = [c["name"] for c in result["configs"]]
    cells = [["metric", *names]] + [[r["metric"], *("" if r[n] is None else f"{r[n]:g}" for n in names)] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(cells[0]))]
    lines = [f"{result['task']}: {result['n']} items, {len(result['skipped'])} rows skipped, "
             f"engine {result['engine']}"]
    lines += ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in cells]
    for config in result["configs"]:
        if config["metrics"].get("confusion"):
            labels = config["metrics"]["labels"]
            lines.append(f"\nconfusion ({config['name']}; rows: reference, columns: output)")
            lines.append(" " * 10 + " ".join(f"{x[:8]:>8}" for x in labels))
            lines += [f"{label[:9]:<10}" + " ".join(f"{v:>8}" for v in row)
                      for label, row in zip(labels, config["metrics"]["confusion"])]
    for name, path in result.get("reports", {}).items():
        lines.append(f"{name}: {path}")
    return "\n".join(lines)
