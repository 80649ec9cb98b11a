#!/usr/bin/env bash
# System libraries Qt needs on a bare Debian/Ubuntu machine (run as root or with sudo).
# The EGL/GL, xkbcommon, fontconfig, dbus and xcb libraries for Qt itself, plus xvfb and
# the xcb extras for a real window under a virtual display (CI, screenshots).
set -euo pipefail
sudo=""
[ "$(id -u)" -eq 0 ] || sudo=sudo
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends \
    libegl1 libgl1 libglib2.0-0 libxkbcommon0 libxkbcommon-x11-0 libfontconfig1 libfreetype6 libdbus-1-3 \
    libxcb1 libx11-xcb1 libxcb-icccm4 libxcb-keysyms1 libxcb-cursor0 libxcb-image0 libxcb-randr0 \
    libxcb-render-util0 libxcb-shape0 libxcb-xfixes0 libxcb-xinerama0 libxcb-xkb1 \
    xvfb xauth imagemagick x11-apps fonts-dejavu-core
