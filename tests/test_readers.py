"""Issue 17: the offline readers on real data — WordNet hypernym label mapping, the trained text-emotion head, and
small faces in low-resolution frames."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mmdemo.pipelines.shared import zero_shot
from tests.conftest import requires_pack

ROOT = Path(__file__).resolve().parent.parent

PEKINESE, GRANNY_SMITH, CASTLE, TABBY, LION = 154, 948, 483, 281, 291


def _assign(labels):
    """Label assignment with MiniLM replaced by a flat cosine: only the WordNet part decides."""
    return zero_shot.label_assignment(labels, np.zeros((1000, len(labels))))


def test_hypernym_asset_matches_the_imagenet_classes():
    chains = zero_shot.hypernym_chains()
    assert len(chains) == 1000
    rows = zero_shot.HYPERNYMS_FILE.read_text().splitlines()
    assert rows[0].startswith("n01440764\t") and rows[PEKINESE].startswith("n02086079\t")
    assert "pekinese" in chains[PEKINESE][0] and "dog" in set().union(*chains[PEKINESE])
    assert "apple" in set().union(*chains[GRANNY_SMITH]) and "fruit" in set().union(*chains[GRANNY_SMITH])


def test_a_class_goes_to_the_nearest_label_on_its_chain():
    labels = ["bird", "flower", "dog", "animal", "toy", "apple", "fruit", "cat"]
    a = _assign(labels)
    assert labels[a[PEKINESE].argmax()] == "dog" and a[PEKINESE].max() == 1.0  # not "toy" (a plaything first)
    assert labels[a[GRANNY_SMITH].argmax()] == "apple"
    assert _assign(["flower", "fruit"])[GRANNY_SMITH].tolist() == [0.0, 1.0]
    assert labels[a[TABBY].argmax()] == "cat" and a[LION, labels.index("cat")] < 1.0  # "cat" is the house cat
    assert np.allclose(a.sum(1), 1.0)


def test_plural_and_article_labels_reach_wordnet():
    assert "dog" in zero_shot.lemma_keys("Dogs") and "butterfly" in zero_shot.lemma_keys("butterflies")
    assert "dog" in zero_shot.lemma_keys("a dog")
    a = _assign(["Dogs", "birds"])
    assert a[PEKINESE, 0] == 1.0


def test_scores_follow_class_probability_through_the_chain():
    probs = np.zeros((1, 1000))
    probs[0, PEKINESE], probs[0, GRANNY_SMITH] = 0.9, 0.1
    labels = ["dog", "fruit", "beach"]
    scores = probs @ _assign(labels)
    assert scores[0] == pytest.approx([0.9, 0.1, 0.0])


@requires_pack("minilm")
def test_an_unsure_classifier_does_not_hand_the_label_fed_by_most_classes_the_win():
    """Probability spread evenly over the 1000 classes says nothing: "dog" (fed by 120 breeds) must not beat
    "castle" (fed by one class) for it. A confident Pekinese still reads "dog"."""
    labels = ["dog", "castle"]
    unsure = np.full((1, 1000), 1e-3)
    confident = np.zeros((1, 1000))
    confident[0, PEKINESE] = 1.0
    scores = zero_shot.offline_scores(labels, np.vstack([unsure, confident])).scores
    assert scores[0] == pytest.approx([0.5, 0.5], abs=0.05)
    assert scores[1].argmax() == 0 and scores[1].sum() == pytest.approx(1.0)


# -- text emotion head -----------------------------------------------------------------------------------------
@requires_pack("minilm")
def test_trained_head_reads_plain_emotions_and_is_named_honestly(offline):
    """Out of sample: three plain sentences written for this test, in no training or dev file and not among the
    zero-shot prototypes. A check that the head reads unmistakable cases and names itself, not an accuracy (that
    is measured on the report halves: docs/emotion.md)."""
    from mmdemo.pipelines.emotion import text as emotion_text
    from mmdemo.emotion_labels import LABELS

    texts = ["I am so scared of what the doctor will say tomorrow.", "Thank you so much, this made my day!",
             "The meeting was moved to Thursday at 10."]
    results = emotion_text.analyze(texts)
    assert all("GoEmotions" in r.method and not r.fallback for r in results)
    assert [LABELS[int(np.argmax(r.probs))] for r in results] == ["fear", "joy", "neutral"]
    zs = emotion_text.analyze(texts[:1], reader="zero-shot")[0]
    assert zs.fallback and zs.method == emotion_text.ZERO_SHOT_METHOD
    with pytest.raises(ValueError):
        emotion_text.analyze(texts, reader="nope")


def test_head_file_is_small_and_matches_the_features():
    from mmdemo.backends.text_emotion import HASH_BUCKETS, HEAD_FILE, HEAD_LAYERS

    assert HEAD_FILE.stat().st_size < 1_000_000
    with np.load(HEAD_FILE) as data:
        assert data["dense"].shape == (384 * len(HEAD_LAYERS), 7) and data["words"].shape == (HASH_BUCKETS, 7)
        assert list(data["labels"]) == ["anger", "disgust", "fear", "joy", "neutral", "sadness", "surprise"]



@requires_pack("minilm")
def test_an_adapter_changes_the_emotion_readers_copy_of_minilm_and_not_the_shared_one(tmp_path):
    """The LoRA deltas (python -m mmdemo.train.minilm_lora) land as W += B @ A * scale on a copy: search and the
    zero-shot reader keep the plain MiniLM."""
    from mmdemo import backends
    from mmdemo.backends.text_emotion import adapted_embedder, head_features
    from mmdemo.errors import BackendUnavailable

    embedder = backends.get("embedder")
    name = "encoder.layer.5.attention.self.query"
    rng = np.random.default_rng(0)
    a, b = rng.normal(0, 0.1, (8, 384)).astype(np.float16), rng.normal(0, 0.1, (384, 8)).astype(np.float16)
    np.savez(tmp_path / "adapter.npz", scale=np.float32(2.0), **{f"{name}.A": a, f"{name}.B": b})
    texts = ["I can't believe you did that!"]
    plain = head_features(embedder, texts)
    adapted = adapted_embedder(embedder, tmp_path / "adapter.npz")
    delta = (adapted.model.get_submodule(name).weight - embedder.model.get_submodule(name).weight).detach().numpy()
    assert np.allclose(delta, b.astype(np.float32) @ a.astype(np.float32) * 2.0, atol=1e-5)
    assert np.abs(head_features(adapted, texts) - plain).max() > 1e-3
    assert np.array_equal(head_features(embedder, texts), plain)
    np.savez(tmp_path / "other.npz", scale=np.float32(1.0), **{"encoder.layer.9.attention.self.query.A": a,
                                                                "encoder.layer.9.attention.self.query.B": b})
    with pytest.raises(BackendUnavailable, match="does not have"):
        adapted_embedder(embedder, tmp_path / "other.npz")

# -- faces -----------------------------------------------------------------------------------------------------
skimage = pytest.importorskip("skimage", reason="scikit-image ships the astronaut photo")


def _small_astronaut(face_px: int) -> tuple[Image.Image, tuple[int, int]]:
    """skimage's astronaut in a 176x144 frame, scaled so that her face (about 130 px at 512) is ``face_px``."""
    photo = Image.open(Path(skimage.__file__).parent / "data" / "astronaut.png").convert("RGB")
    scale = face_px / 130
    small = photo.resize((round(512 * scale), round(512 * scale)), Image.Resampling.LANCZOS)
    cx, cy = round(225 * scale), round(115 * scale)  # her face's centre, in the scaled photo
    left, top = max(0, cx - 88), max(0, cy - 72)
    return small.crop((left, top, left + 176, top + 144)), (cx - left, cy - top)


@requires_pack("fer")
@pytest.mark.parametrize("face_px", [40, 56])
def test_a_small_face_in_a_low_resolution_frame_is_found(face_px):
    from mmdemo.pipelines.emotion import face as emotion_face

    frame, (cx, cy) = _small_astronaut(face_px)
    assert frame.size == (176, 144)
    boxes = emotion_face.detect_faces(frame)
    assert boxes, "no face found"
    assert any(x <= cx <= x + w and y <= cy <= y + h and w >= 0.6 * face_px for x, y, w, h in boxes), boxes


def test_boxes_that_cannot_be_faces_are_rejected():
    from mmdemo.pipelines.emotion import face as emotion_face

    face, eye = (40, 30, 60, 60), (50, 45, 18, 18)
    assert emotion_face.plausible_faces([eye, face], (176, 144)) == [face]  # the eye inside the face
    assert emotion_face.plausible_faces([(5, 5, 20, 20)], (176, 144)) == []  # eye-sized alone
    assert emotion_face.plausible_faces([(5, 5, 90, 40)], (176, 144)) == []  # no face is that wide
    assert emotion_face.plausible_faces([(100, 10, 40, 40), face], (176, 144)) == [face, (100, 10, 40, 40)]


def test_a_video_without_faces_says_so():
    from mmdemo.pipelines.emotion.face import VideoFaces

    seen = VideoFaces([], 12)
    assert seen.probs is None and "12 sampled frames" in seen.note
    assert VideoFaces([(0.0, np.ones(7) / 7)], 3).note is None


@requires_pack("minilm")
def test_bench_reads_meld_as_conversations_beside_always_neutral_and_the_earlier_heads(tmp_path):
    """bench.real's emotion table on a small data folder written for this test (MELD's layout, not its text), run
    as anyone runs it: ``python -m bench.real --only emotion --data DIR`` (tests never import bench)."""
    folder = tmp_path / "emotion"
    folder.mkdir()
    (folder / "ekman_labels.txt").write_text("anger\ndisgust\nfear\njoy\nneutral\nsadness\nsurprise\n")
    comments = [("I can't stop smiling today", 3), ("That smell made me gag", 1), ("The store opens at nine", 4),
                ("I miss my old street so much", 5), ("Whoa, did not see that coming", 6), ("Get out of my way!", 0)]
    (folder / "ekman_dev.tsv").write_text("".join(f"{t}\t{label}\tc{i}\n" for i, (t, label) in enumerate(comments * 2)))
    lines = ["Utterance,Speaker,Emotion,Dialogue_ID,Utterance_ID"]
    for dialogue in range(4):
        lines += [f"We won the raffle!,Kim,joy,{dialogue},0", f"You're kidding!,Ali,surprise,{dialogue},1",
                  f"The car is parked outside.,Kim,neutral,{dialogue},2"]
    (folder / "meld_dev_sent_emo.csv").write_text("\n".join(lines) + "\n")
    out = subprocess.run([sys.executable, "-m", "bench.real", "--only", "emotion", "--data", str(tmp_path)], cwd=ROOT,
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    table = [line for line in out.stdout.splitlines() if line.startswith("|")]
    readers = [line.split(" | ")[0].strip("| ") for line in table[2:]]
    assert readers[:4] == ["always neutral"] * 2 + ["shipped head"] * 2
    earlier = [r for r in readers[4:] if r]  # the heads this one replaced, read from git history: two rows each
    assert len(earlier) == 4 and earlier[0] == earlier[1] and earlier[2] == earlier[3] != earlier[0]
    meld_neutral = next(line for line in table if line.startswith("| always neutral | MELD"))
    assert "| 6 | 0.333 |" in meld_neutral  # the report half: 2 of the 4 dialogues, a third of their lines neutral
