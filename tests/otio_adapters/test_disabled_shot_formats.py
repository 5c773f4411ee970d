"""A shot the editor disabled in their NLE, through the formats v2a writes into the editor's own
document: the bundled sample written by v2a, the shot switched off in the written file as the
NLE exports it, and run again with the real adapters (the sine generator for the model)."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from generator_doubles import SineGenerator

from otio_adapters.plan import is_enabled, plan_segments
from otio_adapters.read import read_timeline
from otio_adapters.takes import find_v2a_tracks
from v2a.contracts import ClipAddress, GenerationRequest, Selection
from v2a.pipeline import run_generation

SAMPLE = Path(__file__).resolve().parents[2] / "samples" / "sample.otio"
FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "timelines"

#: How each NLE's export says the shot 'wake up' is switched off, as a change of v2a's file.
SWITCH_OFF = {
    # Final Cut: enabled="0" on the clip element.
    "fcpx_xml": ('<clip name="wake up" offset=', '<clip name="wake up" enabled="0" offset='),
    # Premiere / FCP7: <enabled>FALSE</enabled> in the clip item.
    "fcp_xml": ("<name>wake up</name>\n", "<name>wake up</name>\n<enabled>FALSE</enabled>\n"),
}


def _run(timeline: Path, out: Path, output_format: str = "", clips: tuple[str, ...] = ()):
    selection = Selection(clips=tuple(ClipAddress(clip_id=clip) for clip in clips))
    return run_generation(GenerationRequest(timeline_path=str(timeline), out_dir=str(out),
                                            output_format=output_format, selection=selection),
                          SineGenerator())


def _v2a_clips(path: str) -> dict[str, tuple[bool, str]]:
    """Of each of v2a's clips in the file: (enabled, its active take, "take<N>"), by name (these
    formats keep the active take alone)."""
    track = find_v2a_tracks(read_timeline(path), "SFX")[0]
    return {clip.name: (is_enabled(clip), clip.media_reference.target_url[-9:-4])
            for clip in track.find_clips()}


@pytest.mark.parametrize("output_format", sorted(SWITCH_OFF))
def test_the_sound_of_a_shot_disabled_in_the_nle_is_disabled_with_it(
    tmp_path, output_format, caplog
):
    """Written as the editor's format, then 'wake up' switched off in the NLE and a run on
    'burrow' and a full run: 'V2A wake up' stays, disabled, its take kept, and the log says
    why. Before, it left the track ("its picture is no longer there")."""
    out = tmp_path / "out"
    written = Path(_run(SAMPLE, out, output_format).timeline_path)
    text = written.read_text()
    old, new = SWITCH_OFF[output_format]
    assert text.count(old) == 1
    written.write_text(text.replace(old, new))
    shots = plan_segments(read_timeline(str(written)), timeline_path=str(written))
    assert "wake up" not in [s.clip_name for s in shots]
    burrow = next(s for s in shots if s.clip_name == "burrow")

    with caplog.at_level("INFO", logger="otio_adapters.follow_edit"):
        _run(written, out, clips=(burrow.clip_id,))
    assert "v2a clip 'V2A wake up': its shot is disabled; its sound is disabled with it" \
        in caplog.text
    clips = _v2a_clips(str(written))
    assert clips["V2A wake up"] == (False, "take1")
    assert clips["V2A burrow"] == (True, "take2")

    _run(written, out)  # a full run: no take for a shot not on screen
    clips = _v2a_clips(str(written))
    assert clips["V2A wake up"] == (False, "take1")
    assert clips["V2A burrow"] == (True, "take3")


@pytest.mark.parametrize(("output_format", "in_file"), [
    ("kdenlive", (False, "take1")),  # Kdenlive marks v2a's clip disabled
    ("AAF", None),  # AAF cannot mark a clip: a gap, as the shot above is
    # Nor can an EDL; and the sample's dissolve into the disabled shot made the CMX writer fail
    # (a dissolve into a gap: "value cannot be negative here"), the .otio written alone.
    ("cmx_3600", None),
])
def test_a_disabled_shots_sound_is_written_so_where_the_format_marks_no_clip_disabled(
    tmp_path, output_format, in_file
):
    """'wake up' switched off in the .otio v2a wrote, written as Kdenlive and AAF: v2a's sound of
    it is disabled in the Kdenlive project, and left out of the AAF (it played there, under a
    gap where the shot was), the .otio beside keeping it disabled, its take with it."""
    written = _run(SAMPLE, tmp_path / "otio").timeline_path
    timeline = read_timeline(written)
    next(c for c in timeline.video_tracks()[0].find_clips() if c.name == "wake up").enabled = False
    timeline.to_json_file(written)
    result = _run(Path(written), tmp_path / output_format, output_format)
    assert result.timeline_path != result.fallback_otio_path, result.format_note
    assert _v2a_clips(result.timeline_path).get("V2A wake up") == in_file
    assert _v2a_clips(result.fallback_otio_path)["V2A wake up"] == (False, "take1")


#: A shot of each editor's export fixture, switched off and on again as the NLE exports it:
#: (fixture, v2a's clip of the shot, the shot's element as written, and switched off).
EXPORTS = {
    # Final Cut: enabled="0" on the clip element (of the first project, which v2a works on).
    "fcpx_xml": ("fcpx_xml/fcpx_example.fcpxml", "V2A IMG_0715",
                 '<clip name="IMG_0715" offset="0s" duration="10s" tcFormat="NDF">',
                 '<clip name="IMG_0715" enabled="0" offset="0s" duration="10s" tcFormat="NDF">'),
    # Premiere: its clip item's <enabled>TRUE</enabled> made FALSE.
    "fcp_xml": ("fcp7_xml/premiere_example.xml", "V2A sc01_sh020_anim.mov",
                "<name>sc01_sh020_anim.mov</name>\n\t\t\t\t\t\t<enabled>TRUE</enabled>",
                "<name>sc01_sh020_anim.mov</name>\n\t\t\t\t\t\t<enabled>FALSE</enabled>"),
}

#: How each NLE's export says the editor switched off one of v2a's clips (its name given).
SWITCH_OFF_V2A_CLIP = {
    "fcpx_xml": (lambda name: f'<asset-clip name="{name}" ',
                 lambda name: f'<asset-clip name="{name}" enabled="0" '),
    "fcp_xml": (lambda name: f"<name>{name}</name>\n",
                lambda name: f"<name>{name}</name>\n<enabled>FALSE</enabled>\n"),
}


def _switch(path: Path, old: str, new: str) -> None:
    """Change the first `old` in the file at `path` to `new`, as the NLE's export after the
    editor switched something off or on."""
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def _run_on_export(tmp_path, standin_media, output_format: str, switch_off_v2a_clip=False):
    """The fixture of `output_format` generated in its own format into tmp_path/out (the sine
    generator, its stand-in media); its shot switched off in the written file, as the NLE
    exports it (and v2a's clip of it too where `switch_off_v2a_clip`); a run on another shot.
    Returns a function that runs on that other shot again, and the written file."""
    fixture, _, shot_on, shot_off = EXPORTS[output_format]
    media = (standin_media(fixture),)

    def run(written: Path, clips: tuple[str, ...] = ()):
        selection = Selection(clips=tuple(ClipAddress(clip_id=clip) for clip in clips))
        return run_generation(GenerationRequest(
            timeline_path=str(written), out_dir=str(tmp_path / "out"), relink_roots=media,
            selection=selection), SineGenerator())

    written = Path(run(FIXTURES / fixture).timeline_path)
    _switch(written, shot_on, shot_off)
    if switch_off_v2a_clip:
        old, new = SWITCH_OFF_V2A_CLIP[output_format]
        _switch(written, old(EXPORTS[output_format][1]), new(EXPORTS[output_format][1]))
    other = plan_segments(read_timeline(str(written)), timeline_path=str(written),
                          relink_roots=media)[-1].clip_id
    run(written, (other,))
    return (lambda: run(written, (other,))), written


@pytest.mark.parametrize("output_format", sorted(EXPORTS))
def test_a_shot_disabled_and_enabled_again_in_the_nle_gets_its_sound_back(
    tmp_path, standin_media, output_format, caplog
):
    """The editor's own export (Final Cut's, Premiere's) generated, a shot switched off in the
    NLE, a run on another shot: v2a's sound of it is switched off with it. The shot switched
    on again in the NLE and a run on the other shot: its sound is on again, its take kept.
    Before, FCPXML and FCP7 XML lost v2a's mark (`disabled_with_shot`): the sound stayed off,
    as a switch of the editor's."""
    _, name, shot_on, shot_off = EXPORTS[output_format]
    run_again, written = _run_on_export(tmp_path, standin_media, output_format)
    assert _v2a_clips(str(written))[name] == (False, "take1")

    _switch(written, shot_off, shot_on)
    with caplog.at_level("INFO", logger="otio_adapters.follow_edit"):
        run_again()
    assert f"v2a clip {name!r}: its shot is enabled again; so is its sound" in caplog.text
    assert _v2a_clips(str(written))[name] == (True, "take1")


@pytest.mark.parametrize("output_format", sorted(EXPORTS))
def test_a_v2a_clip_the_editor_switched_off_with_its_shot_stays_off_when_the_shot_is_on(
    tmp_path, standin_media, output_format
):
    """The editor switched off both the shot and v2a's sound of it in the NLE: that sound is
    off by the editor's hand, not v2a's, and stays off once the shot is on again."""
    _, name, shot_on, shot_off = EXPORTS[output_format]
    run_again, written = _run_on_export(tmp_path, standin_media, output_format,
                                        switch_off_v2a_clip=True)
    assert _v2a_clips(str(written))[name] == (False, "take1")
    _switch(written, shot_off, shot_on)
    run_again()
    assert _v2a_clips(str(written))[name] == (False, "take1")


#: 'wake up' switched on again in the file the adapter wrote, as the NLE exports it.
SWITCH_ON_IN_ADAPTERS_FILE = {
    "fcpx_xml": (r'(<clip name="wake up"[^>]*?) enabled="0"', r"\1"),
    "fcp_xml": (r"<enabled>FALSE</enabled>(\s*<file id=\"[^\"]*\" />\s*<name>wake up</name>)",
                r"<enabled>TRUE</enabled>\1"),
}


@pytest.mark.parametrize("output_format", sorted(SWITCH_ON_IN_ADAPTERS_FILE))
def test_a_disabled_shots_sound_written_from_otio_comes_back_with_its_shot(
    tmp_path, output_format
):
    """'wake up' switched off in the .otio v2a wrote, written as FCPXML or FCP7 XML (the
    adapter's document: a timeline from another format); then the shot switched on in the NLE
    and a run on 'burrow': 'V2A wake up' is on again."""
    written = _run(SAMPLE, tmp_path / "otio").timeline_path
    timeline = read_timeline(written)
    next(c for c in timeline.video_tracks()[0].find_clips() if c.name == "wake up").enabled = False
    timeline.to_json_file(written)
    out = tmp_path / output_format
    converted = Path(_run(Path(written), out, output_format).timeline_path)
    assert _v2a_clips(str(converted))["V2A wake up"] == (False, "take1")

    pattern, switched_on = SWITCH_ON_IN_ADAPTERS_FILE[output_format]
    text, found = re.subn(pattern, switched_on, converted.read_text())
    assert found == 1
    converted.write_text(text)
    shots = plan_segments(read_timeline(str(converted)), timeline_path=str(converted))
    burrow = next(s for s in shots if s.clip_name == "burrow")
    _run(converted, out, clips=(burrow.clip_id,))
    assert _v2a_clips(str(converted))["V2A wake up"] == (True, "take1")


def _switch_on_in_kdenlive(path: Path) -> None:
    """Switch on again, as Kdenlive saves a clip on a video track, the one clip of the editor's
    that the project at `path` plays disabled: its producer shows picture (`set.test_image` 0),
    not sound (`set.test_audio` 1). v2a's own track is left as it is."""
    root, by_id = ET.XMLID(path.read_text(encoding="utf-8"))
    switched = []
    for tractor in root.iter("tractor"):
        if tractor.findtext("property[@name='kdenlive:track_name']") == "V2A SFX":
            continue
        for track in tractor.findall("track"):
            playlist = by_id.get(track.get("producer"))
            for entry in playlist.iter("entry") if playlist is not None else ():
                producer = by_id[entry.get("producer")]
                tests = [producer.find(f"property[@name='set.test_{kind}']")
                         for kind in ("image", "audio")]
                if all(test is not None and test.text == "1" for test in tests):
                    tests[0].text = "0"
                    switched.append(producer)
    assert len(switched) == 1
    path.write_text(ET.tostring(root, encoding="unicode"), encoding="utf-8")


def test_a_disabled_shots_sound_in_kdenlive_written_from_otio_follows_its_shot(tmp_path, caplog):
    """'wake up' switched off in the .otio v2a wrote, written as Kdenlive (the adapter's project
    of a timeline from another format): a run on 'burrow' keeps 'V2A wake up', disabled, its
    take kept; the shot switched on in Kdenlive and a run on 'burrow': its sound is on again.
    Before, the shot was written as a gap, and the run on 'burrow' took its sound off the track
    ("its picture is no longer there")."""
    written = _run(SAMPLE, tmp_path / "otio").timeline_path
    timeline = read_timeline(written)
    next(c for c in timeline.video_tracks()[0].find_clips() if c.name == "wake up").enabled = False
    timeline.to_json_file(written)
    out = tmp_path / "kdenlive"
    converted = Path(_run(Path(written), out, "kdenlive").timeline_path)
    assert converted.suffix == ".kdenlive"
    assert _v2a_clips(str(converted))["V2A wake up"] == (False, "take1")
    shots = plan_segments(read_timeline(str(converted)), timeline_path=str(converted))
    burrow = next(s for s in shots if s.clip_name == "burrow")

    with caplog.at_level("INFO", logger="otio_adapters.follow_edit"):
        _run(converted, out, clips=(burrow.clip_id,))
    assert "removing v2a clip 'V2A wake up'" not in caplog.text
    assert _v2a_clips(str(converted))["V2A wake up"] == (False, "take1")

    _switch_on_in_kdenlive(converted)
    with caplog.at_level("INFO", logger="otio_adapters.follow_edit"):
        _run(converted, out, clips=(burrow.clip_id,))
    assert "v2a clip 'V2A wake up': its shot is enabled again; so is its sound" in caplog.text
    assert _v2a_clips(str(converted))["V2A wake up"] == (True, "take1")
