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


@pytest.fixture(scope="session")
def generated(tmp_path_factory, standin_media) -> Callable[..., tuple]:
    """`generated(name, options=None)`: (the GenerationResult, its output folder) of the whole job
    on fixture `name` (adapter `options`) relinked to its `standin_media`, with the sine test
    double and seed 7, written in its own format into a folder `out` of its own. Made once per
    fixture for the session: the round trip of every fixture and the AAF checks of the editor's
    mobs asked for the same job, and an AAF's job costs 2 to 4 s. Tests only read what it
    wrote; one that generates again on it or changes it makes its own."""
    from generator_doubles import SineGenerator

    from v2a.contracts import GenerationParams, GenerationRequest
    from v2a.pipeline import run_generation

    made: dict[tuple[str, str], tuple] = {}

    def generate(name: str, options: dict | None = None) -> tuple:
        key = (name, repr(sorted((options or {}).items())))
        if key not in made:
            out = tmp_path_factory.mktemp("generated") / "out"
            request = GenerationRequest(
                timeline_path=str(FIXTURES / name),
                out_dir=str(out),
                adapter_options=options or {},
                relink_roots=(standin_media(name, options),),
                params=GenerationParams(seed=7),
            )
            made[key] = run_generation(request, SineGenerator()), out
        return made[key]

    return generate
