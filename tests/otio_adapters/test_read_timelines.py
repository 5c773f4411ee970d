"""read_timeline on every real fixture, and clear errors for everything that cannot be read."""

from __future__ import annotations

from pathlib import Path

import opentimelineio as otio
import pytest

from otio_adapters.read import TimelineReadError, format_for_path, read_timeline

FIXTURES = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "timelines"
needs_fixtures = pytest.mark.skipif(not FIXTURES.is_dir(), reason="../shared fixtures absent")

# Every fixture, with the options it needs and the number of video tracks it must yield.
READABLE = {
    "otio/premiere_example.otio": ({}, 4),
    "otio/effects.otio": ({}, 8),
    "otio/transition.otio": ({}, 1),
    "otio/nested_example.otio": ({}, 1),
    "otio/simple_cut.otio": ({}, 1),
    "otio/generator_reference_test.otio": ({}, 1),
    "otio/img_seq_media_reference.otio": ({}, 1),
    "fcp7_xml/premiere_example.xml": ({}, 4),
    "fcp7_xml/premiere_enable_property.xml": ({}, 3),
    "fcpx_xml/fcpx_example.fcpxml": ({}, 3),
    "aaf/simple.aaf": ({}, 1),
    "aaf/transitions.aaf": ({}, 1),
    "aaf/one_clip.aaf": ({}, 1),
    "aaf/2997fps-DFTC.aaf": ({}, 1),
    "aaf/linear_speed_effects.aaf": ({}, 1),
    "cmx3600_edl/25fps.edl": ({"rate": 25}, 1),
    "cmx3600_edl/dissolve_test.edl": ({}, 1),
    "cmx3600_edl/gap_test.edl": ({}, 1),
    "cmx3600_edl/premiere_example.edl": ({}, 1),
    "cmx3600_edl/speed_effects_small.edl": ({}, 1),
}
REJECTED = {"cmx3600_edl/timecode_mismatch.edl": "Timecode '01:00:01:24' has frames beyond 23"}


@needs_fixtures
def test_every_fixture_is_listed_as_readable_or_rejected():
    on_disk = {
        str(p.relative_to(FIXTURES))
        for p in FIXTURES.rglob("*")
        if p.is_file() and p.suffix not in (".md", ".mov")
    }
    assert on_disk == set(READABLE) | set(REJECTED)


@needs_fixtures
@pytest.mark.parametrize("name", sorted(READABLE))
def test_fixture_reads_into_a_timeline_with_its_video_tracks(name):
    options, video_tracks = READABLE[name]
    timeline = read_timeline(FIXTURES / name, options=options)
    assert isinstance(timeline, otio.schema.Timeline)
    assert len(timeline.video_tracks()) == video_tracks


@needs_fixtures
def test_timecode_mismatch_edl_is_rejected_naming_file_format_and_timecode():
    path = FIXTURES / "cmx3600_edl/timecode_mismatch.edl"
    with pytest.raises(TimelineReadError) as caught:
        read_timeline(path)
    message = str(caught.value)
    assert str(path) in message
    assert "CMX 3600 EDL" in message
    assert REJECTED["cmx3600_edl/timecode_mismatch.edl"] in message
    assert "Traceback" not in message and "\n" not in message


@needs_fixtures
def test_timecode_mismatch_edl_is_rejected_at_other_rates_too():
    # Named by line and event (the reader's "Source and record duration don't match" named
    # neither, only a clip name that several events share).
    with pytest.raises(TimelineReadError, match="line 13, event 004: the source runs 49 frames "
                                                "and the record 47 at 25 fps"):
        read_timeline(FIXTURES / "cmx3600_edl/timecode_mismatch.edl", options={"rate": 25})


@needs_fixtures
def test_a_25_fps_list_read_at_the_default_rate_names_the_flag_that_reads_it():
    """'pass the rate option' left a newcomer to find `--rate` in `v2a inspect --help`."""
    with pytest.raises(TimelineReadError, match=r"at 24 fps .*give it: `--rate R`"):
        read_timeline(FIXTURES / "cmx3600_edl/25fps.edl")


@needs_fixtures
def test_edl_rate_option_sets_the_timeline_rate():
    timeline = read_timeline(FIXTURES / "cmx3600_edl/25fps.edl", options={"rate": 25})
    assert timeline.duration() == otio.opentime.RationalTime(496, 25)


@needs_fixtures
def test_fcpxml_with_two_projects_gives_the_first_or_the_named_one():
    path = FIXTURES / "fcpx_xml/fcpx_example.fcpxml"
    assert read_timeline(path).name == "OpenTimeline_Project"
    assert read_timeline(path, options={"timeline": "1"}).name == "OpenTimeline_Project 1"
    assert read_timeline(path, options={"timeline": "OpenTimeline_Project 1"}).name.endswith("1")
    with pytest.raises(TimelineReadError, match="no timeline 'nope'.*OpenTimeline_Project"):
        read_timeline(path, options={"timeline": "nope"})


@needs_fixtures
def test_a_timeline_not_in_the_file_is_told_the_names_and_indexes_there_are():
    """"it holds 0: 'Big Buck Bunny (v2a sample)'" read as a file holding no timeline."""
    path = FIXTURES / "fcpx_xml/fcpx_example.fcpxml"
    with pytest.raises(TimelineReadError) as error:
        read_timeline(path, options={"timeline": "2"})
    assert str(error.value).endswith(
        "no timeline '2' in the file; it holds 2 timelines: 'OpenTimeline_Project' (index 0), "
        "'OpenTimeline_Project 1' (index 1)"), str(error.value)


@needs_fixtures
def test_explicit_format_overrides_the_extension(tmp_path):
    renamed = tmp_path / "cut.txt"
    renamed.write_bytes((FIXTURES / "cmx3600_edl/gap_test.edl").read_bytes())
    with pytest.raises(TimelineReadError, match="unknown timeline format '.txt'"):
        read_timeline(renamed)
    assert len(list(read_timeline(renamed, format="cmx_3600").find_clips())) == 3
    assert len(list(read_timeline(renamed, format="edl").find_clips())) == 3


def test_format_for_path_knows_every_editor_extension():
    assert format_for_path("a/b.OTIO") == "otio_json"
    assert format_for_path("b.otioz") == "otioz"
    assert format_for_path("b.otiod") == "otiod"
    assert format_for_path("b.xml") == "fcp_xml"
    assert format_for_path("b.fcpxml") == "fcpx_xml"
    assert format_for_path("b.fcpxmld") == "fcpx_xml"
    assert format_for_path("b.aaf") == "AAF"
    assert format_for_path("b.edl") == "cmx_3600"
    assert format_for_path("b.kdenlive") == "kdenlive"
    with pytest.raises(TimelineReadError, match="unknown timeline format '.mov'"):
        format_for_path("clip.mov")


def test_missing_file_is_named(tmp_path):
    path = tmp_path / "nowhere.otio"
    with pytest.raises(
        TimelineReadError, match=r"nowhere\.otio: cannot read OTIO JSON: file not found"
    ):
        read_timeline(path)


def test_empty_file_is_named(tmp_path):
    path = tmp_path / "empty.aaf"
    path.write_bytes(b"")
    with pytest.raises(TimelineReadError, match="empty.aaf: cannot read AAF: the file is empty"):
        read_timeline(path)


def test_a_file_that_is_not_aaf_is_named_without_quoting_its_bytes(tmp_path):
    """The AAF reader's own message quotes the file's first 8 bytes, which a panel on another
    machine would read out of any file it named."""
    path = tmp_path / "secret.aaf"
    path.write_bytes(b"TOP-SECRET: not an AAF file")
    with pytest.raises(TimelineReadError) as error:
        read_timeline(path)
    assert "secret.aaf: cannot read as AAF" in str(error.value)
    assert "no AAF (compound file) signature" in str(error.value)
    assert "TOP-SECR" not in str(error.value)


def test_unknown_format_name_is_rejected(tmp_path):
    path = tmp_path / "a.otio"
    path.write_text("{}")
    with pytest.raises(TimelineReadError, match="unknown timeline format 'premiere'"):
        read_timeline(path, format="premiere")


def test_bad_edl_rate_option_is_rejected(tmp_path):
    path = tmp_path / "a.edl"
    path.write_text("TITLE: x\n")
    with pytest.raises(TimelineReadError, match="rate option must be a positive number"):
        read_timeline(path, options={"rate": "fast"})


GARBLE_SOURCES = {
    "OTIO JSON": "otio/simple_cut.otio",
    "Final Cut Pro 7 XML": "fcp7_xml/premiere_example.xml",
    "Final Cut Pro X XML": "fcpx_xml/fcpx_example.fcpxml",
    "AAF": "aaf/one_clip.aaf",
    "CMX 3600 EDL": "cmx3600_edl/gap_test.edl",
}


@needs_fixtures
@pytest.mark.parametrize("label", sorted(GARBLE_SOURCES))
@pytest.mark.parametrize("damage", ["truncated", "random bytes"])
def test_damaged_file_of_each_format_is_rejected_in_plain_words(tmp_path, label, damage):
    source = FIXTURES / GARBLE_SOURCES[label]
    data = source.read_bytes()
    if damage == "truncated":
        data = data[: len(data) // 2]
    else:
        data = bytes((i * 151 + 7) % 256 for i in range(4096))  # deterministic noise
    path = tmp_path / source.name
    path.write_bytes(data)
    with pytest.raises(TimelineReadError) as caught:
        read_timeline(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: cannot read as {label}: ")
    assert "\n" not in message and "Traceback" not in message


def test_well_formed_xml_that_is_no_kdenlive_project_says_so(tmp_path):
    """It read as a bare AttributeError: 'NoneType' object has no attribute 'get'."""
    path = tmp_path / "other.kdenlive"
    path.write_text('<?xml version="1.0"?><mlt><producer id="x"/></mlt>')
    with pytest.raises(TimelineReadError, match="the file parses, but not as a Kdenlive project"):
        read_timeline(path)


def test_a_text_file_that_is_not_an_edl_is_rejected(tmp_path):
    path = tmp_path / "notes.edl"
    path.write_text("hello\nthis is not an edit decision list\n")
    with pytest.raises(TimelineReadError, match="cannot read as CMX 3600 EDL: EDLParseError"):
        read_timeline(path)


def test_otio_json_holding_a_clip_not_a_timeline_is_rejected(tmp_path):
    path = tmp_path / "clip.otio"
    otio.adapters.write_to_file(otio.schema.Clip(name="lonely"), str(path))
    with pytest.raises(TimelineReadError, match="holds a Clip, not a timeline"):
        read_timeline(path)


def test_an_fcpxml_with_no_project_says_it_holds_no_timeline(tmp_path):
    """It said "Final Cut Pro X XML holds a NoneType, not a timeline": Python's name for
    nothing, where an editor had exported an event's clips and no project."""
    path = tmp_path / "clips only.fcpxml"
    path.write_text('<?xml version="1.0"?>\n<fcpxml version="1.9"></fcpxml>\n')
    with pytest.raises(TimelineReadError) as error:
        read_timeline(path)
    assert str(error.value) == f"{path}: Final Cut Pro X XML holds no timeline"


def test_kdenlive_project_is_detected_and_read_without_printing(tmp_path, capsys):
    timeline = otio.schema.Timeline(name="kd", global_start_time=otio.opentime.RationalTime(0, 25))
    track = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    ref = otio.schema.ExternalReference(
        target_url=str(tmp_path / "a.mp4"),
        available_range=otio.opentime.TimeRange(
            otio.opentime.RationalTime(0, 25), otio.opentime.RationalTime(100, 25)
        ),
    )
    track.append(
        otio.schema.Clip(
            name="a",
            media_reference=ref,
            source_range=otio.opentime.TimeRange(
                otio.opentime.RationalTime(10, 25), otio.opentime.RationalTime(50, 25)
            ),
        )
    )
    timeline.tracks.append(track)
    path = tmp_path / "project.kdenlive"
    otio.adapters.write_to_file(timeline, str(path), adapter_name="kdenlive")
    capsys.readouterr()
    (clip,) = read_timeline(path).find_clips()
    assert capsys.readouterr().out == ""  # the adapter's deprecation banner stays off stdout
    assert clip.source_range.duration.to_frames() == 50


@needs_fixtures
def test_an_option_the_reader_does_not_take_is_named():
    with pytest.raises(TimelineReadError, match="OTIO JSON reader does not take the option"):
        read_timeline(FIXTURES / "otio/simple_cut.otio", options={"rate": 25})


@needs_fixtures
def test_fcpxmld_bundle_reads_its_info_document(tmp_path):
    bundle = tmp_path / "Project.fcpxmld"
    bundle.mkdir()
    (bundle / "Info.fcpxml").write_bytes((FIXTURES / "fcpx_xml/fcpx_example.fcpxml").read_bytes())
    assert read_timeline(bundle).name == "OpenTimeline_Project"
    (bundle / "Info.fcpxml").unlink()
    with pytest.raises(TimelineReadError, match="bundle has no Info.fcpxml"):
        read_timeline(bundle)


@needs_fixtures
def test_pyaaf2s_notes_on_a_premiere_aaf_are_not_warnings_to_the_editor(caplog):
    """pyaaf2 logs on the root logger what it mends while reading: Premiere's AAF printed seven
    'WARNING root: Fraction(0,0) not mathematically plausible…' lines and 'INFO root: read
    dir_sector_count missmatch' amid `v2a inspect`'s table."""
    import logging

    caplog.set_level(logging.DEBUG)
    read_timeline(FIXTURES / "aaf" / "2997fps-DFTC.aaf")
    shown = [r.getMessage() for r in caplog.records if r.levelno >= logging.INFO]
    assert not [m for m in shown if "Fraction(0,0)" in m or "dir_sector_count" in m], shown
    assert any("Fraction(0,0)" in r.getMessage() for r in caplog.records)  # still in -v's log


def test_a_missing_file_or_a_folder_is_said_so_not_an_unknown_format(tmp_path):
    """`v2a inspect cut` (no extension, no such file) and `v2a inspect project/` said "unknown
    timeline format '(no extension)'"."""
    with pytest.raises(TimelineReadError, match=r"cut: file not found$"):
        read_timeline(tmp_path / "cut")
    with pytest.raises(TimelineReadError, match=r": a folder, not a timeline file$"):
        read_timeline(tmp_path)
    (tmp_path / "cut.mov").write_bytes(b"\0")  # an existing file of another kind still names them
    with pytest.raises(TimelineReadError, match=r"unknown timeline format '.mov'; known"):
        read_timeline(tmp_path / "cut.mov")
