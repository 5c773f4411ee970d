"""A clip regenerated on a long edit plans that edit once: the other clips' sound follows it
from the same plan (a second plan probed every media file again). A plan made earlier (the
server's, when it accepted the job) is run as it is while its timeline file is unchanged."""

from __future__ import annotations

import os
import shutil
from fractions import Fraction
from pathlib import Path

import opentimelineio as otio
import pytest
from generator_doubles import SineGenerator

import otio_adapters.plan as plan
from otio_adapters.media_refs import MediaResolver
from otio_adapters.plan import ClipNotFoundError
from otio_adapters.takes import find_v2a_tracks
from v2a.contracts import ClipAddress, GenerationRequest, Selection
from v2a.media.synth import make_test_movie
from v2a.pipeline import plan_job, run_generation

RT = otio.opentime.RationalTime
TR = otio.opentime.TimeRange
RATE = 24
FCPX_EXAMPLE = (Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "timelines"
                / "fcpx_xml" / "fcpx_example.fcpxml")


@pytest.fixture()
def edit(tmp_path) -> str:
    """V1: a | b | c, each 12 frames of one movie."""
    movie = make_test_movie(str(tmp_path / "m.mp4"), frames=72, rate=Fraction(RATE), size=(32, 32))
    video = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    for index, name in enumerate("abc"):
        video.append(otio.schema.Clip(
            name=name,
            source_range=TR(RT(12 * index, RATE), RT(12, RATE)),
            media_reference=otio.schema.ExternalReference(
                target_url=os.path.basename(movie), available_range=TR(RT(0, RATE), RT(72, RATE))),
        ))
    timeline = otio.schema.Timeline(name="edit")
    timeline.tracks.append(video)
    path = str(tmp_path / "edit.otio")
    otio.adapters.write_to_file(timeline, path)
    return path


@pytest.fixture()
def plans(monkeypatch) -> list[str]:
    """The timeline of every plan the pipeline makes (of one selection or several)."""
    made, original = [], plan.TimelinePlanner

    def counted(timeline, **kwargs):
        made.append(kwargs["timeline_path"])
        return original(timeline, **kwargs)

    monkeypatch.setattr(plan, "TimelinePlanner", counted)
    return made


@pytest.fixture()
def resolved(monkeypatch) -> list[str]:
    """The name of each clip whose media a plan looked for (and probed)."""
    names, original = [], MediaResolver.resolve

    def counted(self, clip):
        names.append(clip.name)
        return original(self, clip)

    monkeypatch.setattr(MediaResolver, "resolve", counted)
    return names


def _request(path: str, out: str, selection: Selection) -> GenerationRequest:
    return GenerationRequest(timeline_path=path, out_dir=out, selection=selection)


def test_regenerating_one_clip_plans_the_edit_once(edit, tmp_path, plans):
    out = str(tmp_path / "out")
    written = run_generation(_request(edit, out, Selection()), SineGenerator()).timeline_path
    plans.clear()
    one = Selection(clips=(ClipAddress(track="V1", record_time=0.6),))  # b
    result = run_generation(_request(written, out, one), SineGenerator())
    assert [event.clip_name for event in result.clips] == ["b"]
    assert len(plans) == 1
    track = find_v2a_tracks(otio.adapters.read_from_file(written), "SFX")[0]
    assert [clip.metadata["v2a"]["active_take"] for clip in track.find_clips()] == [1, 2, 1]


def test_a_selection_of_tracks_looks_for_each_clips_media_once(edit, tmp_path, resolved):
    timeline = otio.adapters.read_from_file(edit)
    over = otio.schema.Track(name="V2", kind=otio.schema.TrackKind.Video)
    over.extend([otio.schema.Gap(source_range=TR(RT(0, RATE), RT(15, RATE))),
                 timeline.video_tracks()[0][0].clone()])
    over[1].name, over[1].source_range = "over", TR(RT(0, RATE), RT(6, RATE))  # inside b
    timeline.tracks.append(over)
    otio.adapters.write_to_file(timeline, edit)
    planned = plan_job(_request(edit, str(tmp_path / "out"), Selection(tracks=("V1",))))
    assert [s.clip_name for s in planned.segments] == ["a", "b", "c"]  # cover among V1 alone
    assert [s.clip_name for s in planned.visible] == ["a", "b", "over", "b", "c"]
    assert sorted(resolved) == ["a", "b", "c", "over"]  # twice each for V1's clips before


def test_a_clip_address_that_names_nothing_is_still_refused(edit, tmp_path, plans):
    nothing = Selection(clips=(ClipAddress(clip_id="nope"),))
    with pytest.raises(ClipNotFoundError, match="no visible clip matches clip id 'nope'"):
        run_generation(_request(edit, str(tmp_path / "out"), nothing), SineGenerator())


def _active_takes(path: str) -> list[int]:
    track = find_v2a_tracks(otio.adapters.read_from_file(path), "SFX")[0]
    return [clip.metadata["v2a"]["active_take"] for clip in track.find_clips()]


def test_a_plan_of_an_unchanged_timeline_runs_without_reading_or_planning_again(edit, tmp_path,
                                                                                plans):
    request = _request(edit, str(tmp_path / "out"), Selection())
    accepted = plan_job(request)
    plans.clear()
    result = run_generation(request, SineGenerator(), plan=accepted)
    assert [audio.clip_id for audio in result.generated] == [s.clip_id for s in accepted.segments]
    assert plans == []


def test_a_plan_made_before_another_run_wrote_the_timeline_plans_on_what_it_wrote(edit, tmp_path):
    out = str(tmp_path / "out")
    written = run_generation(_request(edit, out, Selection()), SineGenerator()).timeline_path
    a = _request(written, out, Selection(clips=(ClipAddress(track="V1", record_time=0.1),)))
    c = _request(written, out, Selection(clips=(ClipAddress(track="V1", record_time=1.1),)))
    accepted = plan_job(a)  # a job accepted; another writes the timeline before it runs
    run_generation(c, SineGenerator())
    run_generation(a, SineGenerator(), plan=accepted)
    assert _active_takes(written) == [2, 1, 2]  # the stale plan would have dropped c's take


@pytest.mark.skipif(not FCPX_EXAMPLE.is_file(), reason="../shared/fixtures is absent")
def test_a_bundle_whose_document_was_rewritten_in_place_is_planned_again(tmp_path):
    bundle = tmp_path / "edit.fcpxmld"
    bundle.mkdir()
    shutil.copy(FCPX_EXAMPLE, bundle / "Info.fcpxml")
    request = _request(str(bundle), str(tmp_path / "out"), Selection())
    accepted = plan_job(request)
    assert accepted.is_current(request)
    folder_time = bundle.stat().st_mtime_ns
    os.utime(bundle / "Info.fcpxml", ns=(0, 0))  # as a save in place: the folder is unchanged
    assert bundle.stat().st_mtime_ns == folder_time
    assert not accepted.is_current(request)
