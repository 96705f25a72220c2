"""What the emotion timeline costs and says on a real film: Video summarization with and without it (warm models,
alternating runs), and the timeline's rows.

    python -m bench.emotion_timeline [--film ../shared/data/video/Megamind.avi] [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

DEFAULT_FILM = Path("../shared/data/video/Megamind.avi")  # relative: run from the repository root


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--film", type=Path, default=DEFAULT_FILM)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    from mmdemo.pipelines.emotion.timeline import table_rows
    from mmdemo.pipelines.video_summary import summarize_video

    summarize_video(args.film, emotion_timeline=True)  # cold: loads every model once
    totals: dict[bool, list[float]] = {False: [], True: []}
    stage: list[float] = []
    result = None
    for _ in range(args.runs):
        for on in (False, True):  # alternating, so that the machine's load falls on both alike
            started = time.perf_counter()
            result = summarize_video(args.film, emotion_timeline=on)
            totals[on].append(time.perf_counter() - started)
            if on:
                stage.append(result.timings["emotion"])
    print(f"{args.film.name}: {result.duration:.1f} s, {os.cpu_count()} CPUs, load average "
          f"{os.getloadavg()[0]:.1f}; median of {args.runs} warm runs")
    print("| run | total (s) | emotion stage (s) |\n|---|---|---|")
    print(f"| without the emotion timeline (default) | {statistics.median(totals[False]):.2f} | - |")
    print(f"| with --emotion-timeline | {statistics.median(totals[True]):.2f} | {statistics.median(stage):.2f} |")
    timeline = result.emotion_timeline.to_dict()
    print(f"\n{len(timeline['segments'])} segments, {timeline['face_frames_sampled']} frames read for faces")
    print("| time | said | text | voice | face | fused |\n|---|---|---|---|---|---|")
    for row in table_rows(timeline):
        print(f"| {row['start']:.2f}-{row['end']:.2f} | {row['said']} | {row['text']} | {row['voice']} | "
              f"{row['face']} | {row['fused']} |")


if __name__ == "__main__":
    main()
