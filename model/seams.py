"""A seam measure for windowed generation: is the sound any less continuous where windows meet?

Spectral flux (mean absolute change of log-mel between consecutive frames) at the window
boundaries, divided by the median flux over the whole clip: about 1 when the boundaries are as
smooth as anywhere else; a hard cut between independently generated windows shows as a peak.
"""

from __future__ import annotations

import numpy as np

from model.audio_codec import MelCodec
from model.config import ModelConfig
from model.sampler import window_starts


def window_boundaries(cfg: ModelConfig, num_samples: int) -> list[float]:
    """Seconds where one window starts or ends inside the clip (empty for a single window)."""
    from model.audio_codec import num_frames

    tokens = max(int(np.ceil(num_frames(cfg.audio, num_samples) / cfg.net.patch)), cfg.net.window_tokens)
    starts = window_starts(tokens, cfg.net.window_tokens, cfg.sampler.overlap_tokens)
    token_seconds = cfg.net.patch * cfg.audio.hop / cfg.audio.sample_rate
    edges = {s for s in starts if s > 0} | {s + cfg.net.window_tokens for s in starts[:-1]}
    return sorted(e * token_seconds for e in edges)


def seam_ratio(samples_48k: np.ndarray, boundaries: list[float], codec: MelCodec) -> float:
    """Mean spectral flux within ±1 frame of the boundaries over the clip's median flux."""
    if not boundaries:
        return 1.0
    mel = codec.encode(np.asarray(samples_48k, dtype=np.float32))
    flux = np.abs(np.diff(mel, axis=0)).mean(axis=1)  # flux[i]: change from frame i to i + 1
    rate = codec.cfg.sample_rate / codec.cfg.hop
    near = set()
    for seconds in boundaries:
        centre = int(round(seconds * rate))
        near.update(i for i in range(centre - 2, centre + 2) if 0 <= i < len(flux))
    return float(flux[sorted(near)].mean() / max(np.median(flux), 1e-8))
