#!/bin/sh
# Install edge as a hardened systemd service on a Debian-family box (Raspberry Pi OS, Jetson Ubuntu, Debian).
# Run from a source checkout:  sudo tools/install.sh   [extra args for `edge install-service`, e.g. --user edge]
# What it does: system packages -> a virtualenv in /opt/edge (outside /home, which the unit hides) ->
# `edge install-service` (unit, /etc/edge/config.yaml, /etc/default/edge, models, the `edge` user).
set -eu

if [ "$(id -u)" -ne 0 ]; then
    echo "install.sh: run as root (sudo tools/install.sh)" >&2
    exit 1
fi
SRC=$(cd "$(dirname "$0")/.." && pwd)
VENV=${EDGE_VENV:-/opt/edge}

if command -v apt-get >/dev/null 2>&1; then
    apt-get update
    # libportaudio2: microphone; python3-venv: the virtualenv; v4l-utils: `v4l2-ctl --list-devices`
    apt-get install -y --no-install-recommends python3 python3-venv python3-pip libportaudio2 v4l-utils
fi

# On Jetson, `EDGE_SYSTEM_SITE=1 sudo -E tools/install.sh` lets the venv see JetPack's OpenCV (GStreamer)
# and NVIDIA's onnxruntime-gpu wheel installed system-wide.
if [ "${EDGE_SYSTEM_SITE:-0}" = 1 ]; then
    python3 -m venv --system-site-packages "$VENV"
else
    python3 -m venv "$VENV"
fi
"$VENV/bin/pip" install --upgrade pip
"$VENV/bin/pip" install "$SRC"
ln -sf "$VENV/bin/edge" /usr/local/bin/edge

"$VENV/bin/edge" install-service --source "$SRC" --edge-bin "$VENV/bin/edge" "$@"
