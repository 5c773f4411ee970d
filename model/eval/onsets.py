"""Audio onsets by spectral flux (Bello et al. 2005; Böck & Widmer 2013's log-magnitude flux).

Used for the corpus's onset labels, the onset metrics and AV-Align, so all three see the same
onsets. A log-compressed magnitude STFT with 10 ms hops; the flux is the sum of positive
bin-wise increases; peaks are picked with an adaptive threshold.
"""

from __future__ import annotations

import numpy as np
from scipy.signal import stft

from model.eval.motion import pick_peaks

HOP_S = 0.01
_WIN_S = 0.04


def onset_envelope(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """Spectral-flux onset strength, one value per 10 ms hop."""
    audio = np.asarray(audio, np.float32).reshape(-1)
    hop = int(round(HOP_S * sample_rate))
    nper = int(round(_WIN_S * sample_rate))
    if audio.size < nper:
        return np.zeros(max(1, audio.size // hop), np.float32)
    _, _, spec = stft(audio, sample_rate, nperseg=nper, noverlap=nper - hop, boundary=None,
                      padded=False)
    mag = np.log1p(1000.0 * np.abs(spec))
    flux = np.maximum(np.diff(mag, axis=1), 0.0).sum(axis=0)
    # Frame j of `flux` is the change into STFT frame j+1, whose window starts at (j+1)*hop.
    # With log compression the steepest rise comes as an attack reaches the window's second
    # half; the +1 below was measured with synthetic attacks at known times (error < 10 ms).
    lead = int(round((hop + nper / 2) / hop)) + 1
    env = np.concatenate([np.zeros(lead), flux])
    n_out = int(np.ceil(audio.size / hop))
    return np.pad(env, (0, max(0, n_out - env.size)))[:n_out].astype(np.float32)


def detect_onsets(
    audio: np.ndarray, sample_rate: int, min_gap_s: float = 0.1, rel_threshold: float = 0.25
) -> tuple[np.ndarray, np.ndarray]:
    """Onset times (s) and strengths. Silence (or near silence) has none."""
    audio = np.asarray(audio, np.float32).reshape(-1)
    if audio.size == 0 or np.sqrt(np.mean(audio**2)) < 1e-4:
        return np.zeros(0), np.zeros(0)
    env = onset_envelope(audio, sample_rate)
    # The floor is relative to the number of bins so it does not depend on the sample rate.
    return pick_peaks(env, 1.0 / HOP_S, min_gap_s, rel_threshold, abs_floor=1.0)
