"""The seam measures: flux at window boundaries, and level where windows overlap."""

import numpy as np

from model.config import ModelConfig
from model.seams import overlap_level_db, overlap_spans, seam_dips_db
from v2a.contracts import SAMPLE_RATE


def test_overlap_spans_are_where_neighbouring_windows_meet():
    config = ModelConfig()
    token_seconds = config.net.patch * config.audio.hop / config.audio.sample_rate
    spans = overlap_spans(config, 20 * SAMPLE_RATE)
    assert len(spans) >= 4
    for start, end in spans[:-1]:  # all but the last, which the flush last window may widen
        assert round((end - start) / token_seconds) == config.sampler.overlap_tokens
    assert overlap_spans(config, 4 * SAMPLE_RATE) == []  # one window


def test_overlap_level_reads_a_dip_in_the_shared_spans_and_none_in_steady_sound():
    config = ModelConfig()
    num_samples = 30 * SAMPLE_RATE
    spans = overlap_spans(config, num_samples)
    steady = np.random.default_rng(0).standard_normal(num_samples).astype(np.float32) * 0.1
    assert abs(overlap_level_db(steady, spans)) < 0.2
    dipped = steady.copy()
    for start, end in spans:
        dipped[int(start * SAMPLE_RATE) : int(end * SAMPLE_RATE)] *= 10 ** (-10 / 20)
    assert abs(overlap_level_db(dipped, spans) + 10) < 0.2
    assert overlap_level_db(steady, []) == 0.0


def test_seam_dips_read_each_seam_against_its_neighbourhood():
    config = ModelConfig()
    num_samples = 30 * SAMPLE_RATE
    spans = overlap_spans(config, num_samples)
    steady = np.random.default_rng(0).standard_normal(num_samples).astype(np.float32) * 0.1
    assert all(abs(d) < 0.3 for d in seam_dips_db(steady, spans))
    dipped = steady.copy()
    start, end = spans[2]
    dipped[int(start * SAMPLE_RATE) : int(end * SAMPLE_RATE)] *= 10 ** (-6 / 20)
    dips = seam_dips_db(dipped, spans)
    assert len(dips) == len(spans) and abs(dips[2] + 6) < 0.3 and abs(np.median(dips)) < 0.3
    silent = np.zeros(num_samples, np.float32)
    assert seam_dips_db(silent, spans) == []  # nothing to dip from
