import struct
from fractions import Fraction

import av
import numpy as np
import pytest

from v2a.contracts import SAMPLE_RATE, ImageSequence, MediaSource, Segment
from v2a.media import frames as frames_module
from v2a.media.errors import MediaError
from v2a.media.frames import (
    SegmentFrames,
    decode_frames_at,
    read_image_sequence_at,
    read_segment_frames,
)
from v2a.media.probe import probe_media
from v2a.media.synth import draw_frame, make_image_sequence, make_test_movie, read_frame_number

NTSC, FILM = Fraction(30000, 1001), Fraction(24000, 1001)


def numbers(pictures: np.ndarray) -> list[int]:
    return [read_frame_number(picture) for picture in pictures]


@pytest.fixture(scope="module")
def movies(tmp_path_factory):
    folder = tmp_path_factory.mktemp("decode")
    return {
        rate: make_test_movie(
            str(folder / f"m{round(rate)}.mov"),
            frames=300,
            rate=rate,
            size=(128, 72),
            start_timecode="01:00:00:00",
            keyframe_interval=24,
        )
        for rate in (NTSC, FILM)
    }


def segment_over(path: str, rate: Fraction, first_frame: int, record_frames: int, **overrides):
    """A segment whose record range starts at frame `first_frame` of the media (after its TC)."""
    media_start = probe_media(path).start_timecode
    return segment(
        media=MediaSource(referenced=path, path=path, media_start=media_start, rate=float(rate)),
        source_start=media_start + float(first_frame / rate),
        timeline_rate=float(rate),
        record_frames=record_frames,
        num_samples=round(record_frames / rate * SAMPLE_RATE),
        **overrides,
    )


def segment(**overrides) -> Segment:
    values = dict(
        clip_id="c1",
        clip_name="shot",
        track_index=0,
        track_name="V1",
        timeline_rate=24.0,
        record_start_frame=0,
        record_frames=1,
        start_sample=0,
        num_samples=2000,
        source_start=0.0,
    )
    values.update(overrides)
    return Segment(**values)


@pytest.mark.parametrize("rate", [NTSC, FILM])
def test_segment_decodes_its_exact_frames_after_the_camera_timecode(movies, rate):
    segment = segment_over(movies[rate], rate, first_frame=203, record_frames=10)
    pictures = read_segment_frames(segment, fps=float(rate), size=48)
    assert pictures.shape == (10, 48, 48, 3) and pictures.dtype == np.uint8
    assert numbers(pictures) == list(range(203, 213))


@pytest.mark.parametrize("rate", [NTSC, FILM])
def test_resampled_rate_picks_the_frame_on_screen(movies, rate):
    segment = segment_over(movies[rate], rate, first_frame=100, record_frames=48)
    got = numbers(read_segment_frames(segment, fps=8, size=32))
    expected = [100 + int(i / 8 * rate) for i in range(len(got))]
    assert len(got) == {FILM: 17, NTSC: 13}[rate]  # 8 fps over 2.002 s and 1.602 s
    assert got == expected


def test_reverse_freeze_and_fast_follow_the_picture(movies):
    path = movies[NTSC]
    reverse = segment_over(path, NTSC, first_frame=120, record_frames=6, speed=-1.0)
    assert numbers(read_segment_frames(reverse, float(NTSC), 32)) == [120, 119, 118, 117, 116, 115]
    freeze = segment_over(path, NTSC, first_frame=77, record_frames=4, speed=0.0)
    assert numbers(read_segment_frames(freeze, float(NTSC), 32)) == [77] * 4
    fast = segment_over(path, NTSC, first_frame=10, record_frames=4, speed=2.0)
    assert numbers(read_segment_frames(fast, float(NTSC), 32)) == [10, 12, 14, 16]


def test_handles_extend_generation_before_and_after(movies):
    handle = round(3 / NTSC * SAMPLE_RATE)  # three frames
    segment = segment_over(
        movies[NTSC],
        NTSC,
        first_frame=50,
        record_frames=4,
        handle_before_samples=handle,
        handle_after_samples=handle,
    )
    assert numbers(read_segment_frames(segment, float(NTSC), 32)) == list(range(47, 57))


def test_decoding_near_the_end_seeks_instead_of_scanning(movies, monkeypatch):
    decoded = []
    original = frames_module._FrameCursor._next
    monkeypatch.setattr(
        frames_module._FrameCursor, "_next", lambda self: decoded.append(1) or original(self)
    )
    got = decode_frames_at(movies[NTSC], [float(290 / NTSC)], 32)
    assert numbers(got) == [290]
    assert len(decoded) < 2 * 24 + 2  # within the GOP before frame 290, not 290 frames


def test_frames_on_demand_decode_a_span_at_a_time_once_through_the_file(movies, monkeypatch):
    segment = segment_over(movies[FILM], FILM, first_frame=30, record_frames=200)
    whole = read_segment_frames(segment, float(FILM), 32)
    decoded = []
    original = frames_module._FrameCursor._next
    monkeypatch.setattr(
        frames_module._FrameCursor, "_next", lambda self: decoded.append(1) or original(self)
    )
    with SegmentFrames.at_frame_rate(segment, float(FILM), 32) as frames:
        assert len(frames) == 200 and frames.shape == (200, 32, 32, 3) and frames.dtype == np.uint8
        assert not decoded  # nothing is decoded until asked for
        spans = [frames[np.arange(start, min(200, start + 48))] for start in range(0, 200, 48)]
    np.testing.assert_array_equal(np.concatenate(spans), whole)
    # The spans are read on from where the last one stopped: the frames up to the last one asked
    # for (and the one after it, to know where it ends), not once more from a keyframe per span.
    assert len(decoded) <= 30 + 200 + 1


def test_frames_on_demand_of_a_reverse_clip_seek_back_for_each_span(movies):
    segment = segment_over(movies[NTSC], NTSC, first_frame=250, record_frames=120, speed=-1.0)
    with SegmentFrames.at_frame_rate(segment, float(NTSC), 32) as frames:
        spans = [frames[start : start + 50] for start in range(0, 120, 50)]
        everything = np.asarray(frames)
    assert numbers(np.concatenate(spans)) == list(range(250, 130, -1)) == numbers(everything)


def test_frames_on_demand_of_offline_media_fail_before_any_decoding():
    offline = segment(media=MediaSource(referenced="/nowhere/a.mov", path=None))
    with pytest.raises(MediaError, match="offline"):
        SegmentFrames.at_frame_rate(offline, 24.0, 32)


def test_unsorted_and_repeated_times_keep_the_order_asked(movies):
    times = [float(k / FILM) for k in (250, 3, 250, 120, 4)]
    assert numbers(decode_frames_at(movies[FILM], times, 32)) == [250, 3, 250, 120, 4]


def test_variable_frame_rate_uses_each_frames_own_time(tmp_path):
    path = make_test_movie(
        str(tmp_path / "vfr.mp4"),
        frames=5,
        frame_times=[0.0, 0.04, 0.3, 0.31, 1.0],
        start_timecode=None,
    )
    got = decode_frames_at(path, [0.0, 0.05, 0.29, 0.3, 0.305, 0.32, 0.99, 1.01], 32)
    assert numbers(got) == [0, 1, 1, 2, 2, 3, 3, 4]


@pytest.mark.parametrize("rotation", [90, -90, 180])
def test_rotated_phone_footage_comes_out_upright(tmp_path, rotation):
    path = make_test_movie(
        str(tmp_path / "phone.mp4"), frames=8, rate=30, size=(72, 128), rotation=rotation
    )
    assert probe_media(path).rotation == rotation % 360
    got = decode_frames_at(path, [k / 30 for k in (3, 5, 6)], 48)
    assert numbers(got) == [3, 5, 6]
    assert numbers(np.rot90(got, k=1, axes=(1, 2))) != [3, 5, 6]  # the check sees orientation


def _mirror_in_display_matrix(path: str) -> None:
    """Makes a MOV's picture shown mirrored left to right, as a front camera's can be: its
    track header's matrix (after version, flags, two dates, track id, a reserved word, the
    duration, eight reserved bytes and four 16-bit fields) gets -1 where it had 1 for x."""
    data = bytearray(open(path, "rb").read())
    matrix = data.index(b"tkhd") + 4 + 4 + 5 * 4 + 8 + 4 * 2
    assert data[matrix : matrix + 4] == (1 << 16).to_bytes(4, "big")
    data[matrix : matrix + 4] = (-1 << 16).to_bytes(4, "big", signed=True)
    open(path, "wb").write(bytes(data))


def test_a_mirrored_picture_is_seen_mirrored_not_upside_down(tmp_path):
    """A display matrix that mirrors (a front camera's, an EXIF orientation of 2, 4, 5 or 7)
    is a half turn to FFmpeg's rotation angle: the picture came out upside down as well."""
    path = make_test_movie(str(tmp_path / "selfie.mov"), frames=8, rate=30, size=(96, 64))
    _mirror_in_display_matrix(path)
    got = decode_frames_at(path, [k / 30 for k in (3, 5, 6)], 48)
    assert numbers(got[:, :, ::-1]) == [3, 5, 6]  # mirrored back, it is the stored picture
    assert numbers(got) != [3, 5, 6]  # the check sees the mirror


def _photo_with_orientation(path: str, orientation: int, number: int) -> str:
    """A JPEG of picture `number` with an EXIF orientation tag (6: turn a quarter clockwise to
    view, 8: counterclockwise), as a phone saves a photo taken upright."""
    codec = av.CodecContext.create("mjpeg", "w")
    codec.width, codec.height, codec.pix_fmt = 96, 64, "yuvj444p"
    codec.time_base = Fraction(1, 25)
    picture = av.VideoFrame.from_ndarray(draw_frame(number, 96, 64), format="rgb24")
    data = b"".join(map(bytes, [*codec.encode(picture.reformat(format="yuvj444p")),
                                *codec.encode(None)]))
    entry = struct.pack("<HHIHH", 0x0112, 3, 1, orientation, 0)  # Orientation, one SHORT
    exif = b"Exif\0\0II*\0" + struct.pack("<IH", 8, 1) + entry + struct.pack("<I", 0)
    with open(path, "wb") as handle:
        handle.write(data[:2] + b"\xff\xe1" + struct.pack(">H", len(exif) + 2) + exif + data[2:])
    return path


@pytest.mark.parametrize(("orientation", "turns"), [(6, -1), (8, 1)])
def test_a_photos_exif_orientation_turns_it_upright(tmp_path, orientation, turns):
    """FFmpeg 8 gives such a JPEG's frames side data of a kind PyAV cannot name (its EXIF),
    which made reading the frame's display matrix raise; the angle still turns it."""
    path = _photo_with_orientation(str(tmp_path / "photo.jpg"), orientation, 1234)
    got = decode_frames_at(path, [0.0], 48)
    assert numbers(np.rot90(got, k=-turns, axes=(1, 2))) == [1234]  # turned back: as stored


def test_image_sequence_frames_follow_the_rate_and_step(tmp_path):
    make_image_sequence(str(tmp_path), "shot.", ".png", 1001, 12, 4, size=(64, 48))
    sequence = ImageSequence(
        directory=str(tmp_path),
        name_prefix="shot.",
        name_suffix=".png",
        start_frame=1001,
        frame_step=1,
        rate=24.0,
        frame_zero_padding=4,
    )
    media = MediaSource(
        referenced="shot.####.png",
        path=None,
        media_start=1001 / 24,
        rate=24.0,
        image_sequence=sequence,
    )
    shot = segment(media=media, source_start=1003 / 24, num_samples=10_000)  # 5 frames at 24
    assert numbers(read_segment_frames(shot, 24.0, 32)) == [1003, 1004, 1005, 1006, 1007]
    late = segment(media=media, source_start=1010 / 24, num_samples=10_000)
    with pytest.raises(MediaError, match=r"shot\.1013\.png.*missing"):
        read_segment_frames(late, 24.0, 32)


def test_time_past_the_end_names_file_time_and_duration(movies):
    path = movies[FILM]
    with pytest.raises(MediaError) as error:
        decode_frames_at(path, [5.0, 13.0], 32)
    message = str(error.value)
    assert path in message and "13.000 s" in message and "duration 12.513 s" in message
    segment = segment_over(path, FILM, first_frame=295, record_frames=10)
    with pytest.raises(MediaError, match="past the end"):
        read_segment_frames(segment, float(FILM), 32)


def test_offline_media_is_a_clear_error():
    lost = segment(clip_name="lost shot", media=MediaSource(referenced="lost.mov", path=None))
    with pytest.raises(MediaError, match="lost shot.*offline.*lost.mov"):
        read_segment_frames(lost, 24.0, 32)


@pytest.mark.parametrize("content", [b"", b"\x00garbage" * 500, "truncated"])
def test_broken_files_raise_media_error_naming_them(tmp_path, movies, content):
    path = tmp_path / "broken.mov"
    if content == "truncated":
        content = open(movies[FILM], "rb").read()[:2000]
    path.write_bytes(content)
    with pytest.raises(MediaError, match="broken.mov"):
        decode_frames_at(str(path), [0.0], 32)


def test_sampling_finer_than_the_timeline_shows_whole_timeline_frames(movies):
    # Sampling at twice the rate: each timeline frame is seen twice, also in reverse, where the
    # continuous source time would already be inside the previous source frame.
    reverse = segment_over(movies[NTSC], NTSC, first_frame=120, record_frames=3, speed=-1.0)
    assert numbers(read_segment_frames(reverse, 2 * float(NTSC), 32)) == [
        120,
        120,
        119,
        119,
        118,
        118,
    ]


def test_a_still_image_holds_for_any_time(tmp_path):
    (path,) = make_image_sequence(str(tmp_path), "title", ".png", 42, 1, 0)
    assert numbers(decode_frames_at(path, [0.0, 3600.0, 7.5], 32)) == [42, 42, 42]


@pytest.mark.parametrize(
    ("name", "codec", "rate"),
    [
        ("m.mkv", "libx264", NTSC),  # millisecond timestamps, rounded
        ("m.webm", "libvpx-vp9", NTSC),
        ("m.avi", "mpeg4", Fraction(25)),  # one clock tick per frame
        ("m.mts", "libx264", NTSC),  # MPEG-TS (AVCHD cameras): timed seeks land late
        ("m.mpg", "mpeg2video", Fraction(25)),
    ],
)
def test_other_containers_and_codecs_seek_to_the_right_frame(tmp_path, name, codec, rate):
    path = make_test_movie(
        str(tmp_path / name),
        frames=150,
        rate=rate,
        codec=codec,
        keyframe_interval=30,
        start_timecode=None,
    )
    wanted = [140, 0, 3, 149, 61, 29, 30]
    assert numbers(decode_frames_at(path, [float(k / rate) for k in wanted], 32)) == wanted


#: Camera and editing codecs (muxer, codec, pixel format, encoder options), keyframe every 12.
_OPEN_GOP = "bframes=3:b-pyramid=normal:open-gop=1:keyint=12:min-keyint=12:scenecut=0"
CAMERA_CODECS = {
    "ProRes 422 HQ, 10-bit": ("prores.mov", "prores_ks", "yuv422p10le", {"profile": "3"}),
    "DNxHR LB": ("dnxhr.mov", "dnxhd", "yuv422p", {"profile": "dnxhr_lb"}),
    # Leading B-frames of each I-frame refer to the GOP before: decoded only from it.
    "H.264 open GOP, B-pyramid": ("opengop.mp4", "libx264", "yuv420p", {"x264-params": _OPEN_GOP}),
    "HEVC 10-bit, B-frames": (
        "hevc10.mp4", "libx265", "yuv420p10le",
        {"x265-params": "keyint=12:bframes=3:open-gop=1:log-level=error"},
    ),
    "interlaced MPEG-2 long GOP in MXF (XDCAM)": (
        "xdcam.mxf", "mpeg2video", "yuv422p",
        {"g": "12", "bf": "2", "flags": "+ildct+ilme", "top": "1", "b": "8M"},
    ),
}


@pytest.mark.parametrize("kind", CAMERA_CODECS)
def test_camera_codecs_give_the_frame_asked_for_after_a_seek(tmp_path, kind):
    """Each time asked alone seeks (past SEEK_GAP) to the keyframe before it, landing among
    B-frames shown before that keyframe; every frame is the one on screen at its time."""
    name, codec, pixel_format, options = CAMERA_CODECS[kind]
    size = (256, 144) if codec == "dnxhd" else (128, 72)  # DNxHR refuses smaller pictures
    path = make_test_movie(
        str(tmp_path / name), frames=130, rate=25, size=size, codec=codec,
        pix_fmt=pixel_format, codec_options=options, start_timecode="10:00:00:00",
    )
    wanted = [3, *range(104, 112), 129]
    assert numbers(decode_frames_at(path, [k / 25 for k in wanted], 32)) == wanted
    assert [numbers(decode_frames_at(path, [k / 25], 32))[0] for k in wanted] == wanted


@pytest.mark.parametrize(
    ("size", "grain", "rate", "keyframe_interval", "one_by_one"),
    [
        # Small frames: most carry no time, and FFmpeg gives a few the time of another.
        ((96, 64), 0, NTSC, 15, range(300, 340)),
        # The 90 kHz clock rounds each 23.976 fps frame to whole ticks: counted, they drifted.
        ((64, 48), 0, FILM, 12, range(90, 130)),
        # Kilobyte frames: a seek lands in the middle of one, the keyframe after it untimed.
        ((160, 120), 40, Fraction(25), 30, range(100, 300, 4)),
    ],
)
def test_h264_in_a_program_stream_gives_the_frame_asked_for(
    tmp_path, size, grain, rate, keyframe_interval, one_by_one
):
    path = make_test_movie(
        str(tmp_path / "screen.mpg"),
        frames=one_by_one.stop,
        rate=rate,
        size=size,
        grain=grain,
        keyframe_interval=keyframe_interval,
        start_timecode=None,
    )
    everything = list(range(one_by_one.stop))
    assert numbers(decode_frames_at(path, [float(k / rate) for k in everything], 32)) == everything
    # Alone, each is found by a seek (it lies past the first 4 s), as a clip's first frame is.
    alone = [numbers(decode_frames_at(path, [float(k / rate)], 32))[0] for k in one_by_one]
    assert alone == list(one_by_one)


@pytest.mark.parametrize(("name", "codec"), [("rec.h264", "libx264"), ("rec.m2v", "mpeg2video")])
def test_a_raw_stream_gives_the_frame_asked_for(tmp_path, name, codec):
    # No container clock to seek by: FFmpeg refuses to seek in a raw H.264 stream at all, and
    # an .m2v's first frame was taken for the second.
    path = make_test_movie(
        str(tmp_path / name),
        frames=300,
        rate=NTSC,
        codec=codec,
        size=(64, 48),
        keyframe_interval=30,
        start_timecode=None,
    )
    wanted = [290, 0, 3, 299, 61, 29, 30, 150, 151, 200]
    assert numbers(decode_frames_at(path, [float(k / NTSC) for k in wanted], 32)) == wanted
    with pytest.raises(MediaError, match=r"rec\.\w+: time 10\.010 s is past the end"):
        decode_frames_at(path, [float(300 / NTSC)], 32)


def damaged_copy(source: str, target, start_fraction: float, length: int) -> str:
    data = bytearray(open(source, "rb").read())
    start = int(len(data) * start_fraction)
    rng = np.random.default_rng(1)
    data[start : start + length : 3] = (
        rng.integers(0, 256, len(range(start, start + length, 3))).astype(np.uint8).tobytes()
    )
    target.write_bytes(bytes(data))
    return str(target)


def test_a_little_damage_is_stepped_over_like_a_player_would(tmp_path, movies, caplog):
    path = damaged_copy(movies[FILM], tmp_path / "scratched.mov", 0.5, 200)
    wanted = list(range(0, 300, 10))
    got = numbers(decode_frames_at(path, [float(k / FILM) for k in wanted], 32))
    assert got[0] == 0 and got[-1] == 290
    assert sum(g == w for g, w in zip(got, wanted, strict=True)) >= len(wanted) - 3
    assert "skipped a damaged video packet" in caplog.text  # the damage did reach the decoder


def test_heavy_damage_is_a_media_error_naming_the_file(tmp_path, movies):
    path = damaged_copy(movies[FILM], tmp_path / "wrecked.mov", 0.3, 20_000)
    with pytest.raises(MediaError, match="wrecked.mov.*does not decode"):
        decode_frames_at(path, [float(k / FILM) for k in range(0, 300, 10)], 32)


def test_image_sequence_with_a_frame_step_reads_every_other_file(tmp_path):
    make_image_sequence(str(tmp_path), "s_", ".jpg", 10, 10, 3, size=(48, 48))  # s_010..s_019
    sequence = ImageSequence(
        directory=str(tmp_path),
        name_prefix="s_",
        name_suffix=".jpg",
        start_frame=10,
        frame_step=2,
        rate=25.0,
        frame_zero_padding=3,
    )
    assert numbers(read_image_sequence_at(sequence, [0.0, 0.04, 0.08, 0.1], 32)) == [
        10,
        12,
        14,
        14,
    ]


@pytest.mark.parametrize(
    ("name", "codec", "size", "pixel_aspect"),
    [
        ("hdv.m2t", "mpeg2video", (480, 270), Fraction(4, 3)),  # HDV: 1440x1080 shown 16:9
        ("wide.dv", "dvvideo", (1024, 576), Fraction(64, 45)),  # 16:9 PAL DV, 720x576 stored
        ("ntsc.mov", "mpeg2video", (640, 480), Fraction(8, 9)),  # 4:3 NTSC, pixels narrower
        ("scope.mov", "libx264", (480, 200), Fraction(2)),  # a 2x anamorphic lens
    ],
)
def test_non_square_pixels_are_seen_at_the_display_aspect(tmp_path, name, codec, size, pixel_aspect):
    stored = make_test_movie(
        str(tmp_path / name),
        frames=4,
        codec=codec,
        size=size,
        pixel_aspect=pixel_aspect,
        start_timecode=None,
    )
    square = make_test_movie(str(tmp_path / "square.mp4"), frames=4, size=size, start_timecode=None)
    times = [0.0, 3 / 25]
    seen = decode_frames_at(stored, times, 64)
    assert numbers(seen) == [0, 3]
    # Taken as square, the stored pixels made pictures 8 to 30 grey levels off on average.
    expected = decode_frames_at(square, times, 64)
    assert np.abs(seen.astype(int) - expected).mean() < 3


def test_an_animated_gif_plays_its_frames_at_their_own_timing(tmp_path):
    path = make_test_movie(
        str(tmp_path / "spinner.gif"),
        frames=4,
        rate=10,
        codec="gif",
        size=(64, 48),
        frame_times=[0.0, 0.1, 0.5, 0.6],  # GIF delays: 0.1, 0.4, 0.1, 0.1 s
        start_timecode=None,
    )
    got = decode_frames_at(path, [0.0, 0.15, 0.45, 0.55, 0.65], 32)
    assert numbers(got) == [0, 1, 1, 2, 3]
    with pytest.raises(MediaError, match="spinner.gif.*past the end"):
        decode_frames_at(path, [0.75], 32)


def test_a_gif_of_one_frame_is_a_still(tmp_path):
    path = make_test_movie(
        str(tmp_path / "logo.gif"), frames=1, codec="gif", size=(64, 48), start_timecode=None
    )
    assert numbers(decode_frames_at(path, [0.0, 60.0], 32)) == [0, 0]


def _copy_from(source: str, path: str, start: Fraction) -> str:
    """What `ffmpeg -ss START -c copy` makes: packets from the keyframe before START, their
    times moved so START is 0; MOV/MP4 hide the frames before it with an edit list."""
    with av.open(source) as given, av.open(path, "w") as copy:
        video = given.streams.video[0]
        written = copy.add_stream_from_template(video)
        given.seek(round(start / video.time_base), stream=video, backward=True)
        for packet in given.demux(video):
            if packet.dts is None:
                continue
            shift = round(start / video.time_base)
            packet.pts, packet.dts, packet.stream = packet.pts - shift, packet.dts - shift, written
            copy.mux(packet)
    return path


@pytest.mark.parametrize(
    ("cut", "first"),
    [
        (Fraction(57, 25), 57),  # on a frame's start
        # Between frames, as a cut typed in seconds is (`-ss 2.282`, LosslessCut): frame 57,
        # shown from 2.28 s to 2.32 s, is on screen at the cut and for 38 ms after it, as
        # QuickTime plays the edit list. FFmpeg's own reading hides it and moves every frame
        # after it 38 ms early: each time gave the next frame, and probe called the file cut
        # short (its last frame ended 38 ms before the length the edit list states).
        (Fraction(2282, 1000), 57),
    ],
)
def test_a_copy_cut_mid_gop_starts_at_the_frame_it_was_cut_at(tmp_path, cut, first):
    """A phone clip trimmed without re-encoding keeps the GOP before its cut, hidden by an edit
    list: its first frame, time 0 and length are those of the cut, as in a player."""
    source = make_test_movie(
        str(tmp_path / "phone.mp4"), frames=125, rate=25, keyframe_interval=25,
        codec_options={"x264-params": "bframes=2:keyint=25:min-keyint=25:scenecut=0"},
    )
    trimmed = _copy_from(source, str(tmp_path / "trimmed.mp4"), cut)
    info = probe_media(trimmed)
    assert (info.start_time, info.duration) == (0.0, pytest.approx(float(5 - cut), abs=1e-3))
    wanted = [0, 1, 5, 40, 67]
    got = decode_frames_at(trimmed, [k / 25 for k in wanted], 32)
    assert numbers(got) == [first + k for k in wanted]
    assert numbers(decode_frames_at(trimmed, [float(5 - cut) - 0.001], 32)) == [124]


def _recording_from(source: str, path: str, first_packet: int) -> str:
    """What a broadcast or stream capture (a DVB or IPTV recording, a TS split by bytes) holds:
    the packets from `first_packet` in decoding order on, times kept, so that it starts inside a
    GOP with frames that cannot be decoded without the keyframe before them."""
    with av.open(source) as given, av.open(path, "w") as copy:
        video = given.streams.video[0]
        written = copy.add_stream_from_template(video)
        for index, packet in enumerate(given.demux(video)):
            if packet.dts is not None and index >= first_packet:
                packet.stream = written
                copy.mux(packet)
    return path


@pytest.mark.parametrize("name", ["capture.ts", "capture.mp4"])
def test_a_recording_that_starts_mid_gop_starts_at_its_first_whole_frame(tmp_path, name):
    """Its first 15 packets (0.6 s) cannot be decoded: the picture starts at the keyframe after
    them, which is file time 0, as a player shows it first and as probe reports
    its start and length. Counted from the first packet, each time gave the frame 15 before."""
    source = make_test_movie(
        str(tmp_path / ("source" + name[-4:])), frames=100, rate=25, keyframe_interval=25,
        start_timecode=None,
        codec_options={"x264-params": "bframes=2:keyint=25:min-keyint=25:scenecut=0"},
    )
    capture = _recording_from(source, str(tmp_path / name), first_packet=10)
    info = probe_media(capture)
    assert info.duration == pytest.approx(75 / 25)  # frames 25 to 99
    wanted = [0, 1, 14, 15, 40, 74]
    got = decode_frames_at(capture, [k / 25 for k in wanted], 32)
    assert numbers(got) == [25 + k for k in wanted]
    alone = [numbers(decode_frames_at(capture, [k / 25], 32))[0] for k in (60, 74)]  # seeks
    assert alone == [85, 99]
