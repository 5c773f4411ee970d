#!/usr/bin/env python
"""Planning and write-back time for synthetic timelines of 100, 1,000 and 10,000 clips.

No generation: each clip gets a stand-in GeneratedAudio. Prints medians of 3 runs and the time
per clip for each stage, so linear growth shows as a flat per-clip column.

    .venv/bin/python scripts/bench_timeline.py [--sizes 100 1000 10000] [--repeats 3]
    .venv/bin/python scripts/bench_timeline.py --formats fcp_xml fcpx_xml AAF kdenlive cmx_3600 \
        --sizes 250 1000 2000 [--inputs FOLDER]

Stages: read (OTIO JSON from disk), plan (plan_segments, media probed once per file), write-back
(write_audio_tracks on a fresh timeline), re-run (write_audio_tracks again over the existing v2a
track: every clip gets a second take), write (write_timeline to OTIO JSON; with --fcp7 also to
FCP7 XML, whose adapter grows faster than linearly: about 300 s for 10,000 clips here).

With --formats, each format is timed the way an editor's file of it goes through v2a instead:
the edit is written once in that format (the editor's file, not timed; CMX 3600 gets V1 alone,
as a list holds one video track), then each run reads it, plans it, lays the takes and writes
the result into the editor's own file (`write_timeline`), and runs again on the file written
(read, plan, a second take for every clip, write over it: v2a's earlier track is taken out
first). Planned as `v2a generate` plans, with handles at hard cuts: v2a's clips crossfade at
nearly every cut. --inputs keeps the editor's files and media in FOLDER and reuses them, so that another
checkout of v2a can be timed on the very same files.
"""

from __future__ import annotations

import argparse
import copy
import logging
import os
import statistics
import sys
import tempfile
import time
from fractions import Fraction

import opentimelineio as otio

from otio_adapters.plan import plan_segments
from otio_adapters.read import read_timeline
from otio_adapters.write import write_audio_tracks, write_timeline
from v2a.contracts import GeneratedAudio, GenerationRequest, Segment
from v2a.media.synth import make_test_movie

RT = otio.opentime.RationalTime
TR = otio.opentime.TimeRange
RATE = 24
MEDIA_FILES = 8
MEDIA_FRAMES = 96


def build_timeline(clips: int, media: list[str]) -> otio.schema.Timeline:
    """Two video tracks: V1 holds `clips` cuts with a dissolve every 10th cut and a gap every
    25th; V2 holds a short clip over every 50th V1 clip (partial cover)."""
    v1 = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    v2 = otio.schema.Track(name="V2", kind=otio.schema.TrackKind.Video)
    position = 0
    for index in range(clips):
        frames = 12 + index % 13
        v1.append(_clip(f"shot{index:05d}", media[index % len(media)], 24 + index % 7, frames))
        if index % 10 == 9 and index + 1 < clips:
            v1.append(otio.schema.Transition(in_offset=RT(4, RATE), out_offset=RT(4, RATE)))
        if index % 50 == 0:
            if position > v2.duration().to_frames():
                v2.append(
                    otio.schema.Gap(
                        source_range=TR(RT(0, RATE), RT(position - v2.duration().to_frames(), RATE))
                    )
                )
            v2.append(_clip(f"over{index:05d}", media[0], 30, 6))
        position += frames
        if index % 25 == 24:
            v1.append(otio.schema.Gap(source_range=TR(RT(0, RATE), RT(5, RATE))))
            position += 5
    timeline = otio.schema.Timeline(name=f"bench {clips}", global_start_time=RT(86400, RATE))
    timeline.tracks.extend([v1, v2])
    return timeline


def _clip(name: str, media: str, start: int, frames: int) -> otio.schema.Clip:
    return otio.schema.Clip(
        name=name,
        source_range=TR(RT(start, RATE), RT(frames, RATE)),
        media_reference=otio.schema.ExternalReference(
            target_url=os.path.basename(media),
            available_range=TR(RT(0, RATE), RT(MEDIA_FRAMES, RATE)),
        ),
    )


def stand_in_audio(segments: list[Segment], take: int) -> list[GeneratedAudio]:
    return [
        GeneratedAudio(
            clip_id=s.clip_id,
            path=f"/bench/audio/{s.clip_id}_take{take}.wav",
            start_sample=s.start_sample,
            num_samples=s.num_samples,
            handle_before_samples=s.handle_before_samples,
            handle_after_samples=s.handle_after_samples,
            provenance={"generator": "none (benchmark)", "take": take},
        )
        for s in segments
    ]


def timed(function, repeats: int) -> tuple[tuple[float, float], object]:
    """((median wall seconds, median CPU seconds of this process), last result). CPU time is the
    steadier figure on a shared machine: other jobs stretch wall time, not ours."""
    walls, cpus, result = [], [], None
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        result = function()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return (statistics.median(walls), statistics.median(cpus)), result


def _minus(a: tuple[float, float], b: tuple[float, float]) -> tuple[float, float]:
    return a[0] - b[0], a[1] - b[1]


def bench(clips: int, folder: str, media: list[str], repeats: int, fcp7: bool) -> dict[str, float]:
    path = os.path.join(folder, f"bench_{clips}.otio")
    otio.adapters.write_to_file(build_timeline(clips, media), path)
    out = os.path.join(folder, f"out_{clips}")
    os.makedirs(out, exist_ok=True)

    figures = {}
    figures["read"], timeline = timed(lambda: read_timeline(path), repeats)
    figures["plan"], segments = timed(
        lambda: plan_segments(timeline, timeline_path=path, relink_roots=()), repeats
    )
    assert all(s.status == "ok" for s in segments), segments[0].problem

    def write_back():
        fresh = copy.deepcopy(timeline)
        write_audio_tracks(fresh, segments, stand_in_audio(segments, 1))
        return fresh

    def rerun():
        again = copy.deepcopy(written_back)
        write_audio_tracks(again, segments, stand_in_audio(segments, 2))
        return again

    copy_time, _ = timed(lambda: copy.deepcopy(timeline), repeats)
    figures["write-back"], written_back = timed(write_back, repeats)
    # The deepcopy is the benchmark's, not the product's.
    figures["write-back"] = _minus(figures["write-back"], copy_time)
    figures["re-run"], _ = timed(rerun, repeats)
    figures["re-run"] = _minus(figures["re-run"], copy_time)
    figures["write otio"], _ = timed(
        lambda: write_timeline(written_back, os.path.join(out, "bench.otio"), "otio_json"),
        repeats,
    )
    if fcp7:
        figures["write fcp7"], _ = timed(
            lambda: write_timeline(written_back, os.path.join(out, "bench.xml"), "fcp_xml"),
            repeats,
        )
    figures["segments"] = len(segments)
    return figures


# The file name an editor's export of each format gets.
EXTENSIONS = {"fcp_xml": "xml", "fcpx_xml": "fcpxml", "AAF": "aaf", "kdenlive": "kdenlive",
              "cmx_3600": "edl", "otio_json": "otio"}
# As `v2a generate` plans (a crossfade at every cut between two generated clips).
CUT_HANDLE = GenerationRequest.cut_handle_seconds
FORMAT_STAGES = ["read", "plan", "lay", "write", "re-read", "re-plan", "re-lay", "re-write"]


def editors_file(clips: int, folder: str, media: list[str], format: str) -> str:
    """The edit as the editor's file in `format` (made once, kept in `folder`), its media named
    by absolute file URL, as editors export it."""
    path = os.path.join(folder, f"editor_{clips}.{EXTENSIONS[format]}")
    if os.path.exists(path):
        return path
    timeline = build_timeline(clips, media)
    for clip in timeline.find_clips():
        clip.media_reference.target_url = otio.url_utils.url_from_filepath(
            os.path.join(folder, clip.media_reference.target_url)
        )
    if format == "cmx_3600":
        del timeline.tracks[1]  # the CMX 3600 writer takes one video track
        track = timeline.tracks[0]
        for index in reversed(range(len(track) - 1)):  # nor a dissolve into a gap
            if isinstance(track[index], otio.schema.Transition) and isinstance(
                track[index + 1], otio.schema.Gap
            ):
                del track[index]
    written, _, note = write_timeline(timeline, path, format)
    if written != path:
        raise RuntimeError(f"the editor's {format} file was not written: {note}")
    return path


def bench_format(clips: int, folder: str, media: list[str], repeats: int, format: str) -> dict:
    """Median (wall, CPU) seconds of each of FORMAT_STAGES, and the segment count."""
    source = editors_file(clips, folder, media, format)
    result = os.path.join(folder, f"v2a_{clips}.{EXTENSIONS[format]}")
    runs: dict[str, list[tuple[float, float]]] = {stage: [] for stage in FORMAT_STAGES}

    def stage(name: str, function):
        wall, cpu = time.perf_counter(), time.process_time()
        value = function()
        runs[name].append((time.perf_counter() - wall, time.process_time() - cpu))
        return value

    segments = []
    for _ in range(repeats):
        for prefix, path, take in (("", source, 1), ("re-", result, 2)):
            timeline = stage(prefix + "read", lambda path=path: read_timeline(path))
            segments = stage(prefix + "plan", lambda timeline=timeline, path=path: plan_segments(
                timeline, timeline_path=path, relink_roots=(), cut_handle_seconds=CUT_HANDLE))
            if not all(s.status == "ok" for s in segments):
                raise RuntimeError(f"{format}: {next(s.problem for s in segments if s.problem)}")
            stage(prefix + "lay", lambda t=timeline, s=segments, n=take: write_audio_tracks(
                t, s, stand_in_audio(s, n)))
            written, _, note = stage(prefix + "write", lambda t=timeline: write_timeline(
                t, result, format, media_dir=folder))
            if written != result:
                raise RuntimeError(f"{format}: the result was not written: {note}")
    figures = {name: tuple(statistics.median(column) for column in zip(*values, strict=True))
               for name, values in runs.items()}
    figures["segments"] = len(segments)
    return figures


def _media(folder: str) -> list[str]:
    paths = []
    for i in range(MEDIA_FILES):
        path = os.path.join(folder, f"media{i}.mp4")
        if not os.path.exists(path):
            make_test_movie(path, frames=MEDIA_FRAMES, rate=Fraction(RATE), size=(32, 32))
        paths.append(path)
    return paths


def _print_rows(clips: int, figures: dict, stages: list[str], label: str = "") -> None:
    cells = [f"{figures[s][0]:8.3f} ({1e6 * figures[s][1] / clips:7.1f})" for s in stages]
    print(f"{label}{clips:>7} {figures['segments']:>8}  " + "  ".join(f"{c:>20}" for c in cells))
    sys.stdout.flush()


def main_formats(args: argparse.Namespace, folder: str) -> None:
    media = _media(folder)
    print(f"median of {args.repeats} runs: wall seconds (CPU microseconds per clip)")
    print(f"{'format':>9} {'clips':>7} {'segments':>8}  "
          + "  ".join(f"{s:>20}" for s in FORMAT_STAGES))
    for format in args.formats:
        for clips in args.sizes:
            figures = bench_format(clips, folder, media, args.repeats, format)
            _print_rows(clips, figures, FORMAT_STAGES, f"{format:>9} ")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000, 10000])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--fcp7", action="store_true", help="also time writing FCP7 XML")
    parser.add_argument("--formats", nargs="+", choices=sorted(EXTENSIONS), default=[],
                        help="time reading, planning and writing into the editor's own file "
                        "of these formats instead")
    parser.add_argument("--inputs", default="",
                        help="keep the editor's files and media in this folder and reuse them")
    args = parser.parse_args(argv)
    logging.disable(logging.WARNING)

    if args.formats:
        if args.inputs:
            os.makedirs(args.inputs, exist_ok=True)
            main_formats(args, args.inputs)
        else:
            with tempfile.TemporaryDirectory(prefix="v2a-bench-") as folder:
                main_formats(args, folder)
        return 0

    stages = ["read", "plan", "write-back", "re-run", "write otio"] + ["write fcp7"] * args.fcp7
    with tempfile.TemporaryDirectory(prefix="v2a-bench-") as folder:
        media = [
            make_test_movie(
                os.path.join(folder, f"media{i}.mp4"),
                frames=MEDIA_FRAMES,
                rate=Fraction(RATE),
                size=(32, 32),
            )
            for i in range(MEDIA_FILES)
        ]
        print(f"median of {args.repeats} runs: wall seconds (CPU microseconds per clip)")
        print(f"{'clips':>7} {'segments':>8}  " + "  ".join(f"{s:>20}" for s in stages))
        for clips in args.sizes:
            figures = bench(clips, folder, media, args.repeats, args.fcp7)
            cells = [f"{figures[s][0]:8.3f} ({1e6 * figures[s][1] / clips:7.1f})" for s in stages]
            print(f"{clips:>7} {figures['segments']:>8}  " + "  ".join(f"{c:>20}" for c in cells))
            sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
