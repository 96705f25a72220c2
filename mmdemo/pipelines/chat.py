"""Visual chat: a multi-turn conversation about images (or a few frames of a video) with an instruct
vision-language model, streamed token by token.

    pictures, notes = load_pictures(["cat.jpg", "clip.mp4"])        # a video becomes a few labelled frames
    for reply in stream_chat(pictures, "What is the cat doing?"):    # growing partial answers, the last one final
        print(reply.answer)
    reply = chat(pictures, "And now?", history=reply.messages)       # the next turn
    reply.to_dict()   # {"answer", "messages", "notes", "model", "seconds", "stopped", "dropped_turns"}

``messages`` is the whole conversation as plain ``{"role", "content"}`` messages (a system prompt first when there is
one): what the CLI's ``--json`` prints and ``--history`` reads back. The images belong to the conversation, not to
one message: they are shown to the model in the oldest user turn it reads. When the conversation is longer than
the model's context, the oldest turns are left out (the system prompt, the images and the latest question always
stay) and a note says how many.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from mmdemo import applications, backends, options
from mmdemo.timecode import clock
from mmdemo.errors import BadInput
from mmdemo.media.image import load_image
from mmdemo.media.text import MAX_PROMPT_CHARS, check_text, max_text_chars
from mmdemo.media.video import EXTENSIONS as VIDEO_EXTENSIONS
from mmdemo.media.video import probe, sample_frames
from mmdemo.options import MAX_SEED, setting

# what it uses and where its tab queues: its record in mmdemo.applications
BACKENDS, SLOT = applications.of_pipeline(__name__).backends, applications.of_pipeline(__name__).slot

MAX_IMAGES = 8  # each image costs up to ~1,100 tokens in SmolVLM2 (4x4 tiles + a global view)
DEFAULT_FRAMES = 4  # frames taken from a video
MAX_FRAMES = 8
FRAME_SIDE = 768  # frames are decoded at this size: the processor resizes further anyway
DEFAULT_MAX_NEW_TOKENS = 256
MAX_NEW_TOKENS = 2048
MAX_TEMPERATURE = 2.0
DEFAULT_TOP_P = 0.9
ROLES = ("system", "user", "assistant")


@dataclass
class Picture:
    """An image the conversation is about; ``label`` says where a video frame comes from (None for a photo)."""

    image: object  # RGB PIL image
    name: str
    time: float | None = None  # seconds from the start of the video, for a video frame

    @property
    def label(self) -> str | None:
        return None if self.time is None else f"{self.name} at {clock(self.time)}"


@dataclass
class ChatReply:
    answer: str
    messages: list[dict]  # the whole conversation, this answer included
    notes: list[str] = field(default_factory=list)
    model: str = ""
    seconds: float = 0.0
    done: bool = False  # False while the answer is still streaming
    stopped: bool = False  # Stop ended the answer before the model did
    dropped_turns: int = 0  # oldest turns the model did not read (over its context)
    prompt_tokens: int = 0
    new_tokens: int = 0

    def to_dict(self) -> dict:
        return {"answer": self.answer, "messages": self.messages, "notes": list(self.notes), "model": self.model,
                "seconds": round(self.seconds, 3), "stopped": self.stopped, "dropped_turns": self.dropped_turns,
                "prompt_tokens": self.prompt_tokens, "new_tokens": self.new_tokens}


# -- inputs ------------------------------------------------------------------------------------------------------
def load_pictures(paths, frames: int | None = None) -> tuple[list[Picture], list[str]]:
    """Images from files (PIL images pass through), and ``frames`` evenly spaced frames from each video, each
    labelled with its time; plus notes saying which frames were taken."""
    frames = Options(frames=frames).frames
    pictures: list[Picture] = []
    notes: list[str] = []
    for item in paths or []:
        if isinstance(item, (str, Path)) and Path(item).suffix.lower() in VIDEO_EXTENSIONS:
            taken = video_frames(item, int(frames), notes)
            pictures += taken
            notes.append(f"{Path(item).name}: {len(taken)} frames, at "
                         + ", ".join(clock(p.time) for p in taken) + ".")
        else:
            name = Path(item).name if isinstance(item, (str, Path)) else f"image {len(pictures) + 1}"
            pictures.append(Picture(load_image(item, name=name), name))
    if len(pictures) > MAX_IMAGES:
        raise BadInput(f"{len(pictures)} images (video frames included) is more than the limit of {MAX_IMAGES}.")
    return pictures, notes


def video_frames(path, count: int, notes: list[str] | None = None) -> list[Picture]:
    """``count`` frames at the middles of equal slices of the video (never the black first frame of a fade-in)."""
    info = probe(path)
    times = [info.duration * (i + 0.5) / count for i in range(count)]
    name = Path(path).name
    return [Picture(image, name, t)
            for t, image in sample_frames(path, times=times, max_side=FRAME_SIDE, notes=notes)]


def read_history(history) -> list[dict]:
    """Earlier messages as plain ``{"role", "content": str}`` dicts; also takes Gradio's chatbot messages (content as
    a list of parts or a dict). BadInput for anything else."""
    if history is None:
        return []
    if not isinstance(history, list):
        raise BadInput("The conversation history must be a list of {\"role\", \"content\"} messages.")
    messages = []
    for i, message in enumerate(history):
        if not isinstance(message, dict) or message.get("role") not in ROLES or "content" not in message:
            raise BadInput(f"History message {i + 1} is not a {{\"role\": user|assistant|system, \"content\"}} "
                           "message.")
        text = _text_of(message["content"])
        if text is None:
            raise BadInput(f"History message {i + 1} has no text content.")
        messages.append({"role": message["role"], "content": check_text(text, f"history message {i + 1}",
                                                                        max_text_chars())})
    return messages


def _text_of(content) -> str | None:
    if isinstance(content, str):
        return content
    if isinstance(content, dict):  # Gradio: {"type": "text", "text": ...} or a file part
        return content.get("text") if content.get("type", "text") == "text" else ""
    if isinstance(content, list):
        parts = [_text_of(part) for part in content]
        return None if any(p is None for p in parts) else "".join(p for p in parts if p)
    return None


@dataclass(frozen=True)
class Options(options.Options):
    """The Visual chat application's settings, declared once (mmdemo.options): the tab's controls and the CLI's
    flags come from here."""

    max_new_tokens: int = setting(DEFAULT_MAX_NEW_TOKENS, "longest answer in tokens", low=1, high=MAX_NEW_TOKENS,
                                  label="Max new tokens")
    temperature: float = setting(0.0, "sampling temperature; 0 is greedy decoding", low=0.0, high=MAX_TEMPERATURE,
                                 step=0.05, label="Temperature (0 = greedy)")
    top_p: float = setting(DEFAULT_TOP_P, "nucleus sampling mass", low=0.01, high=1.0, step=0.05, label="Top-p")
    seed: int = setting(0, "random seed for sampling", low=0, high=MAX_SEED, label="Seed (sampling)")
    frames: int = setting(DEFAULT_FRAMES, "frames taken from each video", low=1, high=MAX_FRAMES,
                          label="Frames per video")


# -- the conversation the model reads ----------------------------------------------------------------------------
def split_turns(messages: list[dict]) -> tuple[str | None, list[list[dict]]]:
    """(the system prompt, the turns): a turn is a user message with the assistant messages that follow it."""
    system = None
    turns: list[list[dict]] = []
    for message in messages:
        if message["role"] == "system":
            system = message["content"]
        elif message["role"] == "user" or not turns:
            turns.append([message])
        else:
            turns[-1].append(message)
    return system, turns


def split_images(pictures: list[Picture]) -> bool:
    """Photos are split into tiles for detail (the model's own processor settings); with video frames every image
    is shown whole, one view each, as the model's video mode does: frames are many, and motion matters more than
    fine detail."""
    return not any(p.time is not None for p in pictures)


def model_conversation(system: str | None, turns: list[list[dict]], pictures: list[Picture]) -> list[dict]:
    """transformers' chat format: content as parts; the pictures open the first user message, each video frame
    after a line saying where it comes from."""
    conversation = [{"role": "system", "content": [{"type": "text", "text": system}]}] if system else []
    first_user = True
    for turn in turns:
        for message in turn:
            parts: list[dict] = []
            if message["role"] == "user" and first_user:
                for picture in pictures:
                    if picture.label:
                        parts.append({"type": "text", "text": f"\nFrame from {picture.label}:"})
                    parts.append({"type": "image"})
                first_user = False
            parts.append({"type": "text", "text": message["content"]})
            conversation.append({"role": message["role"], "content": parts})
    return conversation


def fit_context(model, system: str | None, turns: list[list[dict]], pictures: list[Picture],
                max_new_tokens: int) -> tuple[list[dict], int, int]:
    """(the conversation the model reads, how many of the oldest turns were left out, its prompt tokens): the
    latest turns that fit in the context with room for ``max_new_tokens``. BadInput when even the latest question
    with the images and the system prompt does not fit."""
    budget = model.context_length - max_new_tokens
    if budget <= 0:
        raise BadInput(f"Max new tokens ({max_new_tokens}) leaves no room for the question in the model's "
                       f"{model.context_length}-token context.")
    image_tokens = model.image_tokens([p.image for p in pictures], split_images(pictures))  # they stay: once
    for dropped in range(len(turns)):
        conversation = model_conversation(system, turns[dropped:], pictures)
        tokens = model.text_tokens(model.render(conversation)) + image_tokens
        if tokens <= budget:
            return conversation, dropped, tokens
    raise BadInput(f"The question with the images and system prompt takes {tokens:,} tokens, more than the "
                   f"{budget:,} the model can read with room for {max_new_tokens} new tokens: shorten the "
                   "question or the system prompt, give fewer images, or lower max new tokens.")


# -- chatting ----------------------------------------------------------------------------------------------------
def stream_chat(pictures: list[Picture], question: str, history=None, system: str | None = None, *,
                max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS, temperature: float = 0.0,
                top_p: float = DEFAULT_TOP_P, seed: int = 0, notes: list[str] | None = None,
                stop: threading.Event | None = None) -> Iterator[ChatReply]:
    """Yield the reply as it grows (``done=False``), then once more complete (``done=True``).

    ``system`` replaces a system prompt found in ``history``; ``stop`` (set from another thread) ends the answer
    after the current token, and closing this generator does the same."""
    if not pictures:
        raise BadInput("Give at least one image (or a video) to chat about.")
    if len(pictures) > MAX_IMAGES:
        raise BadInput(f"{len(pictures)} images is more than the limit of {MAX_IMAGES}.")
    question = check_text(question, "the question", max_text_chars()).strip()
    if not question:
        raise BadInput("The question is empty: type what you want to know about the images.")
    system = check_text(system, "the system prompt", MAX_PROMPT_CHARS).strip() or None
    settings = Options(max_new_tokens=max_new_tokens, temperature=temperature, top_p=top_p, seed=seed)
    max_new_tokens, temperature, top_p, seed = (settings.max_new_tokens, settings.temperature, settings.top_p,
                                                settings.seed)
    earlier = read_history(history)
    old_system, turns = split_turns(earlier)
    system = system or old_system
    turns.append([{"role": "user", "content": question}])
    notes = list(notes or [])

    started = time.perf_counter()
    model = backends.get("chat")
    conversation, dropped, prompt_tokens = fit_context(model, system, turns, pictures, int(max_new_tokens))
    if dropped:
        notes.append(f"The conversation is longer than the model's {model.context_length:,}-token context: the "
                     f"oldest {dropped} turn{'s' if dropped > 1 else ''} were left out of what it read.")
    messages = ([{"role": "system", "content": system}] if system else []) + \
        [m for m in earlier if m["role"] != "system"] + [{"role": "user", "content": question}]
    stop = stop or threading.Event()

    def reply(answer: str, done: bool) -> ChatReply:
        answer = answer.strip() if done else answer.lstrip()
        return ChatReply(answer, messages + [{"role": "assistant", "content": answer}], list(notes), model.name,
                         time.perf_counter() - started, done, stopped, dropped, prompt_tokens,
                         usage.get("new_tokens", 0))

    answer, stopped, usage = "", False, {}
    for piece in model.stream(conversation, [p.image for p in pictures], max_new_tokens=int(max_new_tokens),
                              temperature=float(temperature), top_p=float(top_p), seed=int(seed), stop=stop,
                              usage=usage, split=split_images(pictures)):
        answer += piece
        yield reply(answer, False)
    stopped = stop.is_set()
    if stopped:
        notes.append("Stopped before the model finished its answer.")
    yield reply(answer, True)


def chat(pictures: list[Picture], question: str, history=None, system: str | None = None, **options) -> ChatReply:
    """One turn, complete: the last reply of ``stream_chat``."""
    final = None
    for final in stream_chat(pictures, question, history, system, **options):
        pass
    return final
