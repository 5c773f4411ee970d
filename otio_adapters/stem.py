"""v2a's sound as the timeline plays it, in one file: a stem an audio post engineer can lay
into a DAW at the timeline's start timecode, or an editor can use where a format keeps no
audio of v2a's (an EDL), with nothing to relink.

`v2a generate --stem FILE.wav` renders the written timeline's v2a tracks: each clip's active
take under its record range, silence in gaps, the crossfades v2a laid at cuts as equal-power
crossfades (what Premiere's Constant Power and Final Cut's +3 dB crossfades play for two
unrelated sounds), clips and tracks the editor disabled left out. The file is 48 kHz mono, as
long as the timeline's picture to the sample, and its `bext` time reference is the timeline's
start, so a DAW places it where the picture starts.

The editor's own audio tracks are not in it (it is v2a's stem, not a mix), nor any effect or
clip gain an editor put on v2a's clips.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, replace
from fractions import Fraction

import numpy as np
import opentimelineio as otio
import soundfile

from otio_adapters import timing
from otio_adapters.media_refs import RelinkIndex, locate_file
from otio_adapters.plan import timeline_start
from otio_adapters.takes import V2A_KEY, clip_file_stem, to_samples, track_name, track_stem
from v2a.contracts import SAMPLE_RATE
from v2a.media.audio import ProductionNotes, write_wav
from v2a.media.errors import MediaError
from v2a.media.loudness import Loudness, measure_loudness


@dataclass(frozen=True)
class _Placed:
    """A v2a clip as a track plays it: its take, where in the take its record range starts,
    and the fades the crossfades beside it give it (samples)."""

    name: str
    path: str
    start: int  # record start, samples from the timeline's start
    length: int
    file_offset: int  # the take's sample under `start`
    fade_in: tuple[int, int] = (0, 0)  # (before start, after start) of a crossfade into it
    fade_out: tuple[int, int] = (0, 0)  # (before end, after end) of a crossfade out of it
    clip_id: str = ""


def picture_samples(timeline: otio.schema.Timeline) -> int:
    """How long the timeline's picture is, in samples: its longest video track (the whole
    stack where it has none)."""
    videos = timeline.video_tracks()
    durations = [track.duration() for track in videos] if videos else [timeline.tracks.duration()]
    return max((to_samples(duration) for duration in durations), default=0)


def write_stem_of_file(timeline_path: str, path: str) -> Loudness:
    """`write_stem` of a timeline file v2a wrote, its takes found as v2a finds them: beside it,
    or inside a bundle (an .otioz unpacked once, as v2a reads one). Pass the .otio v2a wrote
    beside a format that loses part of the result (an EDL): it is the whole of it."""
    from otio_adapters.media_refs import media_base_dir
    from otio_adapters.read import read_timeline

    return write_stem(read_timeline(timeline_path), path, media_base_dir(timeline_path))


def write_stem(timeline: otio.schema.Timeline, path: str, base_dir: str = "") -> Loudness:
    """Render the timeline's v2a sound (`render_v2a_sound`) into a Broadcast WAV at `path`
    (atomically) that starts at the timeline's start timecode; returns its loudness."""
    sound = render_v2a_sound(timeline, base_dir)
    loudness = measure_loudness(sound)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)  # as --out's is made
    start = timing.to_samples(timeline_start(timeline))
    name = timeline.name or os.path.splitext(os.path.basename(path))[0]
    write_wav(
        path, sound,
        description=f"v2a stem of {name!r}: its v2a tracks from the timeline's start, "
                    f"{len(sound)} samples",
        originator="v2a",
        time_reference_samples=start,
        coding_history=f"A=PCM,F={SAMPLE_RATE},W=24,M=mono,T=v2a stem",
        loudness=loudness,
        production=ProductionNotes(project=name, scene=name, take=1,
                                   note="v2a stem: the v2a tracks as the timeline plays them",
                                   track=track_name("SFX")),
    )
    return loudness


def render_v2a_sound(timeline: otio.schema.Timeline, base_dir: str = "") -> np.ndarray:
    """float32 mono at SAMPLE_RATE from the timeline's start to the end of its picture: the sum
    of its enabled v2a tracks. `base_dir`: where relative take paths start (the timeline's
    folder). MediaError names the clip whose take is missing or not 48 kHz."""
    sound = np.zeros(picture_samples(timeline), np.float32)
    for track in timeline.tracks:
        if track_stem(track) and track.enabled:  # v2a's, as it knows them on a re-run
            for placed in _placed_clips(track, base_dir):
                _add(sound, placed)
    return sound


def _placed_clips(track: otio.schema.Track, base_dir: str) -> list[_Placed]:
    """The enabled clips of `track` with their record ranges and crossfades, in one pass."""
    placed: list[_Placed] = []
    position = Fraction(0)  # exact seconds: frame and sample durations may mix on one track
    fade_into_next = (0, 0)
    last_was_placed = False  # the item just before is the last of `placed`
    for item in track:
        if isinstance(item, otio.schema.Transition):
            fade = (to_samples(item.in_offset), to_samples(item.out_offset))
            if last_was_placed:
                placed[-1] = replace(placed[-1], fade_out=fade)
            fade_into_next, last_was_placed = fade, False
            continue
        start, position = timing.to_samples(position), position + timing.seconds(item.duration())
        last_was_placed = isinstance(item, otio.schema.Clip) and item.enabled
        if last_was_placed:
            placed.append(_Placed(item.name, _take_path(item, base_dir), start,
                                  timing.to_samples(position) - start, _file_offset(item),
                                  fade_in=fade_into_next, clip_id=_clip_id(item)))
        fade_into_next = (0, 0)
    return placed


#: A take that starts or stops above this level where it meets silence plays a step there, a
#: click (a take's own 5 ms fade leaves its edge some 100 dB under its level).
STEP_FLOOR_DB = -60.0


@dataclass(frozen=True)
class Step:
    """An edge of a v2a clip where its sound meets silence and its take plays a step."""

    clip_name: str
    clip_id: str
    at: int  # samples from the timeline's start
    level_db: float  # dBFS of the take's sample at the edge: the step


def steps_at_silence(timeline: otio.schema.Timeline, base_dir: str = "") -> list[Step]:
    """The edges of the enabled v2a clips where no crossfade or other clip of v2a's meets them
    and the take is played from (or to) a sample above STEP_FLOOR_DB. A take fades where it
    meets silence when it is made (docs/media.md, "Edges"); one whose edge came to meet
    silence since (a shot beside it lifted, its own trimmed at a gap, a clip beside it that
    failed in the same run) is played from inside its file there, at full level. Takes that
    cannot be read are left out (the note on offline takes names them)."""
    steps = []
    floor = 10 ** (STEP_FLOOR_DB / 20)
    for track in timeline.tracks:
        if not (track_stem(track) and track.enabled):
            continue
        try:
            placed = _placed_clips(track, base_dir)
        except MediaError:
            continue
        starts = {item.start for item in placed}
        ends = {item.start + item.length for item in placed}
        for item in placed:
            end = item.start + item.length
            edges = []
            if item.fade_in == (0, 0) and item.start not in ends:
                edges.append((item.start, item.file_offset))
            if item.fade_out == (0, 0) and end not in starts:
                edges.append((end, item.file_offset + item.length - 1))
            for at, offset in edges:
                try:
                    level = abs(float(_read(item, offset, 1)[0]))
                except MediaError:
                    break
                if level > floor:
                    steps.append(Step(item.name, item.clip_id, at, 20 * math.log10(level)))
    return steps


def _clip_id(clip: otio.schema.Clip) -> str:
    return clip.metadata.get(V2A_KEY, {}).get("clip_id") or clip_file_stem(clip)


def _take_path(clip: otio.schema.Clip, base_dir: str) -> str:
    """The clip's take file, found as the planner finds media (relative to the timeline, in
    either Unicode spelling of its name)."""
    url = getattr(clip.media_reference, "target_url", "") or ""
    if not url:
        raise MediaError(f"v2a clip {clip.name!r} has no take file on the timeline")
    located = locate_file(url, base_dir, RelinkIndex())
    if located.path is None:
        raise MediaError(f"v2a clip {clip.name!r}: cannot read its take ({located.looked_for})")
    return located.path


def _file_offset(clip: otio.schema.Clip) -> int:
    """The take's sample at the clip's record start: its source start from the file's start."""
    start = to_samples(clip.source_range.start_time)
    available = clip.media_reference.available_range
    return start - (to_samples(available.start_time) if available is not None else 0)


def _add(sound: np.ndarray, placed: _Placed) -> None:
    """Mix one clip into `sound`, with the handles its crossfades play."""
    before = placed.fade_in[0]  # a crossfade into it plays its take from before its start
    after = placed.fade_out[1]  # one out of it, past its end
    first, last = placed.start - before, placed.start + placed.length + after
    samples = _read(placed, placed.file_offset - before, last - first)
    gain = np.ones(len(samples), np.float32)
    rise, fall = sum(placed.fade_in), sum(placed.fade_out)
    if rise:  # a clip shorter than its crossfades plays only part of each
        gain[:rise] *= _equal_power(rise, rising=True)[: len(gain)]
    if fall:
        gain[max(0, len(gain) - fall):] *= _equal_power(fall, rising=False)[max(0, fall - len(gain)):]
    lo, hi = max(first, 0), min(last, len(sound))
    if hi > lo:
        sound[lo:hi] += (samples * gain)[lo - first : hi - first]


def _read(placed: _Placed, offset: int, frames: int) -> np.ndarray:
    """`frames` samples of the take from `offset` (silence where the file has none: a take
    whose handles a crossfade outruns plays silence there, as a DAW plays past a file's end)."""
    out = np.zeros(frames, np.float32)
    try:
        with soundfile.SoundFile(placed.path) as take:
            if take.samplerate != SAMPLE_RATE:
                raise MediaError(f"v2a clip {placed.name!r}: its take {placed.path} is "
                                 f"{take.samplerate} Hz, not {SAMPLE_RATE}")
            lo, hi = max(offset, 0), min(offset + frames, take.frames)
            if hi > lo:
                take.seek(lo)
                data = take.read(hi - lo, dtype="float32", always_2d=True)
                out[lo - offset : hi - offset] = data.mean(axis=1)
    except (OSError, RuntimeError) as error:  # soundfile raises RuntimeError for unreadable files
        raise MediaError(f"v2a clip {placed.name!r}: cannot read its take {placed.path}: {error}") from error
    return out


def _equal_power(length: int, rising: bool) -> np.ndarray:
    """sin (rising) or cos (falling) over a quarter turn: two unrelated sounds crossfaded with
    these keep their summed power through the fade."""
    t = (np.arange(length, dtype=np.float64) + 0.5) / length
    curve = np.sin(t * math.pi / 2) if rising else np.cos(t * math.pi / 2)
    return curve.astype(np.float32)
