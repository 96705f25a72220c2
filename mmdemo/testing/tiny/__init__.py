"""Builders of tiny, randomly initialised models of the real architectures, saved in the same on-disk format
users' models have, so tests load them through the registry's real code path.

Each module here has ``build(folder: pathlib.Path) -> pathlib.Path`` returning the model folder (or file) to
point the backend's MMDEMO_<BACKEND>_MODEL variable at. Outputs of these models are noise: tests check wiring,
shapes, determinism and error paths, never quality.
"""
