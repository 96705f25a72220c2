"""A tiny AutoencoderTiny (TAESD architecture: 8x, 4 latent channels, like madebyollin/taesd) with random weights."""

from pathlib import Path


def build(folder: Path) -> Path:
    import torch
    from diffusers import AutoencoderTiny

    torch.manual_seed(0)
    AutoencoderTiny(encoder_block_out_channels=(8, 8, 8, 8), decoder_block_out_channels=(8, 8, 8, 8),
                    num_encoder_blocks=(1, 1, 1, 1), num_decoder_blocks=(1, 1, 1, 1)).save_pretrained(
        folder, safe_serialization=True)
    return folder
