"""Loudness as EBU's meter test signals define it (EBU Tech 3341 and 3342: 1 kHz sines on both
channels of a stereo file, levels in dBFS of a full-scale sine)."""

import numpy as np
import pytest

from v2a.contracts import SAMPLE_RATE
from v2a.media.loudness import TRUE_PEAK_CEILING, measure_loudness, normalize_loudness


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


# --- normalising a take to a target loudness ---


def test_a_quiet_take_is_brought_to_the_target_by_one_gain():
    take = sine(-50, 5, channels=1).astype(np.float32)
    scaled, normalization = normalize_loudness(take, -23.0)
    assert measure_loudness(scaled).integrated == pytest.approx(-23.0, abs=0.05)
    assert normalization.gain_db == pytest.approx(30.0, abs=0.1)  # mono reads 3 dB under: -53
    assert not normalization.held_by_peak and normalization.missed_by() == ""
    np.testing.assert_allclose(scaled, take * 10 ** (normalization.gain_db / 20), rtol=1e-5, atol=1e-9)
    assert normalization.text() == "+30.0 dB to -23 LUFS"


def test_a_loud_take_is_turned_down_to_the_target():
    scaled, normalization = normalize_loudness(sine(-10, 5, channels=1), -23.0)
    assert measure_loudness(scaled).integrated == pytest.approx(-23.0, abs=0.05)
    assert normalization.gain_db < 0


def test_the_true_peak_ceiling_holds_a_peaky_take_under_the_target():
    take = sine(-60, 5, channels=1)
    take[SAMPLE_RATE] = 0.5  # one click: the gain to -23 LUFS would put it far above 0 dBFS
    scaled, normalization = normalize_loudness(take, -23.0)
    after = measure_loudness(scaled)
    assert after.true_peak == pytest.approx(TRUE_PEAK_CEILING, abs=0.01)
    assert after.integrated < -30
    assert normalization.held_by_peak and normalization.missed_by() == "true peak"
    assert "held by the -1 dBTP true peak ceiling" in normalization.text()


def test_a_take_already_peaking_over_the_ceiling_is_turned_down_to_it():
    take = sine(-40, 5, channels=1)
    take[SAMPLE_RATE] = 1.0
    scaled, normalization = normalize_loudness(take, -23.0)
    assert normalization.gain_db < 0
    assert measure_loudness(scaled).true_peak == pytest.approx(TRUE_PEAK_CEILING, abs=0.01)


def test_a_take_shorter_than_a_loudness_window_is_measured_whole():
    take = sine(-40, 0.25, channels=1)  # a spot effect: no 400 ms window, no integrated loudness
    assert measure_loudness(take).integrated is None
    scaled, normalization = normalize_loudness(take, -23.0)
    assert normalization.gain_db == pytest.approx(20.0, abs=0.2)  # -40 dBFS mono sine: -43 LUFS
    # The same sine, long enough to measure, reads the target at that gain.
    longer = sine(-40, 5, channels=1) * 10 ** (normalization.gain_db / 20)
    assert measure_loudness(longer).integrated == pytest.approx(-23.0, abs=0.2)


@pytest.mark.parametrize(("take", "reason"), [
    (np.zeros(SAMPLE_RATE * 2, np.float32), "silent"),
    (sine(-90, 2, channels=1), "below -70 LUFS"),  # lifting it 60 dB would lift noise
])
def test_silence_and_near_silence_are_left_as_made(take, reason):
    scaled, normalization = normalize_loudness(take, -23.0)
    assert scaled is take and normalization.gain_db == 0.0
    assert normalization.missed_by() == reason
    assert normalization.text() == f"left as made for -23 LUFS: {reason}"
