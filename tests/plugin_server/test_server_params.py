"""Generation parameters are checked at the door, and what gets past never breaks the store:
bounds on steps, guidance, takes, seed and prompts at CreateJob and RegenerateClip (over gRPC
and the WebSocket bridge), standard JSON in the store, and a job that fails as a whole."""

from __future__ import annotations

import errno
import json
import math
import sqlite3
import time
import zlib

import grpc
import pytest
from google.rpc import error_details_pb2 as details

from plugin_server.errors import details_of
from v2a.contracts import MAX_STEPS
from v2a.params import MAX_PROMPT_CHARS, MAX_SEED
from v2a.v1 import jobs_pb2 as pb


def _refusal(call, *args, **kwargs) -> tuple[grpc.RpcError, dict[str, str]]:
    """The INVALID_ARGUMENT a call ends with, and its BadRequest's field → description."""
    with pytest.raises(grpc.RpcError) as caught:
        call(*args, **kwargs)
    error = caught.value
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, error.details()
    bad = [d for d in details_of(error) if isinstance(d, details.BadRequest)]
    assert bad, f"no BadRequest detail in {error}"
    return error, {v.field: v.description for v in bad[0].field_violations}


@pytest.mark.parametrize("params, field", [
    (pb.GenerationParams(guidance=math.nan), "params.guidance"),  # sampled near-silence, broke the store
    (pb.GenerationParams(guidance=math.inf), "params.guidance"),
    (pb.GenerationParams(guidance=-3), "params.guidance"),  # failed every clip at run time
    (pb.GenerationParams(guidance=1e6), "params.guidance"),
    (pb.GenerationParams(steps=2_000_000_000), "params.steps"),  # ate memory, again on restart
    (pb.GenerationParams(steps=MAX_STEPS + 1), "params.steps"),
    (pb.GenerationParams(steps=-1), "params.steps"),
    (pb.GenerationParams(takes=99), "params.takes"),
    (pb.GenerationParams(seed=-1), "params.seed"),  # sounded like seed 2^63 - 1
    (pb.GenerationParams(seed=MAX_SEED + 1), "params.seed"),
    (pb.GenerationParams(seed=2**63 - 1, takes=2), "params.seed"),  # seed + 1 overflowed OTIO's int64
    (pb.GenerationParams(seed=MAX_SEED, takes=2), "params.seed"),  # the second take's is past it
    (pb.GenerationParams(prompt="x" * (MAX_PROMPT_CHARS + 1)), "params.prompt"),
    (pb.GenerationParams(negative_prompt="x" * (MAX_PROMPT_CHARS + 1)), "params.negative_prompt"),
    (pb.GenerationParams(loudness_target_lufs=3), "params.loudness_target_lufs"),  # a lost sign
    (pb.GenerationParams(loudness_target_lufs=math.nan), "params.loudness_target_lufs"),
])
def test_bad_generation_parameters_are_refused_at_create_job_naming_the_field(
        make_server, connect, fixture_timeline, media_dir, params, field):
    client = connect(make_server())
    error, violations = _refusal(client.submit, fixture_timeline, params=params,
                                 media_search_paths=(str(media_dir),))
    assert list(violations) == [field] and field in error.details()
    assert client.list() == []  # nothing queued, nothing stored


def test_parameters_at_their_bounds_run_and_take_seeds_up_to_the_last_one(
        make_server, connect, fixture_timeline, media_dir):
    client = connect(make_server())
    params = pb.GenerationParams(seed=MAX_SEED - 1, takes=2, steps=1, guidance=100,
                                 prompt="p" * MAX_PROMPT_CHARS)
    job = client.wait(client.submit(fixture_timeline, params=params,
                                    media_search_paths=(str(media_dir),)).job_id)
    assert job.state == pb.JOB_STATE_SUCCEEDED, job.message
    seeds = {json.loads(c.provenance_json)["seed"] for c in client.result(job.job_id).clips}
    assert seeds == {MAX_SEED}  # the active take is the second: seed + 1
    # A MAX_STEPS request is accepted (cancelled at once: its run is not what this checks).
    steps = client.submit(fixture_timeline, params=pb.GenerationParams(steps=MAX_STEPS),
                          media_search_paths=(str(media_dir),))
    client.cancel(steps.job_id)


def test_a_loudness_target_brings_the_jobs_takes_and_its_regenerations_to_it(
        make_server, connect, fixture_timeline, media_dir):
    client = connect(make_server())
    assert "loudness_target" in client.info().capabilities
    params = pb.GenerationParams(loudness_target_lufs=-30)
    job = client.wait(client.submit(fixture_timeline, params=params,
                                    media_search_paths=(str(media_dir),)).job_id)
    assert job.state == pb.JOB_STATE_SUCCEEDED, job.message
    assert job.params.HasField("loudness_target_lufs") and job.params.loudness_target_lufs == -30
    # The fixture's clips are 0.2 s takes, too short for integrated loudness: each is measured
    # whole (test_media_loudness checks the figures); here, that each was brought down to it.
    for clip in client.result(job.job_id).clips:
        provenance = json.loads(clip.provenance_json)
        assert provenance["loudness_target_lufs"] == -30
        assert provenance["gain_db"] < -5 and "loudness_target_missed_by" not in provenance
    # A new take of one clip is brought to the job's level too.
    clip_id = job.clips[0].clip_id
    again = client.wait(client.regenerate(job.job_id, clip_id=clip_id).job_id)
    assert again.state == pb.JOB_STATE_SUCCEEDED, again.message
    assert again.params.loudness_target_lufs == -30
    take = json.loads(client.result(again.job_id, clip_ids=(clip_id,)).clips[0].provenance_json)
    assert take["loudness_target_lufs"] == -30 and take["gain_db"] < -5
    # Without a target, nothing is normalised and the job says none was asked for.
    plain = client.wait(client.submit(fixture_timeline, media_search_paths=(str(media_dir),)).job_id)
    assert not plain.params.HasField("loudness_target_lufs")
    assert "gain_db" not in json.loads(client.result(plain.job_id).clips[0].provenance_json)


def test_bad_regeneration_parameters_are_refused_naming_the_field(make_server, connect,
                                                                 fixture_timeline, media_dir):
    client = connect(make_server())
    job = client.wait(client.submit(fixture_timeline, media_search_paths=(str(media_dir),)).job_id)
    clip_id = job.clips[0].clip_id
    for kwargs, field in (({"seed": -1}, "seed"), ({"seed": MAX_SEED + 1}, "seed"),
                          ({"prompt": "x" * (MAX_PROMPT_CHARS + 1)}, "prompt"),
                          ({"negative_prompt": "x" * (MAX_PROMPT_CHARS + 1)}, "negative_prompt")):
        _, violations = _refusal(client.regenerate, job.job_id, clip_id=clip_id, **kwargs)
        assert list(violations) == [field], kwargs
    assert [j.job_id for j in client.list()] == [job.job_id]
    again = client.regenerate(job.job_id, clip_id=clip_id, seed=MAX_SEED)
    assert client.wait(again.job_id).state == pb.JOB_STATE_SUCCEEDED


def test_nan_guidance_through_the_websocket_bridge_is_refused(make_server, fixture_timeline,
                                                              media_dir):
    from websockets.sync.client import connect as ws_connect

    server = make_server(ws_port=0)
    request = {"timeline": {"path": str(fixture_timeline), "media_search_paths": [str(media_dir)]},
               "params": {"guidance": "NaN"}}  # proto3 JSON's spelling of NaN
    with ws_connect(server.bridge.url) as socket:
        socket.send(json.dumps({"id": 0, "method": "Authenticate", "token": server.token}))
        assert "response" in json.loads(socket.recv(timeout=10))
        socket.send(json.dumps({"id": 1, "method": "CreateJob", "request": request}))
        reply = json.loads(socket.recv(timeout=10))
    assert reply["error"]["code"] == "INVALID_ARGUMENT", reply
    bad = [d for d in reply["error"]["details"] if d["type"] == "BadRequest"][0]
    assert [v["field"] for v in bad["field_violations"]] == ["params.guidance"]


# --- the store ---------------------------------------------------------------------------------


def test_a_row_an_older_version_wrote_with_nan_breaks_neither_start_nor_regeneration(
        make_server, connect, fixture_timeline, media_dir, roots):
    server = make_server()
    client = connect(server)
    spoiled, other = (client.wait(client.submit(fixture_timeline, output_folder=folder,
                                                media_search_paths=(str(media_dir),)).job_id)
                      for folder in ("spoiled", "other"))
    server.stop()
    # As the old server stored a NaN-guidance job: bare NaN in its request and result, 40 days
    # ago, in its layout (the clips a column of their job's row: the last that wrote bare NaN).
    with sqlite3.connect(roots["state"] / "jobs.sqlite3") as db:
        _as_the_layout_before_clip_rows(db)
        request, result = db.execute("SELECT request, result FROM jobs WHERE job_id = ?",
                                     (spoiled.job_id,)).fetchone()
        request, result = json.loads(request), json.loads(result)
        request["params"]["cfg_strength"] = math.nan
        result["generated"][0]["provenance"]["cfg_strength"] = math.nan
        db.execute("UPDATE jobs SET request = ?, result = ?, updated = ? WHERE job_id = ?",
                   (json.dumps(request), json.dumps(result), time.time() - 40 * 86400,
                    spoiled.job_id))

    client = connect(make_server(keep_jobs_days=30))  # prunes at start: it used to fail here
    child = client.regenerate(other.job_id, clip_id=other.clips[0].clip_id)
    assert client.wait(child.job_id).state == pb.JOB_STATE_SUCCEEDED
    assert client.get(spoiled.job_id).state == pb.JOB_STATE_SUCCEEDED  # kept: its timeline's writer
    # Its NaN guidance (null now) is refused by name, not passed on to the generator.
    _, violations = _refusal(client.regenerate, spoiled.job_id, clip_id=spoiled.clips[0].clip_id)
    assert list(violations) == ["params.guidance"]
    with sqlite3.connect(roots["state"] / "jobs.sqlite3") as db:
        db.create_function("unpacked", 1, lambda result: zlib.decompress(result).decode())
        assert db.execute("SELECT COUNT(*) FROM jobs WHERE NOT (json_valid(request) AND "
                          "json_valid(unpacked(result)))").fetchone() == (0,)


def _as_the_layout_before_clip_rows(db: sqlite3.Connection) -> None:
    """The store as a v2a kept it before clips had a table: layout 0, each job's clips a JSON
    column of its row, no written_timeline column, each result JSON text (not compressed)."""
    db.create_function("unpacked", 1, lambda result: zlib.decompress(result).decode())
    db.execute("UPDATE jobs SET result = unpacked(result)")
    db.execute("ALTER TABLE jobs ADD COLUMN clips TEXT NOT NULL DEFAULT '[]'")
    db.execute("UPDATE jobs SET clips = (SELECT json_group_array(json_object('clip_id', clip_id, "
               "'clip_name', clip_name, 'state', state, 'step', step, 'total_steps', total_steps, "
               "'media_path', media_path, 'message', message)) FROM (SELECT * FROM clips "
               "WHERE clips.job_id = jobs.job_id ORDER BY position))")
    db.execute("DROP TABLE clips")
    for index in ("jobs_by_written_timeline", "jobs_by_state_updated"):
        db.execute(f"DROP INDEX {index}")
    db.execute("ALTER TABLE jobs DROP COLUMN written_timeline")
    db.execute("PRAGMA user_version = 0")


# --- a job that fails as a whole --------------------------------------------------------------


def test_a_job_failing_on_a_full_disk_fails_every_unfinished_clip_and_removes_its_takes(
        make_server, connect, fixture_timeline, media_dir, roots, monkeypatch):
    import v2a.pipeline

    monkeypatch.setenv("V2A_TEST_STEP_SECONDS", "0.01")
    write_take, writes = v2a.pipeline._write_take, []

    def second_write_finds_the_disk_full(path, *args, **kwargs):
        writes.append(path)
        if len(writes) == 2:
            raise OSError(errno.ENOSPC, "No space left on device", path)
        write_take(path, *args, **kwargs)

    monkeypatch.setattr(v2a.pipeline, "_write_take", second_write_finds_the_disk_full)
    client = connect(make_server(generator="py:server_test_generators:slow"))
    job = client.submit(fixture_timeline, output_folder="full",
                        media_search_paths=(str(media_dir),))
    events = list(client.watch(job.job_id))

    final = client.get(job.job_id)
    assert final.state == pb.JOB_STATE_FAILED and "No space left" in final.message
    assert {c.state for c in final.clips} == {pb.CLIP_STATE_FAILED}
    assert all("No space left" in c.message and not c.media_path for c in final.clips)
    # The take the first clip wrote is gone: no timeline refers to it.
    assert not list((roots["out"] / "full").rglob("*.wav"))
    # A watcher sees each clip's final state before the job's end.
    assert events[-1].job_state == pb.JOB_STATE_FAILED and not events[-1].HasField("clip")
    last = {e.clip.clip_id: e.clip for e in events if e.HasField("clip")}
    assert {c.state for c in last.values()} == {pb.CLIP_STATE_FAILED}

    monkeypatch.setattr(v2a.pipeline, "_write_take", write_take)  # space again: a rerun is take 1
    again = client.wait(client.submit(fixture_timeline, output_folder="full",
                                      media_search_paths=(str(media_dir),)).job_id)
    assert again.state == pb.JOB_STATE_SUCCEEDED
    assert all(c.media_path.endswith("_take1.wav") for c in again.clips)
