"""Speech emotion classification from the sound of the voice (superb/wav2vec2-base-superb-er by default), on plain
transformers, returned over the shared 7-emotion label set.

SUPERB's model knows 4 classes (neutral, happy, angry, sad): the other 3 labels get no probability from it, and
``covered`` says which labels a model can speak to. No speech-emotion weights exist offline; the voice pipeline
then shows prosody as a heuristic arousal reading instead (mmdemo.pipelines.emotion.voice).
"""

from __future__ import annotations

import numpy as np

from mmdemo.backends.pretrained import load_pretrained
from mmdemo.errors import BackendUnavailable
from mmdemo.emotion_labels import LabelMap, label_map
from mmdemo.registry import Loaded, Source

WINDOW_S = 20.0  # longer clips are cut into windows: attention cost grows with length, emotion changes anyway


class SpeechEmotion:
    def __init__(self, model, extractor, device: str, dtype, name: str):
        self.model, self.extractor, self.device, self.dtype, self.name = model, extractor, device, dtype, name
        self.sample_rate = int(getattr(extractor, "sampling_rate", 16000))
        labels = [model.config.id2label[i] for i in range(model.config.num_labels)]
        self.mapping: LabelMap = label_map(labels)

    @property
    def covered(self) -> list[str]:
        return self.mapping.covered

    def predict(self, clips: list[np.ndarray], sample_rate: int = 16000) -> np.ndarray:
        """(len(clips), 7) probabilities over LABELS for mono float32 clips; long clips average their windows."""
        import torch

        out = []
        with torch.inference_mode():
            for clip in clips:
                clip = np.asarray(clip, dtype=np.float32)
                if sample_rate != self.sample_rate:
                    import librosa

                    clip = librosa.resample(clip, orig_sr=sample_rate, target_sr=self.sample_rate)
                step = int(WINDOW_S * self.sample_rate)
                windows = [clip[i:i + step] for i in range(0, max(len(clip), 1), step)]
                windows = [w for w in windows if len(w) >= self.sample_rate // 4] or [np.pad(clip, (0, self.sample_rate // 4))]
                probs, weights = [], []
                for window in windows:  # one at a time: no padding, so no attention-mask subtleties
                    inputs = self.extractor(window, sampling_rate=self.sample_rate, return_tensors="pt")
                    values = inputs["input_values"].to(self.device, self.dtype)
                    probs.append(self.model(input_values=values).logits.float().softmax(-1)[0].cpu().numpy())
                    weights.append(len(window))
                out.append(np.average(probs, axis=0, weights=weights))
        return self.mapping.apply(np.stack(out)) if out else np.zeros((0, 7))


def load(source: Source) -> Loaded:
    from transformers import AutoFeatureExtractor, AutoModelForAudioClassification

    # superb/wav2vec2-base-superb-er ships only pytorch_model.bin on its main branch: prefer_safetensors lets
    # transformers load it with weights_only=True.
    model, (extractor,), placement = load_pretrained(source, AutoModelForAudioClassification, AutoFeatureExtractor)
    name = source.model_id or source.location
    try:
        classifier = SpeechEmotion(model, extractor, placement.device, placement.dtype, name)
    except ValueError as exc:
        raise BackendUnavailable(f"the speech_emotion model {name} is not an emotion classifier: {exc}.") from None
    return placement.loaded(classifier, model, note=f"covers {', '.join(classifier.covered)}")
