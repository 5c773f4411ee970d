"""Through the real server: a job's written timeline keeps its picture online (regenerating a
clip reads it again)."""

from __future__ import annotations

from pathlib import Path

from v2a.v1 import jobs_pb2 as pb

SAMPLE = Path(__file__).resolve().parents[2] / "samples" / "sample.otio"


def test_regenerating_a_clip_of_the_sample_needs_no_media_paths(make_server, connect):
    client = connect(make_server())
    job = client.wait(client.submit(SAMPLE, output_folder="sample").job_id)  # by path, no relink
    assert job.state == pb.JOB_STATE_SUCCEEDED, job.message
    target = job.clips[2].clip_id

    child = client.wait(client.regenerate(job.job_id, clip_id=target).job_id)

    assert child.state == pb.JOB_STATE_SUCCEEDED, child.message
    files = {c.clip_id: c.media_path for c in client.result(child.job_id).clips}
    assert files[target].endswith("_take2.wav")
