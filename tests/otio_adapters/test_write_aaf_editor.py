"""An Avid (or Premiere) AAF written back by v2a is the editor's own AAF with v2a's track added:
what Avid links each clip to its media by (master, file and tape mobs, the master clip's slot
each track plays), effects, markers and the start timecode stay as exported. Checked with
pyaaf2 on the real exports in ../shared/fixtures/timelines/aaf."""

from __future__ import annotations

import shutil
from pathlib import Path

import aaf2
import pytest
from generator_doubles import SineGenerator

from otio_adapters.read import read_timeline
from otio_adapters.standin_media import synthesize_media
from otio_adapters.write import write_timeline
from v2a.contracts import GenerationParams, GenerationRequest
from v2a.pipeline import run_generation

AAF = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "timelines" / "aaf"
pytestmark = pytest.mark.skipif(not AAF.is_dir(), reason="../shared/fixtures is absent")

FIXTURES = [
    "one_clip.aaf",  # Avid: a marker, an empty A2
    "simple.aaf",  # Avid: stereo clips, A1 playing channel 1 and A2 channel 2
    "transitions.aaf",  # Avid's own dissolves, dips and fades
    "2997fps-DFTC.aaf",  # Premiere: 29.97 drop frame from 05:00:00;00, six channels, gain
    "linear_speed_effects.aaf",  # Avid motion effects
]


def _generate(source: Path, media: str, tmp_path: Path):
    request = GenerationRequest(
        str(source), str(tmp_path / "out"), relink_roots=(media,),
        params=GenerationParams(seed=7),
    )
    return run_generation(request, SineGenerator())


def _tree(obj) -> tuple:
    """Everything an AAF object holds, its strong references' objects included (weak ones, to
    definitions, by their ids), comparable across files."""
    rows = []
    for prop in obj.properties():
        if isinstance(prop, aaf2.properties.StrongRefProperty):
            value = _tree(prop.value) if prop.value is not None else None
        elif isinstance(prop, (aaf2.properties.StrongRefVectorProperty,
                               aaf2.properties.StrongRefSetProperty)):
            value = tuple(_tree(item) for item in prop.value)
        elif isinstance(prop, aaf2.properties.WeakRefProperty):
            value = str(prop.ref)
        elif isinstance(prop, aaf2.properties.WeakRefArrayProperty):
            value = tuple(str(ref) for ref in prop.references)
        else:
            value = repr(prop.value)
        rows.append((prop.name, value))
    return type(obj).__name__, tuple(sorted(rows, key=lambda row: row[0]))


def _sequence(aaf):
    return next(aaf.content.toplevel())


def _masters_on(slot) -> set[str]:
    return {
        str(item.mob_id)
        for item, _ in slot.segment.walk_references()
        if isinstance(item, aaf2.components.SourceClip)
    }


@pytest.mark.parametrize("name", FIXTURES)
def test_written_aaf_keeps_the_editors_sequence_and_mobs_as_exported(name, generated):
    """Written by the adapter alone, each clip kept its master mob id but got a new file mob
    and tape mob (fresh ids, "Mob" and the clip's name), every audio track played master slot 2,
    and motion effects, gain, markers and drop frame were gone."""
    result, _ = generated(f"aaf/{name}")  # what _generate makes, made once for the session

    with aaf2.open(str(AAF / name), "r") as before, aaf2.open(result.timeline_path, "r") as after:
        exported, written = _sequence(before), _sequence(after)
        for mob in before.content.mobs:  # master clips, file and tape mobs
            if mob.mob_id != exported.mob_id:
                kept = after.content.mobs.get(mob.mob_id)
                assert kept is not None, f"{type(mob).__name__} {mob.name!r} {mob.mob_id}"
                assert _tree(kept) == _tree(mob), mob.name
        assert written.mob_id == exported.mob_id
        editors = {slot.slot_id: _tree(slot) for slot in exported.slots}
        assert {s.slot_id: _tree(s) for s in written.slots if s.slot_id in editors} == editors

        # v2a's track: one audio track more, numbered after the editor's.
        (ours,) = [slot for slot in written.slots if slot.slot_id not in editors]
        assert (ours.name, ours.media_kind) == ("V2A SFX", "Sound")
        numbers = [s["PhysicalTrackNumber"].value for s in exported.slots
                   if s.media_kind == "Sound" and "PhysicalTrackNumber" in s]
        assert ours["PhysicalTrackNumber"].value == max(numbers, default=0) + 1
        assert len(_masters_on(ours)) == len(result.generated)


def test_drop_frame_start_timecode_stays_drop_frame(generated):
    """The adapter wrote Premiere's 05:00:00;00 as a non-drop 30 fps timecode (04:59:42:00)."""
    result, _ = generated("aaf/2997fps-DFTC.aaf")
    with aaf2.open(result.timeline_path, "r") as aaf:
        timecodes = [slot.segment for slot in _sequence(aaf).slots
                     if isinstance(slot.segment, aaf2.components.Timecode)]
    assert [(t.start, t.fps, t.drop) for t in timecodes] == [(539460, 30, True)]


def test_running_again_on_a_written_aaf_replaces_v2a_track_and_names_each_take_anew(
        standin_media, tmp_path):
    """Read back, a v2a clip carries its master mob id; regenerated, the adapter wrote the new
    take under that id, which Avid, holding the first take's master clip, takes for that one."""
    name = "simple.aaf"
    media = standin_media(f"aaf/{name}")
    first = _generate(AAF / name, media, tmp_path)
    with aaf2.open(str(AAF / name), "r") as aaf:
        editors = {slot.slot_id for slot in _sequence(aaf).slots}
        mobs = len(list(aaf.content.mobs))

    def takes(path: str) -> set[str]:
        with aaf2.open(path, "r") as aaf:
            (ours,) = [s for s in _sequence(aaf).slots if s.slot_id not in editors]
            return _masters_on(ours)

    taken = takes(first.timeline_path)
    # Written again as it is (no new take): the same master clips.
    again = str(tmp_path / "again.aaf")
    write_timeline(read_timeline(first.timeline_path), again, "AAF")
    assert takes(again) == taken

    second = _generate(Path(first.timeline_path), media, tmp_path)
    retaken = takes(second.timeline_path)
    assert len(retaken) == len(taken) and not retaken & taken
    with aaf2.open(second.timeline_path, "r") as aaf:
        held = {str(mob.mob_id) for mob in aaf.content.mobs}
        # The first run's take mobs went with its track: the file grew by one run's mobs.
        assert not held & taken
        with aaf2.open(first.timeline_path, "r") as earlier:
            assert len(held) == len(list(earlier.content.mobs))
    assert mobs < len(held)


def test_an_aaf_changed_since_it_was_read_is_not_written_over_and_the_note_says_so(tmp_path):
    source = tmp_path / "one_clip.aaf"
    shutil.copyfile(AAF / "one_clip.aaf", source)
    timeline = read_timeline(source)
    shutil.copyfile(AAF / "simple.aaf", source)  # the editor exported again meanwhile

    written, fallback, note = write_timeline(timeline, str(tmp_path / "out.aaf"), "AAF")

    assert written == str(tmp_path / "out.aaf")
    assert f"the AAF {source} changed since v2a read it" in note
    assert "new file and tape mobs" in note
    with aaf2.open(written, "r") as aaf:
        assert _sequence(aaf).name == "OTIO_Test_ppjoshm1.Exported.01"  # not simple.aaf's


def test_generating_more_clips_on_a_written_aaf_refills_v2a_track(standin_media, tmp_path):
    """A first run on some clips, a second on the written AAF for another: the earlier track,
    found only where its clips played exactly the master clips of the re-read track, was kept
    beside the refilled one (a second "V2A SFX" holding the first take again)."""
    from otio_adapters.plan import plan_segments
    from v2a.contracts import ClipAddress, Selection

    source = AAF / "transitions.aaf"
    media = standin_media("aaf/transitions.aaf")
    segments = plan_segments(
        read_timeline(source), timeline_path=str(source), relink_roots=(media,)
    )
    clips = [segment.clip_id for segment in segments]

    def generate(path: str, clip_id: str):
        request = GenerationRequest(
            path, str(tmp_path / "out"), relink_roots=(media,),
            selection=Selection(clips=(ClipAddress(clip_id=clip_id),)),
        )
        return run_generation(request, SineGenerator())

    first = generate(str(source), clips[0])
    second = generate(first.timeline_path, clips[1])

    with aaf2.open(str(source), "r") as aaf:
        editors = {slot.slot_id for slot in _sequence(aaf).slots}
    with aaf2.open(second.timeline_path, "r") as aaf:
        ours = [slot for slot in _sequence(aaf).slots if slot.slot_id not in editors]
        assert [slot.name for slot in ours] == ["V2A SFX"]
        assert len(_masters_on(ours[0])) == 2


def test_an_aaf_of_two_sequences_comes_back_whole_with_v2a_track_in_the_one_picked(tmp_path):
    """An Avid export of two sequences reads as two timelines; the read remembered the file
    only for a file of one, so the adapter rewrote the one picked alone (new file and tape
    mobs, every audio clip on slot 2), the other sequence gone, and no note said so."""
    source = tmp_path / "two.aaf"
    shutil.copyfile(AAF / "simple.aaf", source)
    with aaf2.open(str(source), "rw") as aaf:
        second = _sequence(aaf).copy(root=aaf)
        second.mob_id = aaf2.mobid.MobID.new()
        second.name = "Second cut"
        aaf.content.mobs.append(second)
    with aaf2.open(str(source), "r") as aaf:
        exported = {mob.mob_id: _tree(mob) for mob in aaf.content.mobs}
        sequences = [(str(mob.mob_id), mob.name) for mob in aaf.content.toplevel()]

    media = tmp_path / "media"  # its first sequence is simple.aaf's, its file is not
    synthesize_media(read_timeline(source), str(media))
    result = _generate(source, str(media), tmp_path)

    assert "new file and tape mobs" not in result.format_note
    assert "keeps 'Second cut'" in result.format_note and "alone" not in result.format_note
    with aaf2.open(result.timeline_path, "r") as aaf:
        assert [(str(mob.mob_id), mob.name) for mob in aaf.content.toplevel()] == sequences
        picked, other = aaf.content.toplevel()
        assert _tree(other) == exported[other.mob_id]
        assert [slot.name for slot in picked.slots][-1] == "V2A SFX"
        for mob_id, tree in exported.items():  # master clips, file and tape mobs as exported
            if mob_id != picked.mob_id:
                assert _tree(aaf.content.mobs.get(mob_id)) == tree


def test_an_aaf_exported_again_while_v2a_reads_it_is_not_written_over(tmp_path, monkeypatch):
    """The read hashed the file after the adapter had read it: an export landing in between
    was taken for the file read, and v2a's track from the older sequence went into it."""
    import opentimelineio as otio

    source = tmp_path / "one_clip.aaf"
    shutil.copyfile(AAF / "one_clip.aaf", source)
    read = otio.adapters.read_from_file

    def read_then_export_again(path, *args, **kwargs):
        result = read(path, *args, **kwargs)
        shutil.copyfile(AAF / "simple.aaf", source)  # the editor exported again meanwhile
        return result

    monkeypatch.setattr(otio.adapters, "read_from_file", read_then_export_again)
    timeline = read_timeline(source)
    monkeypatch.setattr(otio.adapters, "read_from_file", read)

    written, _, note = write_timeline(timeline, str(tmp_path / "out.aaf"), "AAF")

    assert f"the AAF {source} changed since v2a read it" in note
    with aaf2.open(written, "r") as aaf:
        assert _sequence(aaf).name == "OTIO_Test_ppjoshm1.Exported.01"  # not simple.aaf's


def test_an_aaf_exported_again_over_which_the_result_would_go_is_left_as_saved(tmp_path):
    """Written over the editor's AAF itself (the output folder is its own), the adapter's rewrite
    of the older reading replaced the editor's new export: it stays, and the result is the .otio
    beside it, as for the other formats' files."""
    source = tmp_path / "one_clip.aaf"
    shutil.copyfile(AAF / "one_clip.aaf", source)
    timeline = read_timeline(source)
    shutil.copyfile(AAF / "simple.aaf", source)  # the editor exported again meanwhile

    written, _, note = write_timeline(timeline, str(source), "AAF")

    assert f"the AAF {source} changed since v2a read it" in note
    assert written == str(tmp_path / "one_clip.otio")
    assert source.read_bytes() == (AAF / "simple.aaf").read_bytes()
