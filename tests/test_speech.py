"""Speech tab: audio decoding and its errors, subtitles that FFmpeg opens as subtitle streams, WER/CER, the VAD,
the tiny random Whisper through the transformers engine, and the UI handler's error paths."""

from __future__ import annotations

import numpy as np
import pytest

from mmdemo.errors import BackendUnavailable, BadInput
from mmdemo.media.audio import load_audio
from mmdemo.pipelines import speech
from mmdemo.pipelines.speech import subtitles
from mmdemo.pipelines.speech import Segment, Transcript
from mmdemo.testing.speech_clips import ASSETS, write_tone, write_video
from tests.conftest import requires_pack

SR = 16000


# -- load_audio ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["speech_en.flac", "speech_es.ogg", "speech_de.mp3"])
def test_load_audio_formats(name):
    samples = load_audio(ASSETS / name)
    assert samples.dtype == np.float32 and samples.ndim == 1
    assert 3 * SR < len(samples) < 15 * SR
    assert 0.05 < np.abs(samples).max() <= 1.0


def test_load_audio_resamples_and_downmixes(tmp_path):
    import soundfile as sf

    t = np.arange(44100) / 44100
    stereo = np.stack([np.sin(2 * np.pi * 440 * t), np.sin(2 * np.pi * 440 * t)], axis=1) * 0.5
    sf.write(tmp_path / "stereo.wav", stereo, 44100)
    samples = load_audio(tmp_path / "stereo.wav")
    assert abs(len(samples) - SR) < 200  # one second at 16 kHz
    spectrum = np.abs(np.fft.rfft(samples))
    assert abs(np.argmax(spectrum) * SR / len(samples) - 440) < 5  # same pitch after resampling


def test_load_audio_from_video_track(tmp_path):
    tone = write_tone(tmp_path / "tone.wav", seconds=2.0)
    video = write_video(tmp_path / "clip.mp4", audio=load_audio(tone))
    samples = load_audio(video)
    assert abs(len(samples) / SR - 2.0) < 0.2


def test_load_audio_bad_inputs(tmp_path, monkeypatch):
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    garbage = tmp_path / "notes.mp3"
    garbage.write_text("this is not audio at all " * 20)
    silent_video = write_video(tmp_path / "mute.mp4", audio=None)
    with pytest.raises(BadInput, match="empty"):
        load_audio(empty)
    with pytest.raises(BadInput, match="not an audio"):
        load_audio(garbage)
    with pytest.raises(BadInput, match="no audio track"):
        load_audio(silent_video)
    with pytest.raises(BadInput, match="not found"):
        load_audio(tmp_path / "missing.wav")
    monkeypatch.setenv("MMDEMO_MAX_AUDIO_MINUTES", "0.05")  # 3 s
    with pytest.raises(BadInput, match="over the limit"):
        load_audio(ASSETS / "speech_en.flac")


# -- transcript outputs ----------------------------------------------------------------------------------------

def _transcript() -> Transcript:
    segments = [Segment(0.0, 2.5, "Hello there, this is a rather long first subtitle that needs two lines."),
                Segment(2.4, 4.0, "Second --> line."), Segment(3661.25, 3662.0, "Late.")]
    return Transcript("en", 0.9, 3662.0, " ".join(s.text for s in segments), segments)


def test_timestamps():
    assert subtitles.timestamp(3661.2505) == "01:01:01,251" or subtitles.timestamp(3661.2505) == "01:01:01,250"
    assert subtitles.timestamp(0) == "00:00:00,000"
    assert subtitles.timestamp(59.9996, ".") == "00:01:00.000"


def test_subtitles_open_in_ffmpeg(tmp_path):
    """What a player does: FFmpeg demuxes the SRT and VTT files and decodes every cue, with our times."""
    import av

    paths = subtitles.write_all(_transcript(), tmp_path, "talk")
    assert set(paths) == set(subtitles.FORMATS)
    for fmt in ("srt", "vtt"):
        with av.open(str(paths[fmt])) as container:
            stream = container.streams.subtitles[0]
            starts = [float(packet.pts * stream.time_base) for packet in container.demux(stream)
                      if packet.pts is not None]
        assert starts == pytest.approx([0.0, 2.5, 3661.25], abs=0.01), fmt  # overlap removed: 2.4 -> 2.5
    srt = paths["srt"].read_text()
    assert srt.startswith("1\n00:00:00,000 --> 00:00:02,500\n")
    assert paths["vtt"].read_text().startswith("WEBVTT\n\n00:00:00.000 --> ")
    assert "Second -> line." in paths["vtt"].read_text()
    assert paths["txt"].read_text().splitlines()[2] == "Late."
    import json

    assert json.loads(paths["json"].read_text())["segments"][2] == {"start": 3661.25, "end": 3662.0, "text": "Late."}
    with pytest.raises(BadInput):
        subtitles.render(_transcript(), "doc")


def test_score_is_normalised():
    first = speech.score("Hello, World.", "hello world")
    assert (first["wer"], first["cer"]) == (0.0, 0.0)
    assert first["normalizer"] == "whisper-basic" and first["headline"] == "wer"  # no language: basic normalizer
    assert speech.score("red green blue black", "red green black", "en")["wer"] == pytest.approx(0.25)
    assert speech.score("one two", "", "en")["wer"] == 1.0  # nothing heard: every word deleted
    with pytest.raises(BadInput):
        speech.score("  ", "x")
    with pytest.raises(BadInput, match="no words left"):
        speech.score("(laughs) ?!", "x", "en")


def test_score_uses_whisper_normalizers():
    """Hyphens, numbers and punctuation as Whisper's English normalizer sees them; other languages keep accents."""
    english = speech.score("Unless to be rather cold-hearted and rather selfish is to be ill-disposed.",
                           "unless to be rather cold hearted and rather selfish is to be ill disposed", "en")
    assert english["wer"] == 0.0 and english["normalizer"] == "whisper-english" and english["headline"] == "wer"
    assert speech.score("go forward 10 meters", "Go forward ten meters.", "en")["wer"] == 0.0
    assert speech.score("It costs $20.", "it costs twenty dollars", "en")["wer"] == 0.0
    assert speech.score("go forward 10 meters", "go forward ten meters", "es")["wer"] == 0.25  # no English rules
    spanish = speech.score("¿Qué tal, Señor?", "que tal señor", "es")
    assert spanish["normalizer"] == "whisper-basic" and spanish["wer"] == pytest.approx(1 / 3, abs=1e-4)  # qué != que


def test_score_headline_is_cer_without_spaces():
    japanese = speech.score("今日はいい天気です。", "今日は いい天気です", "ja")
    assert japanese["headline"] == "cer" and japanese["cer"] == 0.0  # spaces and punctuation are not characters
    assert japanese["wer"] > 0  # a "word" is the whole sentence here, so WER says little
    assert speech.score("今日はいい天気です", "今日は悪い天気です", "ja")["cer"] == pytest.approx(1 / 9, abs=1e-4)
    assert speech.score("สวัสดีครับ", "สวัสดีครับ", "th")["headline"] == "cer"


def test_decoding_options_are_checked():
    defaults = speech.Options()
    assert (defaults.beam_size, defaults.batch_size) == (5, 1)  # None is the declared default
    assert speech.Options(beam_size=5, batch_size=8.0).batch_size == 8  # a slider's float
    for beam, batch, what in [(0, 8, "beam size"), (11, 8, "beam size"), (2.5, 8, "beam size"), ("x", 8, "beam size"),
                              (5, 0, "batch size"), (5, 33, "batch size")]:
        with pytest.raises(BadInput, match=f"The {what} must be a whole number from 1 to"):
            speech.Options(beam_size=beam, batch_size=batch)
    with pytest.raises(BadInput, match="The task must be one of transcribe, translate, not 'sing'"):
        speech.Options(task="sing")
    with pytest.raises(BadInput, match="beam size"):
        speech.transcribe(np.zeros(SR, np.float32), beam_size=0)


def test_pack_regions():
    from mmdemo.backends.whisper import pack_regions

    assert pack_regions([(0, 5), (6, 20), (25, 40), (41, 42)], 30) == [(0, 20), (25, 42)]
    long = pack_regions([(10, 75)], 30)
    assert len(long) == 3 and long[0][0] == 10 and long[-1][1] == 75
    assert all(e - s <= 30 + 1e-9 for s, e in long)


# -- pipeline input checks (no model needed) --------------------------------------------------------------------

def test_transcribe_rejects_bad_requests():
    with pytest.raises(BadInput, match="task"):
        speech.transcribe(np.zeros(SR, np.float32), task="summarise")
    with pytest.raises(BadInput, match="too short"):
        speech.transcribe(np.zeros(100, np.float32))
    with pytest.raises(BadInput, match="mono"):
        speech.transcribe(np.zeros((2, SR), np.float32))
    silent = speech.transcribe(np.zeros(3 * SR, np.float32))
    assert silent.segments == [] and silent.text == "" and silent.duration == pytest.approx(3.0)
    with pytest.raises(BadInput, match="No speech"):
        speech.transcribe(np.zeros(3 * SR, np.float32), require_speech=True)


# -- VAD (offline pack) -----------------------------------------------------------------------------------------

@requires_pack("silero-vad")
def test_vad_finds_speech_and_skips_silence():
    from mmdemo import backends

    vad = backends.get("vad")
    voice = load_audio(ASSETS / "speech_en.flac")
    audio = np.concatenate([np.zeros(3 * SR, np.float32), voice, np.zeros(4 * SR, np.float32)])
    spans = vad.speech_spans(audio)
    assert spans, "no speech found in a spoken clip"
    assert 2.5 < spans[0][0] < 3.6
    assert abs(spans[-1][1] - (3 + len(voice) / SR)) < 0.8
    assert vad.speech_spans(np.zeros(5 * SR, np.float32)) == []
    noise = np.random.default_rng(0).normal(0, 0.02, 5 * SR).astype(np.float32)
    assert vad.speech_spans(noise) == []


# -- tiny random Whisper through the transformers engine --------------------------------------------------------

@requires_pack("whisper-base")  # the tiny model borrows the pack's real tokenizer
@requires_pack("silero-vad")
def test_tiny_whisper_transformers_engine(tiny_models, use_backend):
    """Through the registry's transformers engine: 40 s of silence then speech; the VAD hands Whisper only the
    speech, timestamps keep their offset, and the same audio gives the same transcript."""
    from mmdemo import backends

    use_backend("whisper", tiny_models.get("whisper"))
    voice = load_audio(ASSETS / "speech_en.flac")
    audio = np.concatenate([np.zeros(40 * SR, np.float32), voice])
    first = speech.transcribe(audio, language="en", task="translate")
    loaded = backends.get_loaded("whisper")
    assert loaded.engine == "transformers" and first.engine == "transformers"
    assert first.language == "en" and first.language_probability == 1.0 and first.task == "translate"
    assert first.duration == pytest.approx(40 + len(voice) / SR)
    for seg in first.segments:
        assert 39.0 <= seg.start <= seg.end <= first.duration + 1e-6  # nothing decoded from the silent 40 s
    assert speech.transcribe(audio, language="en", task="translate").to_dict() == first.to_dict()

    engine = backends.get("whisper")
    language, probability = engine.detect_language(voice)
    assert language in engine.languages and len(engine.languages) == 99
    assert 0.0 < probability <= 1.0
    with pytest.raises(BadInput, match="Unknown language"):
        speech.transcribe(voice, language="klingon")


# -- UI handler -------------------------------------------------------------------------------------------------

def last(updates):
    """The final outputs of the tab's streaming handler (its errors raise while it is consumed)."""
    *_, final = updates
    return final


@requires_pack("whisper-base")
def test_ui_streams_segments_as_they_are_decoded():
    from demos import speech as tab

    stages: list[str] = []
    updates = list(tab.run(str(ASSETS / "speech_en.flac"), "transcribe", "en", "", "",
                           progress=lambda fraction, desc=None: stages.append(desc)))
    *partial, final = updates
    assert partial and all(isinstance(p[0], str) and p[0] for p in partial)
    assert final[0].startswith(partial[0][0]) and final[0] == partial[-1][0]  # the stream ends on the transcript
    assert any(s and s.startswith("transcribe") for s in stages)  # progress still reaches the bar

def test_ui_errors_and_silence(tmp_path):
    gr = pytest.importorskip("gradio")
    from demos import speech as tab

    with pytest.raises(gr.Error, match="Upload an audio"):
        last(tab.run(None, "transcribe", "", "", "", progress=lambda *a, **k: None))
    garbage = tmp_path / "x.wav"
    garbage.write_text("no")
    with pytest.raises(gr.Error, match="not an audio"):
        last(tab.run(str(garbage), "transcribe", "", "", "", progress=lambda *a, **k: None))
    import soundfile as sf

    sf.write(tmp_path / "quiet.wav", np.zeros(2 * SR, np.float32), SR)
    text, summary, rows, files, raw = last(tab.run(str(tmp_path / "quiet.wav"), "transcribe", "", "", "",
                                                   progress=lambda *a, **k: None))
    assert text == "" and rows == [] and "No speech found" in summary and len(files) == 4


def test_ui_declares_transcribe_endpoint():
    gr = pytest.importorskip("gradio")
    from demos import speech as tab

    with gr.Blocks() as app:
        tab.build()
    endpoint = app.get_api_info()["named_endpoints"]["/transcribe"]
    required = [p["parameter_name"] for p in endpoint["parameters"] if not p.get("parameter_has_default")]
    assert required == []  # one main input, audio or video, and everything else has a default
    assert endpoint["returns"][0]["label"] == "Transcript"  # the transcript comes first


def test_corpus_score_sums_errors_over_the_set():
    """Data-set WER as papers report it: errors over all pairs / reference words over all pairs."""
    from mmdemo.pipelines.speech.scoring import corpus_score

    refs = ["he was not an ill disposed young man", "go forward ten meters"]
    assert corpus_score(refs, ["He was not an ill-disposed young man.", "Go forward 10 meters."], "en")["wer"] == 0.0
    wrong = corpus_score(refs, ["he was not an ill disposed young man", "go back ten meters"], "en")
    assert wrong["wer"] == round(1 / 12, 4) and wrong["n"] == 2  # one substitution in 12 reference words
    assert corpus_score(["東京に行きます"], ["東京に行きました"], "ja")["headline"] == "cer"


def test_a_missing_translator_fails_before_any_decoding(tmp_path, monkeypatch):
    """Text translation with no translation model: refused in a second, naming the variable, before the audio is
    even opened (it used to transcribe for minutes and then fail, losing the transcript)."""
    from mmdemo import backends, hub

    monkeypatch.setattr(hub, "hub_reachable", lambda: False)
    monkeypatch.setattr(hub, "cached_snapshot", lambda repo_id: None)
    monkeypatch.delenv("MMDEMO_TRANSLATOR_MODEL", raising=False)
    backends.unload("translator")
    garbage = tmp_path / "x.wav"
    garbage.write_text("not audio")  # would be "not an audio file" if it were opened first
    with pytest.raises(BackendUnavailable, match="MMDEMO_TRANSLATOR_MODEL"):
        speech.process(garbage, translate_to="fr")
    with pytest.raises(BadInput, match="not an audio"):  # English from Whisper's own translation needs no model
        speech.process(garbage, task="translate", translate_to="en")


def test_ui_takes_a_video_file_for_its_sound(tmp_path):
    gr = pytest.importorskip("gradio")
    from demos import speech as tab

    with pytest.raises(gr.Error, match="no audio track"):
        last(tab.run(video=str(write_video(tmp_path / "mute.mp4", audio=None)), progress=lambda *a, **k: None))
    quiet = write_video(tmp_path / "quiet.mp4", audio=np.zeros(2 * SR, np.float32))
    text, summary, rows, files, raw = last(tab.run(video=str(quiet), progress=lambda *a, **k: None))
    assert text == "" and "No speech found" in summary and raw["duration"] > 1.5


@requires_pack("whisper-base")
def test_stop_ends_decoding_after_the_segment_in_progress(tmp_path):
    """Stop (or a client gone away) ends a transcription at its next segment: the rest is never decoded, and the
    transcript says where it stopped."""
    import soundfile as sf
    import threading

    clip, rate = sf.read(str(ASSETS / "speech_en.flac"), dtype="float32")
    gap = np.zeros(rate, np.float32)
    sf.write(tmp_path / "long.wav", np.concatenate([clip, gap, clip, gap, clip]), rate)
    whole = speech.transcribe(tmp_path / "long.wav")
    assert len(whole.segments) >= 3 and not whole.notes
    stop = threading.Event()
    cut = speech.transcribe(tmp_path / "long.wav", on_segment=lambda segment: stop.set(), stop=stop)
    assert len(cut.segments) == 1 and cut.segments[0].end < whole.duration / 2  # the rest was never decoded
    assert cut.notes == [f"Stopped on request after {cut.segments[0].end:.1f} s of {whole.duration:.1f} s."]


@requires_pack("whisper-base")
def test_a_closed_tab_stream_stops_its_worker(monkeypatch, tmp_path):
    """The Speech tab's generator closed early (Stop, a browser gone) sets the stop flag of its worker."""
    import threading

    import soundfile as sf

    from demos import speech as tab

    clip, rate = sf.read(str(ASSETS / "speech_en.flac"), dtype="float32")
    sf.write(tmp_path / "long.wav", np.concatenate([clip, np.zeros(rate, np.float32)] * 4), rate)

    from demos import common
    from mmdemo import backends

    monkeypatch.delenv("MMDEMO_WHISPER_MODEL", raising=False)
    backends.REGISTRY.set_source("whisper", None)  # the pack, whatever an earlier test left in the registry
    backends.unload("whisper")
    made, real_event = [], threading.Event
    monkeypatch.setattr(common.threading, "Event", lambda: made.append(real_event()) or made[-1])
    updates = tab.run(str(tmp_path / "long.wav"), "transcribe", "en", "", "", progress=lambda *a, **k: None)
    running = set(threading.enumerate())
    first = next(updates)
    # the first segment's text; three more clips are still to decode (the message says what ran, if it was not)
    assert first[0], (first, backends.REGISTRY.loaded_source("whisper"))
    assert not made[0].is_set()
    worker = next(t for t in threading.enumerate() if t.name == "worker" and t not in running)
    updates.close()  # what Gradio does to a cancelled event's generator
    assert made[0].is_set()
    worker.join(60)  # it ends at its next segment, not after the whole file
    assert not worker.is_alive()


@requires_pack("whisper-base")  # the tiny model borrows the pack's real tokenizer
@requires_pack("silero-vad")
def test_the_transformers_engine_has_the_token_budget_too(tiny_models, use_backend, monkeypatch):
    """The Hub's Whisper runs on the transformers engine: a region of sound the VAD kept cannot decode past the
    budget its length allows (a random model, like noise, would otherwise talk to the decoder's limit)."""
    from mmdemo import backends
    from mmdemo.backends.whisper import token_budget

    use_backend("whisper", tiny_models.get("whisper"))
    engine = backends.get("whisper")
    asked: list = []
    generate = engine.model.generate

    def recording(*args, **kwargs):
        asked.append(kwargs.get("max_new_tokens"))
        return generate(*args, **kwargs)

    monkeypatch.setattr(engine.model, "generate", recording)
    monkeypatch.setattr(type(engine), "_regions", lambda self, audio: [(1.0, 4.0)])  # 3 s the VAD kept
    speech.transcribe(np.random.default_rng(0).normal(0, 0.1, 6 * SR).astype(np.float32), language="en")
    assert asked == [token_budget(3.0)]
