"""Shared fixtures of the server tests: synthesized media for a real fixture timeline, an
in-process server on a real port, and a server run as a separate process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
FIXTURES = (ROOT / ".." / "shared" / "fixtures" / "timelines").resolve()
# simple_cut.otio: 4 clips on one 24 fps track naming these movies in /folder (absent here).
SIMPLE_CUT = FIXTURES / "otio" / "simple_cut.otio"
SIMPLE_CUT_MEDIA = ("titles.mov", "wind-up.mov", "punchline.mov", "credits.mov")

# 25fps.edl: four events at 25 fps whose clip names are found by name in a relink folder.
EDL_25 = FIXTURES / "cmx3600_edl" / "25fps.edl"
EDL_25_MEDIA = ("sq001_s001", "sq001_s002", "sq001_s003", "sq001_s004")

sys.path.insert(0, str(HERE))  # server_test_generators


def _shared_fixture(path: Path) -> Path:
    if not path.is_file():
        pytest.skip(f"shared fixtures not found at {FIXTURES}")
    return path


@pytest.fixture(scope="session")
def fixture_timeline() -> Path:
    return _shared_fixture(SIMPLE_CUT)


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory) -> Path:
    """Synthesized movies under the names the fixture timeline references (relinked by name)."""
    from v2a.media.synth import make_test_movie

    folder = tmp_path_factory.mktemp("media")
    for name in SIMPLE_CUT_MEDIA:
        make_test_movie(str(folder / name), frames=120, rate=24, size=(64, 48), flash_every=12)
    return folder


@pytest.fixture(scope="session")
def edl_timeline() -> Path:
    return _shared_fixture(EDL_25)


@pytest.fixture(scope="session")
def edl_media(tmp_path_factory) -> Path:
    """Stand-in movies for 25fps.edl: 25 fps, starting at the 01:00:00:00 its sources use."""
    from v2a.media.synth import make_test_movie

    folder = tmp_path_factory.mktemp("edl_media")
    for name in EDL_25_MEDIA:
        make_test_movie(str(folder / f"{name}.mov"), frames=210, rate=25, size=(32, 24),
                        start_timecode="01:00:00:00")
    return folder


@pytest.fixture
def roots(tmp_path) -> dict[str, Path]:
    out = tmp_path / "out"
    out.mkdir()
    return {"out": out, "state": tmp_path / "state", "token": tmp_path / "config" / "v2a" / "token"}


@pytest.fixture
def make_server(roots):
    """Start in-process servers on port 0 (and a socket when asked); stopped afterwards."""
    from plugin_server.server import RunningServer, ServerConfig, load_generator

    started = []

    def start(generator="py:server_test_generators:fast", **overrides):
        """`generator`: a spec, or a generator object the test keeps to change its pace."""
        settings = {"port": 0, "state_dir": roots["state"], "output_roots": (str(roots["out"]),),
                    "token_file": roots["token"], "grace_seconds": 1.0, **overrides}
        config = ServerConfig(**settings)
        if isinstance(generator, str):
            generator = load_generator(generator)
        server = RunningServer(config, generator=generator)
        server.start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop(grace_seconds=0.5)


@pytest.fixture
def connect():
    """A client of an in-process server (its token by default), closed afterwards."""
    from plugin_server.client import V2AClient

    clients = []

    def open_client(server, **kwargs):
        if "uds" not in kwargs:
            kwargs.setdefault("token", server.token)
            client = V2AClient(server.address, **kwargs)
        else:
            client = V2AClient(**kwargs)
        clients.append(client)
        return client

    yield open_client
    for client in clients:
        client.close()


class ServerProcess:
    """`v2a serve` as a child process, so a test can kill -9 it or send it SIGTERM."""

    def __init__(self, roots: dict[str, Path], generator: str, step_seconds: float = 0.05,
                 env: dict[str, str] | None = None):
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]),
               "V2A_TEST_STEP_SECONDS": str(step_seconds), **(env or {})}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "v2a.cli", "serve", "--port", "0",
             "--state-dir", str(roots["state"]), "--output-root", str(roots["out"]),
             "--token-file", str(roots["token"]), "--generator", generator, "--grace", "1"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT,
        )
        self.info = self._wait_ready()
        self.address = self.info["address"]
        self.token = Path(self.info["token_file"]).read_text().strip()

    def _wait_ready(self, timeout: float = 60.0) -> dict:
        from plugin_server.server import READY_PREFIX

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if line.startswith(READY_PREFIX):
                return json.loads(line[len(READY_PREFIX):])
            if not line and self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.proc.stderr.read()}")
        raise TimeoutError("server did not become ready")

    def client(self):
        from plugin_server.client import V2AClient

        return V2AClient(self.address, token=self.token)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)


@pytest.fixture
def server_process(roots):
    started = []

    def start(generator: str = "py:server_test_generators:slow", step_seconds: float = 0.05,
              env: dict[str, str] | None = None):
        process = ServerProcess(roots, generator, step_seconds, env)
        started.append(process)
        return process

    yield start
    for process in started:
        process.stop()
