"""A take fades in or out over its first or last few ms where it meets silence on the timeline
(the timeline's start or end, a gap, a clip that has no sound), and nowhere else: not at a
crossfade, not at a hard cut the editor asked for, not inside the take."""

from __future__ import annotations

import os

import numpy as np
import opentimelineio as otio

from v2a.contracts import SAMPLE_RATE, GenerationRequest
from v2a.media.audio import EDGE_FADE_SAMPLES, read_wav
from v2a.pipeline import run_generation

RT = otio.opentime.RationalTime
TR = otio.opentime.TimeRange
RATE = 24
LEVEL = 0.25  # every sample the generator makes: what a fade leaves is easy to read


class _Steady:
    """A generator of one steady level: a take that does not fade starts and ends at it."""

    name = "steady-test-double"
    frame_rate = 2.0
    frame_size = 16

    def generate(self, frames, fps, num_samples, params, progress=None, cancel=None, kept=None):
        return np.full(num_samples, LEVEL, np.float32)

    def provenance(self) -> dict:
        return {"generator": self.name, "kind": "test double"}


def _clip(name: str, start: int, frames: int, folder: str, media: str = "") -> otio.schema.Clip:
    return otio.schema.Clip(
        name=name,
        source_range=TR(RT(start, RATE), RT(frames, RATE)),
        media_reference=otio.schema.ExternalReference(
            target_url=media or os.path.join(folder, f"{name}.mp4"),
            available_range=TR(RT(0, RATE), RT(72, RATE)),
        ),
    )


def _edit(tmp_path, movies) -> str:
    """a | hard cut | b, a gap, c, then a clip whose media is offline (no sound after c)."""
    video = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    video.extend([_clip("a", 12, 24, movies), _clip("b", 12, 30, movies)])
    video.append(otio.schema.Gap(source_range=TR(RT(0, RATE), RT(10, RATE))))
    video.extend([_clip("c", 12, 20, movies), _clip("gone", 0, 12, movies, "/nowhere/gone.mp4")])
    timeline = otio.schema.Timeline(name="edges", global_start_time=RT(3600 * RATE, RATE))
    timeline.tracks.append(video)
    path = str(tmp_path / "edges.otio")
    otio.adapters.write_to_file(timeline, path)
    return path


def _takes(tmp_path, movies, **request) -> dict[str, np.ndarray]:
    result = run_generation(
        GenerationRequest(timeline_path=_edit(tmp_path, movies), out_dir=str(tmp_path / "out"),
                          **request),
        _Steady(),
    )
    takes = {a.provenance["source_clip"]: read_wav(a.path)[0] for a in result.generated}
    for audio in result.generated:  # the fades keep every take exactly as long as before
        assert len(takes[audio.provenance["source_clip"]]) == (
            audio.handle_before_samples + audio.num_samples + audio.handle_after_samples)
    return takes


def _faded_in(samples: np.ndarray) -> bool:
    return abs(samples[0]) < 1e-3 * LEVEL and _rises(samples[:EDGE_FADE_SAMPLES])


def _rises(ramp: np.ndarray) -> bool:
    return bool(np.all(np.diff(ramp) >= 0) and ramp[-1] > 0.99 * LEVEL)


def _steady(samples: np.ndarray) -> bool:
    return bool(np.allclose(samples, LEVEL, atol=1e-6))


def test_a_take_fades_where_it_meets_silence_and_only_there(tmp_path, movies):
    takes = _takes(tmp_path, movies)
    a, b, c = takes["a"], takes["b"], takes["c"]
    n = EDGE_FADE_SAMPLES
    assert n == SAMPLE_RATE * 5 // 1000  # 5 ms

    # a starts the timeline: it fades in. Its end is its handle into b's crossfade: kept.
    assert _faded_in(a) and _steady(a[n:])
    # b: its start is its handle in that crossfade (kept); it ends before a gap (faded out).
    assert _steady(b[:-n]) and _faded_in(b[::-1])
    # c follows the gap and ends before a clip that has no sound (offline): both ends fade.
    assert _faded_in(c) and _faded_in(c[::-1]) and _steady(c[n:-n])


def test_a_hard_cut_asked_for_stays_a_cut(tmp_path, movies):
    """--cut-handle 0: a and b meet sample to sample; a fade on each side would dip the sound
    there to silence, which a hard cut does not."""
    takes = _takes(tmp_path, movies, cut_handle_seconds=0.0)
    a, b = takes["a"], takes["b"]
    assert _faded_in(a) and _steady(a[EDGE_FADE_SAMPLES:])
    assert _steady(b[:-EDGE_FADE_SAMPLES]) and _faded_in(b[::-1])


def test_a_take_shorter_than_two_fades_fades_over_half_of_it_each_side():
    from v2a.media.audio import fade_edges

    take = np.full(101, LEVEL, np.float32)
    faded = fade_edges(take, fade_in=True, fade_out=True)
    assert len(faded) == 101 and faded[50] == LEVEL and np.all(take == LEVEL)  # a copy
    assert faded[0] < 1e-3 * LEVEL and faded[-1] < 1e-3 * LEVEL
    assert np.all(np.diff(faded[:51]) > 0) and np.all(np.diff(faded[50:]) < 0)
