"""Set a checkpoint's default sampler settings (steps, time grid, guidance, prompt guidance) in place.

The defaults travel in the checkpoint's config, so every caller (timeline CLI, server, eval)
gets them; they are chosen *after* training, by measurement (scripts/bench_model.py), and the
choice is recorded in the file's `info.sampler_defaults`.

    .venv/bin/python scripts/set_sampler_defaults.py CHECKPOINT [--steps 16] [--time-shift 0.5]
        [--method midpoint] [--cfg 3] [--prompt-strength 2] --why "what measured it"
"""

from __future__ import annotations

import argparse
import dataclasses
import sys

from model.config import SAMPLER_METHODS
from model.v2a_model import V2AModel, read_info


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint")
    parser.add_argument("--steps", type=int)
    parser.add_argument("--time-shift", type=float, help="below 1: more of the steps near the noise end")
    parser.add_argument("--method", choices=SAMPLER_METHODS,
                        help="midpoint calls the network twice per step: half the steps for the same time")
    parser.add_argument("--cfg", type=float)
    parser.add_argument("--prompt-strength", type=float)
    parser.add_argument("--why", required=True, help="the measurement behind the choice")
    args = parser.parse_args()
    info = read_info(args.checkpoint)
    model = V2AModel.load(args.checkpoint)
    changes = {"steps": args.steps, "time_shift": args.time_shift, "method": args.method,
               "cfg_strength": args.cfg, "prompt_strength": args.prompt_strength}
    # replace() runs the config's own checks: a bad value is refused here, not at the next load.
    try:
        sampler = dataclasses.replace(model.config.sampler, **{k: v for k, v in changes.items() if v is not None})
    except ValueError as error:
        parser.error(f"{args.checkpoint}: {error}")  # exits 2; the file is untouched
    model.config.sampler = sampler
    info["sampler_defaults"] = (f"steps {sampler.steps} ({sampler.method}), time shift {sampler.time_shift:g}, "
                                f"guidance {sampler.cfg_strength:g}, "
                                f"prompt guidance {sampler.prompt_strength:g}: {args.why}")
    model.save(args.checkpoint, info)
    print(info["sampler_defaults"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
