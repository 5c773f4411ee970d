"""A fixed audio embedding for the Fréchet distance and class agreement: aisfx.

aisfx (Ma, Bittner, ... "Self-supervised ... sound effects", ISMIR 2022; PyPI `aisfx` 0.1.2,
6.2M-parameter CNN, 512-d) was trained on sound-effect libraries, closer to Foley than VGGish's
YouTube audio, and its weights ship in the wheel. Its own front end needs essentia; the same
mel spectrogram is computed here in numpy: 44.1 kHz, 2048-sample Hann frames, hop 1024,
96 HTK-mel power bands with unit-sum triangles, log10(1 + 1e4 x), scaled by the package's
dataset maximum 9.4578. A whole 4 s clip goes through the network at once (it pools over time).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch
from scipy.signal import resample_poly

_RATE, _BLOCK, _HOP, _MELS = 44_100, 2048, 1024, 96
_SPEC_MAX = 9.457798957824707  # aisfx.preprocessing.spectrogram_normalize 'original'


def _hz_to_mel(f):
    return 2595.0 * np.log10(1.0 + np.asarray(f) / 700.0)


def _mel_to_hz(m):
    return 700.0 * (10.0 ** (np.asarray(m) / 2595.0) - 1.0)


@lru_cache(maxsize=1)
def _mel_filters() -> np.ndarray:
    """(bins, mels) triangles equally spaced on the HTK mel scale, each summing to 1."""
    freqs = np.arange(_BLOCK // 2 + 1) * _RATE / _BLOCK
    edges = _mel_to_hz(np.linspace(_hz_to_mel(0.0), _hz_to_mel(_RATE / 2), _MELS + 2))
    mel_f = _hz_to_mel(freqs)
    mel_e = _hz_to_mel(edges)
    weights = np.zeros((freqs.size, _MELS))
    for i in range(_MELS):
        lo, mid, hi = mel_e[i], mel_e[i + 1], mel_e[i + 2]
        up = (mel_f - lo) / (mid - lo)
        down = (hi - mel_f) / (hi - mid)
        weights[:, i] = np.maximum(0.0, np.minimum(up, down))
    weights /= weights.sum(axis=0, keepdims=True) + 1e-12
    return weights.astype(np.float32)


def log_mel(audio_48k: np.ndarray) -> np.ndarray:
    """(frames, 96) normalised log-mel spectrogram as aisfx expects."""
    audio = resample_poly(np.asarray(audio_48k, np.float32), 147, 160).astype(np.float32)
    if audio.size < _BLOCK:
        audio = np.pad(audio, (0, _BLOCK - audio.size))
    frames = np.lib.stride_tricks.sliding_window_view(audio, _BLOCK)[::_HOP]
    power = np.abs(np.fft.rfft(frames * np.hanning(_BLOCK).astype(np.float32), axis=1)) ** 2
    return (np.log10(1.0 + 1e4 * (power @ _mel_filters())) / _SPEC_MAX).astype(np.float32)


class AudioEmbedder:
    """aisfx's embedding network with its bundled weights, on the CPU."""

    dim = 512

    def __init__(self) -> None:
        import aisfx.inference as inference  # imports only torch, numpy, tqdm

        weights, datasets = torch.load(inference.get_path_modelWeights(), map_location="cpu",
                                       weights_only=False)
        self.model = inference.load_bestModel(weights, datasets, "cpu").embedding_net.eval()

    @torch.no_grad()
    def embed(self, clips: list[np.ndarray], batch: int = 16) -> np.ndarray:
        """(len(clips), 512) embeddings of 48 kHz mono clips; equal lengths run batched."""
        out: list[np.ndarray] = []
        specs = [log_mel(clip) for clip in clips]
        i = 0
        while i < len(specs):
            j = i + 1
            while j < len(specs) and j - i < batch and specs[j].shape == specs[i].shape:
                j += 1
            out.extend(self.model(torch.from_numpy(np.stack(specs[i:j]))).numpy())
            i = j
        return np.stack(out) if out else np.zeros((0, self.dim), np.float32)


@lru_cache(maxsize=1)
def default_embedder() -> AudioEmbedder:
    return AudioEmbedder()

