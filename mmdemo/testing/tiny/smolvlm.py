"""A tiny SmolVLM (SmolVLMForConditionalGeneration, the architecture of HuggingFaceTB/SmolVLM2-256M-Video-Instruct):
SigLIP-style vision encoder + pixel-shuffle connector + Llama text model, with SmolVLMProcessor (byte-level BPE
tokenizer trained here on a few sentences, SmolVLM2's chat template and image tokens, SmolVLMImageProcessor that
splits images into tiles as the real one does) and config + model.safetensors. Built only from local objects."""

from pathlib import Path

# SmolVLM2's chat template as transformers ships it (processing_smolvlm.DEFAULT_CHAT_TEMPLATE).
CHAT_TEMPLATE = (
    "<|im_start|>{% for message in messages %}{{message['role'] | capitalize}}"
    "{% if message['content'][0]['type'] == 'image' %}{{':'}}{% else %}{{': '}}{% endif %}"
    "{% for line in message['content'] %}{% if line['type'] == 'text' %}{{line['text']}}"
    "{% elif line['type'] == 'image' %}{{ '<image>' }}{% elif line['type'] == 'video' %}{{ '<video>' }}{% endif %}"
    "{% endfor %}<end_of_utterance>\n{% endfor %}{% if add_generation_prompt %}{{ 'Assistant:' }}{% endif %}"
)
CORPUS = ("User: what is in the picture? Assistant: a dog sitting on the grass in a park with a red ball. "
          "System: you are a helpful assistant that answers questions about images and videos. "
          "The cat is black and white; two people walk down the street next to a blue car.").split(". ")
MAX_ROWS = 6  # the real tokenizer carries <row_1_col_1> ... <row_6_col_6>
IMAGE_SIZE, PATCH_SIZE, SCALE_FACTOR = 32, 8, 2  # (32 / 8)^2 / 2^2 = 4 image tokens per tile
CONTEXT = 512  # max_position_embeddings: small, so tests can overflow it with a few turns


def special_tokens() -> list[str]:
    rows = [f"<row_{r}_col_{c}>" for r in range(1, MAX_ROWS + 1) for c in range(1, MAX_ROWS + 1)]
    return ["<|im_start|>", "<|im_end|>", "<end_of_utterance>", "<fake_token_around_image>", "<global-img>",
            "<image>", "<video>", *rows]


def tokenizer():
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=400, special_tokens=["<|endoftext|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    bpe.train_from_iterator(CORPUS, trainer)
    tok = PreTrainedTokenizerFast(tokenizer_object=bpe, bos_token="<|im_start|>", eos_token="<end_of_utterance>",
                                  pad_token="<|endoftext|>", unk_token="<|endoftext|>")
    tok.add_special_tokens({"additional_special_tokens": special_tokens()})
    return tok


def save_processor(folder: Path):
    from transformers import SmolVLMImageProcessor, SmolVLMProcessor, SmolVLMVideoProcessor

    folder.mkdir(parents=True, exist_ok=True)
    tile = {"longest_edge": IMAGE_SIZE}
    image_processor = SmolVLMImageProcessor(size={"longest_edge": 2 * IMAGE_SIZE}, max_image_size=tile)
    video_processor = SmolVLMVideoProcessor(size={"longest_edge": IMAGE_SIZE}, max_image_size=tile)
    seq_len = (IMAGE_SIZE // PATCH_SIZE) ** 2 // SCALE_FACTOR**2
    processor = SmolVLMProcessor(image_processor=image_processor, tokenizer=tokenizer(),
                                 video_processor=video_processor, image_seq_len=seq_len, chat_template=CHAT_TEMPLATE)
    processor.save_pretrained(folder)
    return processor


def config(processor):
    from transformers import SmolVLMConfig

    tok = processor.tokenizer
    text = dict(model_type="llama", vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=CONTEXT,
                bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id)
    vision = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                  image_size=IMAGE_SIZE, patch_size=PATCH_SIZE)
    return SmolVLMConfig(text_config=text, vision_config=vision, scale_factor=SCALE_FACTOR,
                         image_token_id=tok.convert_tokens_to_ids("<image>"), pad_token_id=tok.pad_token_id)


def build(folder: Path) -> Path:
    import torch
    from transformers import GenerationConfig, SmolVLMForConditionalGeneration

    processor = save_processor(folder)
    torch.manual_seed(0)
    model = SmolVLMForConditionalGeneration(config(processor))
    tok = processor.tokenizer
    model.generation_config = GenerationConfig(bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
                                               pad_token_id=tok.pad_token_id)
    model.save_pretrained(folder, safe_serialization=True)
    return folder
