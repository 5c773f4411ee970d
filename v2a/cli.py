"""The `v2a` command: a thin layer over the library.

Each layer registers its own subcommands, so a change to one area touches one module.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import signal
import sys

#: What `v2a --help` says first (the module's docstring, shown before, was about its modules).
DESCRIPTION = (
    "Generate sound for the video clips of an editor's timeline and write it back as new audio "
    "tracks: `v2a inspect` a timeline, `v2a generate` its sound, `v2a serve` editor panels; "
    "`data`, `train` and `eval` make and measure the model."
)

#: The exit status of a user error (a path, an option, a file, a refusal the user can fix), as
#: argparse's own for a misspelt option; its message is one line on stderr: `user_error`.
USER_ERROR_EXIT = 2

# Modules that define `add_commands(subparsers)`; each subcommand sets `func(args) -> int`.
COMMAND_MODULES = (
    "otio_adapters.cli",  # inspect, generate
    "model.cli",  # data, eval, train
    "plugin_server.cli",  # serve, client
)


def user_error(command: str, error: BaseException | str) -> int:
    """Say a user error of `v2a COMMAND` as every subcommand says one, argparse's form
    (`v2a generate: error: WHAT`, one line: the message's line breaks are joined), and return
    USER_ERROR_EXIT for the command to exit with. A log line ("ERROR model.cli: ...") and each
    command's own form read as different kinds of failure."""
    message = " ".join(str(error).split()) or type(error).__name__
    print(f"v2a {command}: error: {message}", file=sys.stderr)
    return USER_ERROR_EXIT


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="v2a", description=DESCRIPTION)
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    subparsers = parser.add_subparsers(dest="command", required=True)
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as error:
            if error.name != name:
                raise
            continue
        module.add_commands(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        # Ctrl-C where a command does not handle it itself (importing torch, loading the model,
        # reading a timeline): a traceback there read as a crash of v2a's.
        print(f"\nv2a {args.command}: interrupted", file=sys.stderr)
        return 128 + signal.SIGINT
    except BrokenPipeError:
        # The reader went away (`v2a client get ID | head`): not an error of ours. Point stdout at
        # /dev/null so Python's flush at exit does not raise again, and exit as a piped tool does.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 128 + 13  # SIGPIPE


if __name__ == "__main__":
    sys.exit(main())
