"""The committed Python stubs (v2a/v1) must be exactly what the .proto files generate."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("grpc_tools.protoc")

ROOT = Path(__file__).resolve().parents[2]


def test_committed_stubs_match_a_fresh_generation(tmp_path: Path) -> None:
    protos = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "proto/v2a/v1").glob("*.proto"))
    assert protos, "no .proto files under proto/v2a/v1"
    # The same command as scripts/gen_proto.sh, into a scratch folder.
    subprocess.run(
        [sys.executable, "-m", "grpc_tools.protoc", "-I", "proto", f"--python_out={tmp_path}",
         f"--grpc_python_out={tmp_path}", f"--pyi_out={tmp_path}", *protos],
        cwd=ROOT, check=True,
    )
    fresh = {str(p.relative_to(tmp_path)): p.read_bytes() for p in tmp_path.rglob("*_pb2*")}
    committed = {str(p.relative_to(ROOT)): p.read_bytes() for p in (ROOT / "v2a/v1").glob("*_pb2*")}
    assert sorted(fresh) == sorted(committed), "stub files differ: run scripts/gen_proto.sh"
    stale = [name for name, data in fresh.items() if committed[name] != data]
    assert not stale, f"stale stubs {stale}: run scripts/gen_proto.sh"


def test_stubs_import_inside_the_v2a_package() -> None:
    from v2a.v1 import v2a_service_pb2, v2a_service_pb2_grpc

    assert v2a_service_pb2.DESCRIPTOR.package == "v2a.v1"
    assert hasattr(v2a_service_pb2_grpc, "V2AServiceStub")
