"""The editor's FCPXML transitions: read into OTIO where Final Cut put them, planned with, and
written back into the FCPXML v2a returns (the adapter reads and writes none)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from fractions import Fraction
from pathlib import Path

import opentimelineio as otio
import pytest

from otio_adapters.fcpx_document import DOCUMENT
from otio_adapters.fcpx_time import parse_seconds
from otio_adapters.fcpx_transitions import TRANSITIONS_NOT_READ
from otio_adapters.plan import plan_segments
from otio_adapters.read import OTHER_TIMELINES, read_timeline
from otio_adapters.write import write_timeline

RT = otio.opentime.RationalTime
TR = otio.opentime.TimeRange
FIXTURES = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "timelines"
EXAMPLE = FIXTURES / "fcpx_xml" / "fcpx_example.fcpxml"
needs_fixtures = pytest.mark.skipif(not EXAMPLE.is_file(), reason="../shared fixtures absent")
CROSS_DISSOLVE_UID = "FxPlug:4731E73A-8DAC-4113-9A30-AE85B1761265"


def _layout(track: otio.schema.Track) -> list[tuple]:
    """Each item of a track: a transition's name and sides, a clip's or gap's record frames."""
    rows = []
    for item in track:
        if isinstance(item, otio.schema.Transition):
            rows.append(("transition", item.name, item.in_offset.value, item.out_offset.value))
        else:
            record = track.range_of_child(item)
            rows.append((item.name, record.start_time.value, record.duration.value))
    return rows


def _tracks(timeline: otio.schema.Timeline) -> dict[str, list[tuple]]:
    return {track.name: _layout(track) for track in timeline.tracks}


@needs_fixtures
def test_fcpxml_dissolves_are_read_over_their_cuts_with_the_clips_in_place():
    # Final Cut centres a dissolve on its cut (the spine's at 9.5 s over the cut at 10 s) and
    # puts one at a storyline's start wholly on its first clip (a fade from nothing). The
    # reader read none: their handles were never generated.
    timeline = read_timeline(EXAMPLE)
    tracks = _tracks(timeline)
    assert tracks["0"][:3] == [
        ("IMG_0715", 0, 300),
        ("transition", "Cross Dissolve", 15, 15),
        ("", 300, 2100),
    ]
    assert tracks["1"] == [
        ("", 0, 600),
        ("IMG_0513", 600, 300),
        ("", 900, 600),
        ("transition", "Cross Dissolve", 0, 30),  # the storyline starts at 50 s
        ("IMG_0268", 1500, 285),
        ("transition", "Cross Dissolve", 15, 15),
        ("IMG_0740", 1785, 285),
    ]
    assert TRANSITIONS_NOT_READ not in timeline.metadata.get("fcpx_xml", {})


@needs_fixtures
def test_fcpxml_dissolves_give_the_clips_handles_under_them():
    # Half a second (24,000 samples) on each side of a centred 1 s dissolve; none before a fade
    # in from nothing. Without the transitions every handle was 0.
    segments = plan_segments(read_timeline(EXAMPLE), timeline_path=str(EXAMPLE))
    handles = {
        (s.clip_name, s.record_start_frame): (s.handle_before_samples, s.handle_after_samples)
        for s in segments
    }
    assert handles[("IMG_0715", 0)] == (0, 24000)
    assert handles[("IMG_0268", 1500)] == (0, 24000)
    assert handles[("IMG_0740", 1785)] == (24000, 0)


@needs_fixtures
def test_the_editors_fcpxml_transitions_are_written_back_where_they_were(tmp_path):
    # The file's first project, without its document and the record of the file's other
    # project, as a timeline from another format is written (the editor's own document keeps
    # its transitions as they are: test_fcpx_document); else the note would say the second
    # project is not in what v2a writes.
    source = read_timeline(EXAMPLE, options={"timeline": 0})
    del source.metadata[DOCUMENT]
    del source.metadata["v2a_read"][OTHER_TIMELINES]
    written, fallback, note = write_timeline(source, str(tmp_path / "out.fcpxml"), "fcpx_xml")
    assert (fallback, note) == ("", "")  # nothing lost to say
    root = ET.parse(written).getroot()
    spine = root.find("./project/sequence/spine")

    # In the primary storyline, between the clip and the gap, with its filters as they were.
    tags = [(child.tag, child.get("name")) for child in spine]
    assert tags[:3] == [("clip", "IMG_0715"), ("transition", "Cross Dissolve"), ("gap", "Gap")]
    dissolve = spine[1]
    assert (dissolve.get("offset"), dissolve.get("duration")) == ("19/2s", "1s")
    video, audio = dissolve
    assert (video.tag, audio.tag) == ("filter-video", "filter-audio")
    assert video.find("./param[@name='Amount']").get("value") == "50"
    effects = {e.get("id"): e.get("uid") for e in root.iterfind("./resources/effect")}
    assert effects[video.get("ref")] == CROSS_DISSOLVE_UID
    assert effects[audio.get("ref")] == "FFAudioTransition"

    # The connected clips it joins are a storyline again (Final Cut has transitions only there).
    (storyline,) = spine.iterfind("./*/spine")
    assert storyline.get("lane") == "1"
    assert [(child.tag, child.get("name"), child.get("offset")) for child in storyline] == [
        ("transition", "Cross Dissolve", "0s"),
        ("clip", "IMG_0268", "0s"),
        ("transition", "Cross Dissolve", "9s"),
        ("clip", "IMG_0740", "19/2s"),
    ]
    assert all(child.get("lane") is None for child in storyline)

    # Read back: the same transitions, the same clips in the same places.
    assert _tracks(read_timeline(written)) == _tracks(source)


def _clip(name: str, frames: int, rate: float) -> otio.schema.Clip:
    return otio.schema.Clip(
        name=name,
        source_range=TR(RT(100, rate), RT(frames, rate)),
        media_reference=otio.schema.ExternalReference(
            target_url=f"file:///m/{name}.mov", available_range=TR(RT(0, rate), RT(1000, rate))
        ),
    )


def _dissolve(before: int, after: int, rate: float) -> otio.schema.Transition:
    return otio.schema.Transition(
        name="Dissolve",
        transition_type=otio.schema.TransitionTypes.SMPTE_Dissolve,
        in_offset=RT(before, rate),
        out_offset=RT(after, rate),
    )


def _edit(rate: float) -> otio.schema.Timeline:
    """Dissolves as another format gives them: on V1, on V2 (a fade in from a gap), on A1."""
    v1 = otio.schema.Track(name="V1")
    v1.extend([_clip("a", 50, rate), _dissolve(5, 5, rate), _clip("b", 60, rate)])
    v2 = otio.schema.Track(name="V2")
    v2.extend([otio.schema.Gap(source_range=TR(RT(0, rate), RT(20, rate))),
               _dissolve(0, 6, rate), _clip("c", 30, rate), _dissolve(4, 4, rate),
               _clip("d", 30, rate)])
    a1 = otio.schema.Track(name="A1", kind=otio.schema.TrackKind.Audio)
    a1.extend([_clip("x", 40, rate), _dissolve(3, 3, rate), _clip("y", 40, rate)])
    timeline = otio.schema.Timeline(name="edit")
    timeline.tracks.extend([v1, v2, a1])
    return timeline


def _transitions(timeline: otio.schema.Timeline) -> list[list[tuple]]:
    return [
        [(item.in_offset.value, item.out_offset.value) for item in track
         if isinstance(item, otio.schema.Transition)]
        for track in timeline.tracks
    ]


def test_dissolves_from_another_format_are_written_as_final_cuts_own(tmp_path):
    timeline = _edit(25)
    written, fallback, note = write_timeline(timeline, str(tmp_path / "out.fcpxml"), "fcpx_xml")
    assert (fallback, note) == ("", "")
    root = ET.parse(written).getroot()
    effects = {e.get("id"): e.get("uid") for e in root.iterfind("./resources/effect")}

    def filters(transition):
        return [(f.tag, effects[f.get("ref")]) for f in transition]

    spine = root.find("./project/sequence/spine")
    (primary,) = spine.iterfind("./transition")
    assert (primary.get("offset"), primary.get("duration")) == ("9/5s", "2/5s")  # 45 + 10 frames
    assert filters(primary) == [("filter-video", CROSS_DISSOLVE_UID),
                                ("filter-audio", "FFAudioTransition")]
    storylines = {s.get("lane"): s for s in spine.iterfind("./*/spine")}
    assert [child.tag for child in storylines["1"]] == ["transition", "clip", "transition", "clip"]
    # The audio track's crossfade is Final Cut's "Audio Crossfade" alone.
    (crossfade,) = storylines["-1"].iterfind("./transition")
    assert crossfade.get("name") == "Audio Crossfade"
    assert filters(crossfade) == [("filter-audio", "FFAudioTransition")]

    back = read_timeline(written)
    by_kind = {t.kind: t for t in back.tracks}  # V1 "0", V2 "1", A1 "-1"
    assert _transitions(back) == [[(3, 3)], [(5, 5)], [(0, 6), (4, 4)]]
    assert _layout(by_kind[otio.schema.TrackKind.Audio])[0] == ("x", 0, 40)


def test_ntsc_transitions_are_written_at_the_true_rate_from_the_start_timecode(tmp_path):
    # 29.97 drop frame from 01:00:00;00: the file counts true seconds from tcStart, as the
    # clips do; read back, the dissolve is where it was.
    rate = 30000 / 1001
    timeline = _edit(rate)
    timeline.global_start_time = RT(107892, rate)  # 01:00:00;00
    written, _, _ = write_timeline(timeline, str(tmp_path / "out.fcpxml"), "fcpx_xml")
    root = ET.parse(written).getroot()
    sequence = root.find("./project/sequence")
    (primary,) = sequence.iterfind("./spine/transition")
    start = parse_seconds(sequence.get("tcStart"))
    assert parse_seconds(primary.get("offset")) - start == Fraction(45 * 1001, 30000)
    assert parse_seconds(primary.get("duration")) == Fraction(10 * 1001, 30000)
    assert _transitions(read_timeline(written)) == [[(3, 3)], [(5, 5)], [(0, 6), (4, 4)]]


def test_transitions_final_cut_cannot_hold_are_named_in_the_note(tmp_path):
    # One fading out past the end of the track (nothing to fade over), one inside a nested
    # stack (the adapter writes it as a compound clip): not written, and said.
    timeline = _edit(25)
    v1 = timeline.tracks[0]
    v1.append(_dissolve(5, 5, 25))
    nested = otio.schema.Stack(name="compound", source_range=TR(RT(0, 25), RT(40, 25)))
    inner = otio.schema.Track(name="inner")
    inner.extend([_clip("e", 20, 25), _dissolve(2, 2, 25), _clip("f", 20, 25)])
    nested.append(inner)
    timeline.tracks[1].append(nested)
    written, fallback, note = write_timeline(timeline, str(tmp_path / "out.fcpxml"), "fcpx_xml")
    assert "the editor's transitions Final Cut cannot hold where they are (2:" in note
    assert fallback.endswith(".otio")
    root = ET.parse(written).getroot()
    assert len(list(root.iterfind("./project/sequence/spine/transition"))) == 1
