"""Fixtures shared by the timeline tests."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from otio_adapters.read import read_timeline
from otio_adapters.standin_media import synthesize_media

FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "timelines"


@pytest.fixture(scope="session")
def standin_media(tmp_path_factory) -> Callable[..., str]:
    """`standin_media(name, options=None)`: a folder of media synthesized under the names the
    video clips of fixture `name` (under ../shared/fixtures/timelines, read with adapter
    `options`) reference. Made once per fixture for the session: several files' tests generate on
    the same editor exports, and encoding the media again for each cost a fifth of their time.
    Tests only read it (relinking to it); one that changes media copies it first."""
    made: dict[tuple[str, str], str] = {}

    def media_for(name: str, options: dict | None = None) -> str:
        key = (name, repr(sorted((options or {}).items())))
        if key not in made:
            folder = tmp_path_factory.mktemp("media")
            synthesize_media(read_timeline(FIXTURES / name, options=options), str(folder))
            made[key] = str(folder)
        return made[key]

    return media_for
