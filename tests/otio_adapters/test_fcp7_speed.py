"""Premiere's Time Remap (FCP7 XML speed changes): read as OTIO time warps, planned with the
frames Premiere shows, and written when v2a writes FCP7 XML (the adapter reads and writes none).

The documents are Premiere's own export (`premiere_example.xml`, the otio-fcp-adapter's sample)
with a Time Remap filter added to one clip item as Premiere writes it. The structure is taken
from a real Premiere Pro export holding constant and variable speed changes (GitHub
githubtrip/autorough, `P1037604.xml`, read through v2a's search tool): a `<filter>` after the
item's `<file>`, its `<effect>` named "Time Remap", effectid `timeremap`, category and type
`motion`, with the parameters `variablespeed` (0 or 1), `speed` (percent), `reverse`,
`frameblending` and `graphdict` (keyframes `when`, the item's retimed frame, to `value`, the
media frame at the item's rate: speedkfstart, speedkfin, speedkfout, speedkfend, and the
editor's own between them for a ramp). There the item's `<in>`/`<out>` count the retimed clip
(`graphdict`'s `when`), not its media: at 200.151 % an item with in 170 and out 537 has its
speedkfin key at (170, 340) and its speedkfout key at (537, 1074), and its `<duration>` is the
media's length over the speed (663 for 1327 frames). So Premiere shows at record frame
`start + k` the media frame (in + k) x speed; OpenTimelineIO's issue #876 ("FCP 7 XML: Time
Remaps result in incorrect OTIO Frame range", a 200 % clip read 3 s 13 frames early) is the
adapter reading `<in>` as a media frame.
"""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from fractions import Fraction
from pathlib import Path

import opentimelineio as otio
import pytest

from otio_adapters.plan import plan_segments
from otio_adapters.read import read_timeline
from otio_adapters.standin_media import synthesize_media
from otio_adapters.write import write_timeline
from v2a.media.frames import SegmentFrames
from v2a.media.synth import read_frame_number

FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "timelines"
PREMIERE = FIXTURES / "fcp7_xml" / "premiere_example.xml"
needs_fixtures = pytest.mark.skipif(not PREMIERE.is_file(), reason="../shared/fixtures is absent")
RATE = 30  # the sequence's and both clips' timebase
RT = otio.opentime.RationalTime
TR = otio.opentime.TimeRange

#: clip item id -> (name, record start, record end) in premiere_example.xml (clipitem-4 ends at
#: its end-black dissolve's cut, frame 557). sh020's file holds 175 frames, sh030's 400.
ITEMS = {
    "clipitem-3": ("sc01_sh020_anim.mov", 165, 322),
    "clipitem-4": ("sc01_sh030_anim.mov", 322, 557),
}


def _parameter(name: str, value: str, extra: str = "") -> str:
    return (f'<parameter authoringApp="PremierePro"><parameterid>{name}</parameterid>'
            f"<name>{name}</name>{extra}<value>{value}</value></parameter>")


def _keyframes(keys: list[tuple[int, int, str]]) -> str:
    return "".join(f"<keyframe><when>{when}</when><value>{value}</value>{flags}</keyframe>"
                   for when, value, flags in keys)


def _time_remap(speed: str, reverse: bool = False, variable: bool = False, graph: str = "") -> str:
    """A Time Remap filter as Premiere writes one (see the module's docstring)."""
    graphdict = _parameter("graphdict", "0", "<valuemin>0</valuemin>") if graph else ""
    graphdict = graphdict.replace("<value>0</value>", "<value>0</value>" + graph)
    return (
        "<filter><effect><name>Time Remap</name><effectid>timeremap</effectid>"
        "<effectcategory>motion</effectcategory><effecttype>motion</effecttype>"
        "<mediatype>video</mediatype>"
        + _parameter("variablespeed", "1" if variable else "0",
                     "<valuemin>0</valuemin><valuemax>1</valuemax>")
        + _parameter("speed", speed, "<valuemin>-100000</valuemin><valuemax>100000</valuemax>")
        + _parameter("reverse", "TRUE" if reverse else "FALSE")
        + _parameter("frameblending", "FALSE")
        + graphdict
        + "</effect></filter>"
    )


def _remapped(tmp_path, item: str, source_in: int, source_out: int, remap: str) -> Path:
    """premiere_example.xml with `item`'s in and out points (retimed frames) and its filter."""
    text = PREMIERE.read_text(encoding="utf-8")
    start = text.index(f'<clipitem id="{item}"')
    end = text.index("<logginginfo>", start)
    changed = text[start:end].replace("<in>0</in>", f"<in>{source_in}</in>", 1)
    changed = re.sub(r"<out>\d+</out>", f"<out>{source_out}</out>", changed, count=1)
    path = tmp_path / "remapped.xml"
    path.write_text(text[:start] + changed + remap + text[end:], encoding="utf-8")
    return path


def _shown(source_in: int, frames: int, speed: Fraction, media_frames: int) -> list[int]:
    """The media frame Premiere shows at each record frame of an item (the retimed clip's frame
    `in + k` is media time (in + k) x |speed|; reversed, counted back from the media's end)."""
    if speed < 0:
        return [math.ceil(media_frames + (source_in + k) * speed) - 1 for k in range(frames)]
    return [math.floor((source_in + k) * speed) for k in range(frames)]


def _segment(segments, name: str, record_start: int):
    (segment,) = [s for s in segments
                  if (s.clip_name, s.record_start_frame) == (name, record_start)]
    return segment


# name -> (clip item, in, out, Time Remap filter, speed, media frames of its file)
CONSTANT = {
    "slow": ("clipitem-3", 30, 187, _time_remap("50"), Fraction(1, 2), 175),
    "fast": ("clipitem-4", 10, 245, _time_remap("150"), Fraction(3, 2), 400),
    "reverse": ("clipitem-3", 30, 187, _time_remap("50", reverse=True), Fraction(-1, 2), 175),
}


@needs_fixtures
@pytest.mark.parametrize("case", CONSTANT)
def test_a_constant_time_remap_is_planned_on_the_frames_premiere_shows(case, tmp_path):
    # The adapter read a Time Remap as a generic effect: each of these clips was planned at
    # 100 % from media frame <in> (30 for "slow": 1 s of media where Premiere shows 0.5 s
    # onwards at half speed), its sound made for other moments than the editor sees.
    item, source_in, source_out, remap, speed, media_frames = CONSTANT[case]
    name, record_start, record_end = ITEMS[item]
    path = _remapped(tmp_path, item, source_in, source_out, remap)
    timeline = read_timeline(path)
    (clip,) = [c for c in timeline.find_clips() if c.metadata["fcp_xml"].get("@id") == item]
    assert [type(e) for e in clip.effects] == [otio.schema.LinearTimeWarp]
    assert Fraction(clip.effects[0].time_scalar) == speed
    frames = record_end - record_start
    # OTIO's convention: the media time of the first frame shown (reversed: of the last).
    used_from = source_in * speed if speed > 0 else media_frames + (source_in + frames) * speed
    assert clip.source_range == TR(RT(float(used_from), RATE), RT(frames, RATE))

    segment = _segment(plan_segments(timeline, timeline_path=str(path)), name, record_start)
    assert (segment.record_start_frame, segment.record_frames) == (record_start, frames)
    assert segment.speed == float(speed)
    first = Fraction(source_in) * speed if speed > 0 else media_frames + source_in * speed
    # v2a counts a reversed clip from the start of its first frame, |speed| frames back.
    expected = first / RATE if speed > 0 else (first + speed) / RATE
    assert segment.source_start == pytest.approx(float(expected))

    # End to end: the frames the generator is given, read off numbered stand-in media, are
    # the ones Premiere shows at each record frame.
    synthesize_media(timeline, str(tmp_path / "media"), size=(32, 24))
    segment = _segment(plan_segments(timeline, timeline_path=str(path),
                                     relink_roots=(str(tmp_path / "media"),)), name, record_start)
    assert segment.status == "ok", segment.problem
    with SegmentFrames.at_record_seconds(segment, [k / RATE for k in range(frames)], 32) as seen:
        numbers = [read_frame_number(picture) for picture in seen[range(frames)]]
    assert numbers == _shown(source_in, frames, speed, media_frames)


@needs_fixtures
def test_a_speed_ramp_is_named_in_the_note(tmp_path):
    # Premiere's variable speed (keyframed ramps): no one OTIO effect plays it, so the clip is
    # planned at normal speed, as the FCPXML reader plans a ramp, and the result says which.
    ramp = _keyframes([
        (0, 0, "<speedvirtualkf>TRUE</speedvirtualkf><speedkfstart>TRUE</speedkfstart>"),
        (30, 30, "<speedvirtualkf>TRUE</speedvirtualkf><speedkfin>TRUE</speedkfin>"),
        (100, 100, "<pproRampStart>TRUE</pproRampStart>"),
        (120, 140, "<pproRampEnd>TRUE</pproRampEnd>"),
        (187, 174, "<speedvirtualkf>TRUE</speedvirtualkf><speedkfout>TRUE</speedkfout>"),
        (188, 175, "<speedvirtualkf>TRUE</speedvirtualkf><speedkfend>TRUE</speedkfend>"),
    ])
    path = _remapped(tmp_path, "clipitem-3", 30, 187,
                     _time_remap("100", variable=True, graph=ramp))
    timeline = read_timeline(path)
    (clip,) = [c for c in timeline.find_clips() if c.name == "sc01_sh020_anim.mov"]
    assert not [e for e in clip.effects if isinstance(e, otio.schema.TimeEffect)]
    _, _, note = write_timeline(timeline, str(tmp_path / "out.otio"), "otio_json")
    assert ("speed changes of the source FCP7 XML that v2a could not read (variable speed, "
            "planned at normal speed): 'sc01_sh020_anim.mov' (V2 at 00:00:05:15)") in note


def _warped(name: str, start: int, frames: int, *effects) -> otio.schema.Clip:
    clip = otio.schema.Clip(
        name=name,
        source_range=TR(RT(start, RATE), RT(frames, RATE)),
        media_reference=otio.schema.ExternalReference(
            target_url=f"file:///m/{name}.mov", available_range=TR(RT(0, RATE), RT(2000, RATE))
        ),
    )
    clip.effects.extend(effects)
    return clip


def test_time_warps_are_written_as_time_remaps_that_read_back_the_same(tmp_path):
    # The adapter writes no time effect: Premiere played every retimed clip of a timeline from
    # another format at 100 %, from the wrong frame (the note named them).
    video = otio.schema.Track(name="V1")
    video.extend([
        _warped("fast", 90, 40, otio.schema.LinearTimeWarp(time_scalar=1.5)),
        _warped("back", 500, 30, otio.schema.LinearTimeWarp(time_scalar=-1)),
        _warped("slow", 50, 20, otio.schema.LinearTimeWarp(time_scalar=0.5)),
        _warped("plain", 700, 30),
    ])
    timeline = otio.schema.Timeline(name="edit")
    timeline.tracks.append(video)

    written, fallback, note = write_timeline(timeline, str(tmp_path / "out.xml"), "fcp_xml")
    assert "play at normal speed" not in note
    items = {item.findtext("name"): item for item in ET.parse(written).getroot().iter("clipitem")}
    # <in>/<out> in the retimed clip's frames: media 90 at 150 % is its frame 60; reversed,
    # frame 0 is the media's last (2000 frames: the used 500-530 is retimed 1470-1500).
    assert [(items[n].findtext("in"), items[n].findtext("out")) for n in items] == [
        ("60", "100"), ("1470", "1500"), ("100", "120"), ("700", "730")]
    remap = items["fast"].find("filter/effect")
    assert (remap.findtext("name"), remap.findtext("effectid")) == ("Time Remap", "timeremap")
    parameters = {p.findtext("parameterid"): p.findtext("value") for p in remap.iter("parameter")}
    assert parameters == {"variablespeed": "0", "speed": "150", "reverse": "FALSE",
                          "frameblending": "FALSE"}
    back_remap = items["back"].find("filter/effect")
    assert {p.findtext("parameterid"): p.findtext("value")
            for p in back_remap.iter("parameter")}["reverse"] == "TRUE"
    assert items["plain"].find("filter") is None

    again = read_timeline(written)
    assert [(c.name, c.source_range, [e.time_scalar for e in c.effects])
            for c in again.find_clips()] == [
        (c.name, c.source_range, [e.time_scalar for e in c.effects]) for c in video.find_clips()]


@needs_fixtures
def test_a_hold_is_read_as_a_freeze_frame(tmp_path):
    # A Time Remap at 0 % holds the media frame its graphdict shows at the item's in point.
    hold = _keyframes([
        (0, 40, "<speedvirtualkf>TRUE</speedvirtualkf><speedkfstart>TRUE</speedkfstart>"),
        (30, 40, "<speedvirtualkf>TRUE</speedvirtualkf><speedkfin>TRUE</speedkfin>"),
        (187, 40, "<speedvirtualkf>TRUE</speedvirtualkf><speedkfout>TRUE</speedkfout>"),
    ])
    path = _remapped(tmp_path, "clipitem-3", 30, 187, _time_remap("0", graph=hold))
    timeline = read_timeline(path)
    (clip,) = [c for c in timeline.find_clips() if c.metadata["fcp_xml"].get("@id") == "clipitem-3"]
    assert [type(e) for e in clip.effects] == [otio.schema.FreezeFrame]
    assert clip.source_range == TR(RT(40, RATE), RT(157, RATE))
    synthesize_media(timeline, str(tmp_path / "media"), size=(32, 24))
    (segment,) = [s for s in plan_segments(timeline, timeline_path=str(path),
                                           relink_roots=(str(tmp_path / "media"),))
                  if s.clip_name == "sc01_sh020_anim.mov"]
    assert (segment.speed, segment.source_start) == (0, pytest.approx(40 / RATE))
    with SegmentFrames.at_record_seconds(segment, [0, 1, 5], 32) as seen:
        assert [read_frame_number(picture) for picture in seen[range(3)]] == [40, 40, 40]


@needs_fixtures
def test_the_editors_time_remap_rewritten_by_the_adapter_reads_back_the_same(tmp_path):
    # A document changed since it was read is rewritten by the adapter, which wrote the
    # editor's filter back from the clip's metadata and the clip's media frame as its <in>:
    # read again, "slow" would start at media frame 15 x 0.5.
    path = _remapped(tmp_path, "clipitem-3", 30, 187, _time_remap("50"))
    timeline = read_timeline(path)
    path.write_text(path.read_text(encoding="utf-8") + "\n", encoding="utf-8")  # changed since
    written, _, note = write_timeline(timeline, str(tmp_path / "out.xml"), "fcp_xml")
    assert "the timeline was rewritten by the FCP7 XML adapter" in note
    (item,) = [i for i in ET.parse(written).getroot().iter("clipitem")
               if i.findtext("name") == "sc01_sh020_anim.mov" and i.findtext("start") == "165"]
    assert (item.findtext("in"), item.findtext("out")) == ("30", "187")
    assert [f.findtext("effect/effectid") for f in item.iter("filter")] == ["timeremap"]

    def shots(timeline):
        return [(c.name, c.source_range, [e.time_scalar for e in c.effects
                                          if isinstance(e, otio.schema.TimeEffect)])
                for c in timeline.find_clips() if c.name == "sc01_sh020_anim.mov"]

    assert shots(read_timeline(written)) == shots(timeline)
