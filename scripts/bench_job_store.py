#!/usr/bin/env python
"""What the job store costs a 2,000-clip job, and a restart's pruning, optionally old vs new.

- progress: one job's clip state changes (queued; then per clip running, 16 steps, done) fed
  through the worker's real `_Progress` into a real `JobStore` (SQLite in a temporary folder),
  with a claim save before and a final save after, as `JobRunner` does. Twice: with steps
  faster than `STEP_PERSIST_SECONDS` (only state changes are stored: the tests' generators, a
  GPU) and slower (every step stored: the model on a CPU, seconds a step).
- kept jobs: a state dir of `--kept-jobs` jobs, all within `--keep-jobs-days`, so all kept, each
  result listing the edit's `--clips` takes (a regeneration's result lists every clip), the
  first 10 of `--clips` clips and the rest of one (regenerations); times opening the store and
  `RunningServer.prune_jobs` as a start runs them, then a regeneration's lookup of the job that
  last wrote a timeline (`latest_succeeded_writing`); the store's size on disk (file and log)
  and a regeneration's stored result.
- forgetting: the same state dir with all but the last 5 jobs ended 60 days ago (5 timelines,
  each one's latest writer kept); times opening and pruning, and the store's size before and
  after (file and log, once closed: what stays on the editor's disk).
- whole job (`--whole-job`, minutes): CreateJob of every clip of bench_regenerate.py's feature
  edit (32-pixel movies, so decoding is cheap) on an in-process server with the tests' sine
  generator (16 steps), nothing but the model left out; the process's CPU from the call to
  the job's end, and the worker thread's CPU inside the store's writes.

Prints medians of CPU seconds (the steadier figure on the shared 2-core machine; wall in
brackets), the store's saves and the bytes the process wrote (/proc/self/io wchar: the store
is the only writer). `--against REV` runs the same measurements on the plugin_server of a git
revision (its files extracted to a temporary folder), each round old then new, side by side.

    PYTHONPATH=. .venv/bin/python scripts/bench_job_store.py [--clips 2000] [--kept-jobs 300]
        [--repeats 3] [--against main] [--whole-job]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

STEPS = 16
FULL_JOBS = 10  # of the kept jobs, how many are generations of every clip


def _written() -> int:
    with open("/proc/self/io") as io:
        return next(int(line.split()[1]) for line in io if line.startswith("wchar:"))


def _measure(body) -> dict:
    """CPU and wall seconds and bytes written by `body()`, with what it returns."""
    written, cpu, wall = _written(), time.process_time(), time.perf_counter()
    extra = body() or {}
    return {"cpu": time.process_time() - cpu, "wall": time.perf_counter() - wall,
            "mib": (_written() - written) / 2**20, **extra}


def progress(clips: int, every_step: bool) -> dict:
    from plugin_server import worker
    from plugin_server.events import EventHub
    from plugin_server.jobs import ClipRecord, JobRecord, JobStore
    from v2a.contracts import ClipEvent

    # A step slower than STEP_PERSIST_SECONDS is stored; 0 stores each without waiting for one.
    persist, worker.STEP_PERSIST_SECONDS = worker.STEP_PERSIST_SECONDS, 0.0 if every_step else 3600.0
    with tempfile.TemporaryDirectory(prefix="v2a-bench-") as folder:
        store = JobStore(Path(folder) / "jobs.sqlite3")
        records = [ClipRecord(f"{i:010x}", f"shot{i:05d}") for i in range(clips)]
        job = store.add(JobRecord("job", "generate", "queued", "/cut.otio", folder, clips=records))
        runner = SimpleNamespace(store=store, events=EventHub())
        runner._publish = lambda job, clip=None, message="": worker.JobRunner._publish(
            runner, job, clip, message)
        counted = {"saves": 0}
        for name in ("save", "save_clip"):  # save_clip: a store that writes one clip's row
            if hasattr(store, name):
                method = getattr(store, name)

                def count(*args, method=method):
                    counted["saves"] += 1
                    return method(*args)
                setattr(store, name, count)

        def run() -> dict:
            job.state, job.attempts = "running", 1
            running = store.save(job)
            events = worker._Progress(runner, running)
            for clip in records:
                events.on_event(ClipEvent(clip.clip_id, clip.clip_name, "queued"))
            for clip in records:
                events.on_event(ClipEvent(clip.clip_id, clip.clip_name, "running"))
                for step in range(STEPS):
                    events.on_event(ClipEvent(clip.clip_id, clip.clip_name, "running", step + 1,
                                              STEPS))
                take = f"{folder}/audio/{clip.clip_id}_take1.wav"
                events.on_event(ClipEvent(clip.clip_id, clip.clip_name, "done", output_path=take))
            running.state = "succeeded"
            store.save(running)
            return counted

        try:
            figures = _measure(run)
        finally:
            worker.STEP_PERSIST_SECONDS = persist
        stored = store.get("job")
        assert [c.state for c in stored.clips] == ["done"] * clips, "the job's clips were not stored"
        store.close()
    return figures


def _result(clips: int, timeline: str) -> dict:
    provenance = {"model": "v2a-small", "checkpoint_sha256": "0" * 64, "generator": "v2a",
                  "seed": 1234, "prompt": "footsteps on gravel, distant traffic",
                  "negative_prompt": "music", "steps": 16, "cfg_strength": 4.5,
                  "take": 2}
    # Each clip's own time and duration, as a real job's (they vary from clip to clip).
    generated = [{"clip_id": f"{i:010x}", "path": f"/edit/audio/{i:010x}_take2.wav",
                  "start_sample": 48_000 * 4 * i, "num_samples": 192_000,
                  "handle_before_samples": 24_000, "handle_after_samples": 24_000,
                  "provenance": {**provenance, "clip_id": f"{i:010x}", "source_clip": f"shot{i}",
                                 "source_track": "V1",
                                 "time": f"2026-11-30T{12 + i // 3600:02}:{i // 60 % 60:02}:"
                                         f"{i % 60:02}+00:00",
                                 "seconds": round(8 + (i * 7919 % 1000) / 83.3, 3)}}
                 for i in range(clips)]
    return {"timeline_path": timeline, "fallback_otio_path": "", "format_note": "",
            "generated": generated}


def _store_mib(state: Path) -> float:
    """The store's size on disk, its file and its write-ahead log."""
    files = [state / "jobs.sqlite3", state / "jobs.sqlite3-wal"]
    return sum(f.stat().st_size for f in files if f.exists()) / 2**20


def _kept_store(state: Path, clips: int, kept_jobs: int, ended_days_ago: float = 1.0) -> None:
    """`kept_jobs` succeeded jobs whose results name `clips` takes, the first FULL_JOBS of every
    clip; all but the last 5 ended `ended_days_ago`."""
    import sqlite3

    from plugin_server.jobs import ClipRecord, JobRecord, JobStore

    store = JobStore(state / "jobs.sqlite3")
    now = time.time()
    for n in range(kept_jobs):
        job_id = f"job{n:05d}"
        records = [ClipRecord(f"{i:010x}", f"shot{i:05d}", "done", STEPS, STEPS,
                              f"/edit/audio/{i:010x}_take2.wav", "take 2")
                   for i in range(clips if n < FULL_JOBS else 1)]
        store.add(JobRecord(job_id, "generate", "succeeded", "/edit/feature.otio",
                            "/edit", clips=records, created=now - 86400 + n,
                            result=_result(clips, f"/edit/feature_{n % 5}.otio")))
    store.close()
    with sqlite3.connect(state / "jobs.sqlite3") as db:  # as the store's own clock would have it
        db.execute("UPDATE jobs SET updated = ? WHERE job_id < ?",
                   (now - ended_days_ago * 86400, f"job{kept_jobs - 5:05d}"))
        db.execute("UPDATE clips SET updated = 0")
    db.close()


def _stored_result_kib(state: Path) -> float:
    import sqlite3

    with sqlite3.connect(state / "jobs.sqlite3") as db:
        (size,) = db.execute("SELECT length(result) FROM jobs WHERE job_id = 'job00000'").fetchone()
    db.close()
    return size / 2**10


def _restart(state: Path) -> tuple[dict, SimpleNamespace]:
    """Opening the store and pruning it as a start does (keep_jobs_days 30); the server's stand-in."""
    from plugin_server.jobs import JobStore
    from plugin_server.server import RunningServer

    server = SimpleNamespace(config=SimpleNamespace(keep_jobs_days=30, state_dir=state))

    def start() -> dict:
        server.store = JobStore(state / "jobs.sqlite3")
        return {"pruned": len(RunningServer.prune_jobs(server))}

    return _measure(start), server


def kept_jobs(clips: int, kept_jobs: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="v2a-bench-") as folder:
        state = Path(folder)
        _kept_store(state, clips, kept_jobs)
        size = {"store_mib": _store_mib(state), "result_kib": _stored_result_kib(state)}
        pruning, server = _restart(state)
        lookup = _measure(lambda: {"found": server.store.latest_succeeded_writing(
            "/edit/feature_3.otio").job_id})
        server.store.close()
    return {"restart: open + prune": {**pruning, **size}, "a regeneration's lookup": lookup}


def forgetting(clips: int, kept_jobs: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="v2a-bench-") as folder:
        state = Path(folder)
        _kept_store(state, clips, kept_jobs, ended_days_ago=60)
        before = _store_mib(state)
        pruning, server = _restart(state)
        server.store.close()
        return {"restart forgetting all but 5": {**pruning, "store_mib_before": before,
                                                 "store_mib": _store_mib(state)}}


def whole_job(clips: int) -> dict:
    import logging
    import threading

    from bench_regenerate import written_by_v2a
    from generator_doubles import SineGenerator

    from plugin_server.client import V2AClient
    from plugin_server.jobs import JobStore
    from plugin_server.server import RunningServer, ServerConfig
    from v2a.v1 import jobs_pb2 as pb

    logging.disable(logging.WARNING)
    in_store = {"cpu": 0.0, "saves": 0}
    lock = threading.Lock()
    for name in ("save", "save_clip"):
        if hasattr(JobStore, name):
            method = getattr(JobStore, name)

            def timed(*args, method=method):
                began = time.thread_time()
                try:
                    return method(*args)
                finally:
                    with lock:
                        in_store["cpu"] += time.thread_time() - began
                        in_store["saves"] += 1
            setattr(JobStore, name, timed)
    with tempfile.TemporaryDirectory(prefix="v2a-bench-") as tmp:
        folder = Path(tmp)
        (folder / "edit").mkdir()
        written_by_v2a(str(folder / "edit"), clips)
        server = RunningServer(ServerConfig(port=0, state_dir=folder / "state",
                                            output_roots=(str(folder / "edit"),),
                                            token_file=folder / "token"),
                               generator=SineGenerator(steps=STEPS))
        server.start()
        try:
            with V2AClient(server.address, token=server.token, timeout=3600) as client:

                def run() -> dict:
                    job = client.submit(folder / "edit" / "feature.otio",
                                        output_folder=str(folder / "edit" / "whole"))
                    final = client.wait(job.job_id)
                    if final.state != pb.JOB_STATE_SUCCEEDED:
                        raise RuntimeError(f"the job ended {final.state}: {final.message}")
                    return {"clips": len(final.clips)}

                figures = _measure(run)
        finally:
            server.stop(grace_seconds=1.0)
    return {**figures, "store_cpu": in_store["cpu"], "saves": in_store["saves"]}


def _one_round(args) -> dict:
    """Each section's figures by name."""
    figures = {
        "progress, steps not stored": progress(args.clips, every_step=False),
        "progress, every step stored": progress(args.clips, every_step=True),
        **kept_jobs(args.clips, args.kept_jobs),
        **forgetting(args.clips, args.kept_jobs),
    }
    if args.whole_job:
        figures["whole job"] = whole_job(args.clips)
    return figures


def _child(args, code: str | None) -> dict:
    """One round in a fresh interpreter on this tree's code, or that extracted in `code`
    (the tests' generator doubles from this tree either way)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([code or os.getcwd(), "tests"])}
    command = [sys.executable, __file__, "--one-round", "--clips", str(args.clips),
               "--kept-jobs", str(args.kept_jobs)] + (["--whole-job"] if args.whole_job else [])
    out = subprocess.run(command, env=env, check=True, capture_output=True, text=True).stdout
    return json.loads(out.splitlines()[-1])


def _extract(rev: str, into: str) -> None:
    archive = subprocess.run(["git", "archive", rev, "plugin_server", "v2a", "otio_adapters"],
                             check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", into], input=archive, check=True)


def _cell(runs: list[dict]) -> str:
    cpu, wall, mib = (statistics.median(r[key] for r in runs) for key in ("cpu", "wall", "mib"))
    saves = f", {runs[-1]['saves']} saves" if "saves" in runs[-1] else ""
    if "store_cpu" in runs[-1]:
        saves += f" taking {statistics.median(r['store_cpu'] for r in runs):.2f} s CPU"
    if "store_mib" in runs[-1]:
        before = (f"{statistics.median(r['store_mib_before'] for r in runs):.1f} -> "
                  if "store_mib_before" in runs[-1] else "")
        saves += f"; store {before}{statistics.median(r['store_mib'] for r in runs):.1f} MiB"
    if "result_kib" in runs[-1]:
        saves += f", a result {statistics.median(r['result_kib'] for r in runs):.0f} KiB"
    return f"{cpu:7.2f} s CPU ({wall:6.2f}), {mib:8.1f} MiB written{saves}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=2000)
    parser.add_argument("--kept-jobs", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--against", metavar="REV", help="a git revision to compare with")
    parser.add_argument("--whole-job", action="store_true", help="also run a whole job (minutes)")
    parser.add_argument("--one-round", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one_round:
        print(json.dumps(_one_round(args)))
        return 0
    with tempfile.TemporaryDirectory(prefix="v2a-bench-old-") as old:
        sides = {"now": None}
        if args.against:
            _extract(args.against, old)
            sides = {args.against: old, "now": None}
        rounds = {side: [] for side in sides}
        for _ in range(args.repeats):
            for side, code in sides.items():
                rounds[side].append(_child(args, code))
    print(f"{args.clips} clips, {STEPS} steps a clip; {args.kept_jobs} kept jobs; "
          f"medians of {args.repeats} rounds")
    for name in rounds["now"][0]:
        for side in sides:
            print(f"{name:>28} {side:>6}: {_cell([r[name] for r in rounds[side]])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
