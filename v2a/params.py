"""The generation parameters a request may carry, checked before any work starts (the server
before a job is queued, `v2a generate` before it reads the timeline).

A value the generator would only refuse later fails every clip at run time (guidance -3), and
some do worse: NaN guidance sampled near-silence and wrote non-standard JSON into the job store,
two billion steps ate the server's memory on every restart. So each is bounded here, at the door.
"""

from __future__ import annotations

import math

from v2a.contracts import MAX_STEPS, ClipAddress, Selection

#: Takes per clip a job may ask for.
MAX_TAKES = 16
#: Classifier-free guidance; samplers use a few units, far above 100 the sound is noise.
MAX_GUIDANCE = 100.0
#: Prompts are a few words; a 2.4 MB one was stored and echoed in every GetJob and ListJobs.
MAX_PROMPT_CHARS = 2000
#: The largest integer a JavaScript panel holds exactly (Number.MAX_SAFE_INTEGER): a seed it
#: shows or sends back is the seed that was used. Takes use seed, seed + 1, … so the last one
#: must fit too.
MAX_SEED = 2**53 - 1
#: The loudness a run may bring its takes to (LUFS): from a quiet background bed to louder than
#: a web mix (-14); a take is never made louder than its true peak allows anyway.
MIN_LOUDNESS_TARGET, MAX_LOUDNESS_TARGET = -60.0, -5.0


def violations(params: dict, takes: int) -> list[tuple[str, str]]:
    """(parameter, what is wrong) for each bad value of `params` (GenerationParams as JSON:
    prompt, negative_prompt, seed, steps, cfg_strength) and `takes`; empty when all are fine."""
    problems = []
    if not 0 <= takes <= MAX_TAKES:
        problems.append(("takes", f"{takes}: 0..{MAX_TAKES} (0 or 1: one take)"))
    steps = params.get("steps", 0)
    if not (isinstance(steps, int) and 0 <= steps <= MAX_STEPS):
        problems.append(("steps", f"{steps}: 0..{MAX_STEPS} (0: the generator's default)"))
    guidance = params.get("cfg_strength", 0.0)
    if not (isinstance(guidance, (int, float)) and math.isfinite(guidance)
            and 0 <= guidance <= MAX_GUIDANCE):
        problems.append(("guidance", f"{guidance}: a number 0..{MAX_GUIDANCE:g} "
                                     "(0: the generator's default)"))
    seed = params.get("seed", 0)
    if not (isinstance(seed, int) and 0 <= seed <= MAX_SEED - (max(1, takes) - 1)):
        problems.append(("seed", f"{seed}: 0..{MAX_SEED} (2^53 - 1, what a JavaScript panel "
                                 f"holds exactly), and so must the last take's seed + takes - 1"))
    for name in ("prompt", "negative_prompt"):
        text = params.get(name, "")
        if not isinstance(text, str) or len(text) > MAX_PROMPT_CHARS:
            size = len(text) if isinstance(text, str) else type(text).__name__
            problems.append((name, f"{size} characters: at most {MAX_PROMPT_CHARS}"))
    return problems


def loudness_target_violations(target: float | None) -> list[tuple[str, str]]:
    """("loudness_target_lufs", what is wrong) where `target` is no loudness to normalise
    takes to; empty for None (takes as the model made them) and a fine value."""
    if target is None or (isinstance(target, (int, float)) and not isinstance(target, bool)
                          and MIN_LOUDNESS_TARGET <= target <= MAX_LOUDNESS_TARGET):
        return []
    return [("loudness_target_lufs",
             f"{target}: LUFS from {MIN_LOUDNESS_TARGET:g} to {MAX_LOUDNESS_TARGET:g} (-23: EBU R 128 "
             "broadcast, -24: ATSC A/85, -14: a web mix)")]


def address_violations(address: ClipAddress, field: str) -> list[tuple[str, str]]:
    """(field, what is wrong) where a clip address names no clip: no id and no record time (a
    track alone was looked for "at None s"), or a time that is not a number of seconds (NaN
    failed in the planner as "cannot convert NaN to integer ratio", blaming the timeline)."""
    if address.clip_id:
        return []
    if address.record_time is None:
        return [(field, "give clip_id, or record_time (and track)")]
    if not math.isfinite(address.record_time):
        return [(f"{field}.record_time", f"{address.record_time}: seconds from the timeline "
                                         "start, a finite number")]
    return []


def selection_violations(selection: Selection, field: str = "selection") -> list[tuple[str, str]]:
    """(field, what is wrong) for each clip address and the time range of `selection` that
    names no place on a timeline; empty when all are fine."""
    problems = [problem for index, address in enumerate(selection.clips)
                for problem in address_violations(address, f"{field}.clips[{index}]")]
    if selection.time_range is not None:
        start, end = selection.time_range
        if not (math.isfinite(start) and math.isfinite(end)):
            problems.append((f"{field}.time_range", f"{start}..{end}: seconds from the timeline "
                                                    "start, finite numbers"))
        elif end <= start:
            problems.append((f"{field}.time_range", "end must be after start"))
    return problems
