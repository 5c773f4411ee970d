#!/usr/bin/env python
"""Stress of the server's streaming paths: WatchJob clients that vanish mid-stream, over gRPC and
over the WebSocket bridge, for some minutes; then clients that hang.

    .venv/bin/python scripts/stress_streams.py [--minutes 3] [--streams 100]

Starts `v2a serve --ws-port 0` as a child process (the stepping test generator of
tests/plugin_server, 50 ms steps; a running job and one queued behind it, resubmitted when they
end). Each round, for each way a client can vanish, a client process opens --streams WatchJob
streams (half on the running job, which sends events, half on the queued one, which sends
none), reads the first event of each and vanishes: over gRPC by cancelling its calls, closing
its channels or being killed; over the bridge (10 watches per connection, replies read as they
come) by closing its sockets, shutting them without a close frame or being killed. After each
round it reads the server's threads, RSS and open files from /proc, and opens as many streams as
the server holds plus one: all but the last must open once the vanished clients' places are back.
Then clients that stop (SIGSTOP) with --streams streams open, over gRPC and over the bridge (on
one connection): how long until their places come back. Last, SIGTERM with a stopped panel connected: how long until
the server exits. Prints the figures.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import grpc
import opentimelineio as otio

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from plugin_server.client import V2AClient  # noqa: E402
from plugin_server.server import READY_PREFIX, RESERVED_RPC_THREADS, ServerConfig  # noqa: E402
from v2a.v1 import jobs_pb2 as pb  # noqa: E402
from v2a.v1 import v2a_service_pb2 as api  # noqa: E402
from v2a.v1 import v2a_service_pb2_grpc  # noqa: E402

WATCH_PLACES = ServerConfig().rpc_threads - RESERVED_RPC_THREADS
STEP_SECONDS = 0.05
LONG = pb.GenerationParams(steps=1000)  # 50 s a clip
GRPC_MODES = ("cancel", "close", "kill")
BRIDGE_MODES = ("close", "drop", "kill")
WATCHES_PER_CONNECTION = 10


# --- the server --------------------------------------------------------------------------------


def timeline_of_clips(folder: Path, clips: int) -> Path:
    """`clips` one-second shots of one synthesized movie on one track."""
    from v2a.media.synth import make_test_movie

    movie = make_test_movie(str(folder / "shot.mp4"), frames=50, rate=25, size=(64, 48))
    track = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    for i in range(clips):
        track.append(otio.schema.Clip(
            name=f"shot{i}",
            media_reference=otio.schema.ExternalReference(
                target_url=movie, available_range=otio.opentime.range_from_start_end_time(
                    otio.opentime.RationalTime(0, 25), otio.opentime.RationalTime(50, 25))),
            source_range=otio.opentime.TimeRange(otio.opentime.RationalTime(0, 25),
                                                 otio.opentime.RationalTime(25, 25))))
    timeline = otio.schema.Timeline(name="stress")
    timeline.tracks.append(track)
    path = folder / "stress.otio"
    otio.adapters.write_to_file(timeline, str(path))
    return path


def start_server(tmp: Path) -> tuple[subprocess.Popen, dict]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "tests" / "plugin_server"),
           "V2A_TEST_STEP_SECONDS": str(STEP_SECONDS)}
    command = [sys.executable, "-m", "v2a.cli", "serve", "--port", "0", "--ws-port", "0",
               "--state-dir", str(tmp / "state"), "--output-root", str(tmp / "out"),
               "--token-file", str(tmp / "token"), "--generator",
               "py:server_test_generators:slow", "--grace", "1"]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                            cwd=ROOT, env=env)
    for line in proc.stdout:
        if line.startswith(READY_PREFIX):
            return proc, json.loads(line[len(READY_PREFIX):])
    raise RuntimeError("the server did not start")


def proc_figures(pid: int) -> dict:
    status = Path(f"/proc/{pid}/status").read_text().splitlines()
    rss = next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))
    return {"threads": len(os.listdir(f"/proc/{pid}/task")), "rss_mib": rss / 1024,
            "fds": len(os.listdir(f"/proc/{pid}/fd"))}


class Jobs:
    """A running job (its watchers get events) and a queued one (theirs get none)."""

    def __init__(self, client: V2AClient, timeline: Path):
        self.client, self.timeline = client, timeline
        self.ids: list[str] = []

    def current(self) -> list[str]:
        live = [j for j in self.ids
                if self.client.get(j).state in (pb.JOB_STATE_QUEUED, pb.JOB_STATE_RUNNING)]
        while len(live) < 2:
            live.append(self.client.submit(self.timeline, params=LONG).job_id)
        self.ids = live
        return live


# --- the clients, each in a process of its own ----------------------------------------------


def client_process(transport: str, mode: str, streams: int, info: dict, token: str,
                   jobs: list[str]) -> subprocess.Popen:
    """A client with `streams` watches open (it printed 'ready'), about to vanish by `mode`."""
    target = info["address"] if transport == "grpc" else info["ws"]
    proc = subprocess.Popen(
        [sys.executable, __file__, "--client", transport, mode, str(streams), target, token,
         *jobs], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=ROOT)
    line = proc.stdout.readline().strip()
    if line != "ready":
        proc.kill()
        raise RuntimeError(f"a {transport} client could not open its streams: {line!r}")
    return proc


def grpc_client(mode: str, streams: int, address: str, token: str, jobs: list[str]) -> None:
    metadata = (("authorization", f"Bearer {token}"),)
    channels = [grpc.insecure_channel(address) for _ in range(max(1, streams // 16))]
    calls = []
    for i in range(streams):
        stub = v2a_service_pb2_grpc.V2AServiceStub(channels[i % len(channels)])
        for _ in range(50):  # the places of streams just closed come back within a second
            call = stub.WatchJob(api.WatchJobRequest(job_id=jobs[i % len(jobs)]),
                                 metadata=metadata)
            try:
                next(call)
                break
            except grpc.RpcError as error:
                if error.code() != grpc.StatusCode.RESOURCE_EXHAUSTED:
                    raise
                time.sleep(0.2)
        calls.append(call)
    print("ready", flush=True)
    if mode == "cancel":
        for call in calls:
            call.cancel()
    elif mode == "close":
        for channel in channels:
            channel.close()
    elif mode == "stop":
        os.kill(os.getpid(), signal.SIGSTOP)
    else:  # kill: the parent kills it
        time.sleep(3600)


def bridge_watch(ws, call_id: int, jobs: list[str]) -> None:
    ws.send(json.dumps({"id": call_id, "method": "WatchJob",
                        "request": {"job_id": jobs[call_id % len(jobs)]}}))


def bridge_client(mode: str, streams: int, url: str, token: str, jobs: list[str]) -> None:
    from websockets.sync.client import connect

    reading = mode != "stop"
    # A stopped panel's watches share one connection, whose buffers then fill in seconds:
    # spread thin, they filled slower than websockets' keepalive (20 s + 20 s) closed them.
    per_connection = WATCHES_PER_CONNECTION if reading else streams
    sockets, opened = [], contextlib.ExitStack()
    for first in range(0, streams, per_connection):
        ws = opened.enter_context(connect(url, max_size=None,
                                          ping_interval=20 if reading else None))
        ws.send(json.dumps({"id": 0, "method": "Authenticate", "token": token}))
        json.loads(ws.recv(timeout=30))
        ids = range(first + 1, min(streams, first + per_connection) + 1)
        for call_id in ids:
            bridge_watch(ws, call_id, jobs)
        seen: set = set()
        while len(seen) < len(ids):
            reply = json.loads(ws.recv(timeout=30))
            if reply.get("error", {}).get("code") == "RESOURCE_EXHAUSTED":
                time.sleep(0.2)  # as above
                bridge_watch(ws, reply["id"], jobs)
            elif "error" in reply:
                print(f"error {reply['error']}", flush=True)
                return
            else:
                seen.add(reply["id"])
        sockets.append(ws)
    if reading:  # a panel reads what comes; only a hung one does not
        for ws in sockets:
            threading.Thread(target=lambda ws=ws: [None for _ in ws], daemon=True).start()
    print("ready", flush=True)
    if mode == "close":
        for ws in sockets:
            ws.close()
    elif mode == "drop":  # no close frame: the socket just goes
        for ws in sockets:
            ws.socket.shutdown(socket.SHUT_RDWR)
        os._exit(0)
    elif mode == "stop":
        os.kill(os.getpid(), signal.SIGSTOP)
    else:
        time.sleep(3600)


# --- the checks --------------------------------------------------------------------------------


def places_free(client: V2AClient, job_id: str) -> tuple[int, bool]:
    """Open WATCH_PLACES + 1 streams: how many opened, and whether the last one was refused."""
    opened, refused = [], False
    try:
        for _ in range(WATCH_PLACES + 1):
            call = client.stub.WatchJob(api.WatchJobRequest(job_id=job_id),
                                        metadata=client.metadata)
            try:
                next(call)
                opened.append(call)
            except grpc.RpcError as error:
                refused = error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
                break
    finally:
        for call in opened:
            call.cancel()
    return len(opened), refused


def wait_for_places(client: V2AClient, jobs: Jobs, timeout: float, every: float = 0.5) -> float:
    """Seconds until a check that found every watch place free began (0: the first one;
    inf: none before `timeout`). It watches the running job: a stream of an ended job ends by
    itself, and gives its place back before the next one is opened."""
    started = time.monotonic()
    while (checked := time.monotonic()) - started < timeout:
        opened, refused = places_free(client, jobs.current()[0])
        if opened == WATCH_PLACES and refused:
            return checked - started
        time.sleep(every)
    return float("inf")


def hung_client(transport: str, streams: int, info: dict, token: str, jobs: Jobs,
                client: V2AClient, timeout: float) -> float:
    """Seconds from a client's stop until its streams' places are back."""
    proc = client_process(transport, "stop", streams, info, token, jobs.current())
    try:
        return wait_for_places(client, jobs, timeout, every=2.0)
    finally:
        proc.kill()
        proc.wait()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=3.0)
    parser.add_argument("--streams", type=int, default=100, help="watches per vanishing client")
    parser.add_argument("--hung-timeout", type=float, default=120.0)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="v2a-stress-") as name:
        tmp = Path(name)
        (tmp / "out").mkdir()
        proc, info = start_server(tmp)
        token = (tmp / "token").read_text().strip()
        client = V2AClient(info["address"], token=token)
        jobs = Jobs(client, timeline_of_clips(tmp, 8))
        try:
            jobs.current()
            start = proc_figures(proc.pid)
            print(f"server pid {proc.pid}: {start['threads']} threads, "
                  f"{start['rss_mib']:.0f} MiB RSS, {start['fds']} open files; "
                  f"{WATCH_PLACES} watch places")
            print("round  elapsed  vanished streams  threads  RSS MiB  files  "
                  "all places free at")
            began, rounds, vanished = time.monotonic(), 0, 0
            while time.monotonic() - began < args.minutes * 60:
                for transport, modes in (("grpc", GRPC_MODES), ("bridge", BRIDGE_MODES)):
                    for mode in modes:
                        child = client_process(transport, mode, args.streams, info, token,
                                               jobs.current())
                        if mode == "kill":
                            child.kill()
                        child.wait(60)
                        vanished += args.streams
                rounds += 1
                back = wait_for_places(client, jobs, 60)
                now = proc_figures(proc.pid)
                print(f"{rounds:>5}  {time.monotonic() - began:>6.0f}s  {vanished:>16}  "
                      f"{now['threads']:>7}  {now['rss_mib']:>7.0f}  {now['fds']:>5}  "
                      f"{back:>16.1f}s", flush=True)
            for transport in ("grpc", "bridge"):
                took = hung_client(transport, args.streams, info, token, jobs, client,
                                   args.hung_timeout)
                when = (f"{took:.0f} s after it stopped (checked every 2 s)" if took < 1e9
                        else f"not within {args.hung_timeout:.0f} s")
                print(f"a stopped {transport} client with {args.streams} streams: places back "
                      f"{when}", flush=True)

            stopped = client_process("bridge", "stop", args.streams, info, token,
                                     jobs.current())
            time.sleep(20)  # events fill its buffers
            sent = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(60)
                print(f"SIGTERM with a stopped panel connected: the server exited "
                      f"{time.monotonic() - sent:.1f} s later")
            except subprocess.TimeoutExpired:
                print("SIGTERM with a stopped panel connected: the server still ran 60 s later")
            finally:
                stopped.kill()
                stopped.wait()
        finally:
            client.close()
            if proc.poll() is None:
                proc.kill()
            proc.wait(30)
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--client":
        transport, mode, streams, target, token, *job_ids = sys.argv[2:]
        run = grpc_client if transport == "grpc" else bridge_client
        run(mode, int(streams), target, token, job_ids)
        sys.exit(0)
    sys.exit(main())
