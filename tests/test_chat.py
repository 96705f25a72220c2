"""Visual chat with a tiny random SmolVLM loaded through the registry: one turn, streaming, seeds, history, Stop,
context trimming, video frames, bad input, no weights, the CLI and the /chat endpoint. The model's words are noise:
the tests check the wiring, never the answers' quality."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from mmdemo import backends, hub
from mmdemo.errors import BackendUnavailable, BadInput
from mmdemo.pipelines import chat

pytestmark = pytest.mark.app  # starts the whole app: deselect with -m "not app" for the quick tier

ROOT = Path(__file__).resolve().parent.parent
CAT = ROOT / "assets" / "captioning_cat.jpg"
COFFEE = ROOT / "assets" / "captioning_coffee.jpg"
VIDEO = ROOT / "assets" / "video_example.mp4"


@pytest.fixture
def tiny_chat(tiny_models, use_backend):
    folder = tiny_models.get("smolvlm")
    use_backend("chat", folder)
    return folder


@pytest.fixture(scope="module")
def pictures():
    return chat.load_pictures([CAT, COFFEE])[0]


def test_one_turn_answers_with_text_and_the_whole_conversation(tiny_chat, pictures):
    reply = chat.chat(pictures, "What is on the table?", system="Answer briefly.", max_new_tokens=8)
    assert reply.done and not reply.stopped and isinstance(reply.answer, str) and reply.answer
    assert reply.messages == [{"role": "system", "content": "Answer briefly."},
                              {"role": "user", "content": "What is on the table?"},
                              {"role": "assistant", "content": reply.answer}]
    assert reply.model == str(tiny_chat.resolve()) and reply.dropped_turns == 0
    # the prompt tokens counted for trimming are the ones the processor really feeds the model
    model = backends.get("chat")
    conversation = chat.model_conversation("Answer briefly.", [[reply.messages[1]]], pictures)
    fed = model.processor(text=[model.render(conversation)], images=[[p.image for p in pictures]],
                          return_tensors="pt")["input_ids"]
    assert reply.prompt_tokens == fed.shape[1]
    assert 1 <= reply.new_tokens <= 8
    assert backends.REGISTRY.load_count("chat") == 1
    assert json.loads(json.dumps(reply.to_dict()))["answer"] == reply.answer


def test_the_answer_streams_as_growing_partials(tiny_chat, pictures):
    replies = list(chat.stream_chat(pictures, "Describe the picture.", max_new_tokens=24))
    partial, final = replies[:-1], replies[-1]
    assert len(partial) >= 2 and not any(r.done for r in partial) and final.done
    for before, after in zip(partial, partial[1:]):
        assert after.answer.startswith(before.answer) and len(after.answer) > len(before.answer)
    assert final.answer == partial[-1].answer.strip()


def test_a_seed_makes_sampling_reproducible_and_zero_temperature_is_greedy(tiny_chat, pictures):
    def answer(**options):
        return chat.chat(pictures, "What is this?", max_new_tokens=10, **options).answer

    assert answer(temperature=1.0, seed=1) == answer(temperature=1.0, seed=1)
    assert len({answer(temperature=1.0, seed=seed) for seed in range(4)}) > 1
    assert answer(temperature=0.0, seed=1) == answer(temperature=0.0, seed=2)


def test_history_continues_the_conversation(tiny_chat, pictures):
    first = chat.chat(pictures, "What is this?", system="Be brief.", max_new_tokens=6)
    second = chat.chat(pictures, "And the colour?", history=first.messages, max_new_tokens=6)
    assert second.messages[:3] == first.messages  # the system prompt comes back from the history
    assert second.messages[3:] == [{"role": "user", "content": "And the colour?"},
                                   {"role": "assistant", "content": second.answer}]
    assert second.prompt_tokens > first.prompt_tokens  # the model read the first turn too
    # the chatbot's own message format (content as parts) is history too
    gradio_style = [{"role": m["role"], "content": [{"type": "text", "text": m["content"]}], "metadata": None}
                    for m in first.messages]
    assert chat.chat(pictures, "And the colour?", history=gradio_style, max_new_tokens=6).answer == second.answer


def test_a_long_conversation_drops_its_oldest_turns_and_says_so(tiny_chat, pictures):
    model = backends.get("chat")
    history = []
    for i in range(12):
        history += [{"role": "user", "content": f"Question {i}: " + "what about the dog in the park? " * 4},
                    {"role": "assistant", "content": "a dog sitting on the grass with a red ball " * 3}]
    reply = chat.chat(pictures, "Last question?", history=history, max_new_tokens=32)
    assert reply.dropped_turns > 0
    assert any(f"oldest {reply.dropped_turns} turns were left out" in note for note in reply.notes)
    assert reply.prompt_tokens <= model.context_length - 32
    assert reply.messages[:-2] == history  # the record keeps everything; only the model's view was trimmed
    with pytest.raises(BadInput, match="tokens"):
        chat.chat(pictures, "why " * 600, max_new_tokens=32)


def test_stop_ends_the_answer_early(tiny_chat, pictures):
    stop = threading.Event()
    replies = []
    for reply in chat.stream_chat(pictures, "Tell me a long story.", max_new_tokens=400, stop=stop):
        replies.append(reply)
        stop.set()
    assert replies[-1].stopped and any("Stopped" in n for n in replies[-1].notes)
    assert replies[-1].new_tokens < 20  # a token or two after the flag, not 400
    # a reader that walks away (a closed browser) stops generation too: no worker left behind
    stream = chat.stream_chat(pictures, "Tell me a long story.", max_new_tokens=400)
    next(stream)
    stream.close()
    assert not [t for t in threading.enumerate() if t.name == "chat-generate"]


def test_a_video_is_a_few_frames_labelled_with_their_times(tiny_chat):
    pictures, notes = chat.load_pictures([VIDEO], frames=3)
    assert len(pictures) == 3 and all(p.time is not None for p in pictures)
    times = [p.time for p in pictures]
    assert times == sorted(times) and times[0] > 0
    assert notes and "3 frames" in notes[0] and chat.clock(times[1]) in notes[0]
    model = backends.get("chat")
    prompt = model.render(chat.model_conversation(None, [[{"role": "user", "content": "what happens?"}]], pictures))
    assert prompt.count("Frame from video_example.mp4 at ") == 3
    # frames are shown whole (one view each, as SmolVLM's video mode), photos split into tiles as usual
    images = [p.image for p in pictures]
    assert not chat.split_images(pictures) and chat.split_images(chat.load_pictures([CAT])[0])
    assert model.image_tokens(images, split=False) < model.image_tokens(images, split=True)
    reply = chat.chat(pictures, "What happens?", max_new_tokens=4)
    fed = model.processor(text=[prompt.replace("what happens?", "What happens?")], images=[images],
                          return_tensors="pt", do_image_splitting=False)["input_ids"]
    assert reply.done and reply.prompt_tokens == fed.shape[1]


def test_bad_input_is_one_sentence(tiny_chat, pictures, tmp_path):
    with pytest.raises(BadInput, match="at least one image"):
        chat.chat([], "What is this?")
    fake = tmp_path / "photo.jpg"
    fake.write_text("not an image")
    with pytest.raises(BadInput, match="photo.jpg: not an image"):
        chat.load_pictures([fake])
    with pytest.raises(BadInput, match="question is empty"):
        chat.chat(pictures, "   ")
    with pytest.raises(BadInput, match="History message 1"):
        chat.chat(pictures, "Why?", history=[{"who": "me"}])
    with pytest.raises(BadInput, match="The temperature must be a number from 0 to 2"):
        chat.chat(pictures, "Why?", temperature=-1)
    with pytest.raises(BadInput, match="limit of 8"):
        chat.load_pictures([CAT] * 9)


def _mmdemo(*args, env=None):
    quiet = {"HF_HUB_DISABLE_PROGRESS_BARS", "TRANSFORMERS_VERBOSITY", "DIFFUSERS_VERBOSITY",
             "TRANSFORMERS_NO_ADVISORY_WARNINGS"}
    base = {k: v for k, v in os.environ.items() if k not in quiet}
    return subprocess.run([sys.executable, "-m", "mmdemo", *args], cwd=ROOT, env={**base, **(env or {})},
                          capture_output=True, text=True, timeout=300)


def test_no_weights_is_one_sentence_naming_the_variable(monkeypatch, tmp_path):
    monkeypatch.setattr(hub, "hub_reachable", lambda: False)
    monkeypatch.setattr(hub, "cached_snapshot", lambda repo_id: None)
    monkeypatch.delenv("MMDEMO_CHAT_MODEL", raising=False)
    backends.unload("chat")
    with pytest.raises(BackendUnavailable, match="MMDEMO_CHAT_MODEL"):
        chat.chat(chat.load_pictures([CAT])[0], "What is this?")
    env = {"MMDEMO_CHAT_MODEL": "", "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path)}
    proc = _mmdemo("chat", str(CAT), "What is this?", env=env)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("error: ") and "MMDEMO_CHAT_MODEL" in proc.stderr


def test_a_model_without_a_chat_template_is_refused_by_name(tiny_models, use_backend, tmp_path):
    import shutil

    folder = shutil.copytree(tiny_models.get("smolvlm"), tmp_path / "no-template")
    (folder / "chat_template.jinja").unlink()
    use_backend("chat", folder)
    with pytest.raises(BackendUnavailable, match="no chat template.*MMDEMO_CHAT_MODEL"):
        backends.get("chat")


def test_cli_one_turn_then_history(tiny_chat, tmp_path, capsys):
    from mmdemo.cli import main

    assert main(["chat", str(CAT), "What is this?", "--json", "--max-new-tokens", "5", "--system", "Be brief."]) == 0
    first = json.loads(capsys.readouterr().out)
    assert set(first) >= {"answer", "messages", "notes", "model", "seconds"}
    history = tmp_path / "conversation.json"
    history.write_text(json.dumps(first))  # a previous --json output is a history file as it is
    assert main(["chat", str(CAT), "Why?", "--history", str(history), "--json", "--max-new-tokens", "5"]) == 0
    second = json.loads(capsys.readouterr().out)
    assert second["messages"][:3] == first["messages"] and second["messages"][3]["content"] == "Why?"

    history.write_text('[{"role": "user", "content": "hi"')
    assert main(["chat", str(CAT), "Why?", "--history", str(history)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "not valid JSON" in err and err.count("\n") == 1
    assert main(["chat", "What is this?"]) == 2
    assert "at least one image" in capsys.readouterr().err


def test_the_chat_endpoint_answers(tiny_chat):
    from gradio_client import Client, handle_file

    import app as studio

    blocks = studio.build_app().queue(**studio.QUEUE)
    blocks.launch(**{**studio.launch_options([]), "server_port": None}, prevent_thread_lock=True, quiet=True)
    try:
        client = Client(blocks.local_url, verbose=False)
        info = client.view_api(return_format="dict", print_info=False)["named_endpoints"]["/chat"]
        assert {p["parameter_name"] for p in info["parameters"] if not p["parameter_has_default"]} <= {"files",
                                                                                                      "question"}
        messages, status, question = client.predict(files=[handle_file(str(CAT))], question="What is this?",
                                                    system="Be brief.", max_new_tokens=5, api_name="/chat")
        assert [m["role"] for m in messages] == ["user", "assistant"] and question == ""
        messages, _, _ = client.predict(files=[handle_file(str(CAT))], question="Why?", history=messages,
                                        system="Be brief.", max_new_tokens=5, api_name="/chat")
        assert [m["role"] for m in messages] == ["user", "assistant"] * 2
        assert "prompt" in status
        from gradio_client.exceptions import AppError

        with pytest.raises(AppError, match="question is empty"):
            client.predict(files=[handle_file(str(CAT))], question=" ", api_name="/chat")
    finally:
        blocks.close()
