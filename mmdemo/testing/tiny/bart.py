"""A tiny random BART summarizer (BartForConditionalGeneration) laid out like sshleifer/distilbart-cnn-12-6:
byte-level BPE tokenizer built here (the 256 byte symbols and a few merges),
config + model.safetensors."""

from pathlib import Path

MERGES = ["t h", "th e", "Ġ th", "Ġth e", "a n", "Ġ a", "i n", "e r", "o n", "Ġ s"]


def _byte_symbols() -> list[str]:
    """GPT-2's printable stand-ins for the 256 bytes (the same table every byte-level BPE uses)."""
    keep = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    symbols, extra = {}, 0
    for b in range(256):
        if b in keep:
            symbols[b] = chr(b)
        else:
            symbols[b] = chr(256 + extra)
            extra += 1
    return [symbols[b] for b in range(256)]


def build(folder: Path) -> Path:
    import torch
    from transformers import BartConfig, BartForConditionalGeneration, BartTokenizerFast, GenerationConfig

    folder.mkdir(parents=True, exist_ok=True)
    tokens = ["<s>", "<pad>", "</s>", "<unk>", *_byte_symbols(), *(m.replace(" ", "") for m in MERGES), "<mask>"]
    # BartTokenizerFast writes vocab.json, merges.txt and tokenizer.json like the real checkpoint has.
    tokenizer = BartTokenizerFast(vocab={t: i for i, t in enumerate(tokens)},
                                  merges=[tuple(m.split()) for m in MERGES], model_max_length=128)
    tokenizer.save_pretrained(folder)
    config = BartConfig(vocab_size=len(tokens), d_model=32, encoder_layers=2, decoder_layers=2,
                        encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=64, decoder_ffn_dim=64,
                        max_position_embeddings=128, pad_token_id=1, bos_token_id=0, eos_token_id=2,
                        decoder_start_token_id=2, forced_bos_token_id=0)
    torch.manual_seed(0)
    model = BartForConditionalGeneration(config).eval()
    # A real summarizer's generation_config carries its decoding settings (distilbart-cnn: 4 beams, 56-142
    # tokens); this one keeps its noise short so tests stay fast.
    model.generation_config = GenerationConfig(decoder_start_token_id=2, bos_token_id=0, eos_token_id=2,
                                               pad_token_id=1, forced_bos_token_id=0, num_beams=2, max_length=16,
                                               min_length=4, no_repeat_ngram_size=3)
    model.save_pretrained(folder, safe_serialization=True)
    return folder
