"""Through the real server: a job's written timeline keeps its picture online (regenerating a
clip reads it again), and an output folder that is the timeline's own never replaces it."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import grpc
import pytest

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


def test_an_output_folder_holding_the_editors_timeline_is_refused(make_server, connect, roots):
    project = roots["out"] / "project"
    shutil.copytree(SAMPLE.parent / "media", project / "media")
    source = project / "sample.otio"
    shutil.copy(SAMPLE, source)
    before = hashlib.md5(source.read_bytes()).hexdigest()
    client = connect(make_server())

    with pytest.raises(grpc.RpcError) as refused:
        client.submit(source, output_folder="project")

    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "will not overwrite the source timeline" in refused.value.details()
    assert hashlib.md5(source.read_bytes()).hexdigest() == before
    # Any other folder is fine, the source stays as it was.
    job = client.wait(client.submit(source, output_folder="project/v2a").job_id)
    assert job.state == pb.JOB_STATE_SUCCEEDED, job.message
    assert hashlib.md5(source.read_bytes()).hexdigest() == before
