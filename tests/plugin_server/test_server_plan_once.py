"""A job reads and plans its timeline once when it starts at once, and again, as the timeline and
its media are by then, when it had to wait: through the real server and pipeline."""

from __future__ import annotations

import shutil
import time

import opentimelineio as otio
import pytest
from server_test_generators import SteppingSine

import otio_adapters.plan
import v2a.pipeline
from v2a.v1 import jobs_pb2 as pb


@pytest.fixture
def work(monkeypatch) -> dict[str, int]:
    """How many times the server read a timeline and planned one."""
    counts = {"read": 0, "plan": 0}

    def counting(name, function):
        def counted(*args, **kwargs):
            counts[name] += 1
            return function(*args, **kwargs)
        return counted

    monkeypatch.setattr(v2a.pipeline, "read_timeline", counting("read", v2a.pipeline.read_timeline))
    monkeypatch.setattr(otio_adapters.plan, "TimelinePlanner",
                        counting("plan", otio_adapters.plan.TimelinePlanner))
    return counts


def _active_takes(timeline_path: str) -> list[str]:
    timeline = otio.adapters.read_from_file(timeline_path)
    return sorted(c.active_media_reference_key for t in timeline.audio_tracks()
                  for c in t.find_clips())


def _wait_until_running(client, job_id: str) -> None:
    deadline = time.monotonic() + 30
    while client.get(job_id).state != pb.JOB_STATE_RUNNING:
        assert time.monotonic() < deadline, client.get(job_id)
        time.sleep(0.02)


def test_a_job_that_starts_at_once_reads_and_plans_its_timeline_once(make_server, connect,
                                                                      fixture_timeline, media_dir,
                                                                      work):
    client = connect(make_server())
    job = client.wait(client.submit(fixture_timeline, inline=True,
                                    media_search_paths=(str(media_dir),)).job_id)
    assert job.state == pb.JOB_STATE_SUCCEEDED, job.message
    assert work == {"read": 1, "plan": 1}  # at CreateJob, which refuses a bad request

    work.update(read=0, plan=0)
    child = client.wait(client.regenerate(job.job_id, clip_id=job.clips[1].clip_id).job_id)
    assert child.state == pb.JOB_STATE_SUCCEEDED, child.message
    assert work == {"read": 1, "plan": 1}
    assert _active_takes(client.result(child.job_id).timeline_path) == [
        "take1", "take1", "take1", "take2"]


def test_a_job_queued_behind_another_writing_its_timeline_plans_on_what_that_one_wrote(
        make_server, connect, fixture_timeline, media_dir):
    sampler = SteppingSine(steps=40)  # no wait a step: the job to regenerate need not be slow
    client = connect(make_server(generator=sampler, concurrency=1))
    job = client.wait(client.submit(fixture_timeline, inline=True,
                                    media_search_paths=(str(media_dir),)).job_id)
    sampler.step_seconds = 0.05  # 2 s a regeneration: the second is asked for while the first runs
    first = client.regenerate(job.job_id, clip_id=job.clips[0].clip_id)
    # Accepted while the first one runs: its request was checked on the timeline as it was.
    second = client.regenerate(job.job_id, clip_id=job.clips[2].clip_id)
    assert client.get(second.job_id).state == pb.JOB_STATE_QUEUED
    sampler.step_seconds = 0.0  # asked for while the first ran: the rest need not be slow
    done = [client.wait(j.job_id) for j in (first, second)]
    assert all(j.state == pb.JOB_STATE_SUCCEEDED for j in done), [j.message for j in done]
    # Planned on the stale timeline, the second would write it back without the first's take.
    assert _active_takes(client.result(second.job_id).timeline_path) == [
        "take1", "take1", "take2", "take2"]


def test_a_job_that_waited_plans_again_and_finds_media_that_turned_up_meanwhile(
        make_server, connect, fixture_timeline, media_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("V2A_TEST_STEP_SECONDS", "0.05")
    client = connect(make_server(generator="py:server_test_generators:slow", concurrency=1))
    busy = client.submit(fixture_timeline, inline=True, output_folder="busy",
                         media_search_paths=(str(media_dir),))
    _wait_until_running(client, busy.job_id)
    partial = tmp_path / "arriving"
    partial.mkdir()
    for name in ("titles.mov", "wind-up.mov", "punchline.mov"):  # credits.mov is still copying
        shutil.copy(media_dir / name, partial / name)
    # One step a clip: what it plans is checked, not how it samples (40 steps: 8 s).
    job = client.submit(fixture_timeline, inline=True, output_folder="waited",
                        media_search_paths=(str(partial),), params=pb.GenerationParams(steps=1))
    assert [c.clip_name for c in job.clips if c.state == pb.CLIP_STATE_FAILED] == ["Clip-004"]
    shutil.copy(media_dir / "credits.mov", partial / "credits.mov")
    client.cancel(busy.job_id)
    job = client.wait(job.job_id)
    assert job.state == pb.JOB_STATE_SUCCEEDED, job.message
    assert [c.state for c in job.clips] == [pb.CLIP_STATE_DONE] * 4, job.clips
