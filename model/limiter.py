"""A look-ahead true-peak limiter for generated audio: no peak above the ceiling, between samples
too, and no hard clipping.

A generated mel can ask for more than full scale (one glass clip did, measured in the first
evaluation); hard clipping it at 1.0 turns the peak into a square edge an editor hears as a crack.
Here the gain dips smoothly *before* each over-ceiling peak and recovers after it: the needed gain
(ceiling / |x|) is held with a minimum filter over two ramp lengths, then smoothed over one ramp
length, so the smoothed gain at every sample is at most what that sample needs. Audio that never
crosses the ceiling is returned unchanged, bit for bit.

Peaks are measured between samples as well: a take whose samples stopped at -0.2 dBFS still
reached +0.47 dBTP between them (fifth audit, fourteenth session), which a delivery QC flags
and a sample-rate conversion can clip. 8x oversampled, twice a BS.1770 meter's 4x: a limiter
has to catch the peak itself, and 4x reads one that falls between its points low. Limited at
4x, white noise (full band) peaked 0.32-0.34 dB over the ceiling read at 32x, noise below
11 kHz (the model's band) 0.08 dB; at 8x 0.08-0.09 and 0.02 dB, for 0.43 s of CPU a minute
of loud audio where 4x took 0.31 (0.39 and 0.23 s for quiet audio, which is only read); 16x
left 0.02 dB for 0.71 s (`scripts/bench_limiter.py`, sound-edges session, a loaded 2-core
machine), where generating 5 minutes took 38.8 s (docs/media.md, "Loudness").
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import minimum_filter1d, uniform_filter1d
from scipy.signal import resample_poly

#: -0.2 dBTP: a little headroom for what a later codec may add.
CEILING = 10 ** (-0.2 / 20)
#: Oversampling of the true-peak estimate: twice BS.1770's 4x at 48 kHz (the module docstring).
OVERSAMPLE = 8
#: Gain ramps over 5 ms at 48 kHz: fast enough to catch a transient, slow enough not to buzz.
RAMP_SAMPLES = 240


def true_peaks(samples: np.ndarray) -> np.ndarray:
    """Each sample's peak magnitude including the signal between it and the next (OVERSAMPLE
    times oversampled); at least |sample|."""
    samples = np.asarray(samples, dtype=np.float32)
    if samples.size < 2:
        return np.abs(samples)
    between = np.abs(resample_poly(samples, OVERSAMPLE, 1))[: samples.size * OVERSAMPLE]
    return np.maximum(np.abs(samples), between.reshape(samples.size, OVERSAMPLE).max(axis=1))


def limit_peaks(samples: np.ndarray, ceiling: float = CEILING, ramp: int = RAMP_SAMPLES) -> np.ndarray:
    """float32 samples whose true peak is at most `ceiling`; unchanged when it is already."""
    samples = np.asarray(samples, dtype=np.float32)
    magnitude = true_peaks(samples)
    if samples.size == 0 or magnitude.max() <= ceiling:
        return samples
    needed = np.minimum(1.0, ceiling / np.maximum(magnitude, 1e-12))
    held = minimum_filter1d(needed, size=2 * ramp + 1, mode="nearest")
    gain = uniform_filter1d(held, size=ramp + 1, mode="nearest")
    # The moving mean of the held gain never exceeds `needed` at a peak (every value in the mean's
    # span is <= it); the final minimum guards float rounding.
    gain = np.minimum(gain, needed)
    return (samples * gain).astype(np.float32)
