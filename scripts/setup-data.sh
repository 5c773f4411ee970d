#!/usr/bin/env bash
# Installs the Debian packages whose real recordings and pictures `v2a data build` uses
# (see docs/data.md). A quick no-op when they are already installed. Needs root or sudo.
set -euo pipefail
PACKAGES=(minetest-data sonic-pi-samples tuxpaint-stamps-default)
installed=$(dpkg-query -W -f='${Status}\n' "${PACKAGES[@]}" 2>/dev/null | grep -c "install ok installed" || true)
[ "$installed" = "${#PACKAGES[@]}" ] && exit 0
SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq minetest-data sonic-pi-samples tuxpaint-stamps-default
