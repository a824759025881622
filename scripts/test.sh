#!/usr/bin/env bash
# Quick start 2: set up everything the tests need (Debian packages, one virtualenv with the training
# and edge requirements, the MediaPipe face model from PyPI) and run the whole test suite.
# Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/_venv.sh
ensure_apt "${EDGE_APT_PACKAGES[@]}" xvfb systemd chromium
VENV=${TEST_VENV:-.venv}
ensure_venv "$VENV" requirements-train.txt requirements-edge.txt requirements-test.txt
"$VENV/bin/python" -m edge.fetch_detector --quiet-if-present
exec "$VENV/bin/python" -m pytest "$@"
