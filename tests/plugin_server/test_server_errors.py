"""Refusals with the right code and details: auth, malformed requests and timelines, offline
media, unknown jobs and clips, a full queue, and output folders that try to escape."""

from __future__ import annotations

import os
from pathlib import Path

import grpc
import opentimelineio as otio
import pytest
from google.rpc import error_details_pb2 as details
from grpc_health.v1 import health_pb2, health_pb2_grpc

from plugin_server.client import V2AClient
from plugin_server.errors import details_of
from v2a.v1 import jobs_pb2 as pb
from v2a.v1 import v2a_service_pb2 as api
from v2a.v1 import v2a_service_pb2_grpc

FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "timelines"


def _error(call, *args, **kwargs) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as caught:
        call(*args, **kwargs)
    return caught.value


def _violations(error: grpc.RpcError) -> dict[str, str]:
    bad = [d for d in details_of(error) if isinstance(d, details.BadRequest)]
    assert bad, f"no BadRequest detail in {error}"
    return {v.field: v.description for v in bad[0].field_violations}


# --- auth --------------------------------------------------------------------------------------


def test_token_is_created_private_and_required_on_tcp(make_server, roots):
    server = make_server()
    assert roots["token"].stat().st_mode & 0o777 == 0o600
    assert server.token == roots["token"].read_text().strip()
    for token in ("", "not-the-token"):
        with V2AClient(server.address, token=token) as client:
            error = _error(client.info)
            assert error.code() == grpc.StatusCode.UNAUTHENTICATED
            # Where this server keeps it (--token-file), not where the default would be.
            assert f"the token is in {roots['token']}" in error.details()
    with V2AClient(server.address, token=server.token) as client:
        assert client.info().version
    # Health stays open, so a panel can see the server is up before it has the token.
    with grpc.insecure_channel(server.address) as channel:
        reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(
            service="v2a.v1.V2AService"))
        assert reply.status == health_pb2.HealthCheckResponse.SERVING


def test_the_bearer_scheme_is_taken_in_any_case_the_token_only_as_it_is(make_server):
    """An HTTP auth scheme is case-insensitive (RFC 9110 11.1): "bearer <token>", which some
    HTTP libraries send, was refused as a wrong token."""
    server = make_server()
    token = server.token
    with grpc.insecure_channel(server.address) as channel:
        stub = v2a_service_pb2_grpc.V2AServiceStub(channel)

        def info(authorization: str):
            return stub.GetServerInfo(api.GetServerInfoRequest(),
                                      metadata=(("authorization", authorization),))

        for accepted in (f"Bearer {token}", f"bearer {token}", f"BEARER {token}",
                         f"Bearer  {token}"):  # RFC 9110: one or more spaces after the scheme
            assert info(accepted).version, accepted
        for refused in (f"Bearer {token.swapcase()}", f"Bearer {token}x", f"Basic {token}",
                        token, f"Bearer{token}", "Bearer "):
            assert _error(info, refused).code() == grpc.StatusCode.UNAUTHENTICATED, refused


def test_two_authorization_headers_are_refused_whichever_holds_the_token(make_server, tmp_path):
    """With two `authorization` headers the first one counted: a proxy or library that adds
    its own header before the panel's decided whether the call passed. Which one a server
    reads is not something a client can rely on, so a call with more than one is refused."""
    server = make_server(uds=str(tmp_path / "v2a.sock"))
    good, bad = f"Bearer {server.token}", "Bearer not-the-token"
    with grpc.insecure_channel(server.address) as channel:
        stub = v2a_service_pb2_grpc.V2AServiceStub(channel)
        for headers in ((good, bad), (bad, good), (good, good)):
            metadata = tuple(("authorization", value) for value in headers)
            error = _error(stub.GetServerInfo, api.GetServerInfoRequest(), metadata=metadata)
            assert error.code() == grpc.StatusCode.UNAUTHENTICATED, headers
            assert "2 'authorization' headers" in error.details(), error.details()
        assert stub.GetServerInfo(api.GetServerInfoRequest(),
                                  metadata=(("authorization", good),)).version
    # Over the Unix socket no token is asked, so a header there changes nothing.
    with grpc.insecure_channel(f"unix:{tmp_path / 'v2a.sock'}") as channel:
        stub = v2a_service_pb2_grpc.V2AServiceStub(channel)
        assert stub.GetServerInfo(api.GetServerInfoRequest(),
                                  metadata=(("authorization", bad), ("authorization", bad))).version


def test_a_call_without_the_token_is_refused_before_its_request_is_read(make_server):
    """An unauthenticated client must not make the server take in a message of up to the
    message limit (a 200 MB inline timeline grew the server by 665 MiB before the refusal)."""
    import threading

    server = make_server()
    release, sent = threading.Event(), []

    def requests():  # the request goes out only once the test lets it, after the answer
        release.wait(10)
        sent.append(True)
        yield api.CreateJobRequest(timeline=pb.TimelineSource(inline_data=b"x" * 2**20))

    with grpc.insecure_channel(server.address) as channel:
        create_job = channel.stream_unary("/v2a.v1.V2AService/CreateJob",
                                          request_serializer=api.CreateJobRequest.SerializeToString,
                                          response_deserializer=api.CreateJobResponse.FromString)
        call = create_job.future(requests(), timeout=20)
        try:
            error = call.exception(timeout=5)  # before the fix: waits for the request
        except grpc.FutureTimeoutError:
            error = None
        answered_unsent = error is not None and not sent
        release.set()
    assert answered_unsent, "the server waited for the request before the token check"
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED


def test_a_health_call_without_the_token_costs_the_server_nothing_it_sends(make_server, tmp_path):
    """Open, the health service read a tokenless caller's request first: up to 64 MiB (one
    60 MiB Check grew the server from 148 to 330 MiB), and a request that never came held an
    RPC thread, so a few such calls left no thread for any other call."""
    import threading

    server = make_server(rpc_threads=4, uds=str(tmp_path / "v2a.sock"))
    release = threading.Event()

    def never_sent():  # the request goes out only once the test is over
        release.wait(30)
        yield health_pb2.HealthCheckRequest(service="x" * 2**20)

    channel = grpc.insecure_channel(server.address)
    try:
        check = channel.stream_unary("/grpc.health.v1.Health/Check",
                                     request_serializer=health_pb2.HealthCheckRequest.SerializeToString,
                                     response_deserializer=health_pb2.HealthCheckResponse.FromString)
        calls = [check.future(never_sent(), timeout=20) for _ in range(6)]  # more than the threads
        with V2AClient(server.address, token=server.token, timeout=5) as client:
            assert client.info().version  # before the fix: DEADLINE_EXCEEDED, every thread held
        # Answered for the server as a whole without the request (which named no service).
        assert {call.result(timeout=5).status for call in calls} == {
            health_pb2.HealthCheckResponse.SERVING}
        watch = health_pb2_grpc.HealthStub(channel).Watch(
            health_pb2.HealthCheckRequest(service="no.such.Service"), timeout=5)
        assert next(watch).status == health_pb2.HealthCheckResponse.SERVING
        watch.cancel()
    finally:
        release.set()
        channel.close()
    # With the token, or over the Unix socket, the request is read and answered as gRPC's own.
    for address, metadata in ((server.address, (("authorization", f"Bearer {server.token}"),)),
                              (f"unix:{tmp_path / 'v2a.sock'}", ())):
        with grpc.insecure_channel(address) as channel:
            error = _error(health_pb2_grpc.HealthStub(channel).Check,
                           health_pb2.HealthCheckRequest(service="no.such.Service"),
                           metadata=metadata, timeout=5)
            assert error.code() == grpc.StatusCode.NOT_FOUND


def test_the_websocket_bridge_refuses_web_pages_and_any_wrong_token(make_server):
    import json

    from websockets.exceptions import InvalidStatus
    from websockets.sync.client import connect as ws_connect

    server = make_server(ws_port=0)
    # Any page the editor visits could open it (by a DNS-rebound name too): refused outright.
    for origin in ("https://evil.example", "http://rebound.example:8080"):
        with pytest.raises(InvalidStatus) as refused:
            ws_connect(server.bridge.url, origin=origin)
        assert refused.value.response.status_code == 403
    # Panels send no Origin or one of their own; a page served from this machine is the user's.
    for origin in (None, "file://", "null", "http://localhost:3000", "http://127.0.0.1"):
        with ws_connect(server.bridge.url, origin=origin) as socket:
            # A non-ASCII token once ended the connection with an internal error.
            for token in ("tökén", "wrong", server.token):
                socket.send(json.dumps({"id": 0, "method": "Authenticate", "token": token}))
                reply = json.loads(socket.recv(timeout=10))
                assert ("response" in reply) == (token == server.token), reply
            socket.send(json.dumps({"id": 1, "method": "GetServerInfo", "request": {}}))
            assert json.loads(socket.recv(timeout=10))["response"]["version"]


def test_the_websocket_bridge_takes_the_token_files_contents_as_the_token(make_server, roots):
    """A panel sends the token file's contents, as the protocol says: with the newline the server
    writes after the token, it was "wrong token"."""
    import json

    from websockets.sync.client import connect as ws_connect

    server = make_server(ws_port=0)
    contents = roots["token"].read_text()
    with ws_connect(server.bridge.url) as socket:
        socket.send(json.dumps({"id": 0, "method": "Authenticate", "token": contents}))
        assert "response" in json.loads(socket.recv(timeout=10))
        socket.send(json.dumps({"id": 1, "method": "GetServerInfo", "request": {}}))
        assert json.loads(socket.recv(timeout=10))["response"]["version"]


def test_the_websocket_bridge_says_which_request_field_it_cannot_read_in_one_sentence(
        make_server):
    """protobuf ends a nested field's parse error with a period of its own and one more: the
    bridge's message ended in ".."."""
    import json

    from websockets.sync.client import connect as ws_connect

    server = make_server(ws_port=0)
    with ws_connect(server.bridge.url) as socket:
        socket.send(json.dumps({"id": 0, "method": "Authenticate", "token": server.token}))
        assert "response" in json.loads(socket.recv(timeout=10))
        for call_id, (request, field) in enumerate([({"params": {"seed": "abc"}}, "seed"),
                                                    ({"timeline": {"path": 5}}, "path"),
                                                    ({"output": 7}, "output")], 1):
            socket.send(json.dumps({"id": call_id, "method": "CreateJob", "request": request}))
            error = json.loads(socket.recv(timeout=10))["error"]
            assert error["code"] == "INVALID_ARGUMENT"
            message = error["message"]
            assert message.startswith("request: ") and f"{field} field" in message, message
            assert message.endswith(".") and not message.endswith(".."), message


def test_the_websocket_bridge_answers_in_json_that_a_panel_can_parse(make_server):
    """An id of 1e400 (infinity to Python's JSON reader) or NaN was echoed as `Infinity` or
    `NaN`, which is not JSON: a panel's JSON.parse threw on the reply."""
    import json

    from websockets.sync.client import connect as ws_connect

    server = make_server(ws_port=0)
    with ws_connect(server.bridge.url) as socket:
        for raw in ('{"id": 1e400, "method": "Authenticate"}', '{"id": NaN, "method": "x"}'):
            socket.send(raw)
            reply = socket.recv(timeout=10)
            strict = json.loads(reply, parse_constant=lambda name: pytest.fail(f"{name} sent"))
            assert strict == {"id": None, "error": {
                "code": "INVALID_ARGUMENT", "message": "id: a string or a finite number",
                "details": []}}, strict
        socket.send(json.dumps({"id": 2.5, "method": "Authenticate", "token": server.token}))
        assert json.loads(socket.recv(timeout=10)) == {"id": 2.5, "response": {}}


def test_the_websocket_bridge_answers_a_method_or_request_of_the_wrong_json_type_and_goes_on(
        make_server):
    """A `method` that was a list or an object closed the whole connection (1011, every call
    and watch on it lost), and a `request` that was a number was never answered (the panel's
    call waited forever); a string or a list was read as field names ("no field named a")."""
    import json

    from websockets.sync.client import connect as ws_connect

    server = make_server(ws_port=0)
    with ws_connect(server.bridge.url) as socket:
        socket.send(json.dumps({"id": 0, "method": "Authenticate", "token": server.token}))
        assert "response" in json.loads(socket.recv(timeout=10))
        bad = [{"method": ["GetJob"]}, {"method": {"name": "GetJob"}},
               {"method": "GetJob", "request": 5}, {"method": "GetJob", "request": "abc"},
               {"method": "GetJob", "request": ["job_id"]}, {"method": "GetJob", "request": True}]
        for call_id, message in enumerate(bad, 1):
            socket.send(json.dumps({"id": call_id, **message}))
            reply = json.loads(socket.recv(timeout=10))
            assert reply["id"] == call_id, reply
            assert reply["error"]["code"] in ("INVALID_ARGUMENT", "UNIMPLEMENTED"), reply
            field = "method" if "request" not in message else "request"
            assert reply["error"]["message"].startswith(f"{field}: "), reply
        socket.send(json.dumps({"id": 99, "method": "GetServerInfo"}))
        assert json.loads(socket.recv(timeout=10))["response"]["version"]


def test_the_state_dir_with_every_request_and_inline_timeline_is_private(make_server, connect,
                                                                          fixture_timeline,
                                                                          media_dir, roots):
    roots["state"].mkdir(mode=0o755)  # as an earlier version made it
    os.chmod(roots["state"], 0o755)
    server = make_server()
    connect(server).submit(fixture_timeline, inline=True, media_search_paths=(str(media_dir),))
    assert roots["state"].stat().st_mode & 0o777 == 0o700
    assert (roots["state"] / "jobs.sqlite3").is_file()
    assert (roots["state"] / "timelines").is_dir()  # the job's copy goes when it ends


def test_a_second_start_keeps_the_token_and_one_state_dir_has_one_server(make_server, roots):
    first = make_server()
    with pytest.raises(OSError, match="another v2a server"):
        make_server()  # same state dir: it would rerun the first one's running jobs
    first.stop(grace_seconds=0)
    os.chmod(roots["token"], 0o644)  # someone loosened it
    second = make_server()
    assert first.token == second.token and roots["token"].stat().st_mode & 0o777 == 0o600


def test_a_port_another_server_listens_on_is_refused(make_server, roots):
    first = make_server()
    with pytest.raises(OSError, match="the port is in use"):
        # Another state dir, so only the port is shared: gRPC's default SO_REUSEPORT let this
        # start and split the panels' connections between two job stores.
        make_server(state_dir=roots["state"].with_name("other-state"), port=first.port)


# --- malformed requests and timelines ------------------------------------------------------


def test_malformed_requests_name_the_field(make_server, connect, fixture_timeline):
    server = make_server()
    stub, metadata = connect(server).stub, (("authorization", f"Bearer {server.token}"),)

    error = _error(stub.CreateJob, api.CreateJobRequest(), metadata=metadata)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT and "timeline" in _violations(error)

    relative = api.CreateJobRequest(timeline=pb.TimelineSource(path="cut.otio"))
    error = _error(stub.CreateJob, relative, metadata=metadata)
    assert "timeline.path" in _violations(error)

    missing = api.CreateJobRequest(timeline=pb.TimelineSource(path="/nonexistent/cut.otio"))
    assert "/nonexistent/cut.otio" in _violations(_error(stub.CreateJob, missing,
                                                          metadata=metadata))["timeline.path"]

    request = api.CreateJobRequest(
        timeline=pb.TimelineSource(path=str(fixture_timeline)),
        params=pb.GenerationParams(takes=99))
    assert "params.takes" in _violations(_error(stub.CreateJob, request, metadata=metadata))

    request = api.CreateJobRequest(
        timeline=pb.TimelineSource(path=str(fixture_timeline), format="no_such_adapter"))
    assert "timeline.format" in _violations(_error(stub.CreateJob, request, metadata=metadata))

    request = api.CreateJobRequest(
        timeline=pb.TimelineSource(path=str(fixture_timeline)),
        selection=pb.Selection(time_range=pb.TimeRange(start_seconds=2, end_seconds=1)))
    assert "selection.time_range" in _violations(_error(stub.CreateJob, request,
                                                        metadata=metadata))

    error = _error(stub.ListJobs, api.ListJobsRequest(page_token="x"), metadata=metadata)
    assert "page_token" in _violations(error)


def test_formats_are_taken_by_extension_as_v2a_generate_takes_them(make_server, connect):
    """`v2a generate --output-format edl` wrote an EDL; CreateJob refused `edl` for the same
    thing ("unknown timeline format 'edl'") and took only the adapter's name, `cmx_3600`."""
    client = connect(make_server())
    sample = Path(__file__).resolve().parents[2] / "samples" / "sample.otio"  # media on disk
    job = client.wait(client.submit(sample, timeline_format="otio", output_folder="by-extension",
                                    output_format="EDL").job_id)
    assert job.state == pb.JOB_STATE_SUCCEEDED, job.message
    result = client.result(job.job_id)
    assert result.timeline_path.endswith("sample.edl") and result.timeline_format == "cmx_3600"

    error = _error(client.submit, sample, output_format="mp3")
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT and "'mp3'" in error.details()
    accepted = _violations(error)["output.format"]
    assert "cmx_3600" in accepted and "edl" in accepted and "fcpxml" in accepted
    error = _error(client.submit, sample, timeline_format="mp3")
    assert "kdenlive" in _violations(error)["timeline.format"]


def test_clip_addresses_and_time_ranges_that_name_no_time_are_refused_naming_the_field(
        make_server, connect, fixture_timeline, media_dir):
    """NaN or infinite seconds reached the planner, whose error blamed the timeline file
    ('cannot convert NaN to integer ratio'); a track without a time was looked for 'at None s'
    and answered NOT_FOUND."""
    client = connect(make_server())
    nan, inf = float("nan"), float("inf")
    for clips, time_range, field in [
        ((pb.ClipAddress(track="Track-001", record_time=nan),), None,
         "selection.clips[0].record_time"),
        ((pb.ClipAddress(clip_id="x"), pb.ClipAddress(record_time=-inf)), None,
         "selection.clips[1].record_time"),
        ((pb.ClipAddress(track="Track-001"),), None, "selection.clips[0]"),
        ((), (nan, 1.0), "selection.time_range"),
        ((), (0.0, inf), "selection.time_range"),
    ]:
        error = _error(client.submit, fixture_timeline, media_search_paths=(str(media_dir),),
                       clips=clips, time_range=time_range)
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, field
        violations = _violations(error)
        assert list(violations) == [field], violations
        assert "integer ratio" not in error.details() and "None" not in error.details()

    job = client.wait(client.submit(fixture_timeline, media_search_paths=(str(media_dir),),
                                    output_folder="addressed").job_id)
    for time in (nan, inf):
        error = _error(client.regenerate, job.job_id, track="Track-001", record_time=time)
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert list(_violations(error)) == ["clip.record_time"]
    assert client.info().sample_rate  # still serving


@pytest.mark.parametrize("name, data", [
    ("cut.otio", b"{ this is not json"),
    ("cut.otio", b'{"OTIO_SCHEMA": "Timeline.1", "tracks": 7}'),
    ("cut.xml", b"<xmeml><sequence><broken>"),
    ("cut.edl", b"TITLE: x\n001  AX V C 00:00:99:00 00:00:01:00 01:00:00:00 01:00:01:00\n"),
])
def test_a_bad_timeline_is_refused_naming_the_file(make_server, connect, name, data, tmp_path,
                                                   roots):
    server = make_server()
    client = connect(server)
    path = tmp_path / name
    path.write_bytes(data)
    for inline in (True, False):
        error = _error(client.submit, path, inline=inline,
                       adapter_options={"rate": "25"} if name.endswith(".edl") else None)
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, error.details()
        assert any(name in field for field in _violations(error))
        # Named once, as the client sent it: the file name of an inline timeline (not the
        # server's copy in its state dir), the path of one it gave by path.
        sent = name if inline else str(path)
        assert error.details().count(name) == 1 and error.details().startswith(f"{sent}: ")
        assert str(roots["state"]) not in error.details()
        assert all(str(roots["state"]) not in d for d in _violations(error).values())
    assert client.list() == []  # nothing queued
    assert not (roots["state"] / "timelines").exists() or not any(
        (roots["state"] / "timelines").rglob("*.*"))  # the inline copies were removed


def test_an_otioz_zip_bomb_is_refused_before_it_fills_the_disk(make_server, connect,
                                                               fixture_timeline, tmp_path,
                                                               monkeypatch):
    import zipfile

    from otio_adapters import media_refs

    monkeypatch.setattr(media_refs, "OTIOZ_MAX_INFLATION", 2**20, raising=False)  # small will do
    bomb = tmp_path / "cut.otioz"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as bundle:
        bundle.writestr("version.txt", "1.0.0")
        bundle.writestr("content.otio", fixture_timeline.read_bytes())
        bundle.writestr("media/titles.mov", bytes(8 * 2**20))  # 8 MiB of zeros deflate to 8 kB
    assert bomb.stat().st_size < 2**20 / 10
    cache = Path(media_refs.otioz_cache_dir())
    before = set(cache.iterdir()) if cache.is_dir() else set()  # other tests' bundles
    client = connect(make_server())
    error = _error(client.submit, bomb, inline=True)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.details().startswith("cut.otioz: the OTIOZ bundle would unpack to 8 MiB")
    assert set(cache.iterdir()) == before  # nothing extracted
    assert client.list() == []


def test_requests_are_read_up_to_the_largest_real_timeline_and_no_further(make_server):
    """A 2,000-clip edit as OTIO JSON is 34 MiB: that much is read (here garbage, refused for
    what it says); past 64 MiB a request is refused unread (it was read up to 256 MB)."""
    server = make_server()
    # A client that sends whatever it is given: V2AClient itself stops at the limit.
    with grpc.insecure_channel(server.address,
                               options=[("grpc.max_send_message_length", -1)]) as channel:
        stub = v2a_service_pb2_grpc.V2AServiceStub(channel)

        def create_job(size: int) -> grpc.RpcError:
            timeline = pb.TimelineSource(inline_data=b"x" * size, file_name="cut.otio")
            return _error(stub.CreateJob, api.CreateJobRequest(timeline=timeline), timeout=60,
                          metadata=(("authorization", f"Bearer {server.token}"),))

        assert create_job(40 * 2**20).code() == grpc.StatusCode.INVALID_ARGUMENT
        refused = create_job(65 * 2**20)
    assert refused.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, refused.details()
    assert "larger than max" in refused.details()


def test_the_fixture_edl_with_a_bad_timecode_is_refused(make_server, connect):
    edl = FIXTURES / "cmx3600_edl" / "timecode_mismatch.edl"
    if not edl.is_file():
        pytest.skip("fixture absent")
    error = _error(connect(make_server()).submit, edl)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "timecode_mismatch.edl" in error.details()


def test_offline_media_is_a_failed_precondition_per_clip(make_server, connect,
                                                         fixture_timeline):
    error = _error(connect(make_server()).submit, fixture_timeline)  # /folder/*.mov absent
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    failure = [d for d in details_of(error) if isinstance(d, details.PreconditionFailure)][0]
    assert [v.subject for v in failure.violations] == ["Clip-001", "Clip-002", "Clip-003",
                                                       "Clip-004"]
    assert all(v.type == "MEDIA_OFFLINE" and "titles.mov" in failure.violations[0].description
               for v in failure.violations)


def test_relative_media_of_an_inline_timeline_are_named_as_the_timeline_names_them(
        make_server, connect, roots, tmp_path):
    """The bundled sample names its movie relative to itself. Sent inline, it was looked for
    beside the server's private copy, and the refusal named that copy's folder in the state dir
    (gone once refused) rather than the path the editor can check, or what to do."""
    sample = Path(__file__).resolve().parents[2] / "samples" / "sample.otio"
    client = connect(make_server())
    error = _error(client.submit, sample, inline=True)
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "send it by path" in error.details()
    failure = [d for d in details_of(error) if isinstance(d, details.PreconditionFailure)][0]
    for violation in failure.violations:
        assert "looked for media/bigbuckbunny_320x180.mp4," in violation.description
        assert str(roots["state"]) not in violation.description

    # One clip found (its path made absolute), the others skipped saying the same.
    timeline = otio.adapters.read_from_file(str(sample))
    first = timeline.video_tracks()[0].find_clips()[0]
    first.media_reference.target_url = str(sample.parent / first.media_reference.target_url)
    partial = tmp_path / "partial.otio"
    otio.adapters.write_to_file(timeline, str(partial))
    job = client.wait(client.submit(partial, inline=True).job_id)
    assert job.state == pb.JOB_STATE_SUCCEEDED, job.message
    skipped = [c for c in job.clips if c.state == pb.CLIP_STATE_SKIPPED]
    assert len(skipped) == 3
    for clip in skipped:
        assert "looked for media/bigbuckbunny_320x180.mp4," in clip.message
        assert str(roots["state"]) not in clip.message


def test_a_state_dir_given_relative_names_inline_timelines_by_absolute_paths(
        make_server, connect, fixture_timeline, media_dir, tmp_path, monkeypatch):
    """`v2a serve --state-dir state`: the copy of an inline timeline was named relative to the
    server's working folder, so `Job.timeline_path` meant nothing to a panel, and a refusal's
    relative media were named joined to that folder (`looked for /home/me/media/...`, a path
    never looked at), not as the timeline names them."""
    monkeypatch.chdir(tmp_path)
    client = connect(make_server(state_dir=Path("state-here")))
    sample = Path(__file__).resolve().parents[2] / "samples" / "sample.otio"
    error = _error(client.submit, sample, inline=True)
    failure = [d for d in details_of(error) if isinstance(d, details.PreconditionFailure)][0]
    for violation in failure.violations:
        assert "looked for media/bigbuckbunny_320x180.mp4," in violation.description
    job = client.submit(fixture_timeline, inline=True, media_search_paths=(str(media_dir),))
    assert Path(job.timeline_path).is_absolute(), job.timeline_path


def test_unknown_jobs_and_clips_are_not_found(make_server, connect, fixture_timeline,
                                              media_dir):
    client = connect(make_server())
    for call in (client.get, client.cancel, client.result, lambda j: list(client.watch(j)),
                 lambda j: client.regenerate(j, clip_id="x")):
        error = _error(call, "no-such-job")
        assert error.code() == grpc.StatusCode.NOT_FOUND, call
        info = [d for d in details_of(error) if isinstance(d, details.ResourceInfo)][0]
        assert info.resource_type == "job" and info.resource_name == "no-such-job"
    job = client.wait(client.submit(fixture_timeline, inline=True,
                                    media_search_paths=(str(media_dir),)).job_id)
    error = _error(client.regenerate, job.job_id, clip_id="not-a-clip")
    assert error.code() == grpc.StatusCode.NOT_FOUND and "not-a-clip" in error.details()
    error = _error(client.regenerate, job.job_id, track="Track-001", record_time=99.0)
    assert error.code() == grpc.StatusCode.NOT_FOUND
    error = _error(client.submit, fixture_timeline, media_search_paths=(str(media_dir),),
                   clips=(pb.ClipAddress(clip_id="not-a-clip"),))
    assert error.code() == grpc.StatusCode.NOT_FOUND


def test_timeline_bytes_of_a_folder_bundle_or_a_moved_timeline_are_refused_saying_why(
        make_server, connect, fixture_timeline, media_dir, roots):
    """GetJobResult with the timeline's bytes read the written path as a file: an .otiod is a
    folder, and a timeline the editor moved since is gone; both were INTERNAL."""
    client = connect(make_server())
    sample = Path(__file__).resolve().parents[2] / "samples" / "sample.otio"  # media on disk
    bundle = client.wait(client.submit(sample, output_folder="bundle",
                                       output_format="otiod").job_id)
    assert client.result(bundle.job_id).timeline_path.endswith("sample.otiod")  # no bytes asked
    error = _error(client.result, bundle.job_id, include_timeline_data=True)
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "sample.otiod is a folder" in error.details()

    plain = client.wait(client.submit(fixture_timeline, output_folder="moved",
                                      media_search_paths=(str(media_dir),)).job_id)
    written = Path(client.result(plain.job_id).timeline_path)
    written.rename(written.with_name("renamed.otio"))
    error = _error(client.result, plain.job_id, include_timeline_data=True)
    assert error.code() == grpc.StatusCode.NOT_FOUND
    assert str(written) in error.details()
    assert client.info().sample_rate  # still serving


def test_an_otiod_bundle_is_read_by_path_and_another_folder_is_refused_as_one(
        make_server, connect, roots, tmp_path):
    """Info lists otiod among the formats read, and `v2a generate` reads one, but CreateJob took
    the bundle (a folder) for a missing file: 'timeline file … does not exist'."""
    client = connect(make_server())
    sample = Path(__file__).resolve().parents[2] / "samples" / "sample.otio"
    first = client.wait(client.submit(sample, output_folder="bundle",
                                      output_format="otiod").job_id)
    bundle = client.result(first.job_id).timeline_path
    assert bundle.endswith("sample.otiod") and Path(bundle).is_dir()
    again = client.wait(client.submit(bundle, output_folder="bundle").job_id)
    assert again.state == pb.JOB_STATE_SUCCEEDED, again.message
    assert {Path(c.media_path).name.split("_")[-1] for c in again.clips} == {"take2.wav"}
    with pytest.raises(ValueError, match="is a folder .* send it by path"):  # was IsADirectoryError
        client.submit(bundle, inline=True)

    folder = tmp_path / "cut.otio"
    folder.mkdir()
    error = _error(client.submit, folder)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "is a folder" in _violations(error)["timeline.path"]


def test_a_full_queue_is_resource_exhausted(make_server, connect, fixture_timeline, media_dir,
                                            monkeypatch):
    monkeypatch.setenv("V2A_TEST_STEP_SECONDS", "0.05")
    client = connect(make_server(generator="py:server_test_generators:slow", queue_size=2))
    jobs = [client.submit(fixture_timeline, media_search_paths=(str(media_dir),))
            for _ in range(3)]  # one running, two waiting
    error = _error(client.submit, fixture_timeline, media_search_paths=(str(media_dir),))
    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert any(isinstance(d, details.RetryInfo) for d in details_of(error))
    for job in jobs:
        client.cancel(job.job_id)


# --- path escapes ------------------------------------------------------------------------------


def test_output_folders_cannot_escape_the_output_root(make_server, connect, fixture_timeline,
                                                      media_dir, roots, tmp_path):
    client = connect(make_server())
    outside = tmp_path / "outside"
    outside.mkdir()
    (roots["out"] / "link").symlink_to(outside, target_is_directory=True)
    for folder in ("../outside", "a/../../outside", str(outside), "/etc", "link",
                   "link/deeper"):
        error = _error(client.submit, fixture_timeline, output_folder=folder,
                       media_search_paths=(str(media_dir),))
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, folder
        assert "output.folder" in _violations(error)
    assert list(outside.iterdir()) == []
    # Inside the root, absolute or relative, is fine.
    job = client.submit(fixture_timeline, output_folder=str(roots["out"] / "inside"),
                        media_search_paths=(str(media_dir),))
    assert Path(job.output_folder) == roots["out"] / "inside"
    client.cancel(job.job_id)


def test_an_output_folder_that_is_a_file_is_refused_at_once(make_server, connect,
                                                           fixture_timeline, media_dir, roots):
    """A file where the folder should be was accepted, queued, and failed the job later."""
    (roots["out"] / "notes.txt").write_text("the editor's")
    client = connect(make_server())
    for folder in ("notes.txt", "notes.txt/cut", str(roots["out"] / "notes.txt" / "cut")):
        error = _error(client.submit, fixture_timeline, output_folder=folder,
                       media_search_paths=(str(media_dir),))
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, folder
        assert "notes.txt is a file" in _violations(error)["output.folder"]
    assert (roots["out"] / "notes.txt").read_text() == "the editor's"
    assert client.list() == []


def test_an_inline_file_name_cannot_place_the_timeline_elsewhere(make_server, connect,
                                                                 fixture_timeline, media_dir,
                                                                 roots, tmp_path):
    client = connect(make_server())
    request = api.CreateJobRequest(
        timeline=pb.TimelineSource(inline_data=fixture_timeline.read_bytes(),
                                   file_name="../../../escape.otio",
                                   media_search_paths=[str(media_dir)]),
        output=pb.OutputSpec(folder="named"))
    job = client.stub.CreateJob(request, metadata=client.metadata).job
    assert Path(job.timeline_path).parent.parent == roots["state"] / "timelines"
    assert Path(job.timeline_path).name == "escape.otio"
    client.wait(job.job_id)
    assert not (tmp_path / "escape.otio").exists()


def test_reflection_lists_the_services(make_server):
    from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
        ProtoReflectionDescriptorDatabase,
    )

    server = make_server()
    with grpc.insecure_channel(server.address) as channel:
        authorized = grpc.intercept_channel(channel, _BearerToken(server.token))
        services = ProtoReflectionDescriptorDatabase(authorized).get_services()
    assert {"v2a.v1.V2AService", "grpc.health.v1.Health"} <= set(services)


class _BearerToken(grpc.UnaryUnaryClientInterceptor, grpc.StreamStreamClientInterceptor):
    def __init__(self, token: str):
        self.metadata = (("authorization", f"Bearer {token}"),)

    def _with_token(self, details):
        return details._replace(metadata=(*(details.metadata or ()), *self.metadata))

    def intercept_unary_unary(self, continuation, details, request):
        return continuation(self._with_token(details), request)

    def intercept_stream_stream(self, continuation, details, requests):
        return continuation(self._with_token(details), requests)


def test_list_jobs_refuses_a_state_filter_it_does_not_know_rather_than_listing_every_job(
        make_server, connect, fixture_timeline, media_dir):
    """`states: [JOB_STATE_UNSPECIFIED]`, or a state number a newer panel knows (99), was
    dropped from the filter, and a filter left empty lists every job: a panel asking for its
    "paused" jobs got the succeeded and failed ones. A page token whose time is NaN listed
    nothing, without a word, instead of being refused as not from ListJobs."""
    client = connect(make_server())
    job = client.submit(fixture_timeline, media_search_paths=(str(media_dir),))
    for states in ([99], [pb.JOB_STATE_UNSPECIFIED], [pb.JOB_STATE_QUEUED, 99]):
        error = _error(client.stub.ListJobs, api.ListJobsRequest(states=states),
                       metadata=client.metadata)
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, states
        field = f"states[{states.index(99) if 99 in states else 0}]"
        assert "JOB_STATE_SUCCEEDED" in _violations(error)[field], _violations(error)
    for token in (f"nan/{job.job_id}", f"inf/{job.job_id}"):
        error = _error(client.stub.ListJobs, api.ListJobsRequest(page_token=token),
                       metadata=client.metadata)
        assert "page_token" in _violations(error), token
    known = client.list(states=(pb.JOB_STATE_QUEUED, pb.JOB_STATE_RUNNING,
                                pb.JOB_STATE_SUCCEEDED))
    assert [j.job_id for j in known] == [job.job_id]


class _SlowPlanning:
    """v2a.pipeline whose planning takes `seconds` (a feature edit on a loaded machine)."""

    def __init__(self, pipeline, seconds: float):
        self._pipeline, self._seconds = pipeline, seconds

    def __getattr__(self, name):
        return getattr(self._pipeline, name)

    def plan_job(self, *args, **kwargs):
        import time

        time.sleep(self._seconds)
        return self._pipeline.plan_job(*args, **kwargs)


def test_a_job_whose_caller_gave_up_while_it_was_planned_is_not_queued(
        make_server, connect, fixture_timeline, media_dir, roots):
    """CreateJob past its deadline answered DEADLINE_EXCEEDED and queued the job all the same:
    the panel had no id to watch or cancel it, and its retry ran the whole edit a second time
    into the same folder (a 600-clip edit with a 0.08 s deadline, on a live server)."""
    import time

    server = make_server()
    patient = connect(server)
    parent = patient.wait(patient.submit(fixture_timeline, output_folder="parent",
                                         media_search_paths=(str(media_dir),)).job_id)
    server.runner.pipeline = _SlowPlanning(server.runner.pipeline, 0.6)
    client = connect(server, timeout=0.2)
    for inline in (False, True):
        error = _error(client.submit, fixture_timeline, inline=inline, output_folder="gave up",
                       media_search_paths=(str(media_dir),))
        assert error.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    error = _error(client.regenerate, parent.job_id, clip_id=parent.clips[0].clip_id)
    assert error.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    time.sleep(1.0)  # the planning ends on the server
    assert [job.job_id for job in patient.list()] == [parent.job_id]
    assert not (roots["out"] / "gave up").exists()
    # The inline timeline's copy goes with the job that was never queued.
    assert list((roots["state"] / "timelines").iterdir()) == []
