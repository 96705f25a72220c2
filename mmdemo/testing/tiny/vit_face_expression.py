"""A tiny ViT image classifier laid out like trpakov/vit-face-expression (FER-2013 class names in id2label)."""

from pathlib import Path

ID2LABEL = {0: "angry", 1: "disgust", 2: "fear", 3: "happy", 4: "neutral", 5: "sad", 6: "surprise"}


def build(folder: Path) -> Path:
    import torch
    from transformers import ViTConfig, ViTForImageClassification, ViTImageProcessor

    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    config = ViTConfig(image_size=32, patch_size=8, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                       intermediate_size=64, initializer_range=0.5, num_labels=7, id2label=ID2LABEL,
                       label2id={v: k for k, v in ID2LABEL.items()})
    ViTForImageClassification(config).save_pretrained(folder, safe_serialization=True)
    ViTImageProcessor(size={"height": 32, "width": 32}, image_mean=[0.5] * 3, image_std=[0.5] * 3).save_pretrained(folder)
    return folder
