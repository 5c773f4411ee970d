"""The Node.js client (clients/node, @grpc/grpc-js) and the UXP bridge client
(clients/uxp, over the `ws` package) against the real server: `node --test`."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

NODE_DIR = Path(__file__).resolve().parents[2] / "clients" / "node"


@pytest.fixture
def node() -> str:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    if not (NODE_DIR / "node_modules" / "@grpc" / "grpc-js").is_dir():
        pytest.skip("clients/node/node_modules missing: run `npm ci` there (scripts/test.sh does)")
    return node


def test_the_node_client_suite_passes_against_the_real_server(node, make_server,
                                                              fixture_timeline, media_dir,
                                                              roots, tmp_path):
    server = make_server(uds=str(tmp_path / "v2a.sock"), ws_port=0)
    env = {**os.environ, "V2A_ADDRESS": server.address, "V2A_WS_URL": server.bridge.url, "V2A_TOKEN_FILE": str(roots["token"]),
           "V2A_UDS": server.config.uds, "V2A_TIMELINE": str(fixture_timeline),
           "V2A_MEDIA_DIR": str(media_dir)}
    # No folder argument: since Node 21 one is a glob that matches the folder itself, run as a
    # module (MODULE_NOT_FOUND); the default search finds test/*.test.js on every version. TAP
    # named, since Node 23 prints its `spec` report even into a pipe.
    run = subprocess.run([node, "--test", "--test-reporter=tap"], cwd=NODE_DIR, env=env,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "# fail 0" in run.stdout and "# skipped 0" in run.stdout, run.stdout
