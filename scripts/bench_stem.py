"""Benchmark of `v2a generate --stem`: time and memory of rendering v2a's track into one WAV.

A synthetic edit of N clips of 5 s each, one after another on v2a's track with a 2-frame
crossfade at every cut, each take a 24-bit WAV of noise with its handles (made in a temporary
folder, removed after). Renders the stem 3 times (median) and writes it once (render, loudness,
24-bit Broadcast WAV); peak RSS of this process.

    .venv/bin/python scripts/bench_stem.py [--clips 120,720]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import opentimelineio as otio
import soundfile

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from otio_adapters.stem import render_v2a_sound, write_stem  # noqa: E402
from otio_adapters.takes import path_to_url, track_name  # noqa: E402
from v2a.contracts import SAMPLE_RATE  # noqa: E402

RT, TR = otio.opentime.RationalTime, otio.opentime.TimeRange
CLIP_SECONDS, FPS = 5, 25
HANDLE = 2 * SAMPLE_RATE // FPS  # a 2-frame handle on each side: a 4-frame crossfade


def edit(folder: str, clips: int) -> otio.schema.Timeline:
    """`clips` v2a clips end to end, crossfaded, as v2a lays them (media time = timeline time)."""
    rng = np.random.default_rng(0)
    track = otio.schema.Track(name=track_name("SFX"), kind=otio.schema.TrackKind.Audio,
                              metadata={"v2a": {"track": "SFX"}})
    length = CLIP_SECONDS * SAMPLE_RATE
    for index in range(clips):
        before = HANDLE if index else 0
        total = before + length + HANDLE
        path = os.path.join(folder, f"clip{index}_take1.wav")
        soundfile.write(path, 0.1 * rng.standard_normal(total), SAMPLE_RATE, subtype="PCM_24")
        origin = index * length - before
        if index:
            track.append(otio.schema.Transition(in_offset=RT(HANDLE, SAMPLE_RATE),
                                                out_offset=RT(HANDLE, SAMPLE_RATE)))
        track.append(otio.schema.Clip(
            name=f"clip{index}",
            media_reference=otio.schema.ExternalReference(
                target_url=path_to_url(path),
                available_range=TR(RT(origin, SAMPLE_RATE), RT(total, SAMPLE_RATE))),
            source_range=TR(RT(origin + before, SAMPLE_RATE), RT(length, SAMPLE_RATE))))
    video = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    video.append(otio.schema.Gap(source_range=TR(RT(0, FPS), RT(clips * CLIP_SECONDS * FPS, FPS))))
    timeline = otio.schema.Timeline(name="bench")
    timeline.tracks.extend([video, track])
    return timeline


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", default="120,720", help="comma-separated clip counts")
    args = parser.parse_args()
    for clips in (int(n) for n in args.clips.split(",")):
        with tempfile.TemporaryDirectory() as folder:
            timeline = edit(folder, clips)
            renders = []
            for _ in range(3):
                started = time.perf_counter()
                render_v2a_sound(timeline)
                renders.append(time.perf_counter() - started)
            started = time.perf_counter()
            write_stem(timeline, os.path.join(folder, "stem.wav"))
            written = time.perf_counter() - started
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"{clips} clips, {clips * CLIP_SECONDS / 60:.0f} min: render median "
              f"{statistics.median(renders):.2f} s of 3, written with its loudness in "
              f"{written:.2f} s, peak RSS so far {peak:.0f} MB")


if __name__ == "__main__":
    main()
