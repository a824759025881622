# shellcheck shell=bash
# Shared by the Quick start scripts and install.sh: make a Python 3.11+ virtualenv and install requirement
# files into it, with the pip constraints this CPU needs.
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
# shellcheck disable=SC2034  # used by the scripts that source this file
EDGE_APT_PACKAGES=(libgl1 libglib2.0-0 libegl1 libgles2)

# mediapipe 1.x aarch64 wheels are built for ARMv8.1 atomics (LSE): on a CPU without them (Cortex-A53/A72:
# Pi 3, Pi 4, Zero 2) libmediapipe.so kills the process with SIGILL. 0.10.18 (which needs numpy 1.x) runs there.
# edge/detectors/cpu.py refuses mediapipe 1.x on such a CPU at run time (falls back to haar).
NO_LSE_PIP_CONSTRAINTS=("mediapipe<1" "numpy<2")

# The Debian architecture of this system (userland: armhf on a 64-bit Pi kernel stays armhf).
machine_arch() { dpkg --print-architecture 2>/dev/null || uname -m; }

cpu_pip_constraints() {
  # cpu_pip_constraints: print the pip constraints this CPU needs, one a line (none on amd64, none on arm64 with LSE).
  case $(machine_arch) in
    arm64|aarch64) grep -qsw atomics /proc/cpuinfo || printf '%s\n' "${NO_LSE_PIP_CONSTRAINTS[@]}" ;;
  esac
}

write_pip_constraints() {
  # write_pip_constraints FILE [LINE...]: FILE gets this CPU's constraints plus LINEs; removed when there are none.
  local file=$1; shift
  local lines
  lines=$( { cpu_pip_constraints; [ $# -eq 0 ] || printf '%s\n' "$@"; } | awk 'NF && !seen[$0]++')
  if [ -n "$lines" ]; then
    printf '%s\n' "$lines" > "$file"
  else
    rm -f "$file"
  fi
}

venv_has_pip() {
  # venv_has_pip DIR: DIR is a finished venv. `python -m venv` without ensurepip (Debian without python3-venv)
  # stops after writing bin/python, so a run that died there left a venv without pip.
  [ -x "$1/bin/python" ] && [ -x "$1/bin/pip" ] && "$1/bin/python" -B -m pip --version >/dev/null 2>&1
}

ensure_venv() {
  local dir=$1; shift
  if ! python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    echo "error: python3: version 3.11 or newer is required" >&2; exit 2
  fi
  if ! venv_has_pip "$dir"; then  # none yet, or left without pip by an earlier run: (re)create it
    python3 -m venv --clear "$dir" 2>/dev/null || { ensure_apt python3-venv; python3 -m venv --clear "$dir"; }
  fi
  local args=()
  for req in "$@"; do args+=(-r "$req"); done
  write_pip_constraints "$dir/pip-constraints.txt"
  if [ -f "$dir/pip-constraints.txt" ]; then args+=(-c "$dir/pip-constraints.txt"); fi
  "$dir/bin/python" -m pip install -q --disable-pip-version-check "${args[@]}"
}
