"""Stand-in media for a timeline whose media is elsewhere: numbered test movies and stills
written under the file names its clips reference, covering the source ranges they use.

Real editors' exports point at files on the editor's machine. Tests (and demos) relink such a
timeline to these stand-ins with `--relink DIR` to exercise the whole round trip.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import opentimelineio as otio

from otio_adapters.media_refs import file_name, url_to_path
from otio_adapters.plan import time_scalar
from otio_adapters.timing import exact_rate, seconds

MARGIN = Fraction(2)  # seconds of media beyond each used range, for transition handles
_STILLS = (".png", ".jpg", ".jpeg", ".tif", ".tiff")
_CONTAINERS = {".mp4": "libx264", ".mov": "libx264", ".mkv": "libx264", ".mxf": "mpeg2video"}
_SPARSE_AFTER = Fraction(10)  # seconds of unused media before a used range: write it sparsely


@dataclass
class _Need:
    rate: Fraction
    low: Fraction  # source seconds (media timecode space)
    high: Fraction
    fixed_start: Fraction | None  # the reference's available start, when the timeline gives one


def media_needs(timeline: otio.schema.Timeline) -> tuple[dict[str, _Need], list]:
    """File name -> the source span its clips use; and the image-sequence references."""
    needs: dict[str, _Need] = {}
    sequences = []
    for track in timeline.video_tracks():
        for clip in track.find_clips():
            ref = clip.media_reference
            if isinstance(ref, otio.schema.ImageSequenceReference):
                sequences.append(ref)
                continue
            if isinstance(ref, otio.schema.ExternalReference):
                name = file_name(url_to_path(ref.target_url or ""))
            else:  # the planner looks a missing reference up by the clip's name
                name = f"{clip.name or 'clip'}.mp4"
            used = clip.source_range or ref.available_range
            if not name or used is None:
                continue
            available = ref.available_range
            speed = max(abs(Fraction(time_scalar(clip))), Fraction(1))
            start = seconds(used.start_time)
            low = max(Fraction(0), start - MARGIN)
            high = start + seconds(used.duration) * speed + MARGIN
            fixed = seconds(available.start_time) if available is not None else None
            rate = exact_rate((available or used).duration.rate)
            if name in needs:
                need = needs[name]
                need.low, need.high = min(need.low, low), max(need.high, high)
            else:
                needs[name] = _Need(rate, low, high, fixed)
    return needs, sequences


def synthesize_media(
    timeline: otio.schema.Timeline, folder: str, size: tuple[int, int] = (64, 48)
) -> list[str]:
    """Write stand-ins for every media file the timeline's video clips use; their paths."""
    from v2a.media.synth import make_image_sequence

    os.makedirs(folder, exist_ok=True)
    needs, sequences = media_needs(timeline)
    written = [_write_file(os.path.join(folder, name), need, size) for name, need in needs.items()]
    for ref in sequences:
        count = math.ceil(ref.available_range.duration.value) if ref.available_range else 48
        written += make_image_sequence(
            folder,
            ref.name_prefix,
            ref.name_suffix,
            ref.start_frame,
            count,
            ref.frame_zero_padding,
            size=size,
        )
    return written


def _write_file(path: str, need: _Need, size: tuple[int, int]) -> str:
    from PIL import Image

    from v2a.media.synth import draw_frame, make_test_movie
    from v2a.media.timecode import frames_to_timecode

    extension = os.path.splitext(path)[1].lower()
    if extension in _STILLS:
        Image.fromarray(draw_frame(0, *size)).save(path)
        return path
    codec = _CONTAINERS.get(extension, "libx264")
    # An unknown extension (.r3d, .exr.mp4...): write MP4 bytes; probing reads content, not names.
    target = path if extension in _CONTAINERS else path + ".mp4"
    rate = need.rate
    start = need.fixed_start if need.fixed_start is not None else need.low
    first = math.floor(start * rate)
    if need.low - start > _SPARSE_AFTER:
        # The clip uses media an hour in: one frame at the start, then the used span, as a
        # variable-frame-rate file, instead of an hour of frames.
        used_from = need.low - Fraction(first) / rate
        count = math.ceil((need.high - need.low) * rate)
        times = [0.0] + list(float(used_from) + np.arange(count) / float(rate))
        make_test_movie(
            target, frames=len(times), rate=rate, size=size, start_timecode=None, frame_times=times
        )
    else:
        frames = max(1, math.ceil(need.high * rate) - first)
        make_test_movie(
            target,
            frames=frames,
            rate=rate,
            size=size,
            start_timecode=frames_to_timecode(first, rate),
            codec=codec,
        )
    if target != path:
        os.replace(target, path)
    return path
