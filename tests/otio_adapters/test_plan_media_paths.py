"""How media paths written on other machines are read, and how relinking chooses a file."""

from __future__ import annotations

import os
import unicodedata
from urllib.parse import quote

import numpy as np
import opentimelineio as otio
import pytest

from otio_adapters.media_refs import RelinkIndex, file_name, locate_file, url_to_path
from otio_adapters.plan import plan_segments
from v2a.media.frames import SegmentFrames
from v2a.media.synth import make_test_movie, read_frame_number

RT = otio.opentime.RationalTime
TR = otio.opentime.TimeRange


@pytest.mark.parametrize(
    "url, path",
    [
        ("file:///Users/me/My%20Clip.mov", "/Users/me/My Clip.mov"),
        ("file://localhost/D%3a/media/shot.mov", "D:/media/shot.mov"),
        ("file:///C:/media/shot.mov", "C:/media/shot.mov"),
        (
            "file://VSD/Tools_Media/Avid%20MediaFiles/a.mxf",
            "//VSD/Tools_Media/Avid MediaFiles/a.mxf",
        ),
        ("/plain/path with space.mov", "/plain/path with space.mov"),
        ("media/relative.mov", "media/relative.mov"),
    ],
)
def test_file_urls_become_local_paths(url, path):
    assert url_to_path(url) == path


def test_file_names_are_taken_from_paths_of_any_system():
    assert file_name("D:\\media\\Shot 1.mov") == "Shot 1.mov"
    assert file_name("D:/media/shot.mov") == "shot.mov"
    assert file_name("/Volumes/A/shot.mov") == "shot.mov"


def test_relink_takes_a_folders_files_before_its_subfolders_in_name_order(tmp_path):
    for relative in ("b/x.mov", "a/deeper/x.mov", "a/x.mov", "c/X.MOV"):
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_bytes(b"x")
    index = RelinkIndex((str(tmp_path),))
    assert index.find("x.mov") == str(tmp_path / "a" / "x.mov")
    assert index.find("X.mov") == str(tmp_path / "a" / "x.mov")  # case-insensitive fallback
    assert index.find_media_named("x") == str(tmp_path / "a" / "x.mov")
    assert index.find("y.mov") is None


def test_relink_roots_are_searched_in_the_order_given(tmp_path):
    for root in ("first", "second"):
        (tmp_path / root).mkdir()
        (tmp_path / root / "shot.mov").write_bytes(b"x")
    index = RelinkIndex((str(tmp_path / "second"), str(tmp_path / "first")))
    located = locate_file("file:///gone/shot.mov", str(tmp_path), index)
    assert located.path == str(tmp_path / "second" / "shot.mov")


def test_relink_follows_links_but_enters_no_folder_twice(tmp_path):
    """Two links back up a level (as /usr/lib/llvm-14/build has) made the walk exponential: a
    walk of /usr was past 1.1 million files after 20 s."""
    import threading

    (tmp_path / "media" / "day1").mkdir(parents=True)
    (tmp_path / "media" / "day1" / "shot.mov").write_bytes(b"x")
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "linked.mov").write_bytes(b"x")
    for name, target in (("a", "."), ("b", "."), ("up", ".."), ("z", "../../elsewhere")):
        (tmp_path / "media" / "day1" / name).symlink_to(target)
    found = {}

    def search():
        index = RelinkIndex((str(tmp_path / "media"),))
        found.update(shot=index.find("shot.mov"), linked=index.find("linked.mov"))

    walk = threading.Thread(target=search, daemon=True)
    walk.start()
    walk.join(10)
    assert not walk.is_alive(), "the relink walk did not end"
    assert found["shot"] == str(tmp_path / "media" / "day1" / "shot.mov")
    assert found["linked"] == str(tmp_path / "media" / "day1" / "z" / "linked.mov")


def test_a_relink_root_too_big_to_search_is_named_in_the_offline_message(tmp_path):
    for index in range(5):
        (tmp_path / "home" / f"folder{index}").mkdir(parents=True)
    (tmp_path / "home" / "zz" / "lost.mov").parent.mkdir()
    (tmp_path / "home" / "zz" / "lost.mov").write_bytes(b"x")  # past the limit: not found
    (tmp_path / "media").mkdir()
    index = RelinkIndex((str(tmp_path / "home"), str(tmp_path / "media")), max_entries=4)
    located = locate_file("file:///Volumes/gone/lost.mov", str(tmp_path), index)
    assert located.path is None
    assert located.looked_for.endswith(
        f"and for 'lost.mov' under {tmp_path / 'home'} (only its first 4 files and folders: "
        f"too many to search; name the folder that holds the media), {tmp_path / 'media'}")


class FakeInfo:
    duration, fps, start_timecode = 2.0, 24.0, 0.0  # 48 frames


def reversed_pair(tmp_path):
    """A reversed clip (source frames 10..29 of a 48-frame file) dissolving into a forward one."""
    media = tmp_path / "a.mov"
    media.write_bytes(b"x")
    track = otio.schema.Track(kind=otio.schema.TrackKind.Video)
    back = otio.schema.Clip(
        name="back",
        media_reference=otio.schema.ExternalReference(target_url=str(media)),
        source_range=TR(RT(10, 24), RT(20, 24)),
    )
    back.effects.append(otio.schema.LinearTimeWarp(time_scalar=-1.0))
    forward = otio.schema.Clip(
        name="forward",
        media_reference=otio.schema.ExternalReference(target_url=str(media)),
        source_range=TR(RT(0, 24), RT(20, 24)),
    )
    track.extend([back, otio.schema.Transition(in_offset=RT(8, 24), out_offset=RT(8, 24)), forward])
    timeline = otio.schema.Timeline(name="rev")
    timeline.tracks.append(track)
    return timeline


def test_a_reversed_clip_reads_earlier_source_after_its_out_point(tmp_path):
    back, forward = plan_segments(
        reversed_pair(tmp_path),
        timeline_path=str(tmp_path / "cut.otio"),
        probe=lambda p: FakeInfo(),
    )
    assert back.status == "ok"
    assert back.source_start == pytest.approx(29 / 24)
    # After its out point a reversed clip shows frames before 10: 8 wanted, 10 exist.
    assert back.handle_after_samples == 8 * 2000
    # The forward clip starts at source 0: nothing exists before its in point.
    assert forward.handle_before_samples == 0


def test_a_reversed_clip_past_the_start_of_its_media_is_invalid(tmp_path):
    timeline = reversed_pair(tmp_path)
    timeline.video_tracks()[0][0].source_range = TR(RT(-5, 24), RT(20, 24))
    back, _ = plan_segments(
        timeline, timeline_path=str(tmp_path / "cut.otio"), probe=lambda p: FakeInfo()
    )
    assert back.status == "invalid" and "covers only 00:00:00:00-00:00:02:00" in back.problem


def test_a_clip_cut_by_an_upper_track_keeps_the_handle_only_at_its_own_edge(tmp_path):
    timeline = reversed_pair(tmp_path)
    upper = otio.schema.Track(kind=otio.schema.TrackKind.Video)
    upper.append(otio.schema.Gap(source_range=TR(RT(0, 24), RT(30, 24))))
    upper.append(
        otio.schema.Clip(
            name="insert",
            media_reference=otio.schema.ExternalReference(target_url=str(tmp_path / "a.mov")),
            source_range=TR(RT(0, 24), RT(5, 24)),
        )
    )
    timeline.tracks.append(upper)
    segments = plan_segments(
        timeline, timeline_path=str(tmp_path / "cut.otio"), probe=lambda p: FakeInfo()
    )
    assert [(s.clip_name, s.record_start_frame, s.record_frames) for s in segments] == [
        ("back", 0, 20),
        ("forward", 20, 10),
        ("insert", 30, 5),
        ("forward", 35, 5),
    ]
    first_part, second_part = segments[1], segments[3]
    assert first_part.handle_before_samples == 0  # media starts at its in point
    assert second_part.source_start == pytest.approx(15 / 24)
    assert second_part.handle_before_samples == 0  # starts at a cover edge, not a transition


def _one_clip_timeline(url: str) -> otio.schema.Timeline:
    timeline = otio.schema.Timeline("accents")
    track = otio.schema.Track("V1")
    timeline.tracks.append(track)
    reference = otio.schema.ExternalReference(target_url=url)
    track.append(otio.schema.Clip("shot", reference, TR(RT(5, 25), RT(4, 25))))
    return timeline


@pytest.mark.parametrize("on_disk, in_timeline", [("NFC", "NFD"), ("NFD", "NFC")])
def test_accented_names_are_found_in_either_unicode_spelling(tmp_path, on_disk, in_timeline):
    """macOS editors write accented names decomposed (NFD) into their timelines, other systems'
    tools name files composed (NFC); Linux compares bytes, so the clip was offline beside its
    file. Found as written, and by name under a relink folder."""
    folder = tmp_path / unicodedata.normalize(on_disk, "Tournage Café")
    folder.mkdir()
    movie = make_test_movie(str(folder / unicodedata.normalize(on_disk, "Scène 1.mov")), frames=12)
    written = unicodedata.normalize(in_timeline, movie)
    assert not os.path.exists(written)
    timeline = _one_clip_timeline("file://" + quote(written))  # as Final Cut writes it
    [segment] = plan_segments(timeline, timeline_path=str(tmp_path / "cut.otio"))
    assert segment.status == "ok", segment.problem
    with SegmentFrames.at_frame_rate(segment, 25.0, 48) as frames:
        assert [read_frame_number(picture) for picture in np.asarray(frames)] == [5, 6, 7, 8]

    moved = _one_clip_timeline("file:///Volumes/Card/" + quote(os.path.basename(written)))
    [segment] = plan_segments(moved, timeline_path=str(tmp_path / "cut.otio"),
                              relink_roots=[str(tmp_path)])
    assert segment.status == "ok" and segment.media.path == movie
