"""Abstractive summarization with a transformers seq2seq model (default: sshleifer/distilbart-cnn-12-6; any
BART/PEGASUS/T5-class summarizer folder works).

No summarization weights exist offline: without the Hub or a local folder this backend raises BackendUnavailable
and the video summary stays extractive (MiniLM centrality).
"""

from __future__ import annotations

from mmdemo.backends.pretrained import load_pretrained
from mmdemo.errors import BadInput
from mmdemo.registry import Loaded, Source

MAX_INPUT_TOKENS = 1024  # BART/PEGASUS position limit; T5 was trained on 512 but accepts this much
MIN_CHUNK_TOKENS = 16  # a tail shorter than this is folded into the previous chunk
DECODING_KEYS = {"num_beams", "max_length", "min_length", "length_penalty", "no_repeat_ngram_size", "early_stopping"}


class Summarizer:
    def __init__(self, model, tokenizer, device: str, model_id: str, prefix: str = ""):
        self.model, self.tokenizer, self.device, self.model_id = model, tokenizer, device, model_id
        self.prefix = prefix  # T5 checkpoints expect "summarize: " in front of the text

    @property
    def max_input_tokens(self) -> int:
        limits = [MAX_INPUT_TOKENS, getattr(self.model.config, "max_position_embeddings", None) or MAX_INPUT_TOKENS]
        tokenizer_limit = getattr(self.tokenizer, "model_max_length", None)
        if tokenizer_limit and tokenizer_limit < 100_000:  # "no limit" is stored as a huge number
            limits.append(tokenizer_limit)
        return min(limits) - 2  # room for the special tokens

    def chunks(self, text: str) -> list[str]:
        """``text`` cut on word boundaries into pieces that fit the encoder (long transcripts would be truncated
        otherwise, and the end of a video would never reach the summary)."""
        words = text.split()
        budget = self.max_input_tokens - len(self.tokenizer(self.prefix, add_special_tokens=False)["input_ids"])
        costs = [len(ids) for ids in self.tokenizer([" " + w for w in words], add_special_tokens=False)["input_ids"]]
        out: list[list[str]] = [[]]
        used = 0
        for word, cost in zip(words, costs):
            if used + cost > budget and out[-1]:
                out.append([])
                used = 0
            out[-1].append(word)
            used += cost
        if len(out) > 1 and used < MIN_CHUNK_TOKENS:
            tail = out.pop()
            out[-1] += tail  # slightly over budget: truncation trims a few tokens rather than a lost sentence
        return [" ".join(chunk) for chunk in out if chunk]

    def generation_options(self, **overrides) -> dict:
        """How to decode: our defaults, then the checkpoint's own summarization settings (``task_specific_params``,
        as T5 ships them, and its generation_config, as distilbart-cnn ships num_beams=4, max_length=142,
        min_length=56, length_penalty=2.0), then the caller's non-None ``overrides``."""
        from transformers import GenerationConfig

        options = dict(num_beams=4, max_length=142, min_length=20, no_repeat_ngram_size=3, early_stopping=True)
        task = (getattr(self.model.config, "task_specific_params", None) or {}).get("summarization", {})
        options.update({k: v for k, v in task.items() if k in DECODING_KEYS})
        own = self.model.generation_config.to_diff_dict() if self.model.generation_config is not None else {}
        defaults = GenerationConfig().to_dict()
        options.update({k: v for k, v in own.items() if k in DECODING_KEYS and v != defaults.get(k)})
        options.update({k: v for k, v in overrides.items() if v is not None})
        return options

    def summarize(self, text: str, max_length: int | None = None, min_length: int | None = None,
                  num_beams: int | None = None) -> str:
        """A summary of ``text`` (lengths in tokens; None: the checkpoint's settings). Texts longer than the
        encoder are summarized chunk by chunk, then the joined chunk summaries once more."""
        text = " ".join((text or "").split())
        if not text:
            raise BadInput("There is no text to summarize.")
        options = self.generation_options(max_length=max_length, min_length=min_length, num_beams=num_beams)
        if not 1 <= options["max_length"] <= 1024 or not 0 <= options["min_length"] <= options["max_length"]:
            raise BadInput("Summary length must satisfy 0 <= min <= max <= 1024 tokens.")
        parts = self._generate(self.chunks(text), options)
        if len(parts) > 1:
            parts = self._generate(self.chunks(" ".join(parts))[:1], options)
        return parts[0]

    def _generate(self, texts: list[str], options: dict) -> list[str]:
        import torch

        out: list[str] = []
        with torch.inference_mode():
            for text in texts:
                batch = self.tokenizer([self.prefix + text], return_tensors="pt", truncation=True,
                                       max_length=self.max_input_tokens + 2).to(self.device)
                ids = self.model.generate(**batch, **options)
                out.append(" ".join(self.tokenizer.decode(ids[0], skip_special_tokens=True).split()))
        return out


def load(source: Source) -> Loaded:
    from pathlib import Path

    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

    model, (tokenizer,), placement = load_pretrained(source, AutoModelForSeq2SeqLM, AutoTokenizer)
    prefix = "summarize: " if model.config.model_type in ("t5", "mt5", "umt5", "longt5") else ""
    model_id = source.model_id or Path(source.location).name
    return placement.loaded(Summarizer(model, tokenizer, placement.device, model_id, prefix), model)
