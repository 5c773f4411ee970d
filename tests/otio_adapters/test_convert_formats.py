"""A timeline converted to another editor's format (`v2a generate --output-format`) keeps the
editor's video clips where they were, or the note names each one it could not keep (clip and
track): real exports from ../shared/fixtures/timelines, relinked to stand-in media, generated
with a fast test double, written by the real adapters and read back with them."""

from __future__ import annotations

import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import opentimelineio as otio
import pytest
from generator_doubles import SineGenerator

from otio_adapters.edl_audio import event_number
from otio_adapters.plan import is_enabled, plan_segments, start_timecode
from otio_adapters.read import format_for_path, read_timeline
from otio_adapters.standin_media import synthesize_media
from otio_adapters.takes import find_v2a_tracks, to_samples
from v2a.contracts import GenerationParams, GenerationRequest
from v2a.pipeline import run_generation

FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "timelines"
pytestmark = pytest.mark.skipif(not FIXTURES.is_dir(), reason="../shared/fixtures is absent")

#: nested_example.otio's V1 as it shows, in frames at 24 fps: (record start, length); a nested
#: clip shorter than its stack or track shows for its own length, then nothing.
NESTED_SHOWN = [(0, 238), (238, 31), (269, 33), (302, 24), (331, 63), (394, 1), (398, 238)]


@pytest.fixture
def convert(standin_media, tmp_path):
    """`convert(name, output_format)`: generate for fixture `name` and write it as
    `output_format`; (source, result). The media: a copy of the session's stand-ins in
    tmp_path / "media", where the tests look."""

    def run(name: str, output_format: str):
        source = read_timeline(FIXTURES / name)
        media = tmp_path / "media"
        shutil.copytree(standin_media(name), media)
        request = GenerationRequest(
            timeline_path=str(FIXTURES / name),
            out_dir=str(tmp_path / "out"),
            relink_roots=(str(media),),
            params=GenerationParams(seed=7),
            output_format=output_format,
        )
        return source, run_generation(request, SineGenerator())

    return run


def _pictures(timeline: otio.schema.Timeline) -> list[tuple[str, int, int]]:
    """The editor's video clips drawn from media and nested stacks (compound clips), with their
    record ranges in samples."""
    ours = find_v2a_tracks(timeline, "SFX")
    found = []
    for track in timeline.video_tracks():
        if any(track is mine for mine in ours):
            continue
        for item in track:
            # (An empty nested sequence shows nothing: the AAF adapter writes it 0 long.)
            if (isinstance(item, otio.schema.Stack) and item.find_clips()) or (
                isinstance(item, otio.schema.Clip)
                and not isinstance(item.media_reference, otio.schema.GeneratorReference)
            ):
                placed = track.range_of_child(item)
                name = item.name if isinstance(item, otio.schema.Clip) else "(stack)"
                found.append((name, to_samples(placed.start_time), to_samples(placed.duration)))
    return sorted(found)


def _sound(timeline: otio.schema.Timeline) -> list[tuple[int, int]]:
    (track,) = find_v2a_tracks(timeline, "SFX")
    return sorted(
        (to_samples(track.range_of_child(clip).start_time),
         to_samples(track.range_of_child(clip).duration))
        for clip in track.find_clips()
    )


@pytest.mark.parametrize(
    "name",
    [
        # A list's start timecode, a range starting at -86400 on its track, and a dissolve.
        "cmx3600_edl/dissolve_test.edl",
        # Avid's zero-length filler at the end of a track with a source range over it all.
        "aaf/transitions.aaf",
        # A 15 fps clip in a 30 fps sequence, V4's clips past V1's end, a title.
        "fcp7_xml/premiere_example.xml",
    ],
)
def test_conversion_to_fcpxml_writes_the_fcpxml_with_every_clip_in_place(convert, name):
    # Each of these fell back to the .otio alone, with the adapter's own error as the note
    # ("computed time range would be invalid", "not enough values to unpack").
    source, result = convert(name, "fcpx_xml")

    assert format_for_path(result.timeline_path) == "fcpx_xml", result.format_note
    written = read_timeline(result.timeline_path)
    assert _pictures(written) == _pictures(source)
    want = sorted((audio.start_sample, audio.num_samples) for audio in result.generated)
    assert _sound(written) == want


@pytest.mark.parametrize("output_format, written_as", [("fcpx_xml", "gaps"), ("AAF", "filler")])
def test_conversion_names_the_titles_the_format_cannot_hold(convert, output_format, written_as,
                                                           tmp_path):
    # Premiere's title on V3: the FCPXML adapter failed on it, the AAF adapter made it filler
    # without a word (7 video clips in, 6 read back).
    source, result = convert("fcp7_xml/premiere_example.xml", output_format)

    assert format_for_path(result.timeline_path) == output_format
    assert f"{written_as} in the" in result.format_note
    assert "'test_title' (V3)" in result.format_note
    media = tmp_path / "media"
    assert _shown(read_timeline(result.timeline_path), Path(result.timeline_path), media) == (
        _shown(source, FIXTURES / "fcp7_xml/premiere_example.xml", media))
    # The whole result, title included, is in the .otio beside it.
    assert "test_title" in {clip.name for clip in read_timeline(result.fallback_otio_path)
                            .find_clips()}


def _shown(timeline: otio.schema.Timeline, path: Path, media: Path) -> list[tuple]:
    """What the planner sees: each visible stretch of picture, where it sits and which frames of
    which file it shows (Kdenlive renames clips after their files; a clip without media, found
    by its name, is named after its file by some writers: the name before any extension)."""
    return sorted(
        (segment.start_sample, segment.num_samples,
         Path(segment.media.path or segment.media.referenced).name.split(".")[0],
         round(segment.source_start, 3))
        for segment in plan_segments(timeline, timeline_path=str(path),
                                     relink_roots=(str(media),))
    )


def test_conversion_to_kdenlive_shows_compound_clips_where_they_were(convert, tmp_path):
    # The Kdenlive adapter skipped Final Cut's compound clips (holding audio and video tracks)
    # and closed up the track: the clips after each moved up, away from v2a's sound, and the
    # note spoke of transitions only.
    name = "fcpx_xml/fcpx_example.fcpxml"
    source, result = convert(name, "kdenlive")

    assert format_for_path(result.timeline_path) == "kdenlive", result.format_note
    assert "'compound_clip_1' (V1)" in result.format_note
    # Beneath others inside it, not in the project: named.
    assert "clips hidden inside them are not in it: 'IMG_0857' (in 'compound_clip_1', V1)" in (
        result.format_note)
    written = read_timeline(result.timeline_path)
    media = tmp_path / "media"
    assert _shown(written, Path(result.timeline_path), media) == _shown(
        source, FIXTURES / name, media)


def test_conversion_to_kdenlive_keeps_nested_stacks_and_tracks_in_place(convert):
    name = "otio/nested_example.otio"
    source, result = convert(name, "kdenlive")

    assert format_for_path(result.timeline_path) == "kdenlive", result.format_note
    assert ("'Nested Stack 1' (V1), 'Nested Stack 2 (with effects)' (V1), 'Nested Track' (V1)"
            in result.format_note)
    # Each in its place, as the fixture nests them.
    (track,) = read_timeline(result.timeline_path).video_tracks()
    written = [(track.range_of_child(clip).start_time.value, clip.duration().value)
               for clip in track.find_clips()]
    assert written == NESTED_SHOWN
    assert track.duration() == source.video_tracks()[0].duration()


def _switched_off(timeline: otio.schema.Timeline) -> list[tuple[int, int]]:
    """Where the video clips switched off lie (record start and length, in samples): by place,
    as Kdenlive names each clip after its file."""
    return sorted(
        (to_samples(track.range_of_child(clip).start_time),
         to_samples(track.range_of_child(clip).duration))
        for track in timeline.video_tracks() for clip in track.find_clips()
        if not (is_enabled(clip) and is_enabled(track))
    )


@pytest.mark.parametrize(
    "name, output_format",
    [
        # Premiere's <enabled>FALSE</enabled>: the FCPXML adapter wrote them as shown.
        ("fcp7_xml/premiere_enable_property.xml", "fcpx_xml"),
        # Resolve's disabled clips (OTIO `enabled`): the FCP7 XML adapter wrote them as shown.
        ("otio/effects.otio", "fcp_xml"),
        ("otio/effects.otio", "fcpx_xml"),
        # Both to Kdenlive: written as gaps, the shot gone, and a re-run took its sound off.
        ("fcp7_xml/premiere_enable_property.xml", "kdenlive"),
        ("otio/effects.otio", "kdenlive"),
    ],
)
def test_conversion_keeps_disabled_clips_disabled(convert, name, output_format, tmp_path):
    source, result = convert(name, output_format)

    assert format_for_path(result.timeline_path) == output_format, result.format_note
    written = read_timeline(result.timeline_path)
    assert _switched_off(written) == _switched_off(source) != []
    # So a re-run on the written file sees the picture the editor sees.
    media = tmp_path / "media"
    assert _shown(written, Path(result.timeline_path), media) == _shown(
        source, FIXTURES / name, media)


def test_conversion_names_the_disabled_clips_the_format_cannot_mark(convert, tmp_path):
    # The AAF adapter wrote Premiere's disabled clips as clips to show: over the picture v2a
    # made sound for, and a re-run on the file made sound for them.
    name = "fcp7_xml/premiere_enable_property.xml"
    source, result = convert(name, "AAF")

    assert format_for_path(result.timeline_path) == "AAF", result.format_note
    assert ("the AAF adapter cannot mark a clip disabled, so the editor's disabled clips are left "
            "out of it (gaps, as they show nothing): 'video_track_1_disabled_1' (V1), "
            "'video_track_1_disabled_2' (V1), 'video_track_3_disabled_1' (V3)"
            in result.format_note)
    written = read_timeline(result.timeline_path)
    media = tmp_path / "media"
    assert _shown(written, Path(result.timeline_path), media) == _shown(
        source, FIXTURES / name, media)


def test_conversion_to_kdenlive_hides_a_video_track_switched_off(standin_media, tmp_path):
    # Kdenlive hides a video track (its eye switched off) on the timeline's <track>; the adapter
    # writes no such thing, and v2a wrote the track's clips as gaps: read back, they were gone.
    edit = read_timeline(FIXTURES / "otio/effects.otio")
    edit.video_tracks()[1].enabled = False  # V2: 'A_title.png', over V1's shots
    path = tmp_path / "effects.otio"
    otio.adapters.write_to_file(edit, str(path))
    media = standin_media("otio/effects.otio")
    result = run_generation(GenerationRequest(
        timeline_path=str(path), out_dir=str(tmp_path / "out"), relink_roots=(media,),
        output_format="kdenlive"), SineGenerator())

    assert format_for_path(result.timeline_path) == "kdenlive", result.format_note
    written = read_timeline(result.timeline_path)
    assert [is_enabled(track) for track in written.video_tracks()] == [
        is_enabled(track) for track in edit.video_tracks()]
    assert [clip.name for clip in written.video_tracks()[1].find_clips()] == ["A_title.png"]
    assert _shown(written, Path(result.timeline_path), Path(media)) == _shown(
        edit, path, Path(media))


def test_conversion_to_cmx_3600_names_the_disabled_clips_it_leaves_out(tmp_path):
    # An EDL event always shows: the adapter wrote a disabled clip as one.
    edit = read_timeline(FIXTURES / "otio/simple_cut.otio")
    edit.video_tracks()[0][1].enabled = False
    name = edit.video_tracks()[0][1].name
    path = tmp_path / "cut.otio"
    otio.adapters.write_to_file(edit, str(path))
    media = tmp_path / "media"
    media.mkdir()
    synthesize_media(edit, str(media))
    result = run_generation(GenerationRequest(
        timeline_path=str(path), out_dir=str(tmp_path / "out"), relink_roots=(str(media),),
        output_format="cmx_3600"), SineGenerator())

    assert format_for_path(result.timeline_path) == "cmx_3600", result.format_note
    assert f"left out of it (gaps, as they show nothing): {name!r} (V1)" in result.format_note
    written = read_timeline(result.timeline_path)
    assert name not in {clip.name for clip in written.find_clips()}
    assert _shown(written, Path(result.timeline_path), media) == _shown(edit, path, media)


def test_a_list_converted_to_kdenlive_takes_a_second_run(convert, tmp_path):
    # An EDL's events name no media file: the Kdenlive adapter wrote each as a nameless
    # "Unsupported clip type" placeholder from its first frame, so a re-run on the project
    # found no clip ("no visible, enabled video clip") and the editor's clips were gone.
    name = "cmx3600_edl/dissolve_test.edl"
    source, first = convert(name, "kdenlive")
    assert format_for_path(first.timeline_path) == "kdenlive", first.format_note
    assert "3 of the editor's clips name no media file" in first.format_note
    written = read_timeline(first.timeline_path)
    assert [clip.name for clip in written.video_tracks()[0].find_clips()] == [
        clip.name for clip in source.video_tracks()[0].find_clips()]

    again = run_generation(GenerationRequest(
        timeline_path=first.timeline_path, out_dir=str(tmp_path / "out"),
        relink_roots=(str(tmp_path / "media"),)), SineGenerator())

    assert [event.state for event in again.clips] == ["done"] * 3
    assert all("_take2.wav" in audio.path for audio in again.generated)
    assert _sound(read_timeline(again.timeline_path)) == _sound(written)


def test_a_list_converted_to_fcp7_xml_names_each_clips_file_and_takes_a_second_run(convert,
                                                                                   tmp_path):
    # An EDL's events name no media file: the FCP7 XML adapter wrote clip_A's as a nameless
    # <file> at timecode 00:00:00:00 and clip_B's two events as that same <file> (an NLE relinks
    # all three to one file, and finds none of their frames, an hour in); a re-run found each
    # clip's media by its name but "covers only 00:00:00:00-...": no clip could be generated.
    name = "cmx3600_edl/dissolve_test.edl"
    source, first = convert(name, "fcp_xml")
    assert format_for_path(first.timeline_path) == "fcp_xml", first.format_note
    root = ET.parse(first.timeline_path).getroot()
    files = {item.findtext("name"): item.find("file").get("id")
             for item in root.iter("clipitem") if item.findtext("name", "").startswith("clip_")}
    assert len(set(files.values())) == 2, files  # clip_A's, and clip_B's (two events of it)
    for file in root.iter("file"):
        if len(file) and file.findtext("name", "").startswith("clip_"):
            assert file.findtext("name") == file.findtext("pathurl")

    again = run_generation(GenerationRequest(
        timeline_path=first.timeline_path, out_dir=str(tmp_path / "out"),
        relink_roots=(str(tmp_path / "media"),)), SineGenerator())

    assert [event.state for event in again.clips] == ["done"] * 3, [e.message for e in again.clips]
    assert all("_take2.wav" in audio.path for audio in again.generated)


@pytest.mark.parametrize(
    "name, shown",
    [
        # Avid's media are named "UNC Path": the writer made that the reel, a space inside a
        # field of the event line ("001  UNC Path V  C ..."), and no reader could read the list.
        ("aaf/simple.aaf", [(0, 720), (720, 480), (1200, 722), (1922, 640), (2562, 720)]),
        # Nested stacks and a nested track, which the writer skipped: 4 of 7 clips, the later
        # ones moved up; and reels "Normal C" from "Normal Clip 1".
        ("otio/nested_example.otio", NESTED_SHOWN),
    ],
)
def test_conversion_to_cmx_3600_writes_a_list_with_every_clip_in_place(convert, name, shown):
    source, result = convert(name, "cmx_3600")

    assert format_for_path(result.timeline_path) == "cmx_3600", result.format_note
    written = read_timeline(result.timeline_path, options={"rate": 24})
    (track,) = written.video_tracks()
    assert [(track.range_of_child(clip).start_time.value, clip.duration().value)
            for clip in track.find_clips()] == shown


def test_conversion_to_cmx_3600_keeps_the_start_timecode(convert):
    """simple.aaf, an Avid sequence at 01:00:00:00: the writer counts record timecodes from
    00:00:00:00, whatever the timeline's start, so the list started an hour early, and v2a's
    events named the takes' own timecode (their bext, 01:00:00:00 on) as source over records an
    hour before it; a `--stem` of the same run starts at 01:00:00:00."""
    source, result = convert("aaf/simple.aaf", "cmx_3600")

    assert format_for_path(result.timeline_path) == "cmx_3600", result.format_note
    written = read_timeline(result.timeline_path, options={"rate": 24})
    assert start_timecode(written) == start_timecode(source) == otio.opentime.RationalTime(86400, 24)
    events = [line.split() for line in Path(result.timeline_path).read_text().splitlines()
              if event_number(line) is not None]
    assert events[0][-2:] == ["01:00:00:00", "01:00:30:00"]  # the first shot's record range
    takes = [event for event in events if event[2] == "A3"]  # v2a's channel
    assert takes[0][-4:] == ["01:00:00:00", "01:00:30:00", "01:00:00:00", "01:00:30:00"]


def test_conversion_to_cmx_3600_of_dissolves_on_two_audio_tracks_reads_back(convert, tmp_path):
    # transitions.aaf: the list starts with a fade in from black (a zero-length BL cut and a
    # dissolve), which the reader refused ("Transitions can't be at the very beginning of a
    # track"); and A2's dissolve at 2:21 was written after the AA events that reach 21:17,
    # which it refused too ("Overlapping record in value"). Read back, each shot is planned.
    name = "aaf/transitions.aaf"
    source, result = convert(name, "cmx_3600")

    assert format_for_path(result.timeline_path) == "cmx_3600", result.format_note
    written = read_timeline(result.timeline_path, options={"rate": 24})
    media = (str(tmp_path / "media"),)
    shots = plan_segments(written, timeline_path=result.timeline_path, relink_roots=media)
    assert [shot.clip_name for shot in shots] == [
        shot.clip_name
        for shot in plan_segments(source, timeline_path=str(FIXTURES / name), relink_roots=media)]
    assert [len(track.find_clips()) for track in written.audio_tracks()][:2] == [
        len(track.find_clips()) for track in source.audio_tracks()]


def test_conversion_to_aaf_writes_clips_without_media(convert):
    # An EDL's events name no media: the AAF writer failed on the first ("available_range
    # .duration.rate does not exist") and only the .otio was written.
    name = "cmx3600_edl/dissolve_test.edl"
    source, result = convert(name, "AAF")

    assert format_for_path(result.timeline_path) == "AAF", result.format_note
    written = read_timeline(result.timeline_path)
    assert _pictures(written) == _pictures(source)
    assert _sound(written) == sorted((audio.start_sample, audio.num_samples)
                                     for audio in result.generated)


@pytest.mark.parametrize("output_format", ["fcp_xml", "fcpx_xml", "AAF"])
def test_conversion_writes_a_track_nested_in_a_track(convert, output_format):
    # nested_example.otio nests a track directly in a track and clips directly in stacks: the
    # writers take a stack's children for tracks ("'Clip' object is not iterable", "has no
    # attribute 'kind'") and only the .otio was written.
    source, result = convert("otio/nested_example.otio", output_format)

    assert format_for_path(result.timeline_path) == output_format, result.format_note
    if output_format == "fcp_xml":
        # The FCP7 XML reader reads a nested sequence as empty (its tracks are under <media>,
        # where it does not look): the file is checked for them instead.
        text = Path(result.timeline_path).read_text()
        for clip in source.find_clips():
            assert f"<name>{clip.name}</name>" in text
        return
    written = read_timeline(result.timeline_path)
    (track,) = [track for track in written.video_tracks()
                if not any(track is mine for mine in find_v2a_tracks(written, "SFX"))]
    if output_format == "AAF":
        # The AAF writer laid a nested stack's clip whole, past the stack's trim (37 frames
        # for 31), moving every clip after it: written as the clips the stacks show.
        assert "'Nested Stack 1' (V1)" in result.format_note
        assert [(track.range_of_child(clip).start_time.value, clip.duration().value)
                for clip in track.find_clips()] == NESTED_SHOWN
        return
    top = [(item.name, track.range_of_child(item).start_time.value)
           for item in track if isinstance(item, otio.schema.Clip)]
    assert top == [("Normal Clip 1", 0), ("Normal Clip 2", 269), ("Normal Clip 3", 331),
                   ("Clip Inside A Track", 394), ("Normal Clip 4", 398)]
    assert sorted(clip.name for clip in track.find_clips()) == sorted(
        clip.name for clip in source.find_clips())


def test_conversion_to_cmx_3600_writes_the_picture_several_tracks_show(convert, tmp_path):
    # The writer refused more than one video track ("Only a single video track is supported,
    # got: 3") and only the .otio was written.
    name = "fcp7_xml/premiere_enable_property.xml"
    source, result = convert(name, "cmx_3600")

    assert format_for_path(result.timeline_path) == "cmx_3600", result.format_note
    assert ("the CMX 3600 EDL holds one video track: the editor's 3 are written as the picture "
            "they show" in result.format_note)
    written = read_timeline(result.timeline_path, options={"rate": 25})
    media = tmp_path / "media"
    assert _shown(written, Path(result.timeline_path), media) == _shown(
        source, FIXTURES / name, media)


def test_conversion_to_cmx_3600_says_why_tracks_with_transitions_are_not_written(convert):
    source, result = convert("fcp7_xml/premiere_example.xml", "cmx_3600")

    assert result.timeline_path == result.fallback_otio_path
    assert result.format_note.startswith(
        "a CMX 3600 EDL holds one video track, and this timeline's 4 have transitions")


def test_conversion_to_fcp7_xml_writes_every_clip_item_whole(convert):
    # fcpx_example uses one compound clip three times: the writer wrote the clips inside the
    # second and third as empty <clipitem id="..."/> naming the first's, which nothing can place
    # (no <start>, <end> or <in>): the file could not be read back at all.
    source, result = convert("fcpx_xml/fcpx_example.fcpxml", "fcp_xml")

    assert format_for_path(result.timeline_path) == "fcp_xml", result.format_note
    root = ET.parse(result.timeline_path).getroot()
    items = list(root.iter("clipitem"))
    assert items and all(item.find("start") is not None for item in items)
    assert "v2a_fcp7_clip" not in Path(result.timeline_path).read_text()
    # The top-level clips in place; the reader reads a nested sequence as empty (its tracks are
    # under <media>, where it does not look), so the compound clips' contents are found by name.
    written = read_timeline(result.timeline_path)
    assert [p for p in _pictures(written) if p[0] != "(stack)"] == [
        p for p in _pictures(source) if p[0] != "(stack)"]
    assert {clip.name for clip in source.video_tracks()[0].find_clips()} <= {
        item.findtext("name") for item in items}


def test_a_premiere_nested_sequence_is_read_with_its_clips():
    # The FCP7 XML reader looked for a nested sequence's tracks under <sequence>, not under its
    # <media>: read as an empty stack, its shots got no sound and every format v2a wrote from
    # the XML (.otio included) held an empty nest.
    timeline = read_timeline(FIXTURES / "fcp7_xml/premiere_example.xml")
    (nest,) = [item for item in timeline.video_tracks()[1] if isinstance(item, otio.schema.Stack)]
    assert nest.name == "sc01_sh010_anim"
    track = next(track for track in nest if track.kind == otio.schema.TrackKind.Video)
    assert [(clip.name, track.range_of_child(clip).start_time.value, clip.duration().value)
            for clip in track.find_clips()] == [("sc01_sh010_anim.mov", 0, 100),
                                                ("sc01_sh030_anim.mov", 100, 220)]


def _speeds(timeline: otio.schema.Timeline, path: Path, media: Path) -> list[tuple]:
    """(clip, speed) of each shot v2a plans, as a re-run on the file would."""
    return sorted((s.clip_name, round(s.speed, 3)) for s in plan_segments(
        timeline, timeline_path=str(path), relink_roots=(str(media),)))


FREEZE = "'Z682_156 (LAY3)' (V1 at 01:08:30:00)"  # speed_effects_small.edl's 17-frame freeze
FAST = "'Z686_5A (LAY2) (47.56 FPS)' (V1 at 01:11:31:16)"  # and its clip at 1.98x


@pytest.mark.parametrize(
    "name, output_format, named",
    [
        # The FCP7 XML and AAF adapters write no time effect: every retimed clip at 100 %.
        # v2a writes a constant speed to FCP7 XML as Premiere's Time Remap, not a freeze.
        ("cmx3600_edl/speed_effects_small.edl", "fcp_xml", [FREEZE]),
        ("cmx3600_edl/speed_effects_small.edl", "AAF", [FREEZE, FAST]),
        # The Kdenlive adapter writes a constant speed (a timewarp), and skips a freeze.
        ("cmx3600_edl/speed_effects_small.edl", "kdenlive", [FREEZE]),
        # Nested items keep their place in FCP7 XML, not their speed (0.85x) or freeze.
        ("otio/nested_example.otio", "fcp_xml",
         ["'Nested Stack 2 (with effects)' (V1 at ", "'Nested Track' (V1 at "]),
        # Final Cut retimes a compound clip, not a track nested in a track.
        ("otio/nested_example.otio", "fcpx_xml", ["'Nested Track' (V1 at "]),
    ],
)
def test_conversion_names_the_speed_changes_the_format_plays_at_normal_speed(
    convert, tmp_path, name, output_format, named
):
    """The format's file plays these clips at 100 %: other frames than v2a made their sound for,
    and a run on the file makes sound for those. The note said nothing (or, for FCPXML, how
    many), the editor left to find out from the picture."""
    source, result = convert(name, output_format)

    assert format_for_path(result.timeline_path) == output_format, result.format_note
    media = tmp_path / "media"
    written = read_timeline(result.timeline_path)
    # What is lost: the written file plans other speeds than the source...
    assert _speeds(written, Path(result.timeline_path), media) != _speeds(
        source, FIXTURES / name, media)
    # ...and the note names each clip that changed, as the editor finds it.
    assert f"play at normal speed in the {_WRITTEN[output_format]}" in result.format_note
    for label in named:
        assert label in result.format_note
    if output_format in ("fcp_xml", "kdenlive"):  # the formats v2a writes a constant speed in
        assert FAST not in result.format_note


_WRITTEN = {"fcp_xml": "XML", "AAF": "AAF", "kdenlive": ".kdenlive", "fcpx_xml": "FCPXML"}


@pytest.mark.parametrize("name", ["fcp7_xml/premiere_example.xml", "otio/premiere_example.otio"])
def test_conversion_to_kdenlive_keeps_a_clip_of_another_rate_whole(convert, tmp_path, name):
    """Premiere's 15 fps clip in its 30 fps sequence (V1 at frame 557, its range counted at
    15 fps): the adapter wrote its range in 15 fps frames where MLT counts the project's, and
    it came back a 30 fps frame short (1,600 samples), sound made for 79 frames laid under 78."""
    source, result = convert(name, "kdenlive")

    assert format_for_path(result.timeline_path) == "kdenlive", result.format_note
    media = tmp_path / "media"
    assert _shown(read_timeline(result.timeline_path), Path(result.timeline_path), media) == (
        _shown(source, FIXTURES / name, media))
