#!/usr/bin/env bash
# Install the emotion-edge service on Raspberry Pi OS (Bookworm, arm64) or Debian. Idempotent: run it again
# to update the code; /etc/emotion-edge/config.yaml and the event store are never overwritten.
#
#   sudo bash scripts/install.sh [--root DIR] [--prefix DIR] [--no-systemctl] [--no-apt] [--no-pip]
#                                [--pi yes|no|auto] [--python PYTHON] [--display none|desktop|framebuffer]
#
#   --root DIR       install into DIR as if it were / (DESTDIR style; tests, image building, emulation)
#   --prefix DIR     application folder (default /opt/emotion-edge; the unit and config are rewritten to match):
#                    new, empty or an earlier install (marker .emotion-edge-install), never a folder of other files
#   --no-systemctl   do not reload, enable or restart the unit (implied by --root)
#   --no-apt         do not install Debian packages
#   --no-pip         create the venv but install no PyPI packages (offline tests)
#   --pi yes|no      force Raspberry Pi handling (python3-picamera2, numpy<2, source picamera2); default: detect
#   --display MODE   emotion display (docs/DISPLAY.md): desktop = full screen in the auto-login desktop session
#                    (user unit; --display-user USER gets linger), framebuffer = /dev/fb0 on Lite, none; default:
#                    the mode installed now (an update keeps the display), none on a first install
# Layout: PREFIX/{edge,models,docs,venv,.emotion-edge-install}, /etc/emotion-edge/config.yaml (+ .default),
# /etc/systemd/system/emotion-edge.service, /usr/local/bin/emotion-edge; data in /var/lib/emotion-edge (--display
# desktop: in the desktop user's state folder, ~/.config/emotion-edge or ~/.local/state/emotion-edge).
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)
source scripts/_venv.sh
source scripts/_display.sh
source scripts/_service.sh

DEFAULT_PREFIX=/opt/emotion-edge
UNIT=emotion-edge.service
# The marker in PREFIX says the folder is an emotion-edge install. It lists the entries below (uninstall.sh removes
# exactly those, then the folder if it is empty) and what the install turned on outside them (display_activate_desktop).
# models/ and docs/ may also hold the operator's files (their own model, notes): the marker lists each file the install
# puts there as "file SHA256 PATH"; uninstall.sh removes those still unchanged, then the folder only if it is empty,
# and install.sh run again leaves alone a file there that is not the one an install put there (see ours).
MARKER=.emotion-edge-install
APP_ENTRIES=(edge models docs venv requirements-edge.txt pip-constraints.txt)
ROOT=/ PREFIX=$DEFAULT_PREFIX SYSTEMCTL=1 APT=1 PIP=1 PI=auto PYTHON=${PYTHON:-python3}
DISPLAY_MODE= DISPLAY_USER=${SUDO_USER:-}
# libegl1 libgles2: mediapipe's libmediapipe.so links libEGL.so.1 and libGLESv2.so.2 (not in a minimal Debian /
# Pi OS Lite; without them the mediapipe detector fails to load)
APT_PACKAGES=(python3-venv python3-pip "${EDGE_APT_PACKAGES[@]}")
PI_APT_PACKAGES=(python3-picamera2)
PI_PIP_CONSTRAINTS="numpy<2"  # Debian's picamera2 stack (simplejpeg, libcamera) is built against numpy 1.x
# The CPU-dependent constraints (mediapipe<1 numpy<2 on arm64 without LSE atomics) come from scripts/_venv.sh.

die() { echo "error: $*" >&2; exit 2; }
while [ $# -gt 0 ]; do
  case $1 in
    --root) ROOT=${2:?}; shift 2 ;;
    --prefix) PREFIX=${2:?}; shift 2 ;;
    --no-systemctl) SYSTEMCTL=0; shift ;;
    --no-apt) APT=0; shift ;;
    --no-pip) PIP=0; shift ;;
    --pi) PI=${2:?}; shift 2 ;;
    --python) PYTHON=${2:?}; shift 2 ;;
    --display) DISPLAY_MODE=${2:?}; shift 2 ;;
    --display-user) DISPLAY_USER=${2:?}; shift 2 ;;
    -h|--help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "argument $1: unknown (see --help)" ;;
  esac
done
case $PREFIX in /*) ;; *) die "--prefix $PREFIX: must be an absolute path" ;; esac
case $PI in yes|no|auto) ;; *) die "--pi $PI: expected yes, no or auto" ;; esac
case $DISPLAY_MODE in ''|none|desktop|framebuffer) ;; *) die "--display $DISPLAY_MODE: expected none, desktop or framebuffer" ;; esac
if [ "$ROOT" != / ]; then
  mkdir -p "$ROOT" || die "--root $ROOT: cannot create"
  ROOT=$(cd "$ROOT" && pwd)
  SYSTEMCTL=0
elif [ "$(id -u)" -ne 0 ]; then
  die "install: run as root (sudo), or use --root DIR for a staging install"
fi
# PyPI has ai-edge-litert, mediapipe and opencv wheels only for 64-bit Linux (amd64, arm64): on 32-bit
# Raspberry Pi OS (armhf, even with a 64-bit kernel) pip would fail after long source builds.
arch=$(machine_arch)
case $arch in
  amd64|arm64|x86_64|aarch64) ;;
  *) [ "$PIP" = 0 ] || die "this system is $arch: the edge packages have wheels only for 64-bit (arm64, amd64); install the 64-bit Raspberry Pi OS (Pi 3, 4, 5, Zero 2)" ;;
esac
if [ "$PI" = auto ]; then
  PI=no
  grep -qs "Raspberry Pi" /proc/device-tree/model && PI=yes
fi
R=${ROOT%/}
APP=$R$PREFIX
VENV=$APP/venv
ETC=$R/etc/emotion-edge
step() { echo "install: $*"; }
DISPLAY_KEPT=0
if [ -z "$DISPLAY_MODE" ]; then  # run again to update: the display stays as it was installed
  DISPLAY_MODE=$(display_installed_mode "$R") DISPLAY_KEPT=1
  [ "$DISPLAY_MODE" = none ] || step "display: keeping the installed mode $DISPLAY_MODE (--display none removes it)"
fi

# Never into a folder of other files: uninstall.sh would then have to tell ours from theirs. What uninstall.sh keeps
# of an install (models/, docs/ with the operator's files) is fine: no file there is taken for the install's.
if [ -e "$APP" ] && [ ! -d "$APP" ]; then
  die "--prefix $PREFIX: exists and is not a folder"
elif [ -d "$APP" ] && [ ! -f "$APP/$MARKER" ] && ! { [ -d "$APP/edge" ] && [ -d "$APP/venv" ]; } \
    && [ -n "$(ls -A "$APP" | grep -vxE 'models|docs' || true)" ]; then
  die "--prefix $PREFIX: not empty and not an emotion-edge install (no $MARKER, no edge/ and venv/);" \
    "use a new or empty folder, e.g. ${PREFIX%/}/emotion-edge"
fi

# The configuration check (config_check): the repo's edge/ (the code being installed) loads the config, run by the
# installed venv's Python in isolated mode (-I: not the current folder, PYTHONPATH or the user's site-packages; -B:
# no __pycache__ written into the checkout). Exit 0 valid; 4 invalid; 3 this Python cannot check (it lacks the
# requirements: a venv made by --no-pip, or older than them). Prints one line on stdout: the error (`error: config
# FILE: KEY: PROBLEM; ADVICE`, no traceback), or why it could not check.
CONFIG_CHECK='
import sys
sys.path.insert(0, sys.argv[1])
try:
    from edge.config import load_config
    from edge.errors import EdgeError
except Exception as exc:
    print(f"{type(exc).__name__}:", *str(exc).split())
    sys.exit(3)
try:
    load_config(sys.argv[2])
except EdgeError as exc:
    print(f"{exc.one_line()}; {sys.argv[3]}")
    sys.exit(4)
except Exception as exc:
    print(f"{type(exc).__name__}:", *str(exc).split())
    sys.exit(3)
'
config_check() {
  # config_check ADVICE: check $ETC/config.yaml with $VENV's Python (CONFIG_CHECK above). Returns 0 if valid, 3 if
  # that Python cannot check it (why in CONFIG_UNCHECKED); exits 2 if invalid, after its one error line (+ ADVICE).
  local out rc=0
  [ -x "$VENV/bin/python" ] || { CONFIG_UNCHECKED="no $VENV/bin/python yet"; return 3; }
  out=$("$VENV/bin/python" -I -B -c "$CONFIG_CHECK" "$REPO" "$ETC/config.yaml" "$1" 2>/dev/null) || rc=$?
  case $rc in
    0) return 0 ;;
    4) echo "$out" >&2; exit 2 ;;
    *) CONFIG_UNCHECKED=${out:-"$VENV/bin/python exited $rc"}; return 3 ;;
  esac
}

write_marker() {
  # write_marker: (re)write $APP/$MARKER, keeping the lines of what an earlier install turned on (linger, auto-login)
  # and the files it put in models/ and docs/. LISTED=0: an earlier install older than that list (see ours)
  local kept files
  kept=$(grep -E '^(linger-user|desktop-autologin)( |$)' "$APP/$MARKER" 2>/dev/null || true)
  files=$(grep -E '^file [0-9a-f]{64} ' "$APP/$MARKER" 2>/dev/null || true)
  if grep -qx listed-files "$APP/$MARKER" 2>/dev/null; then LISTED=1
  elif [ -f "$APP/$MARKER" ] || { [ -d "$APP/edge" ] && [ -d "$APP/venv" ]; }; then LISTED=0
  else LISTED=1  # a new install (or into what uninstall.sh kept: the operator's files)
  fi
  {
    echo "# emotion-edge install (scripts/install.sh). scripts/uninstall.sh removes these entries, then this folder"
    echo "# if it is empty; what the install turned on outside it (linger, auto-login) it leaves on. Of models/ and"
    echo "# docs/ it removes only the files listed below (file SHA256 PATH) if unchanged, then each folder if empty."
    printf '%s\n' "${APP_ENTRIES[@]}"
    [ -z "$kept" ] || echo "$kept"
    echo listed-files
    [ -z "$files" ] || echo "$files"
  } > "$APP/$MARKER"
  chmod 0644 "$APP/$MARKER"
}

sha256() { local sum; sum=$(sha256sum < "$1"); echo "${sum%% *}"; }

listed_sum() {
  # listed_sum PATH: the sha256 the marker lists for $APP/PATH (a "file SHA256 PATH" line), or nothing
  awk -v p="$1" '$1 == "file" && substr($0, 71) == p { s = $2 } END { if (s != "") print s }' "$APP/$MARKER"
}

ours() {
  # ours PATH: $APP/PATH may be (over)written: there is none, or it is unchanged since an install listed it, or the
  # install is one older than the list (LISTED=0: then the names the repo ships are the install's)
  [ -e "$APP/$1" ] || [ -L "$APP/$1" ] || return 0
  [ "$LISTED" = 1 ] || return 0
  [ -f "$APP/$1" ] && [ "$(sha256 "$APP/$1")" = "$(listed_sum "$1")" ]
}

record() {
  # record PATH: list $APP/PATH in the marker with its sha256 (in place of an earlier line for it)
  local others
  others=$(awk -v p="$1" '!($1 == "file" && substr($0, 71) == p)' "$APP/$MARKER")
  printf '%s\nfile %s %s\n' "$others" "$(sha256 "$APP/$1")" "$1" > "$APP/$MARKER"
}

KEPT=" "
kept_note() {
  # kept_note PATH: say (once) that $APP/PATH is someone else's and stays as it is
  case $KEPT in *" $1 "*) return 0 ;; esac
  KEPT+="$1 "
  echo "install: warning: kept $APP/$1: not the file an install put there, so the repo's is not installed" \
    "(move it away and run again to get it)" >&2
}

put() {
  # put SRC PATH: install SRC as $APP/PATH and list it, unless the file there is not the install's (kept)
  if ours "$2"; then
    install -p -m 0644 "$1" "$APP/$2"
    record "$2"
  else
    kept_note "$2"
  fi
}

# A kept configuration is checked with the new code before anything is changed: an invalid one leaves the installed
# version as it is (and running), instead of one that fails at the next start. Without an installed venv that can
# check it (a first install, one by --no-pip) it is checked once the venv is made (configuration step).
CONFIG_CHECKED=0
if [ -e "$ETC/config.yaml" ] && [ -x "$VENV/bin/python" ]; then
  step "checking the kept $ETC/config.yaml with the new code (before changing anything)"
  if config_check "fix it and run the install again; nothing was changed"; then CONFIG_CHECKED=1; fi
fi

if [ "$APT" = 1 ]; then
  step "Debian packages"
  pkgs=("${APT_PACKAGES[@]}")
  [ "$PI" = yes ] && pkgs+=("${PI_APT_PACKAGES[@]}")
  ensure_apt "${pkgs[@]}"
fi

step "application -> $APP"
mkdir -p "$APP"
write_marker  # first: an install that fails half-way can be run again, or uninstalled
mkdir -p "$APP/models" "$APP/docs"
rm -rf "$APP/edge.new"
mkdir "$APP/edge.new"
# tar keeps modification times, so the byte-compiled files below are identical on every run
tar -C "$REPO/edge" --exclude=__pycache__ --exclude='*.pyc' -cf - . | tar -C "$APP/edge.new" -xf - --no-same-owner
rm -rf "$APP/edge"
mv "$APP/edge.new" "$APP/edge"
# uninstall.sh has the same names (shipped_files) for an install older than the marker's file list
for f in "$REPO"/models/*.tflite "$REPO"/models/*.json "$REPO"/models/*.md; do
  [ -f "$f" ] || continue
  put "$f" "models/${f##*/}"
done
install -p -m 0644 requirements-edge.txt "$APP/requirements-edge.txt"
[ -f docs/SERVICE.md ] && put docs/SERVICE.md docs/SERVICE.md
[ -f "$APP/models/emotion_int8.tflite" ] || echo "install: warning: models/emotion_int8.tflite not in the repo yet; the service needs it (python -m convert)" >&2

step "virtualenv $VENV (--system-site-packages, so apt's picamera2 is importable)"
if ! venv_has_pip "$VENV"; then  # none yet, or left without pip by an earlier run: (re)create it
  "$PYTHON" -m venv --clear --system-site-packages "$VENV" || die "venv $VENV: cannot create (apt install python3-venv)"
fi
if [ "$PIP" = 1 ]; then
  constraints=() pi_constraints=()
  [ "$PI" = yes ] && pi_constraints+=("$PI_PIP_CONSTRAINTS")
  write_pip_constraints "$APP/pip-constraints.txt" "${pi_constraints[@]}"
  if [ -f "$APP/pip-constraints.txt" ]; then constraints=(-c "$APP/pip-constraints.txt"); fi
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check -r "$APP/requirements-edge.txt" "${constraints[@]}"
fi
"$VENV/bin/python" -m compileall -q "$APP/edge" >/dev/null

step "face detector model"
face=models/face_detection_short_range.tflite
if ! ours "$face"; then
  kept_note "$face"
elif PYTHONPATH=$APP "$VENV/bin/python" -m edge.fetch_detector --dest "$APP/$face"; then
  record "$face"
else
  echo "install: warning: face model not fetched; the service falls back to the Haar detector" >&2
fi

step "configuration $ETC"
mkdir -p "$ETC"
source_uri=0
[ "$PI" = yes ] && source_uri=picamera2
sed -e "s#@SOURCE@#$source_uri#" -e "s#$DEFAULT_PREFIX#$PREFIX#g" systemd/config.yaml > "$ETC/config.yaml.default"
chmod 0644 "$ETC/config.yaml.default"
if [ -e "$ETC/config.yaml" ]; then
  step "keeping existing $ETC/config.yaml (new defaults: config.yaml.default)"
else
  cp -p "$ETC/config.yaml.default" "$ETC/config.yaml"
fi
if [ "$CONFIG_CHECKED" = 0 ] && ! config_check "fix it and run the install again"; then
  # the venv cannot load the edge code: a bug after pip install; expected with --no-pip (no PyPI packages)
  [ "$PIP" = 0 ] || die "config $ETC/config.yaml: cannot be checked ($CONFIG_UNCHECKED)"
  step "configuration not checked (--no-pip: $CONFIG_UNCHECKED)"
fi

step "unit $R/etc/systemd/system/$UNIT and command $R/usr/local/bin/emotion-edge"
mkdir -p "$R/etc/systemd/system" "$R/usr/local/bin"
sed "s#$DEFAULT_PREFIX#$PREFIX#g" "systemd/$UNIT" > "$R/etc/systemd/system/$UNIT"
chmod 0644 "$R/etc/systemd/system/$UNIT"
cat > "$R/usr/local/bin/emotion-edge" <<EOF
#!/bin/sh
# emotion-edge report --since 24h | emotion-edge service --help | emotion-edge --source demo ...
# -P: the installed code, never an edge/ folder in the current directory (a checkout, run as root with sudo)
PYTHONPATH=$PREFIX exec $PREFIX/venv/bin/python -P -m edge "\$@"
EOF
chmod 0755 "$R/usr/local/bin/emotion-edge"
display_install "$DISPLAY_MODE" "$R" "$PREFIX"  # puts docs/DISPLAY.md (listed in the marker, an edited copy kept)

if [ "$SYSTEMCTL" = 1 ] && [ "$DISPLAY_MODE" = desktop ] && [ "$DISPLAY_KEPT" = 1 ]; then
  display_update_desktop "$UNIT"
elif [ "$SYSTEMCTL" = 1 ] && [ "$DISPLAY_MODE" = desktop ]; then
  display_activate_desktop "$UNIT" "$DISPLAY_USER" "$APP/$MARKER"
elif [ "$SYSTEMCTL" = 1 ]; then
  step "systemctl daemon-reload, enable, restart (watching the start for ${SERVICE_START_WAIT_S} s)"
  systemctl daemon-reload
  systemctl enable "$UNIT" >/dev/null
  # not a blocking restart: a Type=notify unit is "activating" while its models load (seconds on a Pi)
  service_start "$UNIT" || exit 1
else
  echo "install: done (systemctl skipped)"
fi
