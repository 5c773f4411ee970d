"""v2a's tracks written into the editor's own FCP7 XML document (Premiere's export).

The FCP7 XML adapter (otio-fcp-adapter 1.0.0) rewrites a whole document from what it read, and
loses some of the editor's timeline on the way: it reads one channel of each of Premiere's
exploded stereo tracks (`premiere_example.xml`: 8 mono tracks become 4, the right channels gone),
and it merges `<file>` elements naming the same path (`premiere_enable_property.xml`: four clips'
source timecode moved). So a timeline read from FCP7 XML remembers its document
(`remember_document`), and v2a's tracks are written into it (`write_into_document`): every
element of the editor's as they exported it — channels, `<sourcetrack>`, `<link>` groups, file
timecodes — and v2a's tracks as the adapter (and `write._fcp7_finished`) writes them. The
adapter writes only timelines from other formats, or from a document changed since it was read.
"""

from __future__ import annotations

import copy
import itertools
import os
import xml.etree.ElementTree as ET

import opentimelineio as otio

from otio_adapters.media_refs import rebased_url
from otio_adapters.source_files import record_of, text_if_unchanged
from otio_adapters.takes import PREMIERE_TRACK_NAME, V2A_KEY, holds_only_takes, track_stem

#: timeline.metadata[DOCUMENT]: the FCP7 XML file a timeline was read from. Not under "fcp_xml":
#: the adapter writes that namespace into the sequence it writes.
DOCUMENT = "v2a_fcp7_document"
# The tags of a track's timeline items (what v2a's tracks are made of, and replaced by).
_ITEMS = ("clipitem", "transitionitem", "generatoritem")


def remember_document(timeline: otio.schema.Timeline, path: str, data: bytes, index: int) -> None:
    """Note on a timeline read from an FCP7 XML document which file it was, what it held and
    which of its sequences (in the order the adapter reads them) the timeline is."""
    timeline.metadata[DOCUMENT] = {**record_of(path, data), "sequence": index}


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


def source_document(timeline: otio.schema.Timeline) -> tuple[str, str, str]:
    """(document text, its path, "") for a timeline read from an FCP7 XML document still as it
    was read; ("", path, why not) where it changed or is gone since; ("", "", "") for a timeline
    read from another format."""
    return text_if_unchanged(timeline.metadata.get(DOCUMENT), "the FCP7 XML")


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
    removed = [item for target in targets if target is not None for item in _items(target)]
    _keep_files_referenced(root, removed)
    for target in targets:
        for item in _items(target) if target is not None else ():
            target.remove(item)
    taken = {element.get("id") for element in root.iter() if element.get("id")}
    audio = _audio_element(sequence)
    space = "\t" if "\t" in (root.text or "") else "    "
    level = _depth(root, audio) + 1
    for target, items, track in zip(targets, ours, written_tracks, strict=True):
        if target is None:
            if not items:
                continue  # an empty track would not be found as v2a's again: a re-run adds one
            target = _new_track(audio)
        # v2a's name for the track (`write._for_format`), by which a re-run knows it again.
        name = track.get(PREMIERE_TRACK_NAME.removeprefix("@"))
        if name:
            target.set(PREMIERE_TRACK_NAME.removeprefix("@"), name)
        _renumber(items, taken)
        # Where the items were: before the track's <enabled>, <locked> and other settings.
        settings = list(target)
        for element in settings:
            target.remove(element)
        target.extend(items + settings)
        ET.indent(target, space=space, level=level)
    head = text[: text.index("<xmeml")]
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(head + ET.tostring(root, encoding="unicode") + "\n")


def _targets(
    timeline: otio.schema.Timeline, sequence: ET.Element, source: str, count: int
) -> list[ET.Element | None]:
    """For each of v2a's tracks, the document's track it was read from (a re-run), or None."""
    read = _tracks_as_read(sequence)
    audio = [track for track in timeline.tracks if track.kind == otio.schema.TrackKind.Audio]
    # The adapter read the document's tracks in order; v2a's new ones come after them.
    targets = [
        read[index] if index < len(read) else None
        for index, track in enumerate(audio)
        if V2A_KEY in track.metadata  # v2a's, as `takes.marked_v2a_tracks` knows them
    ]
    if len(targets) != count or len(audio) < len(read):
        raise ValueError(f"{source}: v2a's tracks do not match the document's audio tracks")
    return targets


def _keep_files_referenced(root: ET.Element, removed: list[ET.Element]) -> None:
    """A `<file>` described in full inside v2a's items about to be `removed`, and named by its
    id alone elsewhere (as Premiere writes a file after its first use: the editor's copy of a
    take on a track of theirs), is described in full at the first of those places instead:
    the editor's clip would lose its media with v2a's old items."""
    inside = {element for item in removed for element in item.iter()}
    described = {
        element.get("id"): element
        for item in removed
        for element in item.iter("file")
        if element.get("id") and len(element)
    }
    if not described:
        return
    for parent in [element for element in root.iter() if element not in inside]:
        for index, child in enumerate(list(parent)):
            if child.tag == "file" and not len(child) and child.get("id") in described:
                full = copy.deepcopy(described.pop(child.get("id")))
                full.tail = child.tail
                parent.remove(child)
                parent.insert(index, full)


def _sequences(root: ET.Element) -> list[ET.Element]:
    """The document's sequences that the adapter reads as timelines, in its order (a sequence
    that only names an earlier one by id is that one)."""
    first: dict[str, ET.Element] = {}
    for element in root.iter("sequence"):
        if element.get("id"):
            first.setdefault(element.get("id"), element)
    found = itertools.chain(root.iterfind("./sequence"), root.iterfind(".//children/sequence"))
    return [first.get(element.get("id"), element) for element in found]


def _tracks_as_read(sequence: ET.Element) -> list[ET.Element]:
    """The sequence's audio tracks the adapter reads, in its order: of an exploded stereo pair
    (Premiere's "explodedTracks"), the first channel's only."""
    return [
        track
        for audio in sequence.iterfind("media/audio")
        for track in audio.iterfind("track")
        if track.get("currentExplodedTrackIndex", "0") == "0"
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
