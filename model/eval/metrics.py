"""The evaluation's figures, each a plain function of arrays so it can be tested alone.

References (see docs/eval.md):
- onset accuracy / onset AP: CondFoleyGen (Du et al., "Conditional Generation of Audio from Video
  via Foley Analogies", CVPR 2023), onsets matched within +-0.1 s;
- AV-Align: Yariv et al., "Diverse and Aligned Audio-to-Video Generation via Text-to-Video Model
  Adaptation", AAAI 2024 (TempoTokens), IoU of audio onsets and video motion peaks, +-1 frame;
- Fréchet distance: Fréchet Audio Distance (Kilgour et al., Interspeech 2019) on another
  embedding, the aisfx sound-effects encoder.
"""

from __future__ import annotations

import numpy as np

ONSET_TOLERANCE_S = 0.1
#: A clip this far below its reference's level is, to an editor, no sound at all ("quiet").
QUIET_BELOW_REFERENCE_DB = 20.0


def match_onsets(reference: np.ndarray, generated: np.ndarray,
                 tolerance: float = ONSET_TOLERANCE_S) -> int:
    """Greedy one-to-one matches within `tolerance` (closest pairs first)."""
    ref, gen = np.asarray(reference, float), np.asarray(generated, float)
    if ref.size == 0 or gen.size == 0:
        return 0
    distance = np.abs(ref[:, None] - gen[None, :])
    pairs = np.argwhere(distance <= tolerance)
    order = np.argsort(distance[pairs[:, 0], pairs[:, 1]], kind="stable")
    used_r, used_g, matches = set(), set(), 0
    for r, g in pairs[order]:
        if r not in used_r and g not in used_g:
            used_r.add(r)
            used_g.add(g)
            matches += 1
    return matches


def onset_accuracy(reference: np.ndarray, generated: np.ndarray,
                   tolerance: float = ONSET_TOLERANCE_S) -> float:
    """Matched onsets / max(#reference, #generated): misses and extra onsets both cost.

    1 when both are empty (a silent reference answered with silence).
    """
    n = max(len(reference), len(generated))
    return 1.0 if n == 0 else match_onsets(reference, generated, tolerance) / n


def onset_count_accuracy(reference: np.ndarray, generated: np.ndarray) -> float:
    """CondFoleyGen's '# onset acc': 1 if the generated clip has as many onsets as the reference."""
    return float(len(reference) == len(generated))


def onset_average_precision(reference: np.ndarray, generated: np.ndarray,
                            confidences: np.ndarray,
                            tolerance: float = ONSET_TOLERANCE_S) -> float:
    """AP of generated onsets ranked by confidence; a hit matches an unused reference onset.

    AP = (1 / #reference) * sum over hits of the precision at that rank. Empty reference:
    1 if nothing was generated, else 0.
    """
    ref = np.asarray(reference, float)
    gen = np.asarray(generated, float)
    if ref.size == 0:
        return float(gen.size == 0)
    if gen.size == 0:
        return 0.0
    order = np.argsort(-np.asarray(confidences, float), kind="stable")
    used = np.zeros(ref.size, bool)
    hits, total = 0, 0.0
    for rank, g in enumerate(gen[order], start=1):
        distance = np.where(used, np.inf, np.abs(ref - g))
        best = int(np.argmin(distance))
        if distance[best] <= tolerance:
            used[best] = True
            hits += 1
            total += hits / rank
    return total / ref.size


def av_align(audio_onsets: np.ndarray, video_peaks: np.ndarray, fps: float) -> float:
    """AV-Align: |matched| / (|audio| + |video| - |matched|), a match within +-1 video frame.

    Both empty: 1 (nothing happens and nothing is heard). Needs no reference audio.
    """
    a, v = len(audio_onsets), len(video_peaks)
    if a == 0 and v == 0:
        return 1.0
    matched = match_onsets(audio_onsets, video_peaks, tolerance=1.0 / fps + 1e-6)
    return matched / (a + v - matched)


def _psd_sqrt(matrix: np.ndarray) -> np.ndarray:
    values, vectors = np.linalg.eigh((matrix + matrix.T) / 2)
    return (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T


def frechet_terms(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """The two parts of the Fréchet distance: (|mu_a - mu_b|^2, tr(C_a + C_b - 2 (C_a C_b)^1/2)).

    tr (C_a C_b)^1/2 is computed as tr (C_a^1/2 C_b C_a^1/2)^1/2 from symmetric
    eigendecompositions: the same value, but stable when there are fewer clips than dimensions
    and the covariances are singular.
    """
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    mu_a, mu_b = a.mean(axis=0), b.mean(axis=0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root_a = _psd_sqrt(cov_a)
    cross = np.linalg.eigvalsh(root_a @ cov_b @ root_a)
    trace_sqrt = float(np.sum(np.sqrt(np.clip(cross, 0, None))))
    return (float(np.sum((mu_a - mu_b) ** 2)),
            float(np.trace(cov_a) + np.trace(cov_b) - 2 * trace_sqrt))


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to two embedding sets (rows are samples)."""
    return frechet_from_terms(*frechet_terms(a, b))


def frechet_from_terms(mean_term: float, covariance_term: float) -> float:
    return max(0.0, mean_term + covariance_term)  # rounding can take a zero distance below 0


def spread(embeddings: np.ndarray, classes: list[str]) -> tuple[float, float]:
    """(total, between-class) spread: the trace of the embeddings' covariance, and the trace of
    the covariance of the class means. A generator whose classes sound alike has a small
    between-class spread next to the reference's, which the Fréchet covariance term punishes."""
    emb = np.asarray(embeddings, np.float64)
    means = np.stack([emb[[i for i, c in enumerate(classes) if c == name]].mean(axis=0)
                      for name in sorted(set(classes))])
    between = float(np.trace(np.atleast_2d(np.cov(means, rowvar=False)))) if len(means) > 1 else 0.0
    return float(np.trace(np.atleast_2d(np.cov(emb, rowvar=False)))), between


def nearest_centroid(embeddings: np.ndarray, centroids: dict[str, np.ndarray]) -> list[str]:
    """The class whose centroid is closest in cosine similarity, for each embedding row."""
    names = sorted(centroids)
    c = np.stack([centroids[n] for n in names])
    c = c / (np.linalg.norm(c, axis=1, keepdims=True) + 1e-9)
    e = np.asarray(embeddings, np.float64)
    e = e / (np.linalg.norm(e, axis=1, keepdims=True) + 1e-9)
    return [names[i] for i in np.argmax(e @ c.T, axis=1)]


def nearest_reference_class(embeddings: np.ndarray, reference_embeddings: np.ndarray,
                            classes: list[str]) -> list[str | None]:
    """For each row i, the class whose centroid of the scored split's reference clips is closest
    (cosine), with reference i itself left out of its class's centroid.

    Centroids of held-out references judge every generator by the class's sound, not by the
    training recordings': centroids of train clips favour whatever reproduces those recordings
    (a random train recording of the right class agreed 0.78 where the test references
    themselves agreed 0.48). A class with no other reference in the selection has no centroid
    for that row, so the row cannot agree (None when no class is left)."""
    refs = np.asarray(reference_embeddings, np.float64)
    names = sorted(set(classes))
    index = np.array([names.index(c) for c in classes])
    sums = np.stack([refs[index == k].sum(axis=0) for k in range(len(names))])
    counts = np.bincount(index, minlength=len(names)).astype(np.float64)
    out: list[str | None] = []
    for i, row in enumerate(np.asarray(embeddings, np.float64)):
        own_sums, own_counts = sums.copy(), counts.copy()
        own_sums[index[i]] -= refs[i]
        own_counts[index[i]] -= 1
        present = own_counts > 0
        if not present.any():
            out.append(None)
            continue
        centroids = own_sums[present] / own_counts[present, None]
        centroids /= np.linalg.norm(centroids, axis=1, keepdims=True) + 1e-9
        similarity = centroids @ (row / (np.linalg.norm(row) + 1e-9))
        out.append([n for n, keep in zip(names, present, strict=True) if keep][int(np.argmax(similarity))])
    return out


def held_out_agreement(predicted: list, targets: list[str],
                       reference_classes: list[str] | None = None) -> float | None:
    """Share of rows whose predicted class (nearest_reference_class) is the row's target, over
    the rows that can agree: a row whose target class has no reference clip but its own
    (`reference_classes`, default `targets`: the row's own class) has no centroid of that class,
    so it is left out, not counted as a miss. None when no row can (`--limit` with one clip per
    class), not a misleading 0. Called with one class's rows, the counts are that class's own.

    `v2a eval` and scripts/bench_model.py both read class agreement with this rule; until the
    fourteenth session such rows counted as disagreeing, and `--limit 12` read 0.000 everywhere."""
    references = targets if reference_classes is None else reference_classes
    counts = {c: references.count(c) for c in set(references)}
    rows = [(p, t) for p, t, own in zip(predicted, targets, references, strict=True)
            if counts.get(t, 0) - (own == t) > 0]
    return float(np.mean([p == t for p, t in rows])) if rows else None
