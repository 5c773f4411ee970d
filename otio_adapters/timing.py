"""Exact time arithmetic for timelines: rational rates, seconds and 48 kHz sample positions.

OTIO stores rates as floats (29.97, 23.976...). Multiplying those floats by 48 000 drifts by a
sample every few minutes, so every time is first turned into an exact `Fraction` of a second,
with the NTSC rates mapped to their true values (30000/1001...), and only rounded at the very
end, once per boundary: adjacent clips share a boundary, so they tile without gap or overlap.
"""

from __future__ import annotations

import functools
import math
from fractions import Fraction

import opentimelineio as otio

from v2a.contracts import SAMPLE_RATE

#: Nominal integer rates whose NTSC variant runs 1000/1001 slower.
_NTSC_BASES = (24, 30, 48, 60, 120)


@functools.lru_cache(maxsize=256)
def exact_rate(rate: float) -> Fraction:
    """The exact frame rate that a float rate stands for (29.97 -> 30000/1001)."""
    if rate <= 0 or math.isnan(rate) or math.isinf(rate):
        raise ValueError(f"invalid frame rate {rate!r}")
    if float(rate).is_integer():
        return Fraction(int(rate))
    for base in _NTSC_BASES:
        ntsc = Fraction(base * 1000, 1001)
        # 23.976, 23.98, 29.97, 29.97002997 all mean 24000/1001 or 30000/1001.
        if abs(rate - float(ntsc)) < 0.006:
            return ntsc
    return Fraction(rate).limit_denominator(1001)


def seconds(time: otio.opentime.RationalTime) -> Fraction:
    """A RationalTime as exact seconds."""
    value = time.value
    if value == 0:
        return Fraction(0)  # adapters write empty times with rate 0 (AAF fillers)
    # Fraction(int) is several times faster than Fraction(float); most values are whole frames.
    numerator = int(value) if value.is_integer() else Fraction(value)
    return numerator / exact_rate(time.rate)


def to_samples(time_seconds: Fraction) -> int:
    """The sample index nearest to a time (halves round up, the same way everywhere)."""
    return math.floor(time_seconds * SAMPLE_RATE + Fraction(1, 2))


def to_frames(time_seconds: Fraction, rate: Fraction) -> int:
    """The frame index nearest to a time at a rate (halves round up)."""
    return math.floor(time_seconds * rate + Fraction(1, 2))


def is_drop_frame_rate(rate: Fraction) -> bool:
    return rate.denominator == 1001 and rate.numerator in (30000, 60000)


def format_timecode(
    time_seconds: Fraction | float, rate: Fraction, drop_frame: bool | None = None
) -> str:
    """HH:MM:SS:FF at a rate; drop frame (with ';') at 29.97/59.94 unless told otherwise."""
    if drop_frame is None:
        drop_frame = is_drop_frame_rate(rate)
    frames = to_frames(Fraction(time_seconds), rate)
    sign = "-" if frames < 0 else ""
    frames = abs(frames)
    nominal = round(rate)
    if drop_frame:
        frames = _drop_frame_display(frames, nominal)
    ff = frames % nominal
    total_seconds = frames // nominal
    hh, rest = divmod(total_seconds, 3600)
    mm, ss = divmod(rest, 60)
    separator = ";" if drop_frame else ":"
    return f"{sign}{hh:02d}:{mm:02d}:{ss:02d}{separator}{ff:02d}"


def _drop_frame_display(frames: int, nominal: int) -> int:
    """Frame count -> the frame number a drop-frame timecode displays (skips labels, not frames)."""
    dropped = 2 * nominal // 30  # 2 labels at 29.97, 4 at 59.94
    per_minute = nominal * 60 - dropped
    per_ten_minutes = per_minute * 10 + dropped
    tens, rest = divmod(frames, per_ten_minutes)
    skipped = dropped * 9 * tens
    if rest > dropped:
        skipped += dropped * ((rest - dropped) // per_minute)
    return frames + skipped
