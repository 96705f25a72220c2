"""The soak harness: one `python app.py` process (``Server``) serves a mix of requests (speech, captioning,
video summary, emotion, text-to-image) from several clients at once (``soak``); every answer is checked (``ask``),
memory and temp usage sampled, and ``table`` prints requests per minute, p50/p95 latency per endpoint, resident
memory and temp usage over time, and each backend's load count.

Run by ``python -m bench.soak`` (the long version) and by tests/test_soak.py (48 requests).
"""

from __future__ import annotations

import itertools
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]  # the repository: app.py and assets/
ASSETS = ROOT / "assets"
SPEECH_SCRIPT = "The quick brown fox jumps over the lazy dog. Speech recognition turns spoken words into text."
JOY = "I got the job! Best day of my life!"
SADNESS = "My grandmother passed away last night and I can't stop crying."
CUT_AT = 1.0  # the generated video's one cut, in seconds
KINDS = ("speech", "caption", "video", "emotion", "generate")


# -- the server under test ----------------------------------------------------------------------------------------
class Server:
    """`python app.py` on a free port with ``env`` added; its log in ``log_path``."""

    def __init__(self, env: dict[str, str], log_path: Path):
        self.env, self.log_path = env, log_path

    def __enter__(self) -> "Server":
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        env = {k: v for k, v in os.environ.items() if k != "GRADIO_TEMP_DIR"}
        env.update(self.env, GRADIO_SERVER_PORT=str(port), GRADIO_ANALYTICS_ENABLED="False")
        self._log = self.log_path.open("w")
        self.proc = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env, stdout=self._log,
                                     stderr=subprocess.STDOUT)
        self.url = f"http://127.0.0.1:{port}/"
        deadline = time.monotonic() + 180
        while True:
            try:
                with urllib.request.urlopen(self.url, timeout=2):
                    return self
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.__exit__()
                    raise RuntimeError(f"app.py did not start:\n{self.log()}")
                time.sleep(0.2)  # polling interval while the server boots

    def __exit__(self, *exc) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self._log.close()

    def rss_mb(self) -> float:
        import psutil

        return psutil.Process(self.proc.pid).memory_info().rss / 2**20

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def folder_bytes(folder: Path) -> int:
    total = 0
    for path in folder.rglob("*"):
        try:
            total += path.stat().st_size if path.is_file() else 0
        except OSError:  # expired while we looked
            pass
    return total


# -- requests and their checks ------------------------------------------------------------------------------------
def make_inputs(folder: Path, short_speech: bool = False) -> dict:
    """The files the requests send. ``short_speech``: a 3-second espeak-ng sentence instead of the 8-second asset
    (the soak test's budget of time; needs espeak-ng)."""
    from PIL import Image

    from mmdemo.testing.videos import Scene, make_video

    folder.mkdir(parents=True, exist_ok=True)
    speech, script = ASSETS / "speech_en.flac", SPEECH_SCRIPT
    if short_speech:
        from mmdemo.testing.speech_clips import espeak

        script = "The quick brown fox jumps over the lazy dog."
        speech = espeak(folder / "fox.wav", script, "en", 160)
    video = make_video(folder / "two-shots.mp4", [Scene(CUT_AT, colour=(200, 40, 40)),
                                                  Scene(1.0, photo=Image.open(ASSETS / "captioning_cat.jpg"))],
                       size=(160, 96), fps=10)
    return {"speech": speech, "script": script, "cat": ASSETS / "captioning_cat.jpg",
            "coffee": ASSETS / "captioning_coffee.jpg", "video": Path(video.path)}


def ask(client, kind: str, n: int, inputs: dict) -> None:
    """One request of ``kind``; raises AssertionError when the answer is wrong."""
    from gradio_client import handle_file

    if kind == "speech":
        from mmdemo.pipelines.speech.scoring import score

        out = client.predict(handle_file(str(inputs["speech"])), api_name="/transcribe")
        wer = score(inputs["script"], out[0], "en")["wer"]
        assert wer <= 0.25 and len(out[3]) == 4, f"transcript {out[0]!r} (WER {wer:.2f}), {len(out[3])} files"
    elif kind == "caption":
        what = ("cat", "coffee")[n % 2]
        out = client.predict(handle_file(str(inputs[what])), "cat, cup of coffee, rocket", api_name="/caption")
        top = out[-1]["labels"][0]["label"]
        assert top == {"cat": "cat", "coffee": "cup of coffee"}[what], f"{what}: top label {top!r}"
    elif kind == "video":
        out = client.predict(handle_file(str(inputs["video"])), "content", 0.1, "extractive", 2,
                             api_name="/summarize_video")
        starts = [s["start"] for s in out[-1]["shots"]]
        assert len(starts) == 2 and abs(starts[1] - CUT_AT) <= 0.3 and len(out[4]) == 3, f"shots at {starts}"
    elif kind == "emotion":
        text, label = ((JOY, "joy"), (SADNESS, "sadness"))[n % 2]
        out = client.predict(text, api_name="/emotion")
        assert out[-3]["fused"]["label"] == label, f"{text!r}: {out[-3]['fused']['label']}"
    elif kind == "generate":
        out = client.predict("a lighthouse at dusk", "", n, 2, 0, 64, 64, 1, False, False, api_name="/generate")
        assert len(out[1]) == 1 and f"Seed: {n}," in out[4], f"gallery {len(out[1])}, parameters {out[4]!r}"
    else:
        raise ValueError(kind)


@dataclass
class Result:
    seconds: float = 0.0
    latencies: dict[str, list[float]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    samples: list[tuple[float, float, int]] = field(default_factory=list)  # (t, RSS MB, temp bytes)
    loads: dict[str, int] = field(default_factory=dict)
    memory_mb: dict[str, float | None] = field(default_factory=dict)  # of the backends loaded at the end
    requests: int = 0

    def rss_growth_second_half(self) -> float:
        """Resident memory at the end over memory at the half-way point, minus 1 (medians of nearby samples)."""
        rss = [s[1] for s in self.samples]
        half, tail = len(rss) // 2, max(len(rss) // 8, 1)
        mid = statistics.median(rss[max(half - tail, 0): half + tail])
        return statistics.median(rss[-tail:]) / mid - 1


def soak(server: Server, inputs: dict, output_root: Path, clients: int = 4, requests: int | None = 48,
         seconds: float | None = None, kinds=KINDS, sample_every: float = 1.0) -> Result:
    """``clients`` threads, each with its own gradio_client, send ``kinds`` round-robin until ``requests`` were sent
    or ``seconds`` passed; memory and temp usage are sampled meanwhile."""
    from gradio_client import Client

    result, lock, stop = Result(), threading.Lock(), threading.Event()
    counter = itertools.count()
    started = time.monotonic()

    def more() -> int | None:
        n = next(counter)
        if requests is not None and n >= requests or seconds is not None and time.monotonic() - started > seconds:
            return None
        return n

    def client_loop() -> None:
        client = Client(server.url, verbose=False)
        while (n := more()) is not None:
            kind = kinds[n % len(kinds)]
            t0 = time.monotonic()
            try:
                ask(client, kind, n // len(kinds), inputs)
            except Exception as exc:  # a wrong answer or a refused request: reported, not fatal to the soak
                with lock:
                    result.errors.append(f"{kind} #{n}: {type(exc).__name__}: {exc}")
            with lock:
                result.latencies.setdefault(kind, []).append(time.monotonic() - t0)
                result.requests += 1

    def sampler() -> None:
        while not stop.is_set():
            result.samples.append((time.monotonic() - started, server.rss_mb(), folder_bytes(output_root)))
            stop.wait(sample_every)

    watcher = threading.Thread(target=sampler, daemon=True)
    watcher.start()
    threads = [threading.Thread(target=client_loop) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    result.seconds = time.monotonic() - started
    stop.set()
    watcher.join()
    result.samples.append((result.seconds, server.rss_mb(), folder_bytes(output_root)))
    report = Client(server.url, verbose=False).predict(api_name="/models")[1]
    result.loads = {row["name"]: row["loads"] for row in report if row["loads"]}
    result.memory_mb = {row["name"]: row["memory_mb"] for row in report if row["loads"]}
    return result


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(round(q * (len(ordered) - 1))), len(ordered) - 1)]


def table(result: Result, clients: int, budget_gb: str, ttl: str, machine: str) -> str:
    lines = [f"{machine}", "",
             f"{result.requests} requests from {clients} clients in {result.seconds / 60:.1f} min "
             f"({result.requests / result.seconds * 60:.1f} per minute), {len(result.errors)} wrong or failed; "
             f"MMDEMO_MAX_MEMORY_GB={budget_gb}, MMDEMO_OUTPUT_TTL={ttl} s", "",
             "| endpoint | requests | p50 latency (s) | p95 latency (s) |", "|---|---:|---:|---:|"]
    for kind, values in sorted(result.latencies.items()):
        lines.append(f"| {kind} | {len(values)} | {percentile(values, 0.5):.2f} | {percentile(values, 0.95):.2f} |")
    lines += ["", "| minute | resident memory (MB) | request files + upload cache (MB) |", "|---:|---:|---:|"]
    step = max(len(result.samples) // 10, 1)
    for t, rss, temp in result.samples[::step] + ([result.samples[-1]] if len(result.samples) % step != 1 else []):
        lines.append(f"| {t / 60:.1f} | {rss:.0f} | {temp / 2**20:.1f} |")
    lines += ["", f"Resident memory growth over the second half: {result.rss_growth_second_half() * 100:+.1f}%",
              "Loads per backend: " + ", ".join(f"{k} {v}" for k, v in sorted(result.loads.items())),
              "Memory of the backends loaded at the end (MB): "
              + ", ".join(f"{k} {v}" for k, v in sorted(result.memory_mb.items()) if v)]
    lines += [f"- {e}" for e in result.errors[:10]]
    return "\n".join(lines)
