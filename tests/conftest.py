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


@pytest.fixture()
def stop_before_the_edls_rename(monkeypatch):
    """A function that makes every later write of an EDL stop with Ctrl-C between its two files:
    the .otio beside it renamed into place, the EDL staged and stopped before its rename
    (KeyboardInterrupt). `monkeypatch.undo()` lets writes finish again."""
    import otio_adapters.write as write

    replace = write._replace

    def stopped_at_the_edl(written, path, staging):
        if path.endswith(".edl"):
            raise KeyboardInterrupt
        replace(written, path, staging)

    def stop() -> None:
        monkeypatch.setattr(write, "_replace", stopped_at_the_edl)

    return stop
