"""The written timeline names the editor's media so that it resolves from where it is written,
in every format, bundles included: the bundled sample (relative `media/...` paths, a real movie)
generated into another folder and read back with the same OTIO adapter."""

from __future__ import annotations

import os
import shutil
import zipfile
from pathlib import Path

import opentimelineio as otio
import pytest
from generator_doubles import SineGenerator

from otio_adapters.media_refs import rebased_url
from otio_adapters.plan import plan_segments
from otio_adapters.read import read_timeline
from otio_adapters.takes import find_v2a_tracks
from v2a.contracts import ClipAddress, GenerationRequest, Selection
from v2a.pipeline import run_generation

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
MOVIE = "bigbuckbunny_320x180.mp4"


@pytest.fixture
def project(tmp_path) -> Path:
    """The sample as an editor keeps it: the timeline beside its media folder."""
    folder = tmp_path / "project"
    (folder / "media").mkdir(parents=True)
    shutil.copy(SAMPLES / "sample.otio", folder / "sample.otio")
    shutil.copy(SAMPLES / "media" / MOVIE, folder / "media" / MOVIE)
    return folder


def _generate(timeline: Path, out: Path, output_format: str = "", clips=()):
    request = GenerationRequest(
        timeline_path=str(timeline),
        out_dir=str(out),
        output_format=output_format,
        selection=Selection(clips=tuple(ClipAddress(clip_id=c) for c in clips)),
    )
    return run_generation(request, SineGenerator())


@pytest.mark.parametrize("output_format", ["otio_json", "fcp_xml", "fcpx_xml", "kdenlive"])
def test_relative_media_still_resolves_from_the_written_timeline(project, tmp_path, output_format):
    result = _generate(project / "sample.otio", tmp_path / "out", output_format)
    assert len(result.generated) == 4
    # The Kdenlive adapter writes none of the editor's transitions (the sample's dissolve): the
    # note says so. FCPXML has it: v2a writes the editor's transitions back. The FCP7 XML
    # adapter writes no speed change (the note named the sample's clip at 150 %): v2a writes
    # it as Premiere's Time Remap.
    if output_format in ("fcpx_xml", "fcp_xml"):
        assert "transition" not in result.format_note
        assert "stretch (150%)" not in result.format_note
    else:
        assert not result.format_note or "writes no transitions" in result.format_note

    written = result.timeline_path
    segments = plan_segments(read_timeline(written), timeline_path=written)
    # Every clip names its file and finds it, the speed-changed one too (the Kdenlive adapter read
    # its timewarp producer with no media: otio_adapters/kdenlive.py puts the file back).
    assert [s.clip_name for s in segments if s.status != "ok"] == []
    assert len(segments) == 4
    assert sorted(s.speed for s in segments) == [1, 1, 1, 1.5]  # the stretch still at 150 %
    assert {s.media.path for s in segments if s.media.path} == {str(project / "media" / MOVIE)}


def test_otio_output_keeps_the_media_path_relative_where_the_folders_meet(project, tmp_path):
    result = _generate(project / "sample.otio", tmp_path / "out")
    video = read_timeline(result.timeline_path).video_tracks()[0]
    urls = {clip.media_reference.target_url for clip in video.find_clips()}
    assert urls == {f"../project/media/{MOVIE}"}


def test_an_aaf_names_relative_media_so_that_it_resolves_and_a_clip_can_be_run_again(
        project, tmp_path):
    """An AAF's locators are URLs, and the relative `../project/media/...` came back from it as
    `file://../project/media/...` (a host named ".."): every clip offline, so a regeneration of
    a server job written as AAF was refused ("the media of every selected clip is offline")."""
    out = tmp_path / "out"
    first = _generate(project / "sample.otio", out, "AAF")
    written = first.timeline_path
    segments = plan_segments(read_timeline(written), timeline_path=written)
    assert [s.clip_name for s in segments if s.status != "ok"] == []
    assert {s.media.path for s in segments} == {str(project / "media" / MOVIE)}
    again = _generate(Path(written), out, clips=[first.generated[1].clip_id])
    assert [a.clip_id for a in again.generated] == [first.generated[1].clip_id]


def test_running_again_on_the_written_timeline_adds_a_take(project, tmp_path):
    """The README's re-run: the written timeline's own media must be online for it."""
    out = tmp_path / "out"
    first = _generate(project / "sample.otio", out)
    clip_id = first.generated[1].clip_id
    again = _generate(Path(first.timeline_path), out, clips=[clip_id])
    assert [a.clip_id for a in again.generated] == [clip_id]
    assert again.generated[0].path.endswith("_take2.wav")


@pytest.mark.parametrize(
    ("url", "want"),
    [
        ("media/a.mov", "../p/media/a.mov"),
        ("file:media/a.mov", "../p/media/a.mov"),  # a relative file URL is still relative
        ("frames/", "../p/frames/"),  # an image sequence's folder keeps its slash
        ("/abs/a.mov", "/abs/a.mov"),
        ("file:///abs/a.mov", "file:///abs/a.mov"),
        ("file://localhost/D%3a/a.mov", "file://localhost/D%3a/a.mov"),
        ("D:/media/a.mov", "D:/media/a.mov"),
        ("//server/share/a.mov", "//server/share/a.mov"),
        ("https://example.com/a.mov", "https://example.com/a.mov"),
        ("", ""),
    ],
)
def test_only_relative_references_are_rebased(tmp_path, url, want):
    (tmp_path / "p").mkdir()
    (tmp_path / "out").mkdir()
    assert rebased_url(url, str(tmp_path / "p"), str(tmp_path / "out")) == want


def test_a_reference_is_absolute_when_the_folders_meet_only_at_the_root_or_for_a_bundle(tmp_path):
    media = os.path.realpath(tmp_path / "p" / "media" / "a.mov")
    want = otio.url_utils.url_from_filepath(media)
    assert rebased_url("media/a.mov", str(tmp_path / "p"), "/") == want
    assert rebased_url("media/a.mov", str(tmp_path / "p"), None) == want
    assert rebased_url("media/a.mov", str(tmp_path / "p"), str(tmp_path / "p")) == "media/a.mov"


# --- bundles ---------------------------------------------------------------------------------


def _read_bundle(path: Path, into: Path) -> otio.schema.Timeline:
    """The bundle read back with OTIO's own adapter, media references made absolute."""
    if path.suffix == ".otiod":
        return otio.adapters.read_from_file(str(path), absolute_media_reference_paths=True)
    into.mkdir()
    timeline = otio.adapters.read_from_file(str(path), extract_to_directory=str(into))
    for clip in timeline.find_clips():
        reference = clip.media_reference
        reference.target_url = str(into / otio.url_utils.filepath_from_url(reference.target_url))
    return timeline


def _bundled_names(path: Path) -> set[str]:
    if path.suffix == ".otiod":
        return {str(p.relative_to(path)) for p in path.rglob("*") if p.is_file()}
    with zipfile.ZipFile(path) as bundle:
        return set(bundle.namelist())


@pytest.mark.parametrize("output_format", ["otioz", "otiod"])
def test_a_bundle_holds_the_media_and_the_active_takes(project, tmp_path, output_format):
    out = tmp_path / "out"
    result = _generate(project / "sample.otio", out, output_format)
    written = Path(result.timeline_path)
    assert written == out / f"sample.{output_format}" and not result.format_note
    takes = {os.path.basename(a.path) for a in result.generated}
    assert _bundled_names(written) >= {f"media/{MOVIE}"} | {f"media/{name}" for name in takes}

    timeline = _read_bundle(written, tmp_path / "extracted")
    audio = find_v2a_tracks(timeline, "SFX")[0].find_clips()
    assert {os.path.basename(c.media_reference.target_url) for c in audio} == takes
    for clip in timeline.find_clips():
        assert os.path.isfile(otio.url_utils.filepath_from_url(clip.media_reference.target_url))
    assert sorted(os.listdir(out)) == ["audio", written.name]  # no staging left behind


@pytest.mark.parametrize("url", ["D:/footage/bigbuckbunny_320x180.mp4",
                                 "file:///Volumes/gone/bigbuckbunny_320x180.mp4"])
def test_a_bundle_holds_media_found_only_through_relink(project, tmp_path, url):
    """A timeline from another machine (a Windows drive, a Mac volume), its media found with
    `--relink`: the bundle holds the file found. The adapter refused the whole bundle ("a bundle
    holds only media on disk, and this is not: /cwd/D:/footage/…") and the result fell back to
    .otio."""
    timeline = otio.adapters.read_from_file(str(project / "sample.otio"))
    for clip in timeline.find_clips():
        clip.media_reference.target_url = url
    moved = tmp_path / "elsewhere"
    (project / "media").rename(moved)
    otio.adapters.write_to_file(timeline, str(project / "sample.otio"))

    out = tmp_path / "out"
    request = GenerationRequest(timeline_path=str(project / "sample.otio"), out_dir=str(out),
                                output_format="otioz", relink_roots=(str(moved),))
    result = run_generation(request, SineGenerator())
    assert result.timeline_path == str(out / "sample.otioz") and not result.format_note
    assert f"media/{MOVIE}" in _bundled_names(out / "sample.otioz")
    bundled = _read_bundle(out / "sample.otioz", tmp_path / "extracted")
    for clip in bundled.find_clips():
        assert os.path.isfile(otio.url_utils.filepath_from_url(clip.media_reference.target_url))


@pytest.mark.parametrize("output_format", ["otioz", "otiod"])
def test_a_bundle_written_again_in_place_keeps_every_take(project, tmp_path, output_format):
    out = tmp_path / "out"
    first = _generate(project / "sample.otio", out, output_format)
    clip_id = first.generated[0].clip_id
    again = _generate(Path(first.timeline_path), out, clips=[clip_id])
    assert again.timeline_path == first.timeline_path and not again.format_note

    timeline = _read_bundle(Path(again.timeline_path), tmp_path / "extracted")
    clip = next(
        c
        for c in find_v2a_tracks(timeline, "SFX")[0].find_clips()
        if c.metadata["v2a"]["clip_id"] == clip_id
    )
    assert clip.active_media_reference_key == "take2"
    assert clip.media_reference.target_url.endswith("_take2.wav")
    # The older take is not in the bundle (the adapter bundles the active one): it is the
    # original in the output's audio folder, not the copy inside the bundle just replaced.
    old = clip.media_references()["take1"].target_url
    assert otio.url_utils.filepath_from_url(old) == str(out / "audio" / Path(old).name)
    assert os.path.isfile(otio.url_utils.filepath_from_url(old))


def test_regenerating_in_a_bundle_leaves_no_copy_of_its_media_in_the_cache(project, tmp_path):
    # Reading an .otioz unpacks its media to the user's cache, keyed by the file's version. Each
    # regeneration on v2a's own .otioz read the version the previous run wrote, unpacked it
    # (the whole movie again) and wrote a new version: one more copy of the media per take,
    # which nothing refers to (the new bundle holds its media).
    from otio_adapters.media_refs import otioz_cache_dir

    out = tmp_path / "out"
    first = _generate(project / "sample.otio", out, "otioz")
    before = set(os.listdir(otioz_cache_dir()))
    clip_id = first.generated[0].clip_id
    for _ in range(3):
        again = _generate(Path(first.timeline_path), out, clips=[clip_id])
        assert again.timeline_path == first.timeline_path

    assert set(os.listdir(otioz_cache_dir())) == before
    # The bundle still plays: its media are inside it.
    timeline = _read_bundle(Path(first.timeline_path), tmp_path / "extracted")
    for clip in timeline.find_clips():
        assert os.path.isfile(otio.url_utils.filepath_from_url(clip.media_reference.target_url))


def test_regenerating_in_a_bundle_keeps_the_cached_media_another_timeline_names(project, tmp_path):
    # A timeline written from an .otioz in another format names the media unpacked from it in
    # the cache. A later run that wrote that bundle again in place removed the copy it had read
    # from, which it had not made: the other timeline's clips went offline.
    out = tmp_path / "out"
    bundle = _generate(project / "sample.otio", out, "otioz")
    other = _generate(Path(bundle.timeline_path), tmp_path / "other", "otio_json")
    _generate(Path(bundle.timeline_path), out, clips=[bundle.generated[0].clip_id])

    written = other.timeline_path
    segments = plan_segments(read_timeline(written), timeline_path=written)
    assert [(s.clip_name, s.status) for s in segments if s.status != "ok"] == []


def test_a_bundle_that_cannot_hold_offline_media_falls_back_to_otio_and_leaves_nothing(
    project, tmp_path
):
    timeline = read_timeline(project / "sample.otio")
    timeline.video_tracks()[0].find_clips()[0].media_reference.target_url = "/gone/missing.mov"
    edited = project / "edited.otio"
    otio.adapters.write_to_file(timeline, str(edited))
    out = tmp_path / "out"

    result = _generate(edited, out, "otioz")

    assert result.timeline_path == str(out / "edited.otio")
    # Named as the timeline names it, with its clip (the adapter's message joined a Windows
    # path to the working folder: /cwd/D:/footage/…).
    assert result.format_note.startswith(
        "an otioz bundle holds only media on disk, and clip 'burrow' names /gone/missing.mov, "
        "which is not there; wrote "), result.format_note
    assert sorted(os.listdir(out)) == ["audio", "edited.otio"]  # no partial bundle, no staging
