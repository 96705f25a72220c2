"""Visual question answering with BLIP through transformers (default: Salesforce/blip-vqa-base)."""

from __future__ import annotations

from mmdemo.backends.pretrained import load_pretrained
from mmdemo.errors import BadInput
from mmdemo.registry import Loaded, Source

MAX_QUESTION_CHARS = 300


class VisualQA:
    def __init__(self, model, processor, device: str, dtype):
        self.model, self.processor, self.device, self.dtype = model, processor, device, dtype

    def answer(self, images, question: str, max_new_tokens: int = 20, num_beams: int = 3) -> list[str]:
        """One short answer per image to the same question (deterministic beam search)."""
        import torch

        question = " ".join((question or "").split())
        if not question:
            raise BadInput("The question is empty.")
        if len(question) > MAX_QUESTION_CHARS:
            raise BadInput(f"The question is {len(question)} characters long; the limit is {MAX_QUESTION_CHARS}.")
        images = list(images)
        if not images:
            return []
        inputs = self.processor(images=images, text=[question] * len(images), return_tensors="pt").to(self.device)
        inputs["pixel_values"] = inputs["pixel_values"].to(self.dtype)
        with torch.inference_mode():
            out = self.model.generate(**inputs, max_new_tokens=max_new_tokens, num_beams=num_beams, do_sample=False)
        return [" ".join(text.split()) for text in self.processor.batch_decode(out, skip_special_tokens=True)]


def load(source: Source) -> Loaded:
    from transformers import BlipForQuestionAnswering, BlipProcessor

    model, (processor,), placement = load_pretrained(source, BlipForQuestionAnswering, BlipProcessor)
    return placement.loaded(VisualQA(model, processor, placement.device, placement.dtype), model)
