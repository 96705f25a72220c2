"""Decoding survives damage (issue 12): a packet the decoder rejects costs only itself, as in FFmpeg. Audio files,
video files' audio tracks and video frames are built here with PyAV, then bytes inside one packet (located by
demuxing) are overwritten; decoding must still succeed, keep nearly the whole length and the timeline, and say in
the notes what was skipped. A file where nothing decodes is one BadInput."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from mmdemo.errors import BadInput
from mmdemo.media.audio import SAMPLE_RATE, load_audio
from mmdemo.media.video import sample_frames

SECONDS = 6.0


def _signal(seconds: float, rate: int) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (0.3 * np.sin(2 * np.pi * (300 + 60 * t) * t)).astype(np.float32)  # a rising tone: every moment differs


def _add_audio(container, codec: str, rate: int):
    stream = container.add_stream(codec, rate=rate, layout="mono")
    formats = stream.codec_context.codec.audio_formats
    resampler = av.AudioResampler(format=formats[0].name if formats else "fltp", layout="mono", rate=rate)
    return stream, resampler


def _encode_audio(container, stream, resampler, rate: int, seconds: float) -> None:
    samples, step = _signal(seconds, rate), stream.codec_context.frame_size or 1024
    for i in range(0, len(samples), step):
        frame = av.AudioFrame.from_ndarray(samples[None, i:i + step], format="flt", layout="mono")
        frame.sample_rate, frame.pts = rate, i
        for converted in resampler.resample(frame):
            converted.pts = i
            container.mux(stream.encode(converted))
    container.mux(stream.encode(None))


def write_audio(path: Path, codec: str, rate: int = 44100, seconds: float = SECONDS) -> Path:
    with av.open(str(path), "w") as container:
        stream, resampler = _add_audio(container, codec, rate)
        _encode_audio(container, stream, resampler, rate, seconds)
    return path


def write_video(path: Path, codec: str = "libx264", audio: str | None = None, seconds: float = 4.0,
                fps: int = 25) -> Path:
    """Moving picture, a keyframe every second; with ``audio``, a tone track too."""
    with av.open(str(path), "w") as container:
        video = container.add_stream(codec, rate=fps, options={"g": str(fps)} if codec == "libx264" else None)
        video.width, video.height, video.pix_fmt = 160, 96, "yuv420p"
        video.codec_context.gop_size = fps
        track = _add_audio(container, audio, 48000) if audio else None  # every stream before the first packet
        for i in range(int(seconds * fps)):
            picture = np.zeros((96, 160, 3), np.uint8)
            picture[..., 0] = (i * 7) % 256
            picture[20:40, (i * 3) % 140:(i * 3) % 140 + 20] = 255
            frame = av.VideoFrame.from_ndarray(picture, format="rgb24")
            frame.pts = i
            container.mux(video.encode(frame))
        container.mux(video.encode(None))
        if track:  # muxed after the video: the muxer interleaves by time
            _encode_audio(container, *track, 48000, seconds)
    return path


def packets(path: Path, kind: str) -> list[tuple[int, int, bool]]:
    """(offset in the file, size, keyframe) of each packet of the first ``kind`` stream, found by demuxing."""
    data = path.read_bytes()
    found = []
    with av.open(str(path)) as container:
        stream = getattr(container.streams, kind)[0]
        for packet in container.demux(stream):
            if not packet.size:
                continue
            payload = bytes(packet)
            offset = data.find(payload, max(0, (packet.pos or 0) - 512))  # pos is the payload or its header
            assert offset >= 0
            found.append((offset, packet.size, packet.is_keyframe))
    return found


def damage(path: Path, out: Path, kind: str, which: list[int]) -> Path:
    """A copy of ``path`` whose ``which`` packets (indexes among the ``kind`` stream's packets) are all 0xFF."""
    data = bytearray(path.read_bytes())
    found = packets(path, kind)
    for index in which:
        offset, size, _ = found[index]
        data[offset:offset + size] = b"\xff" * size
    out.write_bytes(bytes(data))
    return out


def _decoded(path: Path) -> tuple[np.ndarray, list[str]]:
    notes: list[str] = []
    return load_audio(path, notes=notes), notes


# -- audio ------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name, codec, where, expect, drift", [
    # drift: how far the audio after the hole may end up from its place; MP3's bit reservoir also costs part of
    # the frame after the damaged one, so there the rest may come up to a frame (26 ms) early.
    ("tone.mp3", "libmp3lame", "middle", "1 damaged audio packet (0.03 s) was skipped", 0.03),
    ("tone.m4a", "aac", "middle", "1 damaged audio packet (0.02 s) was skipped", 0.002),
    ("tone.mkv", "ac3", "middle", "1 damaged audio packet (0.03 s) was skipped", 0.002),
    ("tone.avi", "ac3", "first", "1 damaged audio packet (0.03 s) was skipped", 0.002),
    ("tone.avi", "mp2", "middle", "1 damaged audio packet (0.05 s) was skipped", 0.002),
    # Ogg pages carry a checksum: the demuxer drops the whole page (about a second here) without a decoder error
    ("tone.ogg", "libopus", "middle", "of damaged or missing audio was skipped", 0.002),
])
def test_a_damaged_audio_packet_is_skipped_and_the_rest_keeps_its_time(tmp_path, name, codec, where, expect, drift):
    rate = 48000 if codec == "libopus" else 44100
    whole = write_audio(tmp_path / name, codec, rate)
    clean, clean_notes = _decoded(whole)
    assert clean_notes == [] and abs(len(clean) / SAMPLE_RATE - SECONDS) < 0.05  # no false alarm on a whole file
    count = len(packets(whole, "audio"))
    index = 0 if where == "first" else count // 2
    damaged = damage(whole, tmp_path / f"damaged{whole.suffix}", "audio", [index])
    samples, notes = _decoded(damaged)
    assert abs(len(samples) - len(clean)) / SAMPLE_RATE < 0.03, "the hole must be filled, not closed up"
    assert len(notes) == 1 and notes[0].startswith(f"{damaged.name}: ") and expect in notes[0], notes
    # Silence stands in for the lost packet, so the audio after it lines up with the undamaged decoding: find
    # where a stretch of the clean tail sits in the damaged decoding.
    start, width = len(clean) * 3 // 4, SAMPLE_RATE // 2
    reference = clean[start:start + width]
    shifts = range(-SAMPLE_RATE // 10, SAMPLE_RATE // 10)
    errors = [np.abs(samples[start + k:start + k + width] - reference).mean() for k in shifts]
    best = int(np.argmin(errors))
    assert errors[best] < 0.05, "the audio after the damage must decode as before"  # unaligned: about 0.2
    assert abs(shifts[best]) / SAMPLE_RATE <= drift


def test_the_damaged_first_packet_of_a_video_audio_track_is_skipped(tmp_path):
    """The Megamind.avi case: MPEG-4 video with AC-3 audio whose first audio packet is corrupt."""
    whole = write_video(tmp_path / "clip.avi", "mpeg4", audio="ac3")
    clean, _ = _decoded(whole)
    damaged = damage(whole, tmp_path / "film.avi", "audio", [0])
    samples, notes = _decoded(damaged)
    assert abs(len(samples) - len(clean)) / SAMPLE_RATE < 0.01 and len(samples) / SAMPLE_RATE > 3.9
    assert notes == ["film.avi: 1 damaged audio packet (0.03 s) was skipped; silence stands in for it so later "
                     "times stay in place."]


def test_several_damaged_packets_are_counted(tmp_path):
    whole = write_audio(tmp_path / "tone.mkv", "ac3")
    count = len(packets(whole, "audio"))
    damaged = damage(whole, tmp_path / "holes.mkv", "audio", [10, count // 2, count // 2 + 1])
    samples, notes = _decoded(damaged)
    assert abs(len(samples) / SAMPLE_RATE - SECONDS) < 0.05
    assert len(notes) == 1 and notes[0].startswith("holes.mkv: 3 damaged audio packets (0.1") and " were " in notes[0]


def test_audio_where_nothing_decodes_is_one_bad_input(tmp_path):
    whole = write_audio(tmp_path / "tone.mkv", "ac3")
    ruined = damage(whole, tmp_path / "ruined.mkv", "audio", list(range(len(packets(whole, "audio")))))
    with pytest.raises(BadInput, match=r"^ruined\.mkv: the audio could not be decoded \("):
        load_audio(ruined, notes=[])


def test_a_damaged_last_packet_reads_as_a_damaged_end(tmp_path):
    """Nothing decodes after it, so nothing after it needs keeping in place: the truncation note, not a skip."""
    whole = write_audio(tmp_path / "tone.m4a", "aac")
    damaged = damage(whole, tmp_path / "end.m4a", "audio", [len(packets(whole, "audio")) - 1])
    samples, notes = _decoded(damaged)
    assert len(samples) / SAMPLE_RATE > SECONDS - 0.1
    assert notes == [f"end.m4a is damaged or truncated: only its first {len(samples) / SAMPLE_RATE:.1f} s could be "
                     "decoded, and only they were used."]


# -- video frames -----------------------------------------------------------------------------------------------
def _sampled(path: Path, **kwargs) -> tuple[list[float], list[str]]:
    notes: list[str] = []
    return [t for t, _ in sample_frames(path, notes=notes, **kwargs)], notes


@pytest.mark.parametrize("name, codec", [("clip.mp4", "libx264"), ("clip.avi", "mpeg4"), ("clip.webm", "libvpx")])
def test_a_damaged_video_frame_is_skipped_and_the_rest_is_sampled(tmp_path, name, codec):
    whole = write_video(tmp_path / name, codec)
    clean, clean_notes = _sampled(whole)
    assert len(clean) == 100 and clean_notes == []
    found = packets(whole, "video")
    index = next(i for i in range(30, len(found)) if not found[i][2])  # a frame between keyframes
    damaged = damage(whole, tmp_path / f"damaged{whole.suffix}", "video", [index])
    every, notes = _sampled(damaged)
    assert len(every) == 99 and every[-1] == clean[-1]
    assert notes == [f"damaged{whole.suffix}: 1 damaged video frame (0.04 s) could not be decoded and was skipped; "
                     "samples there use the next good frame."]
    half, notes = _sampled(damaged, every_seconds=0.5)
    assert len(half) == 8 and half[-1] > 3.4 and len(notes) == 1


def test_a_damaged_keyframe_costs_the_frames_that_depend_on_it(tmp_path):
    """H.264 drops the frames that refer to a lost keyframe without an error: the hole in the frame times counts."""
    whole = write_video(tmp_path / "clip.mp4")
    damaged = damage(whole, tmp_path / "nokey.mp4", "video", [0])
    times, notes = _sampled(damaged, every_seconds=0.5)
    assert times[0] == pytest.approx(1.0) and times[-1] > 3.4  # the second keyframe on: the rest is sampled
    assert notes == ["nokey.mp4: 25 damaged video frames (1.00 s) could not be decoded and were skipped; samples "
                     "there use the next good frame."]


def test_video_where_no_frame_decodes_is_one_bad_input(tmp_path):
    whole = write_video(tmp_path / "clip.mp4", seconds=2.0)
    ruined = damage(whole, tmp_path / "ruined.mp4", "video", list(range(len(packets(whole, "video")))))
    with pytest.raises(BadInput, match=r"^ruined\.mp4: no frame of the video could be decoded \(the file is damaged"):
        list(sample_frames(ruined, every_seconds=0.5))


def test_shot_detection_reports_skipped_frames_in_its_notes(tmp_path):
    """The notes the video summary shows come from detect_shots: the skipped frames reach them."""
    from mmdemo.pipelines.video_summary import shots

    whole = write_video(tmp_path / "clip.mp4")
    damaged = damage(whole, tmp_path / "nokey.mp4", "video", [0])
    found = shots.detect_shots(damaged)
    assert any(note.startswith("nokey.mp4: 25 damaged video frames") for note in found.notes), found.notes
