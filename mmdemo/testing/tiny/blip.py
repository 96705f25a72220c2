"""A tiny BLIP captioner (BlipForConditionalGeneration) laid out like Salesforce/blip-image-captioning-base:
BERT WordPiece tokenizer with BLIP's [DEC]/[ENC] tokens, BlipImageProcessor, config + model.safetensors."""

from pathlib import Path

WORDS = ("a an the of photograph picture dog cat sitting on in grass table red blue man woman street car "
         "with and is two small large white black running park what color how many yes no").split()


def save_processor(folder: Path):
    """Writes the tokenizer + image processor to ``folder`` and returns the processor."""
    from transformers import BertTokenizerFast, BlipImageProcessor, BlipProcessor

    folder.mkdir(parents=True, exist_ok=True)
    tokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS]
    tokenizer = BertTokenizerFast(vocab={token: i for i, token in enumerate(tokens)})
    tokenizer.add_special_tokens({"bos_token": "[DEC]", "additional_special_tokens": ["[ENC]"]})
    image_processor = BlipImageProcessor(size={"height": 32, "width": 32})
    processor = BlipProcessor(image_processor=image_processor, tokenizer=tokenizer)
    processor.save_pretrained(folder)
    return processor


def config(processor):
    from transformers import BlipConfig

    tok = processor.tokenizer
    text = dict(vocab_size=len(tok), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                intermediate_size=64, max_position_embeddings=80, encoder_hidden_size=32,
                bos_token_id=tok.bos_token_id, eos_token_id=tok.sep_token_id, sep_token_id=tok.sep_token_id,
                pad_token_id=tok.pad_token_id)
    vision = dict(hidden_size=32, image_size=32, patch_size=8, num_hidden_layers=2, num_attention_heads=2,
                  intermediate_size=64)
    return BlipConfig(text_config=text, vision_config=vision, projection_dim=32)


def build(folder: Path) -> Path:
    import torch
    from transformers import BlipForConditionalGeneration

    processor = save_processor(folder)
    torch.manual_seed(0)
    BlipForConditionalGeneration(config(processor)).save_pretrained(folder, safe_serialization=True)
    return folder
