"""Reading source recordings and writing corpus files (H.264 mp4, 48 kHz WAV) atomically."""

from __future__ import annotations

import io
import os
import shutil
import zipfile
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
        audio, rate = soundfile.read(_source(path), dtype="float32", always_2d=True)
    except (RuntimeError, soundfile.LibsndfileError, KeyError, OSError) as error:
        raise ValueError(f"cannot read audio {path}: {error}") from error
    audio = audio.mean(axis=1)
    if rate != SAMPLE_RATE:
        g = gcd(int(rate), SAMPLE_RATE)
        audio = resample_poly(audio, SAMPLE_RATE // g, int(rate) // g).astype(np.float32)
    audio.setflags(write=False)
    return audio


def in_zip(path: str) -> tuple[str, str] | None:
    """(zip, member) for a path that names a zip as if it were a folder
    (".../public.zip/audio/x.ogg"), else None."""
    archive, dot_zip, member = path.partition(".zip/")
    return (archive + ".zip", member) if dot_zip else None


def _source(path: str) -> str | io.BytesIO:
    """A file, or a member of a zip (see in_zip)."""
    zipped = in_zip(path)
    if zipped is None:
        return path
    archive, member = zipped
    return io.BytesIO(_open_zip(archive, os.getpid()).read(member))


@lru_cache(maxsize=2)
def _open_zip(path: str, pid: int) -> zipfile.ZipFile:
    # One handle per process (`pid` is in the key): a handle inherited across fork shares its
    # file offset with the parent, and two processes seeking one offset read each other's bytes.
    return zipfile.ZipFile(path)


#: What a folder that may be replaced whole holds: a corpus (`v2a data ...`) or an eval report.
CORPUS = ("manifest.jsonl", "a corpus")
EVAL_REPORT = ("metrics.json", "an eval report")


def check_replaceable(out: Path, kind: tuple[str, str] = CORPUS) -> None:
    """Refuse to overwrite a folder that is neither empty nor of this kind (a mistyped --out)."""
    marker, name = kind
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and
                                              not (out / marker).is_file())):
        raise FileExistsError(f"{out} exists and is not {name}; choose another --out")


#: Marks a `<out>.building` folder as one a build made, so a later build may clear it.
STAGING_MARK = ".v2a-building"


def make_staging(out: Path, kind: tuple[str, str] = CORPUS) -> Path:
    """An empty `<out>.building` folder to build into beside `out`, marked as ours.

    One left by an interrupted build (it carries the mark) is cleared; any other folder of that
    name is the user's, and is refused, never removed (a build once deleted one silently)."""
    staging = out.with_name(out.name + ".building")
    if staging.exists() or staging.is_symlink():
        if not (staging.is_dir() and not staging.is_symlink() and (staging / STAGING_MARK).is_file()):
            raise FileExistsError(f"{staging} exists and is not a build v2a left; move it or choose "
                                  "another --out")
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    (staging / STAGING_MARK).write_text(f"{kind[1]} being built; removed when it is done\n")
    return staging


#: Where an older corpus waits, inside the new one, until it is removed.
REPLACED = ".v2a-replaced"


def replace_folder(staging: Path, out: Path, kind: tuple[str, str] = CORPUS) -> None:
    """Swap a finished staging folder in for `out` (an older corpus or report there is removed).

    The old corpus is moved aside into the staging folder, the staging folder renamed to `out`,
    and only then is the old one removed. Removing it first left half of it at `out` when a
    Ctrl-C came during the removal (a manifest naming files no longer there), and a staging
    folder already unmarked, which the next build refused as not its own."""
    check_replaceable(out, kind)
    if out.exists():
        os.replace(out, staging / REPLACED)
    os.replace(staging, out)
    (out / STAGING_MARK).unlink(missing_ok=True)
    replaced = out / REPLACED
    if replaced.is_symlink():  # `out` was a link to a corpus elsewhere: the link goes, not that
        replaced.unlink()
    elif replaced.exists():
        shutil.rmtree(replaced)


def _temp_beside(path: Path) -> Path:
    return path.with_name(f".{path.stem}.tmp{os.getpid()}{path.suffix}")


def write_wav(path: str | Path, audio: np.ndarray) -> None:
    path = Path(path)
    tmp = _temp_beside(path)
    soundfile.write(tmp, np.clip(audio, -1, 1).astype(np.float32), SAMPLE_RATE, subtype="PCM_16")
    os.replace(tmp, path)


def rgb_to_yuv420p(image: np.ndarray) -> np.ndarray:
    """One RGB frame (H, W, 3), H and W even, as a planar yuv420p array (H * 3 / 2, W): BT.601
    limited range, chroma averaged over 2 x 2 pixels.

    Done here rather than by handing rgb24 frames to the encoder: that path gave 5 distinct files
    from 12 encodes of one clip (pixels off by up to 4 levels) while x264 ran its SIMD code. With
    `asm=0` (write_mp4) it was stable in 36 encodes, so x264 may have been the only cause; our
    own conversion keeps the bytes independent of libswscale's code paths too, and it is what the
    published corpus figures were built with."""
    h, w, _ = image.shape
    if h % 2 or w % 2:
        raise ValueError(f"yuv420p needs an even frame size, got {w}x{h}")
    r, g, b = (image[..., i].astype(np.float64) for i in range(3))
    y = 16 + (65.481 * r + 128.553 * g + 24.966 * b) / 255
    cb = 128 + (-37.797 * r - 74.203 * g + 112.0 * b) / 255
    cr = 128 + (112.0 * r - 93.786 * g - 18.214 * b) / 255

    def half(plane: np.ndarray) -> np.ndarray:
        return plane.reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3))

    planes = [y, half(cb), half(cr)]
    flat = np.concatenate([np.clip(np.round(p), 0, 255).astype(np.uint8).ravel() for p in planes])
    return flat.reshape(h * 3 // 2, w)


def write_mp4(path: str | Path, frames: np.ndarray, fps: int) -> None:
    """H.264 yuv420p from our own colour conversion and one encoder thread, so the bytes depend
    on nothing but the frames."""
    path = Path(path)
    tmp = _temp_beside(path)
    with av.open(str(tmp), "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=Fraction(fps))
        stream.width, stream.height = frames.shape[2], frames.shape[1]
        stream.pix_fmt = "yuv420p"
        # asm=0: with its SIMD code, x264 encoded a process's first clip differently from the
        # same clip encoded again (pixels off by up to 56 levels), so a corpus depended on which
        # worker encoded what first. Plain C is deterministic and about twice as slow to encode.
        stream.options = {"crf": "20", "preset": "veryfast", "threads": "1", "x264-params": "asm=0"}
        stream.thread_count = 1
        for image in frames:
            frame = av.VideoFrame.from_ndarray(rgb_to_yuv420p(image), format="yuv420p")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    os.replace(tmp, path)


def read_mp4_frames(path: str | Path) -> np.ndarray:
    """All frames of a corpus video as uint8 (T, H, W, 3)."""
    with av.open(str(path)) as container:
        return np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])
