"""Image captioning with BLIP through transformers (default: Salesforce/blip-image-captioning-base).

Candidates come from ``generate`` (beam search or sampling, N per image, optionally continuing a prompt such as
"a photograph of"); each is then re-scored with one teacher-forced decoder pass so that beam and sampled
candidates carry the same number: the captioner's mean per-token log-likelihood of the caption given the image.
"""

from __future__ import annotations

from dataclasses import dataclass

from mmdemo.backends.pretrained import load_pretrained
from mmdemo.errors import BadInput
from mmdemo.registry import Loaded, Source

MAX_CANDIDATES = 10
MAX_NEW_TOKENS = 60


@dataclass
class Candidate:
    text: str
    loglik: float  # mean log-probability per caption token (prompt excluded), given the image


class Captioner:
    def __init__(self, model, processor, device: str, dtype):
        self.model, self.processor, self.device, self.dtype = model, processor, device, dtype

    @property
    def text_config(self):
        return self.model.config.text_config

    def caption(self, images, prompt: str | None = None, num_candidates: int = 3, decoding: str = "beam",
                max_new_tokens: int = 30, num_beams: int | None = None, temperature: float = 1.0,
                top_p: float = 0.9, seed: int = 0) -> list[list[Candidate]]:
        """Per image, up to ``num_candidates`` distinct captions, best log-likelihood first."""
        import torch

        images = list(images)
        if not images:
            return []
        if not 1 <= num_candidates <= MAX_CANDIDATES:
            raise BadInput(f"Number of candidates must be between 1 and {MAX_CANDIDATES}.")
        if not 1 <= max_new_tokens <= MAX_NEW_TOKENS:
            raise BadInput(f"Maximum caption length must be between 1 and {MAX_NEW_TOKENS} tokens.")
        if decoding not in ("beam", "sample"):
            raise BadInput(f"Decoding must be 'beam' or 'sample', not {decoding!r}.")
        prompt = (prompt or "").strip() or None
        inputs = self.processor(images=images, text=[prompt] * len(images) if prompt else None,
                                return_tensors="pt").to(self.device)
        inputs["pixel_values"] = inputs["pixel_values"].to(self.dtype)
        options = dict(max_new_tokens=max_new_tokens, num_return_sequences=num_candidates)
        if decoding == "beam":
            options.update(do_sample=False, num_beams=max(num_beams or 0, num_candidates, 3))
        else:
            options.update(do_sample=True, temperature=temperature, top_p=top_p, num_beams=1)
        with torch.inference_mode():
            torch.manual_seed(seed)  # sampling is reproducible for a given seed
            sequences = self.model.generate(**inputs, **options)
            image_embeds = self.model.vision_model(pixel_values=inputs["pixel_values"]).last_hidden_state
            # generate() feeds the prompt without its final [SEP]: caption tokens start after that prefix
            prompt_len = inputs["input_ids"].shape[1] - 1 if "input_ids" in inputs else 1
            logliks = self._loglik(sequences, image_embeds.repeat_interleave(num_candidates, dim=0), prompt_len)
        texts = self.processor.batch_decode(sequences, skip_special_tokens=True)
        results = []
        for i in range(len(images)):
            seen: dict[str, Candidate] = {}
            for j in range(i * num_candidates, (i + 1) * num_candidates):
                text = " ".join(texts[j].split())
                if text and (text not in seen or logliks[j] > seen[text].loglik):
                    seen[text] = Candidate(text, logliks[j])
            results.append(sorted(seen.values(), key=lambda c: -c.loglik))
        return results

    def _loglik(self, sequences, image_embeds, prompt_len: int) -> list[float]:
        """Mean log-probability of each sequence's tokens after ``prompt_len`` (through [SEP]), given the image."""
        pad = self.text_config.pad_token_id
        mask = (sequences != pad).long()
        logits = self.model.text_decoder(input_ids=sequences, attention_mask=mask,
                                         encoder_hidden_states=image_embeds, return_dict=True).logits
        logprobs = logits[:, :-1].float().log_softmax(-1).gather(-1, sequences[:, 1:, None]).squeeze(-1)
        scored = mask[:, 1:].clone()
        scored[:, : prompt_len - 1] = 0  # tokens of the prompt are given, not generated
        totals = (logprobs * scored).sum(-1)
        counts = scored.sum(-1).clamp(min=1)
        return (totals / counts).tolist()


def load(source: Source) -> Loaded:
    from transformers import BlipForConditionalGeneration, BlipProcessor

    model, (processor,), placement = load_pretrained(source, BlipForConditionalGeneration, BlipProcessor)
    return placement.loaded(Captioner(model, processor, placement.device, placement.dtype), model)
