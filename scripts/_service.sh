# shellcheck shell=bash
# Sourced by scripts/install.sh: restart the system unit and watch it start.
# Usage: source scripts/_service.sh; service_start UNIT [WAIT_S]
SERVICE_START_WAIT_S=10  # a bad config or an unreadable model fails the unit well within this (exit 2)
SERVICE_POLL_S=0.5
SERVICE_POLLS_PER_S=2    # 1 / SERVICE_POLL_S (bash has no floating point)
SERVICE_LOG_LINES=20

service_start() {
  # service_start UNIT [WAIT_S]: restart UNIT without blocking (a Type=notify unit stays "activating" until its
  # models are loaded and it runs or waits for its camera), then watch it for WAIT_S seconds. Returns 1, after
  # showing its status and last log lines, if it fails; 0 once it runs, or while it is still starting.
  local unit=$1 wait_s=${2:-$SERVICE_START_WAIT_S} name=${1%.service} state=unknown i
  systemctl reset-failed "$unit" 2>/dev/null || true  # a failure left by an earlier start is not this one's
  systemctl restart --no-block "$unit"
  for ((i = 0; i < wait_s * SERVICE_POLLS_PER_S; i++)); do
    sleep "$SERVICE_POLL_S"
    if systemctl is-failed --quiet "$unit"; then
      echo "error: $unit failed to start:" >&2
      systemctl status --no-pager --lines=0 "$unit" >&2 || true
      echo "last log lines (journalctl -u $name):" >&2
      journalctl -u "$unit" -n "$SERVICE_LOG_LINES" --no-pager >&2 || true
      echo "error: $unit failed to start (see above); fix the cause, then: sudo systemctl restart $name" >&2
      return 1
    fi
    state=$(systemctl is-active "$unit" || true)
    [ "$state" = active ] && break
  done
  if [ "$state" = active ]; then
    echo "install: done; the service is running: follow it with: journalctl -u $name -f"
  else
    echo "install: done; the service is still starting (\"$state\" after ${wait_s} s: loading the models or" \
      "waiting for the camera): check it with: systemctl status $name; follow it with: journalctl -u $name -f"
  fi
}
