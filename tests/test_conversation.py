"""Transcripts with speakers (CSV like MELD's, SRT, VTT, the Speech tab's JSON) read into utterances, and MELD-style
evaluation manifests. The lines are written for these tests (MELD's own text is GPL and stays out of the repo)."""

from __future__ import annotations

import json

import pytest

from mmdemo.errors import BadInput
from mmdemo.pipelines.emotion.conversation import read_transcript, split_speaker
from mmdemo.typography import normalise
from tests.conftest import requires_pack


def test_normalise_puts_back_mis_decoded_and_typographic_quotes():
    assert normalise("I\x92m  \u201cfine\u201d\u2026 really \x97 fine") == 'I\'m "fine"... really - fine'


def test_speaker_prefix_is_split_only_when_it_looks_like_a_name():
    assert split_speaker("Dana: I found the keys!") == ("Dana", "I found the keys!")
    assert split_speaker("at 10:30 we leave") == (None, "at 10:30 we leave")


def test_csv_like_meld_keeps_dialogues_in_utterance_order(tmp_path):
    path = tmp_path / "talk.csv"
    path.write_text("Sr No.,Utterance,Speaker,Emotion,Dialogue_ID,Utterance_ID,StartTime,EndTime\n"
                    "1,Where did you put my bike?,Dana,anger,7,1,\"00:00:03,100\",\"00:00:04,000\"\n"
                    "2,I didn\x92t touch it.,Lee,neutral,7,0,\"00:00:01,000\",\"00:00:02,500\"\n"
                    "3,Pizza is here!,Sam,joy,9,0,,\n", encoding="utf-8")
    said = read_transcript(path)
    assert [(u.speaker, u.text, u.dialogue) for u in said] == [
        ("Lee", "I didn't touch it.", "7"), ("Dana", "Where did you put my bike?", "7"), ("Sam", "Pizza is here!", "9")]
    assert said[0].start == pytest.approx(1.0) and said[1].end == pytest.approx(4.0) and said[2].start is None


def test_srt_and_vtt_speakers_from_prefix_and_voice_tag(tmp_path):
    srt = tmp_path / "a.srt"
    srt.write_text("1\n00:00:01,000 --> 00:00:02,000\nDana: You ate my cake?\n\n"
                   "2\n00:00:02,500 --> 00:00:04,000\nno speaker on this line\n", encoding="utf-8")
    vtt = tmp_path / "b.vtt"
    vtt.write_text("WEBVTT\n\nNOTE written for a test\n\n00:01.000 --> 00:02.500\n<v Lee>It was <i>one</i> slice.\n",
                   encoding="utf-8")
    assert [(u.speaker, u.text, u.start) for u in read_transcript(srt)] == [
        ("Dana", "You ate my cake?", 1.0), ("?", "no speaker on this line", 2.5)]
    assert [(u.speaker, u.text, u.end) for u in read_transcript(vtt)] == [("Lee", "It was one slice.", 2.5)]


def test_speech_tab_json_and_bad_files_are_one_message(tmp_path):
    path = tmp_path / "t.json"
    path.write_text(json.dumps({"segments": [{"start": 0.0, "end": 1.5, "text": " Kim: We won the match!"},
                                             {"start": 1.5, "end": 3.0, "text": "Great.", "speaker": "Ali"}]}))
    assert [(u.speaker, u.text) for u in read_transcript(path)] == [("Kim", "We won the match!"), ("Ali", "Great.")]
    for name, content, message in (("x.txt", "hi", "must be a"), ("y.json", "{", "not JSON"),
                                   ("z.csv", "a,b\n1,2\n", "'utterance' or 'text'"), ("w.srt", "hello\n", "no subtitle")):
        bad = tmp_path / name
        bad.write_text(content)
        with pytest.raises(BadInput, match=message):
            read_transcript(bad)


def test_meld_style_manifest_is_read_with_its_own_column_names(tmp_path):
    from mmdemo.pipelines import evaluation

    path = tmp_path / "meld.csv"
    path.write_text("Sr No.,Utterance,Speaker,Emotion,Sentiment,Dialogue_ID,Utterance_ID\n"
                    "1,Guess who got the tickets?,Kim,joy,positive,3,0\n"
                    "2,No way!,Ali,surprise,positive,3,1\n"
                    "3,The bus leaves at nine.,Kim,neutral,neutral,4,0\n"
                    "4,Okay.,Ali,bored,neutral,4,1\n", encoding="utf-8")
    items, skipped = evaluation.read_manifest("emotion", path)
    assert [i["label"] for i in items] == ["joy", "surprise", "neutral"]
    assert items[1]["text"] == "No way!" and items[1]["dialogue_id"] == "3" and items[1]["speaker"] == "Ali"
    assert skipped == [{"row": 5, "reason": "label 'bored' is none of anger, disgust, fear, joy, neutral, sadness, surprise"}]


# -- context: the previous line's reading -------------------------------------------------------------------------
def _head(context: bool):
    """A head whose scores come only from its bias, shifts and context weights: the previous line's joy raises this
    line's joy (features, words zero), so what context does is visible exactly."""
    import numpy as np

    from mmdemo.backends.text_emotion import CONTEXT_WIDTH, HASH_BUCKETS, HEAD_LAYERS, TrainedHead
    from mmdemo.emotion_labels import LABELS

    joy, neutral = LABELS.index("joy"), LABELS.index("neutral")
    weights = {"dense": np.zeros((384 * len(HEAD_LAYERS), 7)), "words": np.zeros((HASH_BUCKETS, 7)),
               "bias": np.eye(7)[joy] * 2.0, "prior_shift": np.zeros(7), "dialogue_shift": np.eye(7)[neutral] * 1.0,
               "temperature": np.float32(1.0), "dialogue_temperature": np.float32(2.0), "labels": np.array(LABELS)}
    if context:
        weights["context"] = np.zeros((CONTEXT_WIDTH, 7))
        weights["context"][joy, joy] = 3.0  # previous line's p(joy) -> this line's joy
        weights["context"][len(LABELS) + 1, neutral] = 1.0  # same speaker -> neutral
    return TrainedHead(None, weights, "test head")


def test_context_features_take_the_previous_line_of_the_same_dialogue_only():
    import numpy as np

    from mmdemo.backends.text_emotion import context_features

    probs = np.eye(7)[[3, 4, 5, 6]]
    out = context_features(probs, ["A", "B", "B", "A"], ["1", "1", "1", "2"])
    assert out.shape == (4, 9) and not out[0].any() and not out[3].any()  # first lines of dialogues 1 and 2
    assert out[1].tolist() == [*probs[0], 1.0, 0.0] and out[2].tolist() == [*probs[1], 1.0, 1.0]


def test_head_reads_a_conversation_line_with_the_line_before_it_and_dialogue_shift():
    import numpy as np
    from scipy.special import softmax

    features = np.zeros((3, 384 * 3), np.float32)
    texts, speakers = ["a", "b", "c"], ["A", "B", "B"]
    plain, ctx = _head(False), _head(True)
    bias = plain.raw_bias
    z = plain.conversation_logits(texts, speakers, None, features)
    assert np.allclose(z, bias + np.eye(7)[4])  # no context weights: dialogue shift only, every line alike
    assert np.allclose(plain.logits(texts, features), bias)  # a single line: the single-line shift (zero here)
    previous_joy = softmax(bias)[3]
    z = ctx.conversation_logits(texts, speakers, ["1", "1", "1"], features)
    assert np.allclose(z[0], bias + np.eye(7)[4])
    assert np.allclose(z[1], bias + np.eye(7)[4] + 3.0 * previous_joy * np.eye(7)[3])
    assert np.allclose(z[2], z[1] + np.eye(7)[4])  # same speaker as the line before
    z = ctx.conversation_logits(texts, speakers, ["1", "2", "2"], features)
    assert np.allclose(z[1], bias + np.eye(7)[4])  # first line of dialogue 2: no context from dialogue 1


def test_meld_style_manifest_lines_know_the_line_before_them_in_their_dialogue():
    from mmdemo.pipelines.evaluation.tasks import TASKS

    task = TASKS["emotion"]
    items = [{"row": 2, "text": "b", "label": "joy", "dialogue_id": "3", "utterance_id": "1"},
             {"row": 3, "text": "a", "label": "joy", "dialogue_id": "3", "utterance_id": "0"},
             {"row": 4, "text": "c", "label": "joy", "dialogue_id": "4"},
             {"row": 5, "text": "d", "label": "joy", "dialogue_id": "4"},
             {"row": 6, "text": "alone", "label": "joy"},
             {"row": 7, "path": "x.wav", "text": "spoken", "label": "joy", "dialogue_id": "4"}]
    before = task.prepare(items, {"context": True}, None)["_before"]
    assert {row: prev and prev["row"] for row, prev in before.items()} == {3: None, 2: 3, 4: None, 5: 4}


# -- the offline head on a real transcript, in each input format ----------------------------------------------------
LINES = [("Kim", "Guess what, they picked my design for the new library!"), ("Ali", "No way, seriously?"),
         ("Kim", "Yes, and the opening is next Friday."), ("Ali", "I can't believe you didn't tell me sooner.")]


def _formats(folder):
    """The same four lines as a MELD-style CSV, an SRT with NAME: prefixes, a VTT with voice tags and the Speech
    tab's JSON (written for this test)."""
    stamp = lambda i, sep: f"00:00:{2 * i:02d}{sep}000 --> 00:00:{2 * i + 1:02d}{sep}500"  # noqa: E731
    files = {"talk.csv": "Utterance,Speaker,Dialogue_ID,Utterance_ID\n" + "".join(
                 f"\"{t}\",{s},1,{i}\n" for i, (s, t) in enumerate(LINES)),
             "talk.srt": "".join(f"{i + 1}\n{stamp(i, ',')}\n{s}: {t}\n\n" for i, (s, t) in enumerate(LINES)),
             "talk.vtt": "WEBVTT\n\n" + "".join(f"{stamp(i, '.')}\n<v {s}>{t}\n\n" for i, (s, t) in enumerate(LINES)),
             "talk.json": json.dumps({"segments": [{"start": 2.0 * i, "end": 2.0 * i + 1.5, "text": f" {s}: {t}"}
                                                   for i, (s, t) in enumerate(LINES)]})}
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    return [folder / name for name in files]


@requires_pack("minilm")
def test_every_transcript_format_is_read_with_context_and_agrees_with_evaluate(tmp_path, offline):
    import numpy as np

    from mmdemo.pipelines import evaluation
    from mmdemo.pipelines.emotion import text as emotion_text
    from mmdemo.pipelines.emotion.conversation import analyze_conversation

    readings = [analyze_conversation(path, reader="head") for path in _formats(tmp_path)]
    for talk in readings:
        assert [(u.speaker, u.text) for u in talk.utterances] == LINES and talk.context == emotion_text.HEAD_CONTEXT
        assert np.allclose(np.stack(talk.probs), np.stack(readings[0].probs), atol=1e-5)
    alone = emotion_text.analyze([t for _, t in LINES], reader="head")
    assert not np.allclose(np.stack(readings[0].probs), np.stack([r.probs for r in alone]), atol=1e-3)
    speakers = readings[0].to_dict()["speakers"]
    assert [r["index"] for r in speakers["Kim"]] == [0, 2] and [r["index"] for r in speakers["Ali"]] == [1, 3]
    manifest = tmp_path / "meld.csv"
    manifest.write_text("Utterance,Speaker,Emotion,Dialogue_ID,Utterance_ID\n" + "".join(
        f"\"{t}\",{s},joy,1,{i}\n" for i, (s, t) in enumerate(LINES)), encoding="utf-8")
    items, _ = evaluation.read_manifest("emotion", manifest)
    report = evaluation.evaluate("emotion", items, ["head:text_reader=head"]).to_dict()["configs"][0]
    said = [row["label"] for row in readings[0].rows()]
    assert [i["output"] for i in report["items"]] == said and all(i["context"] for i in report["items"])


@requires_pack("minilm")
def test_the_text_reader_flag_reaches_a_conversation(tmp_path, capsys, offline):
    """`--conversation FILE --text-reader zero-shot` reads with the zero-shot reader (the flag was once ignored
    there); a reader that does not exist is the declaration's one sentence, before the file is read."""
    from mmdemo.cli import main
    from mmdemo.pipelines.emotion.conversation import analyze_conversation

    path = _formats(tmp_path)[0]
    assert main(["emotion", "--conversation", str(path), "--text-reader", "zero-shot", "--json"]) == 0
    talk = json.loads(capsys.readouterr().out)["conversation"]
    assert "zero-shot" in talk["method"]
    with pytest.raises(BadInput, match="The text reader must be one of auto, head, zero-shot, not 'best'"):
        analyze_conversation(tmp_path / "missing.csv", reader="best")
