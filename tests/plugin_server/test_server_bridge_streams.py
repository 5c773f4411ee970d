"""The WebSocket bridge and WatchJob streams under stress: panels that stay connected for hours,
fire bursts of calls, or hang without closing their socket; watchers that come late."""

from __future__ import annotations

import contextlib
import fcntl
import gc
import json
import socket
import termios
import threading
import time
import warnings
from pathlib import Path

import grpc
import opentimelineio as otio
import pytest
from websockets.client import ClientProtocol
from websockets.frames import Opcode
from websockets.http11 import Response
from websockets.sync.client import connect as ws_connect
from websockets.uri import parse_uri

from plugin_server import ws_bridge
from v2a.v1 import jobs_pb2 as pb
from v2a.v1 import v2a_service_pb2 as api

LONG = pb.GenerationParams(steps=1000)  # with 0.2 s steps a job outlasts any test


@contextlib.contextmanager
def _panel(server):
    """A panel's WebSocket to the bridge, authenticated."""
    with ws_connect(server.bridge.url, max_size=None) as panel:
        panel.send(json.dumps({"id": 0, "method": "Authenticate", "token": server.token}))
        assert "response" in json.loads(panel.recv(timeout=10))
        yield panel


def _call(panel, call_id: int, method: str, request: dict) -> None:
    panel.send(json.dumps({"id": call_id, "method": method, "request": request}))


def _replies_until(panel, done, timeout: float = 30.0) -> list[dict]:
    """Read the panel's messages until done(replies) holds."""
    replies: list[dict] = []
    deadline = time.monotonic() + timeout
    while not done(replies):
        replies.append(json.loads(panel.recv(timeout=max(0.1, deadline - time.monotonic()))))
    return replies


def _live_grpc_calls() -> int:
    gc.collect()
    # isinstance against an ABC asks every object in the process, torch's deprecated
    # `reduce_op` too, which warns when asked.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        return sum(isinstance(o, grpc.Call) for o in gc.get_objects())


def test_a_panel_connected_for_long_keeps_nothing_of_the_watches_that_ended(
        make_server, connect, fixture_timeline, media_dir):
    """Every watch a connection ever ran was kept until it closed: 10,000 watches on one
    connection held 10,000 gRPC calls (29 MiB). A panel stays connected all day."""
    server = make_server(ws_port=0)
    client = connect(server)
    job = client.submit(fixture_timeline, media_search_paths=(str(media_dir),))
    client.wait(job.job_id)
    baseline = _live_grpc_calls()
    with _panel(server) as panel:
        for first in range(1, 201, 20):  # 20 at a time, as a panel following its jobs
            for call_id in range(first, first + 20):
                _call(panel, call_id, "WatchJob", {"job_id": job.job_id})
            replies = _replies_until(panel, lambda r: sum(bool(m.get("end")) for m in r) == 20)
            assert not [m for m in replies if "error" in m]
        deadline = time.monotonic() + 10  # a call's thread finishes just after its last message
        while _live_grpc_calls() > baseline and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _live_grpc_calls() == baseline, "the open connection still holds ended watches"


def test_calls_past_the_limit_of_one_connection_wait_their_turn(
        make_server, connect, fixture_timeline, media_dir, monkeypatch):
    """Each call took a thread as it arrived: a burst of 3,000 watches on one connection ran
    3,078 threads at once. Past the limit a call waits until one ends, then is answered."""
    monkeypatch.setattr(ws_bridge, "MAX_CALLS_PER_CONNECTION", 2)
    monkeypatch.setenv("V2A_TEST_STEP_SECONDS", "0.2")
    server = make_server(generator="py:server_test_generators:slow", ws_port=0)
    client = connect(server)
    job = client.submit(fixture_timeline, media_search_paths=(str(media_dir),), params=LONG)
    with _panel(server) as panel:
        _call(panel, 1, "WatchJob", {"job_id": job.job_id})
        _call(panel, 2, "WatchJob", {"job_id": job.job_id})
        _replies_until(panel, lambda r: {m["id"] for m in r} >= {1, 2})  # both streams run
        _call(panel, 3, "GetServerInfo", {})
        with pytest.raises(TimeoutError):  # a GetServerInfo takes milliseconds once it runs
            _replies_until(panel, lambda r: any(m["id"] == 3 for m in r), timeout=1.0)

        client.cancel(job.job_id)  # both watches end
        replies = _replies_until(panel, lambda r: any(m["id"] == 3 for m in r))
        assert replies[-1]["response"]["version"], replies[-1]
        assert any(m.get("end") for m in replies[:-1]), "answered before a watch ended"


# --- a panel that hangs: connected, but taking in nothing ---------------------------------------


def _job_with_a_big_result(client, fixture_timeline: Path, media_dir: Path, folder: Path) -> str:
    """A finished job whose written timeline is about 8 MB: GetJobResult with its bytes fills
    every socket buffer between the bridge and a panel that does not read."""
    timeline = otio.adapters.read_from_file(str(fixture_timeline))
    timeline.metadata["padding"] = "x" * 8_000_000
    path = folder / "big_cut.otio"
    otio.adapters.write_to_file(timeline, str(path))
    job = client.submit(path, media_search_paths=(str(media_dir),),
                        params=pb.GenerationParams(steps=1))
    assert client.wait(job.job_id).state == pb.JOB_STATE_SUCCEEDED
    return job.job_id


def _open_watch(client, job_id: str):
    """A WatchJob stream whose first event arrived (it holds a server slot), or the refusal."""
    stream = client.watch(job_id)
    try:
        next(stream)
        return stream, None
    except grpc.RpcError as error:
        return None, error


class _HungPanel:
    """A panel that stops reading, as a stopped process does: it keeps its socket open but
    takes in nothing, with a small receive buffer. Plain sockets and websockets' sans-I/O
    protocol, so no thread reads for it."""

    def __init__(self, server):
        self.protocol = ClientProtocol(parse_uri(server.bridge.url))
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self.socket.connect((server.bridge.host, server.bridge.port))
        self.socket.settimeout(10)
        self.protocol.send_request(self.protocol.connect())
        self._flush()
        self.next_message()  # the handshake's response
        self.call(0, "Authenticate", token=server.token)
        assert "response" in json.loads(self.next_message())

    def _flush(self) -> None:
        for data in self.protocol.data_to_send():
            self.socket.sendall(data)

    def call(self, call_id: int, method: str, **fields) -> None:
        self.protocol.send_text(json.dumps({"id": call_id, "method": method, **fields}).encode())
        self._flush()

    def next_message(self) -> str:
        """The next text message (the handshake's response: '')."""
        while True:
            for event in self.protocol.events_received():
                if isinstance(event, Response):
                    return ""
                if event.opcode == Opcode.TEXT:
                    return event.data.decode()
            self.protocol.receive_data(self.socket.recv(65536))

    def unread_bytes(self) -> int:
        """What the kernel holds for it, unread."""
        return int.from_bytes(fcntl.ioctl(self.socket, termios.FIONREAD, b"\0" * 4), "little")

    def hang_on_big_results(self, job_id: str) -> None:
        """Ask for far more than the socket buffers hold, then never read again."""
        for call_id in range(100, 104):
            self.call(call_id, "GetJobResult",
                      request={"job_id": job_id, "include_timeline_data": True})

    def close(self) -> None:
        self.socket.close()


def test_a_hung_panel_is_dropped_and_its_watch_gives_its_place_back(
        make_server, connect, fixture_timeline, media_dir, tmp_path, monkeypatch):
    """A send to a panel that reads nothing waited forever, holding the connection's lock, so
    websockets' keepalive never closed it: a stopped panel with 100 watches held 100 of the
    server's 112 watch slots for as long as it stayed stopped (120 s measured)."""
    monkeypatch.setattr(ws_bridge, "SEND_TIMEOUT_SECONDS", 0.5)
    monkeypatch.setenv("V2A_TEST_STEP_SECONDS", "0.2")
    server = make_server(generator="py:server_test_generators:slow", ws_port=0,
                         rpc_threads=17)  # one WatchJob stream at a time
    client = connect(server, timeout=10.0)
    big = _job_with_a_big_result(client, fixture_timeline, media_dir, tmp_path)
    running = client.submit(fixture_timeline, media_search_paths=(str(media_dir),), params=LONG)

    panel = _HungPanel(server)
    stream = None
    try:
        panel.call(1, "WatchJob", request={"job_id": running.job_id})
        assert json.loads(panel.next_message())["id"] == 1  # the panel's stream holds the slot
        panel.hang_on_big_results(big)
        deadline = time.monotonic() + 30
        while stream is None and time.monotonic() < deadline:
            stream, refusal = _open_watch(client, running.job_id)
            if refusal is not None:
                assert refusal.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, refusal
                time.sleep(0.2)
        assert stream is not None, "the hung panel's watch still holds the only slot"
    finally:
        panel.close()
        if stream is not None:
            stream.cancel()
        client.cancel(running.job_id)


def test_a_hung_panel_does_not_keep_the_server_from_stopping(
        make_server, connect, fixture_timeline, media_dir, tmp_path):
    """Stopping closes each connection with a close frame, sent behind the send the hung
    panel never took in: `v2a serve` ignored SIGTERM until the panel's process died."""
    server = make_server(ws_port=0)
    client = connect(server)
    big = _job_with_a_big_result(client, fixture_timeline, media_dir, tmp_path)
    panel = _HungPanel(server)
    try:
        panel.hang_on_big_results(big)
        deadline = time.monotonic() + 30
        while panel.unread_bytes() < 2048 and time.monotonic() < deadline:
            time.sleep(0.05)  # the results are on their way: 4 × 11 MB, the buffers hold ~4 MB
        assert panel.unread_bytes() >= 2048
        stopping = threading.Thread(target=server.stop, kwargs={"grace_seconds": 0.5},
                                    daemon=True)
        stopping.start()
        stopping.join(20)
        assert not stopping.is_alive(), "the server is still stopping 20 s later"
    finally:
        panel.close()


# --- watchers that come late --------------------------------------------------------------------


def test_watchers_arriving_once_the_result_is_stored_see_every_clip_and_the_end_at_once(
        make_server, connect, fixture_timeline, media_dir):
    """One arrives after the job was stored as ended but before its watchers were told (it
    subscribed too late for the final event), one after the job ended: both streams end at
    once, with every clip as GetJob has it."""
    server = make_server()
    client = connect(server, timeout=10.0)
    between: list = []
    publish = server.events.publish

    def watch_before_the_final_event(event):
        if event.clip is None and event.job_state == "succeeded" and not between:
            between.extend(client.stub.WatchJob(api.WatchJobRequest(job_id=event.job_id),
                                                metadata=client.metadata, timeout=10))
        publish(event)

    server.events.publish = watch_before_the_final_event
    job = client.submit(fixture_timeline, media_search_paths=(str(media_dir),))
    final = client.wait(job.job_id)
    after = list(client.stub.WatchJob(api.WatchJobRequest(job_id=job.job_id),
                                      metadata=client.metadata, timeout=10))
    assert final.state == pb.JOB_STATE_SUCCEEDED
    for stream in (between, after):
        assert stream[-1].job_state == pb.JOB_STATE_SUCCEEDED and not stream[-1].HasField("clip")
        assert {e.clip.clip_id: e.clip for e in stream if e.HasField("clip")} == {
            c.clip_id: c for c in final.clips}


def test_a_watch_open_when_the_server_stops_ends_before_the_job_store_closes(
        make_server, connect, fixture_timeline, media_dir, caplog):
    """A WatchJob stream woke from its wait after the store was closed and read it: the server's
    log ended in `Exception iterating responses` (sqlite3.ProgrammingError: Cannot operate on a
    closed database) at every stop with a panel watching."""
    from server_test_generators import SteppingSine

    server = make_server(generator=SteppingSine(steps=40, step_seconds=0.05))
    client = connect(server)
    job = client.submit(fixture_timeline, inline=True, media_search_paths=(str(media_dir),))
    watched = threading.Event()

    def watch():
        try:
            for _ in client.watch(job.job_id):
                watched.set()
        except grpc.RpcError:
            pass  # the server went: what this test looks at is the server's log

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    assert watched.wait(10)
    with caplog.at_level("ERROR"):
        server.stop(grace_seconds=0.2)
        watcher.join(10)
        time.sleep(1.5)  # a stream's wait for events is a second long
    assert "closed database" not in caplog.text
    assert "Exception iterating responses" not in caplog.text
