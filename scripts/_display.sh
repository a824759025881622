# Sourced by scripts/install.sh (--display) and scripts/uninstall.sh: the emotion display (docs/DISPLAY.md).
#   desktop      user unit emotion-edge-display.service (+ XDG autostart entry) in every desktop session; the
#                system unit emotion-edge.service is disabled (one process owns the camera)
#   framebuffer  drop-in for the system unit: it also draws on /dev/fb0 (no window system)
#   none         neither (plain headless service)
DISPLAY_UNIT=emotion-edge-display.service
DISPLAY_AUTOSTART=emotion-edge-display.desktop
DISPLAY_DROPIN=emotion-edge.service.d/display-framebuffer.conf
DISPLAY_WANTS=graphical-session.target.wants

display_remove() {
  # display_remove ROOT: remove every display file (idempotent)
  local r=$1
  rm -f "$r/etc/systemd/user/$DISPLAY_UNIT" "$r/etc/systemd/user/$DISPLAY_WANTS/$DISPLAY_UNIT" \
    "$r/etc/xdg/autostart/$DISPLAY_AUTOSTART" "$r/etc/systemd/system/$DISPLAY_DROPIN"
  rmdir "$r/etc/systemd/user/$DISPLAY_WANTS" "$r/etc/systemd/system/${DISPLAY_DROPIN%/*}" 2>/dev/null || true
}

display_install() {
  # display_install MODE ROOT PREFIX: install the files of MODE (and remove those of the other modes)
  local mode=$1 r=$2 prefix=$3 default=/opt/emotion-edge
  display_remove "$r"
  [ -f docs/DISPLAY.md ] && install -p -m 0644 docs/DISPLAY.md "$r$prefix/docs/DISPLAY.md"
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

display_activate_desktop() {
  # display_activate_desktop SYSTEM_UNIT USER: the desktop session runs the display; the system unit steps aside
  local unit=$1 user=$2
  systemctl daemon-reload
  systemctl disable --now "$unit" 2>/dev/null || true
  if command -v raspi-config >/dev/null; then
    echo "install: desktop auto-login (raspi-config nonint do_boot_behaviour B4)"
    raspi-config nonint do_boot_behaviour B4
  else
    echo "install: no raspi-config: turn on desktop auto-login yourself (docs/DISPLAY.md)"
  fi
  if [ -n "$user" ] && [ "$user" != root ]; then
    echo "install: loginctl enable-linger $user (the user's systemd starts at boot)"
    loginctl enable-linger "$user"
  fi
  echo "install: done; the display starts with the desktop session: sudo reboot," \
    "then follow it with: journalctl --user -u emotion-edge-display -f (as ${user:-the desktop user})"
}
