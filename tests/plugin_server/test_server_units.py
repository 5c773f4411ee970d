"""Unit checks of the server's parts: the output-root policy, waveform peaks, the job store."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import zlib
from dataclasses import replace
from pathlib import Path

import numpy as np
import opentimelineio as otio
import pytest

from plugin_server import paths
from plugin_server.convert import waveform_peaks
from plugin_server.jobs import (
    CANCELLED,
    FAILED,
    QUEUED,
    RUNNING,
    SUCCEEDED,
    ClipRecord,
    JobRecord,
    JobStore,
)
from v2a.folder_lock import remove_leftovers


def test_output_folders_resolve_inside_the_roots_only(tmp_path):
    root, other = tmp_path / "root", tmp_path / "other"
    other.mkdir()
    roots = paths.normalize_roots([str(root)])
    assert paths.resolve_output_folder("", roots, "job1") == root / "job1"
    assert paths.resolve_output_folder("a/b", roots, "x") == root / "a" / "b"
    assert paths.resolve_output_folder(str(root / "c"), roots, "x") == root / "c"
    (root / "inner").mkdir()
    (root / "alias").symlink_to(root / "inner")  # a link that stays inside is fine
    assert paths.resolve_output_folder("alias", roots, "x") == root / "inner"
    (root / "out-link").symlink_to(other)
    for bad, why in (("..", "'..'"), ("a/../../b", "'..'"), (str(other), "outside"),
                     ("out-link/x", "symlink"), ("a\0b", "NUL")):
        with pytest.raises(paths.PathEscape, match=why):
            paths.resolve_output_folder(bad, roots, "x")


REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "samples" / "sample.otio"


def test_safe_file_names_drop_folders_and_odd_characters():
    assert paths.safe_file_name("../../etc/passwd", "t") == "passwd"
    assert paths.safe_file_name("C:\\cuts\\my cut.otio", "t") == "my cut.otio"
    assert paths.safe_file_name("..", "t") == "t"


def test_temp_file_cleanup_removes_only_what_an_interrupted_write_of_ours_leaves(tmp_path):
    ours = [tmp_path / "audio" / ".SFX_c1_take1.wav.ab12_xyz.tmp", tmp_path / ".v2a-k1l2m3n4"]
    theirs = [tmp_path / ".autosave.tmp", tmp_path / "audio" / ".notes.tmp",
              tmp_path / "reel1" / "audio" / ".SFX_c1_take1.wav.ab12_xyz.tmp",  # not this folder's
              tmp_path / "reel1" / ".v2a-k1l2m3n4" / "cut.otio",
              tmp_path / ".v2a-project-notes" / "notes.txt"]
    for path in [ours[0], *theirs]:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x")
    ours[1].mkdir()
    (ours[1] / "cut.otio").write_text("{")
    assert sorted(remove_leftovers(tmp_path)) == sorted(ours)
    assert not any(p.exists() for p in ours)
    assert all(p.is_file() for p in theirs)


def test_waveform_peaks_are_the_min_and_max_of_equal_slices():
    samples = np.array([0, 1, -1, 0.5, -0.25, 0.25, 0, 0], np.float32)
    peaks = waveform_peaks(samples, 48_000, 4)
    assert list(peaks.min) == [0, -1, -0.25, 0] and list(peaks.max) == [1, 0.5, 0.25, 0]
    assert peaks.num_samples == 8 and peaks.sample_rate == 48_000
    short = waveform_peaks(np.ones(3, np.float32), 48_000, 100)
    assert len(short.min) == 3  # never more points than samples
    assert len(waveform_peaks(np.zeros(0, np.float32), 48_000, 10).min) == 0


def _job(job_id: str, state: str, attempts: int = 0, created: float = 0.0) -> JobRecord:
    return JobRecord(job_id=job_id, kind="generate", state=state, timeline_path="/t.otio",
                     output_folder="/out", attempts=attempts, created=created,
                     clips=[ClipRecord("c1", "Clip 1", state="running", step=3)])


def test_the_store_survives_reopening_and_recovers_interrupted_jobs(tmp_path):
    store = JobStore(tmp_path / "jobs.sqlite3")
    store.add(_job("queued", QUEUED, created=1.0))
    store.add(_job("running", RUNNING, attempts=1, created=2.0))
    doomed = _job("doomed", RUNNING, attempts=3, created=3.0)
    doomed.clips.append(ClipRecord("c2", "Clip 2"))  # never started
    store.add(doomed)
    store.close()

    store = JobStore(tmp_path / "jobs.sqlite3")
    assert [j.job_id for j in store.list()] == ["doomed", "running", "queued"]  # newest first
    assert store.recover_after_restart(max_attempts=3) == ["queued", "running"]  # oldest first
    running = store.get("running")
    assert running.state == QUEUED and "requeued" in running.message
    assert running.clips[0].state == "queued" and running.clips[0].step == 0
    doomed = store.get("doomed")
    assert doomed.state == FAILED and "3 attempts" in doomed.message
    why = doomed.message
    # Every clip ends with the job: none is left queued for a panel to wait on forever, and each
    # says what became of it, then why, in the words a job failing in the worker uses.
    assert [(c.state, c.message) for c in doomed.clips] == [
        ("failed", f"the job failed while it was being generated; nothing was written: {why}"),
        ("failed", f"not generated: the job failed: {why}"),
    ]
    # A failed clip shows no progress: step 3 of 16 read as a clip still on its way.
    assert [c.step for c in doomed.clips] == [0, 0]
    assert store.count((QUEUED,)) == 2



def test_a_store_from_before_request_ids_gets_the_column_and_keeps_its_jobs(tmp_path):
    """A store a v2a before CreateJob's request_id made (no such column) opens: its jobs have
    none, a new job's is found by it, and no two jobs can share one."""
    import sqlite3

    path = tmp_path / "jobs.sqlite3"
    JobStore(path).add(_job("older", QUEUED))
    with sqlite3.connect(path) as db:  # as the store was before the column
        db.execute("DROP INDEX jobs_by_request_id")
        db.execute("ALTER TABLE jobs DROP COLUMN request_id")
    store = JobStore(path)
    assert store.get("older").request_id == ""
    store.add(replace(_job("newer", QUEUED), request_id="r-1"))
    assert store.get_by_request_id("r-1").job_id == "newer"
    assert store.get_by_request_id("") is None and store.get_by_request_id("r-2") is None
    with pytest.raises(sqlite3.IntegrityError):
        store.add(replace(_job("again", QUEUED), request_id="r-1"))
    store.close()
    assert JobStore(path).get_by_request_id("r-1").job_id == "newer"  # kept across a restart

def test_a_folder_lock_lives_only_while_a_job_holds_or_waits_for_it(tmp_path):
    import threading

    from plugin_server.worker import JobRunner
    from v2a.contracts import GenerationCancelled

    runner = JobRunner(JobStore(tmp_path / "jobs.sqlite3"), pipeline=None, generator=None, events=None,
                       output_roots=(tmp_path,))
    waits = []
    held = runner._acquire_folder(tmp_path / "out", threading.Event(), on_wait=lambda why: waits.append(1))
    assert waits == []  # free: no waiting, nothing said
    cancelled = threading.Event()
    cancelled.set()
    with pytest.raises(GenerationCancelled, match="waiting for another job"):
        runner._acquire_folder(tmp_path / "out", cancelled, on_wait=lambda why: waits.append(2))  # busy; gives up
    assert waits == [2]  # the waiting job said so once
    assert runner._folder_locks[held].users == 1  # the waiter that gave up is forgotten
    runner._release_folder(held)
    assert runner._folder_locks == {}
    runner._release_folder(runner._acquire_folder(tmp_path / "out", threading.Event()))  # free again
    assert runner._folder_locks == {}


def test_pruning_forgets_old_ended_jobs_but_not_a_timelines_latest_writer(tmp_path):
    store = JobStore(tmp_path / "jobs.sqlite3")
    wrote = {"timeline_path": "/out/cut.otio"}
    for job_id, state, result, updated in (
        ("old-writer", SUCCEEDED, wrote, 100.0),
        ("latest-writer", SUCCEEDED, wrote, 200.0),  # old too, but its result is the timeline's now
        ("old-failed", FAILED, {}, 100.0),
        ("old-cancelled", CANCELLED, {}, 100.0),
        ("wrote-nothing", SUCCEEDED, {"timeline_path": ""}, 100.0),
        ("old-queued", QUEUED, {}, 100.0),  # never finished: never forgotten
        ("recent-failed", FAILED, {}, 5000.0),
    ):
        store.add(replace(_job(job_id, state), result=result))
        store._db.execute("UPDATE jobs SET updated = ? WHERE job_id = ?", (updated, job_id))
    assert sorted(store.prune(finished_before=1000.0)) == [
        "old-cancelled", "old-failed", "old-writer", "wrote-nothing"]
    assert sorted(j.job_id for j in store.list()) == ["latest-writer", "old-queued", "recent-failed"]
    assert store.prune(finished_before=1000.0) == []

def _bytes_read() -> int:
    with open("/proc/self/io") as io:
        return next(int(line.split()[1]) for line in io if line.startswith("rchar:"))


@pytest.mark.skipif(not Path("/proc/self/io").exists(), reason="reads /proc/self/io (Linux)")
def test_a_start_reads_a_small_part_of_the_store_however_many_jobs_it_keeps(tmp_path):
    # Each kept job's result names 1,000 takes, as every regeneration's names its edit's clips
    # (each with bytes no compression shrinks, so that the store is large).
    path = tmp_path / "jobs.sqlite3"
    store = JobStore(path)
    for n in range(60):
        takes = [{"clip_id": f"{i:010x}", "path": f"/out/audio/{i:010x}_take2.wav",
                  "start_sample": 192_000 * i, "num_samples": 192_000,
                  "provenance": {"noise": os.urandom(64).hex()}} for i in range(1000)]
        store.add(replace(_job(f"job{n}", SUCCEEDED),
                          result={"timeline_path": f"/out/cut{n % 4}.otio", "generated": takes}))
    store.close()
    size = path.stat().st_size
    assert size > 5 * 2**20

    before = _bytes_read()
    store = JobStore(path)  # as a start opens it, then prunes
    assert store.prune(finished_before=time.time() - 86400) == []
    read = _bytes_read() - before
    # Before, the start read every result (a check for an older version's bare NaN, then the
    # pruning's scan): 0.5 s with 300 kept jobs of a 2,000-clip edit, growing with the history.
    assert read < size / 20, f"a start read {read} bytes of a {size}-byte store"
    assert store.latest_succeeded_writing("/out/cut3.otio").job_id == "job59"
    assert store.latest_succeeded_writing("/out/nobody.otio") is None
    assert _bytes_read() - before < size / 10
    store.close()


def test_the_store_writes_standard_json_and_one_unreadable_row_breaks_no_query(tmp_path):
    import math

    store = JobStore(tmp_path / "jobs.sqlite3")
    wrote = {"timeline_path": "/out/cut.otio", "generated": [{"provenance": {"peak": -math.inf}}]}
    store.add(replace(_job("silent", SUCCEEDED), result=wrote))
    # json.dumps writes bare -Infinity by default, which SQLite's json functions refuse (those
    # of an older v2a reading the store downgraded, the result as this JSON).
    (valid,) = store._db.execute("SELECT json_valid(CAST(? AS TEXT))", (zlib.decompress(
        store._db.execute("SELECT result FROM jobs").fetchone()[0]),)).fetchone()
    assert valid == 1 and store.get("silent").result["generated"][0]["provenance"]["peak"] is None
    # A row no JSON reader takes (not even Python's): the queries over results skip it.
    store.add(_job("broken", SUCCEEDED))
    store._db.execute("UPDATE jobs SET result = '{\"timeline_path\": ', updated = 1 "
                      "WHERE job_id = 'broken'")
    store._db.execute("UPDATE jobs SET updated = 2 WHERE job_id = 'silent'")
    assert store.latest_succeeded_writing("/out/cut.otio").job_id == "silent"
    assert store.prune(finished_before=1000.0) == ["broken"]
    store.close()
    _older_store(tmp_path / "older.sqlite3",
                 writer_result={"timeline_path": "/out/other.otio", "x": math.nan})
    reopened = JobStore(tmp_path / "older.sqlite3")  # rewrites what an older version stored
    assert reopened.latest_succeeded_writing("/out/other.otio").result["x"] is None


# A signal's Python handler runs in the main thread at whatever line it has reached: this runs
# `serve` (its server stubbed) and calls the SIGTERM handler at each line of the wait in turn.
_SIGNAL_AT_EVERY_LINE = """
import signal, sys
from plugin_server import server

class StubServer:
    address, bridge, token_file = "127.0.0.1:1", None, "token"
    def __init__(self, config): pass
    def start(self): pass
    def stop(self): pass
    def ready_line(self):
        armed[0] = True
        return "V2A_READY {}"

server.RunningServer = StubServer
server.STOP_POLL_SECONDS = 0.001  # the same lines run, each wait shorter
for line in range(1, 40):
    armed, seen = [False], [0]
    def tracer(frame, event, arg):
        if event == "line" and armed[0]:
            seen[0] += 1
            if seen[0] == line:
                armed[0] = False
                signal.getsignal(signal.SIGTERM)(signal.SIGTERM, None)
        return tracer
    sys.settrace(tracer)
    server.serve(server.ServerConfig())
    sys.settrace(None)
"""


def test_sigterm_stops_the_server_at_whatever_line_the_main_thread_is():
    # The handler once set a threading.Event; arriving while Event.wait held that Event's lock,
    # it waited for the lock forever, and `v2a serve` never stopped.
    done = subprocess.run([sys.executable, "-c", _SIGNAL_AT_EVERY_LINE], cwd=REPO, timeout=60,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


_KILLED_BETWEEN_THE_RENAMES = """
import os, signal, sys
import opentimelineio as otio
from otio_adapters import write

timeline = otio.adapters.read_from_file(sys.argv[1])
out, media = sys.argv[2], os.path.dirname(sys.argv[1])
write.write_timeline(timeline, out, "otiod", media)  # the earlier run's bundle
timeline.name = "second run"
real_replace = os.replace
moved_old = []

def replace(src, dst):
    if moved_old:  # the new bundle's rename: stop here, as a kill -9 would
        os.kill(os.getpid(), signal.SIGKILL)
    if os.path.basename(dst) == write.OLD_BUNDLE:
        moved_old.append(dst)
    return real_replace(src, dst)

write.os.replace = replace
write.write_timeline(timeline, out, "otiod", media)
"""


def test_a_stop_between_an_otiod_bundles_renames_keeps_the_earlier_bundle(tmp_path):
    """Writing an .otiod over an earlier run's moves the old bundle into the staging folder and
    then renames the new one in; killed between the two, the restart's clean-up removed the
    staging folder and with it the only bundle there was."""
    out = tmp_path / "cut.otiod"
    child = subprocess.run([sys.executable, "-c", _KILLED_BETWEEN_THE_RENAMES, str(SAMPLE),
                            str(out)], capture_output=True, text=True, cwd=REPO)
    assert child.returncode == -9, child.stderr
    assert not out.exists()  # the state a kill there leaves

    remove_leftovers(tmp_path)
    assert not list(tmp_path.glob(".v2a-*"))
    timeline = otio.adapters.read_from_file(str(out))
    assert timeline.name != "second run"  # the earlier run's bundle, whole
    assert len(timeline.find_clips()) == 4


def _written_by_this_process() -> int:
    with open("/proc/self/io") as io:
        return next(int(line.split()[1]) for line in io if line.startswith("wchar:"))


@pytest.mark.skipif(not os.path.exists("/proc/self/io"), reason="counts bytes written on Linux")
def test_a_clips_state_change_writes_that_clip_not_the_whole_job(tmp_path):
    from types import SimpleNamespace

    from plugin_server.events import EventHub
    from plugin_server.worker import JobRunner, _Progress
    from v2a.contracts import ClipEvent

    store = JobStore(tmp_path / "jobs.sqlite3")
    clips = [ClipRecord(f"{i:010x}", f"shot{i:05d}") for i in range(2000)]
    job = store.add(replace(_job("feature", RUNNING, attempts=1), clips=clips))
    runner = SimpleNamespace(store=store, events=EventHub())
    runner._publish = lambda job, clip=None, message="": JobRunner._publish(runner, job, clip,
                                                                            message)
    progress = _Progress(runner, job)
    before = time.time()
    written = _written_by_this_process()
    progress.on_event(ClipEvent(clips[7].clip_id, "shot00007", "running", 1, 16))
    progress.on_event(ClipEvent(clips[7].clip_id, "shot00007", "done", 16, 16,
                                output_path="/out/audio/shot00007_take1.wav"))
    # Two commits of a page or two each; the whole job's row is 200 kB (it was rewritten twice).
    assert _written_by_this_process() - written < 64 * 1024
    store.close()

    stored = JobStore(tmp_path / "jobs.sqlite3").get("feature")
    assert [c.clip_id for c in stored.clips] == [c.clip_id for c in clips]
    assert (stored.clips[7].state, stored.clips[7].media_path) == (
        "done", "/out/audio/shot00007_take1.wav")
    assert {c.state for c in stored.clips[:7] + stored.clips[8:]} == {"queued"}
    assert stored.updated >= before  # the job changed when its clip did


def test_a_clip_the_stored_plan_lacked_is_stored_when_its_events_come(tmp_path):
    from types import SimpleNamespace

    from plugin_server.events import EventHub
    from plugin_server.worker import JobRunner, _Progress
    from v2a.contracts import ClipEvent

    store = JobStore(tmp_path / "jobs.sqlite3")
    job = store.add(_job("replanned", RUNNING, attempts=1))  # its timeline changed since: c1 only
    runner = SimpleNamespace(store=store, events=EventHub())
    runner._publish = lambda job, clip=None, message="": JobRunner._publish(runner, job, clip,
                                                                            message)
    progress = _Progress(runner, job)
    progress.on_event(ClipEvent("new", "New shot", "running", 1, 16))
    progress.on_event(ClipEvent("c1", "Clip 1", "done", 16, 16, output_path="/out/c1.wav"))
    progress.on_event(ClipEvent("new", "New shot", "done", 16, 16, output_path="/out/new.wav"))
    store.close()

    stored = JobStore(tmp_path / "jobs.sqlite3").get("replanned")
    assert [(c.clip_id, c.state, c.media_path) for c in stored.clips] == [
        ("c1", "done", "/out/c1.wav"), ("new", "done", "/out/new.wav")]


_LAYOUT_0 = """
CREATE TABLE jobs (job_id TEXT PRIMARY KEY, kind TEXT NOT NULL, state TEXT NOT NULL,
    timeline_path TEXT NOT NULL, output_folder TEXT NOT NULL, input_format TEXT NOT NULL,
    output_format TEXT NOT NULL, request TEXT NOT NULL, clips TEXT NOT NULL,
    message TEXT NOT NULL, result TEXT NOT NULL, parent_job_id TEXT NOT NULL,
    attempts INTEGER NOT NULL, created REAL NOT NULL, updated REAL NOT NULL);
CREATE INDEX jobs_by_state ON jobs (state, created);
CREATE INDEX jobs_by_created ON jobs (created);
"""


def _older_store(path, writer_result: dict | None = None) -> None:
    """A store as v2a wrote it before clips had a table: each job's clips a JSON column."""
    import json
    import sqlite3

    clips = [{"clip_id": "b", "clip_name": "Two", "state": "done", "step": 16, "total_steps": 16,
              "media_path": "/out/audio/b_take1.wav", "message": ""},
             {"clip_id": "a", "clip_name": "One", "state": "failed", "step": 0, "total_steps": 16,
              "media_path": "", "message": "media offline"}]
    with sqlite3.connect(path) as db:
        db.executescript(_LAYOUT_0)
        for job_id, state, updated, result in (
                ("writer", SUCCEEDED, 100.0, writer_result or {"timeline_path": "/out/cut.otio"}),
                ("old", FAILED, 50.0, {})):
            db.execute("INSERT INTO jobs VALUES (?, 'generate', ?, '/cut.otio', '/out', '', '', "
                       "'{\"params\": {\"seed\": 3}}', ?, 'm', ?, '', 1, 10.0, ?)",
                       (job_id, state, json.dumps(clips), json.dumps(result), updated))
    db.close()


def test_a_store_an_older_v2a_wrote_opens_with_its_jobs_and_their_clips(tmp_path):
    import sqlite3

    path = tmp_path / "jobs.sqlite3"
    _older_store(path)
    store = JobStore(path)
    writer = store.get("writer")
    assert (writer.state, writer.request, writer.result, writer.attempts, writer.updated) == (
        SUCCEEDED, {"params": {"seed": 3}}, {"timeline_path": "/out/cut.otio"}, 1, 100.0)
    assert [(c.clip_id, c.state, c.media_path, c.message) for c in writer.clips] == [
        ("b", "done", "/out/audio/b_take1.wav", ""), ("a", "failed", "", "media offline")]
    assert store.latest_succeeded_writing("/out/cut.otio").job_id == "writer"
    assert store.prune(finished_before=1000.0) == ["old"]
    store.save_clip("writer", 1, replace(writer.clips[1], message="relinked"))
    store.close()

    reopened = JobStore(path)  # moved once: opening again changes nothing
    assert [c.message for c in reopened.get("writer").clips] == ["", "relinked"]
    assert [j.job_id for j in reopened.list()] == ["writer"]
    reopened.close()
    JobStore(tmp_path / "new.sqlite3").close()
    layout = "SELECT type, name, sql FROM sqlite_master ORDER BY name"
    with sqlite3.connect(path) as db, sqlite3.connect(tmp_path / "new.sqlite3") as new:
        assert db.execute("SELECT COUNT(*) FROM clips").fetchone() == (2,)  # "old"'s went with it
        # Tables and indexes as a store made now has them.
        assert db.execute(layout).fetchall() == new.execute(layout).fetchall()
    db.close()
    new.close()


def test_the_log_left_on_disk_stays_small_after_converting_a_large_store(tmp_path):
    path, log = tmp_path / "jobs.sqlite3", tmp_path / "jobs.sqlite3-wal"
    takes = ["/out/audio/take.wav" * 2**16] * 24  # 24 MiB of result
    _older_store(path, writer_result={"timeline_path": "/out/cut.otio", "generated": takes})
    store = JobStore(path)  # converted in one transaction: its log holds the whole store
    store.add(_job("next", QUEUED))  # the server's next write starts the log over
    # It kept the size of the conversion for as long as the server ran.
    assert log.stat().st_size < path.stat().st_size / 2
    assert store.latest_succeeded_writing("/out/cut.otio").result["generated"] == takes
    store.close()


def test_a_failed_move_leaves_the_store_as_the_older_v2a_wrote_it(tmp_path, monkeypatch):
    import sqlite3

    from plugin_server import jobs

    path = tmp_path / "jobs.sqlite3"
    _older_store(path)

    def full_disk(*args):
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(jobs, "_insert_clips", full_disk)  # after the jobs table was rebuilt
    with pytest.raises(sqlite3.OperationalError, match="disk is full"):
        JobStore(path)
    with sqlite3.connect(path) as db:  # all or nothing: the older version can still read it
        assert {row[1] for row in db.execute("PRAGMA table_info(jobs)")} >= {"clips"}
        assert db.execute("PRAGMA user_version").fetchone() == (0,)
        assert db.execute("SELECT COUNT(*) FROM jobs").fetchone() == (2,)
    db.close()
    monkeypatch.undo()
    assert len(JobStore(path).get("writer").clips) == 2


def test_a_store_written_by_a_newer_v2a_is_refused_by_name(tmp_path):
    import sqlite3

    from plugin_server.jobs import StoreError

    path = tmp_path / "jobs.sqlite3"
    JobStore(path).close()
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA user_version = 99")
    db.close()
    with pytest.raises(StoreError, match=f"{path}: the job store was written by a newer v2a"):
        JobStore(path)


def test_a_store_from_before_takes_were_counted_opens_with_each_clips_take_unknown(tmp_path):
    """The clips' `take` column is added to a store made before it: its clips read take 0 (not
    known), which a client reads as the clip's own progress, and an older v2a, which writes its
    clips without a take, still can."""
    import sqlite3

    from plugin_server.client import job_fraction
    from plugin_server.convert import job_message

    path = tmp_path / "jobs.sqlite3"
    store = JobStore(path)
    store.add(JobRecord("three-takes", "generate", SUCCEEDED, "/cut.otio", "/out",
                        request={"takes": 3},
                        clips=[ClipRecord("a", "One", "done", 16, 16, take=3)]))
    store.close()
    with sqlite3.connect(path) as db:
        db.execute("ALTER TABLE clips DROP COLUMN take")  # as the store was before
    db.close()

    store = JobStore(path)
    job = store.get("three-takes")
    assert [(c.state, c.take) for c in job.clips] == [("done", 0)]
    assert job_fraction(job_message(job).clips) == 1.0  # not a third: a done clip counts whole
    job.clips[0].take = 3
    store.save(job)
    with sqlite3.connect(path) as db:  # an older v2a adding a clip row
        db.execute("INSERT INTO clips (job_id, position, clip_id, clip_name, state, step, "
                   "total_steps, media_path, message, updated) "
                   "VALUES ('three-takes', 1, 'b', 'Two', 'queued', 0, 0, '', '', 1.0)")
    db.close()
    assert [(c.clip_id, c.take) for c in store.get("three-takes").clips] == [("a", 3), ("b", 0)]
    store.close()


def test_a_result_asked_for_by_clip_holds_that_clip_whatever_server_answers():
    """A server older than GetJobResultRequest.clip_ids does not see the field and sends every
    clip's take: the client handed them all on, the clip asked for second of four."""
    from concurrent import futures

    import grpc

    from plugin_server.client import V2AClient
    from v2a.v1 import v2a_service_pb2 as api
    from v2a.v1 import v2a_service_pb2_grpc

    class OlderServer(v2a_service_pb2_grpc.V2AServiceServicer):
        def GetJobResult(self, request, context):
            return api.GetJobResultResponse(clips=[
                {"clip_id": clip_id} for clip_id in ("c1", "c2", "c3", "c4")])

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    v2a_service_pb2_grpc.add_V2AServiceServicer_to_server(OlderServer(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        with V2AClient(f"127.0.0.1:{port}", token="t", timeout=10) as client:
            assert [c.clip_id for c in client.result("job", clip_ids=["c2"]).clips] == ["c2"]
            assert len(client.result("job").clips) == 4
    finally:
        server.stop(None)


# --- the store's size, and the v2a before it was compressed ---------------------------------

#: v2a as it was before results were compressed and the store shrank (layout 1).
YESTERDAYS_V2A = "d708a057620ce52608db2ba5f94e983ed2af98b6"


@pytest.fixture
def yesterdays_store(tmp_path):
    """plugin_server/jobs.py of YESTERDAYS_V2A, from git (it imports nothing but the stdlib)."""
    import importlib.util

    repo = Path(__file__).resolve().parents[2]
    shown = subprocess.run(["git", "-C", str(repo), "show", f"{YESTERDAYS_V2A}:plugin_server/jobs.py"],
                           capture_output=True, text=True)
    if shown.returncode != 0:
        pytest.skip(f"no git history with {YESTERDAYS_V2A[:7]}: {shown.stderr.strip()}")
    source = tmp_path / "yesterdays_jobs.py"
    source.write_text(shown.stdout)
    spec = importlib.util.spec_from_file_location("yesterdays_jobs", source)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        del sys.modules[spec.name]


def _feature_result(timeline: str, clips: int = 2000) -> dict:
    """A regeneration's result, as the worker stores it: every clip's current take."""
    provenance = {"model": "v2a-small", "checkpoint_sha256": "ab" * 32, "generator": "v2a",
                  "seed": 77, "prompt": "footsteps on gravel", "negative_prompt": "music",
                  "steps": 16, "cfg_strength": 4.5}
    return {"timeline_path": timeline, "fallback_otio_path": "", "format_note": "",
            "generated": [{"clip_id": f"{i:010x}", "path": f"/out/audio/{i:010x}_take2.wav",
                           "start_sample": 192_000 * i, "num_samples": 192_000,
                           "handle_before_samples": 24_000, "handle_after_samples": 24_000,
                           "provenance": {**provenance, "time": f"2026-11-30T12:{i % 60:02}:00",
                                          "seconds": round(3 + i % 97 / 7, 3), "take": 2,
                                          "clip_id": f"{i:010x}", "source_clip": f"shot{i}"}}
                          for i in range(clips)]}


def _stored_result_bytes(path, job_id: str) -> int:
    import sqlite3

    with sqlite3.connect(path) as db:
        (size,) = db.execute("SELECT length(result) FROM jobs WHERE job_id = ?", (job_id,)).fetchone()
    db.close()
    return size


def test_a_regenerations_result_is_stored_compressed_and_read_back_whole(tmp_path):
    import json

    path = tmp_path / "jobs.sqlite3"
    store = JobStore(path)
    result = _feature_result("/out/cut.otio")
    store.add(replace(_job("regen", SUCCEEDED), result=result))
    store.close()
    stored, as_json = _stored_result_bytes(path, "regen"), len(json.dumps(result))
    # 1.2 MB of JSON, each take repeating its provenance's keys, model and prompt.
    assert stored < as_json / 10, f"{stored} bytes stored for {as_json} of JSON"
    reopened = JobStore(path)
    assert reopened.get("regen").result == result
    assert reopened.latest_succeeded_writing("/out/cut.otio").result == result
    assert reopened.list(brief=True)[0].result == {"timeline_path": "/out/cut.otio"}
    reopened.close()


def test_forgetting_jobs_gives_their_space_back_to_the_disk(tmp_path):
    path = tmp_path / "jobs.sqlite3"
    store = JobStore(path)
    for n in range(40):  # results of random bytes: ~0.5 MiB each whatever the compression
        noise = [os.urandom(64).hex() for _ in range(8000)]
        store.add(replace(_job(f"job{n}", SUCCEEDED),
                          result={"timeline_path": f"/out/cut{n}.otio", "noise": noise}))
        store._db.execute("UPDATE jobs SET updated = 100 WHERE job_id = ?", (f"job{n}",))
    store.add(replace(_job("kept", QUEUED)))
    full = path.stat().st_size
    assert full > 16 * 2**20
    # Each one its timeline's latest writer: kept. As writers of one timeline, all but the last
    # are forgotten.
    store._db.execute("UPDATE jobs SET written_timeline = '/out/cut.otio'")
    assert len(store.prune(finished_before=1000.0)) == 39
    # Before, the file kept its size: SQLite reuses free pages but never returns them.
    assert path.stat().st_size < full / 10
    assert store.get("kept").state == QUEUED and len(store.get("job39").result["noise"]) == 8000
    store.close()
    assert path.stat().st_size < full / 10  # and stays so once closed
    assert [j.job_id for j in JobStore(path).list()] == ["kept", "job39"]


def _yesterdays_layout(path, yesterdays_store) -> dict:
    """A store as yesterday's v2a wrote it: no auto_vacuum, each result JSON text, and 30 jobs
    forgotten in it. Returns the result of its timeline's latest writer."""
    store = yesterdays_store.JobStore(path)
    result = _feature_result("/out/cut.otio", clips=500)
    for n in range(30):
        job = store.add(yesterdays_store.JobRecord(
            f"regen{n}", "regenerate", SUCCEEDED, "/cut.otio", "/out",
            clips=[yesterdays_store.ClipRecord("c1", "Clip 1", "done", 16, 16, take=2)],
            result={**result, "format_note": f"take {n}"}))
        store._db.execute("UPDATE jobs SET updated = ? WHERE job_id = ?", (100.0 + n, job.job_id))
    assert len(store.prune(finished_before=1000.0)) == 29
    store.close()
    return {**result, "format_note": "take 29"}


def test_yesterdays_store_opens_compressed_and_shrinks(tmp_path, yesterdays_store):
    import sqlite3

    path = tmp_path / "jobs.sqlite3"
    latest = _yesterdays_layout(path, yesterdays_store)
    yesterdays_size = path.stat().st_size
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA auto_vacuum").fetchone() == (0,)
        assert db.execute("PRAGMA user_version").fetchone() == (1,)
    db.close()

    store = JobStore(path)
    assert store.latest_succeeded_writing("/out/cut.otio").result == latest
    assert [(c.clip_id, c.take) for c in store.get("regen29").clips] == [("c1", 2)]
    store.close()
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA auto_vacuum").fetchone() == (2,)  # incremental
        assert db.execute("PRAGMA user_version").fetchone() == (2,)
        assert db.execute("SELECT typeof(result) FROM jobs").fetchall() == [("blob",)]
    db.close()
    # Its 29 forgotten results' pages, and the one kept compressed: a tenth of the file or less.
    assert path.stat().st_size < yesterdays_size / 10


def test_todays_store_goes_back_to_yesterdays_v2a_downgraded(tmp_path, yesterdays_store):
    import sqlite3

    from plugin_server.jobs import StoreError, downgrade

    path = tmp_path / "jobs.sqlite3"
    store = JobStore(path)
    result = _feature_result("/out/cut.otio", clips=50)
    store.add(JobRecord("regen", "regenerate", SUCCEEDED, "/cut.otio", "/out", result=result,
                        clips=[ClipRecord("c1", "Clip 1", "done", 16, 16, take=2)]))
    store.add(_job("old", FAILED))
    store._db.execute("UPDATE jobs SET updated = 100 WHERE job_id = 'old'")
    store.close()
    # Not downgraded: refused by name, not misread.
    with pytest.raises(yesterdays_store.StoreError, match="written by a newer v2a"):
        yesterdays_store.JobStore(path)

    assert downgrade(path) == 2
    assert downgrade(path) == 0  # done once
    older = yesterdays_store.JobStore(path)
    assert older.get("regen").result == result
    assert older.latest_succeeded_writing("/out/cut.otio").job_id == "regen"
    assert older.prune(finished_before=1000.0) == ["old"]  # a store with auto_vacuum on
    older.add(yesterdays_store.JobRecord("after", "generate", SUCCEEDED, "/cut.otio", "/out",
                                         result={"timeline_path": "/out/other.otio"}))
    older.close()
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert db.execute("PRAGMA auto_vacuum").fetchone() == (2,)
    db.close()

    store = JobStore(path)  # and up again
    assert store.get("regen").result == result
    assert store.get("after").result == {"timeline_path": "/out/other.otio"}
    store.close()
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA user_version = 99")
    db.close()
    with pytest.raises(StoreError, match="newer v2a"):
        downgrade(path)


def test_serve_downgrade_store_rewrites_the_state_dirs_store_when_no_server_holds_it(
        tmp_path, capsys):
    import sqlite3

    from plugin_server.server import _lock_state_dir
    from v2a.cli import main

    store = JobStore(tmp_path / "jobs.sqlite3")
    store.add(replace(_job("regen", SUCCEEDED), result=_feature_result("/out/cut.otio", 5)))
    store.close()
    held = _lock_state_dir(tmp_path)  # a server running on it
    assert main(["serve", "--state-dir", str(tmp_path), "--downgrade-store"]) == 2
    assert "another v2a server" in capsys.readouterr().err
    held.close()
    assert main(["serve", "--state-dir", str(tmp_path), "--downgrade-store"]) == 0
    assert "1 result rewritten uncompressed" in capsys.readouterr().out
    with sqlite3.connect(tmp_path / "jobs.sqlite3") as db:
        assert db.execute("PRAGMA user_version").fetchone() == (1,)
    db.close()
    assert main(["serve", "--state-dir", str(tmp_path / "none"), "--downgrade-store"]) == 2
    assert "no job store in" in capsys.readouterr().err
