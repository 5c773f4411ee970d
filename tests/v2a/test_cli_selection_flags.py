"""The `v2a` command line's selection flags: one value each, repeatable, so a flag before the
TIMELINE argument never swallows it."""

from __future__ import annotations

import pytest

from v2a.cli import build_parser


def parse(*argv: str):
    return build_parser().parse_args(list(argv))


@pytest.mark.parametrize("command", ["generate", "inspect"])
def test_a_track_flag_before_the_timeline_leaves_the_timeline_alone(command):
    out = ["--out", "X"] if command == "generate" else []
    args = parse(command, "--tracks", "V1", "samples/sample.otio", *out)
    assert args.timeline == "samples/sample.otio" and args.tracks == ["V1"]


def test_generate_takes_tracks_and_clips_repeated_in_either_spelling():
    args = parse("generate", "--clips", "a1", "--clip", "V1@2.5", "--track", "V1", "--tracks",
                 "2", "cut.otio", "--out", "X")
    assert args.timeline == "cut.otio"
    assert args.clips == ["a1", "V1@2.5"] and args.tracks == ["V1", "2"]


def test_client_submit_takes_tracks_and_clips_repeated_in_either_spelling():
    args = parse("client", "submit", "--tracks", "V1", "cut.otio", "--track", "V2",
                 "--clips", "a1", "--clip", "b2", "--rate", "25")
    assert str(args.timeline) == "cut.otio"
    assert args.track == ["V1", "V2"] and args.clip == ["a1", "b2"] and args.rate == 25.0


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
