"""Which clips a plan holds: cover between tracks, the caller's selection, stable clip ids."""

from __future__ import annotations

import re
from pathlib import Path

import opentimelineio as otio
import pytest

from otio_adapters.inspect import format_plan_table
from otio_adapters.plan import PlanError, TimelinePlanner, derived_clip_id, plan_segments
from otio_adapters.read import read_timeline
from v2a.contracts import ClipAddress, Selection

FIXTURES = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "timelines"
needs_fixtures = pytest.mark.skipif(not FIXTURES.is_dir(), reason="../shared fixtures absent")
RT = otio.opentime.RationalTime
TR = otio.opentime.TimeRange


def clip(name, frames, start=0):
    ref = otio.schema.ExternalReference(target_url=f"/nowhere/{name}.mov")
    return otio.schema.Clip(
        name=name, media_reference=ref, source_range=TR(RT(start, 24), RT(frames, 24))
    )


def gap(frames):
    return otio.schema.Gap(source_range=TR(RT(0, 24), RT(frames, 24)))


def layered() -> otio.schema.Timeline:
    """V1: base 0..100; V2 'top': gap 20, mid 20..40, gap, end 80..120; V3 disabled, 0..120."""
    timeline = otio.schema.Timeline(name="layers")
    v1 = otio.schema.Track(name="base", kind=otio.schema.TrackKind.Video)
    v1.append(clip("base", 100))
    v2 = otio.schema.Track(name="top", kind=otio.schema.TrackKind.Video)
    for item in (gap(20), clip("mid", 20), gap(40), clip("end", 40)):
        v2.append(item)
    v3 = otio.schema.Track(name="off", kind=otio.schema.TrackKind.Video)
    v3.append(clip("hidden", 120))
    v3.enabled = False
    audio = otio.schema.Track(name="A1", kind=otio.schema.TrackKind.Audio)
    audio.append(clip("sound", 120))
    for track in (v1, audio, v2, v3):
        timeline.tracks.append(track)
    return timeline


def plan(timeline, selection: Selection | None = None):
    return plan_segments(
        timeline, timeline_path="/edit/cut.otio", selection=selection or Selection()
    )


def spans(segments):
    return [(s.clip_name, s.record_start_frame, s.record_frames) for s in segments]


def test_upper_tracks_cover_lower_ones_and_split_them():
    assert spans(plan(layered())) == [
        ("base", 0, 20),
        ("mid", 20, 20),
        ("base", 40, 40),
        ("end", 80, 40),
    ]


def test_naming_tracks_plans_only_those_tracks():
    assert spans(plan(layered(), Selection(tracks=("base",)))) == [("base", 0, 100)]
    assert spans(plan(layered(), Selection(tracks=("0",)))) == [("base", 0, 100)]
    assert spans(plan(layered(), Selection(tracks=("V2",)))) == [("mid", 20, 20), ("end", 80, 40)]


@pytest.mark.parametrize("selection", [
    Selection(), Selection(tracks=("base",)), Selection(tracks=("V2", "V1")),
    Selection(clips=(ClipAddress(track="top", record_time=3.5),)), Selection(time_range=(1.0, 2.0)),
], ids=["all", "lower track", "both tracks", "one clip", "time range"])
def test_a_selection_planned_with_the_whole_edit_comes_out_as_each_planned_alone(selection):
    timeline = layered()
    timeline.video_tracks()[0][0].metadata["v2a"] = {"clip_id": "base-take"}  # split: numbered
    where = {"timeline_path": "/edit/cut.otio", "cut_handle_seconds": 0.08}
    alone = plan_segments(timeline, selection=selection, **where), plan_segments(timeline, **where)
    planner = TimelinePlanner(timeline, **where)
    assert (planner.segments(selection), planner.segments()) == alone
    planner = TimelinePlanner(timeline, **where)  # the other way round
    assert (planner.segments(), planner.segments(selection))[::-1] == alone


def test_naming_a_missing_track_is_a_clear_error():
    with pytest.raises(
        PlanError, match=r"no video track 'V9'; its video tracks: 0 \(base\), 1 \(top\)"
    ):
        plan(layered(), Selection(tracks=("V9",)))


def test_clips_are_addressed_by_id_or_by_track_and_record_time():
    everything = plan(layered())
    by_id = plan(layered(), Selection(clips=(ClipAddress(clip_id=everything[2].clip_id),)))
    assert spans(by_id) == [("base", 40, 40)]
    by_time = plan(layered(), Selection(clips=(ClipAddress(track="top", record_time=3.5),)))
    assert spans(by_time) == [("end", 80, 40)]
    by_index = plan(layered(), Selection(clips=(ClipAddress(track="0", record_time=0.5),)))
    assert spans(by_index) == [("base", 0, 20)]


def test_an_address_that_matches_no_visible_clip_is_a_clear_error():
    with pytest.raises(PlanError, match="no visible clip matches clip id 'nope'"):
        plan(layered(), Selection(clips=(ClipAddress(clip_id="nope"),)))
    with pytest.raises(PlanError, match="track 'base' at 1.0 s"):
        plan(layered(), Selection(clips=(ClipAddress(track="base", record_time=1.0),)))


def test_an_unknown_clip_id_on_a_long_edit_lists_the_first_clips_and_points_to_inspect():
    """The clips an unknown id is told about stop at a few: a feature's hundreds of clips made
    one error line longer than a screen."""
    timeline = otio.schema.Timeline(name="long")
    track = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    for number in range(12):
        track.append(clip(f"shot {number}", 24, start=24 * number))
    timeline.tracks.append(track)
    with pytest.raises(PlanError) as error:
        plan(timeline, Selection(clips=(ClipAddress(clip_id="nope"),)))
    said = str(error.value)
    assert said.count(" (shot ") == 8 and "(shot 7)" in said and "(shot 8)" not in said
    assert said.endswith("and 4 more (`v2a inspect` lists them all)"), said


def test_a_track_is_named_once_when_its_name_is_its_number():
    """Premiere's tracks are named V1, V2…: messages said "on track V1 (V1)"."""
    from otio_adapters.plan import track_label

    assert track_label(0, "V1") == "track V1"
    assert track_label(1, "Picture") == "track V2 (Picture)"
    assert track_label(1, "V1") == "track V2 (V1)"  # a name that is another track's number
    assert track_label(2, "") == "track V3"


@pytest.mark.parametrize("selection, named", [
    (Selection(clips=(ClipAddress(track="top", record_time=float("nan")),)),
     "clips[0].record_time nan"),
    (Selection(clips=(ClipAddress(track="top"),)), "clips[0] give clip_id, or record_time"),
    (Selection(time_range=(0.0, float("inf"))), "time_range 0.0..inf"),
])
def test_an_address_or_range_naming_no_time_is_a_clear_error(selection, named):
    """`v2a generate --clip V1@nan` ended in a traceback: cannot convert NaN to integer ratio."""
    with pytest.raises(PlanError, match=re.escape(named)):
        plan(layered(), selection)


def test_time_range_keeps_the_segments_that_overlap_it():
    assert spans(plan(layered(), Selection(time_range=(1.0, 2.0)))) == [
        ("mid", 20, 20),
        ("base", 40, 40),
    ]


def test_ids_are_stable_across_runs_and_derived_from_track_start_and_name():
    first, second = plan(layered()), plan(layered())
    assert [s.clip_id for s in first] == [s.clip_id for s in second]
    assert first[1].clip_id == derived_clip_id(1, 20, "mid")
    assert len({s.clip_id for s in first}) == 4


def test_an_id_stored_in_the_clip_metadata_wins_and_split_parts_are_numbered():
    timeline = layered()
    timeline.video_tracks()[0][0].metadata["v2a"] = {"clip_id": "base-take"}
    assert [s.clip_id for s in plan(timeline)][::2] == ["base-take", "base-take.2"]


def test_a_timeline_whose_video_tracks_hold_only_gaps_is_a_clear_error():
    timeline = otio.schema.Timeline(name="empty")
    track = otio.schema.Track(kind=otio.schema.TrackKind.Video)
    track.append(gap(10))
    timeline.tracks.append(track)
    with pytest.raises(PlanError, match="'empty' has no video clips"):
        plan(timeline)


def test_disabled_clips_hide_nothing():
    timeline = layered()
    timeline.video_tracks()[1][1].enabled = False  # "mid"
    assert spans(plan(timeline))[:1] == [("base", 0, 80)]


@needs_fixtures
def test_inspect_table_shows_timecodes_from_the_timeline_start_speeds_and_offline_media():
    path = FIXTURES / "cmx3600_edl/speed_effects_small.edl"
    timeline = read_timeline(path)
    table = format_plan_table(plan_segments(timeline, timeline_path=str(path)), timeline)
    lines = table.splitlines()
    assert lines[0].split()[:4] == ["id", "track", "clip", "record"]
    freeze = [line for line in lines if "Z682_156 (LAY3)" in line][0]
    # The EDL's own record timecode: the adapter keeps its 01:00:00:00 start as a track trim.
    assert "01:08:30:00  01:08:30:17" in freeze and "freeze" in freeze and "OFFLINE" in freeze
    assert "1.983x" in table
    assert lines[-1] == "5 segment(s), 8.25s of picture: 5 offline"

    effects = FIXTURES / "otio/effects.otio"
    timeline = read_timeline(effects)
    table = format_plan_table(plan_segments(timeline, timeline_path=str(effects)), timeline)
    assert "01:00:00:00" in table.splitlines()[2]  # Resolve's timeline starts at one hour


def test_inspect_table_says_so_when_nothing_is_planned():
    assert "no segments" in format_plan_table([])


def test_a_clip_with_a_zero_frame_rate_is_a_clear_plan_error():
    timeline = layered()
    bad = timeline.video_tracks()[0][0]
    bad.source_range = TR(RT(0, 0), RT(10, 0))
    with pytest.raises(PlanError, match="cut.otio: timeline 'layers': cannot"):
        plan(timeline)
