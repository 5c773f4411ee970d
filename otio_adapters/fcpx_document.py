"""v2a's audio written into the editor's own FCPXML document (Final Cut's export).

The FCPXML adapter (otio-fcpx-xml-adapter 1.0.0) rewrites a whole document from what it read,
and loses most of a Final Cut project on the way (measured on `fcpx_example.fcpxml` and a
hand-made library export, tests/otio_adapters/fcpx/): the library and event wrappers and every
project but the one v2a took, titles, generators, multicam and synchronized clips, keywords,
chapter markers, smart collections, notes and metadata, the editor's audio roles and channel
settings, filters and their parameters, volume. So a timeline read from FCPXML remembers its
document (`remember_document`), and v2a's audio is written into it (`write_into_document`):
the editor's document element for element, and v2a's clips, crossfade storylines and take
assets added to its project as `fcpx_audio` writes them. The adapter writes only timelines from
other formats, or from a document changed since it was read.
"""

from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ET
from collections.abc import MutableMapping
from fractions import Fraction

import opentimelineio as otio

from otio_adapters import fcpx_audio, source_files
from otio_adapters.fcpx_time import parse_seconds
from otio_adapters.media_refs import rebased_url
from otio_adapters.takes import (
    V2A_KEY,
    has_off_note,
    mark_switched_off_with_shot,
    parse_take_file,
    url_to_path,
)

#: timeline.metadata[DOCUMENT]: the FCPXML file a timeline was read from and which of its
#: projects (in document order) it is. Not under "fcpx_xml", which the adapter's reader fills.
DOCUMENT = "v2a_fcpx_document"

_installed = False
#: clip.metadata[_V2A_STEM], while the reader reads a storyline: on a clip v2a placed
#: (`v2a_clips`), the stem of its role, "SFX" if the editor gave it another (`_mark_v2a_lanes`).
_V2A_STEM = "v2a_stem"
#: The tag a generator's <video> has while the reader reads past it.
_GENERATOR = "v2a-generator"


def install() -> None:
    """Make the FCPXML reader note which project of its document each timeline is, read past
    generators, find an asset's file in FCPXML 1.9's <media-rep> and an asset (and its browser
    clip) by its id without a search of every resource (idempotent; after `fcpx_transitions.install`)."""
    global _installed
    if _installed:
        return
    fcpx_xml = otio.adapters.from_name("fcpx_xml").module()
    original_from_project = fcpx_xml.FcpxXml._from_project
    original_to_stack = fcpx_xml.FcpxXml._squence_to_stack
    original_reference = fcpx_xml.FcpxXml._reference_from_id
    original_build = fcpx_xml.FcpxXml._build_composable

    def asset_by_id(reader, asset_id):
        # The reader searched every resource for an asset, several times a clip: a document
        # with a take asset for each of v2a's clips read in time growing as the square of its
        # clips (7 s for 2,000). Its resources do not change while it reads: indexed once.
        assets = getattr(reader, "_v2a_assets", None)
        if assets is None:
            assets = {}
            for asset in reader.fcpx_xml.iterfind("./resources/asset"):
                assets.setdefault(asset.get("id"), asset)  # the first, as find() gives
            reader._v2a_assets = assets
        return assets.get(asset_id)

    def assetclip_by_ref(reader, asset_id):
        # The same for the browser clip of an asset (an event's own asset-clips), looked up
        # once a clip through a search path of its own, compiled anew each time.
        clips = getattr(reader, "_v2a_browser_clips", None)
        if clips is None:
            event = reader.fcpx_xml.find("./event")
            clips = {}
            for clip in (reader.fcpx_xml if event is None else event).iterfind("./asset-clip"):
                clips.setdefault(clip.get("ref"), clip)
            reader._v2a_browser_clips = clips
        return clips.get(asset_id)

    def reference_from_id(reader, asset_id, *args, **kwargs):
        # FCPXML 1.9 (Final Cut 10.4.1 on) moved an asset's file into a <media-rep>; the reader
        # reads `src` alone, so every clip of a later export had no media, and v2a's own take
        # assets were not known as v2a's on a re-run. The reader's copy of the asset gets it.
        asset = reader._asset_by_id(asset_id)
        if asset is not None and not asset.get("src") and asset_url(asset):
            asset.set("src", asset_url(asset))
        return original_reference(reader, asset_id, *args, **kwargs)

    def v2a_placed(reader) -> set[ET.Element]:
        # The clips v2a placed (`v2a_clips`), asked once a document (the reader's copy,
        # multicam and synchronized clips already compounds).
        if not hasattr(reader, "_v2a_clips"):
            reader._v2a_clips = v2a_clips(reader.fcpx_xml)
        return reader._v2a_clips

    def build_composable(reader, element, default_format):
        composable = original_build(reader, element, default_format)
        if element in v2a_placed(reader) and isinstance(composable, otio.schema.Clip):
            # For `_mark_v2a_lanes`: the stack the reader builds keeps no word of it.
            stem = fcpx_audio.v2a_role_stem(element.get("audioRole", ""))
            composable.metadata[_V2A_STEM] = stem or "SFX"
            if has_off_note(element.findtext("note")):
                # Switched off by v2a with its shot, to be on again with it (`follow_edit`).
                mark_switched_off_with_shot(composable)
        return composable

    def squence_to_stack(reader, sequence_element, *args, **kwargs):
        moved = _lanes_apart(sequence_element, v2a_placed(reader))
        # A generator is a <video> of an effect, not of media: the reader took it for a clip
        # and failed on the whole document ("'NoneType' object has no attribute 'tag'" in the
        # storyline, "... 'find'" connected to a clip). Hidden from it, it is skipped as a
        # title is (no media, no sound to make); the document v2a writes into keeps it.
        effects = {e.get("id") for e in reader.fcpx_xml.iterfind("./resources/effect")}
        generators = [e for e in sequence_element.iter("video") if e.get("ref") in effects]
        for element in generators:
            element.tag = _GENERATOR
        try:
            stack = original_to_stack(reader, sequence_element, *args, **kwargs)
        finally:
            for element in generators:
                element.tag = "video"
            for element, lane in moved:
                element.set("lane", lane)
        _mark_v2a_lanes(stack)
        return stack

    def from_project(reader, project_element):
        timeline = original_from_project(reader, project_element)
        projects = list(reader.fcpx_xml.iter("project"))
        timeline.metadata[DOCUMENT] = {"project": projects.index(project_element)}
        return timeline

    fcpx_xml.FcpxXml._from_project = from_project
    fcpx_xml.FcpxXml._squence_to_stack = squence_to_stack
    fcpx_xml.FcpxXml._build_composable = build_composable
    fcpx_xml.FcpxXml._reference_from_id = reference_from_id
    fcpx_xml.FcpxXml._asset_by_id = asset_by_id
    fcpx_xml.FcpxXml._assetclip_by_ref = assetclip_by_ref
    _installed = True


def _mark_v2a_lanes(stack: otio.schema.Stack) -> None:
    """Mark as v2a's (`takes.track_stem`) each lane the reader made a track of whose clips are
    all v2a's (`v2a_clips`), of one stem: FCPXML has no tracks, and what v2a noted on its clips
    (or, before it noted them, their role) is what says they are v2a's. Not a lane holding
    v2a's take files: an editor's copy of a take is theirs. The editor's items that shared a
    lane number with v2a's clips were read on a lane of their own (`_lanes_apart`)."""
    for track in stack:
        if not isinstance(track, otio.schema.Track):
            continue
        clips = track.find_clips()
        stems = {clip.metadata.pop(_V2A_STEM, None) for clip in clips}
        if len(stems) == 1 and None not in stems and track.kind == otio.schema.TrackKind.Audio:
            track.metadata[V2A_KEY] = {"track": stems.pop()}  # named after its lane still


def remember_document(timeline: otio.schema.Timeline, path: str, data: bytes) -> None:
    """Note on a timeline read from the FCPXML document `path` (holding `data`) which file it was
    and what it held."""
    record = timeline.metadata.get(DOCUMENT)
    if record is not None:
        record.update(source_files.record_of(path, data))


def source_document(timeline: otio.schema.Timeline) -> tuple[str, str, str, str]:
    """(document text, its path, "", its sha256) for a timeline read from an FCPXML document
    still as it was read (`source_files.text_if_unchanged`); ("", path, why not, "") where
    it changed or is gone since; empty for a timeline read from another format."""
    return source_files.text_if_unchanged(document_record(timeline), "the FCPXML")


def document_record(timeline: otio.schema.Timeline) -> MutableMapping | None:
    """The timeline's record of the document it was read from (`remember_document`), or None."""
    record = timeline.metadata.get(DOCUMENT)
    if not record or "path" not in record:  # the project is noted before the file is
        return None
    return record


def write_into_document(
    timeline: otio.schema.Timeline, rate: float, text: str, source: str, path: str, folder: str
) -> None:
    """Write to `path` the editor's FCPXML `text` (read from the file `source`) with the v2a
    tracks of `timeline` (conformed to whole frames at `rate`) in the project it was read from.
    v2a's clips an earlier run put there (a re-run; `v2a_clips`, not the editor's copies of
    them) are taken out first, with the take assets and crossfade effect only they used, so the
    project gets one set. Everything else stays as
    the editor exported it, element for element, but relative media paths, which name the
    editor's media from `folder`, where the document goes (`path` is a staging file)."""
    parser = ET.XMLParser(target=ET.TreeBuilder(insert_comments=True, insert_pis=True))
    root = ET.fromstring(text, parser=parser)
    _keep_media_found(root, os.path.dirname(source), folder)
    projects = list(root.iter("project"))
    index = int(timeline.metadata[DOCUMENT]["project"])
    sequence = projects[index].find("./sequence") if index < len(projects) else None
    if sequence is None or sequence.find("./spine") is None:
        raise ValueError(f"{source}: project {index + 1} of the document has no storyline")
    resources = root.find("./resources")
    if resources is None:  # where v2a's take assets go; every Final Cut export has one
        resources = ET.Element("resources")
        root.insert(0, resources)
    editors_settings = _remove_v2a_audio(root, sequence)
    declared = set(resources)
    connected = fcpx_audio.add_tracks(
        root, timeline, rate, sequence=sequence, top_lane=min(_lowest_lane(sequence), 0),
        editors_settings=editors_settings,
    )
    added = [element for element in resources if element not in declared]
    space = "\t" if "\t" in (root.text or "") else "    "
    parents = {child: parent for parent in root.iter() for child in parent}
    for element in connected + added:
        _indent_new(element, parents, space)
    head = text[: re.search(r"<fcpxml[\s/>]", text).start()]
    # Empty elements as Final Cut writes them (ElementTree adds a space; "<" and ">" in values
    # and text are escaped, so " />" is only ever a tag's end).
    body = ET.tostring(root, encoding="unicode").replace(" />", "/>")
    end = text[text.rindex(">") + 1 :]
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(head + body + end)


def v2a_clips(root: ET.Element) -> set[ET.Element]:
    """The asset-clips of the document `root` that v2a placed, where it placed them (their note
    says where: `fcpx_audio.placement`). A copy the editor made of one (Final Cut copies the
    note too) lies elsewhere, and is theirs. In a document v2a wrote before it noted its clips,
    the clips of take files on v2a's role (`fcpx_audio.audio_role`) are: a copy the editor put
    on a role of theirs is theirs."""
    takes = _take_assets(root)
    if not takes:
        return set()
    parents = {child: parent for parent in root.iter() for child in parent}
    clips = [clip for clip in root.iter("asset-clip") if clip.get("ref") in takes]
    placed = {clip: fcpx_audio.placement(clip) for clip in clips}
    if not any(placed.values()):
        return {clip for clip in clips
                if fcpx_audio.v2a_role_stem(clip.get("audioRole", "")) is not None}
    there = [
        clip
        for clip, where in placed.items()
        if where is not None and _still_there(clip, parents[clip], where)
    ]
    return _least_displaced(there, placed, parents)


def _least_displaced(
    clips: list[ET.Element], placed: dict[ET.Element, fcpx_audio.Placement], parents: dict
) -> set[ET.Element]:
    """Of clips that lie where their note says in their shot (`_still_there`), v2a's. A shot
    the editor copied and pasted takes v2a's clip with it, note and all, at the same place in
    the shot: of the clips carrying one note, v2a's are those displaced least from where v2a
    put them in the sequence (its own, and the parts of it bladed, which move together); the
    others are the editor's copies. A clip alone with its note is v2a's wherever its shot
    moved (a ripple), as are all of a note written before it said where in the sequence."""
    by_note: dict[fcpx_audio.Placement, list[ET.Element]] = {}
    for clip in clips:
        by_note.setdefault(placed[clip], []).append(clip)
    ours = set()
    for where, group in by_note.items():
        if len(group) == 1 or where.sequence is None:
            ours.update(group)
            continue
        displaced = {clip: _displacement(clip, parents, where) for clip in group}
        least = min(displaced.values())
        ours.update(clip for clip in group if displaced[clip] == least)
    return ours


def _displacement(clip: ET.Element, parents: dict, where: fcpx_audio.Placement) -> Fraction:
    """How far `clip` plays its media from where v2a placed it in the sequence (0 where it
    sits as placed, or is a part of v2a's clip bladed or trimmed there); infinite for a clip
    not in a storyline of the sequence."""
    at = _sequence_time(clip, parents)
    if at is None:
        return Fraction(10**12)
    synced = at - parse_seconds(clip.get("start"))
    return abs(synced - (where.sequence - where.start))


def _sequence_time(clip: ET.Element, parents: dict) -> Fraction | None:
    """The time in its sequence where a connected clip, or a clip of a connected storyline,
    starts: its offset in the item it hangs from, from that item's start, plus where the item
    lies in its storyline (an audition's pick, where the audition lies). None where it hangs
    from no storyline's item."""
    time = parse_seconds(clip.get("offset"))
    holder = parents.get(clip)
    if holder is not None and holder.tag == "spine" and holder.get("lane") is not None:
        time += parse_seconds(holder.get("offset"))  # a storyline's clips count from its start
        holder = parents.get(holder)
    if holder is None:
        return None
    time -= parse_seconds(holder.get("start"))
    item = holder
    while item in parents and not (parents[item].tag == "spine" and parents[item].get("lane") is None):
        item = parents[item]
    if item not in parents:
        return None
    return parse_seconds(item.get("offset")) + time


def _still_there(clip: ET.Element, parent: ET.Element, placed: fcpx_audio.Placement) -> bool:
    """Whether `clip` plays where its note says v2a placed it: on its lane (in its storyline),
    its media at the same place (a part of it bladed or trimmed off still does; a copy the
    editor made elsewhere does not)."""
    synced = parse_seconds(clip.get("offset")) - parse_seconds(clip.get("start"))
    if synced != placed.offset - placed.start:
        return False
    if placed.storyline is None:
        return clip.get("lane") == placed.lane
    return (
        clip.get("lane") is None
        and parent.tag == "spine"
        and parent.get("lane") == placed.lane
        and parse_seconds(parent.get("offset")) == placed.storyline
    )


def _take_assets(root: ET.Element) -> set[str]:
    """The ids of the assets of v2a's take files."""
    return {
        asset.get("id")
        for asset in root.iterfind("./resources/asset")
        if parse_take_file(asset_url(asset) or "")
    }


def is_v2a_item(element: ET.Element, ours: set[ET.Element]) -> bool:
    """Whether an item connected to a clip is v2a's (`ours`: `v2a_clips`): one of its clips, or
    a storyline of them and their crossfades."""
    if element.tag == "asset-clip":
        return element in ours
    if element.tag != "spine" or element.get("lane") is None or not len(element):
        return False
    return all(child.tag == "transition" or child in ours for child in element)


def _lanes_apart(sequence: ET.Element, ours: set[ET.Element]) -> list[tuple[ET.Element, str]]:
    """Give the editor's items on a lane of v2a's clips a lane of their own below every other,
    in the reader's copy of the document: the reader makes one track of a lane, and v2a's track
    is v2a's again only as a track of v2a's clips alone (the editor's clip on v2a's lane made
    it the editor's, and every take of it was lost). Returns each item moved and its lane."""
    spine = sequence.find("./spine")
    if spine is None or not ours:
        return []
    connected = [item for host in spine for item in host if item.get("lane") is not None]
    v2a_lanes = {item.get("lane") for item in connected if is_v2a_item(item, ours)}
    lowest = _lowest_lane(sequence)
    fresh: dict[str, str] = {}
    moved = []
    for item in connected:
        lane = item.get("lane")
        if lane in v2a_lanes and not is_v2a_item(item, ours):
            if lane not in fresh:
                lowest -= 1
                fresh[lane] = str(lowest)
            moved.append((item, lane))
            item.set("lane", fresh[lane])
    return moved


def _remove_v2a_audio(root: ET.Element, sequence: ET.Element) -> dict[str, list[ET.Element]]:
    """Take out of `sequence` the clips an earlier run of v2a added (`v2a_clips`: not the
    editor's copies of them) and the storylines holding only them and their crossfades, and
    then the resources only they referred to. In a storyline the editor added clips of theirs
    to, each of v2a's clips leaves a gap of its length, and its crossfades between gaps go.
    Returns what the editor put in each clip (all but v2a's note: a volume, markers), by the
    path of its take's file, for the clip written in its place (`fcpx_audio.add_tracks`)."""
    ours = v2a_clips(root)
    if not ours:
        return {}
    resources = root.find("./resources")
    files = {asset.get("id"): asset_url(asset) or "" for asset in resources.iterfind("asset")}
    editors_settings: dict[str, list[ET.Element]] = {}
    for clip in (clip for clip in sequence.iter("asset-clip") if clip in ours):  # in order
        settings = [child for child in clip if child.tag != "note"]
        if settings:
            editors_settings.setdefault(url_to_path(files.get(clip.get("ref"), "")), settings)
    parents = {child: parent for parent in sequence.iter() for child in parent}
    dropped: set[str] = set()
    # Whether a storyline is v2a's, asked once each: asked for each of its clips, it took time
    # growing as the square of the clips crossfaded end to end (2,000: 8 million checks).
    storylines: dict[ET.Element, bool] = {}
    for element in list(sequence.iter("asset-clip")):
        if element not in ours:
            continue
        parent = parents[element]
        if parent.tag == "spine" and parent.get("lane"):
            if parent not in storylines:
                storylines[parent] = is_v2a_item(parent, ours)
            if storylines[parent]:
                element = parent  # v2a's crossfade storyline
            else:
                # A storyline plays its items one after another: taken out, v2a's clip moved
                # the editor's after it up by its length.
                dropped.add(element.get("ref"))
                _to_gap(parent, element)
                continue
        if element in parents and element in list(parents[element]):
            dropped.update(e.get("ref") for e in element.iter() if e.get("ref"))
            parents[element].remove(element)
    for storyline, v2a_alone in storylines.items():
        if not v2a_alone:
            _without_crossfades_between_gaps(storyline)
    still = {e.get("ref") for e in root.iter() if e.get("ref")}
    for resource in list(resources):
        if resource.get("id") in dropped - still:
            resources.remove(resource)
    return editors_settings


def _to_gap(storyline: ET.Element, clip: ET.Element) -> None:
    gap = ET.Element("gap", {"name": "Gap", "offset": clip.get("offset"), "duration": clip.get("duration")})
    gap.tail = clip.tail
    storyline[list(storyline).index(clip)] = gap


def _without_crossfades_between_gaps(storyline: ET.Element) -> None:
    items = list(storyline)
    for at, item in enumerate(items):
        beside = items[at - 1 : at] + items[at + 1 : at + 2]
        if item.tag == "transition" and all(other.tag == "gap" for other in beside):
            storyline.remove(item)


def asset_url(asset: ET.Element) -> str | None:
    """An asset's file: its `src` (FCPXML 1.8) or its original media's (1.9 and later)."""
    if asset.get("src"):
        return asset.get("src")
    rep = asset.find("./media-rep[@kind='original-media']")
    return rep.get("src") if rep is not None else None


def _lowest_lane(sequence: ET.Element) -> int:
    lanes = [int(e.get("lane")) for e in sequence.iter() if re.fullmatch(r"-?\d+", e.get("lane", ""))]
    return min(lanes, default=0)


def _indent_new(element: ET.Element, parents: dict, space: str) -> None:
    """Lay `element` (v2a's, just added) out as the document around it is, touching no
    whitespace of the editor's elements but the one before it."""
    host = parents[element]
    depth, up = 1, host
    while up in parents:
        up, depth = parents[up], depth + 1
    ET.indent(element, space=space, level=depth)
    siblings = list(host)
    at = siblings.index(element)
    inner, outer = "\n" + space * depth, "\n" + space * (depth - 1)
    if at == 0:
        host.text = inner
    else:
        siblings[at - 1].tail = inner
    element.tail = inner if at + 1 < len(siblings) else outer


def _keep_media_found(root: ET.Element, source_folder: str, folder: str) -> None:
    """The editor's relative media paths resolve from the document's folder: written into
    another folder, they name the editor's media from there (offline otherwise)."""
    for element in root.iter():
        if element.tag in ("asset", "media-rep") and element.get("src"):
            element.set("src", rebased_url(element.get("src"), source_folder, folder))
