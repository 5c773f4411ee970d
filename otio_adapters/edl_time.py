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

from otio_adapters import edl_audio
from otio_adapters.timing import exact_rate, is_drop_frame_rate

DROP_FRAME = "DROP FRAME"
NON_DROP_FRAME = "NON-DROP FRAME"
_FCM = re.compile(r"^\s*FCM:\s*(?P<mode>.*?)\s*$", re.IGNORECASE)
_COLON_TIMECODE = re.compile(r"\b(\d{2}:\d{2}:\d{2}):(\d{2})\b")
_DROP_TIMECODE = re.compile(r"\b\d{2}:\d{2}:\d{2};\d{2}\b")
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
        timeline = original_read(input_str, rate=rate, **kwargs)
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
