"""Edits cut from the pipeline tests' movies (`movies` in tests/v2a/conftest.py: a.mp4, b.mp4
and c.mp4, 72 frames at 24 fps), written as .otio, run through the pipeline with the sine
generator and changed as an editor would between runs."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import opentimelineio as otio
from generator_doubles import SineGenerator

from v2a.contracts import GenerationRequest
from v2a.pipeline import run_generation

RT = otio.opentime.RationalTime
TR = otio.opentime.TimeRange
#: The movies' frame rate, and the edits'.
RATE = 24
#: Where an edit's clips start in their movie: 12 frames of handles before each.
FIRST_FRAME = 12


def movie_clip(movies: str, name: str, frames: int, clip_id: str = "") -> otio.schema.Clip:
    """`frames` of movie `name` from its frame 12; with `clip_id`, the id a panel stores in
    its clips."""
    return otio.schema.Clip(
        name=name,
        metadata={"v2a": {"clip_id": clip_id}} if clip_id else {},
        source_range=TR(RT(FIRST_FRAME, RATE), RT(frames, RATE)),
        media_reference=otio.schema.ExternalReference(
            target_url=os.path.join(movies, f"{name}.mp4"),
            available_range=TR(RT(0, RATE), RT(72, RATE)),
        ),
    )


def write_edit(
    tmp_path: Path, movies: str, shots: list[tuple], start_frame: int | None = 3600 * RATE
) -> str:
    """tmp_path/edit.otio, its V1 the `shots` cut to cut: each (movie name, frames) or (movie
    name, frames, clip id), a `movie_clip`; ("", frames) a gap. Its first frame at record frame
    `start_frame` (01:00:00:00 by default; None: the timeline names no start); the file's path."""
    video = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    for name, frames, *clip_id in shots:
        if name:
            video.append(movie_clip(movies, name, frames, *clip_id))
        else:
            video.append(otio.schema.Gap(source_range=TR(RT(0, RATE), RT(frames, RATE))))
    start = None if start_frame is None else RT(start_frame, RATE)
    timeline = otio.schema.Timeline(name="edit", global_start_time=start)
    timeline.tracks.append(video)
    path = str(tmp_path / "edit.otio")
    otio.adapters.write_to_file(timeline, path)
    return path


def generate(path: str, tmp_path: Path, **request) -> str:
    """Run the pipeline with the sine generator on the timeline `path` into tmp_path/out
    (`request`: more of the GenerationRequest's fields); the written timeline's path."""
    return run_generation(
        GenerationRequest(timeline_path=path, out_dir=str(tmp_path / "out"), **request),
        SineGenerator(),
    ).timeline_path


def recut(path: str, change: Callable[[otio.schema.Track], None]) -> None:
    """The editor changes the picture track (V1) of the .otio at `path` and saves over it."""
    timeline = otio.adapters.read_from_file(path)
    change(timeline.video_tracks()[0])
    otio.adapters.write_to_file(timeline, path)
