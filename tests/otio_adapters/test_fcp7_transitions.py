"""FCP7 XML clips are read at the record frames the document gives them, transitions beside
empty track space included (`otio_adapters/fcp7_transitions.py`). Hand-made documents laid out
as Premiere exports them, Premiere's own exports, and transitions.aaf written as FCP7 XML by the
adapter; each read with the real adapter, planned, and written back by a generation run."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import opentimelineio as otio
import pytest
from generator_doubles import SineGenerator

from otio_adapters.plan import plan_segments
from otio_adapters.read import read_timeline
from otio_adapters.standin_media import synthesize_media
from otio_adapters.takes import find_v2a_tracks
from v2a.contracts import GenerationRequest
from v2a.pipeline import run_generation

FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "timelines"
needs_fixtures = pytest.mark.skipif(not FIXTURES.is_dir(), reason="../shared/fixtures is absent")
RATE = 25
TICKS_PER_SECOND = 254016000000  # Premiere's time unit, as in <cutPointTicks>


def _cut(start: int, end: int, alignment: str) -> int:
    """Where a transition cuts, as FCP7 XML places it: at its start, its end, or its centre."""
    if alignment.startswith("start"):
        return start
    if alignment.startswith("end"):
        return end
    return (start + end) // 2


def _clip(number: int, name: str, start: int, end: int, source_in: int, source_out: int) -> str:
    return f"""
        <clipitem id="clipitem-{number}">
            <masterclipid>masterclip-{number}</masterclipid>
            <name>{name}</name>
            <enabled>TRUE</enabled>
            <duration>400</duration>
            <rate><timebase>{RATE}</timebase><ntsc>FALSE</ntsc></rate>
            <start>{start}</start>
            <end>{end}</end>
            <in>{source_in}</in>
            <out>{source_out}</out>
            <file id="file-{number}">
                <name>{name}.mov</name>
                <pathurl>file://localhost/offline/{name}.mov</pathurl>
                <rate><timebase>{RATE}</timebase><ntsc>FALSE</ntsc></rate>
                <duration>400</duration>
                <media><video><samplecharacteristics>
                    <width>64</width><height>48</height>
                </samplecharacteristics></video></media>
            </file>
        </clipitem>"""


def _dissolve(start: int, end: int, alignment: str, ticks: int | None = None) -> str:
    """A transition item as Premiere writes one: its cut in ticks from its start, by default
    where its alignment puts it."""
    if ticks is None:
        ticks = (_cut(start, end, alignment) - start) * TICKS_PER_SECOND // RATE
    return f"""
        <transitionitem>
            <start>{start}</start>
            <end>{end}</end>
            <alignment>{alignment}</alignment>
            <cutPointTicks>{ticks}</cutPointTicks>
            <rate><timebase>{RATE}</timebase><ntsc>FALSE</ntsc></rate>
            <effect>
                <name>Cross Dissolve</name>
                <effectid>Cross Dissolve</effectid>
                <effectcategory>Dissolve</effectcategory>
                <effecttype>transition</effecttype>
                <mediatype>video</mediatype>
            </effect>
        </transitionitem>"""


def _document(*tracks: list[str]) -> str:
    rate = f"<rate><timebase>{RATE}</timebase><ntsc>FALSE</ntsc></rate>"
    video = "".join(f"<track>{''.join(items)}<enabled>TRUE</enabled></track>" for items in tracks)
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE xmeml>
<xmeml version="4">
    <sequence id="sequence-1">
        <name>gaps and dissolves</name>
        <duration>400</duration>
        {rate}
        <timecode>{rate}<string>00:00:00:00</string><frame>0</frame>
            <displayformat>NDF</displayformat></timecode>
        <media>
            <video><format><samplecharacteristics><width>64</width><height>48</height>
                </samplecharacteristics></format>{video}</video>
            <audio/>
        </media>
    </sequence>
</xmeml>
"""


# Each: tracks of items as Premiere lays them out, and the record frames of each clip.
DOCUMENTS = {
    # The review's case: A, a 12/12 dissolve centred on A's end, a 50-frame gap, B at 150.
    "centred fade out before a gap": (
        [[_clip(1, "A", 0, -1, 50, 162), _dissolve(88, 112, "center"),
          _clip(2, "B", 150, 250, 50, 150)]],
        [[("A", 0, 100), ("B", 150, 250)]],
    ),
    # A fade up from black centred on B's head, after a gap (B's in counts from the fade's start).
    "centred fade up after a gap": (
        [[_clip(1, "A", 0, 100, 50, 150), _dissolve(138, 162, "center"),
          _clip(2, "B", -1, 250, 38, 150)]],
        [[("A", 0, 100), ("B", 150, 250)]],
    ),
    # Both at once, a gap between two dissolves, and one of odd length (its cut: frame 12 of 25).
    "a gap between two dissolves": (
        [[_clip(1, "A", 0, -1, 50, 162), _dissolve(88, 112, "center"),
          _dissolve(138, 163, "center"), _clip(2, "B", -1, 250, 38, 150),
          _clip(3, "C", 250, 300, 0, 50)]],
        [[("A", 0, 100), ("B", 150, 250), ("C", 250, 300)]],
    ),
    # A centred fade up at the sequence's first frame: the clip's picture begins at the cut.
    "a centred fade up at the start": (
        [[_dissolve(0, 24, "center"), _clip(1, "A", -1, 100, 50, 150),
          _clip(2, "B", 130, 200, 0, 70)]],
        [[("A", 12, 100), ("B", 130, 200)]],
    ),
    # Fades that start or end at the cut (Premiere's "start-black", "end-black").
    "black fades beside a gap": (
        [[_clip(1, "A", 0, -1, 0, 100), _dissolve(76, 100, "end-black"),
          _dissolve(140, 164, "start-black"), _clip(2, "B", -1, 240, 0, 100)]],
        [[("A", 0, 100), ("B", 140, 240)]],
    ),
    # A dissolve between two clips, then a fade that ends at its cut, a gap, a clip; and a
    # second track above, after a gap of its own.
    "a dissolve between clips and an end-aligned fade": (
        [[_clip(1, "C", 20, -1, 0, 104), _dissolve(100, 124, "center"),
          _clip(2, "D", -1, -1, 20, 110), _dissolve(166, 190, "end"),
          _clip(3, "E", 250, 300, 0, 50)],
         [_dissolve(300, 320, "center"), _clip(4, "F", -1, 400, 0, 90)]],
        [[("C", 20, 112), ("D", 112, 190), ("E", 250, 300)], [("F", 310, 400)]],
    ),
    # A dissolve whose cut Premiere placed off its centre, 8 frames into 24: its alignment
    # can only say centre (frame 100), its ticks say 96.
    "a dissolve cut off its centre": (
        [[_clip(1, "A", 0, -1, 50, 162), _dissolve(88, 112, "center", 8 * TICKS_PER_SECOND // RATE),
          _clip(2, "B", -1, 200, 38, 150)]],
        [[("A", 0, 96), ("B", 96, 200)]],
    ),
    # Ticks that name no frame of the transition (half a frame, or counted from the sequence's
    # start, as some other tools write them): the alignment's cut.
    "cut ticks of no frame of the transition": (
        [[_clip(1, "A", 0, -1, 50, 162), _dissolve(88, 112, "center", TICKS_PER_SECOND // 50),
          _clip(2, "B", -1, -1, 38, 125), _dissolve(138, 162, "center", 150 * TICKS_PER_SECOND // RATE),
          _clip(3, "C", -1, 250, 38, 150)]],
        [[("A", 0, 100), ("B", 100, 150), ("C", 150, 250)]],
    ),
}


def _record_frames_in_document(path: Path) -> list[list[tuple[str, int, int]]]:
    """Each track's items (clips, nested sequences) with the record frames the document gives
    them: <start> and <end>, or where they say -1, the cut of the transition beside them. The
    tracks in the order the reader takes them: video, then audio (one of a stereo pair)."""
    root = ET.parse(path).getroot()
    sequence = root.find("sequence")
    if sequence is None:
        sequence = root.find(".//children/sequence")
    found = []
    for track in sequence.findall("media/video/track") + [
        track for track in sequence.findall("media/audio/track")
        if track.get("currentExplodedTrackIndex", "0") == "0"
    ]:
        items = [e for e in track if e.tag in ("clipitem", "generatoritem", "transitionitem")]
        frames = []
        for index, item in enumerate(items):
            if item.tag == "transitionitem":
                continue
            start, end = int(item.findtext("start")), int(item.findtext("end"))
            if start == -1:
                start = _transition_cut(items[index - 1])
            if end == -1:
                end = _transition_cut(items[index + 1])
            frames.append((item.findtext("name"), start, end))
        found.append(frames)
    return found


def _transition_cut(transition: ET.Element) -> int:
    """Where Premiere's ticks put the cut, if on a frame of the transition; else its alignment."""
    assert transition.tag == "transitionitem"
    start, end = int(transition.findtext("start")), int(transition.findtext("end"))
    ticks, rate = transition.findtext("cutPointTicks"), int(transition.findtext("rate/timebase"))
    frames, rest = divmod(int(ticks or -1) * rate, TICKS_PER_SECOND)  # the fixtures: not NTSC
    if ticks and not rest and 0 <= frames <= end - start:
        return start + frames
    return _cut(start, end, transition.findtext("alignment"))


def _record_frames_read(
    timeline: otio.schema.Timeline, rate: float = RATE
) -> list[list[tuple[str, int, int]]]:
    """Each track's clips and nested stacks as read, at their record frames of `rate`."""
    found = []
    for track in timeline.tracks:
        frames = []
        for index, item in enumerate(track):
            if isinstance(item, (otio.schema.Gap, otio.schema.Transition)):
                continue
            placed = track.range_of_child_at_index(index)
            start = round(placed.start_time.rescaled_to(rate).value)
            frames.append((item.name, start, start + round(placed.duration.rescaled_to(rate).value)))
        found.append(frames)
    return found


def _write(tmp_path: Path, name: str) -> Path:
    path = tmp_path / "edit.xml"
    path.write_text(_document(*DOCUMENTS[name][0]), encoding="utf-8")
    return path


@pytest.mark.parametrize("name", DOCUMENTS)
def test_every_clip_is_read_at_the_record_frames_the_document_gives(name, tmp_path):
    path = _write(tmp_path, name)
    expected = DOCUMENTS[name][1]
    assert _record_frames_in_document(path) == expected  # the documents say what they mean
    assert _record_frames_read(read_timeline(path)) == expected


@pytest.mark.parametrize("name", DOCUMENTS)
def test_sound_is_planned_under_each_clips_picture(name, tmp_path):
    path = _write(tmp_path, name)
    timeline = read_timeline(path)
    media = tmp_path / "media"
    synthesize_media(timeline, str(media))
    segments = plan_segments(timeline, timeline_path=str(path), relink_roots=(str(media),))
    expected = [clip for track in DOCUMENTS[name][1] for clip in track]
    assert all(s.status == "ok" for s in segments)
    assert sorted((s.clip_name, s.record_start_frame, s.record_start_frame + s.record_frames)
                  for s in segments) == sorted(expected)


def test_the_sound_written_into_the_document_lies_under_its_picture(tmp_path):
    """The generation run writes v2a's clip for B into the editor's document at B's frames,
    150 to 250, where it was written 12 frames early before; the editor's track stays as is."""
    path = _write(tmp_path, "centred fade up after a gap")
    media = tmp_path / "media"
    synthesize_media(read_timeline(path), str(media))
    request = GenerationRequest(
        timeline_path=str(path), out_dir=str(tmp_path / "out"), relink_roots=(str(media),)
    )
    result = run_generation(request, SineGenerator())
    written = Path(result.timeline_path)
    [ours] = find_v2a_tracks(read_timeline(written), "SFX")
    placed = [ours.range_of_child(clip) for clip in ours.find_clips()]
    assert [(round(r.start_time.value), round(r.end_time_exclusive().value)) for r in placed] == [
        (0, 100), (150, 250)
    ]
    editors = ET.parse(path).getroot().find("sequence/media/video")
    again = ET.parse(written).getroot().find("sequence/media/video")
    assert ET.tostring(again) == ET.tostring(editors)


@needs_fixtures
@pytest.mark.parametrize("name", ["premiere_example.xml", "premiere_enable_property.xml"])
def test_premiere_exports_are_read_at_their_record_frames(name):
    """Their pictures, which v2a plans sound for. (premiere_example.xml's seventh audio track
    has two clips overlapping by 13 frames with no transition between them, which an OTIO
    track cannot hold: the reader starts the second where the first ends.)"""
    path = FIXTURES / "fcp7_xml" / name
    rate = int(ET.parse(path).getroot().findtext("sequence/rate/timebase"))  # 30 and 25
    timeline = read_timeline(path)
    video = len(timeline.video_tracks())
    read = _record_frames_read(timeline, rate)[:video]
    assert read == _record_frames_in_document(path)[:video]


@needs_fixtures
def test_transitions_aaf_written_as_fcp7_xml_reads_back_at_the_same_frames(tmp_path):
    """The adapter writes the transitions of an AAF with 15 of them, some beside filler, as
    FCP7 XML; read again, every clip is where the AAF had it ("KOLL" at 247-391, read at 211-355
    before) and where the XML says, and v2a's sound is planned there."""
    aaf = read_timeline(FIXTURES / "aaf" / "transitions.aaf")
    path = tmp_path / "transitions.xml"
    otio.adapters.write_to_file(aaf, str(path), adapter_name="fcp_xml")
    read = read_timeline(path)
    assert _record_frames_read(read, 24) == _record_frames_in_document(path)
    assert _record_frames_read(read, 24) == _record_frames_read(aaf, 24)
    planned = {(s.clip_name, s.record_start_frame, s.record_frames)
               for s in plan_segments(read, timeline_path=str(path))}
    assert ("KOLL-HD.mp4", 247, 144) in planned
    assert planned == {(s.clip_name, s.record_start_frame, s.record_frames)
                       for s in plan_segments(aaf, timeline_path=str(path))}
