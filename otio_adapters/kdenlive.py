"""What the Kdenlive adapter loses of a timeline between a write and a read, put back.

Kdenlive projects are MLT XML, and OTIO's Kdenlive adapter (otio-kdenlive-adapter 0.0.3) drops,
or leaves wrong, these things that v2a's round trip needs:

- MLT counts a producer's and a playlist entry's in and out points in frames from the file's
  first frame: it knows no media timecode. v2a's takes count in timeline time (a take starts at
  its bext time reference), so written as they are every clip but one at the timeline start
  named a stretch past the end of its WAV, and Kdenlive played silence there. Written, a take
  counts from its file's start (`count_takes_from_file_start`); read back, from where it sits on
  the timeline again (`restore`).
- Metadata: v2a's clip metadata (its clip id, the shot and the frames it was made for) and its
  older takes. They travel in one property of the take's producer, `kdenlive:v2a` (JSON), which
  MLT keeps as it keeps any property (`note_takes`, `write_into_project`, `restore`).
- A speed-changed clip: Kdenlive plays it through a `timewarp` producer, which the adapter reads
  as a clip with no media and no name (and writes back as a text placeholder, "Unsupported clip
  type", in place of the editor's clip). `restore` reads it as the clip on its file with a
  LinearTimeWarp, which the adapter writes back as the same timewarp producer. A reversed one
  (negative speed) counts back from the producer's out point, as MLT plays it: read so, and
  what the adapter writes of it, divided by the negative speed, put right
  (`reversed_as_mlt_plays`). The first frame of one the adapter writes, which its in point
  (in frames of the sped-up clip) rounds down, is kept in its producer (`as_kdenlive_writes`).
- A clip or a video track the editor switched off, which the adapter writes as shown: written
  as Kdenlive writes them (`as_kdenlive_writes`).

And the editor's project itself: the adapter rewrites a whole project from what it read, which
loses titles, same-track mixes, compositions and effects. A timeline read from a project
remembers that file (`remember_project`), and v2a's tracks are written into it, the rest as the
editor saved it (`write_into_project`); the adapter writes only the editor's tracks of
timelines from other formats, and v2a's go into what it wrote the same way. v2a's crossfades
are Kdenlive's same-track mixes (`_Mix`; the adapter writes no transitions), read back as v2a's
crossfades again (`restore`).

And projects as Kdenlive's versions and clip types save them, which the adapter could not read
or read other than the editor sees them: in and out points left out (`as_mlt_reads`), guide
categories of the editor's own (`for_reader`), sequences used as clips, disabled clips and
hidden video tracks (`restore`).
"""

from __future__ import annotations

import bisect
import copy
import json
import logging
import os
import re
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from urllib.parse import parse_qs

import opentimelineio as otio
from otio_kdenlive_adapter.adapters.kdenlive import get_maintracktor, marker_types, read_property
from otio_kdenlive_adapter.adapters.kdenlive import time as mlt_time

from otio_adapters import timing
from otio_adapters.media_refs import rebase_media_references
from otio_adapters.plan import is_enabled, timeline_start
from otio_adapters.source_files import record_of, text_if_unchanged
from otio_adapters.takes import (
    V2A_KEY,
    is_v2a_clip,
    marked_v2a_tracks,
    name_stem,
    take_origin,
    to_samples,
    track_stem,
    url_to_path,
)
from v2a.contracts import SAMPLE_RATE

log = logging.getLogger(__name__)

RT = otio.opentime.RationalTime
TR = otio.opentime.TimeRange

#: The producer property that carries a v2a clip's metadata and takes.
PROPERTY = "kdenlive:v2a"
#: Where `note_takes` leaves that for `write_into_project`, on the copy written.
_NOTED = "v2a_kdenlive"
#: timeline.metadata["kdenlive"]["project"]: the project file a timeline was read from.
_PROJECT = "project"


# --- writing --------------------------------------------------------------------------------------


def note_takes(track: otio.schema.Track) -> None:
    """Keep, on each v2a clip of a copy about to be written, what `write_into_project` stores in
    its producer: its metadata, every take and the crossfade into it, in samples (before the
    copy counts in frames)."""
    crossfade = None  # the one into the next clip
    for item in track:
        if isinstance(item, otio.schema.Transition):
            crossfade = [to_samples(item.in_offset), to_samples(item.out_offset)]
            continue
        if not isinstance(item, otio.schema.Clip):
            crossfade = None
            continue
        clip, crossfade_in, crossfade = item, crossfade, None
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
            if crossfade_in:
                clip.metadata[_NOTED]["crossfade_in"] = crossfade_in


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


def reversed_as_mlt_plays(text: str) -> str:
    """The adapter's project with its reversed clips as MLT plays them. The adapter divides a
    timewarp producer's length, and its entries' in and out points, by the speed: negative for
    a reversed clip (a length of -132, an in point of 00:00:-3.480), which MLT cannot play.
    MLT shows at an entry's frame p the file's frame (out - p) * |speed|, `out` the producer's
    (`_as_time_warp`), and the in point the adapter writes is minus the lowest frame shown over
    |speed|: so an entry ends at out + that, and starts as many frames earlier as it lasts. The
    producer's out point is the file's last frame at that speed (the length made positive), or
    later where an entry needs it (no length of the file: the adapter took the clip's range)."""
    mlt, by_id = ET.XMLID(text)
    profile = mlt.find("profile")
    reversed_producers = [
        producer
        for producer in mlt.findall("producer")
        if read_property(producer, "mlt_service") == "timewarp"
        and _float(read_property(producer, "warp_speed")) < 0
        and _float(read_property(producer, "length")) < 0
    ]
    if profile is None or not reversed_producers:
        return text
    rate = float(profile.get("frame_rate_num")) / float(profile.get("frame_rate_den", 1))
    entries = list(mlt.iter("entry"))
    for producer in reversed_producers:
        played = [  # (entry, its in point as written, its frames less one)
            (entry, first, round(mlt_time(entry.get("out"), rate).value) - first)
            for entry in entries
            if entry.get("producer") == producer.get("id")
            for first in [round(mlt_time(entry.get("in"), rate).value)]
        ]
        length = -round(_float(read_property(producer, "length")))
        last = max([length - 1, *(span - first for _, first, span in played)])
        for entry, first, span in played:
            entry.set("in", str(last + first - span))
            entry.set("out", str(last + first))
        producer.set("in", "0")
        producer.set("out", str(last))
        producer.find("property[@name='length']").text = str(last + 1)
    return ET.tostring(mlt, encoding="unicode")


def _float(value: str) -> float:
    try:
        return float(value)
    except ValueError:
        return 0.0


def _plain(value):
    """OTIO's metadata containers as plain JSON values."""
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, Sequence) and not isinstance(value, str):
        return [_plain(item) for item in value]
    return value


# --- the editor's own project -------------------------------------------------------------------


def remember_project(timeline: otio.schema.Timeline, path: str, data: bytes) -> None:
    """Note on a timeline read from a Kdenlive project which file it was and what it held, so
    that v2a's tracks are written back into that project (`write_into_project`)."""
    timeline.metadata.setdefault("kdenlive", {})[_PROJECT] = record_of(path, data)


def source_project(timeline: otio.schema.Timeline) -> tuple[str, str, str, str]:
    """(project text, its path, "", its sha256) for a timeline read from a Kdenlive project
    still as it was read (`source_files.text_if_unchanged`); ("", path, why not, "") where
    it changed or is gone since; empty for a timeline read from another format."""
    return text_if_unchanged(project_record(timeline), "the Kdenlive project")


def project_record(timeline: otio.schema.Timeline) -> MutableMapping | None:
    """The timeline's record of the project it was read from (`remember_project`), or None."""
    return timeline.metadata.get("kdenlive", {}).get(_PROJECT)


class UnreadableProject(ValueError):
    """A Kdenlive project that does not say what it plays: the message names the element and
    what it lacks."""


def as_mlt_reads(text: str) -> str:
    """The project with the in and out points MLT takes where the project leaves them out,
    written in, for the adapter and `restore`: a producer's (a chain's) `in` 0 (Kdenlive writes
    none at the file's first frame), its `out` its length less one (Kdenlive writes a length
    alone for some images, colour clips and in older projects), and an entry's in and out its
    producer's. The adapter reads every one of them (without, it failed: 'NoneType' object has
    no attribute 'replace'). A producer with neither `out` nor a length keeps none: MLT takes
    the file's, which the project does not say (`for_reader`). Raises UnreadableProject for an
    entry whose frames cannot be known (no `out`, nor its producer) or whose producer is not
    defined, as Kdenlive and MLT do not play it either."""
    mlt, by_id = ET.XMLID(text)
    profile = mlt.find("profile")
    if profile is None:
        return text  # not a project the adapter reads; it says so
    rate = float(profile.get("frame_rate_num")) / float(profile.get("frame_rate_den", 1))
    changed = False
    for item in mlt:
        if item.tag not in _MEDIA_TAGS:
            continue
        if item.get("in") is None:
            item.set("in", "0")
            changed = True
        length = _frame_count(read_property(item, "length"), rate)
        if item.get("out") is None and length:
            item.set("out", str(length - 1))
            changed = True
    for playlist in mlt.iter("playlist"):
        if playlist.get("id") == "main_bin":
            continue  # the project bin: nothing reads its entries' times
        for entry in playlist.iter("entry"):
            producer = by_id.get(entry.get("producer"))
            if producer is None:
                raise UnreadableProject(
                    f'an entry of playlist "{playlist.get("id")}" plays '
                    f'"{entry.get("producer")}", which the project does not define'
                )
            if entry.get("in") is not None and entry.get("out") is not None:
                continue
            for side, default in (("in", "0"), ("out", None)):
                value = entry.get(side) or producer.get(side) or default
                if value is None:
                    raise UnreadableProject(_no_out(producer, playlist))
                entry.set(side, value)
            changed = True
    return ET.tostring(mlt, encoding="unicode") if changed else text


def _frame_count(length: str, rate: float) -> int:
    """A producer's `length` in frames (a count, or a clock as Kdenlive writes some), 0 where
    it has none or none MLT reads."""
    try:
        return max(0, round(mlt_time(length, rate).value))
    except ValueError:
        return 0


def _no_out(producer: ET.Element, playlist: ET.Element) -> str:
    resource = read_property(producer, "warp_resource") or read_property(producer, "resource")
    return (
        f'{producer.tag} "{producer.get("id")}" ({resource or "no resource"}) has neither an '
        f'out point nor a length, and its entry on playlist "{playlist.get("id")}" has no out '
        "point: which frames it plays is not known (MLT takes the file's length, which the "
        "project does not say)"
    )


def for_reader(text: str) -> str:
    """The project (`as_mlt_reads`) as the adapter can read it: v2a's tracks without their
    mixes (`_without_mixes`), and a producer without an out point or a length given the last
    frame its entries play (`_bound_by_entries`)."""
    mlt, by_id = ET.XMLID(text)
    profile = mlt.find("profile")
    mixed = [
        tractor
        for tractor in _track_tractors(mlt, by_id)
        if tractor.find("transition") is not None and _named_v2a(tractor)
    ]
    unbounded = [item for item in mlt if item.tag in _MEDIA_TAGS and item.get("out") is None]
    recategorised = _markers_in_known_categories(mlt)
    if profile is not None:
        rate = float(profile.get("frame_rate_num")) / float(profile.get("frame_rate_den", 1))
        for tractor in mixed:
            _without_mixes(tractor, by_id, rate)
        _bound_by_entries(mlt, unbounded, rate)
    if not mixed and not unbounded and not recategorised:
        return text
    return ET.tostring(mlt, encoding="unicode")


#: Properties holding guides or clip markers (JSON: a list of {pos, comment, type}).
_MARKERS = (
    "kdenlive:sequenceproperties.guides", "kdenlive:docproperties.guides", "kdenlive:markers",
)  # fmt: skip


def _markers_in_known_categories(mlt: ET.Element) -> bool:
    """Guides and markers of a category the adapter does not know put in its first one. An
    editor can add guide categories to Kdenlive's nine (a `type` of 9 and on); the adapter knows
    those nine (`marker_types`) and failed on any other (KeyError: 9): the project did not read.
    Only their colour is lost, in the timeline v2a reads. Whether any changed."""
    changed = False
    for item in mlt.iter("property"):
        if item.get("name") not in _MARKERS or not (item.text or "").strip():
            continue
        try:
            markers = json.loads(item.text)
        except ValueError:
            continue  # the adapter says what it cannot read
        unknown = [
            marker
            for marker in markers
            if isinstance(marker, dict) and marker.get("type") not in marker_types
        ]
        for marker in unknown:
            marker["type"] = 0
        if unknown:
            item.text = json.dumps(markers)
            changed = True
    return changed


def _bound_by_entries(mlt: ET.Element, producers: list[ET.Element], rate: float) -> None:
    """An out point for each producer (or chain) with neither one nor a length, which the
    adapter needs for the file's available range: the last frame its entries play. MLT plays
    the file to its end, which the project does not say: the range read ends where the last
    entry does (no handles past it). `restore` places a timewarp's clip from the project
    itself, and leaves a reversed one, which MLT counts back from the file's end, offline
    (`_last_frame`)."""
    if not producers:
        return
    last: dict[str, int] = {}  # producer id -> the last frame an entry plays, in one pass
    for entry in mlt.iter("entry"):
        if entry.get("out"):
            frame = round(mlt_time(entry.get("out"), rate).value)
            last[entry.get("producer")] = max(frame, last.get(entry.get("producer"), 0))
    for producer in producers:
        producer.set("out", str(last.get(producer.get("id"), 0)))


def _without_mixes(tractor: ET.Element, by_id: dict, rate: float) -> None:
    """A v2a track with each clip on the first playlist from its cut to its cut, without the
    mixes, which `restore` reads from the project itself. The adapter merges a track's two
    playlists with OTIO's flatten_stack (34 s of CPU for a track of 2,000 mixed clips, the whole
    read 1.9 s without) and put the transitions beside the first clip near them, another one
    around short clips."""
    cuts = _mixed_cuts(tractor, by_id, rate)
    starts = {cut - before: cut for cut, (before, _) in cuts.items()}
    ends = {cut + after: cut for cut, (_, after) in cuts.items()}
    playlists = [by_id.get(sub.get("producer")) for sub in tractor.findall("track")]
    clips = []
    for playlist in (item for item in playlists if item is not None):
        position = 0
        for item in list(playlist):
            if item.tag == "blank":
                position += round(mlt_time(item.get("length"), rate).value)
            elif item.tag == "entry":
                first = round(mlt_time(item.get("in"), rate).value)
                last = round(mlt_time(item.get("out"), rate).value)
                start, end = position, position + last - first + 1
                cut_in, cut_out = starts.get(start, start), ends.get(end, end)
                item.set("in", str(first + cut_in - start))
                item.set("out", str(last - end + cut_out))
                clips.append((cut_in, cut_out, item))
                position = end
            if item.tag in ("blank", "entry"):
                playlist.remove(item)
    position = 0
    for start, end, entry in sorted(clips, key=lambda clip: clip[0]):
        if start > position:
            ET.SubElement(playlists[0], "blank", {"length": str(start - position)})
        playlists[0].append(entry)
        position = end
    for mix in tractor.findall("transition"):
        if read_property(mix, "kdenlive:mixcut"):
            tractor.remove(mix)


def _named_v2a(tractor: ET.Element) -> bool:
    """Whether a track (tractor) is v2a's: named as v2a names its tracks (`takes.track_stem`).
    Not one holding v2a's takes alone: an editor's track of copies of a take is theirs."""
    return name_stem(read_property(tractor, "kdenlive:track_name")) is not None


def as_kdenlive_writes(text: str, timeline: otio.schema.Timeline) -> str:
    """The adapter's project of `timeline` (the editor's tracks, of a timeline from another
    format) with what the adapter writes otherwise than Kdenlive, or not at all, written as
    Kdenlive writes it, for `restore` to read back:

    - A speed-changed clip's first frame (`_first_frame_kept`).
    - What the editor switched off: a disabled clip plays through a copy of its producer that
      shows no picture and plays no sound (`_disabled_copy`), a video track switched off is
      hidden (`hide="video"` on the timeline's <track>, its eye off in Kdenlive). v2a wrote
      such clips as gaps, so read back the shot was gone, and a re-run took the sound v2a had
      switched off with it off its track ("its picture is no longer there")."""
    mlt, by_id = ET.XMLID(text)
    profile = mlt.find("profile")
    tracks = _timeline_tracks(mlt, by_id)
    if profile is None or len(tracks) != len(timeline.tracks):  # a track each, as it writes
        log.debug("Kdenlive: %d tracks written for %d", len(tracks), len(timeline.tracks))
        return text
    rate = float(profile.get("frame_rate_num")) / float(profile.get("frame_rate_den", 1))
    changed = False
    played: set[str] = set()  # the producers of the entries seen
    copies: dict[str, ET.Element] = {}  # a producer's id -> its disabled copy
    for (element, tractor), track in zip(tracks, timeline.tracks, strict=True):
        if not is_enabled(track) and track.kind == otio.schema.TrackKind.Video:
            element.set("hide", "video")
            changed = True
        for clip, entry in _entries_of_clips(track, tractor, by_id):
            changed |= _first_frame_kept(clip, entry, mlt, by_id, rate, played)
            played.add(entry.get("producer"))
            if not is_enabled(clip):  # Premiere's, from FCP7 XML, in its metadata alone
                producer = by_id[entry.get("producer")]
                entry.set("producer", _disabled_copy(producer, mlt, by_id, copies).get("id"))
                changed = True
    return ET.tostring(mlt, encoding="unicode") if changed else text


#: A timewarp producer's property: what to add to the first source frame (at the project's
#: rate) its entry reads as, for the clip v2a wrote it for (`_first_frame_kept`).
_FIRST_FRAME_OFFSET = "kdenlive:v2a_first_frame_offset"


def _first_frame_kept(
    clip: otio.schema.Clip, entry: ET.Element, mlt: ET.Element, by_id: dict, rate: float,
    played: set[str],
) -> bool:
    """Keep the first frame of a clip played faster, slower or reversed, in its producer. A
    timewarp's entry counts frames of the sped-up clip (MLT shows at its frame p the file's
    p * speed), and the adapter rounds its in point down: the sample's 'stretch (150%)', from
    source frame 100 at 150 %, was written 66 (100 / 1.5 = 66.7), which MLT shows from frame
    99. Read back a frame before the frames v2a made its sound for, its sound left the track
    on the next run ("the frames there are not the ones its takes were made for"); reversed,
    at -150 %, it read back a frame off too. What the read (`_lowest_frame`) misses is noted in
    `_FIRST_FRAME_OFFSET` (`_as_time_warp` adds it), on the clip's own producer: Kdenlive has
    one for each speed-changed clip, the adapter one for all of a file's at a speed (copied for
    each clip but the first, `played` naming those). An editor's trim or slip in Kdenlive moves
    the entry by whole frames of the sped-up clip, which keeps the offset right; a new speed
    makes a new producer, without. Whether the project changed."""
    producer = by_id[entry.get("producer")]
    speed = _float(read_property(producer, "warp_speed"))
    if read_property(producer, "mlt_service") != "timewarp" or speed == 0:
        return False
    shared = producer.get("id") in played
    if shared:
        producer = copy.deepcopy(producer)
        producer.set("id", _free_id(by_id, producer.get("id")))
        mlt.insert(list(mlt).index(by_id[entry.get("producer")]) + 1, producer)
        by_id[producer.get("id")] = producer
        entry.set("producer", producer.get("id"))
    first, last = (round(mlt_time(entry.get(side), rate).value) for side in ("in", "out"))
    read = _lowest_frame(first, last, producer, speed, rate)
    offset = clip.source_range.start_time.rescaled_to(rate).value - (read or 0)
    if read is not None and 1e-6 < abs(offset) < abs(speed):  # else none, or not a rounding
        _set_property(producer, _FIRST_FRAME_OFFSET, repr(offset))
        return True
    return shared


def _entries_of_clips(track: otio.schema.Track, tractor: ET.Element, by_id: dict):
    """(clip, its playlist entry) of each clip of a track as the adapter wrote it: an entry
    per clip, in their order, on the first playlist of the track's tractor. None where the
    counts differ (a track the adapter wrote otherwise: left as it wrote it)."""
    first = tractor.find("track")
    playlist = by_id.get(first.get("producer")) if first is not None else None
    entries = playlist.findall("entry") if playlist is not None else []
    clips = [item for item in track if isinstance(item, otio.schema.Clip)]
    if len(entries) != len(clips):
        log.debug(
            "Kdenlive track %r: %d entries for %d clips", track.name, len(entries), len(clips)
        )
        return []
    return list(zip(clips, entries, strict=True))


def _disabled_copy(
    producer: ET.Element, mlt: ET.Element, by_id: dict, copies: dict[str, ET.Element]
) -> ET.Element:
    """The producer of a disabled clip of `producer`'s, as Kdenlive plays one (ProjectClip::
    createDisabledMasterProducer, and a timewarp's in getTimelineProducer): a copy with
    `set.test_audio` and `set.test_image` 1, put after it, one for all its disabled clips. The
    bin keeps the producer itself."""
    copied = copies.get(producer.get("id"))
    if copied is None:
        copied = copy.deepcopy(producer)
        copied.set("id", _free_id(by_id, f"{producer.get('id')}_disabled"))
        by_id[copied.get("id")] = copied
        for kind in ("audio", "image"):
            _set_property(copied, f"set.test_{kind}", "1")
        mlt.insert(list(mlt).index(producer) + 1, copied)
        copies[producer.get("id")] = copied
    return copied


def _free_id(by_id: dict, name: str) -> str:
    """`name`, or `name` numbered on where the document has an element of that id."""
    found, number = name, 0
    while found in by_id:
        number += 1
        found = f"{name}{number}"
    return found


def write_into_project(
    timeline: otio.schema.Timeline, text: str, source: str, path: str
) -> None:
    """Write to `path` the editor's Kdenlive project `text` (read from the file `source`) with
    v2a's tracks of `timeline` (conformed to frames, takes counted from their file's start:
    `write._for_format`) in it. Everything else stays as the editor saved it, element for
    element: the adapter's rewrite of a whole project loses titles, transitions, effects and
    clip names. Each v2a track is an audio track of Kdenlive's (a tractor of two playlists)
    on top of the others; one already there (a re-run) is refilled in place, with the
    editor's settings of that track (volume, mute) kept."""
    parser = ET.XMLParser(target=ET.TreeBuilder(insert_comments=True, insert_pis=True))
    mlt = ET.fromstring(text, parser=parser)
    project = _Project(mlt)
    for track in marked_v2a_tracks(timeline):
        project.lay(track)
    project.count_tracks()
    _keep_media_found(mlt, os.path.dirname(source), os.path.dirname(os.path.abspath(path)))
    head = text[: text.index("<mlt")]
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(head + ET.tostring(mlt, encoding="unicode") + "\n")


_MEDIA_TAGS = ("producer", "chain")
# Kdenlive's own audio mix of a track into the timeline ("internal_added": it rebuilds these).
_TRACK_MIX = (
    ("mlt_service", "mix"), ("kdenlive_id", "mix"), ("internal_added", "237"),
    ("always_active", "1"), ("accepts_blanks", "1"), ("sum", "1"),
)  # fmt: skip


class _Project:
    """An MLT document being given v2a's tracks."""

    def __init__(self, mlt: ET.Element) -> None:
        self.mlt = mlt
        self.by_id = {item.get("id"): item for item in mlt.iter() if item.get("id")}
        main_bin = mlt.find("playlist[@id='main_bin']")
        self.main_bin = main_bin
        version = (
            read_property(main_bin, "kdenlive:docproperties.version")
            if main_bin is not None
            else ""
        )
        self.main = get_maintracktor(mlt, self.by_id, version or "0")
        if self.main is None:
            raise ValueError("the Kdenlive project has no timeline (main tractor) to add to")
        # Kdenlive 22.04 and later play media through chains; as the editor's media, then.
        self.tag = "chain" if mlt.find("chain") is not None else "producer"
        numbers = [
            int(value)
            for item in mlt.iter()
            if (value := read_property(item, "kdenlive:id")).isdigit()
        ]
        self.next_clip_id = max(numbers, default=2) + 1
        self.next_number: dict[str, int] = {}  # id prefix -> the first number maybe free
        # Producers and bin entries made for a track, put in the document once it is laid:
        # inserting each one where it goes lists its parent's children (quadratic).
        self.new_producers: list[ET.Element] = []
        self.new_bin_entries: list[ET.Element] = []
        self.bin_producers: dict[str, ET.Element] | None = None  # kdenlive:id -> bin producer

    def lay(self, track: otio.schema.Track) -> None:
        """Put `track` (v2a's, in frames) in the project: in the track of that name, emptied
        first, or in a new one; its crossfades as same-track mixes (`_placed`); a clip the
        editor disabled (`enabled` False) as Kdenlive plays one (`_disabled`). Producers of
        v2a's that no clip uses any more are removed."""
        tractors = self._tracks_named(track.name)
        old: dict[tuple[str, bool], ET.Element] = {}  # (file, disabled) -> producer
        effects: dict[str, list[ET.Element]] = {}  # a take's file -> the effects on its entry
        for tractor in tractors:
            for playlist in self._playlists(tractor):
                for item in list(playlist):
                    if item.tag == "entry":
                        producer = self.by_id.get(item.get("producer"))
                        if producer is not None:
                            self._note_old(producer, old)
                            effects[read_property(producer, "resource")] = [
                                child for child in item if child.tag != "property"
                            ]
                    if item.tag in ("entry", "blank"):
                        playlist.remove(item)
            for mix in tractor.findall("transition"):  # mixes of clips no longer there
                tractor.remove(mix)
        tractor = tractors[0] if tractors else self._new_track(track.name)
        playlists = self._playlists(tractor)
        placed, mixes = _placed(track, two_playlists=len(playlists) > 1)
        for index, playlist in enumerate(playlists[:2]):
            position = 0
            for item in (item for item in placed if item.playlist == index):
                if item.start > position:
                    ET.SubElement(playlist, "blank", {"length": str(item.start - position)})
                producer = self._producer(item.clip, old)
                if not item.clip.enabled:
                    producer = self._disabled(producer, old)
                entry = ET.SubElement(playlist, "entry", {
                    "producer": producer.get("id"), "in": str(item.first), "out": str(item.last),
                })  # fmt: skip
                _property(entry, "kdenlive:id", read_property(producer, "kdenlive:id"))
                entry.extend(_editors_effects(item.clip, effects))
                position = item.start + item.last - item.first + 1
            _indent(playlist, 2)
        self._add_new_producers(playlists[0])
        self._add_mixes(tractor, mixes)
        self._remove_unused(old.values())

    def count_tracks(self) -> None:
        """The sequence's track count (Kdenlive 23.04 on), as Kdenlive writes it when it saves:
        its audio and video tracks, v2a's with them. Kdenlive shows it as the sequence clip's
        "Tracks" in the bin's clip properties (until the editor saves again: it counts anew)."""
        count = self.main.find("property[@name='kdenlive:sequenceproperties.tracksCount']")
        if count is None:
            return
        tracks = [track.get("producer") for track in self.main.findall("track")]
        background = [
            name
            for name in tracks
            if name == "black_track"
            or (name in self.by_id and self.by_id[name] is not None
                and read_property(self.by_id[name], "kdenlive:playlistid") == "black_track")
        ]  # fmt: skip
        count.text = str(len(tracks) - len(background))

    def _add_mixes(self, tractor: ET.Element, mixes: list[_Mix]) -> None:
        """Each crossfade as Kdenlive's same-track mix: a `mix` transition between the track's
        two playlists, after the tractor's tracks (`_Mix` says when it runs)."""
        elements = []
        for mix in mixes:
            element = ET.Element("transition", {
                "id": self._new_id("v2a_mix"), "in": str(mix.first), "out": str(mix.last),
            })  # fmt: skip
            for key, value in mix.properties():
                _property(element, key, value)
            elements.append(element)
        _insert_after(tractor, tractor.findall("track")[-1], elements)

    def _tracks_named(self, name: str) -> list[ET.Element]:
        """v2a's audio tracks (tractors) in the timeline: those of this name, as reading finds
        them (`takes.track_stem`). An editor's track holding copies of v2a's takes is not one."""
        result = []
        for track in self.main.findall("track"):
            tractor = self.by_id.get(track.get("producer"))
            if (
                tractor is None
                or tractor.tag != "tractor"
                or read_property(tractor, "kdenlive:audio_track") != "1"
            ):
                continue
            if read_property(tractor, "kdenlive:track_name") == name:
                result.append(tractor)
        return result

    def _playlists(self, tractor: ET.Element) -> list[ET.Element]:
        found = (self.by_id.get(track.get("producer")) for track in tractor.findall("track"))
        return [item for item in found if item is not None and item.tag == "playlist"]

    def _new_track(self, name: str) -> ET.Element:
        """A new audio track on top of the timeline's tracks, as Kdenlive declares one: two
        playlists (the second holds clips while they mix) in a tractor, that tractor a track
        of the timeline; mixed into the timeline's sound as Kdenlive mixes the others. On
        top, the editor's tracks keep their numbers, which compositions and clip groups use."""
        playlists = []
        for _ in range(2):
            playlist = ET.Element("playlist", {"id": self._new_id("v2a_playlist")})
            _property(playlist, "kdenlive:audio_track", "1")
            playlists.append(playlist)
            self.by_id[playlist.get("id")] = playlist
        tractor = ET.Element("tractor", {"id": self._new_id("v2a_tractor"), "in": "0"})
        _property(tractor, "kdenlive:audio_track", "1")
        _property(tractor, "kdenlive:track_name", name)
        for playlist in playlists:
            ET.SubElement(tractor, "track", {"hide": "video", "producer": playlist.get("id")})
        _insert_before(self.mlt, self.main, [*playlists, tractor])
        tracks = self.main.findall("track")
        index = len(tracks)
        track = ET.Element("track", {"producer": tractor.get("id")})
        _insert_after(self.main, tracks[-1], [track])
        transitions = self.main.findall("transition")
        if any(read_property(item, "internal_added") for item in transitions):
            mix = ET.Element("transition", {"id": self._new_id("v2a_transition")})
            for key, value in (("a_track", "0"), ("b_track", str(index)), *_TRACK_MIX):
                _property(mix, key, value)
            _insert_after(self.main, transitions[-1], [mix])
        return tractor

    def _producer(self, clip: otio.schema.Clip, old: dict[str, ET.Element]) -> ET.Element:
        """The producer of the clip's active take, in the project bin as Kdenlive has its
        clips: the one an earlier run wrote for that file, or a new one (`_add_new_producers`
        puts it in the document)."""
        resource = url_to_path(clip.media_reference.target_url)
        frames = _frames(clip.media_reference.available_range.duration)
        record = json.dumps(_plain(clip.metadata.get(_NOTED, {})), sort_keys=True)
        producer = old.pop((resource, False), None)
        if producer is not None:
            _set_property(producer, PROPERTY, record)
            return producer
        producer = ET.Element(
            self.tag, {"id": self._new_id("v2a_take"), "in": "0", "out": str(frames - 1)}
        )
        clip_id = str(self.next_clip_id)
        self.next_clip_id += 1
        for key, value in (
            ("length", str(frames)), ("eof", "pause"), ("resource", resource),
            ("mlt_service", "avformat-novalidate"), ("seekable", "1"), ("audio_index", "0"),
            ("video_index", "-1"), ("kdenlive:clipname", clip.name), ("kdenlive:id", clip_id),
            # Kdenlive matches timeline clips to bin clips by this since 23.04.
            ("kdenlive:control_uuid", f"{{{uuid.uuid5(uuid.NAMESPACE_URL, resource)}}}"),
            ("kdenlive:folderid", "-1"), ("kdenlive:clip_type", "1"), ("set.test_audio", "0"),
            ("set.test_image", "1"), (PROPERTY, record),
        ):  # fmt: skip
            _property(producer, key, value)
        self.new_producers.append(producer)
        self.new_bin_entries.append(ET.Element("entry", {
            "producer": producer.get("id"), "in": "0", "out": str(frames - 1),
        }))  # fmt: skip
        return producer

    def _note_old(self, producer: ET.Element, old: dict[tuple[str, bool], ET.Element]) -> None:
        """Note a producer an entry of v2a's track plays, by its file and whether it is a
        disabled copy; for a copy, the bin's producer of that clip too, which the copy stands
        for (`_disabled`): reused, or removed with the copy when its take leaves the track."""
        resource, disabled = read_property(producer, "resource"), _is_disabled(producer)
        old[(resource, disabled)] = producer
        if disabled:
            if self.bin_producers is None:
                self.bin_producers = _bin_producers(self.mlt, self.by_id)
            master = self.bin_producers.get(read_property(producer, "kdenlive:id"))
            if master is not None and read_property(master, "resource") == resource:
                old.setdefault((resource, False), master)

    def _disabled(self, producer: ET.Element, old: dict[tuple[str, bool], ET.Element]) -> ET.Element:
        """The producer of a clip the editor disabled, as Kdenlive plays one (ProjectClip::
        createDisabledMasterProducer): a copy of its take's producer that shows no picture and
        plays no sound, kept out of the bin, which holds the take's own. The copy an earlier
        run or Kdenlive wrote, or a new one. Without it a re-run enabled the clip again."""
        record = read_property(producer, PROPERTY)
        copied = old.pop((read_property(producer, "resource"), True), None)
        if copied is None:
            copied = copy.deepcopy(producer)
            copied.set("id", self._new_id("v2a_disabled"))
            self.new_producers.append(copied)
        _set_property(copied, PROPERTY, record)
        for kind in ("audio", "image"):
            _set_property(copied, f"set.test_{kind}", "1")
        return copied

    def _add_new_producers(self, playlist: ET.Element) -> None:
        """The producers `_producer` made, before the `playlist` using them (MLT drops an entry
        naming a producer not defined yet), and their entries after the bin's last one."""
        _insert_before(self.mlt, playlist, self.new_producers)
        if self.main_bin is not None:
            entries = self.main_bin.findall("entry")
            if entries:
                _insert_after(self.main_bin, entries[-1], self.new_bin_entries)
            else:
                self.main_bin.extend(self.new_bin_entries)
        self.new_producers, self.new_bin_entries = [], []

    def _remove_unused(self, producers) -> None:
        """Remove v2a's producers that no playlist entry uses any more, and their bin entries
        (a take the editor also put on a track of theirs stays)."""
        used = {
            entry.get("producer")
            for playlist in self.mlt.iter("playlist")
            if playlist is not self.main_bin
            for entry in playlist.iter("entry")
        }
        unused = {producer.get("id"): producer for producer in producers}
        unused = {name: producer for name, producer in unused.items() if name not in used}
        if not unused:
            return
        # One pass over each parent: a search of it per producer is quadratic in the takes.
        removed = set(unused.values())
        self.mlt[:] = [element for element in self.mlt if element not in removed]
        for name in unused:
            del self.by_id[name]
        if self.main_bin is not None:
            self.main_bin[:] = [
                element for element in self.main_bin
                if element.tag != "entry" or element.get("producer") not in unused
            ]

    def _new_id(self, prefix: str) -> str:
        # Counted on from the last one given: counting from 0 each time is quadratic.
        number = self.next_number.get(prefix, 0)
        while f"{prefix}{number}" in self.by_id:
            number += 1
        self.next_number[prefix] = number + 1
        name = f"{prefix}{number}"
        self.by_id[name] = None  # taken
        return name


def _editors_effects(clip: otio.schema.Clip, effects: dict[str, list[ET.Element]]) -> list:
    """The effects the editor put on the entry of one of the clip's takes (Kdenlive keeps a
    clip's effects, a volume, a fade, in its playlist entry), the active take's first: a
    re-run rewrote every entry of v2a's track and they were lost, even on a clip it did not
    regenerate. They stay with the clip, on its new take too."""
    keys = [clip.active_media_reference_key, *clip.media_references()]
    for key in keys:
        reference = clip.media_references().get(key)
        found = effects.pop(url_to_path(getattr(reference, "target_url", "")), None)
        if found:
            return found
    return []


@dataclass
class _Entry:
    """A v2a clip on playlist 0 or 1 of its track: from the timeline's frame `start`, its take's
    frames `first` to `last`, the crossfades on either side included."""

    clip: otio.schema.Clip
    playlist: int
    start: int
    first: int
    last: int


@dataclass
class _Mix:
    """A crossfade of `length` frames, `after_cut` of them past the cut, as Kdenlive's mix: a
    `mix` transition over the frames `first` to `last` of the track's two playlists (`reverse`:
    the incoming clip is on the first).

    MLT ramps each frame's sound from the level of the frame before to its own, the level at a
    frame being start + (end - start) * (frame - first) / (last - first + 1). From level 0 in the
    frame before the crossfade (where the outgoing clip plays alone) to (length + 1) / length,
    the ramp is the crossfade's to the sample: 0 at its first sample, 1 after its last. Kdenlive
    runs its own mixes (start -1: 0 to 1) from the crossfade's first frame to one past its last,
    which melt plays a frame late and over one frame more: each clip's level up to 0.18 off a
    10-frame crossfade's, the outgoing clip cut off at 0.22 of its level. Started on the crossfade's first frame, as Kdenlive
    starts them, ours would be a frame late (1 / length off) and cut the outgoing clip off."""

    first: int
    length: int
    after_cut: int
    reverse: bool

    @property
    def last(self) -> int:
        return self.first + self.length  # Kdenlive reads last - first as the mix's length

    def properties(self) -> tuple[tuple[str, str], ...]:
        return (
            ("a_track", "0"), ("b_track", "1"), ("mlt_service", "mix"), ("kdenlive_id", "mix"),
            ("kdenlive:mixcut", str(self.after_cut)), ("start", "0"),
            ("end", repr((self.length + 1) / self.length)), ("accepts_blanks", "1"),
            ("reverse", "1" if self.reverse else "0"),
        )  # fmt: skip


def _placed(track: otio.schema.Track, two_playlists: bool) -> tuple[list[_Entry], list[_Mix]]:
    """v2a's track (in frames) as Kdenlive lays a track out: a clip joined to the one before it
    by a crossfade on the other playlist (on the first otherwise), both played over the
    crossfade, which is a mix. A crossfade is kept within the takes' handles and the clips (a
    conform to frames may round it a frame over), and leaves each clip a frame at least where
    it plays alone: around a clip as short as the handles (a frame or two), the crossfades are
    shorter than v2a laid them, and one of a single frame is a cut. With one playlist, as in no
    project Kdenlive saves since 20.12, the clips meet at their cuts."""
    clips, fades = [], []  # fades[i]: (before, after) the cut into clips[i]
    position, pending = 0, (0, 0)
    for item in track:
        if isinstance(item, otio.schema.Transition):
            pending = (_frames(item.in_offset), _frames(item.out_offset))
            continue
        if isinstance(item, otio.schema.Clip):
            touching = bool(clips) and clips[-1][1] + _frames(clips[-1][0].duration()) == position
            clips.append((item, position))
            fades.append(pending if touching and two_playlists else (0, 0))
        pending = (0, 0)
        position += _frames(item.duration())
    handles = [_handles_in_frames(clip) for clip, _ in clips]
    for index in range(1, len(clips)):
        before, after = fades[index]
        # Each clip plays alone a frame at least between its crossfades: the frame where the
        # mix out of it starts (`_Mix`).
        alone = _frames(clips[index - 1][0].duration()) - fades[index - 1][1] - 1
        before = min(before, handles[index][0], alone)
        after = min(after, handles[index - 1][1], _frames(clips[index][0].duration()) - 1)
        # The adapter looks for a mix's incoming clip over the mix's frames but the last: in a
        # one-frame mix, which starts a frame early, there is none, and a project where it reads
        # the mixes (`for_reader` leaves a track with an editor's clip on it) did not read.
        fades[index] = (before, after) if before + after > 1 else (0, 0)
    fades.append((0, 0))
    entries, mixes = [], []
    for index, (clip, start) in enumerate(clips):
        before, after = fades[index]
        playlist = 1 - entries[-1].playlist if before + after else 0
        source = _frames(clip.source_range.start_time)
        length = _frames(clip.duration())
        entries.append(_Entry(clip, playlist, start - before, source - before,
                              source + length + fades[index + 1][1] - 1))  # fmt: skip
        if before + after:
            mixes.append(_Mix(start - before - 1, before + after, after, reverse=playlist == 0))
    return entries, mixes


def _handles_in_frames(clip: otio.schema.Clip) -> tuple[int, int]:
    """Frames of the clip's active take before and after the part it plays."""
    available = clip.media_reference.available_range
    if available is None:
        return 0, 0
    used = clip.source_range
    return (
        max(0, _frames(used.start_time) - _frames(available.start_time)),
        max(0, _frames(available.end_time_exclusive()) - _frames(used.end_time_exclusive())),
    )


def _keep_media_found(mlt: ET.Element, source_folder: str, folder: str) -> None:
    """MLT resolves relative media paths from the document's `root`, or without one from its
    folder: written into another folder than the editor's, the project names the editor's
    media from their folder (a new `root`), so that none goes offline."""
    root = mlt.get("root") or ""
    if os.path.isabs(root):
        return
    resolved = os.path.normpath(os.path.join(source_folder, root))
    if os.path.realpath(resolved) != os.path.realpath(folder):
        mlt.set("root", resolved)


def _frames(time: otio.opentime.RationalTime) -> int:
    return round(time.value)


def _property(element: ET.Element, name: str, value: str) -> None:
    ET.SubElement(element, "property", {"name": name}).text = value


def _set_property(element: ET.Element, name: str, value: str) -> None:
    found = element.find(f"property[@name='{name}']")
    if found is None:
        _property(element, name, value)
    else:
        found.text = value


def _insert_before(parent: ET.Element, anchor: ET.Element, items: list[ET.Element]) -> None:
    index = list(parent).index(anchor)
    for offset, item in enumerate(items):
        _indent(item, 1)
        item.tail = parent.text
        parent.insert(index + offset, item)


def _insert_after(parent: ET.Element, anchor: ET.Element, items: list[ET.Element]) -> None:
    index = list(parent).index(anchor) + 1
    for item in items:
        _indent(item, 2)
        item.tail, anchor.tail = anchor.tail, parent.text
        anchor = item
    parent[index:index] = items


def _indent(element: ET.Element, level: int) -> None:
    tail = element.tail
    ET.indent(element, space=" ", level=level)
    element.tail = tail


# --- reading --------------------------------------------------------------------------------------


def restore(
    timeline: otio.schema.Timeline,
    text: str,
    folder: str = "",
    read_sequence: Callable[[str], otio.schema.Timeline] | None = None,
) -> None:
    """Put back, in a timeline the adapter read from the Kdenlive project `text` (in `folder`),
    the editor's speed-changed clips and v2a's clips as v2a wrote them (see the module's
    docstring), and where the project names media relative to a `root` of its own, the media
    relative to the project's folder, as v2a resolves them. A sequence used as a clip (Kdenlive
    23.04 on) becomes that sequence, `read_sequence` reading it (`_as_sequence`)."""
    mlt, by_id = ET.XMLID(text)
    profile = mlt.find("profile")
    if profile is None:
        return
    rate = float(profile.get("frame_rate_num")) / float(profile.get("frame_rate_den", 1))
    bin_producers = _bin_producers(mlt, by_id)
    placed = _entries_of(mlt, by_id, rate, _is_restored)
    sequences = []  # (track, clip, its sequence's id): read last, their clips read apart
    for index, track in enumerate(timeline.tracks):
        for clip in track.find_clips():
            reference = clip.media_reference
            url = getattr(reference, "target_url", "")
            if not isinstance(reference, otio.schema.MissingReference) and not _names_images(url):
                continue
            start = round(clip.range_in_parent().start_time.rescaled_to(rate).value)
            producer = placed.get((index, start))
            if producer is None:
                continue
            service = read_property(producer, "mlt_service")
            if _is_sequence(producer):
                sequences.append((track, clip, producer.get("id")))
            elif _is_slideshow(producer):
                clip.media_reference = _slideshow_images(producer, rate)
            elif service == "timewarp":
                _as_time_warp(clip, producer, bin_producers)
            else:
                # A title or colour clip: drawn over the picture below, which the planner then
                # plans (it planned the title as a clip whose media was not found, reported it
                # offline, and left the picture beneath it without sound).
                clip.media_reference = otio.schema.GeneratorReference(
                    name=clip.name, generator_kind=service
                )
    _disable_clips(timeline, _entries_of(mlt, by_id, rate, _is_disabled), rate)
    _hide_hidden_tracks(timeline, mlt, by_id)
    _name_unnamed_clips(timeline, mlt)
    records = {
        read_property(producer, "resource"): read_property(producer, PROPERTY)
        for producer in _media(mlt)
        if read_property(producer, PROPERTY)
    }
    offset = timing.to_samples(timeline_start(timeline))
    tractors = _track_tractors(mlt, by_id)
    for index, track in enumerate(timeline.tracks):
        if track_stem(track) is None:
            continue  # the editor's, copies of v2a's takes too: their clips as Kdenlive has them
        ours = {}
        for clip in track.find_clips():
            record = records.get(url_to_path(getattr(clip.media_reference, "target_url", "")))
            if record or is_v2a_clip(clip):
                ours[id(clip)] = (clip, json.loads(record) if record else {})  # kept: id() stays
                _in_timeline_time(clip, offset, ours[id(clip)][1] or None)
        # v2a's track: its clips all v2a's (an editor's track keeps the adapter's transitions).
        if ours and len(ours) == len(track.find_clips()) and index < len(tractors):
            _lay_crossfades(track, _mixed_cuts(tractors[index], by_id, rate), ours, rate)
    root = mlt.get("root") or ""
    if folder and os.path.isabs(root) and os.path.realpath(root) != os.path.realpath(folder):
        # Kdenlive writes a project's folder as its root; v2a writes the editor's folder there
        # for a project written elsewhere (`_keep_media_found`).
        rebase_media_references(timeline, root, folder)
    read: dict[str, otio.schema.Timeline] = {}  # each sequence once: a read is the whole project's
    for track, clip, sequence in sequences if read_sequence else ():
        if sequence not in read:
            read[sequence] = read_sequence(_with_timeline(mlt, sequence))
        track[track.index(clip)] = _as_sequence(clip, read[sequence].deepcopy())


def _is_disabled(producer: ET.Element) -> bool:
    """Whether a playlist entry plays a clip the editor disabled: Kdenlive plays it through a
    copy of its producer that shows no picture and plays no sound (ProjectClip::
    createDisabledMasterProducer), and the tracks beneath show through."""
    return all(read_property(producer, f"set.test_{kind}") == "1" for kind in ("image", "audio"))


def _disable_clips(
    timeline: otio.schema.Timeline, disabled: dict[tuple[int, int], ET.Element], rate: float
) -> None:
    """The clips of the `disabled` entries (`_entries_of`) disabled, as the planner skips them
    (the adapter read them as any clip: sound for a clip no one sees, none for the picture
    beneath). Each track's clips placed in one pass: range_in_parent sums the track's items
    before each clip, quadratic in them."""
    if not disabled:
        return
    for index, track in enumerate(timeline.tracks):
        position = RT(0, rate)
        for item in track:
            if isinstance(item, otio.schema.Transition):
                continue
            start = round(position.rescaled_to(rate).value)
            if isinstance(item, otio.schema.Clip) and (index, start) in disabled:
                item.enabled = False
            position += item.duration()


def _is_restored(producer: ET.Element) -> bool:
    """Whether `restore` reads an entry of this producer other than the adapter does."""
    service = read_property(producer, "mlt_service")
    return service in ("timewarp", *_GENERATORS) or _is_sequence(producer) or _is_slideshow(producer)


def _names_images(resource: str) -> bool:
    """Whether a producer's resource names a slideshow's images rather than one file: numbered
    ("img_%03d.png", "?begin=N" after it where the first is not 0) or every image of a type in
    a folder ("/.all.png"), as Kdenlive's SlideshowClip::selectedPath writes them."""
    name = os.path.basename(resource.partition("?")[0])
    return "%" in name or name.startswith(".all.")


def _is_slideshow(producer: ET.Element) -> bool:
    """Whether a producer is a Kdenlive slideshow (an image sequence is one, each image shown a
    frame): MLT's `qimage` or `pixbuf` producer of a resource naming images (`_names_images`)."""
    return read_property(producer, "mlt_service") in ("qimage", "pixbuf") and _names_images(
        read_property(producer, "resource")
    )


_NUMBERED = re.compile(r"(?P<prefix>[^%]*)%0?(?P<padding>\d*)d(?P<suffix>[^%]*)")


def _slideshow_images(producer: ET.Element, rate: float) -> otio.schema.MediaReference:
    """A slideshow's images as the image sequence MLT plays (qimage_wrapper.c): the files the
    pattern numbers from `begin`, each shown `ttl` frames, so frame f of the producer shows
    image begin + f // ttl (a sequence at the project's rate over `ttl`). The adapter read
    the pattern as a file name (a `pixbuf` producer as no media): offline, no sound for it.
    Every image of a type in a folder ("/.all.png", in name order) is no numbered sequence:
    offline, saying so. No available range: the images on disk say which frames exist."""
    resource = read_property(producer, "resource")
    path, _, query = resource.partition("?")
    folder, name = os.path.split(path)
    numbered = _NUMBERED.fullmatch(name)
    if not numbered:
        why = (
            f"a Kdenlive slideshow of every {os.path.splitext(name)[1]} image in "
            f"{folder or '.'}, in name order, which v2a does not read (it reads numbered image "
            "sequences: Kdenlive's slideshow of an image pattern)"
        )
        return otio.schema.MissingReference(metadata={V2A_KEY: {"offline": why}})
    begin = parse_qs(query).get("begin", [read_property(producer, "begin") or "0"])[0]
    ttl = max(1, round(_float(read_property(producer, "ttl") or "1")))
    return otio.schema.ImageSequenceReference(
        target_url_base=os.path.join(folder, ""),
        name_prefix=numbered["prefix"],
        name_suffix=numbered["suffix"],
        start_frame=int(begin),
        frame_step=1,
        rate=rate / ttl,
        frame_zero_padding=int(numbered["padding"] or 0),
    )


def _is_sequence(producer: ET.Element) -> bool:
    """Whether a playlist entry's producer is a sequence of the project (Kdenlive 23.04 on: a
    timeline, which the editor can use as a clip in another)."""
    return producer.tag == "tractor" and bool(read_property(producer, "kdenlive:uuid"))


def _with_timeline(mlt: ET.Element, sequence: str) -> str:
    """The project with the sequence `sequence` as its timeline: the project tractor's track,
    where Kdenlive and the adapter find the timeline (`get_maintracktor`), plays it."""
    project = copy.deepcopy(mlt)
    project.findall("tractor")[-1].find("track").set("producer", sequence)
    return ET.tostring(project, encoding="unicode")


def _as_sequence(clip: otio.schema.Clip, sequence: otio.schema.Timeline) -> otio.schema.Stack:
    """A sequence's clip as that sequence: a stack of its tracks playing the clip's frames of
    it, which the planner plans like the timeline's own (the adapter read it as a clip whose
    media was not found: planned offline, "the timeline names no media file", and the picture
    beneath it got no sound for its length)."""
    stack = otio.schema.Stack(name=clip.name, source_range=clip.source_range)
    tracks = list(sequence.tracks)
    sequence.tracks.clear()
    for track in tracks:
        stack.append(track)
    return stack


def _lay_crossfades(
    track: otio.schema.Track, cuts: dict[int, tuple[int, int]], records: dict, rate: float
) -> None:
    """v2a's crossfades on its track read back as v2a lays them, from the project's mixes
    (`_mixed_cuts`: the adapter reads them as Transitions in frames, each beside the first clip
    near it, which around short clips is another one): in samples, to the sample v2a wrote
    (`note_takes`) where the mix still has that many frames, named and marked as
    `write._crossfade` makes them. `records`: id() -> (v2a clip, its `kdenlive:v2a` record)."""
    items = [item for item in track if not isinstance(item, otio.schema.Transition)]
    track.clear()  # refilled in one pass: inserting each transition in place is quadratic
    previous, position, exact_rate = None, Fraction(0), timing.exact_rate(rate)
    for item in items:
        frames = cuts.get(timing.to_frames(position, exact_rate)) if previous else None
        position += timing.seconds(item.duration())
        previous = item if isinstance(item, otio.schema.Clip) else None
        if frames and previous is not None:
            sides = [to_samples(RT(side, rate)) for side in frames]
            written = records.get(id(item), (item, {}))[1].get("crossfade_in")
            if written and all(map(_same_frame, written, sides, (rate, rate))):
                sides = written
            track.append(otio.schema.Transition(
                name="V2A crossfade",
                transition_type=otio.schema.TransitionTypes.SMPTE_Dissolve,
                in_offset=RT(sides[0], SAMPLE_RATE),
                out_offset=RT(sides[1], SAMPLE_RATE),
                metadata={V2A_KEY: {"crossfade": True}},
            ))  # fmt: skip
        track.append(item)


def _name_unnamed_clips(timeline: otio.schema.Timeline, mlt: ET.Element) -> None:
    """Kdenlive 24 keeps a clip's name on its bin clip only, so the adapter reads timeline clips
    without names, and v2a's clips were called "V2A " after them. Name each as Kdenlive shows
    it: its bin clip's name (the first producer or chain of that file that has one), else its
    file's name."""
    names: dict[str, str] = {}
    for producer in _media(mlt):
        name = read_property(producer, "kdenlive:clipname")
        if name:
            names.setdefault(read_property(producer, "resource"), name)
    for clip in timeline.find_clips():
        url = getattr(clip.media_reference, "target_url", "")
        if not clip.name and url:
            clip.name = names.get(url) or os.path.splitext(os.path.basename(url_to_path(url)))[0]


def _media(mlt: ET.Element) -> list[ET.Element]:
    """The project's media: producers, and the chains Kdenlive 22.04 and later play media
    through (v2a writes its takes as chains there, each with its `kdenlive:v2a` record)."""
    return [item for item in mlt.iter() if item.tag in _MEDIA_TAGS]


def _bin_producers(mlt: ET.Element, by_id: dict) -> dict[str, ET.Element]:
    """kdenlive:id -> the producer of that clip in the project bin (`main_bin`)."""
    result = {}
    main_bin = mlt.find("playlist[@id='main_bin']")
    for entry in main_bin.findall("entry") if main_bin is not None else []:
        producer = by_id.get(entry.get("producer"))
        if producer is not None:
            result.setdefault(read_property(producer, "kdenlive:id"), producer)
    return result


def _track_tractors(mlt: ET.Element, by_id: dict) -> list[ET.Element]:
    """The tractor of each track as the adapter numbers tracks: one per track of the main
    tractor that is not the black background, each merged from its tractor's playlists."""
    return [tractor for _, tractor in _timeline_tracks(mlt, by_id)]


def _timeline_tracks(mlt: ET.Element, by_id: dict) -> list[tuple[ET.Element, ET.Element]]:
    """(the main tractor's <track>, its tractor) of each track as the adapter numbers them."""
    main_bin = mlt.find("playlist[@id='main_bin']")
    version = (
        read_property(main_bin, "kdenlive:docproperties.version") if main_bin is not None else ""
    )
    main = get_maintracktor(mlt, by_id, version or "0")
    result = []
    for track in main.findall("track") if main is not None else []:
        tractor = by_id.get(track.get("producer"))
        if tractor is None or track.get("producer") == "black_track":
            continue
        if read_property(tractor, "kdenlive:playlistid") == "black_track":
            continue
        result.append((track, tractor))
    return result


def _hide_hidden_tracks(timeline: otio.schema.Timeline, mlt: ET.Element, by_id: dict) -> None:
    """Video tracks the editor hid (their eye off: `hide` "video", or "both" when muted too,
    on the timeline's <track>; TrackModel::isHidden) disabled, as the planner skips them and
    plans the picture beneath (the adapter read them as any track: sound for pictures no one
    sees)."""
    for index, (track, _) in enumerate(_timeline_tracks(mlt, by_id)):
        hidden = track.get("hide") in ("video", "both")
        if hidden and index < len(timeline.tracks):
            if timeline.tracks[index].kind == otio.schema.TrackKind.Video:
                timeline.tracks[index].enabled = False


def _playlist_entries(playlist, by_id: dict, rate: float):
    """(start frame, length in frames, producer) of each entry of a playlist."""
    position = 0
    for item in playlist if playlist is not None else []:
        if item.tag == "blank":
            position += round(mlt_time(item.get("length"), rate).value)
        elif item.tag == "entry":
            first = round(mlt_time(item.get("in"), rate).value)
            last = round(mlt_time(item.get("out"), rate).value)
            yield position, last - first + 1, by_id.get(item.get("producer"))
            position += last - first + 1


#: MLT producers that draw rather than play media: Kdenlive's titles and colour clips.
_GENERATORS = ("kdenlivetitle", "qtext", "color", "colour")


def _entries_of(
    mlt: ET.Element, by_id: dict, rate: float, wanted: Callable[[ET.Element], bool]
) -> dict[tuple[int, int], ET.Element]:
    """(track index as the adapter numbers tracks, record start frame) -> producer of each entry
    whose producer is `wanted`. On v2a's track a clip mixed into from the one before starts at
    its cut, where the adapter reads it (`for_reader`), not where its entry does, a mix earlier."""
    result: dict[tuple[int, int], ET.Element] = {}
    for index, tractor in enumerate(_track_tractors(mlt, by_id)):
        cut_of = {}  # an entry's first frame -> the cut it is mixed into at
        if tractor.find("transition") is not None and _named_v2a(tractor):
            cuts = _mixed_cuts(tractor, by_id, rate)
            cut_of = {cut - before: cut for cut, (before, _) in cuts.items()}
        for sub in tractor.findall("track"):
            playlist = by_id.get(sub.get("producer"))
            for position, _, producer in _playlist_entries(playlist, by_id, rate):
                if producer is not None and wanted(producer):
                    result[(index, cut_of.get(position, position))] = producer
    return result


def _mixed_cuts(tractor: ET.Element, by_id: dict, rate: float) -> dict[int, tuple[int, int]]:
    """Cut frame -> (frames before, frames after it) of each same-track mix of a track. As
    Kdenlive reads a mix (TrackModel::loadMix): the incoming clip is the one at the mix's out
    point on playlist 1 (0 where `reverse`), out - in frames long, `kdenlive:mixcut` of them
    past the cut; the cut lies that much before the mix's end, counted from that clip's start
    (where Kdenlive starts a mix; v2a's start a frame earlier, `_Mix`)."""
    playlists = [
        list(_playlist_entries(by_id.get(sub.get("producer")), by_id, rate))
        for sub in tractor.findall("track")
    ]
    # Where each entry starts, listed once: listed for each mix, quadratic in the clips.
    starts = [[start for start, _, _ in entries] for entries in playlists]
    result = {}
    for mix in tractor.findall("transition"):
        after = read_property(mix, "kdenlive:mixcut")
        if not after or len(playlists) < 2:
            continue
        first = round(mlt_time(mix.get("in"), rate).value)
        last = round(mlt_time(mix.get("out"), rate).value)
        playlist = 0 if read_property(mix, "reverse") == "1" else 1
        entries = playlists[playlist]
        index = bisect.bisect_right(starts[playlist], last) - 1
        if index >= 0 and last < entries[index][0] + entries[index][1]:
            after = round(mlt_time(after, rate).value)
            result[entries[index][0] + last - first - after] = (last - first - after, after)
    return result


def _as_time_warp(clip: otio.schema.Clip, producer: ET.Element, bin_producers: dict) -> None:
    """The clip of a timewarp producer as OTIO has it: its file, the frames it plays and the
    speed. The entry counts frames of the sped-up clip: MLT (producer_timewarp.c) shows at its
    frame p the file's frame p * speed, and reversed the file's frame (out - p) * |speed|, `out`
    the producer's own out point. OTIO starts a reversed clip's range at the lowest frame it
    shows: the entry's out point, mirrored so."""
    try:
        speed = float(read_property(producer, "warp_speed"))
    except ValueError:
        return
    # Kdenlive's own resource is "<speed>:<file>"; warp_resource is the file alone.
    resource = (
        read_property(producer, "warp_resource")
        or read_property(producer, "resource").partition(":")[2]
    )
    if speed == 0 or not resource:
        log.info(
            "Kdenlive clip at %s plays at speed %s: read without media",
            clip.range_in_parent(),
            speed,
        )
        return
    bin_producer = bin_producers.get(read_property(producer, "kdenlive:id"))
    names = [read_property(producer, "kdenlive:clipname")]
    if bin_producer is not None:
        names.append(read_property(bin_producer, "kdenlive:clipname"))
    clip.name = next((name for name in names if name), clip.name)
    source = clip.source_range
    rate = source.start_time.rate
    start = _lowest_frame(
        source.start_time.value, source.end_time_inclusive().value, producer, speed, rate
    )
    if start is None:
        clip.media_reference = otio.schema.MissingReference(
            metadata={V2A_KEY: {"offline": _unplaced_reverse(resource, speed)}}
        )
        return
    offset = _float(read_property(producer, _FIRST_FRAME_OFFSET))
    if 0 < abs(offset) < abs(speed):  # the clip's own first frame (`_first_frame_kept`)
        start += offset
    available = None
    if bin_producer is not None and bin_producer.get("out"):
        first = mlt_time(bin_producer.get("in") or "0", rate)
        last_available = mlt_time(bin_producer.get("out"), rate)
        available = TR.range_from_start_end_time_inclusive(first, last_available)
    clip.media_reference = otio.schema.ExternalReference(
        target_url=resource, available_range=available
    )
    clip.source_range = TR(RT(start, rate), source.duration)
    clip.effects.append(otio.schema.LinearTimeWarp(time_scalar=speed))


def _lowest_frame(
    first: float, last: float, producer: ET.Element, speed: float, rate: float
) -> float | None:
    """The lowest frame of the file an entry of a timewarp producer from its frame `first` to
    `last` shows, where OTIO starts the clip's range: first * speed, or reversed (from the
    producer's out point back, `_as_time_warp`) (out - last) * |speed|. None for a reversed
    one whose producer says no out point (`_last_frame`)."""
    if speed > 0:
        return first * speed
    out = _last_frame(producer, rate)
    return None if out is None else (out - last) * -speed


def _last_frame(producer: ET.Element, rate: float) -> int | None:
    """The timewarp producer's out point, in frames of the sped-up clip, as MLT takes it: its
    `out`, else its length less one. None where the project says neither: MLT then takes the
    file's length, which the project does not say."""
    if producer.get("out"):
        return round(mlt_time(producer.get("out"), rate).value)
    length = read_property(producer, "length")
    return round(mlt_time(length, rate).value) - 1 if length else None


def _unplaced_reverse(resource: str, speed: float) -> str:
    return (
        f"the timeline names no file for it: Kdenlive plays {resource} reversed (a timewarp "
        f"producer at speed {speed:g}) from the producer's out point back, and the project "
        "gives the producer neither an out point nor a length, so which frames it shows is "
        "not known"
    )


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
