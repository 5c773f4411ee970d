"""The server as a separate process: kill -9 mid-job, SIGTERM mid-job, then a restart (a server
on the same state folder, in this process) finds every job and leaves no partial or orphaned
files."""

from __future__ import annotations

import json
import signal
import sqlite3
import time
import zlib
from pathlib import Path

import grpc
import opentimelineio as otio
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from server_test_generators import SteppingSine

from v2a.media.audio import read_wav
from v2a.v1 import jobs_pb2 as pb

#: The clip record of a v2a before clips counted their take (f8d0ae4), which the store's layout
#: still serves.
OLDER_CLIP_FIELDS = {"clip_id", "clip_name", "state", "step", "total_steps", "media_path", "message"}

STEP_SECONDS = 0.02  # 40 steps: 0.8 s a clip, 3.2 s for the 4 clips of simple_cut.otio
#: For a server nothing interrupts mid-sampling (a restarted one, one killed at a write): the
#: steps only cost time there (this file took 77 s of the suite's 450 with every server slow).
FAST_STEP_SECONDS = 0.002


@pytest.fixture
def restart(make_server, connect):
    """A client of the server started again on a stopped one's state folder, output roots and
    token: in this process, since what a start does with the job store and the folders is
    RunningServer's, which `v2a serve` runs as it is. Only the servers killed or stopped under a
    job are processes of their own (a process costs this file a second and a half at each
    start, 20 s of its 50 when the restarts were processes too)."""

    def start():
        return connect(make_server(generator=_fast_steps()))

    return start


def _fast_steps() -> SteppingSine:
    """`slow`'s 40 steps at FAST_STEP_SECONDS: an in-process server's generator."""
    return SteppingSine(steps=40, step_seconds=FAST_STEP_SECONDS)


def _wait_until_mid_job(client, job_id: str) -> None:
    """Until one clip is done and the next is part-way through sampling."""
    done = False
    for event in client.watch(job_id):
        done |= event.HasField("clip") and event.clip.state == pb.CLIP_STATE_DONE
        if done and event.clip.state == pb.CLIP_STATE_RUNNING and event.clip.step >= 3:
            return
    raise AssertionError("the job ended before it was interrupted")


def _referenced_takes(timeline_path: str) -> set[str]:
    timeline = otio.adapters.read_from_file(timeline_path)
    names = set()
    for track in timeline.audio_tracks():
        for clip in track.find_clips():
            for ref in clip.media_references().values():
                names.add(Path(ref.target_url.removeprefix("file://")).name)
    return names


def test_kill_9_mid_job_then_restart_reruns_it_cleanly(server_process, restart, fixture_timeline,
                                                       media_dir, roots):
    server = server_process(step_seconds=STEP_SECONDS)
    client = server.client()
    job = client.submit(fixture_timeline, inline=True, output_folder="killed",
                        media_search_paths=(str(media_dir),))
    _wait_until_mid_job(client, job.job_id)
    audio = roots["out"] / "killed" / "audio"
    finished_before_kill = sorted(audio.glob("*.wav"))
    assert finished_before_kill, "one take should be written before the kill"
    server.proc.send_signal(signal.SIGKILL)
    server.proc.wait(10)
    client.close()
    # What a kill in the middle of an atomic write leaves behind (v2a.files.atomic_write's temp name).
    (audio / ".Clip-002_take1.wav.x1y2z3.tmp").write_bytes(b"RIFF\0\0")
    # And of a timeline write (otio_adapters.write's staging folder beside the timeline).
    staging = roots["out"] / "killed" / ".v2a-k1l2m3n4"
    staging.mkdir()
    (staging / "simple_cut.otio").write_text("{")

    client = restart()
    again = client.get(job.job_id)
    assert again.state in (pb.JOB_STATE_QUEUED, pb.JOB_STATE_RUNNING)
    assert {c.take for c in again.clips} == {1}
    final = client.wait(job.job_id)

    assert final.state == pb.JOB_STATE_SUCCEEDED, final.message
    assert final.attempts == 2
    out = roots["out"] / "killed"
    assert not list(out.rglob("*.tmp")), "a half-written file survived"
    assert not staging.exists(), "a half-written timeline's staging folder survived"
    on_disk = {p.name for p in audio.glob("*.wav")}
    assert on_disk == _referenced_takes(final.result_timeline_path), "orphaned takes"
    assert len(on_disk) == 4
    for path in audio.glob("*.wav"):
        samples, _ = read_wav(str(path))
        assert len(samples) > 0


def test_kill_9_in_a_further_take_keeps_the_written_takes_at_restart(server_process, restart,
                                                                     fixture_timeline,
                                                                     media_dir, roots):
    # takes: 2 writes the timeline after take 1, then regenerates every clip on it. Killed in
    # take 2, the restart reran the job from the source: take 1's files stayed on disk, referred
    # to by nothing, beside the rerun's new take 1 and 2.
    server = server_process(step_seconds=STEP_SECONDS)
    client = server.client()
    job = client.submit(fixture_timeline, inline=True, output_folder="killed-take2",
                        media_search_paths=(str(media_dir),),
                        params=pb.GenerationParams(takes=2))
    for event in client.watch(job.job_id):
        if event.clip.state == pb.CLIP_STATE_DONE and "_take2" in event.clip.media_path:
            break
    else:
        raise AssertionError("the job ended before take 2 wrote a file")
    server.proc.send_signal(signal.SIGKILL)
    server.proc.wait(10)
    client.close()
    # The clips stored for this are those a v2a older than the take fields reads (TypeError on a
    # field it does not know failed its start), the store downgraded for it (`--downgrade-store`).
    with sqlite3.connect(roots["state"] / "jobs.sqlite3") as db:
        (result,) = db.execute("SELECT result FROM jobs WHERE job_id = ?", (job.job_id,)).fetchone()
    stored = json.loads(zlib.decompress(result))["clips_after_take"]
    assert stored and all(set(clip) <= OLDER_CLIP_FIELDS for clip in stored), stored

    client = restart()
    final = client.get(job.job_id)
    client.close()

    assert final.state == pb.JOB_STATE_SUCCEEDED, final.message
    assert "stopped after take 1 of 2 (the server stopped)" in final.message
    assert final.attempts == 1  # finished at restart, not run again
    audio = roots["out"] / "killed-take2" / "audio"
    on_disk = {p.name for p in audio.glob("*.wav")}
    assert on_disk == _referenced_takes(final.result_timeline_path), "orphaned takes"
    assert len(on_disk) == 4 and all(name.endswith("_take1.wav") for name in on_disk)
    assert {c.state for c in final.clips} == {pb.CLIP_STATE_DONE}
    assert {Path(c.media_path).name for c in final.clips} == on_disk
    # As take 1 left them: a panel's bar stands at half of the two takes asked for.
    assert {(c.take, c.take_count) for c in final.clips} == {(1, 2)}


def _killed_at_a_write(server_process, write: int, when: str):
    """A server that kills itself with SIGKILL at its `write`th timeline write, `when` "before"
    the rename or just "after" it (before the job store hears of it)."""
    return server_process(generator="py:server_test_generators:killed_at_a_write",
                          step_seconds=FAST_STEP_SECONDS,
                          env={"V2A_TEST_KILL_AT_WRITE": str(write), "V2A_TEST_KILL_WHEN": when})


def _wait_for_the_kill(server) -> None:
    assert server.proc.wait(60) == -signal.SIGKILL


@pytest.mark.parametrize("when", ["before", "after"])
def test_kill_9_at_a_further_takes_write_leaves_the_timeline_and_the_job_agreeing(
        server_process, restart, fixture_timeline, media_dir, roots, when):
    # Killed after take 2's timeline was renamed into place but before the store knew, the
    # restart removed take 2's files as an unfinished take's: the timeline named missing audio.
    server = _killed_at_a_write(server_process, write=2, when=when)
    client = server.client()
    job = client.submit(fixture_timeline, inline=True, output_folder="killed-at-write",
                        media_search_paths=(str(media_dir),),
                        params=pb.GenerationParams(takes=2))
    _wait_for_the_kill(server)
    client.close()

    client = restart()
    final = client.get(job.job_id)
    client.close()

    assert final.state == pb.JOB_STATE_SUCCEEDED, final.message
    assert final.attempts == 1  # finished at restart, not run again
    audio = roots["out"] / "killed-at-write" / "audio"
    on_disk = {p.name for p in audio.glob("*.wav")}
    assert on_disk == _referenced_takes(final.result_timeline_path), "missing or orphaned takes"
    last_take = "_take2.wav" if when == "after" else "_take1.wav"
    assert {Path(c.media_path).name for c in final.clips} == {
        name for name in on_disk if name.endswith(last_take)}
    assert len(on_disk) == (8 if when == "after" else 4)
    if when == "after":
        assert "stopped" not in final.message  # both takes are on the timeline
    else:
        assert "stopped after take 1 of 2 (the server stopped)" in final.message


@pytest.mark.parametrize("when", ["before", "after"])
def test_kill_9_at_a_regenerations_write_leaves_no_take_the_timeline_names_missing(
        server_process, make_server, connect, restart, fixture_timeline, media_dir, roots,
        when):
    # A regeneration writes over the timeline it reads. Killed after the rename, the restart
    # removed the new take and reran on a timeline naming it: a take entry whose file was gone.
    server = make_server(generator=_fast_steps())  # the job regenerated (in this process)
    client = connect(server)
    parent = client.wait(client.submit(fixture_timeline, inline=True, output_folder="regen",
                                       media_search_paths=(str(media_dir),)).job_id)
    assert parent.state == pb.JOB_STATE_SUCCEEDED, parent.message
    server.stop()

    server = _killed_at_a_write(server_process, write=1, when=when)
    client = server.client()
    job = client.regenerate(parent.job_id, clip_id=parent.clips[0].clip_id, seed=7)
    _wait_for_the_kill(server)
    client.close()

    client = restart()
    final = client.wait(job.job_id)
    client.close()

    assert final.state == pb.JOB_STATE_SUCCEEDED, final.message
    audio = roots["out"] / "regen" / "audio"
    on_disk = {p.name for p in audio.glob("*.wav")}
    assert on_disk == _referenced_takes(final.result_timeline_path), "missing or orphaned takes"
    assert len(on_disk) == 5
    assert Path(final.clips[0].media_path).name.endswith("_take2.wav")
    assert final.attempts == (1 if when == "after" else 2)  # a rerun only where nothing was written


def test_kill_9_just_after_a_fallback_otio_was_written_keeps_it_as_the_result(
        server_process, restart, fixture_timeline, media_dir, roots):
    # Asked for an EDL, the job writes the full result as .otio beside it (an EDL carries the
    # active takes only). A restart after the write must name the files the job wrote, as an
    # uninterrupted job does, and a regeneration then reads them.
    server = _killed_at_a_write(server_process, write=2, when="after")
    client = server.client()
    whole, killed = (client.submit(fixture_timeline, inline=True, output_folder=folder,
                                   output_format="cmx_3600", media_search_paths=(str(media_dir),))
                     for folder in ("whole", "killed"))
    _wait_for_the_kill(server)
    client.close()

    client = restart()
    expected, final = client.result(whole.job_id), client.result(killed.job_id)
    assert final.job.state == pb.JOB_STATE_SUCCEEDED and final.job.attempts == 1, final.job.message
    for field in ("timeline_path", "fallback_otio_path"):
        written = getattr(final, field)
        assert written and Path(written).relative_to(roots["out"] / "killed") == Path(
            getattr(expected, field)).relative_to(roots["out"] / "whole")
    clip_id = final.job.clips[0].clip_id
    again = client.wait(client.regenerate(killed.job_id, clip_id=clip_id).job_id)
    full_result = client.result(again.job_id).fallback_otio_path or again.result_timeline_path
    client.close()
    assert again.state == pb.JOB_STATE_SUCCEEDED, again.message
    on_disk = {p.name for p in (roots["out"] / "killed" / "audio").glob("*.wav")}
    assert on_disk == _referenced_takes(full_result)
    assert len(on_disk) == 5


def test_kill_9_between_an_edl_and_its_full_otio_keeps_a_result_naming_every_take(
        server_process, restart, edl_timeline, edl_media, roots):
    # An EDL names only each clip's active take: the .otio beside it holds the whole result,
    # which the result names and a regeneration reads. Written second, a kill between the two
    # left a result naming the EDL alone and no .otio.
    server = _killed_at_a_write(server_process, write=1, when="between")
    client = server.client()
    job = client.submit(edl_timeline, inline=True, output_folder="edl", output_format="cmx_3600",
                        media_search_paths=(str(edl_media),), adapter_options={"rate": "25"})
    _wait_for_the_kill(server)
    client.close()

    client = restart()
    final = client.result(job.job_id)
    client.close()
    assert final.job.state == pb.JOB_STATE_SUCCEEDED and final.job.attempts == 1, final.job.message
    assert Path(final.fallback_otio_path).name == "25fps.otio", final.format_note
    on_disk = {p.name for p in (roots["out"] / "edl" / "audio").glob("*.wav")}
    assert on_disk == _referenced_takes(final.fallback_otio_path) and len(on_disk) == 4
    assert {Path(c.media_path).name for c in final.job.clips} == on_disk


def test_sigterm_mid_job_stops_serving_then_requeues_the_job(server_process, restart,
                                                             fixture_timeline, media_dir, roots):
    server = server_process(step_seconds=STEP_SECONDS)
    client = server.client()
    job = client.submit(fixture_timeline, inline=True, output_folder="stopped",
                        media_search_paths=(str(media_dir),))
    _wait_until_mid_job(client, job.job_id)
    server.proc.send_signal(signal.SIGTERM)
    with grpc.insecure_channel(server.address) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        status = None
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and status != health_pb2.HealthCheckResponse.NOT_SERVING:
            try:
                status = health.Check(health_pb2.HealthCheckRequest(), timeout=1).status
            except grpc.RpcError:
                break
        assert status == health_pb2.HealthCheckResponse.NOT_SERVING
    assert server.proc.wait(15) == 0
    client.close()

    final = restart().wait(job.job_id)
    assert final.state == pb.JOB_STATE_SUCCEEDED and final.attempts == 2
    audio = roots["out"] / "stopped" / "audio"
    assert {p.name for p in audio.glob("*.wav")} == _referenced_takes(final.result_timeline_path)


def test_a_restarted_server_forgets_old_ended_jobs(make_server, connect, fixture_timeline,
                                                    media_dir, roots, monkeypatch):
    import sqlite3

    monkeypatch.setenv("V2A_TEST_STEP_SECONDS", "0.005")
    server = make_server(generator="py:server_test_generators:slow")
    client = connect(server)
    kept, dropped = (client.submit(fixture_timeline, inline=True, output_folder="kept",
                                   media_search_paths=(str(media_dir),)) for _ in range(2))
    client.cancel(dropped.job_id)  # still queued behind the first: cancelled at once
    assert client.wait(kept.job_id).state == pb.JOB_STATE_SUCCEEDED
    server.stop()
    # Both ended 40 days ago.
    with sqlite3.connect(roots["state"] / "jobs.sqlite3") as db:
        db.execute("UPDATE jobs SET updated = ?", (time.time() - 40 * 86400,))

    client = connect(make_server(generator="py:server_test_generators:fast", keep_jobs_days=30))
    with pytest.raises(grpc.RpcError) as error:
        client.get(dropped.job_id)
    assert error.value.code() == grpc.StatusCode.NOT_FOUND
    assert "keep-jobs-days" in error.value.details()
    # The succeeded job is the latest to have written its timeline: kept, so that its clips can
    # still be regenerated (from the timeline it wrote).
    assert client.get(kept.job_id).state == pb.JOB_STATE_SUCCEEDED
    again = client.wait(client.regenerate(kept.job_id, clip_id=client.get(kept.job_id).clips[0].clip_id).job_id)
    assert again.state == pb.JOB_STATE_SUCCEEDED, again.message


def test_an_ended_jobs_inline_timeline_is_removed_and_nothing_it_serves_needs_it(
        make_server, connect, fixture_timeline, media_dir, roots, monkeypatch):
    # Kept for good, a job that is its timeline's latest writer (never pruned) kept its copy of
    # the timeline it was sent for good too, though only its own run reads it.
    monkeypatch.setenv("V2A_TEST_STEP_SECONDS", "0.005")
    server = make_server(generator="py:server_test_generators:slow")
    client = connect(server)
    done, cancelled = (client.submit(fixture_timeline, inline=True, output_folder="ended",
                                     media_search_paths=(str(media_dir),)) for _ in range(2))
    client.cancel(cancelled.job_id)  # still queued behind the first: cancelled at once
    inline = roots["state"] / "timelines"
    assert not (inline / cancelled.job_id).exists()
    assert client.wait(done.job_id).state == pb.JOB_STATE_SUCCEEDED
    assert not any(inline.iterdir())

    def still_served(client) -> pb.Job:
        """What an ended job still serves: its state, a watch, its result, its clips'
        regeneration (which reads the timeline the job wrote); the regeneration returned."""
        assert client.get(done.job_id).state == pb.JOB_STATE_SUCCEEDED
        assert list(client.watch(done.job_id))[-1].job_state == pb.JOB_STATE_SUCCEEDED
        result = client.result(done.job_id, include_timeline_data=True)
        assert result.timeline_data and len(result.clips) == 4
        again = client.wait(client.regenerate(done.job_id, clip_id=result.clips[0].clip_id).job_id)
        assert again.state == pb.JOB_STATE_SUCCEEDED, again.message
        return again

    still_served(client)
    server.stop()
    again = still_served(connect(make_server(generator="py:server_test_generators:fast")))
    on_disk = {p.name for p in (roots["out"] / "ended" / "audio").glob("*.wav")}
    assert on_disk == _referenced_takes(again.result_timeline_path) and len(on_disk) == 6


def test_a_start_removes_inline_timelines_no_unended_job_reads(make_server, connect,
                                                               fixture_timeline, media_dir,
                                                               roots):
    # What a stop between a job's end and the removal of its copy leaves, or an older version
    # that kept them, or a CreateJob stopped before it stored its job.
    server = make_server()
    client = connect(server)
    job = client.wait(client.submit(fixture_timeline, inline=True,
                                    media_search_paths=(str(media_dir),)).job_id)
    assert job.state == pb.JOB_STATE_SUCCEEDED, job.message
    server.stop()
    inline = roots["state"] / "timelines"
    for left in (job.job_id, "0123456789abcdef"):
        (inline / left).mkdir(exist_ok=True)
        (inline / left / fixture_timeline.name).write_bytes(fixture_timeline.read_bytes())

    make_server()
    assert not any(inline.iterdir())


def test_media_extracted_from_an_inline_bundle_are_removed_with_its_job(make_server, connect,
                                                                         media_dir, roots,
                                                                         tmp_path):
    """Each inline .otioz job extracted its media to a cache folder of its own that nothing
    removed: refused, ended, they stayed. Kept only where a timeline written names them."""
    import sqlite3

    from otio_adapters.media_refs import otioz_cache_dir, url_to_path

    rt, tr = otio.opentime.RationalTime, otio.opentime.TimeRange
    timeline = otio.schema.Timeline(name="cut")
    timeline.tracks.append(otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video))
    timeline.tracks[0].append(otio.schema.Clip(
        name="titles", source_range=tr(rt(0, 24), rt(12, 24)),
        media_reference=otio.schema.ExternalReference(
            target_url=f"file://{media_dir / 'titles.mov'}",
            available_range=tr(rt(0, 24), rt(120, 24)))))
    bundle = tmp_path / "cut.otioz"
    otio.adapters.write_to_file(timeline, str(bundle))
    cache = Path(otioz_cache_dir())
    before = set(cache.iterdir())  # other tests' bundles

    def extractions() -> int:
        return len(set(cache.iterdir()) - before)

    server = make_server()
    client = connect(server)
    with pytest.raises(grpc.RpcError) as refused:  # read, extracted, then refused
        client.submit(bundle, inline=True, clips=(pb.ClipAddress(clip_id="no-such-clip"),))
    assert refused.value.code() == grpc.StatusCode.NOT_FOUND
    assert extractions() == 0

    def run(**kwargs) -> pb.Job:
        job = client.wait(client.submit(bundle, inline=True, **kwargs).job_id)
        assert job.state == pb.JOB_STATE_SUCCEEDED, job.message
        return job

    run(output_folder="bundled")  # written as a bundle: carries its own copy of the media
    run(output_folder="bundled")  # the timeline's latest writer now: the first is forgotten
    assert extractions() == 0  # each went when its job ended
    as_json = run(output_folder="json", output_format="otio_json")  # names the extracted media
    clip_id = as_json.clips[0].clip_id
    regenerated = client.wait(client.regenerate(as_json.job_id, clip_id=clip_id).job_id)
    assert regenerated.state == pb.JOB_STATE_SUCCEEDED  # the .otio's latest writer now
    assert extractions() == 1  # the one the .otio names

    with sqlite3.connect(roots["state"] / "jobs.sqlite3") as db:  # every job 40 days older
        db.execute("UPDATE jobs SET updated = updated - ?", (40 * 86400,))
    assert len(server.prune_jobs()) == 2
    assert client.get(regenerated.job_id).state == pb.JOB_STATE_SUCCEEDED  # kept
    assert extractions() == 1
    written = otio.adapters.read_from_file(regenerated.result_timeline_path)
    (picture,) = [c.media_reference.target_url for t in written.video_tracks()
                  for c in t.find_clips()]
    folder = Path(regenerated.result_timeline_path).parent
    assert (folder / url_to_path(picture)).is_file()  # the picture is still there
