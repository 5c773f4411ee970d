"""The editor sends their own timeline again (no v2a track in it), one clip selected, into the
folder holding v2a's result for it: the other clips keep the sound that result gives them, as
in a run on the result itself. Written from the editor's timeline alone, the result held the
selected clip's sound and nothing else (the others' takes stayed on disk, off the timeline).
The bundled sample, converted by OTIO's adapters, its real movie; the real readers and writers."""

from __future__ import annotations

import shutil
from pathlib import Path

import opentimelineio as otio
import pytest
from generator_doubles import SineGenerator

from otio_adapters.read import read_timeline
from otio_adapters.takes import clip_file_stem, clip_takes, find_v2a_tracks, url_to_path
from v2a.contracts import ClipAddress, GenerationRequest, Selection
from v2a.pipeline import plan_job, run_generation

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
FORMATS = {"otio_json": ".otio", "fcp_xml": ".xml", "kdenlive": ".kdenlive", "cmx_3600": ".edl"}
#: What each format is read with (a CMX 3600 list does not say its rate).
OPTIONS = {".edl": {"rate": 24}}


def _editors_timeline(tmp_path: Path, adapter: str, change=None, name: str = "") -> Path:
    """The sample as the editor's file in `adapter`'s format, beside its media; `change(track)`
    edits its picture track first; `name`: the timeline's (the sequence's) name, if not the
    sample's."""
    folder = tmp_path / "project"
    if not folder.is_dir():
        shutil.copytree(SAMPLES / "media", folder / "media")
    timeline = otio.adapters.read_from_file(str(SAMPLES / "sample.otio"))
    if change:
        change(timeline.video_tracks()[0])
    timeline.name = name or timeline.name
    path = folder / f"cut{FORMATS[adapter]}"
    otio.adapters.write_to_file(timeline, str(path), adapter_name=adapter)
    return path


def _run(timeline: Path, tmp_path: Path, *clips: ClipAddress):
    request = GenerationRequest(timeline_path=str(timeline), out_dir=str(tmp_path / "out"),
                                adapter_options=OPTIONS.get(timeline.suffix, {}),
                                selection=Selection(clips=clips))
    return run_generation(request, SineGenerator())


def _sound(path: str) -> dict[str, str]:
    """Clip id -> the take file of each clip on v2a's one track."""
    [track] = find_v2a_tracks(read_timeline(path, options=OPTIONS.get(Path(path).suffix)), "SFX")
    return {clip_file_stem(clip): Path(url_to_path(clip.media_reference.target_url)).name
            for clip in track.find_clips()}


def _delete_first_clip(track: otio.schema.Track) -> None:
    """A ripple delete: the first clip goes, and every shot after it moves up."""
    del track[next(i for i, item in enumerate(track) if isinstance(item, otio.schema.Clip))]


@pytest.mark.parametrize("adapter", FORMATS)
def test_regenerating_one_clip_of_the_editors_timeline_keeps_the_others_sound(tmp_path, adapter):
    source = _editors_timeline(tmp_path, adapter)
    first = _run(source, tmp_path)
    ids = [clip.clip_id for clip in first.clips]
    assert len(ids) == 4 and first.timeline_path

    again = _run(source, tmp_path, ClipAddress(clip_id=ids[1]))
    assert [clip.clip_id for clip in again.clips] == [ids[1]]
    assert _sound(again.timeline_path) == {
        clip_id: f"{clip_id}_take{2 if clip_id == ids[1] else 1}.wav" for clip_id in ids
    }
    assert "earlier result" not in again.format_note


@pytest.mark.parametrize("adapter", ["otio_json", "cmx_3600"])
def test_every_take_of_the_clips_not_regenerated_stays_on_them(tmp_path, adapter):
    """The earlier result's clips come over whole: a clip regenerated twice before keeps both
    takes when another one is regenerated from the editor's timeline. A list carries the active
    takes alone: the .otio written beside it, which records it as v2a wrote it, is taken."""
    source = _editors_timeline(tmp_path, adapter)
    ids = [clip.clip_id for clip in _run(source, tmp_path).clips]
    _run(source, tmp_path, ClipAddress(clip_id=ids[0]))
    result = _run(source, tmp_path, ClipAddress(clip_id=ids[3]))

    [track] = find_v2a_tracks(read_timeline(result.fallback_otio_path or result.timeline_path),
                              "SFX")
    takes = {clip_file_stem(clip): sorted(clip_takes(clip)) for clip in track.find_clips()}
    assert takes == {ids[0]: [1, 2], ids[1]: [1], ids[2]: [1], ids[3]: [1, 2]}


def test_after_a_ripple_in_the_editors_timeline_the_sound_follows_its_picture(tmp_path):
    """The editor deleted the first shot in their own timeline and sends it again with the last
    selected: the shots between keep their sound at their new places (ids inherited from v2a's
    clips), the last gets its second take, and the deleted shot's sound is said to be gone."""
    source = _editors_timeline(tmp_path, "otio_json")
    ids = [clip.clip_id for clip in _run(source, tmp_path).clips]
    _editors_timeline(tmp_path, "otio_json", _delete_first_clip)

    plan_ids = [clip.clip_id for clip in _run(source, tmp_path).clips]  # a full run: ids kept
    assert plan_ids == ids[1:]
    again = _run(source, tmp_path, ClipAddress(clip_id=ids[3]))
    assert _sound(again.timeline_path) == {ids[1]: f"{ids[1]}_take2.wav",
                                           ids[2]: f"{ids[2]}_take2.wav",
                                           ids[3]: f"{ids[3]}_take3.wav"}
    timeline = read_timeline(again.timeline_path)
    [track] = find_v2a_tracks(timeline, "SFX")
    picture = {clip.name: track_range for clip, track_range in
               ((c, timeline.video_tracks()[0].range_of_child(c))
                for c in timeline.video_tracks()[0].find_clips())}
    for clip in track.find_clips():
        assert track.range_of_child(clip) == picture[clip.metadata["v2a"]["source_clip"]]


def test_sound_that_cannot_follow_the_edit_is_named_in_the_note(tmp_path):
    """FCP7 XML keeps no record of the shot each v2a clip was made for, so after a ripple in the
    editor's document the moved shots' sound cannot be matched: the note says which clips'
    sound is no longer on the track, rather than dropping it in silence."""
    source = _editors_timeline(tmp_path, "fcp_xml")
    first = _run(source, tmp_path)
    _editors_timeline(tmp_path, "fcp_xml", _delete_first_clip)

    again = _run(source, tmp_path, ClipAddress(track="V1", record_time=0.5))
    assert len(again.generated) == 1
    note = again.format_note
    assert f"of the 4 clips in v2a's earlier result {first.timeline_path}" in note, note
    assert "could not be matched to the edit as it is now" in note
    assert "'V2A burrow'" in note and str(tmp_path / "out" / "audio") in note


def _other_shots(track: otio.schema.Track) -> None:
    """Another cut of the same movie: other shots (other names, other frames) in their place."""
    for clip, name, start in zip(track.find_clips(), ("crawl", "yawn", "hop", "look"),
                                 (90050, 90080, 90005, 90090), strict=True):
        clip.name = name
        clip.source_range = otio.opentime.TimeRange(
            otio.opentime.RationalTime(start, 25), clip.source_range.duration)


@pytest.mark.parametrize("adapter", ["otio_json", "cmx_3600"])
def test_a_renamed_sequence_keeps_the_sound_of_its_shots(tmp_path, adapter, caplog):
    """The editor renamed the sequence and exported it under the same file name, then sent it
    with one clip selected: v2a's result in the folder is for the old name, but each of its
    clips records the shot it was made for (its name, media file and frames; a list's in the
    .otio beside it), which the renamed one shows: the other clips keep their sound, and the
    note says where it came from. Before, it was written over without it (the selected clip's
    sound alone on the timeline written)."""
    source = _editors_timeline(tmp_path, adapter)
    first = _run(source, tmp_path)
    ids = [clip.clip_id for clip in first.clips]
    _editors_timeline(tmp_path, adapter, name="Big Buck Bunny v2")

    again = _run(source, tmp_path, ClipAddress(clip_id=ids[1]))
    assert [clip.clip_id for clip in again.clips] == [ids[1]]
    assert _sound(again.timeline_path) == {
        clip_id: f"{clip_id}_take{2 if clip_id == ids[1] else 1}.wav" for clip_id in ids
    }
    assert (f"v2a's earlier result {first.fallback_otio_path or first.timeline_path} in the "
            f"output folder is for the timeline 'Big Buck Bunny (v2a sample)', not 'Big Buck "
            f"Bunny v2' (renamed, or another timeline of that file name): the sound of the 4 "
            f"clips in it made for shots this timeline shows is kept") in again.format_note


def test_a_renamed_sequence_gets_no_sound_made_for_a_shot_it_no_longer_shows(tmp_path):
    """Renamed, and 'wake up' replaced by another shot ('yawn', other frames): its sound is not
    taken (the others' is), and the note names it."""
    source = _editors_timeline(tmp_path, "otio_json")
    ids = [clip.clip_id for clip in _run(source, tmp_path).clips]

    def yawn(track):
        clip = track.find_clips()[1]
        clip.name = "yawn"
        clip.source_range = otio.opentime.TimeRange(
            otio.opentime.RationalTime(90080, 25), clip.source_range.duration)

    _editors_timeline(tmp_path, "otio_json", yawn, name="Big Buck Bunny v2")
    again = _run(source, tmp_path, ClipAddress(clip_id=ids[0]))
    sound = _sound(again.timeline_path)
    assert sound == {ids[0]: f"{ids[0]}_take2.wav", ids[2]: f"{ids[2]}_take1.wav",
                     ids[3]: f"{ids[3]}_take1.wav"}
    assert ("the sound of the 3 clips in it made for shots this timeline shows is kept, not that "
            "of the other 1 ('V2A wake up'), made for shots it does not show (their takes stay "
            f"in {tmp_path / 'out' / 'audio'})") in again.format_note


def test_another_timeline_of_that_file_name_gets_none_of_the_results_sound(tmp_path):
    """Another cut saved under the same file name (other shots of the same movie): none of the
    folder's sound was made for its shots, so none is laid on it, no id is taken from it, and
    the note says what happened and what to do."""
    source = _editors_timeline(tmp_path, "otio_json")
    first = _run(source, tmp_path)
    _editors_timeline(tmp_path, "otio_json", _other_shots, name="another cut")

    shots = _run(source, tmp_path / "plain").clips  # the same cut into an empty folder
    again = _run(source, tmp_path, ClipAddress(clip_id=shots[0].clip_id))
    assert [clip.clip_id for clip in again.clips] == [shots[0].clip_id]
    assert _sound(again.timeline_path) == {shots[0].clip_id: f"{shots[0].clip_id}_take1.wav"}
    note = again.format_note
    assert (f"{first.timeline_path} in the output folder held v2a's sound for the timeline "
            f"'Big Buck Bunny (v2a sample)', not 'another cut', and none of its 4 clips was "
            f"made for a shot this timeline shows: it was written over without that sound "
            f"(its takes stay in {tmp_path / 'out' / 'audio'})") in note, note
    assert "write each timeline to an output folder of its own" in note


def test_a_renamed_sequence_in_fcp7_xml_is_not_matched_and_the_note_says_what_to_do(tmp_path):
    """FCP7 XML keeps no record of the shot each of v2a's clips was made for (name and place
    alone, which another cut of the same shots shares with other frames): a result there for
    a sequence of another name cannot be told from another timeline's, so it is not taken, and
    the note says so and what to do."""
    source = _editors_timeline(tmp_path, "fcp_xml")
    first = _run(source, tmp_path)
    _editors_timeline(tmp_path, "fcp_xml", name="Big Buck Bunny v2")

    again = _run(source, tmp_path, ClipAddress(clip_id=first.clips[0].clip_id))
    assert list(_sound(again.timeline_path)) == [first.clips[0].clip_id]
    note = again.format_note
    assert (f"{first.timeline_path} in the output folder held v2a's sound for the timeline "
            f"'Big Buck Bunny (v2a sample)', not 'Big Buck Bunny v2', and records no shot its "
            f"clips were made for") in note, note
    assert "write each timeline to an output folder of its own" in note


def test_a_plan_made_before_the_folder_got_its_result_is_made_again(tmp_path):
    """The server plans a job when it accepts it; one queued behind a job writing the same folder
    runs after that job's result is there, and a plan without its sound dropped it."""
    source = _editors_timeline(tmp_path, "otio_json")
    ids = [segment.clip_id for segment in plan_job(GenerationRequest(
        timeline_path=str(source), out_dir=str(tmp_path / "out"))).segments]
    request = GenerationRequest(timeline_path=str(source), out_dir=str(tmp_path / "out"),
                                selection=Selection(clips=(ClipAddress(clip_id=ids[2]),)))
    accepted = plan_job(request)  # the folder is empty yet

    _run(source, tmp_path)  # the job before it
    written = run_generation(request, SineGenerator(), plan=accepted).timeline_path
    assert sorted(_sound(written).values()) == sorted(
        f"{clip_id}_take{2 if clip_id == ids[2] else 1}.wav" for clip_id in ids)
