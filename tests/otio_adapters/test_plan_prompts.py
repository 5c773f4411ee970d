"""Prompts written into the edit: `v2a:` markers on a clip or on the timeline over it."""

from __future__ import annotations

import shutil
from pathlib import Path

import aaf2
import opentimelineio as otio
import pytest
from generator_doubles import SineGenerator

from otio_adapters.inspect import format_plan_table
from otio_adapters.plan import plan_segments
from otio_adapters.read import read_timeline
from v2a.contracts import GenerationParams, GenerationRequest
from v2a.media.audio import read_ixml
from v2a.media.synth import make_test_movie
from v2a.pipeline import run_generation

FIXTURES = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "timelines"
RT = otio.opentime.RationalTime
TR = otio.opentime.TimeRange


def marker(name: str, frame: int = 0, comment: str = "") -> otio.schema.Marker:
    return otio.schema.Marker(name=name, marked_range=TR(RT(frame, 24), RT(1, 24)), comment=comment)


def edit(tmp_path: Path) -> otio.schema.Timeline:
    """Three 1 s shots of one movie on V1: shore, street, door."""
    movie = make_test_movie(str(tmp_path / "shots.mov"), frames=96, rate=24, size=(64, 48))
    track = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    for index, name in enumerate(("shore", "street", "door")):
        track.append(otio.schema.Clip(
            name=name, media_reference=otio.schema.ExternalReference(
                target_url=movie, available_range=TR(RT(0, 24), RT(96, 24))),
            source_range=TR(RT(24 * index, 24), RT(24, 24))))
    timeline = otio.schema.Timeline(name="cut")
    timeline.tracks.append(track)
    return timeline


def prompts(timeline, tmp_path) -> dict[str, tuple[str, str]]:
    segments = plan_segments(timeline, timeline_path=str(tmp_path / "cut.otio"))
    return {s.clip_name: (s.prompt, s.negative_prompt) for s in segments}


def test_a_clip_marker_gives_its_clip_a_prompt_and_a_timeline_marker_the_clip_under_it(tmp_path):
    timeline = edit(tmp_path)
    shore, street, door = timeline.video_tracks()[0]
    shore.markers.append(marker("v2a: waves on shingle", 5))
    shore.markers.append(marker("todo: colour", 6, comment="v2a not: music"))  # in the comment
    street.markers.append(marker("Marker 1", 30))  # an editor's own marker: not a prompt
    # Timeline markers at record 1.5 s (street) and 2.2 s (door); the door's own marker wins.
    timeline.tracks.markers.append(marker("V2A:  traffic, a horn  ", 36))
    timeline.tracks.markers.append(marker("v2a: rain", 53))
    door.markers.append(marker("v2a: a door slams", 50))

    assert prompts(timeline, tmp_path) == {
        "shore": ("waves on shingle", "music"),
        "street": ("traffic, a horn", ""),
        "door": ("a door slams", ""),
    }


@pytest.mark.parametrize("adapter", ["otio_json", "fcp_xml"])
def test_a_clip_marker_counts_only_on_the_clips_that_show_its_frame(tmp_path, adapter):
    """Premiere keeps clip markers on the master clip and exports them in every clip item cut
    from it (the fixtures' Premiere XML repeats one in four): each shot of the source got the
    first marker's prompt, wherever its frame was. A marker ranging into a shot counts there."""
    timeline = edit(tmp_path)
    for clip in timeline.video_tracks()[0]:
        clip.markers.append(marker("v2a: waves on shingle", 5))  # in shore's frames (0-23)
        clip.markers.append(otio.schema.Marker(  # frames 40-52: the end of street, door's start
            name="v2a not: music", marked_range=TR(RT(40, 24), RT(13, 24))))
    path = tmp_path / ("cut.otio" if adapter == "otio_json" else "cut.xml")
    otio.adapters.write_to_file(timeline, str(path), adapter_name=adapter)
    segments = plan_segments(read_timeline(path), timeline_path=str(path))
    assert {s.clip_name: (s.prompt, s.negative_prompt) for s in segments} == {
        "shore": ("waves on shingle", ""),
        "street": ("", "music"),
        "door": ("", "music"),
    }


def test_a_timeline_marker_at_a_cut_belongs_to_the_clip_that_starts_there(tmp_path):
    timeline = edit(tmp_path)
    timeline.tracks.markers.append(marker("v2a: footsteps", 24))
    assert prompts(timeline, tmp_path)["street"] == ("footsteps", "")
    assert prompts(timeline, tmp_path)["shore"] == ("", "")


@pytest.mark.parametrize(
    ("adapter", "suffix", "door"),
    # Final Cut has no timeline markers (its markers sit on clips in the storyline): the
    # FCPXML adapter writes none, so there only the clip's own marker comes back.
    [("fcp_xml", ".xml", "rain"), ("fcpx_xml", ".fcpxml", "")],
)
def test_markers_written_by_an_editors_format_come_back_as_prompts(tmp_path, adapter, suffix, door):
    """Premiere's and Final Cut's markers, as their XML carries them: a clip marker and a
    sequence marker, read back by v2a's reader."""
    timeline = edit(tmp_path)
    timeline.video_tracks()[0][0].markers.append(marker("v2a: waves on shingle", 5))
    timeline.tracks.markers.append(marker("v2a: rain", 53))
    path = tmp_path / f"cut{suffix}"
    otio.adapters.write_to_file(timeline, str(path), adapter_name=adapter)
    back = plan_segments(read_timeline(path), timeline_path=str(path))
    assert {s.clip_name: s.prompt for s in back} == {
        "shore": "waves on shingle", "street": "", "door": door}


class PromptRecorder(SineGenerator):
    """The sine double, noting the prompts each call was given."""

    def __init__(self):
        super().__init__()
        self.asked: list[tuple[str, str]] = []

    def generate(self, frames, fps, num_samples, params, progress=None, cancel=None, kept=None):
        self.asked.append((params.prompt, params.negative_prompt))
        return super().generate(frames, fps, num_samples, params, progress, cancel, kept)


def marked_edit(tmp_path: Path) -> str:
    timeline = edit(tmp_path)
    shore = timeline.video_tracks()[0][0]
    shore.markers.append(marker("v2a: waves on shingle"))
    shore.markers.append(marker("v2a not: music"))
    path = tmp_path / "cut.otio"
    otio.adapters.write_to_file(timeline, str(path))
    return str(path)


def test_a_run_generates_each_clip_with_its_marked_prompt_and_records_it(tmp_path):
    path = marked_edit(tmp_path)
    generator = PromptRecorder()
    result = run_generation(GenerationRequest(path, str(tmp_path / "out")), generator)
    assert generator.asked == [("waves on shingle", "music"), ("", ""), ("", "")]
    by_clip = {audio.provenance["source_clip"]: audio.provenance for audio in result.generated}
    assert (by_clip["shore"]["prompt"], by_clip["shore"]["negative_prompt"]) == (
        "waves on shingle", "music")
    assert "seed 0; prompt: waves on shingle; negative prompt: music" in read_ixml(
        next(a.path for a in result.generated if a.provenance["source_clip"] == "shore"))["NOTE"]

    table = format_plan_table(plan_segments(read_timeline(path), timeline_path=path))
    assert table.splitlines()[-2:] == [
        "prompts from the edit's v2a: markers (a --prompt given to the run wins):",
        f"  {result.generated[0].clip_id}  shore: 'waves on shingle', not 'music'",
    ]


def test_a_prompt_given_to_the_run_wins_over_the_markers(tmp_path):
    path = marked_edit(tmp_path)
    generator = PromptRecorder()
    params = GenerationParams(prompt="rain on a tin roof")
    run_generation(GenerationRequest(path, str(tmp_path / "out"), params=params), generator)
    # The run's prompt everywhere; the marker's negative prompt still where the run gave none.
    assert generator.asked == [("rain on a tin roof", "music"), ("rain on a tin roof", ""),
                               ("rain on a tin roof", "")]


def test_an_edl_locator_and_a_kdenlive_guide_give_prompts_too(tmp_path):
    """Avid's and Resolve's locators in a CMX 3600 list (`* LOC:`) are clip markers; Kdenlive's
    guides are timeline markers."""
    edl = tmp_path / "cut.edl"
    edl.write_text(
        "TITLE: CUT\nFCM: NON-DROP FRAME\n\n"
        "001  SHOTS    V     C        00:00:00:00 00:00:01:00 01:00:00:00 01:00:01:00\n"
        "* FROM CLIP NAME: shots.mov\n"
        "* LOC: 01:00:00:05 YELLOW  v2a: waves on shingle\n"
        "002  SHOTS    V     C        00:00:01:00 00:00:02:00 01:00:01:00 01:00:02:00\n"
        "* FROM CLIP NAME: shots.mov\n"
    )
    segments = plan_segments(read_timeline(edl, options={"rate": 24}), timeline_path=str(edl))
    assert [s.prompt for s in segments] == ["waves on shingle", ""]

    timeline = edit(tmp_path)
    timeline.tracks.markers.append(marker("v2a: rain", 53))
    project = tmp_path / "cut.kdenlive"
    otio.adapters.write_to_file(timeline, str(project), adapter_name="kdenlive")
    back = plan_segments(read_timeline(project), timeline_path=str(project))
    assert [s.prompt for s in back] == ["", "", "rain"]


@pytest.mark.skipif(not FIXTURES.is_dir(), reason="../shared fixtures absent")
def test_a_premiere_sequence_marker_comment_gives_the_clip_under_it_its_prompt(tmp_path):
    """Premiere's own export (the fixtures' premiere_example.xml): its sequence marker at frame
    492 (16.4 s, over the third shot) commented "fsfsfs". Commented `v2a: …` instead, that shot
    takes it; the others keep none (the marker at frame 113 lies in a gap)."""
    text = (FIXTURES / "fcp7_xml" / "premiere_example.xml").read_text()
    assert text.count("<comment>fsfsfs</comment>") == 1
    path = tmp_path / "premiere_example.xml"
    path.write_text(text.replace("<comment>fsfsfs</comment>",
                                 "<comment>v2a: gravel underfoot</comment>"))
    segments = plan_segments(read_timeline(path), timeline_path=str(path))
    marked = [s for s in segments if s.prompt]
    assert [(s.clip_name, s.prompt) for s in marked] == [("sc01_sh030_anim.mov", "gravel underfoot")]
    (segment,) = marked
    assert segment.start_sample <= 492 / 30 * 48_000 < segment.start_sample + segment.num_samples


def comment_locator(aaf_path: Path, text: str) -> None:
    """Set the comment of the locator in the sequence's timeline to `text`, in each place Media
    Composer keeps it (Comment, the attribute `_ATN_CRM_COM`, the user comment `Comment`)."""
    with aaf2.open(str(aaf_path), "rw") as aaf:
        (sequence,) = aaf.content.compositionmobs()
        (locator,) = [component for slot in sequence.slots
                      if isinstance(slot, aaf2.mobslots.EventMobSlot)
                      for component in slot.segment.components
                      if isinstance(component, aaf2.components.DescriptiveMarker)]
        locator["Comment"].value = text
        for attributes in (locator["CommentMarkerAttributeList"], locator["UserComments"]):
            for tag in attributes:
                if tag.name in ("_ATN_CRM_COM", "Comment"):
                    tag.value = text


@pytest.mark.skipif(not FIXTURES.is_dir(), reason="../shared fixtures absent")
def test_an_avid_locator_comment_gives_the_clip_under_it_its_prompt(tmp_path):
    """Avid's own export (the fixtures' one_clip.aaf), read by the AAF adapter: its locator in
    the timeline, commented "ppjoshm_1.gt_1", commented `v2a: …` instead. The adapter's writer
    drops markers, so the fixture is edited with pyaaf2 rather than written from OTIO. The
    reader names the marker after the locator's comment and puts it on the clip under it."""
    path = tmp_path / "one_clip.aaf"
    shutil.copyfile(FIXTURES / "aaf" / "one_clip.aaf", path)
    assert [s.prompt for s in plan_segments(read_timeline(path), timeline_path=str(path))] == [""]

    comment_locator(path, "v2a: footsteps on gravel")
    segments = plan_segments(read_timeline(path), timeline_path=str(path))
    assert [(s.clip_name, s.prompt) for s in segments] == [
        ("ppjoshm_1 (SIM1)", "footsteps on gravel")]
