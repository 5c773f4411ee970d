"""Media resolution in plan_segments: paths, URLs, relinking, probing, offline and invalid clips.

Real movies are synthesized with PyAV (v2a.media.synth) and probed for real; a fake probe is
used only where the test is about how often or how badly probing goes.
"""

from __future__ import annotations

import os
import shutil
import sys
from fractions import Fraction
from pathlib import Path
from urllib.parse import quote

import numpy as np
import opentimelineio as otio
import pytest

from otio_adapters.inspect import format_plan_table
from otio_adapters.plan import plan_segments
from otio_adapters.read import read_timeline
from v2a.media.errors import MediaError
from v2a.media.frames import read_segment_frames
from v2a.media.synth import make_image_sequence, make_test_movie

FIXTURES = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "timelines"
needs_fixtures = pytest.mark.skipif(not FIXTURES.is_dir(), reason="../shared fixtures absent")
RT = otio.opentime.RationalTime
TR = otio.opentime.TimeRange


def movie(path: Path, frames: int, rate=24, timecode="00:00:00:00") -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    return make_test_movie(
        str(path), frames=frames, rate=rate, size=(64, 48), start_timecode=timecode
    )


def clip(name, url, start, duration, rate=24, available=None, effects=()):
    ref = otio.schema.ExternalReference(target_url=url, available_range=available)
    item = otio.schema.Clip(
        name=name, media_reference=ref, source_range=TR(RT(start, rate), RT(duration, rate))
    )
    for effect in effects:
        item.effects.append(effect)
    return item


def timeline_of(*items, rate=24) -> otio.schema.Timeline:
    timeline = otio.schema.Timeline(name="test")
    track = otio.schema.Track(name="V", kind=otio.schema.TrackKind.Video)
    for item in items:
        track.append(item)
    timeline.tracks.append(track)
    return timeline


@needs_fixtures
def test_relinks_by_file_name_under_a_root_in_a_stable_order(tmp_path):
    for name in ("titles.mov", "wind-up.mov", "punchline.mov", "credits.mov"):
        movie(tmp_path / "roots" / "a" / "deep" / name, frames=12)
    movie(tmp_path / "roots" / "b" / "titles.mov", frames=12)  # a later copy: never chosen
    path = FIXTURES / "otio/transition.otio"
    segments = plan_segments(
        read_timeline(path), timeline_path=str(path), relink_roots=[str(tmp_path / "roots")]
    )
    assert [s.status for s in segments] == ["ok"] * 4
    assert segments[0].media.path == str(tmp_path / "roots/a/deep/titles.mov")
    assert segments[0].media.referenced == "file:///folder/titles.mov"
    assert segments[0].media.rate == 24
    # credits.mov's reference says its media starts at frame 100: the source is in that space.
    assert segments[3].media.media_start == pytest.approx(100 / 24)
    assert segments[3].source_start == pytest.approx(100 / 24)


def test_relative_paths_and_percent_encoded_file_urls_resolve_from_the_timeline_folder(tmp_path):
    relative = movie(tmp_path / "edit" / "media" / "shot one.mov", frames=24)
    absolute = movie(tmp_path / "elsewhere" / "take #2.mov", frames=24)
    timeline = timeline_of(
        clip("a", "media/shot one.mov", 0, 10),
        clip("b", "file://" + quote(absolute), 5, 10),
    )
    segments = plan_segments(timeline, timeline_path=str(tmp_path / "edit" / "cut.otio"))
    assert [s.status for s in segments] == ["ok", "ok"]
    assert segments[0].media.path == relative
    assert segments[1].media.path == absolute
    assert segments[1].source_start == pytest.approx(5 / 24)


def test_offline_clip_names_the_path_and_the_relink_roots(tmp_path):
    timeline = timeline_of(clip("lost", "file:///Volumes/gone/lost.mov", 0, 10))
    (segment,) = plan_segments(
        timeline, timeline_path=str(tmp_path / "cut.otio"), relink_roots=[str(tmp_path)]
    )
    assert segment.status == "offline"
    assert segment.media.offline
    assert "clip 'lost'" in segment.problem
    assert "/Volumes/gone/lost.mov" in segment.problem
    assert f"'lost.mov' under {tmp_path}" in segment.problem


def test_clip_running_past_the_end_of_its_media_is_invalid(tmp_path):
    path = movie(tmp_path / "short.mov", frames=10)
    timeline = timeline_of(clip("long", path, 5, 10))
    (segment,) = plan_segments(timeline, timeline_path=str(tmp_path / "cut.otio"))
    assert segment.status == "invalid"
    assert path in segment.problem and "covers only" in segment.problem
    assert "00:00:00:05-00:00:00:15" in segment.problem


def test_zero_length_and_unreadable_media_are_invalid_not_fatal(tmp_path):
    empty = tmp_path / "empty.mov"
    empty.write_bytes(b"")
    garbage = tmp_path / "garbage.mov"
    garbage.write_bytes(b"not a movie at all" * 100)
    good = movie(tmp_path / "good.mov", frames=24)
    timeline = timeline_of(
        clip("e", str(empty), 0, 5), clip("g", str(garbage), 0, 5), clip("ok", good, 0, 5)
    )
    segments = plan_segments(timeline, timeline_path=str(tmp_path / "cut.otio"))
    assert [s.status for s in segments] == ["invalid", "invalid", "ok"]
    assert str(empty) in segments[0].problem and "empty" in segments[0].problem
    assert str(garbage) in segments[1].problem


def test_media_start_comes_from_the_file_timecode_without_an_available_range(tmp_path):
    path = movie(tmp_path / "camera.mov", frames=48, timecode="01:00:00:00")
    timeline = timeline_of(clip("cam", path, 86400 + 10, 20))
    (segment,) = plan_segments(timeline, timeline_path=str(tmp_path / "cut.otio"))
    assert segment.status == "ok"
    assert segment.media.media_start == pytest.approx(3600)
    assert segment.source_start == pytest.approx(3600 + 10 / 24)


def test_transition_handles_are_limited_by_the_probed_media_length(tmp_path):
    a = movie(tmp_path / "a.mov", frames=24)
    b = movie(tmp_path / "b.mov", frames=24)
    dissolve = otio.schema.Transition(in_offset=RT(6, 24), out_offset=RT(6, 24))
    timeline = timeline_of(clip("a", a, 0, 20), dissolve, clip("b", b, 2, 20))
    first, second = plan_segments(timeline, timeline_path=str(tmp_path / "cut.otio"))
    assert first.handle_after_samples == 4 * 2000  # only frames 20..23 exist after a's out
    assert second.handle_before_samples == 2 * 2000  # only frames 0..1 exist before b's in
    assert first.handle_before_samples == second.handle_after_samples == 0


@needs_fixtures
def test_missing_references_are_relinked_by_clip_name(tmp_path):
    # gap_test.edl names no files: clips shot1..3 with source timecodes 00:10, 23:00, 10:00.
    for name, timecode in (
        ("shot1", "00:10:00:00"),
        ("shot2", "23:00:00:00"),
        ("shot3", "10:00:00:00"),
    ):
        movie(tmp_path / f"{name}.mov", frames=30, timecode=timecode)
    path = FIXTURES / "cmx3600_edl/gap_test.edl"
    segments = plan_segments(
        read_timeline(path), timeline_path=str(path), relink_roots=[str(tmp_path)]
    )
    assert [s.status for s in segments] == ["ok"] * 3
    assert [Path(s.media.path).name for s in segments] == ["shot1.mov", "shot2.mov", "shot3.mov"]
    assert segments[1].media.media_start == pytest.approx(23 * 3600)


def test_a_still_image_is_held_for_the_whole_clip(tmp_path):
    (still,) = make_image_sequence(str(tmp_path), "card", ".png", 1, 1, 0)
    timeline = timeline_of(clip("card", still, 0, 48, available=TR(RT(0, 24), RT(1, 24))))
    (segment,) = plan_segments(timeline, timeline_path=str(tmp_path / "cut.otio"))
    assert (segment.status, segment.speed, segment.record_frames) == ("ok", 0.0, 48)


def test_image_sequence_resolves_to_its_folder(tmp_path):
    make_image_sequence(str(tmp_path / "edit" / "frames"), "shot.", ".png", 1001, 48, 4)
    ref = otio.schema.ImageSequenceReference(
        target_url_base="frames/",
        name_prefix="shot.",
        name_suffix=".png",
        start_frame=1001,
        frame_step=1,
        rate=24,
        frame_zero_padding=4,
        available_range=TR(RT(1001, 24), RT(48, 24)),
    )
    item = otio.schema.Clip(
        name="seq", media_reference=ref, source_range=TR(RT(1010, 24), RT(20, 24))
    )
    (segment,) = plan_segments(timeline_of(item), timeline_path=str(tmp_path / "edit" / "cut.otio"))
    assert segment.status == "ok"
    sequence = segment.media.image_sequence
    assert sequence.directory == str(tmp_path / "edit" / "frames")
    assert sequence.frame_path(1010) == str(tmp_path / "edit" / "frames" / "shot.1010.png")
    assert segment.source_start == pytest.approx(1010 / 24)
    assert segment.media.media_start == pytest.approx(1001 / 24)


@needs_fixtures
def test_fixture_image_sequence_relinks_but_its_range_lies_outside_the_frames(tmp_path):
    make_image_sequence(str(tmp_path / "exr"), "PREGRADE MIXDOWN.", ".exr", 125, 3, 0)
    path = FIXTURES / "otio/img_seq_media_reference.otio"
    (segment,) = plan_segments(
        read_timeline(path), timeline_path=str(path), relink_roots=[str(tmp_path)]
    )
    assert segment.media.image_sequence.directory == str(tmp_path / "exr")
    # The clip asks for frames from 900000 (10:25:00:00) of a sequence that covers 125..283.
    assert segment.status == "invalid"
    assert "10:25:00:00" in segment.problem


class FakeInfo:
    def __init__(self, duration=10.0, fps=24.0, start_timecode=0.0):
        self.duration, self.fps, self.start_timecode = duration, fps, start_timecode


def test_each_media_file_is_probed_once(tmp_path):
    path = tmp_path / "a.mov"
    path.write_bytes(b"x")
    calls = []

    def probe(p):
        calls.append(p)
        return FakeInfo()

    timeline = timeline_of(*(clip(f"c{i}", str(path), i * 10, 10) for i in range(5)))
    segments = plan_segments(timeline, timeline_path=str(tmp_path / "cut.otio"), probe=probe)
    assert [s.status for s in segments] == ["ok"] * 5
    assert calls == [str(path)]


def test_a_probe_that_fails_in_any_way_marks_the_clip_not_the_plan(tmp_path):
    bad, worse = tmp_path / "bad.mov", tmp_path / "worse.mov"
    bad.write_bytes(b"x")
    worse.write_bytes(b"x")

    def probe(p):
        if p.endswith("bad.mov"):
            raise MediaError(f"{p}: not a readable media file")
        raise RuntimeError("decoder exploded")

    timeline = timeline_of(clip("b", str(bad), 0, 5), clip("w", str(worse), 0, 5))
    first, second = plan_segments(timeline, timeline_path=str(tmp_path / "cut.otio"), probe=probe)
    assert first.status == second.status == "invalid"
    assert "bad.mov: not a readable media file" in first.problem
    assert "worse.mov" in second.problem and "decoder exploded" in second.problem


def test_relink_prefers_the_path_as_written_when_it_exists(tmp_path):
    here = movie(tmp_path / "here" / "a.mov", frames=12)
    shutil.copy(here, tmp_path / "a_copy.mov")
    (tmp_path / "root").mkdir()
    shutil.copy(here, tmp_path / "root" / "a.mov")
    timeline = timeline_of(clip("a", here, 0, 5))
    (segment,) = plan_segments(
        timeline, timeline_path=str(tmp_path / "cut.otio"), relink_roots=[str(tmp_path / "root")]
    )
    assert segment.media.path == here
    assert Fraction(segment.num_samples, 2000) == 5


_listed: list[str] | None = None  # folders read while a test records them (listed_folders)


def _record_listing(event: str, args: tuple) -> None:
    if _listed is not None and event in ("os.listdir", "os.scandir") and args[0] is not None:
        _listed.append(os.fspath(args[0]))


@pytest.fixture
def listed_folders():
    """The folders read while the test runs, whatever reads them (Python's audit events)."""
    global _listed
    if not getattr(sys, "_v2a_listing_hook", False):  # a hook cannot be removed: install once
        sys.addaudithook(_record_listing)
        sys._v2a_listing_hook = True
    _listed = []
    yield _listed
    _listed = None


def test_relink_folders_are_searched_only_when_some_media_is_missing(tmp_path, listed_folders):
    home = tmp_path / "home"
    (home / "photos").mkdir(parents=True)
    here = movie(tmp_path / "edit" / "a.mov", frames=12)
    every_file_found = timeline_of(clip("a", here, 0, 5))
    one_missing = timeline_of(clip("a", here, 0, 5), clip("b", "file:///gone/b.mov", 0, 5))

    plan_segments(every_file_found, timeline_path=str(tmp_path / "edit" / "cut.otio"),
                  relink_roots=[str(home)])
    assert not [f for f in listed_folders if f.startswith(str(home))]
    segments = plan_segments(one_missing, timeline_path=str(tmp_path / "edit" / "cut.otio"),
                             relink_roots=[str(home)])
    assert str(home / "photos") in listed_folders and segments[1].status == "offline"


@pytest.mark.parametrize("bundle", ["otioz", "otiod"])
def test_media_inside_otio_bundles_is_found(tmp_path, bundle):
    source = movie(tmp_path / "src" / "a.mov", frames=30)
    timeline = timeline_of(
        clip("a", "file://" + source, 10, 10, available=TR(RT(0, 24), RT(30, 24)))
    )
    path = tmp_path / "out" / f"cut.{bundle}"
    path.parent.mkdir()
    otio.adapters.write_to_file(timeline, str(path))
    shutil.rmtree(tmp_path / "src")  # only the bundle's copy is left
    (segment,) = plan_segments(read_timeline(path), timeline_path=str(path))
    assert segment.status == "ok", segment.problem
    assert segment.media.referenced == "media/a.mov"
    assert Path(segment.media.path).name == "a.mov" and Path(segment.media.path).is_file()
    if bundle == "otioz":  # extracted into the user's own cache, not a shared /tmp folder
        from otio_adapters.media_refs import otioz_cache_dir

        cache = Path(otioz_cache_dir())
        assert cache in Path(segment.media.path).parents
        assert cache.stat().st_mode & 0o077 == 0
        assert not list(cache.glob(".extracting-*"))  # no staging folder left behind


def test_image_sequence_missing_its_last_frame_file_is_invalid(tmp_path):
    paths = make_image_sequence(str(tmp_path / "frames"), "s.", ".png", 1, 20, 3)
    Path(paths[-1]).unlink()  # frame 20 is gone
    ref = otio.schema.ImageSequenceReference(
        target_url_base=str(tmp_path / "frames"),
        name_prefix="s.",
        name_suffix=".png",
        start_frame=1,
        rate=24,
        frame_zero_padding=3,
        available_range=TR(RT(0, 24), RT(20, 24)),
    )
    whole = otio.schema.Clip(
        name="all", media_reference=ref, source_range=TR(RT(0, 24), RT(20, 24))
    )
    part = otio.schema.Clip(
        name="part", media_reference=ref.clone(), source_range=TR(RT(0, 24), RT(19, 24))
    )
    bad, good = plan_segments(timeline_of(whole, part), timeline_path=str(tmp_path / "cut.otio"))
    assert bad.status == "invalid" and bad.problem.endswith(f"frame {paths[-1]} is missing")
    assert good.status == "ok"


def test_a_reference_with_an_empty_url_is_looked_up_by_clip_name(tmp_path):
    found = movie(tmp_path / "media" / "interview.mov", frames=30)
    timeline = timeline_of(clip("interview", "", 0, 10), clip("nobody", "", 0, 10))
    ok, lost = plan_segments(
        timeline, timeline_path=str(tmp_path / "cut.otio"), relink_roots=[str(tmp_path / "media")]
    )
    assert (ok.status, ok.media.path) == ("ok", found)
    assert lost.status == "offline"
    assert "names no media file; looked for a file named 'nobody'" in lost.problem


def test_a_still_that_does_not_decode_is_invalid(tmp_path):
    broken = tmp_path / "card.png"
    broken.write_bytes(b"not a png" * 40)
    (segment,) = plan_segments(
        timeline_of(clip("card", str(broken), 0, 24)), timeline_path=str(tmp_path / "c.otio")
    )
    assert segment.status == "invalid"
    assert str(broken) in segment.problem and "does not decode" in segment.problem


def sequence_clip(folder: Path, start: int, duration: int, available=None) -> otio.schema.Clip:
    ref = otio.schema.ImageSequenceReference(
        target_url_base=str(folder),
        name_prefix="s.",
        name_suffix=".png",
        start_frame=1,
        rate=24,
        frame_zero_padding=3,
        available_range=available,
    )
    return otio.schema.Clip(
        name="seq", media_reference=ref, source_range=TR(RT(start, 24), RT(duration, 24))
    )


def test_image_sequence_without_an_available_range_gets_handles_only_where_files_are(tmp_path):
    make_image_sequence(str(tmp_path / "frames"), "s.", ".png", 1, 20, 3)  # s.001..s.020
    a = movie(tmp_path / "a.mov", frames=48)
    timeline = timeline_of(
        clip("a", a, 0, 12), sequence_clip(tmp_path / "frames", 0, 18), clip("b", a, 20, 12)
    )
    _, seq, _ = plan_segments(
        timeline, timeline_path=str(tmp_path / "cut.otio"), cut_handle_seconds=4 / 24
    )
    # Nothing before s.001; s.019 and s.020 after the out point. Unlimited, the handle before
    # asked for frames -3..0, which are not there, and the clip failed when decoded.
    assert seq.status == "ok"
    assert (seq.handle_before_samples, seq.handle_after_samples) == (0, 2 * 2000)


def test_image_sequence_missing_a_frame_in_the_middle_is_invalid(tmp_path):
    paths = make_image_sequence(str(tmp_path / "frames"), "s.", ".png", 1, 20, 3)
    Path(paths[9]).unlink()  # s.010
    (segment,) = plan_segments(
        timeline_of(sequence_clip(tmp_path / "frames", 2, 14, TR(RT(0, 24), RT(20, 24)))),
        timeline_path=str(tmp_path / "cut.otio"),
    )
    # Only the first and last frame were looked at: inspect said ok, generate failed on s.010.
    assert segment.status == "invalid" and segment.problem.endswith(f"frame {paths[9]} is missing")


def test_a_variable_frame_rate_clip_is_placed_by_source_timecode_at_its_nominal_rate(tmp_path):
    """A phone's 30 fps that dropped frames (26.87 fps on average), its timecode 01:00:00:00, cut
    by source timecode with no available range (as an EDL gives it): its source second 1 is
    file time 1 s, shown as 01:00:01:00. Counted at the average, the media started at 3618 s
    (the clip invalid), and its source timecodes read at 27 fps showed 00:59:43:02."""
    frame = 1 / 30
    times = [0.0]
    for index in range(59):
        times.append(times[-1] + (2 * frame if index % 9 == 4 else frame))
    path = make_test_movie(str(tmp_path / "phone.mov"), frames=60, rate=30, frame_times=times,
                           size=(64, 48), start_timecode="01:00:00:00")
    (segment,) = plan_segments(
        timeline_of(clip("phone", path, 108_030, 30, rate=30), rate=30),
        timeline_path=str(tmp_path / "cut.otio"),
    )
    assert segment.status == "ok" and segment.media.media_start == 3600.0
    assert segment.source_start == pytest.approx(3601.0)
    row = format_plan_table([segment], None).splitlines()[2]
    assert row.split()[6] == "01:00:01:00"  # source in


def test_image_sequence_handles_and_context_stop_at_a_missing_frame_beyond_them(tmp_path):
    paths = make_image_sequence(str(tmp_path / "frames"), "s.", ".png", 1, 30, 3)
    Path(paths[7]).unlink()  # s.008, two frames before the clip's first (s.011)
    Path(paths[20]).unlink()  # s.021, two frames after its last (s.018)
    a = movie(tmp_path / "a.mov", frames=48)
    available = TR(RT(0, 24), RT(30, 24))
    timeline = timeline_of(
        clip("a", a, 0, 12), sequence_clip(tmp_path / "frames", 10, 8, available), clip("b", a, 20, 12)
    )
    _, seq, _ = plan_segments(
        timeline, timeline_path=str(tmp_path / "cut.otio"), cut_handle_seconds=4 / 24
    )
    # Its own frames are all there, so it is ok: the handles take the two frames on each side and
    # the context nothing more. Unlimited, they read s.008 and s.021, and the clip failed at
    # generation ("image 8 ... is missing") though inspect had said ok.
    assert seq.status == "ok"
    assert (seq.handle_before_samples, seq.context_before_samples) == (2 * 2000, 0)
    assert (seq.handle_after_samples, seq.context_after_samples) == (2 * 2000, 0)
    frames = read_segment_frames(seq.seen(), 24, 32)  # every frame it is shown is on disk
    assert len(frames) == (seq.seen().generated_samples * 24 + 47_999) // 48_000


@pytest.mark.parametrize("suffix", [".webp", ".ppm", ".tga"])
def test_stills_of_every_format_the_decoder_holds_are_held(tmp_path, suffix):
    from PIL import Image

    from v2a.media.synth import draw_frame

    still = tmp_path / f"card{suffix}"
    Image.fromarray(draw_frame(5, 64, 48)).save(still)
    (segment,) = plan_segments(
        timeline_of(clip("card", str(still), 0, 24)), timeline_path=str(tmp_path / "cut.otio")
    )
    # Probed as a movie, these read as zero length: 'invalid' for a picture that decodes.
    assert (segment.status, segment.speed) == ("ok", 0.0)


def test_an_animated_gif_plays_and_a_gif_of_one_frame_is_held(tmp_path):
    def gif(name, frames):
        return make_test_movie(
            str(tmp_path / name), frames=frames, rate=25, codec="gif", start_timecode=None
        )

    spinner, logo = gif("spinner.gif", 25), gif("logo.gif", 1)
    timeline = timeline_of(
        clip("spinner", spinner, 5, 10, rate=25),
        clip("logo", logo, 0, 50, rate=25),
        clip("spinner too long", spinner, 15, 20, rate=25),
    )
    plays, held, too_long = plan_segments(timeline, timeline_path=str(tmp_path / "cut.otio"))
    assert (plays.status, plays.speed, plays.source_start) == ("ok", 1.0, 0.2)
    assert (held.status, held.speed) == ("ok", 0.0)
    # Its frames run out at 1 s, like a movie's.
    assert too_long.status == "invalid" and "covers only" in too_long.problem


def test_a_clip_to_the_last_frame_of_an_mpeg_program_stream_is_within_its_media(tmp_path):
    dvd = make_test_movie(
        str(tmp_path / "dvd.mpg"), frames=150, rate=25, codec="mpeg2video", start_timecode=None
    )
    (segment,) = plan_segments(
        timeline_of(clip("ending", dvd, 140, 10, rate=25)), timeline_path=str(tmp_path / "c.otio")
    )
    # FFmpeg's estimate of the length was 8 frames short: the clip read as running past it.
    assert (segment.status, segment.problem) == ("ok", "")


def test_a_copy_cut_short_is_invalid_naming_the_clip_and_the_file(tmp_path):
    whole = make_test_movie(
        str(tmp_path / "whole.mov"), frames=48, rate=24, size=(64, 48), fast_start=True
    )
    data = Path(whole).read_bytes()
    copy = tmp_path / "copy.mov"
    copy.write_bytes(data[: len(data) // 2])
    (segment,) = plan_segments(
        timeline_of(clip("interview", str(copy), 0, 12)), timeline_path=str(tmp_path / "c.otio")
    )
    # Its first frames are still there, but the file needs copying again: said at plan time.
    assert segment.status == "invalid"
    assert segment.problem.startswith("clip 'interview' on track V1 (V) at 00:00:00:00: ")
    assert f"{copy}: the file is cut short" in segment.problem


def test_a_clip_on_a_raw_h264_stream_is_planned_from_its_counted_frames(tmp_path):
    # A screen recorder's .h264 has no container: FFmpeg states no length, and the clip was
    # 'invalid' ("media has zero length").
    recording = make_test_movie(
        str(tmp_path / "screen.h264"), frames=90, rate=30, size=(64, 48), start_timecode=None
    )
    (segment,) = plan_segments(
        timeline_of(clip("screen", recording, 30, 60, rate=30), rate=30),
        timeline_path=str(tmp_path / "c.otio"),
    )
    assert (segment.status, segment.problem) == ("ok", "")


def test_a_clip_past_the_end_of_media_at_another_rate_names_its_source_timecodes(tmp_path):
    """A 59.94 fps camera file cut into a 23.976 timeline: the message counts source timecodes
    at the file's rate, as the editor's source monitor shows them (at the timeline's rate the
    file's end read 01:00:03:08, a timecode the editor finds nowhere)."""
    fast = make_test_movie(str(tmp_path / "slowmo.mov"), frames=200, rate=60000 / 1001,
                           size=(64, 48), start_timecode="01:00:00;00", drop_frame=True)
    timeline = timeline_of(
        clip("too long", fast, 0, 96, rate=24000 / 1001),  # 4.004 s of a 3.337 s file
    )
    timeline.video_tracks()[0][0].source_range = TR(
        RT(215784, 60000 / 1001), RT(96, 24000 / 1001)  # from 01:00:00;00 at 59.94 DF
    )
    (segment,) = plan_segments(timeline, timeline_path=str(tmp_path / "cut.otio"))
    assert segment.status == "invalid"
    assert "uses source 01:00:00;00-01:00:04;00 but" in segment.problem
    assert "covers only 01:00:00;00-01:00:03;20" in segment.problem


def _png(path: Path, alpha: int) -> str:
    """A 64x48 RGBA picture: a white corner logo, the rest at `alpha`."""
    from PIL import Image

    picture = np.zeros((48, 64, 4), np.uint8)
    picture[..., 3] = alpha
    picture[:12, :16] = 255
    Image.fromarray(picture, "RGBA").save(path)
    return str(path)


def test_a_see_through_picture_on_an_upper_track_hides_nothing(tmp_path):
    """A logo or lower third (a PNG, PNG frames with transparency) over a shot shows the shot
    through it: the shot plays on under it in one piece and the logo makes no sound of its own,
    as a title. It cut the shot's sound in two, with a take of the held logo between. A picture
    saved with an alpha channel but opaque still hides what lies beneath."""
    shot = movie(tmp_path / "shot.mov", 48)
    logo, card = _png(tmp_path / "logo.png", alpha=0), _png(tmp_path / "card.png", alpha=255)
    (tmp_path / "lower_third").mkdir()
    for number in range(1001, 1013):  # a title rendered as PNG frames with alpha
        _png(tmp_path / "lower_third" / f"lt.{number}.png", alpha=0)
    rendered = otio.schema.Clip("rendered", otio.schema.ImageSequenceReference(
        target_url_base="lower_third/", name_prefix="lt.", name_suffix=".png", start_frame=1001,
        rate=24), TR(RT(0, 24), RT(12, 24)))
    timeline = timeline_of(clip("shot", shot, 0, 48))
    for name, item, start in (("logo", clip("logo", logo, 0, 12), 0),
                              ("rendered", rendered, 12), ("card", clip("card", card, 0, 12), 36)):
        upper = otio.schema.Track(name=name, kind=otio.schema.TrackKind.Video)
        upper.extend([otio.schema.Gap(source_range=TR(RT(0, 24), RT(start, 24))), item])
        timeline.tracks.append(upper)
    pieces = plan_segments(timeline, timeline_path=str(tmp_path / "cut.otio"))
    shown = [(p.clip_name, p.record_start_frame, p.record_frames, p.status) for p in pieces]
    assert shown == [("shot", 0, 36, "ok"), ("card", 36, 12, "ok")]


def test_a_see_through_picture_inside_a_nested_sequence_hides_nothing(tmp_path):
    """A nested sequence of a shot with the channel's logo over its first second (as Premiere
    nests them): the shot plays on under the logo in one piece, as on the timeline's own
    tracks. Inside the nest the logo cut the shot in two, with a hole where it was."""
    shot = movie(tmp_path / "shot.mov", 48)
    logo = _png(tmp_path / "logo.png", alpha=0)
    nested = otio.schema.Stack(name="nest")
    lower = otio.schema.Track(name="nest V1", kind=otio.schema.TrackKind.Video)
    lower.append(clip("shot", shot, 0, 48))
    upper = otio.schema.Track(name="nest V2", kind=otio.schema.TrackKind.Video)
    upper.extend([otio.schema.Gap(source_range=TR(RT(0, 24), RT(6, 24))), clip("logo", logo, 0, 24)])
    nested.extend([lower, upper])
    pieces = plan_segments(timeline_of(nested), timeline_path=str(tmp_path / "cut.otio"))
    shown = [(p.clip_name, p.record_start_frame, p.record_frames, p.status) for p in pieces]
    assert shown == [("shot", 0, 48, "ok")]
