# Sourced by scripts/install.sh (--display) and scripts/uninstall.sh: the emotion display (docs/DISPLAY.md).
#   desktop      user unit emotion-edge-display.service (+ XDG autostart entry) in every desktop session; the
#                system unit emotion-edge.service is disabled (one process owns the camera)
#   framebuffer  drop-in for the system unit: it also draws on /dev/fb0 (no window system)
#   none         neither (plain headless service)
DISPLAY_UNIT=emotion-edge-display.service
DISPLAY_AUTOSTART=emotion-edge-display.desktop
DISPLAY_DROPIN=emotion-edge.service.d/display-framebuffer.conf
DISPLAY_WANTS=graphical-session.target.wants

display_files() {
  # display_files ROOT: the paths of every display file install.sh may put under ROOT, one a line
  local r=$1
  printf '%s\n' "$r/etc/systemd/user/$DISPLAY_UNIT" "$r/etc/systemd/user/$DISPLAY_WANTS/$DISPLAY_UNIT" \
    "$r/etc/xdg/autostart/$DISPLAY_AUTOSTART" "$r/etc/systemd/system/$DISPLAY_DROPIN"
}

# The user unit's own folders in each home: its StateDirectory (%S/emotion-edge: the event store, ~/.config with
# systemd 252, ~/.local/state with 254 and later) and its matplotlib cache (%C/emotion-edge, ~/.cache). Each is
# known by what the unit leaves in it, so a folder of the same name that the unit did not make is not touched.
DISPLAY_USER_STATE=(.config/emotion-edge .local/state/emotion-edge)
DISPLAY_USER_CACHE=(.cache/emotion-edge)
DISPLAY_STATE_FILE=events.db
DISPLAY_CACHE_FILE=matplotlib

display_real_folder() {
  # display_real_folder HOME SUB: HOME/SUB is a folder reached without a symbolic link from HOME on (HOME included):
  # a user's link (~/.cache -> /var/lib/private) must not point root's uninstall at another folder
  local path=$1 part IFS=/
  [ -d "$path" ] && [ ! -L "$path" ] || return 1
  for part in $2; do
    path=$path/$part
    [ -d "$path" ] && [ ! -L "$path" ] || return 1
  done
}

display_user_folders() {
  # display_user_folders ROOT state|cache: the user unit's folders of that kind in the home folders under ROOT
  # (ROOT/home/*, ROOT/root), one a line
  local r=$1 home sub subs mark
  if [ "$2" = state ]; then subs=("${DISPLAY_USER_STATE[@]}") mark=$DISPLAY_STATE_FILE
  else subs=("${DISPLAY_USER_CACHE[@]}") mark=$DISPLAY_CACHE_FILE
  fi
  for home in "$r"/home/* "$r/root"; do
    for sub in "${subs[@]}"; do
      if display_real_folder "$home" "$sub" && [ -e "$home/$sub/$mark" ]; then echo "$home/$sub"; fi
    done
  done
}

display_remove_user_folder() {
  # display_remove_user_folder PATH: delete a folder of display_user_folders. On a live system as the folder's
  # owner (runuser), so that a link swapped in after the check can only reach what that user could delete anyway.
  local path=$1 owner
  owner=$(stat -c %U -- "$path" 2>/dev/null || echo root)
  if [ "$(id -u)" = 0 ] && [ "$owner" != root ] && [ "$owner" != UNKNOWN ] && command -v runuser >/dev/null; then
    runuser -u "$owner" -- rm -rf -- "$path" \
      || echo "uninstall: warning: $path: $owner could not delete it all; delete the rest as root" >&2
  else
    rm -rf -- "$path"
  fi
}

display_remove() {
  # display_remove ROOT: remove every display file (idempotent)
  local r=$1 path
  while IFS= read -r path; do rm -f "$path"; done < <(display_files "$r")
  rmdir "$r/etc/systemd/user/$DISPLAY_WANTS" "$r/etc/systemd/system/${DISPLAY_DROPIN%/*}" 2>/dev/null || true
}

display_installed_mode() {
  # display_installed_mode ROOT: the mode whose files an earlier install left under ROOT (desktop, framebuffer), or none
  local r=$1
  if [ -f "$r/etc/systemd/user/$DISPLAY_UNIT" ]; then echo desktop
  elif [ -f "$r/etc/systemd/system/$DISPLAY_DROPIN" ]; then echo framebuffer
  else echo none
  fi
}

display_install() {
  # display_install MODE ROOT PREFIX: install the files of MODE (and remove those of the other modes), and
  # docs/DISPLAY.md as install.sh puts its other docs (its put, into ROOT PREFIX = its $APP): listed in the marker,
  # and an operator's changed copy is kept, not overwritten by an upgrade
  local mode=$1 r=$2 prefix=$3 default=/opt/emotion-edge
  display_remove "$r"
  [ -f docs/DISPLAY.md ] && put docs/DISPLAY.md docs/DISPLAY.md
  case $mode in
    desktop)
      echo "install: display: user unit $r/etc/systemd/user/$DISPLAY_UNIT, autostart entry"
      mkdir -p "$r/etc/systemd/user/$DISPLAY_WANTS" "$r/etc/xdg/autostart"
      sed "s#$default#$prefix#g" "systemd/$DISPLAY_UNIT" > "$r/etc/systemd/user/$DISPLAY_UNIT"
      chmod 0644 "$r/etc/systemd/user/$DISPLAY_UNIT"
      # what `systemctl --global enable` does: WantedBy=graphical-session.target, for every user
      ln -sfn "/etc/systemd/user/$DISPLAY_UNIT" "$r/etc/systemd/user/$DISPLAY_WANTS/$DISPLAY_UNIT"
      install -p -m 0644 "systemd/$DISPLAY_AUTOSTART" "$r/etc/xdg/autostart/$DISPLAY_AUTOSTART"
      ;;
    framebuffer)
      echo "install: display: framebuffer drop-in $r/etc/systemd/system/$DISPLAY_DROPIN"
      mkdir -p "$r/etc/systemd/system/${DISPLAY_DROPIN%/*}"
      sed "s#$default#$prefix#g" "systemd/$DISPLAY_DROPIN" > "$r/etc/systemd/system/$DISPLAY_DROPIN"
      chmod 0644 "$r/etc/systemd/system/$DISPLAY_DROPIN"
      ;;
    none) ;;
    *) echo "error: --display $mode: expected none, desktop or framebuffer" >&2; return 2 ;;
  esac
}

display_note() {
  # display_note FILE LINE: add LINE to FILE (the install's marker) unless it is there
  grep -qxF "$2" "$1" 2>/dev/null || echo "$2" >> "$1"
}

display_activate_desktop() {
  # display_activate_desktop SYSTEM_UNIT USER MARKER: the desktop session runs the display; the system unit steps
  # aside. What it turns on outside the install (auto-login, linger) is noted in MARKER: uninstall.sh leaves it
  # on (the user may want it) and says how to turn it off.
  local unit=$1 user=$2 marker=$3
  systemctl daemon-reload
  systemctl disable --now "$unit" 2>/dev/null || true
  if command -v raspi-config >/dev/null; then
    echo "install: desktop auto-login (raspi-config nonint do_boot_behaviour B4)"
    raspi-config nonint do_boot_behaviour B4
    display_note "$marker" desktop-autologin
  else
    echo "install: no raspi-config: turn on desktop auto-login yourself (docs/DISPLAY.md)"
  fi
  if [ -n "$user" ] && [ "$user" != root ]; then
    echo "install: loginctl enable-linger $user (the user's systemd starts at boot)"
    loginctl enable-linger "$user"
    display_note "$marker" "linger-user $user"
  fi
  echo "install: done; the display starts with the desktop session: sudo reboot," \
    "then follow it with: journalctl --user -u emotion-edge-display -f (as ${user:-the desktop user})"
}

display_user_units() {
  # display_user_units VERB: systemctl --user VERB the display unit in every running user manager (uninstall.sh
  # stops it before the files and the venv go: a running display holds the camera; an update try-restarts it on the
  # new code). A manager without the unit is not an error. Prints the users, if any.
  local verb=$1 users user
  command -v loginctl >/dev/null || return 0
  users=$(loginctl list-users --no-legend 2>/dev/null | awk '{print $2}' || true)  # columns: UID USER [...]
  [ -n "$users" ] || return 0
  echo "${users//$'\n'/ }"
  for user in $users; do
    # -M USER@: that user's manager (systemd 248 and later; Debian 12 has 252)
    systemctl --user -M "$user@" "$verb" "$DISPLAY_UNIT" 2>/dev/null || true
  done
}

display_stop_user_units() {
  # display_stop_user_units: stop the display in every running user manager (uninstall.sh, before removing files)
  local users
  users=$(display_user_units stop)
  [ -z "$users" ] || echo "uninstall: stopped the user unit $DISPLAY_UNIT of: $users"
}

display_update_desktop() {
  # display_update_desktop SYSTEM_UNIT: an install run again without --display over a desktop one: the new code is
  # taken up by the displays running now (try-restart: only those running), and the system unit stays off. What
  # the first install turned on for its user (auto-login, linger) is left as it is now: not turned on again, and
  # not for whoever runs this update.
  local unit=$1 users
  systemctl daemon-reload
  systemctl disable --now "$unit" 2>/dev/null || true
  users=$(display_user_units try-restart)
  [ -z "$users" ] || echo "install: restarted the running display (user unit $DISPLAY_UNIT) of: $users"
  echo "install: done; the desktop display was kept (auto-login and linger as they are)"
}

display_left_on() {
  # display_left_on NOTES: what install --display desktop turned on outside its files, one line each with how to
  # turn it off; nothing is reverted (auto-login and the user's systemd may be wanted for other things). NOTES:
  # the marker's "desktop-autologin" and "linger-user USER" lines, or "unknown" (an install older than the marker).
  local line user
  while IFS= read -r line; do
    case $line in
      desktop-autologin)
        echo "uninstall: desktop auto-login (raspi-config B4) left on; turn it off with:" \
          "sudo raspi-config nonint do_boot_behaviour B1" ;;
      "linger-user "*)
        user=${line#linger-user }
        echo "uninstall: linger for $user (their systemd starts at boot) left on; turn it off with:" \
          "sudo loginctl disable-linger $user" ;;
      unknown)
        echo "uninstall: desktop auto-login (raspi-config B4), if the install turned it on, left on; turn it off" \
          "with: sudo raspi-config nonint do_boot_behaviour B1"
        echo "uninstall: linger for the desktop user, if the install turned it on, left on; turn it off with:" \
          "sudo loginctl disable-linger USER" ;;
    esac
  done <<< "$1"
}
