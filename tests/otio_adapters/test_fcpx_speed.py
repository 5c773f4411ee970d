"""The editor's FCPXML speed changes (`<timeMap>`): read as OTIO time warps, planned with,
and written back (the adapter reads and writes none)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from fractions import Fraction

import opentimelineio as otio
import pytest

from otio_adapters.fcpx_time import parse_seconds
from otio_adapters.plan import plan_segments
from otio_adapters.read import read_timeline
from otio_adapters.write import write_timeline

RT = otio.opentime.RationalTime
TR = otio.opentime.TimeRange

# 25 fps; "fast" plays its media at 200 % from 4 s (its own timeline starts at 2 s, which the
# map sends to 4 s), "hold" holds media frame 7 s, "ramp" speeds up half way.
RETIMED = """<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE fcpxml>
<fcpxml version="1.8">
  <resources>
    <format id="r1" name="FFVideoFormat1080p25" frameDuration="1/25s"/>
    <asset id="r2" name="shot" src="file:///media/shot.mov" start="0s" duration="60s"
           hasVideo="1" format="r1"/>
  </resources>
  <library><event name="E"><project name="P">
    <sequence format="r1" duration="9s" tcStart="0s">
      <spine>
        <asset-clip name="fast" ref="r2" offset="0s" start="2s" duration="3s">
          <timeMap>
            <timept time="0s" value="0s" interp="smooth2"/>
            <timept time="30s" value="60s" interp="smooth2"/>
          </timeMap>
        </asset-clip>
        <asset-clip name="hold" ref="r2" offset="3s" start="10s" duration="2s">
          <timeMap>
            <timept time="10s" value="7s" interp="linear"/>
            <timept time="12s" value="7s" interp="linear"/>
          </timeMap>
        </asset-clip>
        <asset-clip name="ramp" ref="r2" offset="5s" start="0s" duration="4s">
          <timeMap>
            <timept time="0s" value="0s"/>
            <timept time="2s" value="2s"/>
            <timept time="4s" value="6s"/>
          </timeMap>
        </asset-clip>
      </spine>
    </sequence>
  </project></event></library>
</fcpxml>
"""


def _read(tmp_path, text: str = RETIMED) -> otio.schema.Timeline:
    path = tmp_path / "retimed.fcpxml"
    path.write_text(text)
    return read_timeline(path)


def _speeds(timeline: otio.schema.Timeline) -> list[tuple]:
    """Each clip of the first video track: name, record start, source start and duration (in
    frames), and its time warps' scalars."""
    return [
        (
            clip.name,
            clip.range_in_parent().start_time.value,
            clip.source_range.start_time.value,
            clip.source_range.duration.value,
            [e.time_scalar for e in clip.effects if isinstance(e, otio.schema.LinearTimeWarp)],
        )
        for clip in timeline.video_tracks()[0].find_clips()
    ]


def test_fcpxml_time_maps_are_read_as_time_warps(tmp_path):
    # The adapter read "fast" as 3 s of media from 2 s at normal speed (v2a made its sound for
    # those frames, while Final Cut shows 6 s of media from 4 s) and "hold" as moving picture.
    timeline = _read(tmp_path)
    fast, hold, ramp = _speeds(timeline)
    assert fast == ("fast", 0, 100, 75, [2.0])  # media from 4 s, 3 s on the timeline
    assert hold == ("hold", 75, 175, 50, [0.0])
    assert isinstance(timeline.video_tracks()[0][1].effects[0], otio.schema.FreezeFrame)
    assert ramp == ("ramp", 125, 0, 100, [])  # a ramp is no one OTIO effect: not read ...
    assert timeline.metadata["fcpx_xml"]["speed_changes_not_read"] == 1

    segments = {s.clip_name: s for s in plan_segments(timeline, timeline_path=str(tmp_path))}
    assert segments["fast"].speed == 2 and segments["fast"].source_start == pytest.approx(4)
    assert segments["hold"].speed == 0 and segments["hold"].source_start == pytest.approx(7)

    # ... and said wherever the result is written.
    _, _, note = write_timeline(timeline, str(tmp_path / "out.otio"), "otio_json")
    assert "speed changes of the source FCPXML that v2a could not read (clips whose " in note


def test_a_clip_bladed_out_of_a_retimed_clip_reads_at_the_speed_of_its_own_part(tmp_path):
    # Final Cut keeps the whole time map on each part of a retimed clip it blades: the map of
    # "play 2 s, hold media 2 s for 2 s, play on" on the hold alone (and on the part after
    # it) changes speed outside the clip, not within it. Both were read at normal speed, as
    # ramps: the hold's sound was made for moving picture, the last part's for frames 2 s early.
    speed_map = """<timeMap>
            <timept time="0s" value="0s" interp="linear"/>
            <timept time="2s" value="2s" interp="linear"/>
            <timept time="4s" value="2s" interp="linear"/>
            <timept time="10s" value="8s" interp="linear"/>
          </timeMap>"""
    spine = "".join(
        f"""<asset-clip name="{name}" ref="r2" offset="{offset}s" start="{start}s"
                       duration="2s">{speed_map}</asset-clip>"""
        for name, offset, start in (("before", 0, 0), ("hold", 2, 2), ("after", 4, 4))
    )
    text = RETIMED.split("<spine>")[0] + "<spine>" + spine + "</spine>" + RETIMED.split("</spine>")[1]
    timeline = _read(tmp_path, text)
    assert _speeds(timeline) == [
        ("before", 0, 0, 50, [1.0]),
        ("hold", 50, 50, 50, [0.0]),  # media frame 2 s, held
        ("after", 100, 50, 50, [1.0]),  # media from 2 s, as Final Cut shows it
    ]
    assert "speed_changes_not_read" not in timeline.metadata.get("fcpx_xml", {})


def test_the_editors_speed_ramp_is_written_back_as_it_was(tmp_path):
    # v2a reads no ramp (no one OTIO effect); the adapter writes no time map: the FCPXML v2a
    # returned played the editor's ramp at 100 %, an edit of theirs undone.
    timeline = _read(tmp_path)
    written, _, note = write_timeline(timeline, str(tmp_path / "out.fcpxml"), "fcpx_xml")
    ramp = next(clip for clip in ET.parse(written).getroot().iter()
                if clip.tag in ("clip", "asset-clip") and clip.get("name") == "ramp")
    points = [(p.get("time"), p.get("value")) for p in ramp.find("./timeMap")]
    assert points == [("0s", "0s"), ("2s", "2s"), ("4s", "6s")]
    assert parse_seconds(ramp.get("start")) == 0 and parse_seconds(ramp.get("duration")) == 4
    assert "planned at normal speed" in note
    # and so it reads back: still a ramp, named again
    back = read_timeline(written)
    assert back.metadata["fcpx_xml"]["speed_changes_not_read"] == 1


def _clip(name: str, start: int, frames: int, rate: float, *effects) -> otio.schema.Clip:
    clip = otio.schema.Clip(
        name=name,
        source_range=TR(RT(start, rate), RT(frames, rate)),
        media_reference=otio.schema.ExternalReference(
            target_url=f"file:///m/{name}.mov", available_range=TR(RT(0, rate), RT(2000, rate))
        ),
    )
    clip.effects.extend(effects)
    return clip


@pytest.mark.parametrize("rate", [25, 30000 / 1001])
def test_time_warps_are_written_as_time_maps_that_read_back_the_same(rate, tmp_path):
    # The adapter writes no timeMap: Final Cut played every retimed clip at 100 %, frames other
    # than v2a made their sound for (the note said so). At 29.97 the map is in true seconds.
    video = otio.schema.Track(name="V1")
    video.extend([
        _clip("fast", 100, 40, rate, otio.schema.LinearTimeWarp(time_scalar=1.5)),
        _clip("hold", 300, 20, rate, otio.schema.FreezeFrame()),
        _clip("back", 500, 30, rate, otio.schema.LinearTimeWarp(time_scalar=-1)),
        _clip("plain", 700, 30, rate),
    ])
    overlay = otio.schema.Track(name="V2")
    overlay.extend([otio.schema.Gap(source_range=TR(RT(0, rate), RT(10, rate))),
                    _clip("slow", 50, 20, rate, otio.schema.LinearTimeWarp(time_scalar=0.5))])
    timeline = otio.schema.Timeline(name="edit", global_start_time=RT(90000, rate))
    timeline.tracks.extend([video, overlay])

    written, fallback, note = write_timeline(timeline, str(tmp_path / "out.fcpxml"), "fcpx_xml")
    assert (fallback, note) == ("", "")
    root = ET.parse(written).getroot()
    clips = {clip.get("name"): clip for clip in root.iter("clip")}
    points = [
        (parse_seconds(p.get("time")), parse_seconds(p.get("value")))
        for p in clips["fast"].find("./timeMap")
    ]
    start, frame = parse_seconds(clips["fast"].get("start")), 1 / Fraction(rate).limit_denominator(1001)
    assert points == [(start, start), (start + 40 * frame, start + 60 * frame)]
    assert list(clips["fast"])[0].tag == "timeMap"  # before its media, as the DTD orders them
    assert clips["plain"].find("./timeMap") is None

    back = read_timeline(written)
    for before, after in zip(timeline.tracks, back.video_tracks(), strict=True):
        assert [
            (c.name, c.source_range, [e.time_scalar for e in c.effects]) for c in before.find_clips()
        ] == [
            (c.name, c.source_range, [e.time_scalar for e in c.effects]) for c in after.find_clips()
        ]
