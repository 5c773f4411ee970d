"""Write-back of generated audio into a timeline, against hand-built segments (unit level)."""

from __future__ import annotations

import os
from dataclasses import replace

import opentimelineio as otio
import pytest

from otio_adapters.takes import find_v2a_tracks, next_take_number, to_samples
from otio_adapters.write import TimelineWriteError, write_audio_tracks, write_timeline
from v2a.contracts import SAMPLE_RATE, GeneratedAudio, MediaSource, Segment

RT = otio.opentime.RationalTime
TR = otio.opentime.TimeRange
NTSC = 30000 / 1001


def _timeline(rate: float, layout: list[tuple[str, int]]) -> otio.schema.Timeline:
    """A one-video-track timeline: ("name", frames) clips, ("", frames) gaps; plus an audio track."""
    video = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    for name, frames in layout:
        if name:
            video.append(
                otio.schema.Clip(
                    name=name,
                    source_range=TR(RT(100, rate), RT(frames, rate)),
                    media_reference=otio.schema.ExternalReference(
                        target_url=f"file:///m/{name}.mov",
                        available_range=TR(RT(0, rate), RT(1000, rate)),
                    ),
                )
            )
        else:
            video.append(otio.schema.Gap(source_range=TR(RT(0, rate), RT(frames, rate))))
    audio = otio.schema.Track(name="A1", kind=otio.schema.TrackKind.Audio)
    audio.append(otio.schema.Gap(source_range=TR(RT(0, rate), RT(10, rate))))
    timeline = otio.schema.Timeline(name="edit", global_start_time=RT(86400, rate))
    timeline.tracks.extend([video, audio])
    return timeline


def _segments(timeline: otio.schema.Timeline, handle: int = 0) -> list[Segment]:
    segments = []
    for clip in timeline.video_tracks()[0].find_clips():
        record = clip.range_in_parent()
        start = to_samples(record.start_time)
        end = to_samples(record.end_time_exclusive())
        segments.append(
            Segment(
                clip_id=f"V1-{clip.name}",
                clip_name=clip.name,
                track_index=0,
                track_name="V1",
                timeline_rate=record.start_time.rate,
                record_start_frame=int(record.start_time.value),
                record_frames=int(record.duration.value),
                start_sample=start,
                num_samples=end - start,
                media=MediaSource(referenced=f"{clip.name}.mov", path=f"/m/{clip.name}.mov"),
                source_start=0.0,
                handle_before_samples=handle,
                handle_after_samples=handle,
            )
        )
    return segments


def _generated(segments: list[Segment], take: int = 1, seed: int = 0) -> list[GeneratedAudio]:
    return [
        GeneratedAudio(
            clip_id=s.clip_id,
            path=f"/out/audio/{s.clip_id}_take{take}.wav",
            start_sample=s.start_sample,
            num_samples=s.num_samples,
            handle_before_samples=s.handle_before_samples,
            handle_after_samples=s.handle_after_samples,
            provenance={"generator": "sine (test double)", "seed": seed, "take": take},
        )
        for s in segments
    ]


def _serialised(tracks) -> list[str]:
    return [otio.adapters.write_to_string(track, "otio_json") for track in tracks]


def _placements(track: otio.schema.Track) -> list[tuple[int, int]]:
    return [
        (to_samples(r.start_time), to_samples(r.end_time_exclusive()))
        for r in (track.range_of_child(c) for c in track.find_clips())
    ]


@pytest.mark.parametrize("rate", [23.976, 24, 25, NTSC, 30, 50, 60000 / 1001])
def test_each_clip_sits_on_its_video_record_range_to_the_sample(rate):
    timeline = _timeline(rate, [("a", 37), ("", 11), ("b", 1), ("c", 250)])
    segments = _segments(timeline)
    write_audio_tracks(timeline, segments, _generated(segments))
    track = find_v2a_tracks(timeline, "SFX")[0]
    assert track.name == "V2A SFX" and track.kind == otio.schema.TrackKind.Audio
    assert _placements(track) == [
        (s.start_sample, s.start_sample + s.num_samples) for s in segments
    ]
    # A gap stays a gap: the second clip starts after it.
    assert isinstance(track[1], otio.schema.Gap)


def test_editor_tracks_serialise_identically_before_and_after():
    timeline = _timeline(24, [("a", 24), ("b", 48)])
    before = _serialised(timeline.tracks)
    segments = _segments(timeline, handle=2000)
    write_audio_tracks(timeline, segments, _generated(segments))
    write_audio_tracks(timeline, segments, _generated(segments, take=2))
    assert _serialised(list(timeline.tracks)[: len(before)]) == before
    assert len(timeline.tracks) == len(before) + 1


def test_adjacent_clips_with_handles_get_a_centred_crossfade():
    timeline = _timeline(24, [("a", 24), ("b", 48), ("", 5), ("c", 10)])
    segments = _segments(timeline, handle=4000)
    write_audio_tracks(timeline, segments, _generated(segments))
    track = find_v2a_tracks(timeline, "SFX")[0]
    transitions = [item for item in track if isinstance(item, otio.schema.Transition)]
    assert len(transitions) == 1  # a and b touch; c comes after a gap
    assert transitions[0].in_offset == transitions[0].out_offset == RT(4000, SAMPLE_RATE)
    # The WAV holds the handles; its media time is timeline time (start timecode 01:00:00:00
    # included, as its bext time reference), so the source range is the video's record range.
    clip_b = track.find_clips()[1]
    offset = 3600 * SAMPLE_RATE
    available = clip_b.available_range()
    assert available.start_time.value == offset + segments[1].start_sample - 4000
    assert available.duration.value == 4000 + segments[1].num_samples + 4000
    assert clip_b.source_range.start_time.value == offset + segments[1].start_sample


def _with_handles(segments, handles):
    return [
        replace(s, handle_before_samples=before, handle_after_samples=after)
        for s, (before, after) in zip(segments, handles, strict=True)
    ]


def _crossfades(track: otio.schema.Track) -> list[tuple[int, int]]:
    return [
        (to_samples(item.in_offset), to_samples(item.out_offset))
        for item in track
        if isinstance(item, otio.schema.Transition)
    ]


@pytest.mark.parametrize("format", ["otio_json", "fcp_xml", "AAF"])
def test_a_dissolve_after_the_cut_gets_a_crossfade_over_the_same_frames(format, tmp_path):
    # A picture dissolve with in_offset 0, out_offset 10 frames (as CMX 3600 lists have them):
    # the planner gives the outgoing clip 10 frames of handle after and the incoming none.
    timeline = _timeline(24, [("a", 24), ("b", 48)])
    timeline.tracks.remove(timeline.tracks[1])
    segments = _with_handles(_segments(timeline), [(0, 20_000), (0, 0)])
    write_audio_tracks(timeline, segments, _generated(segments))
    assert _crossfades(find_v2a_tracks(timeline, "SFX")[0]) == [(0, 20_000)]
    path = tmp_path / ("edit" + {"otio_json": ".otio", "fcp_xml": ".xml", "AAF": ".aaf"}[format])
    written, fallback, note = write_timeline(timeline, str(path), format)
    assert (fallback, note) == ("", "")
    assert _crossfades(find_v2a_tracks(otio.adapters.read_from_file(written), "SFX")[0]) == [
        (0, 20_000)
    ]


@pytest.mark.parametrize("rate", [24, 50, 60000 / 1001, 60])
def test_fcp7_crossfades_beside_a_short_clip_keep_every_clip_on_its_picture(rate, tmp_path):
    # 5 frames of handle at 60 fps meet a 1-frame clip: its crossfades are 1 frame on its side
    # and 5 on the other. FCP7 XML places a transition's cut by its alignment (start, centre,
    # end), so a crossfade written centred put the cut 2 frames late when read back.
    timeline = _timeline(rate, [("a", 1), ("b", 30), ("c", 2), ("d", 40)])
    handle = round(SAMPLE_RATE * 5 / rate)
    segments = _segments(timeline)
    segments = _with_handles(segments, [(handle, handle)] * len(segments))
    write_audio_tracks(timeline, segments, _generated(segments))
    written, fallback, note = write_timeline(timeline, str(tmp_path / "edit.xml"), "fcp_xml")
    assert (fallback, note) == ("", "")
    (track,) = find_v2a_tracks(otio.adapters.read_from_file(written), "SFX")
    assert _placements(track) == [
        (s.start_sample, s.start_sample + s.num_samples) for s in segments
    ]
    assert _crossfades(track)  # the clips still crossfade


def test_crossfades_stay_inside_short_clips_and_do_not_overlap():
    # 2-frame cut handles everywhere; b is 1 frame long, c 3 frames.
    timeline = _timeline(24, [("a", 24), ("b", 1), ("c", 3), ("d", 24)])
    segments = _segments(timeline, handle=4000)
    write_audio_tracks(timeline, segments, _generated(segments))
    # Into b: 2 frames before the cut (a is long), 1 after (all of b). Into c: b is used up,
    # so all 2 after. Into d: c has 1 frame left before the cut, d room for 2 after.
    assert _crossfades(find_v2a_tracks(timeline, "SFX")[0]) == [
        (4000, 2000),
        (0, 4000),
        (2000, 4000),
    ]


def test_every_take_lines_up_under_the_same_source_range():
    timeline = _timeline(24, [("a", 24), ("b", 48)])
    segments = _segments(timeline, handle=4000)
    write_audio_tracks(timeline, segments, _generated(segments, take=1))
    write_audio_tracks(timeline, segments, _generated(segments, take=2))
    clip = find_v2a_tracks(timeline, "SFX")[0].find_clips()[1]
    for reference in clip.media_references().values():
        assert reference.available_range.contains(clip.source_range)


def test_no_crossfade_without_handles():
    timeline = _timeline(24, [("a", 24), ("b", 48)])
    segments = _segments(timeline, handle=0)
    write_audio_tracks(timeline, segments, _generated(segments))
    track = find_v2a_tracks(timeline, "SFX")[0]
    assert not any(isinstance(item, otio.schema.Transition) for item in track)


def test_regenerating_adds_an_active_take_and_keeps_the_old_one():
    timeline = _timeline(24, [("a", 24), ("b", 48)])
    segments = _segments(timeline)
    write_audio_tracks(timeline, segments, _generated(segments, take=1, seed=1))
    write_audio_tracks(timeline, segments, _generated(segments, take=2, seed=2))
    tracks = find_v2a_tracks(timeline, "SFX")
    assert len(tracks) == 1  # updated, not stacked
    clip = tracks[0].find_clips()[0]
    assert sorted(clip.media_references()) == ["take1", "take2"]
    assert clip.active_media_reference_key == "take2"
    assert clip.media_reference.target_url.endswith("V1-a_take2.wav")
    assert clip.media_references()["take1"].metadata["v2a"]["seed"] == 1
    assert clip.metadata["v2a"]["provenance"]["seed"] == 2
    assert clip.metadata["v2a"]["source_clip"] == "a"
    assert next_take_number(timeline, "V1-a", "/nonexistent") == 3


def test_a_selection_regenerates_only_those_clips():
    timeline = _timeline(24, [("a", 24), ("b", 48), ("c", 12)])
    segments = _segments(timeline)
    write_audio_tracks(timeline, segments, _generated(segments))
    clips_before = _serialised(find_v2a_tracks(timeline, "SFX")[0].find_clips())
    only_b = [s for s in segments if s.clip_name == "b"]
    write_audio_tracks(timeline, only_b, _generated(only_b, take=2))
    clips_after = find_v2a_tracks(timeline, "SFX")[0].find_clips()
    after = _serialised(clips_after)
    assert after[0] == clips_before[0] and after[2] == clips_before[2]
    assert clips_after[1].active_media_reference_key == "take2"
    assert _placements(find_v2a_tracks(timeline, "SFX")[0]) == [
        (s.start_sample, s.start_sample + s.num_samples) for s in segments
    ]


def test_v2a_track_is_found_again_after_a_format_drops_metadata(tmp_path):
    timeline = _timeline(25, [("a", 25), ("b", 50)])
    segments = _segments(timeline)
    write_audio_tracks(timeline, segments, _generated(segments))
    written, fallback, note = write_timeline(timeline, str(tmp_path / "edit.xml"), "fcp_xml")
    assert (written, fallback, note) == (str(tmp_path / "edit.xml"), "", "")
    reread = otio.adapters.read_from_file(written)
    assert len(find_v2a_tracks(reread, "SFX")) == 1  # by the take file names
    write_audio_tracks(reread, segments, _generated(segments[:1], take=2))
    tracks = find_v2a_tracks(reread, "SFX")
    assert len(tracks) == 1
    first = tracks[0].find_clips()[0]
    assert sorted(first.media_references()) == ["take1", "take2"]
    assert _placements(tracks[0]) == [
        (s.start_sample, s.start_sample + s.num_samples) for s in segments
    ]


def test_write_is_atomic_and_leaves_no_temp_files(tmp_path):
    timeline = _timeline(24, [("a", 24)])
    segments = _segments(timeline)
    write_audio_tracks(timeline, segments, _generated(segments))
    written, _, _ = write_timeline(timeline, str(tmp_path / "edit.otio"), "otio_json")
    assert os.listdir(tmp_path) == ["edit.otio"]
    assert len(find_v2a_tracks(otio.adapters.read_from_file(written), "SFX")) == 1


def test_cmx_3600_writes_the_edl_and_the_full_result_beside_it(tmp_path):
    timeline = _timeline(24, [("a", 24), ("b", 24)])
    timeline.tracks.remove(timeline.tracks[1])  # EDL holds one video track
    segments = _segments(timeline)
    write_audio_tracks(timeline, segments, _generated(segments))
    written, fallback, note = write_timeline(timeline, str(tmp_path / "edit.edl"), "cmx_3600")
    assert written.endswith("edit.edl") and fallback.endswith("edit.otio")
    assert "CMX 3600" in note and "audio" in note
    assert len(find_v2a_tracks(otio.adapters.read_from_file(fallback), "SFX")) == 1


def test_an_edl_with_two_audio_tracks_of_its_own_is_still_written_as_an_edl(tmp_path):
    """An EDL with A and A2 events reads as two audio tracks; v2a's made three, which the EDL
    writer refuses, so the editor got no EDL at all, only the .otio."""
    timeline = _timeline(24, [("a", 24), ("b", 24)])
    timeline.tracks.append(otio.schema.Track(name="A2", kind=otio.schema.TrackKind.Audio))
    timeline.tracks[-1].append(otio.schema.Gap(source_range=TR(RT(0, 24), RT(10, 24))))
    segments = _segments(timeline)
    write_audio_tracks(timeline, segments, _generated(segments))
    written, fallback, note = write_timeline(timeline, str(tmp_path / "edit.edl"), "cmx_3600")
    assert written.endswith("edit.edl") and fallback.endswith("edit.otio")
    assert "could not write" not in note
    assert len(find_v2a_tracks(otio.adapters.read_from_file(fallback), "SFX")) == 1


def test_fcpx_at_a_rate_the_adapter_cannot_write_falls_back_to_otio_with_a_note(tmp_path):
    # 29.97 used to be such a rate; NTSC rates are written now (test_fcpx_time.py). 48 is not.
    timeline = _timeline(48, [("a", 30)])
    segments = _segments(timeline)
    write_audio_tracks(timeline, segments, _generated(segments))
    written, fallback, note = write_timeline(timeline, str(tmp_path / "edit.fcpxml"), "fcpx_xml")
    assert written == fallback and written.endswith("edit.otio")
    assert "48.000" in note and not (tmp_path / "edit.fcpxml").exists()


def test_aaf_output_passes_the_adapter_validation_and_keeps_ranges(tmp_path):
    from otio_aaf_adapter.adapters.aaf_adapter.aaf_writer import validate_metadata

    from otio_adapters.write import _for_format

    timeline = _timeline(24, [("a", 24), ("b", 48), ("", 3), ("c", 7)])
    timeline.tracks.remove(timeline.tracks[1])
    segments = _segments(timeline, handle=SAMPLE_RATE // 4)
    write_audio_tracks(timeline, segments, _generated(segments))
    validate_metadata(_for_format(timeline, "AAF"))  # raises AAFValidationError
    written, fallback, note = write_timeline(timeline, str(tmp_path / "edit.aaf"), "AAF")
    assert (fallback, note) == ("", "")
    track = find_v2a_tracks(otio.adapters.read_from_file(written), "SFX")[0]
    assert _placements(track) == [
        (s.start_sample, s.start_sample + s.num_samples) for s in segments
    ]
    assert sum(isinstance(item, otio.schema.Transition) for item in track) == 1


def test_unwritable_folder_is_a_clear_error(tmp_path):
    timeline = _timeline(24, [("a", 24)])
    with pytest.raises(TimelineWriteError, match="not writable|missing"):
        write_timeline(timeline, str(tmp_path / "missing" / "edit.otio"), "otio_json")


def test_an_hour_into_a_2997_timeline_there_is_no_float_drift():
    # 29.97 stored as a float is not 30000/1001; an hour in, the naive conversion is 173 samples off.
    timeline = _timeline(29.97, [("", 107892), ("a", 30)])
    segments = _segments(timeline)
    assert segments[0].start_sample == 172_799_827  # 107892 * 1001 / 30000 s; naive: 172_800_000
    write_audio_tracks(timeline, segments, _generated(segments))
    track = find_v2a_tracks(timeline, "SFX")[0]
    assert _placements(track) == [
        (segments[0].start_sample, segments[0].start_sample + segments[0].num_samples)
    ]


def test_a_new_generation_replaces_an_old_clip_it_overlaps_after_the_edit_changed():
    timeline = _timeline(24, [("a", 24), ("b", 48), ("c", 24)])
    segments = _segments(timeline)
    write_audio_tracks(timeline, segments, _generated(segments))
    # The editor moved c into b's place: it now starts inside old b's range, under a new id.
    moved = replace(segments[2], clip_id="V1-c-moved", start_sample=segments[1].start_sample + 1000)
    write_audio_tracks(timeline, [moved], _generated([moved]))
    track = find_v2a_tracks(timeline, "SFX")[0]
    names = [clip.metadata["v2a"]["clip_id"] for clip in track.find_clips()]
    assert names == ["V1-a", "V1-c-moved", "V1-c"]  # old b overlapped it; old c did not
    assert _placements(track)[1] == (moved.start_sample, moved.start_sample + moved.num_samples)


def test_an_otio_edit_with_a_dissolve_converts_to_aaf(tmp_path):
    timeline = _timeline(25, [("a", 25), ("b", 50)])
    timeline.tracks.remove(timeline.tracks[1])
    dissolve = otio.schema.Transition(
        in_offset=RT(5, 25),
        out_offset=RT(5, 25),
        transition_type=otio.schema.TransitionTypes.SMPTE_Dissolve,
    )
    timeline.tracks[0].insert(1, dissolve)
    segments = _segments(timeline, handle=SAMPLE_RATE // 5)
    write_audio_tracks(timeline, segments, _generated(segments))
    written, fallback, note = write_timeline(timeline, str(tmp_path / "edit.aaf"), "AAF")
    assert (fallback, note) == ("", "")
    reread = otio.adapters.read_from_file(written)
    video = reread.video_tracks()[0]
    assert [type(item).__name__ for item in video] == ["Clip", "Transition", "Clip"]


def test_kdenlive_output_carries_the_v2a_track_aligned(tmp_path):
    timeline = _timeline(25, [("a", 25), ("", 7), ("b", 50)])
    timeline.tracks.remove(timeline.tracks[1])
    segments = _segments(timeline)
    write_audio_tracks(timeline, segments, _generated(segments))
    written, fallback, _ = write_timeline(timeline, str(tmp_path / "edit.kdenlive"), "kdenlive")
    assert written.endswith("edit.kdenlive") and not fallback
    track = find_v2a_tracks(otio.adapters.read_from_file(written), "SFX")[0]
    assert _placements(track) == [
        (s.start_sample, s.start_sample + s.num_samples) for s in segments
    ]


def test_duplicate_v2a_tracks_left_by_an_older_run_are_merged_into_one():
    timeline = _timeline(24, [("a", 24), ("b", 48)])
    segments = _segments(timeline)
    write_audio_tracks(timeline, segments, _generated(segments))
    # As an older run might have left it: b's clip on a second track of the same name.
    first = find_v2a_tracks(timeline, "SFX")[0]
    clip_b = first.find_clips()[1]
    first.remove(clip_b)
    duplicate = otio.schema.Track(name="V2A SFX", kind=otio.schema.TrackKind.Audio)
    duplicate.append(otio.schema.Gap(source_range=TR(RT(0, 24), RT(24, 24))))
    duplicate.append(clip_b)
    timeline.tracks.append(duplicate)
    assert len(find_v2a_tracks(timeline, "SFX")) == 2
    write_audio_tracks(timeline, [], [])
    tracks = find_v2a_tracks(timeline, "SFX")
    assert len(tracks) == 1
    want = [(s.start_sample, s.start_sample + s.num_samples) for s in segments]
    assert _placements(tracks[0]) == want


def test_a_shot_moved_into_another_shots_place_gets_its_own_clip_not_a_take_of_the_other():
    timeline = _timeline(24, [("a", 24), ("b", 24)])
    segments = _segments(timeline)
    write_audio_tracks(timeline, segments, _generated(segments))
    # The editor swapped a and b (same length): new ids, each on the other's old range.
    swapped = [
        replace(segments[1], clip_id="V1-b-first", start_sample=segments[0].start_sample),
        replace(segments[0], clip_id="V1-a-second", start_sample=segments[1].start_sample),
    ]
    write_audio_tracks(timeline, swapped, _generated(swapped))
    clips = find_v2a_tracks(timeline, "SFX")[0].find_clips()
    assert [clip.name for clip in clips] == ["V2A b", "V2A a"]
    urls = [sorted(ref.target_url for ref in clip.media_references().values()) for clip in clips]
    assert urls == [
        ["file:///out/audio/V1-b-first_take1.wav"], ["file:///out/audio/V1-a-second_take1.wav"]
    ]


def test_a_clip_found_by_its_range_under_a_new_id_keeps_the_takes_of_its_old_one():
    timeline = _timeline(24, [("a", 24)])
    segments = _segments(timeline)
    write_audio_tracks(timeline, segments, _generated(segments))
    # The same shot on the same range under a new id (a track inserted below did that before
    # planning kept the id of the v2a clip made for the shot; an id from elsewhere still may).
    moved = [replace(segments[0], clip_id="V2-a", track_index=1, track_name="V2")]
    write_audio_tracks(timeline, moved, _generated(moved))
    clip = find_v2a_tracks(timeline, "SFX")[0].find_clips()[0]
    assert {key: ref.target_url for key, ref in clip.media_references().items()} == {
        "take1": "file:///out/audio/V1-a_take1.wav", "take2": "file:///out/audio/V2-a_take1.wav"
    }
    assert clip.active_media_reference_key == "take2"


def test_an_uneven_crossfade_keeps_both_clips_on_their_cut_through_fcp7_xml(tmp_path):
    timeline = _timeline(25, [("a", 25), ("b", 50)])
    segments = _segments(timeline)
    # The cut handle limited by media on one side: 1 frame after a, 2 frames before b.
    segments = [replace(segments[0], handle_after_samples=1920),
                replace(segments[1], handle_before_samples=3840)]
    write_audio_tracks(timeline, segments, _generated(segments))
    written, _, _ = write_timeline(timeline, str(tmp_path / "edit.xml"), "fcp_xml")
    track = find_v2a_tracks(otio.adapters.read_from_file(written), "SFX")[0]
    # FCP7 XML puts a transition's cut at its centre: an uneven one moved the cut by a frame.
    assert _placements(track) == [
        (s.start_sample, s.start_sample + s.num_samples) for s in segments
    ]
