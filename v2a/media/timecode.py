"""SMPTE timecode strings <-> frame counts (drop-frame aware)."""

from __future__ import annotations

import re
from fractions import Fraction

_TIMECODE = re.compile(r"^(\d{1,2})[:;.](\d{2})[:;.](\d{2})([:;.])(\d{2})$")


def nominal_rate(rate: Fraction) -> int:
    """The frame count a timecode second holds: 30 for 29.97, 24 for 23.976, 60 for 59.94."""
    return round(rate)


def is_drop_frame(timecode: str) -> bool:
    """By convention a ';' (or '.') before the frames field marks drop-frame timecode."""
    match = _TIMECODE.match(timecode.strip())
    return bool(match) and match.group(4) in ";."


def timecode_to_frames(timecode: str, rate: Fraction) -> int:
    """Frame number of `timecode` at `rate`; drop-frame when the string says so.

    Drop-frame skips frame numbers 0 and 1 (0–3 at 59.94) at the start of each minute except
    every tenth, so the count stays close to wall-clock time at 30000/1001. It exists only at
    29.97 and 59.94; a drop-frame mark at another rate is read as non-drop.
    """
    match = _TIMECODE.match(timecode.strip())
    if not match:
        raise ValueError(f"not a timecode: {timecode!r} (expected HH:MM:SS:FF)")
    hours, minutes, seconds, separator, frames = match.groups()
    hours, minutes, seconds, frames = int(hours), int(minutes), int(seconds), int(frames)
    base = nominal_rate(rate)
    if frames >= base or minutes >= 60 or seconds >= 60:
        raise ValueError(f"timecode {timecode!r} out of range at {float(rate):.3f} fps")
    count = ((hours * 60 + minutes) * 60 + seconds) * base + frames
    if separator in ";." and base in (30, 60):
        dropped = base // 15  # 2 at 29.97, 4 at 59.94
        if seconds == 0 and frames < dropped and minutes % 10:
            raise ValueError(f"timecode {timecode!r} does not exist in drop-frame counting")
        total_minutes = hours * 60 + minutes
        count -= dropped * (total_minutes - total_minutes // 10)
    return count


def frames_to_timecode(frame: int, rate: Fraction, drop_frame: bool = False) -> str:
    """Timecode string for a frame number; inverse of `timecode_to_frames`."""
    base = nominal_rate(rate)
    if drop_frame:
        dropped = base // 15
        per_10_minutes = base * 600 - dropped * 9
        per_minute = base * 60 - dropped
        tens, rest = divmod(frame, per_10_minutes)
        if rest >= dropped:
            frame += dropped * 9 * tens + dropped * ((rest - dropped) // per_minute)
        else:
            frame += dropped * 9 * tens
    frames = frame % base
    seconds = frame // base
    separator = ";" if drop_frame else ":"
    return (
        f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}{separator}{frames:02d}"
    )
