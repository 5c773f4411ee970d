#!/usr/bin/env bash
# Installs the Debian tools only the tests use; v2a never needs them to run. MLT's `melt`, the
# engine Kdenlive plays and renders with: tests/otio_adapters/test_kdenlive_roundtrip.py renders
# v2a's Kdenlive projects through it and compares what plays with what v2a laid (skipped where
# it is missing). A quick no-op when it is already there. Needs root or sudo.
# Without recommends (VA-API and Mesa drivers, GTK, Qt Quick: a renderer's extras the tests do
# not use): melt 7.12 in bookworm is 173 packages, 103 MB to download, 353 MB on disk.
set -euo pipefail
command -v melt >/dev/null && exit 0
SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends melt
