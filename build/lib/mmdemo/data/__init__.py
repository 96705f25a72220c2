"""Data files the library reads at run time, shipped inside the package (so `pip install .` carries them):

- ``labels.txt``: the default zero-shot label list;
- ``imagenet_classes.txt``: the 1000 ImageNet class names, in class-index order;
- ``imagenet_hypernyms.tsv``: each class's WordNet hypernym lemmas (``python -m mmdemo.train.imagenet_hypernyms``);
- ``text_emotion_head.npz``: the offline text-emotion head (``python -m mmdemo.train.text_emotion``).

Credits and licences: ``CREDITS.md`` beside them.
"""

from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent
