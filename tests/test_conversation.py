"""Transcripts with speakers (CSV like MELD's, SRT, VTT, the Speech tab's JSON) read into utterances, and MELD-style
evaluation manifests. The lines are written for these tests (MELD's own text is GPL and stays out of the repo)."""

from __future__ import annotations

import json

import pytest

from mmdemo.errors import BadInput
from mmdemo.pipelines.emotion.conversation import read_transcript, split_speaker
from mmdemo.typography import normalise


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
