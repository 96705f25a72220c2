"""Offline training and asset-building scripts (run by hand, seeded; never imported by the app at run time).

    python -m mmdemo.train.text_emotion [--data DIR]      # the text-emotion head in mmdemo/data/ (GoEmotions + MELD)
    python -m mmdemo.train.emotion_data --out DIR          # MELD dev's tuning/report halves as evaluation manifests
    python -m mmdemo.train.imagenet_hypernyms --wordnet DIR  # mmdemo/data/imagenet_hypernyms.tsv
"""
