"""Test doubles for the `Generator` seam that the pipeline tests share (on the path through
`pythonpath` in pyproject.toml)."""

from __future__ import annotations

import numpy as np

from v2a.contracts import GenerationCancelled


class SineGenerator:
    """A sine of exactly the requested length, in `steps` steps; honours cancel.

    Each call's sine has another pitch (`calls`), so two takes differ. `on_step(call, step)` runs
    before each step (a test can cancel there); `fail_on_frames` makes a call with that many
    frames raise, as a model that blows up on one clip."""

    name = "sine-test-double"
    frame_rate = 2.0
    frame_size = 16

    def __init__(self, steps: int = 3, on_step=None, fail_on_frames: int | None = None):
        self.steps, self.on_step, self.fail_on_frames = steps, on_step, fail_on_frames
        self.calls = 0

    def generate(self, frames, fps, num_samples, params, progress=None, cancel=None, kept=None):
        # The pipeline hands frames decoded at the generator's own size.
        assert frames.ndim == 4 and frames.shape[1:] == (self.frame_size, self.frame_size, 3)
        self.calls += 1
        if self.fail_on_frames is not None and len(frames) == self.fail_on_frames:
            raise RuntimeError("model blew up")
        for step in range(self.steps):
            if self.on_step:
                self.on_step(self.calls, step)
            if cancel is not None and cancel.is_set():
                raise GenerationCancelled("cancelled at step")
            if progress:
                progress(step + 1, self.steps)
        return 0.1 * np.sin(np.arange(num_samples, dtype=np.float32) * 0.05 * self.calls)

    def provenance(self) -> dict:
        return {"generator": self.name, "kind": "test double", "checkpoint_sha256": "none"}
