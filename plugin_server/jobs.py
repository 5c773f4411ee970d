"""The job store: SQLite (stdlib), so jobs survive a restart or a crash of the server.

One row per job, its request and result as JSON, and one row per clip: a clip's state change
rewrites that clip's row alone. (The clips were a JSON column of the job's row, all rewritten
on each change: a 2,000-clip job spent 26 s of its 71 s of CPU there, the model aside, and
wrote 2.8 GB for its clips' state changes; scripts/bench_job_store.py.)
WAL mode with synchronous=NORMAL: a committed state change survives a kill -9 of the server;
a job's row and its clips' rows change in one transaction. A result is stored zlib-compressed
(a regeneration's names every clip's take: 1.2 MB of JSON for a 2,000-clip edit), and the file
gives back the pages of forgotten jobs (incremental auto_vacuum), or it kept its largest size.
"""

from __future__ import annotations

import json
import logging
import math
import os
import sqlite3
import threading
import time
import uuid
import zlib
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

log = logging.getLogger(__name__)

# Job states, the same names as the proto's JobState without the prefix.
QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELLED = "queued", "running", "succeeded", "failed", "cancelled"
TERMINAL = frozenset({SUCCEEDED, FAILED, CANCELLED})
#: Key of a job's stored request: it was given no seed, so take n of a clip uses seed n - 1
#: (GenerationRequest.seed_per_take). Absent in jobs stored before it: the seed as given.
SEED_PER_TAKE = "seed_per_take"
GENERATE, REGENERATE = "generate", "regenerate"


@dataclass
class ClipRecord:
    clip_id: str
    clip_name: str
    state: str = "queued"  # queued, running, done, failed, skipped, cancelled
    step: int = 0
    total_steps: int = 0
    media_path: str = ""
    message: str = ""
    # Which of the job's takes the state is about, from 1 (0: stored by a v2a before takes were
    # counted); each take of `takes: N` runs the clip from queued to done again.
    take: int = 1

    def requeue(self) -> None:
        """Back to queued for another attempt, which starts again from the job's first take."""
        self.state, self.step, self.message, self.take = "queued", 0, "", 1


#: What a failed job's unfinished clips say before the job's reason, by the state they were in.
FAILED_CLIP_MESSAGES = {
    "queued": "not generated: the job failed",
    "running": "the job failed while it was being generated; nothing was written",
    "done": "generated, but the job failed before it wrote the timeline; its take was removed",
}


@dataclass
class JobRecord:
    job_id: str
    kind: str
    state: str
    timeline_path: str
    output_folder: str
    input_format: str = ""
    output_format: str = ""
    # selection, params, media_search_paths, adapter_options: the generation request as JSON
    request: dict = field(default_factory=dict)
    clips: list[ClipRecord] = field(default_factory=list)
    message: str = ""
    result: dict = field(default_factory=dict)  # a GenerationResult as JSON
    parent_job_id: str = ""
    attempts: int = 0
    created: float = 0.0
    updated: float = 0.0
    # The CreateJob request_id that queued it (a retry with it gets this job); "" when none.
    request_id: str = ""

    @property
    def terminal(self) -> bool:
        return self.state in TERMINAL

    @property
    def takes(self) -> int:
        """How many takes the job generates per clip (`takes: N`; at least one)."""
        return max(1, int(self.request.get("takes", 1)))

    @property
    def timeline_name(self) -> str:
        """The timeline as the client knows it: the name it sent an inline timeline under (the
        server's copy in its state dir is a path the user never saw), else the path it gave."""
        return self.request.get("timeline_name") or self.timeline_path

    def fail(self, message: str) -> None:
        """The job failed as a whole: it ends FAILED with `message`, and so does every clip it
        had not finished, each saying what became of it (a panel would show them pending
        forever otherwise). The caller has removed the attempt's takes."""
        self.state, self.message = FAILED, message
        for clip in self.clips:
            if clip.state in FAILED_CLIP_MESSAGES:
                clip.state, clip.message = "failed", f"{FAILED_CLIP_MESSAGES[clip.state]}: {message}"
                clip.step = 0  # no progress bar part-way along a clip that will not finish

    @property
    def sent_inline(self) -> bool:
        return bool(self.request.get("timeline_name"))

    def as_sent(self, message: str) -> str:
        """`message` with the timeline named as the client knows it; for one sent inline, paths
        beside the server's copy (relative media, looked for there) as the timeline names them."""
        message = message.replace(str(Path(self.timeline_path)), self.timeline_name)
        if self.sent_inline:
            message = message.replace(os.path.join(os.path.dirname(self.timeline_path), ""), "")
        return message


def new_job_id() -> str:
    return uuid.uuid4().hex[:16]


#: The store's layout, as `PRAGMA user_version` records it: 0, each job's clips a JSON column of
#: its row; 1, a row per clip; 2, each result zlib-compressed JSON (a BLOB; 1's is JSON text).
#: An older layout is converted when the store opens; `downgrade` writes 2 back as 1.
SCHEMA_VERSION = 2
PLAIN_RESULTS_VERSION = 1

_JOBS_TABLE = """
CREATE TABLE IF NOT EXISTS jobs (
    job_id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    state TEXT NOT NULL,
    timeline_path TEXT NOT NULL,
    output_folder TEXT NOT NULL,
    input_format TEXT NOT NULL,
    output_format TEXT NOT NULL,
    request TEXT NOT NULL,
    message TEXT NOT NULL,
    result TEXT NOT NULL,
    written_timeline TEXT NOT NULL,
    parent_job_id TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    created REAL NOT NULL,
    updated REAL NOT NULL,
    request_id TEXT NOT NULL DEFAULT ''
)"""

# A clip's place in its job's list is its key: clip ids are unique only as far as the editor
# kept them so (a pasted copy of a v2a clip carries the same stored id).
_SCHEMA = (
    _JOBS_TABLE,
    "CREATE INDEX IF NOT EXISTS jobs_by_state ON jobs (state, created)",
    "CREATE INDEX IF NOT EXISTS jobs_by_created ON jobs (created)",
    "CREATE INDEX IF NOT EXISTS jobs_by_written_timeline ON jobs (written_timeline, updated)",
    # The pruning's jobs that ended long ago: found in the table itself, `updated` lies past each
    # row's result, so every kept job's result (1.2 MB naming a feature edit's takes) was walked.
    "CREATE INDEX IF NOT EXISTS jobs_by_state_updated ON jobs (state, updated)",
    # A retried CreateJob finds its job by it; unique, so that no two jobs ever share one.
    "CREATE UNIQUE INDEX IF NOT EXISTS jobs_by_request_id ON jobs (request_id) "
    "WHERE request_id != ''",
    """CREATE TABLE IF NOT EXISTS clips (
        job_id TEXT NOT NULL,
        position INTEGER NOT NULL,
        clip_id TEXT NOT NULL,
        clip_name TEXT NOT NULL,
        state TEXT NOT NULL,
        step INTEGER NOT NULL,
        total_steps INTEGER NOT NULL,
        media_path TEXT NOT NULL,
        message TEXT NOT NULL,
        updated REAL NOT NULL,
        take INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (job_id, position)
    ) WITHOUT ROWID""",
)

# A timeline's writers by that timeline's index, named: with no statistics SQLite took
# jobs_by_state_updated for `state = ? ORDER BY updated` and walked every succeeded job's result
# (0.06 s at 300 kept jobs for a timeline no job wrote; 1 ms by this index).
_BY_WRITTEN_TIMELINE = "INDEXED BY jobs_by_written_timeline"

# The timeline a job's result wrote, read from an older store's JSON; NULL for a row whose result
# is not valid JSON (an older version wrote Python's bare NaN; _repair_nonstandard_json then
# fills it in): json_extract fails the whole query on such a row, and one bad job once broke
# every regeneration and the pruning at start, so the server could not start.
_RESULT_TIMELINE = ("(CASE WHEN json_valid(result) THEN json_extract(result, '$.timeline_path') "
                    "END)")

# A result as a listing shows it: the timeline the job wrote, from its column.
_BRIEF_RESULT = ("(CASE WHEN written_timeline = '' THEN '{}' "
                 "ELSE json_object('timeline_path', written_timeline) END)")

_COLUMNS = ("job_id", "kind", "state", "timeline_path", "output_folder", "input_format",
            "output_format", "request", "message", "result", "parent_job_id",
            "attempts", "created", "updated", "request_id")
# written_timeline: the result's timeline_path, which a regeneration and the pruning look jobs
# up by. Read out of each result's JSON, it cost a regeneration 0.5 s with 300 kept jobs whose
# results name 2,000 takes.
_STORED_COLUMNS = (*_COLUMNS, "written_timeline")
_CLIP_COLUMNS = ("clip_id", "clip_name", "state", "step", "total_steps", "media_path", "message",
                 "take")


#: The most the write-ahead log keeps on disk once checkpointed; a job's largest transaction is
#: smaller (a result naming the 2,300 takes of bench_regenerate.py's edit: 1.2 MiB).
WAL_SIZE_LIMIT = 8 * 2**20

#: Free pages given back to the file system per step after a pruning, the store's lock released
#: between steps so that no RPC waits behind the whole of it (SQLite's 4 KiB pages: 4 MiB).
FREE_PAGES_PER_STEP = 1024


class StoreError(ValueError):
    """A job store file this version cannot use."""


class JobStore:
    """Thread-safe: one connection behind a lock (writes are small and rare)."""

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        # Before anything is written: a new store's file then shrinks as jobs are forgotten (an
        # existing one is converted by _give_back_space_from_now_on).
        self._db.execute("PRAGMA auto_vacuum = INCREMENTAL")
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        # A checkpointed log is reused, not shrunk: without a limit it kept the size of the
        # largest transaction for as long as the server ran (pruning 295 jobs whose results
        # name 2,000 takes: 339 MiB; an older store's conversion: the whole store).
        self._db.execute(f"PRAGMA journal_size_limit = {WAL_SIZE_LIMIT}")
        self._lock = threading.Lock()
        try:
            self._open(path)
            self._give_back_space_from_now_on(path)
        except BaseException:
            self._db.close()
            raise

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def _transaction(self):
        """The statements inside commit together or not at all (a kill -9 included)."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _open(self, path: Path) -> None:
        """Create the tables, or bring an older v2a's store to this layout, in one transaction."""
        with self._transaction() as db:
            (version,) = db.execute("PRAGMA user_version").fetchone()
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"{path}: the job store was written by a newer v2a (layout {version}, this "
                    f"one reads {SCHEMA_VERSION}); run that version, or start this one with "
                    "another --state-dir")
            columns = {row[1] for row in db.execute("PRAGMA table_info(jobs)")}
            older = "clips" in columns
            if older:
                _move_clips_to_their_table(db)
            elif columns and "request_id" not in columns:
                _add_request_id_column(db)
            for statement in _SCHEMA:
                db.execute(statement)
            _add_clip_take_column(db)
            # Only a layout-0 store can hold bare NaN (every version since writes standard JSON),
            # so the check reads every result once, on conversion: run at each start, it cost
            # 0.4 s with 300 kept jobs whose results name 2,000 takes, growing with the history.
            if older:
                _repair_nonstandard_json(db)
            if version < SCHEMA_VERSION:
                _compress_results(db)
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def _give_back_space_from_now_on(self, path: Path) -> None:
        """A store made without auto_vacuum (by v2a before it was set) rewritten with it, once,
        as the server opens it: VACUUM, the one way SQLite turns it on for a store that has
        tables. Every v2a reads and writes the store either way; a failure (no room for the copy
        VACUUM makes) leaves it as it was, to be tried at the next start."""
        (mode,) = self._db.execute("PRAGMA auto_vacuum").fetchone()
        if mode == 2:  # INCREMENTAL
            return
        log.info("job store: rewriting %s so that it shrinks as jobs are forgotten", path)
        try:
            self._db.execute("VACUUM")
        except sqlite3.OperationalError as error:
            log.warning("job store: %s keeps its size for now (VACUUM failed: %s)", path, error)

    # --- writes ---------------------------------------------------------------------------

    def add(self, job: JobRecord) -> JobRecord:
        now = time.time()
        job = replace(job, created=job.created or now, updated=now)
        with self._transaction() as db:
            db.execute(f"INSERT INTO jobs ({', '.join(_STORED_COLUMNS)}) "
                       f"VALUES ({', '.join('?' * len(_STORED_COLUMNS))})", _row(job))
            _insert_clips(db, job.job_id, job.clips, job.updated)
        return job

    def save(self, job: JobRecord) -> JobRecord:
        """Write the whole record (state, clips, result) in one transaction."""
        job = replace(job, updated=time.time())
        row = _row(job)
        assignments = ", ".join(f"{c} = ?" for c in _STORED_COLUMNS[1:])
        with self._transaction() as db:
            db.execute(f"UPDATE jobs SET {assignments} WHERE job_id = ?", (*row[1:], row[0]))
            db.execute("DELETE FROM clips WHERE job_id = ?", (job.job_id,))
            _insert_clips(db, job.job_id, job.clips, job.updated)
        return job

    def save_clip(self, job_id: str, position: int, clip: ClipRecord) -> None:
        """Write one clip of a stored job, `job.clips[position]`: its progress rewrites nothing
        else (a clip added to the job since it was saved needs a `save`)."""
        assignments = ", ".join(f"{c} = ?" for c in (*_CLIP_COLUMNS, "updated"))
        with self._lock:
            self._db.execute(f"UPDATE clips SET {assignments} WHERE job_id = ? AND position = ?",
                             (*_clip_row(clip), time.time(), job_id, position))

    def recover_after_restart(self, max_attempts: int) -> list[str]:
        """Jobs to run again, oldest first: queued ones, and ones a stop interrupted.

        A running job is requeued (its finished clips are generated again from scratch), unless it
        already ran `max_attempts` times: then it is marked failed, so a job that kills the server
        cannot do it forever.
        """
        for job in self.list(states=(RUNNING,), limit=1_000_000):
            if job.attempts >= max_attempts:
                job.fail(f"the server stopped during each of {job.attempts} attempts")
            else:
                job.state = QUEUED
                job.message = f"requeued: the server stopped during attempt {job.attempts}"
                for clip in job.clips:
                    if clip.state == "running":
                        clip.requeue()
            self.save(job)
        return [job.job_id for job in reversed(self.list(states=(QUEUED,), limit=1_000_000))]

    def prune(self, finished_before: float) -> list[str]:
        """Forget jobs that ended before `finished_before` (a time.time()); returns their ids.

        Kept whatever their age: queued and running jobs, and for each timeline the succeeded job
        that wrote it last (its result lists every clip's current take, which a regeneration
        starts from). The files jobs wrote are the editor's and stay.
        """
        terminal = tuple(sorted(TERMINAL))
        # Only the jobs that ended before the cut are looked at, each writer's timeline by its
        # index as a regeneration looks it up: a start's pruning costs what it forgets, not
        # what the store holds (ranking every kept writer took 0.08 s at 300 kept jobs).
        with self._transaction() as db:
            ids = db.execute(
                f"SELECT job_id FROM jobs AS ended WHERE state IN ({', '.join('?' * len(terminal))}) "
                "AND updated < ? AND NOT (state = ? AND written_timeline != '' AND job_id = "
                f"(SELECT job_id FROM jobs {_BY_WRITTEN_TIMELINE} WHERE written_timeline = "
                "ended.written_timeline AND state = ? ORDER BY updated DESC LIMIT 1))",
                (*terminal, finished_before, SUCCEEDED, SUCCEEDED),
            ).fetchall()
            db.executemany("DELETE FROM jobs WHERE job_id = ?", ids)
            db.executemany("DELETE FROM clips WHERE job_id = ?", ids)
        if ids:
            self.give_back_free_pages()
        return [job_id for (job_id,) in ids]

    def give_back_free_pages(self) -> int:
        """Shrink the file by its free pages (those of forgotten jobs), a step at a time with the
        lock released in between; returns how many. SQLite reuses free pages but never returns
        them without this: forgetting 295 of 300 kept jobs left 338 MiB free in a 343 MiB file
        for as long as the store lived. The file shrinks at the log's next checkpoint, run here."""
        given = 0
        while True:
            with self._lock:
                (free,) = self._db.execute("PRAGMA freelist_count").fetchone()
                (mode,) = self._db.execute("PRAGMA auto_vacuum").fetchone()
                if not free or mode != 2:  # none, or a store not yet converted (a failed VACUUM)
                    break
                # executescript runs the pragma to its end; execute() frees one page a call.
                self._db.executescript(f"PRAGMA incremental_vacuum({FREE_PAGES_PER_STEP})")
                given += min(free, FREE_PAGES_PER_STEP)
        with self._lock:
            self._db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        return given

    # --- reads ----------------------------------------------------------------------------

    def get(self, job_id: str) -> JobRecord | None:
        jobs = self._read("WHERE job_id = ?", (job_id,))
        return jobs[0] if jobs else None

    def list(self, states: tuple[str, ...] = (), limit: int = 50,
             after: tuple[float, str] | None = None, brief: bool = False) -> list[JobRecord]:
        """Newest first; `after` (a listed job's created, job_id) starts just past that job.

        By key, not by offset: a job created or changing state between two pages shifted every
        later offset, so a panel paging through its jobs saw some twice and skipped others.
        `brief`: each result holds only the timeline the job wrote, not its takes (a page of 50
        regenerations of a feature edit parsed 60 MB of JSON, 0.5 s): for showing, never `save`.
        """
        conditions, args = [], []
        if states:
            conditions.append(f"state IN ({', '.join('?' * len(states))})")
            args += list(states)
        if after is not None:
            conditions.append("(created < ? OR (created = ? AND job_id > ?))")
            args += [after[0], after[0], after[1]]
        where = f"WHERE {' AND '.join(conditions)}" if conditions else ""
        return self._read(f"{where} ORDER BY created DESC, job_id LIMIT ?", (*args, limit), brief)

    def get_by_request_id(self, request_id: str) -> JobRecord | None:
        """The job a CreateJob with this request_id queued, while the store keeps it."""
        jobs = self._read("WHERE request_id = ? AND request_id != ''", (request_id,))
        return jobs[0] if jobs else None

    def latest_succeeded_writing(self, timeline_path: str) -> JobRecord | None:
        """The job that last wrote this timeline: its result holds every clip's current take."""
        jobs = self._read(f"{_BY_WRITTEN_TIMELINE} WHERE written_timeline = ? AND state = ? "
                          "ORDER BY updated DESC LIMIT 1", (timeline_path, SUCCEEDED))
        return jobs[0] if jobs else None

    def _read(self, where: str, args: tuple, brief: bool = False) -> list[JobRecord]:
        with self._lock:
            return _select(self._db, where, args, brief)

    def count(self, states: tuple[str, ...]) -> int:
        with self._lock:
            (n,) = self._db.execute(
                f"SELECT COUNT(*) FROM jobs WHERE state IN ({', '.join('?' * len(states))})",
                states,
            ).fetchone()
        return int(n)


def _row(job: JobRecord) -> tuple:
    # Field by field, not dataclasses.asdict: asdict deep-copied every clip and the request and
    # result only for json to read them, 92 % of a save; a 2,000-clip job saved on each clip's
    # state change spent 120 s of its run there.
    data = {column: getattr(job, column) for column in _COLUMNS}
    data["request"] = _dumps(job.request)
    data["result"] = _pack(job.result)
    data["written_timeline"] = _written_timeline(job.result)
    return tuple(data[c] for c in _STORED_COLUMNS)


def _pack(result: dict) -> bytes:
    """A result as stored (layout 2): its JSON, zlib-compressed. Each of a regeneration's 2,000
    takes repeats its provenance's keys, model and prompt: 1,166 KiB of JSON, 51 KiB so
    (scripts/bench_job_store.py), 8 ms to compress and 2 ms to read back."""
    return zlib.compress(_dumps(result).encode())


def _unpack(stored: bytes | str) -> dict:
    """A stored result: compressed JSON, or the JSON text a layout-1 row (a job `_select`s with
    `brief`, a downgraded store's row) holds."""
    if isinstance(stored, bytes):
        stored = zlib.decompress(stored)
    return json.loads(stored)


def _written_timeline(result: dict) -> str:
    path = result.get("timeline_path") if isinstance(result, dict) else None
    return path if isinstance(path, str) else ""


def _dumps(value) -> str:
    """Standard JSON, always: json.dumps writes NaN and Infinity bare, which SQLite's json
    functions refuse. Such a number (a silent take's peak in dBFS, say) is stored as null."""
    try:
        return json.dumps(value, allow_nan=False)
    except ValueError:
        return json.dumps(_finite(value), allow_nan=False)


def _finite(value):
    """`value` with every NaN or infinite float replaced by None."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(item) for item in value]
    return value


def _select(db: sqlite3.Connection, where: str, args: tuple,
            brief: bool = False) -> list[JobRecord]:
    """The jobs `SELECT … FROM jobs {where}` finds, in its order, each with its clips; `brief`:
    each result only the timeline it wrote (JobStore.list)."""
    columns = [_BRIEF_RESULT if brief and c == "result" else c for c in _COLUMNS]
    rows = db.execute(f"SELECT {', '.join(columns)} FROM jobs {where}", args).fetchall()
    clips: dict[str, list[tuple]] = {row[0]: [] for row in rows}
    for ids in _batches(list(clips)):
        for job_id, *clip in db.execute(
                f"SELECT job_id, {', '.join(_CLIP_COLUMNS)}, updated FROM clips "
                f"WHERE job_id IN ({', '.join('?' * len(ids))}) ORDER BY job_id, position", ids):
            clips[job_id].append(clip)
    return [_record(row, clips[row[0]]) for row in rows]


def _clip_row(clip: ClipRecord) -> tuple:
    return tuple(getattr(clip, column) for column in _CLIP_COLUMNS)


def _insert_clips(db: sqlite3.Connection, job_id: str, clips: list[ClipRecord],
                  updated: float) -> None:
    db.executemany(
        f"INSERT INTO clips (job_id, position, {', '.join(_CLIP_COLUMNS)}, updated) "
        f"VALUES ({', '.join('?' * (len(_CLIP_COLUMNS) + 3))})",
        ((job_id, position, *_clip_row(clip), updated) for position, clip in enumerate(clips)))


def _batches(ids: list[str], size: int = 500) -> list[list[str]]:
    """`ids` in lists short enough for one query's parameters (SQLite allows 999 in older builds)."""
    return [ids[i:i + size] for i in range(0, len(ids), size)]


def _record(row: tuple, clips: list[tuple]) -> JobRecord:
    """A job from its row and its clips' rows (_CLIP_COLUMNS, then updated), in order."""
    data = dict(zip(_COLUMNS, row, strict=True))
    data["request"] = json.loads(data["request"])
    data["result"] = _unpack(data["result"])
    data["clips"] = [ClipRecord(**dict(zip(_CLIP_COLUMNS, clip[:-1], strict=True))) for clip in clips]
    # A clip's progress is stored in its own row: the job last changed with its newest clip.
    data["updated"] = max([data["updated"], *(clip[-1] for clip in clips)])
    return JobRecord(**data)


def _move_clips_to_their_table(db: sqlite3.Connection) -> None:
    """An older v2a's store (layout 0: each job's clips a JSON column of its row) in this layout,
    inside the caller's transaction: a kill -9 part-way leaves the older store as it was."""
    log.info("job store: moving each job's clips from its row to their own table")
    rows = db.execute("SELECT job_id, clips, updated FROM jobs").fetchall()
    db.execute("ALTER TABLE jobs RENAME TO jobs_layout0")  # its indexes go with it, then away
    db.execute(_JOBS_TABLE)
    columns = ", ".join(c for c in _COLUMNS if c != "request_id")  # newer than layout 0
    db.execute(f"INSERT INTO jobs ({columns}, written_timeline) "
               f"SELECT {columns}, COALESCE({_RESULT_TIMELINE}, '') FROM jobs_layout0")
    db.execute("DROP TABLE jobs_layout0")
    for statement in _SCHEMA:
        db.execute(statement)
    for job_id, clips, updated in rows:
        try:  # Python's JSON: it reads the bare NaN an older version wrote
            records = [ClipRecord(**{"take": 0, **clip}) for clip in json.loads(clips)]
        except (ValueError, TypeError) as error:
            log.warning("job %s: its stored clips are unreadable (%s); kept without them",
                        job_id, error)
            records = []
        _insert_clips(db, job_id, records, updated)


def _add_clip_take_column(db: sqlite3.Connection) -> None:
    """The clips' `take` in a store of layout 1 made before it was counted: 0 (not known) for the
    clips there. The layout stays 1: with its default, an older v2a reads and writes the column
    as it did the table before, so a downgrade keeps working on the same store."""
    if "take" not in {row[1] for row in db.execute("PRAGMA table_info(clips)")}:
        db.execute("ALTER TABLE clips ADD COLUMN take INTEGER NOT NULL DEFAULT 0")


def _add_request_id_column(db: sqlite3.Connection) -> None:
    """The jobs' `request_id` in a store made before CreateJob took one: "" for its jobs. The
    layout stays as it was: with its default, an older v2a reads and writes the table as before
    (its jobs have none), so a downgrade keeps working on the same store."""
    db.execute("ALTER TABLE jobs ADD COLUMN request_id TEXT NOT NULL DEFAULT ''")


def _repair_nonstandard_json(db: sqlite3.Connection) -> None:
    """Rewrite rows an older version stored with bare NaN/Infinity (which Python reads but
    SQLite's json functions refuse) as standard JSON, those numbers as null."""
    rows = db.execute("SELECT job_id, request, result FROM jobs "
                      "WHERE NOT (json_valid(request) AND json_valid(result))").fetchall()
    for job_id, *columns in rows:
        try:
            request, result = (_dumps(json.loads(c)) for c in columns)
        except ValueError as error:  # not even Python's JSON: leave it, the queries skip it
            log.warning("job %s: its stored JSON is unreadable (%s); left as it is", job_id, error)
            continue
        db.execute("UPDATE jobs SET request = ?, result = ?, written_timeline = ? WHERE job_id = ?",
                   (request, result, _written_timeline(json.loads(result)), job_id))
        log.warning("job %s: stored JSON with NaN or Infinity rewritten as standard JSON", job_id)


def _compress_results(db: sqlite3.Connection) -> None:
    """Each result stored as JSON text (layout 1) compressed as layout 2 stores it, inside the
    caller's transaction: the text is compressed as it is, unparsed (a row no JSON reader takes
    reads as it did)."""
    ids = db.execute("SELECT job_id FROM jobs WHERE typeof(result) = 'text'").fetchall()
    if ids:
        log.info("job store: compressing %d stored results", len(ids))
    for (job_id,) in ids:  # one at a time: 300 results of a feature edit are 345 MiB of text
        (text,) = db.execute("SELECT result FROM jobs WHERE job_id = ?", (job_id,)).fetchone()
        db.execute("UPDATE jobs SET result = ? WHERE job_id = ?",
                   (zlib.compress(text.encode()), job_id))


def downgrade(path: Path) -> int:
    """Rewrite the store at `path` in layout 1, which v2a read before results were compressed
    (it refuses a newer layout by name); returns how many results were rewritten. In one
    transaction, so a stop part-way leaves the store as it was. Run with no server on it."""
    db = sqlite3.connect(str(path), isolation_level=None)
    try:
        (version,) = db.execute("PRAGMA user_version").fetchone()
        if version > SCHEMA_VERSION:
            raise StoreError(f"{path}: the job store was written by a newer v2a (layout "
                             f"{version}); downgrade it with that version")
        if version <= PLAIN_RESULTS_VERSION:
            return 0
        db.execute("BEGIN IMMEDIATE")
        try:
            ids = db.execute("SELECT job_id FROM jobs WHERE typeof(result) = 'blob'").fetchall()
            for (job_id,) in ids:
                (packed,) = db.execute("SELECT result FROM jobs WHERE job_id = ?",
                                       (job_id,)).fetchone()
                db.execute("UPDATE jobs SET result = ? WHERE job_id = ?",
                           (zlib.decompress(packed).decode(), job_id))
            db.execute(f"PRAGMA user_version = {PLAIN_RESULTS_VERSION}")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
        return len(ids)
    finally:
        db.close()
