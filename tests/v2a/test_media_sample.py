import os

import opentimelineio as otio
import pytest

from v2a.media.frames import decode_frames_at
from v2a.media.probe import probe_media

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SAMPLES = os.path.join(REPO, "samples")


def test_sample_is_small_and_references_its_media_relatively():
    files = [os.path.join(root, name) for root, _, names in os.walk(SAMPLES) for name in names]
    assert sum(os.path.getsize(path) for path in files) < 3_000_000
    timeline = otio.adapters.read_from_file(os.path.join(SAMPLES, "sample.otio"))
    clips = list(timeline.find_clips())
    assert len(clips) == 4 and len(timeline.video_tracks()) == 1
    assert any(isinstance(item, otio.schema.Transition) for item in timeline.video_tracks()[0])
    for clip in clips:
        url = clip.media_reference.target_url
        assert not os.path.isabs(url) and os.path.exists(os.path.join(SAMPLES, url))


def test_sample_media_timecode_matches_the_timeline_ranges():
    timeline = otio.adapters.read_from_file(os.path.join(SAMPLES, "sample.otio"))
    clip = next(iter(timeline.find_clips()))
    path = os.path.join(SAMPLES, clip.media_reference.target_url)
    info = probe_media(path)
    available = clip.media_reference.available_range
    assert info.start_timecode == pytest.approx(available.start_time.to_seconds())
    assert info.frame_count == available.duration.value and info.fps == 25.0
    for clip in timeline.find_clips():  # every clip's source range decodes
        start = clip.source_range.start_time.to_seconds() - info.start_timecode
        speed = clip.effects[0].time_scalar if clip.effects else 1.0
        end = start + clip.source_range.duration.to_seconds() * speed - 0.04
        assert decode_frames_at(path, [start, end], 16).shape == (2, 16, 16, 3)
