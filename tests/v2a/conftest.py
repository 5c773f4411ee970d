"""Fixtures shared by the pipeline tests."""

from fractions import Fraction

import pytest

from v2a.media.synth import make_test_movie

#: The movies' frame rate, and the edits' built on them.
MOVIE_RATE = 24


@pytest.fixture()
def stop_at_the_edls_rename(stop_before_the_edls_rename) -> None:
    """Ctrl-C in the write of an EDL, between its two files (see stop_before_the_edls_rename),
    from the test's start."""
    stop_before_the_edls_rename()


@pytest.fixture(scope="session")
def movies(tmp_path_factory) -> str:
    """A folder of three 3 s movies, a.mp4, b.mp4 and c.mp4, at 24 fps (real H.264 files)."""
    folder = tmp_path_factory.mktemp("movies")
    for name in ("a", "b", "c"):
        make_test_movie(
            str(folder / f"{name}.mp4"), frames=72, rate=Fraction(MOVIE_RATE), size=(32, 32)
        )
    return str(folder)
