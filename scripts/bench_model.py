"""Benchmark of the video-to-audio model: speed on a 10 s clip, and steps vs quality.

Speed: a 10 s clip from decoded frames (24 fps, 128 px, as the pipeline hands them over) to
48 kHz samples at default settings: wall time, real-time factor and peak RSS, medians of 3 runs
(each in a fresh process, so peak memory includes loading), plus where the time goes.
Quality: for 4, 8, 16 and 25 steps (and, with --cfg, --guidance-from, --time-shift, --churn,
other sampler settings) on a small test subset, the eval's own metrics. --prompts: prompt
steering; --prompt-levels: each class's level with its captions, a class-level prompt and none;
--seams: seams on 30 s.

    .venv/bin/python scripts/bench_model.py [--checkpoint PATH] [--threads 2] [--subset 24]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

CLIP_SECONDS = 10.0


def _clip_frames(corpus: Path, fps: float, size: int) -> np.ndarray:
    """10 s of real corpus video (test clips back to back), or a moving square without a corpus."""
    from v2a.media.frames import decode_frames_at

    count = int(CLIP_SECONDS * fps)
    videos = sorted((corpus / "test").glob("*.mp4"))[:3] if corpus.is_dir() else []
    if videos:
        parts = [decode_frames_at(str(v), np.arange(int(4 * fps)) / fps, size) for v in videos]
        return np.concatenate(parts)[:count]
    frames = np.zeros((count, size, size, 3), np.uint8)
    for i in range(count):
        x = int((i * 3) % (size - 16))
        frames[i, 40:56, x : x + 16] = 255
    return frames


def run_once(checkpoint: str, threads: int, corpus: Path) -> dict:
    import torch

    from model.audio_codec import num_frames
    from model.network import motion_descriptor
    from model.v2a_model import V2AModel, peak_dbfs
    from v2a.contracts import SAMPLE_RATE

    torch.set_num_threads(threads)
    model = V2AModel.load(checkpoint) if checkpoint else V2AModel()
    cfg = model.config
    frames = _clip_frames(corpus, cfg.visual.frame_rate, cfg.visual.frame_size)
    num_samples = int(CLIP_SECONDS * SAMPLE_RATE)
    model.generate(frames[:24], cfg.visual.frame_rate, SAMPLE_RATE // 2)  # warm-up (first-call costs)
    started, cpu_started = time.perf_counter(), time.process_time()
    out = model.generate(frames, cfg.visual.frame_rate, num_samples, seed=0)
    total, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    assert out.shape == (num_samples,)
    # Where the time goes: the same work, part by part.
    parts = {}
    t = time.perf_counter()
    visual = model.prepare_visual(frames, cfg.visual.frame_rate)
    parts["visual_features"] = time.perf_counter() - t
    mel_frames = num_frames(cfg.audio, num_samples)
    t = time.perf_counter()
    with torch.inference_mode():
        model.sync_on_mel_clock(motion_descriptor(visual.sync_frames[None]), mel_frames + cfg.net.patch)
    parts["sync_encoder"] = time.perf_counter() - t
    t = time.perf_counter()
    model.codec.decode(np.full((mel_frames, cfg.audio.n_mels), -6.0, np.float32), num_samples)
    parts["decoder"] = time.perf_counter() - t
    parts["denoiser"] = max(0.0, total - sum(parts.values()))
    # The slowest case at default settings: a draw that peaks below the quiet floor is drawn again
    # (model/config.py `quiet_redraws`). A floor above full scale makes every draw count as quiet.
    sampler = cfg.sampler
    redrawn = peak_dbfs(out) < sampler.quiet_peak_dbfs  # whether the timed draw above was redrawn
    floor, sampler.quiet_peak_dbfs = sampler.quiet_peak_dbfs, 1000.0
    t = time.perf_counter()
    model.generate(frames, cfg.visual.frame_rate, num_samples, seed=0)
    every_redraw = time.perf_counter() - t
    sampler.quiet_peak_dbfs = floor
    return {"seconds": total, "seconds_every_redraw": every_redraw, "redrawn": redrawn,
            "quiet_redraws": sampler.quiet_redraws, "cpu_seconds": cpu, "load_average": os.getloadavg()[0], "rtf": CLIP_SECONDS / total, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "parts": parts, "steps": cfg.sampler.steps, "cfg_strength": cfg.sampler.cfg_strength,
            "method": cfg.sampler.method, "time_shift": cfg.sampler.time_shift, "decoder": cfg.audio.decoder}


def speed(checkpoint: str, threads: int, corpus: Path, runs: int = 3) -> dict:
    if not sorted((corpus / "test").glob("*.mp4")):
        # Said, since the speed figures in the docs are on real video (`_clip_frames`).
        print(f"no corpus test clips under {corpus}: timing a synthetic moving square instead")
    results = []
    for _ in range(runs):
        proc = subprocess.run([sys.executable, __file__, "--one", "--threads", str(threads), "--corpus", str(corpus)]
                              + (["--checkpoint", checkpoint] if checkpoint else []),
                              capture_output=True, text=True)
        if proc.returncode != 0:  # its stderr is the reason (a damaged checkpoint names itself)
            reason = (proc.stderr.strip().splitlines() or ["no message"])[-1]
            sys.exit(f"the timing process failed (exit status {proc.returncode}): {reason}")
        results.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    median = {key: statistics.median(r[key] for r in results)
              for key in ("seconds", "seconds_every_redraw", "cpu_seconds", "load_average", "rtf", "peak_rss_mb")}
    median["redrawn"] = [r["redrawn"] for r in results]
    median["quiet_redraws"] = results[0]["quiet_redraws"]
    median["parts"] = {k: statistics.median(r["parts"][k] for r in results) for k in results[0]["parts"]}
    median["settings"] = {k: results[0][k] for k in ("steps", "cfg_strength", "method", "decoder")}
    median["runs"] = [round(r["seconds"], 3) for r in results]
    return median


@dataclass
class Subset:
    """The clips the quality sections score, decoded and embedded once for all of them."""

    rows: list[dict]  # the whole manifest
    examples: list  # model.eval.run.Example, dealt round-robin over classes as the eval does
    references: np.ndarray  # their reference audio in the eval's aisfx embedding
    classes: list[str]  # each example's class


def load_subset(corpus: Path, split: str, subset: int) -> Subset:
    from model.eval.embedding import default_embedder
    from model.eval.run import load_example, read_manifest, select_examples

    rows = read_manifest(corpus)
    examples = [load_example(corpus, row) for row in select_examples(rows, split, subset)]
    references = default_embedder().embed([e.audio for e in examples])
    return Subset(rows, examples, references, [e.row["class"] for e in examples])


def steps_vs_quality(checkpoint: str, data: Subset, steps_list: list[int],
                     cfg_list: list[float] | None = None, guidance_from_list: list[float] | None = None,
                     shift_list: list[float] | None = None, churn_list: list[float] | None = None) -> list[dict]:
    """The eval's metrics (model/eval) on the subset for each step count, guidance strength,
    guidance start, time-grid shift and noise churn (each list defaults to the checkpoint's own)."""
    import itertools

    from model.eval import metrics
    from model.eval.embedding import default_embedder
    from model.eval.onsets import detect_onsets
    from model.eval.run import rms_db
    from model.v2a_model import V2AModel
    from v2a.contracts import SAMPLE_RATE

    model = V2AModel.load(checkpoint)
    examples, references, classes = data.examples, data.references, data.classes
    embedder = default_embedder()
    reference_db = [rms_db(e.audio) for e in examples]
    # What the references themselves score against the motion detector: AV-Align's bar.
    print(json.dumps({"reference_av_align": float(np.mean(
        [metrics.av_align(detect_onsets(e.audio, SAMPLE_RATE)[0], e.video_peaks, 24.0) for e in examples]))}),
        flush=True)
    table = []
    sampler = model.config.sampler
    grid = itertools.product(churn_list or [sampler.noise_churn], shift_list or [sampler.time_shift],
                             guidance_from_list or [sampler.guidance_from], cfg_list or [sampler.cfg_strength],
                             steps_list)
    for churn, shift, guidance_from, cfg, steps in grid:
        sampler.noise_churn, sampler.time_shift, sampler.guidance_from = churn, shift, guidance_from
        started = time.perf_counter()
        audio = [model.generate(e.frames, 24.0, len(e.audio), prompt=e.row.get("caption") or None,
                                seed=i, steps=steps, cfg_strength=cfg) for i, e in enumerate(examples)]
        seconds = time.perf_counter() - started
        embedded = embedder.embed(audio)
        generated_db = [rms_db(a) for a in audio]
        predicted = metrics.nearest_reference_class(embedded, references, classes)
        onsets = [detect_onsets(a, SAMPLE_RATE)[0] for a in audio]
        onset_acc = [metrics.onset_accuracy(e.onsets, o) for e, o in zip(examples, onsets, strict=True)]
        av_align = [metrics.av_align(o, e.video_peaks, 24.0) for e, o in zip(examples, onsets, strict=True)]
        table.append({
            "steps": steps,
            "cfg_strength": cfg,
            "guidance_from": guidance_from,
            "time_shift": shift,
            "noise_churn": churn,
            "frechet": metrics.frechet_distance(embedded, references),
            # The eval's rule: a clip whose class has no other clip here is left out (None: none
            # left).
            "class_agreement": metrics.held_out_agreement(predicted, classes),
            "onset_accuracy": float(np.mean(onset_acc)),
            "av_align": float(np.mean(av_align)),
            # Loudness against the reference clip (diagnostic, not an eval metric).
            "level_error_db": float(np.median(np.abs(np.subtract(generated_db, reference_db)))),
            "silent_outputs": sum(level < -60 for level in generated_db),
            "seconds_per_4s_clip": seconds / len(examples),
        })
        print(json.dumps(table[-1]), flush=True)
    return table


def prompt_steering(checkpoint: str, data: Subset, steps: int = 0, strengths: list[float] | None = None) -> dict:
    """Same videos, three prompts: none, their own caption, another class's caption; for each
    prompt guidance strength (default: the checkpoint's).

    Class agreement (nearest class centroid of the subset's other references in the eval's aisfx
    embedding) toward the video's own class and toward the prompted other class: prompts work
    when the second rises. Use a subset of at least 5 per class, or each centroid is one clip.
    """
    from model.eval import metrics
    from model.eval.embedding import default_embedder
    from model.v2a_model import V2AModel

    model = V2AModel.load(checkpoint)
    rows, examples, references, video_classes = data.rows, data.examples, data.references, data.classes
    embedder = default_embedder()
    classes = sorted({row["class"] for row in rows})
    caption_of = {}
    for row in rows:  # one caption per class, the first in the manifest
        caption_of.setdefault(row["class"], row["caption"])
    other = [classes[(classes.index(e.row["class"]) + 5) % len(classes)] for e in examples]
    prompts = {"no prompt": [None] * len(examples), "own caption": [e.row["caption"] for e in examples],
               "other class's caption": [caption_of[c] for c in other]}
    result = {}
    for strength in strengths or [model.config.sampler.prompt_strength]:
        for label, texts in prompts.items():
            if label == "no prompt" and result.get("no prompt"):
                continue  # prompt guidance does nothing without a prompt
            audio = [model.generate(e.frames, 24.0, len(e.audio), prompt=t, seed=i, steps=steps or None,
                                    prompt_strength=strength)
                     for i, (e, t) in enumerate(zip(examples, texts, strict=True))]
            predicted = metrics.nearest_reference_class(embedder.embed(audio), references, video_classes)
            key = label if label == "no prompt" else f"{label}, prompt strength {strength:g}"
            # The eval's rule: a clip is left out where the class it is scored against has no
            # centroid here (its own class without another clip, or another class without any).
            result[key] = {
                "agree_with_video_class": metrics.held_out_agreement(predicted, video_classes),
                "agree_with_other_class": metrics.held_out_agreement(predicted, other,
                                                                     video_classes),
            }
            print(key, json.dumps(result[key]), flush=True)
    return result


# What an editor might type for each class of the bundled corpus, naming the class, not a recording.
CLASS_PROMPTS = {
    "footsteps_soft": "footsteps", "footsteps_hard": "footsteps on a hard floor", "glass_break": "breaking glass",
    "door": "a door", "drum": "a drum", "metal_strike": "metal is struck", "wood_stone_knock": "a knock",
    "explosion": "an explosion", "bird": "a bird", "mammal": "an animal", "insect_frog": "an insect",
    "household_machine": "a machine",
}


def prompt_levels(checkpoint: str, data: Subset) -> dict:
    """Per class, the median level (dB RMS) and class agreement of the same clips with their own
    caption, a class-level prompt (CLASS_PROMPTS, else the class name) and no prompt, beside the
    references' level. A prompt the model does not know shows up as a level far below the
    reference's (docs/model.md, "Captions the model never saw")."""
    from model.eval import metrics
    from model.eval.embedding import default_embedder
    from model.eval.run import rms_db
    from model.v2a_model import V2AModel

    model = V2AModel.load(checkpoint)
    examples, references, classes = data.examples, data.references, data.classes
    embedder = default_embedder()
    prompts = {"own caption": [e.row.get("caption") or None for e in examples],
               "class prompt": [CLASS_PROMPTS.get(c, c.replace("_", " ")) for c in classes],
               "no prompt": [None] * len(examples)}
    levels = {"reference": [rms_db(e.audio) for e in examples]}
    # the references too, each against the others (its own left out), as the eval scores them
    predicted = {"reference": metrics.nearest_reference_class(references, references, classes)}
    for label, texts in prompts.items():
        audio = [model.generate(e.frames, 24.0, len(e.audio), prompt=t, seed=i)
                 for i, (e, t) in enumerate(zip(examples, texts, strict=True))]
        levels[label] = [rms_db(a) for a in audio]
        predicted[label] = metrics.nearest_reference_class(embedder.embed(audio), references,
                                                           classes)
    result = {}
    print("class: median dB (class agreement) for " + " / ".join(levels))
    for name in sorted(set(classes)):
        rows = [i for i, c in enumerate(classes) if c == name]
        # the eval's per-class rule: None where the class has a single clip here
        result[name] = {label: {"level_db": float(np.median([values[i] for i in rows])),
                                "class_agreement": metrics.held_out_agreement(
                                    [predicted[label][i] for i in rows], [name] * len(rows))}
                        for label, values in levels.items()}
        print(f"  {name:18} " + " / ".join(f"{v['level_db']:6.1f} ({_share(v['class_agreement'])})"
                                          for v in result[name].values()), flush=True)
    print(json.dumps(result))
    return result


def seams(checkpoint: str, corpus: Path, seconds: float = 30.0) -> dict:
    """The seam measures (model/seams.py: flux, and level in the overlaps) on a long clip of real
    corpus video, with the joint blended windows and, as a control, with abutting windows."""
    from model.seams import (
        overlap_level_db,
        overlap_spans,
        seam_dips_db,
        seam_ratio,
        window_boundaries,
    )
    from model.v2a_model import V2AModel
    from v2a.contracts import SAMPLE_RATE
    from v2a.media.frames import decode_frames_at

    model = V2AModel.load(checkpoint)
    fps, size = model.config.visual.frame_rate, model.config.visual.frame_size
    videos = sorted((corpus / "test").glob("*.mp4"))[:: 39][: int(np.ceil(seconds / 4))]
    frames = np.concatenate([decode_frames_at(str(v), np.arange(int(4 * fps)) / fps, size) for v in videos])
    num_samples = int(seconds * SAMPLE_RATE)
    result = {}
    sampler = model.config.sampler
    # The control abuts windows of one grid: staggered grids would hide its cuts.
    for label, overlap, grids in (("blended windows", sampler.overlap_tokens, sampler.window_grids),
                                  ("abutting windows (control)", 0, 1)):
        sampler.overlap_tokens, sampler.window_grids = overlap, grids
        out = model.generate(frames, fps, num_samples, seed=0)
        boundaries = window_boundaries(model.config, num_samples)
        # The ratio exceeds 1 at any times (flux is skewed): the same measure at random times of
        # the same output is the reference a seam must stand out from.
        random_times = sorted(np.random.default_rng(0).uniform(1, seconds - 1, len(boundaries)))
        result[label] = {"seam_ratio": seam_ratio(out, boundaries, model.codec), "boundaries": len(boundaries),
                         "at_random_times": seam_ratio(out, list(random_times), model.codec),
                         "overlap_level_db": overlap_level_db(out, overlap_spans(model.config, num_samples))}
        dips = seam_dips_db(out, overlap_spans(model.config, num_samples))
        result[label]["seam_dip_db_median"] = float(np.median(dips)) if dips else None
        print(label, json.dumps(result[label]), flush=True)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", help="default: the shipped one (without it, an untrained model "
                        "of the default size is timed)")
    parser.add_argument("--corpus", default=str(REPO / "data/corpus"))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--subset", type=int, default=24, help="examples for steps vs quality")
    parser.add_argument("--split", default="test", help="corpus split the quality figures use "
                        "(choose settings on val, report them on test)")
    parser.add_argument("--steps", default="4,8,16,25")
    parser.add_argument("--cfg", default="", help="guidance strengths to sweep, e.g. 1.5,3,5 "
                        "(default: the checkpoint's)")
    parser.add_argument("--guidance-from", default="", help="flow times where guidance starts, "
                        "e.g. 0,0.2,0.4 (default: the checkpoint's)")
    parser.add_argument("--time-shift", default="", help="time-grid shifts, e.g. 0.5,1,2 "
                        "(default: the checkpoint's)")
    parser.add_argument("--churn", default="", help="noise churn values, e.g. 0,0.3,0.6 "
                        "(default: the checkpoint's)")
    parser.add_argument("--skip-quality", action="store_true")
    parser.add_argument("--skip-speed", action="store_true")
    parser.add_argument("--prompts", action="store_true", help="also measure prompt steering")
    parser.add_argument("--prompt-strengths", default="", help="prompt guidance strengths for "
                        "--prompts, e.g. 0,1,2,4 (default: the checkpoint's)")
    parser.add_argument("--prompt-levels", action="store_true", help="also measure each class's level and "
                        "class agreement with its captions, a class-level prompt and none")
    parser.add_argument("--seams", action="store_true", help="also measure seams on 30 s")
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.checkpoint and not Path(args.checkpoint).is_file():
        # Named but not there: timing an untrained model instead gave figures nobody asked for.
        parser.error(f"--checkpoint {args.checkpoint}: no such file")
    shipped = REPO / "model/checkpoints/v2a-default.safetensors"
    checkpoint = args.checkpoint or (str(shipped) if shipped.is_file() else "")
    if args.one:
        print(json.dumps(run_once(checkpoint, args.threads, Path(args.corpus))))
        return 0
    if not checkpoint:
        print("no checkpoint: timing an untrained model of the default size (speed only)")
    has_corpus = Path(args.corpus, "manifest.jsonl").is_file()
    quality = not args.skip_quality
    # The sections that score the model on corpus clips were left out without a word when the
    # corpus was not there (with --skip-speed: nothing measured, exit status 0).
    asked = [name for name, on in (("steps vs quality", quality), ("--prompts", args.prompts),
                                   ("--prompt-levels", args.prompt_levels), ("--seams", args.seams)) if on]
    if asked and not (checkpoint and has_corpus):
        why = f"no corpus at {args.corpus} (manifest.jsonl)" if not has_corpus else "no checkpoint"
        if args.skip_speed:
            parser.error(f"{why}: nothing to measure ({', '.join(asked)} need a corpus and a checkpoint)")
        print(f"{why}: {', '.join(asked)} left out")
    if not args.skip_speed:
        _print_speed(speed(checkpoint, args.threads, Path(args.corpus)), args.threads)
    if checkpoint and has_corpus and (quality or args.prompts or args.prompt_levels):
        data = load_subset(Path(args.corpus), args.split, args.subset)
        if quality:
            steps_vs_quality(checkpoint, data, [int(s) for s in args.steps.split(",")], _floats(args.cfg),
                             _floats(args.guidance_from), _floats(args.time_shift), _floats(args.churn))
        if args.prompts:
            prompt_steering(checkpoint, data, strengths=_floats(args.prompt_strengths))
        if args.prompt_levels:
            prompt_levels(checkpoint, data)
    if checkpoint and args.seams and has_corpus:
        seams(checkpoint, Path(args.corpus))
    return 0


def _share(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def _floats(text: str) -> list[float] | None:
    return [float(value) for value in text.split(",")] if text else None


def _print_speed(result: dict, threads: int) -> None:
    print(f"10 s clip, {threads} threads, {result['settings']}: median {result['seconds']:.2f} s "
          f"(runs {result['runs']}), {result['rtf']:.1f}x real time, CPU {result['cpu_seconds']:.2f} s, "
          f"peak RSS {result['peak_rss_mb']:.0f} MB, load average {result['load_average']:.1f}")
    print("  parts: " + ", ".join(f"{k} {v:.2f} s" for k, v in result["parts"].items()))
    print(f"  a near-silent draw drawn again ({result['quiet_redraws']} redraw(s), the slowest case): median "
          f"{result['seconds_every_redraw']:.2f} s, {CLIP_SECONDS / result['seconds_every_redraw']:.1f}x real time; "
          f"the timed draw above was redrawn: {result['redrawn']}")
    print(json.dumps(result))


if __name__ == "__main__":
    sys.exit(main())
