#!/usr/bin/env bash
# Remove the emotion-edge service. Keeps the event store (/var/lib/emotion-edge; the desktop display's in each
# user's ~/.config/emotion-edge or ~/.local/state/emotion-edge) and the configuration (/etc/emotion-edge) unless
# --purge. Idempotent: running it twice is fine. In the prefix folder it removes only
# what install.sh puts there, then the folder if that leaves it empty; a folder that is not an emotion-edge install
# is left alone. Of models/ and docs/ it removes only the install's files, unchanged, so a model or note the
# operator put there stays (and so does the folder).
#
#   sudo bash scripts/uninstall.sh [--root DIR] [--prefix DIR] [--no-systemctl] [--purge]
set -euo pipefail

DEFAULT_PREFIX=/opt/emotion-edge
UNIT=emotion-edge.service
NAME=emotion-edge
# install.sh's marker and entries in the prefix (the marker last: an interrupted uninstall can be run again)
MARKER=.emotion-edge-install
APP_ENTRIES=(edge edge.new venv requirements-edge.txt pip-constraints.txt "$MARKER")
# Folders the operator may add to (their own model, notes): only the install's files go, then the folder if empty
FILE_FOLDERS=(models docs)
FACE_MODEL=models/face_detection_short_range.tflite
ROOT=/ PREFIX=$DEFAULT_PREFIX SYSTEMCTL=1 PURGE=0

die() { echo "error: $1" >&2; exit 2; }
while [ $# -gt 0 ]; do
  case $1 in
    --root) ROOT=${2:?}; shift 2 ;;
    --prefix) PREFIX=${2:?}; shift 2 ;;
    --no-systemctl) SYSTEMCTL=0; shift ;;
    --purge) PURGE=1; shift ;;
    -h|--help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
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
REPO=$(cd "$(dirname "$0")/.." && pwd)
source "$REPO/scripts/_display.sh"
command -v systemctl >/dev/null || SYSTEMCTL=0

shipped_files() {
  # shipped_files: the paths install.sh puts in models/ and docs/ from this repo (keep in step with install.sh), for an
  # install whose marker lists no files (older than the list)
  local f
  for f in "$REPO"/models/*.tflite "$REPO"/models/*.json "$REPO"/models/*.md; do
    if [ -f "$f" ]; then echo "models/${f##*/}"; fi
  done
  printf '%s\n' "$FACE_MODEL" docs/SERVICE.md docs/DISPLAY.md
}

remove_installed_files() {
  # remove_installed_files: the files the marker lists ("file SHA256 PATH") that are unchanged, or for an install
  # older than that list (no "listed-files" line) the names the repo ships; never another file. Then each of
  # FILE_FOLDERS if that leaves it empty.
  local listed line sum path dir
  listed=$(grep -E '^file [0-9a-f]{64} (models|docs)/[^/]+$' "$APP/$MARKER" 2>/dev/null || true)
  if [ -n "$listed" ] || grep -qx listed-files "$APP/$MARKER" 2>/dev/null; then
    while IFS= read -r line; do
      sum=${line:5:64} path=${line:70}
      if [ -f "$APP/$path" ] && [ "$(sha256sum < "$APP/$path" | cut -d' ' -f1)" = "$sum" ]; then
        rm -f "$APP/$path"
      fi
    done <<< "$listed"
  else
    while IFS= read -r path; do rm -f "${APP:?}/$path"; done < <(shipped_files)
  fi
  rm -f "$APP/$FACE_MODEL.part"  # a download cut short (edge.fetch_detector)
  for dir in "${FILE_FOLDERS[@]}"; do
    if [ -e "$APP/$dir" ] && ! rmdir "$APP/$dir" 2>/dev/null; then
      echo "uninstall: kept $APP/$dir: it holds files the install did not put there (or changed)"
    fi
  done
}

is_install() {
  # is_install: $APP is an emotion-edge install (its marker, or edge/ and venv/ for one older than the marker)
  [ -f "$APP/$MARKER" ] || { [ -d "$APP/edge" ] && [ -d "$APP/venv" ]; }
}

anything_installed() {
  # anything_installed: any of what install.sh puts outside or in $APP is here (or the data it keeps)
  local path
  is_install && return 0
  while IFS= read -r path; do
    if [ -e "$path" ] || [ -L "$path" ]; then return 0; fi
  done < <(printf '%s\n' "$R/etc/systemd/system/$UNIT" "$R/usr/local/bin/$NAME" "${DATA[@]}" "${CACHES[@]}"
           display_files "$R")
  return 1
}

app_not_an_install() {
  # app_not_an_install: say why $APP (there, not an install) is left as it is. Only models/ and docs/ in it is what
  # an uninstall keeps of an install (the operator's files; install.sh accepts it too); anything else is not ours.
  if [ -d "$APP" ] && [ -n "$(ls -A "$APP")" ] && [ -z "$(ls -A "$APP" | grep -vxE 'models|docs' || true)" ]; then
    echo "uninstall: left $APP as it is: only files the install did not put there (what an uninstall keeps)"
  else
    echo "uninstall: left $APP alone: not an emotion-edge install (no $MARKER, no edge/ and venv/)"
  fi
}

# The configuration and the event store (DynamicUser: /var/lib/emotion-edge links to /var/lib/private/emotion-edge),
# and the desktop display's event stores in its users' state folders
DATA=("$R/etc/$NAME" "$R/var/lib/$NAME" "$R/var/lib/private/$NAME")
mapfile -t USER_STORES < <(display_user_folders "$R" state)
DATA+=("${USER_STORES[@]}")
mapfile -t USER_CACHES < <(display_user_folders "$R" cache)
CACHES=("$R/var/cache/$NAME" "$R/var/cache/private/$NAME" "${USER_CACHES[@]}")
remove_data() {
  # remove_data PATH: a folder of the system unit's, or one in a user's home (display_remove_user_folder)
  case $1 in
    "$R/etc/"*|"$R/var/"*) rm -rf -- "$1" ;;
    *) display_remove_user_folder "$1" ;;
  esac
}
data_name() {
  case $1 in
    "$R/etc/"*) echo "the configuration" ;;
    "$R/var/"*) echo "the event store" ;;
    *) echo "the desktop display's event store" ;;
  esac
}

if ! anything_installed; then  # a second uninstall (--purge): nothing to stop, remove or delete
  if [ -e "$APP" ]; then app_not_an_install; fi
  echo "uninstall: nothing to do: emotion-edge is not installed in $ROOT (no unit, command, install in $APP," \
    "configuration or event store)"
  exit 0
fi

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

if is_install; then
  remove_installed_files  # before the marker goes: it lists them
  for entry in "${APP_ENTRIES[@]}"; do rm -rf "${APP:?}/$entry"; done
  rmdir "$APP" 2>/dev/null || echo "uninstall: kept $APP: it holds files the install did not put there"
elif [ -e "$APP" ]; then
  app_not_an_install
fi
for cache in "${CACHES[@]}"; do remove_data "$cache"; done
[ "$SYSTEMCTL" = 1 ] && systemctl daemon-reload
for data in "${DATA[@]}"; do  # only what is there is named
  if [ ! -e "$data" ] && [ ! -L "$data" ]; then continue; fi
  if [ "$PURGE" = 1 ]; then
    echo "uninstall: --purge: deleting $(data_name "$data") $data"
    remove_data "$data"
  elif [ "$data" != "$R/var/lib/private/$NAME" ]; then  # the store's other name, told as $R/var/lib/$NAME
    echo "uninstall: kept $data (remove with --purge)"
  fi
done
display_left_on "$left_on"
echo "uninstall: done"
