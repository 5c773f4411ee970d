"""How far past its ceiling the limiter lets a true peak go, and what it costs, by oversampling.

`model.limiter` reads peaks between samples by oversampling; a peak falling between its points
is read low. For each factor: seeded white noise (full band), noise low-passed at 11 kHz (the
model's band) and sines from 1 to 21 kHz, each well over the ceiling, limited, then read at 32x
(64x reads the same) away from the ends, where a cut signal rings; and the CPU time of
limiting 60 s of loud noise and of quiet noise that needs nothing (median of 5).

    .venv/bin/python scripts/bench_limiter.py [--factors 4,8,16]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from scipy.signal import butter, resample_poly, sosfilt

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import model.limiter as limiter  # noqa: E402

RATE = 48_000
EDGE = 2_000  # samples left out at each end of a reading


def over_ceiling_db(samples: np.ndarray, factor: int = 32) -> float:
    """The true peak read at `factor`x, in dB over the limiter's ceiling."""
    up = resample_poly(samples.astype(np.float64), factor, 1)[EDGE * factor : -EDGE * factor]
    return float(20 * np.log10(np.abs(up).max() / limiter.CEILING))


def signals() -> dict[str, list[np.ndarray]]:
    rng = np.random.default_rng(1)
    low_pass = butter(8, 11_000, fs=RATE, output="sos")
    n = np.arange(RATE)
    return {
        "white noise": [(0.5 * rng.standard_normal(10 * RATE)).astype(np.float32)
                        for _ in range(5)],
        "noise under 11 kHz": [sosfilt(low_pass, 0.7 * rng.standard_normal(10 * RATE))
                               .astype(np.float32) for _ in range(5)],
        "sines 1-21 kHz": [(1.5 * np.sin(2 * np.pi * f / RATE * n + phase)).astype(np.float32)
                           for f in (1000, 5000, 11000, 15000, 19000, 21000)
                           for phase in (0.1, 0.5, 0.785)],
    }


def cpu_seconds(samples: np.ndarray) -> float:
    times = []
    for _ in range(5):
        start = time.process_time()
        limiter.limit_peaks(samples)
        times.append(time.process_time() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--factors", default="4,8,16")
    factors = [int(f) for f in parser.parse_args().factors.split(",")]
    rng = np.random.default_rng(2)
    loud = (0.5 * rng.standard_normal(60 * RATE)).astype(np.float32)
    quiet = (0.05 * rng.standard_normal(60 * RATE)).astype(np.float32)
    cases = signals()
    for factor in factors:
        limiter.OVERSAMPLE = factor
        readings = []
        for name, group in cases.items():
            over = [over_ceiling_db(limiter.limit_peaks(x)) for x in group]
            readings.append(f"{name} {min(over):+.3f}..{max(over):+.3f}")
        print(f"{factor:2d}x: dB over the ceiling: {', '.join(readings)}; CPU for 60 s: "
              f"loud {cpu_seconds(loud):.2f} s, quiet {cpu_seconds(quiet):.2f} s", flush=True)


if __name__ == "__main__":
    main()
