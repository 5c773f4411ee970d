"""v2a's own tracks are those v2a named or marked as its own, never an editor's track because it
holds copies of v2a's take files: an editor who liked a take and dragged a copy onto a track of
their own ("Editor A9") had that track merged into "V2A SFX" and removed on the next run.

Each format through its real adapter: v2a's result written, read back, the editor's track added,
written and read back again as the editor would hand it over, then run again."""

from __future__ import annotations

import re

import opentimelineio as otio
import pytest

from otio_adapters.read import read_timeline
from otio_adapters.source_files import editor_tracks_sha256
from otio_adapters.takes import find_v2a_tracks, to_samples
from otio_adapters.write import EXTENSIONS, write_audio_tracks, write_timeline
from v2a.contracts import GeneratedAudio, MediaSource, Segment

RT = otio.opentime.RationalTime
TR = otio.opentime.TimeRange
RATE = 25
EDITORS = "Editor A9"


def _timeline() -> otio.schema.Timeline:
    """Two shots, "a" (1 s) and "b" (2 s), on V1, at 01:00:00:00."""
    video = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    for name, frames in (("a", RATE), ("b", 2 * RATE)):
        video.append(otio.schema.Clip(
            name=name,
            source_range=TR(RT(100, RATE), RT(frames, RATE)),
            media_reference=otio.schema.ExternalReference(
                target_url=f"file:///m/{name}.mov", available_range=TR(RT(0, RATE), RT(1000, RATE))),
        ))
    timeline = otio.schema.Timeline(name="edit", global_start_time=RT(3600 * RATE, RATE))
    timeline.tracks.append(video)
    return timeline


def _segments(timeline: otio.schema.Timeline) -> list[Segment]:
    segments = []
    for clip in timeline.video_tracks()[0].find_clips():
        record = clip.range_in_parent()
        start, end = to_samples(record.start_time), to_samples(record.end_time_exclusive())
        segments.append(Segment(
            clip_id=f"V1-{clip.name}", clip_name=clip.name, track_index=0, track_name="V1",
            timeline_rate=RATE, record_start_frame=round(record.start_time.value),
            record_frames=round(record.duration.value), start_sample=start,
            num_samples=end - start,
            media=MediaSource(referenced=f"{clip.name}.mov", path=f"/m/{clip.name}.mov"),
            source_start=0.0,
        ))
    return segments


def _generated(segments: list[Segment], take: int) -> list[GeneratedAudio]:
    return [
        GeneratedAudio(
            clip_id=s.clip_id, path=f"/out/audio/{s.clip_id}_take{take}.wav",
            start_sample=s.start_sample, num_samples=s.num_samples, handle_before_samples=0,
            handle_after_samples=0, provenance={"generator": "test", "seed": 0, "take": take},
        )
        for s in segments
    ]


def _file_name(clip: otio.schema.Clip) -> str:
    return clip.media_reference.target_url.rsplit("/", 1)[-1]


def _in_frames(time_range: otio.opentime.TimeRange | None) -> otio.opentime.TimeRange | None:
    if time_range is None:  # a take read back from a CMX 3600 list: no file length
        return None
    return TR(time_range.start_time.rescaled_to(RATE), time_range.duration.rescaled_to(RATE))


def _with_editors_copy(timeline: otio.schema.Timeline) -> otio.schema.Track:
    """The editor's track "Editor A9": a copy of v2a's first clip 2 s in, as an editor drags
    one (takes, names and all)."""
    ours = find_v2a_tracks(timeline, "SFX")[0]
    copied = ours.find_clips()[0].deepcopy()
    copied.metadata.pop("fcp_xml", None)  # Premiere gives a copy a clip item id of its own
    # An editor's clip counts in frames (v2a's in samples, each a whole number of frames here).
    copied.source_range = _in_frames(copied.source_range)
    for reference in copied.media_references().values():
        reference.available_range = _in_frames(reference.available_range)
    track = otio.schema.Track(
        name=EDITORS, kind=otio.schema.TrackKind.Audio,
        # Premiere names a track in FCP7 XML by this attribute, which the adapter keeps.
        metadata={"fcp_xml": {"@MZ.TrackName": EDITORS}},
    )
    track.append(otio.schema.Gap(source_range=TR(RT(0, RATE), RT(2 * RATE, RATE))))
    track.append(copied)
    timeline.tracks.append(track)
    return track


def _editors_track(timeline: otio.schema.Timeline) -> otio.schema.Track:
    """The audio track holding the editor's copy: not v2a's, one clip of take 1 of "a"."""
    ours = {id(track) for track in find_v2a_tracks(timeline, "SFX")}
    found = [track for track in timeline.audio_tracks()
             if id(track) not in ours and track.find_clips()]
    assert len(found) == 1, [track.name for track in timeline.audio_tracks()]
    return found[0]


def test_an_otio_track_of_the_editors_holding_a_copied_take_is_left_alone():
    """The reported case: read an .otio result, add the editor's track, write again."""
    timeline = _timeline()
    segments = _segments(timeline)
    write_audio_tracks(timeline, segments, _generated(segments, 1))
    timeline = otio.adapters.read_from_string(otio.adapters.write_to_string(timeline))
    editors = _with_editors_copy(timeline)
    before = otio.adapters.write_to_string(editors)
    write_audio_tracks(timeline, [], [])
    assert [track.name for track in timeline.audio_tracks()] == ["V2A SFX", EDITORS]
    assert otio.adapters.write_to_string(timeline.audio_tracks()[1]) == before


def test_the_editors_copied_take_is_part_of_the_editors_tracks_fingerprint():
    """An edit of that track is an edit of the editor's (`editor_tracks_sha256`): v2a's own
    track is what it leaves out, not every track of takes."""
    timeline = _timeline()
    segments = _segments(timeline)
    write_audio_tracks(timeline, segments, _generated(segments, 1))
    before = editor_tracks_sha256(timeline)
    editors = _with_editors_copy(timeline)
    assert editor_tracks_sha256(timeline) != before
    timeline.tracks.remove(editors)  # the editor deletes their track again
    assert editor_tracks_sha256(timeline) == before


FORMATS = ["otio_json", "fcp_xml", "fcpx_xml", "kdenlive", "AAF", "cmx_3600"]


@pytest.mark.parametrize("format", FORMATS)
def test_the_editors_copy_of_a_take_survives_a_re_run_and_v2a_refills_its_own_track(
    format, tmp_path
):
    extension = EXTENSIONS[format]
    timeline = _timeline()
    segments = _segments(timeline)
    write_audio_tracks(timeline, segments, _generated(segments, 1))
    first = tmp_path / "first"
    first.mkdir()
    written, _, _ = write_timeline(timeline, str(first / f"edit{extension}"), format)
    assert written.endswith(extension)

    # The editor drags a copy of take 1 of "a" onto a track of their own and hands it over.
    handed = read_timeline(written)
    _with_editors_copy(handed)
    second = tmp_path / "second"
    second.mkdir()
    written, _, _ = write_timeline(handed, str(second / f"edit{extension}"), format)
    assert written.endswith(extension)

    # v2a runs again on it: "a" gets take 2.
    timeline = read_timeline(written)
    assert _file_name(_editors_track(timeline).find_clips()[0]) == "V1-a_take1.wav"
    write_audio_tracks(timeline, segments, _generated(segments[:1], 2), visible=segments)
    third = tmp_path / "third"
    third.mkdir()
    written, _, _ = write_timeline(timeline, str(third / f"edit{extension}"), format)
    assert written.endswith(extension)

    result = read_timeline(written)
    ours = find_v2a_tracks(result, "SFX")
    assert len(ours) == 1  # refilled, not duplicated
    assert [_file_name(clip) for clip in ours[0].find_clips()] == [
        "V1-a_take2.wav", "V1-b_take1.wav"]
    editors = _editors_track(result)
    copied = editors.find_clips()
    assert [_file_name(clip) for clip in copied] == ["V1-a_take1.wav"]
    # In timeline time (the CMX 3600 reader starts a track at its first event).
    placed = editors.transformed_time_range(editors.range_of_child(copied[0]), result.tracks)
    assert (to_samples(placed.start_time), to_samples(placed.duration)) == (96000, 48000)


def _as_written_before_marks(path: str, format: str, lognotes: bool) -> None:
    """Make `path` a result as v2a wrote it before it marked its track in FCP7 XML and CMX 3600:
    the same but for the mark (and, unless `lognotes`, v2a's notes on its FCP7 clip items, which
    came a session before the mark)."""
    with open(path, encoding="utf-8", newline="") as handle:
        text = handle.read()
    if format == "fcp_xml":
        marked = text.replace(' MZ.TrackName="V2A SFX"', "")
        if not lognotes:
            marked = re.sub(r"<lognote>v2a take placed at [^<]*</lognote>", "<lognote />", marked)
        assert ("v2a take placed" in marked) == lognotes
    else:
        marked = re.sub(r"^\* V2A TRACK: .*\r?\n", "", text, flags=re.MULTILINE)
    assert marked != text and "V2A SFX" not in marked and "V2A TRACK" not in marked
    with open(path, "w", encoding="utf-8", newline="") as handle:
        handle.write(marked)


@pytest.mark.parametrize(("format", "lognotes"), [
    ("fcp_xml", True), ("fcp_xml", False), ("cmx_3600", False)])
def test_a_result_written_before_v2a_marked_its_track_is_refilled_not_doubled(
    format, lognotes, tmp_path
):
    """A document or list with no mark of v2a's at all knows v2a's track as v2a did then, by
    the takes it holds alone: taken for the editor's, a re-run added a second track of the same
    sound (and the pipeline refused to run into its own folder). Refilled, it is marked."""
    extension = EXTENSIONS[format]
    timeline = _timeline()
    segments = _segments(timeline)
    write_audio_tracks(timeline, segments, _generated(segments, 1))
    path = str(tmp_path / f"edit{extension}")
    written, _, _ = write_timeline(timeline, path, format)
    # Run again into the document it was read from, as results are: v2a's notes on its clips.
    timeline = read_timeline(written)
    write_audio_tracks(timeline, segments, _generated(segments, 1))
    written, _, _ = write_timeline(timeline, path, format)
    _as_written_before_marks(written, format, lognotes)

    timeline = read_timeline(written)
    (ours,) = find_v2a_tracks(timeline, "SFX")
    assert [_file_name(clip) for clip in ours.find_clips()] == ["V1-a_take1.wav", "V1-b_take1.wav"]
    write_audio_tracks(timeline, segments, _generated(segments[:1], 2), visible=segments)
    written, _, _ = write_timeline(timeline, path, format)  # in place, as a re-run writes

    result = read_timeline(written)
    (ours,) = find_v2a_tracks(result, "SFX")
    assert [_file_name(clip) for clip in ours.find_clips()] == ["V1-a_take2.wav", "V1-b_take1.wav"]
    others = [track for track in result.audio_tracks() if track is not ours and track.find_clips()]
    assert others == []
    with open(written, encoding="utf-8") as handle:
        assert ("V2A SFX" if format == "fcp_xml" else "* V2A TRACK: SFX") in handle.read()
