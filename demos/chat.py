"""Visual chat tab: images (or a video, as a few frames) and a multi-turn conversation about them with a
vision-language model, the answer streamed as it is written; Stop, a system prompt and sampling settings."""

from __future__ import annotations

import threading

import gradio as gr

from demos.common import gate_features, gpu, user_errors
from demos.controls import control
from mmdemo.pipelines import chat


_running: dict[str, threading.Event] = {}  # session -> stop flag of its answer in progress
_running_lock = threading.Lock()


def _key(request: gr.Request | None) -> str:
    return getattr(request, "session_hash", None) or "default"


def _paths(files) -> list[str]:
    return [f if isinstance(f, str) else getattr(f, "name", f) for f in (files or [])]


def _status(notes: list[str]) -> str:
    return "\n\n".join(f"*{note}*" for note in dict.fromkeys(notes))


@user_errors
def show_pictures(files, frames=None):
    """What the model will see: the images, and the frames taken from a video with their times."""
    pictures, notes = chat.load_pictures(_paths(files), frames=frames)
    return [(p.image, p.label or p.name) for p in pictures], _status(notes)


@gpu
@user_errors
def respond(files=None, question=None, history=None, system=None, max_new_tokens=None, temperature=None, top_p=None,
            seed=None, frames=None, request: gr.Request = None):
    """Streams (conversation, status, question box): the answer grows in the last message. Defaults on every
    parameter but the images and the question, so an API call needs only those."""
    pictures, notes = chat.load_pictures(_paths(files), frames=frames)
    stop = threading.Event()
    key = _key(request)
    with _running_lock:
        _running[key] = stop
    replies = chat.stream_chat(pictures, question, history, system, max_new_tokens=max_new_tokens,
                               temperature=temperature, top_p=top_p, seed=seed, notes=notes, stop=stop)
    try:
        for reply in replies:
            status = _status(reply.notes) if reply.done else "*writing...*"
            if reply.done:
                status += f"\n\n{reply.model}: {reply.seconds:.1f} s, prompt {reply.prompt_tokens:,} tokens"
            # the system prompt lives in its own box and goes with every turn; the chat box shows the dialogue
            yield [m for m in reply.messages if m["role"] != "system"], status.strip(), ""
    finally:
        replies.close()  # a cancelled event or a closed browser ends the generation at once
        with _running_lock:
            if _running.get(key) is stop:
                del _running[key]


def stop_answer(request: gr.Request):
    with _running_lock:
        flag = _running.get(_key(request))
    if flag is not None:
        flag.set()


def build() -> None:
    gr.Markdown(
        "Chat about images with a small instruct vision-language model (SmolVLM2 by default; any "
        "image-text-to-text model through `MMDEMO_CHAT_MODEL`). A video is shown to the model as a few frames, "
        "each labelled with its time. The answer streams as it is written; the oldest turns are left out, and "
        "the status says so, when the conversation outgrows the model's context."
    )
    notice = gr.Markdown()
    with gr.Row():
        with gr.Column(scale=2):
            files = gr.File(file_count="multiple", file_types=["image", "video"], label="Images or a video")
            gallery = gr.Gallery(label="What the model sees", columns=4, height=220, interactive=False)
            with gr.Accordion("Settings", open=False):
                system = gr.Textbox(label="System prompt", lines=2,
                                    placeholder="You are a careful assistant. Answer in one sentence.")
                max_new_tokens = control(chat.Options, "max_new_tokens")
                temperature = control(chat.Options, "temperature")
                top_p = control(chat.Options, "top_p", minimum=0.05)
                seed = control(chat.Options, "seed", number=True)
                frames = control(chat.Options, "frames")
        with gr.Column(scale=3):
            conversation = gr.Chatbot(label="Conversation", height=420, buttons=["copy", "copy_all"])
            question = gr.Textbox(label="Question", placeholder="What is happening in the picture?", lines=2)
            with gr.Row():
                send = gr.Button("Send", variant="primary")
                stop = gr.Button("Stop", variant="stop")
                clear = gr.Button("Clear conversation")
            status = gr.Markdown()

    inputs = [files, question, conversation, system, max_new_tokens, temperature, top_p, seed, frames]
    outputs = [conversation, status, question]
    send.click(respond, inputs, outputs, api_name="chat", concurrency_limit=1, concurrency_id=chat.SLOT)
    question.submit(respond, inputs, outputs, api_visibility="private", concurrency_limit=1,
                    concurrency_id=chat.SLOT)
    stop.click(stop_answer, None, None, queue=False, api_visibility="private")
    clear.click(lambda: ([], ""), None, [conversation, status], queue=False, api_visibility="private")
    for trigger in (files.change, frames.release):
        trigger(show_pictures, [files, frames], [gallery, status], api_visibility="private")
    # without weights the question cannot be asked (it would only fail); the pictures can still be looked at
    gate_features(notice, {"chat (a vision-language model)": ("chat", [question, send, stop])})
