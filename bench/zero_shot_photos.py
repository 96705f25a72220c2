"""Offline zero-shot labels on real photos: top-1 right, with the default label list and with a fitting list.

    python -m bench.zero_shot_photos [--photos DIR ...] [--method hypernyms|embedding] [--show]

Photos (all real, none made for this project), looked up by file name in scikit-image's data folder and in every
``--photos`` folder; missing ones are skipped and counted:

* scikit-image 0.26 ``skimage/data`` (requirements-dev.txt; BSD-3 and the licences in its README): astronaut,
  camera, chelsea, coffee, rocket, motorcycle_left, clock_motion, coins, moon, hubble_deep_field, retina, brick,
  grass, gravel, page;
* matplotlib's ``mpl-data/sample_data/grace_hopper.jpg`` (matplotlib wheel; US Navy photo, public domain);
* OpenCV's sample images, ``examples/data`` of Debian's ``opencv-doc`` package (``apt-get download opencv-doc``,
  ``dpkg-deb -x``; the images carry OpenCV's sample-data licences): apple, orange, fruits, baboon, butterfly,
  building, messi5, aero1, home, squirrel_cls, basketball1, chicky_512, licenseplate_motion, box, stuff, leuvenA,
  board, ela_original, left, and ``examples/alphamat/input_images/plant.jpg``.

Truth was written by looking at each photo, before any scoring: the label a person would give from a fitting list
(one list of all those labels, shared by every photo), and which labels of ``mmdemo/data/labels.txt`` a person would
accept (None: no label there fits, so the photo is left out of the default-list count). ``--method embedding``
scores with the earlier mapping (probability-weighted mean of class-name vectors vs label vectors) for comparison.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np

# file -> (fitting label, labels of mmdemo/data/labels.txt a person would accept, or None when none fits)
TRUTH = {
    "astronaut.png": ("astronaut", {"astronaut", "person", "space"}),
    "camera.png": ("photographer", {"person", "camera"}),
    "chelsea.png": ("cat", {"cat"}),
    "coffee.png": ("cup of coffee", {"coffee", "drink"}),
    "rocket.jpg": ("rocket launch", {"rocket", "space"}),
    "motorcycle_left.png": ("motorbike", {"motorcycle"}),
    "clock_motion.png": ("wall clock", {"clock"}),
    "coins.png": ("coins", {"money"}),
    "moon.png": ("moon", {"space", "sky"}),
    "hubble_deep_field.jpg": ("galaxies", {"space", "sky"}),
    "retina.jpg": ("eye", None),
    "brick.png": ("brick wall", {"building"}),
    "grass.png": ("grass", {"plant"}),
    "gravel.png": ("gravel", None),
    "page.png": ("printed page", {"book"}),
    "grace_hopper.jpg": ("woman in uniform", {"person"}),
    "apple.jpg": ("apple", {"fruit", "food"}),
    "orange.jpg": ("orange", {"fruit", "food"}),
    "fruits.jpg": ("citrus fruits", {"fruit", "food"}),
    "baboon.jpg": ("baboon", {"monkey", "animal"}),
    "butterfly.jpg": ("butterfly", {"insect", "animal"}),
    "building.jpg": ("hotel", {"building", "city"}),
    "messi5.jpg": ("soccer", {"sports", "person", "ball"}),
    "aero1.jpg": ("aerial view of a city", {"city"}),
    "home.jpg": ("palace", {"building", "house"}),
    "squirrel_cls.jpg": ("squirrel", {"animal"}),
    "basketball1.png": ("basketball", {"person", "ball", "sports"}),
    "chicky_512.png": ("fluffy dog", {"dog", "animal"}),
    "licenseplate_motion.jpg": ("car", {"car"}),
    "box.png": ("box of biscuits", {"food"}),
    "stuff.jpg": ("objects on a table", None),
    "leuvenA.jpg": ("old town street", {"street", "building", "city", "house"}),
    "board.jpg": ("circuit board", {"computer"}),
    "ela_original.jpg": ("notebook", {"book"}),
    "left.jpg": ("books", {"book"}),
    "plant.jpg": ("potted plant", {"plant"}),
}
FITTING = sorted({fitting for fitting, _ in TRUTH.values()})


def find_photos(folders: list[Path]) -> dict[str, Path]:
    import skimage

    roots = [Path(skimage.__file__).parent / "data", *folders]
    found = {}
    for name in TRUTH:
        for root in roots:
            hits = [root / name] if (root / name).is_file() else sorted(root.rglob(name)) if root.is_dir() else []
            if hits:
                found[name] = hits[0]
                break
    return found


def embedding_scores(labels, probs):
    """The earlier mapping: probability-weighted mean of embedded class names, cosine with embedded labels."""
    from mmdemo import backends
    from mmdemo.pipelines.shared import zero_shot

    from mmdemo.backends.image_classifier import imagenet_class_names

    embedder = backends.get("embedder")
    vecs = probs.astype(np.float32) @ embedder.encode(imagenet_class_names())
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    return vecs @ embedder.encode(labels).T


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=Path, action="append", default=[], help="extra folder(s) to look in")
    parser.add_argument("--method", choices=("hypernyms", "embedding"), default="hypernyms")
    parser.add_argument("--show", action="store_true", help="one row per photo")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from PIL import Image

    from mmdemo import backends
    from mmdemo.pipelines.shared import zero_shot

    found = find_photos(args.photos)
    names = list(found)
    images = [Image.open(found[n]).convert("RGB") for n in names]
    classifier = backends.get("image_classifier")
    probs = classifier.probabilities(images)
    default = zero_shot.default_labels()
    tables = {}
    for list_name, labels in (("default", default), ("fitting", FITTING)):
        if args.method == "embedding":
            scores = embedding_scores(labels, probs)
        else:
            scores = zero_shot.offline_scores(labels, probs).scores
        tables[list_name] = [labels[int(i)] for i in scores.argmax(axis=1)]
    rows, right_default, counted_default, right_fitting = [], 0, 0, 0
    for i, name in enumerate(names):
        fitting, accept = TRUTH[name]
        top_imagenet = classifier.labels[int(probs[i].argmax())]
        ok_fit = tables["fitting"][i] == fitting
        right_fitting += ok_fit
        ok_default = None if accept is None else tables["default"][i] in accept
        if accept is not None:
            counted_default += 1
            right_default += ok_default
        rows.append((name, f"{top_imagenet} {probs[i].max():.2f}", tables["default"][i],
                     "" if ok_default is None else "yes" if ok_default else "no", fitting, tables["fitting"][i],
                     "yes" if ok_fit else "no"))
    print(f"Offline zero-shot labels ({args.method}), {len(names)} real photos found of {len(TRUTH)} "
          f"(missing: {', '.join(sorted(set(TRUTH) - set(found))) or 'none'})\n")
    if args.show:
        print("| photo | ImageNet top-1 | default list: top-1 | ok | fitting label | fitting list: top-1 | ok |")
        print("|---|---|---|---|---|---|---|")
        for row in rows:
            print("| " + " | ".join(row) + " |")
        print()
    print("| label list | top-1 right |\n|---|---|")
    print(f"| default (mmdemo/data/labels.txt, {len(default)} labels) | {right_default}/{counted_default} |")
    print(f"| fitting (one list of the {len(FITTING)} photos' labels) | {right_fitting}/{len(names)} |")


if __name__ == "__main__":
    main()
