"""FCPXML read with exact time: NTSC rates, lengths the adapter's floats truncated, tcStart."""

import xml.etree.ElementTree as ET
from fractions import Fraction

import opentimelineio as otio
import pytest

from otio_adapters.read import read_timeline
from otio_adapters.timing import exact_rate, seconds
from otio_adapters.write import write_timeline

# As Final Cut Pro writes a 23.976 project that starts at 01:00:00:00: the spine counts from
# tcStart (86400 frames of 1001/24000 s), every time a multiple of the frame duration.
NTSC_PROJECT = """<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE fcpxml>
<fcpxml version="1.8">
  <resources>
    <format id="r1" name="FFVideoFormat1080p2398" frameDuration="1001/24000s"/>
    <asset id="r2" name="A" src="file:///media/A.mov" start="0s" duration="240240/24000s"
           hasVideo="1" format="r1"/>
    <asset id="r3" name="B" src="file:///media/B.mov" start="0s" duration="240240/24000s"
           hasVideo="1" format="r1"/>
  </resources>
  <library><event name="E"><project name="P">
    <sequence duration="247247/24000s" format="r1" tcStart="{tc_start}" tcFormat="NDF">
      <spine>
        <asset-clip name="A" offset="{first}" ref="r2" duration="123123/24000s" start="0s"/>
        <asset-clip name="B" offset="{second}" ref="r3" duration="124124/24000s"
                    start="24024/24000s"/>
      </spine>
    </sequence>
  </project></event></library>
</fcpxml>
"""


def _read(tmp_path, text: str) -> otio.schema.Timeline:
    path = tmp_path / "cut.fcpxml"
    path.write_text(text)
    return read_timeline(path)


def _clips(timeline):
    return [
        (
            clip.name,
            clip.range_in_parent().start_time.value,
            clip.source_range.start_time.value,
            clip.source_range.duration.value,
        )
        for clip in timeline.video_tracks()[0].find_clips()
    ]


def test_a_23976_project_reads_at_its_rate_from_its_start_timecode(tmp_path):
    """The adapter read this as 23 fps: A 117 frames instead of 123, a 6-frame gap before B, and
    an hour of gap in front of the picture (86400 frames)."""
    timeline = _read(
        tmp_path,
        NTSC_PROJECT.format(
            tc_start="86486400/24000s", first="86486400/24000s", second="86609523/24000s"
        ),
    )
    clip = timeline.video_tracks()[0][0]
    assert exact_rate(clip.source_range.duration.rate) == Fraction(24000, 1001)
    # name, record start frame, source start frame, frames: no gap, nothing short.
    assert _clips(timeline) == [("A", 0, 0, 123), ("B", 123, 24, 124)]
    assert clip.media_reference.available_range.duration.value == 240
    assert seconds(timeline.global_start_time) == Fraction(86400 * 1001, 24000)  # 01:00:00:00


def test_offsets_that_count_from_zero_in_spite_of_tcstart_are_left_in_place(tmp_path):
    timeline = _read(
        tmp_path,
        NTSC_PROJECT.format(tc_start="86486400/24000s", first="0s", second="123123/24000s"),
    )
    assert _clips(timeline) == [("A", 0, 0, 123), ("B", 123, 24, 124)]
    assert timeline.global_start_time is None


@pytest.mark.parametrize("frames", [123, 245, 246, 247, 490])
def test_lengths_whose_float_seconds_fall_short_of_a_frame_keep_every_frame(tmp_path, frames):
    """At 30 fps the adapter computed 245 frames ("49/6s") as 244.99999999999997 and int() made
    it 244: about one length in sixty lost its last frame."""
    length = Fraction(frames, 30)
    text = f"""<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE fcpxml>
<fcpxml version="1.8">
  <resources>
    <format id="r1" frameDuration="1/30s"/>
    <asset id="r2" name="A" src="file:///media/A.mov" start="0s" duration="{length.numerator}/{length.denominator}s" hasVideo="1" format="r1"/>
  </resources>
  <library><event name="E"><project name="P">
    <sequence format="r1" tcStart="0s">
      <spine>
        <asset-clip name="A" offset="0s" ref="r2" duration="{length.numerator}/{length.denominator}s" start="0s"/>
      </spine>
    </sequence>
  </project></event></library>
</fcpxml>
"""
    timeline = _read(tmp_path, text)
    clip = timeline.video_tracks()[0][0]
    assert clip.source_range.duration.value == frames
    assert clip.media_reference.available_range.duration.value == frames


def test_a_written_fcpxml_keeps_the_start_timecode(tmp_path):
    """The adapter writes no tcStart: a project that started at 01:00:00:00 came back from Final
    Cut at 00:00:00:00 (and, before the reader took the start, with an hour of gap in front)."""
    text = NTSC_PROJECT.replace("1001/24000s", "1/30s").format(
        tc_start="3600s", first="3600s", second="36041/10s"
    )
    timeline = _read(tmp_path, text)
    assert seconds(timeline.global_start_time) == 3600
    out = tmp_path / "out.fcpxml"
    write_timeline(timeline, str(out), "fcpx_xml")

    root = ET.parse(out).getroot()
    sequence = root.find("./project/sequence")
    assert sequence.get("tcStart") == "3600s"
    assert [item.get("offset") for item in sequence.iterfind("./spine/*")][0] == "3600s"
    again = read_timeline(out)
    assert seconds(again.global_start_time) == 3600
    assert _clips(again) == _clips(timeline)
