"""The audio codec: exact lengths and a faithful round trip (the evaluation's ceiling)."""

import numpy as np
import pytest

from model.audio_codec import MelCodec, mel_filterbank, num_frames, reconstruct
from model.config import AudioConfig
from v2a.contracts import SAMPLE_RATE


@pytest.mark.parametrize("num_samples", [1, 101, 24_001, 48_000 * 2 + 7])
def test_reconstruct_keeps_exact_length(num_samples):
    rng = np.random.default_rng(0)
    samples = (0.1 * rng.standard_normal(num_samples)).astype(np.float32)
    out = reconstruct(samples)
    assert out.shape == (num_samples,) and out.dtype == np.float32


def test_reconstruct_keeps_the_spectrum_of_a_tone_burst():
    t = np.arange(SAMPLE_RATE) / SAMPLE_RATE
    tone = (0.3 * np.sin(2 * np.pi * 660 * t) * (t > 0.5)).astype(np.float32)
    codec = MelCodec(AudioConfig())
    before, after = codec.encode(tone), codec.encode(reconstruct(tone))
    assert before.shape == (num_frames(codec.cfg, len(tone)), 80)
    loud = before > np.log(1e-2)
    assert np.abs(before[loud] - after[loud]).mean() < 0.5
    # The silent first half stays silent: onsets are not smeared across the window.
    quarter = len(tone) // 4
    assert np.abs(reconstruct(tone)[:quarter]).max() < 0.02


def test_mel_filterbank_covers_the_band_once():
    basis = mel_filterbank(22_050, 1024, 80, 0.0, 8000.0)
    assert basis.shape == (80, 513)
    assert (basis >= 0).all() and (basis.sum(axis=0)[5:370] > 0).all()


@pytest.mark.parametrize("num_samples", [38_400, 48_000, 192_000])
def test_decoded_sound_runs_to_the_last_sample(num_samples):
    # A steady sound decoded to any length ends with sound, not a run of digital silence (the
    # inverse stopped at the last frame's centre, up to a hop short of the requested length).
    rng = np.random.default_rng(0)
    noise = (0.1 * rng.standard_normal(num_samples)).astype(np.float32)
    out = reconstruct(noise)
    tail = out[-48:]  # the last millisecond
    assert np.sqrt(np.mean(tail**2)) > 0.1 * np.sqrt(np.mean(out**2))
