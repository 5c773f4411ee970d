"""v2a's audio tracks in FCPXML, written the way Final Cut writes audio files.

The FCPXML adapter writes an audio clip as a `<clip>` holding a `<gap>` with the `<audio>`
connected under it, with no role, its asset on the project's video format, and no transitions.
Final Cut files audio without a role under Dialogue (so v2a's sound effects landed in the
editor's dialogue stem), and v2a's crossfades were lost. So the adapter writes the editor's
tracks alone, and `add_tracks` adds v2a's to what it wrote:

- each take file is an audio-only asset: no video format; its sources, channels and rate;
- each clip an `<asset-clip>` with the role `effects.V2A SFX` (a subrole of Effects of its own,
  for soloing, stems and role exports), connected to the primary-storyline item above its first
  frame (so it moves with that shot in Final Cut), on a lane below the editor's audio, with a
  `<note>` saying where v2a placed it (`Placement`): Final Cut copies a clip's role and
  note with it, so a copy the editor makes of v2a's clip is told apart by lying elsewhere.
  The note of a clip v2a switched off with its shot says so too (`takes.with_off_note`), so
  that it is switched on with the shot again (FCPXML keeps no other metadata of v2a's);
- clips that crossfade form a secondary storyline (`<spine lane=...>`): Final Cut has
  transitions only inside storylines (it makes one of connected clips when a transition is
  added to them). Each crossfade is an "Audio Crossfade" `<transition>` centred on its cut,
  where Final Cut places every transition, half over each clip. A crossfade laid off-centre
  keeps its shorter side on both; one with nothing on one side (a dissolve that starts at the
  cut) cannot be placed and is a hard cut (`uncentred_crossfades` counts them for the note).

A transition plays the clips' handles beside the cut; the clips themselves keep their places,
so the sound under the picture is where it was, to the frame (and the take files to the
sample, as for the other frame-based formats).
"""

from __future__ import annotations

import bisect
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import opentimelineio as otio

from otio_adapters.fcpx_time import format_seconds, parse_seconds
from otio_adapters.takes import (
    V2A_KEY,
    marked_v2a_tracks,
    name_stem,
    switched_off_with_shot,
    track_name,
    url_to_path,
    with_off_note,
    without_off_note,
)
from otio_adapters.timing import exact_rate
from v2a.contracts import SAMPLE_RATE, TAKE_CHANNELS

#: Final Cut's own audio transition (its "Audio Crossfade" effect, as in its exports).
_CROSSFADE = {"name": "Audio Crossfade", "uid": "FFAudioTransition"}
#: Children that come after a clip's connected items (Apple's FCPXML DTD: markers, sources,
#: filters). Not a multicam clip's <mc-source>s, which come before them: v2a's clip put before
#: them made the document one Final Cut refuses whole (it rejects any that does not match the
#: DTD).
_AFTER_CONNECTED = {
    "marker", "chapter-marker", "rating", "keyword", "analysis-marker", "audio-channel-source",
    "audio-role-source", "filter-video", "filter-video-mask", "filter-audio", "metadata",
    "sync-source",
}
#: Items of a storyline that can hold connected clips.
_HOSTS = {
    "clip", "asset-clip", "ref-clip", "sync-clip", "mc-clip", "audition", "gap", "title",
    "video", "audio",
}


#: The note on each clip v2a places: its `offset` and `start` (the media time there) and its
#: `lane` where it is connected; in a storyline of v2a's (whose clips count from its start and
#: have no lane), its `offset` there and the storyline's; and the sequence time where it starts.
#: A copy the editor makes lies elsewhere (a copy of the storyline as a whole; pasted with its
#: shot, elsewhere in the sequence); a part bladed or trimmed off v2a's clip still plays its
#: media at the same place (`offset` - `start` as noted), and is v2a's still. Notes written
#: before the sequence time was noted have none.
_PLACED = re.compile(
    r"v2a take placed at (?P<offset>\S+s) \(its (?P<start>\S+s)\)"
    r"(?: in a storyline at (?P<storyline>\S+s))?, lane (?P<lane>-?\d+)"
    r"(?:, sequence time (?P<sequence>\S+s))?"
)


@dataclass(frozen=True)
class Placement:
    """Where v2a placed a clip: its `offset`, `start` and `lane`, or its `offset` and `start`
    in a storyline connected at `storyline` on `lane`; `sequence`, the sequence time where it
    starts (None in notes written before it was noted)."""

    offset: Fraction
    start: Fraction
    lane: str
    storyline: Fraction | None = None
    sequence: Fraction | None = None

    def note(self) -> str:
        inside = "" if self.storyline is None else f" in a storyline at {format_seconds(self.storyline)}"
        where = f"{format_seconds(self.offset)} (its {format_seconds(self.start)})"
        at = "" if self.sequence is None else f", sequence time {format_seconds(self.sequence)}"
        return f"v2a take placed at {where}{inside}, lane {self.lane}{at}"


def placement(clip: ET.Element) -> Placement | None:
    """Where v2a placed `clip`, from its note; None for a clip without v2a's note (the editor's
    own, or one v2a placed before it noted them)."""
    note = clip.find("./note")
    found = _PLACED.fullmatch(without_off_note(note.text or "")) if note is not None else None
    if not found:
        return None
    storyline = parse_seconds(found["storyline"]) if found["storyline"] else None
    sequence = parse_seconds(found["sequence"]) if found["sequence"] else None
    offset, start = parse_seconds(found["offset"]), parse_seconds(found["start"])
    return Placement(offset, start, found["lane"], storyline, sequence)


def audio_role(track: otio.schema.Track) -> str:
    """The Final Cut role of a v2a track's clips: its own subrole of Effects ("effects.V2A SFX")."""
    return f"effects.{track_name(str(track.metadata[V2A_KEY].get('track', 'SFX')))}"


def v2a_role_stem(role: str) -> str | None:
    """The stem of a v2a track whose clips have this Final Cut role (`audio_role`), else None:
    the stem of v2a's clips, and, in a document v2a wrote before it noted where it placed them
    (`placement`), what tells them from a copy the editor gave a role of their own."""
    return name_stem(role.removeprefix("effects.")) if role.startswith("effects.") else None


def is_host(element: ET.Element) -> bool:
    """Whether an item of a storyline can hold connected clips (a transition cannot)."""
    return element.tag in _HOSTS


def playing(item: ET.Element) -> ET.Element:
    """The clip a storyline's item plays: of an audition, its pick (its first item), which holds
    what is connected to it (an item inside the audition itself is another alternative, played
    only if the editor picks it); any other item is its own."""
    if item.tag == "audition" and len(item):
        return item[0]
    return item


def connect(host: ET.Element, elements: list[ET.Element]) -> None:
    """Put connected items in `host`, after its own connected items and before its markers,
    sources and filters, as the DTD orders a clip's children."""
    children = list(host)
    at = next(
        (i for i, child in enumerate(children) if child.tag in _AFTER_CONNECTED), len(children)
    )
    host[at:at] = elements


def uncentred_crossfades(timeline: otio.schema.Timeline) -> int:
    """How many of v2a's crossfades have nothing on one side of their cut: Final Cut centres a
    transition on its cut, so these are written as hard cuts."""
    return sum(
        1
        for track in marked_v2a_tracks(timeline)
        for item in track
        if isinstance(item, otio.schema.Transition)
        and (item.in_offset.value == 0 or item.out_offset.value == 0)
    )


@dataclass
class _Laid:
    """A v2a clip on its track, in frames of the edit rate (the track conformed to them)."""

    name: str
    url: str
    record: int  # first frame on the timeline, from its start
    length: int
    media_in: int  # the take's media time at that frame
    asset_start: int  # where the take file starts in media time
    asset_length: int
    fade: tuple[int, int]  # the crossfade into it: frames before and after the cut
    enabled: bool = True  # False: the editor switched it off, which a new take keeps
    off_with_shot: bool = False  # v2a switched it off with its shot (`takes.switched_off_with_shot`)
    takes: tuple[str, ...] = ()  # the files of all its takes, the active one first

    @property
    def handle_before(self) -> int:
        return self.media_in - self.asset_start

    @property
    def handle_after(self) -> int:
        return self.asset_start + self.asset_length - self.media_in - self.length


def add_tracks(
    root: ET.Element,
    timeline: otio.schema.Timeline,
    rate: float,
    sequence: ET.Element | None = None,
    top_lane: int | None = None,
    editors_settings: dict[str, list[ET.Element]] | None = None,
) -> list[ET.Element]:
    """Add the v2a tracks of `timeline` (conformed to whole frames at `rate`) to `sequence` of
    the FCPXML document `root` (by default its project's, where the adapter writes it), its
    times at the true rate and counted from the project's start timecode. v2a's lanes go below
    `top_lane` (by default, below as many lanes as the editor has audio tracks).
    `editors_settings`: take file path -> what the editor put in v2a's clip of that take before
    a re-run took it out (a volume, markers), for the clip of that take now. Returns the
    elements connected."""
    tracks = marked_v2a_tracks(timeline)
    if sequence is None:
        sequence = root.find("./project/sequence")
    if not tracks or sequence is None:
        return []
    writer = _Writer(root, sequence, exact_rate(rate), editors_settings or {})
    if top_lane is None:
        top_lane = -sum(
            1
            for track in timeline.tracks
            if track.kind == otio.schema.TrackKind.Audio and V2A_KEY not in track.metadata
        )
    for index, track in enumerate(tracks):
        lane = str(top_lane - 1 - index)  # below the editor's audio lanes
        for run in _runs(_laid(track)):
            writer.connect(run, lane, audio_role(track))
    return writer.finish()


def _laid(track: otio.schema.Track) -> list[_Laid]:
    laid, cursor, fade = [], 0, (0, 0)
    for item in track:
        if isinstance(item, otio.schema.Transition):
            fade = (round(item.in_offset.value), round(item.out_offset.value))
            continue
        length = round(item.duration().value)
        if isinstance(item, otio.schema.Clip):
            reference = item.media_reference
            available = getattr(reference, "available_range", None)
            if available is None:
                raise ValueError(f"v2a clip {item.name!r} has no take file with a known length")
            laid.append(
                _Laid(
                    item.name,
                    reference.target_url,
                    cursor,
                    length,
                    round(item.source_range.start_time.value),
                    round(available.start_time.value),
                    round(available.duration.value),
                    fade,
                    item.enabled,
                    switched_off_with_shot(item),
                    tuple(
                        reference.target_url
                        for key in (item.active_media_reference_key, *item.media_references())
                        if (reference := item.media_references().get(key)) is not None
                        and hasattr(reference, "target_url")
                    ),
                )
            )
        fade = (0, 0)
        cursor += length
    return laid


def _centred(outgoing: _Laid, incoming: _Laid) -> int:
    """Frames each side of the cut of the crossfade into `incoming`, centred as Final Cut places
    transitions: the shorter side of the one laid, within both clips' handles."""
    before, after = incoming.fade
    return max(0, min(before, after, incoming.handle_before, outgoing.handle_after))


def _runs(laid: list[_Laid]) -> list[list[_Laid]]:
    """The clips in groups joined by crossfades Final Cut can place: each group is one
    connected clip, or a storyline."""
    runs: list[list[_Laid]] = []
    for item in laid:
        if runs and _centred(runs[-1][-1], item):
            runs[-1].append(item)
        else:
            runs.append([item])
    return runs


class _Writer:
    """Adds connected clips and storylines to the primary storyline, with their assets."""

    def __init__(
        self, root: ET.Element, sequence: ET.Element, rate: Fraction, editors_settings: dict
    ) -> None:
        self.rate = rate
        self.editors_settings = editors_settings
        self.resources = root.find("./resources")
        self.origin = parse_seconds(sequence.get("tcStart"))
        items = [item for item in sequence.find("./spine") if is_host(item)]
        self.starts = [parse_seconds(item.get("offset")) for item in items]
        self.hosts = [playing(item) for item in items]
        self.connected: dict[int, list[ET.Element]] = {}  # host index -> what to connect to it
        self.assets: dict[str, str] = {}  # take URL -> asset id
        self.crossfade = ""
        # FCPXML 1.9 moved an asset's file into a <media-rep> of it.
        version = tuple(int(part) for part in re.findall(r"\d+", root.get("version", "1.8")))
        self.media_rep = version >= (1, 9)
        # New resource ids follow the adapter's ("r1", "r2"...).
        ids = (re.fullmatch(r"r(\d+)", element.get("id", "")) for element in root.iter())
        self.last_id = max((int(found.group(1)) for found in ids if found), default=0)

    def seconds(self, frames: int) -> Fraction:
        return Fraction(frames) / self.rate

    def connect(self, run: list[_Laid], lane: str, role: str) -> None:
        """Connect `run` where its first clip starts: one asset-clip, or a storyline of them
        with a centred crossfade at each cut."""
        first = run[0]
        at = self.origin + self.seconds(first.record)
        index, local = self._host_at(at, first.name)
        if len(run) == 1:
            element = self._clip(first, local, role, lane, at=at)
            element.set("lane", lane)
        else:
            element = ET.Element("spine", {"lane": lane, "offset": format_seconds(local)})
            for outgoing, item in zip([None, *run], run, strict=False):
                # A storyline counts its items from its own start.
                if outgoing is not None:
                    half = _centred(outgoing, item)
                    element.append(self._transition(item.record - half - first.record, 2 * half))
                offset = self.seconds(item.record - first.record)
                element.append(self._clip(item, offset, role, lane, local, at + offset))
        self.connected.setdefault(index, []).append(element)

    def finish(self) -> list[ET.Element]:
        for index, elements in self.connected.items():
            connect(self.hosts[index], elements)
        return [element for elements in self.connected.values() for element in elements]

    def _host_at(self, time: Fraction, name: str) -> tuple[int, Fraction]:
        """The primary-storyline item at `time` (sequence time), and `time` in its own time
        (from its `start`), where a connected item's `offset` counts."""
        index = bisect.bisect_right(self.starts, time) - 1
        if index >= 0:
            host = self.hosts[index]
            into = time - self.starts[index]
            if into < parse_seconds(host.get("duration")):
                return index, parse_seconds(host.get("start")) + into
        raise ValueError(f"no clip or gap of the primary storyline lies over v2a clip {name!r}")

    def _clip(
        self,
        item: _Laid,
        offset: Fraction,
        role: str,
        lane: str,
        storyline: Fraction | None = None,
        at: Fraction | None = None,
    ) -> ET.Element:
        """An asset-clip of the take at `offset`, noted as placed there: connected on `lane`, or
        in a storyline connected at `storyline` on `lane`, starting at sequence time `at`."""
        start = self.seconds(item.media_in)
        clip = ET.Element(
            "asset-clip",
            {
                "name": item.name,
                "ref": self._asset(item),
                "offset": format_seconds(offset),
                "start": format_seconds(start),
                "duration": format_seconds(self.seconds(item.length)),
                "audioRole": role,
            },
        )
        if not item.enabled:
            # Switched off by the editor (read so, `fcpx_clips`): a re-run switched it on again.
            clip.set("enabled", "0")
        note = Placement(offset, start, lane, storyline, at).note()
        ET.SubElement(clip, "note").text = with_off_note(note, item.off_with_shot)
        # What the editor set on this clip before (a volume, markers), on one of its takes.
        for url in item.takes:
            settings = self.editors_settings.pop(url_to_path(url), None)
            if settings:
                clip.extend(settings)
                break
        return clip

    def _asset(self, item: _Laid) -> str:
        """The take file as Final Cut declares an audio file: audio only, no video format."""
        if item.url not in self.assets:
            self.assets[item.url] = self._new_id()
            asset = ET.SubElement(
                self.resources,
                "asset",
                {
                    "id": self.assets[item.url],
                    "name": item.name,
                    **({} if self.media_rep else {"src": _file_url(item.url)}),
                    "start": format_seconds(self.seconds(item.asset_start)),
                    "duration": format_seconds(self.seconds(item.asset_length)),
                    "hasAudio": "1",
                    "audioSources": "1",
                    "audioChannels": str(TAKE_CHANNELS),
                    "audioRate": str(SAMPLE_RATE),
                },
            )
            if self.media_rep:
                ET.SubElement(asset, "media-rep", {"kind": "original-media", "src": _file_url(item.url)})
        return self.assets[item.url]

    def _transition(self, offset: int, duration: int) -> ET.Element:
        if not self.crossfade:
            declared = self.resources.find(f"./effect[@uid='{_CROSSFADE['uid']}']")
            if declared is not None:  # the editor's transitions, written back, use it too
                self.crossfade = declared.get("id")
            else:
                self.crossfade = self._new_id()
                ET.SubElement(self.resources, "effect", {"id": self.crossfade, **_CROSSFADE})
        transition = ET.Element(
            "transition",
            {
                "name": _CROSSFADE["name"],
                "offset": format_seconds(self.seconds(offset)),
                "duration": format_seconds(self.seconds(duration)),
            },
        )
        filter_audio = {"ref": self.crossfade, "name": _CROSSFADE["name"]}
        ET.SubElement(transition, "filter-audio", filter_audio)
        return transition

    def _new_id(self) -> str:
        self.last_id += 1
        return f"r{self.last_id}"


def _file_url(url: str) -> str:
    """A take's file as Final Cut reads a URL: percent-encoded, as it writes its own. OTIO keeps
    file URLs decoded (`file:///Users/me/My Film/…`), and Final Cut refused to import a document
    with a space in a `src`; a take read back from a document v2a wrote is encoded already, so
    it is decoded first (never `%2520`)."""
    path = Path(url_to_path(url))
    return path.as_uri() if path.is_absolute() else url
