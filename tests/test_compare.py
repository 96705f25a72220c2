"""Compare mode: a tab's input under several configurations, side by side, scored when the tab has a reference."""

from __future__ import annotations

import pytest

from demos import compare, emotion, speech, text_to_image, video
from mmdemo.errors import BadInput
from mmdemo.pipelines import evaluation
from tests.conftest import requires_pack


def _configs(task, *lines):
    return [evaluation.parse_config(line, task) for line in lines]


@requires_pack("minilm")
def test_emotion_text_side_by_side_with_its_label_scored():
    item = emotion._compared("I can't believe they cancelled my flight again. This is outrageous.", None, None,
                             None, "anger")
    report = evaluation.compare("emotion", item, _configs("emotion", "head:text_reader=head",
                                                          "zero-shot:text_reader=zero-shot"))
    headers, rows = compare.side_by_side(report)
    assert headers[:4] == ["config", "settings", "output", "seconds"] and "accuracy" in headers
    assert [r[0] for r in rows] == ["head", "zero-shot"]
    assert [r[1] for r in rows] == ["text_reader=head", "text_reader=zero-shot"]  # only what differs
    for row, config in zip(rows, report.configs):
        assert row[2] == config.items[0]["output"]
        assert row[headers.index("accuracy")] == float(row[2] == "anger")


def test_tabs_refuse_a_compare_without_input(tmp_path):
    with pytest.raises(BadInput, match="Upload an audio"):
        speech._compared(None, None, "", "")
    with pytest.raises(BadInput, match="Give a text"):
        emotion._compared("  ", None, None, None, "")
    with pytest.raises(BadInput, match="Upload a video"):
        video._compared(None, "")
    assert text_to_image._compared("a fox", -1) == {"prompt": "a fox", "seed": None}  # -1: the model's random seed


def test_a_bad_key_names_the_key():
    with pytest.raises(BadInput, match="nope"):
        _configs("video", "a:nope=1")


def test_video_without_reference_still_compares(tmp_path):
    from mmdemo.testing.videos import Scene, make_video

    made = make_video(tmp_path / "cut.mp4", [Scene(1.5, (200, 30, 30)), Scene(1.5, (30, 30, 200))], fps=25)
    report = evaluation.compare("video", video._compared(str(made.path), ""), _configs(
        "video", "combined:detector=combined", "content:detector=content"))
    headers, rows = compare.side_by_side(report)
    assert len(rows) == 2 and all(not str(r[2]).startswith("error") for r in rows), rows
