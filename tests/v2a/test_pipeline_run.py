"""run_generation on a small real edit (synthesized movies, real decoding, real OTIO writing)."""

from __future__ import annotations

import os
import threading

import numpy as np
import opentimelineio as otio
import pytest
from generator_doubles import SineGenerator

from otio_adapters.takes import find_v2a_tracks, to_samples
from v2a.contracts import (
    SAMPLE_RATE,
    ClipAddress,
    GenerationCancelled,
    GenerationRequest,
    Selection,
)
from v2a.media.audio import EDGE_FADE_SAMPLES, read_bext, read_ixml, read_wav
from v2a.media.loudness import measure_loudness
from v2a.pipeline import run_generation

RT = otio.opentime.RationalTime
TR = otio.opentime.TimeRange
RATE = 24


def _clip(name: str, start: int, frames: int, folder: str) -> otio.schema.Clip:
    return otio.schema.Clip(
        name=name,
        source_range=TR(RT(start, RATE), RT(frames, RATE)),
        media_reference=otio.schema.ExternalReference(
            target_url=os.path.join(folder, f"{name}.mp4"),
            available_range=TR(RT(0, RATE), RT(72, RATE)),
        ),
    )


@pytest.fixture()
def edit(tmp_path, movies) -> str:
    """a | dissolve | b, gap, c, then an offline clip; starts at 01:00:00:00."""
    video = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    video.append(_clip("a", 12, 24, movies))
    video.append(
        otio.schema.Transition(in_offset=RT(6, RATE), out_offset=RT(6, RATE), name="dissolve")
    )
    video.append(_clip("b", 12, 30, movies))
    video.append(otio.schema.Gap(source_range=TR(RT(0, RATE), RT(10, RATE))))
    video.append(_clip("c", 0, 20, movies))
    missing = _clip("gone", 0, 12, movies)
    missing.media_reference.target_url = "/nowhere/gone.mp4"
    video.append(missing)
    timeline = otio.schema.Timeline(name="edit", global_start_time=RT(3600 * RATE, RATE))
    timeline.tracks.append(video)
    path = str(tmp_path / "edit.otio")
    otio.adapters.write_to_file(timeline, path)
    return path


def _request(path: str, out: str, **kwargs) -> GenerationRequest:
    return GenerationRequest(timeline_path=path, out_dir=out, **kwargs)


def _v2a_clips(path: str) -> dict[str, otio.schema.Clip]:
    track = find_v2a_tracks(otio.adapters.read_from_file(path), "SFX")[0]
    return {clip.metadata["v2a"]["source_clip"]: clip for clip in track.find_clips()}


def test_generates_each_clip_and_reports_the_offline_one(edit, tmp_path):
    events = []
    result = run_generation(_request(edit, str(tmp_path / "out")), SineGenerator(), events.append)

    final = {event.clip_name: event for event in result.clips}
    assert [final[n].state for n in ("a", "b", "c", "gone")] == ["done"] * 3 + ["skipped"]
    assert "/nowhere/gone.mp4" in final["gone"].message
    states = [e.state for e in events if e.clip_name == "a"]
    assert states[0] == "queued" and states[-1] == "done" and "running" in states
    assert any(e.total_steps == 3 and e.step == 3 for e in events if e.clip_name == "a")
    # a "done" event names the take it wrote (the server shows it without searching the folder)
    written = {audio.clip_id: audio.path for audio in result.generated}
    assert {e.clip_id: e.output_path for e in result.clips if e.state == "done"} == written
    assert all(os.path.isfile(path) for path in written.values())
    assert final["gone"].output_path == ""

    assert result.timeline_path == str(tmp_path / "out" / "edit.otio")
    clips = _v2a_clips(result.timeline_path)
    offset = 3600 * SAMPLE_RATE
    for audio in result.generated:
        samples, _ = read_wav(audio.path)
        total = audio.handle_before_samples + audio.num_samples + audio.handle_after_samples
        assert samples.shape == (total,)
        # DAWs place the file's first sample at the time reference: the record start less handle.
        bext = read_bext(audio.path)
        assert bext["time_reference"] == offset + audio.start_sample - audio.handle_before_samples
        assert os.path.basename(audio.path) == f"{audio.clip_id}_take1.wav"
        # Its loudness, measured on the file's samples, in the bext and the provenance alike:
        # the sine double is 0.1 peak, so -20 dBTP (a sine's true peak is its amplitude).
        assert audio.provenance["true_peak_dbtp"] == pytest.approx(-20.0, abs=0.1)
        assert bext["loudness"][2] == pytest.approx(audio.provenance["true_peak_dbtp"] * 100, abs=5)
        lufs = audio.provenance["loudness_lufs"]
        assert lufs is None or bext["loudness"][0] == pytest.approx(lufs * 100, abs=5)
        # Production sound fields, as NLEs and sound libraries show them.
        ixml = read_ixml(audio.path)
        assert (ixml["PROJECT"], ixml["TAKE"], ixml["TRACK_NAME"]) == ("edit", "1", "V2A SFX")
        assert ixml["SCENE"] == audio.provenance["source_clip"]
        assert ixml["NOTE"] == "v2a sine-test-double; seed 0"
        done = next(e for e in result.clips if e.clip_id == audio.clip_id)
        assert done.message.endswith("true peak -20.0 dBTP)")
    by_name = {a.provenance["source_clip"]: a for a in result.generated}
    # The dissolve gives handles on both sides of the a|b cut, and a crossfade on the audio.
    assert by_name["a"].handle_after_samples > 0 and by_name["b"].handle_before_samples > 0
    track = find_v2a_tracks(otio.adapters.read_from_file(result.timeline_path), "SFX")[0]
    assert sum(isinstance(item, otio.schema.Transition) for item in track) == 1
    assert clips["a"].metadata["v2a"]["provenance"]["generator"] == "sine-test-double"
    assert clips["a"].metadata["v2a"]["provenance"]["checkpoint_sha256"] == "none"


def test_a_loudness_target_brings_each_take_to_it_and_says_so(edit, tmp_path):
    # The sine double: 0.1 peak, louder than -30 LUFS (about -24 at its pitches).
    result = run_generation(_request(edit, str(tmp_path / "out"), loudness_target_lufs=-30.0),
                            SineGenerator())
    assert len(result.generated) == 3
    for audio in result.generated:
        samples, _ = read_wav(audio.path)
        assert measure_loudness(samples).integrated == pytest.approx(-30.0, abs=0.1)
        provenance = audio.provenance
        assert provenance["loudness_lufs"] == pytest.approx(-30.0, abs=0.1)
        assert provenance["loudness_target_lufs"] == -30.0
        assert -10 < provenance["gain_db"] < 0
        assert "loudness_target_missed_by" not in provenance
        assert read_bext(audio.path)["loudness"][0] == pytest.approx(-3000, abs=10)
        assert read_ixml(audio.path)["NOTE"].endswith(f"gain {provenance['gain_db']:+.1f} dB toward -30 LUFS")
        done = next(e for e in result.clips if e.clip_id == audio.clip_id)
        assert done.message.endswith(f"; {provenance['gain_db']:+.1f} dB to -30 LUFS)")
    # The written timeline's provenance is the panel's: it holds the same.
    for clip in _v2a_clips(result.timeline_path).values():
        assert clip.metadata["v2a"]["provenance"]["loudness_target_lufs"] == -30.0


def test_a_target_the_true_peak_cannot_reach_stops_at_the_ceiling(edit, tmp_path):
    class ClickingSine(SineGenerator):  # a quiet sine and one loud click: a peaky take
        def generate(self, *args, **kwargs):
            samples = super().generate(*args, **kwargs) * 0.1
            samples[len(samples) // 2] = 0.5
            return samples

    result = run_generation(_request(edit, str(tmp_path / "out"), loudness_target_lufs=-16.0),
                            ClickingSine())
    assert len(result.generated) == 3
    for audio in result.generated:
        assert audio.provenance["true_peak_dbtp"] == pytest.approx(-1.0, abs=0.05)
        assert audio.provenance["loudness_target_missed_by"] == "true peak"
        assert audio.provenance["loudness_lufs"] < -20.0
        done = next(e for e in result.clips if e.clip_id == audio.clip_id)
        assert "toward -16 LUFS, held by the -1 dBTP true peak ceiling)" in done.message


def test_running_again_on_the_output_adds_takes_without_duplicating_tracks(edit, tmp_path):
    out = str(tmp_path / "out")
    first = run_generation(_request(edit, out), SineGenerator())
    take1 = {a.clip_id: open(a.path, "rb").read() for a in first.generated}
    second = run_generation(_request(first.timeline_path, out), SineGenerator())

    timeline = otio.adapters.read_from_file(second.timeline_path)
    assert len(find_v2a_tracks(timeline, "SFX")) == 1
    for name, clip in _v2a_clips(second.timeline_path).items():
        assert sorted(clip.media_references()) == ["take1", "take2"], name
        assert clip.active_media_reference_key == "take2"
    for clip_id, data in take1.items():  # older takes stay, byte for byte
        assert open(os.path.join(out, "audio", f"{clip_id}_take1.wav"), "rb").read() == data
    editor = [t for t in timeline.tracks if not find_v2a_tracks_in(t)]
    original = otio.adapters.read_from_file(edit).tracks
    assert [otio.adapters.write_to_string(t, "otio_json") for t in editor] == [
        otio.adapters.write_to_string(t, "otio_json") for t in original
    ]


def test_each_take_is_a_new_draw_when_no_seed_is_given_and_the_given_seed_otherwise(edit, tmp_path):
    """Without --seed, take n of a clip uses seed n - 1: a re-run on the written timeline added a
    copy of take 1 before (the same seed, the same sound). A seed given is used for every take."""
    from dataclasses import replace

    class RecordsSeeds(SineGenerator):
        seeds: list

        def generate(self, frames, fps, num_samples, params, progress=None, cancel=None, kept=None):
            self.seeds.append(params.seed)
            return super().generate(frames, fps, num_samples, params, progress, cancel)

    for seed_per_take, seed, expected in ((True, 0, [0, 1, 2]), (False, 7, [7, 7, 7])):
        out = str(tmp_path / f"out-{seed_per_take}")
        generator = RecordsSeeds()
        generator.seeds = []
        timeline = edit
        for _ in range(3):
            request = _request(timeline, out)
            request = replace(request, seed_per_take=seed_per_take, params=replace(request.params, seed=seed))
            timeline = run_generation(request, generator).timeline_path
        clips = len(generator.seeds) // 3
        assert generator.seeds == [s for s in expected for _ in range(clips)]
        for clip in _v2a_clips(timeline).values():  # each take's metadata names the seed it used
            seeds = [clip.media_references()[f"take{n}"].metadata["v2a"]["seed"] for n in (1, 2, 3)]
            assert seeds == expected


def find_v2a_tracks_in(track) -> bool:
    return bool(track.metadata.get("v2a"))


def test_a_selection_regenerates_only_those_clips(edit, tmp_path):
    out = str(tmp_path / "out")
    first = run_generation(_request(edit, out), SineGenerator())
    ids = {a.provenance["source_clip"]: a.clip_id for a in first.generated}
    before = _v2a_clips(first.timeline_path)
    files_before = {name: os.stat(p).st_mtime_ns for name, p in _files(out).items()}

    selection = Selection(clips=(ClipAddress(clip_id=ids["b"]),))
    second = run_generation(
        _request(first.timeline_path, out, selection=selection), SineGenerator()
    )

    assert [a.clip_id for a in second.generated] == [ids["b"]]
    after = _v2a_clips(second.timeline_path)
    for name in ("a", "c"):
        assert otio.adapters.write_to_string(after[name], "otio_json") == (
            otio.adapters.write_to_string(before[name], "otio_json")
        )
    assert after["b"].active_media_reference_key == "take2"
    files_after = {name: os.stat(p).st_mtime_ns for name, p in _files(out).items()}
    assert set(files_after) - set(files_before) == {f"{ids['b']}_take2.wav"}
    assert all(files_after[name] == stamp for name, stamp in files_before.items())
    # Still aligned: every clip on its video clip's record range.
    track = find_v2a_tracks(otio.adapters.read_from_file(second.timeline_path), "SFX")[0]
    starts = sorted(to_samples(track.range_of_child(c).start_time) for c in track.find_clips())
    assert starts == sorted(a.start_sample for a in first.generated)


def _files(out: str) -> dict[str, str]:
    folder = os.path.join(out, "audio")
    return {name: os.path.join(folder, name) for name in os.listdir(folder)}


def test_cancel_mid_clip_leaves_the_output_folder_as_it_found_it(edit, tmp_path):
    """The first clip's finished take was kept: named by no timeline, and the next run numbered
    its takes past it (take 2, another seed than an uninterrupted run's)."""
    out = tmp_path / "out"
    out.mkdir()
    cancel = threading.Event()

    def on_step(call: int, step: int) -> None:
        if call == 2 and step == 1:
            cancel.set()

    with pytest.raises(GenerationCancelled):
        run_generation(_request(edit, str(out)), SineGenerator(on_step=on_step), cancel=cancel)
    assert os.listdir(out) == []  # no timeline, no take, no temp file, no empty audio folder

    run_generation(_request(edit, str(out)), SineGenerator())
    assert sorted(name.split("_")[1] for name in _files(str(out))) == ["take1.wav"] * 3


def test_a_failure_mid_run_leaves_no_take_behind(edit, tmp_path):
    """A disk that fills up, or any error that stops the run before its timeline is written."""
    out = tmp_path / "out"

    def on_event(event):
        if event.state == "done" and event.clip_name == "b":
            raise OSError(28, "No space left on device")

    with pytest.raises(OSError):
        run_generation(_request(edit, str(out)), SineGenerator(), on_event)
    assert not out.exists()


def test_cancel_between_clips_stops_before_the_next(edit, tmp_path):
    cancel = threading.Event()
    generator = SineGenerator()

    def on_event(event):
        if event.state == "done":
            cancel.set()

    with pytest.raises(GenerationCancelled):
        run_generation(_request(edit, str(tmp_path / "out")), generator, on_event, cancel)
    assert generator.calls == 1
    assert not (tmp_path / "out" / "edit.otio").exists()


def test_a_generator_failure_fails_that_clip_only(edit, tmp_path):
    class FailsOnTheThirdClip(SineGenerator):  # clips go in record order: a, b, then c
        def generate(self, frames, fps, num_samples, params, progress=None, cancel=None, kept=None):
            if self.calls == 2:
                raise RuntimeError("model blew up")
            return super().generate(frames, fps, num_samples, params, progress, cancel)

    result = run_generation(_request(edit, str(tmp_path / "out")), FailsOnTheThirdClip())
    final = {event.clip_name: event for event in result.clips}
    assert final["c"].state == "failed" and "model blew up" in final["c"].message
    assert final["a"].state == final["b"].state == "done"
    assert set(_v2a_clips(result.timeline_path)) == {"a", "b"}


def test_a_generator_returning_the_wrong_length_fails_that_clip(edit, tmp_path):
    class Short(SineGenerator):
        def generate(self, frames, fps, num_samples, params, progress=None, cancel=None, kept=None):
            return np.zeros(num_samples - 1, np.float32)

    result = run_generation(_request(edit, str(tmp_path / "out")), Short())
    failed = [e for e in result.clips if e.state == "failed"]
    assert len(failed) == 3 and "asked for" in failed[0].message
    assert result.timeline_path == "" and not os.path.exists(tmp_path / "out")  # nor any empty folder


def test_a_generator_returning_nan_fails_that_clip_naming_it(edit, tmp_path):
    """A model that blows up numerically on one clip (NaN or infinity in its sound): that clip
    fails saying so, the others are written. It ended the whole run with 'samples contain NaN
    or infinity', naming no clip."""

    class BlowsUpOnB(SineGenerator):
        def generate(self, frames, fps, num_samples, params, progress=None, cancel=None, kept=None):
            samples = super().generate(frames, fps, num_samples, params, progress, cancel, kept)
            if self.calls == 2:
                samples[num_samples // 2] = np.nan
            return samples

    result = run_generation(_request(edit, str(tmp_path / "out")), BlowsUpOnB())
    final = {event.clip_name: event for event in result.clips}
    assert [final[name].state for name in ("a", "b", "c")] == ["done", "failed", "done"]
    assert final["b"].message == "generator 'sine-test-double' returned NaN or infinite samples"
    assert sorted(a.provenance["source_clip"] for a in result.generated) == ["a", "c"]
    assert len(os.listdir(tmp_path / "out" / "audio")) == 2  # no file for b


def test_a_run_cancelled_before_any_clip_leaves_no_empty_folders(edit, tmp_path):
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(GenerationCancelled):
        run_generation(_request(edit, str(tmp_path / "new" / "out")), SineGenerator(), cancel=cancel)
    assert not os.path.exists(tmp_path / "new")


def test_a_run_where_every_clip_fails_leaves_the_previous_output_untouched(edit, tmp_path):
    out = str(tmp_path / "out")
    first = run_generation(_request(edit, out), SineGenerator())
    before = open(first.timeline_path, "rb").read()
    # The editor runs the original edit again into the same folder; this time nothing generates
    # (every clip's generation fails). The timeline with the first run's sound must survive.
    again = run_generation(_request(edit, out), _AlwaysFails())
    assert not again.generated and again.timeline_path == ""
    assert "not written" in again.format_note
    assert open(first.timeline_path, "rb").read() == before


class _AlwaysFails(SineGenerator):
    def generate(self, frames, fps, num_samples, params, progress=None, cancel=None, kept=None):
        raise RuntimeError("out of memory")


def test_output_format_can_differ_from_the_input(edit, tmp_path):
    result = run_generation(
        _request(edit, str(tmp_path / "out"), output_format="fcp_xml"), SineGenerator()
    )
    assert result.timeline_path == str(tmp_path / "out" / "edit.xml")
    reread = otio.adapters.read_from_file(result.timeline_path)
    assert len(find_v2a_tracks(reread, "SFX")[0].find_clips()) == 3


def test_clip_addresses_on_the_command_line():
    clip_address = ClipAddress.from_text

    assert clip_address("V1@2.5") == ClipAddress(track="V1", record_time=2.5)
    assert clip_address("3c687a2671") == ClipAddress(clip_id="3c687a2671")
    assert clip_address("odd@name") == ClipAddress(clip_id="odd@name")


def test_an_unexpected_decoder_error_fails_that_clip_only(edit, tmp_path, monkeypatch):
    import v2a.media.frames as frames

    real = frames.read_segment_frames

    def flaky(segment, fps, size):
        if segment.clip_name == "b":
            raise RuntimeError("decoder surprise")
        return real(segment, fps, size)

    monkeypatch.setattr(frames, "read_segment_frames", flaky)
    result = run_generation(_request(edit, str(tmp_path / "out")), SineGenerator())
    final = {event.clip_name: event for event in result.clips}
    assert final["b"].state == "failed" and "decoder surprise" in final["b"].message
    assert final["a"].state == final["c"].state == "done"


class _Brightness(SineGenerator):
    """Sound that follows the picture's brightness frame by frame, read the way the model reads
    frames on demand: spans of 10 frames in order."""

    frame_rate, frame_size = 24.0, 16

    def __init__(self, on_demand: bool):
        super().__init__()
        self.frames_on_demand = on_demand
        self.handed = []

    def generate(self, frames, fps, num_samples, params, progress=None, cancel=None, kept=None):
        self.handed.append(type(frames).__name__)
        spans = [frames[np.arange(start, min(len(frames), start + 10))] for start in range(0, len(frames), 10)]
        brightness = np.concatenate(spans).mean(axis=(1, 2, 3)) / 255
        index = np.minimum(np.arange(num_samples) * len(frames) // num_samples, len(frames) - 1)
        return (0.5 * brightness[index]).astype(np.float32)


def test_a_generator_reading_frames_on_demand_sees_the_same_picture(edit, tmp_path):
    takes = {}
    for on_demand in (False, True):
        generator = _Brightness(on_demand)
        result = run_generation(_request(edit, str(tmp_path / f"out{on_demand}")), generator)
        assert len(result.generated) == 3
        takes[on_demand] = [read_wav(audio.path)[0] for audio in result.generated]
        assert set(generator.handed) == {"SegmentFrames" if on_demand else "ndarray"}
    for eager, on_demand in zip(takes[False], takes[True], strict=True):
        np.testing.assert_array_equal(on_demand, eager)


def test_frames_on_demand_that_fail_to_decode_fail_that_clip_only(edit, tmp_path, monkeypatch):
    import v2a.media.frames as frames
    from v2a.media.errors import MediaError

    real = frames._VideoReader.pictures_at
    failed = []

    def damaged(self, times):
        if self.path.endswith("b.mp4"):  # decoding fails inside the generator, at every attempt
            failed.append(len(times))
            raise MediaError(f"{self.path}: video does not decode")
        return real(self, times)

    monkeypatch.setattr(frames._VideoReader, "pictures_at", damaged)
    result = run_generation(_request(edit, str(tmp_path / "out")), _Brightness(on_demand=True))
    final = {event.clip_name: event for event in result.clips}
    # Named where the editor finds it, as the planner names a clip offline: a clip's name alone
    # is often that of many shots of one source.
    assert final["b"].state == "failed"
    assert final["b"].message.startswith("clip 'b' on track V1 at 01:00:01:00: ")
    assert "b.mp4: video does not decode" in final["b"].message
    assert final["a"].state == final["c"].state == "done"
    assert len(failed) == 2  # with the context beyond the handles, then without it


def _hard_cut_edit(folder: str, movies: str) -> str:
    video = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    video.append(_clip("a", 12, 24, movies))
    video.append(_clip("b", 12, 30, movies))
    timeline = otio.schema.Timeline(name="cut")
    timeline.tracks.append(video)
    path = os.path.join(folder, "cut.otio")
    otio.adapters.write_to_file(timeline, path)
    return path


def test_a_hard_cut_gets_handles_and_a_short_crossfade_by_default(tmp_path, movies):
    path = _hard_cut_edit(str(tmp_path), movies)
    result = run_generation(_request(path, str(tmp_path / "out")), SineGenerator())

    # 0.08 s is 1.92 frames at 24 fps: handles are whole frames, so 2 frames.
    handle = round(GenerationRequest.cut_handle_seconds * RATE) * SAMPLE_RATE // RATE
    by_name = {a.provenance["source_clip"]: a for a in result.generated}
    assert by_name["a"].handle_after_samples == handle == by_name["b"].handle_before_samples
    track = find_v2a_tracks(otio.adapters.read_from_file(result.timeline_path), "SFX")[0]
    fades = [item for item in track if isinstance(item, otio.schema.Transition)]
    assert len(fades) == 1 and to_samples(fades[0].in_offset) == handle
    # The clips still sit exactly on their video clips' record ranges.
    placed = [to_samples(track.range_of_child(c).start_time) for c in track.find_clips()]
    assert placed == [0, 24 * SAMPLE_RATE // RATE]


def test_a_cutaway_on_an_upper_track_crossfades_in_and_out_of_the_shot_below(tmp_path, movies):
    """V1 holds shot a; V2 cuts to c for a second in the middle. The picture cuts twice, so the
    sound crossfades twice on v2a's one track, as at cuts on one track."""
    lower = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    lower.append(_clip("a", 0, 60, movies))
    upper = otio.schema.Track(name="V2", kind=otio.schema.TrackKind.Video)
    upper.append(otio.schema.Gap(source_range=TR(RT(0, RATE), RT(24, RATE))))
    upper.append(_clip("c", 24, 24, movies))
    timeline = otio.schema.Timeline(name="cutaway")
    timeline.tracks.extend([lower, upper])
    path = str(tmp_path / "cutaway.otio")
    otio.adapters.write_to_file(timeline, path)

    result = run_generation(_request(path, str(tmp_path / "out")), SineGenerator())

    handle = 2 * SAMPLE_RATE // RATE
    ordered = sorted(result.generated, key=lambda a: a.start_sample)
    assert [
        (a.provenance["source_clip"], a.handle_before_samples, a.handle_after_samples)
        for a in ordered
    ] == [("a", 0, handle), ("c", handle, handle), ("a", handle, 0)]
    track = find_v2a_tracks(otio.adapters.read_from_file(result.timeline_path), "SFX")[0]
    fades = [item for item in track if isinstance(item, otio.schema.Transition)]
    assert [to_samples(f.in_offset) for f in fades] == [handle, handle]
    placed = [to_samples(track.range_of_child(c).start_time) for c in track.find_clips()]
    assert placed == [0, 24 * SAMPLE_RATE // RATE, 48 * SAMPLE_RATE // RATE]


def test_cut_handles_can_be_turned_off_for_hard_audio_cuts(tmp_path, movies):
    path = _hard_cut_edit(str(tmp_path), movies)
    request = _request(path, str(tmp_path / "out"), cut_handle_seconds=0.0)
    result = run_generation(request, SineGenerator())

    assert all(a.handle_before_samples == a.handle_after_samples == 0 for a in result.generated)
    track = find_v2a_tracks(otio.adapters.read_from_file(result.timeline_path), "SFX")[0]
    assert not any(isinstance(item, otio.schema.Transition) for item in track)


def test_the_generator_sees_context_beyond_the_handles_and_the_take_keeps_none_of_it(
    tmp_path, movies
):
    """b uses frames 12..42 of a 72-frame movie: the generator is shown 0.5 s (12 frames at 24
    fps) more on each side than the take holds, and the take is the middle of what it made."""
    asked = []

    class Ramp(SineGenerator):
        def generate(self, frames, fps, num_samples, params, progress=None, cancel=None, kept=None):
            asked.append((num_samples, kept))
            return np.arange(num_samples, dtype=np.float32) / 1e7

    video = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    video.append(_clip("b", 12, 30, movies))
    timeline = otio.schema.Timeline(name="one")
    timeline.tracks.append(video)
    path = str(tmp_path / "one.otio")
    otio.adapters.write_to_file(timeline, path)
    result = run_generation(_request(path, str(tmp_path / "out")), Ramp())

    (audio,) = result.generated
    context = 12 * SAMPLE_RATE // RATE
    # Told which samples it keeps (v2a's model judges near-silence on them).
    assert asked == [(context + audio.num_samples + context, (context, context + audio.num_samples))]
    samples, _ = read_wav(audio.path)
    assert samples.shape[0] == audio.num_samples  # no handles: a lone clip
    # 24-bit WAV: the ramp's value at each kept sample, the context's length in (past the fade
    # in that a lone clip's edge gets where it meets silence, tests/v2a/test_pipeline_edge_fades).
    fade = EDGE_FADE_SAMPLES
    assert abs(float(samples[fade]) - (context + fade) / 1e7) < 1e-6


def test_a_clip_longer_than_the_generator_makes_fails_saying_so_before_any_work(edit, tmp_path):
    # The model makes an hour a clip; a longer one failed inside it with "segment 0: num_samples
    # must be a whole number from 1 to 172,800,000", after its picture was read.
    asked = []

    class MakesOneSecond(SineGenerator):
        max_samples = SAMPLE_RATE

        def generate(self, frames, fps, num_samples, params, progress=None, cancel=None, kept=None):
            asked.append((num_samples, kept))
            return super().generate(frames, fps, num_samples, params, progress, cancel)

    result = run_generation(_request(edit, str(tmp_path / "out")), MakesOneSecond())
    final = {event.clip_name: event for event in result.clips}
    # c, 20 frames (0.83 s) and a handle, fits once the context beyond its handles is dropped;
    # a and b are longer than a second with their handles, and neither reached the generator.
    assert final["c"].state == "done" and len(asked) == 1
    made, kept = asked[0]
    assert made <= SAMPLE_RATE and kept == (0, made)  # all of it kept: no context shown
    for name in ("a", "b"):
        assert final[name].state == "failed"
        assert f"clip {name!r} on track V1 at 01:00:0" in final[name].message
        assert " is 1." in final[name].message
        assert "makes at most 1.0 s a clip: cut it into shorter clips" in final[name].message


def test_a_timeline_write_that_fails_leaves_no_take_of_the_run(edit, tmp_path):
    """A folder where the timeline goes (or a full disk) failed the write after every clip was
    generated: the run's takes stayed in OUT/audio, named by no timeline, and a run again
    numbered its takes past them (take 2, another seed)."""
    out = tmp_path / "out"
    (out / "edit.otio" / "in-the-way").mkdir(parents=True)
    with pytest.raises(OSError):
        run_generation(_request(edit, str(out)), SineGenerator())
    assert sorted(os.listdir(out)) == ["edit.otio"], "the run left files behind"

    os.rename(out / "edit.otio", tmp_path / "moved")
    result = run_generation(_request(edit, str(out)), SineGenerator())
    assert len(result.generated) == 3
    assert all(audio.path.endswith("_take1.wav") for audio in result.generated)


def test_a_write_stopped_after_the_full_otio_is_in_place_keeps_the_takes_it_names(
        edit, tmp_path, stop_at_the_edls_rename):
    """Ctrl-C between an EDL's two files: the .otio beside it, renamed into place first, names
    the takes, so they are not removed as a stopped run's."""
    out = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):
        run_generation(_request(edit, str(out), output_format="cmx_3600"), SineGenerator())
    named = {clip.media_reference.target_url.rsplit("/", 1)[-1]
             for clip in _v2a_clips(str(out / "edit.otio")).values()}
    assert len(named) == 3 and named <= set(os.listdir(out / "audio"))


def test_two_runs_on_one_folder_at_once_run_one_after_the_other(edit, tmp_path):
    """Take numbers counted the files on disk when a run started: two runs started together on
    one output folder both made take 1 of every clip, the later write replacing the other's
    sound (and a stopped one removed the other's takes). Now the folder's lock makes the second
    wait: it numbers its takes past the first's."""
    out = str(tmp_path / "out")
    started = threading.Event()

    def meet(call: int, step: int) -> None:
        if call == 1 and step == 0:  # one run is generating: the other starts now, and waits
            started.set()

    results = {}

    def run(name: str) -> None:
        results[name] = run_generation(_request(edit, out, seed_per_take=True),
                                       SineGenerator(on_step=meet if name == "first" else None))

    threads = [threading.Thread(target=run, args=(name,)) for name in ("first", "second")]
    threads[0].start()
    assert started.wait(30)
    threads[1].start()
    for thread in threads:
        thread.join(60)

    assert [sorted(audio.provenance["take"] for audio in results[name].generated)
            for name in ("first", "second")] == [[1, 1, 1], [2, 2, 2]]
    takes = [audio for result in results.values() for audio in result.generated]
    assert len(takes) == 6  # three clips in each run
    assert len({audio.path for audio in takes}) == 6, "two runs wrote the same take file"
    for audio in takes:
        take = audio.provenance["take"]
        assert audio.path.endswith(f"_take{take}.wav")
        assert f"take {take} for clip" in read_bext(audio.path)["description"]
        assert audio.provenance["seed"] == take - 1  # drawn for the take it is named (v2a generate)
    assert sorted(os.listdir(os.path.join(out, "audio"))) == sorted(
        os.path.basename(audio.path) for audio in takes)
