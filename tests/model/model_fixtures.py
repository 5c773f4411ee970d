"""Shared helpers for the model tests: a tiny model config and a tiny on-disk corpus."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import soundfile

from model.config import ModelConfig, from_dict
from v2a.contracts import SAMPLE_RATE

# A model small enough to train and sample in well under a second per step on one core.
TINY_MODEL = {
    "audio": {"griffinlim_iters": 4},
    "visual": {"frame_size": 32, "sync_size": 16},
    "net": {"dim": 32, "depth": 1, "heads": 2, "patch": 4, "window_tokens": 8,
            "sync_dim": 16},
    "sampler": {"steps": 2, "overlap_tokens": 2},
}


def tiny_config() -> ModelConfig:
    return from_dict(ModelConfig, TINY_MODEL)


def moving_frames(count: int, size: int = 32, event: int | None = None, seed: int = 0) -> np.ndarray:
    """Noise-textured frames with a bright square that appears at frame `event`."""
    rng = np.random.default_rng(seed)
    frames = np.repeat(rng.integers(0, 90, (1, size, size, 3), dtype=np.uint8), count, axis=0)
    if event is not None:
        frames[event:, size // 4 : size // 2, size // 4 : size // 2] = 250
    return frames


def write_tiny_corpus(root: Path, examples: int = 6, seconds: float = 1.0) -> Path:
    """A corpus in the layout of `v2a data build` (mp4 + 48 kHz WAV + manifest.jsonl)."""
    fps = 24
    rows = []
    (root / "train").mkdir(parents=True, exist_ok=True)
    for index in range(examples):
        rng = np.random.default_rng(index)
        event = int(rng.integers(4, int(seconds * fps) - 4))
        frames = moving_frames(int(seconds * fps), 32, event, seed=index)
        video, audio = f"train/ex{index}.mp4", f"train/ex{index}.wav"
        with av.open(str(root / video), "w", format="mp4") as container:
            stream = container.add_stream("libx264", rate=Fraction(fps))
            stream.width = stream.height = 32
            stream.pix_fmt = "yuv420p"
            for image in frames:
                container.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
            container.mux(stream.encode())
        samples = 0.001 * rng.standard_normal(int(seconds * SAMPLE_RATE))
        start = int(event / fps * SAMPLE_RATE)
        tone = 400 if index % 2 else 2000
        burst = np.arange(SAMPLE_RATE // 5) / SAMPLE_RATE
        samples[start : start + len(burst)] += 0.5 * np.sin(2 * np.pi * tone * burst) * np.exp(-burst * 20)
        soundfile.write(root / audio, samples.astype(np.float32), SAMPLE_RATE)
        rows.append({"id": f"ex{index}", "split": "train", "video": video, "audio": audio,
                     "caption": "a low thud" if index % 2 else "a high ping",
                     "class": "low" if index % 2 else "high", "onsets": [event / fps],
                     "duration": seconds, "source": "synthetic", "license": "CC0-1.0"})
    (root / "manifest.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    return root
