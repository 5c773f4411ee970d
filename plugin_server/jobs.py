"""The job store: SQLite (stdlib), so jobs survive a restart or a crash of the server.

One row per job; its request, clips and result are JSON columns, rewritten on each clip's state
change: the schema stays obvious, but a save grows with the job (4.4 ms at 2,000 clips, so 18 s
over such a job's run; scripts/bench_job_progress.py).
WAL mode with synchronous=NORMAL: a committed state change survives a kill -9 of the server.
"""

from __future__ import annotations

import json
import logging
import math
import sqlite3
import threading
import time
import uuid
from dataclasses import dataclass, field, replace
from pathlib import Path

log = logging.getLogger(__name__)

# Job states, the same names as the proto's JobState without the prefix.
QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELLED = "queued", "running", "succeeded", "failed", "cancelled"
TERMINAL = frozenset({SUCCEEDED, FAILED, CANCELLED})
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

    @property
    def terminal(self) -> bool:
        return self.state in TERMINAL

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

    def as_sent(self, message: str) -> str:
        """`message` with the timeline named as the client knows it."""
        return message.replace(str(Path(self.timeline_path)), self.timeline_name)


def new_job_id() -> str:
    return uuid.uuid4().hex[:16]


_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    job_id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    state TEXT NOT NULL,
    timeline_path TEXT NOT NULL,
    output_folder TEXT NOT NULL,
    input_format TEXT NOT NULL,
    output_format TEXT NOT NULL,
    request TEXT NOT NULL,
    clips TEXT NOT NULL,
    message TEXT NOT NULL,
    result TEXT NOT NULL,
    parent_job_id TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    created REAL NOT NULL,
    updated REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS jobs_by_state ON jobs (state, created);
CREATE INDEX IF NOT EXISTS jobs_by_created ON jobs (created);
"""

# The timeline a job's result wrote, or NULL for a row whose result is not valid JSON (an older
# version wrote Python's bare NaN): json_extract fails the whole query on such a row, and one bad
# job then broke every regeneration and the pruning at start, so the server could not start.
_RESULT_TIMELINE = ("(CASE WHEN json_valid(result) THEN json_extract(result, '$.timeline_path') "
                    "END)")

_COLUMNS = ("job_id", "kind", "state", "timeline_path", "output_folder", "input_format",
            "output_format", "request", "clips", "message", "result", "parent_job_id",
            "attempts", "created", "updated")


class JobStore:
    """Thread-safe: one connection behind a lock (writes are small and rare)."""

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        self._lock = threading.Lock()
        self._repair_nonstandard_json()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _repair_nonstandard_json(self) -> None:
        """Rewrite rows an older version stored with bare NaN/Infinity (which Python reads but
        SQLite's json functions refuse) as standard JSON, those numbers as null."""
        rows = self._db.execute(
            "SELECT job_id, request, clips, result FROM jobs "
            "WHERE NOT (json_valid(request) AND json_valid(clips) AND json_valid(result))"
        ).fetchall()
        for job_id, *columns in rows:
            try:
                request, clips, result = (_dumps(json.loads(c)) for c in columns)
            except ValueError as error:  # not even Python's JSON: leave it, the queries skip it
                log.warning("job %s: its stored JSON is unreadable (%s); left as it is", job_id, error)
                continue
            self._db.execute("UPDATE jobs SET request = ?, clips = ?, result = ? WHERE job_id = ?",
                             (request, clips, result, job_id))
            log.warning("job %s: stored JSON with NaN or Infinity rewritten as standard JSON", job_id)

    # --- writes ---------------------------------------------------------------------------

    def add(self, job: JobRecord) -> JobRecord:
        now = time.time()
        job = replace(job, created=job.created or now, updated=now)
        with self._lock:
            self._db.execute(
                f"INSERT INTO jobs ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))})",
                _row(job),
            )
        return job

    def save(self, job: JobRecord) -> JobRecord:
        """Write the whole record (state, clips, result) in one statement."""
        job = replace(job, updated=time.time())
        row = _row(job)
        assignments = ", ".join(f"{c} = ?" for c in _COLUMNS[1:])
        with self._lock:
            self._db.execute(f"UPDATE jobs SET {assignments} WHERE job_id = ?", (*row[1:], row[0]))
        return job

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
                        clip.state, clip.step = "queued", 0
            self.save(job)
        return [job.job_id for job in reversed(self.list(states=(QUEUED,), limit=1_000_000))]

    def prune(self, finished_before: float) -> list[str]:
        """Forget jobs that ended before `finished_before` (a time.time()); returns their ids.

        Kept whatever their age: queued and running jobs, and for each timeline the succeeded job
        that wrote it last (its result lists every clip's current take, which a regeneration
        starts from). The files jobs wrote are the editor's and stay.
        """
        terminal = tuple(sorted(TERMINAL))
        with self._lock:
            rows = self._db.execute(
                f"SELECT job_id FROM jobs WHERE state IN ({', '.join('?' * len(terminal))}) "
                "AND updated < ? AND job_id NOT IN (SELECT job_id FROM (SELECT job_id, ROW_NUMBER() "
                f"OVER (PARTITION BY {_RESULT_TIMELINE} ORDER BY updated DESC) "
                f"AS newest FROM jobs WHERE state = ? AND {_RESULT_TIMELINE} != '') "
                "WHERE newest = 1)",
                (*terminal, finished_before, SUCCEEDED),
            ).fetchall()
            ids = [job_id for (job_id,) in rows]
            self._db.executemany("DELETE FROM jobs WHERE job_id = ?", [(i,) for i in ids])
        return ids

    # --- reads ----------------------------------------------------------------------------

    def get(self, job_id: str) -> JobRecord | None:
        with self._lock:
            row = self._db.execute(
                f"SELECT {', '.join(_COLUMNS)} FROM jobs WHERE job_id = ?", (job_id,)
            ).fetchone()
        return _record(row) if row else None

    def list(self, states: tuple[str, ...] = (), limit: int = 50,
             after: tuple[float, str] | None = None) -> list[JobRecord]:
        """Newest first; `after` (a listed job's created, job_id) starts just past that job.

        By key, not by offset: a job created or changing state between two pages shifted every
        later offset, so a panel paging through its jobs saw some twice and skipped others.
        """
        conditions, args = [], []
        if states:
            conditions.append(f"state IN ({', '.join('?' * len(states))})")
            args += list(states)
        if after is not None:
            conditions.append("(created < ? OR (created = ? AND job_id > ?))")
            args += [after[0], after[0], after[1]]
        where = f"WHERE {' AND '.join(conditions)}" if conditions else ""
        with self._lock:
            rows = self._db.execute(
                f"SELECT {', '.join(_COLUMNS)} FROM jobs {where} "
                "ORDER BY created DESC, job_id LIMIT ?",
                (*args, limit),
            ).fetchall()
        return [_record(row) for row in rows]

    def latest_succeeded_writing(self, timeline_path: str) -> JobRecord | None:
        """The job that last wrote this timeline: its result holds every clip's current take."""
        with self._lock:
            row = self._db.execute(
                f"SELECT {', '.join(_COLUMNS)} FROM jobs WHERE state = ? "
                f"AND {_RESULT_TIMELINE} = ? ORDER BY updated DESC LIMIT 1",
                (SUCCEEDED, timeline_path),
            ).fetchone()
        return _record(row) if row else None

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
    data["clips"] = _dumps([vars(clip) for clip in job.clips])
    data["result"] = _dumps(job.result)
    return tuple(data[c] for c in _COLUMNS)


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


def _record(row: tuple) -> JobRecord:
    data = dict(zip(_COLUMNS, row, strict=True))
    data["request"] = json.loads(data["request"])
    data["clips"] = [ClipRecord(**c) for c in json.loads(data["clips"])]
    data["result"] = json.loads(data["result"])
    return JobRecord(**data)
