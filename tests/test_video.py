"""Video reading and shot detection on generated videos with known cuts: every cut found within 0.5 s, no extra
cut, in every container; gradual transitions (fades through black, dissolves, fades to and from title cards)
found inside their span; motion inside a shot (fast pans, an object sweeping across the lens, camera shake, a
crowd) makes no cut; keyframe centrality; duplicate keyframes; damaged, empty and over-long files."""

from __future__ import annotations

import numpy as np
import pytest

from mmdemo.errors import BadInput
from mmdemo.media.video import probe, sample_frames
from mmdemo.pipelines.video_summary import shots
from mmdemo.testing.videos import Scene, make_video, photos, random_scenes, score
from tests.conftest import requires_pack

TOLERANCE = 0.5  # seconds: the bar for a found cut


@pytest.fixture(scope="module")
def pictures():
    return photos()


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("videos")


def match(found: list[float], truth: list[float]) -> tuple[list[float], list[float]]:
    """(true cuts with no found cut within TOLERANCE, found cuts with no true cut within TOLERANCE)."""
    missed = [c for c in truth if not any(abs(c - f) <= TOLERANCE for f in found)]
    extra = [f for f in found if not any(abs(c - f) <= TOLERANCE for c in truth)]
    return missed, extra


# -- reading -----------------------------------------------------------------------------------------------------
def test_probe_and_sparse_sampling(folder):
    made = make_video(folder / "probe.mp4", [Scene(2.0, (200, 30, 30)), Scene(2.0, (30, 30, 200))], fps=25)
    info = probe(made.path)
    assert (info.width, info.height, info.has_audio, info.codec) == (320, 180, False, "h264")
    assert info.duration == pytest.approx(4.0, abs=0.05) and info.fps == pytest.approx(25)
    # every 0.4 s = 10 frames: the NONREF fast path; samples land within two frames of each request
    samples = list(sample_frames(made.path, every_seconds=0.4, max_side=160))
    assert len(samples) == 10
    for k, (t, image) in enumerate(samples):
        assert -1e-6 <= t - 0.4 * k <= 2 / 25 + 1e-6
        assert image.size == (160, 90)
    # the colour on each side of the cut is the scene's colour
    (_, before), (_, after) = list(sample_frames(made.path, times=[1.5, 2.5]))
    assert np.asarray(before)[..., 0].mean() > 150 and np.asarray(after)[..., 2].mean() > 150


def test_bad_files(folder, monkeypatch):
    (folder / "empty.mp4").write_bytes(b"")
    with pytest.raises(BadInput, match="empty"):
        probe(folder / "empty.mp4")
    (folder / "noise.mkv").write_bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    with pytest.raises(BadInput, match="not a readable video"):
        shots.detect_shots(folder / "noise.mkv")
    (folder / "clip.gif").write_bytes(b"GIF89a")
    with pytest.raises(BadInput, match="unsupported video type"):
        probe(folder / "clip.gif")
    with pytest.raises(BadInput, match="file not found"):
        probe(folder / "missing.mp4")
    made = make_video(folder / "long.mp4", [Scene(4.0, (10, 200, 10))])
    monkeypatch.setenv("MMDEMO_MAX_VIDEO_MINUTES", "0.05")  # 3 s
    with pytest.raises(BadInput, match="longer than the limit of 0.05 minutes"):
        shots.detect_shots(made.path)
    monkeypatch.setenv("MMDEMO_MAX_VIDEO_MINUTES", "soon")
    with pytest.raises(BadInput, match="MMDEMO_MAX_VIDEO_MINUTES must be a positive number of minutes, not .soon."):
        probe(made.path)


def test_truncated_file_keeps_what_decodes(folder):
    made = make_video(folder / "cut.mkv", [Scene(3.0, (200, 200, 30)), Scene(3.0, (30, 30, 200))], gop=25)
    data = made.path.read_bytes()
    truncated = folder / "truncated.mkv"
    truncated.write_bytes(data[: len(data) * 6 // 10])
    found = shots.detect_shots(truncated)
    assert len(found.shots) == 1 and found.shots[-1].end < made.duration - 2
    assert any("truncated" in note for note in found.notes)


# -- cut accuracy ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("extension,seed", [(".mp4", 11), (".mkv", 12), (".webm", 13), (".avi", 14), (".mov", 15)])
def test_every_cut_found_no_extra(folder, pictures, extension, seed):
    rng = np.random.default_rng(seed)
    made = make_video(folder / f"mix{seed}{extension}", random_scenes(rng, 6, pictures, 1.0, 3.0), seed=seed)
    found = shots.detect_shots(made.path, dedupe=False)
    missed, extra = match(found.cuts, made.cuts)
    assert not missed and not extra, f"cuts {made.cuts}, found {found.cuts}"
    assert found.shots[0].start == 0.0 and found.shots[-1].end == pytest.approx(made.duration, abs=0.05)
    for a, b in zip(found.shots, found.shots[1:]):
        assert a.end == b.start  # the timeline has no gap and no overlap
    for shot in found.shots:
        assert shot.start <= shot.keyframe_time <= shot.end


def test_fast_pan_is_not_a_cut_at_default_rate(folder, pictures):
    """A photo panned across 60% of its width, then a hard cut (what a 10/s sampling used to miss)."""
    made = make_video(folder / "pan.mp4", [Scene(3.4, photo=pictures[0], pan=0.6), Scene(1.8, photo=pictures[2],
                                                                                         pan=0.6),
                                           Scene(2.0, (40, 160, 60))])
    found = shots.detect_shots(made.path, dedupe=False)
    assert match(found.cuts, made.cuts) == ([], [])


def test_each_gradual_transition_is_found_inside_its_span(folder, pictures):
    """Fade through black, a dissolve, a fade to a dark title card and from it, a dissolve to a light card."""
    scenes = [Scene(3.0, photo=pictures[0]),
              Scene(3.0, photo=pictures[2], enter="fade", enter_seconds=1.0),
              Scene(3.0, photo=pictures[3], pan=0.3, enter="dissolve", enter_seconds=1.0),
              Scene(3.0, (10, 10, 30), title="Chapter Two", enter="dissolve", enter_seconds=0.8),
              Scene(3.0, photo=pictures[1], enter="dissolve", enter_seconds=0.8),
              Scene(3.0, (235, 225, 200), title="THE END", enter="dissolve", enter_seconds=1.2)]
    made = make_video(folder / "gradual.mp4", scenes)
    assert [t.kind for t in made.transitions] == ["fade", "dissolve", "dissolve", "dissolve", "dissolve"]
    found = shots.detect_shots(made.path, dedupe=False)
    missed, extra = score(found.cuts, made.transitions)
    assert not missed and not extra, f"transitions {made.transitions}, found {found.cuts}"


def test_motion_inside_a_shot_is_no_cut(folder, pictures):
    """A hand-sized object sweeping across a static shot, camera shake, a crowd of fast shapes, and a fast pan
    that ends in a hard cut (the cut must still be found)."""
    scenes = [Scene(3.0, photo=pictures[2], pan=0.0, sweep=0.5), Scene(3.0, photo=pictures[3], pan=0.0, shake=0.03),
              Scene(3.0, (90, 140, 60), shapes=30, speed=3.0), Scene(2.0, photo=pictures[0], pan=0.6),
              Scene(3.0, photo=pictures[4], pan=0.0, sweep=0.8)]
    made = make_video(folder / "motion.mp4", scenes)
    found = shots.detect_shots(made.path, dedupe=False)
    missed, extra = score(found.cuts, made.transitions)
    assert not missed and not extra, f"cuts {made.cuts}, found {found.cuts}"


@pytest.mark.parametrize("seed", [21, 22])
def test_random_transitions(folder, pictures, seed):
    from mmdemo.testing.videos import random_transitions

    made = make_video(folder / f"transitions{seed}.mp4",
                      random_transitions(np.random.default_rng(seed), 6, pictures), seed=seed)
    found = shots.detect_shots(made.path, dedupe=False)
    missed, extra = score(found.cuts, made.transitions)
    assert not missed and not extra, f"transitions {made.transitions}, found {found.cuts}"


def test_single_shot(folder, pictures):
    made = make_video(folder / "one.webm", [Scene(3.0, photo=pictures[1])])
    found = shots.detect_shots(made.path)
    assert len(found.shots) == 1 and found.cuts == []
    assert found.shots[0].start == 0 and found.shots[0].end == pytest.approx(3.0, abs=0.05)
    assert found.shots[0].keyframe().size[0] <= shots.KEYFRAME_SIDE


def test_options_are_checked(folder):
    made = make_video(folder / "opts.mp4", [Scene(1.0, (1, 2, 3))])
    with pytest.raises(BadInput, match="Unknown shot detector"):
        shots.detect_shots(made.path, detector="magic")
    with pytest.raises(BadInput, match="Sample frames every"):
        shots.detect_shots(made.path, every_seconds=0.0)
    with pytest.raises(BadInput, match="threshold"):
        shots.detect_shots(made.path, threshold=-1)


# -- keyframes and duplicates -------------------------------------------------------------------------------------
def test_keyframe_is_the_most_central_candidate():
    """Four samples of one set-up and a flash: the medoid is one of the four, never the flash."""
    from PIL import Image

    frames = [(i, i * 0.1, Image.new("RGB", (8, 8), (i, i, i))) for i in range(7)]
    base = np.array([1.0, 0.0, 0.0])
    flash = np.array([0.0, 1.0, 0.0])
    vectors = {0: base, 1: base, 2: base * 0.9 + flash * 0.1, 3: flash, 4: base, 5: base, 6: base}

    def embed(images):
        rows = [vectors[im.getpixel((0, 0))[0]] for im in images]
        return np.array([r / np.linalg.norm(r) for r in rows])

    t, image, vector, method = shots._pick_keyframe(frames, embed)
    assert method == "centrality" and image.getpixel((0, 0))[0] not in (0, 3, 6)  # ends dropped, flash not central
    assert vector @ base > 0.99


def test_duplicate_marking_on_vectors():
    def shot(i, v):
        v = np.asarray(v, dtype=float)
        return shots.Shot(i, i, i + 1, i + 0.5, embedding=v / np.linalg.norm(v))

    listed = [shot(0, [1, 0, 0]), shot(1, [0, 1, 0]), shot(2, [1, 0.05, 0]), shot(3, [0.7, 0.7, 0])]
    shots.mark_duplicates(listed)
    assert [s.duplicate_of for s in listed] == [None, None, 0, None]
    assert listed[2].similarity_to_duplicate > shots.DUPLICATE_COSINE


@requires_pack("efficientnet-lite0")
def test_a_b_a_editing_marks_the_return_as_duplicate(folder, pictures):
    made = make_video(folder / "aba.mp4", [Scene(2.0, photo=pictures[0]), Scene(2.0, photo=pictures[3]),
                                           Scene(2.0, photo=pictures[0])])
    found = shots.detect_shots(made.path)
    assert len(found.shots) == 3
    assert [s.duplicate_of for s in found.shots] == [None, None, 0]
    assert all(s.keyframe_method == "centrality" for s in found.shots)


def test_gradual_reports_group_into_one_transition_each():
    """A long dissolve is reported by every staggered stream, one phase step after another: one cut in its middle.
    Two changes two seconds apart leave a gap in the chain: two cuts. (25 fps: stride 25, phase step 6.25.)"""
    cutter = shots.CombinedCuts(27.0, 0.04, shots.MIN_SHOT_SECONDS)
    long_dissolve = [(a, a + 25) for a in (269, 275, 281, 287, 294, 300)]  # 10.76 s to 13.0 s, as measured
    cutter.intervals = list(long_dissolve)
    assert [(a, end) for a, _, end in cutter._groups()] == [(269, 325)]
    assert cutter._settle(1000) == [297]  # 11.88 s: the dissolve ran from 11.16 s to 12.69 s
    apart = shots.CombinedCuts(27.0, 0.04, shots.MIN_SHOT_SECONDS)
    apart.intervals = [(a, a + 25) for a in (76, 82, 88, 94)] + [(a, a + 25) for a in (126, 132, 138, 144)]
    assert len(apart._groups()) == 2


class _Picture:
    """A decoded frame as the cut detectors see it (``Frame.bgr``)."""

    def __init__(self, bgr):
        self.array = bgr

    def bgr(self, max_width):
        return self.array


def _moving_scene(seed: int, frames: int, step: int = 2):
    """A smooth random picture panning ``step`` pixels per frame, 256x144 BGR."""
    import cv2

    rng = np.random.default_rng(seed)
    blobs = cv2.GaussianBlur(rng.random((144, 512, 3)).astype(np.float32), (0, 0), 12)
    blobs = (blobs - blobs.min()) / (blobs.max() - blobs.min())  # full range: colours a detector can tell apart
    base = (255 * blobs * rng.uniform(0.3, 1.0, 3)).astype(np.uint8)  # each scene its own tint
    return [np.ascontiguousarray(base[:, i * step:i * step + 256]) for i in range(frames)]


def _damaged(frames, at):
    frames[at] = frames[at].copy()
    frames[at][20:90, 60:200] = 255  # a white block, as in OpenCV's Megamind_bugy.avi at 1.33 s
    return frames


def _cuts(frames):
    cutter = shots.CombinedCuts(27.0, 0.04, shots.MIN_SHOT_SECONDS)  # 25 samples/s
    cuts = [c for i, frame in enumerate(frames) for c in cutter.feed(i, _Picture(frame))]
    return cuts + cutter.finish(len(frames) - 1)


def test_a_damaged_frame_is_no_cut():
    """One damaged frame is no cut; the real cut 1.2 s later is found where it is."""
    scene = _damaged(_moving_scene(1, 60) + _moving_scene(2, 40), 30)
    assert _cuts(scene) == [60]
    # ContentDetector alone (what the check starts from) does cut into the damaged frame
    from scenedetect.detectors import ContentDetector

    alone = ContentDetector(threshold=27.0, min_scene_len=15)
    assert 30 in [tc.frame_num for i, frame in enumerate(scene)
                  for tc in alone.process_frame(shots._timecode(i, 25.0), frame)]


def test_a_real_cut_just_after_a_damaged_frame_is_kept():
    """ContentDetector merges the changes of the next 0.6 s into the cut into a flash; when that cut turns out to
    be a flash, the real cut 0.32 s after it takes its place instead of being lost with it."""
    assert _cuts(_damaged(_moving_scene(1, 38) + _moving_scene(2, 40), 30)) == [38]


def test_a_lone_gradual_report_ending_on_a_hard_cut_is_that_cut():
    """One stream saw the change in the second before a hard cut (frame order jitters around cuts in damaged
    files): one cut, at the hard cut; before, the report's middle became a cut 0.5 s early that hid the real one."""
    cutter = shots.CombinedCuts(27.0, 0.04, shots.MIN_SHOT_SECONDS)
    cutter.hard, cutter.intervals = [200], [(174, 199)]
    assert cutter._settle(1000) == [200]
    apart = shots.CombinedCuts(27.0, 0.04, shots.MIN_SHOT_SECONDS)  # a hard cut 0.8 s after the report's end
    apart.hard, apart.intervals = [219], [(174, 199)]
    assert apart._settle(1000) == [186, 219]


def test_palette_keeps_colours_and_drops_positions():
    frame = np.random.default_rng(0).integers(0, 256, (9, 16, 3), dtype=np.uint8)
    shifted = np.roll(frame, 5, axis=1)  # a pan: the same colours elsewhere
    assert np.array_equal(shots._palette(frame), shots._palette(shifted))
    assert shots._palette(frame).shape == frame.shape
    assert sorted(map(tuple, shots._palette(frame).reshape(-1, 3))) == sorted(map(tuple, frame.reshape(-1, 3)))
