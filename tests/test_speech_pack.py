"""The real whisper-base pack (faster-whisper engine) on espeak-ng speech in English, Spanish and German:
transcripts close to what was said, the right language detected, speech translated into English words, and the
CLI's JSON and subtitle output."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mmdemo import backends
from mmdemo.pipelines import speech
from mmdemo.testing.speech_clips import espeak, have_espeak
from tests.conftest import requires_pack

pytestmark = requires_pack("whisper-base")
ROOT = Path(__file__).resolve().parent.parent

# Sentences and speeds that espeak-ng pronounces clearly enough for whisper-base (its voices are robotic).
CLIPS = {
    "en": ("en", 150, "The quick brown fox jumps over the lazy dog. This is a test of the speech recognition system."),
    "es": ("es", 140, "Buenos días. Me llamo María y vivo en Barcelona. Me gusta caminar por la playa."),
    "de": ("de", 160, "Guten Tag, ich heiße Anna und wohne in Berlin. Das Wetter ist heute schön."),
}
MAX_WER = {"en": 0.35, "es": 0.35, "de": 0.5}
ENGLISH_WORDS = {"the", "is", "and", "i", "in", "my", "good", "day", "today", "weather", "morning", "name", "live",
                 "beach", "like", "walk", "walking", "nice", "beautiful", "i'm", "am", "to", "on", "of"}
FOREIGN_WORDS = {"me", "llamo", "vivo", "gusta", "playa", "ich", "heiße", "wohne", "wetter", "heute", "ist", "das"}


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> dict[str, Path]:
    if not have_espeak():
        pytest.skip("espeak-ng not installed (.ci/run installs it)")
    folder = tmp_path_factory.mktemp("speech-pack")
    return {lang: espeak(folder / f"{lang}.wav", text, voice, speed) for lang, (voice, speed, text) in CLIPS.items()}


@pytest.fixture(scope="module", autouse=True)
def pack_whisper():
    """The offline pack, whatever the environment says (and the Hub unreachable, as on these machines)."""
    from mmdemo import hub

    mp = pytest.MonkeyPatch()
    mp.delenv("MMDEMO_WHISPER_MODEL", raising=False)
    mp.setattr(hub, "hub_reachable", lambda: False)
    mp.setattr(hub, "cached_snapshot", lambda repo_id: None)
    backends.unload("whisper")
    yield
    backends.unload("whisper")
    mp.undo()


@pytest.mark.parametrize("lang", ["en", "es", "de"])
def test_transcribes_and_detects_language(clips, lang):
    progress = []
    result = speech.transcribe(clips[lang], progress=lambda f, m: progress.append(f))
    assert result.engine == "faster-whisper"
    assert result.language == lang and result.language_probability > 0.5
    wer = speech.score(CLIPS[lang][2], result.text, lang)["wer"]
    precision = backends.get_loaded("whisper").dtype  # float32 on CPU (the model's accuracy), float16 on CUDA
    assert precision in ("float32", "float16")
    assert result.decoding == {"beam_size": 5, "batch_size": 1, "mode": "sequential",  # one window: no batching
                               "precision": precision}
    assert wer <= MAX_WER[lang], (result.text, wer)
    assert result.segments and result.segments[-1].end <= result.duration + 0.5
    assert progress and max(progress) == pytest.approx(1.0)
    assert all(a <= b for a, b in zip(progress, progress[1:]))


def test_long_audio_is_decoded_in_batches(clips):
    """Over 30 s with the VAD on and a batch size over 1: speech chunks decoded in batches (beam 5), timestamps at
    the right offsets, progress streamed; the default (batch size 1) decodes the same audio sequentially and hears
    the same words."""
    import numpy as np

    from mmdemo.media.audio import load_audio

    voice = load_audio(clips["en"])
    gap = np.zeros(25 * 16000, np.float32)
    audio = np.concatenate([voice, gap, voice])  # speech, 25 s of silence, the same speech again
    second_start = (len(voice) + len(gap)) / 16000
    progress = []
    batched = speech.transcribe(audio, batch_size=8, progress=lambda f, m: progress.append(f))
    assert {k: v for k, v in batched.decoding.items() if k != "precision"} == {
        "beam_size": 5, "batch_size": 8, "mode": "batched VAD chunks"}
    assert batched.language == "en"
    assert any(s.start >= second_start - 1.0 for s in batched.segments)  # the second sentence sits after the gap
    assert not any(len(voice) / 16000 + 1.0 < s.start < second_start - 1.0 for s in batched.segments)  # silence
    assert progress and max(progress) == pytest.approx(1.0) and all(a <= b for a, b in zip(progress, progress[1:]))
    sequential = speech.transcribe(audio)
    assert sequential.decoding == {**batched.decoding, "batch_size": 1, "mode": "sequential"}
    twice = " ".join([CLIPS["en"][2]] * 2)
    assert speech.score(twice, batched.text, "en")["wer"] <= MAX_WER["en"], batched.text
    assert speech.score(twice, sequential.text, "en")["wer"] <= MAX_WER["en"], sequential.text


@pytest.mark.parametrize("lang", ["es", "de"])
def test_translates_speech_to_english(clips, lang):
    result = speech.transcribe(clips[lang], task="translate")
    words = set(result.text.lower().replace(",", " ").replace(".", " ").split())
    assert len(words & ENGLISH_WORDS) >= 2, result.text
    assert len(words & FOREIGN_WORDS) <= 1, result.text
    assert result.language == lang and result.task == "translate"


def test_pack_model_folder_is_rebuilt_once(tmp_path, monkeypatch):
    from mmdemo.backends.whisper import PACK_MODEL_BYTES, pack_model_folder

    monkeypatch.setenv("MMDEMO_CACHE_DIR", str(tmp_path))
    folder = pack_model_folder()
    model = folder / "model.bin"
    assert folder.parent == tmp_path and model.stat().st_size == PACK_MODEL_BYTES
    stamp = model.stat().st_mtime_ns
    assert pack_model_folder() == folder and model.stat().st_mtime_ns == stamp  # not rebuilt
    assert not list(folder.glob("*.tmp"))


def test_cli_json_and_srt(clips, tmp_path):
    run = [sys.executable, "-m", "mmdemo", "transcribe", str(clips["es"]), "--language", "es"]
    env = {"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"}
    import os

    env = {**os.environ, **env}
    env.pop("MMDEMO_WHISPER_MODEL", None)
    out = subprocess.run(run + ["--json", "--format", "srt", "-o", str(tmp_path / "es.srt"), "--beam-size", "2",
                                "--reference", CLIPS["es"][2]], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert {"language", "language_probability", "duration", "text", "segments", "decoding"} <= set(doc)
    assert doc["language"] == "es" and "Barcelona" in doc["text"]
    assert doc["decoding"]["beam_size"] == 2
    # the settings it was made with, as the application's declared record: every setting, the asked-for beam
    assert doc["settings"] == {"task": "transcribe", "language": "es", "translate_to": "", "beam_size": 2,
                               "batch_size": 1, "vad": True}
    assert doc["score"]["normalizer"] == "whisper-basic" and doc["score"]["headline"] == "wer"
    assert doc["score"]["wer"] <= MAX_WER["es"]
    assert set(doc["segments"][0]) == {"start", "end", "text"}
    assert (tmp_path / "es.srt").read_text().startswith("1\n00:00:00,000 --> ")

    bad = subprocess.run([sys.executable, "-m", "mmdemo", "transcribe", str(tmp_path / "es.srt")], cwd=ROOT,
                         env=env, capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and bad.stderr.startswith("error:")


AMBIENT = ROOT / "tests" / "data" / "bigbuckbunny_ambient.ogg"  # tests/data/CREDITS.md


def test_ambient_sound_is_no_speech_read_once(caplog):
    """Real ambient sound that the voice detector takes for speech: Whisper's first reading loops ("Hmmmm...",
    compression ratio over 2.4) while it hears no speech there, so the window is dropped instead of being sampled
    again at five higher temperatures (which took 96-204 s and answered "Hmm")."""
    import logging

    caplog.set_level(logging.DEBUG, logger="faster_whisper")
    progress = []
    result = speech.transcribe(AMBIENT, progress=lambda f, m: progress.append((f, m)))
    assert result.text == "" and result.segments == []
    assert result.language == ""  # what was "detected" in noise is not reported as a spoken language
    assert result.notes[0].startswith("No speech found in 5.3 s of audio: Whisper heard no speech"), result.notes
    fallbacks = [r.getMessage() for r in caplog.records if "with temperature 0.2" in r.getMessage()]
    assert not fallbacks, fallbacks
    assert progress[-1][0] == pytest.approx(1.0) and len({f for f, _ in progress}) >= 4, progress


def test_noise_is_no_speech_without_a_language():
    """Noise the voice detector rejects: nothing is decoded, and no language is reported (the video summary once
    showed "spoken language en" beside "No speech was found")."""
    import numpy as np

    noise = (0.1 * np.random.default_rng(0).standard_normal(8 * 16000)).astype(np.float32)
    result = speech.transcribe(noise)
    assert result.text == "" and result.language == "" and result.language_probability == 0.0
    assert result.notes == ["No speech found in 8.0 s of audio: the voice detector found no speech."]


def test_cli_no_speech_note_and_output_file(clips, tmp_path):
    """A clip without speech: nothing on stdout, one note on stderr. `-o FILE` writes the subtitles there and
    nothing on stdout (they used to be printed too)."""
    import os

    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    env.pop("MMDEMO_WHISPER_MODEL", None)
    out = subprocess.run([sys.executable, "-m", "mmdemo", "transcribe", str(AMBIENT)], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0 and out.stdout == "", (out.stdout, out.stderr)
    assert out.stderr.startswith("note: No speech found in 5.3 s of audio"), out.stderr
    srt = tmp_path / "en.srt"
    out = subprocess.run([sys.executable, "-m", "mmdemo", "transcribe", str(clips["en"]), "--format", "srt", "-o",
                          str(srt)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0 and out.stdout == "", (out.stdout, out.stderr)
    assert srt.read_text().startswith("1\n00:00:0") and "fox" in srt.read_text().lower()
    assert f"wrote {srt}" in out.stderr


def test_speech_tab_says_no_speech_found():
    from demos import speech as tab

    *_, (text, summary, rows, files, raw) = list(tab.run(str(AMBIENT), progress=lambda *a, **k: None))
    assert text == "" and rows == [] and summary.startswith("**No speech found** in 5.3 s of audio: Whisper heard")
    assert raw["language"] == "" and raw["notes"][0].startswith("No speech found")


@pytest.fixture(scope="module")
def pack_as_transformers(tmp_path_factory) -> Path:
    """The pack's weights converted from CTranslate2 to a transformers Whisper folder (the benchmark's converter)."""
    out = tmp_path_factory.mktemp("whisper-base-hf")
    proc = subprocess.run([sys.executable, "-m", "bench.whisper_ct2_to_hf", str(out)], cwd=ROOT, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    return Path(proc.stdout.strip().splitlines()[-1])


def test_transformers_engine_with_real_weights(clips, pack_as_transformers, use_backend):
    """Same weights, other engine: the transformers path hears the same words and the same language."""
    use_backend("whisper", pack_as_transformers)
    result = speech.transcribe(clips["de"])
    assert result.engine == "transformers"
    assert result.language == "de" and result.language_probability > 0.5
    assert speech.score(CLIPS["de"][2], result.text, "de")["wer"] <= MAX_WER["de"], result.text
    assert result.segments and result.segments[-1].end <= result.duration + 0.5
