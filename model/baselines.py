"""Baseline generators behind the same `Generator` seam as the trained model.

None of these learn anything; they are the floor the model must beat (and, for the ceiling,
the best the model's own audio decoder allows). Each says so in its provenance.
"""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path

import numpy as np
from scipy.signal import butter, sosfilt

from model.eval.motion import motion_peaks
from v2a.contracts import SAMPLE_RATE, GenerationParams, ProgressCallback, check_cancel

log = logging.getLogger(__name__)


class SilenceGenerator:
    """Digital silence: the zero point of every metric."""

    name = "silence"
    frame_rate = 24.0
    frame_size = 160

    def generate(self, frames, fps, num_samples, params, progress=None, cancel=None, kept=None):
        check_cancel(cancel)
        if progress:
            progress(1, 1)
        return np.zeros(num_samples, np.float32)

    def provenance(self) -> dict:
        return {"generator": self.name, "kind": "baseline", "note": "returns silence"}


def _noise_burst(rng: np.random.Generator, length: int, low_hz: float, high_hz: float,
                 decay_s: float) -> np.ndarray:
    """Band-passed white noise with a sharp attack and exponential decay (a generic 'hit')."""
    sos = butter(2, [low_hz, high_hz], btype="bandpass", fs=SAMPLE_RATE, output="sos")
    burst = sosfilt(sos, rng.standard_normal(length)).astype(np.float32)
    t = np.arange(length) / SAMPLE_RATE
    envelope = np.exp(-t / decay_s) * np.minimum(1.0, t / 0.002)
    burst *= envelope.astype(np.float32)
    return burst / (np.abs(burst).max() + 1e-9)


class MotionBurstsGenerator:
    """Baseline: a filtered-noise burst at each visual motion peak (frame differencing).

    It knows nothing of what is seen, only when something moves; louder bursts for stronger
    motion. Deterministic for a given seed.
    """

    name = "motion-bursts"
    frame_rate = 24.0
    frame_size = 160

    def generate(self, frames, fps, num_samples, params: GenerationParams,
                 progress: ProgressCallback | None = None,
                 cancel: threading.Event | None = None, kept=None) -> np.ndarray:
        check_cancel(cancel)
        out = np.zeros(num_samples, np.float32)
        times, strengths = motion_peaks(frames, fps)
        rng = np.random.default_rng(params.seed)
        burst_len = int(0.25 * SAMPLE_RATE)
        top = strengths.max() if strengths.size else 1.0
        for i, (t, s) in enumerate(zip(times, strengths, strict=True)):
            check_cancel(cancel)
            start = int(round(t * SAMPLE_RATE))
            if start >= num_samples:
                break
            low = rng.uniform(150, 600)
            burst = _noise_burst(rng, burst_len, low, low * rng.uniform(4, 12),
                                 rng.uniform(0.03, 0.1))
            end = min(num_samples, start + burst_len)
            out[start:end] += 0.5 * (0.3 + 0.7 * s / top) * burst[: end - start]
            if progress:
                progress(i + 1, len(times))
        if progress:
            progress(1, 1)
        return np.clip(out, -1.0, 1.0)

    def provenance(self) -> dict:
        return {
            "generator": self.name,
            "kind": "baseline",
            "note": "filtered-noise bursts at frame-difference motion peaks; not a learned model",
        }


class _CorpusBaseline:
    """Shared by baselines that draw real recordings from a corpus's train split.

    The example's class is handed to them by the evaluation (`set_reference_class`): an oracle
    no real generator has, so their class-level scores are an upper bound for a sample picker.
    """

    frame_rate = 24.0
    frame_size = 160

    def __init__(self, corpus: str | Path) -> None:
        self.corpus = Path(corpus)
        manifest = self.corpus / "manifest.jsonl"
        if not manifest.is_file():
            raise FileNotFoundError(f"{self.name}: no corpus manifest at {manifest}")
        self._by_class: dict[str, list[str]] = {}
        for line in manifest.read_text().splitlines():
            row = json.loads(line)
            if row["split"] == "train":
                self._by_class.setdefault(row["class"], []).append(row["audio"])
        self.reference_class: str | None = None

    def set_reference_class(self, name: str) -> None:
        self.reference_class = name

    def _random_recording(self, rng: np.random.Generator) -> np.ndarray:
        import soundfile

        pool = self._by_class.get(self.reference_class or "")
        if not pool:
            pool = [p for paths in self._by_class.values() for p in paths]
        audio, rate = soundfile.read(self.corpus / pool[rng.integers(len(pool))], dtype="float32")
        if rate != SAMPLE_RATE:
            raise ValueError(f"corpus audio is {rate} Hz, expected {SAMPLE_RATE}")
        return audio.reshape(len(audio), -1).mean(axis=1)


class RandomSampleGenerator(_CorpusBaseline):
    """Baseline: a random train-split recording of the example's class (class oracle)."""

    name = "random-sample"

    def generate(self, frames, fps, num_samples, params, progress=None, cancel=None, kept=None):
        check_cancel(cancel)
        rng = np.random.default_rng(params.seed)
        audio = self._random_recording(rng)
        out = np.zeros(num_samples, np.float32)
        n = min(num_samples, audio.size)
        out[:n] = audio[:n]
        if progress:
            progress(1, 1)
        return out

    def provenance(self) -> dict:
        return {"generator": self.name, "kind": "baseline",
                "note": "random train recording of the oracle class", "corpus": str(self.corpus)}


class OnsetTransferGenerator(_CorpusBaseline):
    """Baseline: a class-matched recording's first sound event dropped at each motion peak.

    The onset-transfer baseline of CondFoleyGen (Du et al., CVPR 2023), with motion peaks in
    place of their onset-detection network; class given by the oracle.
    """

    name = "onset-transfer"

    def generate(self, frames, fps, num_samples, params, progress=None, cancel=None, kept=None):
        from model.eval.onsets import detect_onsets

        check_cancel(cancel)
        rng = np.random.default_rng(params.seed)
        audio = self._random_recording(rng)
        onsets, _ = detect_onsets(audio, SAMPLE_RATE)
        # The event: from its onset to the next onset (at most 0.5 s), with a short fade-out.
        start = int(onsets[0] * SAMPLE_RATE) if onsets.size else 0
        stop = int(onsets[1] * SAMPLE_RATE) if onsets.size > 1 else audio.size
        stop = min(stop, start + SAMPLE_RATE // 2, audio.size)
        event = audio[max(0, start - 48): stop].copy()  # 1 ms before the onset keeps the attack
        fade = min(480, event.size)
        event[event.size - fade:] *= np.linspace(1, 0, fade, dtype=np.float32)
        out = np.zeros(num_samples, np.float32)
        times, _ = motion_peaks(frames, fps)
        for t in times:
            check_cancel(cancel)
            at = int(round(t * SAMPLE_RATE))
            end = min(num_samples, at + event.size)
            if at < end:
                out[at:end] += event[: end - at]
        if progress:
            progress(1, 1)
        return np.clip(out, -1.0, 1.0)

    def provenance(self) -> dict:
        return {"generator": self.name, "kind": "baseline",
                "note": "oracle-class recording event pasted at each visual motion peak",
                "corpus": str(self.corpus)}


class CeilingGenerator:
    """The reference audio through our own audio decoder (`MelCodec.reconstruct`).

    Not a generator a user could run: the evaluation hands it the reference sound. It shows the
    best any model decoding through that representation can score.
    """

    name = "ceiling"
    frame_rate = 24.0
    frame_size = 160

    def __init__(self, decoder: str = "griffinlim") -> None:
        """`decoder`: a decoder name ("griffinlim", "hifigan"), or a model checkpoint (.safetensors)
        whose own decoder, a learned one included, is the one measured."""
        self.decoder = decoder or "griffinlim"
        if self.decoder.endswith(".safetensors"):
            from model.v2a_model import V2AModel

            self._codec = V2AModel.load(self.decoder).codec
        else:
            from model.audio_codec import MelCodec
            from model.config import AudioConfig

            self._codec = MelCodec(AudioConfig(decoder=self.decoder))
        self.reference: np.ndarray | None = None

    def set_reference_audio(self, audio: np.ndarray) -> None:
        self.reference = np.asarray(audio, np.float32)

    def generate(self, frames, fps, num_samples, params, progress=None, cancel=None, kept=None):
        check_cancel(cancel)
        if self.reference is None:
            raise RuntimeError("ceiling: no reference audio was given (evaluation only)")
        out = self._codec.reconstruct(self.reference)
        if progress:
            progress(1, 1)
        return np.asarray(out, np.float32)[:num_samples]

    def provenance(self) -> dict:
        return {"generator": self.name, "kind": "ceiling", "decoder": self.decoder,
                "note": "reference audio encoded and decoded by model.audio_codec"}
