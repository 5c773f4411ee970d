"""The editor's FCPXML transitions, read into OTIO and written back.

The FCPXML adapter (otio-fcpx-xml-adapter 1.0.0) reads no `<transition>` and writes none: an
FCPXML's own cross dissolves were gone before v2a planned (no handles under them), and from
the FCPXML v2a returned.

Final Cut lays a storyline's items end to end and puts a transition over the cut between two
of them (`offset` where it starts, `duration`), centred on the cut; at a storyline's start or
end, where nothing lies beyond, it is a fade from or to nothing, wholly on the clip. The clips
keep their places, so a transition is an OTIO Transition at that cut: `in_offset` the part
before the cut, `out_offset` the part after, the clips' ranges as the adapter read them.

Reading (`install`): each storyline's transitions go into the track of its lane (the adapter
makes one per lane: "0" the primary storyline, a secondary storyline's lane its own), at the
cut between the items either side, which must be what the adapter made of them (a clip, or
nothing: a gap, the track's edge). What cannot be placed so (a transition beside an item the
adapter does not read: a title, a generator, a multicam or synchronized clip) is counted, and the count
(`TRANSITIONS_NOT_READ`) named when the timeline is written. Each transition keeps its element
(its filters and their parameters) and the effects they use, to be written back as it was.

Writing (`write`): the adapter writes the first video track as the primary storyline and every
item of the other tracks as a connected clip of its own. A transition on the first video track
goes into the primary storyline at its cut; on another track, the clips it joins (and the
transitions at its ends) become a secondary storyline (`<spine lane=...>`): Final Cut has
transitions only in storylines. A transition from another format gets Final Cut's own: a
"Cross Dissolve" with an "Audio Crossfade" on a video lane, the "Audio Crossfade" alone on an
audio lane.
"""

from __future__ import annotations

import bisect
import copy
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from fractions import Fraction

import opentimelineio as otio

from otio_adapters.fcpx_audio import connect, is_host
from otio_adapters.fcpx_time import file_rate, format_seconds, parse_seconds
from otio_adapters.takes import V2A_KEY, track_name
from otio_adapters.timing import exact_rate, seconds, to_frames

#: Timeline metadata (under "fcpx_xml"): how many of the editor's transitions in the source
#: FCPXML could not be read.
TRANSITIONS_NOT_READ = "transitions_not_read"
#: Where a read transition keeps its element (without its place) and the effects it uses.
_KEY = "fcpx_xml"
#: Storyline items the adapter reads as a clip (or, a ref-clip, a nested stack).
_READ_AS_CLIPS = ("clip", "asset-clip", "ref-clip")
#: Final Cut's own transitions, as its exports declare them.
_CROSS_DISSOLVE = {"name": "Cross Dissolve", "uid": "FxPlug:4731E73A-8DAC-4113-9A30-AE85B1761265"}
_AUDIO_CROSSFADE = {"name": "Audio Crossfade", "uid": "FFAudioTransition"}
_DISSOLVES = (_CROSS_DISSOLVE["name"], _AUDIO_CROSSFADE["name"])

_installed = False


def install() -> None:
    """Make the FCPXML reader read transitions (idempotent; after `fcpx_time.install`)."""
    global _installed
    if _installed:
        return
    fcpx_xml = otio.adapters.from_name("fcpx_xml").module()
    original_to_stack = fcpx_xml.FcpxXml._squence_to_stack
    original_from_project = fcpx_xml.FcpxXml._from_project

    def squence_to_stack(reader, sequence_element, *args, **kwargs):
        stack = original_to_stack(reader, sequence_element, *args, **kwargs)
        unread = _read_transitions(reader, sequence_element, stack)
        if unread:
            stack.metadata.setdefault(_KEY, {})[TRANSITIONS_NOT_READ] = unread
        return stack

    def from_project(reader, project_element):
        timeline = original_from_project(reader, project_element)
        unread = timeline.tracks.metadata.get(_KEY, {}).pop(TRANSITIONS_NOT_READ, 0)
        if unread:  # said when the timeline is written
            timeline.metadata.setdefault(_KEY, {})[TRANSITIONS_NOT_READ] = unread
        return timeline

    fcpx_xml.FcpxXml._squence_to_stack = squence_to_stack
    fcpx_xml.FcpxXml._from_project = from_project
    _installed = True


# --- reading ---------------------------------------------------------------------------------


def _read_transitions(reader, sequence, stack: otio.schema.Stack) -> int:
    """Put the transitions of `sequence`'s storylines into `stack`, the adapter's reading of
    it; returns how many of the editor's it could not place."""
    if sequence.find(".//transition") is None:
        return 0
    rate = 1 / parse_seconds(reader._format_by_id(sequence.get("format")).get("frameDuration"))
    effects = {e.get("id"): e for e in reader.fcpx_xml.iterfind("./resources/effect")}
    tracks = {track.name: track for track in stack}
    cuts = {name: _cuts(track, rate) for name, track in tracks.items()}
    placed: dict[str, dict[int, otio.schema.Transition]] = {}
    unread = 0
    for storyline in sequence.iter("spine"):
        items = list(storyline)
        if not any(item.tag == "transition" for item in items):
            continue
        lane, start = _storyline_place(reader, sequence, storyline) or ("", Fraction(0))
        for at, element in enumerate(items):
            if element.tag != "transition":
                continue
            beside = (items[at - 1] if at else None, items[at + 1] if at + 1 < len(items) else None)
            found = _placed(element, beside, start, tracks.get(lane), cuts.get(lane), rate)
            if found is None or found[0] in placed.get(lane, {}):
                unread += not _is_v2a_storyline(storyline)
                continue
            index, transition = found
            transition.metadata[_KEY] = _kept(element, effects)
            placed.setdefault(lane, {})[index] = transition
    for lane, at_index in placed.items():
        for index in sorted(at_index, reverse=True):  # later indices first: earlier ones hold
            tracks[lane].insert(index, at_index[index])
    return unread


def _storyline_place(reader, sequence, storyline) -> tuple[str, Fraction] | None:
    """The lane of a storyline's track and where the storyline starts, in the sequence's time
    as the adapter counts it (its primary storyline from 0, tcStart included); None for one
    the adapter does not read as such (lane "": no track)."""
    host = reader.child_parent_map.get(storyline)
    if host is sequence:
        return "0", Fraction(0)
    primary = reader.child_parent_map.get(host)
    lane = storyline.get("lane")
    if lane is None or primary is None or reader.child_parent_map.get(primary) is not sequence:
        return None
    # A secondary storyline counts its items from its own start, at `offset` in its host's
    # time (which begins at the host's `start`), as `fcpx_time` places its clips.
    into = parse_seconds(storyline.get("offset")) - parse_seconds(host.get("start"))
    return lane, parse_seconds(host.get("offset")) + into


def _cuts(track: otio.schema.Track, rate: Fraction) -> dict[int, int]:
    """Frame (at `rate`) -> the index of the first item starting there, the track's end too."""
    cuts: dict[int, int] = {}
    position = Fraction(0)
    for index, item in enumerate(track):
        cuts.setdefault(to_frames(position, rate), index)
        position += seconds(item.duration())
    cuts.setdefault(to_frames(position, rate), len(track))
    return cuts


def _placed(element, beside, start: Fraction, track, cuts, rate: Fraction):
    """(index in `track`, Transition) for a transition element between the storyline items
    `beside` it (None at the storyline's start or end), the storyline starting at `start`;
    None where it cannot be placed at a cut between what the adapter read (`cuts`, in frames at
    the sequence's `rate`)."""
    if track is None:
        return None
    before, after = beside
    if after is not None:
        cut = parse_seconds(after.get("offset"))
    elif before is not None:
        cut = parse_seconds(before.get("offset")) + parse_seconds(before.get("duration"))
    else:
        return None
    offset = parse_seconds(element.get("offset"))
    in_offset = cut - offset
    out_offset = offset + parse_seconds(element.get("duration")) - cut
    index = cuts.get(to_frames(start + cut, rate))
    if index is None or in_offset < 0 or out_offset < 0:
        return None
    outgoing = track[index - 1] if index else None
    incoming = track[index] if index < len(track) else None
    if not (_read_as(before, outgoing, in_offset) and _read_as(after, incoming, out_offset)):
        return None
    if not any(isinstance(item, (otio.schema.Clip, otio.schema.Stack))
               for item in (outgoing, incoming)):
        return None
    track_rate = (outgoing or incoming).duration().rate
    frames = exact_rate(track_rate)
    transition = otio.schema.Transition(
        name=element.get("name", ""),
        transition_type=(otio.schema.TransitionTypes.SMPTE_Dissolve
                         if element.get("name") in _DISSOLVES
                         else otio.schema.TransitionTypes.Custom),
        in_offset=otio.opentime.RationalTime(to_frames(in_offset, frames), track_rate),
        out_offset=otio.opentime.RationalTime(to_frames(out_offset, frames), track_rate),
    )
    return index, transition


def _read_as(element, item, overlap: Fraction) -> bool:
    """Whether `item` (the adapter's, beside the cut; None: the track's edge) is what it made
    of `element` (the storyline's item on that side; None: the storyline's edge), with room
    for the `overlap` of the transition on that side where nothing plays."""
    if isinstance(item, otio.schema.Transition):
        return False
    if element is None or element.tag == "gap":
        if item is None:
            return overlap == 0
        return isinstance(item, otio.schema.Gap) and seconds(item.duration()) >= overlap
    return element.tag in _READ_AS_CLIPS and isinstance(item, (otio.schema.Clip, otio.schema.Stack))


def _kept(element, effects: dict[str, ET.Element]) -> dict:
    """What `write` needs to write the transition back as it was: the element without its
    place, and the name and uid of each effect its filters use (their ids are the file's)."""
    kept = copy.deepcopy(element)
    for name in ("offset", "duration"):
        kept.attrib.pop(name, None)
    used = {}
    for part in kept.iter():
        part.tail = part.tail.strip() or None if part.tail else None  # the file's indentation
        part.text = part.text.strip() or None if part.text else None
        effect = effects.get(part.get("ref", ""))
        if effect is not None:
            used[part.get("ref")] = {"name": effect.get("name", ""), "uid": effect.get("uid", "")}
    return {"transition": ET.tostring(kept, encoding="unicode"), "effects": used}


def _is_v2a_storyline(storyline) -> bool:
    """v2a's own storylines (`fcpx_audio`'s, whose clips are on an `effects.V2A …` role) hold
    its crossfades, not the editor's transitions."""
    roles = [clip.get("audioRole", "") for clip in storyline if clip.tag == "asset-clip"]
    ours = f"effects.{track_name('')}"  # fcpx_audio.audio_role's prefix, whatever the stem
    return bool(roles) and all(role.startswith(ours) for role in roles)


# --- writing ---------------------------------------------------------------------------------


@dataclass
class _Laid:
    """A top-level item of an editor's track, in frames of the edit rate."""

    item: otio.core.Composable
    start: int
    length: int  # 0 for a transition
    before: int = 0  # a transition's frames before and after its cut
    after: int = 0

    @property
    def plays(self) -> bool:
        return isinstance(self.item, (otio.schema.Clip, otio.schema.Stack))


def unwritable(timeline: otio.schema.Timeline, rate: float) -> int:
    """How many of the editor's transitions `write` cannot write: those inside nested stacks
    (the adapter writes them as compound clips), and those with nothing to play on either side
    or reaching past what lies beside them (a gap too short, the track's edge)."""
    count = 0
    for track in _editors_tracks(timeline):
        every = len(track.find_children(descended_from_type=otio.schema.Transition))
        laid = _laid(track, exact_rate(rate))
        count += every - sum(_writable(laid, index) for index in range(len(laid)))
    return count


def write(root: ET.Element, timeline: otio.schema.Timeline, rate: float) -> None:
    """Add the editor's transitions of `timeline` (at `rate`) to the FCPXML document `root`, as
    the adapter wrote it: before `fcpx_time.finish`, its times from 0 at the rate the adapter
    counts (`fcpx_time.file_rate`)."""
    sequence = root.find("./project/sequence")
    if sequence is None:
        return
    writer = _Writer(root, sequence, exact_rate(rate), file_rate(rate))
    for lane, track in _lanes(timeline):
        laid = _laid(track, writer.rate)
        if not any(_writable(laid, index) for index in range(len(laid))):
            continue
        if lane == 0:
            writer.into_primary(laid)
            continue
        connected = writer.connected(lane)
        for run in _runs(laid):
            writer.storyline(run, lane, connected)


def adapter_elements(
    root: ET.Element, timeline: otio.schema.Timeline, rate: float
) -> list[tuple[otio.core.Composable, ET.Element]]:
    """Each clip and stack of the editor's tracks (at their top level) with the element the
    adapter wrote for it in `root` (before `fcpx_time.finish`)."""
    sequence = root.find("./project/sequence")
    if sequence is None:
        return []
    writer = _Writer(root, sequence, exact_rate(rate), file_rate(rate))
    found = []
    for lane, track in _lanes(timeline):
        if lane == 0:
            elements = {writer.frames(child.get("offset")): child for child in writer.spine}
        else:
            elements = {frame: item for frame, (item, _) in writer.connected(lane).items()}
        for laid in _laid(track, writer.rate):
            if laid.plays and laid.start in elements:
                found.append((laid.item, elements[laid.start]))
    return found


def _editors_tracks(timeline: otio.schema.Timeline) -> list[otio.schema.Track]:
    return [track for track in timeline.tracks if V2A_KEY not in track.metadata]


def _lanes(timeline: otio.schema.Timeline) -> list[tuple[int, otio.schema.Track]]:
    """The editor's tracks by the lane the adapter writes them on: video tracks 0 (the primary
    storyline), 1, 2...; audio tracks -1, -2..."""
    video = [t for t in _editors_tracks(timeline) if t.kind == otio.schema.TrackKind.Video]
    audio = [t for t in _editors_tracks(timeline) if t.kind == otio.schema.TrackKind.Audio]
    return [*enumerate(video), *((-(index + 1), track) for index, track in enumerate(audio))]


def _laid(track: otio.schema.Track, rate: Fraction) -> list[_Laid]:
    laid, position = [], Fraction(0)
    for item in track:
        start = to_frames(position, rate)
        if isinstance(item, otio.schema.Transition):
            before = to_frames(seconds(item.in_offset), rate)
            after = to_frames(seconds(item.out_offset), rate)
            laid.append(_Laid(item, start, 0, before, after))
            continue
        position += seconds(item.duration())
        laid.append(_Laid(item, start, to_frames(position, rate) - start))
    return laid


def _writable(laid: list[_Laid], index: int) -> bool:
    """Whether laid[index] is a transition Final Cut can hold: something plays on one side of
    its cut, and on a side where nothing plays, a gap holds its part."""
    here = laid[index]
    if not isinstance(here.item, otio.schema.Transition):
        return False
    sides = (laid[index - 1] if index else None, here.before), (
        laid[index + 1] if index + 1 < len(laid) else None, here.after)
    if not any(side is not None and side.plays for side, _ in sides):
        return False
    for side, overlap in sides:
        if side is None:
            if overlap:
                return False
        elif isinstance(side.item, otio.schema.Transition):
            return False
        elif not side.plays and side.length < overlap:
            return False
    return True


def _runs(laid: list[_Laid]) -> list[list[_Laid]]:
    """The clips joined by writable transitions, with the transitions at their ends: each run
    one storyline (a run without a transition stays as the adapter wrote it)."""
    runs: list[list[_Laid]] = []
    current: list[_Laid] = []
    for index, item in enumerate(laid):
        if isinstance(item.item, otio.schema.Transition):
            if not _writable(laid, index):
                runs.append(current)  # a hard cut then
                current = []
            else:
                current.append(item)
        elif not item.plays:
            runs.append(current)
            current = []
        else:
            if current and current[-1].plays:  # a cut without a transition
                runs.append(current)
                current = []
            current.append(item)
    runs.append(current)
    return [
        run for run in runs
        if any(isinstance(item.item, otio.schema.Transition) for item in run)
    ]


class _Writer:
    """Puts transitions into the adapter's FCPXML, in the primary storyline or in secondary
    storylines made of the adapter's connected clips."""

    def __init__(self, root, sequence, rate: Fraction, counted: Fraction) -> None:
        self.rate = rate
        self.counted = counted  # the rate the file's times count frames at, for now
        self.resources = root.find("./resources")
        self.spine = sequence.find("./spine")
        self.hosts = [item for item in self.spine if is_host(item)]
        self.host_starts = [self.frames(item.get("offset")) for item in self.hosts]
        self.effects = {e.get("uid"): e.get("id") for e in self.resources.iterfind("effect")}
        ids = (re.fullmatch(r"r(\d+)", element.get("id", "")) for element in root.iter())
        self.last_id = max((int(found.group(1)) for found in ids if found), default=0)

    def frames(self, text: str | None) -> int:
        return to_frames(parse_seconds(text), self.counted)

    def time(self, frames: int) -> str:
        return format_seconds(Fraction(frames) / self.counted)

    def into_primary(self, laid: list[_Laid]) -> None:
        """Each writable transition into the primary storyline, before the item at its cut."""
        at_cut: dict[int, list[ET.Element]] = {}
        for index, item in enumerate(laid):
            if _writable(laid, index):
                at_cut.setdefault(item.start, []).append(self.transition(item, 0, video=True))
        items = []
        for child in list(self.spine):
            items.extend(at_cut.pop(self.frames(child.get("offset")), []))
            items.append(child)
        end = laid[-1].start + laid[-1].length
        items.extend(at_cut.pop(end, []))
        if at_cut:
            raise ValueError(f"no cut of the primary storyline at frame(s) {sorted(at_cut)} "
                             "for the editor's transitions there")
        self.spine[:] = items

    def storyline(self, run: list[_Laid], lane: int, connected: dict) -> None:
        """The adapter's connected clips of `run` (from `connected`) moved into a storyline
        with its transitions, connected where it starts: Final Cut has transitions only in
        storylines."""
        first = run[0]
        start = first.start - first.before  # a fade in from nothing at the storyline's start
        host, local = self._host_at(start)
        element = ET.Element("spine", {"lane": str(lane), "offset": local})
        if first.before and not first.plays:  # the gap it fades in from, within the storyline
            element.append(self._gap(0, first.before))
        for item in run:
            if item.plays:
                clip = connected.pop(item.start, None)
                if clip is None:
                    raise ValueError(f"the adapter wrote no connected clip {item.item.name!r} "
                                     f"on lane {lane} at frame {item.start}")
                clip[1].remove(clip[0])
                clip[0].attrib.pop("lane", None)
                clip[0].set("offset", self.time(item.start - start))
                element.append(clip[0])
            else:
                element.append(self.transition(item, start, video=lane > 0))
        last = run[-1]
        if last.after and not last.plays:  # the gap it fades out to
            element.append(self._gap(last.start - start, last.after))
        connect(host, [element])

    def transition(self, item: _Laid, origin: int, video: bool) -> ET.Element:
        """The transition element for `item` (its offset counted from frame `origin`): as it
        was read, with its effects declared again, or Final Cut's own dissolve."""
        kept = item.item.metadata.get(_KEY, {})
        if "transition" in kept:
            element = ET.fromstring(kept["transition"])
            effects = kept.get("effects", {})
            for used in element.iter():
                if used.get("ref", "") in effects:  # (OTIO's dictionaries take text keys only)
                    used.set("ref", self._effect(effects[used.get("ref")]))
        else:
            filters = [("filter-video", _CROSS_DISSOLVE)] if video else []
            filters.append(("filter-audio", _AUDIO_CROSSFADE))
            element = ET.Element("transition", {"name": filters[0][1]["name"]})
            for tag, effect in filters:
                ET.SubElement(element, tag, {"ref": self._effect(effect), "name": effect["name"]})
        element.set("offset", self.time(item.start - item.before - origin))
        element.set("duration", self.time(item.before + item.after))
        return element

    def connected(self, lane: int) -> dict[int, tuple[ET.Element, ET.Element]]:
        """The adapter's connected items on `lane`, by the frame they start at: (item, host)."""
        found = {}
        for host in self.hosts:
            origin = self.frames(host.get("offset")) - self.frames(host.get("start"))
            for child in host:
                if child.get("lane") == str(lane) and child.tag != "spine":
                    found[origin + self.frames(child.get("offset"))] = (child, host)
        return found

    def _host_at(self, frame: int) -> tuple[ET.Element, str]:
        """The primary-storyline item over `frame`, and `frame` in its time (from its start)."""
        index = bisect.bisect_right(self.host_starts, frame) - 1
        if index >= 0:
            host = self.hosts[index]
            into = frame - self.host_starts[index]
            if into < self.frames(host.get("duration")):
                return host, self.time(self.frames(host.get("start")) + into)
        raise ValueError(f"no clip or gap of the primary storyline lies over frame {frame}, "
                         "where a storyline of the editor's transitions starts")

    def _gap(self, offset: int, length: int) -> ET.Element:
        return ET.Element("gap", {"name": "Gap", "offset": self.time(offset),
                                  "duration": self.time(length), "start": "3600s"})

    def _effect(self, effect: dict) -> str:
        """The id of the effect resource with `effect`'s uid, declared if it is not yet."""
        if effect["uid"] not in self.effects:
            self.last_id += 1
            self.effects[effect["uid"]] = f"r{self.last_id}"
            declared = {"id": f"r{self.last_id}", "name": effect["name"], "uid": effect["uid"]}
            ET.SubElement(self.resources, "effect", declared)
        return self.effects[effect["uid"]]
