"""A shot the editor disabled in their NLE, through the formats v2a writes into the editor's own
document: the bundled sample written by v2a, the shot switched off in the written file as the
NLE exports it, and run again with the real adapters (the sine generator for the model)."""

from __future__ import annotations

from pathlib import Path

import pytest
from generator_doubles import SineGenerator

from otio_adapters.plan import is_enabled, plan_segments
from otio_adapters.read import read_timeline
from otio_adapters.takes import find_v2a_tracks
from v2a.contracts import ClipAddress, GenerationRequest, Selection
from v2a.pipeline import run_generation

SAMPLE = Path(__file__).resolve().parents[2] / "samples" / "sample.otio"

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
