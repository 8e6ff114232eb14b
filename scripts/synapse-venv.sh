#!/usr/bin/env bash
# A Synapse homeserver for the Matrix bridge's tests, in a venv of its own (never the
# service's: Synapse brings Twisted and pins of its own), cached between runs.
# Prints the venv's python. Usage: scripts/synapse-venv.sh
set -euo pipefail
VERSION="${SYNAPSE_VERSION:-1.163.2}"
CACHE="${CRISIS_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/crisis}"
VENV="$CACHE/synapse-$VERSION"
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c "import synapse" 2>/dev/null; then
  mkdir -p "$CACHE"
  rm -rf "$VENV"
  python3 -m venv "$VENV" >&2
  "$VENV/bin/pip" install -q "matrix-synapse==$VERSION" >&2
fi
echo "$VENV/bin/python"
