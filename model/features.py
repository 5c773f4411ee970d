"""A cache of what training needs per corpus example, so training never decodes video again.

Per example (one `.npz`): the sync frames (uint8, the model's frame rate, pooled to sync size),
the EfficientNet-lite0 semantic features and the log-mel frames of the reference audio. Files
live under ``<corpus>/features/<encoder key>/`` and are named by a hash of the example's video
and audio files; the encoder key hashes the frozen encoders' weights and the visual/audio
settings, so changing either never reuses a stale file. Captions are few and distinct, so their
MiniLM embeddings are computed once per distinct caption when the features are loaded.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import lzma
import os
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch

from model import encoders
from model.config import ModelConfig
from model.network import motion_descriptor
from v2a.contracts import SAMPLE_RATE
from v2a.progress import progress_bar

log = logging.getLogger(__name__)

FEATURE_VERSION = 1
WINDOW_SECONDS_FALLBACK = 4.0


def encoder_key(cfg: ModelConfig) -> str:
    audio = {k: v for k, v in vars(cfg.audio).items() if k not in ("decoder", "griffinlim_iters")}
    payload = {
        "version": FEATURE_VERSION, "visual": vars(cfg.visual), "audio": audio,
        "efficientnet": encoders.semantic_sha256(), "minilm": encoders.text_sha256(),
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


def example_key(video: Path, audio: Path) -> str:
    digest = hashlib.sha256()
    for path in (video, audio):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:24]


def read_manifest(corpus: Path, split: str | None = None) -> list[dict]:
    manifest = corpus / "manifest.jsonl"
    if not manifest.is_file():
        raise FileNotFoundError(f"no corpus manifest at {manifest} (build one with `v2a data build`)")
    rows = []
    with open(manifest, encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError as error:
                    raise ValueError(f"{manifest}:{number}: not JSON ({error})") from error
    return [row for row in rows if split is None or row.get("split") == split]


def compute_example(model, video: Path, audio: Path, duration: float) -> dict[str, np.ndarray]:
    """The cached arrays for one example; `model` supplies the (frozen) preprocessing."""
    # Imported here: training from a packed feature file (a GPU machine) needs no media libraries.
    from v2a.media.audio import read_wav
    from v2a.media.frames import decode_frames_at

    vis = model.config.visual
    count = max(1, round(duration * vis.frame_rate))
    frames = decode_frames_at(str(video), np.arange(count) / vis.frame_rate, vis.frame_size)
    visual = model.prepare_visual(frames, vis.frame_rate)
    samples, rate = read_wav(str(audio))
    if samples.ndim > 1:
        samples = samples.mean(axis=1)
    if rate != SAMPLE_RATE:
        from v2a.media.audio import resample

        samples = resample(samples, rate, round(len(samples) * SAMPLE_RATE / rate))
    mel = model.codec.encode(samples)
    return {
        "sync_frames": visual.sync_frames.numpy(),
        "semantic": visual.semantic.numpy().astype(np.float16),
        "mel": mel.astype(np.float16),
    }


def cache_dir(corpus: Path, cfg: ModelConfig) -> Path:
    return corpus / "features" / encoder_key(cfg)


@torch.inference_mode()
def build_cache(corpus: str | Path, split: str, cfg: ModelConfig, limit: int = 0,
                progress: bool = True, source: str | Path | None = None) -> list[CachedExample]:
    """Computes missing feature files for a split; returns them with captions and classes, in order.

    `source` reads the example files from another folder with the same layout (e.g. a corpus
    still being built), while the cache stays under `corpus`.
    """
    from model.v2a_model import V2AModel

    corpus = Path(corpus)
    source = Path(source) if source else corpus
    has_manifest = (source / "manifest.jsonl").exists()
    # No folder at all is no corpus (read_manifest says so, and how to build one), not a
    # corpus being built whose splits are still empty.
    rows = read_manifest(source, split) if has_manifest or not source.is_dir() else _scan(source, split)
    if limit:
        rows = _seeded_subset(rows, limit)
    if not rows:  # a typo (`tset`), or a split the corpus lacks: say which there are
        have = sorted({r.get("split", "") for r in read_manifest(source)}) if has_manifest else []
        raise ValueError(f"corpus {source}: no examples in split {split!r}; "
                         f"its splits: {', '.join(have) or 'none'}")
    out_dir = cache_dir(corpus, cfg)
    out_dir.mkdir(parents=True, exist_ok=True)
    model = None
    paths = []
    for row in progress_bar(rows, desc=f"features {split}", unit="ex", disable=not progress):
        video, audio = source / row["video"], source / row["audio"]
        for path in (video, audio):
            if not path.is_file():
                raise FileNotFoundError(f"example {row['id']}: missing {path}")
        path = out_dir / f"{row['id']}-{example_key(video, audio)}.npz"
        if not path.exists():
            model = model or V2AModel(cfg)
            arrays = compute_example(model, video, audio, float(row.get("duration", WINDOW_SECONDS_FALLBACK)))
            tmp = path.with_name(f".{path.stem}.tmp{os.getpid()}.npz")
            np.savez(tmp, **arrays)
            os.replace(tmp, path)
        paths.append(CachedExample(path, str(row.get("caption", "")), str(row.get("class", ""))))
    return paths


def _seeded_subset(rows: list[dict], limit: int) -> list[dict]:
    """A seeded random `limit` of the rows, dealt round-robin over the classes so that every
    class is represented once `limit` reaches their number (a plain shuffle cut to `limit` could
    leave out a class with a few clips)."""
    shuffled = list(rows)
    random.Random(0).shuffle(shuffled)
    by_class: dict[str, list[dict]] = {}
    for row in shuffled:
        by_class.setdefault(str(row.get("class", "")), []).append(row)
    dealt: list[dict] = []
    for depth in range(max(map(len, by_class.values()), default=0)):
        dealt += [by_class[name][depth] for name in sorted(by_class) if depth < len(by_class[name])]
    return dealt[:limit]


def _scan(source: Path, split: str) -> list[dict]:
    """Rows for a folder without a manifest yet (a corpus being built): every finished pair."""
    rows = []
    for video in sorted((source / split).glob("*.mp4")):
        if video.name.startswith("."):
            continue
        audio = video.with_suffix(".wav")
        if audio.exists():
            rows.append({"id": video.stem, "video": f"{split}/{video.name}", "audio": f"{split}/{audio.name}",
                         "caption": "", "duration": WINDOW_SECONDS_FALLBACK})
    return rows


class CachedExample(NamedTuple):
    """One example's feature file, with what training reads beside it from the manifest."""

    path: Path
    caption: str
    label: str  # the sound class ("" when the corpus has none)


@dataclass
class FeatureSet:
    """A split's cached features stacked in memory (about 200 MB for 2,400 examples)."""

    mel: torch.Tensor  # float16 (N, M, n_mels)
    motion: torch.Tensor  # float16 (N, T, MOTION_FEATURES): `motion_descriptor` of the sync frames
    semantic: torch.Tensor  # float16 (N, semantic_dim): mean over the clip
    text: torch.Tensor  # float16 (N, text_dim)
    has_text: torch.Tensor  # bool (N,)
    group: torch.Tensor  # int64 (N,): the example's sound class, as an index; -1 where unknown
    # sha256 of the frozen encoders that computed these features (a checkpoint records them)
    frozen: dict[str, str] = field(default_factory=dict)

    def __len__(self) -> int:
        return self.mel.shape[0]

    def to(self, device: torch.device) -> FeatureSet:
        moved = {name: getattr(self, name).to(device) for name in ("mel", "motion", "semantic", "text", "has_text", "group")}
        return FeatureSet(**moved, frozen=self.frozen)


def load_features(examples: list[CachedExample], cfg: ModelConfig) -> FeatureSet:
    """Stacks cached examples, cropping/padding each to exactly one training window."""
    from model.v2a_model import frozen_hashes

    captions = sorted({example.caption for example in examples if example.caption})
    labels = sorted({example.label for example in examples if example.label})
    embedded = dict(zip(captions, encoders.text_encoder().encode(captions).numpy(), strict=True)) if captions else {}
    blank = np.zeros(encoders.TextEncoder.dim, np.float32)
    mel_frames = cfg.net.window_tokens * cfg.net.patch
    video_frames = int(np.ceil(mel_frames / cfg.audio.frame_rate * cfg.visual.frame_rate)) + 1
    mels, motion, semantics, texts, has_text = [], [], [], [], []
    for path, caption, _ in examples:
        with np.load(path) as data:
            mels.append(_fit(data["mel"], mel_frames, np.log(1e-5)))
            # The descriptor is fixed, so it is computed once here and the frames are not kept.
            frames = torch.from_numpy(_fit(data["sync_frames"], video_frames, None))[None]
            motion.append(motion_descriptor(frames)[0].half())
            semantics.append(data["semantic"].astype(np.float32).mean(0))
        texts.append(embedded.get(caption, blank))
        has_text.append(bool(caption))
    return FeatureSet(
        mel=torch.from_numpy(np.stack(mels).astype(np.float16)),
        motion=torch.stack(motion),
        semantic=torch.from_numpy(np.stack(semantics).astype(np.float16)),
        text=torch.from_numpy(np.stack(texts).astype(np.float16)),
        has_text=torch.tensor(has_text),
        group=torch.tensor([labels.index(e.label) if e.label else -1 for e in examples], dtype=torch.int64),
        frozen=frozen_hashes(),
    )


# /2: the mel codes are stored as differences between neighbouring mel bands, which lzma
# packs tighter (smooth spectra), and may have fewer than 8 bits (`mel_bits`).
PACK_FORMAT = "v2a-features/2"
_MEL_FLOOR = float(np.log(1e-5))  # the codec's floor: no log-mel is lower


def write_packed_features(data: FeatureSet, path: str | Path, mel_bits: int = 8) -> int:
    """One compressed file holding everything training reads; returns its size in bytes.

    For training where the corpus, the media libraries and the encoder wheels are not (a GPU
    machine that gets files but installs nothing, and takes 64 MiB a trip). Lossy on purpose, far
    below what matters: log-mels as `mel_bits` bits over [floor, max] (8 bits: error std about
    0.015 nat, 7 bits: 0.03, against a spread of ~2.5), each band stored as its difference from
    the band below (lossless, and a fifth smaller through lzma: neighbouring bands are alike);
    motion and semantics as float16 rounded to 7 mantissa bits (relative error under 0.4 %);
    the whole through lzma, which those roundings let shrink to about a third.
    """
    if not 2 <= mel_bits <= 8:
        raise ValueError(f"mel_bits must be 2 to 8, got {mel_bits}")
    mel = data.mel.float().numpy()
    top = float(mel.max())
    scale = max(top - _MEL_FLOOR, 1e-6) / (2**mel_bits - 1)
    codes = np.round((np.maximum(mel, _MEL_FLOOR) - _MEL_FLOOR) / scale).astype(np.uint8)
    arrays = {
        "format": np.array(PACK_FORMAT),
        "frozen": np.array(json.dumps(data.frozen)),
        "mel_floor_scale": np.array([_MEL_FLOOR, scale]),
        "mel_band_steps": np.diff(codes, axis=-1, prepend=np.uint8(0)),  # uint8: wraps, and cumsum undoes it
        "motion": _round_mantissa(data.motion.numpy()),
        "semantic": _round_mantissa(data.semantic.numpy()),
        "text": data.text.numpy(),
        "has_text": data.has_text.numpy(),
        "group": data.group.numpy(),
    }
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{path} is a folder: name the file to write (e.g. {path / 'train-features.npz.xz'})")
    path.parent.mkdir(parents=True, exist_ok=True)  # runs/gpu/ in a fresh checkout, as the docs' command names
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        tmp.write_bytes(lzma.compress(buffer.getvalue(), preset=6))
        os.replace(tmp, path)
    except BaseException:  # a full disk or Ctrl-C: no temporary file left beside it
        tmp.unlink(missing_ok=True)
        raise
    return path.stat().st_size


def read_packed_features(path: str | Path) -> FeatureSet:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"packed features not found: {path} (make them with `v2a data pack-features`)")
    try:
        with np.load(io.BytesIO(lzma.decompress(path.read_bytes()))) as packed:
            arrays = {name: packed[name] for name in packed.files}
    except (lzma.LZMAError, ValueError, OSError) as error:
        raise ValueError(f"{path}: not a packed feature file ({error})") from error
    if str(arrays.get("format")) != PACK_FORMAT:
        raise ValueError(f"{path}: format {arrays.get('format')!s}, expected {PACK_FORMAT} "
                         "(pack it again with `v2a data pack-features`)")
    floor, scale = arrays["mel_floor_scale"]
    codes = np.cumsum(arrays["mel_band_steps"], axis=-1, dtype=np.uint8)
    mel = codes.astype(np.float32) * scale + floor
    return FeatureSet(
        mel=torch.from_numpy(mel.astype(np.float16)),
        motion=torch.from_numpy(arrays["motion"]),
        semantic=torch.from_numpy(arrays["semantic"]),
        text=torch.from_numpy(arrays["text"]),
        has_text=torch.from_numpy(arrays["has_text"]),
        group=torch.from_numpy(arrays["group"]),
        frozen=json.loads(str(arrays["frozen"])),
    )


def _round_mantissa(values: np.ndarray, keep_bits: int = 7) -> np.ndarray:
    """float16 values rounded to the nearest number with `keep_bits` of its 10 mantissa bits."""
    drop = 10 - keep_bits
    bits = np.ascontiguousarray(values, dtype=np.float16).view(np.uint16).astype(np.uint32)
    bits = (bits + (1 << (drop - 1))) & ~np.uint32((1 << drop) - 1)
    return bits.astype(np.uint16).view(np.float16)


def _fit(array: np.ndarray, length: int, pad_value: float | None) -> np.ndarray:
    """First `length` rows; shorter arrays padded (with a value, or by repeating the last row)."""
    if len(array) >= length:
        return array[:length]
    pad = np.repeat(array[-1:], length - len(array), axis=0)
    if pad_value is not None:
        pad = np.full_like(pad, pad_value)
    return np.concatenate([array, pad])
