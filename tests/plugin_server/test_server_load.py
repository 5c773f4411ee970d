"""A busy server: more watch streams than it has threads for, jobs listed page by page while
they change, progress a watcher was too slow to read."""

from __future__ import annotations

import threading
import time

import grpc

from plugin_server.errors import details_of
from v2a.v1 import jobs_pb2 as pb


def _open_watch(client, job_id: str, opened: list, refused: list) -> None:
    """Follow a job: the first event means the stream holds a server thread."""
    stream = client.watch(job_id)
    try:
        next(stream)
        opened.append(stream)
    except grpc.RpcError as error:
        refused.append(error)


def test_watch_streams_past_the_limit_are_refused_so_other_calls_still_get_a_thread(
        make_server, connect, fixture_timeline, media_dir, monkeypatch):
    monkeypatch.setenv("V2A_TEST_STEP_SECONDS", "0.2")  # the job outlasts the test
    server = make_server(generator="py:server_test_generators:slow", rpc_threads=18)
    client = connect(server, timeout=10.0)
    job = client.submit(fixture_timeline, media_search_paths=(str(media_dir),))

    opened, refused = [], []
    threads = [threading.Thread(target=_open_watch, args=(client, job.job_id, opened, refused))
               for _ in range(18)]  # as many streams as the server has threads
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    try:
        assert client.info().version  # answered: streams did not take every thread
        assert client.cancel(job.job_id).state == pb.JOB_STATE_CANCELLED
        assert refused and len(opened) + len(refused) == 18
        error = refused[0]
        assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert "WatchJob streams are open" in error.details()
        assert any(d.retry_delay.seconds for d in details_of(error) if hasattr(d, "retry_delay"))
    finally:
        for stream in opened:
            stream.cancel()


def test_a_closed_watch_stream_gives_its_place_back(make_server, connect, fixture_timeline,
                                                   media_dir, monkeypatch):
    monkeypatch.setenv("V2A_TEST_STEP_SECONDS", "0.2")
    server = make_server(generator="py:server_test_generators:slow", rpc_threads=17)  # 1 stream
    client = connect(server, timeout=10.0)
    job = client.submit(fixture_timeline, media_search_paths=(str(media_dir),))
    opened, refused = [], []
    _open_watch(client, job.job_id, opened, refused)
    _open_watch(client, job.job_id, opened, refused)
    assert len(opened) == 1 and refused[0].code() == grpc.StatusCode.RESOURCE_EXHAUSTED

    opened.pop().cancel()
    for _ in range(50):  # the server notices a closed stream within its 1 s wait for events
        refused.clear()
        _open_watch(client, job.job_id, opened, refused)
        if opened:
            break
        time.sleep(0.1)
    assert opened, "a closed stream never gave its place back"
    opened[0].cancel()
    client.cancel(job.job_id)


def _page(client, page_size: int, token: str = "", states=()):
    from v2a.v1 import v2a_service_pb2 as api

    page = client.stub.ListJobs(api.ListJobsRequest(page_size=page_size, page_token=token,
                                                    states=states), metadata=client.metadata)
    return [job.job_id for job in page.jobs], page.next_page_token


def test_list_pages_neither_repeat_nor_skip_jobs_while_jobs_arrive_and_change_state(
        make_server, connect, fixture_timeline, media_dir, monkeypatch):
    monkeypatch.setenv("V2A_TEST_STEP_SECONDS", "0.2")  # the first job runs, the rest wait
    server = make_server(generator="py:server_test_generators:slow")
    client = connect(server)

    def submit() -> str:
        return client.submit(fixture_timeline, media_search_paths=(str(media_dir),)).job_id

    submitted = [submit() for _ in range(6)]
    first, token = _page(client, 2)
    submit(), submit()  # newer jobs arrive between two pages
    rest = []
    while token:
        ids, token = _page(client, 2, token)
        rest += ids
    assert not set(first) & set(rest)
    assert set(first) | set(rest) == set(submitted)

    queued = [pb.JOB_STATE_QUEUED]
    first, token = _page(client, 2, states=queued)
    for job_id in first:  # the jobs just listed leave the filter
        client.cancel(job_id)
    waiting = {j.job_id for j in client.list(states=(pb.JOB_STATE_QUEUED,))}
    rest = []
    while token:
        ids, token = _page(client, 2, token, states=queued)
        rest += ids
    assert set(rest) == waiting  # every job still queued, none lost to the shift
    for job_id in client.list(states=(pb.JOB_STATE_QUEUED, pb.JOB_STATE_RUNNING)):
        client.cancel(job_id.job_id)


def test_a_watch_ends_with_every_clip_as_the_store_has_it_whatever_events_were_lost(
        make_server, connect, fixture_timeline, media_dir):
    """A watcher too slow for its queue lost events, a clip's final state among them (11 of
    1,500 clips were wrong at the stream's end on a live server). Here every event is lost,
    as a full queue would lose it: the stream still ends with each clip's final state."""
    server = make_server()
    server.events.publish = lambda event: None  # every watcher's queue is full
    client = connect(server)
    job = client.submit(fixture_timeline, media_search_paths=(str(media_dir),))
    last = {}
    final = client.wait(job.job_id, on_event=lambda e: last.update(
        {e.clip.clip_id: e.clip.state} if e.HasField("clip") else {}))
    assert final.state == pb.JOB_STATE_SUCCEEDED
    assert last == {clip.clip_id: clip.state for clip in final.clips}
    assert set(last.values()) == {pb.CLIP_STATE_DONE}


def test_listing_jobs_costs_less_than_reading_five_of_their_results(make_server, connect, roots):
    from plugin_server.jobs import SUCCEEDED, JobRecord, JobStore

    # 20 regenerations of a feature edit, kept as the store keeps them: each result names the
    # current take of every one of its 2,000 clips (about 1 MB of JSON).
    provenance = {"model": "v2a-small", "checkpoint_sha256": "0" * 64, "seed": 1234,
                  "prompt": "footsteps on gravel", "steps": 16, "source_track": "V1"}
    takes = [{"clip_id": f"{i:010x}", "path": f"/out/audio/{i:010x}_take2.wav",
              "start_sample": 192_000 * i, "num_samples": 192_000, "handle_before_samples": 0,
              "handle_after_samples": 0, "provenance": {**provenance, "source_clip": f"shot{i}"}}
             for i in range(2000)]
    store = JobStore(roots["state"] / "jobs.sqlite3")
    for n in range(20):
        store.add(JobRecord(f"regen{n:02d}", "regenerate", SUCCEEDED, "/out/cut.otio", "/out",
                            result={"timeline_path": "/out/cut.otio", "generated": takes}))
    store.close()
    client = connect(make_server())
    client.info()

    cpu = time.process_time()
    listed = client.list(page_size=20)
    listing = time.process_time() - cpu
    cpu = time.process_time()
    for n in range(5):
        client.get(f"regen{n:02d}")
    five_results = time.process_time() - cpu
    assert [j.result_timeline_path for j in listed] == ["/out/cut.otio"] * 20
    # Before, a page parsed each listed job's result whole: 7 times five of them (a page of 50
    # regenerations of a 2,000-clip edit: 0.5 s of the server's CPU, for a panel's poll).
    assert listing < five_results, (listing, five_results)
