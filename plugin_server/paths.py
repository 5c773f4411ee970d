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
import shutil
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


#: What an interrupted write of ours leaves, and nothing else: a take's temp file in `audio/`
#: (v2a.media.audio.atomic_write: `.<take>.wav.<random>.tmp`) and a timeline's staging folder
#: beside it (otio_adapters.write: `.v2a-<8 random>`, tempfile.mkdtemp's names); and an empty
#: take file (`_claimed_take`).
_TAKE_TEMP_FILE = re.compile(r"\..+\.wav\.\w+\.tmp")
_STAGING_FOLDER = re.compile(r"\.v2a-[a-z0-9_]{8}")


def _claimed_take(path: Path) -> bool:
    """A take file claimed and never written (`takes.claim_take_file`, then a kill before the
    take was written over it): empty, where a written take is a WAV header at least."""
    from otio_adapters.takes import TAKE_FILE_RE

    return bool(TAKE_FILE_RE.fullmatch(path.name)) and path.is_file() and not path.stat().st_size


def remove_temp_files(folder: Path) -> list[Path]:
    """Delete leftovers of interrupted atomic writes in an output folder: take temp files and
    empty claimed take files in its `audio/` and timeline staging folders in it, by their exact
    names. Never recursive: an output folder may be the editor's project folder, whose own
    hidden `.tmp` files are not ours."""
    from v2a.pipeline import AUDIO_FOLDER

    removed = []
    for path in entries(folder / AUDIO_FOLDER):
        ours = _TAKE_TEMP_FILE.fullmatch(path.name) or _claimed_take(path)
        if ours and path.is_file() and not path.is_symlink():
            path.unlink(missing_ok=True)
            removed.append(path)
    for path in entries(folder):
        if _STAGING_FOLDER.fullmatch(path.name) and path.is_dir() and not path.is_symlink():
            _put_back_old_bundle(path, folder)
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


def _put_back_old_bundle(staging: Path, folder: Path) -> None:
    """An .otiod written over an earlier run's is renamed in after the old one is moved into
    the staging folder: a stop between the two renames left neither in place, and removing the
    staging folder lost the earlier bundle. Put it back where the new one was going."""
    from otio_adapters.write import OLD_BUNDLE

    old = staging / OLD_BUNDLE
    if not old.is_dir() or old.is_symlink():
        return
    for entry in entries(staging):
        target = folder / entry.name
        if entry.name != OLD_BUNDLE and not os.path.lexists(target):
            os.replace(old, target)
            return


def entries(folder: Path) -> list[Path]:
    """What a real folder holds: nothing for a missing or unreadable folder, or a link to one
    (a clean-up must not follow it out of the folder it was given)."""
    if folder.is_symlink():
        return []
    try:
        return list(folder.iterdir())
    except OSError:
        return []
