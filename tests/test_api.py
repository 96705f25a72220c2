"""The API as a script meets it: each endpoint answers with only its main input, and a refused request is one line
in the server log, not a traceback."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from tests.conftest import requires_pack

pytestmark = pytest.mark.app  # starts the whole app: deselect with -m "not app" for the quick tier

ASSETS = Path(__file__).resolve().parent.parent / "assets"


@pytest.fixture(scope="module")
def client():
    from gradio_client import Client

    import app as studio

    blocks = studio.build_app().queue(**studio.QUEUE)
    blocks.launch(**{**studio.launch_options([]), "server_port": None}, prevent_thread_lock=True, quiet=True)
    try:
        yield Client(blocks.local_url, verbose=False)
    finally:
        blocks.close()


def _required(client, api_name: str) -> list[str]:
    info = client.view_api(return_format="dict", print_info=False)["named_endpoints"][api_name]
    return [p["parameter_name"] for p in info["parameters"] if not p["parameter_has_default"]]


def test_endpoints_need_only_their_main_input(client):
    assert set(_required(client, "/caption")) <= {"image"}
    assert set(_required(client, "/caption_batch")) <= {"files"}
    assert _required(client, "/emotion") == []  # any one of text, audio, image, video


@requires_pack("minilm")
def test_emotion_with_text_only(client):
    summary, *_ = client.predict(text="I got the job, I can't believe it!", api_name="/emotion")
    assert "Fused" in summary and "text" in summary


@requires_pack("efficientnet-lite0")
@requires_pack("minilm")
def test_caption_with_the_image_only(client):
    from gradio_client import handle_file

    summary, *_ = client.predict(handle_file(str(ASSETS / "captioning_cat.jpg")), api_name="/caption")
    assert "cat" in summary


def test_a_refused_request_is_one_log_line(client, caplog, capfd):
    from gradio_client.exceptions import AppError

    with caplog.at_level(logging.WARNING, logger="mmdemo.ui"), pytest.raises(AppError, match="at least one input"):
        client.predict(text="", api_name="/emotion")
    refused = [r for r in caplog.records if r.name == "mmdemo.ui"]
    assert len(refused) == 1 and "at least one input" in refused[0].getMessage() and not refused[0].exc_info
    assert "Traceback" not in capfd.readouterr().err
