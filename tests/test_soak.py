"""Soak: 48 mixed requests from 4 clients against one `python app.py` process whose memory budget forces models
out and back in: every answer right, resident memory flat after warm-up, request files and uploads bounded by the
TTL, no traceback in the log, and each backend loaded as often as the budget requires and no more.
The long version is `python -m bench.soak --minutes N` (docs/server.md)."""

from __future__ import annotations

import pytest

from mmdemo.testing import soak
from tests.conftest import requires_espeak, requires_pack

pytestmark = pytest.mark.app  # starts the whole app: deselect with -m "not app" for the quick tier

# cheap requests more often than the slow ones, so 48 of them fit in a couple of minutes on 2 shared cores
MIX = ("emotion", "generate", "caption", "speech", "emotion", "generate", "video", "caption")
BUDGET_GB = "0.17"  # whisper 69 MB + MiniLM 87 MB + EfficientNet 18 MB + tiny SD 11 MB do not all fit
TTL_S = "60"  # above the longest queue wait here: an upload must outlive its queued request (docs/server.md)


@requires_pack("whisper-base")
@requires_pack("silero-vad")
@requires_pack("minilm")
@requires_pack("efficientnet-lite0")
@requires_espeak  # the short speech clip
def test_soak_48_mixed_requests_from_4_clients(tiny_models, tmp_path):
    inputs = soak.make_inputs(tmp_path / "inputs", short_speech=True)
    root = tmp_path / "root"
    env = {"MMDEMO_OUTPUT_DIR": str(root), "MMDEMO_OUTPUT_TTL": TTL_S, "MMDEMO_MAX_MEMORY_GB": BUDGET_GB,
           "MMDEMO_DIFFUSION_MODEL": str(tiny_models.get("sd")), "MMDEMO_TAESD_MODEL": ""}
    with soak.Server(env, tmp_path / "server.log") as server:
        result = soak.soak(server, inputs, root, clients=4, requests=48, kinds=MIX, sample_every=0.5)
        log = server.log()
    print(soak.table(result, 4, BUDGET_GB, TTL_S, "soak test"))

    assert result.requests == 48 and not result.errors, result.errors
    assert "Traceback" not in log, log[-3000:]
    growth = result.rss_growth_second_half()
    assert growth < 0.15, f"resident memory grew {growth:.0%} over the second half"
    peak_temp = max(temp for _, _, temp in result.samples)
    assert peak_temp < 40 * 2**20, f"request files and uploads reached {peak_temp / 2**20:.0f} MB"

    per_kind = {kind: MIX.count(kind) * 48 // len(MIX) for kind in set(MIX)}
    uses = {"whisper": per_kind["speech"], "diffusion": per_kind["generate"],
            "embedder": per_kind["emotion"] + per_kind["caption"] + per_kind["video"],
            "image_classifier": per_kind["caption"] + per_kind["video"]}
    assert set(result.loads) >= set(uses), result.loads  # each model the mix needs was loaded...
    assert all(result.loads[name] <= n for name, n in uses.items()), result.loads  # ...never more than once a use
    assert sum(result.loads.values()) > len(result.loads), f"the budget forced no model out: {result.loads}"
    assert sum(v for v in result.memory_mb.values() if v) <= float(BUDGET_GB) * 1024 + max(
        v for v in result.memory_mb.values() if v), result.memory_mb  # the budget held (the newest may exceed it)


if __name__ == "__main__":  # pragma: no cover
    pytest.main([__file__, "-q", "-s"])
