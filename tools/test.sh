#!/usr/bin/env bash
# Installs everything the tests need and runs them (this is the README's test command and what CI runs).
#   Debian packages: mosquitto (real MQTT broker for the fleet-link tests), openssl (its TLS test), systemd (systemd-analyze verify
#   of the unit), libportaudio2 (sounddevice imports), espeak-ng + sox (speech fixtures and tools), fonts-dejavu-core +
#   fonts-liberation (the part renderer used by the fusion tests).
#   Python packages: edge with its dev and train extras, into .venv (PEP 668 safe on Debian/Raspberry Pi OS).
# Extra arguments go to pytest, e.g. `bash tools/test.sh -k config`.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(mosquitto systemd libportaudio2 espeak-ng sox openssl fonts-dejavu-core fonts-liberation)
if command -v apt-get >/dev/null 2>&1; then
    missing=()
    for pkg in "${APT_PACKAGES[@]}"; do
        dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
    done
    if ((${#missing[@]})); then
        SUDO=""
        [ "$(id -u)" -ne 0 ] && SUDO="sudo"
        echo "installing Debian packages: ${missing[*]}"
        $SUDO apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    fi
else
    echo "no apt-get: install ${APT_PACKAGES[*]} with your package manager" >&2
fi

PYTHON="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
# torch only for the few-step training smoke tests; the CPU build (never the multi-GB CUDA one)
if ! .venv/bin/python -c "import torch" 2>/dev/null; then
    .venv/bin/python -m pip install -q "torch==2.13.0" \
        || echo "torch not installable here: training smoke tests will be skipped" >&2
fi
extras="dev"
.venv/bin/python -c "import torch" 2>/dev/null && extras="dev,train"
.venv/bin/python -m pip install -q -e ".[${extras}]"
exec .venv/bin/python -m pytest "$@"
