"""The test kit that ``tests/`` and ``bench/`` both import (and neither imports the other): synthetic videos with
known cuts (``videos``), speech clips, tones and small media files (``speech_clips``), tiny randomly initialised
models of the real architectures (``tiny``) and the soak harness that serves requests to ``python app.py``
(``soak``). The app never imports it, and ``pip install`` leaves it out (pyproject.toml): it works from a
checkout, beside ``app.py`` and ``assets/``.
"""
