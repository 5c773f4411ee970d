"""`v2a data import-folder`: a user's own videos with sound, cut into the corpus format.

The captions CSV follows VGGSound's layout: one row per clip, ``file_or_id, start_seconds,
caption_or_label, split`` (a header row is optional; a fifth column, if present, is the
licence). A row's file is found as given, with a video extension added, or as VGGSound's
``{id}_{start:06d}.mp4``. Each row becomes a 4 s example at 24 fps, 160x160, 48 kHz mono,
exactly as `v2a data build` writes them; onsets are detected from the clip's own sound.
"""

from __future__ import annotations

import csv
import json
import math
import shutil
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import av
import numpy as np

from model.data.build import DURATION, FRAMES, NUM_SAMPLES
from model.data.io import check_replaceable, make_staging, replace_folder, write_mp4, write_wav
from model.data.render import FPS, SIZE
from model.eval.onsets import detect_onsets
from v2a.contracts import SAMPLE_RATE
from v2a.media.audio import resample
from v2a.media.errors import MediaError
from v2a.media.frames import decode_frames_at
from v2a.media.probe import probe_media
from v2a.progress import progress_bar

# Tried in this order after the name as given; each in both cases, since cameras write
# upper-case names (AVCHD's .MTS) that a case-sensitive file system keeps.
_VIDEO_EXTENSIONS = tuple(
    spelled
    for ext in (".mp4", ".mov", ".mkv", ".webm", ".avi", ".m4v", ".mts", ".m2ts", ".ts", ".mxf")
    for spelled in (ext, ext.upper())
)
_SPLITS = {"train", "val", "test"}


class ImportError_(ValueError):  # noqa: N801 - not the builtin ImportError
    """A user's corpus cannot be imported; the message names the file, row and field."""


def _find_video(folder: Path, name: str, start: float) -> Path | None:
    candidates = [folder / name] + [folder / (name + ext) for ext in _VIDEO_EXTENSIONS]
    candidates += [folder / f"{name}_{int(start):06d}{ext}" for ext in _VIDEO_EXTENSIONS]
    return next((c for c in candidates if c.is_file()), None)


def read_captions(folder: str | Path, captions: str | Path) -> list[dict]:
    """Rows of the captions CSV, checked, with their video files resolved."""
    folder, captions = Path(folder), Path(captions)
    if not captions.is_file():
        raise ImportError_(f"captions file not found: {captions}")
    rows = []
    with open(captions, newline="") as f:
        for line_no, fields in enumerate(csv.reader(f), start=1):
            if not fields or not "".join(fields).strip() or fields[0].startswith("#"):
                continue
            if line_no == 1 and _is_header(fields):
                continue
            where = f"{captions}:{line_no}"
            if len(fields) < 4:
                raise ImportError_(f"{where}: expected file, start seconds, caption, split; "
                                   f"got {len(fields)} fields")
            name, start, caption, split = (x.strip() for x in fields[:4])
            if not _is_number(start) or not math.isfinite(float(start)) or float(start) < 0:
                raise ImportError_(f"{where}: start seconds {start!r} is not a number >= 0")
            if split not in _SPLITS:
                raise ImportError_(f"{where}: split {split!r} is not one of train, val, test")
            video = _find_video(folder, name, float(start))
            if video is None:
                raise ImportError_(f"{where}: no video for {name!r} in {folder}")
            rows.append({"line": line_no, "video_path": str(video), "start": float(start),
                         "caption": caption, "split": split,
                         "license": fields[4].strip() if len(fields) > 4 else "user-supplied"})
    if not rows:
        raise ImportError_(f"{captions}: no rows")
    splits_of: dict[str, set] = {}
    for row in rows:
        splits_of.setdefault(row["video_path"], set()).add(row["split"])
    shared = [v for v, s in splits_of.items() if len(s) > 1]
    if shared:
        raise ImportError_(f"{captions}: {shared[0]} is in splits {sorted(splits_of[shared[0]])};"
                           " a source may be in one split only")
    return rows


def _is_header(fields: list[str]) -> bool:
    first = fields[0].strip().lower()
    second = fields[1].strip().lower() if len(fields) > 1 else ""
    return first in {"file", "filename", "id", "youtube_id", "ytid", "video", "path"} or (
        "start" in second or "time" in second)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def read_clip_audio(path: str, start: float, video_start: float) -> np.ndarray:
    """The sound under video seconds [start, start + DURATION) as 48 kHz mono, zero-padded."""
    with av.open(path) as container:
        if not container.streams.audio:
            raise MediaError(f"{path}: has no sound track")
        stream = container.streams.audio[0]
        resampler = av.AudioResampler(format="flt", layout="mono", rate=stream.rate)
        chunks, first = [], None
        for frame in container.decode(stream):
            if first is None:
                first = float(frame.pts * frame.time_base) if frame.pts is not None else 0.0
            for out in resampler.resample(frame):
                chunks.append(out.to_ndarray().reshape(-1))
        rate = stream.rate
    audio = np.concatenate(chunks) if chunks else np.zeros(0, np.float32)
    # Align on the container clock: video second 0 is the first video frame's pts.
    offset = int(round((video_start + start - (first or 0.0)) * rate))
    if offset < 0:
        audio = np.concatenate([np.zeros(-offset, np.float32), audio])
        offset = 0
    window = audio[offset: offset + int(round(DURATION * rate))]
    return resample(window, rate, NUM_SAMPLES)


def _import_row(job: tuple[str, str, dict]) -> dict:
    out, example_id, row = job
    try:
        info = probe_media(row["video_path"])
        if row["start"] >= info.duration:
            raise MediaError(f"start {row['start']} s is past the video's end ({info.duration:.2f} s)")
        # A window that runs out of video would be padded with a held frame and digital silence,
        # which the model would then learn as what such a picture sounds like. One frame of slack:
        # containers round their duration.
        if row["start"] + DURATION > info.duration + 1 / FPS:
            fits = (f"a start of at most {info.duration - DURATION:.2f} s fits" if info.duration >= DURATION
                    else "the video is shorter than that")
            raise MediaError(f"the {DURATION:g} s example from {row['start']} s runs past the video's end "
                             f"({info.duration:.2f} s): {fits}")
        times = row["start"] + np.arange(FRAMES) / FPS
        times = np.minimum(times, max(0.0, info.duration - 1e-3))  # hold the last frame
        frames = decode_frames_at(row["video_path"], times, SIZE)
        audio = read_clip_audio(row["video_path"], row["start"], info.start_time)
    except (MediaError, av.error.FFmpegError) as error:
        raise ImportError_(f"captions line {row['line']}: {error}") from error
    video, wav = f"{row['split']}/{example_id}.mp4", f"{row['split']}/{example_id}.wav"
    write_wav(Path(out) / wav, audio)
    write_mp4(Path(out) / video, frames, FPS)
    onsets = [round(float(t), 4) for t in detect_onsets(audio, SAMPLE_RATE)[0]]
    return {"id": example_id, "split": row["split"], "video": video, "audio": wav,
            "caption": row["caption"], "class": row["caption"], "onsets": onsets,
            "duration": DURATION, "source": row["video_path"], "license": row["license"]}


def import_folder(folder: str | Path, captions: str | Path, out: str | Path,
                  workers: int = 2, progress: bool = True) -> dict:
    rows = read_captions(folder, captions)
    out = Path(out)
    try:
        check_replaceable(out)
        staging = make_staging(out)
    except FileExistsError as error:
        raise ImportError_(str(error)) from None
    for split in _SPLITS:
        (staging / split).mkdir()
    jobs = [(str(staging), f"{Path(r['video_path']).stem}-{r['line']:06d}", r) for r in rows]
    bar = progress_bar(total=len(jobs), desc="import", unit="clip", disable=not progress)
    results = []
    try:
        if workers <= 1 or len(jobs) == 1:
            for job in jobs:
                results.append(_import_row(job))
                bar.update()
        else:
            with ProcessPoolExecutor(workers) as pool:
                for result in pool.map(_import_row, jobs):
                    results.append(result)
                    bar.update()
    except ImportError_:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    finally:
        bar.close()
    with open(staging / "manifest.jsonl", "w") as f:
        for result in results:
            f.write(json.dumps(result) + "\n")
    classes = sorted({r["class"] for r in results})
    (staging / "classes.json").write_text(json.dumps(
        [{"name": c, "index": i, "render": "imported"} for i, c in enumerate(classes)], indent=1))
    (staging / "licenses.json").write_text(json.dumps(
        {r["source"]: {"license": r["license"], "package": "user"} for r in results}, indent=1))
    per_split = {s: sum(r["split"] == s for r in results) for s in sorted(_SPLITS)}
    summary = {"examples": len(results), "per_split": per_split, "source_folder": str(folder)}
    (staging / "summary.json").write_text(json.dumps(summary, indent=1))
    replace_folder(staging, out)
    return summary
