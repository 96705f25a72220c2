"""A tiny RoBERTa sequence classifier laid out like j-hartmann/emotion-english-distilroberta-base: the same
7 class names in id2label, a byte-level BPE tokenizer (every byte a token, no merges) written here."""

from pathlib import Path

ID2LABEL = {0: "anger", 1: "disgust", 2: "fear", 3: "joy", 4: "neutral", 5: "sadness", 6: "surprise"}
SPECIAL = ["<s>", "<pad>", "</s>", "<unk>"]


def _byte_alphabet() -> list[str]:
    """GPT-2's byte-to-printable-character table, as byte-level BPE tokenizers store their vocabulary."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    chars, extra = [], 0
    for b in range(256):
        if b in printable:
            chars.append(chr(b))
        else:
            chars.append(chr(256 + extra))
            extra += 1
    return chars


def build(folder: Path, id2label: dict | None = None) -> Path:
    import torch
    from transformers import RobertaConfig, RobertaForSequenceClassification, RobertaTokenizer

    folder.mkdir(parents=True, exist_ok=True)
    tokens = SPECIAL + _byte_alphabet() + ["<mask>"]
    RobertaTokenizer(vocab={t: i for i, t in enumerate(tokens)}, merges=[]).save_pretrained(folder)
    labels = id2label or ID2LABEL
    torch.manual_seed(0)
    config = RobertaConfig(vocab_size=len(tokens), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                           intermediate_size=64, max_position_embeddings=130, pad_token_id=1, bos_token_id=0,
                           eos_token_id=2, initializer_range=0.5, num_labels=len(labels), id2label=labels,
                           label2id={v: k for k, v in labels.items()})
    RobertaForSequenceClassification(config).save_pretrained(folder, safe_serialization=True)
    return folder
