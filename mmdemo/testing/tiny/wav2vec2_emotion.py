"""A tiny wav2vec2 audio classifier laid out like superb/wav2vec2-base-superb-er (4 IEMOCAP classes)."""

from pathlib import Path

ID2LABEL = {0: "neu", 1: "hap", 2: "ang", 3: "sad"}


def build(folder: Path) -> Path:
    import torch
    from transformers import Wav2Vec2Config, Wav2Vec2FeatureExtractor, Wav2Vec2ForSequenceClassification

    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    config = Wav2Vec2Config(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                            initializer_range=0.5,  # large random weights: outputs far from uniform
                            conv_dim=(16, 16, 16), conv_stride=(5, 4, 4), conv_kernel=(10, 8, 8),
                            num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=2, classifier_proj_size=16,
                            num_labels=4, id2label=ID2LABEL, label2id={v: k for k, v in ID2LABEL.items()})
    Wav2Vec2ForSequenceClassification(config).save_pretrained(folder, safe_serialization=True)
    Wav2Vec2FeatureExtractor(feature_size=1, sampling_rate=16000, padding_value=0.0, do_normalize=True,
                             return_attention_mask=False).save_pretrained(folder)
    return folder
