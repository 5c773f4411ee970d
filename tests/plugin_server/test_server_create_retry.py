"""CreateJob's and RegenerateClip's request_id: a retried call (its answer lost to a deadline or
a dropped connection) gets the job the first one queued instead of queueing it a second time."""

from __future__ import annotations

import threading
import time

import grpc
import pytest
from google.rpc import error_details_pb2 as details

from plugin_server.client import V2AClient
from plugin_server.errors import details_of
from v2a.v1 import jobs_pb2 as pb
from v2a.v1 import v2a_service_pb2 as api


def _request(fixture_timeline, media_dir, request_id: str, prompt: str = "") -> api.CreateJobRequest:
    return api.CreateJobRequest(
        timeline=pb.TimelineSource(path=str(fixture_timeline),
                                   media_search_paths=[str(media_dir)]),
        params=pb.GenerationParams(prompt=prompt), request_id=request_id)


def _answer_late(server, seconds: float) -> None:
    """The server queues the job, then takes `seconds` to answer: what a deadline passing
    between its check and the queueing does (the caller hears DEADLINE_EXCEEDED of a job that
    runs)."""
    submit = server.runner.submit

    def queued_then_slow(*args, **kwargs):
        job = submit(*args, **kwargs)
        time.sleep(seconds)
        return job

    server.runner.submit = queued_then_slow


def _job_ids(client) -> list[str]:
    return [job.job_id for job in client.list()]


def _all_at_once(call, count: int) -> list:
    """The answers of `count` threads making `call` at the same moment (a barrier lets them
    go together): retries of one request racing each other."""
    answers, start = [], threading.Barrier(count)

    def make_call():
        start.wait()
        answers.append(call())

    threads = [threading.Thread(target=make_call) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return answers


def test_a_create_job_retried_with_its_request_id_gets_the_job_its_lost_answer_queued(
        make_server, connect, fixture_timeline, media_dir):
    server = make_server()
    client = connect(server)
    _answer_late(server, 1.0)
    request = _request(fixture_timeline, media_dir, "panel-7f3a")
    with pytest.raises(grpc.RpcError) as lost:
        client.stub.CreateJob(request, metadata=client.metadata, timeout=0.3)
    assert lost.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    (queued,) = _job_ids(client)  # the caller never heard of it
    again = client.stub.CreateJob(request, metadata=client.metadata, timeout=10).job
    assert again.job_id == queued and again.request_id == "panel-7f3a"
    assert _job_ids(client) == [queued], "the retry queued the edit a second time"
    assert client.get(queued).request_id == "panel-7f3a"
    # Another request id is another job; none at all, as before, a new job each time.
    other = client.stub.CreateJob(_request(fixture_timeline, media_dir, "panel-7f3b"),
                                  metadata=client.metadata, timeout=10).job
    plain = client.stub.CreateJob(_request(fixture_timeline, media_dir, ""),
                                  metadata=client.metadata, timeout=10).job
    assert len({queued, other.job_id, plain.job_id}) == 3 and plain.request_id == ""


def test_a_request_id_reused_for_another_request_is_refused_naming_its_job(
        make_server, connect, fixture_timeline, media_dir):
    server = make_server()
    client = connect(server)
    first = client.stub.CreateJob(_request(fixture_timeline, media_dir, "r1", "rain"),
                                  metadata=client.metadata, timeout=10).job
    with pytest.raises(grpc.RpcError) as refused:
        client.stub.CreateJob(_request(fixture_timeline, media_dir, "r1", "wind"),
                              metadata=client.metadata, timeout=10)
    assert refused.value.code() == grpc.StatusCode.ALREADY_EXISTS
    assert f"job {first.job_id}" in refused.value.details()
    (info,) = [d for d in details_of(refused.value) if isinstance(d, details.ResourceInfo)]
    assert (info.resource_type, info.resource_name) == ("job", first.job_id)
    assert _job_ids(client) == [first.job_id]


@pytest.mark.parametrize("request_id", ["x" * 129, "two words", "tab\there", "é"])
def test_a_request_id_a_log_line_cannot_hold_is_refused(make_server, connect, fixture_timeline,
                                                        media_dir, request_id):
    client = connect(make_server())
    with pytest.raises(grpc.RpcError) as refused:
        client.stub.CreateJob(_request(fixture_timeline, media_dir, request_id),
                              metadata=client.metadata, timeout=10)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    (bad,) = [d for d in details_of(refused.value) if isinstance(d, details.BadRequest)]
    assert [v.field for v in bad.field_violations] == ["request_id"]
    assert _job_ids(client) == []


@pytest.mark.parametrize("inline", [False, True])
def test_retries_with_one_request_id_at_once_queue_one_job(make_server, connect, roots,
                                                           fixture_timeline, media_dir, inline):
    """A panel that retries while its first call is still being planned sends the same id
    twice at once: one job, all answered with it, and no other call's inline copy left."""
    from plugin_server.inline import inline_timelines_dir

    server = make_server(generator="py:server_test_generators:slow")  # no job ends meanwhile
    client = connect(server)
    request = _request(fixture_timeline, media_dir, "same-at-once")
    if inline:
        request.timeline.ClearField("path")
        request.timeline.inline_data = fixture_timeline.read_bytes()
        request.timeline.file_name = fixture_timeline.name
    answers = _all_at_once(lambda: client.stub.CreateJob(
        request, metadata=client.metadata, timeout=20).job, 6)
    assert len(answers) == 6 and len({job.job_id for job in answers}) == 1
    assert _job_ids(client) == [answers[0].job_id]
    copies = inline_timelines_dir(roots["state"])
    kept = sorted(p.name for p in copies.iterdir()) if copies.is_dir() else []
    assert kept == ([answers[0].job_id] if inline else []), kept


def test_a_request_id_still_names_its_job_after_a_restart(make_server, connect, fixture_timeline,
                                                          media_dir):
    server = make_server()
    first = connect(server).stub.CreateJob(_request(fixture_timeline, media_dir, "kept"),
                                           metadata=connect(server).metadata, timeout=10).job
    server.stop(grace_seconds=0.5)
    client = connect(make_server())
    again = client.stub.CreateJob(_request(fixture_timeline, media_dir, "kept"),
                                  metadata=client.metadata, timeout=10).job
    assert again.job_id == first.job_id
    assert _job_ids(client) == [first.job_id]


def test_the_python_client_retries_a_lost_create_with_the_same_request_id(
        make_server, fixture_timeline, media_dir):
    server = make_server()
    _answer_late(server, 1.0)
    retried = []
    with V2AClient(server.address, token=server.token, timeout=0.3) as client:
        job = client.submit(fixture_timeline, media_search_paths=(str(media_dir),),
                            on_retry=lambda error, pause: retried.append(error.code()))
        assert retried == [grpc.StatusCode.DEADLINE_EXCEEDED]
        assert len(job.request_id) == 32  # a uuid4's hex, drawn for this submit
    with V2AClient(server.address, token=server.token) as patient:
        assert _job_ids(patient) == [job.job_id]
        # A regeneration of it is a job of its own, with no request_id of its parent's.
        done = patient.wait(job.job_id)
        assert done.state == pb.JOB_STATE_SUCCEEDED, done.message
        again = patient.regenerate(job.job_id, clip_id=done.clips[0].clip_id)
        assert again.request_id not in ("", job.request_id)
        assert patient.wait(again.job_id).state == pb.JOB_STATE_SUCCEEDED


def test_the_cli_submit_retries_a_lost_create_saying_so(make_server, roots, fixture_timeline,
                                                        media_dir, capsys, monkeypatch):
    from plugin_server import cli
    from v2a.cli import main

    server = make_server()
    _answer_late(server, 1.0)
    opened = cli._client

    def impatient(args):  # its deadline passes while the server answers late
        client = opened(args)
        client.timeout = 0.3
        return client

    monkeypatch.setattr(cli, "_client", impatient)
    assert main(["client", "--address", server.address, "--token-file", str(roots["token"]),
                 "submit", str(fixture_timeline), "--media-path", str(media_dir)]) == 0
    out, err = capsys.readouterr()
    assert "v2a client: CreateJob got DEADLINE_EXCEEDED (Deadline Exceeded); trying again in " \
        "0.5 s with the same request_id, which cannot queue the job twice" in err, err
    with V2AClient(server.address, token=server.token) as client:
        assert _job_ids(client) == [out.strip()]


def _succeeded_job(server, fixture_timeline, media_dir) -> pb.Job:
    with V2AClient(server.address, token=server.token) as client:
        job = client.submit(fixture_timeline, media_search_paths=(str(media_dir),))
        done = client.wait(job.job_id)
    assert done.state == pb.JOB_STATE_SUCCEEDED, done.message
    return done


def _regenerate_request(job: pb.Job, request_id: str, **fields) -> api.RegenerateClipRequest:
    return api.RegenerateClipRequest(job_id=job.job_id, clip=pb.ClipAddress(
        clip_id=job.clips[0].clip_id), request_id=request_id, **fields)


def test_a_regenerate_clip_retried_with_its_request_id_gets_the_job_its_lost_answer_queued(
        make_server, connect, fixture_timeline, media_dir):
    server = make_server()
    client = connect(server)
    parent = _succeeded_job(server, fixture_timeline, media_dir)
    _answer_late(server, 1.0)
    request = _regenerate_request(parent, "regen-5c1d")  # no seed: the server draws one
    with pytest.raises(grpc.RpcError) as lost:
        client.stub.RegenerateClip(request, metadata=client.metadata, timeout=0.3)
    assert lost.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    (queued,) = [j for j in _job_ids(client) if j != parent.job_id]  # never heard of
    again = client.stub.RegenerateClip(request, metadata=client.metadata, timeout=10).job
    assert again.job_id == queued and again.request_id == "regen-5c1d"
    assert again.parent_job_id == parent.job_id
    assert sorted(_job_ids(client)) == sorted([parent.job_id, queued]), "regenerated twice"
    # The same id for another regeneration (a seed of its own) is refused, naming the job; so
    # is a CreateJob's id sent with a RegenerateClip.
    for reused in (_regenerate_request(parent, "regen-5c1d", seed=7),
                   _regenerate_request(parent, parent.request_id)):
        with pytest.raises(grpc.RpcError) as refused:
            client.stub.RegenerateClip(reused, metadata=client.metadata, timeout=10)
        assert refused.value.code() == grpc.StatusCode.ALREADY_EXISTS
    assert f"job {parent.job_id}" in refused.value.details()
    assert sorted(_job_ids(client)) == sorted([parent.job_id, queued])


def test_regenerations_with_one_request_id_at_once_queue_one_job(make_server, connect,
                                                                fixture_timeline, media_dir):
    server = make_server()
    parent = _succeeded_job(server, fixture_timeline, media_dir)
    client = connect(server)
    request = _regenerate_request(parent, "regen-at-once")
    answers = _all_at_once(lambda: client.stub.RegenerateClip(
        request, metadata=client.metadata, timeout=20).job, 4)
    assert len(answers) == 4 and len({job.job_id for job in answers}) == 1
    assert sorted(_job_ids(client)) == sorted([parent.job_id, answers[0].job_id])


def test_a_regenerate_request_id_still_names_its_job_after_a_restart(
        make_server, connect, fixture_timeline, media_dir):
    server = make_server()
    parent = _succeeded_job(server, fixture_timeline, media_dir)
    client = connect(server)
    first = client.stub.RegenerateClip(_regenerate_request(parent, "kept-regen"),
                                       metadata=client.metadata, timeout=10).job
    server.stop(grace_seconds=0.5)
    client = connect(make_server())
    again = client.stub.RegenerateClip(_regenerate_request(parent, "kept-regen"),
                                       metadata=client.metadata, timeout=10).job
    assert again.job_id == first.job_id
    assert sorted(_job_ids(client)) == sorted([parent.job_id, first.job_id])


def test_a_bad_regenerate_request_id_is_refused(make_server, connect, fixture_timeline,
                                                media_dir):
    server = make_server()
    parent = _succeeded_job(server, fixture_timeline, media_dir)
    client = connect(server)
    with pytest.raises(grpc.RpcError) as refused:
        client.stub.RegenerateClip(_regenerate_request(parent, "two words"),
                                   metadata=client.metadata, timeout=10)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    (bad,) = [d for d in details_of(refused.value) if isinstance(d, details.BadRequest)]
    assert [v.field for v in bad.field_violations] == ["request_id"]
    assert _job_ids(client) == [parent.job_id]


def test_the_python_client_retries_a_lost_regenerate_with_the_same_request_id(
        make_server, fixture_timeline, media_dir):
    server = make_server()
    parent = _succeeded_job(server, fixture_timeline, media_dir)
    _answer_late(server, 1.0)
    retried = []
    with V2AClient(server.address, token=server.token, timeout=0.3) as client:
        job = client.regenerate(parent.job_id, clip_id=parent.clips[0].clip_id,
                                on_retry=lambda error, pause: retried.append(error.code()))
    assert retried == [grpc.StatusCode.DEADLINE_EXCEEDED]
    assert len(job.request_id) == 32 and job.parent_job_id == parent.job_id
    with V2AClient(server.address, token=server.token) as patient:
        assert sorted(_job_ids(patient)) == sorted([parent.job_id, job.job_id])


def test_the_cli_regenerate_retries_a_lost_answer_saying_so(make_server, roots, fixture_timeline,
                                                            media_dir, capsys, monkeypatch):
    from plugin_server import cli
    from v2a.cli import main

    server = make_server()
    parent = _succeeded_job(server, fixture_timeline, media_dir)
    _answer_late(server, 1.0)
    opened = cli._client

    def impatient(args):
        client = opened(args)
        client.timeout = 0.3
        return client

    monkeypatch.setattr(cli, "_client", impatient)
    assert main(["client", "--address", server.address, "--token-file", str(roots["token"]),
                 "regenerate", parent.job_id, "--clip", parent.clips[0].clip_id]) == 0
    out, err = capsys.readouterr()
    assert "v2a client: RegenerateClip got DEADLINE_EXCEEDED (Deadline Exceeded); trying again " \
        "in 0.5 s with the same request_id, which cannot queue the job twice" in err, err
    with V2AClient(server.address, token=server.token) as client:
        assert sorted(_job_ids(client)) == sorted([parent.job_id, out.strip()])


def _without(monkeypatch, capability: str) -> None:
    """The server lists no `capability`, as one older than it does (which ignores the field, so
    a retry there could queue the job twice)."""
    from plugin_server import service

    monkeypatch.setattr(service, "CAPABILITIES",
                        tuple(c for c in service.CAPABILITIES if c != capability))


def _counting_info(client) -> list:
    """The GetServerInfo calls `client` makes from now on."""
    asked, real = [], client.stub.GetServerInfo

    def info(*args, **kwargs):
        asked.append(1)
        return real(*args, **kwargs)

    client.stub.GetServerInfo = info
    return asked


@pytest.mark.parametrize("call", ["submit", "regenerate"])
def test_the_client_does_not_retry_where_the_server_does_not_read_its_request_id(
        make_server, fixture_timeline, media_dir, monkeypatch, call):
    server = make_server()
    parent = _succeeded_job(server, fixture_timeline, media_dir) if call == "regenerate" else None
    _without(monkeypatch, f"{'create' if call == 'submit' else 'regenerate'}_request_id")
    _answer_late(server, 1.0)
    retried = []
    with V2AClient(server.address, token=server.token, timeout=0.3) as client:
        asked = _counting_info(client)
        with pytest.raises(grpc.RpcError) as lost:
            if call == "submit":
                client.submit(fixture_timeline, media_search_paths=(str(media_dir),),
                              on_retry=lambda error, pause: retried.append(error.code()))
            else:
                client.regenerate(parent.job_id, clip_id=parent.clips[0].clip_id,
                                  on_retry=lambda error, pause: retried.append(error.code()))
    assert lost.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert retried == [] and asked == [1]
    with V2AClient(server.address, token=server.token) as patient:
        assert len(_job_ids(patient)) == (1 if call == "submit" else 2), "no job or a second"


def test_the_client_asks_for_the_capabilities_once_and_only_before_a_retry(
        make_server, fixture_timeline, media_dir):
    server = make_server()
    with V2AClient(server.address, token=server.token) as client:
        asked = _counting_info(client)
        client.submit(fixture_timeline, media_search_paths=(str(media_dir),))
        assert asked == [], "a call answered at once asked the server what it reads"
        _answer_late(server, 1.0)
        client.timeout = 0.3
        retried = []
        for _ in range(2):
            client.submit(fixture_timeline, media_search_paths=(str(media_dir),),
                          on_retry=lambda error, pause: retried.append(error.code()))
        assert retried == [grpc.StatusCode.DEADLINE_EXCEEDED] * 2 and asked == [1]
    # A caller that asked for the server's info already is not asked again.
    with V2AClient(server.address, token=server.token, timeout=0.3) as client:
        client.info()
        asked = _counting_info(client)
        client.submit(fixture_timeline, media_search_paths=(str(media_dir),))
        assert asked == []


def test_a_call_that_never_reached_the_server_is_not_retried(make_server, fixture_timeline,
                                                             media_dir):
    """Connection refused (the server stopped since the client last called it) cannot have
    queued anything: the error comes at once, not after the retries' 1.5 s."""
    server = make_server()
    retried = []
    with V2AClient(server.address, token=server.token) as client:
        assert "create_request_id" in client.info().capabilities  # retries would be allowed
        server.stop(grace_seconds=0.5)
        time.sleep(0.3)  # the client hears the connection close
        start = time.monotonic()
        with pytest.raises(grpc.RpcError) as refused:
            client.submit(fixture_timeline, media_search_paths=(str(media_dir),),
                          on_retry=lambda error, pause: retried.append(error.code()))
        took = time.monotonic() - start
    assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
    assert retried == [] and took < 0.4, (retried, took)


class _DroppingProxy:
    """A TCP proxy in front of a server that can drop its open connections: a call sent through
    it that loses its connection so ends UNAVAILABLE after the server got it."""

    def __init__(self, target: str):
        import socket

        self._target = target.rsplit(":", 1)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.address = f"127.0.0.1:{self._listener.getsockname()[1]}"
        self._open: list = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        import socket

        while True:
            try:
                near, _ = self._listener.accept()
            except OSError:
                return
            far = socket.create_connection((self._target[0], int(self._target[1])))
            self._open.append(near)
            for source, sink in ((near, far), (far, near)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pump(source, sink) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        for end in (source, sink):
            end.close()

    def drop(self) -> None:
        import socket

        opened, self._open = self._open, []
        for near in opened:
            try:
                near.shutdown(socket.SHUT_RDWR)
            except OSError:  # its pump closed it already (the client went)
                pass

    def close(self) -> None:
        self._listener.close()
        self.drop()


def test_a_call_whose_connection_dropped_after_it_was_sent_is_retried(
        make_server, fixture_timeline, media_dir):
    server = make_server()
    proxy = _DroppingProxy(server.address)
    submit = server.runner.submit

    def queued_then_cut(*args, **kwargs):  # the answer's connection goes as the job is queued
        job = submit(*args, **kwargs)
        proxy.drop()
        time.sleep(0.2)
        return job

    server.runner.submit = queued_then_cut
    retried = []
    try:
        with V2AClient(proxy.address, token=server.token) as client:
            job = client.submit(fixture_timeline, media_search_paths=(str(media_dir),),
                                on_retry=lambda error, pause: retried.append(error.code()))
    finally:
        proxy.close()
    assert retried == [grpc.StatusCode.UNAVAILABLE]
    with V2AClient(server.address, token=server.token) as client:
        assert _job_ids(client) == [job.job_id]


def test_the_cli_submit_to_no_server_says_so_without_retrying(roots, fixture_timeline,
                                                               capsys):
    import socket

    from v2a.cli import main

    with socket.create_server(("127.0.0.1", 0)) as unused:  # a port nothing listens on, after
        port = unused.getsockname()[1]
    roots["token"].parent.mkdir(parents=True)
    roots["token"].write_text("t0ken\n")
    # Exit 2: a user error, as every subcommand says one (README, "Errors and exit status").
    assert main(["client", "--address", f"127.0.0.1:{port}", "--token-file",
                 str(roots["token"]), "submit", str(fixture_timeline)]) == 2
    err = capsys.readouterr().err
    assert "trying again" not in err and "is `v2a serve` running there?" in err, err
