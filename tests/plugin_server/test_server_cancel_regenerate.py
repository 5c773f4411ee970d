"""Cancel mid-job and regenerate one clip, through the real server."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import grpc
import opentimelineio as otio
import pytest
from google.rpc import error_details_pb2 as details
from server_test_generators import SteppingSine

from plugin_server.errors import details_of
from v2a.v1 import jobs_pb2 as pb


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _files(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()}


def test_cancel_mid_job_stops_within_a_step_and_leaves_no_files(make_server, connect,
                                                                fixture_timeline, media_dir,
                                                                roots, monkeypatch):
    monkeypatch.setenv("V2A_TEST_STEP_SECONDS", "0.05")
    server = make_server(generator="py:server_test_generators:slow")  # 40 steps × 50 ms a clip
    client = connect(server)
    job = client.submit(fixture_timeline, inline=True, output_folder="cancelled",
                        media_search_paths=(str(media_dir),))
    seen_done = False
    for event in client.watch(job.job_id):
        seen_done |= event.HasField("clip") and event.clip.state == pb.CLIP_STATE_DONE
        # Cancel once the second clip is part-way: one take is written, one is being sampled.
        if seen_done and event.clip.state == pb.CLIP_STATE_RUNNING and event.clip.step >= 3:
            break
    started = time.monotonic()
    cancelled = client.cancel(job.job_id)
    took = time.monotonic() - started

    assert cancelled.state == pb.JOB_STATE_CANCELLED
    assert took < 1.0, f"cancel took {took:.2f} s, a step is 0.05 s"
    assert {c.state for c in cancelled.clips} == {pb.CLIP_STATE_CANCELLED}
    # No take (finished or partial) and no timeline: the folder is as the job found it, not
    # there (it kept the empty folder and its audio/ the job had made).
    assert not (roots["out"] / "cancelled").exists()
    assert client.get(job.job_id).state == pb.JOB_STATE_CANCELLED
    # The server is alive and runs the next job.
    again = client.submit(fixture_timeline, inline=True, output_folder="after",
                          media_search_paths=(str(media_dir),),
                          params=pb.GenerationParams(steps=1))
    assert client.wait(again.job_id).state == pb.JOB_STATE_SUCCEEDED


def test_a_cancel_leaves_the_editors_own_files_in_the_output_folder(make_server, connect,
                                                                    fixture_timeline, media_dir,
                                                                    roots, monkeypatch):
    # An output folder may be the editor's project folder: its hidden temp files and folders,
    # at any depth, are not the job's to clean (a recursive sweep once deleted them all).
    project = roots["out"] / "ShowA"
    theirs = [project / ".autosave.tmp", project / "edits" / "reel1" / ".Reel 1.prproj.tmp",
              project / "audio" / ".notes.tmp", project / ".v2a-project-notes" / "notes.txt"]
    for path in theirs:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("the editor's")
    monkeypatch.setenv("V2A_TEST_STEP_SECONDS", "0.05")
    server = make_server(generator="py:server_test_generators:slow")
    client = connect(server)
    job = client.submit(fixture_timeline, inline=True, output_folder="ShowA",
                        media_search_paths=(str(media_dir),))
    for event in client.watch(job.job_id):
        if event.clip.state == pb.CLIP_STATE_RUNNING:
            break
    assert client.cancel(job.job_id).state == pb.JOB_STATE_CANCELLED
    assert [p for p in theirs if not p.is_file()] == []


def test_a_cancel_in_a_further_take_keeps_the_takes_already_on_the_timeline(
        make_server, connect, fixture_timeline, media_dir, roots, monkeypatch):
    # takes: 2 writes the timeline after take 1, then regenerates every clip on it. A cancel in
    # take 2 left that timeline and its take 1 files behind a CANCELLED job whose clips said "the
    # job wrote no timeline" yet named the take 1 files.
    monkeypatch.setenv("V2A_TEST_STEP_SECONDS", "0.02")
    server = make_server(generator="py:server_test_generators:slow")
    client = connect(server)
    job = client.submit(fixture_timeline, inline=True, output_folder="takes",
                        media_search_paths=(str(media_dir),),
                        params=pb.GenerationParams(steps=5, takes=2))
    for event in client.watch(job.job_id):
        if event.clip.state == pb.CLIP_STATE_DONE and "_take2" in event.clip.media_path:
            break
    client.cancel(job.job_id)
    ended = client.get(job.job_id)

    folder = roots["out"] / "takes"
    assert ended.state == pb.JOB_STATE_SUCCEEDED
    assert "stopped after take 1 of 2 (cancelled)" in ended.message
    assert {c.state for c in ended.clips} == {pb.CLIP_STATE_DONE}
    takes = {str(Path(c.media_path).relative_to(folder)) for c in ended.clips}
    assert all(t.endswith("_take1.wav") for t in takes)
    # On disk: the take 1 timeline and exactly the takes it references, no take 2 file.
    assert _files(folder) == takes | {fixture_timeline.name}
    written = otio.adapters.read_from_file(str(folder / fixture_timeline.name))
    referenced = {Path(c.media_reference.target_url).name for c in written.find_clips()
                  if "_take" in getattr(c.media_reference, "target_url", "")}
    assert referenced == {Path(t).name for t in takes}
    result = client.result(job.job_id)
    assert {Path(c.media_path).name for c in result.clips} == referenced


def test_after_a_cancel_no_clip_names_a_take_that_was_removed(make_server, connect,
                                                              fixture_timeline, media_dir,
                                                              monkeypatch):
    monkeypatch.setenv("V2A_TEST_STEP_SECONDS", "0.05")
    client = connect(make_server(generator="py:server_test_generators:slow"))
    job = client.submit(fixture_timeline, inline=True, output_folder="cancelled",
                        media_search_paths=(str(media_dir),))
    stream = client.watch(job.job_id)
    done_take = None
    for event in stream:
        if event.HasField("clip") and event.clip.state == pb.CLIP_STATE_DONE:
            done_take = Path(event.clip.media_path)
        if done_take and event.clip.state == pb.CLIP_STATE_RUNNING:
            break
    assert done_take.is_file() and done_take.name in _done_message(client, job.job_id)
    client.cancel(job.job_id)
    last = {e.clip.clip_id: e.clip for e in stream if e.HasField("clip")}  # the same watcher

    assert not done_take.exists()
    final = client.get(job.job_id).clips
    assert {c.state for c in final} == {pb.CLIP_STATE_CANCELLED}
    # The watcher ends with what GetJob says, and neither names the removed take.
    assert {c.clip_id: c for c in final} == {c.clip_id: last[c.clip_id] for c in final}
    for clip in final:
        assert clip.media_path == "" and ".wav" not in clip.message, clip
    messages = sorted(c.message for c in final)
    assert any("take was removed" in m for m in messages), messages
    assert any("while it was being generated" in m for m in messages), messages


def _done_message(client, job_id: str) -> str:
    return next(c.message for c in client.get(job_id).clips if c.state == pb.CLIP_STATE_DONE)


def test_cancel_a_queued_job_never_runs_it(make_server, connect, fixture_timeline, media_dir,
                                           monkeypatch):
    monkeypatch.setenv("V2A_TEST_STEP_SECONDS", "0.05")
    server = make_server(generator="py:server_test_generators:slow", concurrency=1)
    client = connect(server)
    first = client.submit(fixture_timeline, inline=True, media_search_paths=(str(media_dir),))
    second = client.submit(fixture_timeline, inline=True, media_search_paths=(str(media_dir),))
    cancelled = client.cancel(second.job_id)
    assert cancelled.state == pb.JOB_STATE_CANCELLED and cancelled.attempts == 0
    client.cancel(first.job_id)


def test_regenerate_one_clip_adds_an_active_take_and_leaves_the_others(make_server, connect,
                                                                      fixture_timeline,
                                                                      media_dir, roots):
    server = make_server()
    client = connect(server)
    job = client.submit(fixture_timeline, inline=True, output_folder="regen",
                        media_search_paths=(str(media_dir),), params=pb.GenerationParams(seed=1))
    job = client.wait(job.job_id)
    assert job.state == pb.JOB_STATE_SUCCEEDED, job.message
    before = {c.clip_id: (c.media_path, _digest(Path(c.media_path))) for c in job.clips}
    target = job.clips[1]

    child = client.regenerate(job.job_id, clip_id=target.clip_id, seed=5, prompt="wind")
    assert child.kind == pb.JOB_KIND_REGENERATE and child.parent_job_id == job.job_id
    assert [c.clip_id for c in child.clips] == [target.clip_id]
    child = client.wait(child.job_id)
    assert child.state == pb.JOB_STATE_SUCCEEDED, child.message

    result = client.result(child.job_id)
    files = {c.clip_id: c.media_path for c in result.clips}
    assert set(files) == set(before)  # the whole timeline's current takes
    new_take = Path(files[target.clip_id])
    assert new_take.name.endswith("_take2.wav") and new_take.is_file()
    assert Path(before[target.clip_id][0]).is_file()  # the old take stays available
    for clip_id, (path, digest) in before.items():
        if clip_id != target.clip_id:
            assert files[clip_id] == path and _digest(Path(path)) == digest

    timeline = otio.adapters.read_from_file(result.timeline_path)
    keys = {}
    for track in timeline.audio_tracks():
        for clip in track.find_clips():
            keys[Path(clip.media_reference.target_url).name] = clip.active_media_reference_key
    assert keys[new_take.name] == "take2"
    assert json_seed(result, target.clip_id) == 5


def json_seed(result, clip_id: str) -> int:
    import json

    clip = next(c for c in result.clips if c.clip_id == clip_id)
    return json.loads(clip.provenance_json)["seed"]


def test_a_regenerations_result_names_every_clip_it_lists(make_server, connect, fixture_timeline,
                                                         media_dir):
    client = connect(make_server())
    job = client.wait(client.submit(fixture_timeline, inline=True,
                                    media_search_paths=(str(media_dir),)).job_id)
    child = client.wait(client.regenerate(job.job_id, clip_id=job.clips[1].clip_id).job_id)
    assert child.state == pb.JOB_STATE_SUCCEEDED, child.message
    # A panel lists the whole timeline's current takes by name: only the regenerated one had it.
    names = {c.clip_id: c.clip_name for c in job.clips}
    assert {c.clip_id: c.clip_name for c in client.result(child.job_id).clips} == names
    assert sorted(names.values()) == ["Clip-001", "Clip-002", "Clip-003", "Clip-004"]


def test_a_result_sends_only_the_clips_asked_for(make_server, connect, fixture_timeline, media_dir):
    client = connect(make_server())
    job = client.wait(client.submit(fixture_timeline, inline=True,
                                    media_search_paths=(str(media_dir),)).job_id)
    target = job.clips[2]
    child = client.wait(client.regenerate(job.job_id, clip_id=target.clip_id).job_id)
    # A panel redrawing the clip it regenerated: not the whole timeline's takes, each read for
    # its peaks (2,300 clips: 5.4 MiB and 1.8 s of the server's CPU).
    only = client.result(child.job_id, clip_ids=[target.clip_id])
    assert [(c.clip_id, c.clip_name) for c in only.clips] == [(target.clip_id, target.clip_name)]
    assert only.clips[0].media_path == child.clips[0].media_path
    assert len(only.clips[0].peaks.max) == 256
    assert len(client.result(child.job_id).clips) == 4  # none named: every clip, as before
    with pytest.raises(grpc.RpcError) as caught:
        client.result(child.job_id, clip_ids=[target.clip_id, "no-such-clip"])
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    info = [d for d in details_of(caught.value) if isinstance(d, details.ResourceInfo)]
    assert [(i.resource_type, i.resource_name) for i in info] == [("clip", "no-such-clip")]


def test_regenerate_by_track_and_record_time(make_server, connect, fixture_timeline, media_dir):
    server = make_server()
    client = connect(server)
    job = client.wait(client.submit(fixture_timeline, inline=True,
                                    media_search_paths=(str(media_dir),)).job_id)
    # Clip-003 sits at frames 9..13 of the 24 fps track: 0.45 s is inside it.
    child = client.regenerate(job.job_id, track="Track-001", record_time=0.45)
    assert [c.clip_name for c in child.clips] == ["Clip-003"]
    assert client.wait(child.job_id).state == pb.JOB_STATE_SUCCEEDED


def test_regenerating_twice_from_the_same_job_keeps_both_new_takes(make_server, connect,
                                                                  fixture_timeline, media_dir):
    client = connect(make_server())
    job = client.wait(client.submit(fixture_timeline, inline=True,
                                    media_search_paths=(str(media_dir),)).job_id)
    first, second = job.clips[0].clip_id, job.clips[2].clip_id
    client.wait(client.regenerate(job.job_id, clip_id=first).job_id)
    latest = client.wait(client.regenerate(job.job_id, clip_id=second).job_id)
    files = {c.clip_id: Path(c.media_path).name for c in client.result(latest.job_id).clips}
    assert files[first].endswith("_take2.wav") and files[second].endswith("_take2.wav")
    timeline = otio.adapters.read_from_file(client.result(latest.job_id).timeline_path)
    active = sorted(c.active_media_reference_key for t in timeline.audio_tracks()
                    for c in t.find_clips())
    assert active == ["take1", "take1", "take2", "take2"]


def test_two_regenerations_running_at_once_both_reach_the_timeline(make_server, connect,
                                                                     fixture_timeline, media_dir):
    # With two workers, two regenerations of one job write the same timeline file. Each must
    # start from the other's result (the folder's jobs run one at a time): without that, both
    # read the timeline with take1 everywhere and the later write drops the earlier new take.
    sampler = SteppingSine(steps=40)  # no wait a step: the job to regenerate need not be slow
    server = make_server(generator=sampler, concurrency=2)
    client = connect(server)
    job = client.wait(client.submit(fixture_timeline, inline=True, output_folder="together",
                                    media_search_paths=(str(media_dir),)).job_id)
    assert job.state == pb.JOB_STATE_SUCCEEDED, job.message
    sampler.step_seconds = 0.05  # 2 s a regeneration: the second is asked for while the first runs
    first, second = job.clips[0].clip_id, job.clips[2].clip_id
    jobs = [client.regenerate(job.job_id, clip_id=clip) for clip in (first, second)]
    # Until both run (one waiting for the other's folder), or one ended (a slow machine).
    deadline, waiting = time.monotonic() + 30, (pb.JOB_STATE_QUEUED, pb.JOB_STATE_RUNNING)
    while True:
        states = [client.get(j.job_id).state for j in jobs]
        if states == [pb.JOB_STATE_RUNNING] * 2 or not set(states) <= set(waiting):
            break
        assert time.monotonic() < deadline, states
        time.sleep(0.02)
    sampler.step_seconds = 0.0  # both at once: the rest need not be slow
    done = [client.wait(j.job_id) for j in jobs]
    assert all(j.state == pb.JOB_STATE_SUCCEEDED for j in done), [j.message for j in done]
    paths = {client.result(j.job_id).timeline_path for j in done}
    assert len(paths) == 1  # one file, as the editor sees it after both
    timeline = otio.adapters.read_from_file(paths.pop())
    active = sorted(c.active_media_reference_key for t in timeline.audio_tracks()
                    for c in t.find_clips())
    assert active == ["take1", "take1", "take2", "take2"]
    assert server.runner._folder_locks == {}  # no job holds or waits for the folder: its lock is gone


def test_a_job_waiting_for_its_folder_says_so_to_late_watchers_and_pollers(make_server, connect,
                                                                           fixture_timeline, media_dir):
    # Two workers, two jobs into one folder: the second waits for the first. A panel that asks
    # (GetJob) or starts watching only after the wait began must still learn why it sits at 0 %.
    server = make_server(generator="py:server_test_generators:slow", concurrency=2)
    client = connect(server)
    first, second = (client.submit(fixture_timeline, inline=True, output_folder="shared",
                                   media_search_paths=(str(media_dir),)) for _ in range(2))
    deadline = time.monotonic() + 30
    while "waiting" not in client.get(second.job_id).message:
        assert time.monotonic() < deadline, client.get(second.job_id)
        time.sleep(0.02)
    first_message = next(event.message for event in client.watch(second.job_id) if event.message)
    assert first_message.startswith("waiting: another job is writing the output folder shared")
    client.cancel(first.job_id)  # the folder frees up: the second job runs, and says so
    while client.get(second.job_id).message:
        assert time.monotonic() < deadline, client.get(second.job_id)
        time.sleep(0.02)
    assert client.get(second.job_id).state == pb.JOB_STATE_RUNNING
    client.cancel(second.job_id)


def test_a_job_read_with_reader_options_takes_further_takes_and_is_regenerated(
        make_server, connect, edl_timeline, edl_media):
    # A 25 fps EDL is read with `rate`; a further take and a regeneration read the .otio the
    # job wrote, and the OTIO JSON reader refused that option: the second take failed and the
    # regeneration was refused (INVALID_ARGUMENT).
    client = connect(make_server())
    job = client.wait(client.submit(edl_timeline, inline=True, output_format="cmx_3600",
                                    media_search_paths=(str(edl_media),),
                                    adapter_options={"rate": "25"},
                                    params=pb.GenerationParams(takes=2)).job_id)
    _took_two_takes_and_regenerates(client, job)


def test_a_job_on_a_files_second_timeline_by_index_takes_further_takes_and_is_regenerated(
        make_server, connect, fixture_timeline, media_dir, tmp_path):
    # `timeline: 1` picks a file's second timeline. The .otio the job writes holds that one
    # alone, and a further take and a regeneration read it with the same option: "no timeline
    # '1' in the file" failed the second take and refused the regeneration.
    first, second = (otio.adapters.read_from_file(str(fixture_timeline)) for _ in range(2))
    first.name, second.name = "first cut", "second cut"
    cuts = tmp_path / "cuts.otio"
    otio.adapters.write_to_file(otio.schema.SerializableCollection(children=[first, second]),
                                str(cuts))
    client = connect(make_server())
    job = client.wait(client.submit(cuts, media_search_paths=(str(media_dir),),
                                    adapter_options={"timeline": "1"},
                                    params=pb.GenerationParams(takes=2)).job_id)
    again = _took_two_takes_and_regenerates(client, job)
    written = otio.adapters.read_from_file(client.result(again.job_id).timeline_path)
    assert written.name == "second cut"


def _took_two_takes_and_regenerates(client, job: pb.Job) -> pb.Job:
    """Checks that a `takes: 2` job ended with every clip on its second take, and that a clip
    of it regenerates as a third; the regeneration job."""
    assert job.state == pb.JOB_STATE_SUCCEEDED and not job.message, job.message
    assert {Path(c.media_path).name.split("_")[-1] for c in job.clips} == {"take2.wav"}
    again = client.wait(client.regenerate(job.job_id, clip_id=job.clips[0].clip_id).job_id)
    assert again.state == pb.JOB_STATE_SUCCEEDED, again.message
    assert Path(again.clips[0].media_path).name.endswith("_take3.wav")
    return again


def test_a_job_in_the_format_it_came_in_keeps_that_format_for_further_takes_and_regeneration(
        make_server, connect, edl_timeline, edl_media, roots):
    # No output format: the EDL it came in as. An EDL cannot carry every take, so the job writes
    # the whole result as an .otio beside it, which a further take and a regeneration read. They
    # then wrote that .otio alone: the EDL the editor imports kept the first take of every clip
    # and never got the regenerated one.
    client = connect(make_server())
    job = client.wait(client.submit(edl_timeline, output_folder="as-it-came",
                                    media_search_paths=(str(edl_media),),
                                    adapter_options={"rate": "25"},
                                    params=pb.GenerationParams(takes=2)).job_id)
    edl = roots["out"] / "as-it-came" / "25fps.edl"
    assert Path(job.result_timeline_path) == edl
    second_takes = {Path(c.media_path).name for c in job.clips}
    assert all(take in edl.read_text() for take in second_takes), edl.read_text()
    again = _took_two_takes_and_regenerates(client, job)
    result = client.result(again.job_id)
    assert result.timeline_format == "cmx_3600" and Path(result.timeline_path) == edl
    assert Path(result.fallback_otio_path) == edl.with_suffix(".otio")
    listed = edl.read_text()
    takes = {Path(c.media_path).name for c in again.clips} | {
        Path(c.media_path).name for c in job.clips[1:]}
    assert all(take in listed for take in takes), (takes, listed)
    assert "_take1.wav" not in listed


def test_after_a_ripple_regenerating_by_the_old_id_adds_that_clips_next_take(
    make_server, connect, fixture_timeline, media_dir
):
    """The editor trims Clip-001 by a frame in the job's result; Clip-003 moves up. The id the
    panel got for it still names it (NOT_FOUND before), and its new take is take2 of that id
    (it was take1 of a new id)."""
    client = connect(make_server())
    job = client.wait(client.submit(fixture_timeline, inline=True,
                                    media_search_paths=(str(media_dir),)).job_id)
    target = job.clips[2]
    written = client.result(job.job_id).timeline_path
    timeline = otio.adapters.read_from_file(written)
    first = timeline.video_tracks()[0][0]
    first.source_range = otio.opentime.TimeRange(
        first.source_range.start_time, first.source_range.duration - otio.opentime.RationalTime(1, 24))
    otio.adapters.write_to_file(timeline, written)

    child = client.wait(client.regenerate(job.job_id, clip_id=target.clip_id).job_id)
    assert child.state == pb.JOB_STATE_SUCCEEDED, child.message
    files = {c.clip_id: Path(c.media_path).name for c in client.result(child.job_id).clips}
    assert files[target.clip_id] == f"{target.clip_id}_take2.wav"
    assert set(files) == {c.clip_id for c in job.clips}


def test_regenerations_of_a_job_run_again_on_its_own_edl_write_into_that_edl(
        make_server, connect, edl_timeline, edl_media, roots):
    # The panel sends back the EDL a job wrote, to run again in its folder: the list is
    # written in place, the whole result as .otio beside it, which a regeneration reads. That
    # .otio recorded the list as it was before v2a wrote over it: each regeneration found it
    # "changed since v2a read it" and wrote the .otio alone, the list never got its take.
    client = connect(make_server())
    options = {"media_search_paths": (str(edl_media),), "adapter_options": {"rate": "25"}}
    first = client.wait(client.submit(edl_timeline, output_folder="in-place", **options).job_id)
    edl = roots["out"] / "in-place" / "25fps.edl"
    assert Path(first.result_timeline_path) == edl, first.message
    job = client.wait(client.submit(edl, output_folder="in-place", **options).job_id)
    assert job.state == pb.JOB_STATE_SUCCEEDED, job.message
    for clip in job.clips[:2]:  # two in a row
        again = client.wait(client.regenerate(job.job_id, clip_id=clip.clip_id).job_id)
        result = client.result(again.job_id)
        assert again.state == pb.JOB_STATE_SUCCEEDED, again.message
        assert Path(result.timeline_path) == edl, result.format_note
        assert Path(again.clips[0].media_path).name in edl.read_text()
