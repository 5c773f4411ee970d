"""`v2a train`: rectified-flow training of the model on cached corpus features.

AdamW with warmup and cosine decay, EMA weights (what gets shipped), resume, a loss-curve PNG,
tqdm. One process by default; `torchrun --nproc_per_node=N -m model.train ...` (or `v2a train`
under torchrun) runs DistributedDataParallel: gloo on CPU, nccl on GPUs.

Files in the run folder: `model.safetensors` (EMA weights, self-describing), `train_state.pt`
(everything needed to resume), `loss.png`, `history.json`, `config.json`.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import dataclasses
import json
import logging
import math
import os
import pickle
import signal
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import torch
import torch.distributed as dist
from tqdm.contrib.logging import logging_redirect_tqdm

from model.config import ModelConfig, TrainConfig, from_dict, to_dict
from model.features import (
    FeatureSet,
    build_cache,
    load_features,
    read_manifest,
    read_packed_features,
)
from model.network import COLOUR_FEATURES, mirror_motion
from model.v2a_model import V2AModel, read_metadata
from v2a.progress import progress_bar

log = logging.getLogger(__name__)


def _setup_distributed(device_kind: str) -> tuple[int, int]:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if device_kind == "cuda" else "gloo")
    return (dist.get_rank(), world) if world > 1 else (0, 1)


def _device(cfg: TrainConfig) -> torch.device:
    if cfg.device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        return torch.device("cpu")
    device = torch.device(cfg.device)
    # Asked for here, before any work, rather than found by the first tensor sent there.
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {cfg.device!r}: this machine has no CUDA device (use 'auto' or 'cpu')")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise ValueError(f"device {cfg.device!r}: this machine has {torch.cuda.device_count()} CUDA device(s)")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"device {cfg.device!r}: MPS is not available here (use 'auto' or 'cpu')")
    return device


def _resumable_state(cfg: TrainConfig, out: Path) -> dict:
    """The run's saved training state, refused (before anything is written) when it is missing or
    its model is not the one `cfg` describes: its weights would not fit that model."""
    path = out / "train_state.pt"
    if not path.is_file():
        raise FileNotFoundError(f"--resume: no {path} to resume from (train without --resume to start a run)")
    try:
        state = torch.load(path, map_location="cpu", weights_only=False)
    except (RuntimeError, EOFError, pickle.UnpicklingError) as error:  # it is replaced whole: damaged since
        raise ValueError(f"--resume: {path} cannot be read ({str(error).split('. ')[0]}); resume from a "
                         "copy of the run, or train into a new --out") from None
    if "config" in state:
        saved = _model_settings(from_dict(ModelConfig, state["config"]["model"]))
        asked = _model_settings(cfg.model)
        differ = [f"model.{key} {saved[key]!r} (asked for: {asked[key]!r})" for key in saved if saved[key] != asked[key]]
        if differ:
            raise ValueError(f"--resume: {out} was trained with other model settings: {'; '.join(differ)}. "
                             "Resume with the run's settings (its config.json), or train into a new --out")
    return state


def _model_settings(model: ModelConfig) -> dict[str, object]:
    """A model config flattened to "net.dim"-style keys, without the sampler: only generation reads
    the sampler settings, so a resumed run may change them."""
    settings = to_dict(model)
    del settings["sampler"]
    return {f"{section}.{key}": value for section, values in settings.items() for key, value in values.items()}


def _learning_rate(cfg: TrainConfig, step: int) -> float:
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    progress = (step - cfg.warmup_steps) / max(1, cfg.steps - cfg.warmup_steps)
    return cfg.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))


def _mel_statistics(data: FeatureSet) -> tuple[torch.Tensor, torch.Tensor]:
    mel = data.mel.float().reshape(-1, data.mel.shape[-1])
    return mel.mean(0), mel.std(0).clamp(min=0.1)


def load_training_data(cfg: TrainConfig, rank: int, world: int, progress: bool) -> FeatureSet:
    if cfg.features:
        return read_packed_features(cfg.features)
    corpus = Path(cfg.corpus)
    read_manifest(corpus, cfg.split)  # a clear error before anything else when it is missing
    if rank == 0:
        examples = build_cache(corpus, cfg.split, cfg.model, cfg.limit, progress)
    if world > 1:
        dist.barrier()  # rank 0 filled the cache; the others only read it
    if rank != 0:
        examples = build_cache(corpus, cfg.split, cfg.model, cfg.limit, progress=False)
    return load_features(examples, cfg.model)


def train(cfg: TrainConfig, out: str | Path, resume: bool = False, progress: bool = True,
          command: str = "") -> dict:
    """Trains per `cfg` into the folder `out`; returns a summary (steps, final loss, paths)."""
    out = Path(out)
    if out.exists() and not out.is_dir():  # found here, not after the feature cache is filled
        raise ValueError(f"--out {out} is a file: name a run folder")
    done = [name for name in ("model.safetensors", "train_state.pt") if (out / name).exists()]
    if done and not resume:
        # A new run's first save replaced them: hours of training gone to a command run twice.
        raise ValueError(f"--out {out} holds a run ({', '.join(done)}): add --resume to continue "
                         "it, or name another --out (or remove that one) to start again")
    device = _device(cfg)
    planned_steps = cfg.steps
    state = _resumable_state(cfg, out) if resume else None
    rank, world = _setup_distributed(device.type)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    if cfg.batch_size % world:
        raise ValueError(f"batch_size {cfg.batch_size} must divide by the {world} processes")
    data = load_training_data(cfg, rank, world, progress and rank == 0)
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True  # TF32 matrix products: several times faster, ample for training
        data = data.to(device)  # a few hundred MB: batches are then cut on the GPU
    torch.manual_seed(cfg.seed)
    model = V2AModel(cfg.model)
    mel_mean, mel_std = _mel_statistics(data)
    model.mel_mean.copy_(mel_mean)
    model.mel_std.copy_(mel_std)
    if cfg.init_from and not resume:
        _init_from(model, cfg.init_from)
    if rank == 0:  # once the data and the parent are read: a run that cannot start leaves a run folder as it was
        out.mkdir(parents=True, exist_ok=True)
        (out / "config.json").write_text(json.dumps(to_dict(cfg), indent=1))
    if hasattr(model, "decoder"):
        # A learned decoder (v2a train-decoder, kept from init_from): the flow loss never reaches
        # it, and DDP refuses parameters that get no gradient.
        model.decoder.requires_grad_(False)
    model.to(device)
    ema = copy.deepcopy(model).requires_grad_(False)
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, betas=(0.9, 0.99), weight_decay=cfg.weight_decay)
    step, history, elapsed_before = 0, [], 0.0
    if state is not None:  # read on the CPU above; loading copies onto the model's device
        model.load_state_dict(state["model"])
        ema.load_state_dict(state["ema"])
        optimizer.load_state_dict(state["optimizer"])
        step, history, elapsed_before = state["step"], state["history"], state.get("seconds", 0.0)
        log.info("resumed %s at step %d", out / "train_state.pt", step)
        del state
    net = torch.nn.parallel.DistributedDataParallel(model) if world > 1 else model
    per_rank = cfg.batch_size // world
    generator = torch.Generator().manual_seed(cfg.seed * 1000 + rank)
    started = time.monotonic()
    bar = progress_bar(total=cfg.steps, initial=step, desc="train", unit="step",
               disable=not (progress and rank == 0))
    # The bar is closed on an error too, and log lines while it is open go through tqdm: the
    # command's error ("v2a train: ...") and "stopping at step" start lines of their own.
    with _stop_requests(enabled=world == 1) as received, bar, logging_redirect_tqdm():
        order: list[int] = []
        # fit_steps_to_time times the steps after the first few, whose start-up (CUDA kernels loading,
        # allocator growth) made the estimate 25 % short on an H200 when it was counted.
        timed_from, timed_since = step + _UNTIMED_STEPS, None
        while step < cfg.steps:
            if not order:  # a fresh permutation per pass, the same on every rank, then sharded
                epoch = torch.Generator().manual_seed(cfg.seed + step)
                perm = torch.randperm(len(data), generator=epoch).tolist()
                order = perm[rank::world]
            index = torch.tensor([order.pop() for _ in range(min(per_rank, len(order)))])
            batch = _batch(data, index, cfg, generator, device)
            for group in optimizer.param_groups:
                group["lr"] = _learning_rate(cfg, step)
            loss = net(*batch, generator=None)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            optimizer.step()
            _ema_update(ema, model, cfg.ema_decay if step > cfg.warmup_steps else 0.0)
            step += 1
            value = _mean_over_ranks(loss.detach(), world)
            history.append([step, value])
            bar.update()
            if step % cfg.log_every == 0:
                bar.set_postfix(loss=f"{sum(v for _, v in history[-cfg.log_every:]) / cfg.log_every:.4f}")
            seconds = elapsed_before + time.monotonic() - started
            if step == timed_from:
                timed_since = time.monotonic()
            fit_now = step == max(50, cfg.warmup_steps) + _UNTIMED_STEPS + 1 and step > timed_from  # not after a late resume
            if cfg.fit_steps_to_time and cfg.max_minutes > 0 and fit_now:
                cfg = _fit_steps(cfg, step, seconds, (time.monotonic() - timed_since) / (step - timed_from), world)
                bar.total = cfg.steps
            out_of_time = cfg.max_minutes > 0 and _any_rank(seconds > cfg.max_minutes * 60, world)
            if rank == 0 and (step % cfg.save_every == 0 or step == cfg.steps or out_of_time or received):
                _save(out, model, ema, optimizer, step, history, seconds, cfg, command, data.frozen)
            if rank == 0 and cfg.keep_every and step % cfg.keep_every == 0:
                _write_ema(ema, out / f"model-step{step}.safetensors", _info(step, history, seconds, cfg, command, device),
                           data.frozen)
            if out_of_time:
                log.info("stopping at step %d: max_minutes %.1f reached", step, cfg.max_minutes)
                break
            if received:
                break
    if world > 1:
        dist.barrier()
    final = sum(v for _, v in history[-50:]) / max(1, len(history[-50:]))
    summary = {"steps": step, "final_loss": final, "out": str(out), "checkpoint": str(out / "model.safetensors")}
    if cfg.steps != planned_steps:  # fit_steps_to_time: a resume does not fit again (train_cli)
        summary["fitted_steps"] = cfg.steps
    if received:
        summary["stopped_by"] = received[0]
    return summary


@contextlib.contextmanager
def _stop_requests(enabled: bool) -> Iterator[list[int]]:
    """A list that gets the number of each SIGINT or SIGTERM received meanwhile, instead of the
    signal's usual effect: the loop then ends its step, saves a resumable state and stops, where
    Ctrl-C used to lose the steps since the last save. A second signal acts as usual (one can
    still stop a hung save). Only in a single process on the main thread: under torchrun the
    ranks would have to agree on a step to stop at, and Python handles signals there only."""
    received: list[int] = []
    if not enabled or threading.current_thread() is not threading.main_thread():
        yield received
        return

    def request_stop(signum: int, frame: object) -> None:
        received.append(signum)
        signal.signal(signum, previous[signum])

    previous = {signum: signal.signal(signum, request_stop) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield received
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


_UNTIMED_STEPS = 10


def _fit_steps(cfg: TrainConfig, step: int, seconds: float, per_step: float, world: int) -> TrainConfig:
    """`cfg` with `steps` lowered to what fits into max_minutes at `per_step` seconds a step."""
    fit = step + int((cfg.max_minutes * 60 - seconds) / per_step)
    if world > 1:  # every rank must run the same schedule
        value = torch.tensor([float(fit)])
        dist.all_reduce(value, op=dist.ReduceOp.MIN)
        fit = int(value.item())
    steps = max(step + 1, min(cfg.steps, fit))
    log.info("fit_steps_to_time: %.1f ms per step, %d steps fit into %.1f min", per_step * 1000, steps,
             cfg.max_minutes)
    return dataclasses.replace(cfg, steps=steps)


def _init_from(model: V2AModel, path: str) -> None:
    """Start from a checkpoint's weights (and its mel normalisation); layers whose shape or name
    changed since start fresh, and are named in the log.

    The parent's mel normalisation is kept only when its mels are the same representation
    (rate, FFT, hop, bands, range): 80 mels to 22 kHz have the shapes of 80 mels to 8 kHz, but
    not their statistics, which train() has just measured on this data."""
    from safetensors.torch import load_file

    # A few layers picked out of a checkpoint (scripts/gpu_train.sh prepare) carry no config and
    # no mel normalisation; a whole checkpoint says which mels its normalisation is of. Read first:
    # it says which file is not a checkpoint.
    parent_config = read_metadata(path).get("config")
    weights = load_file(path)
    own = model.state_dict()
    usable = {k: v for k, v in weights.items() if k in own and own[k].shape == v.shape}
    if parent_config is not None:
        parent_audio = vars(from_dict(ModelConfig, json.loads(parent_config)).audio)
        representation = ("sample_rate", "n_fft", "hop", "n_mels", "fmin", "fmax")
        if any(parent_audio[k] != getattr(model.config.audio, k) for k in representation):
            log.info("%s has other mels: keeping this data's mel normalisation", path)
            usable = {k: v for k, v in usable.items() if k not in ("mel_mean", "mel_std")}
    model.load_state_dict(usable, strict=False)
    # The mel normalisation is not fresh when it is not taken: train() measured it on this data.
    normalisation = "the parent's" if "mel_mean" in usable else "this data's"
    fresh = sorted(set(own) - set(usable) - {"mel_mean", "mel_std"})
    log.info("initialised from %s; mel normalisation: %s; fresh: %s", path, normalisation, ", ".join(fresh) or "none")


def _batch(data: FeatureSet, index: torch.Tensor, cfg: TrainConfig, generator: torch.Generator,
           device: torch.device) -> tuple[torch.Tensor, ...]:
    """One training batch on `device`. The random draws come from `generator` on the CPU, so a
    seed gives the same batches wherever `data` lives (in memory, or on the GPU)."""
    at = data.mel.device
    rows = index.to(at)
    flip = torch.rand(len(index), generator=generator) < 0.5  # mirrored picture, same sound
    video_keep = torch.rand(len(index), generator=generator) >= cfg.video_drop
    text_keep = (torch.rand(len(index), generator=generator) >= cfg.text_drop) & data.has_text[rows].cpu()
    own = data.motion[rows]
    motion = torch.where(flip.to(at).view(-1, 1, 1), mirror_motion(own), own).float()
    semantic = data.semantic[rows].float()
    if cfg.prompt_swap > 0:
        swap = text_keep & video_keep & (torch.rand(len(index), generator=generator) < cfg.prompt_swap)
        other = (index + torch.randint(1, len(data), (len(index),), generator=generator)) % len(data)  # never itself
        swap, other = swap.to(at), other.to(at)
        semantic = torch.where(swap.view(-1, 1), data.semantic[other].float(), semantic)
        motion[swap, :, COLOUR_FEATURES] = data.motion[other[swap], :, COLOUR_FEATURES].float()
    else:
        swap = torch.zeros(len(index), dtype=torch.bool)
    if cfg.picture_mix > 0:
        semantic, motion = _mix_pictures(data, rows, semantic, motion, video_keep & ~swap.cpu(),
                                         cfg.picture_mix, generator)
    text = data.text[rows].float()
    if cfg.caption_mix > 0:
        text = _mix_captions(data, rows, text, text_keep, cfg.caption_mix, generator)
    if cfg.text_noise > 0:
        noise = torch.randn(text.shape, generator=generator).to(at) * (cfg.text_noise / text.shape[1] ** 0.5)
        text = torch.nn.functional.normalize(text + noise * text.norm(dim=1, keepdim=True), dim=1)
    tensors = (data.mel[rows].float(), motion, semantic, text, video_keep, text_keep)
    return tuple(t.to(device) for t in tensors)


def _same_class_blend(data: FeatureSet, rows: torch.Tensor, eligible: torch.Tensor, share: float,
                      generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """For `share` of the eligible rows of a known class: (which rows mix, a random example of
    the same class for each row, a weight w uniform in [0, 1] for the row's own value)."""
    group = data.group[rows].cpu()
    mix = eligible & (group >= 0) & (torch.rand(len(rows), generator=generator) < share)
    weight = torch.rand(len(rows), 1, generator=generator)
    # Examples sorted by class: a class's members are one run, so a uniform pick inside the run
    # is a uniform pick among the class.
    all_groups = data.group.cpu()
    order = torch.argsort(all_groups, stable=True)
    starts = torch.searchsorted(all_groups[order], group)
    counts = torch.searchsorted(all_groups[order], group, right=True) - starts
    pick = starts + (torch.rand(len(rows), generator=generator) * counts).long()
    return mix, order[pick.clamp(max=len(order) - 1)], weight


def _mix_captions(data: FeatureSet, rows: torch.Tensor, text: torch.Tensor, text_keep: torch.Tensor,
                  share: float, generator: torch.Generator) -> torch.Tensor:
    """`share` of the prompted rows of a known class get normalise(w * own + (1 - w) * other),
    with `other` the caption of a random example of the same class and w uniform in [0, 1]."""
    at = text.device
    mix, other, weight = _same_class_blend(data, rows, text_keep, share, generator)
    weight = weight.to(at)
    blended = torch.nn.functional.normalize(weight * text + (1 - weight) * data.text[other.to(at)].float(), dim=1)
    return torch.where(mix.to(at).view(-1, 1), blended, text)


def _mix_pictures(data: FeatureSet, rows: torch.Tensor, semantic: torch.Tensor, motion: torch.Tensor,
                  video_keep: torch.Tensor, share: float, generator: torch.Generator
                  ) -> tuple[torch.Tensor, torch.Tensor]:
    """What `_mix_captions` does for the picture: `share` of the rows that see their own picture
    get w * own + (1 - w) * other for the clip's semantic features and the motion descriptor's
    colour features (the picture's look), `other` a random example of the same class. The
    motion itself, which times the sound, stays the row's own."""
    at = semantic.device
    mix, other, weight = _same_class_blend(data, rows, video_keep, share, generator)
    mix, other, weight = mix.to(at), other.to(at), weight.to(at)
    blended = weight * semantic + (1 - weight) * data.semantic[other].float()
    semantic = torch.where(mix.view(-1, 1), blended, semantic)
    motion = motion.clone()
    colour = motion[:, :, COLOUR_FEATURES]
    other_colour = data.motion[other, :, COLOUR_FEATURES].float()  # only the columns it blends
    motion[:, :, COLOUR_FEATURES] = torch.where(
        mix.view(-1, 1, 1), weight.view(-1, 1, 1) * colour + (1 - weight.view(-1, 1, 1)) * other_colour, colour)
    return semantic, motion


@torch.no_grad()
def _ema_update(ema: V2AModel, model: V2AModel, decay: float) -> None:
    for target, source in zip(ema.parameters(), model.parameters(), strict=True):
        target.lerp_(source, 1.0 - decay)
    for target, source in zip(ema.buffers(), model.buffers(), strict=True):
        target.copy_(source)


def _mean_over_ranks(value: torch.Tensor, world: int) -> float:
    if world > 1:
        value = value.clone()
        dist.all_reduce(value)
        value /= world
    return float(value)


def _any_rank(flag: bool, world: int) -> bool:
    if world == 1:
        return flag
    tensor = torch.tensor([1.0 if flag else 0.0])
    dist.all_reduce(tensor, op=dist.ReduceOp.MAX)
    return bool(tensor.item())


def _save(out: Path, model: V2AModel, ema: V2AModel, optimizer, step: int, history: list,
          seconds: float, cfg: TrainConfig, command: str, frozen: dict[str, str]) -> None:
    _write_ema(ema, out / "model.safetensors", _info(step, history, seconds, cfg, command,
                                                      next(model.parameters()).device), frozen)
    state = {"model": model.state_dict(), "ema": ema.state_dict(), "optimizer": optimizer.state_dict(),
             "step": step, "history": history, "seconds": seconds, "config": to_dict(cfg)}
    tmp = out / f"train_state.pt.tmp{os.getpid()}"
    torch.save(state, tmp)
    os.replace(tmp, out / "train_state.pt")
    (out / "history.json").write_text(json.dumps(history))
    plot_loss(history, out / "loss.png")


def _write_ema(ema: V2AModel, path: Path, info: dict, frozen: dict[str, str]) -> None:
    """The EMA weights as a self-describing checkpoint (saved from the CPU; moved back after)."""
    device = next(ema.parameters()).device
    ema.cpu().save(str(path), info, frozen=frozen)
    ema.to(device)


def _info(step: int, history: list, seconds: float, cfg: TrainConfig, command: str,
          device: torch.device) -> dict:
    """What a checkpoint's metadata says about its training."""
    info = {"step": step, "seconds": round(seconds, 1), "corpus": cfg.corpus, "split": cfg.split,
            "loss": round(sum(v for _, v in history[-50:]) / max(1, len(history[-50:])), 5),
            "command": command, "device": device.type}
    if cfg.features:
        info["features"] = cfg.features
    return info


def plot_loss(history: list, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = [s for s, _ in history]
    losses = [v for _, v in history]
    window = max(1, len(losses) // 50)
    smooth = [sum(losses[max(0, i - window + 1) : i + 1]) / len(losses[max(0, i - window + 1) : i + 1])
              for i in range(len(losses))]
    fig, ax = plt.subplots(figsize=(7, 3.5), dpi=100)
    ax.plot(steps, losses, color="0.8", linewidth=0.7, label="per step")
    ax.plot(steps, smooth, color="C0", label=f"mean of {window}")
    ax.set_xlabel("step")
    ax.set_ylabel("flow-matching loss (MSE)")
    ax.set_yscale("log")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    tmp = path.with_name(f".{path.stem}.tmp{os.getpid()}.png")
    fig.savefig(tmp)
    plt.close(fig)
    os.replace(tmp, path)


def main(argv: list[str] | None = None) -> int:
    """Entry point for `torchrun --nproc_per_node=N -m model.train --out ... [--config ...]`."""
    from model.train_cli import add_train_command

    parser = argparse.ArgumentParser(prog="model.train")
    add_train_command(parser.add_subparsers(dest="command", required=False))
    args = parser.parse_args(["train", *(sys.argv[1:] if argv is None else argv)])
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
