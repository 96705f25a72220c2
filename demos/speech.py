"""Speech tab: Whisper transcription with timestamps or speech translation to English, optional text translation
of the transcript, subtitles (SRT/VTT/TXT/JSON) and WER/CER against a reference. UI only: the work is in
mmdemo.pipelines.speech / subtitles / translation."""

from __future__ import annotations

from pathlib import Path

import gradio as gr

from demos.common import gate_features, gpu, run_event, stop_button, user_errors, worker_stream
from demos.compare import compare_panel
from demos.controls import control
from demos.flagging import flag_panel
from mmdemo import outputs
from mmdemo.errors import BadInput
from mmdemo.pipelines import speech
from mmdemo.pipelines.speech import subtitles

ASSETS = Path(__file__).resolve().parent.parent / "assets"
EXAMPLES = [
    [str(ASSETS / "speech_en.flac"), "transcribe", "", "The quick brown fox jumps over the lazy dog. "
     "Speech recognition turns spoken words into text."],
    [str(ASSETS / "speech_es.ogg"), "transcribe", "", ""],
    [str(ASSETS / "speech_de.mp3"), "translate", "", ""],
]
SPOKEN = [("detect automatically", ""), ("English", "en"), ("Spanish", "es"), ("German", "de"), ("French", "fr"),
          ("Italian", "it"), ("Portuguese", "pt"), ("Dutch", "nl"), ("Russian", "ru"), ("Chinese", "zh"),
          ("Japanese", "ja"), ("Arabic", "ar"), ("Hindi", "hi")]
TARGETS = [("no text translation", ""), ("English", "en"), ("French", "fr"), ("German", "de"), ("Spanish", "es"),
           ("Italian", "it"), ("Portuguese", "pt"), ("Chinese", "zh"), ("Japanese", "ja"), ("Arabic", "ar")]



def _summary(t: speech.Transcript, notes: list[str], scores: dict | None) -> str:
    what = "Speech translated to English" if t.task == "translate" else "Transcribed"
    if t.segments:
        head = (f"**{what}** · spoken language **{t.language}** (probability {t.language_probability:.2f}) · "
                f"{t.duration:.1f} s of audio · {len(t.segments)} segments · engine {t.engine}"
                + (f" · model `{t.model}`" if t.model else ""))
    else:  # the pipeline's note says why: silent, no speech for the voice detector, or none for Whisper
        found = next((n for n in notes if n.startswith(speech.NO_SPEECH)), f"{speech.NO_SPEECH}.")
        notes = [n for n in notes if n != found]
        head = (f"**{speech.NO_SPEECH}**{found[len(speech.NO_SPEECH):]} If the audio holds speech, choose the "
                "spoken language (detection may have failed) or raise the beam size in Advanced.")
    lines = [head]
    if scores:
        wer, cer = f"WER {scores['wer']:.1%}", f"CER {scores['cer']:.1%}"
        first, second = (cer, wer) if scores["headline"] == "cer" else (wer, cer)
        lines.append(f"**Against your reference:** **{first}** (headline) · {second} · texts normalized with "
                     f"Whisper's {'English' if scores['normalizer'] == 'whisper-english' else 'basic'} normalizer")
    if t.decoding:
        lines.append(f"Decoding: beam {t.decoding['beam_size']} · {t.decoding['mode']}"
                     + (f" (batch {t.decoding['batch_size']})" if t.decoding["batch_size"] > 1 else "")
                     + (f" · {t.decoding['precision']}" if t.decoding.get("precision") else ""))
    lines += [f"*{note}*" for note in notes]
    return "\n\n".join(lines)


@gpu
@user_errors
def run(audio=None, task=None, language=None, translate_to=None, reference="", beam_size=None, batch_size=None,
        video=None, progress=gr.Progress()):
    """Defaults on every parameter (None: the setting's declared default): an API call needs only the audio (or
    ``video``, a video file whose sound to use)."""
    source = audio or video
    if not source:
        raise BadInput("Upload an audio or video file, or record from the microphone, first.")
    stream = worker_stream(lambda report, emit, stop: speech.process(
        source, task=task, language=language, translate_to=translate_to, reference=reference, beam_size=beam_size,
        batch_size=batch_size, progress=report,
        on_segment=lambda segment: emit(segment.text), stop=stop), progress)
    heard: list[str] = []
    while True:  # each segment's text as it is decoded; then the whole transcript
        try:
            heard.append(next(stream))
        except StopIteration as finished:
            transcript = finished.value
            break
        yield " ".join(heard), gr.skip(), gr.skip(), gr.skip(), gr.skip()
    shown = transcript.shown
    folder = outputs.request_dir("speech-")
    stem = Path(source).stem or "transcript"
    files = subtitles.write_all(shown, folder, stem)
    if shown is not transcript:  # keep the original-language transcript too
        files["original json"] = subtitles.write_all(transcript, folder / "original", stem)["json"]
    rows = [[round(s.start, 2), round(s.end, 2), s.text] for s in shown.segments]
    yield (shown.text, _summary(transcript, transcript.notes, transcript.score), rows,
           [str(p) for p in files.values()], transcript.to_dict())


def build() -> None:
    gr.Markdown(
        "Whisper transcribes speech with timestamps (language detected automatically, or chosen), or translates "
        "it to English. Silence is skipped with voice activity detection; repetition loops are caught by "
        "temperature fallback. Download subtitles as SRT, VTT, TXT or JSON. Offline, the app uses the "
        "whisper-base pack (faster-whisper, float32 on CPU)."
    )
    notice = gr.Markdown()
    with gr.Row():
        with gr.Column(scale=2):
            audio = gr.Audio(sources=["upload", "microphone"], type="filepath",
                             label="Audio (wav, mp3, flac, ogg, m4a, webm) or the microphone")
            video = gr.File(label="... or a video (mp4, mkv, mov, webm, avi): its audio track is used",
                            file_types=["video", ".mkv", ".avi"], type="filepath", height=130)
            with gr.Row():
                task = control(speech.Options, "task")
                language = control(speech.Options, "language", choices=SPOKEN)
            translate_to = control(speech.Options, "translate_to", choices=TARGETS, allow_custom_value=False)
            reference = gr.Textbox("", label="Reference transcript (optional): shows WER / CER", lines=2,
                                   info="both texts normalized with Whisper's normalizers; CER is the headline "
                                        "for languages written without spaces")
            with gr.Accordion("Advanced", open=False):
                beam_size = control(speech.Options, "beam_size")
                batch_size = control(speech.Options, "batch_size")
            with gr.Row():
                go = gr.Button("Transcribe", variant="primary", scale=3)
                stop = gr.Button("Stop", variant="stop", scale=1)
        with gr.Column(scale=3):
            text = gr.Textbox(label="Transcript", lines=6, buttons=["copy"])
            summary = gr.Markdown(label="Summary")
            table = gr.Dataframe(headers=["start (s)", "end (s)", "text"], datatype=["number", "number", "str"],
                                 label="Segments", wrap=True, interactive=False)
            files = gr.File(label="Downloads: SRT, VTT, TXT, JSON", file_count="multiple")
            with gr.Accordion("JSON", open=False):
                raw = gr.JSON(label="JSON")
    gr.Examples(EXAMPLES, inputs=[audio, task, language, reference], cache_examples=False)
    event = run_event(go.click, run, [audio, task, language, translate_to, reference, beam_size, batch_size, video],
                      [text, summary, table, files, raw], summary, api_name="transcribe", concurrency_limit=1,
                      concurrency_id=speech.SLOT)
    # Stop frees the slot at once (the next queued request starts); the decoder ends after its current segment
    stop_button(stop, event, summary, "The transcript above is what was decoded so far.")
    gate_features(notice, {"text translation to other languages": ("translator", [translate_to])})
    compare_panel("speech", [audio, video, language, reference], _compared,
                  "greedy:beam_size=1\nbeam 5:beam_size=5", speech.SLOT)
    flag_panel("speech", [audio, video, task, language, beam_size], raw, _flagged)


def _compared(audio, video, language, reference):
    if not (audio or video):
        raise BadInput("Upload an audio or video file, or record from the microphone, first.")
    return {"path": audio or video, "reference": reference or None, "language": language or None}


def _flagged(audio, video, task, language, beam_size, result):
    # the settings the flagged result was made with (its record), the detected language when none was chosen
    settings = dict(result.get("settings") or {"task": task, "language": language, "beam_size": beam_size})
    settings["language"] = settings.get("language") or result.get("language", "")
    return dict(files={"path": audio or video}, answer=result.get("text", ""), settings=settings)
