"""An editor's timeline is never written over: an output folder that is the timeline's own is
refused before any work, unless the timeline is one v2a wrote (a re-run adds takes in place)."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
from pathlib import Path

import opentimelineio as otio
import pytest
from generator_doubles import SineGenerator

from otio_adapters.read import read_timeline
from otio_adapters.takes import find_v2a_tracks
from v2a.contracts import GenerationRequest
from v2a.pipeline import PipelineError, run_generation

SAMPLES = Path(__file__).resolve().parents[2] / "samples"


@pytest.fixture
def project(tmp_path) -> Path:
    folder = tmp_path / "project"
    shutil.copytree(SAMPLES / "media", folder / "media")
    shutil.copy(SAMPLES / "sample.otio", folder / "sample.otio")
    return folder


def _md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("output_format", ["", "fcp_xml", "cmx_3600"])
def test_writing_into_the_timelines_own_folder_is_refused_naming_both(project, output_format):
    """Another format clashes too: where it cannot carry the result (always for an EDL, or when
    its adapter fails), the full result is written as sample.otio beside it."""
    source = project / "sample.otio"
    before = _md5(source)
    request = GenerationRequest(str(source), str(project), output_format=output_format)
    with pytest.raises(PipelineError) as refused:
        run_generation(request, SineGenerator())
    message = str(refused.value)
    assert f"source timeline {source}" in message and f" {source} is the same file" in message
    assert _md5(source) == before
    assert sorted(os.listdir(project)) == ["media", "sample.otio"]  # no work was done


def test_the_same_folder_through_a_link_is_refused_too(project, tmp_path):
    (tmp_path / "link").symlink_to(project)
    request = GenerationRequest(str(project / "sample.otio"), str(tmp_path / "link"))
    with pytest.raises(PipelineError, match="will not overwrite the source timeline"):
        run_generation(request, SineGenerator())


def test_a_folder_inside_the_project_is_fine_and_the_source_unchanged(project):
    source = project / "sample.otio"
    before = _md5(source)
    result = run_generation(GenerationRequest(str(source), str(project / "v2a")), SineGenerator())
    assert result.timeline_path == str(project / "v2a" / "sample.otio")
    assert _md5(source) == before


def test_v2a_output_is_updated_in_place_by_a_re_run(project, tmp_path):
    out = tmp_path / "out"
    first = run_generation(
        GenerationRequest(str(project / "sample.otio"), str(out)), SineGenerator()
    )
    again = run_generation(GenerationRequest(first.timeline_path, str(out)), SineGenerator())
    assert again.timeline_path == first.timeline_path
    assert all(audio.path.endswith("_take2.wav") for audio in again.generated)


def test_a_result_whose_track_of_takes_is_not_v2a_s_is_refused_saying_why(project):
    """A track of v2a's takes that v2a did not name or mark (the editor renamed it; FCP7 XML and
    CMX 3600 results written before v2a marked its tracks) is the editor's: the output in its
    own folder is their timeline, refused, and the message says which track and why."""
    result = run_generation(GenerationRequest(str(project / "sample.otio"), str(project / "v2a")),
                            SineGenerator())
    written = Path(result.timeline_path)
    timeline = otio.adapters.read_from_file(str(written))
    (ours,) = [track for track in timeline.audio_tracks() if "v2a" in track.metadata]
    del ours.metadata["v2a"]
    ours.name = "my foley"
    otio.adapters.write_to_file(timeline, str(written))
    before = _md5(written)
    with pytest.raises(PipelineError) as refused:
        run_generation(GenerationRequest(str(written), str(project / "v2a")), SineGenerator())
    assert "will not overwrite the source timeline" in str(refused.value)
    assert "audio track 'my foley' holds v2a's takes but is not named as v2a" in str(refused.value)
    assert _md5(written) == before


@pytest.mark.parametrize(("output_format", "mark"), [
    ("fcp_xml", re.compile(r' MZ\.TrackName="V2A SFX"')),
    ("cmx_3600", re.compile(r"^\* V2A TRACK: SFX\r?\n", re.MULTILINE)),
])
def test_a_result_written_before_v2a_marked_its_track_is_re_run_in_its_own_folder(
    project, output_format, mark
):
    """FCP7 XML and CMX 3600 results written before v2a marked its track there carry no mark
    at all: their track of takes is v2a's as it was then, so a re-run into their own folder
    adds takes in place, as on any result of v2a's (it was refused as the editor's timeline)."""
    out = project / "v2a"
    first = run_generation(
        GenerationRequest(str(project / "sample.otio"), str(out), output_format=output_format),
        SineGenerator(),
    )
    written = Path(first.timeline_path)
    written.write_text(mark.sub("", written.read_text(encoding="utf-8")), encoding="utf-8")
    assert not mark.search(written.read_text(encoding="utf-8"))

    again = run_generation(GenerationRequest(str(written), str(out)), SineGenerator())
    assert again.timeline_path == str(written)
    timeline = read_timeline(written)
    (ours,) = find_v2a_tracks(timeline, "SFX")
    assert [track for track in timeline.audio_tracks() if track.find_clips()] == [ours]
    assert mark.search(written.read_text(encoding="utf-8"))  # marked from now on


@pytest.mark.parametrize("output_format", ["", "fcp_xml"])
def test_an_editors_file_of_the_same_name_in_the_output_folder_is_not_written_over(
    project, tmp_path, output_format
):
    """Another timeline named like the output (another project's cut, exported into the folder)
    was replaced without a word: it holds no v2a track, so it is not v2a's result."""
    out = tmp_path / "out"
    out.mkdir()
    theirs = read_timeline(str(project / "sample.otio"))
    theirs.name = "their other cut"
    name = "sample.xml" if output_format else "sample.otio"
    otio.adapters.write_to_file(theirs, str(out / name),
                                adapter_name=output_format or "otio_json")
    before = _md5(out / name)
    request = GenerationRequest(str(project / "sample.otio"), str(out),
                                output_format=output_format)
    with pytest.raises(PipelineError) as refused:
        run_generation(request, SineGenerator())
    assert str(refused.value).startswith(
        f"will not overwrite {out / name}: it holds no track of v2a's, so it is not a result v2a "
        "wrote"), refused.value
    assert _md5(out / name) == before and sorted(os.listdir(out)) == [name]  # no work done

    # v2a's own result there is what a re-run of the editor's timeline adds to.
    (out / name).unlink()
    run_generation(request, SineGenerator())
    run_generation(request, SineGenerator())
    assert find_v2a_tracks(read_timeline(str(out / name)), "SFX")
