#!/usr/bin/env bash
# Remove the emotion-edge service. Keeps the event store (/var/lib/emotion-edge) and the configuration
# (/etc/emotion-edge) unless --purge. Idempotent: running it twice is fine.
#
#   sudo bash scripts/uninstall.sh [--root DIR] [--prefix DIR] [--no-systemctl] [--purge]
set -euo pipefail

DEFAULT_PREFIX=/opt/emotion-edge
UNIT=emotion-edge.service
NAME=emotion-edge
ROOT=/ PREFIX=$DEFAULT_PREFIX SYSTEMCTL=1 PURGE=0

die() { echo "error: $1" >&2; exit 2; }
while [ $# -gt 0 ]; do
  case $1 in
    --root) ROOT=${2:?}; shift 2 ;;
    --prefix) PREFIX=${2:?}; shift 2 ;;
    --no-systemctl) SYSTEMCTL=0; shift ;;
    --purge) PURGE=1; shift ;;
    -h|--help) sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
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

if [ "$SYSTEMCTL" = 1 ] && command -v systemctl >/dev/null; then
  echo "uninstall: stopping and disabling $UNIT (the store is flushed on stop)"
  systemctl disable --now "$UNIT" 2>/dev/null || true
fi
rm -f "$R/etc/systemd/system/$UNIT" "$R/usr/local/bin/$NAME"
source "$(dirname "$0")/_display.sh"
display_remove "$R"  # the emotion display (user unit, autostart, framebuffer drop-in)
rm -rf "$R$PREFIX" "$R/var/cache/$NAME" "$R/var/cache/private/$NAME"
[ "$SYSTEMCTL" = 1 ] && command -v systemctl >/dev/null && systemctl daemon-reload
if [ "$PURGE" = 1 ]; then
  echo "uninstall: --purge: deleting the configuration and the event store"
  rm -rf "$R/etc/$NAME" "$R/var/lib/$NAME" "$R/var/lib/private/$NAME"
else
  for kept in "$R/etc/$NAME" "$R/var/lib/$NAME"; do
    [ -e "$kept" ] && echo "uninstall: kept $kept (remove with --purge)"
  done
fi
echo "uninstall: done"
