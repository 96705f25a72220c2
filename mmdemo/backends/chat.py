"""Visual chat with an instruct vision-language model through transformers (default:
HuggingFaceTB/SmolVLM2-256M-Video-Instruct; any model ``AutoModelForImageTextToText`` loads with a processor that has
a chat template, e.g. Idefics3, Qwen2-VL, LLaVA).

The conversation is rendered by the model's own chat template (messages whose content is a list of
``{"type": "text"|"image"}`` parts, transformers' format); tokens stream out of ``generate`` running in a worker
thread through ``TextIteratorStreamer``, and a ``threading.Event`` stops it between two tokens.
"""

from __future__ import annotations

import threading
from typing import Iterator

from mmdemo.backends.pretrained import load_pretrained
from mmdemo.errors import BackendUnavailable
from mmdemo.registry import Loaded, Source


class VisionChat:
    def __init__(self, model, processor, device: str, dtype, name: str):
        self.model, self.processor, self.device, self.dtype, self.name = model, processor, device, dtype, name
        if getattr(processor, "chat_template", None) is None:
            raise BackendUnavailable(f"The chat model {name} has no chat template in its processor: set "
                                     "MMDEMO_CHAT_MODEL to an instruct (chat) vision-language model.")

    @property
    def context_length(self) -> int:
        """How many tokens (prompt + answer) the language model reads."""
        config = self.model.config
        text = getattr(config, "text_config", None) or config
        return int(getattr(text, "max_position_embeddings", None) or getattr(config, "max_position_embeddings"))

    def render(self, conversation: list[dict]) -> str:
        """The prompt text of a conversation (images as the template's placeholders), ready for the answer."""
        return self.processor.apply_chat_template(conversation, add_generation_prompt=True, tokenize=False)

    def image_options(self, split: bool) -> dict:
        """Processor options: ``split=False`` shows each image whole at the encoder's size, as SmolVLM's own video
        processor does with frames (a 480x270 frame would otherwise become 12 tiles + a global view); processors
        that never split images take no option."""
        if not split and hasattr(self.processor.image_processor, "do_image_splitting"):
            return {"do_image_splitting": False}
        return {}

    def image_tokens(self, images, split: bool = True) -> int:
        """Tokens the images add to a prompt beyond their placeholders (tiles, separators, patch tokens), measured
        by the processor itself, so the count holds for any model's image layout."""
        if not images:
            return 0
        image_token = getattr(self.processor, "image_token", "<image>")
        placeholders = image_token * len(images)
        expanded = self.processor(text=[placeholders], images=[list(images)], return_tensors="pt",
                                  **self.image_options(split))["input_ids"]
        return expanded.shape[1] - self.text_tokens(placeholders)

    def text_tokens(self, text: str) -> int:
        return len(self.processor.tokenizer(text, add_special_tokens=False)["input_ids"])

    def stream(self, conversation: list[dict], images, *, max_new_tokens: int, temperature: float, top_p: float,
               seed: int, stop: threading.Event, usage: dict | None = None, split: bool = True) -> Iterator[str]:
        """Yield the answer's text piece by piece as it is generated; setting ``stop`` ends it after the current
        token. Temperature 0 is greedy decoding; otherwise sampling, reproducible for a given ``seed``.
        ``usage`` (a dict) receives "prompt_tokens" and "new_tokens" (the text pieces do not say how many)."""
        import torch
        from transformers import StoppingCriteria, StoppingCriteriaList, TextIteratorStreamer

        usage = {} if usage is None else usage

        class StopWhenSet(StoppingCriteria):
            def __call__(self, input_ids, scores, **kwargs):
                usage["new_tokens"] = input_ids.shape[1] - usage["prompt_tokens"]
                return torch.full((input_ids.shape[0],), stop.is_set(), dtype=torch.bool, device=input_ids.device)

        prompt = self.render(conversation)
        inputs = self.processor(text=[prompt], images=[list(images)] if images else None, return_tensors="pt",
                                **(self.image_options(split) if images else {}))
        usage.update(prompt_tokens=inputs["input_ids"].shape[1], new_tokens=0)
        inputs = inputs.to(self.device)
        if "pixel_values" in inputs:
            inputs["pixel_values"] = inputs["pixel_values"].to(self.dtype)
        streamer = TextIteratorStreamer(self.processor.tokenizer, skip_prompt=True, skip_special_tokens=True)
        options = dict(max_new_tokens=max_new_tokens, streamer=streamer,
                       stopping_criteria=StoppingCriteriaList([StopWhenSet()]))
        if temperature > 0:
            options.update(do_sample=True, temperature=temperature, top_p=top_p)
        else:
            options.update(do_sample=False)
        failure: list[BaseException] = []

        def work():
            try:
                with torch.inference_mode():
                    torch.manual_seed(seed)  # sampling is reproducible for a given seed
                    self.model.generate(**inputs, **options)
            except BaseException as exc:  # handed to the reader below; end the stream so it does not wait forever
                failure.append(exc)
                streamer.end()

        worker = threading.Thread(target=work, name="chat-generate", daemon=True)
        worker.start()
        finished = False
        try:
            for piece in streamer:
                if piece:
                    yield piece
            finished = True
        finally:
            if not finished:  # the reader left early (a cancelled event, a closed browser): end generation too
                stop.set()
            worker.join()
        if failure:
            raise failure[0]


def load(source: Source) -> Loaded:
    from transformers import AutoModelForImageTextToText, AutoProcessor

    model, (processor,), placement = load_pretrained(source, AutoModelForImageTextToText, AutoProcessor)
    chat = VisionChat(model, processor, placement.device, placement.dtype, source.model_id or source.location)
    return placement.loaded(chat, model)
