"""The `v2a` command's own behaviour, whatever the subcommand."""

from __future__ import annotations


def test_a_reader_that_closes_the_pipe_early_is_not_a_traceback():
    """`v2a client get ID | head` ended in a BrokenPipeError traceback."""
    import subprocess
    import sys

    script = (
        "import otio_adapters.cli as c, sys\n"
        "def flood(args):\n"
        "    for i in range(200000):\n"
        "        print('line', i)\n"
        "c._inspect = flood\n"
        "from v2a.cli import main\n"
        "sys.exit(main(['inspect', 'x.otio']))\n"
    )
    writer = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE)
    writer.stdout.readline()
    writer.stdout.close()  # the reader goes away after one line, as `head -1` does
    stderr = writer.stderr.read().decode()
    assert writer.wait(30) == 141 and "Traceback" not in stderr, stderr


def test_generate_refuses_out_of_range_parameters_before_any_work(tmp_path, capsys):
    """--cfg nan sampled near-silence and --steps past 1,000 ran out of memory; the server refuses
    them at CreateJob, and generate now says which flag before it reads the timeline."""
    from pathlib import Path

    from v2a.cli import main

    sample = Path(__file__).resolve().parents[2] / "samples" / "sample.otio"
    out = tmp_path / "out"
    assert main(["generate", str(sample), "--out", str(out), "--steps", "5000", "--cfg", "nan"]) == 2
    error = capsys.readouterr().err
    assert "--steps 5000: 0..1000" in error and "--cfg nan" in error
    assert not out.exists()


def test_cut_handle_must_be_seconds_in_range(capsys):
    """--cut-handle nan and inf ended in a traceback; -1 was taken silently as 0."""
    import pytest

    from v2a.cli import main

    for bad in ("nan", "inf", "-1", "3", "x"):
        with pytest.raises(SystemExit) as exit_:
            main(["inspect", "any.otio", "--cut-handle", bad])
        assert exit_.value.code == 2
        assert f"--cut-handle: '{bad}': seconds from 0 to 2" in capsys.readouterr().err
