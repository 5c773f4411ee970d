"""Reading source recordings and writing corpus files (H.264 mp4, 48 kHz WAV) atomically."""

from __future__ import annotations

import os
import shutil
from fractions import Fraction
from functools import lru_cache
from math import gcd
from pathlib import Path

import av
import numpy as np
import soundfile
from scipy.signal import resample_poly

from v2a.contracts import SAMPLE_RATE


@lru_cache(maxsize=512)
def read_recording(path: str) -> np.ndarray:
    """A recording as float32 mono at SAMPLE_RATE (channels averaged, polyphase resampling)."""
    try:
        audio, rate = soundfile.read(path, dtype="float32", always_2d=True)
    except (RuntimeError, soundfile.LibsndfileError) as error:
        raise ValueError(f"cannot read audio {path}: {error}") from error
    audio = audio.mean(axis=1)
    if rate != SAMPLE_RATE:
        g = gcd(int(rate), SAMPLE_RATE)
        audio = resample_poly(audio, SAMPLE_RATE // g, int(rate) // g).astype(np.float32)
    audio.setflags(write=False)
    return audio


def check_replaceable(out: Path) -> None:
    """Refuse to overwrite a folder that is neither empty nor a corpus (a mistyped --out)."""
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and
                                              not (out / "manifest.jsonl").is_file())):
        raise FileExistsError(f"{out} exists and is not a corpus; choose another --out")


def replace_folder(staging: Path, out: Path) -> None:
    """Swap a finished staging folder in for `out` (an older corpus there is removed)."""
    check_replaceable(out)
    if out.exists():
        shutil.rmtree(out)
    os.replace(staging, out)


def _temp_beside(path: Path) -> Path:
    return path.with_name(f".{path.stem}.tmp{os.getpid()}{path.suffix}")


def write_wav(path: str | Path, audio: np.ndarray) -> None:
    path = Path(path)
    tmp = _temp_beside(path)
    soundfile.write(tmp, np.clip(audio, -1, 1).astype(np.float32), SAMPLE_RATE, subtype="PCM_16")
    os.replace(tmp, path)


def write_mp4(path: str | Path, frames: np.ndarray, fps: int) -> None:
    """H.264 yuv420p, one encoder thread so output bytes do not depend on scheduling."""
    path = Path(path)
    tmp = _temp_beside(path)
    with av.open(str(tmp), "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=Fraction(fps))
        stream.width, stream.height = frames.shape[2], frames.shape[1]
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": "20", "preset": "veryfast", "threads": "1"}
        stream.thread_count = 1
        for image in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    os.replace(tmp, path)


def read_mp4_frames(path: str | Path) -> np.ndarray:
    """All frames of a corpus video as uint8 (T, H, W, 3)."""
    with av.open(str(path)) as container:
        return np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])
