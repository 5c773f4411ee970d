"""plan_segments on the real editor exports: figures checked by hand against the files."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from otio_adapters.plan import PlanError, plan_segments, timeline_start
from otio_adapters.read import read_timeline
from v2a.contracts import SAMPLE_RATE

FIXTURES = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "timelines"
pytestmark = pytest.mark.skipif(not FIXTURES.is_dir(), reason="../shared fixtures absent")


def plan(name: str, **options):
    path = FIXTURES / name
    timeline = read_timeline(path, options=options)
    return plan_segments(timeline, timeline_path=str(path))


def by_name(segments, name):
    return [s for s in segments if s.clip_name == name]


def samples(frames: int, rate: Fraction) -> int:
    """Exact 48 kHz samples for a frame count, rounded half up."""
    return int(Fraction(frames) / rate * SAMPLE_RATE + Fraction(1, 2))


def test_premiere_xml_plans_the_visible_picture_of_four_tracks():
    segments = plan("fcp7_xml/premiere_example.xml")
    # V3 holds only a slug generator (no segment, hides nothing); V1's clip is mostly under V2.
    # V2's nested sequence at 636 shows its own two shots (the FCP7 XML reader read every
    # nested sequence as empty before the convert-losses session: no sound there).
    assert [(s.track_index, s.record_start_frame, s.record_frames) for s in segments] == [
        (1, 13, 100),
        (1, 165, 157),
        (1, 322, 235),
        (0, 557, 79),
        (1, 636, 100),
        (1, 736, 220),
        (3, 956, 208),
        (3, 1164, 82),
    ]
    assert all(s.clip_name != "test_title" for s in segments)
    assert [s.start_sample for s in segments] == [
        f * 1600 for f in (13, 165, 322, 557, 636, 736, 956, 1164)]


def test_fifteen_fps_clip_in_thirty_fps_sequence_maps_its_visible_part():
    segments = plan("fcp7_xml/premiere_example.xml")
    clip = [s for s in segments if s.track_index == 0][0]
    # The 15 fps clip sits at 536 (30 fps frames) with source 0; V2 covers it until 557.
    assert clip.clip_name == "sc01_sh010_anim.mov"
    assert clip.timeline_rate == 30
    assert clip.source_start == pytest.approx(21 / 30)
    assert clip.speed == 1
    assert (clip.start_sample, clip.num_samples) == (891_200, 126_400)


def test_transition_handles_come_from_the_offsets():
    segments = plan("fcp7_xml/premiere_example.xml")
    before_cut, after_cut = segments[-2], segments[-1]
    # Cross Dissolve at the cut at 1164: in_offset 12, out_offset 13 frames at 30 fps.
    assert after_cut.handle_before_samples == 12 * 1600
    assert before_cut.handle_after_samples == 13 * 1600
    assert before_cut.handle_before_samples == after_cut.handle_after_samples == 0


def test_same_edit_gives_the_same_ids_in_otio_and_fcp_xml():
    from_xml = plan("fcp7_xml/premiere_example.xml")
    from_otio = plan("otio/premiere_example.otio")
    # OTIO's premiere_example.otio was read from this XML by a reader that read the nested
    # sequence at 636 as empty: its shots are in the XML alone.
    nested = [s for s in from_xml if 636 <= s.record_start_frame < 956]
    assert [s.clip_id for s in from_xml if s not in nested] == [s.clip_id for s in from_otio]
    assert len({s.clip_id for s in from_xml}) == len(from_xml)


def test_disabled_clips_and_tracks_give_no_segment():
    segments = plan("fcp7_xml/premiere_enable_property.xml")
    assert [(s.clip_name, s.track_index, s.record_start_frame) for s in segments] == [
        ("source.mp4", 0, 0),
        ("source.mp4", 1, 81),
        ("source3.mp4", 0, 177),
    ]


def test_resolve_export_excludes_its_one_hour_start_and_top_track_covers_the_rest():
    segments = plan("otio/effects.otio")
    assert [s.track_name for s in segments] == ["Video 5"] * 4
    assert [s.record_start_frame for s in segments] == [0, 500, 816, 1027]
    assert segments[0].start_sample == 0
    assert sum(s.num_samples for s in segments) == 1125 * 2000  # the whole 1125 frames at 24
    assert all(s.status == "offline" for s in segments)
    assert "sq0100_sh0010_layout_v004.mp4" in segments[0].problem


def test_drop_frame_aaf_starting_at_five_hours_plans_from_zero_in_exact_samples():
    (segment,) = plan("aaf/2997fps-DFTC.aaf")
    assert segment.timeline_rate == pytest.approx(30000 / 1001)
    assert segment.start_sample == 0
    assert segment.record_frames == 2989
    assert segment.num_samples == samples(2989, Fraction(30000, 1001)) == 4_787_182


def test_avid_speed_effects_become_speeds_and_tile_the_sequence():
    segments = plan("aaf/linear_speed_effects.aaf")
    assert len(segments) == 20
    speeds = [s.speed for s in segments]
    expected = [1, 0.5, 1 / 3, 0.25, 2, 1, 2 / 3, 0.5, 3, 1.5, 1, 0.75, 4, 2, 4 / 3, 1, 5]
    assert speeds[:17] == pytest.approx(expected)
    ends = [s.start_sample + s.num_samples for s in segments]
    assert [s.start_sample for s in segments[1:]] == ends[:-1]
    assert ends[-1] == 50 * 2000


def test_edl_speed_effects_freeze_frame_and_fast_motion():
    segments = plan("cmx3600_edl/speed_effects_small.edl")
    freeze = by_name(segments, "Z682_156 (LAY3)")[0]
    fast = by_name(segments, "Z686_5A (LAY2) (47.56 FPS)")[0]
    assert freeze.speed == 0
    assert freeze.source_start == pytest.approx(86661 / 24)
    assert fast.speed == pytest.approx(47.6 / 24)
    assert (fast.record_start_frame, fast.start_sample) == (16600, 16600 * 2000)


def test_avid_transitions_give_handles_on_both_sides():
    segments = plan("aaf/transitions.aaf")
    hawk = by_name(segments, "t-hawk (loop)-HD.mp4")[0]
    koll = by_name(segments, "KOLL-HD.mp4")[0]
    # t-hawk follows a 48+0 frame dissolve and precedes a 12+12 one; KOLL follows a 24+24.
    assert (hawk.handle_before_samples, hawk.handle_after_samples) == (96_000, 24_000)
    assert koll.handle_before_samples == 48_000


def test_handles_are_limited_to_the_available_media():
    segments = plan("otio/transition.otio")
    clip2, clip3 = segments[1], segments[2]
    # The dissolve wants 3 frames after Clip-002 but its media has only 1 more frame (0..9).
    assert clip2.handle_after_samples == 2000
    # It wants 2 frames before Clip-003, whose media starts 2 frames before its in point.
    assert clip3.handle_before_samples == 4000


def test_edl_dissolve_gives_the_outgoing_clip_a_handle():
    segments = plan("cmx3600_edl/dissolve_test.edl")
    assert [s.clip_name for s in segments] == ["clip_A", "clip_B", "clip_B"]
    assert segments[0].handle_after_samples == 10 * 2000


def test_an_edl_starts_at_its_first_record_timecode_and_messages_count_from_it():
    # The CMX 3600 adapter keeps 01:00:00:00 only as a negative trim of the video track.
    path = FIXTURES / "cmx3600_edl/dissolve_test.edl"
    timeline = read_timeline(path)
    assert timeline.global_start_time is None
    assert timeline_start(timeline) == 3600
    segments = plan_segments(timeline, timeline_path=str(path))
    assert segments[0].start_sample == 0  # record positions still count from the start
    assert segments[0].status == "offline"
    assert "clip 'clip_A' on track V1 (V) at 01:00:00:00: media not found" in segments[0].problem
    assert " at 01:00:00:19: " in segments[2].problem


def test_edl_gaps_give_no_segment_and_keep_record_positions():
    segments = plan("cmx3600_edl/gap_test.edl")
    assert [(s.clip_name, s.record_start_frame) for s in segments] == [
        ("shot1", 0),
        ("shot2", 40),
        ("shot3", 102),
    ]


def test_25fps_edl_is_planned_at_25_fps():
    segments = plan("cmx3600_edl/25fps.edl", rate=25)
    assert [s.record_start_frame for s in segments] == [0, 161, 361, 447]
    assert segments[1].start_sample == 161 * 1920
    assert all(s.timeline_rate == 25 for s in segments)


def test_nested_stacks_and_tracks_are_flattened_with_their_offsets_and_warps():
    segments = plan("otio/nested_example.otio")
    names = [s.clip_name for s in segments]
    assert names == [
        "Normal Clip 1",
        "Clip Inside A Stack 1",
        "Normal Clip 2",
        "Clip Inside A Stack 2",
        "Normal Clip 3",
        "Clip Inside A Track",
        "Normal Clip 4",
    ]
    in_stack = segments[1]
    assert (in_stack.record_start_frame, in_stack.record_frames) == (238, 31)
    assert in_stack.source_start == pytest.approx(373 / 24)
    warped = segments[3]
    assert warped.speed == pytest.approx(0.8545454551724138)
    frozen = segments[5]
    assert (frozen.speed, frozen.record_start_frame, frozen.record_frames) == (0, 394, 4)
    assert frozen.source_start == pytest.approx(471 / 24)


def test_a_time_warped_nested_stack_fills_whole_frames_up_to_the_next_clip():
    # 'Nested Stack 2' is 29 frames at 0.8545x over a 24-frame clip: the clip's content ends
    # 28.085 frames in, but frame 28 starts inside it (source frame 23.93), so the clip is on
    # screen for all 29 frames and Normal Clip 3 follows at 331 with no gap.
    segments = plan("otio/nested_example.otio")
    warped = by_name(segments, "Clip Inside A Stack 2")[0]
    assert (warped.record_start_frame, warped.record_frames) == (302, 29)
    assert (warped.start_sample, warped.num_samples) == (302 * 2000, 29 * 2000)
    assert warped.source_start == pytest.approx(429 / 24)
    for before, after in zip(segments, segments[1:], strict=False):
        assert before.start_sample + before.num_samples == after.start_sample
        assert before.num_samples == samples(before.record_frames, Fraction(24))


def test_fcpx_compound_clips_are_flattened_to_their_visible_clips():
    segments = plan("fcpx_xml/fcpx_example.fcpxml")
    assert len(segments) == 11
    # compound_clip_1 at 2400 starts 109 frames into its content: IMG_0233's frames 109..300.
    inner = [s for s in segments if s.record_start_frame == 2400][0]
    assert (inner.clip_name, inner.record_frames) == ("IMG_0233", 191)
    assert inner.source_start == pytest.approx(109 / 30)
    # IMG_0740 on V2 is cut short by IMG_0857 on V3 at 1937.
    cut = by_name(segments, "IMG_0740")[0]
    assert (cut.record_start_frame, cut.record_frames) == (1785, 152)


def test_generator_only_timeline_plans_nothing():
    assert plan("otio/generator_reference_test.otio") == []


def test_image_sequence_reference_is_reported_with_the_first_frame_it_looked_for():
    (segment,) = plan("otio/img_seq_media_reference.otio")
    assert segment.status == "offline"
    assert "/tmp/PREGRADE MIXDOWN.125.exr" in segment.problem


def test_offline_media_names_the_clip_and_the_path_looked_for():
    segments = plan("aaf/one_clip.aaf")
    assert segments[0].status == "offline"
    assert "clip 'ppjoshm_1 (SIM1)'" in segments[0].problem
    assert "//VSD/Tools_Media/Avid MediaFiles/MXF/reverb.1/ppjoshm_1.V01" in segments[0].problem


def test_timeline_without_video_tracks_is_a_clear_error(tmp_path):
    import opentimelineio as otio

    timeline = otio.schema.Timeline(name="sound only")
    timeline.tracks.append(otio.schema.Track(kind=otio.schema.TrackKind.Audio))
    with pytest.raises(PlanError, match="timeline 'sound only' has no video tracks"):
        plan_segments(timeline, timeline_path=str(tmp_path / "x.otio"))


def test_cut_handles_are_optional_and_limited_to_the_media():
    path = FIXTURES / "otio/simple_cut.otio"
    timeline = read_timeline(path)
    assert all(
        s.handle_before_samples == s.handle_after_samples == 0
        for s in plan_segments(timeline, timeline_path=str(path))
    )
    segments = plan_segments(timeline, timeline_path=str(path), cut_handle_seconds=2 / 24)
    handles = [(s.handle_before_samples, s.handle_after_samples) for s in segments]
    # Clip-001 uses frames 3..5 of 0..7: 2 frames after; Clip-002 uses 2..7 of 0..7: 2 before,
    # none after; Clip-003 and Clip-004 start at their media's first frame.
    assert handles == [(0, 4000), (4000, 0), (0, 4000), (0, 0)]


def test_a_time_warped_nested_stack_shows_no_frame_past_its_clips_out_point():
    """What the editor sees of 'Clip Inside A Stack 2' (a 24-frame clip, its stack 29 frames at
    0.8545x): OTIO lays the stack over 29 frames of its track and reads 24.78 frames of its
    content, which ends at 24; past it the nest holds nothing (no later item of the nest, and
    the outer track's next clip starts at the stack's end). Each record frame shows the picture
    at its start, so frame 28 (source 23.93) shows the clip's last frame and none shows a frame
    past its out point: the frames the generator is shown under the segment are all the clip's
    (the 0.78 frame of source past 24 is the continuous map's, under frame 28, never read)."""
    from v2a.media.frames import file_times_at

    warped = by_name(plan("otio/nested_example.otio"), "Clip Inside A Stack 2")[0]
    record = [frame / 24 for frame in range(warped.record_frames)]
    frames = [int((t + warped.media.media_start) * 24 + 1e-6)
              for t in file_times_at(warped, np.asarray(record))]
    assert frames[0] == 429 and frames[-1] == 452  # the clip's 24 frames, 429..452
    assert max(frames) < 429 + 24
