"""Premiere's Time Remap (FCP7 XML speed changes), read into OTIO and written back.

The FCP7 XML adapter (otio-fcp-adapter 1.0.0) keeps a clip item's Time Remap filter as a generic
effect and reads its `<in>` as a media frame: a clip at 150 % or 50 % was planned at 100 % from
another frame, its sound made for other moments than Premiere shows. It writes no speed either:
a retimed clip from another format played at 100 % in the XML v2a returned.

How the document says it (Premiere's export, as FCP7 defined it): a `<filter>` of the clip item
whose `<effect>` has effectid `timeremap` and the parameters `variablespeed` (1: keyframed),
`speed` (percent), `reverse`, `frameblending` and `graphdict` (keyframes from `when`, a frame of
the retimed clip, to `value`, a media frame, both at the item's rate). The item's `<in>` and
`<out>` count frames of the retimed clip, the `when` axis, not of its media (its `<start>` and
`<end>` stay record frames, and `<out>` - `<in>` their length): record frame `start + k` shows
media time (in + k) x speed from the media's first frame, and reversed, the media played back
from its end. A real Premiere export agrees (200.151 %, in 170 and out 537: its graphdict maps
them to media frames 340 and 1074); tests/otio_adapters/test_fcp7_speed.py has its sources.

Read, a constant speed is a LinearTimeWarp (negative: reversed) and a speed of 0 holding the
frame its graphdict names at the item's in point a FreezeFrame, the clip's OTIO source range
starting at the media time of its first frame (reversed: of the start of the media it uses), as
OTIO counts a time-warped clip. Variable speed (a ramp) is no one OTIO effect: the clip stays as
the adapter reads it, marked (`NOT_READ`) and named when the timeline is written, and its filter
is written back as it was.

Written (`for_writer`), a clip of LinearTimeWarps gets the `<in>` of its retimed clip and a Time
Remap filter at its speed, in the order Premiere writes one (`in_premieres_order`).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from fractions import Fraction

import opentimelineio as otio

from otio_adapters.plan import time_scalar
from otio_adapters.timing import exact_rate, seconds

#: Item metadata: why the clip's Time Remap was not read (it plays at normal speed in the plan).
NOT_READ = "v2a_fcp7_speed_not_read"
_EFFECT_ID = "timeremap"
_installed = False


def install() -> None:
    """Make the FCP7 XML reader read Time Remap filters (idempotent)."""
    global _installed
    if _installed:
        return
    # The module OTIO's plugin manifest loads (its own copy, not `otio_fcp_adapter`'s).
    parser = otio.adapters.from_name("fcp_xml").module().FCP7XMLParser
    original = parser.clip_for_element

    def clip_for_element(reader, element, item_range, start_offset, context):
        item = original(reader, element, item_range, start_offset, context)
        for filter_element in reader._derefed_iterfind(element, "./filter"):
            effect = filter_element.find("./effect")
            if effect is not None and (effect.findtext("effectid") or "").lower() == _EFFECT_ID:
                _retime(item, element, effect, start_offset)
                break
        return item

    parser.clip_for_element = clip_for_element
    _installed = True


def _parameters(effect: ET.Element) -> dict[str, ET.Element]:
    return {(p.findtext("parameterid") or "").lower(): p for p in effect.iterfind("parameter")}


def _retime(item, element: ET.Element, effect: ET.Element, start_offset) -> None:
    """Give `item` (read from the clip item `element`) the speed its Time Remap `effect` sets,
    or mark it unread (`NOT_READ`). `start_offset`: record time from the transition before the
    item to its cut, which the reader added to its in point (a retimed frame is a record one)."""
    parameters = _parameters(effect)
    value = {name: (p.findtext("value") or "").strip() for name, p in parameters.items()}
    if value.get("variablespeed") == "1":
        item.metadata[NOT_READ] = "variable speed"
        return
    try:
        speed = Fraction(value.get("speed", "100")) / 100
    except (ValueError, ZeroDivisionError):
        item.metadata[NOT_READ] = "a speed v2a cannot read"
        return
    if value.get("reverse", "").upper() == "TRUE":
        speed = -abs(speed)
    source = item.source_range
    rate = exact_rate(source.start_time.rate)
    # The reader's source start is the media's start plus <in> (and the offset): <in> counts
    # the retimed clip, so the media's start is what lies before it.
    retimed = Fraction(element.findtext("in") or "0") / rate + seconds(start_offset)
    media_start = seconds(source.start_time) - retimed
    duration = seconds(source.duration)
    if speed == 0:
        held = _held_frame(parameters.get("graphdict"))
        if held is None:
            item.metadata[NOT_READ] = "a hold without its frame"
            return
        start, time_effect = media_start + held / rate, otio.schema.FreezeFrame()
    elif speed > 0:
        start, time_effect = media_start + retimed * speed, _warp(speed)
    else:
        available = getattr(item, "media_reference", None)
        available = available.available_range if available is not None else None
        if available is None:
            item.metadata[NOT_READ] = "reversed, its media's length unknown"
            return
        # Frame 0 of the reversed clip is the media's end; OTIO counts from the lowest media
        # time used, reached at the item's last record frame.
        start = media_start + seconds(available.duration) + (retimed + duration) * speed
        time_effect = _warp(speed)
    item.source_range = otio.opentime.TimeRange(
        otio.opentime.RationalTime(float(start * rate), source.start_time.rate), source.duration
    )
    # The Time Remap the reader kept as a generic effect is the time effect now.
    kept = [e for e in item.effects if not (type(e) is otio.schema.Effect
                                            and e.metadata.get("fcp_xml", {}).get("effectid")
                                            == effect.findtext("effectid"))]
    item.effects[:] = kept + [time_effect]


def _warp(speed: Fraction) -> otio.schema.LinearTimeWarp:
    return otio.schema.LinearTimeWarp(time_scalar=float(speed))


def _held_frame(graphdict: ET.Element | None) -> Fraction | None:
    """The media frame (at the item's rate) a held clip's graphdict shows at its in point."""
    if graphdict is None:
        return None
    for keyframe in graphdict.iterfind("keyframe"):
        if (keyframe.findtext("speedkfin") or "").upper() == "TRUE":
            try:
                return Fraction(keyframe.findtext("value") or "")
            except ValueError:
                return None
    return None


def not_read(timeline: otio.schema.Timeline) -> list[tuple[otio.core.Composable, str]]:
    """The items whose Time Remap was not read (`NOT_READ`), with why."""
    return [(item, item.metadata[NOT_READ]) for item in timeline.find_children()
            if NOT_READ in item.metadata]


# --- writing ---------------------------------------------------------------------------------


def writable(item) -> bool:
    """Whether v2a writes `item`'s time effects as a Time Remap: a clip of LinearTimeWarps
    making a speed other than 0 (reversed: one whose media's length is known, to count from)."""
    effects = [e for e in item.effects if isinstance(e, otio.schema.TimeEffect)]
    if not isinstance(item, otio.schema.Clip) or not effects:
        return False
    if not all(type(e) is otio.schema.LinearTimeWarp for e in effects):
        return False  # a FreezeFrame (Premiere's hold is not written by v2a), another effect
    speed = time_scalar(item)
    available = item.media_reference.available_range if item.media_reference else None
    return speed > 0 or (speed < 0 and available is not None)


def for_writer(timeline: otio.schema.Timeline) -> otio.schema.Timeline:
    """`timeline` as the FCP7 XML adapter is given it: where a clip plays at another speed
    (`writable`), a copy whose clips start at the retimed clip's frame (the adapter writes it
    as `<in>`) and carry their Time Remap filter in the metadata it writes as elements."""
    if not any(writable(clip) and time_scalar(clip) != 1 for clip in timeline.find_clips()):
        return timeline
    given = timeline.deepcopy()
    for clip in given.find_clips():
        if writable(clip) and time_scalar(clip) != 1:
            _as_retimed(clip, time_scalar(clip))
    return given


def _as_retimed(clip: otio.schema.Clip, speed: Fraction) -> None:
    source = clip.source_range
    rate = exact_rate(source.start_time.rate)
    available = clip.media_reference.available_range
    # The adapter counts <in> from the media's start: the available range's, or 0.
    media_start = seconds(available.start_time) if available is not None else Fraction(0)
    start, duration = seconds(source.start_time), seconds(source.duration)
    if speed > 0:
        retimed = (start - media_start) / speed
    else:  # the reversed clip's frame 0 is the media's end
        retimed = (media_start + seconds(available.duration) - start + duration * speed) / -speed
    # A retimed clip's in point is a whole frame of it: a first frame between two (media 100
    # at 150 %) starts up to half a record frame off the moment v2a made its sound for.
    frames = round(retimed * rate)
    clip.source_range = otio.opentime.TimeRange(
        otio.opentime.RationalTime(float(media_start * rate + frames), source.start_time.rate),
        source.duration,
    )
    meta = dict(clip.metadata.get("fcp_xml") or {})
    # The editor's own Time Remap (read from FCP7 XML) is replaced: its speed and graph are
    # those of the clip as read, the time warp is the clip's now.
    filters = meta.get("filter")
    filters = [filters] if hasattr(filters, "items") else list(filters or [])
    filters = [f for f in filters if (f.get("effect", {}).get("effectid") or "") != _EFFECT_ID]
    meta["filter"] = filters + [_filter(speed)]
    clip.metadata["fcp_xml"] = meta


def _filter(speed: Fraction) -> dict:
    """A constant-speed Time Remap filter as the adapter writes metadata (`_dict_to_xml_tree`)."""
    percent = abs(speed) * 100
    shown = str(int(percent)) if percent.denominator == 1 else f"{float(percent):.10g}"

    def parameter(name: str, value: str, low: str = "", high: str = "") -> dict:
        found = {"@authoringApp": "PremierePro", "parameterid": name, "name": name}
        if low:
            found.update(valuemin=low, valuemax=high)
        return {**found, "value": value}

    return {"effect": {
        "name": "Time Remap", "effectid": _EFFECT_ID, "effectcategory": "motion",
        "effecttype": "motion", "mediatype": "video",
        "parameter": [
            parameter("variablespeed", "0", "0", "1"),
            parameter("speed", shown, "-100000", "100000"),
            parameter("reverse", "TRUE" if speed < 0 else "FALSE"),
            parameter("frameblending", "FALSE"),
        ],
    }}


# The order of a Time Remap's elements in Premiere's export (OTIO's metadata sorts them).
_EFFECT_ORDER = ("name", "effectid", "effectcategory", "effecttype", "mediatype", "parameter")
_PARAMETER_ORDER = ("parameterid", "name", "valuemin", "valuemax", "value", "keyframe")
# What Premiere writes before a clip item's filters (its media and times; other filters).
_BEFORE = ("file", "sourcetrack", "in", "out", "pproTicksIn", "pproTicksOut", "filter")


def in_premieres_order(root: ET.Element) -> bool:
    """Put each Time Remap filter of the document where and as Premiere writes one: after its
    clip item's media, times and other filters, its elements in Premiere's order. Whether
    anything moved."""
    changed = False
    for item in root.iter("clipitem"):
        for remap in item.findall("filter"):
            effect = remap.find("effect")
            if effect is None or (effect.findtext("effectid") or "").lower() != _EFFECT_ID:
                continue
            _sort(effect, _EFFECT_ORDER)
            for parameter in effect.iterfind("parameter"):
                _sort(parameter, _PARAMETER_ORDER)
            children = [child for child in item if child is not remap]
            before = [index for index, child in enumerate(children) if child.tag in _BEFORE]
            children.insert(before[-1] + 1 if before else len(children), remap)
            _reorder(item, children)
            changed = True
    return changed


def _sort(element: ET.Element, order: tuple[str, ...]) -> None:
    rank = {tag: index for index, tag in enumerate(order)}
    _reorder(element, sorted(element, key=lambda child: rank.get(child.tag, len(order))))


def _reorder(element: ET.Element, children: list[ET.Element]) -> None:
    """Put `element`'s children in the order `children`, the whitespace between them staying
    where it was (the indentation of the document as written)."""
    tails = [child.tail for child in element]
    for child in list(element):
        element.remove(child)
    element.extend(children)
    for child, tail in zip(children, tails, strict=True):
        child.tail = tail
