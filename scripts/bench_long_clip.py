"""Benchmark of long clips through the real generation path: peak memory and time of `v2a generate`.

For each length, a one-clip timeline (.otio) over a real H.264 movie (moving synthetic picture,
640x360, 25 fps by default; made once with PyAV and kept in --media) is generated with the
default generator by `v2a generate` in a fresh child process: wall time, real-time factor and
the child's peak RSS (from wait4, the kernel's own count). One job at a time.

    .venv/bin/python scripts/bench_long_clip.py [--minutes 1,5,15] [--fps 25] [--media DIR]
        [--repo CHECKOUT]   # another checkout's `v2a generate` (e.g. before a change), same media
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def make_movie(folder: Path, seconds: float, fps: int, size: tuple[int, int]) -> Path:
    """The movie of `seconds` at `fps`, made once (a killed run leaves no half file behind)."""
    from v2a.media.synth import make_test_movie

    path = folder / f"long-{seconds:g}s-{fps}fps-{size[0]}x{size[1]}.mp4"
    if not path.exists():
        temp = path.with_name(f".{path.name}.tmp{os.getpid()}.mp4")
        # A keyframe every 2 s, as cameras and editors' exports usually have.
        make_test_movie(str(temp), frames=round(seconds * fps), rate=Fraction(fps), size=size,
                        keyframe_interval=2 * fps)
        os.replace(temp, path)
    return path


def make_timeline(movie: Path, seconds: float, fps: int, folder: Path, speed: float = 1.0) -> Path:
    """A one-clip .otio timeline `seconds` long playing the whole movie at `speed`."""
    import opentimelineio as otio

    def span(frames: int) -> otio.opentime.TimeRange:
        return otio.opentime.TimeRange(otio.opentime.RationalTime(0, fps), otio.opentime.RationalTime(frames, fps))

    clip = otio.schema.Clip(name=movie.stem, source_range=span(round(seconds * fps)),
                            media_reference=otio.schema.ExternalReference(str(movie), span(round(seconds * speed * fps))))
    if speed != 1.0:
        clip.effects.append(otio.schema.LinearTimeWarp(time_scalar=speed))
    timeline = otio.schema.Timeline(name=f"long clip {seconds:g} s")
    timeline.tracks.append(otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video, children=[clip]))
    path = folder / f"{movie.stem}-{seconds:g}s.otio"
    otio.adapters.write_to_file(timeline, str(path))
    return path


def generate(repo: Path, timeline: Path, out: Path, threads: int, extra: list[str]) -> dict:
    """Wall time and peak RSS of one `v2a generate` of `repo` in its own process."""
    command = [sys.executable, "-c", "from v2a.cli import main; main()", "generate", str(timeline),
               "--out", str(out), *extra]
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "PYTHONPATH": str(repo)}
    started = time.perf_counter()
    child = subprocess.Popen(command, cwd=repo, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
    # Read the pipes while waiting (a full pipe would stall the child), then reap it with wait4,
    # which gives that child's own peak RSS (getrusage(RUSAGE_CHILDREN) gives the largest child's).
    stdout, stderr = child.stdout.read(), child.stderr.read()
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - started
    if child.returncode != 0:
        raise RuntimeError(f"v2a generate failed ({child.returncode}):\n{stdout}\n{stderr}")
    return {"seconds": seconds, "peak_rss_mb": usage.ru_maxrss / 1024, "cpu_seconds": usage.ru_utime + usage.ru_stime}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", default="1,5,15", help="clip lengths in minutes, e.g. 0.5,1,5")
    parser.add_argument("--fps", type=int, default=25)
    parser.add_argument("--size", default="640x360")
    parser.add_argument("--media", default=os.path.join(tempfile.gettempdir(), "v2a-bench-long-clip"),
                        help="where the movies are made (and kept for the next run)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--steps", type=int, default=0, help="0: the generator's default")
    parser.add_argument("--repo", default=str(REPO), help="the checkout whose `v2a generate` runs")
    parser.add_argument("--speed", type=float, default=1.0, help="the clip plays its movie at this speed: "
                        "0.25 makes an hour's clip of 15 minutes of movie (the test picture numbers "
                        "at most 65,536 frames)")
    args = parser.parse_args()
    size = tuple(int(v) for v in args.size.split("x"))
    media = Path(args.media)
    media.mkdir(parents=True, exist_ok=True)
    extra = ["--steps", str(args.steps)] if args.steps else []
    rows = []
    for minutes in (float(m) for m in args.minutes.split(",")):
        seconds = minutes * 60
        movie = make_movie(media, seconds * args.speed, args.fps, size)
        with tempfile.TemporaryDirectory(prefix="v2a-bench-long-") as work:
            timeline = make_timeline(movie, seconds, args.fps, Path(work), args.speed)
            result = generate(Path(args.repo), timeline, Path(work) / "out", args.threads, extra)
        # Wall time depends on what else runs: the load average says how busy the machine was.
        row = {"minutes": minutes, **result, "rtf": seconds / result["seconds"],
               "load_average": os.getloadavg()[0]}
        rows.append(row)
        print(f"{minutes:g} min: {row['seconds']:.1f} s wall ({row['rtf']:.2f}x real time), "
              f"CPU {row['cpu_seconds']:.1f} s, peak RSS {row['peak_rss_mb']:.0f} MB, "
              f"load average {row['load_average']:.1f}", flush=True)
    print(json.dumps(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
