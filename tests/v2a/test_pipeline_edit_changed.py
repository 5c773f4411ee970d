"""Re-runs after the editor kept cutting: the sound on v2a's track follows the picture."""

from __future__ import annotations

import copy
import os

import opentimelineio as otio
import pytest
from generator_doubles import SineGenerator
from movie_edits import RATE, RT, TR, generate, recut, write_edit

from otio_adapters.stem import render_v2a_sound
from otio_adapters.takes import clip_takes, find_v2a_tracks, to_samples, url_to_path
from v2a.contracts import ClipAddress, GenerationRequest, Selection
from v2a.media.audio import read_bext
from v2a.pipeline import run_generation


@pytest.fixture()
def written(tmp_path, movies) -> str:
    """a | b, a gap of 10 frames, c; generated once into tmp_path/out: the output's path."""
    edit = write_edit(tmp_path, movies, [("a", 24), ("b", 30), ("", 10), ("c", 20)])
    return generate(edit, tmp_path)


def _clip(track: otio.schema.Track, name: str) -> tuple[int, otio.schema.Clip]:
    return next((i, item) for i, item in enumerate(track) if item.name == name)


def _sound(path: str) -> list[tuple[str, int, int]]:
    """(source clip, start, end) of each clip on v2a's track, in samples."""
    track = find_v2a_tracks(otio.adapters.read_from_file(path), "SFX")[0]
    return [
        (clip.metadata["v2a"]["source_clip"],
         to_samples(track.range_of_child(clip).start_time),
         to_samples(track.range_of_child(clip).end_time_exclusive()))
        for clip in track.find_clips()
    ]


def _picture(path: str) -> list[tuple[str, int, int]]:
    track = otio.adapters.read_from_file(path).video_tracks()[0]
    return [
        (clip.name,
         to_samples(track.range_of_child(clip).start_time),
         to_samples(track.range_of_child(clip).end_time_exclusive()))
        for clip in track.find_clips()
    ]


def _seconds(frames: int) -> float:
    return frames / RATE


def test_the_sound_of_a_deleted_clip_leaves_the_track_on_a_re_run(written, tmp_path):
    def lift_c(track):
        index, clip = _clip(track, "c")
        track[index] = otio.schema.Gap(source_range=clip.source_range)

    recut(written, lift_c)
    selection = Selection(clips=(ClipAddress(track="V1", record_time=_seconds(30)),))  # b
    generate(written, tmp_path, selection=selection)
    assert [name for name, _, _ in _sound(written)] == ["a", "b"]

    generate(written, tmp_path)  # and on a full re-run
    assert _sound(written) == _picture(written)


def test_a_razor_cut_keeps_the_sound_of_the_half_not_regenerated(written, tmp_path):
    def razor_b(track):
        index, clip = _clip(track, "b")
        second = copy.deepcopy(clip)
        start = clip.source_range.start_time
        clip.source_range = TR(start, RT(12, RATE))
        second.source_range = TR(start + RT(12, RATE), RT(18, RATE))
        track.insert(index + 1, second)

    recut(written, razor_b)
    selection = Selection(clips=(ClipAddress(track="V1", record_time=_seconds(40)),))
    generate(written, tmp_path, selection=selection)
    # The first half keeps its take, cut to its picture; it was dropped whole before.
    assert _sound(written) == _picture(written)
    track = find_v2a_tracks(otio.adapters.read_from_file(written), "SFX")[0]
    fade = [item for item in track if isinstance(item, otio.schema.Transition)][-1]
    cut_handle = 2 * 2000  # 2 frames at 24 fps (0.08 s), in samples
    # A cut handle's crossfade, not the rest of the first half's file past its new end.
    assert to_samples(fade.out_offset) <= cut_handle and to_samples(fade.in_offset) <= cut_handle


def test_a_clip_trimmed_shorter_and_not_regenerated_is_cut_to_its_picture(written, tmp_path):
    def trim_a(track):
        _, clip = _clip(track, "a")
        clip.source_range = TR(clip.source_range.start_time, RT(16, RATE))
        track.insert(1, otio.schema.Gap(source_range=TR(RT(0, RATE), RT(8, RATE))))

    recut(written, trim_a)
    selection = Selection(clips=(ClipAddress(track="V1", record_time=_seconds(70)),))  # c
    generate(written, tmp_path, selection=selection)
    assert _sound(written) == _picture(written)  # a's sound no longer runs on into the gap


def test_a_take_shorter_than_the_clip_it_grew_into_is_not_offered(written, tmp_path):
    def extend_b(track):
        index, clip = _clip(track, "b")
        clip.source_range = TR(clip.source_range.start_time, RT(36, RATE))
        track[index + 1].source_range = TR(RT(0, RATE), RT(4, RATE))

    recut(written, extend_b)
    generate(written, tmp_path)
    assert _sound(written) == _picture(written)
    track = find_v2a_tracks(otio.adapters.read_from_file(written), "SFX")[0]
    b = next(clip for clip in track.find_clips() if clip.metadata["v2a"]["source_clip"] == "b")
    # take1 was 6 frames short: made active again, it left the clip longer than its file.
    assert sorted(clip_takes(b)) == [2]
    clip_id = b.metadata["v2a"]["clip_id"]
    assert os.path.exists(tmp_path / "out" / "audio" / f"{clip_id}_take1.wav")  # the file stays
    generate(written, tmp_path)
    b = next(clip for clip in find_v2a_tracks(otio.adapters.read_from_file(written), "SFX")[0]
             .find_clips() if clip.metadata["v2a"]["source_clip"] == "b")
    assert sorted(clip_takes(b)) == [2, 3]  # numbered past the take taken off, which it fits


def test_after_a_ripple_delete_the_sound_moves_with_its_picture_takes_and_all(
    written, tmp_path, caplog
):
    """Deleting a and closing the gap moves b and c 24 frames earlier: new ids (their record
    starts changed), the same shots. Their sound moves with them; regenerating c adds a take to
    the clip that was there, and b, not regenerated, keeps its take (it was removed before)."""

    def ripple_delete_a(track):
        index, _ = _clip(track, "a")
        del track[index]

    offsets_before = _file_offsets(written)
    recut(written, ripple_delete_a)
    selection = Selection(clips=(ClipAddress(track="V1", record_time=_seconds(45)),))  # c
    with caplog.at_level("INFO", logger="otio_adapters.follow_edit"):
        generate(written, tmp_path, selection=selection)
    # Said as a move (it was logged as a slip past the take's handles).
    assert "v2a clip 'V2A b': its picture moved by -1.000 s; its sound moves with it" in caplog.text
    assert "slip" not in caplog.text

    assert _sound(written) == _picture(written)
    track = find_v2a_tracks(otio.adapters.read_from_file(written), "SFX")[0]
    takes = {clip.metadata["v2a"]["source_clip"]: sorted(clip_takes(clip))
             for clip in track.find_clips()}
    assert takes == {"b": [1], "c": [1, 2]}
    # b plays the same samples of its file, and each active take is named from its file's own
    # timecode (bext), as a list or an NLE linking the file by timecode finds it: moved, b's
    # take was named 1 s before its file's start, so an EDL's source timecode missed the file.
    assert _file_offsets(written)["b"] == offsets_before["b"]
    for clip in track.find_clips():
        path = url_to_path(clip.media_reference.target_url)
        assert (to_samples(clip.media_reference.available_range.start_time)
                == read_bext(path)["time_reference"]), clip.name
    # c's take 1, no longer active, stays aligned with take 2 (made where c is now).
    c = next(clip for clip in track.find_clips() if clip.metadata["v2a"]["source_clip"] == "c")
    take1, take2 = (c.media_references()[key] for key in ("take1", "take2"))
    assert (to_samples(c.source_range.start_time) - to_samples(take1.available_range.start_time)
            == offsets_before["c"])


def _file_offsets(path: str) -> dict[str, int]:
    """Of each clip on v2a's track, the sample of its active take played at its start."""
    track = find_v2a_tracks(otio.adapters.read_from_file(path), "SFX")[0]
    return {clip.metadata["v2a"]["source_clip"]:
            to_samples(clip.source_range.start_time)
            - to_samples(clip.media_reference.available_range.start_time)
            for clip in track.find_clips()}


@pytest.mark.parametrize(("frames", "follows"), [(-1, True), (-2, True), (-3, False), (1, False)])
def test_a_slipped_shot_slips_its_sound_within_the_takes_handles(
    written, tmp_path, frames, follows, caplog
):
    """A slip shows other frames of b in the same place. Within the take's handles (b's take has
    2 frames before it, at the cut from a, and none after, at the gap) its sound slips with the
    picture, sample for sample; beyond them it no longer fits and leaves the track (before, the
    old sound stayed, out of sync by the slip)."""
    before = find_v2a_tracks(otio.adapters.read_from_file(written), "SFX")[0]
    b = next(c for c in before.find_clips() if c.metadata["v2a"]["source_clip"] == "b")
    old_start = to_samples(b.source_range.start_time)

    def slip_b(track):
        _, clip = _clip(track, "b")
        start = clip.source_range.start_time + RT(frames, RATE)
        clip.source_range = TR(start, clip.source_range.duration)

    recut(written, slip_b)
    selection = Selection(clips=(ClipAddress(track="V1", record_time=_seconds(70)),))  # c
    with caplog.at_level("INFO", logger="otio_adapters.follow_edit"):
        generate(written, tmp_path, selection=selection)

    track = find_v2a_tracks(otio.adapters.read_from_file(written), "SFX")[0]
    slipped = [c for c in track.find_clips() if c.metadata["v2a"]["source_clip"] == "b"]
    if not follows:
        assert slipped == []
        assert "removing v2a clip 'V2A b': the frames there are not the ones its takes were made " \
               "for (another shot, or a slip past its takes' handles)" in caplog.text
        return
    assert _sound(written) == _picture(written)
    assert to_samples(slipped[0].source_range.start_time) == old_start + frames * 2000


def test_a_shot_put_in_another_shots_place_does_not_keep_that_shots_sound(
    written, tmp_path, movies
):
    """A replace edit: c's media, the same length and first frame, where a was. a's sound is not
    c's: it leaves the track (it stayed, found by its range, as a slip of no frames)."""

    def replace_a(track):
        index, clip = _clip(track, "a")
        other = copy.deepcopy(clip)
        other.name = "c2"
        other.media_reference = otio.schema.ExternalReference(
            target_url=os.path.join(movies, "c.mp4"), available_range=TR(RT(0, RATE), RT(72, RATE))
        )
        track[index] = other

    recut(written, replace_a)
    selection = Selection(clips=(ClipAddress(track="V1", record_time=_seconds(70)),))  # c
    generate(written, tmp_path, selection=selection)
    assert [name for name, _, _ in _sound(written)] == ["b", "c"]


@pytest.fixture()
def written_with_ids(tmp_path, movies) -> str:
    """a, a gap of 10 frames, c, each with the id a panel stores in its clips; generated once."""
    shots = [("a", 24, "id-a"), ("", 10), ("c", 20, "id-c")]
    return generate(write_edit(tmp_path, movies, shots, start_frame=None), tmp_path)


def _first_sound_sample(path: str, name: str) -> int:
    """Where in its take's media the sound under `name`'s first frame comes from, counted from
    the sample that was made for that frame (0: in sync)."""
    track = find_v2a_tracks(otio.adapters.read_from_file(path), "SFX")[0]
    clip = next(c for c in track.find_clips() if c.metadata["v2a"]["source_clip"] == name)
    made = to_samples(clip.media_reference.available_range.start_time)  # c has no handles
    offset = round((clip.metadata["v2a"]["source_start"] - 0.5) * 48_000)  # frames past 12
    return to_samples(clip.source_range.start_time) - made - offset


@pytest.mark.parametrize("change", ["close the gap", "trim the head"])
def test_a_clip_keeping_a_stored_id_keeps_its_sound_in_sync(written_with_ids, tmp_path, change):
    """With the id stored in the editor's clip, c is found by it after it moved 10 frames
    earlier, or lost its first 6 frames: its sound moved with it, or was cut at its head; it
    stayed at the old place before, the sound 10 (6) frames off its picture."""

    def edit(track):
        if change == "close the gap":
            del track[1]
        else:
            _, clip = _clip(track, "c")
            clip.source_range = TR(RT(18, RATE), RT(14, RATE))
            track[1].source_range = TR(RT(0, RATE), RT(16, RATE))

    recut(written_with_ids, edit)
    selection = Selection(clips=(ClipAddress(clip_id="id-a"),))
    generate(written_with_ids, tmp_path, selection=selection)
    assert _sound(written_with_ids) == _picture(written_with_ids)
    assert _first_sound_sample(written_with_ids, "c") == 0


def _active_take_files(path: str) -> list[str]:
    track = find_v2a_tracks(otio.adapters.read_from_file(path), "SFX")[0]
    return [url_to_path(clip.media_reference.target_url) for clip in track.find_clips()]


@pytest.mark.parametrize("into", ["its own folder", "another folder"])
def test_a_result_whose_folder_was_moved_keeps_its_takes_online(written, tmp_path, into):
    """The editor moved the project folder holding v2a's result (renamed it, took it to
    another disk) and regenerated one clip of it. The takes of the others are beside it, in
    its audio folder: the result names them there. Before, it named them where the folder was
    before the move, offline, and said nothing."""
    moved = tmp_path / "project" / "sound"
    os.renames(os.path.dirname(written), moved)
    result = moved / os.path.basename(written)
    out = moved if into == "its own folder" else tmp_path / "elsewhere"
    selection = Selection(clips=(ClipAddress(track="V1", record_time=_seconds(30)),))  # b
    run_generation(GenerationRequest(timeline_path=str(result), out_dir=str(out),
                                     selection=selection), SineGenerator())

    files = _active_take_files(str(out / result.name))
    assert [f[-9:] for f in files] == ["take1.wav", "take2.wav", "take1.wav"]  # a, b, c
    assert all(os.path.isfile(f) for f in files), files


def test_a_take_the_editor_deleted_is_named_in_the_note(written, tmp_path):
    """The editor deleted (or renamed) the take file of c, then regenerated b: c's sound is
    offline on the timeline written, and the note says so and how to make it again. Before,
    the timeline named the missing file without a word."""
    [gone] = [f for f in _active_take_files(written)][2:]
    os.remove(gone)
    selection = Selection(clips=(ClipAddress(track="V1", record_time=_seconds(30)),))  # b
    result = run_generation(GenerationRequest(timeline_path=written, out_dir=str(tmp_path / "out"),
                                              selection=selection), SineGenerator())

    clip_id = os.path.basename(gone).split("_take")[0]
    assert f"'V2A c' ({gone})" in result.format_note
    assert f"--clips {clip_id}" in result.format_note


@pytest.mark.parametrize("frames", [30, 40])
def test_a_shot_whose_speed_changed_does_not_keep_the_sound_made_at_its_old_speed(
    written, tmp_path, frames, caplog
):
    """The editor set b to 50 % (Speed/Duration, Retime), from the same first frame, its length
    kept or grown: past its first frame the picture shows other moments than the sound was
    made for. Its sound leaves the track and the log says why; before, a run on c kept it (a
    speed change seen only where the first frame moved too), out of sync from the first frame
    on, without a word."""

    def slow_b(track):
        index, clip = _clip(track, "b")
        clip.effects.append(otio.schema.LinearTimeWarp(time_scalar=0.5))
        clip.source_range = TR(clip.source_range.start_time, RT(frames, RATE))
        if frames > 30:
            del track[index + 1]  # the gap after b: c stays where it was

    recut(written, slow_b)
    selection = Selection(clips=(ClipAddress(track="V1", record_time=_seconds(70)),))  # c
    with caplog.at_level("INFO", logger="otio_adapters.follow_edit"):
        generate(written, tmp_path, selection=selection)
    assert [name for name, _, _ in _sound(written)] == ["a", "c"]
    assert "removing v2a clip 'V2A b': its shot's speed changed (50 % now, 100 % when its " \
           "takes were made)" in caplog.text

    generate(written, tmp_path)  # a full run gives b sound at its new speed
    assert _sound(written) == _picture(written)


def _v2a_clip(path: str, name: str) -> otio.schema.Clip:
    track = find_v2a_tracks(otio.adapters.read_from_file(path), "SFX")[0]
    return next(c for c in track.find_clips() if c.metadata["v2a"]["source_clip"] == name)


def test_the_sound_of_a_disabled_shot_is_disabled_with_it_and_enabled_again_with_it(
    written, tmp_path, caplog
):
    """The editor switched b off to try the cut without it, then on again. Its sound is
    switched off with it, kept with its takes and silent in the stem, through a run on c and a
    full run (which makes b no sound: it is not on screen), and on again with it. Before, a run
    took it off the track ("its picture is no longer there") and b needed a new take."""

    def switch_b(enabled: bool):
        def change(track):
            _clip(track, "b")[1].enabled = enabled
        return change

    take = url_to_path(_v2a_clip(written, "b").media_reference.target_url)
    recut(written, switch_b(False))
    selection = Selection(clips=(ClipAddress(track="V1", record_time=_seconds(70)),))  # c
    with caplog.at_level("INFO", logger="otio_adapters.follow_edit"):
        generate(written, tmp_path, selection=selection)
    assert "v2a clip 'V2A b': its shot is disabled; its sound is disabled with it" in caplog.text
    assert "removing v2a clip 'V2A b'" not in caplog.text
    b = _v2a_clip(written, "b")
    assert not b.enabled and sorted(clip_takes(b)) == [1]
    assert url_to_path(b.media_reference.target_url) == take
    assert _sound(written) == _picture(written)  # where it was, under its shot
    # The stem plays what the timeline plays: nothing under b.
    sound = render_v2a_sound(otio.adapters.read_from_file(written), os.path.dirname(written))
    assert not sound[24 * 2000 + 100:54 * 2000 - 100].any()

    generate(written, tmp_path)  # a full run: b is not on screen, so no take of b is made
    b = _v2a_clip(written, "b")
    assert not b.enabled and sorted(clip_takes(b)) == [1]

    recut(written, switch_b(True))
    with caplog.at_level("INFO", logger="otio_adapters.follow_edit"):
        generate(written, tmp_path, selection=selection)
    assert "v2a clip 'V2A b': its shot is enabled again; so is its sound" in caplog.text
    b = _v2a_clip(written, "b")
    assert b.enabled and sorted(clip_takes(b)) == [1]
    assert "disabled_with_shot" not in b.metadata["v2a"]  # v2a's switch, undone


def test_a_sound_the_editor_switched_off_stays_off_under_its_shot(written, tmp_path):
    """The editor switched off v2a's sound of b, not the shot: that switch is the editor's, and
    a run keeps it (v2a switches on again only the sound it switched off with its shot)."""
    timeline = otio.adapters.read_from_file(written)
    track = find_v2a_tracks(timeline, "SFX")[0]
    next(c for c in track.find_clips() if c.metadata["v2a"]["source_clip"] == "b").enabled = False
    otio.adapters.write_to_file(timeline, written)
    generate(written, tmp_path)
    assert not _v2a_clip(written, "b").enabled
