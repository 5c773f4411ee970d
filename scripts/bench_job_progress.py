#!/usr/bin/env python
"""The server's bookkeeping for one job of many clips, without generating anything.

Feeds the events the pipeline emits for a job (queued for every clip; then per clip running,
16 steps, done) through the worker's real `_Progress`, `JobStore` (SQLite in a temporary folder)
and `EventHub` with one watcher draining its queue, as a 2,000-clip feature edit would. Prints
medians of 3 runs: wall seconds, per clip, the store saves and the events the watcher got.

    .venv/bin/python scripts/bench_job_progress.py [--clips 250 500 1000 2000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

from plugin_server.events import EventHub
from plugin_server.jobs import ClipRecord, JobRecord, JobStore
from plugin_server.worker import JobRunner, _Progress
from v2a.contracts import ClipEvent

STEPS = 16


class _Runner:
    """What `_Progress` uses of a JobRunner: its store, its event hub and `_publish`."""

    _publish = JobRunner._publish

    def __init__(self, store: JobStore) -> None:
        self.store, self.events = store, EventHub()


def run(clips: int) -> tuple[float, int, int]:
    """(wall seconds, store saves, events delivered) for one job of `clips` clips."""
    with tempfile.TemporaryDirectory(prefix="v2a-bench-") as folder:
        store = JobStore(Path(folder) / "jobs.sqlite3")
        records = [ClipRecord(f"{i:010x}", f"shot{i:05d}") for i in range(clips)]
        job = store.add(JobRecord("job", "generate", "running", "/cut.otio", folder, clips=records))
        runner = _Runner(store)
        watcher, delivered, done = runner.events.subscribe("job"), [0], threading.Event()

        def drain() -> None:
            while not done.is_set() or not watcher.empty():
                try:
                    watcher.get(timeout=0.05)
                    delivered[0] += 1
                except Exception:  # noqa: BLE001 - queue.Empty: look again
                    pass

        reader = threading.Thread(target=drain)
        reader.start()
        saves = [0]
        for name in ("save", "save_clip"):  # the whole job, one clip
            method = getattr(store, name)

            def counted(*args, method=method):
                saves[0] += 1
                return method(*args)
            setattr(store, name, counted)
        progress = _Progress(runner, job)
        started = time.perf_counter()
        for clip in records:
            progress.on_event(ClipEvent(clip.clip_id, clip.clip_name, "queued"))
        for clip in records:
            progress.on_event(ClipEvent(clip.clip_id, clip.clip_name, "running"))
            for step in range(STEPS):
                progress.on_event(ClipEvent(clip.clip_id, clip.clip_name, "running", step + 1, STEPS))
            take = f"{folder}/audio/{clip.clip_id}_take1.wav"
            progress.on_event(ClipEvent(clip.clip_id, clip.clip_name, "done", output_path=take))
        wall = time.perf_counter() - started
        done.set()
        reader.join()
        store.close()
        return wall, saves[0], delivered[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, nargs="+", default=[250, 500, 1000, 2000])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    print(f"median of {args.repeats} runs, {STEPS} steps per clip")
    for clips in args.clips:
        runs = [run(clips) for _ in range(args.repeats)]
        wall = statistics.median(r[0] for r in runs)
        print(f"{clips:6d} clips: {wall:7.2f} s ({1e3 * wall / clips:5.2f} ms per clip), "
              f"{runs[-1][1]} saves, {runs[-1][2]} events delivered", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
