"""Every real editor export in ../shared/fixtures/timelines goes through the whole job:
relinked to stand-in media synthesized under the names it references, generated with a fast
test-double generator, written back in its own format, and read again with the same adapter."""

from __future__ import annotations

import copy
import os
from pathlib import Path

import opentimelineio as otio
import pytest
from generator_doubles import SineGenerator

from otio_adapters.plan import PlanError, plan_segments
from otio_adapters.read import TimelineReadError, format_for_path, read_timeline
from otio_adapters.takes import find_v2a_tracks, to_samples, url_to_path
from otio_adapters.write import write_audio_tracks, write_timeline
from v2a.contracts import (
    SAMPLE_RATE,
    GeneratedAudio,
    GenerationParams,
    GenerationRequest,
    GenerationResult,
)
from v2a.media.audio import read_bext, read_wav
from v2a.pipeline import run_generation

FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "timelines"
pytestmark = pytest.mark.skipif(not FIXTURES.is_dir(), reason="../shared/fixtures is absent")

TIMELINES = sorted(
    str(p.relative_to(FIXTURES))
    for p in FIXTURES.glob("*/*")
    if p.suffix in (".otio", ".xml", ".fcpxml", ".aaf", ".edl") and "mismatch" not in p.name
)
OPTIONS = {"cmx3600_edl/25fps.edl": {"rate": 25}}
# Clips that the fixture itself makes ungeneratable; each must be reported, not generated.
EXPECTED_PROBLEMS = {"otio/img_seq_media_reference.otio": "covers only"}


def _summary(timeline: otio.schema.Timeline) -> list:
    """What an editor sees of their tracks: kinds, clip names and record/source ranges."""
    rows = []
    for track in timeline.tracks:
        if find_v2a_tracks_of(track):
            continue
        items = []
        for item in track:
            if isinstance(item, otio.schema.Transition):
                items.append(
                    ("transition", to_samples(item.in_offset), to_samples(item.out_offset))
                )
                continue
            record = item.range_in_parent()
            items.append(
                (
                    type(item).__name__,
                    item.name,
                    to_samples(record.start_time),
                    to_samples(record.duration),
                )
            )
        rows.append((track.kind, items))
    return rows


def _transitions(timeline: otio.schema.Timeline) -> list:
    """The editor's transitions: track, name and sides, in samples."""
    editors = [track for track in timeline.tracks if not find_v2a_tracks_of(track)]
    return [
        (index, item.name, to_samples(item.in_offset), to_samples(item.out_offset))
        for index, track in enumerate(editors)
        for item in track
        if isinstance(item, otio.schema.Transition)
    ]


def find_v2a_tracks_of(track: otio.schema.Track) -> bool:
    holder = otio.schema.Timeline()
    holder.tracks.append(copy.deepcopy(track))
    return bool(find_v2a_tracks(holder, "SFX"))


@pytest.mark.parametrize("name", TIMELINES)
def test_fixture_round_trips_sample_aligned_in_its_own_format(name, standin_media, generated,
                                                             tmp_path):
    source = FIXTURES / name
    fmt = format_for_path(source)
    request = GenerationRequest(
        timeline_path=str(source),
        out_dir=str(tmp_path / "out"),
        adapter_options=OPTIONS.get(name, {}),
        relink_roots=(standin_media(name, OPTIONS.get(name)),),
        params=GenerationParams(seed=7),
    )
    timeline = read_timeline(source, options=OPTIONS.get(name))
    try:
        segments = plan_segments(
            timeline,
            timeline_path=str(source),
            relink_roots=request.relink_roots,
            cut_handle_seconds=request.cut_handle_seconds,
        )
    except PlanError:
        segments = []
    if not segments:  # generator clips only: nothing to generate is a clear error
        with pytest.raises((PlanError, ValueError), match="no .*video clip"):
            run_generation(request, SineGenerator())
        return

    result, out = generated(name, OPTIONS.get(name))  # `request`'s job, in a folder of its own

    states = {event.clip_id: event for event in result.clips}
    for segment in segments:
        event = states[segment.clip_id]
        if name in EXPECTED_PROBLEMS:
            assert event.state == "failed" and EXPECTED_PROBLEMS[name] in event.message
        else:
            assert event.state == "done", (segment.clip_name, event.message)

    if not result.generated:  # every clip failed (as expected above): nothing is written
        assert result.timeline_path == "" and "not written" in result.format_note
        assert not (out / source.name).exists()
        return

    # Written in the format it came in; a CMX 3600 list also gets the full result as .otio.
    assert format_for_path(result.timeline_path) == fmt
    assert Path(result.timeline_path).name == source.name
    if fmt == "cmx_3600":
        assert result.fallback_otio_path and "CMX 3600" in result.format_note
    elif fmt == "fcpx_xml" and result.format_note:
        # Transitions FCPXML lacks (the editor's: the adapter writes none; v2a's crossfades
        # Final Cut cannot centre on their cut): said, and kept in the .otio.
        assert "transition" in result.format_note and result.fallback_otio_path
        kept = read_timeline(result.fallback_otio_path)
        assert kept.find_children(descended_from_type=otio.schema.Transition)
    else:
        assert not result.fallback_otio_path and not result.format_note

    reread = read_timeline(result.timeline_path, fmt, OPTIONS.get(name))
    with_audio = read_timeline(result.fallback_otio_path) if fmt == "cmx_3600" else reread
    if result.generated:
        tracks = find_v2a_tracks(with_audio, "SFX")
        assert len(tracks) == 1
        placed = [tracks[0].range_of_child(clip) for clip in tracks[0].find_clips()]
        got = sorted((to_samples(r.start_time), to_samples(r.end_time_exclusive())) for r in placed)
        want = sorted((a.start_sample, a.start_sample + a.num_samples) for a in result.generated)
        assert got == want  # to the sample
        for clip in tracks[0].find_clips():
            _assert_declared_as_the_file_is(clip, result.generated)
    for audio in result.generated:
        samples, rate = read_wav(audio.path)
        segment = next(s for s in segments if s.clip_id == audio.clip_id)
        assert rate == SAMPLE_RATE and samples.shape[0] == segment.generated_samples
        assert read_bext(audio.path)["originator"] == "v2a"

    # The editor's tracks: what the adapter gives back for them is what it gives back for the
    # same timeline written without our track.
    control_path = tmp_path / ("control" + source.suffix)
    if fmt == "fcpx_xml":
        # The adapter writes no transitions; v2a writes the editor's back, where they were.
        write_timeline(timeline, str(control_path), fmt)
        assert _transitions(reread) == _transitions(timeline)
    else:
        otio.adapters.write_to_file(
            _for_control(timeline, fmt), str(control_path), adapter_name=fmt, **_write_options(fmt)
        )
    control = read_timeline(control_path, fmt, OPTIONS.get(name))
    assert _summary(reread) == _summary(control)
    assert not [p for p in os.listdir(out) if p.startswith(".")]  # no temp files


def _assert_declared_as_the_file_is(clip: otio.schema.Clip, generated) -> None:
    """What the written timeline, read back in its own format, says of a take file (where it
    starts in timeline time, how long it is, where the clip's range sits in it) is the file,
    to the sample: frame-based formats (FCP7 XML, FCPXML, AAF) count it in frames."""
    reference = clip.media_reference
    path = url_to_path(reference.target_url)
    audio = next(a for a in generated if os.path.basename(a.path) == os.path.basename(path))
    declared = reference.available_range
    start = to_samples(declared.start_time)
    assert start == read_bext(path)["time_reference"], clip.name
    # A frame-based length is the difference of two rounded boundaries, as the file's is: at
    # 29.97 the duration rounded on its own is a sample off for about half of all lengths.
    length = to_samples(declared.end_time_exclusive()) - start
    assert length == read_wav(path)[0].shape[0], clip.name
    assert to_samples(clip.source_range.start_time) - start == audio.handle_before_samples


def _for_control(timeline, fmt):
    from otio_adapters.write import _for_format

    return _for_format(timeline, fmt)


def _write_options(fmt: str) -> dict:
    return {"use_empty_mob_ids": True} if fmt == "AAF" else {}


@pytest.mark.parametrize("name", TIMELINES)
def test_write_back_leaves_the_editor_tracks_serialised_identically(name):
    timeline = read_timeline(FIXTURES / name, options=OPTIONS.get(name))
    before = [otio.adapters.write_to_string(track, "otio_json") for track in timeline.tracks]
    try:
        segments = plan_segments(timeline, timeline_path=str(FIXTURES / name))
    except PlanError:
        return
    generated = [
        GeneratedAudio(s.clip_id, f"/a/{s.clip_id}_take1.wav", s.start_sample, s.num_samples, 0, 0)
        for s in segments
    ]
    write_audio_tracks(timeline, segments, generated)
    after = [otio.adapters.write_to_string(track, "otio_json") for track in timeline.tracks]
    assert after[: len(before)] == before
    assert len(after) == len(before) + (1 if segments else 0)


def test_edl_takes_carry_its_record_timecode_and_follow_its_dissolve(standin_media, tmp_path):
    """dissolve_test.edl records from 01:00:00:00; clip_A dissolves into clip_B over the 10
    frames after the cut (in_offset 0, out_offset 10), then clip_B cuts to itself."""
    name = "cmx3600_edl/dissolve_test.edl"
    request = GenerationRequest(
        str(FIXTURES / name), str(tmp_path / "out"), relink_roots=(standin_media(name),)
    )
    result = run_generation(request, SineGenerator())
    clip_a, clip_b, clip_b2 = result.generated
    hour = 3600 * SAMPLE_RATE
    # A DAW spotting the files by timecode puts them under the picture, an hour in.
    assert read_bext(clip_a.path)["time_reference"] == hour
    assert read_bext(clip_b.path)["time_reference"] == hour + 9 * 2000
    handle = clip_b2.handle_before_samples  # the hard cut's: the file starts before the cut
    assert handle > 0
    assert read_bext(clip_b2.path)["time_reference"] == hour + 19 * 2000 - handle

    written = read_timeline(result.fallback_otio_path)
    assert written.global_start_time.to_timecode() == "01:00:00:00"
    (track,) = find_v2a_tracks(written, "SFX")
    items = list(track)
    assert [type(item).__name__ for item in items] == [
        "Clip",
        "Transition",
        "Clip",
        "Transition",
        "Clip",
    ]
    # The sound dissolves over the picture's dissolve: the 10 frames after the cut, made of
    # clip_A's handle after (clip_A's file holds them).
    dissolve = items[1]
    assert (to_samples(dissolve.in_offset), to_samples(dissolve.out_offset)) == (0, 10 * 2000)
    assert clip_a.handle_after_samples >= 10 * 2000
    # The hard cut's crossfade fits its 1-frame clip and the dissolve that fills clip_B's head.
    cut = items[3]
    assert (to_samples(cut.in_offset), to_samples(cut.out_offset)) == (0, 2000)


def test_timecode_mismatch_edl_is_rejected_clearly(tmp_path):
    request = GenerationRequest(
        timeline_path=str(FIXTURES / "cmx3600_edl" / "timecode_mismatch.edl"),
        out_dir=str(tmp_path / "out"),
    )
    with pytest.raises(TimelineReadError, match="timecode_mismatch.edl"):
        run_generation(request, SineGenerator())
    assert not list((tmp_path / "out").glob("*.edl"))


@pytest.mark.parametrize(
    "name", ["aaf/transitions.aaf", "fcp7_xml/premiere_example.xml", "fcpx_xml/fcpx_example.fcpxml"]
)
def test_running_again_on_a_written_aaf_or_xml_updates_the_v2a_track(name, standin_media, tmp_path):
    """These formats drop v2a's metadata: the track and its clips are found by the take files."""
    out = str(tmp_path / "out")
    request = GenerationRequest(str(FIXTURES / name), out, relink_roots=(standin_media(name),))
    first = run_generation(request, SineGenerator())
    again = GenerationRequest(first.timeline_path, out, relink_roots=(standin_media(name),))
    second = run_generation(again, SineGenerator())

    timeline = read_timeline(second.timeline_path)
    tracks = find_v2a_tracks(timeline, "SFX")
    assert len(tracks) == 1
    placed = sorted(
        (
            to_samples(tracks[0].range_of_child(c).start_time),
            os.path.basename(c.media_reference.target_url),
        )
        for c in tracks[0].find_clips()
    )
    assert placed == sorted((a.start_sample, os.path.basename(a.path)) for a in second.generated)
    assert all(path.endswith("_take2.wav") for _, path in placed)
    assert len(os.listdir(os.path.join(out, "audio"))) == 2 * len(first.generated)


def test_fcp7_xml_crossfades_are_audio_cross_fades_and_the_editors_dissolves_stay_video(
    standin_media, tmp_path
):
    """The adapter wrote our crossfades as video "Cross Dissolve"s, one at a cut "start-black"
    (a fade from black): an NLE would drop or misread them on the audio track."""
    import xml.etree.ElementTree as ET

    name = "fcp7_xml/premiere_example.xml"
    request = GenerationRequest(
        timeline_path=str(FIXTURES / name),
        out_dir=str(tmp_path / "out"),
        relink_roots=(standin_media(name),),
    )
    result = run_generation(request, SineGenerator())
    root = ET.parse(result.timeline_path).getroot()
    audio = root.findall(".//sequence/media/audio/track/transitionitem")
    video = root.findall(".//sequence/media/video/track/transitionitem")
    assert audio and video
    for transition in audio:
        assert transition.findtext("effect/effectid") == "KGAudioTransCrossFade3dB"
        assert transition.findtext("effect/mediatype") == "audio"
        assert transition.findtext("alignment") in ("start", "center", "end")
    assert {t.findtext("effect/mediatype") for t in video} == {"video"}
    # Read back, they are still the crossfades the timeline declares.
    reread = read_timeline(result.timeline_path)
    assert len(find_v2a_tracks(reread, "SFX")[0].find_children(
        descended_from_type=otio.schema.Transition)) == len(audio)


def test_a_file_of_several_timelines_says_which_one_the_result_holds(standin_media, tmp_path):
    """fcpx_example.fcpxml holds two projects; v2a works on the first and writes it alone. Only
    the server's log said so: the editor's note did not, so the second project seemed lost."""
    name = "fcpx_xml/fcpx_example.fcpxml"

    def generate(out: str, output_format: str = "", **options) -> GenerationResult:
        request = GenerationRequest(
            timeline_path=str(FIXTURES / name), out_dir=str(tmp_path / out),
            adapter_options=options, relink_roots=(standin_media(name),),
            output_format=output_format,
        )
        return run_generation(request, SineGenerator())

    first = generate("first")
    assert "holds 2 timelines" in first.format_note
    assert "'OpenTimeline_Project 1'" in first.format_note
    assert read_timeline(first.timeline_path).name == "OpenTimeline_Project"

    # The editor's document comes back whole, both projects; v2a's sound is in the one named.
    assert "keeps 'OpenTimeline_Project 1' as they were, without v2a's sound" in first.format_note
    chosen = generate("second", timeline="OpenTimeline_Project 1")
    assert "timelines" not in chosen.format_note
    written = read_timeline(chosen.timeline_path, options={"timeline": "OpenTimeline_Project 1"})
    assert find_v2a_tracks(written, "SFX")
    assert not find_v2a_tracks(read_timeline(chosen.timeline_path, options={"timeline": 0}), "SFX")

    # Asked for by name and written in another format, which holds it alone: that is said.
    converted = generate("converted", "otio_json", timeline="OpenTimeline_Project 1")
    assert converted.format_note == (
        "the source file holds 2 timelines and v2a worked on the one asked for, "
        "'OpenTimeline_Project 1'; what it wrote holds that one alone, not 'OpenTimeline_Project'")


def test_a_rerun_on_the_written_otio_says_nothing_of_the_first_files_timelines(
    standin_media, tmp_path
):
    """The .otio written from fcpx_example.fcpxml's first project holds that one alone, but it
    carried the read's record of the second, and a re-run on it said the .otio held 2
    timelines."""
    name = "fcpx_xml/fcpx_example.fcpxml"
    out = str(tmp_path / "out")
    request = GenerationRequest(str(FIXTURES / name), out, output_format="otio_json",
                                relink_roots=(standin_media(name),))
    first = run_generation(request, SineGenerator())
    assert "holds 2 timelines" in first.format_note

    again = GenerationRequest(first.timeline_path, out, relink_roots=(standin_media(name),))
    second = run_generation(again, SineGenerator())
    assert "timelines" not in second.format_note
