"""What Final Cut plays of hand-written FCPXML documents (1.8 and 1.11, as Apple's DTDs declare them) of
the storyline items the fixtures do not hold: auditions, split edits, transitions inside
multicam angles and retimed multicam clips. Each is read, planned (the frames v2a makes sound
for are the ones Final Cut shows), and written into (the editor's document with v2a's audio
added, read back under the picture, a re-run refilling it)."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from test_write_tracks import _generated

from otio_adapters.plan import plan_segments
from otio_adapters.read import read_timeline
from otio_adapters.takes import find_v2a_tracks, parse_take_file
from otio_adapters.write import write_audio_tracks, write_timeline

ROLE = "effects.V2A SFX"

_DOCUMENT = """<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE fcpxml>
<fcpxml version="1.8">
    <resources>
        <format id="r1" name="FFVideoFormat1080p25" frameDuration="100/2500s" width="1920" height="1080"/>
        <asset id="r2" name="A" src="file:///Volumes/Media/A.mov" start="0s" duration="60s" hasVideo="1" format="r1" hasAudio="1" audioSources="1" audioChannels="2" audioRate="48000"/>
        <asset id="r3" name="B" src="file:///Volumes/Media/B.mov" start="0s" duration="60s" hasVideo="1" format="r1" hasAudio="1" audioSources="1" audioChannels="2" audioRate="48000"/>
        <asset id="r4" name="C" src="file:///Volumes/Media/C.mov" start="0s" duration="60s" hasVideo="1" format="r1" hasAudio="1" audioSources="1" audioChannels="2" audioRate="48000"/>{resources}
    </resources>
    <library>
        <event name="Day 1">
            <project name="Cut">
                <sequence duration="{duration}" format="r1" tcStart="0s" tcFormat="NDF" audioLayout="stereo" audioRate="48k">
                    <spine>{spine}
                    </spine>
                </sequence>
            </project>
        </event>
    </library>
</fcpxml>
"""


@pytest.fixture(params=["1.8", "1.11"])
def version(request) -> str:
    return request.param


def _document(tmp_path: Path, spine: str, version: str, resources: str = "") -> Path:
    """The document of `spine` (and `resources`), as FCPXML `version` writes it: from 1.9 on,
    each asset's file in a <media-rep>."""
    text = _DOCUMENT.format(spine=spine, duration="9s", resources=resources)
    if version != "1.8":
        text = text.replace('version="1.8"', f'version="{version}"')
        text = re.sub(
            r'(<asset [^>]*?) src="([^"]+)"([^>]*?)/>',
            r'\1\3>\n<media-rep kind="original-media" src="\2"/>\n</asset>',
            text,
        )
    path = tmp_path / "cut.fcpxml"
    path.write_text(text)
    return path


def _segments(path: Path) -> list[tuple]:
    """(clip, record start, frames, first source second, speed, handle frames before, after)."""
    segments = plan_segments(read_timeline(path), timeline_path=str(path))
    per_frame = 48000 // 25
    return [
        (s.clip_name, s.record_start_frame, s.record_frames, s.source_start, s.speed,
         s.handle_before_samples // per_frame, s.handle_after_samples // per_frame)
        for s in segments
    ]


def _planned(path: Path) -> list[tuple[str, int, int, float]]:
    """(clip, record start frame, frames, first source second) of each planned segment."""
    return [segment[:4] for segment in _segments(path)]


def _generate(source: Path, out: Path, take: int = 1) -> str:
    edit = read_timeline(source)
    segments = plan_segments(edit, timeline_path=str(source))
    write_audio_tracks(edit, segments, _generated(segments, take=take))
    written, fallback, note = write_timeline(edit, str(out), "fcpx_xml")
    assert written == str(out) and not fallback, note
    return written


def _sound(path: str) -> list[tuple[int, int]]:
    """Where v2a's clips lie, read back: (record start frame, frames)."""
    (track,) = find_v2a_tracks(read_timeline(path), "SFX")
    ranges = [track.range_of_child(clip) for clip in track.find_clips()]
    return [(round(r.start_time.value), round(r.duration.value)) for r in ranges]


def _v2a_clips(root: ET.Element) -> list[ET.Element]:
    return [clip for clip in root.iter("asset-clip") if clip.get("audioRole") == ROLE]


def _takes(root: ET.Element) -> list[int]:
    files = {a.get("id"): a.get("src") or a.find("media-rep").get("src") for a in root.iter("asset")}
    return [parse_take_file(files[clip.get("ref")])[1] for clip in _v2a_clips(root)]


def _takes_after_a_rerun(written: str) -> list[int]:
    """The take of each of v2a's clips in the document `written` once a re-run (take 2) wrote
    into it: 2 for each clip of one set where the re-run refilled v2a's sound where it was."""
    _generate(Path(written), Path(written), take=2)
    return _takes(ET.parse(written).getroot())


# --- auditions ---------------------------------------------------------------------------------

# A 4 s shot, an audition of a 3 s pick (B) and a 5 s alternative (C), a 2 s shot; over the
# last, a connected audition whose pick (C, 1 s from 7.4 s) hides it.
AUDITIONS = """
                        <asset-clip name="A" offset="0s" ref="r2" duration="4s" start="10s" format="r1"/>
                        <audition offset="4s">
                            <asset-clip name="B" offset="4s" ref="r3" duration="3s" start="20s" format="r1"/>
                            <asset-clip name="C" offset="4s" ref="r4" duration="5s" start="30s" format="r1"/>
                        </audition>
                        <asset-clip name="A" offset="7s" ref="r2" duration="2s" start="40s" format="r1">
                            <audition lane="1" offset="40.4s">
                                <asset-clip name="C" ref="r4" duration="1s" start="50s" format="r1"/>
                                <asset-clip name="B" ref="r3" duration="1s" start="55s" format="r1"/>
                            </audition>
                        </asset-clip>"""


def test_an_audition_plays_its_pick_where_the_audition_is(tmp_path, version):
    # The reader read every item of an audition, each after the last: a 3 s gap where the pick
    # plays, the next shot 2 s early, then both alternatives with sound made for them.
    assert _planned(_document(tmp_path, AUDITIONS, version)) == [
        ("A", 0, 100, 10.0),
        ("B", 100, 75, 20.0),
        ("A", 175, 10, 40.0),
        ("C", 185, 25, 50.0),
        ("A", 210, 15, 41.4),
    ]


def test_v2a_sound_under_an_audition_is_connected_to_its_pick(tmp_path, version):
    # Connected inside the audition itself, v2a's clip would be another alternative (and a
    # document of an audition was not written at all: the shot after it read past its end).
    source = _document(tmp_path, AUDITIONS, version)
    written = _generate(source, tmp_path / "out.fcpxml")
    root = ET.parse(written).getroot()
    audition = root.find(".//project/sequence/spine/audition")
    pick, alternative = audition
    assert [c.get("name") for c in pick.iter("asset-clip") if c.get("audioRole") == ROLE] == ["V2A B"]
    exported = ET.parse(source).getroot().find(".//spine/audition")[1]
    assert (alternative.attrib, len(alternative)) == (exported.attrib, 0)  # as the editor left it
    assert _sound(written) == [(0, 100), (100, 75), (175, 10), (185, 25), (210, 15)]
    # A re-run refills v2a's sound where it was: one set, each clip on its new take.
    assert _takes_after_a_rerun(written) == [2] * 5


def test_a_rerun_after_the_editor_picks_another_take_of_an_audition(tmp_path, version):
    # Final Cut moves what is connected to a clip with it: v2a's sound for the old pick is now
    # inside an alternative. The re-run takes it out there and connects new sound to the pick.
    written = Path(_generate(_document(tmp_path, AUDITIONS, version), tmp_path / "out.fcpxml"))
    root = ET.parse(written).getroot()
    spine = root.find(".//project/sequence/spine")
    audition = spine.find("./audition")
    alternative = audition[1]
    audition.remove(alternative)
    audition.insert(0, alternative)  # C picked: 5 s, so what follows it starts 2 s later
    spine[2].set("offset", "9s")
    written.write_text(ET.tostring(root, encoding="unicode"))

    _generate(written, written, take=2)
    audition = ET.parse(written).getroot().find(".//project/sequence/spine/audition")
    assert [[c.get("name") for c in item.iter("asset-clip") if c.get("audioRole") == ROLE]
            for item in audition] == [["V2A C"], []]
    assert _sound(str(written)) == [(0, 100), (100, 125), (225, 10), (235, 25), (260, 15)]


# --- split edits -------------------------------------------------------------------------------

# J and L cuts: each clip's sound starts before or ends after its picture (`audioStart`,
# `audioDuration`); the middle one a <clip> as Final Cut writes one listing its components,
# its <audio> anchored to its <video>.
SPLIT_EDITS = """
                        <asset-clip name="A" offset="0s" ref="r2" duration="4s" start="10s" format="r1" audioDuration="5s"/>
                        <clip name="C" offset="4s" duration="2s" start="30s" format="r1" audioStart="29.5s" audioDuration="2.5s">
                            <video ref="r4" offset="0s" start="0s" duration="60s">
                                <audio ref="r4" lane="-1" offset="0s" start="0s" duration="60s" role="dialogue"/>
                            </video>
                        </clip>
                        <asset-clip name="B" offset="6s" ref="r3" duration="3s" start="20s" format="r1" audioStart="19s" audioDuration="4s"/>"""


def test_split_edits_plan_each_clip_from_its_picture(tmp_path, version):
    # The sound of a split edit reaches past its picture; v2a makes sound for the picture. The
    # reader read the <clip>'s <audio> as a second clip of picture after the first: the shot
    # after it 2 s late, and sound made for a picture that is not there.
    assert _planned(_document(tmp_path, SPLIT_EDITS, version)) == [
        ("A", 0, 100, 10.0),
        ("C", 100, 50, 30.0),
        ("B", 150, 75, 20.0),
    ]


def test_v2a_sound_goes_under_the_picture_of_split_edits(tmp_path, version):
    source = _document(tmp_path, SPLIT_EDITS, version)
    written = _generate(source, tmp_path / "out.fcpxml")
    assert _sound(written) == [(0, 100), (100, 50), (150, 75)]
    clip = ET.parse(written).getroot().find(".//project/sequence/spine/clip")
    assert [child.tag for child in clip] == ["video", "asset-clip"]  # its sound kept in it
    assert clip.find("./asset-clip").get("offset") == "30s"  # in the clip's own time
    assert _takes_after_a_rerun(written) == [2] * 3


# --- multicam clips: transitions inside an angle, retiming -------------------------------------

# A multicam of two angles: A a shot of A (0-5 s) dissolving (24 frames, centred on the cut)
# into a shot of C (5-10 s); B one shot of B.
MULTICAM = """
        <effect id="r5" name="Cross Dissolve" uid="FxPlug:4731E73A-8DAC-4113-9A30-AE85B1761265"/>
        <media id="r6" name="Interview" uid="mc1">
            <multicam format="r1" tcStart="0s" tcFormat="NDF">
                <mc-angle name="Cam A" angleID="A">
                    <asset-clip name="A" offset="0s" ref="r2" duration="5s" start="10s" format="r1"/>
                    <transition name="Cross Dissolve" offset="11300/2500s" duration="2400/2500s">
                        <filter-video ref="r5" name="Cross Dissolve"/>
                    </transition>
                    <asset-clip name="C" offset="5s" ref="r4" duration="5s" start="30s" format="r1"/>
                </mc-angle>
                <mc-angle name="Cam B" angleID="B">
                    <asset-clip name="B" offset="0s" ref="r3" duration="10s" start="0s" format="r1"/>
                </mc-angle>
            </multicam>
        </media>"""

# Angle A from 3 s of the multicam, over its dissolve; angle B's picture from 7 s, angle A's
# sound.
ACROSS_A_DISSOLVE = """
                        <asset-clip name="B" offset="0s" ref="r3" duration="2s" start="40s" format="r1"/>
                        <mc-clip name="Interview" offset="2s" ref="r6" duration="4s" start="3s">
                            <mc-source angleID="A" srcEnable="all"/>
                        </mc-clip>
                        <mc-clip name="Interview" offset="6s" ref="r6" duration="3s" start="7s">
                            <mc-source angleID="B" srcEnable="video"/>
                            <mc-source angleID="A" srcEnable="audio"/>
                        </mc-clip>"""

# The same multicam clips retimed: angle A at 200 % (its own 1 s at the multicam's 3 s), angle B
# held on the multicam's 2 s.
RETIMED = """
                        <asset-clip name="B" offset="0s" ref="r3" duration="2s" start="40s" format="r1"/>
                        <mc-clip name="Interview" offset="2s" ref="r6" duration="2s" start="1s">
                            <timeMap>
                                <timept time="0s" value="1s" interp="linear"/>
                                <timept time="10s" value="21s" interp="linear"/>
                            </timeMap>
                            <mc-source angleID="A" srcEnable="all"/>
                        </mc-clip>
                        <mc-clip name="Interview" offset="4s" ref="r6" duration="3s" start="6s">
                            <timeMap>
                                <timept time="6s" value="2s" interp="linear"/>
                                <timept time="9s" value="2s" interp="linear"/>
                            </timeMap>
                            <mc-source angleID="B" srcEnable="video"/>
                        </mc-clip>"""


def test_a_dissolve_inside_a_multicam_angle_is_planned_as_the_angle_plays_it(tmp_path, version):
    # Each side of the angle's cut its own shot, the dissolve's 12 frames each side as handles.
    source = _document(tmp_path, ACROSS_A_DISSOLVE, version, resources=MULTICAM)
    assert _segments(source) == [
        ("B", 0, 50, 40.0, 1.0, 0, 0),
        ("A", 50, 50, 13.0, 1.0, 0, 12),
        ("C", 100, 50, 30.0, 1.0, 12, 0),
        ("B", 150, 75, 7.0, 1.0, 0, 0),
    ]
    written = _generate(source, tmp_path / "out.fcpxml")
    assert _sound(written) == [(0, 50), (50, 50), (100, 50), (150, 75)]
    # Connected after each multicam clip's <mc-source>s, as Apple's DTD orders them.
    for mc_clip in ET.parse(written).getroot().iter("mc-clip"):
        tags = [child.tag for child in mc_clip]
        assert tags[: tags.count("mc-source")] == ["mc-source"] * tags.count("mc-source")


def test_a_retimed_multicam_clip_is_planned_at_its_speed(tmp_path, version):
    source = _document(tmp_path, RETIMED, version, resources=MULTICAM)
    assert _segments(source) == [
        ("B", 0, 50, 40.0, 1.0, 0, 0),
        ("A", 50, 25, 13.0, 2.0, 0, 6),  # the dissolve's 12 frames, at 200 %
        ("C", 75, 25, 30.0, 2.0, 6, 0),
        ("B", 100, 75, 2.0, 0.0, 0, 0),  # held
    ]
    written = _generate(source, tmp_path / "out.fcpxml")
    assert _sound(written) == [(0, 50), (50, 25), (75, 25), (100, 75)]
    # Connected in the multicam clip's own, retimed time: at its first frame, its `start`.
    first = ET.parse(written).getroot().find(".//project/sequence/spine/mc-clip")
    assert first.find("./spine").get("offset") == first.get("start") == "1s"
    assert _takes_after_a_rerun(written) == [2] * 4
