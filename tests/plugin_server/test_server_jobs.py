"""Jobs end to end through the real server on a real socket: a fixture timeline with
synthesized media, the real pipeline, progress, results with peaks, two panels at once."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import opentimelineio as otio
import pytest

from otio_adapters.takes import url_to_path
from v2a.contracts import SAMPLE_RATE
from v2a.media.audio import read_wav
from v2a.v1 import jobs_pb2 as pb


def _watch_all(client, job_id: str) -> tuple[list, object]:
    events = []
    job = client.wait(job_id, on_event=events.append)
    return events, job


def _v2a_clips(timeline_path: str) -> list[otio.schema.Clip]:
    timeline = otio.adapters.read_from_file(timeline_path)
    return [c for track in timeline.audio_tracks() for c in track.find_clips()
            if "v2a" in c.metadata or any("v2a" in (r.metadata or {})
                                          for r in c.media_references().values())]


def test_a_job_runs_end_to_end_on_a_fixture_timeline(make_server, connect, fixture_timeline,
                                                     media_dir, roots):
    server = make_server(generator="motion-bursts")  # the real registry baseline
    client = connect(server)
    job = client.submit(fixture_timeline, inline=True, output_folder="cut",
                        media_search_paths=(str(media_dir),),
                        params=pb.GenerationParams(seed=3))
    assert job.state == pb.JOB_STATE_QUEUED and len(job.clips) == 4
    events, job = _watch_all(client, job.job_id)

    assert job.state == pb.JOB_STATE_SUCCEEDED, job.message
    states = {(e.clip.clip_id, e.clip.state) for e in events if e.HasField("clip")}
    for clip in job.clips:
        assert (clip.clip_id, pb.CLIP_STATE_RUNNING) in states
        assert (clip.clip_id, pb.CLIP_STATE_DONE) in states
        assert clip.state == pb.CLIP_STATE_DONE and Path(clip.media_path).is_file()
    assert any(e.clip.total_steps for e in events if e.HasField("clip")), "no step progress"
    assert events[-1].job_state == pb.JOB_STATE_SUCCEEDED

    result = client.result(job.job_id, peak_points=32, include_timeline_data=True)
    out = roots["out"] / "cut"
    assert Path(result.timeline_path).parent == out and result.timeline_format == "otio_json"
    assert result.timeline_data == Path(result.timeline_path).read_bytes()
    assert len(result.clips) == 4
    for clip in result.clips:
        samples, rate = read_wav(clip.media_path)
        assert rate == SAMPLE_RATE
        assert len(samples) == clip.handle_before_samples + clip.num_samples + clip.handle_after_samples
        assert clip.peaks.num_samples == len(samples) and len(clip.peaks.min) == 32
        assert max(clip.peaks.max) == pytest.approx(float(samples.max()), abs=1e-4)
    written = {Path(c.media_reference.target_url.removeprefix("file://")).name
               for c in _v2a_clips(result.timeline_path)}
    assert written == {Path(c.media_path).name for c in result.clips}


def test_each_clips_streamed_progress_only_goes_forward_to_its_last_step(
        make_server, connect, fixture_timeline, media_dir):
    """The model samples a near-silent draw again, from step 1: a panel's bar ran from 100 % back
    to 25 % and up again. Steps that would take a clip's progress back are not sent."""
    server = make_server(generator="py:server_test_generators:redrawing")
    client = connect(server)
    job = client.submit(fixture_timeline, output_folder="redrawn",
                        media_search_paths=(str(media_dir),))
    events, job = _watch_all(client, job.job_id)

    assert job.state == pb.JOB_STATE_SUCCEEDED, job.message
    for clip in job.clips:
        steps = [(e.clip.step, e.clip.total_steps) for e in events
                 if e.HasField("clip") and e.clip.clip_id == clip.clip_id
                 and e.clip.state == pb.CLIP_STATE_RUNNING and e.clip.total_steps]
        fractions = [step / total for step, total in steps]
        assert fractions == sorted(fractions), f"{clip.clip_name}: progress went back: {steps}"
        assert steps[-1] == (4, 4)


def test_a_jobs_progress_only_goes_forward_across_its_takes(make_server, connect,
                                                           fixture_timeline, media_dir):
    """`takes: N` runs every clip from QUEUED to DONE once per take, and the stream did not say
    which take: a panel's job bar ran 0 -> 100 % after take 1, then from 0 again, N times. Each
    clip's progress now says its take and the job's take count, and the job's fraction over the
    stream (and over GetJob while it runs) only goes forward, a third per take."""
    from plugin_server.client import job_fraction

    client = connect(make_server())
    job = client.submit(fixture_timeline, output_folder="three-takes",
                        media_search_paths=(str(media_dir),),
                        params=pb.GenerationParams(takes=3))
    clips = {clip.clip_id: clip for clip in job.clips}
    fractions, takes, polled = [], set(), None
    for event in client.watch(job.job_id):
        if not event.HasField("clip"):
            continue
        clip = event.clip
        assert clip.take >= clips[clip.clip_id].take, f"{clip.clip_name} went back a take"
        clips[clip.clip_id] = clip
        fractions.append(job_fraction(list(clips.values())))
        takes.add((clip.take, clip.take_count))
        if polled is None and clip.take == 2 and clip.state == pb.CLIP_STATE_RUNNING:
            polled = client.get(job.job_id)  # as a panel that polls sees take 2
    assert fractions == sorted(fractions), fractions
    assert pytest.approx(1 / 3) in fractions and pytest.approx(2 / 3) in fractions  # takes 1, 2
    assert fractions[-1] == 1.0
    assert takes >= {(1, 3), (2, 3), (3, 3)} and {count for _, count in takes} == {3}
    assert all(c.take >= 2 and c.take_count == 3 for c in polled.clips), polled.clips
    assert job_fraction(polled.clips) >= 1 / 3
    final = client.get(job.job_id)
    assert final.state == pb.JOB_STATE_SUCCEEDED, final.message
    assert [(c.take, c.take_count) for c in final.clips] == [(3, 3)] * 4
    assert job_fraction(final.clips) == 1.0


def test_a_done_clip_carries_its_last_step_so_its_bar_ends_full(make_server, connect,
                                                                fixture_timeline, media_dir):
    """DONE came with step 0 of 0: a bar drawn from step / total_steps dropped to empty at the
    end. It carries the clip's steps as done, on the stream and in GetJob."""
    client = connect(make_server())  # 4 steps a clip
    job = client.submit(fixture_timeline, output_folder="full-bars",
                        media_search_paths=(str(media_dir),))
    events, job = _watch_all(client, job.job_id)
    done = [(e.clip.step, e.clip.total_steps) for e in events
            if e.HasField("clip") and e.clip.state == pb.CLIP_STATE_DONE]
    assert done and set(done) == {(4, 4)}, done
    assert [(c.state, c.step, c.total_steps) for c in job.clips] == [
        (pb.CLIP_STATE_DONE, 4, 4)] * 4


def test_a_watcher_of_a_queued_job_hears_each_clips_state_once(make_server, connect,
                                                              fixture_timeline, media_dir,
                                                              monkeypatch):
    """The stream opens with every clip's state; the job starting then sent each clip's `QUEUED`
    again, the same: 2,000 repeated messages for a 2,000-clip edit."""
    monkeypatch.setenv("V2A_TEST_STEP_SECONDS", "0.01")
    server = make_server(generator="py:server_test_generators:slow")
    client = connect(server)
    first = client.submit(fixture_timeline, output_folder="first",
                          media_search_paths=(str(media_dir),))
    # 4 steps a clip, not 40: every state the stream sends still has a step of its own.
    waiting = client.submit(fixture_timeline, output_folder="waiting",
                            media_search_paths=(str(media_dir),),
                            params=pb.GenerationParams(steps=4))
    events, job = _watch_all(client, waiting.job_id)  # queued behind the first job
    assert job.state == pb.JOB_STATE_SUCCEEDED, job.message
    clip_events = [(e.clip.clip_id, e.clip.state, e.clip.step) for e in events if e.HasField("clip")]
    assert clip_events[:4] == [(c.clip_id, pb.CLIP_STATE_QUEUED, 0) for c in job.clips]
    assert len(clip_events) == len(set(clip_events)), clip_events
    assert client.get(first.job_id).state == pb.JOB_STATE_SUCCEEDED


def test_timeline_by_path_over_a_unix_socket_needs_no_token(make_server, connect,
                                                            fixture_timeline, media_dir,
                                                            tmp_path):
    server = make_server(uds=str(tmp_path / "sock" / "v2a.sock"))
    assert (Path(server.config.uds).stat().st_mode & 0o777) == 0o600
    client = connect(server, uds=server.config.uds)
    job = client.submit(fixture_timeline, output_folder="by-path",
                        media_search_paths=(str(media_dir),), tracks=("Track-001",),
                        time_range=(0.0, 0.3))
    _, job = _watch_all(client, job.job_id)
    assert job.state == pb.JOB_STATE_SUCCEEDED, job.message
    assert job.timeline_path == str(fixture_timeline)
    # The time range 0..0.3 s covers the first two clips (3 and 6 frames at 24 fps).
    assert len(job.clips) == 2
    info = client.info()
    assert info.sample_rate == SAMPLE_RATE and "regenerate" in info.capabilities
    assert "otio_json" in info.input_formats and info.model_name == "stepping-sine"


def test_two_panels_at_once_get_their_own_jobs(make_server, connect, fixture_timeline,
                                               media_dir):
    server = make_server(concurrency=2)
    finished: dict[str, object] = {}

    def panel(name: str) -> None:
        client = connect(server)
        job = client.submit(fixture_timeline, inline=True, output_folder=name,
                            media_search_paths=(str(media_dir),),
                            params=pb.GenerationParams(seed=len(name)))
        finished[name] = _watch_all(client, job.job_id)[1]

    threads = [threading.Thread(target=panel, args=(n,)) for n in ("panel-a", "panel-bb")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert set(finished) == {"panel-a", "panel-bb"}
    a, b = finished["panel-a"], finished["panel-bb"]
    assert a.state == b.state == pb.JOB_STATE_SUCCEEDED
    assert a.job_id != b.job_id
    assert all("/panel-a/" in c.media_path for c in a.clips)
    assert all("/panel-bb/" in c.media_path for c in b.clips)
    listed = {j.job_id for j in connect(server).list()}
    assert {a.job_id, b.job_id} <= listed


def test_takes_generate_that_many_takes_per_clip_the_last_one_active(make_server, connect,
                                                                    fixture_timeline,
                                                                    media_dir, roots):
    client = connect(make_server())
    job = client.submit(fixture_timeline, inline=True, output_folder="takes",
                        media_search_paths=(str(media_dir),),
                        params=pb.GenerationParams(seed=10, takes=3))
    job = client.wait(job.job_id)
    assert job.state == pb.JOB_STATE_SUCCEEDED, job.message
    audio = roots["out"] / "takes" / "audio"
    assert [len(list(audio.glob(f"*_take{n}.wav"))) for n in (1, 2, 3)] == [4, 4, 4]
    result = client.result(job.job_id)
    assert all(c.media_path.endswith("_take3.wav") for c in result.clips)
    timeline = otio.adapters.read_from_file(result.timeline_path)
    clips = [c for t in timeline.audio_tracks() for c in t.find_clips() if len(c.media_references()) == 3]
    assert [c.active_media_reference_key for c in clips] == ["take3"] * 4
    for clip in clips:  # seed, seed + 1, seed + 2 (the third take drew seed + 3 before)
        assert [clip.media_references()[f"take{n}"].metadata["v2a"]["seed"] for n in (1, 2, 3)] == [10, 11, 12]


def test_a_job_given_no_seed_on_v2a_result_adds_new_sound_not_a_copy(make_server, connect,
                                                                      fixture_timeline,
                                                                      media_dir):
    """No seed: take n of a clip uses seed n - 1, as `v2a generate` does. The unset seed was 0,
    so a panel pressing Generate again on the result added a second take that was the first
    one's sound again; a seed given is used as given."""
    client = connect(make_server())
    first = client.wait(client.submit(fixture_timeline, inline=True, output_folder="again",
                                      media_search_paths=(str(media_dir),),
                                      params=pb.GenerationParams(takes=2)).job_id)
    assert first.state == pb.JOB_STATE_SUCCEEDED, first.message
    assert not first.params.HasField("seed")  # none given, none shown
    written = client.result(first.job_id).timeline_path
    again = client.wait(client.submit(written, media_search_paths=(str(media_dir),),
                                      output_folder="again").job_id)
    assert again.state == pb.JOB_STATE_SUCCEEDED, again.message
    given = client.wait(client.submit(written, media_search_paths=(str(media_dir),),
                                      output_folder="again",
                                      params=pb.GenerationParams(seed=7)).job_id)
    assert given.state == pb.JOB_STATE_SUCCEEDED, given.message

    timeline = otio.adapters.read_from_file(client.result(given.job_id).timeline_path)
    clips = [c for t in timeline.audio_tracks() for c in t.find_clips()
             if len(c.media_references()) == 4]
    assert len(clips) == 4
    for clip in clips:
        takes = [clip.media_references()[f"take{n}"] for n in (1, 2, 3, 4)]
        assert [take.metadata["v2a"]["seed"] for take in takes] == [0, 1, 2, 7]
        sounds = [read_wav(url_to_path(take.target_url))[0] for take in takes[1:3]]
        assert not np.array_equal(*sounds)  # take 3 is not take 2 again


def test_an_inline_timeline_larger_than_grpc_default_4_mb_is_accepted(make_server, connect,
                                                                      fixture_timeline,
                                                                      media_dir, tmp_path):
    # The fixture padded with 6 MB of JSON whitespace: the same timeline, a bigger message.
    big = tmp_path / "big_cut.otio"
    big.write_bytes(fixture_timeline.read_bytes() + b" " * (6 * 1024 * 1024))
    client = connect(make_server())
    job = client.submit(big, inline=True, media_search_paths=(str(media_dir),))
    assert len(job.clips) == 4
    result = client.result(client.wait(job.job_id).job_id, include_timeline_data=True)
    assert len(result.timeline_data) > 0


def test_a_clip_with_offline_media_is_skipped_with_why_and_the_others_run(make_server, connect,
                                                                         fixture_timeline,
                                                                         media_dir, tmp_path):
    partial = tmp_path / "three-of-four"
    partial.mkdir()
    for name in ("titles.mov", "wind-up.mov", "punchline.mov"):  # credits.mov is missing
        (partial / name).symlink_to(media_dir / name)
    client = connect(make_server())
    job = client.submit(fixture_timeline, inline=True, media_search_paths=(str(partial),))
    events, job = _watch_all(client, job.job_id)
    assert job.state == pb.JOB_STATE_SUCCEEDED
    assert job.message == "1 of 4 clips could not be generated"
    offline = next(c for c in job.clips if c.clip_name == "Clip-004")
    assert offline.state in (pb.CLIP_STATE_SKIPPED, pb.CLIP_STATE_FAILED)
    assert "credits.mov" in offline.message
    assert sum(c.state == pb.CLIP_STATE_DONE for c in job.clips) == 3
    assert any(e.HasField("clip") and e.clip.clip_name == "Clip-004" and "credits.mov" in
               e.clip.message for e in events)


def test_a_job_whose_every_clip_fails_leaves_no_output_folder(make_server, connect, fixture_timeline,
                                                              media_dir, roots):
    client = connect(make_server(generator="py:server_test_generators:broken"))
    job = client.submit(fixture_timeline, inline=True, output_folder="nothing-made",
                        media_search_paths=(str(media_dir),))
    _, job = _watch_all(client, job.job_id)
    assert job.state == pb.JOB_STATE_FAILED
    assert all(c.state == pb.CLIP_STATE_FAILED and "out of memory" in c.message for c in job.clips)
    assert not (roots["out"] / "nothing-made").exists()  # not even an empty folder


def test_the_websocket_bridge_sends_every_field_and_64_bit_integers_as_numbers(
        make_server, connect, fixture_timeline, media_dir):
    """A UXP panel adds `start_sample + num_samples` and skips `handle_before_samples` peaks:
    proto3 JSON's strings for int64 concatenated, and its omitted zeros were `undefined`."""
    import json

    from websockets.sync.client import connect as ws_connect

    server = make_server(ws_port=0)
    job = connect(server).submit(fixture_timeline, media_search_paths=(str(media_dir),),
                                 params=pb.GenerationParams(seed=3))
    _watch_all(connect(server), job.job_id)
    calls = [("GetJobResult", {"job_id": job.job_id, "peak_points": 4}),
             ("WatchJob", {"job_id": job.job_id})]
    with ws_connect(server.bridge.url) as socket:
        socket.send(json.dumps({"id": 0, "method": "Authenticate", "token": server.token}))
        assert "response" in json.loads(socket.recv(timeout=10))
        for call_id, (method, request) in enumerate(calls, 1):
            socket.send(json.dumps({"id": call_id, "method": method, "request": request}))
        replies = []
        # Both calls run at once: the finished job's watch may end before the result arrives.
        while not (any(r.get("end") for r in replies)
                   and any(r["id"] == 1 and "response" in r for r in replies)):
            replies.append(json.loads(socket.recv(timeout=10)))

    result = next(r["response"] for r in replies if r["id"] == 1)
    assert sorted(clip["start_sample"] for clip in result["clips"])[0] == 0
    for clip in result["clips"]:
        numbers = [clip[name] for name in ("start_sample", "num_samples", "handle_before_samples",
                                           "handle_after_samples")]
        assert all(type(number) is int for number in numbers), clip
        assert sum(numbers[1:]) == clip["peaks"]["num_samples"]
    assert result["job"]["params"]["seed"] == 3 and result["job"]["params"]["steps"] == 0
    assert result["job"]["create_time"].endswith("Z")  # a Timestamp stays RFC 3339
    events = [r["event"] for r in replies if r["id"] == 2 and "event" in r]
    clips = [e["clip"] for e in events if "clip" in e]
    assert clips and all(clip["media_path"] for clip in clips)
    # The finished clips' progress: all steps done, the job's one take of one.
    assert all((clip["step"], clip["total_steps"], clip["take"], clip["take_count"]) == (4, 4, 1, 1)
               for clip in clips), clips
