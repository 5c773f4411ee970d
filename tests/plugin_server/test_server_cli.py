"""`v2a client …` against a real server: submit with a progress bar, result, errors."""

from __future__ import annotations

import json

from v2a.cli import main


def _args(server, roots) -> list[str]:
    return ["client", "--address", server.address, "--token-file", str(roots["token"])]


def test_submit_watch_result_and_regenerate_from_the_command_line(make_server, roots,
                                                                  fixture_timeline, media_dir,
                                                                  capsys):
    server = make_server()
    base = _args(server, roots)
    assert main([*base, "submit", str(fixture_timeline), "--inline", "--out", "cli",
                 "--media-path", str(media_dir), "--seed", "4", "--watch"]) == 0
    out, err = capsys.readouterr()
    job_id = out.splitlines()[0]
    assert f"{job_id}: succeeded" in out and "100%" in err  # tqdm's bar goes to stderr

    assert main([*base, "result", job_id, "--peaks", "4"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert len(summary["clips"]) == 4 and len(summary["clips"][0]["peaks_max"]) == 4
    clip_id = summary["clips"][0]["clip_id"]

    assert main([*base, "regenerate", job_id, "--clip", clip_id, "--seed", "9", "--watch"]) == 0
    assert ": succeeded" in capsys.readouterr().out
    assert main([*base, "info"]) == 0
    assert json.loads(capsys.readouterr().out)["sampleRate"] == 48000


def test_errors_are_one_clear_line_with_details_not_a_traceback(make_server, roots, capsys):
    server = make_server()
    assert main([*_args(server, roots), "get", "no-such-job"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: NOT_FOUND: job 'no-such-job'") and "ResourceInfo" in err
    assert "Traceback" not in err
