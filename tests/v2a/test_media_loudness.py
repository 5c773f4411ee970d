"""Loudness as EBU's meter test signals define it (EBU Tech 3341 and 3342: 1 kHz sines on both
channels of a stereo file, levels in dBFS of a full-scale sine)."""

import numpy as np
import pytest

from v2a.contracts import SAMPLE_RATE
from v2a.media.loudness import measure_loudness


def sine(dbfs: float, seconds: float, frequency: float = 1000.0, channels: int = 2) -> np.ndarray:
    t = np.arange(round(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    wave = 10 ** (dbfs / 20) * np.sin(2 * np.pi * frequency * t)
    return np.repeat(wave[:, None], channels, axis=1) if channels > 1 else wave


def program(*parts: tuple[float, float]) -> np.ndarray:
    return np.concatenate([sine(level, seconds) for level, seconds in parts])


@pytest.mark.parametrize(
    ("parts", "integrated"),
    [
        ([(-23, 20)], -23.0),  # Tech 3341 case 1
        ([(-33, 20)], -33.0),  # case 2
        ([(-36, 10), (-23, 60), (-36, 10)], -23.0),  # case 3: the relative gate
        ([(-72, 10), (-36, 10), (-23, 60), (-36, 10), (-72, 10)], -23.0),  # case 4: both gates
    ],
)
def test_integrated_loudness_of_ebu_test_signals(parts, integrated):
    loudness = measure_loudness(program(*parts))
    assert loudness.integrated == pytest.approx(integrated, abs=0.1)
    assert loudness.max_momentary == pytest.approx(max(level for level, _ in parts), abs=0.1)
    assert loudness.max_short_term == pytest.approx(max(level for level, _ in parts), abs=0.1)


@pytest.mark.parametrize(
    ("levels", "loudness_range"),
    [
        ((-20, -30), 10.0),  # Tech 3342 case 1
        ((-20, -15), 5.0),  # case 2
        ((-40, -20), 20.0),  # case 3
        ((-50, -35, -20, -35, -50), 15.0),  # case 4
    ],
)
def test_loudness_range_of_ebu_test_signals(levels, loudness_range):
    measured = measure_loudness(program(*[(level, 20) for level in levels]))
    assert measured.loudness_range == pytest.approx(loudness_range, abs=1.0)


def test_a_mono_take_counts_its_one_channel_once():
    assert measure_loudness(sine(-23, 10, channels=1)).integrated == pytest.approx(-26.0, abs=0.1)


def test_true_peak_finds_the_peak_between_samples():
    # A quarter-rate sine sampled 45 degrees off its crests: every sample at 0.707 of the peak.
    t = np.arange(SAMPLE_RATE) / SAMPLE_RATE
    wave = 0.5 * np.sin(2 * np.pi * SAMPLE_RATE / 4 * t + np.pi / 4)
    assert 20 * np.log10(np.abs(wave).max()) == pytest.approx(-9.03, abs=0.05)
    assert measure_loudness(wave).true_peak == pytest.approx(-6.02, abs=0.3)


def test_too_short_or_silent_takes_say_so_instead_of_a_number():
    short = measure_loudness(sine(-20, 0.3, channels=1))
    assert (short.integrated, short.loudness_range, short.max_short_term) == (None, None, None)
    assert short.true_peak == pytest.approx(-20.0, abs=0.1)
    assert short.text() == "too short for LUFS, true peak -20.0 dBTP"
    silent = measure_loudness(np.zeros(5 * SAMPLE_RATE))
    assert (silent.integrated, silent.true_peak) == (None, None)
    assert silent.text() == "silent"
    assert measure_loudness(sine(-80, 2, channels=1)).text() == "below -70 LUFS, true peak -80.0 dBTP"


def test_a_long_take_measured_in_blocks_agrees_with_its_level():
    # Longer than one block (20 s): the filters and the oversampling carry across blocks.
    loudness = measure_loudness(sine(-18, 45, frequency=997.0, channels=1))
    assert loudness.integrated == pytest.approx(-21.0, abs=0.1)
    assert loudness.true_peak == pytest.approx(-18.0, abs=0.1)
    assert loudness.loudness_range == pytest.approx(0.0, abs=0.1)
