#!/usr/bin/env python
"""Benchmark of the v2a server on loopback: control-RPC latency with many concurrent clients,
and the server's memory after many jobs.

    .venv/bin/python scripts/bench_server.py [--jobs 1000] [--clients 50] [--calls 40]

Starts `v2a serve` as a child process (port 0, a temporary state dir and output root, the
`silence` baseline generator so the jobs measure the server rather than a model), runs
`--jobs` one-clip jobs through it (a synthesized 0.5 s movie, real decoding, real WAV and
timeline writes), reads the server's RSS from /proc, then times GetServerInfo, GetJob and
ListJobs (page of 50) from `--clients` concurrent grpc.aio channels. Prints the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import grpc
import opentimelineio as otio
from tqdm import tqdm

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from plugin_server.client import V2AClient  # noqa: E402
from plugin_server.server import READY_PREFIX  # noqa: E402
from v2a.v1 import jobs_pb2 as pb  # noqa: E402
from v2a.v1 import v2a_service_pb2 as api  # noqa: E402
from v2a.v1 import v2a_service_pb2_grpc  # noqa: E402


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def one_clip_timeline(folder: Path) -> Path:
    from v2a.media.synth import make_test_movie

    movie = make_test_movie(str(folder / "shot.mp4"), frames=25, rate=25, size=(64, 48))
    rate = 25
    clip = otio.schema.Clip(
        name="shot",
        media_reference=otio.schema.ExternalReference(
            target_url=movie,
            available_range=otio.opentime.TimeRange(otio.opentime.RationalTime(0, rate),
                                                    otio.opentime.RationalTime(25, rate))),
        source_range=otio.opentime.TimeRange(otio.opentime.RationalTime(0, rate),
                                             otio.opentime.RationalTime(12, rate)),
    )
    timeline = otio.schema.Timeline(name="bench")
    track = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    track.append(clip)
    timeline.tracks.append(track)
    path = folder / "bench.otio"
    otio.adapters.write_to_file(timeline, str(path))
    return path


def start_server(tmp: Path, concurrency: int, queue_size: int) -> tuple[subprocess.Popen, dict]:
    command = [sys.executable, "-m", "v2a.cli", "serve", "--port", "0", "--state-dir",
               str(tmp / "state"), "--output-root", str(tmp / "out"), "--token-file",
               str(tmp / "token"), "--generator", "silence", "--concurrency", str(concurrency),
               "--queue-size", str(queue_size)]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                            cwd=ROOT)
    for line in proc.stdout:
        if line.startswith(READY_PREFIX):
            return proc, json.loads(line[len(READY_PREFIX):])
    raise RuntimeError("the server did not start")


def run_jobs(client: V2AClient, timeline: Path, jobs: int) -> tuple[float, list[str]]:
    """Submit `jobs` jobs, backing off while the queue is full; wait until all have ended."""
    started, ids = time.monotonic(), []
    active = (pb.JOB_STATE_QUEUED, pb.JOB_STATE_RUNNING)
    with tqdm(total=jobs, desc="jobs submitted", unit="job") as bar:
        while len(ids) < jobs:
            try:
                ids.append(client.submit(timeline, output_folder=f"j{len(ids) % 50}").job_id)
                bar.update(1)
            except grpc.RpcError as error:
                if error.code() != grpc.StatusCode.RESOURCE_EXHAUSTED:
                    raise
                time.sleep(0.05)  # the queue is full: what a panel is told to do
    while client.list(states=active, page_size=1000):
        time.sleep(0.2)
    return time.monotonic() - started, ids


async def time_control_rpcs(address: str, token: str, job_ids: list[str], clients: int,
                            calls: int) -> dict[str, list[float]]:
    metadata = (("authorization", f"Bearer {token}"),)
    timings: dict[str, list[float]] = {"GetServerInfo": [], "GetJob": [], "ListJobs": []}

    async def one_client(index: int) -> None:
        async with grpc.aio.insecure_channel(address) as channel:
            stub = v2a_service_pb2_grpc.V2AServiceStub(channel)
            await stub.GetServerInfo(api.GetServerInfoRequest(), metadata=metadata)  # connect
            for i in range(calls):
                job_id = job_ids[(index * calls + i) % len(job_ids)]
                for name, method, request in (
                    ("GetServerInfo", stub.GetServerInfo, api.GetServerInfoRequest()),
                    ("GetJob", stub.GetJob, api.GetJobRequest(job_id=job_id)),
                    ("ListJobs", stub.ListJobs, api.ListJobsRequest(page_size=50)),
                ):
                    started = time.perf_counter()
                    await method(request, metadata=metadata)
                    timings[name].append(time.perf_counter() - started)

    await asyncio.gather(*(one_client(i) for i in range(clients)))
    return timings


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--calls", type=int, default=40, help="rounds of the 3 RPCs per client")
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--queue-size", type=int, default=64)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="v2a-bench-") as name:
        tmp = Path(name)
        timeline = one_clip_timeline(tmp)
        proc, info = start_server(tmp, args.concurrency, args.queue_size)
        try:
            token = (tmp / "token").read_text().strip()
            time.sleep(0.5)
            rss_start = rss_mib(proc.pid)
            with V2AClient(info["address"], token=token) as client:
                # In two halves: RSS flat between them means no per-job growth.
                half_seconds, ids = run_jobs(client, timeline, args.jobs // 2)
                rss_half = rss_mib(proc.pid)
                seconds, more = run_jobs(client, timeline, args.jobs - args.jobs // 2)
                seconds, ids = seconds + half_seconds, ids + more
                states = [j.state for j in client.list(page_size=1000)]
            rss_after = rss_mib(proc.pid)
            load = os.getloadavg()[0]
            latency_started = time.monotonic()
            timings = asyncio.run(time_control_rpcs(info["address"], token, ids, args.clients,
                                                    args.calls))
            latency_seconds = time.monotonic() - latency_started
            rss_end = rss_mib(proc.pid)
            db = tmp / "state" / "jobs.sqlite3"
            succeeded = sum(s == pb.JOB_STATE_SUCCEEDED for s in states)
            print(f"\nserver: pid {proc.pid}, loopback {info['address']}, generator 'silence', "
                  f"concurrency {args.concurrency}, queue {args.queue_size}, {os.cpu_count()} CPUs")
            print(f"jobs: {args.jobs} one-clip jobs in {seconds:.1f} s "
                  f"({args.jobs / seconds:.1f} jobs/s), {succeeded} succeeded; "
                  f"store {db.stat().st_size / 1e6:.1f} MB")
            print(f"server RSS: {rss_start:.0f} MiB at start, {rss_half:.0f} MiB after "
                  f"{args.jobs // 2} jobs, {rss_after:.0f} MiB after {args.jobs} jobs, "
                  f"{rss_end:.0f} MiB after the latency run")
            calls = sum(len(v) for v in timings.values())
            print(f"control RPC latency, {args.clients} concurrent clients x {args.calls} rounds "
                  f"(closed loop: {calls} calls in {latency_seconds:.1f} s, "
                  f"{calls / latency_seconds:.0f} calls/s; 1-min load average {load:.1f}):")
            for rpc, values in timings.items():
                print(f"  {rpc:<14} n={len(values):>5}  p50 {1000 * percentile(values, 50):6.1f} ms"
                      f"  p99 {1000 * percentile(values, 99):6.1f} ms")
        finally:
            proc.terminate()
            proc.wait(30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
