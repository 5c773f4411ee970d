"""The generator registry and the baselines behind the Generator seam."""

from __future__ import annotations

import logging
import threading

import numpy as np
import pytest

from model.eval.onsets import detect_onsets
from model.generators import available_generators, load_generator
from v2a.contracts import SAMPLE_RATE, GenerationCancelled, GenerationParams

JUMPS = (12, 40, 70)


def jumping_square(frames=96, size=160):
    """A bright square that jumps sideways at frames JUMPS and is still otherwise."""
    video = np.full((frames, size, size, 3), 30, np.uint8)
    x = 20
    for f in range(frames):
        if f in JUMPS:
            x = 90 if x == 20 else 20
        video[f, 60:100, x:x + 40] = 230
    return video


def test_silence_returns_exactly_the_requested_samples_of_zeros():
    gen = load_generator("silence")
    out = gen.generate(jumping_square(), 24.0, 12345, GenerationParams())
    assert out.dtype == np.float32 and out.shape == (12345,) and not out.any()
    assert gen.provenance()["kind"] == "baseline"


def test_motion_bursts_sounds_start_on_the_frames_where_motion_happens():
    gen = load_generator("motion-bursts")
    out = gen.generate(jumping_square(), 24.0, 4 * SAMPLE_RATE, GenerationParams(seed=3))
    assert out.shape == (4 * SAMPLE_RATE,) and np.abs(out).max() <= 1.0
    onsets, _ = detect_onsets(out, SAMPLE_RATE)
    assert len(onsets) == len(JUMPS)
    assert np.max(np.abs(onsets - np.array(JUMPS) / 24)) <= 1 / 24
    again = gen.generate(jumping_square(), 24.0, 4 * SAMPLE_RATE, GenerationParams(seed=3))
    assert np.array_equal(out, again)
    assert "baseline" in gen.provenance()["note"] or gen.provenance()["kind"] == "baseline"


def test_still_picture_gets_silence_from_motion_bursts():
    still = np.full((48, 160, 160, 3), 100, np.uint8)
    out = load_generator("motion-bursts").generate(still, 24.0, 2 * SAMPLE_RATE,
                                                   GenerationParams())
    assert not out.any()


def test_default_is_the_motion_bursts_baseline_until_a_model_registers(caplog):
    with caplog.at_level(logging.INFO, logger="model.generators"):
        gen = load_generator("default")
    if gen.provenance().get("kind") == "baseline":
        assert gen.name == "motion-bursts"
        assert "baseline" in caplog.text.lower()


def test_unknown_generator_names_the_choices():
    with pytest.raises(ValueError, match="silence") as info:
        load_generator("no-such-model")
    assert "no-such-model" in str(info.value)
    assert {"silence", "motion-bursts", "default"} <= set(available_generators())


def test_cancel_stops_a_baseline():
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(GenerationCancelled):
        load_generator("motion-bursts").generate(jumping_square(), 24.0, SAMPLE_RATE,
                                                 GenerationParams(), cancel=cancel)


def test_corpus_baselines_need_a_corpus_and_say_where_it_was_looked_for(tmp_path):
    with pytest.raises(FileNotFoundError, match="manifest"):
        load_generator(f"random-sample:{tmp_path}")
