#!/usr/bin/env python
"""What an editor waits for around one clip's generation: `run_generation` of ONE clip of a
feature-length edit that v2a already wrote (every clip with 3 takes, their files in audio/).

The edit: 12 video tracks over two hours, 80 % of the clips on V1 with a dissolve every 6th cut
and a nested two-track stack every 40th, 8 editor audio tracks; 8 small real movies referenced
relative to the timeline. The generator is the tests' sine double, so the figure is reading,
planning, take bookkeeping, write-back and writing. Prints the median of 3 runs.

    PYTHONPATH=.:tests .venv/bin/python scripts/bench_regenerate.py [--clips 2000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import logging
import os
import random
import statistics
import sys
import tempfile
import time
from fractions import Fraction

import opentimelineio as otio
from generator_doubles import SineGenerator

from otio_adapters.plan import plan_segments
from otio_adapters.write import write_audio_tracks, write_timeline
from v2a.contracts import ClipAddress, GeneratedAudio, GenerationRequest, Selection
from v2a.media.synth import make_test_movie
from v2a.pipeline import run_generation

RT, TR = otio.opentime.RationalTime, otio.opentime.TimeRange
RATE, MEDIA_FRAMES, TRACKS, TAKES = 24, 240, 12, 3


def _clip(name: str, media: str, frames: int, rng: random.Random) -> otio.schema.Clip:
    start = rng.randrange(8, MEDIA_FRAMES - frames - 8)
    return otio.schema.Clip(name=name, source_range=TR(RT(start, RATE), RT(frames, RATE)),
                            media_reference=otio.schema.ExternalReference(
                                target_url=os.path.basename(media),
                                available_range=TR(RT(0, RATE), RT(MEDIA_FRAMES, RATE))))


def build_edit(clips: int, media: list[str]) -> otio.schema.Timeline:
    rng = random.Random(1)
    video = [otio.schema.Track(name=f"V{i + 1}", kind=otio.schema.TrackKind.Video)
             for i in range(TRACKS)]
    lower = int(clips * 0.8)
    mean = 2 * 3600 * RATE // lower
    for i in range(lower):
        frames = max(10, min(MEDIA_FRAMES - 40, int(rng.gauss(mean, mean / 3))))
        pick = media[i % len(media)]
        if i % 40 == 39:  # a nested sequence: two clips, a third over part of them
            nest = otio.schema.Stack(name=f"nest{i}", source_range=TR(RT(0, RATE), RT(frames, RATE)))
            below, above = (otio.schema.Track(kind=otio.schema.TrackKind.Video) for _ in range(2))
            half = frames // 2
            below.extend([_clip(f"n{i}a", pick, half, rng), _clip(f"n{i}b", pick, frames - half, rng)])
            above.extend([otio.schema.Gap(source_range=TR(RT(0, RATE), RT(half // 2, RATE))),
                          _clip(f"n{i}c", pick, half // 2, rng)])
            nest.extend([below, above])
            video[0].append(nest)
        else:
            video[0].append(_clip(f"shot{i:05d}", pick, frames, rng))
        if i % 6 == 5 and i + 1 < lower:
            video[0].append(otio.schema.Transition(in_offset=RT(6, RATE), out_offset=RT(6, RATE)))
    length = video[0].duration().to_frames()
    per_track = (clips - lower) // (TRACKS - 1)
    for track in video[1:]:
        position = 0
        for k in range(per_track):
            frames = rng.randrange(12, 60)
            at = rng.randrange(position, max(position + 1, position + 2 * length // per_track - frames))
            if at + frames > length:
                break
            if at > position:
                track.append(otio.schema.Gap(source_range=TR(RT(0, RATE), RT(at - position, RATE))))
            track.append(_clip(f"{track.name}_{k:04d}", media[k % len(media)], frames, rng))
            position = at + frames
    audio = [otio.schema.Track(name=f"A{a + 1}", kind=otio.schema.TrackKind.Audio) for a in range(8)]
    for track in audio:
        track.extend(_clip(f"{track.name}_{i}", media[i % len(media)], 100, rng)
                     for i in range(clips // 4))
    timeline = otio.schema.Timeline(name="feature", global_start_time=RT(3600 * RATE, RATE))
    timeline.tracks.extend(video + audio)
    return timeline


def written_by_v2a(folder: str, clips: int) -> tuple[str, str]:
    """The edit as v2a wrote it into folder/out (TAKES takes a clip); (its path, a clip id)."""
    media = [make_test_movie(os.path.join(folder, f"reel{i}.mp4"), frames=MEDIA_FRAMES,
                             rate=Fraction(RATE), size=(32, 32)) for i in range(8)]
    source = os.path.join(folder, "feature.otio")
    timeline = build_edit(clips, media)
    otio.adapters.write_to_file(timeline, source)
    out = os.path.join(folder, "out")
    os.makedirs(os.path.join(out, "audio"))
    segments = plan_segments(timeline, timeline_path=source, cut_handle_seconds=0.08)
    for take in range(1, TAKES + 1):
        audio = [GeneratedAudio(s.clip_id, os.path.join(out, "audio", f"{s.clip_id}_take{take}.wav"),
                                s.start_sample, s.num_samples, s.handle_before_samples,
                                s.handle_after_samples, {"generator": "none", "take": take})
                 for s in segments]
        write_audio_tracks(timeline, segments, audio, visible=segments)
        for item in audio:
            open(item.path, "w").close()
    path, _, _ = write_timeline(timeline, os.path.join(out, "feature.otio"), "otio_json", folder)
    return path, segments[len(segments) // 2].clip_id


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    logging.disable(logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="v2a-bench-") as folder:
        path, clip_id = written_by_v2a(folder, args.clips)
        request = GenerationRequest(timeline_path=path, out_dir=os.path.dirname(path),
                                    selection=Selection(clips=(ClipAddress(clip_id=clip_id),)),
                                    cut_handle_seconds=0.08)
        walls = []
        for _ in range(args.repeats):
            started = time.perf_counter()
            result = run_generation(request, SineGenerator())
            walls.append(time.perf_counter() - started)
        assert result.generated, result.format_note
        print(f"{args.clips} clips: one clip regenerated in {statistics.median(walls):.3f} s "
              f"(median of {args.repeats}: {', '.join(f'{w:.3f}' for w in walls)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
