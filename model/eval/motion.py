"""Visual motion energy and its peaks, in plain numpy.

OpenCV's Farneback optical flow is not available here, so motion is measured by frame
differencing: the mean absolute change of a block-averaged grey image between consecutive frames.
That is the magnitude a dense optical flow would integrate for textured content, without its
direction. It peaks where something visibly moves fastest or changes suddenly (a hit, a step,
a camera jolt), which is what AV-Align and the onset-transfer baseline need.
"""

from __future__ import annotations

import numpy as np

#: Frames are averaged down to this many pixels a side before differencing (noise, speed).
_GRID = 40


def _grey_small(frames: np.ndarray) -> np.ndarray:
    """uint8 (T, H, W, 3) -> float32 (T, g, g) block-averaged luma."""
    frames = np.asarray(frames)
    grey = frames[..., :3].astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
    t, h, w = grey.shape
    gh, gw = min(_GRID, h), min(_GRID, w)
    bh, bw = h // gh, w // gw
    grey = grey[:, : gh * bh, : gw * bw].reshape(t, gh, bh, gw, bw).mean(axis=(2, 4))
    return grey / 255.0


def motion_energy(frames: np.ndarray) -> np.ndarray:
    """Per-frame motion energy, length T; entry t is the change from frame t-1 to t (0 at t=0)."""
    if len(frames) < 2:
        return np.zeros(len(frames), np.float32)
    grey = _grey_small(frames)
    diff = np.abs(np.diff(grey, axis=0)).mean(axis=(1, 2))
    return np.concatenate([[0.0], diff]).astype(np.float32)


def pick_peaks(
    envelope: np.ndarray, rate: float, min_gap_s: float, rel_threshold: float, abs_floor: float
) -> tuple[np.ndarray, np.ndarray]:
    """Local maxima of `envelope` (sampled at `rate` Hz): returns (times in s, strengths).

    A peak must be the maximum within +-min_gap_s, exceed `abs_floor`, and exceed the envelope's
    median by `rel_threshold` of the envelope's range (adaptive to overall loudness/motion).
    """
    env = np.asarray(envelope, np.float64)
    if env.size == 0 or env.max() <= abs_floor:
        return np.zeros(0), np.zeros(0)
    gap = max(1, int(round(min_gap_s * rate)))
    padded = np.pad(env, gap, mode="constant", constant_values=-np.inf)
    windows = np.lib.stride_tricks.sliding_window_view(padded, 2 * gap + 1)
    is_max = env >= windows.max(axis=1)
    floor = max(abs_floor, np.median(env) + rel_threshold * (env.max() - np.median(env)))
    idx = np.flatnonzero(is_max & (env > floor))
    # Plateaus give several equal maxima: keep the first of each run within the gap.
    kept: list[int] = []
    for i in idx:
        if not kept or i - kept[-1] > gap:
            kept.append(int(i))
    kept_arr = np.array(kept, dtype=int)
    return kept_arr / rate, env[kept_arr]


def motion_peaks(
    frames: np.ndarray, fps: float, min_gap_s: float = 0.12, rel_threshold: float = 0.3
) -> tuple[np.ndarray, np.ndarray]:
    """Times (s) and strengths of motion-energy peaks of a clip."""
    return pick_peaks(motion_energy(frames), fps, min_gap_s, rel_threshold, abs_floor=2e-3)
