"""Re-edits through the formats that keep no metadata of v2a's clips (FCPXML, AAF): the bundled
sample written by v2a, edited in the written file as the editor's NLE exports it after the
edit, and run again with the real adapters, the sine generator standing in for the model."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from generator_doubles import SineGenerator

from otio_adapters.plan import plan_segments
from otio_adapters.read import read_timeline
from otio_adapters.takes import find_v2a_tracks, to_samples
from v2a.contracts import ClipAddress, GenerationRequest, Selection
from v2a.pipeline import run_generation

SAMPLE = Path(__file__).resolve().parents[2] / "samples" / "sample.otio"


def _run(timeline: Path, out: Path, output_format: str = "", clips: tuple[str, ...] = ()):
    selection = Selection(clips=tuple(ClipAddress(clip_id=clip) for clip in clips))
    return run_generation(GenerationRequest(timeline_path=str(timeline), out_dir=str(out),
                                            output_format=output_format, selection=selection),
                          SineGenerator())


def _sound_under_picture(path: str) -> list[tuple[str, str]]:
    """(v2a clip's name, name of the shot above its first sample) for each of v2a's clips."""
    timeline = read_timeline(path)
    shots = plan_segments(timeline, timeline_path=path)
    pairs = []
    for clip in find_v2a_tracks(timeline, "SFX")[0].find_clips():
        start = to_samples(clip.range_in_parent().start_time)
        above = [s.clip_name for s in shots
                 if s.start_sample <= start < s.start_sample + s.num_samples]
        pairs.append((clip.name, above[0] if above else ""))
    return pairs


@pytest.fixture()
def fcpxml_result(tmp_path) -> Path:
    """The sample written by v2a as FCPXML into tmp_path/out."""
    result = _run(SAMPLE, tmp_path / "out", "fcpx_xml")
    return Path(result.timeline_path)


def _replace_wake_up(result: Path, export: Path) -> None:
    """Final Cut's export after a Replace of 'wake up' by 'carrot', 1.6 s from 3601 s."""
    text = result.read_text()
    old = '<clip name="wake up" offset="90036/25s" duration="8/5s" start="18012/5s">'
    assert old in text
    export.parent.mkdir(exist_ok=True)
    export.write_text(text.replace(
        old, '<clip name="carrot" offset="90036/25s" duration="8/5s" start="3601s">'))


def test_a_shot_replaced_in_fcpxml_does_not_keep_the_old_shots_sound(fcpxml_result, tmp_path,
                                                                      caplog):
    """In Final Cut the editor replaced 'wake up' with another shot of the same length
    (Replace keeps the clips connected to it, v2a's sound among them) and exported. FCPXML
    keeps no metadata of v2a's clips, but v2a names each for its shot ('V2A wake up'): that
    sound is not 'carrot''s. A run on another clip takes it off the track and says why, and
    a full run gives 'carrot' sound of its own, named for it. Before, 'V2A wake up' stayed
    under 'carrot' (found by its range), and a full run made carrot's sound its second take."""
    export = tmp_path / "export" / fcpxml_result.name
    _replace_wake_up(fcpxml_result, export)
    burrow = plan_segments(read_timeline(str(export)), timeline_path=str(export))[0]
    assert burrow.clip_name == "burrow"

    with caplog.at_level("INFO", logger="otio_adapters.follow_edit"):
        result = _run(export, fcpxml_result.parent, clips=(burrow.clip_id,))
    assert _sound_under_picture(result.timeline_path) == [
        ("V2A burrow", "burrow"), ("V2A stretch (150%)", "stretch (150%)"),
        ("V2A peek again", "peek again")]
    assert "removing v2a clip 'V2A wake up': the frames there are not the ones its takes were " \
           "made for (another shot" in caplog.text

    shutil.copy(result.timeline_path, export)  # the editor imports it and exports again
    result = _run(export, fcpxml_result.parent)
    assert ("V2A carrot", "carrot") in _sound_under_picture(result.timeline_path)
    assert not any(name == "V2A wake up" for name, _ in _sound_under_picture(
        result.timeline_path))


def test_a_shot_replaced_in_fcpxml_gets_sound_of_its_own_on_a_full_run(fcpxml_result, tmp_path):
    """The same replace edit, then a full run at once: 'carrot' is a clip of its own (its own
    id and take 1), not a second take of 'wake up''s clip under wake up's id, which a panel
    would still select it by. Before, it inherited that id (the clip on its record range)."""
    wake_up = next(s for s in plan_segments(read_timeline(str(fcpxml_result)),
                                            timeline_path=str(fcpxml_result))
                   if s.clip_name == "wake up")
    export = tmp_path / "export" / fcpxml_result.name
    _replace_wake_up(fcpxml_result, export)
    result = _run(export, fcpxml_result.parent)

    carrot = next(event for event in result.clips if event.clip_name == "carrot")
    assert carrot.clip_id != wake_up.clip_id
    assert carrot.output_path.endswith("_take1.wav")
    assert ("V2A carrot", "carrot") in _sound_under_picture(result.timeline_path)
