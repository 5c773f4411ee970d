#!/usr/bin/env bash
# Sets up (idempotent) and runs the test suite: the README's test command.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/setup-data.sh  # Debian recordings for the corpus tests
bash scripts/setup-test-tools.sh  # MLT's melt, which the Kdenlive tests render through
.venv/bin/ruff check .
# The Node client's packages (grpc-js for its tests under pytest, buf for the proto lint).
if command -v npm >/dev/null; then
  (cd clients/node && npm ci --no-audit --no-fund --loglevel=error)
  (cd proto && ../clients/node/node_modules/.bin/buf lint)
else
  echo "npm not found: skipping buf lint and the Node client tests" >&2
fi
.venv/bin/python -m pytest -q "$@"
