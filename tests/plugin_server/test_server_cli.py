"""`v2a client …` against a real server: submit with a progress bar, result, errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from otio_adapters.read import read_timeline
from otio_adapters.stem import render_v2a_sound
from v2a.cli import main
from v2a.media.audio import read_wav

FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "timelines"


def _args(server, roots) -> list[str]:
    return ["client", "--address", server.address, "--token-file", str(roots["token"])]


def test_submit_watch_result_and_regenerate_from_the_command_line(make_server, roots,
                                                                  fixture_timeline, media_dir,
                                                                  capsys, tmp_path):
    server = make_server()
    base = _args(server, roots)
    assert main([*base, "submit", str(fixture_timeline), "--inline", "--out", "cli",
                 "--media-path", str(media_dir), "--seed", "4", "--watch"]) == 0
    out, err = capsys.readouterr()
    job_id = out.splitlines()[0]
    assert f"{job_id}: succeeded" in out
    assert f"{job_id}: 4/4 " in err  # progress goes to stderr: here a log, one line per clip
    # Watched after it ended: the stream opens with every clip's state, counted out of all four.
    assert main([*base, "watch", job_id]) == 0
    err = capsys.readouterr().err
    assert f"{job_id}: 1/4 " in err and f"{job_id}: 1/1 " not in err

    assert main([*base, "result", job_id, "--peaks", "4"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert len(summary["clips"]) == 4 and len(summary["clips"][0]["peaks_max"]) == 4
    clip_id = summary["clips"][0]["clip_id"]
    # The job drawn as `v2a generate --picture` draws a run: its shots planned from the written
    # timeline (here on the server's machine; its media found as the job found it), its takes.
    picture = tmp_path / "job.png"
    assert main([*base, "result", job_id, "--picture", str(picture),
                 "--media-path", str(media_dir)]) == 0
    err = capsys.readouterr().err
    assert "shots are left grey" not in err and "drawn grey" not in err
    with Image.open(picture) as image:
        strip = np.asarray(image.convert("RGB"))[40:130, 100:1500]  # the shots' row
    assert len(np.unique(strip.reshape(-1, 3), axis=0)) > 100  # frames, not one grey
    assert main([*base, "result", job_id, "--picture", str(picture)]) == 0
    assert "4 of 4 shot(s) drawn grey: their media is not found here" in capsys.readouterr().err

    # Its stem: the written timeline as it plays (the rendering itself: test_stem.py).
    stem = tmp_path / "stems" / "job.wav"
    assert main([*base, "result", job_id, "--stem", str(stem)]) == 0
    assert f"stem: {stem} (" in capsys.readouterr().err
    sound, _ = read_wav(str(stem))
    written = read_timeline(summary["fallback_otio"] or summary["timeline"])
    np.testing.assert_allclose(sound, render_v2a_sound(written), atol=2**-22)  # 24-bit
    assert np.abs(sound).max() > 0.1  # the takes, not silence
    assert main([*base, "result", job_id, "--stem", str(tmp_path / "job.mp3")]) == 2
    assert "--stem" in capsys.readouterr().err and not (tmp_path / "job.mp3").exists()

    assert main([*base, "regenerate", job_id, "--clip", clip_id, "--seed", "9", "--watch"]) == 0
    assert ": succeeded" in capsys.readouterr().out
    # --clip also takes TRACK@SECONDS, as `submit --clip` and `v2a generate --clip` do.
    second = summary["clips"][1]
    middle = (second["start_sample"] + second["num_samples"] / 2) / 48000
    assert main([*base, "regenerate", job_id, "--clip", f"V1@{middle}", "--watch"]) == 0
    out, err = capsys.readouterr()
    assert ": succeeded" in out and f"{second['clip_id']}_take2.wav" in err
    assert main([*base, "info"]) == 0
    assert json.loads(capsys.readouterr().out)["sample_rate"] == 48000


def test_info_names_each_formats_file_extensions(make_server, roots, capsys):
    """A panel offers "Save as .fcpxml": output_formats named the adapters alone."""
    server = make_server()
    assert main([*_args(server, roots), "info"]) == 0
    info = json.loads(capsys.readouterr().out)
    written = info["output_timeline_formats"]
    assert [f["name"] for f in written] == info["output_formats"]  # the same formats, in order
    by_name = {f["name"]: f for f in written}
    # First the extension v2a names a file it writes in that format, then the others it reads.
    assert by_name["fcpx_xml"] == {"name": "fcpx_xml", "extensions": ["fcpxml", "fcpxmld"],
                                   "label": "Final Cut Pro X XML"}
    assert by_name["cmx_3600"]["extensions"] == ["edl"]
    assert by_name["otio_json"]["extensions"] == ["otio"]
    assert [f["name"] for f in info["input_timeline_formats"]] == info["input_formats"]


def test_errors_are_one_clear_line_with_details_not_a_traceback(make_server, roots, capsys):
    """Said as every v2a command says a user error (`v2a COMMAND: error: ...`, exit status 2):
    the client's were a bare "error: ..." with status 1, which also means a job that failed."""
    server = make_server()
    assert main([*_args(server, roots), "get", "no-such-job"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("v2a client: error: NOT_FOUND: job 'no-such-job'") and "ResourceInfo" in err
    assert "Traceback" not in err


def test_result_saves_the_timeline_or_says_in_one_line_why_it_cannot(make_server, roots,
                                                                     fixture_timeline, media_dir,
                                                                     capsys, tmp_path):
    """--save-timeline into a folder not there yet makes it, as --stem does; into a path no file
    can be written at, it says so in one line (it ended in a traceback)."""
    server = make_server()
    base = _args(server, roots)
    assert main([*base, "submit", str(fixture_timeline), "--inline", "--out", "saved",
                 "--media-path", str(media_dir), "--watch"]) == 0
    job_id = capsys.readouterr().out.splitlines()[0]
    saved = tmp_path / "timelines" / fixture_timeline.name
    assert main([*base, "result", job_id, "--save-timeline", str(saved)]) == 0
    assert read_timeline(str(saved)).video_tracks()
    capsys.readouterr()
    blocked = tmp_path / "a file"
    blocked.write_text("")
    assert main([*base, "result", job_id, "--save-timeline", str(blocked / "cut.otio")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("v2a client: error: --save-timeline ") and "Traceback" not in err


EDL_25 = FIXTURES / "cmx3600_edl" / "25fps.edl"  # its stand-in movies: conftest's edl_media


@pytest.mark.skipif(not EDL_25.is_file(), reason="shared fixtures absent")
@pytest.mark.parametrize("inline", [False, True])
def test_submit_passes_the_edl_frame_rate_with_rate(make_server, roots, edl_media, inline,
                                                    capsys):
    server = make_server()
    submit = [*_args(server, roots), "submit", str(EDL_25), "--media-path", str(edl_media),
              *(["--inline"] if inline else [])]
    # Read at the default 24 fps the list has a frame 24, which does not exist.
    assert main(submit) == 2
    assert "INVALID_ARGUMENT" in capsys.readouterr().err

    assert main([*submit, "--rate", "25", "--watch"]) == 0
    out = capsys.readouterr().out
    assert ": succeeded" in out, out


def test_a_timeline_too_big_to_send_inline_is_refused_saying_to_send_its_path(
        make_server, roots, tmp_path, capsys):
    big = tmp_path / "feature.otio"
    with open(big, "wb") as handle:
        handle.truncate(65 * 2**20)  # sparse: nothing to write
    server = make_server()
    assert main([*_args(server, roots), "submit", str(big), "--inline"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("v2a client: error: ") and f"{big} is 65.0 MiB, more than the 64 MiB a request may carry: send it by path" in err


def test_an_inline_timeline_missing_or_empty_is_one_line_naming_the_file(make_server, roots,
                                                                          tmp_path, capsys):
    """A missing file sent inline ended in a traceback; an empty one was sent, and the server
    answered "no timeline sent: send inline_data or a path", which the panel had done."""
    server = make_server()
    missing = tmp_path / "gone.otio"
    assert main([*_args(server, roots), "submit", str(missing), "--inline"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"v2a client: error: cannot read {missing}: ") and "Traceback" not in err
    empty = tmp_path / "empty.otio"
    empty.write_bytes(b"")
    assert main([*_args(server, roots), "submit", str(empty), "--inline"]) == 2
    assert capsys.readouterr().err == f"v2a client: error: {empty} is empty: no timeline to send\n"


def test_watch_into_a_log_prints_one_line_per_clip_as_it_ends(capsys):  # capsys: no terminal
    from plugin_server.cli import _follow
    from v2a.v1 import jobs_pb2 as pb
    from v2a.v1 import v2a_service_pb2 as api

    def clip(clip_id, state, step=0, message=""):
        return api.WatchJobResponse(job_id="j1", clip=pb.ClipProgress(
            clip_id=clip_id, clip_name=clip_id.upper(), state=state, step=step, total_steps=16,
            message=message))

    events = [clip("a", pb.CLIP_STATE_QUEUED), clip("b", pb.CLIP_STATE_QUEUED)]
    events += [clip("a", pb.CLIP_STATE_RUNNING, step) for step in range(1, 17)]
    events += [clip("a", pb.CLIP_STATE_DONE), clip("a", pb.CLIP_STATE_DONE)]  # a repeat prints once
    events += [clip("b", pb.CLIP_STATE_RUNNING, step) for step in range(1, 17)]
    events += [clip("b", pb.CLIP_STATE_FAILED, message="media offline")]

    class Client:
        def watch(self, job_id):
            return iter(events)

        def get(self, job_id):
            return pb.Job(job_id=job_id, state=pb.JOB_STATE_SUCCEEDED, result_timeline_path="/o/cut.otio")

    assert _follow(Client(), "j1") == 0
    out, err = capsys.readouterr()
    assert err.splitlines() == ["j1: 1/2 A: done", "j1: 2/2 B: failed (media offline)"]
    assert "\r" not in err and out.splitlines() == ["j1: succeeded", "timeline: /o/cut.otio"]


def test_watch_into_a_log_says_which_take_each_clip_ended_in(capsys):
    """`takes: 2` ends every clip twice: the two lines per clip read the same before."""
    from plugin_server.cli import _follow
    from v2a.v1 import jobs_pb2 as pb
    from v2a.v1 import v2a_service_pb2 as api

    def clip(state, take, message=""):
        return api.WatchJobResponse(job_id="j2", clip=pb.ClipProgress(
            clip_id="a", clip_name="A", state=state, step=4, total_steps=4, message=message,
            take=take, take_count=2))

    events = [clip(pb.CLIP_STATE_DONE, 1), clip(pb.CLIP_STATE_QUEUED, 2),
              clip(pb.CLIP_STATE_FAILED, 2, "media offline")]

    class Client:
        def watch(self, job_id):
            return iter(events)

        def get(self, job_id):
            return pb.Job(job_id=job_id, state=pb.JOB_STATE_SUCCEEDED, clips=[events[-1].clip])

    assert _follow(Client(), "j2") == 0
    assert capsys.readouterr().err.splitlines() == [
        "j2: 1/1 A: done in take 1 of 2", "j2: 1/1 A: failed in take 2 of 2 (media offline)"]


def test_ctrl_c_while_watching_says_the_job_keeps_running_and_how_to_cancel_it(capsys):
    """Ctrl-C on `submit --watch` stops the watching alone, as a panel closing its stream does;
    it said only "v2a client: interrupted", and an editor took the job for stopped while it
    kept the generator busy."""
    from plugin_server.cli import _follow
    from v2a.v1 import jobs_pb2 as pb
    from v2a.v1 import v2a_service_pb2 as api

    def events():
        yield api.WatchJobResponse(job_id="j3", clip=pb.ClipProgress(
            clip_id="a", clip_name="A", state=pb.CLIP_STATE_RUNNING, step=1, total_steps=4))
        raise KeyboardInterrupt

    class Client:
        def watch(self, job_id):
            return events()

        def get(self, job_id):
            return pb.Job(job_id=job_id, state=pb.JOB_STATE_RUNNING, clips=[pb.ClipProgress()])

    assert _follow(Client(), "j3") == 130
    assert capsys.readouterr().err.splitlines()[-1] == (
        "j3: stopped watching; the job keeps running on the server "
        "(`v2a client watch j3` to follow it again, `v2a client cancel j3` to stop it)")


def test_submit_takes_a_clip_by_track_and_record_time_as_generate_does(make_server, roots,
                                                                       fixture_timeline, media_dir,
                                                                       capsys):
    server = make_server()
    # Clip-002 runs from 0.125 s to 0.375 s of record time on V1.
    assert main([*_args(server, roots), "submit", str(fixture_timeline), "--inline", "--out", "one",
                 "--media-path", str(media_dir), "--clip", "V1@0.2", "--watch"]) == 0
    job_id = capsys.readouterr().out.splitlines()[0]
    assert main([*_args(server, roots), "result", job_id]) == 0
    clips = json.loads(capsys.readouterr().out)["clips"]
    assert [c["name"] for c in clips] == ["Clip-002"]


def test_offline_media_is_said_with_the_option_that_relinks_it(make_server, roots,
                                                              fixture_timeline, capsys):
    """The server's message names the request's field for any client ("add media_search_paths
    to relink it"); the command line's user relinks with --media-path, and reads that."""
    server = make_server()
    assert main([*_args(server, roots), "submit", str(fixture_timeline)]) == 2
    first, *details = capsys.readouterr().err.splitlines()
    assert first.startswith("v2a client: error: FAILED_PRECONDITION: ")
    assert "(add --media-path to relink it)" in first and "media_search_paths" not in first
    assert details and all(line.startswith("  ") for line in details)  # as the server sent them


def test_a_port_in_use_is_one_line_without_grpcs_own_log_line(tmp_path):
    """gRPC logged "E1202 … add_port.cc:83] Failed to add port to server: …" before v2a's own
    message, a second error in another form for the same cause."""
    import socket
    import subprocess
    import sys

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-c", "import sys; from v2a.cli import main; sys.exit(main())",
             "serve", "--port", str(port), "--state-dir", str(tmp_path / "state"),
             "--token-file", str(tmp_path / "token"), "--generator", "silence"],
            capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr == (f"v2a serve: error: cannot listen on 127.0.0.1:{port}: the port is in "
                           "use or the address is not this machine's (try --port 0)\n")
