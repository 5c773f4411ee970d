"""Bad input through `v2a generate` and run_generation: a clear line or a per-clip status, never
a traceback, never partial output."""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path

import numpy as np
import opentimelineio as otio
import pytest

from v2a.cli import main
from v2a.contracts import GenerationRequest
from v2a.media.synth import make_test_movie
from v2a.pipeline import PipelineError, run_generation

FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "timelines"
RT = otio.opentime.RationalTime
TR = otio.opentime.TimeRange


class CountingGenerator:
    name = "counting-test-double"
    frame_rate = 2.0
    frame_size = 16

    def __init__(self) -> None:
        self.calls = 0

    def generate(self, frames, fps, num_samples, params, progress=None, cancel=None, kept=None):
        self.calls += 1
        return np.zeros(num_samples, np.float32)

    def provenance(self) -> dict:
        return {"generator": self.name}


def _generate(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(["generate", *argv, "--generator", "silence"])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _damaged(kind: str, folder: Path) -> Path:
    """A truncated or garbled file of each format."""
    sources = {
        "otio": FIXTURES / "otio" / "transition.otio",
        "xml": FIXTURES / "fcp7_xml" / "premiere_example.xml",
        "fcpxml": FIXTURES / "fcpx_xml" / "fcpx_example.fcpxml",
        "aaf": FIXTURES / "aaf" / "simple.aaf",
        "edl": FIXTURES / "cmx3600_edl" / "dissolve_test.edl",
    }
    path = folder / f"damaged.{kind}"
    if kind == "kdenlive":
        path.write_text("<mlt><playlist id='x'><entry producer=")  # truncated XML
    elif kind == "edl":
        path.write_bytes(bytes(range(256)) * 8)  # garbled: binary where text is expected
    else:
        data = sources[kind].read_bytes()
        path.write_bytes(data[: len(data) // 3])  # truncated
    return path


@pytest.mark.skipif(not FIXTURES.is_dir(), reason="../shared/fixtures is absent")
@pytest.mark.parametrize("kind", ["otio", "xml", "fcpxml", "aaf", "edl", "kdenlive"])
def test_a_truncated_or_garbled_timeline_is_one_clear_line(kind, tmp_path, capsys):
    path = _damaged(kind, tmp_path)
    code, out, err = _generate(capsys, str(path), "--out", str(tmp_path / "out"))
    assert code == 2
    assert "Traceback" not in err and err.count("\n") == 1
    assert err.startswith("v2a generate: error: ") and str(path) in err
    assert not (tmp_path / "out").exists()  # nothing written, not even the folder


def test_generate_says_a_missing_file_or_a_folder_as_inspect_does(tmp_path, capsys):
    """`v2a inspect project/` said "a folder, not a timeline file", but `v2a generate project/`
    still said "unknown timeline format '(no extension)'": it named its output file first."""
    project = tmp_path / "project"
    project.mkdir()
    for given, said in ((project, f"{project}: a folder, not a timeline file"),
                        (tmp_path / "cut", f"{tmp_path / 'cut'}: file not found")):
        code, _, err = _generate(capsys, str(given), "--out", str(tmp_path / "out"))
        assert code == 2 and err == f"v2a generate: error: {said}\n", err
    assert not (tmp_path / "out").exists()


def test_a_timeline_with_no_video_is_a_clear_error(tmp_path, capsys):
    timeline = otio.schema.Timeline(name="sound only")
    audio = otio.schema.Track(name="A1", kind=otio.schema.TrackKind.Audio)
    audio.append(otio.schema.Clip(name="music", source_range=TR(RT(0, 24), RT(48, 24))))
    timeline.tracks.append(audio)
    path = tmp_path / "sound.otio"
    otio.adapters.write_to_file(timeline, str(path))
    code, _, err = _generate(capsys, str(path), "--out", str(tmp_path / "out"))
    assert code == 2 and "no video" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_an_unwritable_output_folder_fails_before_any_work(tmp_path, capsys):
    movie = make_test_movie(str(tmp_path / "a.mp4"), frames=24, rate=Fraction(24), size=(32, 32))
    path = _edit(tmp_path, [("a", movie, 0, 12)])
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    generator = CountingGenerator()
    request = GenerationRequest(timeline_path=str(path), out_dir=str(blocker / "out"))
    with pytest.raises(PipelineError, match="not a folder"):
        run_generation(request, generator)
    assert generator.calls == 0
    code, _, err = _generate(capsys, str(path), "--out", str(blocker / "out"))
    assert code == 2 and "cannot use output folder" in err and "Traceback" not in err


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes to read-only folders")
def test_a_read_only_output_folder_fails_before_any_work(tmp_path):
    movie = make_test_movie(str(tmp_path / "a.mp4"), frames=24, rate=Fraction(24), size=(32, 32))
    path = _edit(tmp_path, [("a", movie, 0, 12)])
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    with pytest.raises(PipelineError, match="not writable"):
        run_generation(GenerationRequest(str(path), str(locked / "out")), CountingGenerator())


@pytest.mark.parametrize("blocker", ["file", "dangling link"])
def test_an_audio_folder_that_is_not_a_folder_fails_before_the_model_loads(
        blocker, tmp_path, capsys, monkeypatch):
    """OUT/audio a file (or a link to nothing) said "cannot use output folder OUT: File exists",
    once the model had loaded: nothing told which file was in the way."""
    import model.generators

    movie = make_test_movie(str(tmp_path / "a.mp4"), frames=24, rate=Fraction(24), size=(32, 32))
    path = _edit(tmp_path, [("a", movie, 0, 12)])
    out = tmp_path / "out"
    out.mkdir()
    if blocker == "file":
        (out / "audio").write_text("the editor's notes")
    else:
        (out / "audio").symlink_to(tmp_path / "nowhere")
    loaded = []
    monkeypatch.setattr(model.generators, "load_generator", lambda spec: loaded.append(spec))
    code, _, err = _generate(capsys, str(path), "--out", str(out))
    assert code == 2 and loaded == [], err
    assert err == (f"v2a generate: error: cannot use output folder {out}: {out / 'audio'}, where "
                   "the takes go, is not a folder\n")
    assert sorted(p.name for p in out.iterdir()) == ["audio"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes to read-only folders")
def test_a_read_only_audio_folder_fails_before_any_work(tmp_path):
    """A read-only OUT/audio said "[Errno 13] Permission denied: OUT/audio/<id>_take1.wav", once
    the model had loaded."""
    movie = make_test_movie(str(tmp_path / "a.mp4"), frames=24, rate=Fraction(24), size=(32, 32))
    path = _edit(tmp_path, [("a", movie, 0, 12)])
    (tmp_path / "out" / "audio").mkdir(parents=True, mode=0o500)
    generator = CountingGenerator()
    with pytest.raises(PipelineError, match="audio, where the takes go, is not writable"):
        run_generation(GenerationRequest(str(path), str(tmp_path / "out")), generator)
    assert generator.calls == 0


def _edit(folder: Path, clips: list[tuple[str, str, int, int]]) -> Path:
    """A one-track OTIO edit of (name, media path, source start frame, frames) at 24 fps."""
    video = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    for name, media, start, frames in clips:
        video.append(
            otio.schema.Clip(
                name=name,
                source_range=TR(RT(start, 24), RT(frames, 24)),
                media_reference=otio.schema.ExternalReference(target_url=media),
            )
        )
    timeline = otio.schema.Timeline(name="edit")
    timeline.tracks.append(video)
    path = folder / "edit.otio"
    otio.adapters.write_to_file(timeline, str(path))
    return path


def test_bad_media_is_reported_per_clip_and_the_rest_is_generated(tmp_path, capsys):
    good = make_test_movie(str(tmp_path / "good.mp4"), frames=48, rate=Fraction(24), size=(32, 32))
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    garbage = tmp_path / "garbage.mov"
    garbage.write_bytes(os.urandom(4096))
    path = _edit(
        tmp_path,
        [
            ("fine", good, 0, 24),
            ("past-the-end", good, 36, 24),  # frames 36..59 of a 48-frame movie
            ("zero-length", str(empty), 0, 12),
            ("unreadable", str(garbage), 0, 12),
        ],
    )
    code, out, err = _generate(capsys, str(path), "--out", str(tmp_path / "out"))
    assert code == 0 and "Traceback" not in err
    assert "generated 1 clip(s)" in out
    lines = {line.split(" [")[0].strip(): line for line in out.splitlines() if " [" in line}
    assert set(lines) == {"past-the-end", "zero-length", "unreadable"}
    assert "good.mp4" in lines["past-the-end"]
    assert "empty.mp4" in lines["zero-length"]
    assert "garbage.mov" in lines["unreadable"]
    assert len(os.listdir(tmp_path / "out" / "audio")) == 1
    timeline = otio.adapters.read_from_file(str(tmp_path / "out" / "edit.otio"))
    assert len(timeline.tracks[-1].find_clips()) == 1


def test_an_unknown_generator_is_one_clear_line(tmp_path, capsys):
    movie = make_test_movie(str(tmp_path / "a.mp4"), frames=24, rate=Fraction(24), size=(32, 32))
    path = _edit(tmp_path, [("a", movie, 0, 12)])
    code = main(["generate", str(path), "--out", str(tmp_path / "out"), "--generator", "nope"])
    err = capsys.readouterr().err
    assert code == 2 and "cannot load generator 'nope'" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_an_unknown_output_format_fails_before_any_work(tmp_path, capsys):
    # A typo once generated every clip, then wrote an .otio "instead" with the adapter's traceback
    # text as the reason, as if the format could not carry the result.
    movie = make_test_movie(str(tmp_path / "a.mp4"), frames=24, rate=Fraction(24), size=(32, 32))
    path = _edit(tmp_path, [("a", movie, 0, 12)])
    generator = CountingGenerator()
    request = GenerationRequest(str(path), str(tmp_path / "out"), output_format="fcpxml")
    with pytest.raises(PipelineError, match="unknown output format 'fcpxml'"):
        run_generation(request, generator)
    assert generator.calls == 0
    code, _, err = _generate(capsys, str(path), "--out", str(tmp_path / "out"),
                             "--output-format", "fcpx")  # `fcpxml`, an extension, is understood
    assert code == 2 and "fcpx_xml" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_a_copy_cut_short_is_reported_by_inspect_not_discovered_by_generate(tmp_path, capsys):
    whole = make_test_movie(
        str(tmp_path / "whole.mov"), frames=48, rate=Fraction(24), size=(32, 32), fast_start=True
    )
    data = Path(whole).read_bytes()
    copy = tmp_path / "copy.mov"
    copy.write_bytes(data[: len(data) // 2])  # a copy that stopped halfway
    path = _edit(tmp_path, [("fine", whole, 0, 24), ("unfinished", str(copy), 24, 24)])
    assert main(["inspect", str(path)]) == 0
    out = capsys.readouterr().out
    assert f"INVALID: {copy}: the file is cut short" in out  # it said "ok" before
    code, out, err = _generate(capsys, str(path), "--out", str(tmp_path / "out"))
    assert code == 0 and "generated 1 clip(s)" in out and "failed 1 clip(s)" in out
    (line,) = [line for line in out.splitlines() if line.strip().startswith("unfinished [")]
    # It failed at decoding with "time 1.000 s is past the end of the media (duration 0.xxx s)".
    assert "clip 'unfinished'" in line and f"{copy}: the file is cut short" in line


@pytest.mark.skipif(not FIXTURES.is_dir(), reason="../shared/fixtures is absent")
def test_a_timeline_of_generators_alone_says_so(tmp_path, capsys):
    """`generator_reference_test.otio` holds one clip, enabled and on screen: SMPTE bars, a
    generator, which v2a makes no sound for (a title shows what lies beneath). The error said
    "no visible, enabled video clip", which the editor, looking at that clip, could not square."""
    path = FIXTURES / "otio" / "generator_reference_test.otio"
    code, _, err = _generate(capsys, str(path), "--out", str(tmp_path / "out"))
    assert code == 2 and "Traceback" not in err
    assert "generators (titles, bars), which have no media to make sound for: 'C' (V1)" in err
    assert not (tmp_path / "out").exists()
