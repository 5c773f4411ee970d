"""Decode time of a 10 s segment at 8 fps / 160 px from a 1080p file: seeking vs from the start.

Usage: nice -n 10 .venv/bin/python scripts/bench_decode.py [--media FILE] [--start SECONDS]

Without --media it synthesizes a 40 s 1080p25 H.264 file (keyframe every 2 s) in a temp folder.
Prints the median of 3 runs of each method. "from start" is the naive baseline: decode every
frame from the beginning of the file up to the segment's end, keeping the ones needed.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from v2a.media.frames import decode_frames_at, to_square_rgb
from v2a.media.probe import probe_media
from v2a.media.synth import make_test_movie


def decode_from_start(path: str, times: np.ndarray, size: int) -> np.ndarray:
    """Baseline: no seek; walk every frame from 0 and keep the one on screen at each time."""
    out, wanted = [], iter(times)
    target, previous = next(wanted), None
    with av.open(path) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for frame in container.decode(stream):
            while target is not None and frame.time > target + 1e-4:
                out.append(to_square_rgb(previous, size))
                target = next(wanted, None)
            if target is None:
                break
            previous = frame
    return np.stack(out)


def timed(function, *args) -> tuple[float, np.ndarray]:
    runs = []
    for _ in range(3):
        began = time.perf_counter()
        result = function(*args)
        runs.append(time.perf_counter() - began)
    return statistics.median(runs), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--media", help="a 1080p file (default: synthesize one)")
    parser.add_argument("--start", type=float, default=25.0, help="segment start in seconds")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = args.media
        if path is None:
            path = str(Path(folder) / "bench1080.mp4")
            began = time.perf_counter()
            make_test_movie(path, frames=1000, rate=Fraction(25), size=(1920, 1080),
                            start_timecode=None, keyframe_interval=50)
            print(f"synthesized 40 s 1080p25 H.264 in {time.perf_counter() - began:.1f} s")
        info = probe_media(path)
        print(f"media: {info.width}x{info.height} @ {info.fps:.3f} fps, {info.duration:.1f} s")
        times = args.start + np.arange(80) / 8.0  # 10 s at 8 fps
        seek_s, seeked = timed(decode_frames_at, path, times, 160)
        scan_s, scanned = timed(decode_from_start, path, times, 160)
        assert np.array_equal(seeked, scanned), "both methods must give the same frames"
        print(f"10 s segment at {args.start:.1f} s, 8 fps, 160 px (median of 3):")
        print(f"  seek (decode_frames_at): {seek_s:.2f} s")
        print(f"  from start (baseline):   {scan_s:.2f} s  ({scan_s / seek_s:.1f}x slower)")


if __name__ == "__main__":
    main()
