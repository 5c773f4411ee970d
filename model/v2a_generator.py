"""The trained model behind the `Generator` seam the timeline code, server and eval use."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from model.encoders import file_sha256
from model.v2a_model import MAX_SAMPLES, V2AModel, read_info
from v2a.contracts import GenerationParams, ProgressCallback

#: The shipped checkpoint (committed, < 50 MB); `load_generator("default")` uses it.
DEFAULT_CHECKPOINT = Path(__file__).resolve().parent / "checkpoints" / "v2a-default.safetensors"


class V2AGenerator:
    """Flow-matching video-to-audio model loaded from one self-describing checkpoint."""

    name = "v2a-flow"
    frames_on_demand = True  # the model reads the picture a few seconds at a time (v2a/contracts.py)
    max_samples = MAX_SAMPLES  # the longest clip it makes (v2a/contracts.py)

    def __init__(self, checkpoint: str | Path | None = None) -> None:
        self.checkpoint = Path(checkpoint) if checkpoint else DEFAULT_CHECKPOINT
        if not self.checkpoint.is_file():
            raise FileNotFoundError(f"model checkpoint not found: {self.checkpoint}")
        self.model = V2AModel.load(str(self.checkpoint))
        self.frame_rate = float(self.model.config.visual.frame_rate)
        self.frame_size = int(self.model.config.visual.frame_size)
        self._sha256 = file_sha256(str(self.checkpoint))
        self._info = read_info(str(self.checkpoint))  # once: provenance is asked for every clip

    def generate(
        self, frames: np.ndarray, fps: float, num_samples: int, params: GenerationParams,
        progress: ProgressCallback | None = None, cancel: threading.Event | None = None,
        kept: tuple[int, int] | None = None,
    ) -> np.ndarray:
        return self.model.generate(
            frames, fps, num_samples, prompt=params.prompt or None,
            negative_prompt=params.negative_prompt or None, seed=params.seed,
            steps=params.steps or None, cfg_strength=params.cfg_strength or None,
            progress=progress, cancel=cancel, kept=kept,
        )

    def provenance(self) -> dict:
        sampler = self.model.config.sampler
        return {
            "generator": self.name,
            "checkpoint": self.checkpoint.name,
            "checkpoint_sha256": self._sha256,
            "default_steps": sampler.steps,
            "default_cfg_strength": sampler.cfg_strength,
            "default_prompt_strength": sampler.prompt_strength,
            "sampler": sampler.method,
            "guidance_interval": [sampler.guidance_from, sampler.guidance_until],
            "time_shift": sampler.time_shift,
            "noise_churn": sampler.noise_churn,
            "window_grids": sampler.window_grids,
            "quiet_redraws": sampler.quiet_redraws,
            "quiet_peak_dbfs": sampler.quiet_peak_dbfs,
            "decoder": self.model.config.audio.decoder,
            "trained": self._info,
        }
