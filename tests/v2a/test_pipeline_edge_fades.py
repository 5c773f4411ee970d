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
    # c follows the gap and ends before a clip that has no sound (offline): both ends fade,
    # its end where the timeline stops playing it, before its handle after (2 frames), which
    # rises again from there (a crossfade into that clip once it has sound plays it).
    handle = _samples(2)
    played, after = c[:-handle], c[-handle:]
    assert _faded_in(played) and _faded_in(played[::-1]) and _steady(played[n:-n])
    assert _faded_in(after) and _steady(after[n:])


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


def _played(tmp_path, movies, **request) -> np.ndarray:
    """v2a's sound as the written timeline plays it (the stem), from the timeline's start."""
    from otio_adapters.read import read_timeline
    from otio_adapters.stem import render_v2a_sound

    result = run_generation(
        GenerationRequest(timeline_path=_edit(tmp_path, movies), out_dir=str(tmp_path / "out"),
                          **request),
        _Steady(),
    )
    return render_v2a_sound(read_timeline(result.timeline_path), str(tmp_path / "out"))


def _samples(frames: int) -> int:
    return frames * SAMPLE_RATE // RATE


def test_a_take_played_from_inside_its_file_fades_where_it_meets_silence(tmp_path, movies):
    """A take's handle is not played where no sound meets it, so it is played from inside its
    file: c's handle after runs into the offline clip's range, and b (generated alone) has a
    handle before into a, which this run does not generate. Each fades where it is played to
    meet silence: before, c stopped and b started at full level in one sample."""
    from v2a.contracts import ClipAddress, Selection

    n = EDGE_FADE_SAMPLES
    sound = _played(tmp_path, movies)
    c_end = _samples(24 + 30 + 10 + 20)
    assert _faded_in(sound[c_end - 1 :: -1]), "c's played end (its handle after unplayed)"
    assert np.all(sound[c_end:] == 0)

    b_start = _samples(24)
    (tmp_path / "only_b").mkdir()
    only_b = Selection(clips=(ClipAddress(track="V1", record_time=1.5),))
    sound = _played(tmp_path / "only_b", movies, selection=only_b)
    assert np.all(sound[:b_start] == 0)  # a has no sound: b meets silence
    assert _faded_in(sound[b_start:]) and _steady(sound[b_start + n : b_start + 2 * n])


def test_a_faded_handle_crossfades_later_without_a_step(tmp_path, movies):
    """b generated alone fades in at its cut with a (silent then); a generated next crossfades
    into b's handle, which fades out towards that cut as b fades in after it: the sound dips
    there for a few ms (-3 dB at the cut for these steady takes) and steps nowhere."""
    from otio_adapters.read import read_timeline
    from otio_adapters.stem import render_v2a_sound
    from v2a.contracts import ClipAddress, Selection

    timeline, out = _edit(tmp_path, movies), str(tmp_path / "out")
    for seconds in (1.5, 0.5):  # b, then a
        only = Selection(clips=(ClipAddress(track="V1", record_time=seconds),))
        result = run_generation(
            GenerationRequest(timeline_path=timeline, out_dir=out, selection=only), _Steady())
    sound = render_v2a_sound(read_timeline(result.timeline_path), out)
    cut = _samples(24)
    around = sound[cut - _samples(2) : cut + _samples(2)]  # the crossfade, 2 + 2 frames
    assert np.abs(np.diff(around)).max() < 0.01 * LEVEL
    assert 0.69 * LEVEL < around.min() < 0.72 * LEVEL  # a at cos(45°) at the cut, b faded


def test_sound_of_a_deleted_shot_is_no_sound_beside_a_take(tmp_path, movies):
    """a's shot lifted out (a gap in its place) after a run: its sound leaves the track, so b,
    made again, meets silence there and fades in, though a's old clip was still on the track
    when the run began."""
    from otio_adapters.read import read_timeline
    from otio_adapters.stem import render_v2a_sound

    out = str(tmp_path / "out")
    first = run_generation(GenerationRequest(timeline_path=_edit(tmp_path, movies),
                                             out_dir=out), _Steady())
    timeline = read_timeline(first.timeline_path)
    video = timeline.video_tracks()[0]
    a = video[0]
    video[0] = otio.schema.Gap(source_range=TR(RT(0, RATE), a.duration()))
    lifted = str(tmp_path / "out" / "edges.otio")
    otio.adapters.write_to_file(timeline, lifted)
    result = run_generation(GenerationRequest(timeline_path=lifted, out_dir=out), _Steady())
    sound = render_v2a_sound(read_timeline(result.timeline_path), out)
    b_start = _samples(24)
    assert np.all(sound[:b_start] == 0)
    assert _faded_in(sound[b_start:])


def test_a_kept_take_that_comes_to_meet_silence_is_named_in_the_note(tmp_path, movies):
    """a's shot lifted out, then only c made again: b keeps its take, made to crossfade with
    a's sound, so it starts at full level two frames into its file where a's sound was. Its
    file cannot fade there now; the note says so and how to fix it (b made again fades)."""
    from v2a.contracts import ClipAddress, Selection

    out = str(tmp_path / "out")
    first = run_generation(GenerationRequest(timeline_path=_edit(tmp_path, movies),
                                             out_dir=out), _Steady())
    assert "click" not in first.format_note
    timeline = otio.adapters.read_from_file(first.timeline_path)
    video = timeline.video_tracks()[0]
    video[0] = otio.schema.Gap(source_range=TR(RT(0, RATE), video[0].duration()))
    lifted = str(tmp_path / "out" / "edges.otio")
    otio.adapters.write_to_file(timeline, lifted)
    only_c = Selection(clips=(ClipAddress(track="V1", record_time=3.0),))
    result = run_generation(GenerationRequest(timeline_path=lifted, out_dir=out,
                                              selection=only_c), _Steady())
    assert "'V2A b' at 01:00:01:00 (-12.0 dBFS)" in result.format_note, result.format_note
    assert "--clips" in result.format_note and "'V2A c'" not in result.format_note


class _FirstFails(_Steady):
    """Fails the first clip it is asked for (a), as a generator error does."""

    calls = 0

    def generate(self, *args, **kwargs):
        self.calls += 1
        if self.calls == 1:
            raise RuntimeError("out of memory")
        return super().generate(*args, **kwargs)


def test_a_take_beside_a_clip_that_failed_in_the_same_run_is_named_in_the_note(tmp_path,
                                                                               movies):
    """b was made while a still counted as sound (its crossfade handle kept whole); a failed
    after, so b starts at full level where a's sound would have been."""
    result = run_generation(
        GenerationRequest(timeline_path=_edit(tmp_path, movies), out_dir=str(tmp_path / "out")),
        _FirstFails())
    assert [c.state for c in result.clips][:2] == ["failed", "done"]
    assert "'V2A b' at 01:00:01:00 (-12.0 dBFS)" in result.format_note, result.format_note
