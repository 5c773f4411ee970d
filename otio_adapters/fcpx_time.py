"""Exact time for the FCPXML reader (otio-fcpx-xml-adapter 1.0.0), and a project's start.

FCPXML writes every time as rational seconds ("123123/24000s") and a format's frame rate as a
frame duration ("1001/24000s"). The adapter's reader turns them into frames through floats:
- it truncates with int(): 245 frames at 30 fps, written "49/6s", read back as 244 (about one
  length in sixty loses a frame, so the sound came out a frame shorter than the picture);
- it takes a rate as int(24000/1001) = 23: a 23.976 or 29.97 project was read 4 % slow, every
  clip a few frames short and out of place.
`install()` replaces the reader's three time helpers with exact ones: a format's rate is its own
(a float OTIO rate, 23.976..., which `timing.exact_rate` maps back to 24000/1001), and a time is
rounded to the nearest frame of it in fractions.

FCP counts a project's spine from its start timecode: with tcStart="3600s" the first clip sits at
offset="3600s". The adapter keeps no start timecode and so laid an hour of gap before every
track; the start is now the timeline's global start time, as OTIO's other readers give it.

Where connected items sit, and what they are, the reader gets wrong in two more places:
- a secondary storyline (`<spine lane="-1" offset="5s">` inside a clip) counts its clips from its
  own start, which lies at `offset` in its host's time; the reader put it at the host's first
  frame, as if every storyline were connected there;
- an `<asset-clip>` of an audio file (an asset without video, as Final Cut writes one) was read
  as video: the reader tested the asset element's truth value, which is its number of children.

Writing, the adapter has the mirror faults: it writes no tcStart (Final Cut opened the project
at 00:00:00:00), and it cannot write 23.976, 29.97 or 59.94 at all (it looks the frame duration
up by int(rate)). `for_writer` hands it the timeline at the nominal rate (24, 30, 60: the same
frame counts; a time at another rate, a 25 fps clip's or 48 kHz audio's, in frames of the edit
rate first), and `finish` then sets the start timecode and turns every time in the file
from nominal frames into the true rate's (x 1001/1000, exactly).
"""

from __future__ import annotations

from collections.abc import Mapping
from fractions import Fraction

import opentimelineio as otio

from otio_adapters.timing import exact_rate, is_drop_frame_rate, seconds, to_frames

_installed = False


def install() -> None:
    """Make the FCPXML reader exact (idempotent; the writer keeps its own helpers: writing is
    corrected around it, by `for_writer` and `finish`)."""
    global _installed
    if _installed:
        return
    # The module OTIO's plugin manifest loads (its own copy, not `otio_fcpx_xml_adapter`'s).
    fcpx_xml = otio.adapters.from_name("fcpx_xml").module()
    original_from_project = fcpx_xml.FcpxXml._from_project

    def from_project(reader, project_element):
        timeline = original_from_project(reader, project_element)
        sequence = project_element.find("./sequence")
        if sequence is not None:
            _take_start_from_gaps(timeline, sequence, reader)
            # Drop-frame or not: how the start timecode reads, kept for writing it back.
            timeline.metadata.setdefault("fcpx_xml", {})["tcFormat"] = sequence.get(
                "tcFormat", "NDF"
            )
        return timeline

    original_offset_and_lane = fcpx_xml.FcpxXml._offset_and_lane

    def offset_and_lane(reader, element, default_format):
        offset, lane = original_offset_and_lane(reader, element, default_format)
        return offset + _storyline_start(reader, element, offset.rate), lane

    original_to_stack = fcpx_xml.FcpxXml._squence_to_stack

    def squence_to_stack(reader, *args, **kwargs):
        return _lanes_in_number_order(original_to_stack(reader, *args, **kwargs))

    fcpx_xml.to_rational_time = _rational_time
    fcpx_xml.FcpxXml._number_of_frames = _number_of_frames
    fcpx_xml.FcpxXml._format_frame_rate = _format_frame_rate
    fcpx_xml.FcpxXml._from_project = from_project
    fcpx_xml.FcpxXml._offset_and_lane = offset_and_lane
    fcpx_xml.FcpxXml._audio_only = _audio_only
    fcpx_xml.FcpxXml._squence_to_stack = squence_to_stack
    _installed = True


def parse_seconds(text: str | None) -> Fraction:
    """FCPXML time ("0s", "10s", "1001/24000s", "3.5s") as exact seconds."""
    if not text or text == "0s":
        return Fraction(0)
    value = text[:-1] if text.endswith("s") else text
    numerator, _, denominator = value.partition("/")
    return Fraction(numerator) / Fraction(denominator or 1)


def _frames_at(text: str | None, rate: Fraction) -> int:
    """The nearest whole frame (halves up) at `rate` to an FCPXML time."""
    return to_frames(parse_seconds(text), rate)


def _rational_time(rational_number, fps):
    rate = exact_rate(float(fps))
    return otio.opentime.RationalTime(_frames_at(rational_number, rate), float(fps))


def _format_rate(reader, format_id) -> Fraction:
    return 1 / parse_seconds(reader._format_by_id(format_id).get("frameDuration"))


def _format_frame_rate(reader, format_id) -> float:
    return float(_format_rate(reader, format_id))


def _number_of_frames(reader, time_value, format_id) -> int:
    return _frames_at(time_value, _format_rate(reader, format_id))


def _storyline_start(reader, element, rate: float) -> otio.opentime.RationalTime:
    """How far into its host a secondary storyline holding `element` starts (0 for anything
    else): its `offset` counted from the host's `start`. The reader adds only the host's place."""
    storyline = reader.child_parent_map.get(reader._timing_clip(element))
    if storyline is None or storyline.tag != "spine" or storyline.get("lane") is None:
        return otio.opentime.RationalTime(0, rate)
    host = reader.child_parent_map.get(storyline)
    into = parse_seconds(storyline.get("offset")) - parse_seconds(host.get("start"))
    return otio.opentime.RationalTime(to_frames(into, exact_rate(rate)), rate)


def _lanes_in_number_order(stack: otio.schema.Stack) -> otio.schema.Stack:
    """The reader makes a track per lane, named by the lane, sorted as text: lane 10 came before
    lane 2 (and -10 before -2), so a clip on lane 10 lay under those of lanes 2 to 9. The tracks
    go in number order from the spine out: audio lanes -1, -2, … first, then 0, 1, 2, …"""
    tracks = list(stack)
    if not all(_is_lane(track.name) for track in tracks):
        return stack
    ordered = sorted(tracks, key=lambda track: (int(track.name) >= 0, abs(int(track.name))))
    if ordered != tracks:
        del stack[:]
        stack.extend(ordered)
    return stack


def _is_lane(name: str) -> bool:
    return name.lstrip("-").isdigit()


def _audio_only(reader, element) -> bool:
    """Whether a clip element plays audio alone: an `<audio>`, an asset-clip of an asset without
    video or with only its audio enabled, a compound clip with only its audio enabled."""
    if element.tag == "asset-clip":
        asset = reader._asset_by_id(element.get("ref"))
        without_video = asset is not None and asset.get("hasVideo", "0") == "0"
        return without_video or element.get("srcEnable") == "audio"
    return element.tag == "audio" or (
        element.tag == "ref-clip" and element.get("srcEnable") == "audio"
    )


def _take_start_from_gaps(timeline: otio.schema.Timeline, sequence, reader) -> None:
    """Turn the gap of `tcStart` the adapter put before every track into the global start time.
    Only when every track that holds anything starts with at least that much gap: a file whose
    offsets count from zero in spite of its tcStart (some tools write that) is left as it is."""
    rate = _format_rate(reader, sequence.get("format"))
    start_frames = _frames_at(sequence.get("tcStart"), rate)
    start = Fraction(start_frames) / rate
    if start <= 0:
        return
    tracks = [track for track in timeline.tracks if len(track)]
    if not all(
        isinstance(t[0], otio.schema.Gap) and seconds(t[0].duration()) >= start for t in tracks
    ):
        return
    for track in tracks:
        gap_rate = track[0].duration().rate
        left = to_frames(seconds(track[0].duration()) - start, exact_rate(gap_rate))
        if left > 0:
            track[0].source_range = otio.opentime.TimeRange(
                otio.opentime.RationalTime(0, gap_rate), otio.opentime.RationalTime(left, gap_rate)
            )
        else:
            del track[0]
    timeline.global_start_time = otio.opentime.RationalTime(start_frames, float(rate))


# --- writing ---------------------------------------------------------------------------------

#: Rates the adapter cannot write -> the nominal rate it writes them at (frame counts kept).
_NOMINAL = {Fraction(24000, 1001): 24, Fraction(30000, 1001): 30, Fraction(60000, 1001): 60}
#: Rates the adapter writes as they are.
WRITABLE_RATES = (24, 25, 30, 50, 60)
#: FCPXML attributes that hold a time in seconds.
_TIME_ATTRIBUTES = ("offset", "duration", "start", "tcStart")


def file_rate(rate: float) -> Fraction:
    """The rate whose frames the adapter's file counts for a timeline at `rate`, until
    `finish`: the nominal one at an NTSC rate (`for_writer`), else the rate itself."""
    exact = exact_rate(rate)
    return Fraction(_NOMINAL.get(exact, exact))


def can_write(rate: float) -> bool:
    exact = exact_rate(rate)
    return exact in _NOMINAL or exact in WRITABLE_RATES


def for_writer(timeline: otio.schema.Timeline, rate: float) -> otio.schema.Timeline:
    """What to hand the adapter for a timeline at `rate`: a copy whose every time counts frames
    of the edit rate (at an NTSC rate the same frames at the nominal rate), and whose tracks
    carry no trim that trims nothing (`_without_empty_trims`)."""
    nominal = _NOMINAL.get(exact_rate(rate))
    result = timeline.deepcopy()
    # A clip at another rate (Premiere's 15 fps clip in a 30 fps sequence) made the adapter
    # look up a format without a frame duration and fail ("not enough values to unpack").
    _set_rate(result, exact_rate(rate), float(nominal or rate))
    _without_empty_trims(result)
    _spine_to_the_end(result)
    return result


def _spine_to_the_end(timeline: otio.schema.Timeline) -> None:
    """Lengthen the first video track, which the adapter writes as the primary storyline, with
    a gap to the end of the timeline. Every other track's clips are connected to an item of it,
    and one past its end (Premiere's V4 clips after V1's last) has none: the adapter failed
    ("'NoneType' object has no attribute 'get'") and wrote nothing."""
    videos = timeline.video_tracks()
    if not videos:
        return
    spine = videos[0]
    missing = timeline.tracks.duration() - spine.duration()
    if missing.value > 0:
        spine.append(otio.schema.Gap(source_range=otio.opentime.TimeRange(
            otio.opentime.RationalTime(0, missing.rate), missing)))


def _without_empty_trims(timeline: otio.schema.Timeline) -> None:
    """Take off each track's source range that cuts nothing from it: the CMX 3600 reader's
    start timecode (01:00:00:00 as a range starting at -86400, which the timeline's start
    says already) and the AAF reader's range over the whole track. The adapter places each
    clip by its range trimmed to the track's, which such a range made empty (a list's every
    clip, an AAF's zero-length filler at the end): "computed time range would be invalid"."""
    for track in timeline.tracks:
        trim = track.source_range
        if trim is None:
            continue
        if trim.start_time.value < 0 or (
            trim.start_time.value == 0 and trim.duration >= track.available_range().duration
        ):
            track.source_range = None


def finish(root, timeline: otio.schema.Timeline, rate: float) -> None:
    """Correct the FCPXML document `root` the adapter wrote from `timeline` (at `rate`): the
    project gets the timeline's start timecode, each clip's media sits at its media time
    (`_media_at_media_time`), and an NTSC timeline's times get their true rate."""
    exact = exact_rate(rate)
    nominal = _NOMINAL.get(exact)
    start = seconds(timeline.global_start_time) if timeline.global_start_time else Fraction(0)
    if nominal is not None:  # the file counts nominal frames until `_to_true_rate`
        start = Fraction(to_frames(start, exact), nominal)
    for sequence in root.iterfind("./project/sequence"):
        _set_start_timecode(sequence, start, timeline, exact)
    _media_at_media_time(root)
    if nominal is not None:
        _to_true_rate(root, nominal, exact)


def _set_start_timecode(
    sequence, start: Fraction, timeline: otio.schema.Timeline, rate: Fraction
) -> None:
    """FCP counts the spine from tcStart: the project's start, and each item directly on its
    spine moves by it (connected clips count from their parent's start and stay).

    The timecode reads as the source's did (`_timecode_format`)."""
    if start <= 0:
        return
    sequence.set("tcStart", format_seconds(start))
    sequence.set("tcFormat", _timecode_format(timeline, rate))
    for item in sequence.iterfind("./spine/*"):
        item.set("offset", format_seconds(parse_seconds(item.get("offset")) + start))


def _timecode_format(timeline: otio.schema.Timeline, rate: Fraction) -> str:
    """"DF" or "NDF" as the source said (an FCPXML's tcFormat, an FCP7 XML's displayformat);
    where it does not (OTIO, AAF), drop frame at 29.97 and 59.94, as v2a shows the timecode and
    writes it in an EDL: written NDF, a 01:00:00;00 start showed as 00:59:56:12 in Final Cut."""
    given = timeline.metadata.get("fcpx_xml", {}).get("tcFormat")
    fcp7 = timeline.metadata.get("fcp_xml", {}).get("timecode", {})
    if not given and isinstance(fcp7, Mapping):
        given = fcp7.get("displayformat")
    if given in ("DF", "NDF"):
        return given
    return "DF" if is_drop_frame_rate(rate) else "NDF"


def _media_at_media_time(root) -> None:
    """Put each clip's media where its `start` looks for it.

    A clip's `start` begins its local timeline, in which its contained items are placed by their
    `offset` (Apple, FCPXML "Timing Attributes"); the adapter writes a clip's `start` in media
    time (its source range: 3600s for media starting at 01:00:00:00) but its `video`, or its
    audio's `gap`, at offset 0s: outside the clip's range for any
    media that does not start at 0, so Final Cut would show and play none of it. As Final Cut
    writes it, the media element sits at its asset's start with that start (`<video
    offset="T" start="T">`), and so does an audio's gap (`<gap offset="T" start="T">`), to which
    the audio is anchored at the gap's first frame. The adapter reads clips by their `start`
    and `duration` alone, so reading the file back is unchanged."""
    assets = root.iterfind("./resources/asset")
    starts = {asset.get("id"): asset.get("start", "0s") for asset in assets}
    for clip in root.iter("clip"):
        media = [(child, child) for child in clip.iterfind("./video")]
        media += [(gap, gap.find("./audio")) for gap in clip.iterfind("./gap")]
        for holder, element in media:
            start = starts.get(element.get("ref")) if element is not None else None
            if start is None or parse_seconds(start) == 0:
                continue
            for moved in {id(holder): holder, id(element): element}.values():
                moved.set("offset", start)
                moved.set("start", start)


def _to_true_rate(root, nominal: int, exact: Fraction) -> None:
    """Every time in the file from frames at `nominal` to the same frames at `exact`."""
    for element in root.iter():
        for name in _TIME_ATTRIBUTES:
            if element.get(name) is not None:
                frames = _frames_at(element.get(name), Fraction(nominal))
                element.set(name, format_seconds(frames / exact))
        if element.tag == "format" and element.get("frameDuration"):
            element.set("frameDuration", format_seconds(1 / exact))


def format_seconds(time: Fraction) -> str:
    """Exact seconds as FCPXML writes them: "3600s", "1001/24000s"."""
    if time.denominator == 1:
        return f"{time.numerator}s"
    return f"{time.numerator}/{time.denominator}s"


def _set_rate(timeline: otio.schema.Timeline, exact: Fraction, rate: float) -> None:
    """Every time in `timeline` counted in frames at `exact` and written at `rate`: a time at
    `exact` value for value, one at another rate (a 25 fps clip's media range, an AAF audio
    track's samples) first in frames at `exact`; taken value for value, 2 s of a 25 fps clip
    came out as 50 frames of 29.97 (1.67 s), and 3.6 s of audio at 48000 as 96 minutes."""

    def exact_here(time: otio.opentime.RationalTime) -> bool:
        # An empty time may come at rate 0 (AAF fillers): it is 0 at any rate.
        return time.value == 0 or exact_rate(time.rate) == exact

    def at(time: otio.opentime.RationalTime) -> otio.opentime.RationalTime:
        if exact_here(time):
            return otio.opentime.RationalTime(time.value, rate)
        return otio.opentime.RationalTime(to_frames(seconds(time), exact), rate)

    def range_at(time_range):
        if time_range is None:
            return None
        start, duration = time_range.start_time, time_range.duration
        if exact_here(start) and exact_here(duration):
            return otio.opentime.TimeRange(at(start), at(duration))
        # Start and end each to the nearest frame, so that ranges still tile.
        first = to_frames(seconds(start), exact)
        end = to_frames(seconds(start) + seconds(duration), exact)
        return otio.opentime.TimeRange(
            otio.opentime.RationalTime(first, rate), otio.opentime.RationalTime(end - first, rate)
        )

    if timeline.global_start_time is not None:
        timeline.global_start_time = at(timeline.global_start_time)
    items = [timeline.tracks, *timeline.tracks.find_children()]
    for item in items:
        if isinstance(item, otio.schema.Transition):
            item.in_offset, item.out_offset = at(item.in_offset), at(item.out_offset)
            continue
        if item.source_range is not None:
            item.source_range = range_at(item.source_range)
        for marker in item.markers:
            marker.marked_range = range_at(marker.marked_range)
        if isinstance(item, otio.schema.Clip):
            for reference in item.media_references().values():
                reference.available_range = range_at(reference.available_range)
