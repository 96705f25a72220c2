"""Search: indexing images, a narrated video and a speech clip; text and image queries; re-indexing; refusals."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest
from PIL import Image

from mmdemo.errors import BadInput
from mmdemo.pipelines import search
from tests.conftest import requires_pack

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.app  # starts the whole app: deselect with -m "not app" for the quick tier

offline_packs = [requires_pack("efficientnet-lite0"), requires_pack("minilm")]


def _photos(folder: Path, names=("chelsea", "coffee", "rocket")) -> Path:
    import skimage.data

    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        Image.fromarray(getattr(skimage.data, name)()).convert("RGB").save(folder / f"{name}.jpg")
    return folder


@pytest.fixture(scope="module")
def photo_index(tmp_path_factory):
    """Three real photos, a damaged image and a text file, indexed offline once for the module."""
    root = tmp_path_factory.mktemp("search")
    photos = _photos(root / "photos")
    (photos / "broken.png").write_bytes(b"\x89PNG not really")
    (photos / "notes.txt").write_text("not media")
    report = search.build_index([photos], root / "index", space="offline")
    return root, photos, report


def _cli(*argv) -> tuple[int, str, str]:
    from mmdemo.cli import main

    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


@offline_packs[0]
@offline_packs[1]
def test_offline_index_text_and_image_queries(photo_index):
    root, photos, report = photo_index
    assert report.space.name == "offline"
    assert sorted(Path(a["path"]).name for a in report.added) == ["chelsea.jpg", "coffee.jpg", "rocket.jpg"]
    reasons = {Path(p).name: r for p, r in report.skipped}
    assert set(reasons) == {"broken.png", "notes.txt"}
    assert "not an image file" in reasons["broken.png"] and ".txt" in reasons["notes.txt"]
    meta = json.loads((root / "index" / "meta.json").read_text())
    assert meta["version"] == 1 and meta["space"]["name"] == "offline" and meta["dims"] == {"visual": 384, "speech": 384}

    found = search.query("a cat", root / "index", top=3).to_dict()
    assert found["space"] == "offline" and "offline" in found["method"]
    assert [Path(r["path"]).name for r in found["results"]][0] == "chelsea.jpg"
    assert found["results"][0]["score"] > found["results"][1]["score"]
    cup = search.query("a cup of coffee", root / "index", top=1).to_dict()["results"]
    assert Path(cup[0]["path"]).name == "coffee.jpg"

    by_image = search.query(photos / "rocket.jpg", root / "index", top=3).to_dict()
    assert by_image["query_kind"] == "image"
    first = by_image["results"][0]
    assert Path(first["path"]).name == "rocket.jpg" and first["score"] == pytest.approx(1.0, abs=1e-3)
    assert first["kind"] == "image" and "start" not in first and "text" not in first


@offline_packs[0]
@offline_packs[1]
def test_reindex_skips_unchanged_and_replaces_changed(photo_index, tmp_path):
    root, photos, _ = photo_index
    index = tmp_path / "index"
    shutil.copytree(root / "index", index)
    again = search.build_index([photos], index)
    assert len(again.unchanged) == 3 and not again.added and again.counts["visual"] == 3
    # a changed file replaces its vectors: the same path, first the cup, then the cat photo
    extra = tmp_path / "extra" / "picture.jpg"
    extra.parent.mkdir()
    shutil.copy(photos / "coffee.jpg", extra)
    assert search.build_index([extra], index).counts["visual"] == 4
    shutil.copy(photos / "chelsea.jpg", extra)
    report = search.build_index([extra.parent], index)
    assert [a["path"] for a in report.added] == [str(extra.resolve())] and report.counts["visual"] == 4
    cats = search.query("a cat", index, top=2).to_dict()["results"]
    assert sorted(Path(r["path"]).name for r in cats) == ["chelsea.jpg", "picture.jpg"]
    assert cats[0]["score"] == pytest.approx(cats[1]["score"], abs=1e-4)


@offline_packs[0]
@offline_packs[1]
def test_cli_json_shape_and_errors(photo_index, tmp_path):
    root, photos, _ = photo_index
    code, out, err = _cli("search", "query", "a cat", "--index", str(root / "index"), "--top", "2", "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert set(doc) >= {"space", "results"} and len(doc["results"]) == 2
    assert set(doc["results"][0]) >= {"path", "kind", "score"} and doc["results"][0]["kind"] == "image"
    code, out, err = _cli("search", "query", "a cat", "--index", str(tmp_path / "none"))
    assert code == 2 and err.startswith("error: No search index") and out == ""
    # an example image: positional, or --image (which once printed the top-level usage)
    index, cat = str(root / "index"), str(photos / "chelsea.jpg")
    by_position = json.loads(_cli("search", "query", cat, "--index", index, "--top", "2", "--json")[1])
    code, out, err = _cli("search", "query", "--image", cat, "--index", index, "--top", "2", "--json")
    assert code == 0, err
    assert json.loads(out)["query_kind"] == "image" and json.loads(out)["results"] == by_position["results"]
    code, out, err = _cli("search", "query", "--image", str(tmp_path / "missing.jpg"), "--index", index)
    assert code == 2 and err.startswith("error:") and "file not found" in err and err.count("\n") == 1
    code, out, err = _cli("search", "query", "--index", index)
    assert code == 2 and err.startswith("error: search query takes one query") and err.count("\n") == 1
    code, out, err = _cli("search", "--json", "index", str(photos / "notes.txt"), "--index", str(tmp_path / "ix"))
    assert code == 0, err
    assert json.loads(out)["skipped"][0]["reason"].startswith("not an image, video or audio file type")


@offline_packs[0]
@offline_packs[1]
def test_other_version_and_bad_queries_are_one_message(photo_index, tmp_path):
    root, photos, _ = photo_index
    index = tmp_path / "index"
    shutil.copytree(root / "index", index)
    with pytest.raises(BadInput, match="empty"):
        search.query("   ", index)
    with pytest.raises(BadInput, match="1 to 200"):
        search.query("a cat", index, top=0)
    with pytest.raises(BadInput, match="file not found"):
        search.query(tmp_path / "missing.jpg", index)
    meta = json.loads((index / "meta.json").read_text())
    (index / "meta.json").write_text(json.dumps({**meta, "version": 99}))
    for call in (lambda: search.query("a cat", index), lambda: search.build_index([photos], index)):
        with pytest.raises(BadInput, match="format version 99, this mmdemo reads version 1"):
            call()
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "thesis.tex").write_text("x")
    with pytest.raises(BadInput, match="not a search index folder"):
        search.build_index([photos], tmp_path / "busy")


@offline_packs[0]
@offline_packs[1]
def test_tab_indexes_uploads_into_a_new_folder(photo_index, tmp_path):
    from demos import search as tab

    root, photos, _ = photo_index
    status, skipped, report = tab.index_files([str(photos / "chelsea.jpg"), str(photos / "broken.png")], "",
                                              str(tmp_path / "new"), progress=lambda *a, **k: None)
    assert status.startswith("**1 added, 0 unchanged, 1 skipped**") and skipped[0][0] == "broken.png"
    assert report["added"][0]["file"] == "chelsea.jpg"  # an upload is named by its name, not its copy's path
    [kept] = (tmp_path / "new" / "files").glob("*/chelsea.jpg")  # the copy that outlives the upload
    assert kept.read_bytes() == (photos / "chelsea.jpg").read_bytes()


@requires_pack("minilm")
def test_tiny_clip_space_and_mixing_refused(tiny_models, use_backend, tmp_path):
    """With CLIP weights images are CLIP vectors (a tiny random CLIP here: wiring, not quality); an index built
    in the CLIP space refuses offline vectors, and a query by an indexed image finds it first."""
    use_backend("clip", tiny_models.get("clip"))
    photos = _photos(tmp_path / "photos", ("chelsea", "rocket"))
    report = search.build_index([photos], tmp_path / "index")
    assert report.space.name == "clip" and report.counts["visual"] == 2
    meta = json.loads((tmp_path / "index" / "meta.json").read_text())
    assert meta["space"]["visual"].startswith("clip folder:") and meta["dims"]["visual"] == 32
    first = search.query(photos / "chelsea.jpg", tmp_path / "index", top=2).to_dict()["results"][0]
    assert Path(first["path"]).name == "chelsea.jpg" and first["score"] == pytest.approx(1.0, abs=1e-3)
    text = search.query("a cat", tmp_path / "index", top=2).to_dict()
    assert text["space"] == "clip" and len(text["results"]) == 2
    with pytest.raises(BadInput, match="one index holds one space"):
        search.build_index([photos], tmp_path / "index", space="offline")


def test_merge_ranks_tables_by_cosine_only_within_one_space():
    from mmdemo.pipelines.search.index import Hit, Item

    visual = [Hit(Item("a.jpg", "image"), "visual", 0.3), Hit(Item("b.jpg", "image"), "visual", 0.25)]
    speech = [Hit(Item("c.wav", "audio", 1.0, 2.0, "hello"), "speech", 0.7)]
    assert [h.item.path for h in search.merge(visual, speech, comparable=True)] == ["c.wav", "a.jpg", "b.jpg"]
    # CLIP and MiniLM cosines are on different scales: interleave by rank, best of each first
    assert [h.item.path for h in search.merge(visual, speech, comparable=False)] == ["c.wav", "a.jpg", "b.jpg"]
    speech[0].score = 0.1
    assert [h.item.path for h in search.merge(visual, speech, comparable=False)] == ["a.jpg", "c.wav", "b.jpg"]


@requires_pack("whisper-base")
@offline_packs[0]
@offline_packs[1]
def test_video_shots_and_speech_segments_have_their_times(tmp_path):
    """A narrated two-shot video and a speech clip: keyframes carry their shot's times, speech its segment's."""
    from mmdemo.testing.speech_clips import espeak
    from mmdemo.testing.videos import Narration, Scene, make_video, photos

    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng not installed (.ci/run installs it)")
    media = tmp_path / "media"
    media.mkdir()
    cat = photos()[1]
    make_video(media / "clip.mp4", [Scene(2.0, photo=cat), Scene(2.0, (200, 40, 40))],
               narration=[Narration(0.2, "An astronaut stands in front of a flag.")])
    espeak(media / "talk.wav", "The rocket launch is tomorrow.", "en-us")
    report = search.build_index([media], tmp_path / "index", space="offline")
    assert not report.skipped, report.skipped
    kinds = {Path(a["path"]).name: a for a in report.added}
    assert kinds["clip.mp4"]["kind"] == "video" and kinds["talk.wav"]["kind"] == "audio"

    said = search.query("rocket launch", tmp_path / "index", top=3).to_dict()["results"][0]
    assert Path(said["path"]).name == "talk.wav" and said["kind"] == "audio" and said["match"] == "speech"
    assert "rocket" in said["text"].lower() and 0.0 <= said["start"] < said["end"] <= 3.5

    results = search.query("a cat", tmp_path / "index", top=10).to_dict()["results"]
    shots = sorted((r for r in results if r["kind"] == "video" and r["match"] == "visual"), key=lambda r: r["start"])
    assert [(s["start"], s["end"]) for s in shots] == [(0.0, pytest.approx(2.0, abs=0.1)),
                                                        (pytest.approx(2.0, abs=0.1), pytest.approx(4.0, abs=0.1))]
    assert all(Path(s["thumbnail"]).is_file() for s in shots)
    cat_shot = next(r for r in results if r["kind"] == "video")
    assert cat_shot["start"] == 0.0  # the cat photo's shot ranks above the red one
    spoken = search.query("an astronaut and a flag", tmp_path / "index", top=10).to_dict()["results"]
    spoken = [r for r in spoken if r["kind"] == "video" and r["match"] == "speech"]
    assert spoken and "flag" in spoken[0]["text"].lower() and spoken[0]["start"] < 2.0
    assert Path(spoken[0]["thumbnail"]).is_file()  # the keyframe of the shot it was said in

    # the tab: gallery captions, and a click plays the moment (a clip of the shot, or the audio segment)
    from demos import search as tab

    status, gallery, rows, *_ = tab.run_query("rocket launch", None, 3, str(tmp_path / "index"))
    assert gallery[0][1].startswith(f"{rows[0]['score']:.3f} · audio · ") and "rocket" in gallery[0][1].lower()
    assert Path(gallery[0][0]).is_file()  # the segment's waveform
    video, audio, label = tab.play(rows, _Selected(0))
    assert audio["visible"] and audio["value"][0] == 16000 and not video["visible"]
    video, audio, label = tab.play([shots[1]], _Selected(0))
    import av

    with av.open(video["value"]) as clip:
        assert clip.duration / 1e6 == pytest.approx(shots[1]["end"] - shots[1]["start"], abs=0.3)


class _Selected:
    """What Gradio passes to a gallery's select handler: the clicked item's index."""

    def __init__(self, index: int):
        self.index = index


@pytest.mark.parametrize("exact_below", [0, 20_000])
def test_index_storage_graph_and_exact_search_remove_and_orphans(tmp_path, monkeypatch, exact_below):
    """The storage alone (no models): both search paths find a vector's own item; a removed file's vectors go; a
    crash between the vector save and the metadata commit leaves orphans that the next writer drops."""
    import numpy as np

    from mmdemo.pipelines.search import index as storage

    monkeypatch.setattr(storage, "EXACT_BELOW", exact_below)
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((50, 8)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    space = {"name": "offline", "visual": "test", "text": "test"}
    index = storage.SearchIndex.create_or_open(tmp_path, space, {"visual": 8, "speech": 8})
    for n in range(50):
        item = storage.Item(f"/f{n}.jpg", "image")
        index.add_file(f"/f{n}.jpg", f"h{n}", 1, "image", {"visual": ([item], vectors[n:n + 1])}, [])
    index.remove_file("/f7.jpg")
    index.save()
    index.close()
    reader = storage.SearchIndex.open(tmp_path)
    hits = reader.search("visual", vectors[3], 5)
    assert hits[0].item.path == "/f3.jpg" and hits[0].score == pytest.approx(1.0, abs=1e-5)
    assert all(h.item.path != "/f7.jpg" for h in reader.search("visual", vectors[7], 10))
    assert reader.counts() == {"visual": 49, "speech": 0, "files": 49}
    reader.close()
    # vectors saved, metadata never committed: the orphan is dropped and its key is not handed out again
    writer = storage.SearchIndex.create_or_open(tmp_path, space, {"visual": 8, "speech": 8})
    writer.add_file("/lost.jpg", "h", 1, "image", {"visual": ([storage.Item("/lost.jpg", "image")], vectors[:1])}, [])
    lost_key = max(int(k) for k in writer.vectors["visual"].keys)
    for table, vecs in writer.vectors.items():
        vecs.save(str(tmp_path / f"{table}.usearch"))
    writer.db.rollback()
    writer.close()
    again = storage.SearchIndex.create_or_open(tmp_path, space, {"visual": 8, "speech": 8})
    assert len(again.vectors["visual"]) == 49 and lost_key not in {int(k) for k in again.vectors["visual"].keys}
    again.add_file("/new.jpg", "n", 1, "image", {"visual": ([storage.Item("/new.jpg", "image")], vectors[:1])}, [])
    assert max(int(k) for k in again.vectors["visual"].keys) > lost_key
    again.close()


def test_bench_library_table_runs_small():
    """bench.search's library part on a few hundred vectors: the row is printed and its recall is a fraction."""
    proc = subprocess.run([sys.executable, "-m", "bench.search", "--items", "300", "--dims", "16", "--queries", "5",
                           "--libraries", "usearch", "--skip-throughput"], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert out.count("| 16 | usearch HNSW16 f32") == 2 and "Machine:" in out  # printed as it runs, then in the table
    row = next(line for line in out.splitlines() if line.startswith("| 16 | usearch"))
    assert 0.0 <= float(row.split("|")[6]) <= 1.0


@offline_packs[0]
@offline_packs[1]
def test_tab_shows_copies_the_server_may_serve(photo_index, tmp_path, monkeypatch):
    """Gradio serves only the app's own folders: the gallery's pictures are thumbnails in the request folder, not
    the indexed files (an index in ~/.cache or a folder of photos elsewhere would fail in the browser)."""
    from demos import search as tab
    from mmdemo import outputs

    monkeypatch.setenv("MMDEMO_OUTPUT_DIR", str(tmp_path / "out"))
    root, _, _ = photo_index
    status, gallery, results, *_ = tab.run_query("a cat", None, 3, str(root / "index"))
    assert results and len(gallery) == len(results)
    served = outputs.outputs_dir().resolve()
    for picture, label in gallery:
        assert Path(picture).resolve().is_relative_to(served), picture
    assert "chelsea.jpg" in gallery[0][1]


def test_cli_names_a_file_once_in_its_notes():
    """A damaged file's note already starts with its name ("Megamind.avi: 1 damaged audio packet ...")."""
    from mmdemo.cli import search as command

    note = "Megamind.avi: 1 damaged audio packet was skipped; silence stands in for it so later times stay in place."
    report = {"index": "ix", "added": [{"path": "/data/Megamind.avi", "kind": "video", "items": 4,
                                        "notes": [note, "The audio track was not transcribed: no weights."]}],
              "unchanged": [], "skipped": [], "seconds": 1.0, "method": "offline", "counts": {"files": 1}}
    lines = command.render(report).splitlines()
    assert f"note: /data/Megamind.avi: {note.removeprefix('Megamind.avi: ')}" in lines
    assert "note: /data/Megamind.avi: The audio track was not transcribed: no weights." in lines
