"""The Premiere round trip: an editor exports FCP7 XML, v2a writes its track into that document,
the editor imports it, and v2a runs again on what it wrote. Real files throughout: Premiere's
exports in ../shared/fixtures/timelines/fcp7_xml, the bundled sample converted to FCP7 XML by
OTIO's adapter, and that adapter reading back what v2a wrote."""

from __future__ import annotations

import copy
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import opentimelineio as otio
import pytest
from generator_doubles import SineGenerator

from otio_adapters.plan import plan_segments
from otio_adapters.read import read_timeline
from otio_adapters.source_files import remember_editor_tracks
from otio_adapters.takes import find_v2a_tracks, parse_take_file, url_to_path
from otio_adapters.write import write_timeline
from v2a.contracts import ClipAddress, GenerationRequest, Selection
from v2a.pipeline import run_generation

FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "timelines" / "fcp7_xml"
SAMPLES = Path(__file__).resolve().parents[2] / "samples"
MOVIE = "bigbuckbunny_320x180.mp4"
needs_fixtures = pytest.mark.skipif(not FIXTURES.is_dir(), reason="../shared/fixtures is absent")


def _generate(timeline: Path, out: Path, media: str = "", clips=()):
    request = GenerationRequest(
        timeline_path=str(timeline),
        out_dir=str(out),
        relink_roots=(media,) if media else (),
        selection=Selection(clips=tuple(ClipAddress(clip_id=c) for c in clips)),
    )
    return run_generation(request, SineGenerator())


def _parse(path: Path) -> ET.Element:
    return ET.parse(path).getroot()


def _audio_tracks(root: ET.Element) -> list[ET.Element]:
    """The first sequence's audio tracks, as the document lists them."""
    sequence = root.find("sequence")
    if sequence is None:
        sequence = root.find(".//children/sequence")
    return sequence.findall("media/audio/track")


def _takes_only(track: ET.Element, root: ET.Element) -> bool:
    """A track holding v2a's take files alone (FCP7 XML keeps no track names)."""
    urls = {f.get("id"): f.findtext("pathurl") for f in root.iter("file") if len(f)}
    clips = track.findall("clipitem")
    return bool(clips) and all(
        parse_take_file(urls.get(clip.find("file").get("id")) or "") for clip in clips
    )


def _editors_part(path: Path) -> str:
    """The document less v2a's tracks, canonical, every media path made absolute (a relative
    one names the same file from another folder)."""
    root = copy.deepcopy(_parse(path))
    for parent in list(root.iter()):
        for track in [child for child in parent if child.tag == "track"]:
            if _takes_only(track, root):
                parent.remove(track)
    for pathurl in root.iter("pathurl"):
        name = url_to_path(pathurl.text)
        pathurl.text = str((path.parent / name).resolve()) if not Path(name).is_absolute() else name
    return ET.canonicalize(ET.tostring(root, encoding="unicode"), strip_text=True)


def _editors_tracks(timeline: otio.schema.Timeline) -> list[str]:
    ours = find_v2a_tracks(timeline, "SFX")
    return [
        otio.adapters.write_to_string(track, "otio_json")
        for track in timeline.tracks
        if not any(track is mine for mine in ours)
    ]


@needs_fixtures
def test_premiere_xml_comes_back_with_both_channels_of_its_stereo_tracks(standin_media, tmp_path):
    """The adapter read one channel of each exploded stereo pair and wrote back what it read:
    the 8 mono tracks came back 4, the editor's dialogue and music as their left channels only,
    and the right channels' clips gone from their <link> groups. Now the editor's document is
    there as exported, element for element, with v2a's track after its audio tracks."""
    name = "premiere_example.xml"
    source = FIXTURES / name
    result = _generate(source, tmp_path / "out", standin_media(f"fcp7_xml/{name}"))
    # 8 shots: 2 of them in V2's nested sequence (read as empty before the convert-losses session)
    assert len(result.generated) == 8 and not result.format_note
    written = Path(result.timeline_path)

    assert _editors_part(written) == _editors_part(source)
    tracks = _audio_tracks(_parse(written))
    assert len(tracks) == 8 + 1
    assert [t.get("currentExplodedTrackIndex") for t in tracks[:8]] == ["0", "1"] * 4
    right = tracks[1].find("clipitem")  # the right channel of A1, linked to its video and left
    assert right.findtext("sourcetrack/trackindex") == "2"
    assert [link.findtext("linkclipref") for link in right.iter("link")] == [
        "clipitem-2", "clipitem-13", "clipitem-15"
    ]
    assert _takes_only(tracks[8], _parse(written))
    ids = [e.get("id") for e in _parse(written).iter() if e.get("id") and len(e)]
    assert len(ids) == len(set(ids))  # no element of v2a's took an id of the editor's

    # Read back, the editor's tracks are what the source reads as, and v2a's track holds its
    # takes, each as v2a writes one to FCP7 XML (an audio file of one channel, source track 1).
    again = read_timeline(written)
    assert _editors_tracks(again) == _editors_tracks(read_timeline(source))
    [ours] = find_v2a_tracks(again, "SFX")
    assert sorted(Path(c.media_reference.target_url).name for c in ours.find_clips()) == sorted(
        Path(a.path).name for a in result.generated
    )
    for clip in tracks[8].findall("clipitem"):
        assert clip.findtext("file/media/audio/channelcount") == "1"
        assert clip.findtext("sourcetrack/trackindex") == "1"
    assert tracks[8].find("transitionitem/effect/effectid").text == "KGAudioTransCrossFade3dB"


@needs_fixtures
def test_premiere_clips_keep_their_source_timecode(standin_media, tmp_path):
    """Two <file> elements naming the same path with different timecodes: the adapter wrote one,
    and four clips' source ranges, as they read back, moved by the difference."""
    name = "premiere_enable_property.xml"
    source = FIXTURES / name
    result = _generate(source, tmp_path / "out", standin_media(f"fcp7_xml/{name}"))
    written = Path(result.timeline_path)

    assert _editors_part(written) == _editors_part(source)

    def source_ranges(timeline):  # of the editor's clips
        return [
            (clip.name, clip.source_range)
            for clip in timeline.find_clips()
            if not parse_take_file(getattr(clip.media_reference, "target_url", "") or "")
        ]

    assert source_ranges(read_timeline(written)) == source_ranges(read_timeline(source))


@needs_fixtures
def test_a_rerun_on_the_written_premiere_xml_refills_v2a_track(standin_media, tmp_path):
    name = "premiere_example.xml"
    out, media = tmp_path / "out", standin_media(f"fcp7_xml/{name}")
    first = _generate(FIXTURES / name, out, media)
    clip_id = first.generated[1].clip_id
    again = _generate(Path(first.timeline_path), out, media, clips=[clip_id])
    assert [a.clip_id for a in again.generated] == [clip_id]
    written = Path(again.timeline_path)
    root = _parse(written)

    assert _editors_part(written) == _editors_part(FIXTURES / name)
    tracks = _audio_tracks(root)
    assert len(tracks) == 8 + 1 and _takes_only(tracks[8], root)
    files = sorted(Path(url_to_path(f.findtext("pathurl"))).name for f in tracks[8].iter("file")
                   if f.find("pathurl") is not None)
    assert files == sorted(
        [Path(a.path).name for a in first.generated if a.clip_id != clip_id]
        + [f"{clip_id}_take2.wav"]
    )
    ids = [e.get("id") for e in root.iter() if e.get("id") and len(e)]
    assert len(ids) == len(set(ids))


@needs_fixtures
def test_premiere_xml_written_to_another_format_keeps_both_channels(standin_media, tmp_path):
    """Each channel of an exploded stereo pair is read as a track of its own, so a Premiere XML
    converted keeps the right channels, and their edit where the editor cut them apart from the
    left (the fourth pair: 956 for 208 frames, then 1164 for 82; the left's, 956 for 221, then
    1177 for 94). The reader read the left channels alone: 4 tracks of 8."""
    name = "premiere_example.xml"
    timeline = read_timeline(FIXTURES / name)

    def frames(track) -> list[tuple[int, int]]:
        return [(round(c.range_in_parent().start_time.value),
                 round(c.range_in_parent().duration.value)) for c in track.find_clips()]

    audio = timeline.audio_tracks()
    assert [t.metadata["fcp_xml"]["@currentExplodedTrackIndex"] for t in audio] == ["0", "1"] * 4
    # The track's own clip items (a nest's clips, read since the convert-losses session, are
    # the nested sequence's, with its own tracks).
    assert [{c.metadata["fcp_xml"]["sourcetrack"]["trackindex"]
             for c in t.find_clips(shallow_search=True)} for t in audio] == [{"1"}, {"2"}] * 4
    assert frames(audio[6]) == [(956, 221), (1177, 94)]
    assert frames(audio[7]) == [(956, 208), (1164, 82)]

    request = GenerationRequest(str(FIXTURES / name), str(tmp_path / "out"),
                                output_format="otio_json",
                                relink_roots=(standin_media(f"fcp7_xml/{name}"),))
    converted = read_timeline(run_generation(request, SineGenerator()).timeline_path)
    [ours] = find_v2a_tracks(converted, "SFX")
    editors = [track for track in converted.audio_tracks() if track is not ours]
    assert [frames(track) for track in editors] == [frames(track) for track in audio]


@needs_fixtures
def test_an_otio_read_with_one_channel_of_each_pair_still_goes_into_the_premiere_xml(
    standin_media, tmp_path
):
    """An .otio v2a wrote from a Premiere XML before it read both channels holds the left ones
    alone: written back, v2a's track still goes after the document's audio tracks, not over
    the editor's fifth (the fifth audio track of the .otio is v2a's)."""
    name = "premiere_example.xml"
    timeline = read_timeline(FIXTURES / name)
    for track in timeline.audio_tracks():
        if track.metadata["fcp_xml"]["@currentExplodedTrackIndex"] == "1":
            timeline.tracks.remove(track)
    del timeline.metadata["v2a_fcp7_document"]["every_channel"]
    remember_editor_tracks(timeline)  # as it was read then
    older = tmp_path / "older.otio"
    otio.adapters.write_to_file(timeline, str(older))

    request = GenerationRequest(str(older), str(tmp_path / "out"), output_format="fcp_xml",
                                relink_roots=(standin_media(f"fcp7_xml/{name}"),))
    written = Path(run_generation(request, SineGenerator()).timeline_path)

    assert _editors_part(written) == _editors_part(FIXTURES / name)
    tracks = _audio_tracks(_parse(written))
    assert len(tracks) == 8 + 1 and _takes_only(tracks[8], _parse(written))


@pytest.fixture
def sample_xml(tmp_path) -> Path:
    """The bundled sample converted to FCP7 XML, beside its media folder (relative paths)."""
    folder = tmp_path / "project"
    (folder / "media").mkdir(parents=True)
    shutil.copy(SAMPLES / "media" / MOVIE, folder / "media" / MOVIE)
    timeline = otio.adapters.read_from_file(str(SAMPLES / "sample.otio"))
    otio.adapters.write_to_file(timeline, str(folder / "sample.xml"), adapter_name="fcp_xml")
    return folder / "sample.xml"


def test_the_sample_as_fcp7_xml_comes_back_whole_and_its_media_found(sample_xml, tmp_path):
    """Written into another folder, the editor's relative paths name their media from there,
    and a re-run refills v2a's track rather than adding a second."""
    out = tmp_path / "out"
    first = _generate(sample_xml, out)
    assert len(first.generated) == 4 and not first.format_note
    written = Path(first.timeline_path)
    assert _editors_part(written) == _editors_part(sample_xml)
    segments = plan_segments(read_timeline(written), timeline_path=str(written))
    assert [s.status for s in segments] == ["ok"] * 4
    assert {s.media.path for s in segments} == {str(sample_xml.parent / "media" / MOVIE)}

    again = _generate(written, out)
    root = _parse(Path(again.timeline_path))
    assert sum(_takes_only(t, root) for t in _audio_tracks(root)) == 1
    assert _editors_part(Path(again.timeline_path)) == _editors_part(sample_xml)
    [ours] = find_v2a_tracks(read_timeline(again.timeline_path), "SFX")
    assert all(c.media_reference.target_url.endswith("_take2.wav") for c in ours.find_clips())


def test_a_document_changed_since_it_was_read_is_not_written_from_a_stale_copy(
    sample_xml, tmp_path
):
    """What v2a adds goes into the document as it read it; one exported again meanwhile is
    written by the adapter, from what v2a read, and the note says so (and the .otio beside it)."""
    timeline = read_timeline(sample_xml)
    sample_xml.write_text(sample_xml.read_text(encoding="utf-8") + "\n", encoding="utf-8")
    out = tmp_path / "out"
    out.mkdir()
    written, fallback, note = write_timeline(
        timeline, str(out / sample_xml.name), "fcp_xml", str(sample_xml.parent)
    )
    assert written == str(out / sample_xml.name)
    assert "changed since v2a read it" in note and "<link> groups" in note
    assert fallback and Path(fallback).is_file()


def test_a_rerun_keeps_the_editors_settings_of_v2a_track(sample_xml, tmp_path):
    """The editor locked v2a's track in Premiere and exported again: the re-run refills it
    there, locked, its clips before its settings as FCP7 XML lists them."""
    out = tmp_path / "out"
    first = Path(_generate(sample_xml, out).timeline_path)
    root = _parse(first)
    ours = _audio_tracks(root)[-1]
    ours.set("MZ.TrackTargeted", "0")
    ET.SubElement(ours, "locked").text = "TRUE"
    first.write_text(ET.tostring(root, encoding="unicode"), encoding="utf-8")

    again = _parse(Path(_generate(first, out).timeline_path))
    [ours] = [t for t in _audio_tracks(again) if _takes_only(t, again)]
    assert ours.get("MZ.TrackTargeted") == "0"
    assert [child.tag for child in ours][-1] == "locked" and ours.findtext("locked") == "TRUE"
    assert all(Path(url_to_path(f.findtext("pathurl"))).name.endswith("_take2.wav")
               for f in ours.iter("file"))


@needs_fixtures
def test_a_premiere_sequence_without_audio_tracks_gets_v2a_track_after_its_settings(
    standin_media, tmp_path
):
    """FCP7 XML lists an <audio> element's tracks after its <format> and <outputs>."""
    name = "premiere_example.xml"
    root = _parse(FIXTURES / name)
    audio = root.find("sequence/media/audio")
    for track in audio.findall("track"):
        audio.remove(track)
    picture_only = tmp_path / name
    picture_only.write_text(ET.tostring(root, encoding="unicode"), encoding="utf-8")

    result = _generate(picture_only, tmp_path / "out", standin_media(f"fcp7_xml/{name}"))
    written = _parse(Path(result.timeline_path))
    tags = [child.tag for child in written.find("sequence/media/audio")]
    assert tags == ["numOutputChannels", "format", "outputs", "track"]
    assert _editors_part(Path(result.timeline_path)) == _editors_part(picture_only)
    [ours] = find_v2a_tracks(read_timeline(result.timeline_path), "SFX")
    assert len(ours.find_clips()) == len(result.generated) == 8


@needs_fixtures
def test_a_document_of_two_sequences_comes_back_with_both_and_the_note_says_so(
    standin_media, tmp_path
):
    """v2a's track goes into the sequence it worked on, in the editor's document, which keeps
    the other sequence; the note said what v2a wrote held the first one alone."""
    name = "premiere_enable_property.xml"
    text = (FIXTURES / name).read_text(encoding="utf-8")
    root = ET.fromstring(text)
    second = copy.deepcopy(root.find("sequence"))
    second.set("id", "sequence-second")
    second.find("name").text = "Second cut"
    root.append(second)
    source = tmp_path / "two.xml"
    source.write_text(text[: text.index("<xmeml")] + ET.tostring(root, encoding="unicode"),
                      encoding="utf-8")

    result = _generate(source, tmp_path / "out", standin_media(f"fcp7_xml/{name}"))

    written = _parse(Path(result.timeline_path))
    assert [s.findtext("name") for s in written.findall("sequence")] == [
        "disabled_test_sequence", "Second cut"
    ]
    assert "'Second cut'" in result.format_note and "alone" not in result.format_note


def _v2a_clip_items(path: Path) -> list[ET.Element]:
    """The clip items of the last audio track of the document at `path` (v2a's)."""
    return _audio_tracks(_parse(path))[-1].findall("clipitem")


def _edited(written: Path, edit) -> Path:
    """What the editor exports after changing, in Premiere, v2a's track of `written` (`edit`
    gets that track's element): saved beside it, so its relative media paths still hold."""
    root = _parse(written)
    edit(_audio_tracks(root)[-1])
    edited = written.with_name("edited.xml")
    edited.write_text(ET.tostring(root, encoding="unicode"), encoding="utf-8")
    return edited


def _editors_clip_in_the_gap(track: ET.Element, what: str) -> None:
    """Put in the gap of v2a's track (frames 76 to 88 of the sample) a copy of v2a's first or
    third clip, which shares its file (described in the first clip item that plays it, by id
    after, as Premiere writes), or the editor's own sound effect ("own")."""
    items = track.findall("clipitem")
    original = items[0] if what == "copy of the first" else items[2]
    clip = copy.deepcopy(original)
    clip.set("id", "clipitem-editors")
    for tag, value in (("start", "76"), ("end", "88"), ("in", "0"), ("out", "12")):
        clip.find(tag).text = value
    for link in clip.findall("link"):
        clip.remove(link)
    if what == "own":
        clip.find("file").set("id", "file-editors")
        clip.find("file/pathurl").text = "file:///sounds/door.wav"
        clip.find("name").text = "door"
        clip.remove(clip.find("logginginfo"))
    else:
        later = clip if what == "copy of the first" else original
        for child in list(later.find("file")):
            later.find("file").remove(child)
    track.insert(list(track).index(items[1]) + 1, clip)


@pytest.mark.parametrize("what", ["copy of the first", "copy of the third", "own"])
def test_a_rerun_keeps_the_editors_clip_on_v2a_track(sample_xml, tmp_path, what):
    """The editor put a clip of theirs on v2a's track in Premiere (a copy of a take they liked,
    moved to another place, or their own sound): a re-run refills v2a's track around it. Before,
    a copy of a take was taken out with v2a's clips, and v2a's whole track, holding another
    sound, was no longer found as v2a's: a second one came, every shot's sound twice over."""
    first = Path(_generate(sample_xml, tmp_path / "out").timeline_path)
    edited = _edited(first, lambda track: _editors_clip_in_the_gap(track, what))
    before = read_timeline(edited)
    [theirs] = [c for c in before.find_clips() if c.metadata["fcp_xml"]["@id"] == "clipitem-editors"]

    again = Path(_generate(edited, tmp_path / "again").timeline_path)

    root = _parse(again)
    assert sum(_takes_only(t, root) or t.find("clipitem[@id='clipitem-editors']") is not None
               for t in _audio_tracks(root)) == 1
    items = _v2a_clip_items(again)
    assert [(i.findtext("start"), i.findtext("end")) for i in items] == [
        ("0", "-1"), ("-1", "76"), ("76", "88"), ("88", "-1"), ("-1", "133")
    ]
    assert items[2].get("id") == "clipitem-editors"
    files = {f.get("id"): f.findtext("pathurl") for f in root.iter("file") if len(f)}
    assert all(files[i.find("file").get("id")].endswith("_take2.wav")
               for i in items if i is not items[2])
    read = read_timeline(again)
    [v2a] = find_v2a_tracks(read, "SFX")
    assert len(v2a.find_clips()) == 4
    [kept] = [t for t in read.audio_tracks() if t is not v2a]
    [clip] = kept.find_clips()  # read as it was, its media found
    assert (clip.name, clip.range_in_parent(), clip.media_reference.target_url) == (
        theirs.name, theirs.range_in_parent(), theirs.media_reference.target_url
    )


def test_a_document_v2a_noted_its_clips_in_is_parsed_once_when_read(
    sample_xml, tmp_path, monkeypatch
):
    """Telling v2a's clips from the editor's on v2a's track parsed the document a second time
    (18 % more CPU to read v2a's result again): the reader's own parse serves it."""
    from otio_adapters.fcp7_document import EDITORS_ITEMS

    written = Path(_generate(sample_xml, tmp_path / "out").timeline_path)
    edited = _edited(written, lambda track: _editors_clip_in_the_gap(track, "own"))
    parses = []
    fromstring = ET.fromstring

    def counted(text, *args, **kwargs):
        parses.append(len(text))
        return fromstring(text, *args, **kwargs)

    monkeypatch.setattr(ET, "fromstring", counted)
    reader = otio.adapters.from_name("fcp_xml").module()
    monkeypatch.setattr(reader.cElementTree, "fromstring", counted)
    timeline = read_timeline(edited)
    assert len(parses) == 1
    [theirs] = [t for t in timeline.audio_tracks() if EDITORS_ITEMS in t.metadata]
    assert [clip.name for clip in theirs.find_clips()] == ["door"]  # set apart all the same


def test_the_editors_clip_after_a_crossfade_from_v2a_clip_keeps_its_frames(sample_xml, tmp_path):
    """The editor put their sound after v2a's last clip (which ends at 133) with a crossfade
    from it (128 to 138): the re-run takes the crossfade out with v2a's clip, and theirs starts
    at the cut, 133, playing there what it played there before (its <in> 5 frames on)."""
    first = Path(_generate(sample_xml, tmp_path / "out").timeline_path)

    def sound_after_a_crossfade(track: ET.Element) -> None:
        last = track.findall("clipitem")[-1]
        _editors_clip_in_the_gap(track, "own")
        clip = track.find("clipitem[@id='clipitem-editors']")
        track.remove(clip)
        for tag, value in (("start", "-1"), ("end", "150"), ("in", "0"), ("out", "22")):
            clip.find(tag).text = value
        last.find("end").text = "-1"
        last.find("out").text = str(int(last.findtext("out")) + 5)
        crossfade = copy.deepcopy(track.find("transitionitem"))
        crossfade.find("start").text, crossfade.find("end").text = "128", "138"
        crossfade.find("alignment").text = "center"
        index = list(track).index(last)
        track.insert(index + 1, crossfade)
        track.insert(index + 2, clip)

    edited = _edited(first, sound_after_a_crossfade)
    before = read_timeline(edited)
    [theirs] = [c for c in before.find_clips() if c.metadata["fcp_xml"]["@id"] == "clipitem-editors"]

    again = Path(_generate(edited, tmp_path / "again").timeline_path)

    clip = _parse(again).find(".//clipitem[@id='clipitem-editors']")
    assert [clip.findtext(tag) for tag in ("start", "end", "in", "out")] == ["133", "150", "5", "22"]
    after = read_timeline(again)
    [read] = [c for c in after.find_clips() if c.metadata["fcp_xml"]["@id"] == "clipitem-editors"]
    assert read.range_in_parent() == theirs.range_in_parent()
    assert read.source_range == theirs.source_range


def test_a_part_of_v2a_clip_the_editor_bladed_is_still_v2a(sample_xml, tmp_path):
    """A razor in Premiere makes two clip items of v2a's last clip, each playing its take where
    v2a put it: both are v2a's, replaced by the new take (not kept beside it, twice over)."""
    first = Path(_generate(sample_xml, tmp_path / "out").timeline_path)

    def blade(track: ET.Element) -> None:
        last = track.findall("clipitem")[-1]  # -1 to 133, in 0 to 27: a crossfade before it
        head, tail = last, copy.deepcopy(last)
        head.find("end").text, head.find("out").text = "120", "14"
        tail.set("id", "clipitem-tail")
        tail.find("start").text, tail.find("in").text = "120", "14"
        for link in tail.findall("link"):
            tail.remove(link)
        for child in list(tail.find("file")):
            tail.find("file").remove(child)
        track.insert(list(track).index(head) + 1, tail)

    again = Path(_generate(_edited(first, blade), tmp_path / "again").timeline_path)

    root = _parse(again)
    files = {f.get("id"): f.findtext("pathurl") for f in root.iter("file") if len(f)}
    items = _v2a_clip_items(again)
    assert len(items) == 4 and sum(_takes_only(t, root) for t in _audio_tracks(root)) == 1
    assert all(files[i.find("file").get("id")].endswith("_take2.wav") for i in items)


def test_v2a_clips_that_would_cover_the_editors_go_on_a_track_of_their_own(sample_xml, tmp_path):
    """The editor put their own sound in the gap of v2a's track, then a shot above it: the
    re-run's sound for that shot would lie over theirs, so v2a's clips go on a new track and
    theirs stays where it was, alone."""
    first = Path(_generate(sample_xml, tmp_path / "out").timeline_path)

    root = _parse(first)
    _editors_clip_in_the_gap(_audio_tracks(root)[-1], "own")
    sequence = root.find(".//sequence")
    picture = sequence.find("media/video/track")
    shot = copy.deepcopy(picture.findall("clipitem")[1])
    shot.set("id", "clipitem-new-shot")
    for tag, value in (("start", "76"), ("end", "88"), ("in", "55"), ("out", "67")):
        shot.find(tag).text = value
    for link in shot.findall("link"):
        shot.remove(link)
    picture.insert(list(picture).index(picture.findall("clipitem")[1]) + 1, shot)
    edited = first.with_name("edited.xml")
    edited.write_text(ET.tostring(root, encoding="unicode"), encoding="utf-8")

    again = Path(_generate(edited, tmp_path / "again").timeline_path)

    root = _parse(again)
    tracks = _audio_tracks(root)
    assert [i.get("id") for i in tracks[-2].findall("clipitem")] == ["clipitem-editors"]
    assert tracks[-2].find("clipitem").findtext("start") == "76"
    assert _takes_only(tracks[-1], root) and len(tracks[-1].findall("clipitem")) == 5
    [v2a] = find_v2a_tracks(read_timeline(again), "SFX")
    assert len(v2a.find_clips()) == 5


def _gap_closed(written: Path) -> Path:
    """What Premiere exports after a ripple delete of the sample's gap (frames 76 to 88) with
    sync lock on every track: each item after it, picture and v2a's sound alike, 12 frames
    earlier, each clip's logging info (v2a's note) as it was, its ids renumbered."""
    root = _parse(written)
    sequence = root.find(".//sequence")
    for track in sequence.iter("track"):
        for item in track:
            for tag in ("start", "end"):
                if item.findtext(tag) and int(item.findtext(tag)) >= 88:
                    item.find(tag).text = str(int(item.findtext(tag)) - 12)
    for element in root.iter():  # Premiere numbers every clip item and file itself
        if (element.get("id") or "").startswith("v2a-"):
            element.set("id", element.get("id").removeprefix("v2a-") + "0")
    edited = written.with_name("edited.xml")
    edited.write_text(ET.tostring(root, encoding="unicode"), encoding="utf-8")
    return edited


def test_v2a_sound_rippled_with_its_picture_in_premiere_is_still_v2a(sample_xml, tmp_path):
    """The editor closed the gap between 'wake up' and 'stretch' in Premiere: the last two shots
    and their sound on v2a's track (sync locked) moved 12 frames earlier, v2a's notes with them.
    That sound is still v2a's, on its picture: a run of one other clip keeps it there, and a
    full run replaces it with each shot's next take. Before, a clip away from its note was the
    editor's copy: v2a's track lost its name, and a new one played those shots' sound twice."""
    first = Path(_generate(sample_xml, tmp_path / "out").timeline_path)
    edited = _gap_closed(first)
    read = read_timeline(edited)
    picture = [(c.name, c.trimmed_range_in_parent()) for c in read.video_tracks()[0].find_clips()]
    assert [r.start_time.value for _, r in picture[2:]] == [76, 96]  # 'stretch', 'peek again'
    burrow = plan_segments(read, timeline_path=str(edited))[0].clip_id

    one = Path(_generate(edited, tmp_path / "one", clips=[burrow]).timeline_path)
    full = Path(_generate(edited, tmp_path / "full").timeline_path)

    for again, take in ((full, "_take2.wav"), (one, "_take1.wav")):
        root = _parse(again)
        assert sum(_takes_only(t, root) for t in _audio_tracks(root)) == 1
        result = read_timeline(again)
        [v2a] = find_v2a_tracks(result, "SFX")
        clips = v2a.find_clips()
        assert [(c.name.removeprefix("V2A "), c.trimmed_range_in_parent()) for c in clips] == picture
        assert all(c.media_reference.target_url.endswith(take) for c in clips[1:])
