"""Files and folders as every layer writes them: the mode of finished files, and the folders a
write makes and removes again.

mkstemp and safetensors create private (0600) files; a finished WAV, timeline or checkpoint gets
the mode any new file would get here. The umask is read once, at import, because reading it means
setting it, which is not thread-safe.
"""

import os
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
