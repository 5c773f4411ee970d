"""How loud a take is, as a broadcast meter reads it: ITU-R BS.1770-4 and EBU R 128.

An audio post engineer judges a take by its programme loudness and its true peak before
listening; Broadcast WAV carries both in its `bext` chunk (EBU Tech 3285 v2), where loudness
tools and DAWs read them. Measured at 48 kHz, the only rate v2a writes:

- K-weighting: the standard's two filters (a high shelf for the head, a high-pass), per channel.
- Momentary loudness: 400 ms windows; short-term: 3 s windows; both every 100 ms.
- Integrated loudness: the 400 ms windows (75 % overlap) above -70 LUFS, then those within
  10 LU of their mean (BS.1770-4's two gates).
- Loudness range (EBU Tech 3342): the spread between the 10th and 95th percentiles of the
  short-term values above -70 LUFS and within 20 LU of their mean.
- True peak: the largest sample after oversampling 4 times (BS.1770-4 Annex 2).

A mono take counts once (channel weight 1, as BS.1770 weights one loudspeaker), so a mono sine
reads 3 dB below the same sine on both channels of a stereo file. Everything runs a block at a
time, so measuring an hour's take holds a block, not the hour, in memory.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.signal import resample_poly, sosfilt

from v2a.contracts import SAMPLE_RATE

#: BS.1770-4's K-weighting at 48 kHz: the shelving stage, then the high-pass (RLB) stage.
_K_WEIGHTING = np.array(
    [
        [1.53512485958697, -2.69169618940638, 1.19839281085285, 1.0, -1.69065929318241, 0.73248077421585],
        [1.0, -2.0, 1.0, 1.0, -1.99004745483398, 0.99007225036621],
    ]
)
_HOP = SAMPLE_RATE // 10  # 100 ms: the step of every window
_MOMENTARY_HOPS, _SHORT_TERM_HOPS = 4, 30  # 400 ms, 3 s
_ABSOLUTE_GATE = -70.0  # LUFS
_RELATIVE_GATE, _RANGE_GATE = -10.0, -20.0  # LU below the mean of what the absolute gate kept
_OVERSAMPLE = 4
_BLOCK_HOPS = 200  # 20 s of samples per block
_PEAK_OVERLAP = 64  # samples on each side of a block that the oversampling filter needs

#: EBU R 128's highest permitted true peak: a take normalised to a target never goes above it.
TRUE_PEAK_CEILING = -1.0  # dBTP


@dataclass(frozen=True)
class Loudness:
    """A take's loudness; None where it is too short (or too quiet) for the measure."""

    integrated: float | None  # LUFS (needs 400 ms)
    loudness_range: float | None  # LU (needs 3 s)
    true_peak: float | None  # dBTP (None: digital silence)
    max_momentary: float | None  # LUFS
    max_short_term: float | None  # LUFS
    seconds: float

    def text(self) -> str:
        """`-27.8 LUFS, true peak -9.1 dBTP`, as a summary line says it."""
        if self.true_peak is None:
            return "silent"
        if self.integrated is not None:
            level = f"{self.integrated:.1f} LUFS"
        elif self.seconds < _MOMENTARY_HOPS * _HOP / SAMPLE_RATE:
            level = "too short for LUFS"
        else:
            level = f"below {_ABSOLUTE_GATE:.0f} LUFS"
        return f"{level}, true peak {self.true_peak:.1f} dBTP"


@dataclass(frozen=True)
class Normalization:
    """What bringing a take to a target loudness did: the gain applied, and why it stopped
    short of the target where it did."""

    target: float  # LUFS asked for
    gain_db: float  # applied to every sample
    held_by_peak: bool = False  # the true peak ceiling kept the take under (or took it below) the target
    unmeasured: str = ""  # why no gain was applied: "silent", "below -70 LUFS"

    def missed_by(self) -> str:
        """What kept the take from the target ("true peak", "silent", "below -70 LUFS"); ''
        when it reached it."""
        return self.unmeasured or ("true peak" if self.held_by_peak else "")

    def text(self) -> str:
        """`+12.3 dB to -23 LUFS`, or why not, as a take's "done" message says it."""
        if self.unmeasured:
            return f"left as made for {self.target:g} LUFS: {self.unmeasured}"
        if self.held_by_peak:
            return (f"{self.gain_db:+.1f} dB toward {self.target:g} LUFS, held by the "
                    f"{TRUE_PEAK_CEILING:g} dBTP true peak ceiling")
        return f"{self.gain_db:+.1f} dB to {self.target:g} LUFS"


def normalize_loudness(
    samples: np.ndarray, target: float, loudness: Loudness | None = None
) -> tuple[np.ndarray, Normalization]:
    """`samples` scaled by one gain so that their integrated loudness is `target` LUFS, as
    loudness-normalised sound libraries deliver their files; the gain is lowered where the
    true peak would pass TRUE_PEAK_CEILING (so a take with a loud transient and little else
    stays under the target, and one already peaking above the ceiling is turned down). A single
    gain changes no dynamics. `loudness`: of `samples`, when already measured.

    A take shorter than one 400 ms window has no integrated loudness; its whole length is
    measured as one window instead, so a short spot effect is normalised too. A take below the
    -70 LUFS gate, or silent, is left as it is: lifting it would only lift noise."""
    loudness = loudness or measure_loudness(samples)
    if loudness.true_peak is None:
        return samples, Normalization(target, 0.0, unmeasured="silent")
    level = loudness.integrated
    if level is None and loudness.seconds < _MOMENTARY_HOPS * _HOP / SAMPLE_RATE:
        level = _whole_take_loudness(samples)
    if level is None:
        return samples, Normalization(target, 0.0, unmeasured=f"below {_ABSOLUTE_GATE:g} LUFS")
    gain = target - level
    held_by_peak = loudness.true_peak + gain > TRUE_PEAK_CEILING
    if held_by_peak:
        gain = TRUE_PEAK_CEILING - loudness.true_peak
    scaled = (np.asarray(samples, dtype=np.float64) * 10 ** (gain / 20)).astype(np.float32)
    return scaled, Normalization(target, gain, held_by_peak)


def _whole_take_loudness(samples: np.ndarray) -> float | None:
    """LUFS of the whole of a short take as one window (None under the absolute gate)."""
    samples = np.asarray(samples, dtype=np.float64)
    if samples.ndim == 1:
        samples = samples[:, None]
    weighted = sosfilt(_K_WEIGHTING, samples, axis=0)
    energy = float((weighted**2).sum(axis=1).mean())
    if energy <= 0:
        return None
    level = -0.691 + 10 * math.log10(energy)
    return level if level > _ABSOLUTE_GATE else None


def measure_loudness(samples: np.ndarray) -> Loudness:
    """The loudness of 48 kHz float samples, (n,) mono or (n, channels)."""
    samples = np.asarray(samples)  # not copied: each block is converted as it is measured
    if samples.ndim == 1:
        samples = samples[:, None]
    energies = _hop_energies(samples)
    momentary = _window_loudness(energies, _MOMENTARY_HOPS)
    short_term = _window_loudness(energies, _SHORT_TERM_HOPS)
    return Loudness(
        integrated=_integrated(momentary),
        loudness_range=_loudness_range(short_term),
        true_peak=_true_peak(samples),
        max_momentary=_finite_max(momentary),
        max_short_term=_finite_max(short_term),
        seconds=len(samples) / SAMPLE_RATE,
    )


def _hop_energies(samples: np.ndarray) -> np.ndarray:
    """Mean square of the K-weighted signal per 100 ms hop, summed over channels (the last,
    incomplete hop left out, as a window is measured only whole)."""
    hops = len(samples) // _HOP
    energies = np.zeros(hops)
    state = np.zeros((len(_K_WEIGHTING), 2, samples.shape[1]))  # the filters start at rest
    for first in range(0, hops, _BLOCK_HOPS):
        last = min(first + _BLOCK_HOPS, hops)
        block = samples[first * _HOP : last * _HOP].astype(np.float64)
        weighted, state = sosfilt(_K_WEIGHTING, block, axis=0, zi=state)
        squares = (weighted**2).sum(axis=1)
        energies[first:last] = squares.reshape(last - first, _HOP).mean(axis=1)
    return energies


def _window_loudness(energies: np.ndarray, hops: int) -> np.ndarray:
    """LUFS of each window of `hops` hops, one every hop (-inf where silent)."""
    if len(energies) < hops:
        return np.empty(0)
    sums = np.concatenate([[0.0], np.cumsum(energies)])
    means = np.maximum((sums[hops:] - sums[:-hops]) / hops, 0.0)  # cumsum rounding
    with np.errstate(divide="ignore"):
        return -0.691 + 10 * np.log10(means)


def _integrated(momentary: np.ndarray) -> float | None:
    """BS.1770's gated loudness of the 400 ms windows: the absolute gate, then 10 LU below the
    mean of what it kept (means taken over energy, not decibels)."""
    kept = momentary[momentary > _ABSOLUTE_GATE]
    if len(kept) == 0:
        return None
    return _energy_mean(kept[kept > _energy_mean(kept) + _RELATIVE_GATE])


def _loudness_range(short_term: np.ndarray) -> float | None:
    kept = short_term[short_term > _ABSOLUTE_GATE]
    if len(kept) == 0:
        return None
    kept = kept[kept > _energy_mean(kept) + _RANGE_GATE]
    low, high = np.percentile(kept, [10, 95])
    return float(high - low)


def _energy_mean(loudness: np.ndarray) -> float:
    return float(10 * np.log10(np.mean(10 ** (loudness / 10))))


def _finite_max(loudness: np.ndarray) -> float | None:
    finite = loudness[np.isfinite(loudness)]
    return float(finite.max()) if len(finite) else None


def _true_peak(samples: np.ndarray) -> float | None:
    """dBTP: the largest magnitude of the signal oversampled 4 times, a block at a time (each
    block with a margin for the filter, whose edges are then dropped)."""
    peak = 0.0
    block = _BLOCK_HOPS * _HOP
    for start in range(0, len(samples), block):
        lo, hi = max(0, start - _PEAK_OVERLAP), min(len(samples), start + block + _PEAK_OVERLAP)
        upsampled = resample_poly(samples[lo:hi].astype(np.float64), _OVERSAMPLE, 1, axis=0)
        keep = upsampled[(start - lo) * _OVERSAMPLE : (min(start + block, len(samples)) - lo) * _OVERSAMPLE]
        peak = max(peak, float(np.abs(keep).max(initial=0.0)), float(np.abs(samples[start : start + block]).max()))
    return 20 * math.log10(peak) if peak > 0 else None
