"""Drop-frame and non-drop timecode in CMX 3600 lists (otio-cmx3600-adapter 1.0.0).

A list says how its timecodes count in its FCM line ("FCM: DROP FRAME", "FCM: NON-DROP FRAME").
The adapter ignores that line and decides by the separator alone, through OTIO's timecode
functions, which take ";" for drop frame and infer it from the rate when writing:
- a drop-frame list written with colons (as the CMX format spells every timecode) was read as
  non-drop: at 29.97 fps 01:00:00:00 read 108 frames (3.6 s) late, more further in;
- a 29.97 or 59.94 non-drop list was written back in drop-frame timecode (01:00:00:00 became
  01:00:03;18) with no FCM line, so the list no longer named the editor's timecodes.
`install()` makes the reader count each event by the FCM line above it (and read v2a's audio
events back as its takes, `edl_audio.restore_takes`), and keeps the list's first FCM on the
timeline (`metadata["cmx_3600"]["fcm"]`); `restore_frame_code_mode` rewrites a
written list in that mode and gives it the FCM line again.
"""

from __future__ import annotations

import re

import opentimelineio as otio

from otio_adapters import edl_audio, edl_events
from otio_adapters.timing import exact_rate, is_drop_frame_rate

DROP_FRAME = "DROP FRAME"
NON_DROP_FRAME = "NON-DROP FRAME"
_FCM = re.compile(r"^\s*FCM:\s*(?P<mode>.*?)\s*$", re.IGNORECASE)
_COLON_TIMECODE = re.compile(r"\b(\d{2}:\d{2}:\d{2}):(\d{2})\b")
_DROP_TIMECODE = re.compile(r"\b\d{2}:\d{2}:\d{2};\d{2}\b")
_TC = r"\d{2}:\d{2}:\d{2}[:;]\d{2}"
# An event line: number, reel, channel, edit (and a transition's length), four timecodes.
_EVENT_LINE = re.compile(
    rf"^(?P<number>\d+)\s+(?P<reel>\S+)\s.*?(?P<source_in>{_TC})\s+(?P<source_out>{_TC})\s+"
    rf"(?P<record_in>{_TC})\s+(?P<record_out>{_TC})\s*$"
)
# A motion line as the adapter writes it: the clip's name where the reel goes, then the speed
# in frames a second and the source in.
_MOTION_LINE = re.compile(rf"^M2\s+.*?\s(?P<fps>-?\d+(?:\.\d+)?)\s+(?P<start>{_TC})\s*$")
_installed = False


def install() -> None:
    """Make the CMX 3600 reader honour FCM lines and know v2a's takes (idempotent; the
    writer stays as it is)."""
    global _installed
    if _installed:
        return
    cmx_3600 = otio.adapters.from_name("cmx_3600").module()
    original_read = cmx_3600.read_from_string

    def read_from_string(input_str, rate=24, **kwargs):
        if is_drop_frame_rate(exact_rate(float(rate))):  # elsewhere ";" is an error, not a mode
            input_str = _marked_drop_frame(input_str)
        same_lengths = not kwargs.get("ignore_timecode_mismatch", False)
        input_str = edl_events.for_reader(input_str, float(rate), same_lengths)
        timeline = original_read(input_str, rate=rate, **kwargs)
        edl_events.restore(timeline)  # tracks by record timecode, a key's fill over the picture
        edl_audio.restore_takes(timeline)  # v2a's take events, from their SOURCE FILE lines
        mode = frame_code_mode(input_str)
        if mode:
            timeline.metadata.setdefault("cmx_3600", {})["fcm"] = mode
        return timeline

    cmx_3600.read_from_string = read_from_string
    _installed = True


def _mode(text: str) -> str:
    return NON_DROP_FRAME if "NON" in text.upper() else DROP_FRAME


def frame_code_mode(text: str) -> str:
    """The list's first FCM mode, DROP_FRAME or NON_DROP_FRAME; "" without an FCM line."""
    for line in text.splitlines():
        match = _FCM.match(line)
        if match:
            return _mode(match["mode"])
    return ""


def _counts(line: str) -> bool:
    """Whether a line's timecodes are the list's: events, M2 speeds, locators; not the free
    text of other comments (a clip name may hold anything)."""
    text = line.lstrip()
    return not text.startswith("*") or text[1:].lstrip().upper().startswith("LOC")


def _marked_drop_frame(text: str) -> str:
    """The list with every timecode under an FCM: DROP FRAME line written with ";", as OTIO's
    timecode parser needs to count it as drop frame."""
    lines = []
    drop = False
    for line in text.splitlines(keepends=True):
        match = _FCM.match(line)
        if match:
            drop = _mode(match["mode"]) == DROP_FRAME
        elif drop and _counts(line):
            line = _COLON_TIMECODE.sub(r"\1;\2", line)
        lines.append(line)
    return "".join(lines)


def restore_frame_code_mode(path: str, timeline: otio.schema.Timeline) -> None:
    """Rewrite the list the adapter wrote at `path` in the frame code mode `timeline` was read
    in (its FCM), and state it in an FCM line under the title. At 29.97 and 59.94 the adapter
    writes drop frame; a non-drop list gets its own timecodes back, frame for frame."""
    exact = exact_rate(timeline.tracks[0].duration().rate)  # the rate the adapter wrote at
    mode = NON_DROP_FRAME
    if is_drop_frame_rate(exact):
        mode = timeline.metadata.get("cmx_3600", {}).get("fcm") or DROP_FRAME
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    if mode == NON_DROP_FRAME and is_drop_frame_rate(exact):

        def non_drop(match: re.Match) -> str:
            frames = otio.opentime.from_timecode(match[0], float(exact))
            return otio.opentime.to_timecode(frames, float(exact), False)

        text = _DROP_TIMECODE.sub(non_drop, text)
    lines = [line for line in text.splitlines(keepends=True) if not _FCM.match(line)]
    at = 1 if lines and lines[0].startswith("TITLE:") else 0
    lines.insert(at, f"FCM: {mode}\n")
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("".join(lines))


def restore_motion_events(path: str, rate: float) -> None:
    """Correct the speed-changed (M2) events the adapter wrote at `path`: it wrote a source out
    point of record length / speed where CMX 3600 counts about record length x speed (an event
    at 47.6 fps in a 24 fps list, 36 frames long, named 18 frames of source instead of 70:
    `edl_audio.source_frames_played`), and
    the clip's name, spaces and all, in the M2 line's reel field, where readers that split the
    line on blanks take a word of the name for the speed. Freezes (speed 0) and reversed
    events (negative) are left as written."""
    with open(path, encoding="utf-8") as handle:
        lines = handle.read().splitlines(keepends=True)
    event = None
    for index, line in enumerate(lines):
        found = _EVENT_LINE.match(line)
        if found:
            event = (index, found)
            continue
        motion = _MOTION_LINE.match(line)
        if not motion or event is None:
            continue
        at, found = event
        fps = float(motion["fps"])
        lines[index] = f"M2   {found['reel']:8}       {fps:05.1f}                {motion['start']}\n"
        if fps <= 0:
            continue
        drop = ";" in found["source_in"]
        count = lambda timecode: round(otio.opentime.from_timecode(timecode, rate).value)  # noqa: E731
        length = count(found["record_out"]) - count(found["record_in"])
        source_out = count(found["source_in"]) + edl_audio.source_frames_played(length, fps / rate)
        written = otio.opentime.to_timecode(otio.opentime.RationalTime(source_out, rate), rate, drop)
        line = lines[at]
        start, end = found.span("source_out")
        lines[at] = line[:start] + written + line[end:]
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("".join(lines))
