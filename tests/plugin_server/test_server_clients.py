"""What a panel developer and an editor meet in the clients (`V2AClient`, `v2a client …`)
against a real server: tokens as files hold them, the CLI's JSON, cancel, watching into a log."""

from __future__ import annotations

import json

import grpc
import pytest

from plugin_server.client import V2AClient
from v2a.cli import main


def test_a_token_with_the_newline_of_its_file_is_taken_as_the_token(make_server, roots):
    """A token read with `cat` (or `open().read()`) ends in the newline the server writes after
    it: gRPC refused the call on the client's side with `INTERNAL: Invalid metadata`, never
    naming the token. The server and the bridge strip it; so does the client now."""
    server = make_server()
    contents = roots["token"].read_text()
    assert contents.endswith("\n")
    for given in (contents, f"  {server.token}\r\n", f"\t{server.token} "):
        with V2AClient(server.address, token=given) as client:
            assert client.info().version


def test_a_token_no_call_can_carry_is_refused_naming_where_it_came_from(make_server, roots,
                                                                        tmp_path, capsys):
    """A line break or a non-ASCII character inside the token: gRPC refuses the call itself
    (`INTERNAL: Invalid metadata`); the client says what is wrong with which token, and never
    prints the token."""
    server = make_server()
    secret = server.token
    with pytest.raises(ValueError) as raised:
        V2AClient(server.address, token=f"{secret}\n{secret}")
    message = str(raised.value)
    assert message.startswith("the token given (token=) holds a line break")
    assert secret not in message
    two_lines = tmp_path / "token"
    two_lines.write_text(f"{secret}\nsomething else\n")
    with pytest.raises(ValueError) as raised:
        V2AClient(server.address, token_file=two_lines)
    message = str(raised.value)
    assert message.startswith(f"the token in {two_lines} holds a line break")
    assert secret not in message
    with pytest.raises(ValueError, match=r"token=\) holds a character a token never has"):
        V2AClient(server.address, token="tökén")
    # A space inside is something a call carries: the server answers, and says it is wrong.
    with V2AClient(server.address, token="not the token") as client, \
            pytest.raises(grpc.RpcError) as refused:
        client.info()
    assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
    # The command line says it in one line too, as it says any user error (exit status 2).
    assert main(["client", "--address", server.address, "--token-file", str(two_lines),
                 "info"]) == 2
    assert capsys.readouterr().err == (
        f"v2a client: error: the token in {two_lines} holds a line break: a token is the one "
        "line `v2a serve` writes in its token file\n")


def _keys(value) -> set[str]:
    """Every key of a JSON document, at any depth."""
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in _keys(v)}
    if isinstance(value, list):
        return {k for v in value for k in _keys(v)}
    return set()


def _client_args(server, roots) -> list[str]:
    return ["client", "--address", server.address, "--token-file", str(roots["token"])]


def test_every_json_the_command_line_prints_names_fields_as_the_proto_does(
        make_server, roots, fixture_timeline, media_dir, capsys):
    """`get`, `info` and `cancel` printed proto3 JSON's camelCase (`jobId`), `result` the
    .proto's names (`clip_id`), which the Node client, the bridge and docs/server.md use too: a
    script reading both had to know which command spoke which."""
    server = make_server()
    base = _client_args(server, roots)
    assert main([*base, "submit", str(fixture_timeline), "--inline", "--out", "names",
                 "--media-path", str(media_dir), "--watch"]) == 0
    job_id = capsys.readouterr().out.splitlines()[0]
    printed = {}
    for command in ("get", "result", "cancel"):
        main([*base, command, job_id])
        printed[command] = json.loads(capsys.readouterr().out)
    assert main([*base, "info"]) == 0
    printed["info"] = json.loads(capsys.readouterr().out)
    assert printed["get"]["job_id"] == job_id and printed["cancel"]["job_id"] == job_id
    assert printed["get"]["clips"][0]["clip_id"] == printed["result"]["clips"][0]["clip_id"]
    assert printed["info"]["sample_rate"] == 48000
    for command, document in printed.items():
        assert not [k for k in _keys(document) if k != k.lower()], command
    # And an error's google.rpc details, printed one line each.
    assert main([*base, "get", "no-such-job"]) == 2
    assert '  ResourceInfo: {"resource_type": "job", ' in capsys.readouterr().err


def test_cancel_says_what_it_did_and_fails_when_the_job_had_already_ended(
        make_server, roots, fixture_timeline, media_dir, capsys, monkeypatch):
    """CancelJob answers a job that ended with the job as it is: `v2a client cancel` printed it
    with exit status 0, and a finished job read as one it had just cancelled."""
    monkeypatch.setenv("V2A_TEST_STEP_SECONDS", "0.05")  # 40 steps of 50 ms a clip
    server = make_server(generator="py:server_test_generators:slow")
    base = _client_args(server, roots)
    assert main([*base, "submit", str(fixture_timeline), "--inline", "--out", "ended",
                 "--media-path", str(media_dir), "--steps", "1", "--watch"]) == 0
    ended = capsys.readouterr().out.splitlines()[0]
    assert main([*base, "cancel", ended]) == 1
    out, err = capsys.readouterr()
    assert json.loads(out)["state"] == "JOB_STATE_SUCCEEDED"
    assert err == f"{ended}: had already ended, succeeded; nothing was cancelled\n"

    assert main([*base, "submit", str(fixture_timeline), "--inline", "--out", "running",
                 "--media-path", str(media_dir)]) == 0
    running = capsys.readouterr().out.strip()
    assert main([*base, "cancel", running]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["state"] == "JOB_STATE_CANCELLED"
    assert err.startswith(f"{running}: cancelled")  # "(… before it started)" if it was queued
    assert main([*base, "cancel", running]) == 1  # a second time: nothing left to cancel
    assert capsys.readouterr().err.startswith(f"{running}: had already ended, cancelled")


def test_cancel_in_a_further_take_says_the_job_stopped_after_the_takes_written(
        make_server, connect, roots, fixture_timeline, media_dir, capsys, monkeypatch):
    """Such a job ends SUCCEEDED with the takes already on its timeline: cancelled all the same."""
    from v2a.v1 import jobs_pb2 as pb

    monkeypatch.setenv("V2A_TEST_STEP_SECONDS", "0.05")
    server = make_server(generator="py:server_test_generators:slow")
    client = connect(server)
    job = client.submit(fixture_timeline, inline=True, output_folder="takes",
                        media_search_paths=(str(media_dir),),
                        params=pb.GenerationParams(steps=4, takes=3))
    for event in client.watch(job.job_id):
        if event.clip.take == 2 and event.clip.state == pb.CLIP_STATE_RUNNING:
            break
    assert main([*_client_args(server, roots), "cancel", job.job_id]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["state"] == "JOB_STATE_SUCCEEDED"
    assert err == f"{job.job_id}: succeeded (stopped after take 1 of 3 (cancelled))\n"


def _many_clips(path, media, count: int):
    """A one-track cut of `count` quarter-second shots of one movie."""
    import opentimelineio as otio

    rate = 24
    track = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    for i in range(count):
        track.append(otio.schema.Clip(
            name=f"shot{i:03d}",
            media_reference=otio.schema.ExternalReference(
                target_url=str(media),
                available_range=otio.opentime.TimeRange(otio.opentime.RationalTime(0, rate),
                                                        otio.opentime.RationalTime(120, rate))),
            source_range=otio.opentime.TimeRange(otio.opentime.RationalTime(6 * (i % 16), rate),
                                                 otio.opentime.RationalTime(6, rate))))
    timeline = otio.schema.Timeline(name="many")
    timeline.tracks.append(track)
    otio.adapters.write_to_file(timeline, str(path))
    return path


def test_watch_into_a_log_says_a_cancelled_jobs_clips_in_one_line_not_one_each(
        make_server, connect, roots, media_dir, capsys, monkeypatch, tmp_path):
    """A cancel ends every clip not yet done `CANCELLED` with the same reason: into a log,
    `watch` printed a line per clip (600 for a 600-clip job). Clips that ended alike are one line
    with their count now; a clip done or failed is still a line of its own."""
    import threading

    from v2a.v1 import jobs_pb2 as pb

    monkeypatch.setenv("V2A_TEST_STEP_SECONDS", "0.05")
    server = make_server(generator="py:server_test_generators:slow")
    client = connect(server)
    cut = _many_clips(tmp_path / "many.otio", media_dir / "titles.mov", 30)
    job = client.submit(cut, output_folder="many", params=pb.GenerationParams(steps=2))

    def cancel_after_the_first_clip():
        with V2AClient(server.address, token=server.token) as canceller:
            for event in canceller.watch(job.job_id):
                if event.clip.state == pb.CLIP_STATE_DONE:
                    canceller.cancel(job.job_id)
                    return

    cancelling = threading.Thread(target=cancel_after_the_first_clip)
    cancelling.start()
    assert main([*_client_args(server, roots), "watch", job.job_id]) == 1  # not succeeded
    cancelling.join(10)
    out, err = capsys.readouterr()
    assert out.splitlines()[-1] == f"{job.job_id}: cancelled"  # not "cancelled (cancelled)"
    lines = [line.removeprefix(f"{job.job_id}: ") for line in err.splitlines()]
    cancelled = [line for line in lines if "cancelled" in line]
    assert len(cancelled) <= 3, err  # one line a reason: after done, while running, queued
    assert "1/30 shot000: done" in "".join(lines[:1])  # at once, a line of its own
    counted = [line for line in cancelled
               if " clips cancelled (cancelled before it started)" in line]
    assert len(counted) == 1, err
    assert counted[0].startswith("30/30 ")
    # The replay of the ended job: every clip's state at once, the same lines.
    assert main([*_client_args(server, roots), "watch", job.job_id]) == 1
    replayed = capsys.readouterr().err.splitlines()
    assert len(replayed) <= 3 and sum(int(line.split()[2]) if " clips " in line else 1
                                      for line in replayed) == 30, replayed


def test_watch_into_a_log_keeps_a_line_for_each_skipped_clip_whose_reason_is_its_own(capsys):
    """Skipped clips are held like cancelled ones, but a reason naming the clip's own media is
    what the editor relinks by: those stay a line each, said before the next clip's progress."""
    from plugin_server.cli import _follow
    from v2a.v1 import jobs_pb2 as pb
    from v2a.v1 import v2a_service_pb2 as api

    def clip(clip_id, state, message=""):
        return api.WatchJobResponse(job_id="j", clip=pb.ClipProgress(
            clip_id=clip_id, clip_name=clip_id.upper(), state=state, message=message))

    offline = "media offline: looked for /shots/{}.mov"
    events = [clip("a", pb.CLIP_STATE_SKIPPED, offline.format("a")),
              clip("b", pb.CLIP_STATE_SKIPPED, offline.format("b")),
              clip("c", pb.CLIP_STATE_RUNNING), clip("c", pb.CLIP_STATE_DONE),
              clip("d", pb.CLIP_STATE_SKIPPED, "no picture"),
              clip("e", pb.CLIP_STATE_SKIPPED, "no picture")]

    class Client:
        def watch(self, job_id):
            return iter(events)

        def get(self, job_id):
            clips = {e.clip.clip_id: e.clip for e in events}
            return pb.Job(job_id=job_id, state=pb.JOB_STATE_SUCCEEDED, clips=clips.values())

    assert _follow(Client(), "j") == 0
    assert capsys.readouterr().err.splitlines() == [
        f"j: 2/5 A: skipped ({offline.format('a')})", f"j: 2/5 B: skipped ({offline.format('b')})",
        "j: 3/5 C: done", "j: 5/5 2 clips skipped (no picture)"]


def _watch_in_a_thread(server, roots, job_id: str, reconnect_for: float, capsys):
    """`v2a client watch JOB` run in a thread, started once its stream is open (it has printed
    the job's first clip); returns the thread, what it printed so far, and where its exit status
    goes. Stopped before, the watch's first GetJob finds no server, which the generic hint
    answers."""
    import threading
    import time

    watched = {}
    watching = threading.Thread(target=lambda: watched.update(rc=main([
        "client", "--address", server.address, "--token-file", str(roots["token"]),
        "watch", "--reconnect-for", str(reconnect_for), job_id])))
    watching.start()
    err, deadline = "", time.monotonic() + 30
    while f"{job_id}: 1/4 " not in err:
        assert time.monotonic() < deadline, f"no clip ended within 30 s: {err}"
        time.sleep(0.05)
        err += capsys.readouterr().err
    return watching, err, watched


def test_watch_gives_up_on_a_server_that_does_not_come_back_saying_the_job_survives(
        server_process, roots, fixture_timeline, media_dir, capsys):
    """`v2a serve` stopped (SIGTERM: an update, a restart) while `watch` followed a job: it said
    "error: UNAVAILABLE: Cancelling all calls / is `v2a serve` running there?", as if the server
    had never run, and nothing of the job, which the server requeued to run when it starts.
    Now it tries to reconnect for --reconnect-for seconds, then says it gave up, and why."""
    import time

    from v2a.v1 import jobs_pb2 as pb

    server = server_process()
    with server.client() as client:
        job = client.submit(fixture_timeline, inline=True, output_folder="stopped",
                            media_search_paths=(str(media_dir),))
        watching, err, watched = _watch_in_a_thread(server, roots, job.job_id, 1.5, capsys)
        assert client.get(job.job_id).state == pb.JOB_STATE_RUNNING
    server.proc.terminate()  # SIGTERM: running jobs get --grace 1 s, then are requeued
    stopped = time.monotonic()
    watching.join(30)
    assert watched["rc"] == 1
    assert server.proc.wait(10) == 0
    err += capsys.readouterr().err
    assert "is `v2a serve` running there?" not in err, err
    lines = err.splitlines()
    assert any(line.startswith(f"{job.job_id}: lost the server while watching (")
               and line.endswith("); reconnecting for up to 1.5 s") for line in lines), err
    assert lines[-1].startswith(f"{job.job_id}: gave up reconnecting after 1.5 s ("), err
    assert lines[-1].endswith(
        "); the server keeps its jobs, and queues one it stopped for its next start "
        f"(`v2a client watch {job.job_id}` follows it then)"), err
    # Bounded: the grace second, the 1.5 s of tries, one last try's answer.
    assert time.monotonic() - stopped < 10


@pytest.mark.parametrize("stop", ["SIGKILL", "SIGTERM"])
def test_watch_reconnects_to_a_restarted_server_and_follows_the_job_to_its_end(
        server_process, make_server, roots, fixture_timeline, media_dir, capsys, stop):
    """A server restarted under `watch` (killed, or stopped for an update) keeps the job and
    runs it again: `watch` reconnected to nothing, it ended with exit status 1 while the job
    went on. Now it reconnects to the same address and follows the same job to its end."""
    import signal
    import time

    server = server_process(step_seconds=0.02)  # 0.8 s a clip: stopped in the second or third
    with server.client() as client:
        job = client.submit(fixture_timeline, inline=True, output_folder="restarted",
                            media_search_paths=(str(media_dir),))
        watching, err, watched = _watch_in_a_thread(server, roots, job.job_id, 30, capsys)
    server.proc.send_signal(getattr(signal, stop))
    server.proc.wait(15)
    time.sleep(1.0)  # the watch finds no server for a while: it keeps trying
    port = int(server.address.rsplit(":", 1)[1])
    make_server(port=port)  # the same address, state folder, token and output roots
    watching.join(60)
    captured = capsys.readouterr()
    err += captured.err
    assert watched.get("rc") == 0, err
    lines = err.splitlines()
    assert any(line.startswith(f"{job.job_id}: lost the server while watching (")
               for line in lines), err
    reconnected = [line for line in lines if line.startswith(f"{job.job_id}: reconnected")]
    assert len(reconnected) == 1, err
    # The clips the restarted server ran were followed after the reconnection.
    assert f"{job.job_id}: 4/4 " in err.split(reconnected[0])[1], err
    assert f"{job.job_id}: succeeded" in captured.out.splitlines(), captured.out
