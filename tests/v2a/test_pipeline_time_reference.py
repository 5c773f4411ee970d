"""A take's bext time reference is where its first sample sits from midnight, rounded once
from the exact time: at 59.94 drop frame a frame is 800.8 samples and 01:00:00;00 is
172,799,827.2 samples, so rounding the start timecode and the record position apart was up to
0.8 sample off, and a sample away from what a frame-based format declares for the file."""

from __future__ import annotations

import os
from fractions import Fraction

import numpy as np
import opentimelineio as otio

from otio_adapters.read import read_timeline
from otio_adapters.takes import find_v2a_tracks, to_samples, url_to_path
from v2a.contracts import SAMPLE_RATE, GenerationRequest
from v2a.media.audio import read_bext
from v2a.media.synth import make_test_movie
from v2a.media.timecode import timecode_to_frames
from v2a.pipeline import run_generation

RT = otio.opentime.RationalTime
TR = otio.opentime.TimeRange
RATE = Fraction(60000, 1001)


class _Steady:
    name = "steady-test-double"
    frame_rate = 2.0
    frame_size = 16

    def generate(self, frames, fps, num_samples, params, progress=None, cancel=None, kept=None):
        return np.full(num_samples, 0.25, np.float32)

    def provenance(self) -> dict:
        return {"generator": self.name}


def test_time_references_at_59_94_drop_frame_are_exact_and_as_the_xml_declares(tmp_path):
    movie = str(tmp_path / "m.mp4")
    make_test_movie(movie, frames=300, rate=RATE, size=(32, 32))
    video = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    for name, frames in (("a", 61), ("b", 67), ("c", 73)):  # record starts 0, 61, 128
        video.append(otio.schema.Clip(
            name=name, source_range=TR(RT(30, 59.94), RT(frames, 59.94)),
            media_reference=otio.schema.ExternalReference(
                target_url=movie, available_range=TR(RT(0, 59.94), RT(300, 59.94)))))
    start = timecode_to_frames("01:00:00;00", RATE)  # 215,784 frames
    timeline = otio.schema.Timeline(name="df", global_start_time=RT(start, 59.94))
    timeline.tracks.append(video)
    path = str(tmp_path / "df.otio")
    otio.adapters.write_to_file(timeline, path)

    result = run_generation(GenerationRequest(path, str(tmp_path / "out"),
                                              output_format="fcp_xml"), _Steady())
    handle = 5  # frames: 0.08 s at 59.94, rounded
    first_frames = {"a": 0, "b": 61 - handle, "c": 128 - handle}
    for audio in result.generated:
        frame = start + first_frames[audio.provenance["source_clip"]]
        exact = frame / RATE * SAMPLE_RATE
        reference = read_bext(audio.path)["time_reference"]
        assert abs(reference - exact) <= Fraction(1, 2), (audio.provenance["source_clip"],
                                                          reference, float(exact))
    # c's first sample is at 172,898,325.6: one rounding gives ...326, as FCP7 XML declares it.
    (track,) = find_v2a_tracks(read_timeline(result.timeline_path), "SFX")
    for clip in track.find_clips():
        reference = clip.media_reference
        declared = to_samples(reference.available_range.start_time)
        assert declared == read_bext(url_to_path(reference.target_url))["time_reference"]
    assert os.path.isfile(result.timeline_path)
