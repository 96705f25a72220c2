"""Offline training and asset-building scripts (run by hand, seeded; never imported by the app at run time).

    python -m mmdemo.train.text_emotion --data DIR        # the text-emotion head in assets/
    python -m mmdemo.train.imagenet_hypernyms --wordnet DIR  # assets/imagenet_hypernyms.tsv
"""
