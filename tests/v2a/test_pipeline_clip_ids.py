"""Clip ids that outlive the editor's cuts: a shot moved by a ripple keeps the id a panel got
for it, so regenerating it by that id adds its next take."""

from __future__ import annotations

import os

import opentimelineio as otio
import pytest
from movie_edits import RATE, RT, TR, generate, recut, write_edit

from otio_adapters.plan import plan_segments
from otio_adapters.read import read_timeline
from otio_adapters.takes import clip_file_stem, clip_takes, find_v2a_tracks, to_samples
from v2a.contracts import ClipAddress, Selection


def _ids(path: str) -> list[tuple[str, str]]:
    """(clip name, clip id) of each visible clip, in record order."""
    return [(s.clip_name, s.clip_id) for s in plan_segments(read_timeline(path), timeline_path=path)]


def _trim_tail(track: otio.schema.Track, index: int, frames: int) -> None:
    """Trim the tail of track[index] by `frames`; what follows on the track moves up (a ripple)."""
    item = track[index]
    item.source_range = TR(item.source_range.start_time, item.source_range.duration - RT(frames, RATE))


def _ripple_otio(path: str, index: int, frames: int) -> None:
    """The editor ripple-trims the picture of V1's clip `index` and saves over the file."""
    recut(path, lambda track: _trim_tail(track, index, frames))


def _sound(path: str) -> list[tuple[str, int, int]]:
    """(file stem, start, end) of each clip on v2a's track, in samples."""
    track = find_v2a_tracks(read_timeline(path), "SFX")[0]
    return [(clip_file_stem(clip), to_samples(track.range_of_child(clip).start_time),
             to_samples(track.range_of_child(clip).end_time_exclusive()))
            for clip in track.find_clips()]


def _takes(path: str, clip_id: str) -> list[int]:
    track = find_v2a_tracks(read_timeline(path), "SFX")[0]
    return next(sorted(clip_takes(clip)) for clip in track.find_clips()
                if clip_file_stem(clip) == clip_id)


def test_after_a_ripple_the_old_id_regenerates_the_clip_as_its_second_take(tmp_path, movies):
    """Trimming a by 8 frames moves b and c up. b's id from before the trim still names it (it
    was not found), and its new take is take2 of that id (it was take1 of a new id)."""
    written = generate(write_edit(tmp_path, movies, [("a", 24), ("b", 30), ("c", 20)]), tmp_path)
    before = dict(_ids(written))
    _ripple_otio(written, 0, 8)
    assert dict(_ids(written)) == before

    generate(written, tmp_path, selection=Selection(clips=(ClipAddress(clip_id=before["b"]),)))
    assert _takes(written, before["b"]) == [1, 2]
    audio = sorted(os.listdir(tmp_path / "out" / "audio"))
    assert audio == sorted([f"{before['b']}_take2.wav"] + [f"{i}_take1.wav" for i in before.values()])
    picture = [(before[s.clip_name], s.start_sample, s.start_sample + s.num_samples)
               for s in plan_segments(read_timeline(written), timeline_path=written)]
    assert _sound(written) == picture  # c, not regenerated, moved with its picture


def test_after_a_ripple_in_fcp7_xml_the_old_id_regenerates_the_clip_as_its_second_take(
    tmp_path, movies
):
    """FCP7 XML keeps no metadata of v2a's: its clips are known by their take files. An editor's
    ripple moves v2a's track with the picture (sync lock); the clip under b's new place was made
    under b's old id, which still names b."""
    written = generate(write_edit(tmp_path, movies, [("a", 24), ("b", 30), ("c", 20)]), tmp_path,
                        output_format="fcp_xml")
    before = dict(_ids(written))
    timeline = read_timeline(written)
    _trim_tail(timeline.video_tracks()[0], 0, 8)
    sound = find_v2a_tracks(timeline, "SFX")[0]
    _trim_tail(sound, next(i for i, item in enumerate(sound) if isinstance(item, otio.schema.Clip)), 8)
    otio.adapters.write_to_file(timeline, written, adapter_name="fcp_xml")  # the editor's export
    assert dict(_ids(written)) == before

    generate(written, tmp_path, selection=Selection(clips=(ClipAddress(clip_id=before["b"]),)))
    assert _takes(written, before["b"]) == [2]  # FCP7 XML carries a clip's active take alone
    assert sorted(os.listdir(tmp_path / "out" / "audio")) == sorted(
        [f"{before['b']}_take2.wav"] + [f"{i}_take1.wav" for i in before.values()])


def test_a_shot_used_twice_keeps_two_ids_through_a_ripple(tmp_path, movies):
    """c, then a, b and the same frames of a again: trimming c moves both uses of a. Each keeps
    its own id, the first use the first id."""
    written = generate(write_edit(tmp_path, movies, [("c", 20), ("a", 24), ("b", 30), ("a", 24)]),
                        tmp_path)
    before = _ids(written)
    assert before[1][1] != before[3][1]
    _ripple_otio(written, 0, 8)
    assert _ids(written) == before
    assert _ids(written) == before  # and the same on every planning


@pytest.mark.parametrize("change", ["slip", "trim the head"])
def test_a_moved_shot_changed_in_its_place_keeps_its_id(tmp_path, movies, change):
    """After a ripple gave b its old id at a new place, the editor slips b by a frame (other
    frames, the same place) or trims its head (it starts where it did, later frames, c moves
    up): still b, still its id, as its sound stays with it (it got a new id)."""
    written = generate(write_edit(tmp_path, movies, [("a", 24), ("b", 30), ("c", 20)]), tmp_path)
    before = dict(_ids(written))
    _ripple_otio(written, 0, 8)
    generate(written, tmp_path)  # every clip again: b's take is made at its new place

    timeline = otio.adapters.read_from_file(written)
    b = timeline.video_tracks()[0][1]
    start, duration = b.source_range.start_time, b.source_range.duration
    if change == "slip":
        b.source_range = TR(start - RT(1, RATE), duration)
    else:
        b.source_range = TR(start + RT(4, RATE), duration - RT(4, RATE))
    otio.adapters.write_to_file(timeline, written)
    assert dict(_ids(written))["b"] == before["b"]


def test_a_copy_of_a_shot_put_before_it_does_not_take_its_id(tmp_path, movies):
    """The editor overwrites c with a copy of a (the same first frame): a, where it was, keeps
    its id; the copy, made for nothing yet, gets an id of its own."""
    written = generate(write_edit(tmp_path, movies, [("c", 20), ("a", 24), ("b", 30)]), tmp_path)
    before = _ids(written)
    timeline = otio.adapters.read_from_file(written)
    track = timeline.video_tracks()[0]
    copy = track[1].deepcopy()
    copy.source_range = TR(copy.source_range.start_time, RT(20, RATE))
    track[0] = copy
    otio.adapters.write_to_file(timeline, written)

    after = _ids(written)
    assert after[1:] == before[1:]
    assert after[0][1] not in {clip_id for _, clip_id in before}


def test_a_shot_and_its_sound_razored_give_its_id_to_the_first_half_alone(tmp_path, movies):
    """The editor razors b and the v2a clip under it 12 frames in: both halves of the v2a clip
    were made under b's id, which the first half of the picture keeps; the second half gets an
    id of its own (it was b's id again, made `{id}.2`)."""
    written = generate(write_edit(tmp_path, movies, [("a", 24), ("b", 30), ("c", 20)]), tmp_path)
    before = _ids(written)
    timeline = otio.adapters.read_from_file(written)
    for track in (timeline.video_tracks()[0], find_v2a_tracks(timeline, "SFX")[0]):
        index, first = next((i, item) for i, item in enumerate(track)
                            if isinstance(item, otio.schema.Clip) and item.name.endswith("b"))
        second = first.deepcopy()
        rate = first.source_range.duration.rate
        half = RT(12 * rate / RATE, rate)
        first.source_range = TR(first.source_range.start_time, half)
        second.source_range = TR(second.source_range.start_time + half,
                                 second.source_range.duration - half)
        track.insert(index + 1, second)
    otio.adapters.write_to_file(timeline, written)

    after = _ids(written)
    assert [name for name, _ in after] == ["a", "b", "b", "c"]
    assert after[:2] == before[:2] and after[3] == before[2]
    assert not after[2][1].startswith(before[1][1])


@pytest.mark.parametrize("output_format", ["", "fcp_xml"])
def test_a_track_inserted_below_keeps_the_ids(tmp_path, movies, output_format):
    """V1 becomes V2 under a new bottom track: every clip keeps its id (its track index is part
    of the derived one, so each changed)."""
    written = generate(write_edit(tmp_path, movies, [("a", 24), ("b", 30), ("c", 20)]), tmp_path,
                        output_format=output_format)
    before = _ids(written)
    timeline = read_timeline(written)
    below = otio.schema.Track(name="V0", kind=otio.schema.TrackKind.Video)
    below.append(otio.schema.Gap(source_range=TR(RT(0, RATE), RT(10, RATE))))
    timeline.tracks.insert(0, below)
    otio.adapters.write_to_file(timeline, written, adapter_name=output_format or None)
    assert _ids(written) == before


def test_v2a_generate_clips_with_the_id_from_before_a_ripple(tmp_path, movies, capsys):
    """The audit's command: `v2a generate --clips OLD_ID` after trimming an earlier shot said
    "no visible clip matches" (status 2); it makes take2 of that id."""
    from v2a.cli import main

    edit = write_edit(tmp_path, movies, [("a", 24), ("b", 30), ("c", 20)])
    out = str(tmp_path / "out")
    assert main(["generate", edit, "--out", out, "--generator", "silence"]) == 0
    written = os.path.join(out, "edit.otio")
    old = dict(_ids(written))["c"]
    _ripple_otio(written, 0, 8)
    capsys.readouterr()

    assert main(["generate", written, "--out", out, "--generator", "silence", "--clips", old]) == 0
    assert "generated 1 clip(s)" in capsys.readouterr().out
    assert _takes(written, old) == [1, 2]
