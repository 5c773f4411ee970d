#!/usr/bin/env python
"""How long a server job takes to reach its first clip's first sampling step, on a feature edit.

The edit is bench_regenerate.py's (2,000 clips on 12 video tracks over two hours, every clip
with 3 takes written by v2a). An in-process server on a real port (the tests' sine generator,
which notes when its first step starts) runs, `--repeats` times each:

- regenerate: RegenerateClip of one clip of a job that wrote the edit (the job waits for its end);
- first generation: CreateJob on the editor's edit (no v2a track yet) into a new folder, cancelled
  once its first step has started;
- first generation of V1: the same with a selection of the track V1 (80 % of the clips).

Prints, for each, the medians of the accept RPC's latency and of the time from that call to
the first step (accepting, queueing, reading and planning at run time, decoding the first clip),
in wall seconds and in CPU seconds of the process (server and client together: the steadier
figure on a shared machine, where other jobs stretch wall time, not ours).

    PYTHONPATH=.:tests .venv/bin/python scripts/bench_job_start.py [--clips 2000] [--repeats 5]
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # bench_regenerate

from bench_regenerate import written_by_v2a  # noqa: E402
from generator_doubles import SineGenerator  # noqa: E402

from plugin_server.client import V2AClient  # noqa: E402
from plugin_server.server import RunningServer, ServerConfig  # noqa: E402
from v2a.v1 import jobs_pb2 as pb  # noqa: E402


class FirstStep(SineGenerator):
    """The sine double that notes when its first step of the current job starts."""

    def __init__(self) -> None:
        super().__init__(steps=3, on_step=self._note)
        self.started = threading.Event()
        self.at = self.cpu_at = 0.0

    def _note(self, call: int, step: int) -> None:
        if not self.started.is_set():
            self.at, self.cpu_at = time.perf_counter(), time.process_time()
            self.started.set()

    def expect(self) -> None:
        self.started.clear()


def _timed_job(client: V2AClient, generator: FirstStep, call, cancel: bool) -> tuple[float, ...]:
    """Wall seconds of the accept and from the call to the first step, and the CPU seconds of
    both, of the job `call()` makes."""
    generator.expect()
    began, cpu_began = time.perf_counter(), time.process_time()
    job = call()
    accepted, cpu_accepted = time.perf_counter() - began, time.process_time() - cpu_began
    if not generator.started.wait(600):
        raise RuntimeError(f"job {job.job_id} never started a step: {client.get(job.job_id)}")
    first_step, cpu_first_step = generator.at - began, generator.cpu_at - cpu_began
    if cancel:
        client.cancel(job.job_id)
    final = client.wait(job.job_id)
    wanted = pb.JOB_STATE_CANCELLED if cancel else pb.JOB_STATE_SUCCEEDED
    if final.state != wanted:
        raise RuntimeError(f"job {job.job_id} ended {final.state}: {final.message}")
    return accepted, first_step, cpu_accepted, cpu_first_step


def _row(name: str, figures: list[tuple[float, ...]]) -> str:
    columns = zip(*figures, strict=True)
    accept, first, cpu_accept, cpu_first = (statistics.median(column) for column in columns)
    return (f"{name:>17}: accept {accept:6.3f} s ({cpu_accept:5.3f} CPU), first step "
            f"{first:6.3f} s ({cpu_first:5.3f} CPU); first steps: "
            + ", ".join(f"{f[1]:.2f}" for f in figures))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    logging.disable(logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="v2a-bench-") as tmp:
        folder = Path(tmp)
        (folder / "edit").mkdir()
        written, clip_id = written_by_v2a(str(folder / "edit"), args.clips)
        source = folder / "edit" / "feature.otio"
        generator = FirstStep()
        server = RunningServer(ServerConfig(port=0, state_dir=folder / "state",
                                            output_roots=(str(folder / "edit"),),
                                            token_file=folder / "token"), generator=generator)
        server.start()
        try:
            with V2AClient(server.address, token=server.token, timeout=600) as client:
                one = (pb.ClipAddress(clip_id=clip_id),)
                parent = client.submit(written, clips=one, output_folder=os.path.dirname(written))
                if client.wait(parent.job_id).state != pb.JOB_STATE_SUCCEEDED:
                    raise RuntimeError(f"the parent job failed: {client.get(parent.job_id).message}")
                regenerate = [_timed_job(client, generator, lambda: client.regenerate(
                    parent.job_id, clip_id=clip_id), cancel=False) for _ in range(args.repeats)]
                first = [_timed_job(client, generator, lambda i=i: client.submit(
                    source, output_folder=str(folder / "edit" / f"first{i}")), cancel=True)
                    for i in range(args.repeats)]
                track = [_timed_job(client, generator, lambda i=i: client.submit(
                    source, output_folder=str(folder / "edit" / f"track{i}"), tracks=("V1",)),
                    cancel=True) for i in range(args.repeats)]
        finally:
            server.stop(grace_seconds=1.0)
    print(f"{args.clips} clips, medians of {args.repeats}:")
    print(_row("regenerate", regenerate))
    print(_row("first generation", first))
    print(_row("first gen. of V1", track))
    return 0


if __name__ == "__main__":
    sys.exit(main())
