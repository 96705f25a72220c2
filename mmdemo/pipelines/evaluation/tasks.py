"""The five evaluation tasks: what a manifest row holds, what a ``--config`` may set, how one item is run through
the application's own pipeline, and how the metrics are computed from the items' outputs.

Every metric comes from the library made for it, on fields kept in each item, so anyone can recompute it from a
report: jiwer (WER/CER, after the Speech tab's Whisper normalizers), scikit-learn (accuracy, macro F1, confusion),
sacrebleu (BLEU), mir_eval (cut matching within a tolerance). CLIP scores are measured per item at run time (they
need the model) and averaged.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from mmdemo import applications
from mmdemo.emotion_labels import LABELS, canonical
from mmdemo.errors import BadInput
from mmdemo.options import Setting, evaluation_settings
from mmdemo.pipelines import captioning, text_to_image
from mmdemo.pipelines.emotion.options import EmotionOptions
from mmdemo.pipelines.speech.options import SpeechOptions
from mmdemo.pipelines.video_summary import shots
from mmdemo.pipelines.video_summary.options import VideoOptions

CUT_TOLERANCE = 0.5  # seconds: a detected cut this close to a reference cut is a hit (the rule)


def matched_cuts(reference: list[float], found: list[float], tolerance: float = CUT_TOLERANCE) -> int:
    """How many reference cuts have a found cut within ``tolerance``, each cut matched at most once, nearest first
    (mir_eval's matching): how the evaluation, and bench.real beside it, count hits."""
    import mir_eval
    import numpy as np

    return len(mir_eval.util.match_events(np.array(reference, float), np.array(found, float), tolerance))


IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff")


# A task's settings are its application's declared ones (mmdemo.options, evaluated=True) plus those only an
# evaluation has: which weights a config uses, and where a row's language comes from.
def _model(backend: str, key: str = "model") -> Setting:
    return Setting(key, str, "", f"weights of the {backend} backend for this config (a folder or a Hub id; "
                                 f"empty: the app's current choice)")


class Task:
    """One task name of TASKS. Subclasses fill in the class attributes and the three methods."""

    name = ""
    required: tuple[str, ...] = ()  # columns every row needs
    one_of: tuple[str, ...] = ()  # at least one of these columns (emotion: text or path)
    optional: tuple[str, ...] = ()
    references: tuple[str, ...] = ()  # the columns holding the truth (may be absent in compare())
    paths: tuple[str, ...] = ("path",)  # columns naming files, resolved against the manifest's folder
    settings: dict[str, Setting] = {}
    sources: dict[str, str] = {}  # setting -> backend whose weights it chooses (Registry.set_source)
    aliases: dict[str, str] = {}  # another name a column may have in the header (MELD's "utterance" for "text")

    @property
    def columns(self) -> tuple[str, ...]:
        return self.required + self.one_of + self.optional

    def describe_columns(self) -> str:
        parts = list(self.required)
        if self.one_of:
            parts.insert(0 if "path" not in self.required else 1, " or ".join(self.one_of))
        text = ", ".join(parts)
        return text + (f" (optional: {', '.join(self.optional)})" if self.optional else "")

    # -- rows -----------------------------------------------------------------------------------------------
    def check_row(self, row: dict, need_reference: bool = True) -> dict:
        """A typed item from one manifest row (file paths as written: the caller resolves them), or BadInput with
        the reason. ``need_reference=False`` (compare()) lets the reference columns be absent."""
        item = {k: v.strip() for k, v in row.items() if k in self.columns and isinstance(v, str) and v.strip()}
        for column in self.required:
            if column not in item and (need_reference or column not in self.references):
                raise BadInput(f"'{column}' is empty")
        if self.one_of and not any(c in item for c in self.one_of):
            if need_reference or not set(self.one_of) <= set(self.references):
                raise BadInput(f"'{' or '.join(self.one_of)}' is empty")
        return self.typed(item)

    def typed(self, item: dict) -> dict:
        return item

    def prepare(self, items: list[dict], settings: dict, folder: Path) -> dict:
        """The settings one config runs with, completed from the whole item list where a task needs it."""
        return dict(settings)

    def input_of(self, item: dict) -> str:
        return next((item[c] for c in ("path", "text", "prompt") if c in item), "")

    def reference_of(self, item: dict):
        return next((item[c] for c in self.references if c in item), None)

    def run(self, item: dict, settings: dict) -> dict:
        raise NotImplementedError

    def metrics(self, items: list[dict]) -> dict:
        raise NotImplementedError


def _scored(items: list[dict], field: str = "reference") -> list[dict]:
    """Items that ran without error and have a reference: what a metric covers."""
    return [i for i in items if "error" not in i and i.get(field) not in (None, "")]


# -- speech ------------------------------------------------------------------------------------------------------
class Speech(Task):
    name = "speech"
    required = ("path", "reference")
    optional = ("language",)
    references = ("reference",)
    settings = {
        "model": _model("whisper"),
        **evaluation_settings(SpeechOptions),
        "language": Setting("language", str, "manifest", "language to decode in: 'manifest' (the row's language "
                                                         "column, else detected), 'auto' (always detected) or a "
                                                         "Whisper code"),
    }
    sources = {"model": "whisper"}

    def run(self, item, settings):
        from mmdemo.pipelines import speech

        language = settings["language"]
        language = item.get("language") if language == "manifest" else None if language == "auto" else language
        result = speech.transcribe(item["path"], task=settings["task"], language=language or None,
                                   beam_size=settings["beam_size"], batch_size=settings["batch_size"],
                                   vad=settings["vad"])
        scored_in = "en" if settings["task"] == "translate" else (item.get("language") or result.language)
        return {"output": result.text, "language": result.language, "scored_as": scored_in,
                "duration": round(result.duration, 3)}

    def metrics(self, items):
        from mmdemo.pipelines.speech.scoring import corpus_score

        done = _scored(items)
        if not done:
            return {"n": 0}
        try:
            score = corpus_score([i["reference"] for i in done], [i["output"] for i in done],
                                 [i["scored_as"] for i in done])
        except BadInput:  # no reference has words left after normalization
            return {"n": 0}
        return {"wer": score["wer"], "cer": score["cer"], "n": score["n"], "normalizer": score["normalizer"],
                "headline": score["headline"]}


# -- emotion -----------------------------------------------------------------------------------------------------
class Emotion(Task):
    name = "emotion"
    required = ("label",)
    one_of = ("text", "path")
    optional = ("dialogue_id", "speaker", "utterance_id")  # a line with a dialogue_id is read as part of its
    # dialogue: with the line before it (utterance_id order, else the manifest's) when "context" is on
    references = ("label",)
    aliases = {"utterance": "text", "emotion": "label"}  # MELD's CSV columns
    settings = {
        "model": _model("text_emotion"),
        "embedder": _model("embedder", "embedder"),
        "voice_model": _model("speech_emotion", "voice_model"),
        "face_model": _model("face_emotion", "face_model"),
        **evaluation_settings(EmotionOptions),
        # an evaluation's own: the tab and CLI read a conversation's lines with context whenever they read one
        "context": Setting("context", bool, True, "read a text with a dialogue_id as a conversation's line: with "
                                                  "the line before it and dialogue's label mix (the trained head; "
                                                  "docs/emotion.md)"),
    }
    sources = {"model": "text_emotion", "embedder": "embedder", "voice_model": "speech_emotion",
               "face_model": "face_emotion"}

    def typed(self, item):
        from mmdemo.typography import normalise

        if "text" in item:
            item = {**item, "text": normalise(item["text"])}
        label = canonical(item["label"]) if "label" in item else None
        if "label" in item and label is None:
            raise BadInput(f"label {item['label']!r} is none of {', '.join(LABELS)}")
        return {**item, "label": label} if label else item

    def prepare(self, items, settings, folder):
        """``_before``: each dialogue line's row -> the row of the line before it in its dialogue (None: first)."""
        from mmdemo.pipelines.emotion.conversation import sort_number

        dialogues: dict[str, list[dict]] = {}
        for item in items:
            if "dialogue_id" in item and "text" in item and "path" not in item:
                dialogues.setdefault(item["dialogue_id"], []).append(item)
        before = {}
        for lines in dialogues.values():
            lines = sorted(lines, key=lambda i: (sort_number(i.get("utterance_id")), i["row"]))
            before.update({line["row"]: prev for prev, line in zip([None] + lines, lines)})
        return {**settings, "_before": before}

    def run(self, item, settings):
        from mmdemo.media.video import EXTENSIONS as VIDEO_SUFFIXES
        from mmdemo.pipelines import emotion

        if settings["context"] and item["row"] in settings.get("_before", {}):
            return self._run_in_dialogue(item, settings["_before"][item["row"]], settings["text_reader"])
        inputs: dict = {"text": item.get("text")}
        if "path" in item:
            suffix = Path(item["path"]).suffix.lower()
            kind = "image" if suffix in IMAGE_SUFFIXES else "video" if suffix in VIDEO_SUFFIXES else "audio"
            inputs[kind] = item["path"]
        weights = {m: settings[f"{m}_weight"] for m in ("text", "voice", "face")}
        report = emotion.analyze(**inputs, weights=weights, text_reader=settings["text_reader"])
        if report.fused is None:
            raise BadInput("no modality carried a signal (" + "; ".join(report.no_signal.values()) + ")")
        return {"output": report.label, "modalities": {name: m.method for name, m in report.modalities.items()}}

    @staticmethod
    def _run_in_dialogue(item: dict, previous: dict | None, reader: str) -> dict:
        from mmdemo.emotion_labels import top_label
        from mmdemo.pipelines.emotion import text as emotion_text

        lines = [previous, item] if previous else [item]
        results, context = emotion_text.analyze_conversation_lines(
            [line["text"] for line in lines], [line.get("speaker", "?") for line in lines], reader=reader)
        return {"output": top_label(results[-1].probs), "modalities": {"text": results[-1].method},
                "context": context}

    def metrics(self, items):
        from sklearn.metrics import accuracy_score, confusion_matrix, f1_score

        done = _scored(items)
        if not done:
            return {"n": 0}
        truth, predicted = [i["reference"] for i in done], [i["output"] for i in done]
        return {"accuracy": round(float(accuracy_score(truth, predicted)), 4),
                "macro_f1": round(float(f1_score(truth, predicted, average="macro", zero_division=0)), 4),
                "weighted_f1": round(float(f1_score(truth, predicted, average="weighted", zero_division=0)), 4),
                "confusion": confusion_matrix(truth, predicted, labels=list(LABELS)).tolist(),
                "labels": list(LABELS), "n": len(done)}


# -- caption -----------------------------------------------------------------------------------------------------
class Caption(Task):
    name = "caption"
    required = ("path",)
    one_of = ("label", "reference")
    references = ("label", "reference")
    settings = {
        "model": _model("captioner"),
        "clip": _model("clip", "clip"),
        **evaluation_settings(captioning.Options),
        "labels": Setting("labels", str, "", "zero-shot label set, separated by '|' (empty: every label in the "
                                             "manifest)"),
    }
    sources = {"model": "captioner", "clip": "clip"}

    def prepare(self, items, settings, folder):
        labels = [x.strip() for x in settings["labels"].split("|") if x.strip()]
        if not labels:  # the manifest's own label set, in order of first appearance
            labels = list(dict.fromkeys(i["label"] for i in items if "label" in i))
        return {**settings, "_labels": labels}

    def run(self, item, settings):
        from mmdemo.pipelines.captioning import caption_images

        zero_shot = "label" in item
        if zero_shot and not settings["_labels"]:
            raise BadInput("no label set to choose from")
        result = caption_images([item["path"]], labels=settings["_labels"] if zero_shot else None,
                                num_candidates=settings["candidates"], alpha=settings["alpha"],
                                beta=settings["beta"])[0]
        best = result.captions[0] if result.captions else None
        out = {"caption": result.describe(), "caption_fallback": result.fallback,
               "clip_score": round(100.0 * best.cosine, 2) if best and best.cosine is not None else None}
        out["kind"] = "label" if zero_shot else "caption"
        if zero_shot:
            if not result.labels:
                raise BadInput("no zero-shot labels: " + "; ".join(result.notes))
            out["label_method"] = result.label_method
            out["output"] = result.labels[0][0]
        else:
            out["output"] = out["caption"]
        return out

    def metrics(self, items):
        import sacrebleu
        from sklearn.metrics import accuracy_score

        out: dict = {}
        labelled = [i for i in _scored(items) if i.get("kind") == "label"]
        if labelled:
            out["accuracy"] = round(float(accuracy_score([i["reference"] for i in labelled],
                                                         [i["output"] for i in labelled])), 4)
        described = [i for i in _scored(items) if i.get("kind") == "caption"]
        if described:
            bleu = sacrebleu.corpus_bleu([i["caption"] for i in described], [[i["reference"] for i in described]])
            out["bleu"] = round(float(bleu.score), 2)
            clip = [i["clip_score"] for i in described if i.get("clip_score") is not None]
            if clip:
                out["clip_score"] = round(sum(clip) / len(clip), 2)
                out["clip_n"] = len(clip)
            fallback = sum(1 for i in described if i.get("caption_fallback"))
            if fallback:
                out["fallback_captions"] = fallback
        out["n"] = len(labelled) + len(described)
        return out

    def reference_of(self, item):
        return item.get("label", item.get("reference"))


# -- video -------------------------------------------------------------------------------------------------------
def parse_cuts(text: str) -> list[float]:
    """'1.2;3.04' -> [1.2, 3.04]; BadInput naming the first value that is not a time in seconds."""
    cuts = []
    for part in (text or "").split(";"):
        if not part.strip():
            continue
        try:
            value = float(part)
        except ValueError:
            raise BadInput(f"cut {part.strip()!r} is not a time in seconds") from None
        if not math.isfinite(value) or value < 0:
            raise BadInput(f"cut {part.strip()!r} is not a time in seconds >= 0")
        cuts.append(value)
    return sorted(cuts)


class Video(Task):
    name = "video"
    required = ("path", "cuts")  # the cuts column must exist; an empty value is a video of one shot
    references = ("cuts",)
    settings = {
        "model": _model("image_classifier"),
        **evaluation_settings(VideoOptions),
    }
    sources = {"model": "image_classifier"}

    def check_row(self, row, need_reference=True):
        path = (row.get("path") or "").strip()
        if not path:
            raise BadInput("'path' is empty")
        item = {"path": path}
        if row.get("cuts") is not None:
            item["cuts"] = parse_cuts(row["cuts"])
        elif need_reference:
            raise BadInput("'cuts' is missing")
        return item

    def run(self, item, settings):
        found = shots.detect_shots(item["path"], detector=settings["detector"], threshold=settings["threshold"] or None,
                             every_seconds=settings["every_seconds"], dedupe=False)
        out = {"output": [round(c, 3) for c in found.cuts]}
        if "cuts" in item:
            out["matched"] = matched_cuts(item["cuts"], out["output"])
        return out

    def metrics(self, items):
        import mir_eval

        done = [i for i in items if "error" not in i and isinstance(i.get("reference"), list)]
        if not done:
            return {"n": 0}
        # corpus totals: matches summed over videos, divided by all detected / all reference cuts
        matched = sum(matched_cuts(i["reference"], i["output"]) for i in done)
        detected, reference = sum(len(i["output"]) for i in done), sum(len(i["reference"]) for i in done)
        precision = matched / detected if detected else float(reference == 0)
        recall = matched / reference if reference else float(detected == 0)
        return {"precision": round(precision, 4), "recall": round(recall, 4),
                "f1": round(float(mir_eval.util.f_measure(precision, recall)), 4), "tolerance_s": CUT_TOLERANCE,
                "n": len(done)}


# -- text-to-image -----------------------------------------------------------------------------------------------
class TextToImage(Task):
    name = "text-to-image"
    required = ("prompt",)
    optional = ("seed",)
    references = ()
    paths = ()
    settings = {
        "model": _model("diffusion"),
        "clip": _model("clip", "clip"),
        **evaluation_settings(text_to_image.Options),
        "seed": Setting("seed", int, 0, "seed of rows without a seed column"),
    }
    sources = {"model": "diffusion", "clip": "clip"}

    def typed(self, item):
        if "seed" in item:
            try:
                item = {**item, "seed": int(item["seed"])}
            except ValueError:
                raise BadInput(f"seed {item['seed']!r} is not a whole number") from None
        return item

    def prepare(self, items, settings, folder):
        return {**settings, "_folder": str(folder)}

    def run(self, item, settings):
        from mmdemo.pipelines.text_to_image import generate

        gen = generate(item["prompt"], seed=item.get("seed", settings["seed"]), steps=settings["steps"],
                       guidance=settings["guidance"], width=settings["width"], height=settings["height"])
        image = gen.images[0]
        target = Path(settings["_folder"]) / f"row{item['row']}-seed{image.seed}.png"
        target.parent.mkdir(parents=True, exist_ok=True)
        gen.save(target)
        return {"output": str(target), "clip_score": image.clip_score, "seconds_per_image": round(gen.seconds, 3),
                "seed": image.seed, "clip_note": gen.clip_note}

    def metrics(self, items):
        done = [i for i in items if "error" not in i]
        if not done:
            return {"n": 0}
        clip = [i["clip_score"] for i in done if i.get("clip_score") is not None]
        out = {"seconds_per_image": round(sum(i["seconds_per_image"] for i in done) / len(done), 3), "n": len(done)}
        if clip:
            out["clip_score"], out["clip_n"] = round(sum(clip) / len(clip), 2), len(clip)
        return out


_BY_NAME = {t.name: t for t in (Speech(), Emotion(), Caption(), Video(), TextToImage())}
# one task per evaluated application, named and ordered by its record
TASKS: dict[str, Task] = {app.key: _BY_NAME[app.key] for app in applications.evaluated()}


def get_task(name: "str | Task") -> Task:
    """A task by its application's key or one of its older names (``transcribe``, ``generate``...)."""
    if isinstance(name, Task):
        return name
    try:
        return TASKS[applications.get(name).key]
    except KeyError:
        raise BadInput(f"unknown task {name!r}; choose one of {', '.join(TASKS)}.") from None
