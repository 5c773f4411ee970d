"""An FCPXML from Final Cut comes back as the editor's own document with v2a's audio added: the
adapter's rewrite lost the library and event, the other projects, titles, multicam and
synchronized clips, keywords, chapter markers, filters, volume and the editor's audio roles.
Real files: fcpx/editor_library.fcpxml (hand-made as Final Cut exports a library, FCPXML 1.8),
../shared's fcpx_example.fcpxml, the FCPXML adapter reading back what v2a wrote."""

from __future__ import annotations

import copy
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import opentimelineio as otio
import pytest
from test_write_tracks import _generated

from otio_adapters.fcpx_time import format_seconds, parse_seconds
from otio_adapters.plan import plan_segments
from otio_adapters.read import read_timeline
from otio_adapters.takes import find_v2a_tracks, parse_take_file
from otio_adapters.write import write_audio_tracks, write_timeline

LIBRARY = Path(__file__).parent / "fcpx" / "editor_library.fcpxml"
EXAMPLE = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "timelines" / "fcpx_xml" / "fcpx_example.fcpxml"
ROLE = "effects.V2A SFX"


def _generate(source: Path, out: Path, take: int = 1, timeline: int = 0) -> tuple[str, str, str]:
    """Read `source`, lay a take of every planned clip on v2a's track, write it to `out`."""
    edit = read_timeline(source, options={"timeline": timeline})
    segments = plan_segments(edit, timeline_path=str(source))
    write_audio_tracks(edit, segments, _generated(segments, take=take))
    return write_timeline(edit, str(out), "fcpx_xml")


def _parse(path) -> ET.Element:
    parser = ET.XMLParser(target=ET.TreeBuilder(insert_comments=True))
    return ET.parse(path, parser=parser).getroot()


def _take_assets(root: ET.Element) -> dict[str, str]:
    return {
        asset.get("id"): asset.get("src")
        for asset in root.iter("asset")
        if parse_take_file(asset.get("src") or "")
    }


def _v2a_clips(root: ET.Element) -> list[ET.Element]:
    return [clip for clip in root.iter("asset-clip") if clip.get("audioRole") == ROLE]


def _without_v2a(root: ET.Element) -> str:
    """The document with v2a's clips, storylines and take assets taken out, canonical."""
    root = copy.deepcopy(root)
    takes = _take_assets(root)
    for parent in list(root.iter()):
        for child in list(parent):
            ours = child.tag == "asset-clip" and child.get("ref") in takes
            ours |= child.tag == "spine" and any(c.get("ref") in takes for c in child)
            ours |= child.tag == "asset" and child.get("id") in takes
            if ours:
                parent.remove(child)
    return ET.canonicalize(ET.tostring(root), strip_text=True)


def test_the_editors_library_comes_back_element_for_element_with_v2a_audio_added(tmp_path):
    written, fallback, note = _generate(LIBRARY, tmp_path / "cut.fcpxml")
    assert written == str(tmp_path / "cut.fcpxml")
    root = _parse(written)
    # What the adapter's rewrite lost is all there, as exported (the library and event, the
    # second project, the title, multicam and sync clips, keywords, chapter marker, roles).
    assert _without_v2a(root) == _without_v2a(_parse(LIBRARY))
    assert [p.get("name") for p in root.iterfind("./library/event/project")] == ["Main cut", "Alt cut"]
    # v2a's audio in the project it read, each clip on its own take, on its own role
    main = root.find("./library/event/project/sequence")
    clips = _v2a_clips(main)
    assert len(clips) == 4 and {c.get("ref") for c in clips} <= set(_take_assets(root))
    assert _v2a_clips(root) == clips  # nowhere else
    # below the editor's lowest lane (the Boom effect on -1)
    assert {c.get("lane") for c in clips} == {"-2"}
    assert "V2A" not in note  # nothing of the editor's lost to say; at most v2a's crossfades


def test_v2a_audio_in_the_editors_document_reads_back_under_its_pictures(tmp_path):
    source = read_timeline(LIBRARY)
    segments = plan_segments(source, timeline_path=str(LIBRARY))
    written, _, _ = _generate(LIBRARY, tmp_path / "cut.fcpxml")
    back = read_timeline(written)
    (track,) = find_v2a_tracks(back, "SFX")
    sound = [track.range_of_child(clip) for clip in track.find_clips()]
    assert [(r.start_time.value, r.duration.value) for r in sound] == [
        (s.record_start_frame, s.record_frames) for s in segments
    ]
    assert [t.name for t in back.tracks if t is not track] == [t.name for t in source.tracks]


def test_a_rerun_on_the_written_document_refills_v2a_audio_and_adds_no_second_set(tmp_path):
    first = tmp_path / "cut.fcpxml"
    _generate(LIBRARY, first)
    before = _parse(first)
    written, _, _ = _generate(first, first, take=2)  # into the folder it was read from
    root = _parse(written)
    assert _without_v2a(root) == _without_v2a(_parse(LIBRARY))
    clips = _v2a_clips(root)
    assert len(clips) == len(_v2a_clips(before)) == 4
    # every clip plays its new take; the first takes' assets left with their clips
    takes = _take_assets(root)
    assert sorted(parse_take_file(takes[c.get("ref")])[1] for c in clips) == [2, 2, 2, 2]
    assert len(takes) == 4


def test_a_document_saved_again_since_it_was_read_is_not_overwritten(tmp_path):
    path = tmp_path / "cut.fcpxml"
    _generate(LIBRARY, path)
    edit = read_timeline(path)
    segments = plan_segments(edit, timeline_path=str(path))
    write_audio_tracks(edit, segments, _generated(segments, take=2))
    saved = path.read_text().replace("Chapter 1", "Chapter One")  # the editor saves again
    path.write_text(saved)
    written, fallback, note = write_timeline(edit, str(path), "fcpx_xml")
    assert written == fallback == str(tmp_path / "cut.otio")
    assert "changed since v2a read it" in note
    assert path.read_text() == saved


def test_a_document_changed_since_read_written_elsewhere_gets_the_adapters_file_and_a_note(tmp_path):
    source = tmp_path / "cut.fcpxml"
    source.write_bytes(LIBRARY.read_bytes())
    edit = read_timeline(source)
    segments = plan_segments(edit, timeline_path=str(source))
    write_audio_tracks(edit, segments, _generated(segments))
    source.write_text(source.read_text().replace("Chapter 1", "Chapter One"))
    out = tmp_path / "out"
    out.mkdir()
    written, fallback, note = write_timeline(edit, str(out / "cut.fcpxml"), "fcpx_xml")
    assert written == str(out / "cut.fcpxml") and fallback == str(out / "cut.otio")
    assert "changed since v2a read it" in note and "FCPXML adapter" in note
    assert _parse(written).find("./project/sequence") is not None  # the adapter's document


def test_a_timeline_from_another_format_is_written_by_the_adapter(tmp_path):
    edit = otio.adapters.read_from_file(str(LIBRARY), adapter_name="fcpx_xml")[0]
    edit.metadata.pop("v2a_fcpx_document", None)  # as an .otio made elsewhere holds it
    written, _, _ = write_timeline(edit, str(tmp_path / "cut.fcpxml"), "fcpx_xml")
    assert _parse(written).find("./library") is None


def _as_fcpxml_1_10(tmp_path) -> Path:
    """The library as FCPXML 1.10 writes it: each asset's file in a <media-rep>."""
    text = LIBRARY.read_text().replace('version="1.8"', 'version="1.10"')
    text = re.sub(
        r'(<asset [^>]*?) src="([^"]+)"([^>]*?)/>',
        r'\1\3>\n<media-rep kind="original-media" src="\2"/>\n</asset>',
        text,
    )
    source = tmp_path / "v110.fcpxml"
    source.write_text(text)
    return source


def test_fcpxml_1_10_media_is_found_in_its_media_rep(tmp_path):
    # The reader read an asset's `src` alone: every clip of a Final Cut export since FCPXML 1.9
    # was offline ("the timeline names no media file").
    source = _as_fcpxml_1_10(tmp_path)
    segments = plan_segments(read_timeline(source), timeline_path=str(source))
    assert [s.media.referenced for s in segments] == [
        f"file:///Volumes/Media/{name}.mov" for name in ("Beach", "Street", "Beach", "Street")
    ]


def test_fcpxml_1_10_take_assets_name_their_file_in_a_media_rep_and_a_rerun_refills_them(tmp_path):
    out = tmp_path / "out.fcpxml"
    written, _, _ = _generate(_as_fcpxml_1_10(tmp_path), out)
    root = _parse(written)
    assert root.get("version") == "1.10"
    ours = [a for a in root.iter("asset") if (a.get("name") or "").startswith("V2A ")]
    assert ours and all(a.get("src") is None for a in ours)
    assert all(parse_take_file(a.find("media-rep").get("src")) for a in ours)
    assert {a.find("media-rep").get("kind") for a in ours} == {"original-media"}
    # Read again, they are v2a's takes: the re-run refills v2a's track (take 2), no second set.
    _generate(out, out, take=2)
    again = read_timeline(out)
    (track,) = find_v2a_tracks(again, "SFX")
    takes = [parse_take_file(clip.media_reference.target_url) for clip in track.find_clips()]
    assert [take for _, take in takes] == [2, 2, 2, 2]
    assert len(_v2a_clips(_parse(out))) == 4


@pytest.mark.skipif(not EXAMPLE.is_file(), reason="../shared fixtures absent")
def test_fcpx_example_keeps_every_element_of_the_editors(tmp_path):
    # Its audio roles and channels, keywords, markers, smart collections, notes, metadata and
    # second project: the adapter's rewrite dropped all of them.
    written, _, _ = _generate(EXAMPLE, tmp_path / "example.fcpxml")
    root = _parse(written)
    assert _without_v2a(root) == _without_v2a(_parse(EXAMPLE))
    assert len(_v2a_clips(root)) == 11


def test_the_editors_relative_media_still_resolves_from_the_written_document(tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    source = project / "cut.fcpxml"
    source.write_text(LIBRARY.read_text().replace("file:///Volumes/Media/", "media/"))
    out = tmp_path / "out"
    out.mkdir()
    written, _, _ = _generate(source, out / "cut.fcpxml")
    sources = {a.get("name"): a.get("src") for a in _parse(written).iter("asset")}
    assert sources["Beach"] == "../project/media/Beach.mov"
    assert sources["Boom"] == "../project/media/Boom.wav"


def test_v2a_clips_connect_before_a_sync_clips_sources_as_the_dtd_orders_them(tmp_path):
    # Apple's DTD puts a synchronized clip's <sync-source> (and a multicam's <mc-source>) after
    # its connected clips; Final Cut rejects a document that does not match it.
    written, _, _ = _generate(LIBRARY, tmp_path / "cut.fcpxml")
    synced = next(_parse(written).iter("sync-clip"))
    tags = [(child.tag, child.get("audioRole")) for child in synced]
    assert tags == [("asset-clip", "dialogue"), ("asset-clip", ROLE), ("sync-source", None)]


@pytest.mark.parametrize(("project", "clips"), [(0, ["Beach", "Street", "Beach", "Street"]), (1, ["Street"])])
def test_a_project_with_generators_is_read_past_them(project, clips):
    # A generator is a <video> of an effect: the reader took it for a clip and failed on the
    # whole file, in the storyline (project 1) or connected to a gap (project 0). Skipped as a
    # title is, it stays in the document v2a writes into (the first test).
    edit = read_timeline(LIBRARY, options={"timeline": project})
    segments = plan_segments(edit, timeline_path=str(LIBRARY))
    assert [s.clip_name for s in segments] == clips


def _at_48_fps(tmp_path) -> Path:
    source = tmp_path / "cut48.fcpxml"
    source.write_text(LIBRARY.read_text().replace('frameDuration="100/2500s"', 'frameDuration="1/48s"'))
    return source


def test_a_48_fps_document_gets_v2a_audio_written_into_it(tmp_path):
    # v2a's clips go into the editor's document timed in seconds, at any rate: only the
    # adapter's own document is limited to its rates, but a 48 fps document fell back to .otio
    # (which Final Cut does not open), "the FCPXML adapter cannot write a 48.000 fps timeline".
    source = _at_48_fps(tmp_path)
    segments = plan_segments(read_timeline(source), timeline_path=str(source))
    written, _, note = _generate(source, tmp_path / "cut.fcpxml")
    assert written == str(tmp_path / "cut.fcpxml") and "cannot write" not in note
    assert _without_v2a(_parse(written)) == _without_v2a(_parse(source))
    (track,) = find_v2a_tracks(read_timeline(written), "SFX")
    sound = [track.range_of_child(clip) for clip in track.find_clips()]
    assert [(r.start_time.value, r.duration.value, r.duration.rate) for r in sound] == [
        (s.record_start_frame, s.record_frames, 48) for s in segments
    ]


def test_a_48_fps_timeline_without_its_document_still_falls_back_to_otio(tmp_path):
    edit = read_timeline(_at_48_fps(tmp_path))
    edit.metadata.pop("v2a_fcpx_document")  # as an .otio made elsewhere holds it
    segments = plan_segments(edit, timeline_path=str(LIBRARY))
    write_audio_tracks(edit, segments, _generated(segments))
    written, fallback, note = write_timeline(edit, str(tmp_path / "cut.fcpxml"), "fcpx_xml")
    assert written == fallback == str(tmp_path / "cut.otio")
    assert "cannot write a 48.000 fps timeline" in note


_EVENT_EXPORT = """<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE fcpxml>
<fcpxml version="1.8">
    <resources>
        <format id="r1" name="FFVideoFormat1080p24" frameDuration="100/2400s" width="1920" height="1080"/>
        <asset id="r2" name="A" src="file:///Volumes/Media/A.mov" start="0s" duration="10s" hasVideo="1" format="r1"/>
        <asset id="r3" name="B" src="file:///Volumes/Media/B.mov" start="0s" duration="10s" hasVideo="1" format="r1"/>
        <asset id="r4" name="C" src="file:///Volumes/Media/C.mov" start="0s" duration="10s" hasVideo="1" format="r1"/>
    </resources>
    <event name="Day 1">
        <asset-clip name="B" ref="r3" duration="10s" format="r1">
            <metadata>
                <md key="com.apple.proapps.studio.reel" value="B001"/>
            </metadata>
        </asset-clip>
        <project name="Cut">
            <sequence format="r1" duration="6s" tcStart="0s">
                <spine>
                    <asset-clip name="C" ref="r4" offset="0s" start="0s" duration="2s" format="r1"/>
                    <asset-clip name="B" ref="r3" offset="2s" start="1s" duration="2s" format="r1"/>
                    <asset-clip name="A" ref="r2" offset="4s" start="2s" duration="2s" format="r1"/>
                </spine>
            </sequence>
        </project>
    </event>
</fcpxml>
"""


def test_each_clip_plays_its_own_asset_and_keeps_its_browser_clips_metadata(tmp_path):
    # The reader's asset and browser-clip lookups are indexed once per document (a search of
    # every resource per clip grew as the square of the clips): each clip still gets the asset
    # its ref names, and the metadata of the event's clip of that asset.
    source = tmp_path / "event.fcpxml"
    source.write_text(_EVENT_EXPORT)
    (video,) = read_timeline(source).video_tracks()
    references = {clip.name: clip.media_reference for clip in video.find_clips()}
    assert {name: ref.target_url for name, ref in references.items()} == {
        name: f"file:///Volumes/Media/{name}.mov" for name in ("A", "B", "C")
    }
    assert [dict(md) for md in references["B"].metadata["fcpx"]["metadata"]] == [
        {"com.apple.proapps.studio.reel": "B001"}
    ]
    assert not references["A"].metadata["fcpx"]


@pytest.mark.skipif(not EXAMPLE.is_file(), reason="../shared fixtures absent")
def test_a_rerun_takes_out_v2a_storylines_and_keeps_a_storyline_of_the_editors(tmp_path):
    # Whether a storyline is v2a's is asked once per storyline, not once per clip in it
    # (quadratic in the clips crossfaded end to end): a storyline of takes alone goes whole;
    # one the editor put a clip of their own in stays, each of v2a's clips a gap of its length
    # (a storyline plays its items one after another: taken out, they moved the editor's clip
    # up by their lengths) and its crossfades between them gone.
    first = tmp_path / "first.fcpxml"
    _generate(EXAMPLE, first)
    root = _parse(first)
    takes = _take_assets(root)
    (ours,) = [s for s in root.iter("spine") if s.get("lane") and all(
        c.tag == "transition" or c.get("ref") in takes for c in s)]
    last = list(ours)[-1]
    editors_asset = next(a.get("id") for a in root.iter("asset") if a.get("id") not in takes)
    end = format_seconds(parse_seconds(last.get("offset")) + parse_seconds(last.get("duration")))
    ours.append(ET.Element("asset-clip", {
        "name": "Mine", "ref": editors_asset, "offset": end, "duration": "1s", "audioRole": "effects",
    }))
    edited = tmp_path / "edited.fcpxml"
    ET.ElementTree(root).write(edited, encoding="unicode")

    _generate(edited, edited, take=2)
    again = _parse(edited)
    takes = _take_assets(again)
    (kept,) = [s for s in again.iter("spine") if s.get("lane") == ours.get("lane")]
    assert [c.tag for c in kept] == ["gap"] * (len(kept) - 1) + ["asset-clip"]
    assert sum(parse_seconds(g.get("duration")) for g in kept.iter("gap")) == parse_seconds(end)
    assert (kept[-1].get("ref"), kept[-1].get("offset")) == (editors_asset, end)
    assert len(_v2a_clips(again)) == 11  # one set of v2a's clips, each on take 2
    assert {parse_take_file(takes[c.get("ref")])[1] for c in _v2a_clips(again)} == {2}


def _copy_of_v2a_clip(source: Path, edited: Path, lane: str, host_name: str) -> ET.Element:
    """The editor copies v2a's first clip (Final Cut copies its role and note with it) onto
    `lane` at the start of the primary-storyline item `host_name`; returns the copy."""
    root = _parse(source)
    first = _v2a_clips(root)[0]
    (host,) = [item for item in root.find(".//project/sequence/spine") if item.get("name") == host_name]
    duplicate = copy.deepcopy(first)
    duplicate.set("lane", lane)
    duplicate.set("offset", host.get("start"))
    host.insert(0, duplicate)
    edited.write_text(ET.tostring(root, encoding="unicode"))
    return duplicate


@pytest.mark.parametrize(
    ("lane", "host"),
    [("-4", "Street"), ("-2", "Gap")],  # another lane under another shot; v2a's lane elsewhere
)
def test_a_rerun_keeps_the_editors_copy_of_a_v2a_clip(tmp_path, lane, host):
    # A re-run took out every clip of a take file, the editor's copies of v2a's clips too (a
    # take they liked, dragged elsewhere). v2a notes where it placed each clip; a copy lies
    # elsewhere and is the editor's sound: it stays, and its take's asset with it.
    first = tmp_path / "first.fcpxml"
    _generate(LIBRARY, first)
    edited = tmp_path / "edited.fcpxml"
    duplicate = _copy_of_v2a_clip(first, edited, lane, host)
    copied_asset = _take_assets(_parse(edited))[duplicate.get("ref")]

    # Read again, the copy is the editor's clip on a track of theirs, not v2a's track.
    edit = read_timeline(edited)
    (track,) = find_v2a_tracks(edit, "SFX")
    assert len(track.find_clips()) == 4

    _generate(edited, edited, take=2)
    again = _parse(edited)
    takes = _take_assets(again)
    kept = [c for c in _v2a_clips(again) if c.get("ref") in takes and parse_take_file(takes[c.get("ref")])[1] == 1]
    assert [(c.attrib, c.findtext("note")) for c in kept] == [(duplicate.attrib, duplicate.findtext("note"))]
    assert takes[duplicate.get("ref")] == copied_asset
    # v2a's own set refilled once, each clip on its new take; still the editor's copy afterwards
    ours = [c for c in _v2a_clips(again) if c not in kept]
    assert len(ours) == 4 and {parse_take_file(takes[c.get("ref")])[1] for c in ours} == {2}
    _generate(edited, edited, take=3)
    assert len(_v2a_clips(_parse(edited))) == 5


def test_a_rerun_on_a_document_v2a_wrote_before_it_noted_its_clips_still_refills(tmp_path):
    # Documents written before v2a noted where it placed its clips: every clip of a take file
    # is v2a's there, as it was, so a re-run adds no second set.
    first = tmp_path / "first.fcpxml"
    _generate(LIBRARY, first)
    first.write_text(re.sub(r"\s*<note>v2a take placed at [^<]*</note>\s*", "", first.read_text()))
    assert "<note>" not in first.read_text()
    _generate(first, first, take=2)
    takes = _take_assets(_parse(first))
    assert sorted(parse_take_file(takes[c.get("ref")])[1] for c in _v2a_clips(_parse(first))) == [2] * 4


def test_in_a_document_written_before_notes_a_copy_on_the_editors_role_stays_theirs(tmp_path):
    # Without v2a's notes, v2a's clips are the clips of take files on v2a's role, not every
    # clip of a take file: the editor's copy of a take on a role of theirs was taken out by a
    # re-run, and their lane read as v2a's track.
    first = tmp_path / "first.fcpxml"
    _generate(LIBRARY, first)
    root = _parse(first)
    for clip in root.iter("asset-clip"):
        for note in clip.findall("note"):
            clip.remove(note)
    ours = _v2a_clips(root)[0]
    host = next(parent for parent in root.iter() if ours in list(parent))
    editors = copy.deepcopy(ours)
    editors.set("audioRole", "dialogue")
    editors.set("lane", "-3")
    editors.set("name", "Editor A9")
    host.append(editors)
    ET.ElementTree(root).write(first, encoding="unicode")
    assert "v2a take placed" not in first.read_text()

    (track,) = find_v2a_tracks(read_timeline(first), "SFX")
    assert [clip.name for clip in track.find_clips()] == ["V2A Beach", "V2A Street"] * 2
    _generate(first, first, take=2)
    again = _parse(first)
    takes = _take_assets(again)
    (kept,) = [clip for clip in again.iter("asset-clip") if clip.get("name") == "Editor A9"]
    assert (kept.get("audioRole"), kept.get("lane")) == ("dialogue", "-3")
    assert parse_take_file(takes[kept.get("ref")])[1] == 1
    assert sorted(parse_take_file(takes[c.get("ref")])[1] for c in _v2a_clips(again)) == [2] * 4


@pytest.mark.skipif(not EXAMPLE.is_file(), reason="../shared fixtures absent")
def test_a_rerun_keeps_the_editors_copy_of_a_v2a_storyline(tmp_path):
    # v2a's crossfade storyline copied whole onto another lane: its clips keep their places
    # inside it, so each note also says where the storyline was placed.
    first = tmp_path / "first.fcpxml"
    _generate(EXAMPLE, first)
    root = _parse(first)
    takes = _take_assets(root)
    (ours,) = [s for s in root.iter("spine") if s.get("lane") and all(
        c.tag == "transition" or c.get("ref") in takes for c in s)]
    host = next(parent for parent in root.iter() if ours in list(parent))
    duplicate = copy.deepcopy(ours)
    duplicate.set("lane", "-5")
    host.append(duplicate)
    edited = tmp_path / "edited.fcpxml"
    ET.ElementTree(root).write(edited, encoding="unicode")

    _generate(edited, edited, take=2)
    again = _parse(edited)
    takes = _take_assets(again)
    (kept,) = [s for s in again.iter("spine") if s.get("lane") == "-5"]
    assert [(c.get("ref"), c.get("offset")) for c in kept.iter("asset-clip")] == [
        (c.get("ref"), c.get("offset")) for c in duplicate.iter("asset-clip")
    ]
    assert {parse_take_file(takes[c.get("ref")])[1] for c in kept.iter("asset-clip")} == {1}
    ours = [c for c in _v2a_clips(again) if c not in list(kept.iter("asset-clip"))]
    assert len(ours) == 11 and {parse_take_file(takes[c.get("ref")])[1] for c in ours} == {2}


def test_a_clip_of_the_editors_on_v2a_lane_leaves_v2a_track_whole(tmp_path):
    # The reader makes one track of a lane: the editor's own sound effect put on v2a's lane
    # made it a track of theirs, v2a's track was not found, and a run regenerating one clip
    # kept only that one (the other three lost their sound). Read apart, it is v2a's still.
    path = tmp_path / "cut.fcpxml"
    _generate(LIBRARY, path)
    root = _parse(path)
    (gap,) = [item for item in root.find(".//project/sequence/spine") if item.get("name") == "Gap"]
    lane = _v2a_clips(root)[0].get("lane")
    gap.insert(0, ET.Element("asset-clip", {
        "name": "Boom", "lane": lane, "offset": gap.get("start"), "ref": "r4", "duration": "1s",
        "start": "0s", "audioRole": "effects",
    }))
    path.write_text(ET.tostring(root, encoding="unicode"))

    edit = read_timeline(path)
    segments = plan_segments(edit, timeline_path=str(path))
    write_audio_tracks(edit, segments[:1], _generated(segments[:1], take=2))  # one clip again
    write_timeline(edit, str(path), "fcpx_xml")
    again = _parse(path)
    takes = _take_assets(again)
    assert sorted(parse_take_file(takes[c.get("ref")])[1] for c in _v2a_clips(again)) == [1, 1, 1, 2]
    assert [c.get("lane") for c in again.iter("asset-clip") if c.get("name") == "Boom"] == ["-1", lane]


def test_a_rerun_replaces_the_parts_of_a_v2a_clip_the_editor_bladed_or_trimmed(tmp_path):
    # Bladed in two, or trimmed at its head, v2a's clip plays its take where v2a placed it (its
    # offset less its start as noted): each part is v2a's still, replaced by the new take, not
    # kept beside it as a copy of the editor's (the sound twice over).
    path = tmp_path / "cut.fcpxml"
    _generate(LIBRARY, path)
    root = _parse(path)
    first, second = _v2a_clips(root)[:2]
    host = next(parent for parent in root.iter() if first in list(parent))
    half = parse_seconds(first.get("duration")) / 2
    bladed = copy.deepcopy(first)  # Final Cut's blade: the second part keeps the first's note
    for name in ("offset", "start"):
        bladed.set(name, format_seconds(parse_seconds(first.get(name)) + half))
    for clip in (first, bladed):
        clip.set("duration", format_seconds(half))
    host.insert(list(host).index(first) + 1, bladed)
    for name in ("offset", "start"):  # a head trim of a second
        second.set(name, format_seconds(parse_seconds(second.get(name)) + 1))
    second.set("duration", format_seconds(parse_seconds(second.get("duration")) - 1))
    path.write_text(ET.tostring(root, encoding="unicode"))

    _generate(path, path, take=2)
    again = _parse(path)
    takes = _take_assets(again)
    assert sorted(parse_take_file(takes[c.get("ref")])[1] for c in _v2a_clips(again)) == [2] * 4


def test_an_editors_copy_of_a_take_on_a_role_of_theirs_survives_a_rerun(tmp_path):
    """Final Cut has no tracks: a clip's role says whose it is. The editor's copy of a take
    (the same asset, their own role and lane) is theirs; a re-run took out every clip of a
    take file, theirs too, and read their lane as v2a's track."""
    first = tmp_path / "cut.fcpxml"
    _generate(LIBRARY, first)
    root = _parse(first)
    ours = _v2a_clips(root)[0]
    host = next(parent for parent in root.iter() if ours in list(parent))
    editors = copy.deepcopy(ours)
    editors.set("audioRole", "dialogue")
    editors.set("lane", "-3")
    editors.set("name", "Editor A9")
    host.append(editors)
    ET.ElementTree(root).write(first, encoding="unicode")

    back = read_timeline(first)
    (track,) = find_v2a_tracks(back, "SFX")
    assert len(track.find_clips()) == 4  # v2a's alone, not the editor's lane
    written, _, _ = _generate(first, first, take=2)
    again = _parse(written)
    (kept,) = [clip for clip in again.iter("asset-clip") if clip.get("name") == "Editor A9"]
    assert (kept.get("audioRole"), kept.get("lane")) == ("dialogue", "-3")
    assert parse_take_file(_take_assets(again)[kept.get("ref")])[1] == 1  # its take, still there
    assert sorted(parse_take_file(_take_assets(again)[c.get("ref")])[1]
                  for c in _v2a_clips(again)) == [2, 2, 2, 2]


def test_an_editors_copy_on_the_lane_number_of_v2a_clips_leaves_both_whole(tmp_path):
    """Final Cut numbers lanes per connected clip: the editor's copy of a take may sit on lane
    -2 beside v2a's clips (between two of them). The reader made one track of the lane, not
    v2a's (not all its clips on v2a's role): a re-run of one clip laid that clip alone, and
    v2a's three others, taken out of the document by their role, were gone."""
    first = tmp_path / "cut.fcpxml"
    _generate(LIBRARY, first)
    root = _parse(first)
    last = _v2a_clips(root)[3]  # 22 s to 30 s on the timeline, after a free lane from 19 s
    host = next(parent for parent in root.iter() if last in list(parent))
    editors = copy.deepcopy(last)
    editors.set("audioRole", "dialogue")
    editors.set("name", "Editor A9")
    offset = int(last.get("offset").removesuffix("s")) - 3
    editors.set("offset", f"{offset}s")  # 19 s to 22 s, on lane -2 too
    editors.set("duration", "3s")
    host.append(editors)
    ET.ElementTree(root).write(first, encoding="unicode")

    edit = read_timeline(first)
    (track,) = find_v2a_tracks(edit, "SFX")
    assert [clip.name for clip in track.find_clips()] == ["V2A Beach", "V2A Street"] * 2
    segments = plan_segments(edit, timeline_path=str(first))
    write_audio_tracks(edit, segments, _generated(segments[:1], take=2), visible=segments)
    written, _, _ = write_timeline(edit, str(first), "fcpx_xml")
    again = _parse(written)
    takes = _take_assets(again)
    assert sorted(parse_take_file(takes[c.get("ref")])[1] for c in _v2a_clips(again)) == [1, 1, 1, 2]
    (kept,) = [clip for clip in again.iter("asset-clip") if clip.get("name") == "Editor A9"]
    assert (kept.get("audioRole"), kept.get("lane"), kept.get("offset")) == ("dialogue", "-2", f"{offset}s")


def test_take_files_in_a_folder_with_spaces_and_accents_are_named_by_encoded_urls(tmp_path):
    """An output folder such as `~/Movies/Mon film été/v2a`: the takes' `src` came out as
    `file:///…/Mon film été/…`, a URL Final Cut refuses to import (it encodes its own); a re-run
    on the written document must still find its takes, encoded once."""
    import os
    from dataclasses import replace
    from urllib.parse import unquote, urlparse

    folder = tmp_path / "Mon film été"
    out = folder / "cut.fcpxml"
    folder.mkdir()
    for take in (1, 2):  # the second run reads back what the first wrote
        source = LIBRARY if take == 1 else out
        edit = read_timeline(source)
        segments = plan_segments(edit, timeline_path=str(source))
        generated = [replace(g, path=str(folder / "audio" / os.path.basename(g.path)))
                     for g in _generated(segments, take=take)]
        write_audio_tracks(edit, segments, generated)
        write_timeline(edit, str(out), "fcpx_xml")
        sources = list(_take_assets(_parse(out)).values())
        assert len(sources) == 4
        for src in sources:
            assert re.fullmatch(r"file:///[A-Za-z0-9%/._~-]+", src), src
            path = unquote(urlparse(src).path)
            assert path.startswith(f"{folder}/audio/") and path.endswith(f"_take{take}.wav")



def _paste_street_at_the_end(source: Path, edited: Path, moved: bool) -> ET.Element:
    """The editor copies the shot "Street" with v2a's clip connected to it and pastes it at the
    end of the primary storyline (Final Cut pastes a shot's connected clips with it, notes and
    all, at the same place in the shot); `moved`: and lifts the shot from where it was (a gap
    in its place). Returns v2a's clip as pasted."""
    root = _parse(source)
    sequence = root.find(".//project/sequence")
    spine = sequence.find("./spine")
    (street,) = [item for item in spine if item.get("name") == "Street"]
    length = parse_seconds(street.get("duration"))
    end = parse_seconds(sequence.get("tcStart")) + parse_seconds(sequence.get("duration"))
    pasted = copy.deepcopy(street)
    pasted.set("offset", format_seconds(end))
    pasted.tail = street.tail
    spine.append(pasted)
    sequence.set("duration", format_seconds(parse_seconds(sequence.get("duration")) + length))
    if moved:
        gap = ET.Element("gap", {"name": "Gap", "offset": street.get("offset"),
                                 "duration": street.get("duration"), "start": "3600s"})
        gap.tail = street.tail
        spine[list(spine).index(street)] = gap
    edited.write_text(ET.tostring(root, encoding="unicode"))
    (clip,) = [c for c in pasted.iter("asset-clip") if c.get("audioRole") == ROLE]
    return clip


def test_a_shot_pasted_with_v2a_clip_keeps_the_pasted_clip_as_the_editors(tmp_path):
    """The editor copies a shot with v2a's clip connected to it and pastes it elsewhere: the
    pasted clip lies where its note says (the same lane and place in its shot), so both it and
    v2a's own were v2a's, and a re-run took the editor's copy out. The note says where in the
    sequence v2a put the clip too: the copy lies elsewhere, and is the editor's."""
    first = tmp_path / "first.fcpxml"
    _generate(LIBRARY, first)
    edited = tmp_path / "edited.fcpxml"
    pasted = _paste_street_at_the_end(first, edited, moved=False)
    (track,) = find_v2a_tracks(read_timeline(edited), "SFX")
    assert len(track.find_clips()) == 4  # the pasted clip is on a track of the editor's

    _generate(edited, edited, take=2)
    again = _parse(edited)
    takes = _take_assets(again)
    by_take = {1: [], 2: []}
    for clip in _v2a_clips(again):
        by_take[parse_take_file(takes[clip.get("ref")])[1]].append(clip)
    assert [(c.attrib, c.findtext("note")) for c in by_take[1]] == [(pasted.attrib, pasted.findtext("note"))]
    # v2a's own four refilled, and the pasted shot, a shot of the edit, gets sound of v2a's too
    assert len(by_take[2]) == 5


def test_a_shot_moved_with_v2a_clip_keeps_it_as_v2a_s(tmp_path):
    """A shot moved (lifted and pasted elsewhere) takes v2a's clip with it: alone with its
    note, it is v2a's still, taken out by a re-run that makes its sound anew, not kept beside
    the new take (the sound twice over)."""
    first = tmp_path / "first.fcpxml"
    _generate(LIBRARY, first)
    edited = tmp_path / "edited.fcpxml"
    _paste_street_at_the_end(first, edited, moved=True)
    (track,) = find_v2a_tracks(read_timeline(edited), "SFX")
    assert len(track.find_clips()) == 4

    _generate(edited, edited, take=2)
    again = _parse(edited)
    takes = _take_assets(again)
    assert sorted(parse_take_file(takes[c.get("ref")])[1] for c in _v2a_clips(again)) == [2] * 4


def test_a_v2a_clip_the_editor_disabled_stays_disabled_with_its_new_take(tmp_path):
    """The editor switches one of v2a's clips off in Final Cut (`enabled="0"`). A re-run took
    it out and put the new take in its place switched on: the sound the editor silenced played
    again. The switch is the editor's: the new take comes in disabled too."""
    path = tmp_path / "cut.fcpxml"
    _generate(LIBRARY, path)
    root = _parse(path)
    off = _v2a_clips(root)[1]
    off.set("enabled", "0")
    path.write_text(ET.tostring(root, encoding="unicode"))
    (track,) = find_v2a_tracks(read_timeline(path), "SFX")
    assert [clip.enabled for clip in track.find_clips()] == [True, False, True, True]

    _generate(path, path, take=2)
    again = _parse(path)
    takes = _take_assets(again)
    clips = _v2a_clips(again)
    assert {parse_take_file(takes[c.get("ref")])[1] for c in clips} == {2}
    assert [c.get("enabled") for c in clips] == [None, "0", None, None]
    (track,) = find_v2a_tracks(read_timeline(path), "SFX")
    assert [clip.enabled for clip in track.find_clips()] == [True, False, True, True]


def test_what_the_editor_set_on_a_v2a_clip_stays_with_it_and_its_new_take(tmp_path):
    """The editor turns one of v2a's clips down and marks it in Final Cut (an `adjust-volume`
    and a `marker` in the clip). A re-run took the clip out and put the new take in its place
    without them: the sound came back at full level. They are the editor's: they stay."""
    path = tmp_path / "cut.fcpxml"
    _generate(LIBRARY, path)
    root = _parse(path)
    clip = _v2a_clips(root)[1]
    clip.append(ET.Element("adjust-volume", {"amount": "-12dB"}))
    clip.append(ET.Element("marker", {"start": clip.get("start"), "duration": "1/25s", "value": "too loud"}))
    path.write_text(ET.tostring(root, encoding="unicode"))

    _generate(path, path, take=2)
    again = _parse(path)
    takes = _take_assets(again)
    clips = _v2a_clips(again)
    assert {parse_take_file(takes[c.get("ref")])[1] for c in clips} == {2}
    assert [[child.tag for child in c] for c in clips] == [
        ["note"], ["note", "adjust-volume", "marker"], ["note"], ["note"]
    ]
    assert clips[1].find("adjust-volume").get("amount") == "-12dB"
