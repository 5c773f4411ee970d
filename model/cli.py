"""`v2a data ...` and `v2a eval`: thin commands over model.data and model.eval."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from v2a.cli import user_error


def _whole_number_from(minimum: int):
    """An argparse type: a whole number, `minimum` or more (one line naming the flag, not a
    traceback or a run that went wrong: `--steps 0` wrote an untrained decoder)."""
    bound = "must not be negative" if minimum == 0 else f"must be at least {minimum}"

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{value} {bound}")
        return value

    return parse


positive_int = _whole_number_from(1)
non_negative_int = _whole_number_from(0)


def _seed(text: str) -> int:
    """A corpus seed, 0 .. 2^32 - 1: numpy's seed sequences take no negative entry (-1 ended in
    numpy's traceback), and a bound keeps the seed one a person can type back."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not 0 <= value < 2**32:
        raise argparse.ArgumentTypeError(f"{value}: a seed is 0 .. 2^32 - 1")
    return value


def _data_build(args: argparse.Namespace) -> int:
    from model.data.build import build_corpus

    started = time.monotonic()
    try:
        only = [c.strip() for c in args.classes.split(",") if c.strip()] if args.classes else None
        summary = build_corpus(args.out, seed=args.seed, per_class=args.per_class,
                               workers=args.workers, only_classes=only, with_0ad=args.with_0ad)
    except (RuntimeError, OSError) as error:  # OSError: a --out that cannot be made (/proc/x)
        return user_error("data build", error)
    print(f"corpus at {args.out}: {summary['examples']} examples {summary['per_split']} "
          f"in {time.monotonic() - started:.0f} s")
    return 0


def _data_import(args: argparse.Namespace) -> int:
    from model.data.import_folder import ImportError_, import_folder

    try:
        summary = import_folder(args.folder, args.captions, args.out, workers=args.workers)
    except ImportError_ as error:
        return user_error("data import-folder", error)
    print(f"imported {summary['examples']} examples {summary['per_split']} into {args.out}")
    return 0


def _data_pack(args: argparse.Namespace) -> int:
    from model.config import TrainConfig, load_json
    from model.features import build_cache, load_features, write_packed_features

    try:
        cfg = load_json(TrainConfig, args.config) if args.config else TrainConfig()
        corpus = args.corpus or cfg.corpus
        if Path(args.out).is_dir():  # before the cache is filled, which can take minutes
            raise ValueError(f"--out {args.out} is a folder: name the file to write")
        examples = build_cache(corpus, args.split, cfg.model, cfg.limit)
        size = write_packed_features(load_features(examples, cfg.model), args.out, mel_bits=args.mel_bits)
    except (OSError, ValueError) as error:  # OSError: an --out that cannot be written
        return user_error("data pack-features", error)
    print(f"packed {len(examples)} {args.split} examples of {corpus} into {args.out}: {size / 1e6:.1f} MB")
    return 0


def _eval(args: argparse.Namespace) -> int:
    import torch

    from model.eval.report import markdown_table
    from model.eval.run import evaluate

    torch.set_num_threads(max(1, args.threads))
    generators = [g.strip() for g in args.generators.split(",") if g.strip()]
    if not generators:  # `--generators ,` scored the reference alone and exited 0
        return user_error("eval", f"--generators names no generator ({args.generators!r}); e.g. "
                          "--generators silence,default")
    try:
        results = evaluate(args.corpus, args.out, split=args.split, generators=generators,
                           limit=args.limit, with_captions=not args.no_prompts,
                           seed_offset=args.seed_offset)
    except (FileNotFoundError, ValueError) as error:
        return user_error("eval", error)
    print(markdown_table(results))
    print(f"report: {args.out}/report.md")
    return 0


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    data = subparsers.add_parser(
        "data", help="build or import an audio-visual training corpus",
        description="Make a training corpus: `build` renders one from recorded sounds and "
        "pictures in Debian packages, `import-folder` cuts your own videos with a captions CSV "
        "into the same format, `pack-features` packs a split's training features into one file "
        "to train where the corpus is not.")
    data_sub = data.add_subparsers(dest="data_command", required=True)

    build = data_sub.add_parser("build", help="render the corpus from installed Debian packages")
    build.add_argument("--out", default="data/corpus", help="corpus folder, replaced whole (default: %(default)s)")
    build.add_argument("--seed", type=_seed, default=0,
                       help="the same seed builds the same corpus, byte for byte (default: %(default)s)")
    build.add_argument("--per-class", type=positive_int, default=260,
                       help="examples per sound class (default: %(default)s)")
    build.add_argument("--workers", type=positive_int, default=2, help="processes (default: %(default)s)")
    build.add_argument("--classes", default="",
                       help="comma-separated subset of sound classes (default: every class)")
    build.add_argument("--with-0ad", action="store_true",
                       help="add 0 A.D.'s recordings (package 0ad-data) to the train split only "
                            "(default: off)")
    build.set_defaults(func=_data_build)

    imp = data_sub.add_parser("import-folder",
                              help="cut a folder of videos with sound + captions CSV into a corpus")
    imp.add_argument("folder", help="folder of videos with their own sound")
    imp.add_argument("--captions", required=True,
                     help="CSV: file (or id), start seconds, caption/label, split")
    imp.add_argument("--out", required=True, help="corpus folder to write")
    imp.add_argument("--workers", type=positive_int, default=2, help="processes (default: %(default)s)")
    imp.set_defaults(func=_data_import)

    pack = data_sub.add_parser(
        "pack-features", help="one compressed file of a split's training features, to train where the corpus is not")
    pack.add_argument("--config",
                      help="the training config whose model settings (and corpus, limit) the "
                           "features follow (default: none, model/config.py TrainConfig's "
                           "defaults)")
    pack.add_argument("--corpus", help="default: the config's corpus")
    pack.add_argument("--split", default="train", help="train, val or test (default: %(default)s)")
    pack.add_argument("--out", required=True, help="the file to write (e.g. runs/train-features.npz.xz)")
    pack.add_argument("--mel-bits", type=int, default=8, choices=range(2, 9), metavar="{2..8}",
                      help="bits per log-mel value (default 8; 7 keeps a 128-mel train split under the "
                           "GPU machine's 64 MiB)")
    pack.set_defaults(func=_data_pack)

    ev = subparsers.add_parser(
        "eval", help="score generators and baselines on a corpus split",
        description="Score generators and baselines on a corpus split (onset accuracy and AP, "
        "AV-Align, Fréchet distance and class agreement on aisfx embeddings, real-time factor), "
        "print the table and write it into --out with spectrograms (report.md).")
    ev.add_argument("--corpus", default="data/corpus", help="corpus folder (default: %(default)s)")
    ev.add_argument("--split", default="test", help="train, val or test (default: %(default)s)")
    ev.add_argument("--generators",
                    default="silence,random-sample,onset-transfer,motion-bursts,ceiling,default",
                    help="comma-separated generator specs (see model/generators.py; "
                         "default: %(default)s)")
    ev.add_argument("--limit", type=positive_int, default=None,
                    help="examples, spread over classes (default: the whole split, as the bars are read)")
    ev.add_argument("--out", default="reports/eval",
                    help="report folder, replaced whole at the end: metrics.json, report.md, "
                         "pictures, embeddings.npz (default: %(default)s)")
    ev.add_argument("--threads", type=positive_int, default=2,
                    help="torch threads (default: %(default)s)")
    ev.add_argument("--no-prompts", action="store_true",
                    help="give no prompt (default: each example's caption), as for an editor who types none")
    ev.add_argument("--seed-offset", type=non_negative_int, default=0,  # seeds are not negative
                    help="example i is generated with seed OFFSET + i (default 0); a second offset is a "
                         "second draw, to see how far the seed alone moves the figures")
    ev.set_defaults(func=_eval)

    from model.train_cli import add_train_command  # `v2a train` (argument parsing only, no torch)

    add_train_command(subparsers)
