"""FCPXML read and written with exact time: NTSC rates, lengths the adapter's floats
truncated, the start timecode."""

import xml.etree.ElementTree as ET
from fractions import Fraction

import opentimelineio as otio
import pytest
from generator_doubles import SineGenerator

from otio_adapters.fcpx_time import format_seconds, parse_seconds
from otio_adapters.read import read_timeline
from otio_adapters.standin_media import synthesize_media
from otio_adapters.takes import find_v2a_tracks
from otio_adapters.timing import exact_rate, seconds, to_samples
from otio_adapters.write import write_timeline
from v2a.contracts import GenerationParams, GenerationRequest
from v2a.pipeline import run_generation

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
    sequence = root.find(".//project/sequence")
    assert sequence.get("tcStart") == "3600s"
    assert [item.get("offset") for item in sequence.iterfind("./spine/*")][0] == "3600s"
    again = read_timeline(out)
    assert seconds(again.global_start_time) == 3600
    assert _clips(again) == _clips(timeline)


@pytest.mark.parametrize(
    ("frame_duration", "rate"),
    [("1001/24000s", Fraction(24000, 1001)), ("1001/30000s", Fraction(30000, 1001))],
)
def test_an_ntsc_project_is_written_back_as_fcpxml_sample_exact(tmp_path, frame_duration, rate):
    """The adapter could not write 23.976/29.97 at all (v2a fell back to .otio, which Final Cut
    does not open). Now every time is written at the true rate: the editor's clips where they
    were, each take where its picture is, to the sample."""
    frame = parse_seconds(frame_duration)
    text = NTSC_PROJECT.replace("1001/24000s", frame_duration).replace(
        "/24000s", f"/{rate.numerator}s"
    )
    # The same frame counts at this rate: 86400 frames of start, then 123 and 124 frames.
    text = text.format(
        tc_start=_at(86400, frame), first=_at(86400, frame), second=_at(86523, frame)
    )
    source = tmp_path / "cut.fcpxml"
    source.write_text(text)
    timeline = read_timeline(source)
    media = tmp_path / "media"
    synthesize_media(timeline, str(media))

    result = run_generation(
        GenerationRequest(
            timeline_path=str(source),
            out_dir=str(tmp_path / "out"),
            relink_roots=(str(media),),
            params=GenerationParams(seed=1),
        ),
        SineGenerator(),
    )

    assert result.timeline_path.endswith(".fcpxml")
    again = read_timeline(result.timeline_path)
    assert exact_rate(again.video_tracks()[0][0].duration().rate) == rate
    assert _clips(again) == _clips(timeline)
    assert seconds(again.global_start_time) == 86400 * frame
    track = find_v2a_tracks(again, "SFX")[0]
    placed = sorted(
        (to_samples(seconds(r.start_time)), to_samples(seconds(r.end_time_exclusive())))
        for r in (track.range_of_child(clip) for clip in track.find_clips())
    )
    assert placed == sorted(
        (a.start_sample, a.start_sample + a.num_samples) for a in result.generated
    )


def _at(frames: int, frame: Fraction) -> str:
    return format_seconds(frames * frame)


def test_an_ntsc_timeline_keeps_the_length_of_times_at_other_rates(tmp_path):
    """Written at 29.97, every time was taken as frames of the edit rate whatever its own: 2 s
    of a 25 fps clip came out as 50 frames (1.67 s), 3.6 s of audio at 48000 as 96 minutes."""
    rt, tr = otio.opentime.RationalTime, otio.opentime.TimeRange

    def clip(name, start, length, rate):
        reference = otio.schema.ExternalReference(
            f"file:///media/{name}.mov", available_range=tr(rt(0, rate), rt(rate * 100, rate))
        )
        return otio.schema.Clip(name, reference, tr(rt(start, rate), rt(length, rate)))

    timeline = otio.schema.Timeline("T")
    video = otio.schema.Track("V1", kind=otio.schema.TrackKind.Video)
    video.extend([clip("A", 10, 48, 29.97), clip("B", 25, 50, 25)])
    audio = otio.schema.Track("A1", kind=otio.schema.TrackKind.Audio)
    audio.append(clip("sound", 0, 172800, 48000))
    timeline.tracks.extend([video, audio])
    out = tmp_path / "out.fcpxml"

    assert write_timeline(timeline, str(out), "fcpx_xml")[0] == str(out)

    again = read_timeline(out)
    assert _clips(again) == [("A", 0, 10, 48), ("B", 48, 30, 60)]  # 1 s in, 2 s long
    assert [c.source_range.duration.value for c in again.audio_tracks()[0].find_clips()] == [108]


def test_an_empty_time_at_rate_zero_is_handed_to_the_writer_as_zero():
    """AAF fillers carry (0, rate 0); counting it in frames of the edit rate raised."""
    from otio_adapters.fcpx_time import for_writer

    RT, TR = otio.opentime.RationalTime, otio.opentime.TimeRange
    timeline = otio.schema.Timeline(global_start_time=RT(0, 0))
    track = otio.schema.Track(kind=otio.schema.TrackKind.Video)
    track.append(otio.schema.Gap(source_range=TR(RT(0, 0), RT(24, 30000 / 1001))))
    timeline.tracks.append(track)
    written = for_writer(timeline, 30000 / 1001)
    assert written.global_start_time == RT(0, 30)
    assert written.tracks[0][0].source_range == TR(RT(0, 30), RT(24, 30))


# As Final Cut writes audio files: an audio-only asset (no video format), connected as an
# asset-clip, and a secondary storyline connected 4 s into its host clip.
CONNECTED_AUDIO = """<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE fcpxml>
<fcpxml version="1.8">
  <resources>
    <format id="r1" name="FFVideoFormat1080p25" frameDuration="1/25s"/>
    <asset id="r2" name="shot" src="file:///media/shot.mov" start="0s" duration="20s"
           hasVideo="1" format="r1"/>
    <asset id="r3" name="music" src="file:///media/music.wav" start="0s"
           duration="960000/48000s" hasAudio="1" audioSources="1" audioChannels="2"
           audioRate="48000"/>
  </resources>
  <library><event name="E"><project name="P">
    <sequence format="r1" duration="12s" tcStart="0s">
      <spine>
        <gap name="Gap" offset="0s" start="3600s" duration="2s"/>
        <asset-clip name="shot" ref="r2" offset="2s" start="1s" duration="10s">
          <asset-clip name="music" ref="r3" lane="-1" offset="2s" duration="5s"
                      audioRole="music"/>
          <spine lane="-2" offset="5s">
            <asset-clip name="sfx a" ref="r3" offset="0s" start="1s" duration="2s"/>
            <asset-clip name="sfx b" ref="r3" offset="2s" start="5s" duration="3s"/>
          </spine>
        </asset-clip>
      </spine>
    </sequence>
  </project></event></library>
</fcpxml>
"""


def _placed(track: otio.schema.Track) -> list[tuple[str, float, float]]:
    placed = []
    for clip in track.find_clips():
        start = track.range_of_child(clip).start_time.to_seconds()
        placed.append((clip.name, start, clip.duration().to_seconds()))
    return placed


def test_audio_only_asset_clips_are_read_as_audio_tracks(tmp_path):
    # The adapter tested the asset element's truth value, which is its number of children: an
    # asset with none (as Final Cut writes one) made every audio file's clip a video track,
    # one that v2a would plan picture for.
    timeline = _read(tmp_path, CONNECTED_AUDIO)
    assert [track.name for track in timeline.video_tracks()] == ["0"]
    assert {track.name for track in timeline.audio_tracks()} == {"-1", "-2"}


def test_a_secondary_storyline_sits_where_it_is_connected(tmp_path):
    # Its clips count from the storyline's start, which sits at `offset` in its host's time
    # (from the host's `start`): 5 s into a clip starting at 1 s of its media, on the timeline
    # at 2 s, is 6 s. The adapter put it at the host's first frame (2 s).
    timeline = _read(tmp_path, CONNECTED_AUDIO)
    tracks = {track.name: track for track in timeline.tracks}
    assert _placed(tracks["-1"]) == [("music", 3.0, 5.0)]
    assert _placed(tracks["-2"]) == [("sfx a", 6.0, 2.0), ("sfx b", 8.0, 3.0)]


def test_lanes_stack_in_number_order_from_lane_10_up(tmp_path):
    # The reader sorted lanes as text: lane 10 came before lane 2, so a title on lane 10 sat
    # under the B-roll of lanes 2-9 and v2a planned their sound for the wrong picture.
    connected = "\n".join(
        f'<asset-clip name="lane {lane}" ref="r2" lane="{lane}" offset="0s" duration="2s"/>'
        for lane in range(1, 12)
    )
    text = CONNECTED_AUDIO.replace(
        '<asset-clip name="music" ref="r3" lane="-1" offset="2s" duration="5s"',
        connected + '\n<asset-clip name="music" ref="r3" lane="-1" offset="2s" duration="5s"',
    )
    timeline = _read(tmp_path, text)
    assert [track.name for track in timeline.video_tracks()] == [str(n) for n in range(12)]
    # Audio lanes from the spine down, as before: -1 is the first audio track (A1).
    assert [track.name for track in timeline.audio_tracks()] == ["-1", "-2"]


def test_the_editors_transitions_v2a_cannot_read_are_named_when_the_timeline_is_written(
    tmp_path,
):
    # The adapter reads no <title>: a dissolve from a shot into a title has no item to lie
    # over on the title's side, so it is not read, and what v2a writes says so (it used to
    # vanish silently). v2a's own audio crossfades, in its storylines on the effects.V2A role,
    # are not the editor's.
    from otio_adapters.write import write_timeline

    dissolve = '<transition name="Cross Dissolve" offset="23/2s" duration="1s"/>'
    title = '<title name="Basic Title" ref="r4" offset="12s" duration="2s"/>'
    ours = (
        '<spine lane="-3" offset="2s">'
        '<asset-clip name="V2A a" ref="r3" offset="0s" duration="2s" audioRole="effects.V2A SFX"/>'
        '<transition name="Audio Crossfade" offset="3/2s" duration="1s"/>'
        '<asset-clip name="V2A b" ref="r3" offset="2s" duration="2s" audioRole="effects.V2A SFX"/>'
        "</spine>"
    )
    text = CONNECTED_AUDIO.replace(
        "</asset-clip>\n      </spine>", ours + "</asset-clip>" + dissolve + title + "</spine>"
    ).replace("</resources>", '<effect id="r4" name="Basic Title" uid="title"/></resources>')
    assert text.count("<transition") == 2
    timeline = _read(tmp_path, text)

    for name, format in (("out.fcpxml", "fcpx_xml"), ("out.xml", "fcp_xml")):
        _, _, note = write_timeline(timeline, str(tmp_path / name), format)
        assert "could not read (the editor's 1," in note, format
