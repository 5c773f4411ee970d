"""A fast stepping generator for the server tests (`--generator py:server_test_generators:slow`).

The server's behaviour under test (progress, cancel within a step, restarts) needs a generator
whose length and step count the test controls; the sound itself is a plain sine whose loudness
follows the picture's brightness, so it still depends on the decoded frames.
"""

from __future__ import annotations

import itertools
import os
import signal
import threading
import time

import numpy as np

from v2a.contracts import SAMPLE_RATE, GenerationCancelled, GenerationParams


class SteppingSine:
    name = "stepping-sine"
    frame_rate = 12.0
    frame_size = 32

    def __init__(self, steps: int = 4, step_seconds: float = 0.0):
        self.steps = steps
        self.step_seconds = step_seconds

    def generate(self, frames: np.ndarray, fps: float, num_samples: int,
                 params: GenerationParams, progress=None,
                 cancel: threading.Event | None = None, kept=None) -> np.ndarray:
        steps = params.steps or self.steps
        for step in range(steps):
            if cancel is not None and cancel.is_set():
                raise GenerationCancelled("cancelled")
            time.sleep(self.step_seconds)
            if progress:
                progress(step + 1, steps)
        brightness = float(frames.mean()) / 255.0 if frames.size else 0.5
        t = np.arange(num_samples) / SAMPLE_RATE
        hz = 220.0 * (1 + params.seed % 7)
        return (0.2 + 0.5 * brightness) * np.sin(2 * np.pi * hz * t).astype(np.float32)

    def provenance(self) -> dict:
        return {"generator": self.name, "kind": "test generator", "checkpoint_hash": "none"}


def fast() -> SteppingSine:
    return SteppingSine(steps=4)


def slow() -> SteppingSine:
    return SteppingSine(steps=40, step_seconds=float(os.environ.get("V2A_TEST_STEP_SECONDS", "0.05")))


class _Redrawing(SteppingSine):
    """Samples every clip twice, reporting each pass's steps from 1, as the shipped model does
    when it draws a near-silent draw again (SamplerConfig.quiet_redraws)."""

    def generate(self, frames, fps, num_samples, params, progress=None, cancel=None, kept=None):
        super().generate(frames, fps, num_samples, params, progress, cancel, kept)
        return super().generate(frames, fps, num_samples, params, progress, cancel, kept)


def redrawing() -> SteppingSine:
    return _Redrawing(steps=4)


class _Broken(SteppingSine):
    def generate(self, frames, fps, num_samples, params, progress=None, cancel=None, kept=None):
        raise RuntimeError("the model ran out of memory")


def broken() -> SteppingSine:
    """Every clip fails (a job that writes nothing)."""
    return _Broken()


def killed_at_a_write() -> SteppingSine:
    """`slow`, in a server that kills itself with SIGKILL at its Nth timeline write
    (V2A_TEST_KILL_AT_WRITE=N): just before the file is renamed into place, just after it, or
    between the two files a format that cannot carry the whole result gets (the timeline and the
    .otio beside it) (V2A_TEST_KILL_WHEN=before|after|between): the sides of the instant between
    the rename and the job store's save. The write itself is the real one."""
    import otio_adapters.write
    import v2a.pipeline

    write, writes = v2a.pipeline.write_timeline, itertools.count(1)
    kill_at, when = int(os.environ["V2A_TEST_KILL_AT_WRITE"]), os.environ["V2A_TEST_KILL_WHEN"]

    def kill() -> None:
        os.kill(os.getpid(), signal.SIGKILL)

    def write_then_kill(*args, **kwargs):
        now = next(writes) == kill_at
        if now and when == "before":
            kill()
        if now and when == "between":
            write_file = otio_adapters.write._write_through_staging

            def write_file_then_kill(*file_args, **file_kwargs):
                write_file(*file_args, **file_kwargs)
                kill()

            otio_adapters.write._write_through_staging = write_file_then_kill
        written = write(*args, **kwargs)
        if now:
            kill()
        return written

    v2a.pipeline.write_timeline = write_then_kill
    return slow()
