"""End to end through the real command line with the real motion-bursts BASELINE generator:
OTIO's transition sample (four clips, two dissolves) relinked to stand-in media, generated,
written back and read again."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import opentimelineio as otio
import pytest

from otio_adapters.read import read_timeline
from otio_adapters.standin_media import synthesize_media
from otio_adapters.takes import find_v2a_tracks, to_samples
from v2a.media.audio import read_wav

FIXTURE = (
    Path(__file__).resolve().parents[3]
    / "shared"
    / "fixtures"
    / "timelines"
    / "otio"
    / "transition.otio"
)


@pytest.mark.skipif(not FIXTURE.exists(), reason="../shared/fixtures is absent")
def test_generate_command_end_to_end_with_the_baseline(tmp_path):
    media = tmp_path / "media"
    synthesize_media(read_timeline(FIXTURE), str(media))
    out = tmp_path / "out"
    command = [sys.executable, "-m", "v2a.cli", "generate", str(FIXTURE), "--out", str(out)]
    command += ["--relink", str(media), "--generator", "motion-bursts", "--seed", "3"]
    command += ["--prompt", "footsteps on gravel"]
    run = subprocess.run(command, capture_output=True, text=True, timeout=300)

    assert run.returncode == 0, run.stdout + run.stderr
    assert "generated 4 clip(s) with motion-bursts" in run.stdout, run.stdout + run.stderr
    assert "clips: 100%" in run.stderr  # the progress bar ran
    # The takes' loudness at a glance: the quietest and loudest take, the highest true peak.
    levels = re.search(r"^levels: (.*) LUFS \((.*)\), true peak at most (-?\d+\.\d) dBTP$",
                       run.stdout, re.M)
    assert levels, run.stdout
    written = out / "transition.otio"
    assert f"timeline: {written}" in run.stdout

    timeline = otio.adapters.read_from_file(str(written))
    track = find_v2a_tracks(timeline, "SFX")[0]
    video = timeline.video_tracks()[0]
    for audio_clip in track.find_clips():
        provenance = audio_clip.metadata["v2a"]["provenance"]
        assert provenance["generator"] == "motion-bursts" and provenance["kind"] == "baseline"
        assert provenance["seed"] == 3 and provenance["prompt"] == "footsteps on gravel"
        assert provenance["true_peak_dbtp"] <= float(levels.group(3))
        source = next(c for c in video.find_clips() if c.name == provenance["source_clip"])
        want = video.range_of_child(source)
        got = track.range_of_child(audio_clip)
        assert to_samples(got.start_time) == to_samples(want.start_time)
        assert to_samples(got.duration) == to_samples(want.duration)
        samples, _ = read_wav(
            otio.url_utils.filepath_from_url(audio_clip.media_reference.target_url)
        )
        assert samples.shape[0] == to_samples(audio_clip.available_range().duration)
    assert any(isinstance(item, otio.schema.Transition) for item in track)  # the crossfades
