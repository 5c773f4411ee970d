"""Audio events in CMX 3600 lists (otio-cmx3600-adapter 1.0.0 writes none).

The adapter writes the first track alone, as video, and refuses a timeline with more than two
audio tracks: an editor's audio events and v2a's sound never reached the list. A timeline read
from a list is written back as that list with v2a's events appended (`edl_list`); for any other
timeline v2a gives the adapter the picture only and appends the audio events itself
(`append_audio_events`):
- the editor's, as the reader read them: channel A (A1), A2, AA where A1 and A2 hold the same
  cut (the reader splits an AA event in two), A3, A4... (the reader takes any other channel
  field as a track name); an `AUD 3 4` line (the 3600 way of naming channels 3 and 4) is read as
  a comment of its event and written back as the line it was; a speed change (an `M2` line,
  which the reader reads as a time warp) is written back as one, its source at that speed;
- each v2a track's active takes on the next channel after the editor's (A3 where the editor
  used A1 and A2, or AUD 3 4), one event per take: reel AX, the take's WAV in
  `* FROM CLIP NAME:` and `* SOURCE FILE:`, v2a's note `* V2A TRACK: SFX`, the file's own
  timecode as source, under the picture's record timecodes; crossfades as dissolves
  (`D nnn`, at most 255 frames in the form: a longer one becomes a cut, at the cut; one out of
  a take no longer than its lead-in starts late enough to leave that take a frame).
The reader keeps `SOURCE FILE` and the note as comments; `restore_takes` makes a channel of
noted events v2a's track again, each take's file its media reference, placed from the
picture's start, as v2a lays them out.
"""

from __future__ import annotations

import bisect
import math
import os
import re
from dataclasses import dataclass, field, replace

import opentimelineio as otio

from otio_adapters.takes import (
    TAKE_FILE_RE,
    V2A_KEY,
    marked_v2a_tracks,
    track_stem,
    url_to_path,
)

RT = otio.opentime.RationalTime
TR = otio.opentime.TimeRange

MAX_DISSOLVE = 255  # frames: the CMX 3600 transition field
_CHANNEL = re.compile(r"^A(\d+)$")
_AUD = re.compile(r"^AUD((?:\s+\d+)+)\s*$", re.IGNORECASE)
_SOURCE_FILE = re.compile(r"^SOURCE FILE:\s*(?P<path>.+?)\s*$", re.IGNORECASE)
_EVENT_NUMBER = re.compile(r"^(\d+)\s")
#: The note on each of v2a's events naming the stem of its track (`* V2A TRACK: SFX`): what
#: tells v2a's events from the editor's (`restore_takes`, `edl_list`), as a track's name or
#: metadata does in other formats.
TRACK_NOTE = "V2A TRACK:"
_TRACK_NOTE = re.compile(r"^\*?\s*V2A TRACK:\s*(?P<stem>\S.*?)\s*$", re.IGNORECASE)


@dataclass
class _Event:
    """One audio event in frames of the list's rate."""

    channel: str
    reel: str
    source: tuple[int, int]
    record: tuple[int, int]
    name: str
    comments: list[str] = field(default_factory=list)  # written after the clip name
    dissolve: int = 0  # frames of the dissolve into this event from `outgoing`
    outgoing: _Event | None = None
    speed: float | None = None  # of a speed-changed event (its M2 line); 0: a freeze
    clip: str = ""  # the clip's name in the timeline
    # The dissolve out of it starts later than the crossfade, so that it keeps a frame.
    held: bool = False


# --- which channels ---------------------------------------------------------------------------


def _aud_channels(clip: otio.schema.Clip) -> set[int]:
    """Channels an `AUD n m` line of the clip's event names."""
    found = set()
    for comment in clip.metadata.get("cmx_3600", {}).get("comments", []):
        match = _AUD.match(comment.strip())
        if match:
            found.update(int(number) for number in match[1].split())
    return found


def _editor_audio_tracks(timeline: otio.schema.Timeline) -> list[otio.schema.Track]:
    v2a = {id(track) for track in marked_v2a_tracks(timeline)}
    return [
        track
        for track in timeline.audio_tracks()
        if id(track) not in v2a and track.enabled
    ]


def channels(timeline: otio.schema.Timeline) -> tuple[dict[int, int], dict[int, int]]:
    """(editor's audio track id -> channel, v2a track id -> channel). An editor's track keeps
    the channel its name says (the reader names them A1, A2...), others take the next free
    ones in order; v2a's take the channels after every channel the editor's audio uses,
    `AUD` lines included."""
    editors, used = {}, set()
    tracks = _editor_audio_tracks(timeline)
    for track in tracks:
        match = _CHANNEL.match(track.name)
        if match and int(match[1]) not in used:
            editors[id(track)] = int(match[1])
            used.add(int(match[1]))
    for track in tracks:
        if id(track) not in editors:
            editors[id(track)] = min(set(range(1, len(tracks) + len(used) + 2)) - used)
            used.add(editors[id(track)])
        for clip in track.find_clips():
            used |= _aud_channels(clip)
    ours, next_free = {}, max(used, default=0) + 1
    for track in marked_v2a_tracks(timeline):
        ours[id(track)] = next_free
        next_free += 1
    return editors, ours


def channel_field(channel: int) -> str:
    """The event's channel field: A for channel 1 (as CMX writes it), else An."""
    return "A" if channel == 1 else f"A{channel}"


# --- events ---------------------------------------------------------------------------------


def _frames(time: otio.opentime.RationalTime, rate: float) -> int:
    return round(time.rescaled_to(rate).value)


def long_crossfades(timeline: otio.schema.Timeline, rate: float) -> int:
    """How many of v2a's crossfades are longer than a CMX 3600 dissolve can say (written as
    cuts, at the cut)."""
    return sum(
        _frames(item.in_offset, rate) + _frames(item.out_offset, rate) > MAX_DISSOLVE
        for track in marked_v2a_tracks(timeline)
        for item in track
        if isinstance(item, otio.schema.Transition)
    )


def _track_events(
    track: otio.schema.Track,
    timeline: otio.schema.Timeline,
    rate: float,
    channel: str,
    origin: int | None,
    describe,
) -> list[_Event]:
    """The track's events, crossfades as dissolves (the incoming event starts where the
    dissolve starts, the outgoing one ends there; one longer than the form allows is a cut).
    `origin`: the record frame of the track's time 0, where the
    timeline's record times do not say it (v2a's tracks count from the picture's start);
    `describe(clip)`: (reel, name, comments) of a clip's event."""
    events: list[_Event] = []
    pending, previous_end = None, None
    # Every item's place in the track, found in one pass, and where the track's time 0 is in
    # the timeline's (a CMX 3600 trim included): asked of each clip, OTIO sums the durations
    # before it, and of the whole track, which grew as the square of the clips.
    ranges = track.range_of_all_children()
    shift = track.transformed_time(RT(0, rate), timeline.tracks) if origin is None else None
    for item in track:
        if isinstance(item, otio.schema.Transition):
            pending = (_frames(item.in_offset, rate), _frames(item.out_offset, rate))
            continue
        if not isinstance(item, otio.schema.Clip) or not item.enabled:
            pending, previous_end = None, None
            continue
        used = item.trimmed_range()
        if shift is not None:
            record_in = _frames(ranges[item].start_time + shift, rate)
        else:
            record_in = origin + _frames(ranges[item].start_time, rate)
        source_in = _frames(used.start_time, rate)
        length = _frames(used.duration, rate)
        speed = _speed(item)
        played = length if speed is None else source_frames_played(length, speed)
        reel, name, comments = describe(item)
        event = _Event(channel, reel, (source_in, source_in + played),
                       (record_in, record_in + length), name, comments, speed=speed,
                       clip=item.name)
        before, after = pending or (0, 0)
        touching = events and previous_end == record_in
        if touching and 0 < before + after <= MAX_DISSOLVE:
            outgoing = events[-1]
            # The outgoing event ends where the dissolve starts: one cut in (no dissolve into
            # it) no longer than the crossfade's lead-in was left of no length, which many
            # importers refuse. Its dissolve out starts late enough to leave it a frame.
            room = outgoing.record[1] - outgoing.record[0] - max(1, outgoing.dissolve)
            if before > room:
                before, outgoing.held = max(room, 0), True
            outgoing.record = (outgoing.record[0], outgoing.record[1] - before)
            outgoing.source = (outgoing.source[0], _source_out(outgoing, before))
            event.record = (record_in - before, event.record[1])
            event.source = (source_in - _source_frames(before, speed), event.source[1])
            if before + after:
                event.dissolve, event.outgoing = before + after, outgoing
        events.append(event)
        pending, previous_end = None, record_in + length
    return events


def _source_frames(frames: int, speed: float | None) -> int:
    """The source frames `frames` record frames run through at `speed`: a dissolve brings a
    speed-changed event in that much earlier in its source (a freeze shows its one frame; a
    reversed event is counted as at normal speed, as before)."""
    if speed is None or speed < 0:
        return frames
    return round(frames * speed)


def _source_out(event: _Event, shortened_by: int) -> int:
    """The event's source out once its record ends `shortened_by` frames earlier: at a speed,
    the last frame shown, as CMX 3600 counts it (`source_frames_played`)."""
    if event.speed is None or event.speed < 0:
        return event.source[1] - shortened_by
    return event.source[0] + source_frames_played(event.record[1] - event.record[0], event.speed)


def crossfades_held_back(timeline: otio.schema.Timeline, rate: float) -> list[str]:
    """The v2a clips whose dissolve out starts later in a list than their crossfade does, so
    that their event keeps a frame (`_track_events`)."""
    return [event.clip for events in audio_events(timeline, rate, editors_too=False)
            for event in events if event.held]


def source_frames_played(length: int, speed: float) -> int:
    """The source frames a speed-changed event of `length` record frames names, as a CMX 3600
    list counts them: from its first frame to the last one shown, (length - 1) x speed, and
    that frame (the Avid list in the fixtures, speed_effects_small.edl: 36 frames at 47.56 fps
    in a 24 fps list name 70 frames of source, where 36 x 47.56 / 24 is 71.3); a freeze, one."""
    return math.floor((length - 1) * abs(speed) + 1e-9) + 1 if length > 0 else 0


def _speed(clip: otio.schema.Clip) -> float | None:
    """The speed of the clip's time warps (as the reader reads an M2 line), or None."""
    warps = [e for e in clip.effects if isinstance(e, otio.schema.LinearTimeWarp)]
    if not warps:
        return None
    speed = 1.0
    for warp in warps:
        speed *= warp.time_scalar
    return speed


def _editor_clip(clip: otio.schema.Clip) -> tuple[str, str, list[str]]:
    meta = clip.metadata.get("cmx_3600", {})
    comments = []
    reference = clip.media_reference
    if isinstance(reference, otio.schema.ExternalReference) and reference.target_url:
        comments.append(f"* FROM CLIP: {reference.target_url}")
    for comment in meta.get("comments", []):
        comments.append(comment.strip() if _AUD.match(comment.strip()) else f"* {comment}")
    return meta.get("reel") or "AX", clip.name, comments


def _take_clip(clip: otio.schema.Clip, stem: str) -> tuple[str, str, list[str]]:
    path = url_to_path(clip.media_reference.target_url)
    return "AX", os.path.basename(path), [f"* SOURCE FILE: {path}", f"* {TRACK_NOTE} {stem}"]


def _merged_pairs(first: list[_Event], second: list[_Event]) -> list[_Event]:
    """Channel 1's events with each one channel 2 has the same of as one AA event (the reader
    read an AA event as one clip on each), and channel 2's others among them, in record order.
    The reader lays each track's events one after another: channel 2's put after the AA events
    (`transitions.aaf`'s A2 dissolve at 2:21 after AA events to 21:17), it refused the list
    ("Overlapping record in value")."""
    key = lambda event: (event.reel, event.source, event.record, event.name,  # noqa: E731
                         tuple(event.comments))
    cuts = {key(event): event for event in second if not event.dissolve}
    merged, taken = [], set()
    for event in first:
        twin = None if event.dissolve else cuts.get(key(event))
        if twin is not None and id(twin) not in taken:
            taken.add(id(twin))
            event = replace(event, channel="AA")
        merged.append(event)
    others = [event for event in second if id(event) not in taken]
    return sorted(merged + others, key=lambda event: event.record[0])  # stable: ties as they were


def _timecode(frames: int, rate: float, drop_frame: bool | None) -> str:
    """`drop_frame` None: as OTIO infers it from the rate (drop frame at 29.97 and 59.94)."""
    return otio.opentime.to_timecode(RT(frames, rate), rate, drop_frame)


def _event_lines(number: int, event: _Event, rate: float, drop_frame: bool | None) -> list[str]:
    """The lines of one event, as the adapter writes a video event: a dissolve repeats the
    outgoing event's out point as a cut, then the incoming one with `D nnn`."""
    times = " ".join(
        _timecode(frames, rate, drop_frame) for frames in (*event.source, *event.record)
    )
    # An AUD line names more channels of the event, an M2 line its speed (in frames a second,
    # from its source in): they follow the event line, as CMX has them.
    notes = [comment for comment in event.comments if _AUD.match(comment)]
    if event.speed is not None:
        fps = f"{event.speed * rate:05.1f}"
        notes.insert(0, f"M2   {event.reel:8}       {fps}                "
                        f"{_timecode(event.source[0], rate, drop_frame)}")
    comments = [comment for comment in event.comments if not _AUD.match(comment)]
    if event.speed == 0:
        comments = [*comments, "* * FREEZE FRAME"]  # how the reader tells a freeze
    if not event.dissolve:
        return [f"{number:03d}  {event.reel:8} {event.channel:5} C        {times}", *notes,
                f"* FROM CLIP NAME:  {event.name}", *comments]
    before = event.outgoing
    held = " ".join(_timecode(frames, rate, drop_frame)
                    for frames in (before.source[1], before.source[1], before.record[1],
                                   before.record[1]))
    return [f"{number:03d}  {before.reel:8} {event.channel:5} C        {held}",
            f"{number:03d}  {event.reel:8} {event.channel:5} D {event.dissolve:03d}    {times}",
            *notes,
            f"* FROM CLIP NAME:  {before.name}",
            f"* TO CLIP NAME:  {event.name}",
            *comments]


def audio_events(
    timeline: otio.schema.Timeline, rate: float, editors_too: bool = True
) -> list[list[_Event]]:
    """Every audio event of `timeline` (`editors_too` False: v2a's alone), one list per
    channel (AA pairs merged). v2a's tracks must count in whole frames (as
    `write._for_format` conforms them)."""
    editors, ours = channels(timeline)
    picture = timeline.video_tracks()[0]
    # Where v2a's track time 0 sits in the list: the picture's start, as the adapter writes it.
    origin = _frames(picture.transformed_time(RT(0, rate), timeline.tracks), rate)
    by_channel: dict[int, list[_Event]] = {}
    for track in _editor_audio_tracks(timeline) if editors_too else ():
        number = editors[id(track)]
        by_channel[number] = _track_events(track, timeline, rate, channel_field(number), None,
                                           _editor_clip)
    if 1 in by_channel and 2 in by_channel:
        by_channel[1] = _merged_pairs(by_channel[1], by_channel.pop(2))
    for track in marked_v2a_tracks(timeline):
        number = ours[id(track)]
        stem = track_stem(track) or "SFX"
        by_channel[number] = _track_events(track, timeline, rate, channel_field(number), origin,
                                           lambda clip, stem=stem: _take_clip(clip, stem))
    return [by_channel[number] for number in sorted(by_channel)]


def event_number(line: str) -> int | None:
    """The number of an event line (it starts with one), else None."""
    match = _EVENT_NUMBER.match(line)
    return int(match[1]) if match else None


def last_event_number(lines: list[str]) -> int:
    return max((n for n in map(event_number, lines) if n is not None), default=0)


def event_lines(
    timeline: otio.schema.Timeline,
    rate: float,
    after: int,
    *,
    editors_too: bool = True,
    drop_frame: bool | None = None,
) -> list[str]:
    """The lines of the audio events of `timeline` (`audio_events`), numbered from `after` + 1,
    their timecodes drop frame or not (None: as OTIO infers it from the rate)."""
    lines, number = [], after
    for events in audio_events(timeline, rate, editors_too):
        for event in events:
            number += 1
            lines += _event_lines(number, event, rate, drop_frame)
    return lines


def append_audio_events(path: str, timeline: otio.schema.Timeline, rate: float) -> None:
    """Append the audio events of `timeline` to the list the adapter wrote at `path`, numbered
    after its events, in its timecode (`restore_frame_code_mode` rewrites both alike)."""
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    lines = event_lines(timeline, rate, last_event_number(text.splitlines()))
    if not lines:
        return
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text.rstrip("\n") + "\n" + "\n".join(lines) + "\n")


# --- reading back ---------------------------------------------------------------------------


def restore_takes(timeline: otio.schema.Timeline) -> None:
    """Find v2a's tracks again: a channel whose events all carry v2a's note (`TRACK_NOTE`) is
    v2a's track of that stem, marked as `write` marks it, each event's `SOURCE FILE` (a take
    file) its media reference again (the reader keeps both lines as comments); placed from the
    picture's start, as v2a lays out its tracks (the reader starts every track at its own
    first event: v2a's sound would move to the picture's start).

    A list keeps no track names or metadata, and an editor's event of a take copied onto a
    channel of theirs looks as v2a's do (Premiere writes a clip without a reel as AX, with its
    FROM CLIP NAME; its file may be in a SOURCE FILE note): only the note, which v2a writes and
    NLEs do not, tells them apart. A list with no note of v2a's at all is one v2a wrote before
    it noted its events: there a channel whose events all name a take file is v2a's SFX track,
    as it was then (taken for the editor's, a re-run into its own folder was refused, and one
    elsewhere laid v2a's sound a second time on the next channel)."""
    video = timeline.video_tracks()
    noted = any(_noted_stem(clip) for clip in timeline.find_clips())
    for track in timeline.audio_tracks():
        clips = track.find_clips()
        stem = _noted_track_stem(clips) if noted else _take_track_stem(clips)
        if stem is None:
            continue  # the editor's, copies of v2a's takes too
        for clip in clips:
            meta = clip.metadata.get("cmx_3600", {})
            take = _take_file(clip)
            if take:
                clip.media_reference = otio.schema.ExternalReference(target_url=take)
            meta["comments"] = [c for c in meta.get("comments", [])
                                if not _SOURCE_FILE.match(c) and not _TRACK_NOTE.match(c)]
        track.metadata[V2A_KEY] = {"track": stem}  # named after its channel still
        if video:
            _from_the_picture_start(track, video[0], timeline)
            _crossfades_at_the_cuts(track, video[0])


def _noted_track_stem(clips: list[otio.schema.Clip]) -> str | None:
    """The stem of a channel whose events all carry v2a's note of one stem, else None."""
    stems = {_noted_stem(clip) for clip in clips}
    return stems.pop() if len(stems) == 1 else None  # None: no events, or one not noted


def _take_track_stem(clips: list[otio.schema.Clip]) -> str | None:
    """"SFX" for a channel whose events all name a take file (`SOURCE FILE`), else None: v2a's
    track as v2a knew it before it noted its events, by the one stem it knew it by then."""
    return "SFX" if clips and all(_take_file(clip) for clip in clips) else None


def _take_file(clip: otio.schema.Clip) -> str | None:
    """The take file an event's (last) `SOURCE FILE` note names, else None."""
    comments = clip.metadata.get("cmx_3600", {}).get("comments", [])
    files = [match["path"] for match in map(_SOURCE_FILE.match, comments) if match]
    return files[-1] if files and TAKE_FILE_RE.match(os.path.basename(files[-1])) else None


def _noted_stem(clip: otio.schema.Clip) -> str | None:
    """The stem v2a's note on a clip's event names (`TRACK_NOTE`), else None."""
    comments = clip.metadata.get("cmx_3600", {}).get("comments", [])
    found = [match["stem"] for match in map(_TRACK_NOTE.match, comments) if match]
    return found[-1] if found else None


def _from_the_picture_start(
    track: otio.schema.Track, picture: otio.schema.Track, timeline: otio.schema.Timeline
) -> None:
    rate = picture.duration().rate
    zero = RT(0, rate)
    lead = track.transformed_time(zero, timeline.tracks) - picture.transformed_time(
        zero, timeline.tracks)
    if lead.value < 0 or track.source_range is None and lead.value == 0:
        return
    if lead.value > 0:
        track.insert(0, otio.schema.Gap(source_range=TR(zero, lead)))
    track.source_range = None


def _crossfades_at_the_cuts(track: otio.schema.Track, picture: otio.schema.Track) -> None:
    """Lay each dissolve read back between two takes as v2a laid its crossfade: around the
    picture's cut inside it (CMX 3600 starts the incoming event where the dissolve starts), the
    incoming take starting at the cut again; and declare the frames each take plays past its
    clip in them as its file's, so that a re-run keeps its crossfades (without, it took the
    outgoing take's last frames off, and left silence before the cut)."""
    rate = picture.duration().rate
    found = set()
    for item in picture:
        if not isinstance(item, otio.schema.Transition):
            placed = picture.range_of_child(item)
            found.update((_frames(placed.start_time, rate),
                          _frames(placed.end_time_exclusive(), rate)))
    cuts = sorted(found)  # searched by bisection: a scan of every cut per dissolve is quadratic
    items = list(track)
    handles: dict[int, list[int]] = {}
    for index in range(1, len(items) - 1):
        fade, outgoing, incoming = items[index], items[index - 1], items[index + 1]
        if not (isinstance(fade, otio.schema.Transition)
                and isinstance(outgoing, otio.schema.Clip)
                and isinstance(incoming, otio.schema.Clip)):
            continue
        start = _frames(track.range_of_child(incoming).start_time, rate)
        length = _frames(fade.in_offset, rate) + _frames(fade.out_offset, rate)
        span = min(length, _frames(incoming.source_range.duration, rate))
        inside = cuts[bisect.bisect_right(cuts, start):bisect.bisect_left(cuts, start + span)]
        before = inside[0] - start if len(inside) == 1 and not fade.in_offset.value else 0
        if before:
            shift = RT(before, rate)
            outgoing.source_range = outgoing.source_range.duration_extended_by(shift)
            used = incoming.source_range
            incoming.source_range = TR(used.start_time + shift, used.duration - shift)
            fade.in_offset, fade.out_offset = shift, RT(length - before, rate)
        handles.setdefault(id(outgoing), [0, 0])[1] = length - before
        handles.setdefault(id(incoming), [0, 0])[0] = before
    for clip in track.find_clips():
        if id(clip) in handles:
            before, after = (RT(frames, rate) for frames in handles[id(clip)])
            used = clip.source_range
            clip.media_reference.available_range = TR(used.start_time - before,
                                                      used.duration + before + after)
