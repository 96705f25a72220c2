"""Image captioning: BLIP caption candidates re-ranked with CLIP, zero-shot labels, visual questions, translation.

    results = caption_images([img1, img2], labels="dog, cat", question="what color is it?")
    results[0].describe()   # the best caption, or "offline tags: ..." when no captioner weights exist
    results[0].to_dict()

Fusion (after CLIP Interrogator's BLIP-then-CLIP idea): each candidate gets
``alpha * captioner log-likelihood + beta * CLIP logit`` where the log-likelihood is the captioner's mean per-token
log-probability of the caption and the CLIP logit is CLIP's learned scale times the image-caption cosine (the number
CLIP itself turns into probabilities). Both scores are kept on every candidate so the UI can show them.

Offline (no captioner / CLIP weights reachable) the result is an honest fallback, labelled as such: ImageNet tags
from the image classifier and zero-shot labels through the sentence embedder (see ``zero_shot``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from mmdemo import applications, backends, options
from mmdemo.errors import BackendUnavailable, BadInput
from mmdemo.media.image import load_image
from mmdemo.media.text import MAX_PROMPT_CHARS, check_text
from mmdemo.options import MAX_SEED, setting
from mmdemo.pipelines.shared import zero_shot
from mmdemo.pipelines.shared.translation import translate

# what it uses and where its tab queues: its record in mmdemo.applications
BACKENDS, SLOT = applications.of_pipeline(__name__).backends, applications.of_pipeline(__name__).slot

DEFAULT_ALPHA = 1.0
DEFAULT_BETA = 0.2  # a CLIP logit moves about 5x more between captions than a mean log-likelihood does
MAX_IMAGES = 64
DECODINGS = ("beam", "sample")
FALLBACK_PREFIX = "offline tags: "
TAG_MIN_SHARE = 0.1  # a label below this share of the list is not worth a tag


@dataclass(frozen=True)
class Options(options.Options):
    """The Image captioning application's settings, declared once (mmdemo.options): the tab's controls, the CLI's
    flags and the evaluation keys come from here."""

    prompt: str = setting("", 'text the captions continue, e.g. "a photograph of"', label="Caption prompt (optional)",
                          evaluated=False)
    decoding: str = setting("beam", "how the candidates are decoded: beam search, or sampled", choices=DECODINGS,
                            label="Decoding", evaluated=False)
    candidates: int = setting(3, "caption candidates re-ranked per image", low=1, high=10, label="Candidates")
    max_tokens: int = setting(30, "longest caption in tokens", low=5, high=60, label="Max caption tokens",
                              evaluated=False)
    alpha: float = setting(DEFAULT_ALPHA, "weight of the captioner's log-likelihood in the re-ranking", low=0.0,
                           step=0.05, label="alpha: captioner weight")
    beta: float = setting(DEFAULT_BETA, "weight of CLIP's logit in the re-ranking", low=0.0, step=0.01,
                          label="beta: CLIP weight")
    seed: int = setting(0, "random seed of sampled candidates", low=0, high=MAX_SEED, label="Seed (sampling)",
                        evaluated=False)
    translate_to: str = setting("", "also translate the chosen caption into this language (translator backend)",
                                flag="--translate", metavar="LANG", label="Translate caption to", evaluated=False)

    def pipeline_kwargs(self) -> dict:
        """``caption_images``' keyword arguments for these settings."""
        return dict(prompt=self.prompt or None, decoding=self.decoding, num_candidates=self.candidates,
                    max_new_tokens=self.max_tokens, alpha=self.alpha, beta=self.beta, seed=self.seed,
                    translate_to=self.translate_to or None)


@dataclass
class CaptionCandidate:
    text: str
    loglik: float  # captioner mean log-probability per token
    clip: float | None  # CLIP logit (learned scale x cosine), None without CLIP
    cosine: float | None  # CLIP image-text cosine, None without CLIP
    score: float  # alpha * loglik + beta * clip

    def to_dict(self) -> dict:
        return {"text": self.text, "score": round(self.score, 4), "loglik": round(self.loglik, 4),
                "clip": None if self.clip is None else round(self.clip, 4),
                "cosine": None if self.cosine is None else round(self.cosine, 4)}


@dataclass
class ImageResult:
    name: str
    width: int
    height: int
    captions: list[CaptionCandidate] = field(default_factory=list)  # best fused score first
    labels: list[tuple[str, float, float]] = field(default_factory=list)  # (label, share, cosine), best first
    label_method: str | None = None
    imagenet: list[tuple[str, float]] = field(default_factory=list)  # classifier top-5 (label, probability)
    answer: str | None = None
    translation: str | None = None
    translation_language: str | None = None
    backends: dict[str, str] = field(default_factory=dict)  # part ("caption", "labels", ...) -> backend(s)
    notes: list[str] = field(default_factory=list)  # why a part is missing or is a fallback
    top_tags: int = 3
    options: Options | None = None  # the settings it was made with

    @property
    def fallback(self) -> bool:
        """True when no captioner answered and the caption is the offline tag line."""
        return not self.captions

    @property
    def backend(self) -> str:
        """Which backend produced the caption, in words."""
        if self.captions:
            return self.backends.get("caption", "captioner")
        return "offline fallback: " + self.backends.get("caption", "image_classifier")

    @property
    def tags(self) -> list[str]:
        """The best zero-shot label, plus the next ones (up to ``top_tags``) that hold a real share of the list."""
        return [label for i, (label, share, _) in enumerate(self.labels[: self.top_tags])
                if i == 0 or share >= TAG_MIN_SHARE]

    def describe(self) -> str:
        if self.captions:
            return self.captions[0].text
        tags = [label for i, (label, prob) in enumerate(self.imagenet[:3]) if i == 0 or prob >= 0.05]
        return FALLBACK_PREFIX + ", ".join(tags) if tags else ""

    def to_dict(self) -> dict:
        return {
            "file": self.name,
            "width": self.width,
            "height": self.height,
            "caption": self.describe(),
            "captions": [c.to_dict() for c in self.captions],
            "tags": self.tags,
            "labels": [{"label": lab, "score": round(s, 4), "similarity": round(sim, 4)}
                       for lab, s, sim in self.labels],
            "label_method": self.label_method,
            "imagenet": [{"label": lab, "prob": round(p, 4)} for lab, p in self.imagenet],
            "answer": self.answer,
            "translation": self.translation,
            "translation_language": self.translation_language,
            "backend": self.backend,
            "fallback": self.fallback,
            "backends": dict(self.backends),
            "notes": list(self.notes),
            **({"settings": self.options.to_dict()} if self.options is not None else {}),
        }


def fuse(loglik: float, clip: float | None, alpha: float, beta: float) -> float:
    """The re-ranking score of one candidate: alpha * log-likelihood + beta * CLIP logit (0 without CLIP)."""
    return alpha * loglik + (beta * clip if clip is not None else 0.0)


def caption_images(images, labels=None, question: str | None = None, *, names: list[str] | None = None,
                   prompt: str | None = None, num_candidates: int = 3, decoding: str = "beam",
                   max_new_tokens: int = 30, alpha: float = DEFAULT_ALPHA, beta: float = DEFAULT_BETA,
                   seed: int = 0, translate_to: str | None = None, top_tags: int = 3, imagenet: bool = False,
                   batch_size: int = 8, progress: Callable[[float, str], None] | None = None) -> list[ImageResult]:
    """Caption, label and (optionally) question a list of images (PIL images or paths); one ImageResult each.

    ``imagenet=True``: also report the classifier's ImageNet top-5 (otherwise only when a fallback needs it).
    """
    report = progress or (lambda fraction, message: None)
    images = list(images)
    if not images:
        raise BadInput("No image was given.")
    if len(images) > MAX_IMAGES:
        raise BadInput(f"{len(images)} images is more than the limit of {MAX_IMAGES} per request.")
    if names is not None and len(names) != len(images):
        raise BadInput("names must have one entry per image.")
    checked = Options(prompt=prompt, decoding=decoding, candidates=num_candidates, max_tokens=max_new_tokens,
                      alpha=alpha, beta=beta, seed=seed, translate_to=translate_to)
    # every value as checked: what runs is what the result's settings record says
    alpha, beta, seed, decoding = checked.alpha, checked.beta, checked.seed, checked.decoding
    num_candidates, max_new_tokens, translate_to = checked.candidates, checked.max_tokens, checked.translate_to
    label_list = zero_shot.parse_labels(labels)
    question = check_text(question, "the question", MAX_PROMPT_CHARS).strip() or None
    prompt = check_text(prompt, "the caption prompt", MAX_PROMPT_CHARS).strip() or None
    names = names or [_name(img, i) for i, img in enumerate(images)]
    pil = [load_image(img, name=name) for img, name in zip(images, names)]
    results = [ImageResult(name, img.width, img.height, top_tags=top_tags, options=checked)
               for name, img in zip(names, pil)]

    report(0.05, "captioning")
    candidates = _captions(pil, results, prompt, num_candidates, decoding, max_new_tokens, seed, batch_size,
                           report)
    report(0.55, "scoring with CLIP")
    clip = _optional("clip", results)
    if clip is not None:
        image_vecs = clip.encode_images(pil, batch_size=batch_size)
        _rank(results, candidates, clip, image_vecs, alpha, beta)
        sims = image_vecs @ clip.encode_texts(label_list).T
        scored = zero_shot.LabelScores(label_list, sims, zero_shot.softmax(sims, clip.logit_scale),
                                       zero_shot.CLIP_METHOD, "clip")
    else:
        _rank(results, candidates, None, None, alpha, beta)
        scored = None

    # the classifier is the fallback for a missing captioner (tags) or CLIP (labels); else only on request
    need_classifier = bool(imagenet) or candidates is None or clip is None
    probs = None
    if need_classifier:
        report(0.7, "ImageNet tags")
        probs = _imagenet(pil, results, batch_size, required=candidates is None)
    if scored is None and probs is not None:
        try:
            scored = zero_shot.offline_scores(label_list, probs)
        except BackendUnavailable as exc:
            for r in results:
                r.notes.append(f"No zero-shot labels: {exc}")
    if scored is not None:
        for row, r in enumerate(results):
            r.labels, r.label_method, r.backends["labels"] = scored.ranked(row), scored.method, scored.backend

    if question:
        report(0.8, "answering the question")
        _answer(pil, results, question, batch_size)
    if translate_to:
        report(0.9, "translating")
        _translate(results, translate_to)
    report(1.0, "done")
    return results


# -- steps -----------------------------------------------------------------------------------------------------
def _captions(pil, results, prompt, num_candidates, decoding, max_new_tokens, seed, batch_size, report):
    """Per image, the captioner's candidates; None when no captioner weights exist (noted on each result)."""
    captioner = _optional("captioner", results)
    if captioner is None:
        return None
    out = []
    for start in range(0, len(pil), batch_size):
        out += captioner.caption(pil[start:start + batch_size], prompt=prompt, num_candidates=num_candidates,
                                 decoding=decoding, max_new_tokens=max_new_tokens, seed=seed)
        report(0.05 + 0.5 * min(1.0, (start + batch_size) / len(pil)), "captioning")
    return out


def _rank(results, candidates, clip, image_vecs, alpha, beta) -> None:
    if candidates is None:
        return
    texts = [c.text for cands in candidates for c in cands]
    text_vecs = clip.encode_texts(texts) if clip is not None and texts else None
    scale = clip.logit_scale if clip is not None else None
    k = 0
    for row, (result, cands) in enumerate(zip(results, candidates)):
        ranked = []
        for cand in cands:
            cosine = float(image_vecs[row] @ text_vecs[k]) if text_vecs is not None else None
            logit = scale * cosine if cosine is not None else None
            ranked.append(CaptionCandidate(cand.text, float(cand.loglik), logit, cosine,
                                           fuse(float(cand.loglik), logit, alpha, beta)))
            k += 1
        result.captions = sorted(ranked, key=lambda c: -c.score)
        result.backends["caption"] = "captioner + clip" if clip is not None else "captioner"


def _imagenet(pil, results, batch_size, required: bool):
    try:
        probs = backends.get("image_classifier").probabilities(pil, batch_size=batch_size)
    except BackendUnavailable as exc:
        if required:  # nothing at all can describe the image: the captioner's message names what to set
            raise BackendUnavailable(results[0].notes[0] if results[0].notes else str(exc)) from None
        for r in results:
            r.notes.append(str(exc))
        return None
    labels = backends.get("image_classifier").labels
    for r, row in zip(results, probs):
        r.imagenet = [(labels[i], float(row[i])) for i in np.argsort(-row)[:5]]
        if not r.captions:
            r.backends["caption"] = "image_classifier"
    return probs


def _answer(pil, results, question, batch_size) -> None:
    vqa = _optional("vqa", results)
    if vqa is None:
        return
    answers = []
    for start in range(0, len(pil), batch_size):
        answers += vqa.answer(pil[start:start + batch_size], question)
    for r, answer in zip(results, answers):
        r.answer, r.backends["answer"] = answer, "vqa"


def _translate(results, target: str) -> None:
    texts = [r.captions[0].text for r in results if r.captions]
    if not texts:
        for r in results:
            r.notes.append("No caption to translate: the offline fallback gives tags, not a caption.")
        return
    try:
        translated = iter(translate(texts, target))
    except BackendUnavailable as exc:
        for r in results:
            r.notes.append(str(exc))
        return
    for r in results:
        if r.captions:
            r.translation, r.translation_language, r.backends["translation"] = next(translated), target, "translator"


def _optional(name: str, results):
    """A backend's model, or None with the reason noted on every result."""
    try:
        return backends.get(name)
    except BackendUnavailable as exc:
        for r in results:
            r.notes.append(str(exc))
        return None


def _name(image, index: int) -> str:
    if isinstance(image, (str, os.PathLike)):
        return Path(image).name
    filename = getattr(image, "filename", "")
    return Path(filename).name if filename else f"image {index + 1}"


# -- batch mode ----------------------------------------------------------------------------------------------------
BATCH_COLUMNS = ["file", "caption", "top tags", "answer", "backend"]


@dataclass
class BatchReport:
    results: list[ImageResult]
    errors: list[tuple[str, str]]  # (file name, why it was skipped)

    def rows(self) -> list[list[str]]:
        rows = [[r.name, r.describe(), ", ".join(r.tags), r.answer or "", r.backend] for r in self.results]
        return rows + [[name, f"skipped: {why}", "", "", ""] for name, why in self.errors]

    def to_dicts(self) -> list[dict]:
        return [r.to_dict() for r in self.results] + [{"file": n, "error": why} for n, why in self.errors]

    def write_csv(self, path: "str | os.PathLike") -> Path:
        import csv

        with open(path, "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(BATCH_COLUMNS)
            writer.writerows(self.rows())
        return Path(path)

    def write_json(self, path: "str | os.PathLike") -> Path:
        import json

        Path(path).write_text(json.dumps(self.to_dicts(), ensure_ascii=False, indent=1), encoding="utf-8")
        return Path(path)


def caption_batch(paths, labels=None, question: str | None = None, **options) -> BatchReport:
    """Batch mode: unreadable files are skipped with their reason instead of failing the whole batch."""
    paths = list(paths or [])
    if not paths:
        raise BadInput("No image was given.")
    good, names, errors = [], [], []
    for path in paths:
        name = Path(path).name
        try:
            good.append(load_image(path, name=name))
            names.append(name)
        except BadInput as exc:
            errors.append((name, str(exc)))
    if not good:
        raise BadInput(f"None of the {len(paths)} files could be read as an image ({errors[0][1]}).")
    return BatchReport(caption_images(good, labels, question, names=names, **options), errors)


def rerank(result: dict, alpha: float, beta: float) -> dict:
    """A ``to_dict()`` result re-ranked for new weights without running any model (the two per-candidate scores
    do not depend on alpha and beta)."""
    captions = [dict(c, score=round(fuse(c["loglik"], c["clip"], alpha, beta), 4)) for c in result.get("captions", [])]
    captions.sort(key=lambda c: -c["score"])
    caption = captions[0]["text"] if captions else result.get("caption", "")
    reranked = {**result, "captions": captions, "caption": caption}
    if "settings" in result:  # the record follows the weights the shown ranking used
        reranked["settings"] = {**result["settings"], "alpha": float(alpha), "beta": float(beta)}
    return reranked
