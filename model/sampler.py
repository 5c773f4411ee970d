"""Flow-matching sampling with classifier-free guidance, over windows of any total length.

Guidance composes two directions (as in composable diffusion, Liu et al. 2022): the usual one
from everything unconditional (no picture, negative prompt) to everything conditional, times
`cfg_strength`, plus, when a prompt is given, the direction from unconditional to *prompt alone*
(no picture), times `prompt_strength`. A model trained where the caption and the picture always
agree mostly listens to the picture, and then only the second term lets a prompt steer (measured
on the 192-d model: with the first term only, a prompt of another class changed nothing). The
default model was trained with `prompt_swap` and steers without it, which costs less timing.

Three optional settings shape the path, all off by default because none measured better
(docs/model.md, "Guidance interval, time grid, stochastic steps"): guidance limited to an
interval of flow time (Kynkäänniemi et al. 2024; outside it the conditional branch alone runs),
a time grid shifted toward noise or data, and stochastic steps that replace part of the noise
estimate with fresh noise.

Clips longer than the training window are covered by overlapping windows that are denoised
*jointly*: at every step each window predicts a velocity over its whole span, from the one shared
state, and each token takes its velocity from the window whose centre is nearest (where that
window has the most context on both sides), passing from one to the next over the middle third
of their overlap, so neighbours agree on the overlap at every step and no seam is left to
crossfade afterwards. Until the fifteenth session overlapping
predictions were averaged with linear ramps (MultiDiffusion-style): averaging two predictions
that disagree is quieter than either, and the sound dipped 4.7 dB on average over each overlap
(docs/model.md, "Seams"). Windows from several segments share one batch.

The model is quiet over a window's first and last few tokens (it learned from 4 s examples), and
with one grid of windows the tokens where ownership passes always took their velocity 4 tokens
from a window's end, so the sound still dipped at each seam. The steps now take turns between
`grids` grids of windows, each shifted by a share of the stride (`grid_offsets`): a join of one
grid lies well inside the other's windows, and no token is near a window's end at every step.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

import torch

from model.config import check_sampler_settings
from model.network import T_CLAMP, FlowTransformer
from v2a.contracts import ProgressCallback, check_cancel


@dataclass
class SamplingJob:
    """One segment to denoise: its noise and its conditions, already on the token clock."""

    noise: torch.Tensor  # (N, patch * n_mels): N tokens, N >= window
    sync: torch.Tensor  # (N * patch, sync_dim)
    window_semantic: Callable[[int, int], torch.Tensor]  # (first token, end token) -> (semantic_dim,)
    text: torch.Tensor  # (text_dim,) the prompt, or the learned null
    uncond_text: torch.Tensor  # (text_dim,) the negative prompt, or the learned null
    has_prompt: bool = False  # a prompt was given: add its own guidance term (prompt_strength)
    seed: int = 0  # for the fresh noise of stochastic steps (noise_churn > 0)


def window_starts(total: int, window: int, overlap: int, offset: int = 0) -> list[int]:
    """First token of each window: stride window - overlap from `offset` (a window at 0 first
    when the offset is not 0), the last one flush with the end."""
    if total <= window:
        return [0]
    stride = max(1, window - overlap)
    starts = list(range(offset % stride, total - window, stride))
    return sorted({0, *starts, total - window})


def grid_offsets(window: int, overlap: int, grids: int) -> list[int]:
    """Where each of the staggered window grids starts its stride: evenly spread over one stride."""
    stride = max(1, window - overlap)
    return sorted({number * stride // grids for number in range(grids)})


def time_grid(steps: int, shift: float = 1.0) -> list[float]:
    """steps + 1 flow times from 0 (noise) to 1 (data). shift 1: uniform; above 1 the times move
    toward the data end (large steps through the noise, small ones at the end); below 1 the reverse."""
    if shift <= 0:
        raise ValueError(f"time shift must be positive, got {shift}")
    return [shift * u / (1 + (shift - 1) * u) for u in (i / steps for i in range(steps + 1))]


def predicted_clean(x: torch.Tensor, v: torch.Tensor, t: float) -> torch.Tensor:
    """The clean tokens behind a velocity: the inverse of the network's conversion, which divides
    its clean prediction's distance by the clamped 1 - t (model/network.py)."""
    return x + max(1.0 - t, T_CLAMP) * v


def advance(x: torch.Tensor, v: torch.Tensor, t: float, t_next: float) -> torch.Tensor:
    """One step from t to t_next along the straight line through the predicted clean tokens.

    The same as Euler's x + (t_next - t) v wherever 1 - t >= T_CLAMP; past that (a shifted grid's
    last step) Euler would stop short of the network's prediction, because of the clamp."""
    if 1.0 - t >= T_CLAMP:
        return x + (t_next - t) * v
    return x + (t_next - t) / (1.0 - t) * (predicted_clean(x, v, t) - x)


def renoise(x: torch.Tensor, v: torch.Tensor, t: float, t_next: float, churn: float,
            fresh: torch.Tensor) -> torch.Tensor:
    """A stochastic step: to t_next along the line through the predicted clean tokens, but with
    the share `churn` of the noise estimate replaced by fresh noise (0: the deterministic step;
    1: all fresh, like an ancestral sampler). The total noise variance stays that of the path."""
    clean = predicted_clean(x, v, t)
    noise = (x - t * clean) / (1.0 - t)
    mixed = (1.0 - churn**2) ** 0.5 * noise + churn * fresh
    return t_next * clean + (1.0 - t_next) * mixed


def window_weights(starts: list[int], window: int, ramp: float) -> list[torch.Tensor]:
    """Each window's weight per token: 1 where its centre is the nearest one, 0 where another's
    is, passing from one window to the next linearly over `ramp` tokens centred midway between
    their centres (0: at once; a token exactly midway is shared), so the weights of a token sum
    to 1 wherever two windows meet."""
    centres = torch.tensor([start + window / 2 for start in starts])
    weights = []
    for number, start in enumerate(starts):
        distance = ((torch.arange(start, start + window) + 0.5)[:, None] - centres[None, :]).abs()
        own = distance[:, number].clone()
        distance[:, number] = float("inf")
        other = distance.min(dim=1).values  # inf for a lone window
        if ramp > 0:
            weights.append(torch.clamp(0.5 + (other - own) / (2 * ramp), 0.0, 1.0))
        else:
            weights.append((own < other).float() + 0.5 * (own == other).float())
    return weights


class FlowMatchingSampler:
    """Integrates dx/dt = v(x, t) from noise (t=0) to data (t=1) with Euler or midpoint steps."""

    def __init__(
        self, net: FlowTransformer, null_sync: torch.Tensor, null_semantic: torch.Tensor,
        window: int, overlap: int, max_batch: int = 64, grids: int = 1,
    ) -> None:
        self.net = net
        self.null_sync = null_sync
        self.null_semantic = null_semantic
        self.window = window
        self.overlap = overlap
        self.max_batch = max_batch
        self.grids = grids

    @torch.inference_mode()
    def sample(
        self, jobs: list[SamplingJob], steps: int, cfg_strength: float, method: str = "euler",
        progress: ProgressCallback | None = None, cancel: threading.Event | None = None,
        prompt_strength: float = 0.0, guidance_interval: tuple[float, float] = (0.0, 1.0),
        time_shift: float = 1.0, noise_churn: float = 0.0,
    ) -> list[torch.Tensor]:
        """Denoises every job; guidance (cfg_strength, prompt_strength) applies at flow times
        inside `guidance_interval`, the conditional branch alone outside it; `noise_churn` > 0
        makes the Euler steps stochastic (`renoise`), seeded per job."""
        check_sampler_settings(steps, method, cfg_strength, prompt_strength, guidance_interval, time_shift,
                               noise_churn)
        # Step k uses grid k mod grids (staggered grids: docs/model.md, "Seams").
        layouts = [self._layout(jobs, offset) for offset in grid_offsets(self.window, self.overlap, self.grids)]
        xs = [job.noise.clone() for job in jobs]
        times = time_grid(steps, time_shift)
        low, high = guidance_interval
        # Apart from the initial noise's stream (seed), so another clip's seed never repeats it.
        fresh_noise = [torch.Generator().manual_seed(2**32 + job.seed) for job in jobs]

        def velocity(states: list[torch.Tensor], t: float, step: int) -> list[torch.Tensor]:
            layout = layouts[step % len(layouts)]
            if low <= t <= high:
                return self._velocity(jobs, layout, states, t, cfg_strength, prompt_strength)
            return self._velocity(jobs, layout, states, t, 1.0, 0.0)

        for step in range(steps):
            check_cancel(cancel, f"cancelled at sampling step {step} of {steps}")
            t, t_next = times[step], times[step + 1]
            v = velocity(xs, t, step)
            if method == "midpoint":
                t_mid = (t + t_next) / 2
                v = velocity([advance(x, vi, t, t_mid) for x, vi in zip(xs, v, strict=True)], t_mid, step)
            if noise_churn > 0 and t_next < 1.0 and 1.0 - t >= T_CLAMP:
                xs = [renoise(x, vi, t, t_next, noise_churn, torch.randn(x.shape, generator=g))
                      for x, vi, g in zip(xs, v, fresh_noise, strict=True)]
            else:
                xs = [advance(x, vi, t, t_next) for x, vi in zip(xs, v, strict=True)]
            if progress is not None:
                progress(step + 1, steps)
        return xs

    def _layout(self, jobs: list[SamplingJob], offset: int = 0) -> list[tuple[int, int, torch.Tensor, torch.Tensor]]:
        """(job index, first token, blend weights, window semantic) for every window of every job,
        the windows of the grid whose stride starts at `offset`."""
        out = []
        for index, job in enumerate(jobs):
            total = job.noise.shape[0]
            if total < self.window:
                raise ValueError(f"job {index}: {total} tokens, shorter than the window {self.window}")
            starts = window_starts(total, self.window, self.overlap, offset)
            # Ownership passes over the middle third of an overlap: measured against averaging
            # over the whole overlap (linear ramps), and against passing at once (docs/model.md).
            weights = window_weights(starts, self.window, self.overlap / 3)
            for start, weight in zip(starts, weights, strict=True):
                out.append((index, start, weight, job.window_semantic(start, start + self.window)))
        return out

    def _velocity(self, jobs, layout, xs, t: float, cfg_strength: float,
                  prompt_strength: float = 0.0) -> list[torch.Tensor]:
        patch = self.net.cfg.patch
        sums = [torch.zeros_like(x) for x in xs]
        norms = [torch.zeros(x.shape[0], 1) for x in xs]
        for first in range(0, len(layout), self.max_batch):
            chunk = layout[first : first + self.max_batch]
            x = torch.stack([xs[j][s : s + self.window] for j, s, _, _ in chunk])
            sync = torch.stack([jobs[j].sync[s * patch : (s + self.window) * patch] for j, s, _, _ in chunk])
            semantic = torch.stack([sem for _, _, _, sem in chunk])
            text = torch.stack([jobs[j].text for j, _, _, _ in chunk])
            has_prompt = torch.tensor([jobs[j].has_prompt for j, _, _, _ in chunk], dtype=x.dtype)
            prompted = prompt_strength != 0.0 and bool(has_prompt.any())
            if cfg_strength == 1.0 and not prompted:
                v = self.net(x, torch.full((len(chunk),), t), sync, semantic, text)
            else:
                uncond_text = torch.stack([jobs[j].uncond_text for j, _, _, _ in chunk])
                null_sync, null_semantic = self.null_sync.expand_as(sync), self.null_semantic.expand_as(semantic)
                # (picture, semantics, text) of each branch: conditional, unconditional (with the
                # negative prompt), and, when a prompt is given, the prompt alone.
                branches = [(sync, semantic, text), (null_sync, null_semantic, uncond_text)]
                if prompted:
                    branches.append((null_sync, null_semantic, text))
                n = len(branches)
                v_all = self.net(torch.cat([x] * n), torch.full((n * len(chunk),), t),
                                 *(torch.cat(parts) for parts in zip(*branches, strict=True)))
                v_cond, v_uncond, *v_prompt = v_all.chunk(n)
                v = v_uncond + cfg_strength * (v_cond - v_uncond)
                if v_prompt:
                    v = v + prompt_strength * has_prompt.view(-1, 1, 1) * (v_prompt[0] - v_uncond)
            for (j, s, weight, _), vi in zip(chunk, v, strict=True):
                sums[j][s : s + self.window] += weight[:, None] * vi
                norms[j][s : s + self.window] += weight[:, None]
        return [total / norm for total, norm in zip(sums, norms, strict=True)]
