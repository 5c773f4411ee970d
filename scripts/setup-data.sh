#!/usr/bin/env bash
# Installs the Debian packages whose real recordings and pictures `v2a data build` uses
# (see docs/data.md). A quick no-op when they are already installed. Needs root or sudo.
# --with-0ad also installs 0ad-data (1.4 GB download, 3.2 GB on disk), for
# `v2a data build --with-0ad`: extra training recordings, not needed by the tests.
set -euo pipefail
PACKAGES=(minetest-data sonic-pi-samples tuxpaint-stamps-default)
if [ "${1:-}" = "--with-0ad" ]; then
    PACKAGES+=(0ad-data)
elif [ -n "${1:-}" ]; then
    echo "usage: $0 [--with-0ad]" >&2
    exit 2
fi
installed=$(dpkg-query -W -f='${Status}\n' "${PACKAGES[@]}" 2>/dev/null | grep -c "install ok installed" || true)
[ "$installed" = "${#PACKAGES[@]}" ] && exit 0
SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${PACKAGES[@]}"
