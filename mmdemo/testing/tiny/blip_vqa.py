"""A tiny BLIP visual-question-answering model (BlipForQuestionAnswering) laid out like Salesforce/blip-vqa-base."""

from pathlib import Path

from mmdemo.testing.tiny.blip import config, save_processor


def build(folder: Path) -> Path:
    import torch
    from transformers import BlipForQuestionAnswering

    processor = save_processor(folder)
    torch.manual_seed(1)
    BlipForQuestionAnswering(config(processor)).save_pretrained(folder, safe_serialization=True)
    return folder
