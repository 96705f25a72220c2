"""Emotion analysis tab: text, voice and face read by separate models, fused with weights set on sliders."""

from __future__ import annotations

import functools
from pathlib import Path

import anyio
import gradio as gr
import pandas as pd

from demos.common import ImageInput, gpu, run_event, user_errors
from demos.compare import compare_panel
from demos.controls import control
from demos.flagging import flag_panel
from mmdemo.emotion_labels import LABELS
from mmdemo import outputs, slots
from mmdemo.errors import BadInput
from mmdemo.pipelines import emotion
from mmdemo.pipelines.emotion import timeline as emotion_timeline
from mmdemo.pipelines.emotion.fusion import MODALITIES

ASSETS = Path(__file__).resolve().parent.parent / "assets"
SAMPLE_FACE = ASSETS / "emotion_smiling_astronaut.jpg"
EMPTY_BARS = pd.DataFrame({"emotion": list(LABELS), "probability": [0.0] * len(LABELS)})
EMPTY_LINES = pd.DataFrame({"time (s)": [], "probability": [], "emotion": []})
EMPTY_TALK = pd.DataFrame({"utterance": [], "speaker": [], "emotion": [], "confidence": []})
TALK_COLUMNS = ["index", "speaker", "text", "label", "confidence"]
EMPTY_SEGMENTS = pd.DataFrame({"time (s)": [], "reading": [], "emotion": [], "confidence": [], "said": []})


def _bars(scores: dict | None) -> pd.DataFrame:
    if not scores:
        return EMPTY_BARS
    return pd.DataFrame({"emotion": list(LABELS), "probability": [scores[label] for label in LABELS]})


def _lines(series: list[dict] | None) -> pd.DataFrame:
    if not series:
        return EMPTY_LINES
    rows = [{"time (s)": point["time"], "probability": point["scores"][label], "emotion": label}
            for point in series for label in LABELS]
    return pd.DataFrame(rows)


def _over_time(series: list[dict] | None) -> bool:
    """A line needs two moments: one segment (or frame) drew an empty chart with a "0.000000" axis; its reading is
    in the bars already."""
    return len({point["time"] for point in series or []}) >= 2


def _arousal(series: list[dict] | None) -> pd.DataFrame:
    if not series:
        return pd.DataFrame({"time (s)": [], "arousal": []})
    return pd.DataFrame({"time (s)": [p["time"] for p in series], "arousal": [p["arousal"] for p in series]})


def _summary(result: dict) -> str:
    lines = []
    for name, mod in result["modalities"].items():
        tag = " · *fallback, no trained model*" if mod.get("fallback") else ""
        lines.append(f"- **{name}**: {mod['label']} ({mod['scores'][mod['label']]:.0%}) — {mod['method']}{tag}")
        if mod.get("valence"):
            v = mod["valence"]
            lines.append(f"  - valence: {v['reading']} ({v['compound']:+.2f}), VADER lexicon, not an emotion model")
        if mod.get("transcript") is not None:
            lines.append(f"  - transcript: “{mod['transcript']}”")
        prosody = mod.get("prosody")
        if prosody:
            rate = f", {prosody['speaking_rate_wps']} words/s" if prosody["speaking_rate_wps"] else ""
            lines.append(f"  - arousal **{prosody['arousal_level']}** ({prosody['arousal']:.2f}): heuristic from "
                         f"pitch, energy{rate}; not a 7-class reading, not fused")
        for note in mod.get("notes", []):
            lines.append(f"  - {note}")
        if name == "face":
            faces = len(mod.get("faces", []))
            video = mod.get("video")
            parts = [f"{faces} face(s) in the image"] if "image" in mod.get("from", []) else []
            if video:
                parts.append(f"faces in {video['frames_with_faces']} of {video['frames_sampled']} sampled frames")
            lines.append(f"  - {'; '.join(parts)}")
    for name, why in result["no_signal"].items():
        lines.append(f"- **{name}**: {why} — left out of the fusion")
    fused = result["fused"]
    if fused:
        weights = ", ".join(f"{k} {v:.0%}" for k, v in fused["weights"].items())
        lines.insert(0, f"### Fused: **{fused['label']}** ({fused['scores'][fused['label']]:.0%})  \n"
                        f"weights used: {weights}\n")
    else:
        lines.insert(0, "### Nothing to fuse: no modality carried a signal.\n")
    return "\n".join(lines)


def _segments(timeline: dict | None) -> pd.DataFrame:
    """A video's timeline as points: each segment's middle on x, its text, voice, face and fused readings on y."""
    points = [{"time (s)": round((seg["start"] + seg["end"]) / 2, 2), "reading": name, "emotion": reading["label"],
               "confidence": reading["confidence"], "said": seg["text"]}
              for seg in (timeline or {}).get("segments", [])
              for name, reading in [*seg["modalities"].items(), ("fused", seg["fused"])] if reading.get("label")]
    return pd.DataFrame(points) if points else EMPTY_SEGMENTS


def _timeline_outputs(timeline: dict | None):
    """The note (segments, or the one line saying why there are none), the plot and the rows."""
    if not timeline:
        return gr.Markdown(visible=False), gr.ScatterPlot(visible=False), gr.Dataframe(visible=False)
    rows = emotion_timeline.table_rows(timeline)
    note = timeline["note"] or (f"**Timeline:** {len(rows)} transcript segment{'s' if len(rows) != 1 else ''}, each "
                                f"read as text, voice and faces ({timeline['face_sampling']}) and fused with the "
                                f"weights above")
    return (gr.Markdown(note, visible=True), gr.ScatterPlot(value=_segments(timeline), visible=bool(rows)),
            gr.Dataframe(value=pd.DataFrame(rows, columns=list(emotion_timeline.COLUMNS)), visible=bool(rows)))


def _outputs(result: dict):
    mods = result["modalities"]
    timelines = result.get("timelines", {})
    return (
        _summary(result),
        _bars(result["fused"]["scores"] if result["fused"] else None),
        *[gr.BarPlot(value=_bars(mods[m]["scores"] if m in mods else None), visible=m in mods) for m in MODALITIES],
        gr.LinePlot(value=_lines(timelines.get("voice")), visible=_over_time(timelines.get("voice"))),
        gr.LinePlot(value=_lines(timelines.get("face")), visible=_over_time(timelines.get("face"))),
        gr.LinePlot(value=_arousal(result.get("arousal_timeline")), visible=_over_time(result.get("arousal_timeline"))),
        *_timeline_outputs(result.get("timeline")),
        _downloads(result),
        result,
    )


def _downloads(result: dict) -> list[str]:
    """The reading as JSON (everything) and CSV (one row per modality and the fused row, the seven scores)."""
    import csv
    import json

    folder = outputs.request_dir("emotion-")
    (folder / "emotion.json").write_text(json.dumps(result, ensure_ascii=False, indent=1), encoding="utf-8")
    rows = [{"modality": name, "label": m["label"], "method": m.get("method", ""), **m["scores"]}
            for name, m in result["modalities"].items()]
    if result.get("fused"):
        rows.append({"modality": "fused", "label": result["fused"]["label"], "method": "weighted mean",
                     **result["fused"]["scores"]})
    with open(folder / "emotion.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=["modality", "label", "method", *LABELS])
        writer.writeheader()
        writer.writerows(rows)
    files = [str(folder / "emotion.json"), str(folder / "emotion.csv")]
    segments = emotion_timeline.table_rows(result.get("timeline") or {})
    if segments:  # a video's timeline: one row per transcript segment
        with open(folder / "emotion_timeline.csv", "w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(emotion_timeline.COLUMNS))
            writer.writeheader()
            writer.writerows(segments)
        files.append(str(folder / "emotion_timeline.csv"))
    return files


@gpu
@user_errors
def analyze(text=None, audio=None, image=None, video=None, w_text=1.0, w_voice=1.0, w_face=1.0, reader="auto",
            progress=gr.Progress()):
    """Any one input is enough for an API call: every parameter has a default (None makes it optional in Gradio)."""
    text = text if text and text.strip() else None
    weights = {"text": w_text, "voice": w_voice, "face": w_face}
    report = emotion.analyze(text=text, audio=audio or None, image=image or None, video=video or None,
                             weights=weights, progress=lambda f, m: progress(f, desc=m),
                             text_reader=reader or "auto")
    result = report.to_dict()
    keyframes = [(img, f"{t:.1f} s") for t, img in report.keyframes]
    return (*_outputs(result), gr.Image(value=report.annotated, visible=report.annotated is not None),
            gr.Gallery(value=keyframes, visible=bool(keyframes)))


async def analyze_when_free(text=None, audio=None, image=None, video=None, w_text=1.0, w_voice=1.0, w_face=1.0,
                            reader="auto", progress=gr.Progress()):
    """The /emotion event: waits, holding no worker, for the slots of the readers this request uses (mmdemo.slots),
    then reads in a worker thread. A text-only reading never waits behind a voice or video reading."""
    used = _slots_used(text if text and text.strip() else None, audio, image, video)
    async with slots.hold(*used, waiting=lambda name: progress(
            None, desc=f"waiting for the {name.removeprefix('emotion-')} reader (another request is using it)")):
        return await anyio.to_thread.run_sync(functools.partial(
            analyze, text, audio, image, video, w_text, w_voice, w_face, reader, progress=progress))


def _slots_used(text, audio, image, video) -> list[str]:
    """The slots of the readers a request uses (the event's own queue admits several requests at once). A text
    read alongside a recording or a video takes no text slot: it is quick, and holding the slot for the whole
    media reading would make text-only requests wait behind it."""
    used = ["emotion-text"] if text and not (audio or image or video) else []
    if audio or video:
        used.append("emotion-voice")
    if image or video:
        used.append("emotion-face")
    return used


@user_errors
def reweigh(result, w_text, w_voice, w_face):
    if not result or not result.get("modalities"):
        return (gr.skip(),) * 13
    return _outputs(emotion.reweigh(result, {"text": w_text, "voice": w_voice, "face": w_face}))


@gpu
@user_errors
def read_conversation(path=None, reader="auto"):
    """A transcript with speakers: the per-speaker timeline (utterance order, one row per speaker) and the rows."""
    from mmdemo.pipelines.emotion.conversation import analyze_conversation

    if not path:
        raise BadInput("Give a transcript file first (CSV, SRT, VTT or the Speech tab's JSON).")
    talk = analyze_conversation(path, reader=reader).to_dict()
    rows = talk["utterances"]
    timeline = pd.DataFrame({"utterance": [r["index"] for r in rows], "speaker": [r["speaker"] for r in rows],
                             "emotion": [r["label"] for r in rows], "confidence": [r["confidence"] for r in rows]})
    status = (f"**{len(rows)} utterances, {len(talk['speakers'])} speakers** — {talk['method']}"
              f"{' · *fallback*' if talk['fallback'] else ''}  \n{talk['context']}")
    return (status, gr.ScatterPlot(value=timeline, visible=True),
            gr.Dataframe(value=pd.DataFrame([{k: r[k] for k in TALK_COLUMNS} for r in rows]), visible=True), talk)


def build() -> None:
    gr.Markdown(
        "Give any mix of text, speech, a face photo or a video. Each is read by its own model onto seven emotions "
        "(anger, disgust, fear, joy, neutral, sadness, surprise), then fused: "
        "`p = Σ w·p_m / Σ w` over the modalities that carried a signal. Move the sliders to re-weigh instantly. "
        "Offline, text is read by MiniLM + a head trained on GoEmotions Reddit comments and MELD TV dialogue (or "
        "zero-shot, on request) "
        "and the voice's sound as a prosody heuristic; each is labelled as such."
    )
    with gr.Row():
        with gr.Column(scale=1):
            text = gr.Textbox(label="Text", lines=3, placeholder="How do you feel today?")
            reader = control(emotion.Options, "text_reader")  # API: the values
            audio = gr.Audio(label="Speech (file or microphone)", sources=["upload", "microphone"], type="filepath")
            image = ImageInput(label="Face photo", type="filepath", sources=["upload", "webcam", "clipboard"])
            video = gr.Video(label="Video (faces over time; its sound is read if no audio is given)",
                             sources=["upload"])
            with gr.Row():
                w_text, w_voice, w_face = (control(emotion.Options, f"{m}_weight", maximum=3)
                                           for m in ("text", "voice", "face"))
            run = gr.Button("Analyze", variant="primary")
        with gr.Column(scale=1):
            summary = gr.Markdown()
            fused = gr.BarPlot(EMPTY_BARS, x="emotion", y="probability", title="Fused", y_lim=[0, 1], sort=list(LABELS))
            with gr.Row():
                bars = [gr.BarPlot(EMPTY_BARS, x="emotion", y="probability", title=name, y_lim=[0, 1],
                                   sort=list(LABELS), visible=False, x_label_angle=-45) for name in MODALITIES]
            annotated = gr.Image(label="Faces found", visible=False, interactive=False)
            keyframes = gr.Gallery(label="Video frames with faces", visible=False, columns=4, height=220)
    with gr.Column():  # one plot per line: side by side, their legends lost labels ("surprise")
        voice_line = gr.LinePlot(EMPTY_LINES, x="time (s)", y="probability", color="emotion", y_lim=[0, 1],
                                 title="Speech over time (transcript segments)", visible=False)
        face_line = gr.LinePlot(EMPTY_LINES, x="time (s)", y="probability", color="emotion", y_lim=[0, 1],
                                title="Faces over time (video)", visible=False)
        arousal_line = gr.LinePlot(pd.DataFrame({"time (s)": [], "arousal": []}), x="time (s)", y="arousal",
                                   y_lim=[0, 1], title="Arousal over time (prosody heuristic)", visible=False)
        timeline_note = gr.Markdown(visible=False)
        timeline_plot = gr.ScatterPlot(EMPTY_SEGMENTS, x="time (s)", y="reading", color="emotion",
                                       tooltip=["confidence", "said"], visible=False,
                                       title="Video timeline: each transcript segment as text, voice, faces, fused")
        timeline_rows = gr.Dataframe(visible=False, wrap=True, label="Video timeline, one row per transcript segment")
    downloads = gr.File(label="Downloads: JSON, CSV", file_count="multiple", height=100, interactive=False)
    with gr.Accordion("Raw result (JSON)", open=False):
        raw = gr.JSON()
    gr.Examples(
        examples=[["I finally got the job and I am so happy!", str(SAMPLE_FACE)],
                  ["I can't believe they cancelled my flight again. This is outrageous.", None],
                  ["My old dog died this morning and the house feels empty.", None]],
        inputs=[text, image], cache_examples=False, label="Examples",
    )
    plots = [summary, fused, *bars, voice_line, face_line, arousal_line, timeline_note, timeline_plot, timeline_rows,
             downloads, raw]
    run_event(run.click, analyze_when_free, [text, audio, image, video, w_text, w_voice, w_face, reader],
              plots + [annotated, keyframes], summary, clear=[summary, downloads, raw, annotated, keyframes],
              api_name="emotion",  # bounded by the readers' slots, taken by what the request holds (mmdemo.slots)
              concurrency_limit=None, concurrency_id="emotion")
    for slider in (w_text, w_voice, w_face):
        slider.release(reweigh, inputs=[raw, w_text, w_voice, w_face], outputs=plots, api_visibility="private")
    with gr.Accordion("Conversation: a transcript with speakers, read utterance by utterance", open=False):
        with gr.Row():
            talk_file = gr.File(label="Transcript: CSV (utterance or text, speaker, optional dialogue_id), SRT/VTT "
                                      "with speaker names, or the Speech tab's JSON", type="filepath",
                                file_types=[".csv", ".srt", ".vtt", ".json"])
            talk_run = gr.Button("Read the conversation")
        talk_status = gr.Markdown()
        talk_plot = gr.ScatterPlot(EMPTY_TALK, x="utterance", y="speaker", color="emotion", tooltip=["confidence"],
                                   title="Emotion per speaker, utterance by utterance", visible=False)
        talk_rows = gr.Dataframe(visible=False, wrap=True)
        talk_raw = gr.JSON(visible=False)
    run_event(talk_run.click, read_conversation, [talk_file, reader], [talk_status, talk_plot, talk_rows, talk_raw],
              talk_status, api_name="emotion_conversation", concurrency_limit=1, concurrency_id=emotion.SLOT)
    compare_panel("emotion", [text, audio, image, video], _compared, "head:text_reader=head\nzero-shot:text_reader=zero-shot",
                  emotion.SLOT, reference="Right label (optional): anger, disgust, fear, joy, neutral, sadness, surprise")
    flag_panel("emotion", [text, audio, image, video, reader], raw, _flagged)


def _compared(text, audio, image, video, label):
    """A manifest row names one input: the text, else the first file given."""
    path = None if text and text.strip() else (audio or image or video)
    if not path and not (text and text.strip()):
        raise BadInput("Give a text, a recording, a face photo or a video first.")
    return ({"text": text.strip()} if path is None else {"path": path}) | {"label": label or None}


def _flagged(text, audio, image, video, reader, result):
    """A flag holds the one input a manifest row can name: the text, else the first file given."""
    path = None if text and text.strip() else (audio or image or video)
    return dict(input={"text": text.strip()} if path is None else {}, files={"path": path} if path else {},
                settings={"text_reader": reader, "weights": result.get("weights", {})},
                answer=(result.get("fused") or {}).get("label", ""))
