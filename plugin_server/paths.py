"""Where the server may write: only inside its output roots.

Policy: the server is started with one or more output roots (`--output-root`, default
`~/v2a-output`). A request's output folder is relative to the first root, or an absolute path
inside one of the roots. `..` components are refused outright, and the folder is resolved with
symlinks followed before the check, so a link inside a root that points elsewhere is refused
too. The worker resolves the folder again right before it runs, so a link swapped in after the
job was queued is caught there. Timelines and media are read wherever the editor keeps them.
"""

from __future__ import annotations

import os
import re
from pathlib import Path, PurePath

DEFAULT_OUTPUT_ROOT = "~/v2a-output"


class PathEscape(ValueError):
    """An output folder the server may not write into: outside the output roots, or not a
    folder at all."""

    def __init__(self, requested: str, reason: str):
        super().__init__(f"output folder {requested!r} {reason}")
        self.requested = requested
        self.reason = reason


def normalize_roots(roots: list[str] | tuple[str, ...]) -> tuple[Path, ...]:
    """Absolute, symlink-resolved roots; created when missing."""
    resolved = []
    for root in roots or (DEFAULT_OUTPUT_ROOT,):
        path = Path(os.path.expanduser(root))
        path.mkdir(parents=True, exist_ok=True)
        resolved.append(path.resolve())
    return tuple(resolved)


def resolve_output_folder(requested: str, roots: tuple[Path, ...], default_name: str) -> Path:
    """The real folder a request may write into, or PathEscape saying why not."""
    if not requested:
        requested = default_name
    if "\0" in requested:
        raise PathEscape(requested, "contains a NUL character")
    if ".." in PurePath(requested).parts:
        raise PathEscape(requested, "contains '..'")
    candidate = Path(requested) if os.path.isabs(requested) else roots[0] / requested
    real = candidate.resolve()  # follows every symlink that exists along the way
    for root in roots:
        if real == root or root in real.parents:
            _check_no_file_in_the_way(requested, real, root)
            return real
    where = " or ".join(str(r) for r in roots)
    if real != candidate.absolute():
        raise PathEscape(requested, f"resolves through a symlink to {real}, outside {where}")
    raise PathEscape(requested, f"is outside the output root {where}")


def _check_no_file_in_the_way(requested: str, real: Path, root: Path) -> None:
    """PathEscape where the folder, or the nearest existing one it would be made in, is a file:
    refused at the door rather than failing the job once its turn comes."""
    for path in (real, *real.parents):
        if path.exists():
            if not path.is_dir():
                raise PathEscape(requested, f"is not a folder: {path} is a file")
            return
        if path == root:
            return


def safe_file_name(name: str, fallback: str) -> str:
    """A plain file name from what a client sent (no folders, no hidden or odd characters)."""
    base = os.path.basename(name.replace("\\", "/"))
    base = re.sub(r"[^A-Za-z0-9._ -]", "_", base).strip(" .")
    return base or fallback
