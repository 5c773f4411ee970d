"""The trainable parts: frame-level sync features and the flow-matching transformer.

`motion_descriptor` says, per low-res video frame, where and how much the picture changes;
`SyncEncoder` turns that into one feature vector per frame; `align_to_mel` puts those on the
mel-frame clock, so each transformer token sees the motion of exactly its own 93 ms (MMAudio's
frame-aligned sync conditioning).
`FlowTransformer` is a DiT: tokens of `patch` mel frames plus their sync features, modulated
(adaLN-zero) by one vector per window: flow time + clip semantics + text.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from model.config import NetConfig


def motion_descriptor(frames: torch.Tensor) -> torch.Tensor:
    """(B, T, S, S, 3) uint8 frames -> (B, T, MOTION_FEATURES): fixed, parameter-free features.

    Per frame: how much changed since the previous frame (grey absolute difference, pooled to an
    8 x 8 grid and overall), what the picture looks like (colour pooled to 4 x 4), and how fast the
    overall motion is rising or falling (a hit or a footfall is motion that stops). No weights, so
    training never back-propagates through pixels: the learned convs these replace cost 75 % of a
    training step on the CPU (measured: 0.32 of 0.51 s).
    """
    x = frames.float().permute(0, 1, 4, 2, 3) / 255.0  # (B, T, 3, S, S)
    b, t = x.shape[:2]
    grey = x.mean(dim=2)  # (B, T, S, S)
    diff = torch.cat([torch.zeros_like(grey[:, :1]), (grey[:, 1:] - grey[:, :-1]).abs()], dim=1)
    motion_grid = F.adaptive_avg_pool2d(diff, 8).flatten(2) * 8.0  # (B, T, 64)
    colour = F.adaptive_avg_pool2d(x.flatten(0, 1), 4).reshape(b, t, -1)  # (B, T, 48)
    energy = diff.mean(dim=(2, 3))[..., None] * 8.0  # (B, T, 1)
    change = torch.cat([torch.zeros_like(energy[:, :1]), energy[:, 1:] - energy[:, :-1]], dim=1)
    return torch.cat([motion_grid, colour, energy, change], dim=-1)


MOTION_FEATURES = 64 + 48 + 1 + 1
COLOUR_FEATURES = slice(64, 64 + 48)  # where the picture's look sits in a motion descriptor


#: Frames `motion_in_chunks` describes at a time (85 s at 24 fps; about 30 kB a frame in float).
MOTION_CHUNK_FRAMES = 2048


def motion_in_chunks(frames: torch.Tensor) -> torch.Tensor:
    """`motion_descriptor` of one clip's (T, S, S, 3) frames -> (T, MOTION_FEATURES), a chunk at a
    time: the same numbers without float copies of the whole clip (2.6 GB an hour at 24 fps).
    Each chunk starts with the two frames before it, which its first frames' difference and change
    read."""
    parts = []
    for start in range(0, len(frames), MOTION_CHUNK_FRAMES):
        first = max(0, start - 2)
        chunk = frames[first : start + MOTION_CHUNK_FRAMES][None]
        parts.append(motion_descriptor(chunk)[0, start - first :])
    return torch.cat(parts)


def _mirror_order() -> torch.Tensor:
    grid = [row * 8 + (7 - col) for row in range(8) for col in range(8)]
    colour = [64 + ch * 16 + row * 4 + (3 - col) for ch in range(3) for row in range(4) for col in range(4)]
    return torch.tensor(grid + colour + list(range(COLOUR_FEATURES.stop, MOTION_FEATURES)))  # energy, change


_MIRROR = _mirror_order()


def mirror_motion(motion: torch.Tensor) -> torch.Tensor:
    """The descriptor of the left-right mirrored picture, from the descriptor alone: both pools
    divide the frame evenly, so mirroring only reorders the grid and colour cells."""
    return motion[..., _MIRROR.to(motion.device)]


class SyncEncoder(nn.Module):
    """(B, T, MOTION_FEATURES) motion descriptors -> (B, T, sync_dim): projected, then mixed over
    +-2 frames in time so a feature can see motion start and stop."""

    def __init__(self, cfg: NetConfig) -> None:
        super().__init__()
        self.project = nn.Sequential(nn.Linear(MOTION_FEATURES, cfg.sync_dim), nn.GELU(),
                                     nn.Linear(cfg.sync_dim, cfg.sync_dim))
        self.temporal = nn.Conv1d(cfg.sync_dim, cfg.sync_dim, 5, padding=2)

    def forward(self, motion: torch.Tensor) -> torch.Tensor:
        x = self.project(motion.float())
        return x + F.gelu(self.temporal(x.transpose(1, 2))).transpose(1, 2)


def align_to_mel(features: torch.Tensor, fps: float, mel_rate: float, num_mel: int) -> torch.Tensor:
    """Linear interpolation of per-frame features (B, T, D) at mel-frame times -> (B, num_mel, D).

    Video frame i shows time i / fps; mel frame j is centred on j / mel_rate.
    """
    t = features.shape[1]
    position = torch.arange(num_mel, dtype=torch.float32, device=features.device) * (fps / mel_rate)
    position = position.clamp(max=t - 1)
    low = position.floor().long()
    high = (low + 1).clamp(max=t - 1)
    weight = (position - low.float())[None, :, None]
    return features[:, low] * (1 - weight) + features[:, high] * weight


def sinusoid(values: torch.Tensor, dim: int, scale: float = 10_000.0) -> torch.Tensor:
    half = dim // 2
    freqs = torch.exp(-math.log(scale) * torch.arange(half, dtype=torch.float32, device=values.device) / half)
    angles = values.float()[..., None] * freqs
    return torch.cat([angles.sin(), angles.cos()], dim=-1)


class _Block(nn.Module):
    def __init__(self, dim: int, heads: int, mlp_ratio: float) -> None:
        super().__init__()
        self.heads = heads
        self.norm1 = nn.LayerNorm(dim, elementwise_affine=False)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.norm2 = nn.LayerNorm(dim, elementwise_affine=False)
        hidden = int(dim * mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(approximate="tanh"), nn.Linear(hidden, dim))
        self.modulation = nn.Linear(dim, 6 * dim)
        nn.init.zeros_(self.modulation.weight)
        nn.init.zeros_(self.modulation.bias)

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        shift1, scale1, gate1, shift2, scale2, gate2 = self.modulation(F.silu(c))[:, None].chunk(6, dim=-1)
        b, n, d = x.shape
        h = self.norm1(x) * (1 + scale1) + shift1
        q, k, v = self.qkv(h).view(b, n, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        h = F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(b, n, d)
        x = x + gate1 * self.proj(h)
        h = self.norm2(x) * (1 + scale2) + shift2
        return x + gate2 * self.mlp(h)


#: Smallest 1 - t in the x-to-velocity conversion (keeps the loss weight near t = 1 bounded).
T_CLAMP = 0.05


class FlowTransformer(nn.Module):
    """Predicts the flow velocity for noisy mel tokens, given time and conditions."""

    def __init__(self, cfg: NetConfig, n_mels: int) -> None:
        super().__init__()
        self.cfg = cfg
        d = cfg.dim
        self.audio_in = nn.Linear(cfg.patch * n_mels, d)
        self.sync_in = nn.Linear(cfg.patch * cfg.sync_dim, d)
        self.time_mlp = nn.Sequential(nn.Linear(256, d), nn.SiLU(), nn.Linear(d, d))
        self.semantic_in = nn.Sequential(nn.LayerNorm(cfg.semantic_dim), nn.Linear(cfg.semantic_dim, d))
        # Normalised like the semantics: MiniLM embeddings have unit norm (values ~0.05), so a bare
        # linear layer let the prompt's share of the conditioning stay ~1/20 of the picture's
        # (measured: the text lowered the training loss by 0.001 of 0.175 and steered nothing).
        self.text_in = nn.Sequential(nn.LayerNorm(cfg.text_dim), nn.Linear(cfg.text_dim, d))
        # Learned stand-ins for a dropped condition (classifier-free guidance's "unconditional").
        self.null_sync = nn.Parameter(torch.zeros(cfg.sync_dim))
        self.null_semantic = nn.Parameter(torch.zeros(cfg.semantic_dim))
        self.null_text = nn.Parameter(torch.zeros(cfg.text_dim))
        self.blocks = nn.ModuleList(_Block(d, cfg.heads, cfg.mlp_ratio) for _ in range(cfg.depth))
        self.out_norm = nn.LayerNorm(d, elementwise_affine=False)
        self.out_modulation = nn.Linear(d, 2 * d)
        self.out = nn.Linear(d, cfg.patch * n_mels)
        for layer in (self.out_modulation, self.out):
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)

    def forward(
        self,
        x: torch.Tensor,  # (B, N, patch * n_mels) noisy tokens
        t: torch.Tensor,  # (B,) flow time in [0, 1]
        sync: torch.Tensor,  # (B, N * patch, sync_dim), on the mel clock
        semantic: torch.Tensor,  # (B, semantic_dim)
        text: torch.Tensor,  # (B, text_dim)
    ) -> torch.Tensor:
        b, n, _ = x.shape
        sync_tokens = sync.reshape(b, n, -1)
        h = self.audio_in(x) + self.sync_in(sync_tokens)
        h = h + sinusoid(torch.arange(n, device=x.device), self.cfg.dim)[None]
        c = self.time_mlp(sinusoid(t * 1000.0, 256)) + self.semantic_in(semantic) + self.text_in(text)
        for block in self.blocks:
            h = block(h, c)
        shift, scale = self.out_modulation(F.silu(c))[:, None].chunk(2, dim=-1)
        clean = self.out(self.out_norm(h) * (1 + scale) + shift)
        # x-prediction, returned as a velocity: the network predicts the clean tokens and the
        # noise is taken from its input. Predicting the velocity itself would make the 640-d
        # noise pass through the 128-d width, which it cannot: samples kept most of their noise
        # (measured: at t=0.02 the v-prediction loss stayed at 1.72 of 1.95 after 1,000 steps).
        return (clean - x) / (1.0 - t).clamp(min=T_CLAMP)[:, None, None]
