from v2a.contracts import SAMPLE_RATE, MediaSource, Segment


def make_segment(**overrides) -> Segment:
    values = dict(
        clip_id="c1", clip_name="shot", track_index=0, track_name="V1", timeline_rate=24.0,
        record_start_frame=0, record_frames=24, start_sample=0, num_samples=SAMPLE_RATE,
        media=MediaSource(referenced="a.mov", path="/m/a.mov"), source_start=0.0,
    )
    values.update(overrides)
    return Segment(**values)


def test_generated_samples_include_both_handles():
    segment = make_segment(handle_before_samples=100, handle_after_samples=50)
    assert segment.generated_samples == SAMPLE_RATE + 150


def test_media_without_a_path_is_offline():
    assert MediaSource(referenced="lost.mov", path=None).offline
    assert not make_segment().media.offline
