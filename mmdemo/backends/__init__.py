"""Every backend of the app, declared once, and the process-wide registry that loads them.

    from mmdemo import backends
    model = backends.get("embedder")     # loads once, shared by every tab
    backends.report()                    # what the Models view shows

Each loader lives in a small module next to this file and receives a ``registry.Source``.
"""

from __future__ import annotations

from mmdemo.registry import BackendSpec, Registry

SPECS = [
    BackendSpec("whisper", "speech recognition and speech translation to English", "openai/whisper-small",
                "mmdemo.backends.whisper:load", pack="whisper-base"),
    BackendSpec("vad", "voice activity detection", None, "mmdemo.backends.vad:load", pack="silero-vad"),
    BackendSpec("captioner", "image captioning", "Salesforce/blip-image-captioning-base",
                "mmdemo.backends.captioner:load"),
    BackendSpec("vqa", "visual question answering", "Salesforce/blip-vqa-base", "mmdemo.backends.vqa:load"),
    BackendSpec("clip", "image-text similarity with CLIP", "laion/CLIP-ViT-B-32-laion2B-s34B-b79K",
                "mmdemo.backends.clip:load", files=("open_clip_*",)),
    BackendSpec("diffusion", "text-to-image generation", "stabilityai/sd-turbo", "mmdemo.backends.diffusion:load"),
    BackendSpec("translator", "text translation", "facebook/nllb-200-distilled-600M",
                "mmdemo.backends.translator:load"),
    BackendSpec("embedder", "sentence embeddings", "sentence-transformers/all-MiniLM-L6-v2",
                "mmdemo.backends.embedder:load", pack="minilm"),
    BackendSpec("text_emotion", "text emotion classification", "j-hartmann/emotion-english-distilroberta-base",
                "mmdemo.backends.text_emotion:load"),
    BackendSpec("speech_emotion", "speech emotion classification", "superb/wav2vec2-base-superb-er",
                "mmdemo.backends.speech_emotion:load"),
    BackendSpec("face_emotion", "facial expression classification", "trpakov/vit-face-expression",
                "mmdemo.backends.face_emotion:load", pack="fer"),
    BackendSpec("image_classifier", "ImageNet image classification", "timm/tf_efficientnet_lite0.in1k",
                "mmdemo.backends.image_classifier:load", pack="efficientnet-lite0"),
    BackendSpec("summarizer", "abstractive text summarization", "sshleifer/distilbart-cnn-12-6",
                "mmdemo.backends.summarizer:load"),
    BackendSpec("chat", "visual chat (image-text-to-text)", "HuggingFaceTB/SmolVLM2-256M-Video-Instruct",
                "mmdemo.backends.chat:load"),
]

REGISTRY = Registry(SPECS)

get = REGISTRY.get
get_loaded = REGISTRY.get_loaded
resolve = REGISTRY.resolve
report = REGISTRY.report
unload = REGISTRY.unload
