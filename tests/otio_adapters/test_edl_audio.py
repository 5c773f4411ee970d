"""A CMX 3600 list written back carries audio events: the editor's, as they came in, and v2a's
active takes under the picture. Real lists (../shared/fixtures), the real CMX 3600 adapter."""

from __future__ import annotations

from pathlib import Path

import opentimelineio as otio
import pytest

from otio_adapters.plan import plan_segments
from otio_adapters.read import read_timeline
from otio_adapters.takes import find_v2a_tracks, to_samples, url_to_path
from otio_adapters.write import write_audio_tracks, write_timeline
from v2a.contracts import GeneratedAudio

FIXTURES = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "timelines"
LISTS = FIXTURES / "cmx3600_edl"
pytestmark = pytest.mark.skipif(not LISTS.is_dir(), reason="../shared/fixtures is absent")
REAL_LISTS = {
    "premiere_example.edl": {},
    "dissolve_test.edl": {},
    "gap_test.edl": {},
    "25fps.edl": {"rate": 25},
    "speed_effects_small.edl": {},
}

# Audio events as Premiere and Avid write them, under 25fps.edl's first three shots: a stereo
# pair (AA) with channels 3 and 4 named on an AUD line, A alone, A2 alone, and channel A3.
AUDIO_EVENTS = """\
101  SC00.JPG AA    C        01:00:00:00 01:00:06:11 00:00:00:00 00:00:06:11
AUD   3    4
* FROM CLIP NAME:  sq001_s001
102  SC00.JPG A     C        01:00:00:00 01:00:08:00 00:00:06:11 00:00:14:11
* FROM CLIP NAME:  sq001_s002
103  MUSIC    A2    C        00:00:10:00 00:00:12:00 00:00:08:00 00:00:10:00
* FROM CLIP NAME:  score.wav
104  FX       A3    C        00:00:00:00 00:00:03:11 00:00:14:11 00:00:17:22
* FROM CLIP NAME:  door.wav
"""


def _generated(timeline, path: Path, first: int = 0) -> list[GeneratedAudio]:
    """Takes for every planned clip from the `first`, with the handles the plan asks for (a
    crossfade at each cut), as the pipeline lays them; the files need not exist to be named."""
    segments = plan_segments(timeline, timeline_path=str(path), cut_handle_seconds=0.08)
    generated = [
        GeneratedAudio(s.clip_id, f"/takes/audio/{s.clip_id}_take1.wav", s.start_sample,
                       s.num_samples, s.handle_before_samples, s.handle_after_samples)
        for s in segments[first:]
    ]
    write_audio_tracks(timeline, segments, generated)
    return generated


def _written(tmp_path: Path, text_or_path, options: dict, first: int = 0, changed: bool = False):
    """(timeline as read, its takes, the list v2a wrote, the .otio beside it, the note).
    `changed`: the list is saved again after v2a read it, so that the adapter writes the result
    as it does a timeline from another format (v2a appends to the editor's own list otherwise:
    test_edl_editors_list.py)."""
    source = tmp_path / "cut.edl"
    if isinstance(text_or_path, Path):
        source.write_bytes(text_or_path.read_bytes())
    else:
        source.write_text(text_or_path)
    timeline = read_timeline(source, options=options)
    generated = _generated(timeline, source, first)
    if changed:
        source.write_bytes(source.read_bytes() + b"\n")
    out = tmp_path / "out"
    out.mkdir()
    written, fallback, note = write_timeline(timeline, str(out / "cut.edl"), "cmx_3600")
    assert ("changed since v2a read it" in note) == changed
    return timeline, generated, Path(written), fallback, note


def _events(track: otio.schema.Track, tracks) -> list[tuple]:
    """What a conform tool reads of a track: each event's name, source and record range in
    frames, and each dissolve's length."""
    rows = []
    for item in track:
        if isinstance(item, otio.schema.Transition):
            rows.append(("dissolve", item.in_offset.value, item.out_offset.value))
        elif isinstance(item, otio.schema.Clip):
            record = item.transformed_time_range(item.trimmed_range(), tracks)
            rows.append((item.name, item.source_range.start_time.value,
                         item.source_range.duration.value, record.start_time.value))
    return rows


@pytest.mark.parametrize("name", sorted(REAL_LISTS))
def test_v2a_takes_are_audio_events_under_the_picture_and_read_back_as_written(tmp_path, name):
    options = REAL_LISTS[name]
    timeline, generated, written, fallback, note = _written(tmp_path, LISTS / name, options)
    text = written.read_text()
    reread = read_timeline(written, options=options)

    # The editor's video events come back as they were read.
    assert len(reread.video_tracks()) == 1
    assert _events(reread.video_tracks()[0], reread.tracks) == _events(
        timeline.video_tracks()[0], timeline.tracks)

    # One event per take, naming its WAV so that a conform tool finds it.
    for audio in generated:
        file_name = Path(audio.path).name
        assert f"* FROM CLIP NAME:  {file_name}" in text or f"* TO CLIP NAME:  {file_name}" in text
        assert f"* SOURCE FILE: {audio.path}" in text

    # Read back, the events are v2a's track again, on channel A (the list has no audio).
    (track,) = find_v2a_tracks(reread, "SFX")
    assert track.name == "A1"
    clips = track.find_clips()
    assert [url_to_path(clip.media_reference.target_url) for clip in clips] == [
        audio.path for audio in generated]
    # In the list, each event lies where its take plays under its shot, in the list's frames;
    # a crossfade is a dissolve from where it starts (CMX 3600: the incoming event starts
    # there, the outgoing one ends there, and plays on for the dissolve's length).
    (laid,) = find_v2a_tracks(read_timeline(fallback), "SFX")
    rate = reread.video_tracks()[0].duration().rate
    frame = round(48000 / rate)  # whole frames at every rate these lists have
    items = list(laid)
    clip_at = [i for i, item in enumerate(items) if isinstance(item, otio.schema.Clip)]
    fade_into = {i + 1: (to_samples(item.in_offset) // frame, to_samples(item.out_offset) // frame)
                 for i, item in enumerate(items) if isinstance(item, otio.schema.Transition)}
    start_timecode = timeline.global_start_time  # the picture's start; none at 00:00:00:00
    origin = round(start_timecode.rescaled_to(rate).value) if start_timecode else 0
    ranges = [(to_samples(laid.range_of_child_at_index(i).start_time) // frame,
               to_samples(laid.range_of_child_at_index(i).end_time_exclusive()) // frame)
              for i in clip_at]
    expected = [(origin + start - fade_into.get(i, (0, 0))[0],
                 origin + end - fade_into.get(following, (0, 0))[0])
                for (start, end), i, following in zip(ranges, clip_at, [*clip_at[1:], None], strict=True)]
    events = [line.split() for line in text.splitlines()
              if line[:3].isdigit() and line.split()[2] == "A"]
    written_ranges = [tuple(round(otio.opentime.from_timecode(tc, rate).value) for tc in fields[-2:])
                      for fields in events if fields[3] == "D" or fields[-1] != fields[-2]]
    assert written_ranges == expected
    dissolves = [int(fields[4]) for fields in events if fields[3] == "D"]
    assert dissolves == [sum(fade) for _, fade in sorted(fade_into.items())]
    # Read back with the same reader, they are v2a's track as v2a laid it: each take on its
    # shot's frames, each crossfade around its cut.
    assert [(track.range_of_child(clip).start_time.value,
             track.range_of_child(clip).end_time_exclusive().value) for clip in clips] == ranges
    assert [(item.in_offset.value, item.out_offset.value) for item in track
            if isinstance(item, otio.schema.Transition)] == [
        fade for _, fade in sorted(fade_into.items())]
    # Each take's source timecode is its file's own (bext) timecode: the record timecode.
    for line in text.splitlines():
        fields = line.split()
        if line[:3].isdigit() and fields[2] == "A" and fields[3] == "C":
            assert fields[-4] == fields[-2] and fields[-3] == fields[-1], line

    assert "channel A " in note and fallback.endswith("cut.otio")


@pytest.mark.parametrize("changed", [False, True])
def test_the_editors_audio_events_come_back_as_they_came_in(tmp_path, changed):
    """The adapter wrote no audio events, and refused a list with A, A2 and A3 (more than two
    audio tracks): v2a's result was then an .otio alone."""
    listing = (LISTS / "25fps.edl").read_text() + AUDIO_EVENTS
    timeline, _, written, fallback, note = _written(tmp_path, listing, {"rate": 25},
                                                    changed=changed)
    text = written.read_text()
    reread = read_timeline(written, options={"rate": 25})

    def editors(t) -> dict[str, list]:
        v2a = {id(track) for track in find_v2a_tracks(t, "SFX")}
        return {track.name: [*_events(track, t.tracks), *(
            list(clip.metadata.get("cmx_3600", {}).get("comments", [])) for clip in track.find_clips())]
                for track in t.audio_tracks() if id(track) not in v2a}

    assert editors(reread) == editors(timeline)
    assert sorted(editors(reread)) == ["A1", "A2", "A3"]
    # The stereo pair is one AA event again, its AUD line under it; the others as they were.
    lines = text.splitlines()
    pair = next(i for i, line in enumerate(lines) if " AA " in line)
    assert lines[pair].split()[-4:] == ["01:00:00:00", "01:00:06:11", "00:00:00:00", "00:00:06:11"]
    assert lines[pair + 1] == "AUD   3    4"
    assert [line.split()[2] for line in lines if line[:3].isdigit()].count("A3") == 1
    # v2a's takes go on the channel after every one the editor uses (AUD 3 4 included).
    (track,) = find_v2a_tracks(reread, "SFX")
    assert track.name == "A5" and "channel A5" in note
    assert fallback


@pytest.mark.parametrize(
    ("name", "first"),
    [("gap_test.edl", 0), ("premiere_example.edl", 0), ("dissolve_test.edl", 0),
     # No take under the first shot: the reader starts every track at its first event, which
     # put v2a's first take at the picture's start.
     ("gap_test.edl", 1), ("dissolve_test.edl", 1)],
)
def test_a_rerun_on_the_written_list_updates_v2a_track_rather_than_adding_one(
    tmp_path, name, first
):
    """Read back, v2a's events are its track as it laid it (each take on its shot, each
    crossfade around its cut); a re-run keeps them so and adds takes to them."""
    timeline, generated, written, fallback, _ = _written(tmp_path, LISTS / name, {}, first)
    reread = read_timeline(written)

    def layout(t) -> list[tuple]:
        (track,) = find_v2a_tracks(t, "SFX")
        return [(type(item).__name__, to_samples(item.in_offset), to_samples(item.out_offset))
                if isinstance(item, otio.schema.Transition) else
                (type(item).__name__, to_samples(track.range_of_child(item).start_time),
                 to_samples(track.range_of_child(item).duration))
                for item in track]

    assert layout(reread) == layout(read_timeline(fallback))
    segments = plan_segments(reread, timeline_path=str(written), cut_handle_seconds=0.08)
    write_audio_tracks(reread, segments, [], visible=segments)  # a run that regenerates none
    assert layout(reread) == layout(read_timeline(fallback))

    shot = segments[first]
    again = [GeneratedAudio(shot.clip_id, f"/takes/audio/{shot.clip_id}_take2.wav",
                            shot.start_sample, shot.num_samples, 0, 0)]
    write_audio_tracks(reread, segments, again, visible=segments)
    (track,) = find_v2a_tracks(reread, "SFX")
    assert len(reread.audio_tracks()) == 1
    assert sorted(track.find_clips()[0].media_references()) == ["take1", "take2"]
    # The list named the clip by its take's file; take 2 active, it is named for its shot.
    assert track.find_clips()[0].name == f"V2A {shot.clip_name}"
    assert [(to_samples(track.range_of_child(clip).start_time),
             to_samples(track.range_of_child(clip).duration)) for clip in track.find_clips()
            ] == [(audio.start_sample, audio.num_samples) for audio in generated]


def test_a_crossfade_longer_than_a_cmx_dissolve_is_a_cut_and_the_note_says_so(tmp_path):
    """A 300-frame picture dissolve: CMX 3600 has three digits for a dissolve's frames, and
    255 is the most the format allows."""
    listing = """TITLE: long dissolve
FCM: NON-DROP FRAME
001  A        V     C        01:00:00:00 01:00:20:00 01:00:00:00 01:00:20:00
* FROM CLIP NAME:  a
002  A        V     C        01:00:20:00 01:00:20:00 01:00:20:00 01:00:20:00
002  B        V     D 300    02:00:00:00 02:00:20:00 01:00:20:00 01:00:40:00
* FROM CLIP NAME:  a
* TO CLIP NAME:  b
"""
    _, generated, written, _, note = _written(tmp_path, listing, {})
    audio = [line for line in written.read_text().splitlines()
             if line[:3].isdigit() and line.split()[2] == "A"]
    assert [line.split()[3] for line in audio] == ["C", "C"]
    assert "1 crossfades longer than 255 frames" in note


@pytest.mark.parametrize("changed", [False, True])
def test_the_editors_speed_changed_audio_event_comes_back_at_its_speed(tmp_path, changed):
    """An audio event at 200 % (`M2 ... 048.0` in a 24 fps list, 20 s of source under 10 s of
    record, its source out the last frame played and one, as Avid counts it:
    `edl_audio.source_frames_played`) came back as 10 s of source at normal speed, its M2 line gone; a held one (a
    freeze) as 5 s of moving sound."""
    listing = """TITLE: fast sound
FCM: NON-DROP FRAME

001  A001     V     C        01:00:00:00 01:00:10:00 01:00:00:00 01:00:10:00
* FROM CLIP NAME:  a.mov
002  B001     V     C        02:00:00:00 02:00:05:00 01:00:10:00 01:00:15:00
* FROM CLIP NAME:  b.mov
003  C001     A     C        03:00:00:00 03:00:19:23 01:00:00:00 01:00:10:00
M2   C001           048.0                03:00:00:00
* FROM CLIP NAME:  fast.wav
004  D001     A2    C        04:00:00:00 04:00:00:01 01:00:00:00 01:00:05:00
M2   D001           000.0                04:00:00:00
* FROM CLIP NAME:  held.wav
* * FREEZE FRAME
"""
    timeline, _, written, _, _ = _written(tmp_path, listing, {}, changed=changed)
    lines = written.read_text().splitlines()
    event = next(i for i, line in enumerate(lines) if line.startswith("003 "))
    assert lines[event].split()[-4:] == ["03:00:00:00", "03:00:19:23", "01:00:00:00", "01:00:10:00"]
    assert lines[event + 1].split() == ["M2", "C001", "048.0", "03:00:00:00"]

    def speeds(t) -> list[tuple]:
        v2a = {id(track) for track in find_v2a_tracks(t, "SFX")}
        return [(clip.name, clip.source_range,
                 [(type(e).__name__, e.time_scalar) for e in clip.effects])
                for track in t.audio_tracks() if id(track) not in v2a
                for clip in track.find_clips()]

    assert [(name, scalars) for name, _, scalars in speeds(timeline)] == [
        ("fast.wav", [("LinearTimeWarp", 2.0)]), ("held.wav", [("FreezeFrame", 0.0)])]
    assert speeds(read_timeline(written)) == speeds(timeline)


def _events_of_no_length(lines: list[str]) -> list[str]:
    """Event lines recording nothing, but for a dissolve's outgoing line (a cut at the
    outgoing source's out point, directly followed by the dissolve under its number)."""
    events = [line for line in lines if line[:3].isdigit()]
    empty = []
    for index, line in enumerate(events):
        record_in, record_out = line.split()[-2:]
        following = events[index + 1].split() if index + 1 < len(events) else []
        leads_a_dissolve = following[:1] == line.split()[:1] and following[3] in ("D", "W001")
        if record_in == record_out and not leads_a_dissolve:
            empty.append(line)
    return empty


@pytest.mark.parametrize("changed", [False, True])
@pytest.mark.parametrize("frames", [1, 2])
def test_a_take_no_longer_than_its_crossfades_lead_in_keeps_an_event_of_its_own(
        tmp_path, frames, changed):
    """A first shot of a frame or two: the crossfade into the next take starts before the cut,
    as far back as the whole of that first take, and CMX 3600 ends the outgoing event where
    its dissolve starts. The take was written as an event of no length (record in = out),
    which many importers refuse; its dissolve out now starts a frame later, and the note says
    so, naming the clip."""
    listing = f"""TITLE: short first shot
FCM: NON-DROP FRAME
001  A        V     C        01:00:00:00 01:00:00:{frames:02d} 01:00:00:00 01:00:00:{frames:02d}
* FROM CLIP NAME:  a
002  B        V     C        02:00:00:00 02:00:02:00 01:00:00:{frames:02d} 01:00:02:{frames:02d}
* FROM CLIP NAME:  b
"""
    _, generated, written, _, note = _written(tmp_path, listing, {}, changed=changed)
    lines = written.read_text().splitlines()
    takes = [line for line in lines if line[:3].isdigit() and line.split()[2] == "A"]
    assert [line.split()[3] for line in takes] == ["C", "C", "D"]  # a dissolve still
    assert _events_of_no_length(lines) == []
    first = takes[0].split()
    assert (first[-2], first[-1]) == ("01:00:00:00", "01:00:00:01")
    assert "the dissolves out of V2A a, no longer than their crossfade's lead-in" in note
    (track,) = find_v2a_tracks(read_timeline(written), "SFX")  # each take read back
    assert [url_to_path(clip.media_reference.target_url) for clip in track.find_clips()] == [
        audio.path for audio in generated]


def test_a_dissolve_into_a_speed_changed_clip_starts_its_source_as_far_back_as_that_speed(
        tmp_path):
    """CMX 3600 starts a dissolve's incoming event where the dissolve starts, from the source
    frame shown there. Into a clip at twice the speed with a lead-in of 10 frames, that is 20
    frames before the clip's first frame at the cut; the adapter (the picture) and v2a (the
    editor's audio) went back 10, so the clip was read back 10 frames early in its source."""
    rt, tr = otio.opentime.RationalTime, otio.opentime.TimeRange
    timeline = otio.schema.Timeline("speed into a dissolve")
    for name, kind in (("V", otio.schema.TrackKind.Video), ("A1", otio.schema.TrackKind.Audio)):
        track = otio.schema.Track(name, kind=kind)
        one = otio.schema.Clip("one", otio.schema.ExternalReference("/media/one.mov"),
                               tr(rt(86400, 24), rt(48, 24)))
        fast = otio.schema.Clip("fast", otio.schema.ExternalReference("/media/fast.mov"),
                                tr(rt(172800, 24), rt(48, 24)))
        fast.effects.append(otio.schema.LinearTimeWarp(time_scalar=2.0))
        track.extend([one, otio.schema.Transition(in_offset=rt(10, 24), out_offset=rt(10, 24)),
                      fast])
        timeline.tracks.append(track)
    written, _, _ = write_timeline(timeline, str(tmp_path / "cut.edl"), "cmx_3600")
    dissolves = [line.split() for line in Path(written).read_text().splitlines()
                 if line[:3].isdigit() and line.split()[3] == "D"]
    # From 02:00:00:00 less 20 frames, to the last frame 58 record frames at 2x show.
    assert [(fields[2], fields[5:7]) for fields in dissolves] == [
        ("V", ["01:59:59:04", "02:00:03:23"]), ("A", ["01:59:59:04", "02:00:03:23"])]
    reread = read_timeline(written)
    for track in reread.tracks:
        (fast,) = [clip for clip in track.find_clips() if clip.name == "fast"]
        assert fast.source_range.start_time.value == 172800 - 20
        assert [effect.time_scalar for effect in fast.effects] == [2.0]
