"""v2a's tracks written into the editor's own FCP7 XML document (Premiere's export).

The FCP7 XML adapter (otio-fcp-adapter 1.0.0) rewrites a whole document from what it read, and
loses some of the editor's timeline on the way: it drops the `<link>` groups between a clip's
picture and its sound channels, it merges `<file>` elements naming the same path
(`premiere_enable_property.xml`: four clips' source timecode moved), and it read one channel of
each of Premiere's exploded stereo tracks (until `read_every_channel`). So a timeline read from FCP7 XML remembers its document
(`remember_document`), and v2a's tracks are written into it (`write_into_document`): every
element of the editor's as they exported it — channels, `<sourcetrack>`, `<link>` groups, file
timecodes — and v2a's tracks as the adapter (and `write._fcp7_finished`) writes them. The
adapter writes only timelines from other formats, or from a document changed since it was read.

Each clip item v2a places carries a note of where (`<logginginfo><lognote>`, "v2a take placed at
88 (its 0)": the sequence frame its `<in>` plays at, and its `<in>`). Premiere keeps logging
info with the clip, so a clip of v2a's track is v2a's while it plays its take where v2a put it (a
part of it the editor bladed off too), or nearest there of the clips carrying its note (a ripple
moved it); any other clip there (their own sound, a copy of a take) is the editor's: read on a
track of its own (`set_apart_editors_items`) and kept where it is on a re-run, which takes out
only what v2a placed. The note of a clip v2a switched off with its shot says so too, so that it
is switched on with the shot again (`read_switches`, `note_switches`).
"""

from __future__ import annotations

import copy
import itertools
import os
import re
import threading
import xml.etree.ElementTree as ET
from collections.abc import MutableMapping

import opentimelineio as otio

from otio_adapters.fcp7_transitions import ticks_cut
from otio_adapters.media_refs import rebased_url
from otio_adapters.source_files import record_of, text_if_unchanged
from otio_adapters.takes import (
    EDITORS_COPY,
    PREMIERE_TRACK_NAME,
    V2A_KEY,
    has_off_note,
    holds_only_takes,
    is_v2a_clip,
    mark_switched_off_with_shot,
    marked_v2a_tracks,
    name_stem,
    switched_off_with_shot,
    track_stem,
    with_off_note,
    without_off_note,
)

#: timeline.metadata[DOCUMENT]: the FCP7 XML file a timeline was read from. Not under "fcp_xml":
#: the adapter writes that namespace into the sequence it writes.
DOCUMENT = "v2a_fcp7_document"
# The tags of a track's timeline items (what v2a's tracks are made of, and replaced by).
_ITEMS = ("clipitem", "transitionitem", "generatoritem")
# The attribute Premiere names a track by (`takes.PREMIERE_TRACK_NAME`, as the adapter keeps it).
_TRACK_NAME = PREMIERE_TRACK_NAME.removeprefix("@")
# The note v2a gives each clip item it places: the record frame its <in> plays at, and its <in>.
_NOTE = "v2a take placed at {at} (its {source_in})"
_NOTED = re.compile(r"v2a take placed at (-?\d+) \(its (-?\d+)\)")
#: timeline.metadata[DOCUMENT][EVERY_CHANNEL]: read with each channel of a stereo pair a track
#: (`read_every_channel`); a timeline read before (an .otio) holds the first channels alone.
EVERY_CHANNEL = "every_channel"
#: track.metadata[EDITORS_ITEMS]: on a track of the editor's clips that lay among v2a's on the
#: document's audio track of that index (as read), set apart when read.
EDITORS_ITEMS = "v2a_fcp7_editors_items"


def read_every_channel() -> None:
    """Make the FCP7 XML reader read each channel of Premiere's exploded stereo tracks as a track
    (idempotent). It read the first channel of a pair alone (`premiere_example.xml`: 8 mono
    tracks read as 4), so a Premiere XML written to another format lost the right channels, and
    where the editor cut them apart from the left ones, their edit (its fourth pair: the right
    channel's clips at frames 956 for 208 and 1164 for 82, the left's at 956 for 221 and 1177 for
    94). Each track keeps its channel in its metadata (`currentExplodedTrackIndex`,
    `outputchannelindex`), and each clip its `<sourcetrack>`, which the writer writes back."""
    fcp_xml = otio.adapters.from_name("fcp_xml").module()
    fcp_xml._is_primary_audio_channel = lambda track: True


# The document the FCP7 XML reader parsed last in each thread (`keep_parsed_document`).
_parsed = threading.local()
_keeping = False


def keep_parsed_document() -> None:
    """Make the FCP7 XML reader keep the document it parses for `take_parsed_document`
    (idempotent), so that `remember_document` need not parse it again: that second parse took
    a re-read of a document v2a noted its clips in 18 % more CPU."""
    global _keeping
    if _keeping:
        return
    parser = otio.adapters.from_name("fcp_xml").module().FCP7XMLParser
    original = parser.__init__

    def __init__(reader, element_tree):
        original(reader, element_tree)
        _parsed.root = element_tree

    parser.__init__ = __init__
    _keeping = True


def take_parsed_document() -> ET.Element:
    """The document the FCP7 XML reader parsed last in this thread, let go of (a read calls
    it once, right after the reader returned)."""
    root = _parsed.root
    del _parsed.root
    return root


def remember_document(
    timeline: otio.schema.Timeline, path: str, data: bytes, index: int, parsed: ET.Element
) -> None:
    """Note on a timeline read from an FCP7 XML document which file it was, what it held and
    which of its sequences (in the order the adapter reads them) the timeline is. `parsed`: the
    document as the reader parsed it (`take_parsed_document`)."""
    timeline.metadata[DOCUMENT] = {**record_of(path, data), "sequence": index, EVERY_CHANNEL: True}
    if _NOTE.split("{")[0].encode() in data:  # a document v2a wrote its noted clips into
        set_apart_editors_items(timeline, _sequences(parsed)[index])


def set_apart_editors_items(timeline: otio.schema.Timeline, sequence: ET.Element) -> None:
    """Read the editor's clips on a track of v2a's (`sequence`'s, as read into `timeline`) on a
    track of their own, right after it: v2a refills its track, and theirs stay. Every clip of
    the editor's that plays a take file is marked as theirs (`takes.EDITORS_COPY`)."""
    audio = [track for track in timeline.tracks if track.kind == otio.schema.TrackKind.Audio]
    elements = _tracks_as_read(sequence, every_channel=True)
    if len(audio) != len(elements):
        return  # not laid out as the adapter reads it: nothing to tell apart by
    for index, (track, element) in enumerate(zip(audio, elements, strict=True)):
        ours = {item.get("id") for item in _placed_by_v2a(_items(element), _is_v2a(element))}
        for clip in track.find_clips():
            if _item_id(clip) not in ours and is_v2a_clip(clip):
                clip.metadata[EDITORS_COPY] = True
        if ours and any(_item_id(clip) not in ours for clip in track.find_clips()):
            theirs = _editors_part(track, ours)
            theirs.metadata[EDITORS_ITEMS] = index
            timeline.tracks.insert(list(timeline.tracks).index(track) + 1, theirs)


def _is_v2a(track: ET.Element) -> bool:
    """Whether a document's track is named as v2a names its tracks (`takes.name_stem`)."""
    return name_stem(track.get(_TRACK_NAME)) is not None


def _item_id(item: otio.core.Composable) -> str | None:
    return item.metadata.get("fcp_xml", {}).get("@id")


def _editors_part(track: otio.schema.Track, ours: set[str]) -> otio.schema.Track:
    """Move the items of `track` that are not v2a's (`ours`, by id) to a new track, each leaving
    a gap of its length, so that every item keeps its time. A transition goes with the clips on
    both its sides; between one of v2a's and one of the editor's it is dropped (a re-run takes
    it out of the document with v2a's clip)."""
    items = list(track)
    track.clear()
    theirs = otio.schema.Track(name=track.name, kind=track.kind)

    def side(item) -> str:
        if isinstance(item, otio.schema.Gap) or item is None:
            return "both"
        return "ours" if _item_id(item) in ours else "theirs"

    for index, item in enumerate(items):
        if isinstance(item, otio.schema.Transition):
            sides = {side(items[index - 1] if index else None),
                     side(items[index + 1] if index + 1 < len(items) else None)} - {"both"}
            if sides == {"theirs"}:
                theirs.append(item)
            elif sides == {"ours"}:
                track.append(item)
            continue
        where = side(item)
        if where == "both":  # a gap
            track.append(item)
            theirs.append(item.deepcopy())
        elif where == "ours":
            track.append(item)
            theirs.append(otio.schema.Gap(duration=item.duration()))
        else:
            track.append(otio.schema.Gap(duration=item.duration()))
            theirs.append(item)
    return theirs


def mark_tracks_written_before(timelines: list[otio.schema.Timeline]) -> None:
    """In a document of `timelines` that names no track as v2a's (`MZ.TrackName="V2A SFX"`),
    mark as v2a's SFX track (`takes.track_stem`) each audio track of v2a's takes alone: such a
    document is one v2a wrote before it named its tracks, when it knew its track by the takes
    it held, and a re-run refills (and names) that track. Taken for the editor's, it made a
    re-run into its own folder refused, and one elsewhere laid a second track of the same sound.
    In a document that names a track as v2a's, a track of takes alone is the editor's."""
    tracks = [track for timeline in timelines for track in timeline.audio_tracks()]
    if any(track_stem(track) for track in tracks):
        return
    for track in tracks:
        if holds_only_takes(track):
            track.metadata[V2A_KEY] = {"track": "SFX"}  # the one stem v2a knew it by then


def read_switches(timelines: list[otio.schema.Timeline]) -> None:
    """Switch each of v2a's clips on or off where v2a reads and writes its switch (OTIO's
    `enabled`). The adapter keeps Premiere's `<enabled>FALSE</enabled>` in the clip's `fcp_xml`
    metadata alone, the clip on to OTIO: `follow_edit` took a clip the editor switched off, with
    its shot, for one v2a switched off, and switched it on again with the shot. A clip whose
    note says v2a switched it off with its shot (`note_switches`) is marked so, to be switched
    on again with it."""
    for track in (track for timeline in timelines for track in timeline.audio_tracks()):
        if track_stem(track) is None:
            continue
        for clip in track.find_clips():
            if clip.metadata.get(EDITORS_COPY):
                continue
            meta = dict(clip.metadata.get("fcp_xml") or {})
            if str(meta.get("enabled", "")).upper() == "FALSE":
                clip.enabled = False
                del meta["enabled"]  # written from `enabled` again (`write._disabled_as_fcp7`)
            info = dict(meta.get("logginginfo") or {})
            if has_off_note(info.get("lognote")):
                mark_switched_off_with_shot(clip)
                info["lognote"] = without_off_note(info["lognote"])  # written from the mark
                meta["logginginfo"] = info
            clip.metadata["fcp_xml"] = meta


def note_switches(timeline: otio.schema.Timeline) -> None:
    """End the note of each of v2a's clips that v2a switched off with its shot (its
    `<lognote>`, which the adapter writes from the clip's `fcp_xml` metadata) with
    `takes.OFF_WITH_SHOT_NOTE`, as `read_switches` reads it: FCP7 XML keeps no other metadata
    of v2a's, and Premiere keeps a clip's logging info with it."""
    for track in marked_v2a_tracks(timeline):
        for clip in track.find_clips():
            meta = dict(clip.metadata.get("fcp_xml") or {})
            info = dict(meta.get("logginginfo") or {})
            note = with_off_note(str(info.get("lognote") or ""), switched_off_with_shot(clip))
            if note:
                info["lognote"] = note
            else:
                info.pop("lognote", None)
            if info:
                meta["logginginfo"] = info
            else:
                meta.pop("logginginfo", None)
            clip.metadata["fcp_xml"] = meta


def source_document(timeline: otio.schema.Timeline) -> tuple[str, str, str, str]:
    """(document text, its path, "", its sha256) for a timeline read from an FCP7 XML document
    still as it was read (`source_files.text_if_unchanged`); ("", path, why not, "") where
    it changed or is gone since; empty for a timeline read from another format."""
    return text_if_unchanged(document_record(timeline), "the FCP7 XML")


def document_record(timeline: otio.schema.Timeline) -> MutableMapping | None:
    """The timeline's record of the document it was read from (`remember_document`), or None."""
    return timeline.metadata.get(DOCUMENT)


def write_into_document(
    timeline: otio.schema.Timeline, written: str, text: str, source: str, path: str, folder: str
) -> None:
    """Write to `path` the editor's FCP7 XML `text` (read from the file `source`) with v2a's
    tracks of `timeline` in its sequence, taken from `written`: what the adapter wrote of them
    (alone, in the same sequence time). A track v2a wrote there before (a re-run) is refilled
    where it is, the editor's settings of it kept; a new one goes after the editor's audio
    tracks. Everything else stays as the editor exported it, element for element, but relative
    media paths, which name the editor's media from `folder`, where the document goes (`path`
    is a staging file)."""
    parser = ET.XMLParser(target=ET.TreeBuilder(insert_comments=True, insert_pis=True))
    root = ET.fromstring(text, parser=parser)
    _keep_media_found(root, os.path.dirname(source), folder)
    sequence = _sequences(root)[int(timeline.metadata[DOCUMENT]["sequence"])]
    written_tracks = list(ET.parse(written).getroot().iterfind(".//media/audio/track"))
    ours = [_items(track) for track in written_tracks]
    targets = _targets(timeline, sequence, source, len(ours))
    noted = any(_NOTED.fullmatch(without_off_note(note.text or "")) for note in root.iter("lognote"))
    removed: list[ET.Element] = []
    kept = [_without_v2a_items(target, noted, removed) if target is not None else []
            for target in targets]
    _keep_files_described(root, removed)
    taken = {element.get("id") for element in root.iter() if element.get("id")}
    audio = _audio_element(sequence)
    space = "\t" if "\t" in (root.text or "") else "    "
    level = _depth(root, audio) + 1
    for target, items, theirs, track in zip(targets, ours, kept, written_tracks, strict=True):
        if target is not None and _overlap(_spans(theirs), _spans(items)):
            # The editor's clips lie where v2a's go now: they stay, v2a's go on a new track, and
            # the old one, theirs alone now, loses v2a's name (read again, it was v2a's too).
            target.attrib.pop(_TRACK_NAME, None)
            target, theirs = None, []
        if target is None:
            if not items:
                continue  # an empty track would not be found as v2a's again: a re-run adds one
            target = _new_track(audio)
        # v2a's name for the track (`write._for_format`), by which a re-run knows it again.
        if track.get(_TRACK_NAME):
            target.set(_TRACK_NAME, track.get(_TRACK_NAME))
        _renumber(items, taken)
        _note_placements(items)
        # Where the items were: before the track's <enabled>, <locked> and other settings, in
        # time order among the editor's clips kept there.
        spans = _spans(theirs) + _spans(items)
        for element in [child for child in target if child.tag in _ITEMS]:
            target.remove(element)
        settings = list(target)
        for element in settings:
            target.remove(element)
        target.extend([item for _, item in sorted(spans, key=lambda span: span[0])] + settings)
        ET.indent(target, space=space, level=level)
    head = text[: text.index("<xmeml")]
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(head + ET.tostring(root, encoding="unicode") + "\n")


def _targets(
    timeline: otio.schema.Timeline, sequence: ET.Element, source: str, count: int
) -> list[ET.Element | None]:
    """For each of v2a's tracks, the document's track it was read from (a re-run), or None."""
    read = _tracks_as_read(sequence, bool(timeline.metadata[DOCUMENT].get(EVERY_CHANNEL)))
    audio = [
        track
        for track in timeline.tracks
        # the editor's clips set apart from v2a's track when read lie on that track
        if track.kind == otio.schema.TrackKind.Audio and EDITORS_ITEMS not in track.metadata
    ]
    # The adapter read the document's tracks in order; v2a's new ones come after them.
    targets = [
        read[index] if index < len(read) else None
        for index, track in enumerate(audio)
        if V2A_KEY in track.metadata  # v2a's, as `takes.marked_v2a_tracks` knows them
    ]
    if len(targets) != count or len(audio) < len(read):
        raise ValueError(f"{source}: v2a's tracks do not match the document's audio tracks")
    return targets


def _without_v2a_items(
    track: ET.Element, noted: bool, removed: list[ET.Element]
) -> list[ET.Element]:
    """Take out of a track of v2a's the items v2a placed there, and the transitions beside
    them (added to `removed`); the editor's items that stay. In a document v2a wrote before it
    noted its clips (`noted` False), every item is v2a's, as then."""
    items = _items(track)
    ours = set(_placed_by_v2a(items, followed=True)) if noted else set(items)
    for index, item in enumerate(items):
        beside = items[max(0, index - 1) : index + 2]
        if item.tag == "transitionitem" and any(other in ours for other in beside):
            ours.add(item)
    for item in ours:
        track.remove(item)
    removed.extend(ours)
    kept = []
    spans = zip(items, _ranges(items), _in_frames(items), strict=True)
    for index, (item, (start, end), at) in enumerate(spans):
        if item in ours:
            continue
        # A clip of theirs whose transition went with v2a's clip starts or ends at its cut,
        # without the part it played under the transition (its in and out points count it).
        if index and items[index - 1] in ours and item.findtext("start") == "-1":
            item.find("start").text = str(start)
            item.find("in").text = str(int(item.findtext("in") or 0) + start - at)
        if index + 1 < len(items) and items[index + 1] in ours and item.findtext("end") == "-1":
            beyond = int(items[index + 1].findtext("end")) - end
            item.find("end").text = str(end)
            item.find("out").text = str(int(item.findtext("out") or 0) - beyond)
        kept.append(item)
    return kept


def _keep_files_described(root: ET.Element, removed: list[ET.Element]) -> None:
    """Premiere describes a `<file>` in the first clip item that plays it and names it by id
    alone after: a clip of the editor's that plays a take (a copy) after v2a's clip of it gets
    the description that goes with v2a's `removed` clip item, or its media would be lost."""
    described = {file.get("id"): file for item in removed for file in item.iter("file") if len(file)}
    still = {file.get("id") for file in root.iter("file") if len(file)}
    for file in list(root.iter("file")):
        original = described.get(file.get("id"))
        if original is not None and not len(file) and file.get("id") not in still:
            file.extend(copy.deepcopy(list(original)))
            file.text = original.text
            still.add(file.get("id"))


def _placed_by_v2a(items: list[ET.Element], followed: bool = False) -> list[ET.Element]:
    """The clip items of a track's `items` that v2a placed: each plays its take where its note
    says v2a put it (its record start less its <in> as noted).

    `followed` (v2a's own track): or where the edit moved it. A ripple or a move with sync lock
    carries v2a's clips along with their picture, notes and all, so that none plays where its
    note says; taken for the editor's copies, they stayed and v2a laid its sound again on a new
    track, every moved shot's sound twice over. So, as for FCPXML, of the clips carrying one
    note those displaced least from it are v2a's (one alone, or its parts the editor bladed,
    which move together), the others the editor's copies of it."""
    displaced: dict[str, list[tuple[int, ET.Element]]] = {}
    for item, at in zip(items, _in_frames(items), strict=True):
        # Where it was placed: a copy the editor made before v2a switched it off with its shot
        # has the same place, and no word of the switch.
        noted = _NOTED.fullmatch(without_off_note(item.findtext("logginginfo/lognote") or ""))
        if item.tag == "clipitem" and noted:
            was, source_in = (int(value) for value in noted.groups())
            by = abs(at - int(item.findtext("in") or 0) - (was - source_in))
            displaced.setdefault(noted.group(0), []).append((by, item))
    placed = []
    for clips in displaced.values():
        least = 0 if not followed else min(by for by, _ in clips)
        placed += [item for by, item in clips if by == least]
    return placed


def _note_placements(items: list[ET.Element]) -> None:
    """Note in each clip item v2a places where it does (`_NOTE`), in its logging info, after
    which its note says whether v2a switched it off with its shot (`note_switches`)."""
    for item, at in zip(items, _in_frames(items), strict=True):
        if item.tag != "clipitem":
            continue
        info = item.find("logginginfo")
        if info is None:
            info = ET.SubElement(item, "logginginfo")
        note = info.find("lognote")
        if note is None:
            note = ET.SubElement(info, "lognote")
        placed = _NOTE.format(at=at, source_in=int(item.findtext("in") or 0))
        note.text = with_off_note(placed, has_off_note(note.text))


def _in_frames(items: list[ET.Element]) -> list[int]:
    """The record frame each of a track's items plays its `<in>` at: its start, or for `-1`, the
    start of the transition before it (a clip's in and out points count the part it plays under
    a transition)."""
    frames = []
    for index, item in enumerate(items):
        start = int(item.findtext("start") or 0)
        if start < 0 and index and items[index - 1].tag == "transitionitem":
            start = int(items[index - 1].findtext("start"))
        frames.append(start)
    return frames


def _ranges(items: list[ET.Element]) -> list[tuple[int, int]]:
    """The record frames [start, end) of a track's items: a clip's `-1` is the cut of the
    transition beside it."""
    ranges = []
    for index, item in enumerate(items):
        start, end = int(item.findtext("start") or 0), int(item.findtext("end") or 0)
        if start < 0 and index and items[index - 1].tag == "transitionitem":
            start = cut_frame(items[index - 1])
        if end < 0 and index + 1 < len(items) and items[index + 1].tag == "transitionitem":
            end = cut_frame(items[index + 1])
        ranges.append((start, end))
    return ranges


def _spans(items: list[ET.Element]) -> list[tuple[tuple[int, int], ET.Element]]:
    return list(zip(_ranges(items), items, strict=True))


def _overlap(first: list, second: list) -> bool:
    return any(a < d and c < b for (a, b), _ in first for (c, d), _ in second)


def cut_frame(transition: ET.Element) -> int:
    """The frame a transition item cuts at, as v2a reads it: by Premiere's ticks where they name
    one (`fcp7_transitions.ticks_cut`), else by its alignment."""
    timebase = int(transition.findtext("rate/timebase") or 0)
    if timebase:
        ntsc = (transition.findtext("rate/ntsc") or "").upper() == "TRUE"
        ticked = ticks_cut(transition, timebase * 1000 / 1001 if ntsc else timebase)
        if ticked is not None:
            return ticked
    start, end = int(transition.findtext("start")), int(transition.findtext("end"))
    alignment = transition.findtext("alignment") or "center"
    if alignment.startswith("start"):
        return start
    if alignment.startswith("end"):
        return end
    return (start + end) // 2


def _sequences(root: ET.Element) -> list[ET.Element]:
    """The document's sequences that the adapter reads as timelines, in its order (a sequence
    that only names an earlier one by id is that one)."""
    first: dict[str, ET.Element] = {}
    for element in root.iter("sequence"):
        if element.get("id"):
            first.setdefault(element.get("id"), element)
    found = itertools.chain(root.iterfind("./sequence"), root.iterfind(".//children/sequence"))
    return [first.get(element.get("id"), element) for element in found]


def _tracks_as_read(sequence: ET.Element, every_channel: bool) -> list[ET.Element]:
    """The sequence's audio tracks the adapter reads, in its order: every one, or where it read
    the first channel alone of an exploded stereo pair (Premiere's "explodedTracks"), those."""
    return [
        track
        for audio in sequence.iterfind("media/audio")
        for track in audio.iterfind("track")
        if every_channel
        or track.get("currentExplodedTrackIndex", "0") == "0"
        or track.get("totalExplodedTrackCount", "1") == "1"
    ]


def _audio_element(sequence: ET.Element) -> ET.Element:
    media = sequence.find("media")
    if media is None:
        media = ET.SubElement(sequence, "media")
    audio = media.findall("audio")
    return audio[-1] if audio else ET.SubElement(media, "audio")


def _items(track: ET.Element) -> list[ET.Element]:
    return [item for item in track if item.tag in _ITEMS]


def _new_track(audio: ET.Element) -> ET.Element:
    """A track where FCP7 XML lists them: after the audio element's last track, or without one,
    after its settings (<format>, <outputs>) and before its filters."""
    children = list(audio)
    tracks = [index for index, child in enumerate(children) if child.tag == "track"]
    filters = [index for index, child in enumerate(children) if child.tag == "filter"]
    index = tracks[-1] + 1 if tracks else (filters or [len(children)])[0]
    track = ET.Element("track")
    if index:
        previous = children[index - 1]
        track.tail, previous.tail = previous.tail, audio.text
    else:
        track.tail = audio.text
    audio.insert(index, track)
    return track


def _depth(root: ET.Element, element: ET.Element) -> int:
    parents = {child: parent for parent in root.iter() for child in parent}
    depth = 0
    while element is not root:
        element = parents[element]
        depth += 1
    return depth


def _renumber(items: list[ET.Element], taken: set[str]) -> None:
    """Give v2a's clip items and files ids that no element of the editor's has (the adapter
    numbers from 1, as Premiere does), and their links the new ids."""
    renamed: dict[str, str] = {}
    for element in (e for item in items for e in item.iter()):
        old = element.get("id")
        if old is None:
            continue
        if old not in renamed:
            names = (f"v2a-{old}" + (f"-{n}" if n else "") for n in itertools.count())
            renamed[old] = next(name for name in names if name not in taken)
            taken.add(renamed[old])
        element.set("id", renamed[old])
    for item in items:
        for reference in item.iter("linkclipref"):
            reference.text = renamed.get(reference.text, reference.text)


def _keep_media_found(root: ET.Element, source_folder: str, folder: str) -> None:
    """The editor's relative media paths resolve from the document's folder: written into
    another folder, they name the editor's media from there (offline otherwise)."""
    for element in root.iter("pathurl"):
        if element.text:
            element.text = rebased_url(element.text, source_folder, folder)
