"""Fixtures for every test."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True, scope="session")
def _cache_in_a_temporary_folder(tmp_path_factory):
    """Caches that default to the user's home (.otioz extractions, otio_adapters.media_refs) go
    to a folder of the test run's own, so tests neither read nor leave anything there."""
    patch = pytest.MonkeyPatch()
    patch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("xdg-cache")))
    yield
    patch.undo()
