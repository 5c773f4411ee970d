"""v2a's audio events appended to the editor's own CMX 3600 list.

The CMX 3600 adapter (otio-cmx3600-adapter 1.0.0) writes a whole list from what it read, and
changes the editor's lines on the way (measured on the fixtures' lists and hand-made ones: 53
of 133 lines): it renames reels (`AX` becomes `ZZ100501`, after the clip name), writes a `B`
event as a V and an A event, `AA/V` as V and AA, a wipe (`W001`) as a dissolve, turns the
`AUD`, `SPLIT:` and `EFFECTS NAME IS` lines of video events into comments, loses the M2 and
`* * FREEZE FRAME` lines of one of Avid's two one-frame freezes (`speed_effects_small.edl`),
respaces CDL lines and capitalises locators, and rewrites the title, the FCM line, the spacing
and the newlines. So a timeline read from a list remembers it
(`remember_list`), and written back to CMX 3600 it is that list, byte for byte, with v2a's
audio events (as `edl_audio` writes them) appended, numbered after the editor's
(`write_into_list`). A re-run on the written list takes v2a's earlier events out first
(`_without_v2a_events`). The adapter writes only timelines from other formats, or from a list
changed since it was read.
"""

from __future__ import annotations

import codecs
import io
import os
import re
from collections.abc import MutableMapping

import opentimelineio as otio

from otio_adapters import edl_audio, edl_time, source_files
from otio_adapters.media_refs import rebased_url, relative_media_path
from otio_adapters.takes import TAKE_FILE_RE, url_to_path
from otio_adapters.timing import exact_rate, is_drop_frame_rate

#: timeline.metadata["cmx_3600"][SOURCE]: the list a timeline was read from.
SOURCE = "v2a_source_list"
_SOURCE_FILE = re.compile(r"^\*\s*SOURCE FILE:\s*(?P<path>.+?)\s*$", re.IGNORECASE)
# Notes naming a file: the reader links FROM CLIP and FROM FILE as the event's media.
_FILE_NOTE = re.compile(
    r"^(?P<head>\*\s*(?P<kind>FROM CLIP|FROM FILE|SOURCE FILE):\s*)(?P<path>.*?)(?P<tail>\s*)$",
    re.IGNORECASE)
_CHANNEL = re.compile(r"^A(\d*)$")
_DROP_TIMECODE = re.compile(r"\b\d{2}:\d{2}:\d{2};\d{2}\b")


def remember_list(timeline: otio.schema.Timeline, path: str, data: bytes) -> None:
    """Note on a timeline read from a CMX 3600 list which file it was and what it held."""
    timeline.metadata.setdefault("cmx_3600", {})[SOURCE] = {
        **source_files.record_of(path, data), "encoding": encoding(data)
    }


def encoding(data: bytes) -> str:
    """The list's text encoding: UTF-8, with its byte-order mark where it has one (Windows
    tools write one; read as text, it made the TITLE line unreadable: "Unknown event type"),
    else Windows-1252, in which Avid and Premiere on Windows write accented titles and clip
    names (read as UTF-8, "café" failed the whole read as "not text")."""
    if data.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return "cp1252"  # a byte it does not define (binary) still fails to decode, as before
    return "utf-8"


def as_read(data: bytes) -> str:
    """The list's text as OTIO's adapters read a file, in its `encoding`, newlines as "\\n"."""
    return io.TextIOWrapper(io.BytesIO(data), encoding=encoding(data)).read()


def list_record(timeline: otio.schema.Timeline) -> MutableMapping | None:
    """The timeline's record of the list it was read from (`remember_list`), or None."""
    meta = timeline.metadata.get("cmx_3600", {})
    return meta.get(SOURCE) if hasattr(meta, "get") else None


def source_list(timeline: otio.schema.Timeline) -> tuple[str, str, str, str]:
    """(list text as it is in the file, its path, "", its sha256) for a timeline read from a
    CMX 3600 list still as it was read (`source_files.text_if_unchanged`); ("", path, why not, "") where
    it changed or is gone since; empty for a timeline read from another format."""
    record = list_record(timeline)
    text_encoding = str(record.get("encoding", "utf-8")) if record else "utf-8"
    return source_files.text_if_unchanged(record, "the EDL", text_encoding)


def write_into_list(
    timeline: otio.schema.Timeline, text: str, path: str, rate: float,
    source_folder: str = "", folder: str = "",
) -> None:
    """Write to `path` the editor's list `text` (as in its file: its own newlines) without the
    audio events an earlier run of v2a appended, then v2a's audio events of `timeline` (whose
    v2a tracks count in whole frames), numbered after the editor's, in the list's newlines and
    in the frame code mode its last events are read in. The list goes into `folder`, read from
    `source_folder`: the relative paths of its notes are rewritten to name the same files
    from there (`_with_paths_from`)."""
    kept = _without_v2a_events(list(io.StringIO(text, newline="")))
    if source_folder and folder:
        kept = [_with_paths_from(line, source_folder, folder) for line in kept]
    drop_frame = _drop_frame_at_end(kept, rate)
    lines = edl_audio.event_lines(
        timeline, rate, edl_audio.last_event_number(kept), editors_too=False,
        drop_frame=drop_frame,
    )
    if drop_frame and not any(_spells_drop_frame(line) for line in kept):
        # Drop frame stated by the FCM line, with colons, as CMX spells every timecode (Avid
        # does so): ours too, which the reader counts by that line.
        lines = [_DROP_TIMECODE.sub(lambda tc: tc[0].replace(";", ":"), line) for line in lines]
    newline = "\r\n" if "\r\n" in text else "\r" if "\r" in text and "\n" not in text else "\n"
    if lines and kept and not kept[-1].endswith(("\n", "\r")):
        kept[-1] += newline  # the editor's last line, ended so that ours start a line
    # Encoded whole before the file is opened: a take path the list's encoding cannot spell
    # fails here, leaving no partial list.
    data = ("".join(kept) + "".join(line + newline for line in lines)).encode(
        _encoding_of(timeline))
    with open(path, "wb") as handle:
        handle.write(data)


def _with_paths_from(line: str, source_folder: str, folder: str) -> str:
    """The line, a relative path in its FROM CLIP, FROM FILE or SOURCE FILE note naming the same
    file from `folder` (the reader takes a FROM CLIP or FROM FILE path from the list's folder:
    written elsewhere byte for byte, the shot's media was offline). A SOURCE FILE without a
    folder in it is a name (Resolve writes the source's name there), not a path: it stays."""
    match = _FILE_NOTE.match(line.rstrip("\r\n"))
    if match is None or relative_media_path(match["path"]) is None:
        return line
    if match["kind"].upper() == "SOURCE FILE" and not re.search(r"[/\\]", match["path"]):
        return line
    url = rebased_url(match["path"], source_folder, folder)
    path = url_to_path(url)  # a path (not a file URL), as the editor's tools write one
    return match["head"] + path + match["tail"] + line[len(line.rstrip("\r\n")):]


def _encoding_of(timeline: otio.schema.Timeline) -> str:
    """The encoding of the list `timeline` was read from (UTF-8 for one remembered before
    v2a recorded it)."""
    return str(timeline.metadata["cmx_3600"][SOURCE].get("encoding", "utf-8"))


def _drop_frame_at_end(lines: list[str], rate: float) -> bool:
    """Whether the reader counts timecodes after the list's last line as drop frame: by the
    last FCM line (`edl_time.install`), else by the separator the events spell (OTIO's
    parser reads ";" as drop frame, ":" as non-drop)."""
    if not is_drop_frame_rate(exact_rate(rate)):
        return False
    modes = [edl_time.frame_code_mode(line) for line in lines]
    stated = [mode for mode in modes if mode]
    if stated:
        return stated[-1] == edl_time.DROP_FRAME
    return any(_spells_drop_frame(line) for line in lines)


def _spells_drop_frame(line: str) -> bool:
    return edl_audio.event_number(line) is not None and bool(_DROP_TIMECODE.search(line))


def _blocks(lines: list[str]) -> list[tuple[int, int]]:
    """(first, end) line index of each event: its event lines (two for a dissolve, one
    number) and the notes under them, up to the next event or a line of the list's own (a
    blank line, an FCM line)."""
    blocks: list[tuple[int, int]] = []
    index = 0
    while index < len(lines):
        number = edl_audio.event_number(lines[index])
        if number is None:
            index += 1
            continue
        end = index + 1
        while end < len(lines):
            line = lines[end].strip()
            following = edl_audio.event_number(lines[end])
            if not line or edl_time.frame_code_mode(line) or following not in (None, number):
                break
            end += 1
        blocks.append((index, end))
        index = end
    return blocks


def drop_empty_events(path: str) -> None:
    """Take out of the list the adapter wrote at `path` each event that records nothing: one
    cut whose record in is its record out, leading no dissolve or wipe. The adapter writes one
    for a clip that a transition's lead-in covers whole (a faded key's background, which v2a
    reads as cut mid-fade: `edl_events`); many importers refuse an event of no length, and the
    dissolve's own outgoing line names that source."""
    with open(path, encoding="utf-8", newline="") as handle:
        lines = handle.readlines()
    empty = set()
    for first, end in _blocks(lines):
        events = [line for line in lines[first:end] if edl_audio.event_number(line) is not None]
        fields = events[0].split()
        if len(events) == 1 and len(fields) >= 8 and fields[-2] == fields[-1]:
            empty.update(range(first, end))
    if empty:
        with open(path, "w", encoding="utf-8", newline="") as handle:
            handle.write("".join(line for index, line in enumerate(lines) if index not in empty))


def _channels(lines: list[str]) -> set[str]:
    """The audio channels an event plays: its channel field's (A, A2, AA, B, AA/V...) and its
    AUD lines'."""
    found: set[str] = set()
    for line in lines:
        fields = line.split()
        if edl_audio.event_number(line) is not None and len(fields) > 2:
            for part in fields[2].upper().split("/"):
                match = _CHANNEL.match(part)
                if part in ("AA", "B"):
                    found |= {"1", "2"} if part == "AA" else {"1"}
                elif match:
                    found.add(match[1] or "1")
                elif part != "V":
                    found.add(part)  # a channel v2a does not know: never taken for its own
        elif fields and fields[0].upper() == "AUD":
            found.update(fields[1:])
    return found


def _noted_as_v2a(lines: list[str]) -> bool:
    """Whether the event carries v2a's note (`edl_audio.TRACK_NOTE`), as
    `edl_audio.restore_takes` finds v2a's events."""
    return any(line.strip().lstrip("*").strip().upper().startswith(edl_audio.TRACK_NOTE)
               for line in lines)


def _names_a_take(lines: list[str]) -> bool:
    """Whether the event's (last) `SOURCE FILE` note names a v2a take file: how v2a knew its
    events before it noted them (`edl_audio.restore_takes`)."""
    files = [match["path"] for match in map(_SOURCE_FILE.match, map(str.strip, lines)) if match]
    return bool(files) and bool(TAKE_FILE_RE.match(os.path.basename(files[-1])))


def _without_v2a_events(lines: list[str]) -> list[str]:
    """The list without the events v2a appended before: those carrying v2a's note, on channels
    where every event carries it (what the reader reads back as v2a's track). An editor's
    event stays, a copy of a take too: it names the take file as v2a's events do, and is theirs.
    In a list with no note of v2a's at all (written before v2a noted its events), v2a's are
    those naming a take file, on channels where every event names one, as the reader finds
    them there."""
    spans = _blocks(lines)
    noted = any(_noted_as_v2a(lines[first:end]) for first, end in spans)
    ours = _noted_as_v2a if noted else _names_a_take
    blocks = [(first, end, _channels(lines[first:end]), ours(lines[first:end]))
              for first, end in spans]
    editors = {channel for _, _, used, ours in blocks if not ours for channel in used}
    dropped = {
        index
        for first, end, used, ours in blocks
        if ours and used and not used & editors
        for index in range(first, end)
    }
    return [line for index, line in enumerate(lines) if index not in dropped]
