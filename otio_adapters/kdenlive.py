"""What the Kdenlive adapter loses of a timeline between a write and a read, put back.

Kdenlive projects are MLT XML, and OTIO's Kdenlive adapter (otio-kdenlive-adapter 0.0.3) drops,
or leaves wrong, three things that v2a's round trip needs:

- MLT counts a producer's and a playlist entry's in and out points in frames from the file's
  first frame: it knows no media timecode. v2a's takes count in timeline time (a take starts at
  its bext time reference), so written as they are every clip but one at the timeline start
  named a stretch past the end of its WAV, and Kdenlive played silence there. Written, a take
  counts from its file's start (`count_takes_from_file_start`); read back, from where it sits on
  the timeline again (`restore`).
- Metadata: v2a's clip metadata (its clip id, the shot and the frames it was made for) and its
  older takes. They travel in one property of the take's producer, `kdenlive:v2a` (JSON), which
  MLT keeps as it keeps any property (`note_takes`, `finish_written`, `restore`).
- A speed-changed clip: Kdenlive plays it through a `timewarp` producer, which the adapter reads
  as a clip with no media and no name (and writes back as a text placeholder, "Unsupported clip
  type", in place of the editor's clip). `restore` reads it as the clip on its file with a
  LinearTimeWarp, which the adapter writes back as the same timewarp producer.
"""

from __future__ import annotations

import json
import logging
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from fractions import Fraction

import opentimelineio as otio
from otio_kdenlive_adapter.adapters.kdenlive import get_maintracktor, read_property
from otio_kdenlive_adapter.adapters.kdenlive import time as mlt_time

from otio_adapters import timing
from otio_adapters.plan import timeline_start
from otio_adapters.takes import (
    V2A_KEY,
    is_v2a_clip,
    marked_v2a_tracks,
    take_origin,
    to_samples,
    url_to_path,
)
from otio_adapters.xml_files import rewrite_xml
from v2a.contracts import SAMPLE_RATE

log = logging.getLogger(__name__)

RT = otio.opentime.RationalTime
TR = otio.opentime.TimeRange

#: The producer property that carries a v2a clip's metadata and takes.
PROPERTY = "kdenlive:v2a"
#: Where `note_takes` leaves that for `finish_written`, on the copy the adapter writes.
_NOTED = "v2a_kdenlive"


# --- writing --------------------------------------------------------------------------------------


def note_takes(track: otio.schema.Track) -> None:
    """Keep, on each v2a clip of a copy about to be written, what `finish_written` will store in
    its producer: its metadata and every take, in samples (before the copy counts in frames)."""
    for clip in track.find_clips():
        takes = {
            key: {
                "url": reference.target_url,
                "available": [
                    to_samples(reference.available_range.start_time),
                    to_samples(reference.available_range.duration),
                ],
                V2A_KEY: _plain(reference.metadata.get(V2A_KEY, {})),
            }
            for key, reference in clip.media_references().items()
            if isinstance(reference, otio.schema.ExternalReference)
            and reference.available_range is not None
        }
        if clip.active_media_reference_key in takes:
            active = takes[clip.active_media_reference_key]["available"][0]
            clip.metadata[_NOTED] = {
                V2A_KEY: _plain(clip.metadata.get(V2A_KEY, {})),
                "active": clip.active_media_reference_key,
                "takes": takes,
                # In samples: in frames, at 29.97 fps 3,204 samples read back as 3,203.
                "handle_before": to_samples(clip.source_range.start_time) - active,
            }


def count_takes_from_file_start(track: otio.schema.Track) -> None:
    """Express each v2a clip's active take from its file's first frame, as MLT counts in and out
    points: the file from 0, the clip from its handle before. (The other takes are not written.)"""
    for clip in track.find_clips():
        reference = clip.media_reference
        available = reference.available_range
        if available is None:
            continue
        start = available.start_time
        reference.available_range = TR(start - start, available.duration)
        clip.source_range = TR(clip.source_range.start_time - start, clip.source_range.duration)


def finish_written(path: str, timeline: otio.schema.Timeline) -> None:
    """Store each v2a clip's noted metadata and takes (`note_takes`) in the producer of its
    active take, found by its file, as the property `kdenlive:v2a`."""
    noted = {}
    for stem_track in marked_v2a_tracks(timeline):
        for clip in stem_track.find_clips():
            if _NOTED in clip.metadata:
                noted[url_to_path(clip.media_reference.target_url)] = _plain(clip.metadata[_NOTED])
    if not noted:
        return
    def edit(root: ET.Element) -> bool:
        for producer in root.iter("producer"):
            record = noted.get(read_property(producer, "resource"))
            if record is None or producer.find(f"property[@name='{PROPERTY}']") is not None:
                continue
            prop = ET.SubElement(producer, "property", {"name": PROPERTY})
            prop.text = json.dumps(record, sort_keys=True)
        return True

    rewrite_xml(path, "mlt", edit)


def _plain(value):
    """OTIO's metadata containers as plain JSON values."""
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, Sequence) and not isinstance(value, str):
        return [_plain(item) for item in value]
    return value


# --- the editor's own project -------------------------------------------------------------------


def for_reader(text: str) -> str:
    """The project as the adapter can read it. Kdenlive writes a producer's (a chain's) `in`
    only where it is not 0, and the adapter times a fade without `in` from its producer's: a
    project with an audio fade-in failed to read ('NoneType' object has no attribute
    'replace'). MLT reads a missing `in` as 0; so does the copy handed to the adapter."""
    mlt = ET.fromstring(text)
    starting = [item for item in mlt if item.tag in _MEDIA_TAGS and item.get("in") is None]
    if not starting:
        return text
    for item in starting:
        item.set("in", "0")
    return ET.tostring(mlt, encoding="unicode")


_MEDIA_TAGS = ("producer", "chain")


# --- reading --------------------------------------------------------------------------------------


def restore(timeline: otio.schema.Timeline, text: str) -> None:
    """Put back, in a timeline the adapter read from the Kdenlive project `text`, the editor's
    speed-changed clips and v2a's clips as v2a wrote them (see the module's docstring)."""
    mlt, by_id = ET.XMLID(text)
    profile = mlt.find("profile")
    if profile is None:
        return
    rate = float(profile.get("frame_rate_num")) / float(profile.get("frame_rate_den", 1))
    bin_producers = _bin_producers(mlt, by_id)
    warps = _timewarp_entries(mlt, by_id, rate)
    for index, track in enumerate(timeline.tracks):
        for clip in track.find_clips():
            if not isinstance(clip.media_reference, otio.schema.MissingReference):
                continue
            start = round(clip.range_in_parent().start_time.rescaled_to(rate).value)
            producer = warps.get((index, start))
            if producer is not None:
                _as_time_warp(clip, producer, bin_producers)
    records = {
        read_property(producer, "resource"): read_property(producer, PROPERTY)
        for producer in mlt.iter("producer")
        if read_property(producer, PROPERTY)
    }
    offset = timing.to_samples(timeline_start(timeline))
    for track in timeline.audio_tracks():
        for clip in track.find_clips():
            record = records.get(url_to_path(getattr(clip.media_reference, "target_url", "")))
            if record or is_v2a_clip(clip):
                _in_timeline_time(clip, offset, json.loads(record) if record else None)


def _bin_producers(mlt: ET.Element, by_id: dict) -> dict[str, ET.Element]:
    """kdenlive:id -> the producer of that clip in the project bin (`main_bin`)."""
    result = {}
    main_bin = mlt.find("playlist[@id='main_bin']")
    for entry in main_bin.findall("entry") if main_bin is not None else []:
        producer = by_id.get(entry.get("producer"))
        if producer is not None:
            result.setdefault(read_property(producer, "kdenlive:id"), producer)
    return result


def _timewarp_entries(
    mlt: ET.Element, by_id: dict, rate: float
) -> dict[tuple[int, int], ET.Element]:
    """(track index as the adapter numbers tracks, record start frame) -> timewarp producer of
    each entry that plays one. The adapter reads a track per track of the main tractor that is
    not the black background, each merged from its tractor's playlists."""
    result: dict[tuple[int, int], ET.Element] = {}
    main_bin = mlt.find("playlist[@id='main_bin']")
    version = (
        read_property(main_bin, "kdenlive:docproperties.version") if main_bin is not None else ""
    )
    main = get_maintracktor(mlt, by_id, version or "0")
    if main is None:
        return result
    index = -1
    for track in main.findall("track"):
        tractor = by_id.get(track.get("producer"))
        if tractor is None or track.get("producer") == "black_track":
            continue
        if read_property(tractor, "kdenlive:playlistid") == "black_track":
            continue
        index += 1
        for sub in tractor.findall("track"):
            playlist = by_id.get(sub.get("producer"))
            position = 0
            for item in playlist if playlist is not None else []:
                if item.tag == "blank":
                    position += round(mlt_time(item.get("length"), rate).value)
                elif item.tag == "entry":
                    first = round(mlt_time(item.get("in"), rate).value)
                    last = round(mlt_time(item.get("out"), rate).value)
                    producer = by_id.get(item.get("producer"))
                    if (
                        producer is not None
                        and read_property(producer, "mlt_service") == "timewarp"
                    ):
                        result[(index, position)] = producer
                    position += last - first + 1
    return result


def _as_time_warp(clip: otio.schema.Clip, producer: ET.Element, bin_producers: dict) -> None:
    """The clip of a timewarp producer as OTIO has it: its file, the frames it plays (the entry
    counts frames of the sped-up clip: its in point times the speed in the file) and the speed."""
    try:
        speed = float(read_property(producer, "warp_speed"))
    except ValueError:
        return
    # Kdenlive's own resource is "<speed>:<file>"; warp_resource is the file alone.
    resource = (
        read_property(producer, "warp_resource")
        or read_property(producer, "resource").partition(":")[2]
    )
    if speed <= 0 or not resource:
        # Reverse playback maps frames from the file's end, which the entry does not say here.
        log.info(
            "Kdenlive clip at %s plays at speed %s: read without media",
            clip.range_in_parent(),
            speed,
        )
        return
    source = clip.source_range
    rate = source.start_time.rate
    bin_producer = bin_producers.get(read_property(producer, "kdenlive:id"))
    available = None
    if bin_producer is not None and bin_producer.get("out"):
        first = mlt_time(bin_producer.get("in") or "0", rate)
        last = mlt_time(bin_producer.get("out"), rate)
        available = TR.range_from_start_end_time_inclusive(first, last)
    clip.media_reference = otio.schema.ExternalReference(
        target_url=resource, available_range=available
    )
    clip.source_range = TR(RT(source.start_time.value * speed, rate), source.duration)
    clip.effects.append(otio.schema.LinearTimeWarp(time_scalar=speed))
    names = [read_property(producer, "kdenlive:clipname")]
    if bin_producer is not None:
        names.append(read_property(bin_producer, "kdenlive:clipname"))
    clip.name = next((name for name in names if name), clip.name)


def _same_frame(samples: int, other: int, rate: float) -> bool:
    frames = [
        timing.to_frames(Fraction(value, SAMPLE_RATE), timing.exact_rate(rate))
        for value in (samples, other)
    ]
    return frames[0] == frames[1]


def _in_timeline_time(clip: otio.schema.Clip, offset: int, record: dict | None) -> None:
    """A v2a clip read from a project (its take counted from the file's start) in timeline time,
    as v2a lays it out (`write.media_origin`): the take starts where its first sample sits, its
    handle before the clip's record start. With its `kdenlive:v2a` record, the clip gets back
    its metadata and every take, placed as they were beside the active one."""
    reference = clip.media_reference
    available = reference.available_range
    if available is None:
        return
    record_range = clip.range_in_parent()
    handle = to_samples(clip.source_range.start_time) - to_samples(available.start_time)
    written = (record or {}).get("handle_before")
    if written is not None and _same_frame(written, handle, available.start_time.rate):
        handle = written  # the handle v2a wrote, to the sample, unless the editor trimmed it
    origin = take_origin(offset, to_samples(record_range.start_time), handle)
    length = to_samples(record_range.duration)
    takes = (record or {}).get("takes", {})
    active = (record or {}).get("active")
    if active not in takes or url_to_path(takes[active]["url"]) != url_to_path(
        reference.target_url
    ):
        # Not the take v2a wrote there (an older project, or another file put in its place).
        reference.available_range = TR(
            RT(origin, SAMPLE_RATE), RT(to_samples(available.duration), SAMPLE_RATE)
        )
    else:
        base = takes[active]["available"][0]
        references = {
            key: otio.schema.ExternalReference(
                target_url=take["url"],
                available_range=TR(
                    RT(origin + take["available"][0] - base, SAMPLE_RATE),
                    RT(take["available"][1], SAMPLE_RATE),
                ),
                metadata={V2A_KEY: take.get(V2A_KEY, {})},
            )
            for key, take in takes.items()
        }
        clip.set_media_references(references, active)
        clip.metadata[V2A_KEY] = record.get(V2A_KEY, {})
    clip.source_range = TR(RT(origin + handle, SAMPLE_RATE), RT(length, SAMPLE_RATE))
