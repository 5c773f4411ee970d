"""The `v2a train` and `v2a train-decoder` subcommands: argument parsing only; torch loads when
the command runs."""

from __future__ import annotations

import argparse
import json
import os
import shlex
import signal
import sys

from model.cli import non_negative_int, positive_int
from v2a.cli import user_error


def add_train_command(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "train", help="train the video-to-audio model on a corpus",
        description="Train the video-to-audio model on a corpus into a run folder "
        "(model.safetensors, train_state.pt, loss.png); Ctrl-C or SIGTERM saves and prints the "
        "command that continues the run (--resume).")
    parser.add_argument("--config", help="JSON merged over the defaults (default: none, "
                        "model/config.py TrainConfig's defaults; the 2-core recipe is "
                        "model/configs/v2a-default.json)")
    parser.add_argument("--out", required=True, help="run folder (model.safetensors, train_state.pt, loss.png)")
    parser.add_argument("--resume", action="store_true",
                        help="continue from OUT/train_state.pt (default: start afresh)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=JSON",
                        help="override one config value, e.g. --set steps=100 --set "
                             "model.net.depth=4 (repeatable; default: none)")
    parser.set_defaults(func=_run_train)

    decoder = subparsers.add_parser(
        "train-decoder", help="train a learned magnitude decoder into a copy of a model checkpoint",
        description="Train the small net that makes a checkpoint's high band (8 to 11 kHz) from "
        "its mels, on a corpus's recordings, and write the checkpoint with it into --out (its "
        "decoder 'learned'; the flow weights kept).")
    decoder.add_argument("--checkpoint", required=True, help="the model to copy (its flow weights are kept)")
    decoder.add_argument("--corpus", default="data/corpus",
                         help="recordings to learn from (train split; val is scored; "
                              "default: %(default)s)")
    decoder.add_argument("--out", required=True, help="the new checkpoint (.safetensors), audio.decoder 'learned'")
    # Checked here: --steps 0 wrote an untrained decoder with a NaN loss, --limit -1 dropped the
    # last example, --threads -1 ended in torch's traceback.
    decoder.add_argument("--steps", type=positive_int, default=3000, help="training steps (default: %(default)s)")
    decoder.add_argument("--seed", type=int, default=0, help="torch seed (default: %(default)s)")
    decoder.add_argument("--threads", type=non_negative_int, default=0,
                         help="torch threads (default: 0, torch's own choice)")
    decoder.add_argument("--limit", type=non_negative_int, default=0,
                         help="first N examples per split (default: 0, all)")
    decoder.set_defaults(func=_run_train_decoder)


def _run_train(args: argparse.Namespace) -> int:
    from model.config import TrainConfig, from_dict, load_json, to_dict
    from model.train import train

    try:
        cfg = load_json(TrainConfig, args.config) if args.config else TrainConfig()
        if args.set:
            data = to_dict(cfg)
            for item in args.set:
                key, value = _parse_set(item)
                _assign(data, key, value)
            cfg = from_dict(TrainConfig, data)
        invoked = sys.argv[1:]  # `v2a train ...`, or `python -m model.train ...` (torchrun), which has no "train"
        command = ("v2a " if invoked[:1] == ["train"] else "python -m model.train ") + shlex.join(invoked)
        summary = train(cfg, args.out, resume=args.resume, command=command)
    except (ValueError, OSError) as error:  # OSError: an --out that cannot be made, a full disk
        return user_error("train", error)
    except KeyboardInterrupt:  # before the training loop (loading, filling the cache): nothing saved
        print("\nv2a train: interrupted before the first step; nothing to resume", file=sys.stderr)
        return 128 + signal.SIGINT
    if int(os.environ.get("RANK", "0")) == 0:
        print(json.dumps(summary, indent=1))
    if "stopped_by" in summary:  # Ctrl-C or SIGTERM during the loop: train() saved before stopping
        again = command if args.resume else f"{command} --resume"
        if "fitted_steps" in summary:
            # A resumed run is not fitted again: without these its learning rate would follow
            # the config's steps, not the schedule fitted to max_minutes.
            again += f" --set steps={summary['fitted_steps']} --set fit_steps_to_time=false"
        print(f"\nv2a train: stopped by {signal.Signals(summary['stopped_by']).name} at step {summary['steps']}; "
              f"saved into {args.out}; continue with: {again}", file=sys.stderr)
        return 128 + summary["stopped_by"]  # as a shell reports a process the signal ended
    return 0


def _run_train_decoder(args: argparse.Namespace) -> int:
    from model.magnitude_decoder import train_decoder

    if not args.out.endswith(".safetensors"):
        return user_error("train-decoder", f"--out {args.out}: name a .safetensors file")
    command = "v2a " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    try:
        summary = train_decoder(args.checkpoint, args.corpus, args.out, steps=args.steps, seed=args.seed,
                                threads=args.threads, limit=args.limit, command=command)
    except (ValueError, OSError) as error:
        return user_error("train-decoder", error)
    print(json.dumps(summary, indent=1))
    return 0


def _parse_set(item: str) -> tuple[str, object]:
    """`--set KEY=JSON` as (key, value), or a ValueError naming the key and what is accepted."""
    key, equals, text = item.partition("=")
    key = key.strip()
    if not equals or not key:
        raise ValueError(f"--set {item}: expected KEY=JSON, e.g. --set steps=100")
    try:
        return key, json.loads(text)
    except json.JSONDecodeError:
        # The usual slip is an unquoted string: JSON needs its quotes, and the shell eats them.
        raise ValueError(f"--set {key}: {text!r} is not a JSON value (a number, true/false, or a "
                         f"quoted string: --set '{key}=\"text\"')") from None


def _assign(data: dict, dotted: str, value: object) -> None:
    *parents, last = dotted.split(".")
    for name in parents:
        if not isinstance(data.get(name), dict):
            raise ValueError(f"--set {dotted}: {name!r} is not a config section")
        data = data[name]
    if last not in data:
        raise ValueError(f"--set {dotted}: unknown config key {last!r}")
    data[last] = value
