#!/usr/bin/env bash
# Installs aiortc into a virtual environment under .cache/, every package
# pinned by tests/p2p/requirements.txt, for the peer-to-peer test and the
# demo's P2P call (tests/p2p/peer.py). Idempotent: prints the venv's python
# when it is ready. Uses Debian's python3 (/usr/bin/python3 with
# python3-venv) so CI and developers get the same one. The packages are
# wheels from PyPI (PyAV's bundles FFmpeg): nothing is compiled.
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
  "$venv/bin/python" -m pip install -q --disable-pip-version-check \
    --only-binary=:all: -r tests/p2p/requirements.txt
fi
echo "$PWD/$venv/bin/python"
