"""The WebSocket bridge and WatchJob streams under stress: panels that stay connected for hours,
fire bursts of calls, or hang without closing their socket; watchers that come late."""

from __future__ import annotations

import contextlib
import gc
import json
import time

import grpc
import pytest
from websockets.sync.client import connect as ws_connect

from plugin_server import ws_bridge
from v2a.v1 import jobs_pb2 as pb

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
