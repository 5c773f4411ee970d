import numpy as np

from model.limiter import CEILING, limit_peaks


def test_quiet_audio_is_returned_bit_for_bit():
    rng = np.random.default_rng(0)
    quiet = (0.5 * rng.standard_normal(48_000)).clip(-0.9, 0.9).astype(np.float32)
    assert np.array_equal(limit_peaks(quiet), quiet)


def test_over_full_scale_peaks_are_limited_smoothly_not_clipped():
    t = np.arange(48_000) / 48_000
    tone = (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    tone[24_000:24_480] *= 4.0  # a 10 ms burst at 2.0, twice full scale
    out = limit_peaks(tone)
    assert np.abs(out).max() <= CEILING + 1e-6
    # Far from the burst the tone is untouched; around it the gain moves in small steps (a ramp,
    # not a square edge), so no sample-to-sample jump exceeds what the tone itself does.
    assert np.array_equal(out[:20_000], tone[:20_000]) and np.array_equal(out[30_000:], tone[30_000:])
    gain = out[23_000:25_500] / np.where(np.abs(tone[23_000:25_500]) > 0.05, tone[23_000:25_500], np.nan)
    steps = np.abs(np.diff(gain[~np.isnan(gain)]))
    assert steps.max() < 0.05
    # and, unlike clipping, the burst keeps its shape: it is a scaled sine, not a flat top
    burst = out[24_100:24_380]
    assert np.sum(np.isclose(np.abs(burst), np.abs(burst).max(), atol=1e-4)) < 6
