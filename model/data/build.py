"""`v2a data build`: render the corpus from recordings in installed Debian packages.

Every example is planned from its own random generator seeded by (seed, class, split, index),
so the corpus is the same whatever the worker count or order. Splits are by source recording:
each class's recordings are dealt into train/val/test once, and an example only uses
recordings of its own split.
"""

from __future__ import annotations

import json
import logging
import os
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from model.data import render
from model.data.io import (
    check_replaceable,
    make_staging,
    read_recording,
    replace_folder,
    write_mp4,
    write_wav,
)
from model.data.sources import (
    APT_PACKAGES,
    ZERO_AD_PACKAGE,
    SoundClass,
    discover_classes,
    licence_of,
    missing_packages,
)
from model.eval.onsets import HOP_S, detect_onsets, onset_envelope
from v2a.contracts import SAMPLE_RATE
from v2a.progress import progress_bar

log = logging.getLogger(__name__)

DURATION = 4.0
FRAMES = int(DURATION * render.FPS)
NUM_SAMPLES = int(DURATION * SAMPLE_RATE)
SPLIT_SHARES = {"train": 0.75, "val": 0.10, "test": 0.15}
_SPLIT_INDEX = {"train": 0, "val": 1, "test": 2}


@dataclass(frozen=True)
class ExampleJob:
    out: str
    example_id: str
    split: str
    class_name: str
    class_index: int
    index: int
    seed: int
    render_kind: str
    recordings: tuple[tuple[str, tuple[str, ...], str, str], ...]  # (path, pictures, caption, pkg)


def split_recordings(cls: SoundClass, seed: int) -> dict[str, list]:
    """Deal a class's recordings into splits; test and val get at least one where possible.

    Training-only extras (0 A.D.'s) are not dealt: they follow the train recordings, so the
    val and test splits are the same with or without them. An extra loses any picture that
    only held-out recordings show, and is left out if none remains.
    """
    recordings = sorted((r for r in cls.recordings if not r.train_only), key=lambda r: r.path)
    order = np.random.default_rng([seed, 7919, len(recordings)]).permutation(len(recordings))
    shuffled = [recordings[i] for i in order]
    n = len(shuffled)
    n_test = max(1, round(0.15 * n))
    n_val = max(1, round(0.10 * n)) if n >= 5 else 0
    held_out, train = shuffled[:n_test + n_val], shuffled[n_test + n_val:]
    held_out_pictures = ({p for r in held_out for p in r.pictures}
                         - {p for r in train for p in r.pictures})
    extras = [replace(r, pictures=tuple(p for p in r.pictures if p not in held_out_pictures))
              for r in sorted((r for r in cls.recordings if r.train_only), key=lambda r: r.path)]
    return {"test": shuffled[:n_test], "val": shuffled[n_test:n_test + n_val],
            "train": train + [r for r in extras if r.pictures]}


def examples_per_split(per_class: int, has_val: bool) -> dict[str, int]:
    counts = {s: int(round(per_class * share)) for s, share in SPLIT_SHARES.items()}
    if not has_val:
        counts["train"] += counts.pop("val")
        counts["val"] = 0
    return counts


def plan_jobs(out: str, seed: int, per_class: int, classes: list[SoundClass]) -> list[ExampleJob]:
    jobs = []
    for ci, cls in enumerate(classes):
        splits = split_recordings(cls, seed)
        for split, count in examples_per_split(per_class, bool(splits["val"])).items():
            recs = tuple((r.path, r.pictures, r.caption, r.package) for r in splits[split])
            for i in range(count):
                jobs.append(ExampleJob(out, f"{cls.name}-{split}-{i:04d}", split, cls.name, ci, i,
                                       seed, cls.render, recs))
    return jobs


# --- audio --------------------------------------------------------------------------------------


def _attack_start(audio: np.ndarray) -> int:
    """Where the recording's sound begins (first sample within 20 dB of its peak), less 1 ms."""
    loud = np.flatnonzero(np.abs(audio) > 0.1 * (np.abs(audio).max() + 1e-9))
    return max(0, int(loud[0]) - SAMPLE_RATE // 1000) if loud.size else 0


# Where in an event recording the visible contact belongs. Some recordings start with a quieter
# transient before the hit: a door's latch clicks 40-130 ms before it clunks shut, a crunchy
# footstep's first grains 30-80 ms before the step lands. The contact is the strongest
# onset within CONTACT_SEARCH_S of the start, when it is clearly (CONTACT_RATIO times) stronger
# than the first one; otherwise the start itself.
CONTACT_SEARCH_S = 0.15
CONTACT_RATIO = 1.5


def contact_offset(event: np.ndarray) -> int:
    """Samples from the event's start (its attack) to its contact transient, by the same spectral
    flux the evaluation detects onsets with (model/eval/onsets.py)."""
    hop = int(round(HOP_S * SAMPLE_RATE))
    pad = 10  # hops of silence before the start, so an attack right at the start registers
    head = event[: int((CONTACT_SEARCH_S + 0.1) * SAMPLE_RATE)]
    envelope = onset_envelope(np.concatenate([np.zeros(pad * hop, np.float32), head]), SAMPLE_RATE)
    # The envelope places an attack at sample 0 of `head` on hop `pad` (give or take one hop).
    window = envelope[pad - 1: pad + int(round(CONTACT_SEARCH_S / HOP_S)) + 1]
    first = window[:3].max()
    strongest = int(np.argmax(window))
    if first <= 0 or window[strongest] < CONTACT_RATIO * first:
        return 0
    return max(0, (strongest - 1) * hop)


def _event_frames(rng: np.random.Generator, kind: str, event_len_s: float) -> list[int]:
    """Contact frames, at least a short gap apart and not in the last 0.25 s."""
    last = FRAMES - 6
    if kind == "step":
        period = rng.uniform(0.35, 0.75)
        t = rng.uniform(0.1, 0.8)
        times = []
        while t * render.FPS < last:
            times.append(t)
            t += period * rng.uniform(0.85, 1.15)
    else:
        gap = max(0.3, min(event_len_s, 1.2)) if kind == "strike" else 1.6
        count = int(rng.integers(1, 7 if kind == "strike" else 3))
        times, tries = [], 0
        while len(times) < count and tries < 100:
            tries += 1
            t = rng.uniform(0.15, DURATION - 0.3)
            if all(abs(t - u) >= gap for u in times):
                times.append(t)
    return sorted({int(round(t * render.FPS)) for t in times})


def _events_audio(rng: np.random.Generator, recording: np.ndarray, frames: list[int]) -> np.ndarray:
    """The recording, from its attack, with its contact transient exactly at each contact frame's
    time (what comes before the contact, such as a latch's click, just before it)."""
    event = recording[_attack_start(recording):][: int(2.5 * SAMPLE_RATE)].copy()
    fade = min(2400, event.size)
    event[event.size - fade:] *= np.linspace(1, 0, fade, dtype=np.float32)
    event /= np.abs(event).max() + 1e-9
    lead = contact_offset(event)
    out = np.zeros(NUM_SAMPLES, np.float32)
    for k in frames:
        at = int(round(k * SAMPLE_RATE / render.FPS)) - lead
        skip = max(0, -at)  # a contact in the first frames: the lead-in is cut, the contact stays
        n = min(event.size - skip, NUM_SAMPLES - at - skip)
        out[at + skip:at + skip + n] += event[skip:skip + n] * rng.uniform(0.6, 1.0)
    return out


def _stamp_audio(rng: np.random.Generator, recording: np.ndarray) -> np.ndarray:
    """A 4 s window of a long recording, or a short one placed (once or twice) in silence."""
    out = np.zeros(NUM_SAMPLES, np.float32)
    rec = recording / (np.abs(recording).max() + 1e-9)
    if rec.size >= NUM_SAMPLES:
        start = int(rng.integers(0, rec.size - NUM_SAMPLES + 1))
        return rec[start:start + NUM_SAMPLES].copy()
    at = int(rng.integers(0, NUM_SAMPLES - rec.size + 1))
    out[at:at + rec.size] += rec
    if rec.size < NUM_SAMPLES / 2 and rng.random() < 0.5:
        again = int(rng.integers(0, NUM_SAMPLES - rec.size + 1))
        out[again:again + rec.size] += rec * rng.uniform(0.5, 1.0)
    return out


def frame_energy(audio: np.ndarray) -> np.ndarray:
    """Per video frame loudness in [0, 1]: RMS with a fast attack and a slower release."""
    hop = SAMPLE_RATE // render.FPS
    rms = np.sqrt(np.mean(audio[: FRAMES * hop].reshape(FRAMES, hop) ** 2, axis=1))
    level = np.clip((20 * np.log10(rms + 1e-6) + 50) / 45, 0, 1)
    smooth = np.zeros_like(level)
    for i, v in enumerate(level):
        prev = smooth[i - 1] if i else 0.0
        smooth[i] = v if v > prev else prev * 0.6 + v * 0.4
    return smooth


def _room_tone(rng: np.random.Generator) -> np.ndarray:
    noise = rng.standard_normal(NUM_SAMPLES).astype(np.float32)
    noise = np.convolve(noise, np.ones(8, np.float32) / 8, mode="same")  # soften the hiss
    return noise * 10 ** (-rng.uniform(50, 70) / 20)


# --- one example ----------------------------------------------------------------------------------


def make_example(job: ExampleJob) -> dict:
    rng = np.random.default_rng([job.seed, job.class_index, _SPLIT_INDEX[job.split], job.index])
    path, pictures, caption, package = job.recordings[rng.integers(len(job.recordings))]
    picture = pictures[rng.integers(len(pictures))]
    recording = read_recording(path)
    if job.render_kind == "stamp":
        audio = _stamp_audio(rng, recording)
        contacts: list[int] = []
    else:
        contacts = _event_frames(rng, job.render_kind, recording.size / SAMPLE_RATE)
        audio = _events_audio(rng, recording, contacts)
    audio = audio + _room_tone(rng)
    audio *= rng.uniform(0.3, 0.9) / (np.abs(audio).max() + 1e-9)
    energy = frame_energy(audio)
    frames = render.render(job.render_kind, picture, contacts, energy, FRAMES, rng,
                           variant=job.class_name)
    if contacts:
        onsets = [round(k / render.FPS, 4) for k in contacts]
    else:  # a stamp's sound events are wherever the recording has them
        onsets = [round(float(t), 4) for t in detect_onsets(audio, SAMPLE_RATE)[0]]
    out = Path(job.out)
    video, wav = f"{job.split}/{job.example_id}.mp4", f"{job.split}/{job.example_id}.wav"
    write_wav(out / wav, audio)
    write_mp4(out / video, frames, render.FPS)
    return {"id": job.example_id, "split": job.split, "video": video, "audio": wav,
            "caption": caption, "class": job.class_name, "onsets": onsets,
            "duration": DURATION, "source": path, "license": licence_of(path, package),
            "package": package, "picture": picture}


def _init_worker() -> None:
    # Two processes on two cores: keep each to one thread (numpy, torch if imported).
    os.environ["OMP_NUM_THREADS"] = "1"


def build_corpus(out: str | Path, seed: int = 0, per_class: int = 260, workers: int = 2,
                 progress: bool = True, only_classes: list[str] | None = None,
                 with_0ad: bool = False) -> dict:
    """Build the corpus into `out` (replaced atomically) and return its summary.

    `with_0ad` adds 0 A.D.'s recordings to the train split only (model.data.sources).
    """
    out = Path(out)
    classes = discover_classes(with_0ad=with_0ad)
    if only_classes:
        unknown = set(only_classes) - {c.name for c in classes}
        if unknown:
            raise RuntimeError(f"unknown or uninstalled classes: {', '.join(sorted(unknown))}; "
                               f"available: {', '.join(c.name for c in classes)}")
        classes = [c for c in classes if c.name in only_classes]
    if len(classes) == 0:
        raise RuntimeError("no source packages installed; run: bash scripts/setup-data.sh "
                           f"(apt-get install -y {' '.join(APT_PACKAGES)})")
    missing = missing_packages()
    for package in missing:  # the build goes on (those classes may not need it), but not in silence
        log.warning("%s is not installed: the corpus lacks its recordings and pictures and is not "
                    "the documented one; run: bash scripts/setup-data.sh", package)
    check_replaceable(out)
    staging = make_staging(out)
    for split in SPLIT_SHARES:
        (staging / split).mkdir()
    jobs = plan_jobs(str(staging), seed, per_class, classes)
    started = time.monotonic()
    rows: list[dict] = []
    # Closed on an error too, so that the command's error line starts a line of its own.
    with progress_bar(total=len(jobs), desc="data build", unit="ex", disable=not progress) as bar:
        if workers <= 1:
            for job in jobs:
                rows.append(make_example(job))
                bar.update()
        else:
            with ProcessPoolExecutor(workers, initializer=_init_worker) as pool:
                for row in pool.map(make_example, jobs, chunksize=8):
                    rows.append(row)
                    bar.update()
    # The packages the corpus was made from: the ones installed, not the ones it should have had.
    packages = [p for p in APT_PACKAGES if p not in missing] + ([ZERO_AD_PACKAGE] if with_0ad else [])
    _write_metadata(staging, rows, classes, seed, per_class, time.monotonic() - started, packages,
                    missing)
    replace_folder(staging, out)
    return json.loads((out / "summary.json").read_text())


def _write_metadata(out: Path, rows: list[dict], classes: list[SoundClass], seed: int,
                    per_class: int, seconds: float, packages: list[str],
                    missing_packages: list[str]) -> None:
    with open(out / "manifest.jsonl", "w") as f:
        for row in rows:
            f.write(json.dumps(row) + "\n")
    sources = {}
    for cls in classes:
        for r in cls.recordings:
            for item in (r.path, *r.pictures):
                sources[item] = {"package": r.package, "license": licence_of(item, r.package),
                                 "copyright_file": f"/usr/share/doc/{r.package}/copyright"}
    for texture in render.background_textures():  # any video's background may be one of them
        sources[texture] = {"package": "minetest-data", "license": licence_of(texture, "minetest-data"),
                            "copyright_file": "/usr/share/doc/minetest-data/copyright"}
    (out / "licenses.json").write_text(json.dumps(dict(sorted(sources.items())), indent=1))
    splits = {c.name: {s: [r.path for r in recs] for s, recs in split_recordings(c, seed).items()}
              for c in classes}
    (out / "classes.json").write_text(json.dumps(
        [{"name": c.name, "index": i, "render": c.render, "recordings": splits[c.name]}
         for i, c in enumerate(classes)], indent=1))
    counts: dict[str, dict[str, int]] = {}
    for row in rows:
        counts.setdefault(row["split"], {}).setdefault(row["class"], 0)
        counts[row["split"]][row["class"]] += 1
    summary = {"seed": seed, "per_class": per_class, "examples": len(rows),
               "per_split": {s: sum(c.values()) for s, c in counts.items()},
               "per_split_class": counts, "build_seconds": round(seconds, 1),
               "format": {"duration": DURATION, "fps": render.FPS, "size": render.SIZE,
                          "sample_rate": SAMPLE_RATE, "video": "h264 yuv420p mp4",
                          "audio": "wav pcm16 mono"},
               "packages": packages, "missing_packages": missing_packages}
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
