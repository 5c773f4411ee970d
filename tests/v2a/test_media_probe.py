from fractions import Fraction

import av
import pytest

from v2a.media.errors import MediaError
from v2a.media.frames import decode_frames_at
from v2a.media.probe import probe_media
from v2a.media.synth import make_test_movie, read_frame_number
from v2a.media.timecode import frames_to_timecode, timecode_to_frames

NTSC = Fraction(30000, 1001)


def test_probe_reads_rate_size_frames_and_camera_timecode(tmp_path):
    path = make_test_movie(
        str(tmp_path / "a.mov"),
        frames=30,
        rate=NTSC,
        size=(96, 64),
        start_timecode="01:00:00:00",
        with_audio=True,
    )
    info = probe_media(path)
    assert info.rate == NTSC and info.frame_count == 30
    assert (info.width, info.height, info.rotation) == (96, 64, 0)
    assert info.duration == pytest.approx(30 / float(NTSC), abs=1e-3)
    assert info.timecode == "01:00:00:00"
    assert info.start_timecode == pytest.approx(108_000 / float(NTSC))
    assert info.has_video and info.has_audio


def test_probe_reads_drop_frame_timecode_from_mp4(tmp_path):
    path = make_test_movie(
        str(tmp_path / "a.mp4"), frames=5, rate=NTSC, start_timecode="00:10:00:00", drop_frame=True
    )
    info = probe_media(path)
    assert info.timecode == "00:10:00;00"
    # Ten minutes of drop-frame timecode label frame 17982, about 600 s of wall clock.
    assert info.start_timecode == pytest.approx(17982 * 1001 / 30000)
    assert not info.has_audio


@pytest.mark.parametrize(
    ("rate", "timecode", "drop_frame", "seconds"),
    [(30, "01:00:00:00", False, 3600.0), (NTSC, "01:00:00;00", True, 107_892 / NTSC)],
)
def test_a_variable_frame_rate_movie_counts_its_timecode_at_its_nominal_rate(
    tmp_path, rate, timecode, drop_frame, seconds
):
    """A phone's 30 fps that dropped frames now and then: 60 frames over 2.2 s, 26.9 on average.
    Counted at that average, 01:00:00:00 read 3618 s (and 01:00:00;00 3621.6 s): a clip placed
    by its source timecode (an EDL gives no available range) was 18 s off in its media."""
    frame = 1 / float(rate)
    times = [0.0]
    for index in range(59):
        times.append(times[-1] + (2 * frame if index % 9 == 4 else frame))
    path = make_test_movie(
        str(tmp_path / "phone.mov"), frames=60, rate=rate, frame_times=times,
        start_timecode=timecode, drop_frame=drop_frame,
    )
    info = probe_media(path)
    assert info.rate < 27 and info.timecode == timecode
    assert info.start_timecode == pytest.approx(float(seconds), abs=1e-6)


def test_probe_without_timecode_starts_at_zero(tmp_path):
    path = make_test_movie(str(tmp_path / "a.mp4"), frames=5, rate=24, start_timecode=None)
    info = probe_media(path)
    assert (info.timecode, info.start_timecode, info.rate) == ("", 0.0, Fraction(24))


def test_probe_reports_display_rotation(tmp_path):
    path = make_test_movie(str(tmp_path / "phone.mp4"), frames=3, size=(64, 96), rotation=-90)
    info = probe_media(path)
    assert info.rotation == 270 and (info.width, info.height) == (96, 64)
    assert info.display_size == (64, 96)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: None, "file not found"),
        (lambda p: p.write_bytes(b""), "empty"),
        (lambda p: p.write_bytes(b"this is not a movie" * 100), "not a readable media file"),
    ],
)
def test_probe_rejects_bad_files_naming_them(tmp_path, make, message):
    path = tmp_path / "clip.mov"
    make(path)
    with pytest.raises(MediaError, match=message) as error:
        probe_media(str(path))
    assert str(path) in str(error.value)


def test_probe_rejects_audio_only_file(tmp_path):
    import av
    import numpy as np

    path = str(tmp_path / "sound.m4a")
    with av.open(path, "w") as container:
        stream = container.add_stream("aac", rate=48000)
        frame = av.AudioFrame.from_ndarray(
            np.zeros((1, 1024), np.float32), format="fltp", layout="mono"
        )
        frame.sample_rate = 48000
        container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    with pytest.raises(MediaError, match="no video stream"):
        probe_media(path)


@pytest.mark.parametrize(("name", "muxer", "codec"), [("song.mp3", "mp3", "libmp3lame"),
                                                    ("song.m4a", "mp4", "aac")])
def test_audio_with_cover_art_is_no_video_to_a_video_clip(tmp_path, name, muxer, codec):
    """Album art is a one-picture 'video' stream to FFmpeg (an attached picture), which no
    editor plays: the file probed as a 64x64 movie at 90000 fps, and a video clip on it was
    planned and fed the cover."""
    import numpy as np

    path = str(tmp_path / name)
    with av.open(path, "w", format=muxer) as container:
        sound = container.add_stream(codec, rate=48000)
        sound.layout = "mono"
        cover = container.add_stream("mjpeg", rate=1)
        cover.width, cover.height, cover.pix_fmt = 64, 64, "yuvj420p"
        cover.disposition = av.stream.Disposition.attached_pic
        art = av.VideoFrame.from_ndarray(np.full((64, 64, 3), 200, np.uint8), format="rgb24")
        art = art.reformat(format="yuvj420p")
        art.pts, art.time_base = 0, Fraction(1)
        container.mux([*cover.encode(art), *cover.encode(None)])
        for start in range(0, 48000, 1152):
            samples = np.zeros((1, 1152), np.float32)
            frame = av.AudioFrame.from_ndarray(samples, format="fltp", layout="mono")
            frame.sample_rate, frame.pts, frame.time_base = 48000, start, Fraction(1, 48000)
            container.mux(sound.encode(frame))
        container.mux(sound.encode(None))
    with pytest.raises(MediaError, match=r"song\.m(p3|4a): has no video stream \(only cover art\)"):
        probe_media(path)
    with pytest.raises(MediaError, match="only cover art"):
        decode_frames_at(path, [0.0], 32)


def test_probe_rejects_truncated_movie(tmp_path):
    good = make_test_movie(str(tmp_path / "good.mp4"), frames=10)
    bad = tmp_path / "cut.mp4"
    bad.write_bytes(open(good, "rb").read()[:300])
    with pytest.raises(MediaError, match="cut.mp4"):
        probe_media(str(bad))


@pytest.mark.parametrize(
    ("timecode", "rate", "frames"),
    [
        ("00:01:00;02", NTSC, 1800),  # ;00 and ;01 of minute 1 do not exist
        ("00:10:00;00", NTSC, 17982),
        ("01:00:00;00", NTSC, 107892),
        ("00:01:00;04", Fraction(60000, 1001), 3600),
        ("01:00:00:00", Fraction(24000, 1001), 86400),
        ("00:00:01:05", Fraction(25), 30),
    ],
)
def test_timecode_round_trip(timecode, rate, frames):
    assert timecode_to_frames(timecode, rate) == frames
    assert frames_to_timecode(frames, rate, drop_frame=";" in timecode) == timecode


def test_probe_reads_matroska_timecode_tag(tmp_path):
    path = make_test_movie(str(tmp_path / "a.mkv"), frames=3, rate=25, start_timecode="10:00:00:00")
    info = probe_media(path)
    assert info.timecode == "10:00:00:00" and info.start_timecode == 36_000.0


def test_drop_frame_labels_that_do_not_exist_are_refused():
    with pytest.raises(ValueError, match="does not exist"):
        timecode_to_frames("00:01:00;01", NTSC)
    assert timecode_to_frames("00:10:00;00", NTSC) == 17982  # every tenth minute keeps ;00
    assert timecode_to_frames("00:01:00;00", Fraction(25)) == 1500  # no drop-frame at 25


@pytest.mark.parametrize("name", ["late.mkv", "late.webm"])
def test_probe_measures_a_matroska_video_that_starts_late(tmp_path, name):
    # Matroska's duration counts from 0, not from the first frame: this file read 3.48 s long.
    path = make_test_movie(
        str(tmp_path / name),
        frames=50,
        rate=25,
        frame_times=[1.48 + index / 25 for index in range(50)],
        codec="libvpx-vp9" if name.endswith(".webm") else "libx264",
        start_timecode=None,
    )
    info = probe_media(path)
    assert info.start_time == pytest.approx(1.48)
    assert info.duration == pytest.approx(2.0, abs=1e-3) and info.frame_count == 50


def test_probe_measures_a_live_recording_that_states_no_length(tmp_path):
    # Browsers' and streaming recorders' WebM/MKV carry no duration; it read as zero length.
    source = make_test_movie(
        str(tmp_path / "a.mkv"), frames=40, rate=25, codec="mpeg4", start_timecode=None
    )
    live = str(tmp_path / "live.mkv")
    with av.open(source) as reading, av.open(live, "w", options={"live": "1"}) as writing:
        stream = writing.add_stream_from_template(reading.streams.video[0])
        for packet in reading.demux(reading.streams.video[0]):
            if packet.dts is not None:
                packet.stream = stream
                writing.mux(packet)
    with av.open(live) as container:
        assert not container.duration  # the premise: nothing in the file says how long it is
    info = probe_media(live)
    assert info.start_time == 0.0
    assert info.duration == pytest.approx(40 / 25, abs=1e-3) and info.frame_count == 40


def test_probe_reports_non_square_pixels_in_the_display_size(tmp_path):
    path = make_test_movie(
        str(tmp_path / "hdv.m2t"),
        frames=3,
        codec="mpeg2video",
        size=(480, 270),
        pixel_aspect=Fraction(4, 3),
        start_timecode=None,
    )
    info = probe_media(path)
    assert (info.width, info.height, info.pixel_aspect) == (360, 270, Fraction(4, 3))
    assert info.display_size == (480, 270)


def test_probe_takes_a_gif_of_several_frames_for_a_movie(tmp_path):
    animated = make_test_movie(
        str(tmp_path / "a.gif"), frames=12, rate=10, codec="gif", start_timecode=None
    )
    still = make_test_movie(str(tmp_path / "s.gif"), frames=1, codec="gif", start_timecode=None)
    info = probe_media(animated)
    assert not info.still and info.frame_count == 12
    assert info.duration == pytest.approx(1.2)
    assert probe_media(still).still


@pytest.mark.parametrize(("codec", "rate"), [("mpeg2video", NTSC), ("mpeg1video", Fraction(25))])
def test_probe_measures_an_mpeg_program_stream_to_its_last_frame(tmp_path, codec, rate):
    path = make_test_movie(
        str(tmp_path / "dvd.mpg"),
        frames=150,
        rate=rate,
        codec=codec,
        keyframe_interval=12,
        start_timecode=None,
    )
    info = probe_media(path)
    # FFmpeg's estimate, which the stream states, was 8 and 10.5 frames short.
    assert info.duration == pytest.approx(150 / rate, abs=1e-3)
    assert info.frame_count == 150


@pytest.mark.parametrize(
    ("name", "rate", "frames"),
    [
        ("screen.mpg", Fraction(25), 150),
        ("film.mpg", Fraction(24000, 1001), 500),  # frames of 3753.75 ticks of a 90 kHz clock
        ("long.vob", NTSC, 700),  # over 20 s: measured from its tail
    ],
)
def test_probe_measures_h264_in_a_program_stream_to_its_last_frame(tmp_path, name, rate, frames):
    # Small frames share the stream's 2 KB packs, and only the first frame starting in a pack
    # carries a time: the untimed frames at the end were missed (the 150 frames read 5.04 s).
    path = make_test_movie(
        str(tmp_path / name), frames=frames, rate=rate, size=(64, 48), start_timecode=None
    )
    info = probe_media(path)
    assert info.duration == pytest.approx(frames / rate, abs=1e-3)
    assert info.frame_count == frames


@pytest.mark.parametrize(
    ("name", "codec"),
    [
        ("rec.h264", "libx264"),
        ("rec.264", "libx264"),
        ("rec.hevc", "libx265"),
        ("rec.m2v", "mpeg2video"),
    ],
)
def test_probe_counts_the_frames_of_a_raw_stream_at_its_own_rate(tmp_path, name, codec):
    # No container: FFmpeg states no length (such files probed as zero length) and an average
    # rate of 25 fps, its raw demuxer's default, where the stream itself says 29.97.
    path = make_test_movie(
        str(tmp_path / name), frames=60, rate=NTSC, codec=codec, size=(64, 48), start_timecode=None
    )
    info = probe_media(path)
    assert info.rate == NTSC
    assert info.frame_count == 60
    assert info.duration == pytest.approx(60 / NTSC, abs=1e-6)
    assert info.start_time == 0.0


@pytest.mark.parametrize(
    ("keep", "found"),
    [
        (lambda size: size // 2, "the data of its last frames is missing"),
        (lambda size: size - 10, r"the frame at 1\.9\d0 s is only partly there"),
    ],
)
def test_probe_reports_a_fast_start_movie_cut_short(tmp_path, keep, found):
    whole = make_test_movie(
        str(tmp_path / "whole.mp4"),
        frames=50,
        size=(64, 48),
        keyframe_interval=10,
        fast_start=True,
        start_timecode=None,
    )
    assert probe_media(whole).duration == pytest.approx(2.0)
    data = open(whole, "rb").read()
    copy = tmp_path / "copy.mp4"
    copy.write_bytes(data[: keep(len(data))])  # the index at the front lists every frame
    with pytest.raises(MediaError, match=found) as error:
        probe_media(str(copy))
    assert str(error.value).startswith(
        f"{copy}: the file is cut short (an unfinished copy?): its index lists 2.000 s of video"
    )


def test_a_camera_movie_cut_short_before_its_index_is_named_so(tmp_path):
    # Cameras write a MOV/MP4's index (moov) after the frames: a copy off the card that stopped
    # mid-way has none, and FFmpeg only said "Invalid data found when processing input".
    whole = make_test_movie(str(tmp_path / "whole.mov"), frames=50, size=(64, 48), start_timecode=None)
    data = open(whole, "rb").read()
    assert data.index(b"moov") > data.index(b"mdat")  # index at the end, as a camera writes it
    copy = tmp_path / "A001C003.mov"
    copy.write_bytes(data[: len(data) // 2])
    with pytest.raises(MediaError) as error:
        probe_media(str(copy))
    assert str(error.value).startswith(f"{copy}: the file is cut short (an unfinished copy?)")
    assert "no index (moov)" in str(error.value)


@pytest.mark.parametrize(("alpha", "see_through"), [(0, True), (255, False)])
def test_probe_tells_a_see_through_prores_4444_from_an_opaque_one(tmp_path, alpha, see_through):
    """A lower third rendered as ProRes 4444 with alpha is shown over the picture beneath it;
    the same codec with an opaque alpha channel is a picture of its own."""
    import numpy as np

    path = str(tmp_path / "lower_third.mov")
    with av.open(path, "w") as container:
        stream = container.add_stream("prores_ks", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuva444p10le"
        stream.options = {"profile": "4"}
        for index in range(3):
            picture = np.zeros((48, 64, 4), np.uint8)
            picture[..., 3] = alpha
            picture[36:, :, :] = 255  # the bar at the bottom, opaque
            frame = av.VideoFrame.from_ndarray(picture, format="rgba").reformat(format="yuva444p10le")
            frame.pts, frame.time_base = index, Fraction(1, 25)
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    assert probe_media(path).see_through is see_through


def _set_timecode_track_rate(path: str, timescale: int, frame_duration: int) -> None:
    """Rewrites the rate in a MOV's timecode track description (`tmcd` sample entry: six
    reserved bytes, data reference, four reserved, flags, then timescale and frame duration)."""
    data = bytearray(open(path, "rb").read())
    at = data.index(b"tmcd" + bytes(6))  # the sample entry; other tmcd boxes hold no zeros there
    data[at + 20 : at + 28] = timescale.to_bytes(4, "big") + frame_duration.to_bytes(4, "big")
    open(path, "wb").write(bytes(data))


def test_the_timecode_counts_at_the_timecode_tracks_own_rate(tmp_path):
    """A recording at 30 fps (a phone app's: the video's rate and FFmpeg's stream rate are 30,
    which is all a variable-rate file's frames tell) with a 29.97 non-drop timecode track. Its 01:00:00:00 is frame 108,000 at 29.97: 3603.6 s, as QuickTime and
    the editor read the track. Counted at the video's 30 it read 3600.0 s, 3.6 s off (52 s at
    a time-of-day timecode of 14:00)."""
    path = make_test_movie(
        str(tmp_path / "app.mov"), frames=30, rate=30, start_timecode="01:00:00:00"
    )
    _set_timecode_track_rate(path, 30000, 1001)
    info = probe_media(path)
    assert (info.rate, info.timecode) == (30, "01:00:00:00")
    assert info.timecode_rate == NTSC
    assert info.start_timecode == pytest.approx(108_000 * 1001 / 30000)


@pytest.mark.parametrize(("name", "codec"), [("divx.avi", "mpeg4"), ("b.avi", "libx264")])
def test_an_avi_with_b_frames_lasts_all_its_frames(tmp_path, name, codec):
    """AVI times frames by a count in decoding order: with B-frames FFmpeg shows the first a
    frame after the stream's start, yet the stated length is the frames' own."""
    options = {"bf": "2", "qscale": "3"} if codec == "mpeg4" else {"x264-params": "bframes=2"}
    path = make_test_movie(
        str(tmp_path / name), frames=60, rate=25, codec=codec, codec_options=options,
        start_timecode=None,
    )
    info = probe_media(path)
    assert info.duration == pytest.approx(60 / 25)
    assert numbers_at(path, [59 / 25, info.duration - 0.001]) == [59, 59]


def numbers_at(path: str, times: list[float]) -> list[int]:
    return [read_frame_number(picture) for picture in decode_frames_at(path, times, 32)]
