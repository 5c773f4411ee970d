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
"""

from __future__ import annotations

import math
from fractions import Fraction

import opentimelineio as otio

from otio_adapters.timing import exact_rate, seconds, to_frames

_installed = False


def install() -> None:
    """Make the FCPXML reader exact (idempotent; the writer keeps its own helpers)."""
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
        return timeline

    fcpx_xml.to_rational_time = _rational_time
    fcpx_xml.FcpxXml._number_of_frames = _number_of_frames
    fcpx_xml.FcpxXml._format_frame_rate = _format_frame_rate
    fcpx_xml.FcpxXml._from_project = from_project
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
    return math.floor(parse_seconds(text) * rate + Fraction(1, 2))


def _rational_time(rational_number, fps):
    rate = exact_rate(float(fps))
    return otio.opentime.RationalTime(_frames_at(rational_number, rate), float(fps))


def _format_rate(reader, format_id) -> Fraction:
    return 1 / parse_seconds(reader._format_by_id(format_id).get("frameDuration"))


def _format_frame_rate(reader, format_id) -> float:
    return float(_format_rate(reader, format_id))


def _number_of_frames(reader, time_value, format_id) -> int:
    return _frames_at(time_value, _format_rate(reader, format_id))


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
