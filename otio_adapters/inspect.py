"""`v2a inspect`: the plan as a table a person can read before generating anything."""

from __future__ import annotations

import os
import re
from fractions import Fraction

import opentimelineio as otio

from otio_adapters.plan import timeline_start
from otio_adapters.timing import exact_rate, format_timecode
from v2a.contracts import SAMPLE_RATE, Segment

_LABEL = re.compile(r"^clip .*? at -?\d\d:\d\d:\d\d[:;]\d\d: ")
_COLUMNS = (
    "id",
    "track",
    "clip",
    "record in",
    "record out",
    "dur",
    "source in",
    "speed",
    "handles",
    "media",
)


def format_plan_table(segments: list[Segment], timeline: otio.schema.Timeline | None = None) -> str:
    """One row per segment: where it sits (timecode at the timeline rate, from the timeline's
    start timecode when `timeline` is given), what feeds it, and whether its media was found."""
    if not segments:
        return "no segments: the timeline shows no video clip that v2a can plan"
    start = timeline_start(timeline) if timeline is not None else Fraction(0)
    rows = [_row(segment, start) for segment in segments]
    widths = [max(len(col), *(len(r[i]) for r in rows)) for i, col in enumerate(_COLUMNS)]
    # The media column is last and left free: paths and problems are long.
    lines = [_line(_COLUMNS, widths), _line(["-" * w for w in widths], widths)]
    lines += [_line(row, widths) for row in rows]
    lines.append(_summary(segments))
    lines += _marked_prompts(segments)
    return "\n".join(lines)


def _marked_prompts(segments: list[Segment]) -> list[str]:
    """What the edit's `v2a:` markers ask of each clip (a run's own prompt wins over them)."""
    marked = [s for s in segments if s.prompt or s.negative_prompt]
    if not marked:
        return []
    lines = ["prompts from the edit's v2a: markers (a --prompt given to the run wins):"]
    for segment in marked:
        said = [f"{segment.prompt!r}"] if segment.prompt else []
        said += [f"not {segment.negative_prompt!r}"] if segment.negative_prompt else []
        lines.append(f"  {segment.clip_id}  {segment.clip_name}: {', '.join(said)}")
    return lines


def _row(segment: Segment, start: Fraction) -> list[str]:
    rate = exact_rate(segment.timeline_rate)
    record_in = start + Fraction(segment.start_sample, SAMPLE_RATE)
    record_out = record_in + Fraction(segment.num_samples, SAMPLE_RATE)
    handles = "-"
    if segment.handle_before_samples or segment.handle_after_samples:
        before = segment.handle_before_samples / SAMPLE_RATE
        after = segment.handle_after_samples / SAMPLE_RATE
        handles = f"{before:.2f}s/{after:.2f}s"
    media_rate = exact_rate(segment.media.rate) if segment.media.rate else rate
    track = f"V{segment.track_index + 1}"
    return [
        segment.clip_id,
        track,
        _shorten(segment.clip_name, 32),
        format_timecode(record_in, rate),
        format_timecode(record_out, rate),
        f"{segment.duration:.3f}s",
        format_timecode(Fraction(segment.source_start).limit_denominator(1_000_000), media_rate),
        _speed(segment.speed),
        handles,
        _media(segment),
    ]


def _speed(speed: float) -> str:
    if speed == 0:
        return "freeze"
    if speed == 1:
        return "1x"
    return f"{speed:.4g}x" + (" rev" if speed < 0 else "")


def _media(segment: Segment) -> str:
    if segment.status != "ok":
        # The row already says which clip and where: keep the problem itself.
        problem = _LABEL.sub("", segment.problem, count=1)
        return f"{segment.status.upper()}: {problem}"
    sequence = segment.media.image_sequence
    if sequence is not None:
        pattern = f"{sequence.name_prefix}{'#' * max(sequence.frame_zero_padding, 1)}"
        return os.path.join(sequence.directory, pattern + sequence.name_suffix)
    return segment.media.path or segment.media.referenced


def _shorten(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


def _line(cells, widths) -> str:
    padded = [str(c).ljust(w) for c, w in zip(cells[:-1], widths[:-1], strict=True)]
    return "  ".join([*padded, str(cells[-1])]).rstrip()


def _summary(segments: list[Segment]) -> str:
    counts: dict[str, int] = {}
    for segment in segments:
        counts[segment.status] = counts.get(segment.status, 0) + 1
    total = sum(s.num_samples for s in segments) / SAMPLE_RATE
    parts = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
    return f"{len(segments)} segment(s), {total:.2f}s of picture: {parts}"
