"""Progress bars that suit where stderr goes: tqdm's bar on a terminal, plain lines in a log.

tqdm starts each redraw with a carriage return; in a log (a file, a CI page, `2> run.log`) the
refreshes of a long build or training run joined into one endless line. `v2a generate` writes a
line per clip there (otio_adapters.cli._Progress); the model's commands use `progress_bar`.
"""

from __future__ import annotations

import sys

from tqdm import tqdm

#: In a log, a bar's state is written as a line of its own at most this often, and at its end.
LOG_LINE_SECONDS = 30.0


class _Lines:
    """A file for tqdm that writes each redraw as a line: the carriage returns and cursor moves
    tqdm draws with are left out, and a redraw that only clears (nothing left) writes nothing."""

    def __init__(self, stream) -> None:
        self.stream = stream

    def write(self, text: str) -> None:
        line = text.replace("\r", "").replace("\x1b[A", "").strip()
        if line:
            self.stream.write(line + "\n")

    def flush(self) -> None:
        self.stream.flush()


def progress_bar(iterable=None, **options) -> tqdm:
    """`tqdm(iterable, **options)` on a terminal; where stderr is not one, the same bar written
    as a line every LOG_LINE_SECONDS (tqdm's own monitor refreshes a quiet bar as often)."""
    if not sys.stderr.isatty():
        options = {"file": _Lines(sys.stderr), "mininterval": LOG_LINE_SECONDS,
                   "maxinterval": LOG_LINE_SECONDS, **options}
    return tqdm(iterable, **options)
