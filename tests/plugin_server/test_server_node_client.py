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


def test_the_readmes_node_snippet_runs_as_a_file_against_the_real_server(node, make_server,
                                                                        fixture_timeline,
                                                                        media_dir, roots,
                                                                        tmp_path):
    """The README's snippet used `await` at the top of a CommonJS file (`require`): pasted into
    a .js file, it was a SyntaxError. Run here as printed, but for where this test's timeline,
    media, server and client are."""
    readme = (NODE_DIR.parents[1] / "README.md").read_text()
    snippet = readme.split("```js\n", 1)[1].split("```", 1)[0]
    for printed, here in (
            ("require('./clients/node/v2a_client')", f"require({str(NODE_DIR / 'v2a_client')!r})"),
            ("'127.0.0.1:50051'", "process.env.V2A_ADDRESS"),
            ("{ path: '/abs/path/cut.otio' }",
             "{ path: process.env.V2A_TIMELINE, media_search_paths: [process.env.V2A_MEDIA_DIR] }")):
        assert printed in snippet
        snippet = snippet.replace(printed, here)
    script = tmp_path / "snippet.js"
    script.write_text(snippet)
    server = make_server()
    env = {**os.environ, "V2A_ADDRESS": server.address, "XDG_CONFIG_HOME": str(roots["token"].parents[1]),
           "V2A_TIMELINE": str(fixture_timeline), "V2A_MEDIA_DIR": str(media_dir)}
    run = subprocess.run([node, str(script)], env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.splitlines()[-2] == "100 %", run.stdout
    assert run.stdout.splitlines()[-1].endswith(fixture_timeline.name), run.stdout
