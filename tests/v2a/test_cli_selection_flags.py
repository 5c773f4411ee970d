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
