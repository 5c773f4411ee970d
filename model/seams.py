"""A seam measure for windowed generation: is the sound any less continuous where windows meet?

Spectral flux (mean absolute change of log-mel between consecutive frames) at the window
boundaries, divided by the median flux over the whole clip: about 1 when the boundaries are as
smooth as anywhere else; a hard cut between independently generated windows shows as a peak.
And level: mean power where two windows overlap against the rest, which flux cannot see, over
the whole clip and seam by seam (docs/model.md, "Seams").
"""

from __future__ import annotations

import numpy as np

from model.audio_codec import MelCodec
from model.config import ModelConfig
from model.sampler import window_starts
from v2a.contracts import SAMPLE_RATE


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


def overlap_spans(cfg: ModelConfig, num_samples: int) -> list[tuple[float, float]]:
    """(start, end) seconds of each span two neighbouring windows share."""
    from model.audio_codec import num_frames

    tokens = max(int(np.ceil(num_frames(cfg.audio, num_samples) / cfg.net.patch)), cfg.net.window_tokens)
    starts = window_starts(tokens, cfg.net.window_tokens, cfg.sampler.overlap_tokens)
    token_seconds = cfg.net.patch * cfg.audio.hop / cfg.audio.sample_rate
    return [(following * token_seconds, (start + cfg.net.window_tokens) * token_seconds)
            for start, following in zip(starts[:-1], starts[1:], strict=True)]


def overlap_level_db(samples_48k: np.ndarray, spans: list[tuple[float, float]]) -> float:
    """Mean power inside the overlap spans over the mean power outside them, in dB: about 0 when
    the windows' shared spans are as loud as the rest; negative for the periodic dip flux cannot
    see (a level change is smooth, so spectral flux misses it)."""
    samples = np.asarray(samples_48k, dtype=np.float64)
    inside = np.zeros(len(samples), bool)
    for start, end in spans:
        inside[int(start * SAMPLE_RATE) : int(end * SAMPLE_RATE)] = True
    if not inside.any() or inside.all():
        return 0.0
    power = samples**2
    return float(10 * np.log10(max(power[inside].mean(), 1e-20) / max(power[~inside].mean(), 1e-20)))


def seam_dips_db(samples_48k: np.ndarray, spans: list[tuple[float, float]],
                 floor_dbfs: float = -60.0) -> list[float]:
    """Per overlap span, its mean power over that of the stretches of the same length just before
    and after it, in dB: what a listener compares at one seam. Spans whose neighbourhood is below
    `floor_dbfs` (silence: nothing to dip from) are left out."""
    power = np.asarray(samples_48k, dtype=np.float64) ** 2
    dips = []
    for start, end in spans:
        first, last = int(start * SAMPLE_RATE), int(end * SAMPLE_RATE)
        width = last - first
        around = np.concatenate([power[max(0, first - width) : first], power[last : last + width]])
        if width <= 0 or around.size == 0 or 10 * np.log10(max(around.mean(), 1e-20)) < floor_dbfs:
            continue
        dips.append(float(10 * np.log10(max(power[first:last].mean(), 1e-20) / max(around.mean(), 1e-20))))
    return dips
