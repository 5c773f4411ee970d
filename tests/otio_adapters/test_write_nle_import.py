"""What an editor's application needs of v2a's audio in the file it imports, checked against the
format's published structure and what the applications themselves write (fourth audit of the
sixteenth session, "will the NLE import it"): FCPXML (Apple's timing attributes, Final Cut's own
exports), FCP7 XML (Premiere's export, fixtures/fcp7_xml/premiere_example.xml), AAF (the take's
PCMDescriptor against the WAV v2a writes)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import replace
from fractions import Fraction

import opentimelineio as otio
import pytest
from test_write_tracks import NTSC, _generated, _segments, _timeline

from otio_adapters.fcpx_time import parse_seconds
from otio_adapters.read import read_timeline
from otio_adapters.takes import find_v2a_tracks, to_samples
from otio_adapters.write import write_audio_tracks, write_timeline
from v2a.contracts import SAMPLE_RATE

RT = otio.opentime.RationalTime
TR = otio.opentime.TimeRange


def _with_takes(rate: float, media_start: int = 0):
    """A timeline at `rate` with v2a's track laid (2-frame handles), its media starting at
    `media_start` frames (camera media with a timecode)."""
    timeline = _timeline(rate, [("a", 24), ("b", 30), ("", 5), ("c", 12)])
    for clip in timeline.video_tracks()[0].find_clips():
        clip.source_range = TR(RT(media_start + 100, rate), clip.source_range.duration)
        clip.media_reference.available_range = TR(RT(media_start, rate), RT(1000, rate))
    segments = _segments(timeline, handle=round(2 * SAMPLE_RATE / rate))
    write_audio_tracks(timeline, segments, _generated(segments))
    return timeline


@pytest.mark.parametrize("rate", [25, NTSC])
def test_fcpxml_clips_find_their_media_inside_their_range(rate, tmp_path):
    # Apple: a clip's `start` begins the local timeline its contents are placed in by `offset`.
    # The adapter wrote the media at offset 0s under a clip starting at its media time (a take's
    # timecode, 3600s for camera media): outside the clip, so Final Cut played none of it.
    timeline = _with_takes(rate, media_start=round(3600 * rate))
    written, _, _ = write_timeline(timeline, str(tmp_path / "edit.fcpxml"), "fcpx_xml")
    root = ET.parse(written).getroot()
    assets = {asset.get("id"): asset for asset in root.iterfind("./resources/asset")}
    clips = list(root.iterfind("./project/sequence/spine//clip"))
    assert len(clips) == 3  # the editor's
    for clip in clips:
        first = parse_seconds(clip.get("start"))
        last = first + parse_seconds(clip.get("duration"))
        holder = clip.find("video")
        if holder is None:
            holder = clip.find("gap")
        media = holder if holder.tag == "video" else holder.find("audio")
        asset = assets[media.get("ref")]
        # The media element plays its asset from the asset's start, where the clip reads it.
        assert parse_seconds(media.get("start")) == parse_seconds(asset.get("start"))
        assert parse_seconds(holder.get("offset")) == parse_seconds(asset.get("start"))
        assert parse_seconds(holder.get("offset")) <= first
        assert last <= parse_seconds(holder.get("offset")) + parse_seconds(holder.get("duration"))
    # v2a's takes are asset-clips, whose `start` is in their asset's media time.
    takes = list(root.iterfind("./project/sequence/spine//asset-clip"))
    assert len(takes) == 3
    for clip in takes:
        asset = assets[clip.get("ref")]
        first = parse_seconds(clip.get("start"))
        last = first + parse_seconds(clip.get("duration"))
        media = parse_seconds(asset.get("start"))
        assert media < first and last < media + parse_seconds(asset.get("duration"))


def test_fcpxml_reads_back_with_the_takes_on_their_pictures(tmp_path):
    timeline = _with_takes(25, media_start=90000)
    expected = _placements(find_v2a_tracks(timeline, "SFX")[0])
    written, _, _ = write_timeline(timeline, str(tmp_path / "edit.fcpxml"), "fcpx_xml")
    read = read_timeline(written)
    audio = [track for track in read.tracks if track.kind == otio.schema.TrackKind.Audio]
    assert any(_placements(track) == expected for track in audio)


def _placements(track: otio.schema.Track) -> list[tuple[int, int]]:
    return [
        (to_samples(r.start_time), to_samples(r.duration))
        for r in (track.range_of_child(c) for c in track.find_clips())
    ]


def test_fcpxml_take_assets_are_audio_files_without_a_video_format(tmp_path):
    # Final Cut writes an audio file's asset with its sources, channels and rate, and no video
    # format (`format` names a video format: frame size, rate); the adapter wrote only hasAudio,
    # on the project's video format.
    timeline = _with_takes(25)
    written, _, _ = write_timeline(timeline, str(tmp_path / "edit.fcpxml"), "fcpx_xml")
    takes = [
        asset
        for asset in ET.parse(written).getroot().iterfind("./resources/asset")
        if asset.get("src", "").endswith(".wav")
    ]
    assert len(takes) == 3
    for asset in takes:
        assert asset.get("hasAudio") == "1" and asset.get("hasVideo", "0") == "0"
        assert asset.get("format") is None
        assert asset.get("audioRate") == "48000"
        assert (asset.get("audioSources"), asset.get("audioChannels")) == ("1", "1")


def _written_fcpxml(timeline: otio.schema.Timeline, tmp_path) -> tuple[ET.Element, str, str]:
    written, fallback, note = write_timeline(timeline, str(tmp_path / "edit.fcpxml"), "fcpx_xml")
    return ET.parse(written).getroot(), fallback, note


def test_fcpxml_takes_are_on_an_effects_subrole_of_their_own(tmp_path):
    # Final Cut files audio that has no role under Dialogue (the adapter wrote none): v2a's sound
    # effects were soloed, mixed and exported in the editor's dialogue stem.
    root, _, _ = _written_fcpxml(_with_takes(25), tmp_path)
    takes = list(root.iterfind("./project/sequence/spine//asset-clip"))
    assert len(takes) == 3
    assert {clip.get("audioRole") for clip in takes} == {"effects.V2A SFX"}


def test_fcpxml_crossfades_are_audio_transitions_centred_on_their_cuts(tmp_path):
    # Final Cut has transitions only in storylines, and centres each on its cut (half over each
    # clip). The adapter wrote none: the FCPXML lost v2a's crossfades, and the note sent the
    # editor to an .otio beside it. Here a (24 frames) crossfades into b over 2 + 2 frames;
    # c, after a gap, stands alone.
    root, fallback, note = _written_fcpxml(_with_takes(25), tmp_path)
    assert (fallback, note) == ("", "")
    (storyline,) = root.iterfind("./project/sequence/spine/*/spine")
    assert [(child.tag, child.get("name")) for child in storyline] == [
        ("asset-clip", "V2A a"),
        ("transition", "Audio Crossfade"),
        ("asset-clip", "V2A b"),
    ]
    _, transition, incoming = storyline
    effect = root.find(f"./resources/effect[@id='{transition.find('filter-audio').get('ref')}']")
    assert effect.get("uid") == "FFAudioTransition"  # Final Cut's "Audio Crossfade"
    cut = parse_seconds(incoming.get("offset"))
    assert cut == Fraction(24, 25)
    assert parse_seconds(transition.get("offset")) == cut - Fraction(2, 25)
    assert parse_seconds(transition.get("duration")) == Fraction(4, 25)
    (alone,) = root.iterfind("./project/sequence/spine/*/asset-clip")
    assert alone.get("name") == "V2A c" and alone.get("lane") == storyline.get("lane")


def test_a_crossfade_final_cut_cannot_centre_is_a_hard_cut_and_the_note_says_so(tmp_path):
    # A dissolve that starts at the cut gives the incoming clip no handle before: no transition
    # centred on the cut can be made of it.
    timeline = _timeline(25, [("a", 24), ("b", 30)])
    segments = _segments(timeline, handle=2 * SAMPLE_RATE // 25)
    segments[1] = replace(segments[1], handle_before_samples=0)
    write_audio_tracks(timeline, segments, _generated(segments))
    root, fallback, note = _written_fcpxml(timeline, tmp_path)
    assert "v2a's crossfades wholly on one side of their cut (1) are hard cuts" in note
    assert fallback.endswith(".otio")  # which holds it
    assert root.find(".//transition") is None
    takes = list(root.iterfind("./project/sequence/spine/*/asset-clip"))
    assert [clip.get("name") for clip in takes] == ["V2A a", "V2A b"]


def test_fcpxml_connected_takes_come_before_their_hosts_markers(tmp_path):
    # Apple's FCPXML DTD puts a clip's connected items before its markers, and Final Cut rejects
    # a document that does not match the DTD.
    timeline = _with_takes(25)
    first = timeline.video_tracks()[0].find_clips()[0]
    first.markers.append(otio.schema.Marker(name="hit", marked_range=TR(RT(105, 25), RT(1, 25))))
    root, _, _ = _written_fcpxml(timeline, tmp_path)
    tags = [child.tag for child in root.find("./project/sequence/spine/clip[@name='a']")]
    assert "spine" in tags and tags.index("spine") < tags.index("marker")


def test_fcpxml_note_says_the_editors_speed_changes_it_cannot_write_are_not_in_it(tmp_path):
    # A time effect that is no constant speed or hold (a ramp, as another format may give it)
    # gets no time map: the clip plays at 100 % in Final Cut, other frames than v2a made its
    # sound for. The FCPXML said nothing of it, and no .otio was written (before the
    # seventeenth session every retimed clip was so: the adapter writes no timeMap).
    timeline = _with_takes(25)
    shot = timeline.video_tracks()[0].find_clips()[1]
    shot.effects.append(otio.schema.TimeEffect(name="ramp", effect_name="SpeedRamp"))
    _, fallback, note = _written_fcpxml(timeline, tmp_path)
    assert "speed changes v2a cannot write to FCPXML (" in note
    assert f"play at normal speed in the FCPXML: {shot.name!r} (V1 at " in note
    assert fallback.endswith(".otio")


def test_fcp7_take_files_say_what_their_audio_is(tmp_path):
    # As Premiere writes an audio file: <samplecharacteristics> (depth, rate), <channelcount>,
    # and the clip item's <sourcetrack>; the adapter wrote an empty <audio/>.
    timeline = _with_takes(25)
    written, _, _ = write_timeline(timeline, str(tmp_path / "edit.xml"), "fcp_xml")
    root = ET.parse(written).getroot()
    items = [
        item
        for item in root.iterfind(".//sequence/media/audio/track/clipitem")
        if item.findtext("file/pathurl", "").endswith(".wav")
    ]
    assert len(items) == 3
    for item in items:
        audio = item.find("file/media/audio")
        assert audio.findtext("samplecharacteristics/depth") == "24"
        assert audio.findtext("samplecharacteristics/samplerate") == "48000"
        assert audio.findtext("channelcount") == "1"
        assert item.findtext("sourcetrack/mediatype") == "audio"
        assert item.findtext("sourcetrack/trackindex") == "1"
    read = otio.adapters.read_from_file(written)  # and the adapter still reads it
    assert len(find_v2a_tracks(read, "SFX")[0].find_clips()) == 3


@pytest.mark.parametrize("rate", [24, NTSC])
def test_aaf_take_descriptors_match_the_24_bit_files(rate, tmp_path):
    # The writer declared every take 16-bit PCM (BlockAlign 2, 96000 bytes/s); v2a writes 24 bit.
    import aaf2

    timeline = _with_takes(rate)
    lengths = sorted(
        to_samples(clip.media_reference.available_range.duration)
        for clip in find_v2a_tracks(timeline, "SFX")[0].find_clips()
    )
    written, _, note = write_timeline(timeline, str(tmp_path / "edit.aaf"), "AAF")
    assert note == ""
    with aaf2.open(written, "r") as aaf:
        descriptors = [
            mob.descriptor
            for mob in aaf.content.sourcemobs()
            if type(mob.descriptor).__name__ == "PCMDescriptor"
        ]
        declared = [
            {key: descriptor[key].value for key in ("QuantizationBits", "BlockAlign", "AverageBPS")}
            for descriptor in descriptors
        ]
        assert declared == [{"QuantizationBits": 24, "BlockAlign": 3, "AverageBPS": 144000}] * 3
        assert sorted(descriptor["Length"].value for descriptor in descriptors) == lengths
        assert {Fraction(descriptor["SampleRate"].value) for descriptor in descriptors} == {48000}


@pytest.mark.parametrize(("rate", "mode"), [(NTSC, "DF"), (60000 / 1001, "DF"), (25, "NDF")])
def test_fcpxml_start_timecode_reads_as_v2a_shows_it_where_the_source_does_not_say(
    rate, mode, tmp_path
):
    # A 29.97 timeline from OTIO, AAF or FCP7 XML carries no drop-frame flag: v2a shows and
    # writes it in drop frame (`v2a inspect`, the EDL's FCM), but the FCPXML said NDF, so Final
    # Cut showed a start of 01:00:00;00 (107,892 frames) as 00:59:56:12.
    timeline = _timeline(rate, [("a", 24)])
    timeline.global_start_time = RT(round(3600 * rate), rate)
    root, _, _ = _written_fcpxml(timeline, tmp_path)
    assert root.find("./project/sequence").get("tcFormat") == mode


@pytest.mark.parametrize("source", [
    {"fcpx_xml": {"tcFormat": "NDF"}},  # as the FCPXML reader keeps it
    {"fcp_xml": {"timecode": {"displayformat": "NDF"}}},  # as the FCP7 XML reader keeps it
])
def test_fcpxml_start_timecode_keeps_the_mode_its_source_gave(source, tmp_path):
    timeline = _timeline(NTSC, [("a", 24)])
    timeline.metadata.update(source)
    root, _, _ = _written_fcpxml(timeline, tmp_path)
    assert root.find("./project/sequence").get("tcFormat") == "NDF"
