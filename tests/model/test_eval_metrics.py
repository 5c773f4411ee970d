"""The evaluation's metrics on constructed cases whose right answer is known."""

from __future__ import annotations

import numpy as np
import pytest

from model.eval import metrics
from model.eval.motion import motion_peaks
from model.eval.onsets import detect_onsets
from v2a.contracts import SAMPLE_RATE

HITS = [0.5, 1.25, 2.0, 3.1]


def bursts(times, seconds=4.0, seed=0, decay=0.03):
    """Noise bursts with sharp attacks at `times`: a sound whose onsets are known."""
    rng = np.random.default_rng(seed)
    audio = np.zeros(int(seconds * SAMPLE_RATE), np.float32)
    n = int(0.2 * SAMPLE_RATE)
    envelope = np.exp(-np.arange(n) / (decay * SAMPLE_RATE)).astype(np.float32)
    for t in times:
        at = int(round(t * SAMPLE_RATE))
        seg = audio[at:at + n]
        seg += 0.5 * rng.standard_normal(seg.size).astype(np.float32) * envelope[:seg.size]
    return audio


def test_detected_onsets_land_within_10_ms_of_the_attacks():
    onsets, _ = detect_onsets(bursts(HITS), SAMPLE_RATE)
    assert len(onsets) == len(HITS)
    assert np.max(np.abs(onsets - HITS)) <= 0.011


def test_reference_scored_against_itself_is_perfect():
    ref = bursts(HITS)
    onsets, strengths = detect_onsets(ref, SAMPLE_RATE)
    assert metrics.onset_accuracy(onsets, onsets) == 1.0
    assert metrics.onset_count_accuracy(onsets, onsets) == 1.0
    assert metrics.onset_average_precision(onsets, onsets, strengths) == 1.0
    emb = np.random.default_rng(0).normal(size=(40, 8))
    assert metrics.frechet_distance(emb, emb) == pytest.approx(0.0, abs=1e-9)


def test_audio_shifted_by_150_ms_loses_onset_accuracy():
    ref_onsets, _ = detect_onsets(bursts(HITS), SAMPLE_RATE)
    shifted = np.roll(bursts(HITS), int(0.15 * SAMPLE_RATE))
    gen_onsets, strengths = detect_onsets(shifted, SAMPLE_RATE)
    assert len(gen_onsets) == len(ref_onsets)  # same count: only the timing is off
    assert metrics.onset_accuracy(ref_onsets, gen_onsets) == 0.0
    assert metrics.onset_average_precision(ref_onsets, gen_onsets, strengths) == 0.0
    # 50 ms is inside the +-0.1 s tolerance.
    near, _ = detect_onsets(np.roll(bursts(HITS), int(0.05 * SAMPLE_RATE)), SAMPLE_RATE)
    assert metrics.onset_accuracy(ref_onsets, near) == 1.0


def test_silence_has_no_onsets_and_scores_zero():
    ref_onsets, _ = detect_onsets(bursts(HITS), SAMPLE_RATE)
    onsets, strengths = detect_onsets(np.zeros(4 * SAMPLE_RATE, np.float32), SAMPLE_RATE)
    assert onsets.size == 0
    assert metrics.onset_accuracy(ref_onsets, onsets) == 0.0
    assert metrics.onset_average_precision(ref_onsets, onsets, strengths) == 0.0
    assert metrics.av_align(onsets, np.array([0.5, 1.0]), 24.0) == 0.0


def test_extra_onsets_lower_accuracy_and_ap_ranks_confident_hits_first():
    ref = np.array([0.5, 1.5])
    gen = np.array([0.5, 1.0, 1.5, 3.0])
    assert metrics.onset_accuracy(ref, gen) == 0.5
    good = metrics.onset_average_precision(ref, gen, np.array([0.9, 0.1, 0.8, 0.2]))
    bad = metrics.onset_average_precision(ref, gen, np.array([0.1, 0.9, 0.2, 0.8]))
    assert good == 1.0 and bad < good


def test_av_align_is_iou_of_peaks_within_one_frame():
    video = np.array([10, 30, 50]) / 24
    assert metrics.av_align(video + 0.5 / 24, video, 24.0) == 1.0
    assert metrics.av_align(video[:2], video, 24.0) == pytest.approx(2 / 3)
    assert metrics.av_align(video + 3 / 24, video, 24.0) == 0.0


def test_motion_peaks_find_the_frames_where_something_jumps():
    frames = np.full((96, 160, 160, 3), 40, np.uint8)
    position = 20
    for f in range(96):
        if f in (12, 40, 70):
            position += 50 if position < 80 else -50
        frames[f, 60:100, position:position + 30] = 220
    times, _ = motion_peaks(frames, 24.0)
    assert np.allclose(times, np.array([12, 40, 70]) / 24)


def test_a_different_class_raises_the_frechet_distance():
    from model.eval.embedding import default_embedder

    def hits(seed):  # percussive noise bursts at random times
        return bursts(np.sort(np.random.default_rng(seed).uniform(0, 3.5, 4)), seed=seed)

    def tones(seed):  # steady harmonic tones
        t = np.arange(4 * SAMPLE_RATE) / SAMPLE_RATE
        f = np.random.default_rng(seed).uniform(200, 800)
        return (0.3 * np.sin(2 * np.pi * f * t) + 0.1 * np.sin(4 * np.pi * f * t)).astype(np.float32)

    embedder = default_embedder()
    a = embedder.embed([hits(s) for s in range(12)])
    a2 = embedder.embed([hits(s) for s in range(100, 112)])
    b = embedder.embed([tones(s) for s in range(12)])
    assert a.shape == (12, 512) and np.isfinite(a).all()
    same = metrics.frechet_distance(a, a2)
    different = metrics.frechet_distance(a, b)
    assert different > 2 * same, (same, different)
    # And the class-centroid rule puts each kind with its own kind.
    centroids = {"hits": a.mean(axis=0), "tones": b.mean(axis=0)}
    assert metrics.nearest_centroid(a2, centroids) == ["hits"] * 12


def test_frechet_parts_add_up_and_class_spread_sees_classes_that_sound_alike():
    rng = np.random.default_rng(0)
    a, b = rng.normal(0, 1, (40, 6)), rng.normal(0.5, 2, (40, 6))
    mean_term, cov_term = metrics.frechet_terms(a, b)
    assert mean_term == pytest.approx(np.sum((a.mean(0) - b.mean(0)) ** 2))
    assert mean_term + cov_term == pytest.approx(metrics.frechet_distance(a, b))
    classes = ["x"] * 20 + ["y"] * 20
    apart = np.concatenate([rng.normal(-3, 1, (20, 6)), rng.normal(3, 1, (20, 6))])
    alike = np.concatenate([rng.normal(0, 1, (20, 6)), rng.normal(0, 1, (20, 6))])
    total_apart, between_apart = metrics.spread(apart, classes)
    total_alike, between_alike = metrics.spread(alike, classes)
    assert between_apart > 50 * between_alike  # class means 6 apart in each of 6 dimensions
    assert between_apart == pytest.approx(6 * 6**2 / 2, rel=0.2)  # var of two means 6 apart: 18
    assert total_apart > total_alike


def test_reference_class_agreement_leaves_each_reference_out_of_its_own_centroid():
    # Two tight clusters of references, "a" near x and "b" near y, and one lone "c" reference
    # that leans toward "a".
    x, y, z = np.eye(3) * 10
    refs = np.stack([x + 0.1, x - 0.1, x + [0, 0.2, 0], y + 0.1, y - 0.1, z + [2, 0, 0]])
    classes = ["a", "a", "a", "b", "b", "c"]
    # The references scored against themselves: each finds its class among the others, except
    # the lone "c", whose class has no other reference and so no centroid for that row.
    assert metrics.nearest_reference_class(refs, refs, classes) == ["a", "a", "a", "b", "b", "a"]
    # A generator that returns an exact copy of reference 0 for every row agrees on the "a" rows
    # only: the copy is judged by the other "a" references, not by itself.
    copies = np.repeat(refs[:1], len(refs), axis=0)
    assert metrics.nearest_reference_class(copies, refs, classes) == ["a"] * 6
    # Sound that sits on y is class "b" wherever it is scored.
    assert metrics.nearest_reference_class(np.repeat(y[None], 6, axis=0), refs, classes) == ["b"] * 6
    # With a single reference in the selection there is nothing to compare with.
    assert metrics.nearest_reference_class(refs[:1], refs[:1], ["a"]) == [None]
