"""Turn the whisper-base pack's CTranslate2 model into a transformers Whisper folder, so the benchmark can run the
transformers engine on exactly the weights the faster-whisper engine uses (no Hub needed).

`python -m bench.whisper_ct2_to_hf OUT_FOLDER` (reads the rebuilt pack folder from mmdemo's cache).

CTranslate2's model.bin (binary version 6) is: version, spec name, revision, then each variable as name, rank,
dims, dtype, byte count and raw data, then aliases. Whisper's attention projections are fused there (q|k|v for
self-attention, k|v for cross-attention) and are split back into transformers' separate projections.
"""

from __future__ import annotations

import json
import struct
import sys
from pathlib import Path

import numpy as np

DTYPES = {0: np.float32, 1: np.int8, 2: np.int16, 3: np.int32, 4: np.float16}


def read_ct2(path: Path) -> dict[str, np.ndarray]:
    data = path.read_bytes()
    offset = 0

    def take(fmt):
        nonlocal offset
        value = struct.unpack_from(fmt, data, offset)[0]
        offset += struct.calcsize(fmt)
        return value

    def text():
        nonlocal offset
        n = take("<H")
        value = data[offset:offset + n].rstrip(b"\0").decode()
        offset += n
        return value

    version, spec, _revision = take("<I"), text(), take("<I")
    if version != 6 or spec != "WhisperSpec":
        raise ValueError(f"expected a CTranslate2 v6 WhisperSpec model, got v{version} {spec}")
    variables = {}
    for _ in range(take("<I")):
        name, rank = text(), take("<B")
        dims = [take("<I") for _ in range(rank)]
        dtype, nbytes = DTYPES[take("<B")], take("<I")
        variables[name] = np.frombuffer(data, dtype=dtype, count=int(np.prod(dims)), offset=offset).reshape(dims)
        offset += nbytes
    for _ in range(take("<I")):
        alias, target = text(), text()
        variables[alias] = variables[target]
    return variables


def to_state_dict(v: dict[str, np.ndarray], layers: int, d: int) -> dict:
    import torch

    sd = {}

    def put(name, array):
        sd[name] = torch.from_numpy(np.array(array, dtype=np.float32))

    def attention(prefix, src, fused_qkv: bool):
        w, b = v[f"{src}/linear_0/weight"], v[f"{src}/linear_0/bias"]
        if fused_qkv:
            put(f"{prefix}.q_proj.weight", w[:d]); put(f"{prefix}.q_proj.bias", b[:d])
            put(f"{prefix}.k_proj.weight", w[d:2 * d])
            put(f"{prefix}.v_proj.weight", w[2 * d:]); put(f"{prefix}.v_proj.bias", b[2 * d:])
            out = "linear_1"
        else:  # cross-attention: q alone, then k|v fused
            put(f"{prefix}.q_proj.weight", w); put(f"{prefix}.q_proj.bias", b)
            kv, kvb = v[f"{src}/linear_1/weight"], v[f"{src}/linear_1/bias"]
            put(f"{prefix}.k_proj.weight", kv[:d])
            put(f"{prefix}.v_proj.weight", kv[d:]); put(f"{prefix}.v_proj.bias", kvb[d:])
            out = "linear_2"
        put(f"{prefix}.out_proj.weight", v[f"{src}/{out}/weight"]); put(f"{prefix}.out_proj.bias", v[f"{src}/{out}/bias"])

    def norm(prefix, src):
        put(f"{prefix}.weight", v[f"{src}/gamma"]); put(f"{prefix}.bias", v[f"{src}/beta"])

    def ffn(prefix, src):
        norm(f"{prefix}.final_layer_norm", f"{src}/ffn/layer_norm")
        for hf, ct in (("fc1", "linear_0"), ("fc2", "linear_1")):
            put(f"{prefix}.{hf}.weight", v[f"{src}/ffn/{ct}/weight"]); put(f"{prefix}.{hf}.bias", v[f"{src}/ffn/{ct}/bias"])

    for conv in ("conv1", "conv2"):
        put(f"model.encoder.{conv}.weight", v[f"encoder/{conv}/weight"]); put(f"model.encoder.{conv}.bias", v[f"encoder/{conv}/bias"])
    put("model.encoder.embed_positions.weight", v["encoder/position_encodings/encodings"])
    norm("model.encoder.layer_norm", "encoder/layer_norm")
    put("model.decoder.embed_tokens.weight", v["decoder/embeddings/weight"])
    put("model.decoder.embed_positions.weight", v["decoder/position_encodings/encodings"])
    norm("model.decoder.layer_norm", "decoder/layer_norm")
    for i in range(layers):
        enc, ct = f"model.encoder.layers.{i}", f"encoder/layer_{i}"
        attention(f"{enc}.self_attn", f"{ct}/self_attention", True)
        norm(f"{enc}.self_attn_layer_norm", f"{ct}/self_attention/layer_norm")
        ffn(enc, ct)
        dec, ct = f"model.decoder.layers.{i}", f"decoder/layer_{i}"
        attention(f"{dec}.self_attn", f"{ct}/self_attention", True)
        norm(f"{dec}.self_attn_layer_norm", f"{ct}/self_attention/layer_norm")
        attention(f"{dec}.encoder_attn", f"{ct}/attention", False)
        norm(f"{dec}.encoder_attn_layer_norm", f"{ct}/attention/layer_norm")
        ffn(dec, ct)
    return sd


def convert(ct2_folder: Path, out: Path) -> Path:
    from transformers import (GenerationConfig, WhisperConfig, WhisperFeatureExtractor,
                              WhisperForConditionalGeneration, WhisperProcessor, WhisperTokenizerFast)

    variables = read_ct2(ct2_folder / "model.bin")
    ct2_config = json.loads((ct2_folder / "config.json").read_text())
    d = variables["encoder/conv1/weight"].shape[0]
    layers = sum(1 for k in variables if k.startswith("encoder/layer_") and k.endswith("ffn/linear_0/weight"))
    heads = int(variables["encoder/num_heads"])
    tokenizer = WhisperTokenizerFast(tokenizer_file=str(ct2_folder / "tokenizer.json"), unk_token="<|endoftext|>",
                                     bos_token="<|endoftext|>", eos_token="<|endoftext|>", pad_token="<|endoftext|>")
    ids = tokenizer.convert_tokens_to_ids
    eot, sot = ids("<|endoftext|>"), ids("<|startoftranscript|>")
    config = WhisperConfig(vocab_size=variables["decoder/embeddings/weight"].shape[0], num_mel_bins=80, d_model=d,
                           encoder_layers=layers, decoder_layers=layers, encoder_attention_heads=heads,
                           decoder_attention_heads=heads, encoder_ffn_dim=4 * d, decoder_ffn_dim=4 * d,
                           max_source_positions=1500, max_target_positions=448, pad_token_id=eot, bos_token_id=eot,
                           eos_token_id=eot, decoder_start_token_id=sot,
                           suppress_tokens=ct2_config["suppress_ids"],
                           begin_suppress_tokens=ct2_config["suppress_ids_begin"])
    model = WhisperForConditionalGeneration(config)
    missing, unexpected = model.load_state_dict(to_state_dict(variables, layers, d), strict=False)
    missing = [k for k in missing if k != "proj_out.weight"]  # tied to the token embeddings
    if missing or unexpected:
        raise ValueError(f"weights do not match: missing {missing[:5]}, unexpected {unexpected[:5]}")
    model.tie_weights()
    lang_to_id = {t: ids(t) for t in (tokenizer.convert_ids_to_tokens(i) for i in ct2_config["lang_ids"])}
    model.generation_config = GenerationConfig(
        decoder_start_token_id=sot, bos_token_id=eot, eos_token_id=eot, pad_token_id=eot, max_length=448,
        is_multilingual=True, lang_to_id=lang_to_id,
        task_to_id={"transcribe": ids("<|transcribe|>"), "translate": ids("<|translate|>")},
        no_timestamps_token_id=ids("<|notimestamps|>"), prev_sot_token_id=ids("<|startofprev|>"),
        max_initial_timestamp_index=50, suppress_tokens=ct2_config["suppress_ids"],
        begin_suppress_tokens=ct2_config["suppress_ids_begin"],
        alignment_heads=ct2_config.get("alignment_heads"))
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    WhisperProcessor(WhisperFeatureExtractor(feature_size=80), tokenizer).save_pretrained(out)
    return out


def main(argv=None) -> None:
    from mmdemo.backends.whisper import pack_model_folder

    args = argv if argv is not None else sys.argv[1:]
    if len(args) != 1:
        sys.exit("usage: python -m bench.whisper_ct2_to_hf OUT_FOLDER")
    print(convert(pack_model_folder(), Path(args[0])))


if __name__ == "__main__":
    main()
