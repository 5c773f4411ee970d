from fractions import Fraction

import av

from v2a.media.synth import draw_frame, make_image_sequence, make_test_movie, read_frame_number


def test_frame_number_survives_scaling():
    for number in (0, 1, 1234, 65535):
        picture = draw_frame(number, 320, 180)
        small = picture[::5, ::5]  # 64x36
        assert read_frame_number(picture) == number and read_frame_number(small) == number


def test_movie_frames_carry_their_numbers(tmp_path):
    path = make_test_movie(
        str(tmp_path / "m.mp4"),
        frames=12,
        rate=Fraction(24000, 1001),
        with_audio=True,
        flash_every=4,
    )
    with av.open(path) as container:
        numbers = [
            read_frame_number(f.to_ndarray(format="rgb24")) for f in container.decode(video=0)
        ]
        assert container.streams.audio[0].sample_rate == 48000
    assert numbers == list(range(12))


def test_variable_frame_rate_movie_keeps_given_times(tmp_path):
    times = [0.0, 0.04, 0.3, 0.31, 1.0]
    path = make_test_movie(str(tmp_path / "vfr.mp4"), frames=5, frame_times=times)
    with av.open(path) as container:
        decoded = [
            (round(f.time, 4), read_frame_number(f.to_ndarray(format="rgb24")))
            for f in container.decode(video=0)
        ]
    assert decoded == list(zip(times, range(5), strict=True))


def test_image_sequence_files_show_their_numbers(tmp_path):
    paths = make_image_sequence(str(tmp_path), "shot.", ".png", 1001, 3, 4)
    assert [p.rsplit("/", 1)[1] for p in paths] == [
        "shot.1001.png",
        "shot.1002.png",
        "shot.1003.png",
    ]
    jpegs = make_image_sequence(str(tmp_path), "j_", ".jpg", 7, 1, 3, size=(64, 48))
    for path, number in [(paths[1], 1002), (jpegs[0], 7)]:
        with av.open(path) as container:
            frame = next(container.decode(video=0))
        assert read_frame_number(frame.to_ndarray(format="rgb24")) == number
    assert frame.to_ndarray(format="rgb24").shape[:2] == (48, 64)
