"""Plain data passed between the layers: timeline planning, media, generators, server.

Nothing here knows OTIO, torch or gRPC. The timeline code produces `Segment`s, a `Generator`
turns frames into samples, and the write-back consumes `GeneratedAudio`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Protocol

import numpy as np

#: The one place that knows the output sample rate.
SAMPLE_RATE = 48_000
#: Every take is written as mono PCM of this many bits (v2a/media/audio.py); timelines declare it.
SAMPLE_BITS = 24
TAKE_CHANNELS = 1

#: Called with (done, total) as work advances; total may be 0 when unknown.
ProgressCallback = Callable[[int, int], None]


class GenerationCancelled(Exception):
    """Raised by a generator or the pipeline when a cancel event was set mid-work."""


def check_cancel(cancel: threading.Event | None, why: str = "generation cancelled") -> None:
    """Raise GenerationCancelled(`why`) if `cancel` is set (None: nothing to cancel)."""
    if cancel is not None and cancel.is_set():
        raise GenerationCancelled(why)


@dataclass(frozen=True)
class ImageSequence:
    """An image-sequence media reference, resolved to a folder on disk."""

    directory: str
    name_prefix: str
    name_suffix: str
    start_frame: int
    frame_step: int
    rate: float
    frame_zero_padding: int

    def frame_path(self, frame_number: int) -> str:
        number = str(frame_number).zfill(self.frame_zero_padding)
        return f"{self.directory.rstrip('/')}/{self.name_prefix}{number}{self.name_suffix}"


@dataclass(frozen=True)
class MediaSource:
    """Where a clip's picture comes from, and whether it was found."""

    referenced: str  # the path or URL the timeline names, as written
    path: str | None  # resolved local path; None when offline
    media_start: float = 0.0  # seconds: source time at the first frame of the file
    rate: float | None = None  # the media's own frame rate when known
    image_sequence: ImageSequence | None = None

    @property
    def offline(self) -> bool:
        return self.path is None and self.image_sequence is None


@dataclass(frozen=True)
class Segment:
    """One video clip range whose picture is seen, and the media frames that feed it.

    Record values are relative to the timeline's start (its global start time excluded) and in
    samples at SAMPLE_RATE, rounded from exact rational frame times so that adjacent clips tile
    without gaps or overlaps. Source time maps from record time linearly:
    ``source_time(t) = source_start + speed * t`` for t in seconds from the record start
    (speed 1 normal, 2 fast, -1 reverse, 0 freeze frame).
    """

    clip_id: str
    clip_name: str
    track_index: int
    track_name: str
    timeline_rate: float
    record_start_frame: int  # in timeline frames from the timeline start
    record_frames: int
    start_sample: int
    num_samples: int
    media: MediaSource
    source_start: float  # seconds, in the media's own timecode space
    speed: float = 1.0
    handle_before_samples: int = 0  # extra sound generated before the in point (transitions)
    handle_after_samples: int = 0
    # Picture beyond the handles that the generator sees too and the take does not keep: the
    # model makes the edges of what it is shown quiet, so a take's own ends are kept away from
    # them (docs/model.md, "Context beyond the handles"). Limited to the media, like handles.
    context_before_samples: int = 0
    context_after_samples: int = 0
    status: str = "ok"  # "ok" or "offline" / "invalid"; see `problem`
    problem: str = ""  # why the segment cannot be generated, naming what and where
    # What the edit's own `v2a:` markers ask of this clip's sound (otio_adapters/prompts.py);
    # a prompt given to the run wins over them.
    prompt: str = ""
    negative_prompt: str = ""
    # The timeline's start timecode in its frames (01:00:00:00 at 24 fps: 86,400), for naming
    # the clip at the timecode the editor sees in messages of a failure (`record_start_frame`
    # counts from it).
    timeline_start_frame: int = 0

    @property
    def duration(self) -> float:
        return self.num_samples / SAMPLE_RATE

    @property
    def generated_samples(self) -> int:
        """Samples of the take: the record range plus its handles."""
        return self.handle_before_samples + self.num_samples + self.handle_after_samples

    def seen(self) -> Segment:
        """The segment as the generator is shown it: its handles reaching over the context."""
        return replace(
            self,
            handle_before_samples=self.handle_before_samples + self.context_before_samples,
            handle_after_samples=self.handle_after_samples + self.context_after_samples,
            context_before_samples=0,
            context_after_samples=0,
        )


#: The most sampling steps a request may ask for. Samplers need tens; the time grid and the work
#: grow with the count, and 2e9 steps ate the server's memory before the first cancel check.
MAX_STEPS = 1000


@dataclass(frozen=True)
class GenerationParams:
    prompt: str = ""
    negative_prompt: str = ""
    seed: int = 0
    steps: int = 0  # 0: the generator's own default; at most MAX_STEPS
    cfg_strength: float = 0.0  # 0: the generator's own default


@dataclass(frozen=True)
class GeneratedAudio:
    """A generated sound file for one segment, and where it sits."""

    clip_id: str
    path: str
    start_sample: int  # record start on the timeline, in samples
    num_samples: int  # record length: the part that sits under the picture
    handle_before_samples: int
    handle_after_samples: int
    provenance: dict = field(default_factory=dict)


class Generator(Protocol):
    """The only thing the timeline code knows of a sound model.

    `frames` is uint8 (T, H, W, 3) decoded at `frame_rate` frames per second at `frame_size`
    square pixels; the result is float32 mono of exactly `num_samples` samples at SAMPLE_RATE.
    A generator whose `frames_on_demand` is true is handed them undecoded instead
    (v2a.media.frames.SegmentFrames: `len`, `shape`, `dtype`, `frames[array of frame numbers]`
    decodes those, `np.asarray(frames)` all of them), so that a long take need not be in memory
    whole; a decoding failure then raises MediaError from inside `generate`.
    A generator with a `max_samples` makes clips of at most that many samples: a longer clip
    fails with a message saying so, before any work (the context beyond its handles is dropped
    first if that is enough).
    `kept`: the samples [start, end) the caller keeps, the rest being context it trims off (None:
    all); a generator may judge its sound by them (v2a's draws a near-silent one again).
    """

    name: str
    frame_rate: float
    frame_size: int

    def generate(
        self,
        frames: np.ndarray,
        fps: float,
        num_samples: int,
        params: GenerationParams,
        progress: ProgressCallback | None = None,
        cancel: threading.Event | None = None,
        kept: tuple[int, int] | None = None,
    ) -> np.ndarray: ...

    def provenance(self) -> dict:
        """What produced the sound: generator name, checkpoint and its hash, and so on."""
        ...


# --- what a caller (CLI or server) asks of the pipeline, and what it hears back -----------------


@dataclass(frozen=True)
class ClipAddress:
    """Names one clip: by the id v2a gave it, or by track and record time when a format dropped it."""

    clip_id: str = ""
    track: str = ""  # track name, or its index as a string
    record_time: float | None = None  # seconds from the timeline start, inside the clip

    @classmethod
    def from_text(cls, text: str) -> ClipAddress:
        """`--clip` text, as `v2a generate` and `v2a client submit`/`regenerate` take it:
        TRACK@SECONDS (record time from the timeline start), else a clip id."""
        track, at, seconds = text.rpartition("@")
        if at and track:
            try:
                return cls(track=track, record_time=float(seconds))
            except ValueError:
                pass
        return cls(clip_id=text)


@dataclass(frozen=True)
class Selection:
    """Which clips to generate. Empty everywhere: every visible clip of every enabled video track."""

    tracks: tuple[str, ...] = ()
    clips: tuple[ClipAddress, ...] = ()
    time_range: tuple[float, float] | None = None  # seconds from the timeline start


@dataclass(frozen=True)
class GenerationRequest:
    timeline_path: str
    out_dir: str
    input_format: str = ""  # adapter name; empty: detect from the file extension
    output_format: str = ""  # empty: the format it came in
    adapter_options: dict = field(default_factory=dict)  # e.g. {"rate": 25} for CMX 3600
    relink_roots: tuple[str, ...] = ()
    selection: Selection = Selection()
    params: GenerationParams = GenerationParams()
    # Sound generated past each hard cut (where media exists), so the write-back can lay a short
    # crossfade there instead of a hard audio cut: 2 frames at 25 fps.
    cut_handle_seconds: float = 0.08
    # Take n of a clip is generated with seed params.seed + n - 1, so running again on a written
    # timeline adds a new sound, not a copy of the last take (the CLI without --seed). False: every
    # take uses params.seed as given (the server, which picks its own seeds per take).
    seed_per_take: bool = False
    # Each take brought to this integrated loudness (LUFS) by one gain, its true peak kept at or
    # under -1 dBTP (v2a.media.loudness.normalize_loudness). None: each take as the model made it,
    # so a quiet scene stays quieter than a loud one.
    loudness_target_lufs: float | None = None


@dataclass(frozen=True)
class ClipEvent:
    """Progress of one clip: queued, running (with step progress), done, failed, skipped."""

    clip_id: str
    clip_name: str
    state: str
    step: int = 0
    total_steps: int = 0
    media_path: str = ""  # the clip's source media
    message: str = ""
    output_path: str = ""  # on "done": the take file just written for this clip


@dataclass(frozen=True)
class GenerationResult:
    timeline_path: str  # the written timeline, in the requested format where it can carry it;
    # empty when no clip could be generated (nothing was written)
    fallback_otio_path: str = ""  # an .otio written beside it when the format could not
    format_note: str = ""  # why a fallback was needed, or why no timeline was written
    clips: tuple[ClipEvent, ...] = ()  # final state of each planned clip
    generated: tuple[GeneratedAudio, ...] = ()
