"""A learned decoder front end: the STFT magnitudes above the mels' 8 kHz top, then Griffin-Lim.

Why: Griffin-Lim needs a linear magnitude, and the pseudo-inverse of the mel filterbank leaves
every bin above the mels' top (8 kHz) empty, where much of a glass break, a bird or a cymbal
lives. This small convolutional net, trained on the corpus' own recordings, predicts the log
magnitudes of those 141 bins (8 to 11 kHz) from the 80 mel bands: a plain regression, no
adversary, about 20 minutes of CPU. Below the mels' top the codec keeps the pseudo-inverse,
which follows what was measured: a first net that predicted all 513 bins scored Fréchet 72.0
used above 8 kHz only, but 208.7 used everywhere (its regression smooths harmonics into a noise
bed), against 99.3 for the pseudo-inverse alone (docs/model.md). Griffin-Lim finds the phase
exactly as before, so the speed stays within the budget.

`v2a train-decoder` trains one into a copy of a model checkpoint (`audio.decoder = "learned"`),
so the checkpoint stays the one file `V2AModel.load` needs.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from model.audio_codec import first_unmeasured_bin, to_native_rate
from model.config import AudioConfig
from v2a.progress import progress_bar

log = logging.getLogger(__name__)

LOG_FLOOR = 1e-5  # the same floor the mels use


class _Block(nn.Module):
    """ConvNeXt-style: a wide depthwise conv over time, then a per-frame MLP; residual."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.mix_time = nn.Conv1d(width, width, 7, padding=3, groups=width)
        self.norm = nn.LayerNorm(width)
        self.mlp = nn.Sequential(nn.Linear(width, 2 * width), nn.GELU(), nn.Linear(2 * width, width))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, width, T)
        y = self.mix_time(x).transpose(1, 2)
        return x + self.mlp(self.norm(y)).transpose(1, 2)


class MagnitudeNet(nn.Module):
    """(B, T, n_mels) log-mels -> (B, T, bins) log linear magnitudes of the STFT bins above the
    mels' top (`first_unmeasured_bin` to n_fft // 2)."""

    def __init__(self, audio: AudioConfig, width: int = 256, blocks: int = 6) -> None:
        super().__init__()
        self.first_bin = first_unmeasured_bin(audio)
        self.bins = audio.n_fft // 2 + 1 - self.first_bin
        self.inp = nn.Conv1d(audio.n_mels, width, 7, padding=3)
        self.blocks = nn.Sequential(*[_Block(width) for _ in range(blocks)])
        self.reach = 3 * (1 + blocks)  # frames each way an output frame reads: 3 per 7-wide conv
        self.norm = nn.LayerNorm(width)
        self.out = nn.Linear(width, self.bins)
        # Log-mels span about -11.5 (the floor) to +4; centre them for the first conv.
        self.register_buffer("in_mean", torch.tensor(-6.0))
        self.register_buffer("in_std", torch.tensor(2.5))

    def forward(self, log_mel: torch.Tensor) -> torch.Tensor:
        x = (log_mel - self.in_mean) / self.in_std
        x = self.blocks(self.inp(x.transpose(1, 2)))
        return self.out(self.norm(x.transpose(1, 2))).clamp(max=6.0)


def _spectra(codec, audio_48k: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """(T, n_mels) log-mels as the model sees them, and (T, bins) log magnitudes of the bins above
    the mels' top, frame-aligned: the net's input and target."""
    native = torch.from_numpy(to_native_rate(codec.cfg, audio_48k))
    mel = codec.encode_native(native)
    cfg = codec.cfg
    spec = torch.stft(native, cfg.n_fft, cfg.hop, window=codec.window, center=True, pad_mode="reflect",
                      return_complex=True).abs()[codec.first_unmeasured_bin:, : mel.shape[0]]
    return mel, torch.log(spec.clamp(min=LOG_FLOOR)).T.contiguous()


def load_spectra(corpus: Path, codec, split: str = "train", limit: int = 0,
                 progress: bool = True) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Every example's (log-mel, log-magnitude) pair of `split`, float16, in manifest order."""
    from model.eval.run import read_audio
    from model.features import read_manifest

    rows = read_manifest(corpus, split)
    rows = rows[:limit] if limit else rows
    pairs = []
    for row in progress_bar(rows, desc=f"spectra {split}", unit="ex", disable=not progress):
        mel, magnitude = _spectra(codec, read_audio(corpus / row["audio"]))
        pairs.append((mel.half(), magnitude.half()))
    return pairs


def magnitude_loss(predicted_log: torch.Tensor, target_log: torch.Tensor) -> torch.Tensor:
    """L1 on log magnitudes (every bin counts, quiet ones too) plus spectral convergence (the
    loud bins, the ones Griffin-Lim's result is made of, count most)."""
    log_l1 = (predicted_log - target_log).abs().mean()
    predicted, target = predicted_log.exp(), target_log.exp()
    convergence = torch.linalg.norm(predicted - target) / torch.linalg.norm(target).clamp(min=1e-6)
    return log_l1 + convergence


def train_magnitude_net(net: MagnitudeNet, pairs: list[tuple[torch.Tensor, torch.Tensor]], steps: int,
                        batch: int = 16, crop: int = 96, lr: float = 1e-3, seed: int = 0,
                        progress: bool = True) -> list[list[float]]:
    """AdamW with a cosine schedule on random crops; returns [[step, loss], ...]."""
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=0.01)
    history = []
    net.train()
    bar = progress_bar(range(steps), desc="train decoder", unit="step", disable=not progress)
    for step in bar:
        mels, magnitudes = [], []
        for i in torch.randint(len(pairs), (batch,), generator=generator).tolist():
            mel, magnitude = pairs[i]
            start = int(torch.randint(max(1, mel.shape[0] - crop + 1), (1,), generator=generator))
            mels.append(_crop(mel, start, crop))
            magnitudes.append(_crop(magnitude, start, crop))
        for group in optimizer.param_groups:
            group["lr"] = lr * (0.05 + 0.95 * 0.5 * (1 + np.cos(np.pi * step / max(1, steps))))
        loss = magnitude_loss(net(torch.stack(mels).float()), torch.stack(magnitudes).float())
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        optimizer.step()
        history.append([step + 1, loss.item()])
        if (step + 1) % 20 == 0:
            bar.set_postfix(loss=f"{np.mean([v for _, v in history[-20:]]):.4f}")
    net.eval()
    return history


def _crop(frames: torch.Tensor, start: int, length: int) -> torch.Tensor:
    """`length` frames from `start`; a clip shorter than that is padded with silence (the codec's
    floor). features._fit does the like for whole cached numpy arrays, from their first frame."""
    frames = frames[start:start + length]
    pad = torch.full((length - frames.shape[0], frames.shape[1]), np.log(LOG_FLOOR), dtype=frames.dtype)
    return torch.cat([frames, pad])


@torch.no_grad()
def held_out_loss(net: MagnitudeNet, pairs: list[tuple[torch.Tensor, torch.Tensor]]) -> float:
    return float(np.mean([float(magnitude_loss(net(mel[None].float())[0], magnitude.float()))
                          for mel, magnitude in pairs]))


def train_decoder(checkpoint: str, corpus: str, out: str, steps: int = 3000, seed: int = 0,
                  threads: int = 0, limit: int = 0, command: str = "", progress: bool = True) -> dict:
    """Copy `checkpoint` to `out` with a learned magnitude decoder trained on `corpus`."""
    from model.encoders import file_sha256
    from model.v2a_model import V2AModel, read_info

    if threads:
        torch.set_num_threads(threads)
    source = V2AModel.load(checkpoint)
    config = source.config
    config.audio.decoder = "learned"
    torch.manual_seed(seed)
    model = V2AModel(config)  # a fresh decoder, even when the source had one
    flow_weights = {k: v for k, v in source.state_dict().items() if not k.startswith("decoder.")}
    model.load_state_dict(flow_weights, strict=False)
    pairs = load_spectra(Path(corpus), model.codec, "train", limit, progress)
    if not pairs:
        raise ValueError(f"{corpus}: no 'train' examples to train a decoder on")
    validation = load_spectra(Path(corpus), model.codec, "val", limit, progress=False)
    before = held_out_loss(model.decoder, validation) if validation else float("nan")
    started = time.monotonic()
    history = train_magnitude_net(model.decoder, pairs, steps, seed=seed, progress=progress)
    seconds = time.monotonic() - started
    after = held_out_loss(model.decoder, validation) if validation else float("nan")
    info = read_info(checkpoint)
    info["decoder"] = {"kind": "learned magnitude + Griffin-Lim", "command": command, "steps": steps,
                       "train_examples": len(pairs), "seconds": round(seconds, 1),
                       "val_loss_untrained": round(before, 4), "val_loss": round(after, 4),
                       "source_checkpoint": str(checkpoint), "source_sha256": file_sha256(checkpoint)}
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    model.save(out, info)
    return {"out": str(out), "final_train_loss": float(np.mean([v for _, v in history[-50:]])), **info["decoder"]}
