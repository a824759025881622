# Shared by the Quick start scripts: make a Python 3.11+ virtualenv and install requirement files into it.
# Usage: source scripts/_venv.sh; ensure_venv DIR REQ_FILE...
set -euo pipefail

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

ensure_apt() {
  # ensure_apt PKG...: install the Debian packages that are missing (one apt-get update per run).
  local missing=()
  for pkg in "$@"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "installing Debian packages: ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

# System libraries the edge wheels link: OpenCV's GUI build (libGL, GLib), MediaPipe (libEGL, libGLESv2).
EDGE_APT_PACKAGES=(libgl1 libglib2.0-0 libegl1 libgles2)

ensure_venv() {
  local dir=$1; shift
  if ! python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    echo "error: python3: version 3.11 or newer is required" >&2; exit 2
  fi
  if [ ! -x "$dir/bin/python" ]; then
    python3 -m venv "$dir" 2>/dev/null || { ensure_apt python3-venv; python3 -m venv "$dir"; }
  fi
  local args=()
  for req in "$@"; do args+=(-r "$req"); done
  "$dir/bin/python" -m pip install -q --disable-pip-version-check "${args[@]}"
}
