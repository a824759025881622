#!/usr/bin/env bash
# Remove the emotion-edge service. Keeps the event store (/var/lib/emotion-edge) and the configuration
# (/etc/emotion-edge) unless --purge. Idempotent: running it twice is fine. In the prefix folder it removes only
# what install.sh puts there, then the folder if that leaves it empty; a folder that is not an emotion-edge install
# is left alone.
#
#   sudo bash scripts/uninstall.sh [--root DIR] [--prefix DIR] [--no-systemctl] [--purge]
set -euo pipefail

DEFAULT_PREFIX=/opt/emotion-edge
UNIT=emotion-edge.service
NAME=emotion-edge
# install.sh's marker and entries in the prefix (the marker last: an interrupted uninstall can be run again)
MARKER=.emotion-edge-install
APP_ENTRIES=(edge edge.new models docs venv requirements-edge.txt pip-constraints.txt "$MARKER")
ROOT=/ PREFIX=$DEFAULT_PREFIX SYSTEMCTL=1 PURGE=0

die() { echo "error: $1" >&2; exit 2; }
while [ $# -gt 0 ]; do
  case $1 in
    --root) ROOT=${2:?}; shift 2 ;;
    --prefix) PREFIX=${2:?}; shift 2 ;;
    --no-systemctl) SYSTEMCTL=0; shift ;;
    --purge) PURGE=1; shift ;;
    -h|--help) sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "argument $1: unknown (see --help)" ;;
  esac
done
case $PREFIX in /*) ;; *) die "--prefix $PREFIX: must be an absolute path" ;; esac
if [ "$ROOT" != / ]; then
  [ -d "$ROOT" ] || die "--root $ROOT: no such folder"
  ROOT=$(cd "$ROOT" && pwd)
  SYSTEMCTL=0
elif [ "$(id -u)" -ne 0 ]; then
  die "uninstall: run as root (sudo), or use --root DIR"
fi
R=${ROOT%/}
APP=$R$PREFIX
source "$(dirname "$0")/_display.sh"
command -v systemctl >/dev/null || SYSTEMCTL=0

# What install --display desktop turned on outside its files (told at the end, not reverted): read before the
# marker goes. Without a marker (an install older than it) but with the display unit, it may have.
if [ -f "$APP/$MARKER" ]; then
  left_on=$(grep -E '^(desktop-autologin|linger-user )' "$APP/$MARKER" || true)
elif [ -e "$R/etc/systemd/user/$DISPLAY_UNIT" ]; then
  left_on=unknown
else
  left_on=
fi

if [ "$SYSTEMCTL" = 1 ]; then
  echo "uninstall: stopping and disabling $UNIT (the store is flushed on stop)"
  systemctl disable --now "$UNIT" 2>/dev/null || true
  display_stop_user_units  # the desktop display (its venv is about to go; it holds the camera)
fi
rm -f "$R/etc/systemd/system/$UNIT" "$R/usr/local/bin/$NAME"
display_remove "$R"  # the emotion display (user unit, autostart, framebuffer drop-in)

if [ -f "$APP/$MARKER" ] || { [ -d "$APP/edge" ] && [ -d "$APP/venv" ]; }; then
  for entry in "${APP_ENTRIES[@]}"; do rm -rf "${APP:?}/$entry"; done
  rmdir "$APP" 2>/dev/null || echo "uninstall: kept $APP: it holds files the install did not put there"
elif [ -e "$APP" ]; then
  echo "uninstall: left $APP alone: not an emotion-edge install (no $MARKER, no edge/ and venv/)"
fi
rm -rf "$R/var/cache/$NAME" "$R/var/cache/private/$NAME"
[ "$SYSTEMCTL" = 1 ] && systemctl daemon-reload
if [ "$PURGE" = 1 ]; then
  echo "uninstall: --purge: deleting the configuration and the event store"
  rm -rf "$R/etc/$NAME" "$R/var/lib/$NAME" "$R/var/lib/private/$NAME"
else
  for kept in "$R/etc/$NAME" "$R/var/lib/$NAME"; do
    [ -e "$kept" ] && echo "uninstall: kept $kept (remove with --purge)"
  done
fi
display_left_on "$left_on"
echo "uninstall: done"
