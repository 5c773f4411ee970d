"""`v2a data ...` and `v2a eval`: thin commands over model.data and model.eval."""

from __future__ import annotations

import argparse
import logging
import time

log = logging.getLogger(__name__)


def _data_build(args: argparse.Namespace) -> int:
    from model.data.build import build_corpus

    started = time.monotonic()
    try:
        summary = build_corpus(args.out, seed=args.seed, per_class=args.per_class,
                               workers=args.workers)
    except RuntimeError as error:
        log.error("%s", error)
        return 2
    print(f"corpus at {args.out}: {summary['examples']} examples {summary['per_split']} "
          f"in {time.monotonic() - started:.0f} s")
    return 0


def _data_import(args: argparse.Namespace) -> int:
    from model.data.import_folder import ImportError_, import_folder

    try:
        summary = import_folder(args.folder, args.captions, args.out, workers=args.workers)
    except ImportError_ as error:
        log.error("%s", error)
        return 2
    print(f"imported {summary['examples']} examples {summary['per_split']} into {args.out}")
    return 0


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    data = subparsers.add_parser("data", help="build or import an audio-visual training corpus")
    data_sub = data.add_subparsers(dest="data_command", required=True)

    build = data_sub.add_parser("build", help="render the corpus from installed Debian packages")
    build.add_argument("--out", default="data/corpus")
    build.add_argument("--seed", type=int, default=0)
    build.add_argument("--per-class", type=int, default=260, help="examples per sound class")
    build.add_argument("--workers", type=int, default=2)
    build.set_defaults(func=_data_build)

    imp = data_sub.add_parser("import-folder",
                              help="cut a folder of videos with sound + captions CSV into a corpus")
    imp.add_argument("folder")
    imp.add_argument("--captions", required=True,
                     help="CSV: file (or id), start seconds, caption/label, split")
    imp.add_argument("--out", required=True)
    imp.add_argument("--workers", type=int, default=2)
    imp.set_defaults(func=_data_import)
