#!/usr/bin/env bash
# Regenerates the Python stubs of the gRPC contract (proto/v2a/v1/*.proto) into v2a/v1/.
# The proto package is v2a.v1, so from the repo root the stubs land inside our `v2a` package and
# their `from v2a.v1 import ...` lines resolve. tests/plugin_server checks they never drift.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.venv/bin/python}
rm -f v2a/v1/*_pb2.py v2a/v1/*_pb2.pyi v2a/v1/*_pb2_grpc.py
"$PYTHON" -m grpc_tools.protoc -I proto \
  --python_out=. --grpc_python_out=. --pyi_out=. \
  proto/v2a/v1/*.proto
