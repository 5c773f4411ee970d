"""`v2a eval`: score generators on a corpus split and write metrics.json and report.md.

Every generator sees what the timeline code gives it (frames at 24 fps, 160 px, a sample
count, params with the example's caption as prompt). Oracle baselines also get the example's
class (random-sample, onset-transfer) or its reference audio (ceiling); the report says so.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile

from model.data.io import (
    EVAL_REPORT,
    check_replaceable,
    make_staging,
    read_mp4_frames,
    replace_folder,
)
from model.eval import metrics
from model.eval.motion import motion_peaks
from model.eval.onsets import detect_onsets
from v2a.contracts import SAMPLE_RATE, GenerationParams

log = logging.getLogger(__name__)

DEFAULT_GENERATORS = ("silence", "random-sample", "onset-transfer", "motion-bursts", "ceiling",
                      "default")
_CENTROID_PER_CLASS = 24


@dataclass
class Example:
    row: dict
    video_path: Path
    frames: np.ndarray  # as stored: 24 fps, 160 px
    audio: np.ndarray
    onsets: np.ndarray
    video_peaks: np.ndarray


@dataclass
class Scores:
    name: str
    provenance: dict = field(default_factory=dict)
    onset_acc: list = field(default_factory=list)
    onset_count_acc: list = field(default_factory=list)
    onset_ap: list = field(default_factory=list)
    av_align: list = field(default_factory=list)
    embeddings: list = field(default_factory=list)
    level_db: list = field(default_factory=list)  # each clip's RMS level: silence shows here first
    seconds: float = 0.0
    audio_seconds: float = 0.0
    samples: dict = field(default_factory=dict)  # example id -> audio, for the pictures
    error: str = ""


#: What the evaluation reads of every manifest row (`v2a data build` and `import-folder` write them).
_ROW_KEYS = ("id", "split", "video", "audio", "class", "caption", "duration")


def read_manifest(corpus: Path) -> list[dict]:
    """The manifest's rows; a line that is not JSON, or a row without a key the evaluation reads,
    is a ValueError naming the file and line (they were a bare json message or a KeyError)."""
    path = corpus / "manifest.jsonl"
    if not path.is_file():
        raise FileNotFoundError(f"no corpus at {corpus} (missing manifest.jsonl); "
                                "build one with: v2a data build")
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as error:
            raise ValueError(f"{path}:{number}: not JSON ({error})") from error
        if not isinstance(row, dict):
            raise ValueError(f"{path}:{number}: not a JSON object")
        missing = [key for key in _ROW_KEYS if key not in row]
        if missing:
            raise ValueError(f"{path}:{number}: a row without {missing[0]!r}")
        rows.append(row)
    return rows


def select_examples(rows: list[dict], split: str, limit: int | None = None) -> list[dict]:
    """Up to `limit` rows of the split (all with None), dealt round-robin over classes (sorted
    by id)."""
    limit = len(rows) if limit is None else limit
    by_class: dict[str, list[dict]] = {}
    for row in sorted((r for r in rows if r["split"] == split), key=lambda r: r["id"]):
        by_class.setdefault(row["class"], []).append(row)
    chosen, depth = [], 0
    while len(chosen) < limit and any(depth < len(v) for v in by_class.values()):
        for name in sorted(by_class):
            if depth < len(by_class[name]) and len(chosen) < limit:
                chosen.append(by_class[name][depth])
        depth += 1
    return chosen


def read_audio(path: Path) -> np.ndarray:
    try:
        audio, rate = soundfile.read(path, dtype="float32", always_2d=True)
    except RuntimeError as error:  # soundfile's errors (a file cut short): one line, not a traceback
        raise ValueError(f"{path}: cannot read the audio ({error})") from error
    if rate != SAMPLE_RATE:
        raise ValueError(f"{path}: {rate} Hz, expected {SAMPLE_RATE}")
    return audio.mean(axis=1)


def load_example(corpus: Path, row: dict) -> Example:
    frames = read_mp4_frames(corpus / row["video"])
    audio = read_audio(corpus / row["audio"])
    onsets, _ = detect_onsets(audio, SAMPLE_RATE)
    peaks, _ = motion_peaks(frames, 24.0)
    return Example(row, corpus / row["video"], frames, audio, onsets, peaks)


def frames_for(generator, ex: Example) -> np.ndarray:
    """The clip's frames at the generator's own rate and size, decoded as the pipeline does."""
    rate, size = float(generator.frame_rate), int(generator.frame_size)
    if rate == 24.0 and size == ex.frames.shape[1]:
        return ex.frames
    from v2a.media.frames import decode_frames_at

    count = int(round(ex.row["duration"] * rate))
    return decode_frames_at(str(ex.video_path), np.arange(count) / rate, size)


def class_centroids(corpus: Path, rows: list[dict], embedder,
                    show_progress: bool = False) -> dict[str, np.ndarray]:
    """Mean embedding of (up to 24) train-split reference clips per class."""
    by_class: dict[str, list[dict]] = {}
    for row in sorted((r for r in rows if r["split"] == "train"), key=lambda r: r["id"]):
        by_class.setdefault(row["class"], []).append(row)
    chosen = {name: items[:_CENTROID_PER_CLASS] for name, items in by_class.items()}
    clips = [read_audio(corpus / r["audio"]) for items in chosen.values() for r in items]
    embedded = iter(embed(embedder, clips, "embed train centroids", show_progress))
    return {name: np.stack([next(embedded) for _ in items]).mean(axis=0)
            for name, items in chosen.items()}


def embed(embedder, clips: list[np.ndarray], label: str, show_progress: bool) -> np.ndarray:
    """The clips' embeddings, with a progress bar when asked: about 0.2 s a clip on 2 cores, so
    the references, the centroids' clips and each generator's were minutes with no bar moving.
    In batches of the embedder's own size (16), so the batches are the ones it makes itself."""
    if not show_progress:
        return embedder.embed(clips)
    from v2a.progress import progress_bar

    parts = []
    # leave=None: a bar below the eval bar goes when done; one on its own line stays
    with progress_bar(total=len(clips), desc=label, unit="clip", leave=None) as bar:
        for start in range(0, len(clips), 16):
            parts.append(embedder.embed(clips[start:start + 16]))
            bar.update(len(parts[-1]))
    return np.concatenate(parts) if parts else embedder.embed([])


def score_generator(name: str, generator, examples: list[Example], embedder,
                    keep: set[str], progress, with_captions: bool = True,
                    seed_offset: int = 0, show_progress: bool = False) -> Scores:
    scores = Scores(name, provenance=generator.provenance())
    num_samples = int(round(examples[0].row["duration"] * SAMPLE_RATE))
    for i, ex in enumerate(examples):
        if hasattr(generator, "set_reference_class"):
            generator.set_reference_class(ex.row["class"])
        if hasattr(generator, "set_reference_audio"):
            generator.set_reference_audio(ex.audio)
        params = GenerationParams(prompt=ex.row["caption"] if with_captions else None, seed=seed_offset + i)
        started = time.perf_counter()
        frames = frames_for(generator, ex)
        audio = np.asarray(generator.generate(frames, float(generator.frame_rate), num_samples,
                                              params), np.float32)
        scores.seconds += time.perf_counter() - started
        scores.audio_seconds += num_samples / SAMPLE_RATE
        if audio.shape != (num_samples,):
            raise ValueError(f"{name} returned shape {audio.shape}, expected ({num_samples},)")
        onsets, strengths = detect_onsets(audio, SAMPLE_RATE)
        scores.onset_acc.append(metrics.onset_accuracy(ex.onsets, onsets))
        scores.onset_count_acc.append(metrics.onset_count_accuracy(ex.onsets, onsets))
        scores.onset_ap.append(metrics.onset_average_precision(ex.onsets, onsets, strengths))
        scores.av_align.append(metrics.av_align(onsets, ex.video_peaks, 24.0))
        scores.level_db.append(rms_db(audio))
        scores.embeddings.append(audio)  # embedded in batches below
        if ex.row["id"] in keep:
            scores.samples[ex.row["id"]] = audio
        progress()
    scores.embeddings = list(embed(embedder, scores.embeddings, f"embed {name}", show_progress))
    return scores


def summarise(scores: Scores, reference_embeddings: np.ndarray, classes: list[str],
              centroids: dict[str, np.ndarray], reference_levels: list[float]) -> dict:
    if scores.error:  # a generator that raised while scoring (one that cannot load stops the run)
        return {"status": "failed", "reason": scores.error}
    emb = np.stack(scores.embeddings)
    predicted = metrics.nearest_reference_class(emb, reference_embeddings, classes)
    # No train split (a corpus imported from one's own test clips): no train centroids, no figure.
    predicted_train = metrics.nearest_centroid(emb, centroids) if centroids else None
    mean_term, cov_term = metrics.frechet_terms(emb, reference_embeddings)
    spread, class_spread = metrics.spread(emb, classes)
    return {
        "onset_acc": float(np.mean(scores.onset_acc)),
        "onset_count_acc": float(np.mean(scores.onset_count_acc)),
        "onset_ap": float(np.mean(scores.onset_ap)),
        "av_align": float(np.mean(scores.av_align)),
        "frechet": metrics.frechet_from_terms(mean_term, cov_term),
        # Where the distance comes from (docs/eval.md): the mean and covariance terms, and how
        # widely the clips and the class means spread, to set beside the reference's.
        "frechet_parts": {"mean_term": mean_term, "covariance_term": cov_term,
                          "spread": spread, "class_spread": class_spread},
        "class_agreement": metrics.held_out_agreement(predicted, classes),
        # The measure before the sixth session (centroids of train clips), kept for comparison
        # with older reports; it favours generators that reproduce training recordings.
        "class_agreement_train_centroids": _share_equal(predicted_train, classes) if centroids else None,
        "quiet_share": float(np.mean([level < ref - metrics.QUIET_BELOW_REFERENCE_DB for level, ref
                                      in zip(scores.level_db, reference_levels, strict=True)])),
        "rtf": scores.seconds / max(scores.audio_seconds, 1e-9),
        "provenance": scores.provenance,
        "per_class": _per_class(scores, predicted, classes),
    }


def _per_class(scores: Scores, predicted: list, classes: list[str]) -> dict[str, dict]:
    """Median level, class agreement, onset accuracy and AV-Align of each class's clips: a class
    that comes out silent or as another class is plain here, where the overall figures average it
    away; so is a class whose reference itself does not follow the motion detector (AV-Align)."""
    out = {}
    for name in sorted(set(classes)):
        rows = [i for i, c in enumerate(classes) if c == name]
        out[name] = {"level_db": float(np.median([scores.level_db[i] for i in rows])),
                     "class_agreement": metrics.held_out_agreement([predicted[i] for i in rows],
                                                                   [name] * len(rows)),
                     "onset_acc": float(np.mean([scores.onset_acc[i] for i in rows])),
                     "av_align": float(np.mean([scores.av_align[i] for i in rows]))}
    return out


def rms_db(audio: np.ndarray) -> float:
    """Level in dB relative to full scale (RMS; -180 for digital silence)."""
    return float(20 * np.log10(np.sqrt(np.mean(np.square(audio, dtype=np.float64))) + 1e-9))


def evaluate(corpus: str | Path, out: str | Path, split: str = "test",
             generators: list[str] | tuple[str, ...] = DEFAULT_GENERATORS, limit: int | None = None,
             pictures: int = 4, show_progress: bool = True, with_captions: bool = True,
             seed_offset: int = 0) -> dict:
    """Score each generator on up to `limit` examples of the split (the whole split with None,
    which the bars are read on: docs/eval.md); write the report.

    `with_captions`: each example's caption is the prompt (the default); False scores what the
    picture alone gives, as for an editor who types no prompt. `seed_offset`: example i is
    generated with seed `seed_offset + i`; another offset is another draw of the same generators,
    which is how far the seed alone moves every figure (docs/model.md, "How far the seed moves
    these figures")."""
    import platform

    from tqdm.contrib.logging import logging_redirect_tqdm

    from model.eval.embedding import default_embedder
    from model.eval.report import write_report
    from model.generators import check_generator_spec
    from v2a.progress import progress_bar

    for spec in generators:  # a typo in the last spec would otherwise surface after the others ran
        check_generator_spec(spec)
        if list(generators).count(spec) > 1:  # scored twice, and the second row replaced the first
            raise ValueError(f"generator {spec!r} is named twice in --generators")
    corpus, out = Path(corpus), Path(out)
    _check_out(out)  # before minutes of scoring, as the swap at the end would refuse it
    rows = read_manifest(corpus)
    chosen = select_examples(rows, split, limit)
    if not chosen:  # a typo (`tset`), or a split an imported corpus lacks: say which there are
        have = ", ".join(sorted({r["split"] for r in rows})) or "none"
        raise ValueError(f"{corpus}: no examples in split {split!r}; its splits: {have}")
    loaded = _load_generators(generators, corpus)  # before any example: a typo fails at once
    # Closed on an error too, so that the command's error line starts a line of its own (it was
    # printed onto the bar: "load:  67%|...| 2/3 ...ERROR model.cli: ...").
    with progress_bar(chosen, desc="load", unit="ex", disable=not show_progress) as rows_loaded:
        examples = [load_example(corpus, r) for r in rows_loaded]
    embedder = default_embedder()
    reference_emb = embed(embedder, [ex.audio for ex in examples], "embed reference", show_progress)
    centroids = class_centroids(corpus, rows, embedder, show_progress)
    classes = [ex.row["class"] for ex in examples]
    keep_ids = _picture_ids(examples, pictures)

    all_scores = [_score_reference(examples, reference_emb)]

    # Log lines while the bar is open (a generator that failed, the model's redraws) go through
    # tqdm, each on a line of its own above the bar, not onto the bar's line.
    with progress_bar(total=len(examples) * len(generators), desc="eval", unit="clip",
              disable=not show_progress) as bar, logging_redirect_tqdm():
        for name, spec, generator in loaded:
            try:
                all_scores.append(score_generator(name, generator, examples, embedder, keep_ids,
                                                  bar.update, with_captions, seed_offset,
                                                  show_progress))
            except Exception as error:  # a broken generator is reported, the others still scored
                log.error("%s failed: %s: %s", spec, type(error).__name__, error)
                all_scores.append(Scores(name, error=f"failed: {type(error).__name__}: {error}"))

    reference_levels = all_scores[0].level_db
    results = {s.name: summarise(s, reference_emb, classes, centroids, reference_levels) for s in all_scores}
    _add_distance_to_ceilings(results, all_scores)
    results["reference"]["rtf"] = None
    # Everything is written beside `out` and swapped in whole at the end, as `v2a data build`
    # does: written into `out`, a run stopped midway left a report beside pictures or embeddings
    # of another run, and pictures of earlier runs stayed.
    staging = _staging_for(out)
    picture_files = _draw_pictures(staging, [ex for ex in examples if ex.row["id"] in keep_ids],
                                   all_scores[1:])
    settings = {"corpus": str(corpus), "split": split, "examples": len(examples),
                "classes": len(set(classes)), "generators": list(generators),
                "machine": f"{platform.machine()} CPU, {_cpu_count()} cores",
                "onset_tolerance_s": metrics.ONSET_TOLERANCE_S,
                "prompts": "the example's caption" if with_captions else "none",
                "seed_offset": seed_offset}
    write_report(staging, results, settings, picture_files)
    _save_embeddings(staging / "embeddings.npz", examples, all_scores)
    try:
        replace_folder(staging, out, EVAL_REPORT)
    except FileExistsError as error:  # `out` became something else while the run went on
        raise ValueError(str(error)) from None
    return results


def _check_out(out: Path) -> None:
    """The report folder is replaced whole: refuse one that holds something else (a mistyped
    --out), as a ValueError the command line prints in one line."""
    try:
        check_replaceable(out, EVAL_REPORT)
    except FileExistsError as error:
        raise ValueError(str(error)) from None


def _staging_for(out: Path) -> Path:
    try:
        return make_staging(out, EVAL_REPORT)
    except FileExistsError as error:  # a `<out>.building` that is not ours
        raise ValueError(str(error)) from None


def _load_generators(generators: list[str] | tuple[str, ...], corpus: Path) -> list[tuple]:
    """(row name, spec, generator) for each spec, or a ValueError naming the spec that cannot be
    loaded. A missing checkpoint (`v2a:/typo`) used to give a row of "pending" and exit status 0,
    a bad decoder name (`ceiling:typo`) an error after every example was loaded."""
    from model.generators import load_generator

    loaded = []
    bases = [spec.split(":")[0] for spec in generators]
    for spec in generators:
        name = spec.split(":")[0]
        if bases.count(name) > 1:
            name = spec  # e.g. two ceilings with different decoders: each keeps its own row
        if name in ("random-sample", "onset-transfer") and ":" not in spec:
            spec = f"{spec}:{corpus}"  # they draw recordings from this corpus's train split
        try:
            loaded.append((name, spec, load_generator(spec)))
        except (ImportError, OSError, ValueError) as error:
            raise ValueError(f"generator {spec!r} cannot be loaded: {error}") from error
    return loaded


def _save_embeddings(path: Path, examples: list[Example], all_scores: list[Scores]) -> None:
    """Every scored row's aisfx embeddings, in example order, so distances on other subsets or
    with other estimators can be computed later without generating again."""
    arrays = {s.name: np.stack(s.embeddings).astype(np.float32)
              for s in all_scores if not s.error and s.embeddings}
    np.savez_compressed(path, example_ids=np.array([ex.row["id"] for ex in examples]),
                        classes=np.array([ex.row["class"] for ex in examples]), **arrays)


def _add_distance_to_ceilings(results: dict, all_scores: list[Scores]) -> None:
    """Each generator's Fréchet distance to every ceiling row's clips: how near it comes to what
    a perfect model could sound like through that decoder. A model can be far from the
    references only because its decoder is, which this separates out."""
    scored = {s.name: np.stack(s.embeddings) for s in all_scores if not s.error and s.embeddings}
    ceilings = [s.name for s in all_scores if s.provenance.get("kind") == "ceiling" and s.name in scored]
    for name, emb in scored.items():
        results[name]["frechet_parts"]["vs_ceiling"] = {
            c: metrics.frechet_distance(emb, scored[c]) for c in ceilings}


def _share_equal(predicted: list, classes: list[str]) -> float:
    return float(np.mean([p == c for p, c in zip(predicted, classes, strict=True)]))


def _score_reference(examples: list[Example], embeddings: np.ndarray) -> Scores:
    """The corpus audio scored like a generator (perfect onsets; its AV-Align is the bar)."""
    reference = Scores("reference", provenance={"kind": "reference", "note": "the corpus audio"})
    for ex in examples:
        onsets, strengths = detect_onsets(ex.audio, SAMPLE_RATE)
        reference.onset_acc.append(metrics.onset_accuracy(ex.onsets, onsets))
        reference.onset_count_acc.append(metrics.onset_count_accuracy(ex.onsets, onsets))
        reference.onset_ap.append(metrics.onset_average_precision(ex.onsets, onsets, strengths))
        reference.av_align.append(metrics.av_align(onsets, ex.video_peaks, 24.0))
        reference.level_db.append(rms_db(ex.audio))
    reference.embeddings = list(embeddings)
    return reference


def _draw_pictures(out: Path, examples: list[Example], generated: list[Scores]) -> list[str]:
    from model.eval.report import spectrogram_figure

    out.mkdir(parents=True, exist_ok=True)
    names = []
    for ex in examples:
        key = ex.row["id"]
        panel = [("reference", ex.audio, ex.onsets)] + [
            (s.name, s.samples[key], detect_onsets(s.samples[key], SAMPLE_RATE)[0])
            for s in generated if key in s.samples]
        spectrogram_figure(out / f"{key}.png", f"{key}: {ex.row['caption']}", panel, ex.onsets,
                           ex.video_peaks)
        names.append(f"{key}.png")
    return names


def _cpu_count() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


_PICTURE_CLASSES = ("footsteps_soft", "drum", "glass_break", "bird", "door", "explosion")


def _picture_ids(examples: list[Example], count: int) -> set[str]:
    """One example each of `count` classes (a step, a strike, a shatter, a stamp first), the
    one with the most onsets (up to 4) so the pictures show timing."""
    by_class: dict[str, Example] = {}
    for ex in sorted(examples, key=lambda e: (-min(len(e.onsets), 4), e.row["id"])):
        by_class.setdefault(ex.row["class"], ex)
    order = [c for c in _PICTURE_CLASSES if c in by_class] + sorted(
        c for c in by_class if c not in _PICTURE_CLASSES)
    return {by_class[c].row["id"] for c in order[:count]}
