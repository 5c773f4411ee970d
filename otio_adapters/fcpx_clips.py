"""Multicam and synchronized clips and auditions in the FCPXML reader, read as the picture the
editor sees.

The reader (otio-fcpx-xml-adapter 1.0.0) reads a compound clip (a `<ref-clip>` of a `<media>`
holding a `<sequence>`) as a nested stack trimmed to the clip, but knows neither of the clips
Final Cut editors cut interviews and anything shot with separate sound with:
- an `<mc-clip>` (a multicam clip) it skipped: the shot had no clip, so no sound from v2a;
- a `<sync-clip>` (a synchronized clip) it did not know either, but it reads every clip element
  under a storyline, so it took the synchronized clip's own items for clips of the project,
  each whole: a trimmed synchronized clip ran past its end, and every later shot on its track
  moved by as much (measured on a hand-made interview cut: a 3 s synchronized clip of a 10 s
  camera clip was read as 10 s, 5 s early, the compound clip and the shot after it 2 s late).

Both are compound clips in all but name: a clip that plays a part of its own timeline. So before
the reader reads a document, `install()` has each become a `<ref-clip>` of a `<media>` of its own
whose `<sequence>` holds what the clip plays, in the clip's own time (where its `start` counts):
- a synchronized clip: its items (its storyline and what is connected to it): the reader reads
  them as a nested stack, whose upper video lanes hide the lower as in any stack, and its audio
  lanes are audio, which v2a makes no sound for;
- a multicam clip: the items of its active video angle (its `<mc-source>` with srcEnable "all"
  or "video"), laid in the multicam's time as the angle lays them; a multicam clip that plays
  only an angle's sound shows no picture, and is read as audio with nothing in it.
A compound clip whose sound alone is enabled (srcEnable "audio") shows no picture: its video
tracks are read disabled, so v2a plans none of them.
An `<audition>` (alternatives of one clip) plays its first item, the pick; the reader read every
item of it as a clip, each after the last (measured: an audition of a 3 s pick and a 5 s
alternative between two shots was read as a 3 s gap, the second shot, then both alternatives, so
the shot after it was planned 2 s early and each alternative got sound). `install()` has each
audition become its pick, placed where the audition is, before the rest.
A `<clip>` of picture and sound (Final Cut's export of a clip whose audio components it lists:
its `<video>` with its `<audio>` anchored to it, lane -1) is one clip, as an asset-clip of both
is; the reader read its `<audio>` as a second clip of picture after the first, in the clip's
lane and range (measured: a 2 s clip read twice, the second past the project's end). Its sound
is read with it, as an asset-clip's is: not as a clip of its own (`as_one_clip`).
Only the reader's copy of the document changes: v2a writes its sound into the editor's document
as exported (`fcpx_document`), connected to the multicam or synchronized clip above it.
"""

from __future__ import annotations

import copy
import logging
import xml.etree.ElementTree as ET

import opentimelineio as otio

from otio_adapters.fcpx_document import is_v2a_item, v2a_clips

log = logging.getLogger(__name__)

#: What a synchronized clip's own timeline holds (FCPXML DTD: its storyline and clip items).
_STORY = {
    "spine", "audio", "video", "clip", "title", "mc-clip", "ref-clip", "sync-clip", "asset-clip",
    "audition", "gap", "caption",
}
#: Where an item's time base and format come from, going up from it.
_TIMELINES = ("sync-clip", "multicam", "sequence")

_installed = False


def install() -> None:
    """Have the FCPXML reader read multicam and synchronized clips as compound clips
    (idempotent)."""
    global _installed
    if _installed:
        return
    fcpx_xml = otio.adapters.from_name("fcpx_xml").module()
    original_init = fcpx_xml.FcpxXml.__init__

    def init(reader, xml_string):
        original_init(reader, xml_string)
        changed = [as_picks(reader.fcpx_xml), as_one_clip(reader.fcpx_xml)]
        if as_compound_clips(reader.fcpx_xml) or any(changed):
            reader.child_parent_map = {c: p for p in reader.fcpx_xml.iter() for c in p}

    original_build = fcpx_xml.FcpxXml._build_composable

    def build_composable(reader, element, default_format):
        composable = original_build(reader, element, default_format)
        # Switched off in Final Cut (on the `<clip>`, which the reader builds from the `<video>`
        # inside): it shows nothing, and gets no sound; the reader read it as shown.
        if "0" in (element.get("enabled"), reader._timing_clip(element).get("enabled")):
            composable.enabled = False
        if element.tag == "ref-clip" and element.get("srcEnable") == "audio":
            # A compound clip playing its sound alone shows none of its picture: its video
            # tracks were planned as if it did (measured: a 3 s compound clip got the sound of
            # the camera it hides).
            for track in composable:
                if isinstance(track, otio.schema.Track) and track.kind == otio.schema.TrackKind.Video:
                    track.enabled = False
        return composable

    fcpx_xml.FcpxXml.__init__ = init
    fcpx_xml.FcpxXml._build_composable = build_composable
    _installed = True


def as_picks(root: ET.Element) -> bool:
    """Put in place of every audition of the document `root` its pick (its first item, which
    Final Cut plays), at the audition's place in its parent (offset, lane); whether there were
    any. The alternatives go: the editor sees, and v2a plans, none of them."""
    parents = {child: parent for parent in root.iter() for child in parent}
    auditions = list(root.iter("audition"))
    for audition in auditions:
        parent = parents[audition]
        pick = audition[0] if len(audition) else None
        if pick is not None:
            for name in ("offset", "lane"):  # where the audition is, in its parent's time
                if audition.get(name) is not None:
                    pick.set(name, audition.get(name))
                else:
                    pick.attrib.pop(name, None)
            parent.insert(list(parent).index(audition), pick)
        parent.remove(audition)
    return bool(auditions)


def as_one_clip(root: ET.Element) -> bool:
    """Take out of every `<clip>` of picture (one holding a `<video>`) the `<audio>` anchored in
    it, its own sound, which the reader reads in the clip's place and range as a clip of its
    own; whether there was any. A `<clip>` of sound alone (Final Cut's and the adapter's audio
    clip, a `<gap>` with the `<audio>` under it) keeps it: that is the clip."""
    parents = {child: parent for parent in root.iter() for child in parent}
    sound = []
    for clip in root.iter("clip"):
        if clip.find("./video") is None:
            continue
        for element in clip.iter("audio"):
            up = parents[element]
            while up.tag not in ("clip", "asset-clip", "ref-clip"):  # the reader's timing clip
                up = parents[up]
            if up is clip and element.get("lane", "0") != "0":
                sound.append(element)
    for element in sound:
        parents[element].remove(element)
    return bool(sound)


def as_compound_clips(root: ET.Element) -> bool:
    """Turn every multicam and synchronized clip of the document `root` into a compound clip of
    what it plays; whether there were any."""
    resources = root.find("./resources")
    syncs, multicams = list(root.iter("sync-clip")), list(root.iter("mc-clip"))
    if resources is None or not (syncs or multicams):
        return False
    media = _Media(root, resources)
    # Synchronized clips first: a multicam angle may hold one, and then its copy holds the
    # compound clip.
    # v2a's sound connected to a synchronized clip lies in the project's time, not in the
    # clip's own: it stays v2a's track.
    ours = v2a_clips(root)
    for sync in syncs:
        items = [child for child in sync if child.tag in _STORY and not is_v2a_item(child, ours)]
        for item in items:
            sync.remove(item)
        _to_ref_clip(sync, media.add(sync.get("name", ""), media.format_of(sync), items))
    angles: dict[tuple[str, str], str] = {}  # (multicam media, angle) -> its media's id
    for clip in multicams:
        angle_id = _video_angle(clip)
        if angle_id is None:  # it plays sound alone
            clip.set("srcEnable", "audio")
        key = (clip.get("ref", ""), angle_id)
        if key not in angles:
            angles[key] = media.add_angle(*key)
        _to_ref_clip(clip, angles[key])
    return True


def _to_ref_clip(clip: ET.Element, media_id: str) -> None:
    clip.tag = "ref-clip"
    clip.set("ref", media_id)


def _video_angle(clip: ET.Element) -> str | None:
    """The angle whose picture a multicam clip shows; None where it plays only an angle's
    sound."""
    for source in clip.iterfind("./mc-source"):
        if source.get("srcEnable", "all") in ("all", "video"):
            return source.get("angleID", "")
    return None


class _Media:
    """The `<media>` resources that stand for multicam and synchronized clips."""

    def __init__(self, root: ET.Element, resources: ET.Element) -> None:
        self.resources = resources
        self.parents = {child: parent for parent in root.iter() for child in parent}
        self.ids = {element.get("id") for element in root.iter() if element.get("id")}
        first_format = resources.find("./format")
        self.default_format = first_format.get("id", "") if first_format is not None else ""

    def format_of(self, element: ET.Element) -> str:
        """The format of the timeline `element` is, or lies in."""
        while element is not None:
            if element.tag in _TIMELINES and element.get("format"):
                return element.get("format")
            element = self.parents.get(element)
        return self.default_format

    def add(self, name: str, format_id: str, items: list[ET.Element]) -> str:
        """A new `<media>` whose sequence holds `items`; its id."""
        number = len(self.ids)
        while f"v2a-compound-{number}" in self.ids:
            number += 1
        media_id = f"v2a-compound-{number}"
        self.ids.add(media_id)
        media = ET.SubElement(self.resources, "media", id=media_id, name=name)
        sequence = ET.SubElement(media, "sequence", format=format_id)
        ET.SubElement(sequence, "spine").extend(items)
        return media_id

    def add_angle(self, multicam_id: str, angle_id: str | None) -> str:
        """A new `<media>` holding a copy of the items of the angle `angle_id` of the multicam
        `multicam_id`, in the multicam's time; empty (a multicam clip with no picture, so no
        sound of v2a's) for no angle (None: its sound alone; an angle of its audio may be a
        camera's, whose picture is not seen) or one the document does not hold."""
        if angle_id is None:
            return self.add("", self.default_format, [])
        multicam = next(
            (
                element.find("./multicam")
                for element in self.resources.iterfind("./media")
                if element.get("id") == multicam_id and element.find("./multicam") is not None
            ),
            None,
        )
        angle = None
        if multicam is not None:
            angle = next(
                (a for a in multicam.iterfind("./mc-angle") if a.get("angleID") == angle_id), None
            )
        if angle is None:
            log.warning(
                "FCPXML: multicam clip of %r shows angle %r, which the document does not hold; "
                "it is read as empty",
                multicam_id,
                angle_id,
            )
            return self.add("", self.default_format, [])
        name = f"{self.parents[multicam].get('name', '')}: {angle.get('name', angle_id)}"
        items = [copy.deepcopy(item) for item in angle]
        return self.add(name, self.format_of(multicam), items)
