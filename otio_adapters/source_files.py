"""The editor's own file a timeline was read from (a Kdenlive project, an FCP7 XML or FCPXML
document, a CMX 3600 list),
remembered so that v2a writes its tracks into that file only while it is still as it was read:
one saved or exported again since holds what v2a never read. And the editor's tracks as read
from it (any of those or an AAF), so that v2a writes into that file only a timeline whose
editor's tracks are still the file's: an .otio edited since holds an edit the file does not."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Mapping, MutableMapping

import opentimelineio as otio

from otio_adapters.takes import V2A_KEY, track_stem, url_to_path
from otio_adapters.timing import seconds


def record_of(path: str, data: bytes) -> dict[str, str]:
    """What a timeline keeps of the file it was read from: where it is and what it held."""
    return {"path": os.path.abspath(path), "sha256": hashlib.sha256(data).hexdigest()}


def record_written(record: MutableMapping, path: str, staged: str, read: tuple[str, str]) -> None:
    """Make `record` name the file v2a writes at `path` as it holds it: the file staged for that
    path (`staged`, renamed there next). `read`: (path, sha256) of the file v2a wrote from (the
    editor's, as found). The .otio holding the record is renamed into place before the file: a
    stop between the two renames leaves the file at `path` as it was before, so the record keeps
    that too (`IF_NOT_RENAMED`), and the next run knows either state (`file_as_recorded`)."""
    try:
        before = file_sha256(path)
    except FileNotFoundError:
        before = ""  # nothing there yet: a stop leaves nothing there
    record.update(path=os.path.abspath(path), sha256=file_sha256(staged))
    record[IF_NOT_RENAMED] = {"replaced_sha256": before, "path": read[0], "sha256": read[1]}


#: record[IF_NOT_RENAMED]: what the file at the record's path held before v2a's write
#: (`replaced_sha256`, "" for no file), and the file v2a wrote from (`path`, `sha256`).
IF_NOT_RENAMED = "if_not_renamed"


def file_sha256(path: str) -> str:
    """The SHA-256 of the file at `path`, read a block at a time (an AAF may be large)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _whole(path: str) -> tuple[str, bytes]:
    with open(path, "rb") as handle:
        data = handle.read()
    return hashlib.sha256(data).hexdigest(), data


def file_as_recorded(
    record: Mapping | None, kind: str, load: Callable[[str], tuple[str, object]] = _whole
) -> tuple[object, str, str, str]:
    """(what `load` gives of the file, its path, its sha256, "") for the file `record` names,
    still in a state the record knows: as recorded, or, where v2a's write stopped before it
    renamed the file into place (`record_written`), as it was before, the record then standing
    for the file v2a wrote from; (None, path, "", why not) where it changed or is gone since;
    (None, "", "", "") without a record. `load(path)`: (sha256, contents) of a file."""
    if not record:
        return None, "", "", ""
    path = str(record["path"])
    try:
        digest, held = load(path)
    except FileNotFoundError as error:
        digest, held, missing = "", None, error
    except OSError as error:
        return None, path, "", f"{kind} {path} can no longer be read ({error.strerror})"
    else:
        missing = None
    if held is not None and digest == record["sha256"]:
        return held, path, digest, ""
    unrenamed = record.get(IF_NOT_RENAMED) if hasattr(record, "get") else None
    if unrenamed and digest == unrenamed["replaced_sha256"]:
        # Stopped before the rename: the file is as v2a found it, and the timeline holding the
        # record is the one written from the file it read (the same file, in its own folder).
        read, expected = str(unrenamed["path"]), str(unrenamed["sha256"])
        if read == path and digest == expected:
            return held, path, digest, ""
        return file_as_recorded({"path": read, "sha256": expected}, kind, load)
    if missing is not None:
        return None, path, "", f"{kind} {path} can no longer be read ({missing.strerror})"
    return None, path, "", f"{kind} {path} changed since v2a read it"


def text_if_unchanged(
    record: Mapping | None, kind: str, encoding: str = "utf-8"
) -> tuple[str, str, str, str]:
    """(the text, the path, "", its sha256) of the file `record` names, still as it was read
    (`file_as_recorded`); ("", path, why not, "") where it changed or is gone since; ("", "",
    "", "") without a record (a timeline read from another format). `kind` names the file in
    the reason ("the Kdenlive project"); `encoding` is the file's (a CMX 3600 list may be
    Windows-1252)."""
    data, path, digest, problem = file_as_recorded(record, kind)
    text = data.decode(encoding) if isinstance(data, bytes) else ""
    return text, path, problem, digest


# --- the editor's tracks as read ----------------------------------------------------------------
# The file's record says what the editor's file held; this says what the timeline held of it.
# An .otio v2a wrote carries both, and may be edited before it is written back to the file's
# format: its edit is then not the file's, and v2a's track goes with the edit, not into the file.

#: timeline.metadata["v2a_read"][EDITOR_TRACKS]: `editor_tracks_sha256` of the timeline as read.
EDITOR_TRACKS = "editor_tracks_sha256"


def remember_editor_tracks(timeline: otio.schema.Timeline) -> None:
    """Note on a timeline just read from an editor's file what its editor's tracks hold."""
    timeline.metadata.setdefault("v2a_read", {})[EDITOR_TRACKS] = editor_tracks_sha256(timeline)


def editor_tracks_edited(timeline: otio.schema.Timeline) -> bool:
    """Whether the editor's tracks differ from those read from the file the timeline records;
    False for a timeline noted before v2a kept their fingerprint (nothing to compare with)."""
    read = timeline.metadata.get("v2a_read", {})
    expected = read.get(EDITOR_TRACKS) if hasattr(read, "get") else None
    return bool(expected) and expected != editor_tracks_sha256(timeline)


def editor_tracks_sha256(timeline: otio.schema.Timeline) -> str:
    """A fingerprint of what an edit changes in the editor's tracks (every track but v2a's, which
    a re-run refills): their order, kind, name and enabled state, and each item's kind, name,
    enabled state, source range, effects (speed), transition offsets and media file name, in
    order (so record ranges too). Times count in seconds, so the same time at another rate is the
    same. Numbers to 10 significant digits (1e-5 s at 10 hours, under a sample): OTIO's JSON
    reader gives back about one float in ten a unit in the last place off what was written (a
    speed of 1.9833333333333334 reads 1.9833333333333336). Media by file name alone: written into
    another folder, a relative path is rebased (`media_refs`). Metadata is left out: a clip id
    stored in a shot (`plan`: `metadata["v2a"]["clip_id"]`) is no edit."""
    digest = hashlib.sha256()
    for track in timeline.tracks:
        if not _is_v2a_track(track):
            digest.update(json.dumps(_described(track)).encode())
    return digest.hexdigest()


def _is_v2a_track(track: otio.core.Composable) -> bool:
    """v2a's own track, as `write` refills it (`takes.track_stem`): an editor's track holding
    copies of v2a's takes is the editor's, and an edit of it is an edit."""
    return V2A_KEY in track.metadata or track_stem(track) is not None


def _described(item: otio.core.Composable) -> list:
    """What an edit changes of one item (a track, a stack, a clip, a gap, a transition), as
    plain JSON values."""
    described: list = [item.schema_name(), item.name]
    if isinstance(item, otio.schema.Transition):
        return described + [item.transition_type, _time(item.in_offset), _time(item.out_offset)]
    described += [item.enabled, _range(item.source_range)]
    described += [[effect.schema_name(), effect.effect_name, _number(getattr(effect, "time_scalar", 0))]
                  for effect in item.effects]
    if isinstance(item, otio.schema.Track):
        described.append(item.kind)
    if isinstance(item, otio.schema.Clip):
        described.append(_media_name(item.media_reference))
    if isinstance(item, otio.core.Composition):
        described.append([_described(child) for child in item])
    return described


def _media_name(reference: otio.core.MediaReference) -> str:
    url = getattr(reference, "target_url", None) or getattr(reference, "target_url_base", "")
    name = os.path.basename(url_to_path(url or "").rstrip("/\\"))
    if isinstance(reference, otio.schema.ImageSequenceReference):
        name += f"/{reference.name_prefix}#{reference.name_suffix}"
    return f"{reference.schema_name()}:{name}"


def _range(time_range: otio.opentime.TimeRange | None) -> list | None:
    if time_range is None:
        return None
    return [_time(time_range.start_time), _time(time_range.duration)]


def _time(time: otio.opentime.RationalTime) -> str:
    try:
        return _number(float(seconds(time)))
    except (ValueError, OverflowError, ZeroDivisionError):  # no rate, or not a number
        return f"{_number(time.value)}@{_number(time.rate)}"


def _number(value: float) -> str:
    return f"{value:.10g}"
