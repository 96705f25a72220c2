"""Visual chat speed: a turn through the pipeline (registry model, chat template, context check, streamed
generation in a thread) against the plain transformers calls it wraps (processor + ``generate``), alternated.

    python -m bench.chat [--runs 2] [--new-tokens 32] [--only photo,frames,history] [--model FOLDER]

Without --model (no VLM weights exist on this machine, and the Hub is unreachable) the model is **SmolVLM2-256M's
architecture at full size with random weights** (SigLIP-B/16 at 512 px, pixel-shuffle x4 = 64 tokens per tile,
a 30-layer 576-wide Llama, 49,280-token vocabulary), saved to a temporary folder and loaded through the registry
like any user folder. Compute per token does not depend on the weights' values; a random model rarely says
"stop", so answers run to --new-tokens (the table gives the tokens each turn really generated). Greedy decoding.
Inputs: one photo (upscaled to 2048 px and split into 12 tiles + a global view, as the real processor does), 4
frames of the example video (one 512 px view each, as SmolVLM's video mode), and the frames with a 6-message
history.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench.common import load_average, machine_line, peak_rss_mb

ROOT = Path(__file__).resolve().parent.parent
PHOTO = ROOT / "assets" / "captioning_cat.jpg"
VIDEO = ROOT / "assets" / "video_example.mp4"
VOCAB = 49_280


def build_smolvlm2_256m(folder: Path) -> Path:
    """SmolVLM2-256M-Video-Instruct's shapes (from its published config) with random weights; the tokenizer is
    the tests' tiny byte-level BPE padded with placeholder words to the real vocabulary size."""
    import torch
    from transformers import (GenerationConfig, SmolVLMConfig, SmolVLMForConditionalGeneration,
                              SmolVLMImageProcessor, SmolVLMProcessor, SmolVLMVideoProcessor)

    from mmdemo.testing.tiny import smolvlm as tiny

    folder.mkdir(parents=True, exist_ok=True)
    tok = tiny.tokenizer()
    # words ending in a space, so the streamer (which holds text back to the last space) flushes every token
    tok.add_tokens([f"w{i} " for i in range(VOCAB - len(tok))])
    processor = SmolVLMProcessor(
        image_processor=SmolVLMImageProcessor(size={"longest_edge": 2048}, max_image_size={"longest_edge": 512}),
        tokenizer=tok, video_processor=SmolVLMVideoProcessor(size={"longest_edge": 512},
                                                             max_image_size={"longest_edge": 512}),
        image_seq_len=64, chat_template=tiny.CHAT_TEMPLATE)
    processor.save_pretrained(folder)
    text = dict(model_type="llama", vocab_size=len(tok), hidden_size=576, intermediate_size=1536,
                num_hidden_layers=30, num_attention_heads=9, num_key_value_heads=3, max_position_embeddings=8192,
                rope_theta=100_000.0, bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
                pad_token_id=tok.pad_token_id)
    vision = dict(hidden_size=768, intermediate_size=3072, num_hidden_layers=12, num_attention_heads=12,
                  image_size=512, patch_size=16)
    config = SmolVLMConfig(text_config=text, vision_config=vision, scale_factor=4,
                           image_token_id=tok.convert_tokens_to_ids("<image>"), pad_token_id=tok.pad_token_id)
    torch.manual_seed(0)
    model = SmolVLMForConditionalGeneration(config)
    model.generation_config = GenerationConfig(bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
                                               pad_token_id=tok.pad_token_id)
    model.save_pretrained(folder, safe_serialization=True)
    return folder


def plain_turn(model, conversation, images, new_tokens: int, options: dict) -> tuple[int, float]:
    """(new tokens, seconds) of the same turn with transformers alone: processor, generate, decode."""
    import torch

    started = time.perf_counter()
    prompt = model.processor.apply_chat_template(conversation, add_generation_prompt=True)
    inputs = model.processor(text=[prompt], images=[images], return_tensors="pt", **options).to(model.device)
    inputs["pixel_values"] = inputs["pixel_values"].to(model.dtype)
    with torch.inference_mode():
        out = model.model.generate(**inputs, max_new_tokens=new_tokens, do_sample=False)
    model.processor.decode(out[0, inputs["input_ids"].shape[1]:], skip_special_tokens=True)
    return out.shape[1] - inputs["input_ids"].shape[1], time.perf_counter() - started


def first_piece_seconds(pictures, question, history, new_tokens: int) -> float:
    """Seconds until the pipeline yields its first partial answer."""
    from mmdemo.pipelines import chat

    started = time.perf_counter()
    stream = chat.stream_chat(pictures, question, history, max_new_tokens=new_tokens)
    next(stream)
    seconds = time.perf_counter() - started
    stream.close()
    return seconds


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--new-tokens", type=int, default=32)
    parser.add_argument("--only", default=None, help="comma-separated inputs to run: photo, frames, history")
    parser.add_argument("--model", default=None, help="a VLM folder (default: SmolVLM2-256M shapes, random weights)")
    args = parser.parse_args(argv)
    load_start = load_average()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    with tempfile.TemporaryDirectory(prefix="bench-chat-") as tmp:
        if args.model:
            folder, what = Path(args.model), args.model
        else:
            print("building SmolVLM2-256M shapes with random weights...", file=sys.stderr, flush=True)
            folder, what = build_smolvlm2_256m(Path(tmp) / "smolvlm2-256m"), "SmolVLM2-256M shapes, random weights"
        os.environ["MMDEMO_CHAT_MODEL"] = str(folder)
        rows = run(args, what)
    print(machine_line(load_start))
    print()
    print(f"Model: {what}; greedy, up to {args.new_tokens} new tokens; median of {args.runs} warm runs, pipeline "
          f"and plain transformers alternated; peak RSS {peak_rss_mb():,.0f} MB.")
    print()
    print("| input | encoder views | prompt tokens | new tokens | first partial (pipeline) | pipeline turn | plain transformers "
          "| pipeline / plain | tokens/s (pipeline) |\n|---|---|---|---|---|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")


def run(args, what: str) -> list[list[str]]:
    from mmdemo import backends
    from mmdemo.pipelines import chat

    started = time.perf_counter()
    loaded = backends.REGISTRY.get_loaded("chat")
    print(f"{what}: loaded in {time.perf_counter() - started:.1f} s, {loaded.parameters / 1e6:.0f} M parameters, "
          f"{loaded.device} {loaded.dtype}", file=sys.stderr, flush=True)
    model = loaded.model
    photo = chat.load_pictures([PHOTO])[0]
    frames = chat.load_pictures([VIDEO], frames=4)[0]
    history = []
    for i in range(3):
        history += [{"role": "user", "content": f"Question {i}: what else can you see in the picture, and where?"},
                    {"role": "assistant", "content": "A cat lying on a sofa next to a window, in the afternoon."}]
    cases = {"photo": ("1 photo (451x300)", photo, []), "frames": ("4 video frames (480x270)", frames, []),
             "history": ("4 video frames + 6-message history", frames, history)}
    wanted = args.only.split(",") if args.only else list(cases)
    cases = [cases[name.strip()] for name in wanted]
    question = "Describe what you see."
    rows = []
    for label, pictures, earlier in cases:
        system, turns = chat.split_turns(earlier + [{"role": "user", "content": question}])
        conversation = chat.model_conversation(system, turns, pictures)
        images = [p.image for p in pictures]
        options = model.image_options(chat.split_images(pictures))
        views = model.processor.image_processor(images=[images], return_tensors="pt", **options)["pixel_values"]
        ours, plain, reply = [], [], None
        for i in range(args.runs + 1):  # the first pair warms both paths up
            t0 = time.perf_counter()
            reply = chat.chat(pictures, question, earlier, max_new_tokens=args.new_tokens)
            t1 = time.perf_counter()
            plain_tokens, plain_seconds = plain_turn(model, conversation, images, args.new_tokens, options)
            if i:
                ours.append(t1 - t0)
                plain.append(plain_seconds)
        first = statistics.median(first_piece_seconds(pictures, question, earlier, args.new_tokens)
                                  for _ in range(args.runs))
        mine, theirs = statistics.median(ours), statistics.median(plain)
        rows.append([label, str(views.shape[1]), f"{reply.prompt_tokens:,}", f"{reply.new_tokens} (plain {plain_tokens})",
                     f"{first:.2f} s", f"{mine:.2f} s", f"{theirs:.2f} s", f"{mine / theirs:.2f}x",
                     f"{reply.new_tokens / mine:.1f}"])
        print(" | ".join(rows[-1]), file=sys.stderr, flush=True)
    return rows


if __name__ == "__main__":
    main()
