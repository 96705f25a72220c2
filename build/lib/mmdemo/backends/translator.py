"""Text translation with a transformers seq2seq model: NLLB-200 by default (any of 200 languages, chosen per call
with a forced first token), M2M100 likewise, or a Marian opus-mt model (one fixed language pair).

No translation weights exist offline: without the Hub or a local folder this backend raises BackendUnavailable,
and callers fall back to Whisper's own speech translation to English.
"""

from __future__ import annotations

from mmdemo.backends.pretrained import load_pretrained
from mmdemo.errors import BadInput
from mmdemo.registry import Loaded, Source

# ISO 639-1 -> NLLB (FLORES-200) codes for the languages people ask for most; NLLB codes are accepted as is.
NLLB_CODES = {
    "en": "eng_Latn", "es": "spa_Latn", "de": "deu_Latn", "fr": "fra_Latn", "it": "ita_Latn", "pt": "por_Latn",
    "nl": "nld_Latn", "sv": "swe_Latn", "da": "dan_Latn", "no": "nob_Latn", "fi": "fin_Latn", "pl": "pol_Latn",
    "cs": "ces_Latn", "sk": "slk_Latn", "hu": "hun_Latn", "ro": "ron_Latn", "el": "ell_Grek", "tr": "tur_Latn",
    "ru": "rus_Cyrl", "uk": "ukr_Cyrl", "bg": "bul_Cyrl", "ar": "arb_Arab", "he": "heb_Hebr", "fa": "pes_Arab",
    "hi": "hin_Deva", "bn": "ben_Beng", "ur": "urd_Arab", "ta": "tam_Taml", "zh": "zho_Hans", "ja": "jpn_Jpan",
    "ko": "kor_Hang", "vi": "vie_Latn", "th": "tha_Thai", "id": "ind_Latn", "ms": "zsm_Latn", "sw": "swh_Latn",
    "ca": "cat_Latn", "eu": "eus_Latn", "gl": "glg_Latn", "hr": "hrv_Latn", "sr": "srp_Cyrl", "sl": "slv_Latn",
    "lt": "lit_Latn", "lv": "lvs_Latn", "et": "est_Latn", "is": "isl_Latn", "ga": "gle_Latn", "cy": "cym_Latn",
    "af": "afr_Latn", "tl": "tgl_Latn",
}


class Translator:
    def __init__(self, model, tokenizer, device: str, kind: str, max_length: int = 512):
        self.model, self.tokenizer, self.device, self.kind, self.max_length = model, tokenizer, device, kind, max_length

    def _code(self, language: str) -> str:
        if self.kind == "nllb":
            code = NLLB_CODES.get(language.lower(), language)
            if self.tokenizer.convert_tokens_to_ids(code) in (None, self.tokenizer.unk_token_id):
                raise BadInput(f"The translation model does not know the language {language!r}; use an ISO code "
                               f"such as {', '.join(list(NLLB_CODES)[:8])}, or an NLLB code such as fra_Latn.")
            return code
        return language.lower()

    def translate(self, texts: list[str], target: str, source: str | None = None, batch_size: int = 8) -> list[str]:
        import torch

        kwargs = {}
        if self.kind in ("nllb", "m2m100"):
            self.tokenizer.src_lang = self._code(source or "en")
            target_id = (self.tokenizer.convert_tokens_to_ids(self._code(target)) if self.kind == "nllb"
                         else self.tokenizer.get_lang_id(self._code(target)))
            kwargs["forced_bos_token_id"] = target_id
        out: list[str] = []
        with torch.inference_mode():
            for start in range(0, len(texts), batch_size):
                batch = self.tokenizer(texts[start:start + batch_size], return_tensors="pt", padding=True,
                                       truncation=True, max_length=self.max_length).to(self.device)
                ids = self.model.generate(**batch, num_beams=4, max_new_tokens=self.max_length,
                                          no_repeat_ngram_size=4, **kwargs)
                out += [t.strip() for t in self.tokenizer.batch_decode(ids, skip_special_tokens=True)]
        return out


def load(source: Source) -> Loaded:
    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

    model, (tokenizer,), placement = load_pretrained(source, AutoModelForSeq2SeqLM, AutoTokenizer)
    model_type = model.config.model_type
    name = type(tokenizer).__name__.lower()
    kind = "nllb" if "nllb" in name else "m2m100" if model_type == "m2m_100" else "marian" if model_type == "marian" \
        else model_type
    note = "fixed language pair (Marian)" if kind == "marian" else ""
    return placement.loaded(Translator(model, tokenizer, placement.device, kind), model, note=note)
