"""v2a's tracks written into the editor's own AAF, as `kdenlive.py` does for Kdenlive projects.

The AAF adapter rebuilds the whole file from OTIO, and an Avid sequence loses on the way what
Avid links and plays it by (measured with pyaaf2 on the fixtures, docs/timeline_writing.md):
each clip keeps its master mob id but gets a new file mob and tape mob (fresh ids, other names,
another timecode), so the ids Avid finds the media by and the tape names and timecodes it
relinks by are gone; every audio clip plays its master clip's slot 2, whichever channel it
played; motion effects, gain, markers, track numbers and the start timecode's drop frame are
dropped. So where the timeline was read from an AAF still as it was, the written file is that
AAF with v2a's tracks, as the adapter writes them, added to its sequence.
"""

from __future__ import annotations

import logging
import os
import shutil
import uuid
from collections.abc import MutableMapping

import aaf2
import opentimelineio as otio

from otio_adapters import source_files
from otio_adapters.takes import V2A_KEY, name_stem

log = logging.getLogger(__name__)

#: timeline.metadata["AAF"]["v2a_source"]: the AAF file a timeline was read from.
_SOURCE = "v2a_source"
_installed = False
# Definitions a copied slot refers to, in the order they refer to each other.
_DEFINITIONS = (
    "DataDefinitions",
    "ParameterDefinitions",
    "InterpolationDefinitions",
    "OperationDefinitions",
)


def install() -> None:
    """Make the AAF reader mark v2a's tracks as v2a's (`takes.track_stem`): a sound slot of a name v2a
    gives its tracks ("V2A SFX"). The reader names a track after its slot only where the slot
    holds a plain sequence; v2a's tracks, under the writer's pan effect, it named "Sequence",
    and v2a knew them by the take files they play, so an editor's track of copies of v2a's
    takes was taken for v2a's, refilled and removed (idempotent)."""
    global _installed
    if _installed:
        return
    reader = otio.adapters.from_name("AAF").module()
    original = reader._transcribe

    def transcribe(item, parents, edit_rate, indent=0):
        result = original(item, parents, edit_rate, indent)
        if isinstance(item, aaf2.mobslots.MobSlot) and isinstance(result, otio.schema.Track):
            stem = name_stem(item.name)
            if stem and result.kind == otio.schema.TrackKind.Audio:
                # The reader may keep the slot's track or one inside it (`_simplify`): each is
                # marked, as `write._v2a_track` marks v2a's.
                for track in [result, *result.find_children(descended_from_type=otio.schema.Track)]:
                    track.name = str(item.name)
                    track.metadata[V2A_KEY] = {"track": stem}
        return result

    reader._transcribe = transcribe  # its recursion looks the name up in the module
    _installed = True


class _Aaf2NotesToDebug(logging.Filter):
    """pyaaf2 logs on the root logger (`logging.warning(...)`) what it mends as it reads: a
    Premiere AAF printed "WARNING root: Fraction(0,0) not mathematically plausible, use
    Fraction(0,1) instead." seven times and "INFO root: read dir_sector_count missmatch" twice
    in the middle of `v2a inspect` and `v2a generate`, as if the editor's file were at fault.
    Nothing there is for the editor to act on: it goes to the debug log (`v2a -v`)."""

    folder = os.path.dirname(aaf2.__file__) + os.sep

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.pathname.startswith(self.folder):
            return True
        log.debug("pyaaf2: %s", record.getMessage())
        return False


# On the root logger itself, a filter sees only what is logged on it, not what other loggers pass up.
logging.getLogger().addFilter(_Aaf2NotesToDebug())


def file_sha256(path: str) -> str:
    """What an AAF holds, as `remember_source` records it: taken before the file is read, so
    that one exported again during the read is seen as changed since."""
    return source_files.file_sha256(path)


def remember_source(timelines: list[otio.schema.Timeline], path: str, sha256: str) -> None:
    """Note on the timelines read from an AAF (one per sequence) which file it was and what it
    held (`file_sha256`)."""
    record = {"path": os.path.abspath(path), "sha256": sha256}
    for timeline in timelines:
        timeline.metadata.setdefault("AAF", {})[_SOURCE] = dict(record)


def source_record(timeline: otio.schema.Timeline) -> MutableMapping | None:
    """The timeline's record of the AAF it was read from (`remember_source`), or None."""
    aaf = timeline.metadata.get("AAF", {})
    return aaf.get(_SOURCE) if hasattr(aaf, "get") else None


def source_file(timeline: otio.schema.Timeline) -> tuple[str, str, str, str]:
    """("", path, "", its sha256) of the AAF a timeline was read from, still as it was read;
    ("", path, why not, "") where it changed or is gone since; ("", "", "", "") for a timeline
    read from another format. As the text formats find theirs (`source_files.file_as_recorded`),
    less the text: the file is copied where it is written (`finish_written`)."""
    _, path, digest, problem = source_files.file_as_recorded(
        source_record(timeline), "the AAF", lambda path: (file_sha256(path), "")
    )
    return "", path, problem, digest


def name_take_master(clip: otio.schema.Clip) -> None:
    """Give a v2a clip, in the copy the adapter writes, the master mob id of its active take:
    the same for the same take in every file written, another for another take. The id read
    back from an earlier AAF is its first take's, and Avid, already holding a master clip of
    that id, would take a regenerated clip for it and play the first take's media."""
    active = clip.media_reference
    if not isinstance(active, otio.schema.ExternalReference) or not active.target_url:
        return
    meta = clip.metadata.setdefault("AAF", {})
    mob_id = aaf2.mobid.MobID.new()
    mob_id.material = uuid.uuid5(uuid.NAMESPACE_URL, active.target_url)
    meta["MobID"] = str(mob_id)


def finish_written(
    path: str, timeline: otio.schema.Timeline, v2a_tracks: list, source: str
) -> None:
    """Make the AAF the adapter wrote at `path` the editor's own AAF `source` (the one `timeline`
    was read from, still as it was read: `source_file`) with v2a's tracks, as the adapter wrote
    them, added to its sequence. An earlier run's v2a tracks in it are replaced. `v2a_tracks`:
    v2a's tracks of `timeline`."""
    written = [track for track in timeline.tracks if len(track)]  # the adapter skips empty ones
    ours = [index for index, track in enumerate(written) if any(track is t for t in v2a_tracks)]
    # An earlier run's v2a tracks: slots of the names v2a gives its tracks (the adapter writes
    # a track's name as its slot's). Not by the master clips they play: an editor's track
    # playing copies of v2a's takes plays the same ones, and is the editor's.
    names = {track.name for track in v2a_tracks}
    # Beside `path`, in the writer's staging folder: nothing is left behind if this fails.
    result = os.path.join(os.path.dirname(path), "editor-" + os.path.basename(path))
    try:
        shutil.copyfile(source, result)
        with aaf2.open(result, "rw") as target, aaf2.open(path, "r") as adapter:
            sequence = _sequence(target, timeline)
            _remove_slots(target, sequence, names)
            slots = [slot for slot in next(adapter.content.toplevel()).slots
                     if slot.media_kind in ("Picture", "Sound")]
            _copy_definitions(adapter, target)
            for index in ours:
                _add_slot(target, sequence, slots[index])
    except Exception as error:  # pyaaf2 raises anything on a file it cannot edit
        raise RuntimeError(f"cannot add v2a's tracks to the editor's AAF {source}: {error}") from error
    os.replace(result, path)


def _sequence(aaf, timeline: otio.schema.Timeline):
    """The composition mob `timeline` was read from."""
    wanted = timeline.metadata.get("AAF", {}).get("MobID")
    sequences = list(aaf.content.toplevel())
    for mob in sequences:
        if str(mob.mob_id) == wanted:
            return mob
    return sequences[0]


def _remove_slots(aaf, sequence, names: set[str]) -> None:
    """Take an earlier run's v2a tracks off the sequence, with the mobs only they played: the
    audio slots of those `names`."""
    removed = [
        index for index, slot in enumerate(sequence.slots)
        if slot.media_kind == "Sound" and slot.name in names
    ]
    if not removed:
        return
    unused = {}
    for index in reversed(removed):
        _mobs_played(sequence.slots.pop(index), unused)
    used = {}
    for mob in aaf.content.mobs:
        if mob.mob_id not in unused:
            for slot in mob.slots:
                _mobs_played(slot, used)
    for mob_id in unused.keys() - used.keys():
        aaf.content.mobs.pop(mob_id)


def _add_slot(aaf, sequence, slot) -> None:
    """A copy of `slot` (from another file) as the sequence's next audio track, with the mobs
    its clips play."""
    for mob in _mobs_played(slot, {}).values():
        if aaf.content.mobs.get(mob.mob_id) is None:
            aaf.content.mobs.append(mob.copy(root=aaf))
    copied = slot.copy(root=aaf)
    copied.slot_id = max(s.slot_id for s in sequence.slots) + 1
    # Avid numbers a sequence's tracks A1, A2... by their physical track numbers.
    numbers = [
        s["PhysicalTrackNumber"].value or 0
        for s in sequence.slots
        if s.media_kind == copied.media_kind and "PhysicalTrackNumber" in s
    ]
    copied["PhysicalTrackNumber"].value = max(numbers, default=0) + 1
    sequence.slots.append(copied)


def _copy_definitions(source, target) -> None:
    """The effect and parameter definitions of `source` that `target` lacks (an Avid export
    has no "Audio Dissolve" without audio dissolves): pyaaf2 copies a definition a copied slot
    names, but fails on the parameter definitions that definition lists in turn."""
    for kind in _DEFINITIONS:
        present = target.dictionary[kind]
        for definition in source.dictionary[kind].values():
            if definition.auid not in present:
                present.append(definition.copy(root=target))


def _mobs_played(obj, found: dict) -> dict:
    """Every mob a source clip under `obj` plays, and those they play in turn, by mob id."""
    for item, _ in obj.walk_references():
        if isinstance(item, aaf2.components.SourceClip):
            mob = item.mob
            if mob is not None and mob.mob_id not in found:
                found[mob.mob_id] = mob
                for slot in mob.slots:
                    _mobs_played(slot, found)
    return found
