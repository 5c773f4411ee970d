"""Files and folders as every layer writes them: a file written whole or not at all, the mode of
finished files, and the folders a write makes and removes again.

mkstemp and safetensors create private (0600) files; a finished WAV, timeline or checkpoint gets
the mode any new file would get here. The umask is read once, at import, because reading it means
setting it, which is not thread-safe.
"""

import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

_UMASK = os.umask(0o022)
os.umask(_UMASK)

USUAL_FILE_MODE = 0o666 & ~_UMASK


def missing_folders(path: str) -> tuple[list[str], str]:
    """The folders of `path` that do not exist yet (deepest first), and its nearest existing one."""
    missing, folder = [], os.path.abspath(path)
    while not os.path.exists(folder):
        missing.append(folder)
        folder = os.path.dirname(folder)
    return missing, folder


def remove_if_empty(folders: list[str]) -> None:
    """Remove `folders` (deepest first, as `missing_folders` lists them) while they are empty."""
    for folder in folders:
        try:
            os.rmdir(folder)  # only ever removes an empty folder
        except OSError:
            return  # it holds something (or went away): so do the folders above it


def entries(folder: Path) -> list[Path]:
    """What a real folder holds: nothing for a missing or unreadable folder, or a link to one
    (a clean-up must not follow it out of the folder it was given)."""
    if folder.is_symlink():
        return []
    try:
        return list(folder.iterdir())
    except OSError:
        return []


def atomic_write(path: str, payload: bytes | Iterable[bytes]) -> None:
    """Writes bytes (or pieces of bytes, in order) to `path` through a temp file in the same
    folder + fsync + os.replace."""
    folder = os.path.dirname(os.path.abspath(path))
    try:
        handle, temp = tempfile.mkstemp(
            dir=folder, prefix=f".{os.path.basename(path)}.", suffix=".tmp"
        )
    except OSError as error:
        raise OSError(error.errno, f"cannot write {path}: {error.strerror}") from error
    try:
        with os.fdopen(handle, "wb") as out:
            os.fchmod(out.fileno(), USUAL_FILE_MODE)  # mkstemp made it private
            for piece in [payload] if isinstance(payload, bytes) else payload:
                out.write(piece)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, path)
    except BaseException:
        if os.path.exists(temp):
            os.unlink(temp)
        raise


def output_file_problem(path: str, flag: str, extension: str) -> str:
    """Why `path`, given as `flag`, cannot take a file a run writes when it ends (a picture, a
    stem, a saved timeline; `extension` "" takes any name): "" if it can, said before any work
    is done. Its folder is made when the file is written (as `--out`'s is: `--picture
    out/cut.png` beside a first run's `--out out/cut` was refused), so the nearest folder that
    exists is checked."""
    if not str(path).lower().endswith(extension):
        return f"{flag} {path}: not a {extension} file name"
    existing = os.path.dirname(os.path.abspath(path))
    while not os.path.exists(existing):
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing) or not os.access(existing, os.W_OK | os.X_OK):
        return f"{flag} {path}: {existing} is not a folder this user can write in"
    return ""
