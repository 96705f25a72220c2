"""Bad input across every CLI command and API endpoint: empty files, wrong types, truncated images, audio and video,
zero-length audio, one-frame videos, decompression bombs, oversize uploads, non-UTF-8 and very long text.

Each case must end in one clear sentence: one ``error:`` line on stderr and exit status 2 for the CLI (status 1 is
an internal error, i.e. a bug), the message itself at the API client for the server, which must keep serving.
Inputs are refused before any model would load (the unknown-language check alone needs Whisper's language list),
so the whole file runs in about a minute.
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import numpy as np
import pytest
import soundfile as sf
from PIL import Image

from mmdemo.cli import main as cli_main
from mmdemo.testing.speech_clips import write_video
from tests.conftest import requires_pack

pytestmark = pytest.mark.app  # starts the whole app: deselect with -m "not app" for the quick tier

ROOT = Path(__file__).resolve().parent.parent
ASSETS = ROOT / "assets"
MAX_UPLOAD_BYTES = 1024 * 1024  # the server under test is launched with MMDEMO_MAX_UPLOAD=1mb


@pytest.fixture(scope="module")
def bad(tmp_path_factory) -> dict[str, Path]:
    """Every bad input, written once for the module."""
    d = tmp_path_factory.mktemp("bad-input")
    files: dict[str, Path] = {}

    def put(name: str, data: bytes) -> None:
        files[name.replace(".", "_")] = d / name
        (d / name).write_bytes(data)

    put("empty.png", b"")
    put("empty.wav", b"")
    put("empty.mp4", b"")
    put("notes.png", b"a shopping list, not a picture\n" * 10)
    put("notes.wav", b"a shopping list, not a sound\n" * 10)
    put("notes.mp4", b"a shopping list, not a video\n" * 10)
    noise = d / "noise.png"
    Image.effect_noise((256, 256), 64).save(noise)
    put("truncated.png", noise.read_bytes()[: noise.stat().st_size // 2])
    flac = (ASSETS / "speech_en.flac").read_bytes()
    put("truncated.flac", flac[:200])  # the stream header survives, not one decodable frame
    Image.new("1", (20000, 20000)).save(d / "bomb.png")  # 400 Mpx declared, 48 kB on disk
    files["bomb_png"] = d / "bomb.png"
    Image.new("RGB", (1, 1)).save(d / "dot.png")
    files["dot_png"] = d / "dot.png"
    sf.write(d / "zero.wav", np.zeros(0, np.float32), 16000)  # a valid WAV header with no samples
    files["zero_wav"] = d / "zero.wav"
    put("latin1.txt", "café, très bien\n".encode("latin-1"))
    put("empty.csv", b"")
    put("latin1.csv", "utterance,speaker\ncafé,Kim\n".encode("latin-1"))
    put("truncated.json", b'{"segments": [{"start": 0.0, "end": 1.5, "te')
    put("big.wav", np.random.default_rng(0).bytes(MAX_UPLOAD_BYTES + 512 * 1024))
    video = write_video(d / "grey.mp4", None, seconds=2.0)
    files["grey_mp4"] = video
    put("truncated.mp4", video.read_bytes()[: video.stat().st_size // 2])
    files["one_frame_mp4"] = write_video(d / "one_frame.mp4", None, seconds=0.2)  # 5 fps: one frame
    return files


LONG_TEXT = "I am so happy today. " * 6000  # 126,000 characters: over MMDEMO_MAX_TEXT_CHARS (100,000)
LONG_PROMPT = "a red bicycle " * 200  # 2,800 characters: over the 2,000 of a prompt or question
NOT_UTF8 = "caf\udce9"  # what Python makes of the Latin-1 byte 0xE9 in a command-line argument

# -- the CLI ------------------------------------------------------------------------------------------------------
# "file:NAME" stands for the path of bad[NAME]; each case is (argv, what the one error line must say).
CLI_CASES = {
    "caption-empty": (["caption", "file:empty_png"], "the file is empty"),
    "caption-not-an-image": (["caption", "file:notes_png"], "not an image"),
    "caption-truncated": (["caption", "file:truncated_png"], "damaged or truncated"),
    "caption-bomb": (["caption", "file:bomb_png"], "too large to decode safely"),
    "caption-one-pixel": (["caption", "file:dot_png"], "too small"),
    "caption-missing": (["caption", "no-such-picture.jpg"], "no-such-picture.jpg: file not found"),
    "caption-long-question": (["caption", str(ASSETS / "captioning_cat.jpg"), "--question", LONG_PROMPT],
                              "The question is 2,800 characters long"),
    "transcribe-empty": (["transcribe", "file:empty_wav"], "the file is empty"),
    "transcribe-zero-length": (["transcribe", "file:zero_wav"], "no audio samples"),
    "transcribe-not-audio": (["transcribe", "file:notes_wav"], "not an audio or video file"),
    "transcribe-truncated": (["transcribe", "file:truncated_flac"], "could not be decoded"),
    "transcribe-image": (["transcribe", str(ASSETS / "captioning_cat.jpg")], "this image has no audio track"),
    "transcribe-silent-video": (["transcribe", "file:grey_mp4"], "this video has no audio track"),
    "transcribe-reference-not-utf8": (["transcribe", str(ASSETS / "speech_en.flac"), "--reference", "@file:latin1_txt"],
                                      "not a UTF-8 text file"),
    "transcribe-long-reference": (["transcribe", "file:empty_wav", "--reference", LONG_TEXT],
                                  "The reference text is 126,000 characters long"),
    "transcribe-beam-size-zero": (["transcribe", str(ASSETS / "speech_en.flac"), "--beam-size", "0"],
                                  "--beam-size must be a whole number from 1 to 10, not '0'."),
    "transcribe-batch-size-huge": (["transcribe", str(ASSETS / "speech_en.flac"), "--batch-size", "999"],
                                   "--batch-size must be a whole number from 1 to 32, not '999'."),
    "transcribe-long-language": (["transcribe", str(ASSETS / "speech_en.flac"), "--language", LONG_PROMPT],
                                 "Unknown language"),
    "emotion-text-not-utf8": (["emotion", "--text", NOT_UTF8], "not valid Unicode"),
    "emotion-text-file-not-utf8": (["emotion", "--text-file", "file:latin1_txt"], "not a UTF-8 text file"),
    "emotion-long-text": (["emotion", "--text", LONG_TEXT], "126,000 characters long, over the limit of 100,000"),
    "emotion-empty-text": (["emotion", "--text", "   "], "the text is empty"),
    "emotion-conversation-empty": (["emotion", "--conversation", "file:empty_csv"], "the CSV has no rows"),
    "emotion-conversation-not-utf8": (["emotion", "--conversation", "file:latin1_csv"], "not a UTF-8 text file"),
    "emotion-conversation-truncated": (["emotion", "--conversation", "file:truncated_json"], "is not JSON"),
    "emotion-conversation-image": (["emotion", "--conversation", str(ASSETS / "captioning_cat.jpg")],
                                   "a conversation must be a"),
    "emotion-bomb": (["emotion", "--image", "file:bomb_png"], "too large to decode safely"),
    "emotion-zero-length-audio": (["emotion", "--audio", "file:zero_wav"], "no audio samples"),
    "emotion-empty-video": (["emotion", "--video", "file:empty_mp4"], "the file is empty"),
    "emotion-not-a-video": (["emotion", "--video", "file:notes_mp4"], "not a readable video"),
    "emotion-truncated-video": (["emotion", "--video", "file:truncated_mp4"], "truncated.mp4:"),
    "generate-long-prompt": (["generate", LONG_PROMPT, "--out", "out.png"], "The prompt is 2,800 characters long"),
    "generate-not-utf8": (["generate", NOT_UTF8, "--out", "out.png"], "not valid Unicode"),
    "generate-empty-prompt": (["generate", "  ", "--out", "out.png"], "Write a prompt first"),
    "generate-out-is-a-folder": (["generate", "a cat", "--out", "folder.png"], "--out folder.png is a folder"),
    "generate-out-not-writable": (["generate", "a cat", "--out", "/proc/mmdemo/out.png"], "cannot create the folder"),
    "transcribe-output-not-writable": (["transcribe", "file:empty_wav", "--output", "/proc/mmdemo/out.srt"],
                                       "cannot create the folder"),
    "models-unknown-backend": (["models", "--load", "nonsense"], "unknown backend"),
    "summarize-video-empty": (["summarize-video", "file:empty_mp4"], "the file is empty"),
    "summarize-video-not-a-video": (["summarize-video", "file:notes_mp4"], "not a readable video"),
    "summarize-video-truncated": (["summarize-video", "file:truncated_mp4"], "truncated.mp4:"),
    "summarize-video-audio-file": (["summarize-video", str(ASSETS / "speech_en.flac")], "unsupported video type .flac"),
    # the declared settings' flags: each bad value is its setting's one sentence, named by its flag
    "video-negative-threshold": (["video", str(ASSETS / "video_example.mp4"), "--threshold", "-1"],
                                 "--threshold must be a number, at least 0, not '-1'."),
    "video-every-too-slow": (["video", str(ASSETS / "video_example.mp4"), "--every", "9"],
                             "--every must be a number from 0.04 to 5, not '9'."),
    "video-emotion-weights-alone": (["video", str(ASSETS / "video_example.mp4"), "--emotion-weights", "face=2"],
                                    "add --emotion-timeline"),
    "video-emotion-weights-not-a-number": (["video", str(ASSETS / "video_example.mp4"), "--emotion-timeline",
                                            "--emotion-weights", "face=lots"], "the weight of face must be a number"),
    "caption-zero-candidates": (["caption", str(ASSETS / "captioning_cat.jpg"), "--candidates", "0"],
                                "--candidates must be a whole number from 1 to 10, not '0'."),
    "caption-alpha-not-a-number": (["caption", str(ASSETS / "captioning_cat.jpg"), "--alpha", "x"],
                            "--alpha must be a number, at least 0, not 'x'."),
    "chat-top-p-over-one": (["chat", str(ASSETS / "captioning_cat.jpg"), "What is it?", "--top-p", "2"],
                            "--top-p must be a number from 0.01 to 1, not '2'."),
    "search-zero-results": (["search", "query", "a cat", "--index", "no-index", "--top", "0"],
                            "--top must be a whole number from 1 to 200, not '0'."),
    "generate-guidance-over-max": (["generate", "a cat", "--out", "out.png", "--guidance", "40"],
                                   "--guidance must be a number from 0 to 30, not '40'."),
    "generate-seed-not-a-number": (["generate", "a cat", "--out", "out.png", "--seed", "1.5"],
                                   "--seed must be a whole number from -1 to 4294967295, not '1.5'."),
}


def _resolve(arg: str, bad: dict[str, Path]) -> str:
    prefix, _, name = arg.rpartition("file:")
    return prefix + str(bad[name]) if name and arg.count("file:") == 1 and name in bad else arg


@pytest.mark.parametrize("case", CLI_CASES)
def test_cli_refuses_bad_input_in_one_line(case, bad, capsys, tmp_path, monkeypatch):
    argv, message = CLI_CASES[case]
    monkeypatch.chdir(tmp_path)  # "out.png" of the generate cases lands here (it never should)
    if "folder.png" in argv:
        (tmp_path / "folder.png").mkdir()
    status = cli_main([_resolve(a, bad) for a in argv])
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert status == 2, err  # 1 would be an internal error: a bug, not a refusal
    assert out == "" and len(lines) == 1 and lines[0].startswith("error: "), err
    assert message in lines[0]
    assert not [p for p in tmp_path.iterdir() if p.name != "folder.png"]


# -- the API of the running app -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def server(bad):
    """The whole app, launched in-process on a free 127.0.0.1 port with a 1 MB upload limit."""
    import gradio as gr
    from gradio_client import Client

    import app as studio

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MMDEMO_MAX_UPLOAD", "1mb")
        mp.setenv("MMDEMO_DIFFUSION_MODEL", "/nonexistent/diffusion-model")  # the cases must fail before it
        options = studio.launch_options([])
        assert options["server_name"] == "127.0.0.1" and options["share"] is False
        blocks = studio.build_app().queue(**studio.QUEUE)
        blocks.launch(**{**options, "server_port": None}, prevent_thread_lock=True, quiet=True)
        try:
            yield blocks, Client(blocks.local_url, verbose=False)
        finally:
            blocks.close()
    assert isinstance(blocks, gr.Blocks)


def _file(value):
    from gradio_client import handle_file

    return handle_file(str(value)) if value is not None else None


def _call(client, endpoint: str, bad: dict[str, Path], **kw):
    """One request with the tab's defaults; "file:NAME" values are uploads of bad[NAME]."""
    kw = {k: bad[v[5:]] if isinstance(v, str) and v.startswith("file:") else v for k, v in kw.items()}
    if endpoint == "/caption":
        return client.predict(_file(kw.get("image")), "dog, cat", kw.get("question", ""), "", kw.get("decoding", "beam"),
                              kw.get("candidates", 2), 6, 1.0, 0.2, 0, "", api_name="/caption")
    if endpoint == "/caption_batch":
        return client.predict([_file(f) for f in kw.get("images", [])], "dog, cat", "", "", "beam", 2, 6, 1.0, 0.2,
                              0, "", api_name="/caption_batch")
    if endpoint == "/transcribe":
        return client.predict(_file(kw.get("audio")), kw.get("task", "transcribe"), kw.get("language", ""), "",
                              kw.get("reference", ""), api_name="/transcribe")
    if endpoint == "/emotion":
        return client.predict(kw.get("text", ""), _file(kw.get("audio")), _file(kw.get("image")), _file(kw.get("video")),
                              *kw.get("weights", (1, 1, 1)),
                              api_name="/emotion")
    if endpoint == "/summarize_video":
        return client.predict(_file(kw.get("video")), "content", 0.5, "extractive", 3, api_name="/summarize_video")
    if endpoint == "/generate":
        return client.predict(kw.get("prompt", ""), "", 0, kw.get("steps", 1), 0, 64, 64, 1, False, False,
                              api_name="/generate")
    raise AssertionError(endpoint)


API_CASES = {
    "caption-empty": ("/caption", dict(image="file:empty_png"), "empty.png: the file is empty."),
    "caption-not-an-image": ("/caption", dict(image="file:notes_png"), "notes.png: not an image file"),
    "caption-truncated": ("/caption", dict(image="file:truncated_png"), "truncated.png: the image file is damaged"),
    "caption-bomb": ("/caption", dict(image="file:bomb_png"), "bomb.png: the image is too large to decode safely"),
    "caption-one-pixel": ("/caption", dict(image="file:dot_png"), "dot.png: 1x1 pixels is too small"),
    "caption-no-image": ("/caption", dict(), "Upload an image first."),
    "caption-long-question": ("/caption", dict(image=ASSETS / "captioning_cat.jpg", question=LONG_PROMPT),
                              "The question is 2,800 characters long"),
    "transcribe-empty": ("/transcribe", dict(audio="file:empty_wav"), "empty.wav: the file is empty."),
    "transcribe-zero-length": ("/transcribe", dict(audio="file:zero_wav"), "zero.wav: the file contains no audio"),
    "transcribe-not-audio": ("/transcribe", dict(audio="file:notes_wav"), "notes.wav: not an audio or video file"),
    "transcribe-truncated": ("/transcribe", dict(audio="file:truncated_flac"), "the audio could not be decoded"),
    "transcribe-image": ("/transcribe", dict(audio=ASSETS / "captioning_cat.jpg"), "this image has no audio track"),
    "transcribe-long-reference": ("/transcribe", dict(audio=ASSETS / "speech_en.flac", reference=LONG_TEXT),
                                  "The reference text is 126,000 characters long"),
    "emotion-nothing": ("/emotion", dict(), "give at least one input"),
    "emotion-long-text": ("/emotion", dict(text=LONG_TEXT), "The text is 126,000 characters long"),
    "emotion-empty-image": ("/emotion", dict(image="file:empty_png"), "empty.png: the file is empty."),
    "emotion-bomb": ("/emotion", dict(image="file:bomb_png"), "too large to decode safely"),
    "emotion-zero-length-audio": ("/emotion", dict(audio="file:zero_wav"), "no audio samples"),
    "emotion-empty-video": ("/emotion", dict(video="file:empty_mp4"), "the file is empty"),
    "emotion-not-a-video": ("/emotion", dict(video="file:notes_mp4"), "not a readable video"),
    "emotion-truncated-video": ("/emotion", dict(video="file:truncated_mp4"), "truncated.mp4:"),
    "generate-long-prompt": ("/generate", dict(prompt=LONG_PROMPT), "The prompt is 2,800 characters long"),
    "generate-empty-prompt": ("/generate", dict(prompt=""), "Write a prompt first"),
    # values the UI's widgets could never send: Gradio's own checks word them
    "caption-too-many-candidates": ("/caption", dict(image=ASSETS / "captioning_cat.jpg", candidates=1000),
                                    "Value 1000 is greater than maximum value 10"),
    "caption-unknown-decoding": ("/caption", dict(image=ASSETS / "captioning_cat.jpg", decoding="greedy"),
                                 "is not in the list of choices"),
    "caption-batch-nothing": ("/caption_batch", dict(), "No image was given."),
    "transcribe-unknown-task": ("/transcribe", dict(audio=ASSETS / "speech_en.flac", task="summarise"),
                                "is not in the list of choices"),
    "transcribe-unknown-language": ("/transcribe", dict(audio=ASSETS / "speech_en.flac", language="klingon"),
                                    "Unknown language 'klingon'"),
    "emotion-negative-weight": ("/emotion", dict(text="hello", weights=(-1, 1, 1)), "less than minimum value 0"),
    "summarize-video-nothing": ("/summarize_video", dict(), "Upload a video"),
    "summarize-video-empty": ("/summarize_video", dict(video="file:empty_mp4"), "empty.mp4: the file is empty."),
    "summarize-video-not-a-video": ("/summarize_video", dict(video="file:notes_mp4"), "notes.mp4: not a readable video"),
    "summarize-video-truncated": ("/summarize_video", dict(video="file:truncated_mp4"), "truncated.mp4:"),
    "summarize-video-audio-file": ("/summarize_video", dict(video=ASSETS / "speech_en.flac"),
                                   "unsupported video type .flac"),
    "generate-zero-steps": ("/generate", dict(prompt="a cat", steps=0), "Value 0 is less than minimum value 1"),
}


def _still_serving(client) -> None:
    rows = client.predict(api_name="/models")[1]
    assert {row["name"] for row in rows} >= {"whisper", "captioner", "diffusion"}


@pytest.mark.parametrize("case", API_CASES)
def test_api_refuses_bad_input_with_its_message(case, server, bad):
    from gradio_client.exceptions import AppError

    _, client = server
    endpoint, kwargs, message = API_CASES[case]
    with pytest.raises(AppError) as refused:
        _call(client, endpoint, bad, **kwargs)
    assert message in str(refused.value)
    assert "Internal error" not in str(refused.value)
    _still_serving(client)


# Requests gradio_client cannot make (it validates uploads and encodes JSON as UTF-8 itself) go over plain HTTP.
def _raw_call(url: str, endpoint: str, data: list) -> tuple[str, str]:
    """(event, data) of the last server-sent event of one queued API call."""
    body = json.dumps({"data": data})  # ensure_ascii: a lone surrogate travels as the escape \ud800
    with httpx.Client(base_url=url, timeout=60) as http:
        posted = http.post(f"gradio_api/call{endpoint}", content=body, headers={"content-type": "application/json"})
        assert posted.status_code == 200, posted.text
        event_id = posted.json()["event_id"]
        stream = http.get(f"gradio_api/call{endpoint}/{event_id}").text
    events = [block for block in stream.strip().split("\n\n") if block.startswith("event:")]
    kind, _, payload = events[-1].partition("\n")
    return kind.removeprefix("event:").strip(), payload.removeprefix("data:").strip()


def test_api_text_that_is_not_unicode_is_refused(server):
    blocks, client = server
    kind, payload = _raw_call(blocks.local_url, "/emotion", ["bad \ud800 text", None, None, None, 1, 1, 1, "auto"])
    assert kind == "error" and "not valid Unicode" in payload
    kind, payload = _raw_call(blocks.local_url, "/generate",
                              ["a \udfff cat", "", 0, 1, 0, 64, 64, 1, False, False])
    assert kind == "error" and "not valid Unicode" in payload
    _still_serving(client)


def test_oversize_upload_is_refused_by_client_and_server(server, bad):
    blocks, client = server
    with pytest.raises(ValueError, match="exceeds the maximum file size"):
        _call(client, "/transcribe", bad, audio="file:big_wav")
    with open(bad["big_wav"], "rb") as handle:  # a client that skips the check: the server refuses it too
        refused = httpx.post(f"{blocks.local_url}gradio_api/upload", files={"files": ("big.wav", handle)}, timeout=60)
    assert refused.status_code == 413
    _still_serving(client)


@pytest.mark.parametrize("path", ["/etc/passwd", str(ASSETS / "captioning_cat.jpg"), str(ROOT / "app.py")])
def test_server_paths_outside_the_upload_area_are_never_opened(server, path):
    blocks, client = server
    named = {"path": path, "orig_name": Path(path).name, "meta": {"_type": "gradio.FileData"}}
    # a real image from the repo: had the server opened it, this would be a caption, not an error
    kind, payload = _raw_call(blocks.local_url, "/caption", [named, "dog", "", "", "beam", 1, 6, 1.0, 0.2, 0, ""])
    assert kind == "error", payload
    kind, payload = _raw_call(blocks.local_url, "/transcribe", [named, "transcribe", "", "", ""])
    assert kind == "error", payload
    served = httpx.get(f"{blocks.local_url}gradio_api/file={path}", timeout=30)
    assert served.status_code in (403, 404) and "root:" not in served.text
    _still_serving(client)


@requires_pack("minilm")
@requires_pack("fer")
def test_after_every_refusal_real_requests_still_get_real_answers(server, bad, tmp_path):
    """Runs after the cases above on the same server: nothing they did left it broken. A one-frame video is not
    bad input: its single frame of a smiling face is read like a photo."""
    _, client = server
    out = _call(client, "/emotion", bad, text="I finally got the job and I am so happy!")
    assert out[-3]["fused"]["label"] == "joy"
    face = np.asarray(Image.open(ASSETS / "emotion_smiling_astronaut.jpg").convert("RGB").resize((320, 320)))
    one_frame = _one_frame_video(tmp_path / "face.mp4", face)
    out = _call(client, "/emotion", bad, video=one_frame)
    assert out[-3]["modalities"]["face"]["label"] == "joy"
    assert out[-3]["modalities"]["face"]["video"]["frames_sampled"] == 1


def _one_frame_video(path: Path, rgb: np.ndarray) -> Path:
    import av

    with av.open(str(path), "w") as out:
        stream = out.add_stream("mpeg4", rate=5)
        stream.width, stream.height, stream.pix_fmt = rgb.shape[1], rgb.shape[0], "yuv420p"
        for packet in [*stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")), *stream.encode()]:
            out.mux(packet)
    return path


def test_cli_one_frame_video_is_summarized_as_one_shot(bad, capsys):
    status = cli_main(["summarize-video", str(bad["one_frame_mp4"]), "--json"])
    out, err = capsys.readouterr()
    assert status == 0, err
    result = json.loads(out)
    assert len(result["shots"]) == 1 and result["shots"][0]["start"] == 0.0
    assert result["duration"] == pytest.approx(0.2, abs=0.05)


def test_api_inline_image_bomb_is_refused(server, bad):
    """An image sent inline as a data: URL skips the upload area; Gradio decodes it, under our pixel cap."""
    import base64

    blocks, client = server
    inline = "data:image/png;base64," + base64.b64encode(bad["bomb_png"].read_bytes()).decode()
    image = {"url": inline, "meta": {"_type": "gradio.FileData"}}
    kind, payload = _raw_call(blocks.local_url, "/caption", [image, "dog", "", "", "beam", 1, 6, 1.0, 0.2, 0, ""])
    assert kind == "error" and "too large to decode safely" in payload, payload
    _still_serving(client)


@requires_pack("whisper-base")
def test_truncated_audio_is_transcribed_up_to_the_damage_and_says_so(bad, tmp_path, capsys):
    """A file cut mid-stream is not refused (its start is good audio, as a media player would play it), but the
    transcript says that only part of it was heard: through the CLI and the Speech tab's handler."""
    from demos import speech as tab

    half = tmp_path / "half.mp3"
    data = (ASSETS / "speech_de.mp3").read_bytes()
    half.write_bytes(data[: len(data) // 2])
    assert cli_main(["transcribe", str(half), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["text"] and result["duration"] < 4.0
    assert result["notes"] == [f"half.mp3 is damaged or truncated: only its first {result['duration']:.1f} s "
                               "could be decoded, and only they were used."]
    *_, (text, summary, *_) = tab.run(str(half), "transcribe", "", "", "", progress=lambda *a, **k: None)
    assert text and "half.mp3 is damaged or truncated" in summary
    from mmdemo.media.audio import load_audio

    for whole in ("speech_en.flac", "speech_es.ogg", "speech_de.mp3"):  # whole files: no false alarm
        notes: list[str] = []
        load_audio(ASSETS / whole, notes=notes)
        assert notes == [], whole


# -- the protocol itself: malformed payloads, slow clients ----------------------------------------------------------
MALFORMED = {  # body posted to /gradio_api/call/<endpoint> -> (HTTP status, words of the answer)
    "not-json": (b"{data: [", 422, "JSON decode error"),
    "data-not-a-list": (b'{"data": "a cat"}', 422, "Input should be a valid list"),
    "no-data": (b'{"inputs": ["a cat"]}', 422, "Field required"),
}


@pytest.mark.parametrize("case", MALFORMED)
def test_malformed_api_payloads_are_refused_with_a_reason(case, server):
    blocks, client = server
    body, status, words = MALFORMED[case]
    answer = httpx.post(f"{blocks.local_url}gradio_api/call/emotion", content=body,
                        headers={"content-type": "application/json"}, timeout=30)
    assert answer.status_code == status and words in answer.text, answer.text
    _still_serving(client)


@pytest.mark.parametrize("data, words", [
    ([12345, "dog", "", "", "beam", 1, 6, 1.0, 0.2, 0, ""], "Input should be a valid dictionary"),  # a number
    (["a cat"], "didn't receive enough input values (needed: 11, got: 1)"),  # inputs missing
    ([{"path": None, "meta": {"_type": "gradio.FileData"}}, "dog", "", "", "beam", 1, 6, 1.0, 0.2, 0, ""],
     "Upload an image first."),  # a file with no path is no file
])
def test_wrongly_typed_api_inputs_are_one_clear_error(server, data, words):
    blocks, client = server
    kind, payload = _raw_call(blocks.local_url, "/caption", data)
    assert kind == "error" and "Internal error" not in payload and words in payload, payload
    _still_serving(client)


def test_slow_clients_do_not_hold_up_the_others(server):
    """Clients that send half a request line, half their headers or a trickle of an upload each hold only their
    own connection: the server answers everyone else meanwhile, and the trickled upload is refused at the limit."""
    import socket
    import time

    blocks, client = server
    host, port = blocks.server_name, blocks.server_port
    slow = []
    for opening in (b"GET /gradio_api/info HTT", b"POST /gradio_api/upload HTTP/1.1\r\nHost: x\r\nContent-Ty"):
        s = socket.create_connection((host, port), timeout=10)
        s.sendall(opening)
        slow.append(s)
    upload = socket.create_connection((host, port), timeout=30)
    boundary = "mmdemo-slow"
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"slow.wav\"\r\n"
            "Content-Type: audio/wav\r\n\r\n").encode()
    size = MAX_UPLOAD_BYTES * 2
    upload.sendall(f"POST /gradio_api/upload HTTP/1.1\r\nHost: {host}\r\nContent-Type: multipart/form-data; "
                   f"boundary={boundary}\r\nContent-Length: {len(head) + size + len(boundary) + 8}\r\n\r\n".encode()
                   + head)
    started = time.monotonic()
    for _ in range(3):  # answered while the slow ones hang
        upload.sendall(b"\0" * 4096)
        _still_serving(client)
    assert time.monotonic() - started < 60
    sent = 3 * 4096
    try:
        while sent < size:
            upload.sendall(b"\0" * 65536)
            sent += 65536
        upload.sendall(f"\r\n--{boundary}--\r\n".encode())
    except OSError:  # the server may close the connection as soon as the limit is passed
        pass
    reply = upload.recv(4096).decode(errors="replace")
    assert reply.startswith("HTTP/1.1 413"), reply[:200]
    for s in [*slow, upload]:
        s.close()
    _still_serving(client)
