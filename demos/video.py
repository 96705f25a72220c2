"""Video summarization tab: shots with keyframes, keyframe captions, what was said in each shot, a summary, a
storyboard PNG and Markdown + JSON reports. UI only: the work is in mmdemo.pipelines.video_summary."""

from __future__ import annotations

from pathlib import Path

import gradio as gr
import pandas as pd

from demos.common import gate_features, gpu, run_event, stop_button, user_errors, worker_stream
from demos.compare import compare_panel
from demos.controls import control
from demos.flagging import flag_panel
from mmdemo import outputs
from mmdemo.errors import BadInput
from mmdemo.pipelines import video_summary
from mmdemo.pipelines.emotion import timeline as segment_emotion
from mmdemo.pipelines.video_summary import clock

ASSETS = Path(__file__).resolve().parent.parent / "assets"
EXAMPLE = ASSETS / "video_example.mp4"
STAGES = ["probe", "shots", "captions", "speech", "emotion", "summary", "report"]


def _gallery(result: video_summary.VideoSummary, files: dict) -> list[tuple[str, str]]:
    items = []
    for shot, keyframe in zip(result.shots, files["keyframes"]):
        label = f"#{shot.index + 1} · {clock(shot.start)}-{clock(shot.end)} · {shot.caption or '(no description)'}"
        if shot.duplicate_of is not None:
            label += f" (same as #{shot.duplicate_of + 1})"
        if shot.transcript:
            label += f" · said: “{shot.transcript}”"
        items.append((str(keyframe), label))
    return items


def _overview(result: video_summary.VideoSummary) -> str:
    d = result.to_dict()
    lines = [f"### Summary\n{d['summary'] or '*Nothing was said or shown that could be summarized.*'}",
             f"**Written by:** {d['summary_method']}",
             f"{clock(result.duration)} · {len(result.shots)} shot{'s' if len(result.shots) != 1 else ''} · "
             f"{result.info.width}x{result.info.height} · cuts by **{result.detector}** · "
             f"spoken language {d['language'] or '—'}"]
    lines += [f"*{note}*" for note in d["notes"]]
    timings = " · ".join(f"{k} {result.timings[k]:.1f} s" for k in STAGES if k in result.timings)
    lines.append(f"Time per stage: {timings} · total {sum(result.timings.values()):.1f} s")
    return "\n\n".join(lines)


def _rows(result: video_summary.VideoSummary) -> list[list]:
    return [[s.index + 1, round(s.start, 2), round(s.end, 2), s.caption, s.transcript] for s in result.shots]


@gpu(duration=120)
@user_errors
def run(video, detector=None, every=None, method=None, sentences=None, emotion=None, emotion_weights=None,
        progress=gr.Progress()):
    """None: the setting's declared default (video_summary.Options)."""
    if not video:
        raise BadInput("Upload a video (mp4, mkv, webm, mov or avi) first.")
    # in a worker, so Stop (or a browser gone away) ends the run at its next stage and frees the slot at once
    result = yield from worker_stream(lambda report, emit, stop: video_summary.summarize_video(
        video, every_seconds=every, detector=detector, summary_method=method, max_sentences=sentences,
        emotion_timeline=emotion, emotion_weights=emotion_weights, progress=report), progress)
    progress(0.97, desc="writing the storyboard and report")
    folder = outputs.request_dir("video-")
    files = video_summary.write_report(result, folder, Path(video).stem or "video")
    downloads = [str(files["markdown"]), str(files["json"]), str(files["storyboard"])]
    downloads += [str(files["emotion_plot"])] if "emotion_plot" in files else []
    yield (_overview(result), _gallery(result, files), _rows(result), str(files["storyboard"]), downloads,
           *_emotion_outputs(result, files), result.to_dict())


def _emotion_outputs(result: video_summary.VideoSummary, files: dict):
    """The emotion timeline's line, plot and rows; hidden when it was not asked for."""
    if result.emotion_timeline is None:
        return gr.Markdown(visible=False), gr.Image(visible=False), gr.Dataframe(visible=False)
    timeline = result.emotion_timeline.to_dict()
    rows = segment_emotion.table_rows(timeline)
    note = timeline["note"] or (f"**Emotion timeline:** {len(rows)} transcript segments, each read as text, voice "
                                f"and faces ({timeline['face_sampling']}), fused")
    plot = str(files["emotion_plot"]) if "emotion_plot" in files else None
    return (gr.Markdown(note, visible=True), gr.Image(plot, visible=plot is not None),
            gr.Dataframe(pd.DataFrame(rows, columns=list(segment_emotion.COLUMNS)), visible=bool(rows)))


def build() -> None:
    gr.Markdown(
        "Cuts a video into shots (PySceneDetect on frames sampled with PyAV; the rest is never decoded), picks the "
        "most typical frame of each shot as its keyframe (image-embedding centrality; repeated set-ups are marked), "
        "captions the keyframes, transcribes the audio track with Whisper and assigns what was said to the shots, "
        "then summarizes: extractive with MiniLM by default, abstractive when a summarization model is available. "
        "Offline, captions are the labelled ImageNet-tag fallback."
    )
    notice = gr.Markdown()
    with gr.Row():
        with gr.Column(scale=2):
            video = gr.Video(label="Video (mp4, mkv, webm, mov, avi)", sources=["upload"])
            with gr.Row():
                # choice labels kept short: a longer one was cut in the box
                detector = control(video_summary.Options, "detector")
                every = control(video_summary.Options, "every_seconds", maximum=1.0)  # finer than 1 s matters
            with gr.Row():
                method = control(video_summary.Options, "summary_method")
                sentences = control(video_summary.Options, "max_sentences", maximum=12)
            with gr.Row():
                emotion = control(video_summary.Options, "emotion_timeline")
                emotion_weights = control(video_summary.Options, "emotion_weights", placeholder="text=1,voice=1,face=1")
            with gr.Row():
                go = gr.Button("Summarize", variant="primary", scale=3)
                stop = gr.Button("Stop", variant="stop", scale=1)
        with gr.Column(scale=3):
            overview = gr.Markdown(label="Summary")
            gallery = gr.Gallery(label="Timeline: keyframe, time range, caption, what was said", columns=4, height=300,
                                 object_fit="contain")
    with gr.Row():
        with gr.Column(scale=3):
            table = gr.Dataframe(headers=["shot", "start (s)", "end (s)", "shows", "said"],
                                 datatype=["number", "number", "number", "str", "str"], label="Shots", wrap=True,
                                 interactive=False, column_widths=["7%", "10%", "10%", "33%", "40%"])
        with gr.Column(scale=2):
            storyboard = gr.Image(label="Storyboard", type="filepath", interactive=False, height=260)
            files = gr.File(label="Downloads: Markdown report, JSON report, storyboard PNG", file_count="multiple",
                            height=130)
    emotion_note = gr.Markdown(visible=False)
    emotion_plot = gr.Image(label="Emotion timeline", type="filepath", interactive=False, visible=False)
    emotion_rows = gr.Dataframe(label="Emotion per transcript segment", wrap=True, interactive=False, visible=False)
    with gr.Accordion("JSON", open=False):
        raw = gr.JSON(label="JSON")
    if EXAMPLE.is_file():
        gr.Examples([[str(EXAMPLE)]], inputs=[video], cache_examples=False)
    event = run_event(go.click, run, [video, detector, every, method, sentences, emotion, emotion_weights],
                      # the JSON stays last: API clients read the result as the last output
                      [overview, gallery, table, storyboard, files, emotion_note, emotion_plot, emotion_rows, raw],
                      overview, api_name="summarize_video",
                      concurrency_limit=1, concurrency_id=video_summary.SLOT)
    stop_button(stop, event, overview, "Nothing was kept: press Summarize to start again.")
    compare_panel("video", [video], _compared, "combined:detector=combined\ncontent:detector=content",
                  video_summary.SLOT, reference="True cut times in seconds, separated by ; (optional): precision, "
                                                "recall, F1")
    flag_panel("video", [video, detector, every], raw, _flagged)
    gate_features(notice, {"keyframe captions (ImageNet tags meanwhile)": ("captioner", []),
                           "abstractive summary": ("summarizer", [method])})


def _flagged(video, detector, every, result):
    """A video's answer is its cut times: where every shot after the first starts."""
    settings = result.get("settings") or {"detector": detector, "every_seconds": every}  # the result's record
    return dict(files={"path": video}, settings=settings,
                answer=";".join(f"{shot['start']:g}" for shot in result.get("shots", [])[1:]))


def _compared(video, cuts):
    if not video:
        raise BadInput("Upload a video (mp4, mkv, webm, mov or avi) first.")
    return {"path": video, "cuts": cuts or None}
