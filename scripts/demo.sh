#!/usr/bin/env bash
# Quick start 1: set up the edge runtime (no TensorFlow) and run the main job on built-in defaults.
# With no camera it falls back to the built-in demo clip; with no display it runs headless and says
# where the results went. Extra arguments go to `python -m edge`.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/_venv.sh
ensure_apt "${EDGE_APT_PACKAGES[@]}"
VENV=${EDGE_VENV:-.venv-edge}
ensure_venv "$VENV" requirements-edge.txt
"$VENV/bin/python" -m edge.fetch_detector --quiet-if-present \
  || echo "note: MediaPipe face model not available; the haar detector will be used"
exec "$VENV/bin/python" -m edge "$@"
