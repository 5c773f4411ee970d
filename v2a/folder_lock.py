"""One v2a run at a time per output folder, across processes, and the leftovers of a killed one.

Two runs writing one folder (two `v2a generate`, one beside the server, two servers) each read
the timeline there and wrote it back: the later write dropped the earlier run's new takes. The
lock is an `flock` on `LOCK_FILE` inside the folder, which the kernel drops when its holder dies,
kill -9 included; the holder writes who it is into the file, so a run that waits can say on
what. Within a process the lock is re-entrant per thread (the server holds it for a whole job,
the pipeline takes it again for each take); another thread of the same process waits for it as
another process does (flock locks belong to the open file, not the process).

Only under the lock is nothing of v2a's being written in the folder, so only then are an empty
claimed take file and a staging leftover known to be a dead run's (`remove_leftovers`).
"""

from __future__ import annotations

import datetime
import fcntl
import json
import logging
import os
import re
import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from otio_adapters.takes import TAKE_FILE_RE
from otio_adapters.write import EXTENSIONS, OLD_BUNDLE
from v2a.contracts import GenerationCancelled
from v2a.files import entries, missing_folders, remove_if_empty

log = logging.getLogger(__name__)

#: Inside the output folder; removed when the holder lets go (left by a killed one, harmlessly:
#: the kernel dropped its flock, and the next holder writes itself over it).
LOCK_FILE = ".v2a.lock"
#: How often a waiting run tries again (and sees a cancel): an flock wait cannot be cancelled.
POLL_SECONDS = 0.1


@dataclass(frozen=True)
class Holder:
    """Who holds a folder's lock, as it wrote itself into the lock file."""

    pid: int
    host: str
    what: str  # "v2a generate cut.otio", "v2a serve, job 3f2a…"
    since: str  # local time, ISO 8601 to the second

    def __str__(self) -> str:
        where = "" if self.host == socket.gethostname() else f" on {self.host}"
        return f"pid {self.pid}{where}, {self.what}, since {self.since}"


class FolderBusy(Exception):
    """The folder is locked by another run and the caller would not wait."""

    def __init__(self, folder: str, holder: Holder | None):
        super().__init__(f"another v2a run ({_said(holder)}) is writing into {folder}")
        self.folder, self.holder = folder, holder


def _said(holder: Holder | None) -> str:
    # A holder between taking the lock and writing itself in, or an older v2a's.
    return str(holder) if holder else "it has not said which"


# folder (real path) -> how many times this thread holds it.
_held_here = threading.local()


def _holds() -> dict[str, int]:
    if not hasattr(_held_here, "folders"):
        _held_here.folders = {}
    return _held_here.folders


class FolderLock:
    """The lock of one output folder, for one holder (`what` says who, in a waiter's message).
    The folder is made if missing, and removed again on release if it is then empty."""

    def __init__(self, folder: str, what: str):
        self.folder = os.path.abspath(folder)
        self.what = what
        self._key = os.path.realpath(self.folder)
        self._handle = None
        self._made: list[str] = []
        self._nested = False

    def acquire(self, wait: bool = True, cancel: threading.Event | None = None,
                on_wait: Callable[[Holder | None], None] | None = None) -> bool:
        """Hold the folder; returns whether it had to wait for another run. Waiting, `on_wait`
        is told who holds it (again when that changes); GenerationCancelled when `cancel` is set
        meanwhile; FolderBusy at once if not `wait`. OSError if the folder cannot be made."""
        holds = _holds()
        if self._key in holds:
            holds[self._key] += 1
            self._nested = True
            return False
        waited_for: list[Holder | None] = []
        try:
            while not self._try_lock():
                holder = read_holder(self.folder)
                if not wait:
                    raise FolderBusy(self.folder, holder)
                if not waited_for or waited_for[-1] != holder:
                    waited_for.append(holder)
                    (on_wait or self._log_wait)(holder)
                if cancel is not None and cancel.wait(POLL_SECONDS):
                    raise GenerationCancelled(
                        f"cancelled while waiting for another v2a run ({_said(holder)}) "
                        f"writing into {self.folder}")
                if cancel is None:
                    time.sleep(POLL_SECONDS)
        except BaseException:
            remove_if_empty(self._made)  # made for a lock it never held
            raise
        self._write_holder()
        holds[self._key] = 1
        return bool(waited_for)

    def release(self) -> None:
        holds = _holds()
        holds[self._key] -= 1
        if self._nested:
            return
        del holds[self._key]
        try:
            os.unlink(os.path.join(self.folder, LOCK_FILE))  # still ours: unlinked before unlocked
        except OSError:
            pass
        self._handle.close()  # the kernel drops the flock
        self._handle = None
        remove_if_empty(self._made)

    def _try_lock(self) -> bool:
        """One try; True with the lock held on the file now at LOCK_FILE, False if another
        holds it."""
        path = os.path.join(self.folder, LOCK_FILE)
        while True:
            made, _ = missing_folders(self.folder)
            os.makedirs(self.folder, exist_ok=True)
            self._made = made or self._made
            try:
                handle = open(path, "a+")  # noqa: SIM115 - held until release
            except FileNotFoundError:
                continue  # the folder went with a holder that made it: make it again
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.close()
                return False
            if _is_at(handle, path):
                self._handle = handle
                return True
            handle.close()  # a holder that let go unlinked it: holding it is holding nothing

    def _write_holder(self) -> None:
        since = datetime.datetime.now().astimezone().isoformat(sep=" ", timespec="seconds")
        facts = {"pid": os.getpid(), "host": socket.gethostname(), "what": self.what,
                 "since": since}
        self._handle.seek(0)
        self._handle.truncate()
        self._handle.write(json.dumps(facts) + "\n")
        self._handle.flush()

    def _log_wait(self, holder: Holder | None) -> None:
        log.info("waiting: another v2a run (%s) is writing into %s", _said(holder), self.folder)


def _is_at(handle, path: str) -> bool:
    """Whether the open `handle` is the file at `path` now."""
    try:
        now = os.stat(path)
    except FileNotFoundError:
        return False
    opened = os.fstat(handle.fileno())
    return (now.st_dev, now.st_ino) == (opened.st_dev, opened.st_ino)


def read_holder(folder: str) -> Holder | None:
    """Who holds `folder`'s lock as its file says (None: unreadable, or not yet written)."""
    try:
        with open(os.path.join(folder, LOCK_FILE)) as handle:
            facts = json.loads(handle.read() or "null")
        return Holder(int(facts["pid"]), str(facts["host"]), str(facts["what"]),
                      str(facts["since"]))
    except (OSError, ValueError, TypeError, KeyError):
        return None


@contextmanager
def hold_folder(folder: str, what: str, wait: bool = True, cancel: threading.Event | None = None,
                on_wait: Callable[[Holder | None], None] | None = None) -> Iterator[bool]:
    """`FolderLock.acquire` for the length of a `with`; yields whether it waited."""
    lock = FolderLock(folder, what)
    waited = lock.acquire(wait=wait, cancel=cancel, on_wait=on_wait)
    try:
        yield waited
    finally:
        lock.release()


# --- what a killed run leaves ------------------------------------------------------------------

#: What an interrupted write of ours leaves, and nothing else: a take's temp file in `audio/`
#: (v2a.files.atomic_write: `.<take>.wav.<random>.tmp`) and a timeline's staging folder
#: beside it (otio_adapters.write: `.v2a-<8 random>`, tempfile.mkdtemp's names); and an empty
#: take file (`_claimed_take`).
_TAKE_TEMP_FILE = re.compile(r"\..+\.wav\.\w+\.tmp")
_STAGING_FOLDER = re.compile(r"\.v2a-[a-z0-9_]{8}")
#: Files and bundle folders that may be timelines naming a take (an .fcpxmld is Final Cut's).
_TIMELINE_SUFFIXES = {*EXTENSIONS.values(), ".fcpxmld"}


def remove_leftovers(folder: str | Path) -> list[Path]:
    """Delete what interrupted runs of v2a left in an output folder, by their exact names: take
    temp files and empty claimed take files in its `audio/` (one a timeline there names is
    kept), timeline staging folders in the folder itself (an earlier .otiod put back). Never
    recursive: an output folder may be the editor's project folder, whose own hidden `.tmp`
    files are not ours. Call it holding the folder's lock (`remove_leftovers_if_free`
    otherwise): a running v2a's claimed take is empty too."""
    from v2a.pipeline import AUDIO_FOLDER

    folder = Path(folder)
    removed = []
    audio = entries(folder / AUDIO_FOLDER)
    claimed = [path for path in audio if _claimed_take(path)]
    named = _named_by_a_timeline(folder, [path.name for path in claimed]) if claimed else set()
    for path in audio:
        ours = _TAKE_TEMP_FILE.fullmatch(path.name) or (path in claimed and path.name not in named)
        if ours and path.is_file() and not path.is_symlink():
            path.unlink(missing_ok=True)
            removed.append(path)
    for path in entries(folder):
        if _STAGING_FOLDER.fullmatch(path.name) and path.is_dir() and not path.is_symlink():
            _put_back_old_bundle(path, folder)
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    if removed:
        log.info("removed what an interrupted v2a run left in %s: %s", folder,
                 ", ".join(path.name for path in removed))
    return removed


def remove_leftovers_if_free(folder: str | Path, what: str) -> list[Path]:
    """`remove_leftovers` if no other run holds the folder now (this thread may); nothing
    otherwise, which the next run there removes under the lock."""
    if not os.path.isdir(folder):
        return []
    try:
        with hold_folder(str(folder), what, wait=False):
            return remove_leftovers(folder)
    except FolderBusy as busy:
        log.info("left %s's leftovers to the run writing it (%s)", folder, _said(busy.holder))
        return []


def _claimed_take(path: Path) -> bool:
    """A take file claimed and never written (`takes.claim_take_file`, then a kill before the
    take was written over it): empty, where a written take is a WAV header at least."""
    return bool(TAKE_FILE_RE.fullmatch(path.name)) and path.is_file() and not path.stat().st_size


def _named_by_a_timeline(folder: Path, names: list[str]) -> set[str]:
    """Those of `names` that a timeline file in `folder` (or in a bundle folder there) holds,
    as bytes or as UTF-16 (AAF): kept rather than guessed at, whatever the format."""
    files = []
    for path in entries(folder):
        if path.suffix.lower() not in _TIMELINE_SUFFIXES or path.is_symlink():
            continue
        files += [inner for inner in entries(path) if inner.is_file()] if path.is_dir() else [path]
    named = set()
    for path in files:
        try:
            data = path.read_bytes()
        except OSError:
            continue
        named |= {name for name in names
                  if name.encode() in data or name.encode("utf-16-le") in data}
    return named


def _put_back_old_bundle(staging: Path, folder: Path) -> None:
    """An .otiod written over an earlier run's is renamed in after the old one is moved into
    the staging folder: a stop between the two renames left neither in place, and removing the
    staging folder lost the earlier bundle. Put it back where the new one was going."""
    old = staging / OLD_BUNDLE
    if not old.is_dir() or old.is_symlink():
        return
    for entry in entries(staging):
        target = folder / entry.name
        if entry.name != OLD_BUNDLE and not os.path.lexists(target):
            os.replace(old, target)
            return
