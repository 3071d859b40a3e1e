#!/usr/bin/env bash
# Installs aiortc (pinned) into a virtual environment under .cache/, for the
# peer-to-peer test (tests/p2p/peer.py) and the demo's P2P call. Idempotent:
# prints the venv's python path when it is ready. Uses Debian's python3
# (/usr/bin/python3, python3-venv) so CI and developers get the same one.
set -euo pipefail
cd "$(dirname "$0")/.."

AIORTC_VERSION=1.16.0
venv=.cache/aiortc-$AIORTC_VERSION
py=/usr/bin/python3
command -v "$py" >/dev/null || py=python3

if [ ! -x "$venv/bin/python" ] ||
   ! "$venv/bin/python" -c "import aiortc, sys; sys.exit(aiortc.__version__ != '$AIORTC_VERSION')" 2>/dev/null; then
  rm -rf "$venv"
  "$py" -m venv "$venv"
  "$venv/bin/python" -m pip install -q --disable-pip-version-check "aiortc==$AIORTC_VERSION"
fi
echo "$PWD/$venv/bin/python"
