"""Exact timing: NTSC rates, sample tiling at every timeline rate, timecode text."""

from __future__ import annotations

import random
from fractions import Fraction
from pathlib import Path

import opentimelineio as otio
import pytest

from otio_adapters.plan import plan_segments
from otio_adapters.read import read_timeline
from otio_adapters.timing import exact_rate, format_timecode, to_samples
from v2a.contracts import SAMPLE_RATE

RT = otio.opentime.RationalTime
TR = otio.opentime.TimeRange
FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "timelines"
needs_fixtures = pytest.mark.skipif(not FIXTURES.is_dir(), reason="../shared/fixtures is absent")


def test_float_rates_map_to_their_exact_values():
    assert exact_rate(29.97) == Fraction(30000, 1001)
    assert exact_rate(29.97002997002997) == Fraction(30000, 1001)
    assert exact_rate(23.976) == exact_rate(23.98) == Fraction(24000, 1001)
    assert exact_rate(59.94) == Fraction(60000, 1001)
    assert exact_rate(25.0) == 25 and exact_rate(50) == 50 and exact_rate(15) == 15
    with pytest.raises(ValueError):
        exact_rate(0)


def test_the_float_product_would_drift_but_exact_samples_do_not():
    # 107892 frames is one hour of 29.97 drop-frame timecode: 3599.9964 s, not 3600 s.
    exact = to_samples(Fraction(107892) / exact_rate(29.97))
    assert exact == 172_799_827
    assert round(107892 / 29.97 * SAMPLE_RATE) - exact == 173  # what float 29.97 would give


def edit(rate: float, lengths: list[int], start_frames: int = 0) -> otio.schema.Timeline:
    timeline = otio.schema.Timeline(name=f"{rate}")
    if start_frames:
        timeline.global_start_time = RT(start_frames, rate)
    track = otio.schema.Track(kind=otio.schema.TrackKind.Video)
    for i, length in enumerate(lengths):
        ref = otio.schema.ExternalReference(target_url=f"/nowhere/{i}.mov")
        track.append(
            otio.schema.Clip(
                name=f"shot{i}",
                media_reference=ref,
                source_range=TR(RT(1000 + i, rate), RT(length, rate)),
            )
        )
    timeline.tracks.append(track)
    return timeline


@pytest.mark.parametrize("rate", [23.976, 24, 25, 29.97, 30, 50, 59.94])
def test_segments_tile_the_timeline_exactly_at_every_rate(rate):
    rng = random.Random(int(rate * 100))
    lengths = [rng.randint(1, 400) for _ in range(300)]
    segments = plan_segments(edit(rate, lengths, start_frames=108000), timeline_path="/t/cut.otio")
    assert len(segments) == 300
    assert segments[0].start_sample == 0  # the 01:00:00:00-ish start is excluded
    for before, after in zip(segments, segments[1:], strict=False):
        assert before.start_sample + before.num_samples == after.start_sample
    total_frames = sum(lengths)
    end = segments[-1].start_sample + segments[-1].num_samples
    assert end == to_samples(Fraction(total_frames) / exact_rate(rate))
    assert [s.record_start_frame for s in segments[:3]] == [0, lengths[0], lengths[0] + lengths[1]]
    # Every boundary is the nearest sample to the exact frame time.
    position = 0
    for segment, length in zip(segments, lengths, strict=True):
        exact = Fraction(position) / exact_rate(rate) * SAMPLE_RATE
        assert abs(segment.start_sample - exact) <= Fraction(1, 2)
        position += length


@needs_fixtures
@pytest.mark.parametrize(
    ("name", "rate"),
    [
        ("fcpx_xml/fcpx_example.fcpxml", Fraction(30)),
        ("fcp7_xml/premiere_example.xml", Fraction(30)),
        ("aaf/transitions.aaf", Fraction(24)),
    ],
)
def test_handles_are_whole_frames_of_the_timeline_rate(name, rate):
    # Frame-based formats declare a take's start and length in frames: the default 0.08 s cut
    # handle is 2.4 frames at 30 fps, so it becomes 2 frames (3200 samples, not 3840).
    path = FIXTURES / name
    segments = plan_segments(read_timeline(path), timeline_path=str(path), cut_handle_seconds=0.08)
    assert_handles_are_whole_frames(segments, rate)
    if rate == 30:
        assert 2 * 1600 in [s.handle_after_samples for s in segments]


def assert_handles_are_whole_frames(segments, rate: Fraction) -> None:
    """Each take file's first and last sample sits on a frame boundary (to the nearest sample:
    at 29.97 fps one frame is 1601.6 samples)."""
    assert any(s.handle_before_samples or s.handle_after_samples for s in segments)
    for segment in segments:
        start = segment.start_sample - segment.handle_before_samples
        end = segment.start_sample + segment.num_samples + segment.handle_after_samples
        for sample in (start, end):
            frame = round(Fraction(sample, SAMPLE_RATE) * rate)
            assert sample == to_samples(frame / rate), (segment.clip_name, sample)


@pytest.mark.parametrize("rate", [23.976, 29.97, 30, 59.94])
def test_cut_handles_are_whole_frames_at_ntsc_rates(rate):
    timeline = edit(rate, [37, 5, 120, 1, 64], start_frames=108000)
    segments = plan_segments(timeline, timeline_path="/t/cut.otio", cut_handle_seconds=0.08)
    assert_handles_are_whole_frames(segments, exact_rate(rate))

    def frames_after_first_clip(frames: int) -> int:
        cut = Fraction(37) / exact_rate(rate)
        return to_samples(cut + frames / exact_rate(rate)) - to_samples(cut)

    # The nearest whole number of frames, at least one.
    assert segments[0].handle_after_samples == frames_after_first_clip(round(0.08 * rate))
    short = plan_segments(timeline, timeline_path="/t/cut.otio", cut_handle_seconds=0.001)
    assert short[0].handle_after_samples == frames_after_first_clip(1)


def test_upper_track_clips_over_a_ntsc_base_tile_with_the_parts_left_visible():
    rate = 29.97
    timeline = edit(rate, [1000])
    upper = otio.schema.Track(kind=otio.schema.TrackKind.Video)
    upper.append(otio.schema.Gap(source_range=TR(RT(0, rate), RT(101, rate))))
    ref = otio.schema.ExternalReference(target_url="/nowhere/up.mov")
    upper.append(
        otio.schema.Clip(
            name="up", media_reference=ref, source_range=TR(RT(0, rate), RT(333, rate))
        )
    )
    timeline.tracks.append(upper)
    segments = plan_segments(timeline, timeline_path="/t/cut.otio")
    assert [(s.clip_name, s.record_start_frame, s.record_frames) for s in segments] == [
        ("shot0", 0, 101),
        ("up", 101, 333),
        ("shot0", 434, 566),
    ]
    for before, after in zip(segments, segments[1:], strict=False):
        assert before.start_sample + before.num_samples == after.start_sample
    # The base clip's second visible part starts 434 frames into its source.
    assert segments[2].source_start == pytest.approx(float(Fraction(1000 + 434) / exact_rate(rate)))
    # Each visible part has its own id, derived from where it starts.
    assert segments[2].clip_id != segments[0].clip_id


def warped_stack(scalar: float, clip_lengths: list[int], stack_length: int) -> otio.schema.Stack:
    """A nested stack of `stack_length` record frames at 24 fps whose one track holds clips of
    `clip_lengths` frames, played at `scalar`."""
    inner = otio.schema.Track(kind=otio.schema.TrackKind.Video)
    for i, length in enumerate(clip_lengths):
        ref = otio.schema.ExternalReference(target_url=f"/nowhere/in{i}.mov")
        inner.append(
            otio.schema.Clip(
                name=f"inner{i}", media_reference=ref, source_range=TR(RT(0, 24), RT(length, 24))
            )
        )
    stack = otio.schema.Stack(name="nest", source_range=TR(RT(0, 24), RT(stack_length, 24)))
    stack.append(inner)
    stack.effects.append(otio.schema.LinearTimeWarp(time_scalar=scalar))
    return stack


def plan_saved(timeline: otio.schema.Timeline, tmp_path: Path):
    """Plan the timeline as read back from an .otio file, as a user's would be."""
    path = tmp_path / "nested.otio"
    otio.adapters.write_to_file(timeline, str(path))
    return plan_segments(read_timeline(path), timeline_path=str(path))


def test_a_warped_nested_stack_rounds_its_clips_to_whole_frames_and_tiles(tmp_path):
    # 10 frames at 0.75x last 13.33 record frames; the stack is 14 long, and its 14th frame
    # starts at source frame 9.75, still inside the clip.
    timeline = edit(24, [10, 10])
    timeline.video_tracks()[0].insert(1, warped_stack(0.75, [10], 14))
    segments = plan_saved(timeline, tmp_path)
    assert [(s.clip_name, s.record_start_frame, s.record_frames) for s in segments] == [
        ("shot0", 0, 10),
        ("inner0", 10, 14),
        ("shot1", 24, 10),
    ]
    assert [(s.start_sample, s.num_samples) for s in segments] == [
        (0, 20_000),
        (20_000, 28_000),
        (48_000, 20_000),
    ]


def test_a_clip_that_no_frame_shows_yields_no_segment(tmp_path):
    # At 4x, a 10-frame clip then a 1-frame clip last 2.5 and 0.25 record frames: frames 0-2
    # show source frames 0, 4 and 8, all of the first clip; the second is never on screen.
    timeline = edit(24, [5])
    timeline.video_tracks()[0].insert(0, warped_stack(4.0, [10, 1], 3))
    segments = plan_saved(timeline, tmp_path)
    assert [(s.clip_name, s.record_start_frame, s.record_frames) for s in segments] == [
        ("inner0", 0, 3),
        ("shot0", 3, 5),
    ]
    assert segments[0].start_sample + segments[0].num_samples == segments[1].start_sample


def test_reverse_clip_starts_from_its_last_frame():
    timeline = edit(24, [20])
    clip = timeline.video_tracks()[0][0]
    clip.effects.append(otio.schema.LinearTimeWarp(time_scalar=-1.0))
    (segment,) = plan_segments(timeline, timeline_path="/t/cut.otio")
    assert segment.speed == -1
    # Source 1000..1019: the first frame shown is 1019, the last 1000.
    assert segment.source_start == pytest.approx(1019 / 24)
    assert segment.source_start + segment.speed * (19 / 24) == pytest.approx(1000 / 24)


@pytest.mark.parametrize(
    "seconds, rate, drop, text",
    [
        (Fraction(3600), Fraction(24), None, "01:00:00:00"),
        (Fraction(539460) / Fraction(30000, 1001), Fraction(30000, 1001), None, "05:00:00;00"),
        (Fraction(1800) / Fraction(30000, 1001), Fraction(30000, 1001), None, "00:01:00;02"),
        (Fraction(17982) / Fraction(30000, 1001), Fraction(30000, 1001), None, "00:10:00;00"),
        (Fraction(1800) / Fraction(30000, 1001), Fraction(30000, 1001), False, "00:01:00:00"),
        (Fraction(3597) / Fraction(60000, 1001), Fraction(60000, 1001), None, "00:00:59;57"),
    ],
)
def test_timecode_text_matches_opentimelineio(seconds, rate, drop, text):
    assert format_timecode(seconds, rate, drop) == text
    frames = round(seconds * rate)
    assert otio.opentime.to_timecode(RT(frames, float(rate)), float(rate), drop) == text


@pytest.mark.parametrize("hidden", ["disabled", "title", "gap"])
def test_a_disabled_or_title_neighbour_is_no_cut_and_gives_no_cut_handle(hidden):
    """The rules ignore disabled clips, and titles yield nothing: beside either, the picture
    below shows, as beside a gap. They counted as a cut: a handle was generated past them, and a
    crossfade laid from the clip into what showed beneath."""
    timeline = edit(25, [25, 50, 25])
    track = timeline.tracks[0]
    middle = track[1]
    if hidden == "disabled":
        middle.enabled = False
    elif hidden == "title":
        middle.media_reference = otio.schema.GeneratorReference(generator_kind="SolidColor")
    else:
        track[1] = otio.schema.Gap(source_range=TR(RT(0, 25), RT(50, 25)))
    segments = plan_segments(timeline, timeline_path="/t/cut.otio", cut_handle_seconds=0.08)
    assert [s.clip_name for s in segments] == ["shot0", "shot2"]
    assert segments[0].handle_after_samples == 0 and segments[1].handle_before_samples == 0


def _clip(name: str, frames: int, rate: float = 25) -> otio.schema.Clip:
    return otio.schema.Clip(
        name=name,
        media_reference=otio.schema.ExternalReference(target_url=f"/nowhere/{name}.mov"),
        source_range=TR(RT(1000, rate), RT(frames, rate)),
    )


def _track(*items) -> otio.schema.Track:
    track = otio.schema.Track(kind=otio.schema.TrackKind.Video)
    for item in items:
        track.append(
            otio.schema.Gap(source_range=TR(RT(0, 25), RT(item, 25)))
            if isinstance(item, int)
            else item
        )
    return track


def _handles(timeline) -> list[tuple[str, int, int]]:
    """(clip, frames of handle before, after) for each visible part, in record order."""
    segments = plan_segments(timeline, timeline_path="/t/cut.otio", cut_handle_seconds=0.08)
    return [
        (s.clip_name, s.handle_before_samples // 1920, s.handle_after_samples // 1920)
        for s in segments
    ]


def test_a_clip_on_an_upper_track_cuts_in_and_out_of_the_picture_below_with_handles():
    """A cutaway on V2 over a V1 shot is two cuts in the picture: the sound crossfades there as
    at a cut on one track (it stopped dead: the cuts between tracks got no handle)."""
    timeline = otio.schema.Timeline(name="cutaway")
    timeline.tracks.append(_track(_clip("wide", 100)))
    timeline.tracks.append(_track(40, _clip("insert", 20)))
    assert _handles(timeline) == [("wide", 0, 2), ("insert", 2, 2), ("wide", 2, 0)]


def test_clips_butting_on_different_tracks_meet_at_a_cut_with_handles():
    timeline = otio.schema.Timeline(name="butt")
    timeline.tracks.append(_track(_clip("a", 50)))
    timeline.tracks.append(_track(50, _clip("b", 50)))
    assert _handles(timeline) == [("a", 0, 2), ("b", 2, 0)]


def test_a_transition_keeps_its_own_handle_at_a_cut_between_tracks():
    """Where the track's own transition already sets a side's handle, the cut rule leaves it."""
    lower = _track(_clip("a", 50), _clip("b", 50))
    lower.insert(1, otio.schema.Transition(in_offset=RT(5, 25), out_offset=RT(5, 25)))
    timeline = otio.schema.Timeline(name="dissolve")
    timeline.tracks.append(lower)
    timeline.tracks.append(_track(100, _clip("c", 10)))
    assert _handles(timeline) == [("a", 0, 5), ("b", 5, 2), ("c", 2, 0)]


def test_a_clip_on_an_upper_track_that_starts_at_a_cut_below_gets_its_own_handle():
    """A cutaway on V2 starting where V1 cuts to a shot it hides (a CMX 3600 key over its
    background): the V1 shot before got its cut handle from the hidden one, and the cutaway
    none, so the crossfade lay wholly after the cut, the cutaway's sound cut in without its
    lead-in; each side now has its own, a crossfade centred on the cut as along one track."""
    timeline = otio.schema.Timeline(name="cutaway at a cut")
    timeline.tracks.append(_track(_clip("wide", 50), _clip("hidden", 50)))
    timeline.tracks.append(_track(50, _clip("insert", 50)))
    assert _handles(timeline) == [("wide", 0, 2), ("insert", 2, 0)]


def test_a_clip_at_the_edge_of_a_nested_stack_takes_the_handle_at_the_stack_edge():
    """A nested sequence's first and last clips meet the outer track's neighbours: a cut there
    gets handles on both sides (the inner clips got none, so the crossfade was one-sided)."""
    nested = otio.schema.Stack(name="nest")
    nested.append(_track(_clip("in1", 30), _clip("in2", 30)))
    timeline = otio.schema.Timeline(name="nested")
    timeline.tracks.append(_track(_clip("before", 50), nested, _clip("after", 50)))
    assert _handles(timeline) == [
        ("before", 0, 2),
        ("in1", 2, 2),
        ("in2", 2, 2),
        ("after", 2, 0),
    ]


def test_the_generator_sees_half_a_second_of_context_beyond_the_handles_where_media_has_it():
    """shot0 starts at its media's first frame: no context before it. Each clip's media runs on
    (1000 frames): 12 frames (0.48 s, whole frames at 25 fps) after the cut handle."""
    timeline = otio.schema.Timeline(name="context")
    track = _track(_clip("first", 50), _clip("second", 50))
    track[0].source_range = TR(RT(0, 25), RT(50, 25))  # from the media's first frame
    track[0].media_reference.available_range = TR(RT(0, 25), RT(1000, 25))
    track[1].media_reference.available_range = TR(RT(0, 25), RT(2000, 25))
    timeline.tracks.append(track)
    first, second = plan_segments(timeline, timeline_path="/t/cut.otio", cut_handle_seconds=0.08)
    frame = 1920
    assert (first.handle_before_samples, first.context_before_samples) == (0, 0)
    assert (first.handle_after_samples, first.context_after_samples) == (2 * frame, 12 * frame)
    assert (second.handle_before_samples, second.context_before_samples) == (2 * frame, 12 * frame)
    seen = second.seen()
    assert seen.handle_before_samples == 14 * frame and seen.context_before_samples == 0
    assert seen.generated_samples == second.generated_samples + 24 * frame
