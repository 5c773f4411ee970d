"""A clip without a source range plays its whole media (OTIO's rule; `simple_cut.otio` is cut
so). Every other format's writer needs the range written out."""

from __future__ import annotations

from pathlib import Path

import pytest

from otio_adapters.read import read_timeline
from otio_adapters.write import write_timeline

SIMPLE_CUT = (
    Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "timelines" / "otio"
    / "simple_cut.otio"
)


@pytest.mark.parametrize(
    "format, suffix",
    [("cmx_3600", ".edl"), ("fcp_xml", ".xml"), ("fcpx_xml", ".fcpxml"), ("kdenlive", ".kdenlive")],
)
def test_clips_of_whole_media_are_written_in_the_format_asked_for(tmp_path, format, suffix):
    source = read_timeline(SIMPLE_CUT)
    path = tmp_path / f"cut{suffix}"
    written, fallback, note = write_timeline(source, str(path), format)
    assert written == str(path), note  # the writers failed: the result fell back to .otio
    options = {"rate": 24} if format == "cmx_3600" else {}
    back = read_timeline(path, options=options)
    expected = [clip.trimmed_range_in_parent() for clip in source.video_tracks()[0].find_clips()]
    got = [clip.trimmed_range_in_parent() for clip in back.video_tracks()[0].find_clips()]
    assert [(r.start_time.to_frames(), r.duration.to_frames()) for r in got] == [
        (r.start_time.to_frames(), r.duration.to_frames()) for r in expected
    ]
