"""Transcripts with speakers, read into utterances: a CSV like MELD's, SRT/VTT subtitles, or the Speech tab's JSON.

    utterances = read_transcript("scene.srt")   # [Utterance(speaker, text, start, end, dialogue), ...]

Speakers come from a CSV's ``speaker`` column, a VTT voice tag (``<v Ross>``), a segment's ``speaker`` key in
JSON, or a ``NAME:`` prefix on the line (SRT, VTT, JSON); a line without one is spoken by "?". Mis-decoded
typographic quotes (MELD's "\\x92" for an apostrophe) and typographic ones become plain ASCII punctuation
(``mmdemo.typography``), so that the reader sees the text it was trained on.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass
from pathlib import Path

from mmdemo.errors import BadInput
from mmdemo.media.text import read_text_file
from mmdemo.typography import normalise

SUFFIXES = (".csv", ".srt", ".vtt", ".json")
UNKNOWN_SPEAKER = "?"
_TEXT_COLUMNS = ("utterance", "text")
_SPEAKER_PREFIX = re.compile(r"^\s*([A-Z][\w .'-]{0,30}?)\s*:\s+(\S.*)$")  # "Ross: We were on a break!"
_VOICE_TAG = re.compile(r"<v(?:\.[^ >]*)?\s+([^>]+)>")
_TAG = re.compile(r"<[^>]+>")
_TIME = re.compile(r"(?:(\d+):)?(\d{1,2}):(\d{2})[,.](\d{1,3})")


@dataclass
class Utterance:
    speaker: str
    text: str
    start: float | None = None  # seconds, when the transcript has times
    end: float | None = None
    dialogue: str = ""  # utterances of one dialogue are read together; a CSV's dialogue_id, else one dialogue

    def to_dict(self) -> dict:
        out = {"speaker": self.speaker, "text": self.text, "dialogue": self.dialogue}
        if self.start is not None:
            out.update(start=round(self.start, 3), end=None if self.end is None else round(self.end, 3))
        return out


def split_speaker(line: str) -> tuple[str | None, str]:
    """("Ross", "We were on a break!") from "Ross: We were on a break!"; (None, line) without a prefix."""
    found = _SPEAKER_PREFIX.match(line)
    return (found.group(1).strip(), found.group(2).strip()) if found else (None, line.strip())


def read_transcript(path) -> list[Utterance]:
    """The utterances of a transcript file, in order; BadInput for a file that is none of SUFFIXES or holds none."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise BadInput(f"{path.name}: a conversation must be a {', '.join(SUFFIXES)} file, not {suffix or 'no suffix'}.")
    text = read_text_file(path, f"the conversation {path.name}")
    parse = {".csv": _from_csv, ".srt": _from_subtitles, ".vtt": _from_subtitles, ".json": _from_json}[suffix]
    utterances = [u for u in parse(text, path.name) if u.text]
    if not utterances:
        raise BadInput(f"{path.name}: no utterance found in the conversation.")
    return utterances


def _from_csv(text: str, name: str) -> list[Utterance]:
    rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"), newline="")))
    if not rows:
        raise BadInput(f"{name}: the CSV has no rows under its header.")
    columns = {c.strip().lower(): c for c in rows[0] if c}
    text_column = next((columns[c] for c in _TEXT_COLUMNS if c in columns), None)
    if text_column is None:
        raise BadInput(f"{name}: the CSV needs an 'utterance' or 'text' column; its header is {', '.join(columns)}.")
    speaker, dialogue = columns.get("speaker"), columns.get("dialogue_id")
    order, start, end = columns.get("utterance_id"), columns.get("starttime"), columns.get("endtime")
    out = []
    for row in rows:
        said = normalise(row.get(text_column) or "")
        who = normalise(row.get(speaker) or "") if speaker else ""
        if not who:
            prefixed, said = split_speaker(said)
            who = prefixed or UNKNOWN_SPEAKER
        out.append(Utterance(who, said, _seconds(row.get(start)) if start else None,
                             _seconds(row.get(end)) if end else None,
                             (row.get(dialogue) or "").strip() if dialogue else ""))
    if order:  # MELD lists each dialogue's rows in Utterance_ID order already; keep file order across dialogues
        keys = [sort_number(row.get(order)) for row in rows]
        first: dict[str, int] = {}  # each dialogue's first row, found in one pass
        for i, u in enumerate(out):
            first.setdefault(u.dialogue, i)
        ranked = sorted(range(len(out)), key=lambda i: (first[out[i].dialogue], keys[i], i))
        out = [out[i] for i in ranked]
    return out


def sort_number(value) -> float:
    """A sort key: the number a cell holds, else after every number."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("inf")


def _seconds(value) -> float | None:
    found = _TIME.search(value or "")
    if not found:
        return None
    hours, minutes, seconds, fraction = found.groups()
    return int(hours or 0) * 3600 + int(minutes) * 60 + int(seconds) + int(fraction.ljust(3, "0")) / 1000


def _from_subtitles(text: str, name: str) -> list[Utterance]:
    out = []
    for block in re.split(r"\n\s*\n", text.replace("\r\n", "\n").lstrip("\ufeff")):
        lines = [line for line in block.strip().splitlines() if line.strip()]
        timing = next((i for i, line in enumerate(lines) if "-->" in line), None)
        if timing is None:
            continue  # the WEBVTT header, NOTE and STYLE blocks, cue numbers alone
        left, _, right = lines[timing].partition("-->")
        body = " ".join(lines[timing + 1:])
        voice = _VOICE_TAG.search(body)
        body = normalise(_TAG.sub("", body))
        who, said = (voice.group(1).strip(), body) if voice else split_speaker(body)
        out.append(Utterance(normalise(who or UNKNOWN_SPEAKER), said, _seconds(left), _seconds(right)))
    if not out:
        raise BadInput(f"{name}: no subtitle cue (a line with '-->') found.")
    return out


def _from_json(text: str, name: str) -> list[Utterance]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadInput(f"{name} is not JSON ({exc.msg} at line {exc.lineno}).") from None
    segments = data.get("segments") if isinstance(data, dict) else data
    if not isinstance(segments, list) or not all(isinstance(s, dict) for s in segments):
        raise BadInput(f"{name}: expected the Speech tab's JSON (an object with 'segments') or a list of segments.")
    out = []
    for segment in segments:
        said = normalise(segment.get("text") or "")
        who = normalise(segment.get("speaker") or "")
        if not who:
            prefixed, said = split_speaker(said)
            who = prefixed or UNKNOWN_SPEAKER
        start, end = segment.get("start"), segment.get("end")
        out.append(Utterance(who, said, float(start) if isinstance(start, (int, float)) else None,
                             float(end) if isinstance(end, (int, float)) else None))
    return out


@dataclass
class ConversationReading:
    utterances: list[Utterance]
    probs: list  # np.ndarray over LABELS, one per utterance
    method: str
    fallback: bool
    context: str  # how earlier utterances entered the reading (said, measured in docs/emotion.md)

    def rows(self) -> list[dict]:
        from mmdemo.emotion_labels import scores_dict, top_label

        return [{"index": i, **u.to_dict(), "label": top_label(p), "confidence": round(float(p.max()), 4),
                 "scores": scores_dict(p)} for i, (u, p) in enumerate(zip(self.utterances, self.probs))]

    def to_dict(self) -> dict:
        rows = self.rows()
        speakers = list(dict.fromkeys(u.speaker for u in self.utterances))
        return {"method": self.method, "fallback": self.fallback, "context": self.context, "utterances": rows,
                "speakers": {s: [{k: r[k] for k in ("index", "start", "label", "confidence") if k in r}
                                 for r in rows if r["speaker"] == s] for s in speakers}}


def analyze_conversation(path, reader: str | None = None) -> ConversationReading:
    """Each utterance of the transcript at ``path`` read by the text reader (None: the declared default), in order,
    with its speaker; the trained head reads each with the utterance before it in its dialogue
    (``emotion.text.analyze_conversation_lines``)."""
    from mmdemo.pipelines.emotion import Options, max_texts
    from mmdemo.pipelines.emotion import text as emotion_text

    reader = Options(text_reader=reader).text_reader  # a bad reader is one sentence, before the file is read
    utterances = read_transcript(path)
    if len(utterances) > (limit := max_texts()):
        raise BadInput(f"{len(utterances)} utterances is over the limit of {limit} (MMDEMO_MAX_EMOTION_TEXTS).")
    results, context = emotion_text.analyze_conversation_lines(
        [u.text for u in utterances], [u.speaker for u in utterances], [u.dialogue for u in utterances], reader=reader)
    return ConversationReading(utterances, [r.probs for r in results], results[0].method, results[0].fallback, context)
