"""`v2a generate --stem`: v2a's tracks as the timeline plays them, in one WAV from its start."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import numpy as np
import opentimelineio as otio
import pytest
import soundfile

from otio_adapters.read import read_timeline
from otio_adapters.stem import render_v2a_sound, write_stem
from otio_adapters.takes import path_to_url, track_name, track_stem
from v2a.contracts import SAMPLE_RATE
from v2a.media.audio import read_bext, read_ixml, read_wav
from v2a.media.errors import MediaError

RT = otio.opentime.RationalTime
TR = otio.opentime.TimeRange
SAMPLES = Path(__file__).resolve().parents[2] / "samples"
FPS = 25
FRAME = SAMPLE_RATE // FPS  # 1,920 samples


def _ramp_take(folder: Path, name: str, length: int, first: float) -> str:
    """A take whose sample i holds first + i / 1e6: where it is read from shows in the values."""
    path = folder / f"{name}.wav"
    soundfile.write(str(path), first + np.arange(length) / 1e6, SAMPLE_RATE, subtype="FLOAT")
    return str(path)


def _v2a_clip(name: str, path: str, origin: int, total: int, before: int, length: int,
              enabled: bool = True) -> otio.schema.Clip:
    """A clip as v2a lays it: its take's available range from `origin` (timeline samples), its
    source range `length` samples from `before` samples into the take."""
    clip = otio.schema.Clip(
        name=name,
        media_reference=otio.schema.ExternalReference(
            target_url=path_to_url(path), available_range=TR(RT(origin, SAMPLE_RATE),
                                                             RT(total, SAMPLE_RATE))),
        source_range=TR(RT(origin + before, SAMPLE_RATE), RT(length, SAMPLE_RATE)),
    )
    clip.enabled = enabled
    return clip


@pytest.fixture()
def timeline(tmp_path) -> otio.schema.Timeline:
    """At 01:00:00:00, 100 frames of picture. v2a's track: `a` 0..40 frames, crossfaded (4 frames
    before the cut, 2 after) into `b` 40..60, a gap, `muted` (disabled) 70..80, then nothing."""
    start = 3600 * SAMPLE_RATE
    a = _ramp_take(tmp_path, "a", 50 * FRAME, first=0.1)
    b = _ramp_take(tmp_path, "b", 30 * FRAME, first=0.3)
    muted = _ramp_take(tmp_path, "muted", 10 * FRAME, first=0.5)
    track = otio.schema.Track(name=track_name("SFX"), kind=otio.schema.TrackKind.Audio,
                              metadata={"v2a": {"track": "SFX"}})
    track.append(_v2a_clip("a", a, start, 50 * FRAME, 0, 40 * FRAME))
    track.append(otio.schema.Transition(in_offset=RT(4 * FRAME, SAMPLE_RATE),
                                        out_offset=RT(2 * FRAME, SAMPLE_RATE)))
    track.append(_v2a_clip("b", b, start + 35 * FRAME, 30 * FRAME, 5 * FRAME, 20 * FRAME))
    track.append(otio.schema.Gap(source_range=TR(RT(0, SAMPLE_RATE), RT(10 * FRAME, SAMPLE_RATE))))
    track.append(_v2a_clip("muted", muted, start + 70 * FRAME, 10 * FRAME, 0, 10 * FRAME,
                           enabled=False))
    video = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    video.append(otio.schema.Gap(source_range=TR(RT(0, FPS), RT(100, FPS))))
    result = otio.schema.Timeline(name="cut", global_start_time=RT(3600 * FPS, FPS))
    result.tracks.extend([video, track])
    return result


def test_each_take_plays_under_its_record_range_and_crossfades_at_equal_power(timeline):
    sound = render_v2a_sound(timeline)

    assert sound.shape == (100 * FRAME,)  # the picture's length, not the audio's
    cut, before, after = 40 * FRAME, 4 * FRAME, 2 * FRAME
    # `a` alone up to the crossfade: its own samples from the take's start.
    np.testing.assert_allclose(sound[: cut - before], 0.1 + np.arange(cut - before) / 1e6, atol=1e-6)
    # `b` alone after it: 5 frames into its take at its record start.
    first_b = cut + after
    np.testing.assert_allclose(sound[first_b : 60 * FRAME],
                               0.3 + (5 * FRAME + after + np.arange(60 * FRAME - first_b)) / 1e6,
                               atol=1e-6)
    # The crossfade: `a` past its end (its handle) falling, `b` before its start rising, sin/cos.
    fade = np.arange(cut - before, cut + after)
    t = (fade - fade[0] + 0.5) / len(fade)
    a_value = 0.1 + fade / 1e6
    b_value = 0.3 + (5 * FRAME + fade - cut) / 1e6
    expected = a_value * np.cos(t * math.pi / 2) + b_value * np.sin(t * math.pi / 2)
    np.testing.assert_allclose(sound[fade], expected, atol=1e-6)
    # The gap, the disabled clip and the picture past the last clip: silence.
    assert not sound[60 * FRAME :].any()


def test_a_take_that_is_gone_is_named(timeline, tmp_path):
    (tmp_path / "b.wav").unlink()
    with pytest.raises(MediaError, match=r"v2a clip 'b': cannot read its take .*b\.wav"):
        render_v2a_sound(timeline)


def test_the_stem_file_starts_at_the_timelines_start_timecode(timeline, tmp_path):
    path = tmp_path / "stems" / "cut_sfx.wav"

    loudness = write_stem(timeline, str(path))

    samples, rate = read_wav(str(path))
    assert rate == SAMPLE_RATE and samples.shape == (100 * FRAME,)
    np.testing.assert_allclose(samples, render_v2a_sound(timeline), atol=2**-22)  # 24-bit
    assert read_bext(str(path))["time_reference"] == 3600 * SAMPLE_RATE
    assert read_ixml(str(path))["PROJECT"] == "cut"
    assert loudness.integrated is not None
    assert [p.name for p in path.parent.iterdir()] == ["cut_sfx.wav"]  # no temp file left


@pytest.mark.parametrize("output_format", ["otio", "xml", "edl", "otioz"])
def test_generate_writes_the_stem_of_what_it_wrote(tmp_path, capsys, output_format):
    """Through the CLI, from the timeline as written (an EDL's .otio beside it, an .otioz's
    takes inside it): each clip's active take in the stem where no crossfade is, to the sample."""
    from v2a.cli import main

    project = tmp_path / "project"
    shutil.copytree(SAMPLES / "media", project / "media")
    shutil.copy(SAMPLES / "sample.otio", project / "cut.otio")
    out, stem = tmp_path / "out", tmp_path / "stems" / "cut.wav"

    code = main(["generate", str(project / "cut.otio"), "--out", str(out), "--output-format",
                 output_format, "--generator", "motion-bursts", "--stem", str(stem)])

    assert code == 0
    assert f"stem: {stem} (" in capsys.readouterr().out
    sound, _ = read_wav(str(stem))
    # The takes' own files (in OUT/audio) and the timeline that names them: the .otio beside an
    # EDL, the FCP7 XML itself; the .otioz's takes are copies of the ones in OUT/audio.
    timeline = read_timeline(out / {"xml": "cut.xml", "otioz": "cut.otioz"}.get(output_format,
                                                                                 "cut.otio"))
    assert len(sound) == round(timeline.video_tracks()[0].duration().to_seconds() * SAMPLE_RATE)
    (track,) = [track for track in timeline.tracks if track_stem(track)]
    compared = 0
    for index, clip in enumerate(track):
        if not isinstance(clip, otio.schema.Clip):
            continue
        placed = track.range_of_child_at_index(index)
        start = round(placed.start_time.to_seconds() * SAMPLE_RATE)
        length = round(placed.duration.to_seconds() * SAMPLE_RATE)
        take, _ = read_wav(str(out / "audio" / Path(clip.media_reference.target_url).name))
        offset = round((clip.source_range.start_time.to_seconds()
                        - clip.media_reference.available_range.start_time.to_seconds()) * SAMPLE_RATE)
        middle = slice(length // 3, 2 * length // 3)  # clear of any crossfade at its ends
        np.testing.assert_allclose(sound[start:start + length][middle],
                                   take[offset:offset + length][middle], atol=2**-21)
        compared += 1
    assert compared == 4


def test_a_stem_path_that_cannot_be_written_is_refused_before_anything_runs(tmp_path, capsys):
    from v2a.cli import main

    code = main(["generate", str(SAMPLES / "sample.otio"), "--out", str(tmp_path / "out"),
                 "--generator", "silence", "--stem", str(tmp_path / "cut.mp3")])
    assert code == 2
    assert f"--stem {tmp_path / 'cut.mp3'}: not a .wav file name" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
