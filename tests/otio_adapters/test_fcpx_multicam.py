"""Multicam, synchronized and compound clips of an FCPXML get sound under the picture the editor
sees: the reader skipped multicam clips (no sound for those shots) and read a synchronized clip's
items whole, into the project's storyline (a trimmed one ran past its end and moved every later
shot). Real file: fcpx/interview.fcpxml (hand-made as Final Cut exports one, FCPXML 1.8), the
same as FCPXML 1.11 writes it, stand-in media, v2a's write into the editor's document."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from fractions import Fraction
from pathlib import Path

import pytest
from generator_doubles import SineGenerator

from otio_adapters.plan import plan_segments
from otio_adapters.read import read_timeline
from otio_adapters.standin_media import synthesize_media
from otio_adapters.takes import find_v2a_tracks
from v2a.contracts import GenerationParams, GenerationRequest
from v2a.media.frames import read_segment_frames
from v2a.media.synth import make_test_movie, read_frame_number
from v2a.media.timecode import frames_to_timecode
from v2a.pipeline import run_generation

INTERVIEW = Path(__file__).parent / "fcpx" / "interview.fcpxml"
ROLE = "effects.V2A SFX"

#: (clip, file, record start frame, frames, source start in seconds) at 25 fps, as Final Cut
#: plays the cut: camera A at 10 s (the multicam clip's start), camera B 12 s into its media
#: (the multicam clip starts at 14 s; the angle's clip at 2 s, at 01:00:00:00 of its file),
#: the synchronized clip's 3 s from 5 s into it (its clip starts at 20 s), the compound clip's
#: 3 s from 1 s into it (its clip starts at 30 s), the last clip as it was.
PICTURE = [
    ("CamA", "CamA.mov", 0, 100, 10),
    ("CamB", "CamB.mov", 100, 75, 3612),
    ("Street", "Street.mov", 175, 75, 25),
    ("CamA", "CamA.mov", 250, 75, 31),
    ("Street", "Street.mov", 325, 50, 40),
]


def _as_fcpxml_1_11(tmp_path) -> Path:
    """The interview as FCPXML 1.11 writes it: each asset's file in a <media-rep>."""
    text = INTERVIEW.read_text().replace('version="1.8"', 'version="1.11"')
    text = re.sub(
        r'(<asset [^>]*?) src="([^"]+)"([^>]*?)/>',
        r'\1\3>\n<media-rep kind="original-media" src="\2"/>\n</asset>',
        text,
    )
    source = tmp_path / "v111.fcpxml"
    source.write_text(text)
    return source


def _picture(segments) -> list[tuple]:
    return [
        (
            s.clip_name,
            Path(s.media.referenced).name,
            s.record_start_frame,
            s.record_frames,
            s.source_start,
        )
        for s in segments
    ]


@pytest.mark.parametrize("version", ["1.8", "1.11"])
def test_multicam_sync_and_compound_clips_are_planned_from_the_picture_seen(tmp_path, version):
    source = INTERVIEW if version == "1.8" else _as_fcpxml_1_11(tmp_path)
    segments = plan_segments(read_timeline(source), timeline_path=str(source))
    assert _picture(segments) == PICTURE


def _run(source: Path, tmp_path: Path):
    media = tmp_path / "media"
    synthesize_media(read_timeline(source), str(media))
    return run_generation(
        GenerationRequest(
            timeline_path=str(source),
            out_dir=str(tmp_path / "out"),
            relink_roots=(str(media),),
            params=GenerationParams(seed=1),
        ),
        SineGenerator(),
    )


def _numbered_media(folder: Path) -> None:
    """Each camera's file from its asset's start, its frames numbered from its first."""
    folder.mkdir()
    for name, start, length in (("CamA", 0, 45), ("CamB", 3600, 20), ("Street", 0, 45)):
        make_test_movie(
            str(folder / f"{name}.mov"),
            frames=length * 25,
            size=(64, 48),
            start_timecode=frames_to_timecode(start * 25, Fraction(25)),
        )


def test_each_shot_feeds_the_generator_the_frames_of_its_active_angle(tmp_path):
    _numbered_media(tmp_path / "media")
    segments = plan_segments(
        read_timeline(INTERVIEW), timeline_path=str(INTERVIEW), relink_roots=(str(tmp_path / "media"),)
    )
    assert all(s.status == "ok" for s in segments)
    # The frame each shot's sound is made from at its first frame is the one Final Cut shows.
    first = [
        read_frame_number(read_segment_frames(s, 25.0, 64)[s.handle_before_samples * 25 // 48000])
        for s in segments
    ]
    starts = {"CamA.mov": 0, "CamB.mov": 3600, "Street.mov": 0}
    assert first == [(at - starts[file]) * 25 for _, file, _, _, at in PICTURE]


def _parse(path) -> ET.Element:
    return ET.parse(path).getroot()


def test_v2a_sound_is_connected_under_each_multicam_and_synchronized_clip(tmp_path):
    result = _run(INTERVIEW, tmp_path)
    assert result.timeline_path.endswith(".fcpxml")
    root = _parse(result.timeline_path)
    spine = root.find("./library/event/project/sequence/spine")
    # v2a's sound crossfades at the cuts: one storyline of its clips, connected to the first
    # multicam clip at its first frame (in the clip's own time, where its `start` counts).
    mc_clip = spine[0]
    (storyline,) = mc_clip.findall("./spine")
    assert storyline.get("offset") == mc_clip.get("start") == "10s"
    assert [c.get("audioRole") for c in storyline.iter("asset-clip")] == [ROLE] * len(PICTURE)
    # Apple's DTD (1.8 to 1.11) orders a multicam clip's children: its <mc-source>s before
    # its connected items (a synchronized clip's <sync-source>s after them); Final Cut refuses
    # a document that does not match it. v2a's storyline went before the sources.
    assert [child.tag for child in mc_clip] == ["mc-source", "mc-source", "spine"]
    # Read back, v2a's track lies under the picture, each take where its shot is.
    again = read_timeline(result.timeline_path)
    (track,) = find_v2a_tracks(again, "SFX")
    placed = [track.range_of_child(clip) for clip in track.find_clips()]
    assert [(r.start_time.value, r.duration.value) for r in placed] == [
        (start, frames) for _, _, start, frames, _ in PICTURE
    ]
    assert _picture(plan_segments(again, timeline_path=result.timeline_path)) == PICTURE


def test_a_rerun_refills_v2a_sound_under_a_synchronized_clip_without_a_second_set(tmp_path):
    # v2a's clip connected to a synchronized clip lies in the project's time: read again, it is
    # v2a's track, not part of what the synchronized clip plays.
    first = _run(INTERVIEW, tmp_path / "one")
    again = _run(Path(first.timeline_path), tmp_path / "two")
    root = _parse(again.timeline_path)
    assert len([c for c in root.iter("asset-clip") if c.get("audioRole") == ROLE]) == len(PICTURE)
    written = again.timeline_path
    assert _picture(plan_segments(read_timeline(written), timeline_path=written)) == PICTURE


def _with_spine(tmp_path, mc_sources: str) -> Path:
    text = INTERVIEW.read_text()
    text = text.replace(
        '<mc-source angleID="A" srcEnable="video"/>\n                            '
        '<mc-source angleID="R" srcEnable="audio"/>',
        mc_sources,
    )
    source = tmp_path / "cut.fcpxml"
    source.write_text(text)
    return source


def test_a_multicam_clip_that_plays_only_sound_gets_no_sound_of_v2a(tmp_path):
    # The recorder's angle (audio alone), or only the sound of camera A's: there is no picture
    # to make sound for.
    for sources in ('<mc-source angleID="R" srcEnable="all"/>',
                    '<mc-source angleID="A" srcEnable="audio"/>'):
        source = _with_spine(tmp_path, sources)
        segments = plan_segments(read_timeline(source), timeline_path=str(source))
        assert _picture(segments) == PICTURE[1:]


def test_a_multicam_clip_shows_the_angle_whose_video_is_enabled(tmp_path):
    # Camera B's video with camera A's sound: the picture is camera B's, 10 s into the
    # multicam (8 s into its clip, which starts 2 s in).
    source = _with_spine(
        tmp_path,
        '<mc-source angleID="A" srcEnable="audio"/><mc-source angleID="B" srcEnable="video"/>',
    )
    segments = plan_segments(read_timeline(source), timeline_path=str(source))
    assert _picture(segments)[0] == ("CamB", "CamB.mov", 0, 100, 3608)


def test_a_synchronized_clip_written_with_its_own_storyline_is_read_the_same(tmp_path):
    # Some tools (and Final Cut for a clip synchronized from a storyline) put the items in a
    # <spine> of the synchronized clip.
    text = INTERVIEW.read_text()
    item = re.search(r'\n\s*<asset-clip name="Street" offset="0s".*?</asset-clip>', text, re.S)
    text = text.replace(item.group(0), f"<spine>{item.group(0)}</spine>")
    source = tmp_path / "cut.fcpxml"
    source.write_text(text)
    segments = plan_segments(read_timeline(source), timeline_path=str(source))
    assert _picture(segments) == PICTURE


def test_an_angle_that_is_a_synchronized_clip_shows_its_camera(tmp_path):
    # Camera B synchronized with the recorder before the multicam was made (its clip 1 s in):
    # the same frames as camera B's clip on its own.
    text = INTERVIEW.read_text().replace(
        '<asset-clip name="CamB" offset="2s" ref="r3" duration="58s" start="3600s" format="r1" tcFormat="NDF"/>',
        '<sync-clip name="CamB synced" offset="2s" duration="58s" start="1s" format="r1">'
        '<asset-clip name="CamB" offset="0s" ref="r3" duration="59s" start="3599s"/>'
        '<asset-clip name="Recorder" lane="-1" offset="0s" ref="r4" duration="59s" start="0s"/>'
        "</sync-clip>",
    )
    source = tmp_path / "cut.fcpxml"
    source.write_text(text)
    segments = plan_segments(read_timeline(source), timeline_path=str(source))
    assert _picture(segments) == PICTURE


def test_a_dissolve_beside_a_multicam_or_synchronized_clip_gives_handles(tmp_path):
    # The reader read no transition beside a clip it skipped: dissolves between multicam clips,
    # and from a synchronized clip to a compound clip, gave no sound past their cuts.
    dissolve = (
        '<transition name="Cross Dissolve" offset="{at}" duration="4/25s">'
        '<filter-video ref="r1" name="Cross Dissolve"/></transition>\n'
    )
    text = INTERVIEW.read_text()
    for at, before in (("98/25s", '<mc-clip name="Interview" offset="4s"'),
                       ("248/25s", '<ref-clip name="Compound"')):
        text = text.replace(before, dissolve.format(at=at) + before)
    source = tmp_path / "cut.fcpxml"
    source.write_text(text)
    segments = plan_segments(read_timeline(source), timeline_path=str(source))
    assert _picture(segments) == PICTURE
    two_frames = 2 * 48000 // 25
    assert [(s.handle_before_samples, s.handle_after_samples) for s in segments] == [
        (0, two_frames), (two_frames, 0), (0, two_frames), (two_frames, 0), (0, 0)
    ]


def test_a_compound_clip_that_plays_only_its_sound_gets_no_sound_of_v2a(tmp_path):
    # Its picture is not seen: the camera inside it was planned as if it were.
    text = INTERVIEW.read_text().replace(
        '<ref-clip name="Compound"', '<ref-clip name="Compound" srcEnable="audio"'
    )
    source = tmp_path / "cut.fcpxml"
    source.write_text(text)
    segments = plan_segments(read_timeline(source), timeline_path=str(source))
    assert _picture(segments) == PICTURE[:3] + PICTURE[4:]
