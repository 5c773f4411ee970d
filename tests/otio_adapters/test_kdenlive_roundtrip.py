"""The Kdenlive round trip an editor makes: v2a writes its track into the project, the editor
keeps cutting in Kdenlive, v2a runs again on the project. Real files throughout: the bundled
sample and its movie, OTIO's Kdenlive adapter, and where MLT's `melt` is installed, the engine
Kdenlive plays and renders with."""

from __future__ import annotations

import copy
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import opentimelineio as otio
import pytest
import soundfile
from generator_doubles import SineGenerator

from otio_adapters.plan import plan_segments
from otio_adapters.read import TimelineReadError, read_timeline
from otio_adapters.takes import find_v2a_tracks, to_samples, url_to_path
from otio_adapters.write import write_audio_tracks, write_timeline
from v2a.contracts import (
    SAMPLE_RATE,
    ClipAddress,
    GeneratedAudio,
    GenerationRequest,
    MediaSource,
    Segment,
    Selection,
)
from v2a.media.frames import read_segment_frames
from v2a.media.synth import make_image_sequence, make_test_movie, read_frame_number
from v2a.pipeline import run_generation

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
MOVIE = "bigbuckbunny_320x180.mp4"
FPS = 25
SAMPLES_PER_FRAME = SAMPLE_RATE // FPS


class NoiseGenerator(SineGenerator):
    """Noise, another for each call: a stretch of one take matches no other stretch of it, so a
    take played from the wrong place shows."""

    def generate(self, frames, fps, num_samples, params, progress=None, cancel=None, kept=None):
        super().generate(frames, fps, num_samples, params, progress, cancel, kept)
        return np.random.default_rng(self.calls).uniform(-0.2, 0.2, num_samples).astype(np.float32)


@pytest.fixture
def project(tmp_path) -> Path:
    """The sample edit as a Kdenlive project: media counted from each file's first frame (MLT
    knows no source timecode), a clip at 150% speed (a timewarp producer)."""
    folder = tmp_path / "project"
    timeline = _sample_from_file_start(folder)
    write_timeline(timeline, str(folder / "cut.kdenlive"), "kdenlive", media_dir=str(folder))
    return folder / "cut.kdenlive"


def _sample_from_file_start(folder: Path) -> otio.schema.Timeline:
    """The sample edit with its media counted from each file's first frame, as MLT counts them
    (the sample's movie is declared from 01:00:00:00), and its movie copied into folder/media."""
    (folder / "media").mkdir(parents=True)
    shutil.copy(SAMPLES / "media" / MOVIE, folder / "media" / MOVIE)
    timeline = otio.adapters.read_from_file(str(SAMPLES / "sample.otio"))
    timeline.global_start_time = None
    for clip in timeline.find_clips():
        reference = clip.media_reference
        first = reference.available_range.start_time
        reference.available_range = otio.opentime.TimeRange(
            first - first, reference.available_range.duration
        )
        clip.source_range = otio.opentime.TimeRange(
            clip.source_range.start_time - first, clip.source_range.duration
        )
    return timeline


def _generate(timeline: Path, out: Path, generator=None, clips=(), output_format=""):
    request = GenerationRequest(
        timeline_path=str(timeline),
        out_dir=str(out),
        output_format=output_format,
        selection=Selection(clips=tuple(ClipAddress(clip_id=c) for c in clips)),
    )
    return run_generation(request, generator or SineGenerator())


def _v2a_entries(path: str) -> list[tuple[int, ET.Element, ET.Element]]:
    """(record start frame, entry, producer) of each clip on the project's "V2A SFX" track, in
    the order they play: clips joined by a crossfade lie on the track's two playlists."""
    root, by_id = ET.XMLID(Path(path).read_text(encoding="utf-8"))
    tractor = _v2a_tractor(root)
    entries = []
    for track in tractor.findall("track"):
        position = 0
        for item in by_id[track.get("producer")]:
            if item.tag == "blank":
                position += _frames(item.get("length"))
            elif item.tag == "entry":
                entries.append((position, item, by_id[item.get("producer")]))
                position += _frames(item.get("out")) - _frames(item.get("in")) + 1
    return sorted(entries, key=lambda found: found[0])


def _v2a_tractor(root: ET.Element) -> ET.Element:
    return next(
        t
        for t in root.iter("tractor")
        if t.findtext("property[@name='kdenlive:track_name']") == "V2A SFX"
    )


def _frames(clock: str) -> int:
    """An MLT time: a frame count, or a clock (hours:minutes:seconds) as Kdenlive writes one."""
    if ":" not in clock:
        return int(clock)
    hours, minutes, seconds = clock.split(":")
    return round((int(hours) * 3600 + int(minutes) * 60 + float(seconds)) * FPS)


def _resource(producer: ET.Element) -> str:
    return producer.findtext("property[@name='resource']")


def test_each_take_plays_from_its_own_file_as_mlt_counts_in_and_out_points(project, tmp_path):
    """MLT counts in and out points in frames from the file's first frame. Written in timeline
    time, every v2a clip but the first named a stretch past the end of its WAV: silence."""
    result = _generate(project, tmp_path / "out")
    generated = {Path(audio.path).name: audio for audio in result.generated}
    entries = _v2a_entries(result.timeline_path)
    assert len(entries) == len(generated) == 4
    for start, entry, producer in entries:
        audio = generated[Path(_resource(producer)).name]
        file_frames = soundfile.info(_resource(producer)).frames / SAMPLES_PER_FRAME
        assert _frames(producer.get("in")) == 0 and _frames(producer.get("out")) + 1 == file_frames
        # The take's first sample lies where v2a placed it: its handle before the picture.
        take_start = (audio.start_sample - audio.handle_before_samples) // SAMPLES_PER_FRAME
        assert start - _frames(entry.get("in")) == take_start
        # and the entry plays at least under its picture (past it, over a crossfade).
        played = _frames(entry.get("out")) - _frames(entry.get("in")) + 1
        assert start <= audio.start_sample // SAMPLES_PER_FRAME
        assert start + played >= (audio.start_sample + audio.num_samples) // SAMPLES_PER_FRAME


@pytest.mark.skipif(shutil.which("melt") is None, reason="MLT's melt is not installed")
def test_mlt_plays_each_take_under_its_picture(project, tmp_path):
    """Where it plays alone (crossfades: `test_mlt_plays_each_crossfade_as_v2a_laid_it`; over
    one of 2 + 1 frames a take matched 0.985 with the one it crossfades with in it)."""
    result = _generate(project, tmp_path / "out", NoiseGenerator())
    mix = _render_timeline(result, tmp_path)
    alone = np.ones(len(mix), dtype=bool)
    for first, end, _, _ in _crossfades(result.generated):
        alone[first:end] = False
    for audio in result.generated:
        take, _ = soundfile.read(audio.path)
        want = take[audio.handle_before_samples : audio.handle_before_samples + audio.num_samples]
        heard = mix[audio.start_sample : audio.start_sample + audio.num_samples]
        played = alone[audio.start_sample : audio.start_sample + audio.num_samples]
        heard, want = heard[played], want[played]
        match = np.dot(heard, want) / (np.linalg.norm(heard) * np.linalg.norm(want) + 1e-12)
        assert match > 0.9999, (
            f"{Path(audio.path).name}: the sound under its picture matches {match:.3f}"
        )


@pytest.mark.skipif(shutil.which("melt") is None, reason="MLT's melt is not installed")
def test_mlt_plays_each_crossfade_as_v2a_laid_it(project, tmp_path):
    """Over each crossfade the outgoing take fades out as the incoming one fades in: their sum,
    no gap, neither one alone. Written without same-track mixes, the clips met at their cuts
    and each crossfade was a hard cut (the .otio beside the project kept them)."""
    result = _generate(project, tmp_path / "out", NoiseGenerator())
    assert not result.format_note and not result.fallback_otio_path
    mix = _render_timeline(result, tmp_path)
    expected = _as_v2a_lays_it(result.generated, len(mix))
    crossfades = _crossfades(result.generated)
    assert len(crossfades) == 2  # the sample's two hard cuts between generated clips
    for first, end, _, _ in crossfades:
        error = np.abs(mix[first:end] - expected[first:end]).max()
        assert error < 1e-3, f"the crossfade at samples {first}-{end} is off by {error:.3f}"
    assert np.abs(mix - expected).max() < 1e-3  # 16-bit rendering


def test_v2a_crossfades_read_back_as_v2a_laid_them(project, tmp_path):
    """Read back, v2a's track has its crossfades between the same clips, in samples, as v2a
    laid them (the adapter reads Kdenlive's mixes as transitions in frames)."""
    result = _generate(project, tmp_path / "out")
    (track,) = find_v2a_tracks(read_timeline(result.timeline_path), "SFX")
    items = list(track)
    read = [
        (
            Path(items[index - 1].media_reference.target_url).name,
            to_samples(item.in_offset),
            to_samples(item.out_offset),
            Path(items[index + 1].media_reference.target_url).name,
            item.metadata["v2a"]["crossfade"],
        )
        for index, item in enumerate(items)
        if isinstance(item, otio.schema.Transition)
    ]
    assert read == [
        (Path(a.path).name, b.handle_before_samples, a.handle_after_samples, Path(b.path).name, True)
        for _, _, a, b in _crossfades(result.generated)
    ]
    assert len(read) == 2


def test_crossfades_read_back_from_mixes_kdenlive_retimed(project, tmp_path):
    """Kdenlive puts a mix it moves on its own timing: from the incoming clip's start to the
    outgoing one's end (TrackModel::syncronizeMixes), a frame later than v2a starts one. The
    crossfades read back the same, the cut where Kdenlive computes it."""
    result = _generate(project, tmp_path / "out")
    path = Path(result.timeline_path)
    laid = _crossfade_sides(find_v2a_tracks(read_timeline(path), "SFX")[0])
    root = ET.fromstring(path.read_text(encoding="utf-8"))
    for mix in _v2a_tractor(root).findall("transition"):
        for point in ("in", "out"):
            mix.set(point, str(int(mix.get(point)) + 1))
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)
    assert _crossfade_sides(find_v2a_tracks(read_timeline(path), "SFX")[0]) == laid
    assert len(laid) == 2


def test_each_crossfade_is_a_mix_as_kdenlive_lays_one(project, tmp_path):
    """Kdenlive (20.12 on) plays a crossfade on one track as a mix: the two clips on the
    track's two playlists, overlapping over it, and a `mix` transition between the playlists
    in the track's tractor, `kdenlive:mixcut` frames of it past the cut. Opening a project,
    Kdenlive finds the outgoing clip at the transition's in point on playlist 0 (1 where
    `reverse`) and the incoming one at its out point on the other, and reads out - in as the
    mix's length (TrackModel::loadMix)."""
    result = _generate(project, tmp_path / "out")
    root, by_id = ET.XMLID(Path(result.timeline_path).read_text(encoding="utf-8"))
    tractor = _v2a_tractor(root)
    playlists = [by_id[track.get("producer")] for track in tractor.findall("track")]
    mixes = tractor.findall("transition")
    crossfades = _crossfades(result.generated)
    assert len(mixes) == len(crossfades) == 2
    for mix, (_, _, outgoing, incoming) in zip(mixes, crossfades, strict=True):
        properties = {p.get("name"): p.text for p in mix.findall("property")}
        assert properties["mlt_service"] == properties["kdenlive_id"] == "mix"
        assert (properties["a_track"], properties["b_track"]) == ("0", "1")
        length = int(mix.get("out")) - int(mix.get("in"))
        before, after = incoming.handle_before_samples, outgoing.handle_after_samples
        assert length * SAMPLES_PER_FRAME == before + after
        assert int(properties["kdenlive:mixcut"]) * SAMPLES_PER_FRAME == after
        first = 1 if properties["reverse"] == "1" else 0
        assert _file_at(playlists[first], int(mix.get("in")), by_id) == Path(outgoing.path).name
        assert _file_at(playlists[1 - first], int(mix.get("out")), by_id) == Path(incoming.path).name


def _file_at(playlist: ET.Element, frame: int, by_id: dict) -> str:
    """The name of the file a playlist plays at a frame ("" for none)."""
    position = 0
    for item in playlist:
        if item.tag == "blank":
            position += _frames(item.get("length"))
        elif item.tag == "entry":
            length = _frames(item.get("out")) - _frames(item.get("in")) + 1
            if position <= frame < position + length:
                return Path(_resource(by_id[item.get("producer")])).name
            position += length
    return ""


def _render_timeline(result, tmp_path: Path) -> np.ndarray:
    """What melt plays of the written project's timeline (its main tractor), 48 kHz mono, up to
    the end of the last generated clip (the black background track lasts 10 minutes)."""
    tree = ET.parse(result.timeline_path)
    main = [t for t in tree.getroot().iter("tractor")][-1]
    main.set("id", "v2a_test_main")
    tree.getroot().set("producer", "v2a_test_main")
    document = Path(result.timeline_path).with_suffix(".mlt")  # its media paths are relative
    tree.write(document)
    rendered = tmp_path / "render.wav"
    frames = max(a.start_sample + a.num_samples for a in result.generated) // SAMPLES_PER_FRAME
    _render(document, frames, rendered)
    mix, rate = soundfile.read(rendered)
    assert rate == SAMPLE_RATE
    return mix


def _crossfades(generated) -> list[tuple[int, int, GeneratedAudio, GeneratedAudio]]:
    """(first, end) samples of each crossfade v2a lays between generated clips, with the
    outgoing and the incoming clip: where two touch, from the incoming clip's handle before
    ahead of the cut to the outgoing clip's handle after past it (docs/timeline_writing.md; the
    clips here are longer than the handles)."""
    ordered = sorted(generated, key=lambda audio: audio.start_sample)
    return [
        (b.start_sample - b.handle_before_samples, b.start_sample + a.handle_after_samples, a, b)
        for a, b in zip(ordered, ordered[1:], strict=False)
        if a.start_sample + a.num_samples == b.start_sample
        and a.handle_after_samples + b.handle_before_samples
    ]


def _as_v2a_lays_it(generated, length: int) -> np.ndarray:
    """v2a's track as v2a lays it: each take under its picture, and over each crossfade the
    outgoing take times a linear fade out plus the incoming take times a fade in."""
    gain = {audio.path: np.zeros(length) for audio in generated}
    for audio in generated:
        gain[audio.path][audio.start_sample : audio.start_sample + audio.num_samples] = 1
    for first, end, outgoing, incoming in _crossfades(generated):
        fade_in = (np.arange(first, end) - first) / (end - first)
        gain[incoming.path][first:end] = fade_in
        gain[outgoing.path][first:end] = 1 - fade_in
    sound = np.zeros(length)
    for audio in generated:
        take, _ = soundfile.read(audio.path)
        take_start = audio.start_sample - audio.handle_before_samples
        played = np.flatnonzero(gain[audio.path])
        sound[played] += take[played - take_start] * gain[audio.path][played]
    return sound


def _render(document: Path, frames: int, wav: Path) -> None:
    """melt renders the first `frames` of the document's audio to `wav` (48 kHz mono). melt 7.12
    now and then hangs before writing anything (2 runs in 28 here): a run that takes far longer
    than the second or two it needs is stopped and tried again."""
    command = [
        "melt", "-quiet", str(document), "in=0", f"out={frames - 1}",
        "-consumer", f"avformat:{wav}", "vn=1", "ar=48000", "ac=1", "acodec=pcm_s16le",
        "terminate_on_pause=1",
    ]  # fmt: skip
    for _ in range(3):
        try:
            subprocess.run(
                command, check=True, capture_output=True, stdin=subprocess.DEVNULL, timeout=30
            )
            return
        except subprocess.TimeoutExpired:
            continue
    pytest.fail("melt did not finish in three tries of 30 s")


def test_a_speed_changed_clip_keeps_its_file_and_speed_through_v2a(project, tmp_path):
    """The adapter reads a timewarp producer as a clip without media and writes that back as a
    text placeholder ("Unsupported clip type") in place of the editor's clip."""
    segments = plan_segments(read_timeline(project), timeline_path=str(project))
    assert [(s.status, s.speed) for s in segments] == [
        ("ok", 1.0),
        ("ok", 1.0),
        ("ok", 1.5),
        ("ok", 1.0),
    ]
    assert segments[2].media.path == str(project.parent / "media" / MOVIE)

    result = _generate(project, tmp_path / "out")
    assert len(result.generated) == 4
    root = ET.fromstring(Path(result.timeline_path).read_text(encoding="utf-8"))
    services = {p.findtext("property[@name='mlt_service']") for p in root.iter("producer")}
    assert "timewarp" in services and "qtext" not in services
    again = plan_segments(read_timeline(result.timeline_path), timeline_path=result.timeline_path)
    assert [(s.clip_id, s.speed, s.source_start) for s in again] == [
        (s.clip_id, s.speed, s.source_start) for s in segments
    ]


def test_a_rerun_on_the_written_project_adds_a_take_beside_the_first(project, tmp_path):
    out = tmp_path / "out"
    first = _generate(project, out)
    clip_id = first.generated[1].clip_id
    again = _generate(Path(first.timeline_path), out, clips=[clip_id])
    assert [Path(a.path).name for a in again.generated] == [f"{clip_id}_take2.wav"]

    tracks = find_v2a_tracks(read_timeline(again.timeline_path), "SFX")
    assert len(tracks) == 1
    clips = tracks[0].find_clips()
    assert len(clips) == 4
    clip = clips[1]
    assert clip.metadata["v2a"]["clip_id"] == clip_id
    assert clip.active_media_reference_key == "take2"
    takes = {key: Path(ref.target_url).name for key, ref in clip.media_references().items()}
    assert takes == {"take1": f"{clip_id}_take1.wav", "take2": f"{clip_id}_take2.wav"}
    # Every take of the clip covers it: either can be made active.
    used = clip.source_range
    for reference in clip.media_references().values():
        available = reference.available_range
        assert available.start_time <= used.start_time
        assert available.end_time_exclusive() >= used.end_time_exclusive()


def test_a_rerun_after_a_start_timecode_was_lost_keeps_the_first_take(tmp_path):
    """The sample starts at 01:00:00:00; a Kdenlive project has no start timecode. Its take 1,
    made at 01:00:00:00, no longer covered the clip counted from 0 and was taken off it."""
    source = tmp_path / "source"
    shutil.copytree(SAMPLES, source)
    out = tmp_path / "out"
    first = _generate(source / "sample.otio", out, output_format="kdenlive")
    clip_id = first.generated[0].clip_id
    again = _generate(Path(first.timeline_path), out, clips=[clip_id])
    clip = find_v2a_tracks(read_timeline(again.timeline_path), "SFX")[0].find_clips()[0]
    assert sorted(clip.media_references()) == ["take1", "take2"]


def test_a_ripple_in_kdenlive_moves_the_sound_with_its_picture(project, tmp_path):
    """The editor deletes the first shot and closes the gap: the others move left. Running again,
    each one's sound follows it and gets a second take (before, the metadata saying which frames
    a sound was made for was lost: the moved sounds were taken off and made anew as take 1)."""
    out = tmp_path / "out"
    first = _generate(project, out)
    path = Path(first.timeline_path)
    root, by_id = ET.XMLID(path.read_text(encoding="utf-8"))
    picture = by_id["playlist0"]  # V1, as the adapter writes it
    picture.remove(picture.find("entry"))
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)

    again = _generate(path, out)
    assert len(again.generated) == 3
    clips = find_v2a_tracks(read_timeline(again.timeline_path), "SFX")[0].find_clips()
    takes = [
        sorted(Path(ref.target_url).name for ref in clip.media_references().values())
        for clip in clips
    ]
    # Each shot that moved kept its first take and got a second; the deleted shot's sound is gone.
    assert [len(names) for names in takes] == [2, 2, 2]
    assert [
        Path(audio.path).name in names
        for audio, names in zip(first.generated[1:], takes, strict=True)
    ] == [True] * 3
    assert not any(Path(first.generated[0].path).name in names for names in takes)


def test_shots_renamed_by_kdenlive_keep_their_sound_on_a_rerun(tmp_path):
    """Kdenlive names a clip after its bin clip, its file: the sample's shots ("burrow", "wake
    up", "peek again"...), all from one movie, come back from v2a's .kdenlive as "burrow". Their
    sound was taken for another shot's, taken off and made anew as take 1 of a new clip."""
    source = tmp_path / "source"
    shutil.copytree(SAMPLES, source)
    out = tmp_path / "out"
    first = _generate(source / "sample.otio", out, output_format="kdenlive")
    again = _generate(Path(first.timeline_path), out)
    clips = find_v2a_tracks(read_timeline(again.timeline_path), "SFX")[0].find_clips()
    takes = [
        {Path(ref.target_url).name for ref in clip.media_references().values()} for clip in clips
    ]
    names = [Path(audio.path).name for audio in first.generated]
    assert len(takes) == 4
    # The speed-changed shot too: it read back a frame early (`test_a_retimed_shot_keeps_...`).
    for index in range(4):
        assert names[index] in takes[index] and len(takes[index]) == 2


def _converted_sample(tmp_path: Path):
    """The bundled sample written as .kdenlive by a run into tmp_path/out: (that result, the
    planned shots of the sample, and of the project)."""
    source = tmp_path / "source"
    shutil.copytree(SAMPLES, source)
    first = _generate(source / "sample.otio", tmp_path / "out", output_format="kdenlive")
    assert Path(first.timeline_path).suffix == ".kdenlive", first.format_note
    return first, *(
        plan_segments(read_timeline(path), timeline_path=str(path))
        for path in (source / "sample.otio", Path(first.timeline_path))
    )


def _v2a_clip(project: Path, name: str) -> otio.schema.Clip | None:
    (track,) = find_v2a_tracks(read_timeline(project), "SFX")
    return next((clip for clip in track.find_clips() if clip.name == name), None)


def test_a_retimed_shot_keeps_its_sound_across_a_kdenlive_round_trip(tmp_path, caplog):
    """The sample written as .kdenlive, then a run on 'burrow' alone: 'V2A stretch (150%)' keeps
    its take. A timewarp's in point counts frames of the sped-up clip, and the adapter rounds
    it down: the shot starting at source frame 100 at 150 % is written 66 (100 / 1.5 = 66.7),
    from which MLT shows frame 99. Read back a frame before the frames its sound was made for,
    it was taken off: "the frames there are not the ones its takes were made for"."""
    first, sample, converted = _converted_sample(tmp_path)
    assert [(s.source_start, s.speed) for s in converted] == [
        (s.source_start, s.speed) for s in sample]
    project = Path(first.timeline_path)
    made = _v2a_clip(project, "V2A stretch (150%)").media_reference.target_url

    with caplog.at_level("INFO", logger="otio_adapters.follow_edit"):
        _generate(project, tmp_path / "out", clips=(converted[0].clip_id,))
    assert "removing v2a clip" not in caplog.text
    assert _v2a_clip(project, "V2A stretch (150%)").media_reference.target_url == made


@pytest.mark.parametrize("speed", [1.5, -1.5])
def test_retimed_clips_of_one_file_read_back_from_their_own_first_frames(tmp_path, speed):
    """Two clips of the sample's movie at 150 %: 'stretch (150%)' from source frame 100 (written
    66, which MLT shows from 99), 'peek again' made so from frame 101 (67, shown from 100.5);
    and both reversed. Each reads back from its own first frame: the adapter gives both one
    timewarp producer, and each starts off its entry's by its own fraction of a frame (at 150 %
    1 and 0.5). At both speeds 'stretch' read back a frame early before."""
    timeline = otio.adapters.read_from_file(str(SAMPLES / "sample.otio"))
    peek = next(clip for clip in timeline.find_clips() if clip.name == "peek again")
    peek.source_range = otio.opentime.TimeRange(
        otio.opentime.RationalTime(90011, FPS), peek.source_range.duration)
    peek.effects.append(otio.schema.LinearTimeWarp(time_scalar=speed))
    next(clip for clip in timeline.find_clips() if clip.name == "stretch (150%)").effects[
        0].time_scalar = speed
    path = tmp_path / "cut.kdenlive"
    write_timeline(timeline, str(path), "kdenlive", media_dir=str(SAMPLES))

    def shots(timeline):
        return [(s.clip_name, s.source_start, s.speed)
                for s in plan_segments(timeline, timeline_path=str(SAMPLES / "sample.otio"))]

    written, source = shots(read_timeline(path)), shots(timeline)
    assert [shot[1:] for shot in written] == [shot[1:] for shot in source]
    assert [shot[2] for shot in source] == [1, 1, speed, speed]


def _edit_retimed_entry(project: Path, change) -> None:
    """`change(entry, producer, rate)` on the entry of the sample's 'stretch (150%)' on the
    editor's video track (its timewarp producer shows picture) and its producer, as Kdenlive
    saves the edit."""
    root, by_id = ET.XMLID(project.read_text(encoding="utf-8"))
    (entry,) = [
        entry for entry in root.iter("entry")
        if by_id[entry.get("producer")].findtext("property[@name='mlt_service']") == "timewarp"
        and by_id[entry.get("producer")].findtext("property[@name='set.test_image']") == "0"
    ]  # fmt: skip
    change(entry, by_id[entry.get("producer")])
    project.write_text(ET.tostring(root, encoding="unicode"), encoding="utf-8")


def _slipped(entry: ET.Element, producer: ET.Element) -> None:
    """Slipped a frame later in Kdenlive: a frame of the sped-up clip, 1.5 of the file's."""
    for side in ("in", "out"):
        entry.set(side, str(_frames(entry.get(side)) + 1))


def _retimed(entry: ET.Element, producer: ET.Element) -> None:
    """Its speed made 125 % in Kdenlive, from the same first frame: a new timewarp producer (of
    the bin clip's properties, none of v2a's), the entry counting frames at the new speed."""
    properties = {"warp_speed": "1.25", "mlt_service": "timewarp", "set.test_audio": "1",
                  "set.test_image": "0"}  # fmt: skip
    resource = producer.findtext("property[@name='warp_resource']")
    for item in list(producer):
        if item.get("name") not in (*properties, "warp_resource", "kdenlive:id"):
            producer.remove(item)
    for name, value in (*properties.items(), ("resource", f"1.25:{resource}")):
        found = producer.find(f"property[@name='{name}']")
        if found is None:
            found = ET.SubElement(producer, "property", {"name": name})
        found.text = value
    first, last = _frames(entry.get("in")), _frames(entry.get("out"))
    entry.set("in", str(round(first * 1.5 / 1.25)))
    entry.set("out", str(round(first * 1.5 / 1.25) + last - first))


def test_a_retimed_shot_slipped_in_kdenlive_loses_its_sound(tmp_path, caplog):
    """The converted sample's 'stretch (150%)' slipped a frame later in Kdenlive (1.5 frames of
    the file, a frame of the timeline): other frames than its sound was made for, and under
    another name ("burrow", after its file) v2a finds the shot by its frames: its sound is
    taken off, as another shot's, not kept as if the slip were the rounding of its in point."""
    first, _, converted = _converted_sample(tmp_path)
    project = Path(first.timeline_path)
    _edit_retimed_entry(project, _slipped)
    assert [s.source_start for s in plan_segments(read_timeline(project), timeline_path=str(
        project))][2] == pytest.approx(converted[2].source_start + 1.5 / FPS)
    with caplog.at_level("INFO", logger="otio_adapters.follow_edit"):
        _generate(project, tmp_path / "out", clips=(converted[0].clip_id,))
    assert ("removing v2a clip 'V2A stretch (150%)': the frames there are not the ones its takes "
            "were made for") in caplog.text
    assert _v2a_clip(project, "V2A stretch (150%)") is None


def test_a_retimed_shot_retimed_again_in_kdenlive_loses_its_sound(tmp_path, caplog):
    """The converted sample's 'stretch (150%)' made 125 % in Kdenlive: other moments under the
    same frames, its sound is taken off. (As another shot's: Kdenlive named the shot "burrow",
    after its file, and at another speed its frames are not those v2a's clip records.)"""
    first, _, converted = _converted_sample(tmp_path)
    project = Path(first.timeline_path)
    _edit_retimed_entry(project, _retimed)
    with caplog.at_level("INFO", logger="otio_adapters.follow_edit"):
        _generate(project, tmp_path / "out", clips=(converted[0].clip_id,))
    assert ("removing v2a clip 'V2A stretch (150%)': the frames there are not the ones its takes "
            "were made for") in caplog.text
    assert _v2a_clip(project, "V2A stretch (150%)") is None


def _cut_edit(tmp_path: Path, cuts: list[int], rate: float, handle: int = 2, noise=False):
    """A timeline of shots cut at the frames `cuts`, and v2a's track laid under it as v2a lays
    one: takes with `handle` frames each side where media exists (of noise, written, where
    `noise`), crossfaded where they meet. Returns the timeline and the generated takes."""
    video = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    for index, (first, last) in enumerate(zip(cuts, cuts[1:], strict=False)):
        video.append(
            otio.schema.Clip(
                name=f"shot{index}",
                source_range=otio.opentime.TimeRange(
                    otio.opentime.RationalTime(200, rate),
                    otio.opentime.RationalTime(last - first, rate),
                ),
                media_reference=otio.schema.ExternalReference(
                    target_url=f"file:///m/shot{index}.mov",
                    available_range=otio.opentime.TimeRange(
                        otio.opentime.RationalTime(0, rate), otio.opentime.RationalTime(1000, rate)
                    ),
                ),
            )
        )
    timeline = otio.schema.Timeline(name="cuts")
    timeline.tracks.append(video)

    def sample(frame: int) -> int:
        return round(frame * SAMPLE_RATE / rate)

    segments, generated = [], []
    for index, (first, last) in enumerate(zip(cuts, cuts[1:], strict=False)):
        before = sample(first) - sample(max(first - handle, 0))
        after = sample(last + handle) - sample(last)
        segment = Segment(
            clip_id=f"c{index}", clip_name=f"shot{index}", track_index=0, track_name="V1",
            timeline_rate=rate, record_start_frame=first, record_frames=last - first,
            start_sample=sample(first), num_samples=sample(last) - sample(first),
            media=MediaSource(referenced=f"shot{index}.mov", path=f"/m/shot{index}.mov"),
            source_start=200 / rate, handle_before_samples=before, handle_after_samples=after,
        )  # fmt: skip
        path = tmp_path / f"c{index}_take1.wav"
        if noise:
            length = before + segment.num_samples + after
            sound = np.random.default_rng(index).uniform(-0.2, 0.2, length)
            soundfile.write(path, sound, SAMPLE_RATE, subtype="PCM_24")
        segments.append(segment)
        generated.append(
            GeneratedAudio(
                clip_id=segment.clip_id,
                path=str(path),
                start_sample=segment.start_sample,
                num_samples=segment.num_samples,
                handle_before_samples=before,
                handle_after_samples=after,
                provenance={"generator": "test", "take": 1},
            )  # fmt: skip
        )
    write_audio_tracks(timeline, segments, generated)
    return timeline, generated


def test_v2a_clips_read_back_to_the_sample_at_29_97(tmp_path):
    """At 29.97 fps a frame is 1601.6 samples: a handle of two frames is 3,203 or 3,204 samples
    depending on where the cut falls, and counted in frames it read back one sample off."""
    # the cut at frame 36 has a two-frame handle of 3,204 samples
    timeline, generated = _cut_edit(tmp_path, [0, 36, 83, 120], 30000 / 1001)
    assert generated[1].handle_before_samples == 3204
    written, fallback, note = write_timeline(timeline, str(tmp_path / "ntsc.kdenlive"), "kdenlive")
    # Converted to Kdenlive, v2a's crossfades are in the project: no note, no .otio beside it.
    assert written.endswith(".kdenlive") and not fallback and not note

    def ranges(track):
        return [
            (
                to_samples(clip.source_range.start_time),
                to_samples(clip.source_range.duration),
                to_samples(clip.media_reference.available_range.start_time),
                to_samples(clip.media_reference.available_range.duration),
            )
            for clip in track.find_clips()
        ]

    def crossfades(track):
        return [
            (to_samples(item.in_offset), to_samples(item.out_offset))
            for item in track
            if isinstance(item, otio.schema.Transition)
        ]

    read_back = find_v2a_tracks(read_timeline(written), "SFX")[0]
    laid = find_v2a_tracks(timeline, "SFX")[0]
    assert ranges(read_back) == ranges(laid)
    assert crossfades(read_back) == crossfades(laid) == [(3204, 3203), (3203, 3203)]


@pytest.mark.skipif(shutil.which("melt") is None, reason="MLT's melt is not installed")
def test_mlt_plays_crossfades_around_a_short_clip_as_written(tmp_path):
    """Crossfades one after another (the third clip on the track's first playlist: a reversed
    mix), around a clip of 3 frames between 2-frame handles. Each clip keeps a frame where it
    plays alone, which the mix out of it starts on, so the crossfade out of the short clip
    starts at its cut (v2a laid it a frame before); melt plays each one as the project says,
    to the sample, and the clips read back as laid."""
    timeline, _ = _cut_edit(tmp_path, [0, 30, 60, 63, 100], FPS, noise=True)
    written, fallback, _ = write_timeline(timeline, str(tmp_path / "cuts.kdenlive"), "kdenlive")
    laid = find_v2a_tracks(timeline, "SFX")[0]
    (read,) = find_v2a_tracks(read_timeline(written), "SFX")
    assert _crossfade_sides(laid) == [(3840, 3840), (3840, 3840), (1920, 3840)]
    assert _crossfade_sides(read) == [(3840, 3840), (3840, 3840), (0, 3840)]
    assert [_placement(clip) for clip in read.find_clips()] == [
        _placement(clip) for clip in laid.find_clips()
    ]
    # What v2a's track plays alone (the editor's shots here have no media).
    tree = ET.parse(written)
    tree.getroot().set("producer", _v2a_tractor(tree.getroot()).get("id"))
    document = tmp_path / "v2a_track.mlt"
    tree.write(document)
    _render(document, 100, tmp_path / "render.wav")
    heard, _ = soundfile.read(tmp_path / "render.wav")
    assert np.abs(heard - _track_sound(read, len(heard))).max() < 1e-3



@pytest.mark.skipif(shutil.which("melt") is None, reason="MLT's melt is not installed")
@pytest.mark.parametrize("rate", [30000 / 1001, 30])
def test_mlt_plays_takes_cut_past_their_first_frame_to_the_sample_at_29_97_and_30(tmp_path, rate):
    """The docs said melt 7.12 played a take whose entry starts past its file's first frame (a
    handle before) a few hundred samples late at 29.97 and 30 fps (3,670 samples in for 3,203).
    Measured with Debian's melt 7.12.0: every take, each cut 2 frames in, plays to the sample."""
    timeline, generated = _cut_edit(tmp_path, [0, 30, 60, 90, 130], rate, noise=True)
    assert {audio.handle_before_samples for audio in generated[1:]} <= {3200, 3203, 3204}
    written, _, _ = write_timeline(timeline, str(tmp_path / "cuts.kdenlive"), "kdenlive")
    (read,) = find_v2a_tracks(read_timeline(written), "SFX")
    _render(Path(written), 130, tmp_path / "render.wav")  # the shots have no media: v2a's alone
    heard, _ = soundfile.read(tmp_path / "render.wav")
    assert np.abs(heard - _track_sound(read, len(heard))).max() < 1e-3

def _crossfade_sides(track: otio.schema.Track) -> list[tuple[int, int]]:
    return [
        (to_samples(item.in_offset), to_samples(item.out_offset))
        for item in track
        if isinstance(item, otio.schema.Transition)
    ]


def _placement(clip: otio.schema.Clip) -> tuple[int, int, int, int, int]:
    """Where a clip sits on its track, and which samples of its take it plays, in samples."""
    return (
        to_samples(clip.range_in_parent().start_time),
        to_samples(clip.source_range.start_time),
        to_samples(clip.source_range.duration),
        to_samples(clip.media_reference.available_range.start_time),
        to_samples(clip.media_reference.available_range.duration),
    )


def _track_sound(track: otio.schema.Track, length: int) -> np.ndarray:
    """What a v2a track says it plays: each take under its clip, and over each crossfade the
    outgoing take fading out linearly as the incoming one fades in."""
    items = list(track)
    gains, sound = {}, np.zeros(length)
    for clip in track.find_clips():
        start, duration = _placement(clip)[0], _placement(clip)[2]
        gains[id(clip)] = np.zeros(length)
        gains[id(clip)][start : start + duration] = 1
    for index, item in enumerate(items):
        if isinstance(item, otio.schema.Transition):
            outgoing, incoming = items[index - 1], items[index + 1]
            cut = _placement(incoming)[0]
            first, end = cut - to_samples(item.in_offset), cut + to_samples(item.out_offset)
            fade_in = (np.arange(first, end) - first) / (end - first)
            gains[id(incoming)][first:end] = fade_in
            gains[id(outgoing)][first:end] = 1 - fade_in
    for clip in track.find_clips():
        start, source, _, available, _ = _placement(clip)
        take, _ = soundfile.read(url_to_path(clip.media_reference.target_url))
        played = np.flatnonzero(gains[id(clip)])
        sound[played] += take[played - start + source - available] * gains[id(clip)][played]
    return sound


def test_what_the_kdenlive_adapter_drops_is_said_and_kept_beside_it(tmp_path, capsys):
    # The sample has a dissolve, and v2a crossfades under it: the Kdenlive adapter writes no
    # transitions. FCPXML's note said what it lost; Kdenlive's said nothing, and the adapter's
    # banner and a line per transition were printed into v2a's own output.
    result = _generate(SAMPLES / "sample.otio", tmp_path / "out", output_format="kdenlive")

    assert result.timeline_path.endswith(".kdenlive")
    assert "writes no transitions: the editor's 1 in this timeline" in result.format_note
    kept = otio.adapters.read_from_file(result.fallback_otio_path)
    assert kept.find_children(descended_from_type=otio.schema.Transition)
    assert capsys.readouterr().out == ""
    # v2a's own crossfades are in the project, as same-track mixes (the note said them lost).
    root = ET.fromstring(Path(result.timeline_path).read_text(encoding="utf-8"))
    mixes = _v2a_tractor(root).findall("transition")
    (track,) = find_v2a_tracks(kept, "SFX")
    assert len(mixes) == len(track.find_children(descended_from_type=otio.schema.Transition)) > 0


# --- the editor's own project --------------------------------------------------------------------

# A project laid out as Kdenlive 24.08 saves one (document version 1.1: media played through
# chains, the timeline a sequence tractor wrapped by the project tractor; after KDE's
# kdenlive-test-suite projects), written by hand: an audio clip with a fade-in, two shots joined
# by a same-track mix, the first in sepia, a title and a reversed clip on V2, a composition, a
# guide. The adapter's rewrite dropped the title, the mix, the effect and the composition.
EDIT = Path(__file__).resolve().parent / "kdenlive" / "edit.kdenlive"


@pytest.fixture
def edit(tmp_path) -> Path:
    folder = tmp_path / "project"
    (folder / "media").mkdir(parents=True)
    shutil.copy(SAMPLES / "media" / MOVIE, folder / "media" / MOVIE)
    # Kdenlive saves a project's folder as its root, its media relative to that.
    text = EDIT.read_text(encoding="utf-8").replace('root=""', f'root="{folder}"', 1)
    (folder / EDIT.name).write_text(text, encoding="utf-8")
    return folder / EDIT.name


def _parse(path: Path) -> ET.Element:
    parser = ET.XMLParser(target=ET.TreeBuilder(insert_comments=True))
    return ET.fromstring(path.read_text(encoding="utf-8"), parser=parser)


_TRACKS_COUNT = "property[@name='kdenlive:sequenceproperties.tracksCount']"


def _without_v2a(written: ET.Element, original: ET.Element) -> ET.Element:
    """A copy of `written` less every element the editor's project did not have: v2a's (and
    less v2a's tracks in the sequence's track count)."""
    written = copy.deepcopy(written)
    for count in written.iter("property"):
        if count.get("name") == "kdenlive:sequenceproperties.tracksCount":
            count.text = original.find(f".//{_TRACKS_COUNT}").text
    ids = {item.get("id") for item in original.iter() if item.get("id")}
    for parent in list(written.iter()):
        for child in list(parent):
            added = child.get("id") is not None and child.get("id") not in ids
            names_added = child.tag in ("track", "entry") and child.get("producer") not in ids
            if added or names_added:
                parent.remove(child)
    return written


def _canonical(root: ET.Element) -> str:
    root.attrib.pop("root", None)  # where MLT finds the media from: see the test below
    return ET.canonicalize(ET.tostring(root, encoding="unicode"), strip_text=True)


def test_the_editors_project_comes_back_whole_with_v2a_track_added(edit, tmp_path):
    """The adapter rewrote the whole project from what it read: the title and the reversed
    clip became "Unsupported clip type" placeholders, the mix, the composition and the sepia
    effect were dropped. Now every element the editor saved is there as they saved it."""
    result = _generate(edit, tmp_path / "out")
    assert len(result.generated) == 4  # the title is drawn over the picture, planned beneath it
    written = _parse(Path(result.timeline_path))

    assert _canonical(_without_v2a(written, _parse(edit))) == _canonical(_parse(edit))
    text = Path(result.timeline_path).read_text(encoding="utf-8")
    assert "Unsupported clip type" not in text
    entries = _v2a_entries(result.timeline_path)
    assert [Path(_resource(producer)).name for _, _, producer in entries] == [
        Path(audio.path).name for audio in result.generated
    ]
    # Each take is a clip of the project bin, as Kdenlive finds a timeline clip's bin clip.
    main_bin = written.find("playlist[@id='main_bin']")
    assert {entry.get("producer") for entry in main_bin.iter("entry")} >= {
        producer.get("id") for _, _, producer in entries
    }


def test_the_editors_media_stay_found_from_the_output_folder(project, tmp_path):
    """A project without a root names its media relative to its own folder; written into the
    output folder as it was, it named files that are not there: the picture went offline."""
    result = _generate(project, tmp_path / "out")
    written = _parse(Path(result.timeline_path))
    root = written.get("root") or str(Path(result.timeline_path).parent)
    resources = (  # a timewarp's file is its warp_resource
        item.findtext("property[@name='warp_resource']") or _resource(item)
        for item in written.iter("producer")
    )
    movies = {resource for resource in resources if MOVIE in (resource or "")}
    assert movies and all((Path(root) / movie).is_file() for movie in movies)
    # and v2a finds them there again on a re-run
    again = plan_segments(read_timeline(result.timeline_path), timeline_path=result.timeline_path)
    assert [s.status for s in again] == ["ok"] * 4


def test_a_rerun_refills_v2a_track_in_the_editors_project(edit, tmp_path):
    """Regenerating one clip replaces what v2a's track holds: one V2A SFX track, its new take
    in place of the old one (whose producer and bin clip go), the rest of the project as the
    editor saved it."""
    out = tmp_path / "out"
    first = _generate(edit, out)
    clip_id = first.generated[1].clip_id
    again = _generate(Path(first.timeline_path), out, clips=[clip_id])
    written = _parse(Path(again.timeline_path))

    assert _canonical(_without_v2a(written, _parse(edit))) == _canonical(_parse(edit))
    names = [t.findtext("property[@name='kdenlive:track_name']") for t in written.iter("tractor")]
    assert names.count("V2A SFX") == 1
    files = [Path(_resource(p)).name for _, _, p in _v2a_entries(again.timeline_path)]
    assert files == [
        f"{clip_id}_take2.wav" if audio.clip_id == clip_id else Path(audio.path).name
        for audio in first.generated
    ]
    resources = [p.findtext("property[@name='resource']") for p in written.iter("chain")]
    assert not any(r.endswith(f"{clip_id}_take1.wav") for r in resources)
    main_bin = written.find("playlist[@id='main_bin']")
    assert len(main_bin.findall("entry")) == 3 + len(first.generated)


def test_a_project_changed_since_it_was_read_is_not_overwritten_with_a_stale_copy(edit, tmp_path):
    """What v2a adds goes into the project as it read it; one saved again meanwhile is written
    by the adapter, from what v2a read, and the note says so."""
    timeline = read_timeline(edit)
    edit.write_text(edit.read_text(encoding="utf-8") + "\n", encoding="utf-8")
    out = tmp_path / "out"
    out.mkdir()
    _, _, note = write_timeline(timeline, str(out / edit.name), "kdenlive", str(edit.parent))
    assert "changed since v2a read it" in note


@pytest.mark.skipif(shutil.which("melt") is None, reason="MLT's melt is not installed")
def test_mlt_plays_each_take_in_the_editors_project(edit, tmp_path):
    """In the editor's own project (every audio track mixed into the timeline, as Kdenlive
    does), v2a's track is mixed in too: what plays is the editor's sound plus each take under
    its picture (crossfaded where two touch: the reversed clip's and the next shot's). Not
    mixed, v2a's track on top played alone and the editor's sound went."""
    result = _generate(edit, tmp_path / "out", NoiseGenerator())
    frames = max(a.start_sample + a.num_samples for a in result.generated) // SAMPLES_PER_FRAME
    _render(edit, frames, tmp_path / "before.wav")  # the project tractor, as Kdenlive plays it
    _render(Path(result.timeline_path), frames, tmp_path / "after.wav")
    before, _ = soundfile.read(tmp_path / "before.wav")
    expected = before + _as_v2a_lays_it(result.generated, len(before))
    after, _ = soundfile.read(tmp_path / "after.wav")
    assert np.abs(before).max() > 0.01  # the editor's own sound is in the mix
    assert np.abs(after - expected).max() < 1e-3  # 16-bit rendering


def test_a_project_with_an_audio_fade_in_reads(edit):
    """Kdenlive writes no `in` on a producer starting at the file's first frame, and none on a
    fade-in filter: the adapter timed the fade from the producer's `in` and failed ('NoneType'
    object has no attribute 'replace'), so no such project could be read."""
    timeline = read_timeline(edit)
    assert [track.name for track in timeline.tracks] == ["Dialogue", "Picture", "Titles"]
    dialogue = timeline.tracks[0].find_clips()[0]
    assert [effect.effect_name for effect in dialogue.effects] == ["fadein"]
    assert dialogue.effects[0].metadata["duration"].value == 10


def _tracks_with_takes(path: str) -> dict[str, list[str]]:
    """Track name -> the take files its clips play, for each track of the project playing any."""
    written, by_id = ET.XMLID(Path(path).read_text(encoding="utf-8"))
    tracks = {}
    for tractor in written.iter("tractor"):
        files = [
            Path(by_id[entry.get("producer")].findtext("property[@name='resource']")).name
            for track in tractor.findall("track")
            if track.get("producer") in by_id
            for entry in by_id[track.get("producer")].iter("entry")
        ]
        if any("_take" in name for name in files):
            tracks[tractor.findtext("property[@name='kdenlive:track_name']")] = files
    return tracks


def test_a_track_of_takes_the_editor_renamed_is_theirs_and_left_as_it_is(edit, tmp_path):
    """A Kdenlive track keeps nothing of v2a's but its name: renamed, it is the editor's, as is
    a track of copies of v2a's takes (test_v2a_track_identity.py). Found by its takes, it was
    refilled (its clips replaced by v2a's) and an editor's track of copied takes with it. A
    re-run leaves it as the editor has it and lays v2a's sound on a "V2A SFX" of its own."""
    first = _generate(edit, tmp_path / "out")
    path = Path(first.timeline_path)
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace(">V2A SFX<", ">my foley<"), encoding="utf-8")
    before = _tracks_with_takes(str(path))
    clip_id = first.generated[1].clip_id
    again = _generate(path, tmp_path / "again", clips=[clip_id])

    after = _tracks_with_takes(again.timeline_path)
    assert list(after) == ["my foley", "V2A SFX"]
    assert after["my foley"] == before["my foley"]
    assert after["V2A SFX"] == [Path(again.generated[0].path).name]


def test_clips_are_named_as_kdenlive_shows_them(edit, tmp_path):
    """Kdenlive 24 keeps a clip's name on its bin clip only: the adapter read every shot
    without a name, and v2a's clips came out as "V2A " beside them."""
    timeline = read_timeline(edit)
    assert [clip.name for clip in timeline.tracks[1].find_clips()] == ["bigbuckbunny"] * 2
    result = _generate(edit, tmp_path / "out")
    again = read_timeline(result.timeline_path)
    (v2a_track,) = find_v2a_tracks(again, "SFX")
    assert [clip.name for clip in v2a_track.find_clips()] == ["V2A bigbuckbunny"] * len(
        result.generated
    )


def test_a_rerun_on_the_editors_project_keeps_the_older_take_and_the_clip_record(edit, tmp_path):
    """Kdenlive 22.04 and later play media through chains, and v2a writes its takes as chains
    there, their record (`kdenlive:v2a`: the clip's id, every take) with them; reading looked
    for records on producers alone, so a re-run lost every older take and the clip's id."""
    out = tmp_path / "out"
    first = _generate(edit, out)
    clip_id = first.generated[1].clip_id
    again = _generate(Path(first.timeline_path), out, clips=[clip_id])

    (track,) = find_v2a_tracks(read_timeline(again.timeline_path), "SFX")
    clips = {clip.metadata.get("v2a", {}).get("clip_id"): clip for clip in track.find_clips()}
    assert sorted(clips) == sorted(audio.clip_id for audio in first.generated)
    clip = clips[clip_id]
    assert clip.active_media_reference_key == "take2"
    takes = {key: Path(ref.target_url).name for key, ref in clip.media_references().items()}
    assert takes == {"take1": f"{clip_id}_take1.wav", "take2": f"{clip_id}_take2.wav"}


def test_a_project_saved_in_kdenlive_while_v2a_runs_on_it_is_left_as_saved(edit, tmp_path):
    """The editor keeps cutting in the project v2a wrote and saves it while a re-run on that
    file generates: the re-run wrote over it the adapter's rewrite of what it had read, so the
    editor's last save was lost (and titles, mixes and effects with it)."""
    out = tmp_path / "out"
    first = _generate(edit, out)
    project = Path(first.timeline_path)
    saved = project.read_text(encoding="utf-8").replace(">V2A SFX<", ">V2A SFX (checked)<")

    def save_in_kdenlive(call: int, step: int) -> None:
        if call == 1 and step == 0:
            project.write_text(saved, encoding="utf-8")

    again = _generate(project, out, SineGenerator(on_step=save_in_kdenlive))
    assert project.read_text(encoding="utf-8") == saved
    assert again.timeline_path == again.fallback_otio_path
    assert again.timeline_path.endswith(".otio") and Path(again.timeline_path).is_file()
    assert "changed since v2a read it" in again.format_note


# The edit's reversed clip (V2, its second entry): a timewarp producer at speed -1 of the
# 132-frame movie, its out point 131, the entry playing its frames 25 to 44.
_REVERSED = '<producer id="producer2" in="00:00:00.000" out="00:00:05.240">'
_REVERSED_LENGTH = (
    '<property name="length">132</property>\n'
    '  <property name="eof">pause</property>\n'
    '  <property name="resource">-1:'
)
_REVERSED_SPEED = '<property name="warp_speed">-1</property>'


def _reversed_variant(edit: Path, variant: str) -> Path:
    """The edit with its reversed clip's producer as `variant` says: "as saved"; "without out"
    (MLT takes its length less one); "at -200%" (as Kdenlive writes one: length and out of the
    sped-up clip, 66 frames)."""
    text = edit.read_text(encoding="utf-8")
    assert _REVERSED in text and _REVERSED_LENGTH in text
    if variant == "without out":
        text = text.replace(_REVERSED, '<producer id="producer2">')
    elif variant == "at -200%":
        text = text.replace(_REVERSED, _REVERSED.replace("05.240", "02.600"))
        faster = _REVERSED_LENGTH.replace("132", "66").replace("-1:", "-2:")
        text = text.replace(_REVERSED_LENGTH, faster)
        text = text.replace(_REVERSED_SPEED, _REVERSED_SPEED.replace("-1", "-2"))
    edit.write_text(text, encoding="utf-8")
    return edit


def _reversed_segment(project: Path) -> Segment:
    segments = plan_segments(read_timeline(project), timeline_path=str(project))
    (segment,) = [  # it starts 40 frames in, after a blank and the title
        s for s in segments if s.track_index == 1 and s.start_sample == 40 * SAMPLES_PER_FRAME
    ]
    return segment


def _melt_frames(project: Path, folder: Path) -> list[int]:
    """The numbers of the frames melt shows for the reversed clip: its producer and its entry
    alone, from the project as saved, rendered to PNGs."""
    root, by_id = ET.XMLID(project.read_text(encoding="utf-8"))
    (entry,) = [
        entry
        for entry in root.iter("entry")
        if by_id[entry.get("producer")].findtext("property[@name='warp_speed']", "1")[0] == "-"
        and by_id[entry.get("producer")].findtext("property[@name='set.test_image']") == "0"
    ]
    document = ET.Element("mlt", {"LC_NUMERIC": "C", "producer": "reversed"})
    if root.get("root"):  # else MLT finds media from the document's folder, as the project's
        document.set("root", root.get("root"))
    document.append(root.find("profile"))
    document.append(by_id[entry.get("producer")])
    ET.SubElement(document, "playlist", {"id": "reversed"}).append(entry)
    mlt = project.parent / "reversed.mlt"  # media relative to the project's folder
    ET.ElementTree(document).write(mlt)
    return _rendered_frame_numbers(mlt, folder)


def _rendered_frame_numbers(mlt: Path, folder: Path, *args: str) -> list[int]:
    """The numbers of the frames melt shows playing the document `mlt` (`args`: melt's, such
    as in and out points), rendered to PNGs in `folder`."""
    return [read_frame_number(image) for image in _rendered_frames(mlt, folder, *args)]


def _rendered_frames(mlt: Path, folder: Path, *args: str) -> list[np.ndarray]:
    """The frames (RGB) melt shows playing the document `mlt` (`args`: melt's, such as in and
    out points), rendered to PNGs in `folder`."""
    folder.mkdir(exist_ok=True)
    command = [
        "melt", "-quiet", str(mlt), *args, "-consumer", f"avformat:{folder}/frame%03d.png",
        "vcodec=png", "terminate_on_pause=1",
    ]  # fmt: skip
    for _ in range(3):  # melt now and then hangs before writing anything (`_render`)
        try:
            subprocess.run(
                command, check=True, capture_output=True, stdin=subprocess.DEVNULL, timeout=30
            )
            break
        except subprocess.TimeoutExpired:
            continue
    else:
        pytest.fail("melt did not finish in three tries of 30 s")
    from PIL import Image

    return [np.asarray(Image.open(png).convert("RGB")) for png in sorted(folder.glob("frame*.png"))]


@pytest.mark.skipif(shutil.which("melt") is None, reason="MLT's melt is not installed")
@pytest.mark.parametrize("variant", ["as saved", "without out", "at -200%"])
def test_a_reversed_clip_shows_the_frames_melt_shows(edit, tmp_path, variant):
    """A reversed clip (a timewarp producer at a negative speed) was read without media: "media
    not found: the timeline names no media file", and no sound for it. MLT plays it from the
    producer's out point back (producer_timewarp.c); v2a now plans it on its file, and the
    frames it decodes for it are those melt shows, on a movie of numbered frames."""
    make_test_movie(str(edit.parent / "media" / MOVIE), frames=132, rate=FPS, size=(320, 180))
    project = _reversed_variant(edit, variant)
    segment = _reversed_segment(project)
    assert segment.status == "ok", segment.problem
    assert segment.speed < 0
    shown = [read_frame_number(frame) for frame in read_segment_frames(segment, FPS, 128)]
    melt = _melt_frames(project, tmp_path)
    assert len(melt) == 20
    assert shown == melt


def test_a_reversed_clip_counted_from_the_files_end_stays_offline_and_says_why(edit):
    """Without the producer's out point or length, MLT counts back from the file's end, which
    the project does not say: the clip stays offline, and the message says it is reversed."""
    text = edit.read_text(encoding="utf-8")
    text = text.replace(_REVERSED, '<producer id="producer2">')
    text = text.replace(_REVERSED_LENGTH, _REVERSED_LENGTH.split("\n", 1)[1])
    edit.write_text(text, encoding="utf-8")
    segment = _reversed_segment(edit)
    assert segment.status == "offline"
    assert "reversed" in segment.problem
    assert "neither an out point nor a length" in segment.problem
    assert "media/bigbuckbunny_320x180.mp4" in segment.problem


@pytest.mark.skipif(shutil.which("melt") is None, reason="MLT's melt is not installed")
def test_a_reversed_clip_the_adapter_writes_plays_the_frames_the_editor_cut(edit, tmp_path):
    """A project changed since v2a read it is written by the adapter, which divided the
    reversed clip's length and in and out points by its speed: a length of -132 and an in
    point of 00:00:-3.480, not the clip the editor cut. Now melt plays the same frames from
    what v2a wrote as from the editor's project, and v2a reads the same clip back."""
    make_test_movie(str(edit.parent / "media" / MOVIE), frames=132, rate=FPS, size=(320, 180))
    timeline = read_timeline(edit)
    edit.write_text(edit.read_text(encoding="utf-8") + "\n", encoding="utf-8")
    out = tmp_path / "out"
    out.mkdir()
    write_timeline(timeline, str(out / edit.name), "kdenlive", str(edit.parent))
    written = out / edit.name
    assert _melt_frames(written, tmp_path / "written") == _melt_frames(edit, tmp_path / "edit")
    again, first = _reversed_segment(written), _reversed_segment(edit)
    assert (again.status, again.speed, again.source_start) == ("ok", -1.0, first.source_start)


def test_a_title_is_drawn_over_the_picture_which_gets_sound_beneath_it(edit):
    """A Kdenlive title (a `kdenlivetitle` producer) was read as a clip whose media was not
    found: reported offline, and the picture beneath it, on the track below, got no sound for
    the title's length. It is a generator now, as titles are in every other format."""
    timeline = read_timeline(edit)
    (title,) = [clip for clip in timeline.tracks[2].find_clips() if clip.name == "Opening title"]
    assert isinstance(title.media_reference, otio.schema.GeneratorReference)
    assert title.media_reference.generator_kind == "kdenlivetitle"

    segments = plan_segments(timeline, timeline_path=str(edit))
    assert "Opening title" not in [segment.clip_name for segment in segments]
    under = title.range_in_parent()
    first, last = under.start_time.value, under.end_time_exclusive().value
    covered = set()
    for segment in segments:
        covered |= set(range(segment.record_start_frame,
                             segment.record_start_frame + segment.record_frames))
    assert set(range(round(first), round(last))) <= covered


# --- projects as other Kdenlive versions and clip types save them ------------------------------

# The edit's V1 shots are entries of this chain (132 frames); its title is a producer.
_CHAIN = '<chain id="chain1" out="00:00:05.240">'
_CHAIN_LENGTH = _CHAIN + '\n  <property name="length">132</property>'
_TITLE = '<producer id="producer1" in="00:00:00.000" out="00:00:04.960">'
_TITLE_LENGTH = '<property name="length">125</property>'
_SECOND_SHOT = '<entry in="00:00:02.400" out="00:00:04.000" producer="chain1">'


def _edit_variant(edit: Path, *replacements: tuple[str, str]) -> Path:
    text = edit.read_text(encoding="utf-8")
    for old, new in replacements:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    edit.write_text(text, encoding="utf-8")
    return edit


def _ranges(timeline: otio.schema.Timeline) -> list[tuple]:
    """(track, clip, source range, available range) of each clip, in frames."""
    result = []
    for track in timeline.tracks:
        for clip in track.find_clips():
            available = getattr(clip.media_reference, "available_range", None)
            result.append((
                track.name, clip.name,
                clip.source_range.start_time.value, clip.source_range.duration.value,
                available and (available.start_time.value, available.duration.value),
            ))  # fmt: skip
    return result


@pytest.mark.parametrize(
    "variant",
    [
        # As Kdenlive saves an image or colour clip, and older projects their media: a length.
        [(_CHAIN, '<chain id="chain1">')],
        # A title with neither in nor out, its length a clock (as Kdenlive 23 saves colour clips).
        [
            (_TITLE, '<producer id="producer1">'),
            (_TITLE_LENGTH, _TITLE_LENGTH.replace("125", "00:00:05.000")),
        ],
    ],
    ids=["chain with a length alone", "title with a clock length alone"],
)
def test_a_producer_without_an_out_point_reads_as_mlt_plays_it(edit, tmp_path, variant):
    """A producer or chain without an out point (Kdenlive writes a length alone for some clip
    types and in older projects) made the project unreadable ("'NoneType' object has no
    attribute 'replace'"). MLT takes its length less one (checked with melt 7.12: a colour
    producer of length 50 without out plays 50 frames of an entry of 100): the clips read as
    from the project with its out point, and v2a gives them sound."""
    saved = _ranges(read_timeline(edit))
    project = _edit_variant(edit, *variant)
    assert _ranges(read_timeline(project)) == saved
    result = _generate(project, tmp_path / "out")
    assert len(result.generated) == 4


def test_a_producer_without_out_point_or_length_reads_the_frames_its_entries_play(edit, tmp_path):
    """Without a length either, MLT plays the file to its end, which the project does not say:
    each clip reads with its entry's frames, the file's available range ending with the last
    frame an entry plays (no handle past it)."""
    saved = _ranges(read_timeline(edit))
    project = _edit_variant(edit, (_CHAIN_LENGTH, '<chain id="chain1">'))
    read = _ranges(read_timeline(project))
    assert [clip[:4] for clip in read] == [clip[:4] for clip in saved]
    # The chain's last entry plays its frames 60 to 100 (00:00:04.000).
    pictures = [clip for clip in read if clip[0] == "Picture"]
    assert pictures and all(clip[4] == (0, 101) for clip in pictures)
    assert len(_generate(project, tmp_path / "out").generated) == 4


def test_an_entry_without_in_and_out_points_plays_its_whole_producer(edit):
    """An entry without in and out points (MLT XML written by hand or by other tools) failed
    to read; MLT plays its producer from in to out (melt 7.12: an entry without `out` of a
    50-frame colour producer, from 10, plays 40 frames)."""
    entry = '<entry in="00:00:00.000" out="00:00:01.400" producer="chain0">'
    project = _edit_variant(edit, (entry, '<entry producer="chain0">'))
    (dialogue,) = read_timeline(project).tracks[0].find_clips()
    assert (dialogue.source_range.start_time.value, dialogue.source_range.duration.value) == (0, 132)


@pytest.mark.parametrize(
    ("variant", "said"),
    [
        (
            [(_CHAIN_LENGTH, '<chain id="chain1">'),
             (_SECOND_SHOT, _SECOND_SHOT.replace(' out="00:00:04.000"', ""))],
            'chain "chain1" (media/bigbuckbunny_320x180.mp4) has neither an out point nor a '
            'length, and its entry on playlist "playlist3" has no out point',
        ),
        (
            [(_SECOND_SHOT, _SECOND_SHOT.replace("chain1", "chain9"))],
            'an entry of playlist "playlist3" plays "chain9", which the project does not define',
        ),
    ],  # fmt: skip
    ids=["no out anywhere", "an undefined producer"],
)
def test_a_project_that_does_not_say_what_a_clip_plays_is_refused_naming_it(edit, variant, said):
    """The adapter failed with "'NoneType' object has no attribute 'replace'" (or a KeyError
    of the producer's id): now the error names the producer and the playlist and what is
    missing."""
    project = _edit_variant(edit, *variant)
    with pytest.raises(TimelineReadError) as raised:
        read_timeline(project)
    message = str(raised.value)
    assert message.startswith(f"{project}: cannot read as Kdenlive project: ")
    assert said in message
    assert "Error" not in message.split("project: ", 1)[1]  # no Python exception's name


def _sequence_tracks(path: Path) -> tuple[str, int]:
    """The sequence's (the timeline's) track count as the project says it, and its tracks less
    the black background, as Kdenlive counts them when it saves."""
    root, by_id = ET.XMLID(path.read_text(encoding="utf-8"))
    (sequence,) = [t for t in root.iter("tractor") if t.find(_TRACKS_COUNT) is not None]
    tracks = [
        t for t in sequence.findall("track")
        if by_id[t.get("producer")].findtext("property[@name='kdenlive:playlistid']") != "black_track"
    ]  # fmt: skip
    return sequence.find(_TRACKS_COUNT).text, len(tracks)


def test_the_sequence_counts_its_tracks_with_v2a_track(edit, tmp_path):
    """Kdenlive 23.04 and later keep a sequence's track count (`tracksCount`, shown as the
    sequence clip's "Tracks" in the bin) and count anew when they save; v2a's track was not
    counted (3 for 4 tracks). A re-run, which refills v2a's track, counts it once."""
    assert _sequence_tracks(edit) == ("3", 3)
    out = tmp_path / "out"
    first = _generate(edit, out)
    assert _sequence_tracks(Path(first.timeline_path)) == ("4", 4)
    again = _generate(Path(first.timeline_path), out, clips=[first.generated[0].clip_id])
    assert _sequence_tracks(Path(again.timeline_path)) == ("4", 4)


_NESTED = (
    Path(__file__).resolve().parents[2].parent
    / "shared" / "fixtures" / "timelines" / "otio" / "nested_example.otio"
)  # fmt: skip


@pytest.mark.skipif(not _NESTED.is_file(), reason="../shared/fixtures is absent")
def test_a_timeline_with_nested_stacks_converted_to_kdenlive_keeps_each_clip_in_place(tmp_path):
    """The adapter skips a stack or track nested in a track: each clip after one was written
    that much earlier (nested_example.otio's last three clips 31, 60 and 64 frames early), and
    the note said nothing. Each nested item is now written as the clips it shows, in its place,
    said in the note; the .otio beside the project keeps the nest."""
    timeline = otio.adapters.read_from_file(str(_NESTED))
    written, fallback, note = write_timeline(timeline, str(tmp_path / "nested.kdenlive"), "kdenlive")

    def starts(track, kind=otio.core.Item):
        return {item.range_in_parent().start_time.value for item in track if isinstance(item, kind)}

    (track,) = read_timeline(written).tracks
    assert starts(timeline.tracks[0], otio.schema.Clip) <= starts(track)
    assert track.duration() == timeline.tracks[0].duration()
    assert "each is written as the clips it shows, in its place" in note
    kept = otio.adapters.read_from_file(fallback)
    assert len(kept.tracks[0].find_children(descended_from_type=otio.schema.Stack)) == 2


# A second sequence, "Sequence 2" (one track: the movie's frames 0 to 29), used as a clip on V2
# in place of the title, as Kdenlive 23.04 and later let an editor nest one timeline in another.
_SEQUENCE = "{aaaaaaaa-62db-4c12-819e-595560599cec}"
_SEQUENCE_XML = f"""
 <playlist id="playlist_s0">
  <entry in="0" out="29" producer="chain1"><property name="kdenlive:id">4</property></entry>
 </playlist>
 <playlist id="playlist_s1"/>
 <tractor id="tractor_s" in="0" out="29">
  <property name="kdenlive:track_name">Inner</property>
  <track hide="audio" producer="playlist_s0"/>
  <track hide="audio" producer="playlist_s1"/>
 </tractor>
 <tractor id="{_SEQUENCE}" in="0" out="29">
  <property name="kdenlive:uuid">{_SEQUENCE}</property>
  <property name="kdenlive:clipname">Sequence 2</property>
  <property name="kdenlive:producer_type">17</property>
  <property name="kdenlive:id">6</property>
  <property name="kdenlive:sequenceproperties.tracksCount">1</property>
  <track producer="producer0"/>
  <track producer="tractor_s"/>
 </tractor>
"""


def _with_a_sequence_as_a_clip(edit: Path) -> Path:
    title = '<entry in="00:00:00.000" out="00:00:01.160" producer="producer1">\n   <property name="kdenlive:id">5</property>'  # noqa: E501
    v2 = " <!-- V2: a title over the mix, then the first shot reversed -->"
    in_bin = '  <entry in="00:00:00.000" out="00:00:04.960" producer="producer1"/>'
    return _edit_variant(
        edit,
        (v2, _SEQUENCE_XML + v2),
        (title, title.replace("producer1", _SEQUENCE).replace(">5<", ">6<")),
        (in_bin, in_bin + f'\n  <entry in="0" out="29" producer="{_SEQUENCE}"/>'),
    )


@pytest.mark.skipif(shutil.which("melt") is None, reason="MLT's melt is not installed")
def test_a_sequence_used_as_a_clip_is_planned_on_the_frames_melt_shows(edit, tmp_path):
    """A sequence used as a clip (Kdenlive 23.04 on) was read as a clip whose media was not
    found: planned offline ("the timeline names no media file"), and the picture beneath it
    got no sound for its 30 frames. It is read as that sequence (a nested stack), its picture
    planned like the timeline's own: the frames v2a decodes for it are those melt shows."""
    make_test_movie(str(edit.parent / "media" / MOVIE), frames=132, rate=FPS, size=(320, 180))
    project = _with_a_sequence_as_a_clip(edit)
    segments = plan_segments(read_timeline(project), timeline_path=str(project))
    assert all(segment.status == "ok" for segment in segments), [s.problem for s in segments]
    (nested,) = [s for s in segments if s.track_index == 1 and s.record_start_frame == 10]
    assert nested.record_frames == 30
    shown = [read_frame_number(frame) for frame in read_segment_frames(nested, FPS, 128)]

    # The sequence alone, from its first frame: the project tractor (which melt plays, the
    # document's last) playing it rather than the timeline.
    document = project.with_suffix(".mlt")
    root = ET.fromstring(project.read_text(encoding="utf-8"))
    root.findall("tractor")[-1].find("track").set("producer", _SEQUENCE)
    ET.ElementTree(root).write(document)
    assert shown == _rendered_frame_numbers(document, tmp_path / "melt", "in=0", "out=29")
    assert shown == list(range(30))


def test_a_sequence_used_as_a_clip_many_times_is_read_once(edit, monkeypatch):
    """Each use of a sequence as a clip read the whole project again (with that sequence as its
    timeline): a project of N clips using one sequence M times took M + 1 reads of N clips.
    The sequence is read once, and each use gets its own copy of what it holds."""
    uses = 12
    project = _with_a_sequence_as_a_clip(edit)
    use = (f'<entry in="0" out="29" producer="{_SEQUENCE}">'
           '<property name="kdenlive:id">6</property></entry>')
    shot = '<entry in="00:00:01.000" out="00:00:01.760" producer="producer2">'
    end = '<property name="kdenlive:id">4</property>\n  </entry>\n </playlist>'
    _edit_variant(project, (shot + "\n   " + end, shot + "\n   " + end.replace(
        " </playlist>", use * (uses - 1) + "\n </playlist>")))
    reads = []
    read = otio.adapters.read_from_string

    def counted(text, adapter_name=None, **options):
        reads.append(adapter_name)
        return read(text, adapter_name=adapter_name, **options)

    monkeypatch.setattr(otio.adapters, "read_from_string", counted)
    timeline = read_timeline(project)

    stacks = timeline.tracks[2].find_children(descended_from_type=otio.schema.Stack)
    assert [stack.name for stack in stacks] == ["Sequence 2"] * uses
    clips = [clip for stack in stacks for clip in stack.find_clips()]
    assert len({id(clip) for clip in clips}) == len(clips) == uses
    assert reads == ["kdenlive", "kdenlive"]  # the project, then the sequence once


def test_guides_and_markers_of_the_editors_own_categories_read(edit):
    """An editor can add guide categories to Kdenlive's nine; a guide or clip marker of one (a
    `type` of 9 and on) made the project unreadable (the adapter's KeyError: 9)."""
    guide = '"type": 0'
    marker = '<property name="kdenlive:clipname">bigbuckbunny</property>'
    clip_markers = '[{"pos": 5, "comment": "door", "type": 11}]'
    project = _edit_variant(
        edit,
        (guide, '"type": 9'),
        (marker, marker + f'\n  <property name="kdenlive:markers">{clip_markers}</property>'),
    )
    timeline = read_timeline(project)
    assert [marker.name for marker in timeline.tracks.markers] == ["title in"]
    shots = timeline.tracks[1].find_clips()
    assert [marker.name for clip in shots for marker in clip.markers] == ["door", "door"]


def test_a_clip_disabled_in_kdenlive_gets_no_sound_and_the_picture_beneath_does(edit):
    """Kdenlive disables a clip by playing it through a copy of its producer that shows no
    picture and plays no sound (`set.test_image` and `set.test_audio` 1: the picture beneath
    shows through). The adapter read it as any clip: v2a made sound for a clip no one sees,
    and none for the picture beneath it."""
    reversed_shows = '<property name="set.test_audio">1</property>\n  <property name="set.test_image">0</property>\n </producer>'  # noqa: E501
    assert _planned_over(edit, 40, 60) == [(1, "bigbuckbunny", 40, 20)]  # V2's reversed clip
    project = _edit_variant(edit, (reversed_shows, reversed_shows.replace(">0<", ">1<")))
    assert _planned_over(project, 40, 60) == [(0, "bigbuckbunny", 40, 20)]  # V1's shot beneath


def _planned_over(project: Path, first: int, end: int) -> list[tuple[int, str, int, int]]:
    """(video track, clip, first frame, frames) of what v2a plans between two record frames."""
    segments = plan_segments(read_timeline(project), timeline_path=str(project))
    return [
        (s.track_index, s.clip_name, max(s.record_start_frame, first),
         min(s.record_start_frame + s.record_frames, end) - max(s.record_start_frame, first))
        for s in segments
        if s.record_start_frame < end and s.record_start_frame + s.record_frames > first
    ]  # fmt: skip


@pytest.mark.parametrize("hide", ["video", "both"])
def test_a_video_track_hidden_in_kdenlive_gets_no_sound_and_the_picture_beneath_does(edit, hide):
    """Kdenlive hides a video track (its eye switched off) by hiding it in the timeline's
    tractor (`hide="video"`, or "both" when muted too): the tracks beneath show through. The
    adapter read it as any track: v2a made sound for pictures no one sees."""
    track = '<track producer="tractor2"/>'
    project = _edit_variant(edit, (track, track.replace("/>", f' hide="{hide}"/>')))
    assert _planned_over(project, 40, 60) == [(0, "bigbuckbunny", 40, 20)]  # V1's shot beneath


def _disable_in_kdenlive(project: Path, take_file: str) -> None:
    """Disable the clip of `take_file` on v2a's track as Kdenlive does: its entry plays a copy
    of the clip's producer that shows no picture and plays no sound (ProjectClip::
    createDisabledMasterProducer: a clone of the producer, `set.test_audio` and
    `set.test_image` 1), saved beside the producer; the bin keeps the producer itself."""
    root, by_id = ET.XMLID(project.read_text(encoding="utf-8"))
    (entry,) = [e for _, e, p in _v2a_entries(str(project)) if _resource(p).endswith(take_file)]
    producer = by_id[entry.get("producer")]
    clone = copy.deepcopy(producer)
    clone.set("id", producer.get("id") + "_disabled")
    for kind in ("audio", "image"):
        clone.find(f"property[@name='set.test_{kind}']").text = "1"
    root.insert(list(root).index(producer) + 1, clone)
    for playlist in root.iter("playlist"):
        for found in playlist.iter("entry") if playlist.get("id") != "main_bin" else ():
            if found.attrib == entry.attrib:
                found.set("producer", clone.get("id"))
    project.write_text(ET.tostring(root, encoding="unicode"), encoding="utf-8")


def _disabled_takes(project: str) -> list[str]:
    """The take files of the clips on v2a's track that play through a disabled producer."""
    return [
        Path(_resource(producer)).name
        for _, _, producer in _v2a_entries(project)
        if producer.findtext("property[@name='set.test_audio']") == "1"
        and producer.findtext("property[@name='set.test_image']") == "1"
    ]


def test_a_take_the_editor_disabled_stays_disabled_across_reruns_and_takes(edit, tmp_path):
    """The editor disables one of v2a's clips in Kdenlive (the one crossfaded into from the
    clip before it). A re-run enabled it again: v2a wrote each entry with its take's own
    producer, and read a disabled clip joined by a mix as enabled. It stays disabled: through
    a run on other clips, and with the new take a full run gives it, as the editor left it."""
    out = tmp_path / "out"
    first = _generate(edit, out)
    path = Path(first.timeline_path)
    clip_id = first.generated[1].clip_id
    _disable_in_kdenlive(path, f"{clip_id}_take1.wav")

    (track,) = find_v2a_tracks(read_timeline(path), "SFX")
    assert [c.metadata["v2a"]["clip_id"] for c in track.find_clips() if not c.enabled] == [clip_id]

    others = [audio.clip_id for audio in first.generated if audio.clip_id != clip_id]
    again = _generate(path, out, clips=others[:1])
    assert _disabled_takes(again.timeline_path) == [f"{clip_id}_take1.wav"]

    full = _generate(Path(again.timeline_path), out)
    assert _disabled_takes(full.timeline_path) == [f"{clip_id}_take2.wav"]
    (track,) = find_v2a_tracks(read_timeline(full.timeline_path), "SFX")
    disabled = [c for c in track.find_clips() if not c.enabled]
    assert [c.metadata["v2a"]["clip_id"] for c in disabled] == [clip_id]
    assert sorted(disabled[0].media_references()) == ["take1", "take2"]
    assert len(_crossfade_sides(track)) == 3  # its crossfades kept with it
    # One bin clip a take: the disabled copy plays the bin's clip, as Kdenlive has it; the
    # replaced take's clip and its copy are gone.
    written = _parse(Path(full.timeline_path))
    resources = [_resource(item) for item in written.iter("chain")]
    assert not any(r.endswith(f"{clip_id}_take1.wav") for r in resources)
    assert sum(r.endswith(f"{clip_id}_take2.wav") for r in resources) == 2
    main_bin = written.find("playlist[@id='main_bin']")
    assert len(main_bin.findall("entry")) == 3 + len(first.generated)



@pytest.mark.skipif(shutil.which("melt") is None, reason="MLT's melt is not installed")
@pytest.mark.parametrize("shot", ["wake up", "stretch (150%)"])  # a timewarp producer's too
def test_mlt_plays_a_shot_disabled_in_another_format_as_kdenlive_plays_a_disabled_clip(
    tmp_path, shot
):
    """A shot switched off in an .otio of v2a's, written as Kdenlive: melt shows no picture
    over it (the black beneath) and plays no sound there (v2a's is switched off with it), as
    Kdenlive plays a disabled clip; the shots beside it show. Before, the shot was a gap in
    the project, which plays the same, but read back it was gone, and a re-run took its sound
    off (test_disabled_shot_formats)."""
    folder = tmp_path / "edit"
    edit = folder / "cut.otio"
    otio.adapters.write_to_file(_sample_from_file_start(folder), str(edit))
    out = tmp_path / "out"
    first = _generate(edit, out, NoiseGenerator())
    timeline = read_timeline(first.timeline_path)
    picture = timeline.video_tracks()[0]
    next(clip for clip in picture.find_clips() if clip.name == shot).enabled = False
    shown = [  # (first frame, end frame, enabled) of each clip on V1
        (round(placed.start_time.value), round(placed.end_time_exclusive().value), clip.enabled)
        for clip in picture.find_clips() for placed in [clip.range_in_parent()]
    ]  # fmt: skip
    ((begin, end, _),) = [place for place in shown if not place[2]]
    timeline.to_json_file(first.timeline_path)
    result = _generate(Path(first.timeline_path), out, NoiseGenerator(), output_format="kdenlive")
    assert Path(result.timeline_path).suffix == ".kdenlive", result.format_note
    written = read_timeline(result.timeline_path)
    picture = written.video_tracks()[0]
    assert [picture.range_of_child(clip).start_time.value
            for clip in picture.find_clips() if not clip.enabled] == [begin]  # fmt: skip
    (track,) = find_v2a_tracks(written, "SFX")
    assert [clip.name for clip in track.find_clips() if not clip.enabled] == [f"V2A {shot}"]
    # A neighbour's sound crossfaded into it plays on past the cut ('burrow''s, as its picture
    # does through the sample's dissolve, which the adapter does not write): silent between.
    index = next(i for i, item in enumerate(track) if item.name == f"V2A {shot}")
    beside = [track[i] if 0 <= i < len(track) else None for i in (index - 1, index + 1)]
    first_silent = begin * SAMPLES_PER_FRAME + sum(
        to_samples(item.out_offset) for item in beside[:1] if isinstance(item, otio.schema.Transition))
    end_silent = end * SAMPLES_PER_FRAME - sum(
        to_samples(item.in_offset) for item in beside[1:] if isinstance(item, otio.schema.Transition))

    tree = ET.parse(result.timeline_path)
    main = list(tree.getroot().iter("tractor"))[-1]
    main.set("id", "v2a_test_main")
    tree.getroot().set("producer", "v2a_test_main")
    document = Path(result.timeline_path).with_suffix(".mlt")
    tree.write(document)
    sound = tmp_path / "sound.wav"
    _render(document, end + 5, sound)
    mix, _ = soundfile.read(sound)
    assert end_silent - first_silent >= 15 * SAMPLES_PER_FRAME
    assert np.abs(mix[first_silent:end_silent]).max() == 0
    assert np.abs(mix[: begin * SAMPLES_PER_FRAME]).mean() > 0.05  # the shots before
    frames = _rendered_frames(document, tmp_path / "frames", f"in={begin - 5}", f"out={end + 4}")
    assert len(frames) == end - begin + 10
    for frame, image in enumerate(frames, start=begin - 5):
        on = any(first <= frame < last and enabled for first, last, enabled in shown)
        assert (image.mean() > 20) if on else (image.mean() < 1), f"frame {frame}"


_TITLE = '<property name="mlt_service">kdenlivetitle</property>'


def _with_a_slideshow(edit: Path, resource: str, ttl: int, service: str = "qimage") -> Path:
    """The project with its title (V2, from frame 10, 30 frames) made a slideshow clip, as Kdenlive
    saves one (SlideshowClip::selectedPath): a `qimage` (or `pixbuf`) producer of the images
    `resource` names, numbered ("img_%03d.png?begin=3") or every one of a type in a folder
    (".all.png"), each shown `ttl` frames (MLT's qimage producer)."""
    return _edit_variant(
        edit,
        ('<property name="resource"/>', f'<property name="resource">{resource}</property>'),
        (_TITLE, f'<property name="mlt_service">{service}</property>\n'
                 f'  <property name="ttl">{ttl}</property>'),
        ('<property name="kdenlive:clip_type">6</property>',
         '<property name="kdenlive:clip_type">5</property>'),
    )


@pytest.mark.parametrize(("ttl", "service"), [(1, "qimage"), (4, "qimage"), (4, "pixbuf")])
def test_a_slideshow_clip_is_read_as_its_image_sequence(edit, ttl, service):
    """A Kdenlive slideshow clip plays numbered images, each `ttl` frames (an image sequence
    at 1). The adapter read it as a file named by the pattern, which is no file (a `pixbuf`
    one as no media at all): offline, and no sound for it. It is that image sequence, from
    the image `begin` names, each image held as MLT holds it."""
    make_image_sequence(str(edit.parent / "media" / "frames"), "img_", ".png", 3, 40, 3)
    project = _with_a_slideshow(edit, "media/frames/img_%03d.png?begin=3", ttl, service)
    segments = plan_segments(read_timeline(project), timeline_path=str(project))
    (segment,) = [s for s in segments if s.track_index == 1 and s.record_start_frame == 10]
    assert segment.status == "ok", segment.problem
    assert segment.media.image_sequence is not None
    shown = [read_frame_number(frame) for frame in read_segment_frames(segment, FPS, 128)]
    assert shown == [3 + frame // ttl for frame in range(30)]


def test_a_slideshow_of_every_image_in_a_folder_stays_offline_and_says_why(edit):
    """Kdenlive's other slideshow, every image of a type in a folder in name order
    (".all.png"), names no numbered sequence an image-sequence reference can hold."""
    make_image_sequence(str(edit.parent / "media" / "frames"), "img_", ".png", 3, 40, 3)
    project = _with_a_slideshow(edit, "media/frames/.all.png", 25)
    segments = plan_segments(read_timeline(project), timeline_path=str(project))
    (segment,) = [s for s in segments if s.track_index == 1 and s.record_start_frame == 10]
    assert segment.status == "offline"
    assert "slideshow" in segment.problem and "every .png image" in segment.problem


def test_a_slideshow_clip_gets_sound_and_stays_as_the_editor_saved_it(edit, tmp_path):
    make_image_sequence(str(edit.parent / "media" / "frames"), "img_", ".png", 3, 40, 3)
    project = _with_a_slideshow(edit, "media/frames/img_%03d.png?begin=3", 4)
    result = _generate(project, tmp_path / "out")
    assert 10 * SAMPLES_PER_FRAME in [audio.start_sample for audio in result.generated]
    written = _parse(Path(result.timeline_path))
    assert _canonical(_without_v2a(written, _parse(project))) == _canonical(_parse(project))
    again = plan_segments(read_timeline(result.timeline_path), timeline_path=result.timeline_path)
    assert [s.status for s in again] == ["ok"] * len(again)


def test_effects_the_editor_put_on_a_v2a_clip_stay_with_it_across_reruns_and_takes(edit, tmp_path):
    """The editor turns one of v2a's clips down in Kdenlive (a `volume` filter in its playlist
    entry, as Kdenlive keeps a clip's effects). A re-run rewrote every entry of v2a's track and
    the effect was gone, the clip loud again, even where the clip was not regenerated. Effects
    are the editor's: they stay on the clip, its new take too."""
    out = tmp_path / "out"
    first = _generate(edit, out)
    path = Path(first.timeline_path)
    clip_id = first.generated[2].clip_id
    gain = '<filter id="filter9"><property name="mlt_service">volume</property>' \
           '<property name="kdenlive_id">volume</property><property name="level">-12</property></filter>'
    entry = next(e for _, e, p in _v2a_entries(str(path)) if _resource(p).endswith(f"{clip_id}_take1.wav"))
    opening = f'<entry producer="{entry.get("producer")}" in="{entry.get("in")}" out="{entry.get("out")}">'
    text = path.read_text(encoding="utf-8")
    assert text.count(opening) == 1
    path.write_text(text.replace(opening, opening + gain), encoding="utf-8")

    def turned_down(project: str) -> list[str]:
        return [Path(_resource(p)).name for _, e, p in _v2a_entries(project)
                if e.findtext("filter/property[@name='level']") == "-12"]

    others = [audio.clip_id for audio in first.generated if audio.clip_id != clip_id]
    again = _generate(path, out, clips=others[:1])
    assert turned_down(again.timeline_path) == [f"{clip_id}_take1.wav"]
    full = _generate(Path(again.timeline_path), out)
    assert turned_down(full.timeline_path) == [f"{clip_id}_take2.wav"]
    ids = [f.get("id") for f in _parse(Path(full.timeline_path)).iter("filter")]
    assert len(ids) == len(set(ids))
