"""Model and training configuration: dataclass defaults, with plain JSON merged over them.

One mechanism: `from_dict(ModelConfig, json_dict)` builds any config from defaults plus the keys
given, and rejects a key it does not know, naming its full path (a typo never goes unnoticed).
The same JSON travels inside every checkpoint's metadata, so a checkpoint describes itself.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from dataclasses import dataclass, field
from typing import Any, TypeVar

from v2a.contracts import MAX_STEPS

T = TypeVar("T")

AUDIO_DECODERS = ("griffinlim", "learned", "hifigan")  # model/audio_codec.py


class ConfigError(ValueError):
    """Bad values in one config section. Each problem starts with its key, so `from_dict` can put
    the section's path in front ("model.net.heads 5 (...)"): the message names where to look."""

    def __init__(self, problems: list[str], heading: str = "") -> None:
        super().__init__(heading + "; ".join(problems))
        self.problems, self.heading = problems, heading

    def under(self, path: str) -> ConfigError:
        return ConfigError([path + problem for problem in self.problems], self.heading)


def _refuse(problems: list[str], heading: str = "") -> None:
    if problems:
        raise ConfigError(problems, heading)


def _at_least(config: Any, minimum: float, *names: str) -> list[str]:
    """Problems for the fields among `names` below `minimum` (NaN included)."""
    return [f"{name} {getattr(config, name)} (at least {minimum})" for name in names
            if not getattr(config, name) >= minimum]


def _shares(config: Any, *names: str) -> list[str]:
    return [f"{name} {getattr(config, name)} (within [0, 1])" for name in names
            if not 0.0 <= getattr(config, name) <= 1.0]


@dataclass
class AudioConfig:
    """The audio representation: log-mel frames. Defaults match HiFi-GAN V1 "universal"'s
    input (22.05 kHz, 80 mels, hop 256, fmax 8 kHz), so either decoder can render them."""

    sample_rate: int = 22_050
    n_fft: int = 1024
    hop: int = 256
    n_mels: int = 80
    fmin: float = 0.0
    fmax: float = 8000.0
    decoder: str = "griffinlim"  # "griffinlim" (no weights), "learned" (model/magnitude_decoder.py) or "hifigan" (slow on a CPU)
    griffinlim_iters: int = 32

    @property
    def frame_rate(self) -> float:
        return self.sample_rate / self.hop

    def __post_init__(self) -> None:
        # A bad value here trains fine and only fails when the checkpoint generates: refuse it
        # when the config is read.
        problems = _at_least(self, 1, "sample_rate", "n_fft", "hop", "n_mels", "griffinlim_iters")
        if not 0.0 <= self.fmin < self.fmax <= self.sample_rate / 2:
            problems.append(f"fmin {self.fmin} / fmax {self.fmax} (0 <= fmin < fmax <= sample_rate / 2)")
        if self.decoder not in AUDIO_DECODERS:
            names = [repr(d) for d in AUDIO_DECODERS]
            problems.append(f"decoder {self.decoder!r} ({', '.join(names[:-1])} or {names[-1]})")
        _refuse(problems)


@dataclass
class VisualConfig:
    frame_rate: float = 24.0  # frames per second the pipeline decodes for us
    frame_size: int = 128  # square pixels the pipeline decodes for us
    sync_size: int = 32  # frames are pooled to this size for the learned sync convs
    semantic_rate: float = 1.0  # EfficientNet-lite0 frames per second (it costs ~13 ms each)

    def __post_init__(self) -> None:
        _refuse(_at_least(self, 1, "frame_size", "sync_size")
                + [f"{name} {getattr(self, name)} (positive)" for name in ("frame_rate", "semantic_rate")
                   if not getattr(self, name) > 0])


@dataclass
class NetConfig:
    dim: int = 128
    depth: int = 4
    heads: int = 4
    mlp_ratio: float = 4.0
    patch: int = 8  # mel frames per transformer token (93 ms)
    window_tokens: int = 44  # the training window: 44 * 8 * 256 / 22050 = 4.09 s, so a 4 s clip is one window
    sync_dim: int = 64
    text_dim: int = 384
    semantic_dim: int = 1280

    def __post_init__(self) -> None:
        problems = _at_least(self, 1, "dim", "depth", "heads", "patch", "window_tokens", "sync_dim",
                             "text_dim", "semantic_dim")
        if self.heads >= 1 and self.dim % self.heads:  # attention splits dim into equal heads
            problems.append(f"heads {self.heads} (must divide dim {self.dim})")
        if not self.mlp_ratio > 0:
            problems.append(f"mlp_ratio {self.mlp_ratio} (positive)")
        # The frozen encoders give vectors of one size; another here trains a network that
        # fails on its first batch (or, loading, on its first clip) with a shape error.
        from model.encoders import SemanticEncoder, TextEncoder

        for name, encoder in (("text_dim", TextEncoder), ("semantic_dim", SemanticEncoder)):
            if getattr(self, name) != encoder.dim:
                problems.append(f"{name} {getattr(self, name)} (the {encoder.__name__} gives "
                                f"{encoder.dim})")
        _refuse(problems)


SAMPLER_METHODS = ("euler", "midpoint")  # model/sampler.py: one or two network calls per step


@dataclass
class SamplerConfig:
    steps: int = 8
    method: str = "euler"  # one of SAMPLER_METHODS
    cfg_strength: float = 3.0
    prompt_strength: float = 0.0  # guidance toward the prompt alone (model/sampler.py); 0: off
    overlap_tokens: int = 8  # overlap (0.74 s) between windows beyond the training length
    # Window grids the steps take turns with, each shifted by 1/window_grids of the stride, so a
    # join of one grid lies inside the other's windows (model/sampler.py; docs/model.md, "Seams").
    window_grids: int = 2
    # Flow times (0 noise, 1 data) at which guidance applies; outside, the conditional branch alone.
    guidance_from: float = 0.0
    guidance_until: float = 1.0
    time_shift: float = 1.0  # the time grid (model/sampler.time_grid); 1: uniform steps
    noise_churn: float = 0.0  # share of fresh noise per step (model/sampler.renoise); 0: deterministic
    # A segment whose sound peaks below `quiet_peak_dbfs` is drawn again from other noise, up to
    # `quiet_redraws` times, keeping the loudest draw: some noise draws lead the flow to near-silence
    # (docs/model.md, "Near-silent draws"), which an editor hears as a clip with no sound at all.
    quiet_redraws: int = 1
    quiet_peak_dbfs: float = -40.0

    def __post_init__(self) -> None:
        # Checked here so a bad value in a config file or a checkpoint's metadata is refused when it
        # is read, not at the first generation (the sampler checks what callers pass per call).
        problems = sampler_problems(self.steps, self.method, self.cfg_strength, self.prompt_strength,
                                    (self.guidance_from, self.guidance_until), self.time_shift,
                                    self.noise_churn, self.overlap_tokens)
        if self.quiet_redraws < 0:
            problems.append(f"quiet_redraws {self.quiet_redraws} (not negative)")
        if self.window_grids < 1:
            problems.append(f"window_grids {self.window_grids} (at least 1)")
        _refuse(problems, "sampler settings: ")


def check_sampler_settings(steps: int, method: str, cfg_strength: float, prompt_strength: float,
                           guidance_interval: tuple[float, float], time_shift: float, noise_churn: float,
                           overlap_tokens: int = 0) -> None:
    """ValueError naming every bad setting; the one check for a config and for a sampling call."""
    problems = sampler_problems(steps, method, cfg_strength, prompt_strength, guidance_interval, time_shift,
                                noise_churn, overlap_tokens)
    if problems:
        raise ValueError("sampler settings: " + "; ".join(problems))


def sampler_problems(steps: int, method: str, cfg_strength: float, prompt_strength: float,
                     guidance_interval: tuple[float, float], time_shift: float, noise_churn: float,
                     overlap_tokens: int = 0) -> list[str]:
    """Each bad sampler setting with what is accepted; empty when all are good."""
    problems = []
    if not 1 <= steps <= MAX_STEPS:
        problems.append(f"steps {steps} (1..{MAX_STEPS})")
    if method not in SAMPLER_METHODS:
        problems.append(f"method {method!r} ({' or '.join(repr(m) for m in SAMPLER_METHODS)})")
    for name, value in (("cfg_strength", cfg_strength), ("prompt_strength", prompt_strength)):
        if not 0 <= value < float("inf"):  # NaN fails this too (an ordinary `< 0` let it through)
            problems.append(f"{name} {value} (finite, not negative)")
    if overlap_tokens < 0:
        problems.append(f"overlap_tokens {overlap_tokens} (not negative)")
    low, high = guidance_interval
    if not 0.0 <= low <= high <= 1.0:
        problems.append(f"guidance_from {low} / guidance_until {high} (0 <= from <= until <= 1)")
    if time_shift <= 0:
        problems.append(f"time_shift {time_shift} (positive)")
    if not 0.0 <= noise_churn <= 1.0:
        problems.append(f"noise_churn {noise_churn} (within [0, 1])")
    if noise_churn > 0 and method != "euler":
        problems.append("noise_churn needs the 'euler' method")
    return problems


@dataclass
class ModelConfig:
    audio: AudioConfig = field(default_factory=AudioConfig)
    visual: VisualConfig = field(default_factory=VisualConfig)
    net: NetConfig = field(default_factory=NetConfig)
    sampler: SamplerConfig = field(default_factory=SamplerConfig)


@dataclass
class TrainConfig:
    model: ModelConfig = field(default_factory=ModelConfig)
    corpus: str = "data/corpus"
    split: str = "train"
    # A packed feature file (`v2a data pack-features`) to train from instead of the corpus: what a
    # machine without the corpus, the media libraries or the encoder wheels needs (a GPU box).
    features: str = ""
    limit: int = 0  # 0: every example of the split; N: a seeded random N, spread over classes
    batch_size: int = 24
    lr: float = 1e-3
    weight_decay: float = 0.01
    warmup_steps: int = 100
    steps: int = 1500
    max_minutes: float = 0.0  # 0: no time limit; otherwise stop (and save) after this long
    # With max_minutes: after `warmup_steps` (at least 50), lower `steps` to what the measured speed
    # fits into the time left, so the learning-rate schedule ends when the time does (a machine
    # of unknown speed, e.g. a GPU lent for minutes).
    fit_steps_to_time: bool = False
    ema_decay: float = 0.999
    text_drop: float = 0.5  # most generations have no prompt: learn that case well
    video_drop: float = 0.1  # for classifier-free guidance
    # Fraction of prompted rows whose picture appearance (the semantic feature and the colour part
    # of the motion descriptor) comes from another, random example. The sound, its caption and the
    # picture's motion still belong together, so timing stays learnable, but only the caption tells
    # what the sound is: this is what lets a prompt win over the picture.
    prompt_swap: float = 0.0
    # Gaussian noise on the (unit) prompt embedding of prompted rows, with this norm relative to
    # the embedding's, renormalised after: a caption then stands for a neighbourhood of captions.
    # Training captions name one recording each ("the sound of a cuckoo"); without it a caption
    # the model never saw ("the sound of a crow") gave near silence (docs/model.md).
    text_noise: float = 0.0
    # Fraction of prompted rows whose caption embedding becomes a random blend of it and another
    # caption of the same sound class, renormalised. Every stamp caption names one recording, so
    # the model learned single points in text space; a blend stands for "some bird", which is
    # where a bird caption it never saw lands (the class centroids of the training captions name
    # the class of 17 of the 22 validation and test captions that training lacks; docs/model.md).
    caption_mix: float = 0.0
    # The same for the picture: a share of the rows that see their picture get a random blend of
    # its semantic and colour features with another picture of the same class (the motion stays
    # their own). Each stamp picture is one point too; a held-out picture of a koala is not one
    # of them, and the model made the test split's mammals sound like birds (docs/model.md).
    picture_mix: float = 0.0
    grad_clip: float = 1.0
    seed: int = 0
    log_every: int = 10
    save_every: int = 200
    keep_every: int = 0  # also keep the EMA weights every N steps (model-step<N>.safetensors); 0: never
    device: str = "auto"  # "auto": cuda when present, else cpu
    threads: int = 0  # 0: torch's default
    init_from: str = ""  # a checkpoint to start from (fine-tuning); layers it lacks start fresh

    def __post_init__(self) -> None:
        # Checked when the config is read, so a bad value stops `v2a train` before the feature
        # cache is filled, not with a traceback from deep in the loop.
        problems = _at_least(self, 1, "batch_size", "steps", "log_every", "save_every")
        problems += _at_least(self, 0, "limit", "warmup_steps", "lr", "weight_decay", "max_minutes",
                              "text_noise", "keep_every", "threads")
        problems += _shares(self, "ema_decay", "text_drop", "video_drop", "prompt_swap", "caption_mix",
                            "picture_mix")
        if not self.grad_clip > 0:
            problems.append(f"grad_clip {self.grad_clip} (positive)")
        if self.device != "auto" and not re.fullmatch(r"cpu|cuda(:\d+)?|mps", self.device):
            problems.append(f"device {self.device!r} ('auto', 'cpu', 'cuda', 'cuda:N' or 'mps')")
        _refuse(problems)


# What JSON value each scalar field type takes. A bool is an int to Python, but `true` for a
# step count is a mistake, so it is refused where a number is asked for.
_JSON_KINDS = {"int": ((int,), "a whole number"), "float": ((int, float), "a number"),
               "str": ((str,), "a string"), "bool": ((bool,), "true or false")}


def from_dict(cls: type[T], data: dict[str, Any] | None, path: str = "") -> T:
    """`cls`'s defaults with `data` merged over them, recursively. Unknown keys, values of the
    wrong type and values out of range are ValueErrors naming the key's full path."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ValueError(f"{path.rstrip('.') or 'config'} {json.dumps(data)} (an object of keys: a config section)")
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(data) - set(fields))
    if unknown:
        where = path or cls.__name__
        raise ValueError(f"unknown config key(s) in {where}: {', '.join(unknown)}")
    values = {}
    for name, value in data.items():
        ftype = fields[name].type
        sub = _dataclass_named(ftype)
        if sub is not None:
            values[name] = from_dict(sub, value, f"{path}{name}.")
            continue
        accepted, kind = _JSON_KINDS[ftype if isinstance(ftype, str) else ftype.__name__]
        if not isinstance(value, accepted) or (isinstance(value, bool) and bool not in accepted):
            raise ValueError(f"{path}{name} {json.dumps(value)} ({kind})")
        if ftype in ("float", float):
            # JSON as Python reads it takes Infinity, NaN and 1e999: an infinite lr trained a
            # model of NaNs without a word.
            if not math.isfinite(value):
                raise ValueError(f"{path}{name} {json.dumps(value)} (a finite number)")
            value = float(value)
        values[name] = value
    try:
        return cls(**values)
    except ConfigError as error:
        raise error.under(path) from None


def to_dict(config: Any) -> dict[str, Any]:
    return dataclasses.asdict(config)


def load_json(cls: type[T], path: str) -> T:
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except json.JSONDecodeError as error:
        raise ValueError(f"config {path}: not valid JSON ({error})") from error
    except OSError as error:  # missing, a folder, unreadable: the file named, not a traceback
        raise ValueError(f"config {path}: {error.strerror or error}") from None
    try:
        return from_dict(cls, data, "")
    except ValueError as error:
        raise ValueError(f"config {path}: {error}") from None


def _dataclass_named(ftype: Any) -> type | None:
    name = ftype if isinstance(ftype, str) else getattr(ftype, "__name__", "")
    return {
        "AudioConfig": AudioConfig,
        "VisualConfig": VisualConfig,
        "NetConfig": NetConfig,
        "SamplerConfig": SamplerConfig,
        "ModelConfig": ModelConfig,
    }.get(name)
