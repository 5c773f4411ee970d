"""An `.otio` v2a wrote from an editor's file (FCP7 XML, CMX 3600, AAF, FCPXML, Kdenlive) and
written back to that format goes into the editor's own file only while its editor's tracks are
still the file's. Edited since (a clip trimmed, moved, renamed, deleted, added), it holds an edit
the file does not: v2a's track, laid against that edit, went into the unchanged file and the edit
was silently dropped. Then the adapter writes the edit instead, and the note says why. Real
editors' files, the real pipeline and adapters, the written files read back."""

from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import aaf2
import opentimelineio as otio
import pytest
from generator_doubles import SineGenerator

from otio_adapters.read import read_timeline
from otio_adapters.source_files import EDITOR_TRACKS, editor_tracks_edited
from otio_adapters.standin_media import synthesize_media
from v2a.contracts import GenerationRequest
from v2a.pipeline import run_generation

HERE = Path(__file__).resolve().parent
SHARED = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "timelines"
needs_shared = pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/fixtures is absent")
EDITED = "the editor's tracks in this timeline were edited since v2a read them from"


def _aaf_mob_ids(path: Path) -> set[str]:
    with aaf2.open(str(path), "r") as aaf:
        return {str(mob.mob_id) for mob in aaf.content.mobs}


def _fcp7_audio_tracks(path: Path) -> int:
    return len(ET.parse(path).getroot().findall("sequence/media/audio/track"))


#: Whether `written` is the editor's file `editor` with v2a's track added, by what each format's
#: adapter would not keep of it (docs/timeline_writing.md, "Formats").
KEPT = {
    # Premiere's sequence at the document's top, its 8 audio tracks; the adapter writes its own
    # document, the sequence inside a <project>.
    "fcp_xml": lambda editor, written: _fcp7_audio_tracks(written) == _fcp7_audio_tracks(editor) + 1,
    "cmx_3600": lambda editor, written: written.read_bytes().startswith(editor.read_bytes()),
    # The editor's file mobs (how Avid finds the media); the adapter makes new ones.
    "AAF": lambda editor, written: _aaf_mob_ids(editor) <= _aaf_mob_ids(written),
    # The library and event; the adapter writes the project alone.
    "fcpx_xml": lambda editor, written: "<library" in written.read_text(encoding="utf-8"),
    # A title; the adapter writes a placeholder.
    "kdenlive": lambda editor, written: "kdenlivetitle" in written.read_text(encoding="utf-8"),
}

FORMATS = [
    pytest.param("fcp_xml", SHARED / "fcp7_xml" / "premiere_example.xml", marks=needs_shared),
    pytest.param("cmx_3600", SHARED / "cmx3600_edl" / "dissolve_test.edl", marks=needs_shared),
    pytest.param("AAF", SHARED / "aaf" / "one_clip.aaf", marks=needs_shared),
    pytest.param("fcpx_xml", HERE / "fcpx" / "editor_library.fcpxml"),
    pytest.param("kdenlive", HERE / "kdenlive" / "edit.kdenlive"),
]


def _generate(timeline: Path, out: Path, media: Path, output_format: str):
    request = GenerationRequest(str(timeline), str(out), output_format=output_format,
                                relink_roots=(str(media),))
    return run_generation(request, SineGenerator())


def _otio_of(source: Path, tmp_path: Path) -> tuple[Path, Path, Path]:
    """(the editor's file, the .otio v2a wrote from it, the media): a copy of `source` in a
    project folder, generated into `v2a/` as OTIO JSON."""
    editor = tmp_path / "project" / source.name
    editor.parent.mkdir()
    shutil.copyfile(source, editor)
    media = tmp_path / "media"
    synthesize_media(read_timeline(editor), str(media))
    result = _generate(editor, tmp_path / "v2a", media, "otio_json")
    assert result.generated
    return editor, Path(result.timeline_path), media


def _first_clip(timeline: otio.schema.Timeline) -> otio.schema.Clip:
    return next(iter(timeline.video_tracks()[0].find_clips()))


def _trim_first_clip(otio_path: Path) -> otio.opentime.TimeRange:
    """The editor trims the first shot's tail by a frame in the .otio; its new range."""
    timeline = otio.adapters.read_from_file(str(otio_path))
    clip = _first_clip(timeline)
    used = clip.source_range
    clip.source_range = otio.opentime.TimeRange(
        used.start_time, used.duration - otio.opentime.RationalTime(1, used.duration.rate)
    )
    otio.adapters.write_to_file(timeline, str(otio_path))
    return clip.source_range


@pytest.mark.parametrize("output_format, source", FORMATS)
def test_an_unedited_otio_run_again_still_goes_into_the_editors_file(
    output_format, source, tmp_path
):
    """v2a's own re-run (every clip regenerated: a second take on its track) is no edit."""
    editor, otio_path, media = _otio_of(source, tmp_path)

    result = _generate(otio_path, tmp_path / "out", media, output_format)

    assert EDITED not in result.format_note
    assert KEPT[output_format](editor, Path(result.timeline_path))


@pytest.mark.parametrize("output_format, source", FORMATS)
def test_an_edited_otio_is_written_by_the_adapter_with_its_edit_and_a_note(
    output_format, source, tmp_path
):
    editor, otio_path, media = _otio_of(source, tmp_path)
    exported = editor.read_bytes()
    trimmed = _trim_first_clip(otio_path)

    result = _generate(otio_path, tmp_path / "out", media, output_format)

    written = Path(result.timeline_path)
    assert f"{EDITED} {editor}" in result.format_note
    assert written.suffix == editor.suffix and not KEPT[output_format](editor, written)
    shot = _first_clip(read_timeline(written))
    assert shot.source_range.duration.to_seconds() == pytest.approx(trimmed.duration.to_seconds())
    assert editor.read_bytes() == exported


@needs_shared
def test_an_edited_otio_written_over_the_editors_list_leaves_it_as_exported(tmp_path):
    """Written into the editor's own folder, the adapter's rewrite of the edit would replace the
    editor's list: the list stays as they exported it and the result is the .otio beside it."""
    editor, otio_path, media = _otio_of(SHARED / "cmx3600_edl" / "dissolve_test.edl", tmp_path)
    exported = editor.read_bytes()
    _trim_first_clip(otio_path)

    result = _generate(otio_path, editor.parent, media, "cmx_3600")

    assert editor.read_bytes() == exported
    assert result.timeline_path == str(editor.with_suffix(".otio"))
    assert f"{EDITED} {editor}" in result.format_note
    assert "write into another folder" in result.format_note


@needs_shared
def test_an_otio_from_before_the_fingerprint_still_goes_into_the_editors_file(tmp_path):
    """A record without the editor's tracks' fingerprint (v2a before it kept one): as before."""
    editor, otio_path, media = _otio_of(SHARED / "cmx3600_edl" / "dissolve_test.edl", tmp_path)
    _trim_first_clip(otio_path)
    saved = json.loads(otio_path.read_text(encoding="utf-8"))
    del saved["metadata"]["v2a_read"][EDITOR_TRACKS]
    otio_path.write_text(json.dumps(saved), encoding="utf-8")

    result = _generate(otio_path, tmp_path / "out", media, "cmx_3600")

    assert EDITED not in result.format_note
    assert KEPT["cmx_3600"](editor, Path(result.timeline_path))


# --- which changes are edits --------------------------------------------------------------------


def _swap_first_two(track):
    first, second = list(track.find_clips())[:2]
    one, two = track.index(first), track.index(second)
    track[one], track[two] = second.deepcopy(), first.deepcopy()


def _relink(clip):
    clip.media_reference = otio.schema.ExternalReference(target_url="file:///elsewhere/other.mov")


EDITS = {
    "rename": lambda track: setattr(next(iter(track.find_clips())), "name", "renamed"),
    "trim": lambda track: _trim(next(iter(track.find_clips()))),
    "move": _swap_first_two,
    "delete": lambda track: track.remove(next(iter(track.find_clips()))),
    "add": lambda track: track.append(next(iter(track.find_clips())).deepcopy()),
    "disable": lambda track: setattr(next(iter(track.find_clips())), "enabled", False),
    "replace media": lambda track: _relink(next(iter(track.find_clips()))),
}


def _trim(clip):
    used = clip.source_range
    clip.source_range = otio.opentime.TimeRange(
        used.start_time + otio.opentime.RationalTime(1, used.start_time.rate), used.duration
    )


@pytest.fixture
def kdenlive_read(tmp_path):
    """The Kdenlive project as v2a reads it, written to .otio and read back."""
    project = tmp_path / "edit.kdenlive"
    shutil.copyfile(HERE / "kdenlive" / "edit.kdenlive", project)
    otio.adapters.write_to_file(read_timeline(project), str(tmp_path / "edit.otio"))
    return read_timeline(tmp_path / "edit.otio")


def test_the_otio_of_a_file_read_has_its_editors_tracks(kdenlive_read):
    """What is compared survives the .otio's JSON round trip; a clip id put in the editor's shots
    (by a panel) and v2a's own track added are no edits."""
    timeline = kdenlive_read
    assert not editor_tracks_edited(timeline)
    for track in timeline.video_tracks():
        for clip in track.find_clips():
            clip.metadata["v2a"] = {"clip_id": "kept in the editor's clip"}
    ours = otio.schema.Track(name="V2A SFX", kind=otio.schema.TrackKind.Audio,
                             metadata={"v2a": {"track": "SFX"}})
    ours.append(otio.schema.Gap(duration=otio.opentime.RationalTime(48000, 48000)))
    timeline.tracks.append(ours)
    assert not editor_tracks_edited(timeline)


@pytest.mark.parametrize("edit", EDITS)
def test_each_edit_of_the_editors_tracks_is_seen(edit, kdenlive_read):
    timeline = kdenlive_read
    EDITS[edit](timeline.video_tracks()[0])
    assert editor_tracks_edited(timeline)
