"""The editor's FCPXML speed changes (`<timeMap>`), read into OTIO and written back.

The FCPXML adapter (otio-fcpx-xml-adapter 1.0.0) reads and writes no `<timeMap>`: a clip at
150 % was read at 100 %, its sound made for other frames than the viewer sees, and a retimed
clip from another format played at normal speed in the FCPXML v2a returned.

A time map retimes a clip: each `<timept>` maps a time of the clip's own (retimed) timeline,
`time`, where its `start` and `duration` count, to a time of its media, `value` (Apple, FCPXML
"Retiming"). A constant speed over the clip's range (Final Cut keeps a retimed clip's whole map on
each part it blades) is a LinearTimeWarp (the slope; negative: reversed) and a hold a
FreezeFrame (value constant), the clip's OTIO source range starting at the media time its first
frame shows, as OTIO counts a time-warped clip. A map whose speed changes within the clip (a
ramp) is not one OTIO effect: it is counted (`SPEED_CHANGES_NOT_READ`) and named when the
timeline is written, and kept on its clip to be written back to FCPXML as it was.

Writing, a clip with LinearTimeWarps (a FreezeFrame is one) gets a two-point linear map over
its own range, from its `start` (the media time of its first frame, as the adapter writes it)
at the speed they make: reading it back gives the same effect and source range.
"""

from __future__ import annotations

import copy
import xml.etree.ElementTree as ET
from fractions import Fraction

import opentimelineio as otio

from otio_adapters.fcpx_time import format_seconds, parse_seconds
from otio_adapters.takes import V2A_KEY
from otio_adapters.timing import exact_rate, seconds, to_frames

#: Timeline metadata (under "fcpx_xml"): how many clips of the source FCPXML had a time map
#: v2a could not read (a speed ramp).
SPEED_CHANGES_NOT_READ = "speed_changes_not_read"
_KEY = "fcpx_xml"
#: Item metadata (under "fcpx_xml"): its clip's time map, which could not be read, as written
#: (to be written back so: the editor's ramp would play at normal speed otherwise).
_NOT_READ = "time_map_not_read"
#: What may come before a clip's time map (FCPXML DTD: note?, conform-rate?, timeMap?).
_BEFORE_TIME_MAP = ("note", "conform-rate")

_installed = False


def install() -> None:
    """Make the FCPXML reader read time maps (idempotent; after `fcpx_time.install`)."""
    global _installed
    if _installed:
        return
    fcpx_xml = otio.adapters.from_name("fcpx_xml").module()
    original_build = fcpx_xml.FcpxXml._build_composable
    original_from_project = fcpx_xml.FcpxXml._from_project

    def build_composable(reader, element, default_format):
        composable = original_build(reader, element, default_format)
        time_map = reader._timing_clip(element).find("./timeMap")
        if time_map is not None and not _retime(composable, time_map):
            kept = copy.deepcopy(time_map)
            kept.tail = None
            composable.metadata.setdefault(_KEY, {})[_NOT_READ] = ET.tostring(
                kept, encoding="unicode")
        return composable

    def from_project(reader, project_element):
        timeline = original_from_project(reader, project_element)
        unread = sum(
            1 for item in timeline.find_children() if item.metadata.get(_KEY, {}).get(_NOT_READ)
        )
        if unread:  # said when the timeline is written
            timeline.metadata.setdefault(_KEY, {})[SPEED_CHANGES_NOT_READ] = unread
        return timeline

    fcpx_xml.FcpxXml._build_composable = build_composable
    fcpx_xml.FcpxXml._from_project = from_project
    _installed = True


def _retime(composable, time_map: ET.Element) -> bool:
    """Give `composable` the speed its clip's time map sets over its range; False where the
    map is not one constant speed there (a map of fewer than two points included)."""
    points = [
        (parse_seconds(p.get("time")), parse_seconds(p.get("value")))
        for p in time_map.iterfind("./timept")
    ]
    source = composable.source_range
    rate = source.start_time.rate
    start = seconds(source.start_time)
    end = start + seconds(source.duration)
    pairs = [(p0, p1) for p0, p1 in zip(points, points[1:], strict=False) if p1[0] > p0[0]]
    # Final Cut keeps a retimed clip's whole map on each part it blades: only the stretch of
    # the map under the clip's own range says its speed.
    pairs = [(p0, p1) for p0, p1 in pairs if p0[0] < end and p1[0] > start] or pairs
    slopes = {(v1 - v0) / (t1 - t0) for (t0, v0), (t1, v1) in pairs}
    if len(slopes) != 1:
        return False  # a ramp: no one OTIO effect
    (speed,) = slopes
    (first_time, first_value), _ = pairs[0]
    shown = first_value + (start - first_time) * speed  # the media time of the first frame
    last = shown + seconds(source.duration) * speed
    # OTIO counts a reversed clip's source range from the start of the media it uses.
    media_start = last if speed < 0 else shown
    composable.source_range = otio.opentime.TimeRange(
        otio.opentime.RationalTime(to_frames(media_start, exact_rate(rate)), rate),
        source.duration,
    )
    effect = (otio.schema.FreezeFrame() if speed == 0
              else otio.schema.LinearTimeWarp(time_scalar=float(speed)))
    composable.effects.append(effect)
    return True


# --- writing ---------------------------------------------------------------------------------


def speed(item) -> Fraction | None:
    """The speed a time map must give `item` (product of its LinearTimeWarps; 0: a hold); None
    for an item at normal speed or with a time effect that is not one of those."""
    effects = [effect for effect in item.effects if isinstance(effect, otio.schema.TimeEffect)]
    if not effects or not all(isinstance(e, otio.schema.LinearTimeWarp) for e in effects):
        return None
    result = Fraction(1)
    for effect in effects:
        result *= Fraction(effect.time_scalar).limit_denominator(100000)
    return result


def unwritable(timeline: otio.schema.Timeline) -> list:
    """The editor's retimed items that get no time map: those inside nested stacks (written as
    compound clips) or nested tracks, and those with a time effect other than LinearTimeWarp."""
    editors = [track for track in timeline.tracks if V2A_KEY not in track.metadata]
    written = {
        id(item)
        for track in editors
        for item in track
        if isinstance(item, (otio.schema.Clip, otio.schema.Stack)) and speed(item) is not None
    }
    return [
        item
        for track in editors
        for item in track.find_children()
        if not isinstance(item, otio.schema.Transition)
        and any(isinstance(effect, otio.schema.TimeEffect) for effect in item.effects)
        and id(item) not in written
    ]


def add_time_map(element: ET.Element, item) -> None:
    """Give the clip `element` (its times final) the time map of `item`, the clip or stack it
    was written for: the one read from FCPXML and not understood (a ramp), as it was; for
    LinearTimeWarps (`speed`), a two-point linear map over its own range; none at normal
    speed or with another time effect."""
    kept = item.metadata.get(_KEY, {}).get(_NOT_READ)
    item_speed = speed(item)
    if item_speed is not None:
        _insert(element, _linear_map(element, item_speed))
    elif isinstance(kept, str):
        _insert(element, ET.fromstring(kept))


def _linear_map(element: ET.Element, item_speed: Fraction) -> ET.Element:
    """A map whose first frame shows the clip's `start` in media time, the media running at
    `item_speed`."""
    start = parse_seconds(element.get("start"))
    duration = parse_seconds(element.get("duration"))
    if item_speed < 0:  # reversed: `start` is where the media it uses begins, shown last
        values = (start - item_speed * duration, start)
    else:
        values = (start, start + item_speed * duration)
    time_map = ET.Element("timeMap")
    for time, value in zip((start, start + duration), values, strict=True):
        ET.SubElement(time_map, "timept", {"time": format_seconds(time),
                                           "value": format_seconds(value), "interp": "linear"})
    return time_map


def _insert(element: ET.Element, time_map: ET.Element) -> None:
    at = sum(1 for child in element if child.tag in _BEFORE_TIME_MAP)
    element.insert(at, time_map)
