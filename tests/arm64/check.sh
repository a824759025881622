#!/usr/bin/env bash
# The Raspberry Pi path, proven under emulation: build (or reuse) a Debian Bookworm arm64 root with debootstrap
# and qemu-user-static, run scripts/install.sh inside it (apt packages, venv, requirements-edge.txt from aarch64
# wheels, the face model via edge.fetch_detector), run `emotion-edge --source demo` headless with both detectors,
# and compare the labels per frame and track with the same command on this (x86) host. Also: the Pi flavour of
# the install (--pi yes: numpy<2 constraint) in a staging root, and the service config with the event store.
#
#   sudo bash tests/arm64/check.sh [--root DIR|FILE.tar[.gz|.zst]] [--frames N] [--out DIR] [--mirror URL]
#                                  [--host-python PY] [--model FILE] [--no-pi-stack] [--rebuild] [--update-tarball]
#                                  [--preflight]
#
#   --root          the cached arm64 root (default $ARM64_ROOT, else /var/cache/emotion-edge-arm64/root); a
#                   tarball is unpacked next to itself (FILE.d) and written there after the first build
#   --frames N      demo frames per run (default 60; two faces per frame)
#   --out DIR       results: logs, events, versions, timings, comparisons (default /var/tmp/emotion-edge-arm64-check)
#   --mirror URL    Debian mirror for debootstrap (default: the first bookworm mirror in /etc/apt/sources.list*)
#   --host-python   Python with the edge requirements for the x86 reference run (default .venv/bin/python)
#   --model FILE    emotion model to install and compare (default models/emotion_int8.tflite, the shipped one)
#   --no-pi-stack   skip the --pi yes staging install and its runs
#   --rebuild       discard the cached root and debootstrap again
#   --update-tarball  rewrite the --root tarball at the end even if it exists
#   --preflight     only check tools, root, binfmt, disk space, model and host Python, then exit
# Takes about 20 minutes the first time on 2 cores (debootstrap second stage, apt and pip under qemu), ~8 with a cached root.
# Exit 0: all ran and labels match; 1: a check failed; 2: cannot run here (message says what to install/free).
set -euo pipefail
REPO=$(cd "$(dirname "$0")/../.." && pwd)

SUITE=bookworm
ROOT_SPEC=${ARM64_ROOT:-/var/cache/emotion-edge-arm64/root}
FRAMES=60 FACES=2 OUT=/var/tmp/emotion-edge-arm64-check MIRROR=${ARM64_MIRROR:-} HOST_PY=${HOST_PYTHON:-}
PI_STACK=1 REBUILD=0 UPDATE_TARBALL=0 PREFLIGHT_ONLY=0
MODEL=$REPO/models/emotion_int8.tflite
QEMU=${ARM64_QEMU:-/usr/bin/qemu-aarch64-static}
MACHINE=${ARM64_EXPECT_MACHINE:-aarch64}  # only for trying this script on a native (x86_64) root
# The CPU qemu emulates: a Pi 4's Cortex-A72 (ARMv8.0, no LSE atomics; cortex-a76 for a Pi 5). qemu's default
# ("max") advertises SME, and with it LiteRT's XNNPACK int8 kernels give the same wrong output for any input
# (qemu 7.2; "max,sme=off" is right): no Pi has SME, and "max" would also hide missing-instruction crashes.
QEMU_CPU_MODEL=${ARM64_QEMU_CPU:-cortex-a72}
NEED_GIB_FRESH=5 NEED_GIB_CACHED=1
MARK=.emotion-edge-arm64            # inside the root: made by this script (safe to delete on --rebuild)
BASE_MARK=.emotion-edge-arm64-base  # inside the root: debootstrap finished
SRC=/root/emotion-edge-src          # the repo snapshot inside the root
PI_STAGE=/srv/emotion-edge-pi       # --root of the Pi-flavoured staging install inside the root
RUNS=/var/tmp/emotion-edge-arm64    # run outputs inside the root

die() { echo "error: $1" >&2; exit 2; }
say() { echo "arm64: $*"; }
while [ $# -gt 0 ]; do
  case $1 in
    --root) ROOT_SPEC=${2:?}; shift 2 ;;
    --frames) FRAMES=${2:?}; shift 2 ;;
    --out) OUT=${2:?}; shift 2 ;;
    --mirror) MIRROR=${2:?}; shift 2 ;;
    --host-python) HOST_PY=${2:?}; shift 2 ;;
    --model) MODEL=${2:?}; shift 2 ;;
    --no-pi-stack) PI_STACK=0; shift ;;
    --rebuild) REBUILD=1; shift ;;
    --update-tarball) UPDATE_TARBALL=1; shift ;;
    --preflight) PREFLIGHT_ONLY=1; shift ;;
    -h|--help) sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "argument $1: unknown (see --help)" ;;
  esac
done
case $FRAMES in ''|*[!0-9]*|0) die "--frames $FRAMES: expected a positive whole number" ;; esac
case $ROOT_SPEC in /*) ;; *) ROOT_SPEC=$(pwd)/$ROOT_SPEC ;; esac
case $OUT in /*) ;; *) OUT=$(pwd)/$OUT ;; esac
case $MODEL in /*) ;; *) MODEL=$(pwd)/$MODEL ;; esac
TARBALL=
case $ROOT_SPEC in *.tar|*.tar.gz|*.tgz|*.tar.zst|*.tar.xz) TARBALL=$ROOT_SPEC; ROOT=$ROOT_SPEC.d ;; *) ROOT=$ROOT_SPEC ;; esac
[ -n "$HOST_PY" ] || { [ -x "$REPO/.venv/bin/python" ] && HOST_PY=$REPO/.venv/bin/python || HOST_PY=python3; }

# ---------------------------------------------------------------- preflight: say everything that is missing
problems=()
need() { problems+=("$1"); }
free_gib() {  # free GiB on the file system that holds $1 (or its nearest existing parent)
  local dir=$1
  while [ ! -e "$dir" ]; do dir=$(dirname "$dir"); done
  df -Pk "$dir" | awk 'NR == 2 { printf "%d", $4 / 1048576 }'
}
binfmt_ready() { grep -qs '^enabled' /proc/sys/fs/binfmt_misc/qemu-aarch64 && grep -qs '^enabled' /proc/sys/fs/binfmt_misc/status; }
find_mirror() {  # the first Debian mirror apt uses for $SUITE (one-line and deb822 formats)
  python3 - "$SUITE" <<'EOF'
import glob, sys
suite = sys.argv[1]
files = glob.glob("/etc/apt/sources.list") + sorted(glob.glob("/etc/apt/sources.list.d/*.list")) \
    + sorted(glob.glob("/etc/apt/sources.list.d/*.sources"))
for name in files:
    try:
        text = open(name, encoding="utf-8").read()
    except OSError:
        continue
    if name.endswith(".sources"):
        for stanza in text.split("\n\n"):
            fields = {}
            for line in stanza.splitlines():
                if ":" in line and not line.lstrip().startswith("#"):
                    key, value = line.split(":", 1)
                    fields[key.strip().lower()] = value.split()
            if "deb" in fields.get("types", []) and suite in fields.get("suites", []) \
                    and "main" in fields.get("components", []) and fields.get("uris"):
                print(fields["uris"][0]); sys.exit(0)
    else:
        for line in text.splitlines():
            words = [w for w in line.split("#", 1)[0].split() if not w.startswith("[") and not w.endswith("]")]
            if len(words) >= 4 and words[0] == "deb" and words[2] == suite and "main" in words[3:]:
                print(words[1]); sys.exit(0)
sys.exit(1)
EOF
}

[ "$(id -u)" -eq 0 ] || need "not root: run it with sudo (debootstrap, chroot and mount need root)"
missing_pkgs=()
command -v debootstrap >/dev/null || missing_pkgs+=(debootstrap)
[ -x "$QEMU" ] || missing_pkgs+=(qemu-user-static)
command -v update-binfmts >/dev/null || missing_pkgs+=(binfmt-support)
command -v python3 >/dev/null || missing_pkgs+=(python3)
command -v readelf >/dev/null || missing_pkgs+=(binutils)
[ -f /usr/share/keyrings/debian-archive-keyring.gpg ] || missing_pkgs+=(debian-archive-keyring)  # e.g. Ubuntu hosts
case $TARBALL in *.zst) command -v zstd >/dev/null || missing_pkgs+=(zstd) ;; *.xz) command -v xz >/dev/null || missing_pkgs+=(xz-utils) ;; esac
[ ${#missing_pkgs[@]} -eq 0 ] || need "missing tools: sudo apt-get install ${missing_pkgs[*]}"
if [ "$(id -u)" -eq 0 ] && [ -x "$QEMU" ] && ! binfmt_ready; then
  # register the qemu-user-static handler (binfmt-support); mount binfmt_misc first if needed
  [ -e /proc/sys/fs/binfmt_misc/status ] || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc 2>/dev/null || true
  { command -v update-binfmts >/dev/null && update-binfmts --enable qemu-aarch64; } >/dev/null 2>&1 || true
  binfmt_ready || need "binfmt_misc: cannot register qemu-aarch64 (here: $(ls /proc/sys/fs/binfmt_misc 2>/dev/null | tr '\n' ' ' || true)). \
Apt, dpkg and pip start arm64 programs from arm64 programs, which only works with the kernel's binfmt_misc handler \
(running the chroot under an explicit qemu-aarch64-static does not follow those exec calls). Fix: \
sudo apt-get install binfmt-support qemu-user-static && sudo update-binfmts --enable qemu-aarch64; in a container \
this needs a privileged one, or register it on the container host"
fi
[ "$(uname -m)" = x86_64 ] || say "note: host is $(uname -m), not x86_64; the label comparison is then against $(uname -m)"
if [ -z "$MIRROR" ]; then
  MIRROR=$(find_mirror 2>/dev/null) || need "no Debian $SUITE mirror in /etc/apt/sources.list*: pass --mirror URL"
fi
fresh=1
if [ "$REBUILD" = 0 ]; then
  if [ -f "$ROOT/$BASE_MARK" ] || { [ -n "$TARBALL" ] && [ -f "$TARBALL" ]; }; then fresh=0; fi
fi
need_gib=$NEED_GIB_CACHED; [ "$fresh" = 1 ] && need_gib=$NEED_GIB_FRESH
have_gib=$(free_gib "$ROOT")
[ "$have_gib" -ge "$need_gib" ] || need "disk: $have_gib GiB free for $ROOT; $([ "$fresh" = 1 ] && echo "a new arm64 root needs" || echo "a cached root needs") about $need_gib GiB: free space there or set ARM64_ROOT / --root to a bigger disk"
out_gib=$(free_gib "$OUT")
[ "$out_gib" -ge 1 ] || need "disk: $out_gib GiB free for $OUT; the results need about 100 MB (use --out)"
[ -f "$MODEL" ] && [ -f "${MODEL%.tflite}.json" ] \
  || need "model: ${MODEL#"$REPO"/} (+ .json sidecar) missing; make it with python -m convert (docs/CONVERT.md) or pass --model"
if ! "$HOST_PY" -c 'import ai_edge_litert, cv2, mediapipe, skimage, pydantic, yaml' 2>/dev/null; then
  need "host Python $HOST_PY lacks the edge requirements for the x86 reference run: run bash scripts/test.sh (makes .venv) or pass --host-python"
fi
if [ ${#problems[@]} -gt 0 ]; then
  for p in "${problems[@]}"; do echo "error: $p" >&2; done
  exit 2
fi
say "preflight ok: root=$ROOT ($([ "$fresh" = 1 ] && echo new || echo cached)), $have_gib GiB free, binfmt qemu-aarch64 enabled, host python $HOST_PY"
[ "$PREFLIGHT_ONLY" = 1 ] && exit 0

# ---------------------------------------------------------------- helpers
mkdir -p "$(dirname "$ROOT")" "$OUT"
exec 9>"$ROOT.lock"
flock -n 9 || die "$ROOT is in use by another run of this check ($ROOT.lock)"
TIMINGS=$OUT/timings.txt
: > "$TIMINGS"
exec 3>&1  # progress lines reach the console even when a step's output goes to a log
timed() {  # timed NAME CMD...: run, append "NAME seconds" to timings.txt
  local name=$1 start=$SECONDS rc=0; shift
  "$@" || rc=$?
  echo "$name $((SECONDS - start))" >> "$TIMINGS"
  say "$name: $((SECONDS - start)) s$([ $rc = 0 ] || echo ", FAILED (exit $rc)")" >&3
  return $rc
}
MOUNTS=()
unmount_all() {
  local i
  for ((i = ${#MOUNTS[@]} - 1; i >= 0; i--)); do
    umount -R "${MOUNTS[i]}" 2>/dev/null || umount -lR "${MOUNTS[i]}" 2>/dev/null || true
  done
  MOUNTS=()
}
trap unmount_all EXIT
trap 'exit 130' INT TERM
fake_cpuinfo() {  # /proc/cpuinfo of a Pi 4 (Cortex-A72) or, for ARM64_QEMU_CPU=cortex-a76, a Pi 5; one entry per host CPU
  local i features='fp asimd evtstrm crc32 cpuid' part=0xd08 model='Raspberry Pi 4 Model B Rev 1.4'
  if [ "$QEMU_CPU_MODEL" = cortex-a76 ]; then
    features='fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm lrcpc dcpop asimddp'
    part=0xd0b model='Raspberry Pi 5 Model B Rev 1.0'
  fi
  for ((i = 0; i < $(nproc --all); i++)); do
    printf 'processor\t: %d\nBogoMIPS\t: 108.00\nFeatures\t: %s\nCPU implementer\t: 0x41\n' "$i" "$features"
    printf 'CPU architecture: 8\nCPU variant\t: 0x0\nCPU part\t: %s\nCPU revision\t: 3\n\n' "$part"
  done
  printf 'Model\t\t: %s\n' "$model"
}
mount_root() {
  local target
  target=$ROOT/proc; mountpoint -q "$target" || { mount -t proc proc "$target" && MOUNTS+=("$target"); }
  # qemu-user (7.2) shows the host's x86 /proc/cpuinfo to aarch64 programs; the cpuinfo library in LiteRT's
  # XNNPACK (and mediapipe) then finds no ARM cores and segfaults in Interpreter(). Give the root an
  # aarch64 one (Pi 4: Cortex-A72, one entry per host CPU so it agrees with /sys/devices/system/cpu).
  if [ "$(uname -m)" != aarch64 ] && [ "$MACHINE" = aarch64 ] && ! mountpoint -q "$ROOT/proc/cpuinfo"; then
    fake_cpuinfo > "$OUT/cpuinfo-aarch64.txt"
    mount --bind "$OUT/cpuinfo-aarch64.txt" "$ROOT/proc/cpuinfo" && MOUNTS+=("$ROOT/proc/cpuinfo")
  fi
  target=$ROOT/sys; mountpoint -q "$target" || { mount -t sysfs sysfs "$target" && MOUNTS+=("$target"); }
  target=$ROOT/dev; mountpoint -q "$target" || { mount --rbind /dev "$target" && mount --make-rslave "$target" && MOUNTS+=("$target"); }
  cp -L /etc/resolv.conf "$ROOT/etc/resolv.conf" 2>/dev/null || true
}
in_root() {  # in_root CMD...: run in the arm64 root with a clean environment (proxy/index settings pass through)
  local env=(HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 TERM=dumb)
  [ "$(uname -m)" = "$MACHINE" ] || env+=("QEMU_CPU=$QEMU_CPU_MODEL")  # read by every qemu-aarch64 started below
  local var
  for var in http_proxy https_proxy no_proxy HTTP_PROXY HTTPS_PROXY NO_PROXY PIP_INDEX_URL PIP_TRUSTED_HOST; do
    [ -n "${!var:-}" ] && env+=("$var=${!var}")
  done
  chroot "$ROOT" /usr/bin/env -i "${env[@]}" "$@"
}
copy_qemu() {  # also where a binfmt entry without the F flag looks for its interpreter
  install -D -m 0755 "$QEMU" "$ROOT/usr/bin/qemu-aarch64-static"
  local interp
  interp=$(sed -n 's/^interpreter //p' /proc/sys/fs/binfmt_misc/qemu-aarch64)
  if [ -n "$interp" ] && [ "$interp" != /usr/bin/qemu-aarch64-static ]; then
    mkdir -p "$ROOT$(dirname "$interp")"
    ln -sf /usr/bin/qemu-aarch64-static "$ROOT$interp"
  fi
}

# ---------------------------------------------------------------- the arm64 root (cached)
if [ -n "$TARBALL" ] && [ -f "$TARBALL" ] && [ "$REBUILD" = 0 ] && [ ! -f "$ROOT/$BASE_MARK" ]; then
  say "unpacking $TARBALL -> $ROOT"
  rm -rf "$ROOT"; mkdir -p "$ROOT"
  timed unpack tar -C "$ROOT" --numeric-owner -xf "$TARBALL"
fi
if [ "$REBUILD" = 0 ] && [ -f "$ROOT/$BASE_MARK" ]; then
  say "reusing the cached root $ROOT ($(cat "$ROOT/$BASE_MARK"))"
else
  if [ -e "$ROOT" ] && [ -n "$(ls -A "$ROOT" 2>/dev/null)" ]; then
    [ -f "$ROOT/$MARK" ] || die "$ROOT: exists, is not empty and was not made by this check; remove it or choose another --root"
    grep -qs " $ROOT/" /proc/mounts && die "$ROOT: something is still mounted below it (see /proc/mounts); unmount it first"
    say "removing the old root $ROOT"
    rm -rf --one-file-system "$ROOT"
  fi
  mkdir -p "$ROOT"
  touch "$ROOT/$MARK"
  say "debootstrap $SUITE arm64 (first stage: download and unpack, no emulation) from the configured Debian mirror"
  timed debootstrap_stage1 debootstrap --arch=arm64 --foreign --variant=minbase --include=ca-certificates \
    "$SUITE" "$ROOT" "$MIRROR" > "$OUT/debootstrap.log" 2>&1 \
    || die "debootstrap (first stage) failed: see $OUT/debootstrap.log"
  copy_qemu
  say "debootstrap second stage (configures the packages under qemu; the long part)"
  timed debootstrap_stage2 in_root /debootstrap/debootstrap --second-stage >> "$OUT/debootstrap.log" 2>&1 \
    || die "debootstrap (second stage) failed: see $OUT/debootstrap.log and $ROOT/debootstrap/debootstrap.log"
  printf 'deb %s %s main\ndeb %s %s-updates main\n' "$MIRROR" "$SUITE" "$MIRROR" "$SUITE" > "$ROOT/etc/apt/sources.list"
  echo "debootstrap $SUITE arm64 minbase, $(date -u +%Y-%m-%dT%H:%MZ)" > "$ROOT/$BASE_MARK"
fi
copy_qemu
[ "$(in_root /usr/bin/uname -m 2>/dev/null)" = "$MACHINE" ] || die "$ROOT: cannot run $MACHINE programs in it (binfmt qemu-aarch64?)"
mount_root
# A TLS-intercepting proxy trusted on the host (its CA in /usr/local/share/ca-certificates) must be trusted inside.
extra_cas=(/usr/local/share/ca-certificates/*.crt)
if [ -e "${extra_cas[0]}" ]; then
  if ! diff -rq /usr/local/share/ca-certificates "$ROOT/usr/local/share/ca-certificates" >/dev/null 2>&1; then
    say "trusting the host's ${#extra_cas[@]} extra CA certificate(s) from /usr/local/share/ca-certificates"
    mkdir -p "$ROOT/usr/local/share/ca-certificates"
    cp -a /usr/local/share/ca-certificates/. "$ROOT/usr/local/share/ca-certificates/"
    in_root update-ca-certificates >/dev/null 2>&1 || say "warning: update-ca-certificates failed in the root"
  fi
fi
[ "$(uname -m)" = "$MACHINE" ] || say "emulated CPU: QEMU_CPU=$QEMU_CPU_MODEL (ARM64_QEMU_CPU), /proc/cpuinfo in the root to match"
say "root: $(in_root sh -c '. /etc/os-release; echo "$PRETTY_NAME"') $(in_root uname -m), python3 $(in_root python3 -c 'import platform; print(platform.python_version())' 2>/dev/null || echo '(not yet installed)')"

# ---------------------------------------------------------------- the install, as on a Pi
say "copying the working tree into $SRC (without the face model: the install must fetch it itself)"
rm -rf "$ROOT$SRC"; mkdir -p "$ROOT$SRC"
tar -C "$REPO" --exclude=__pycache__ --exclude='*.pyc' --exclude=face_detection_short_range.tflite \
  -cf - edge scripts systemd docs models requirements-edge.txt tests/arm64 | tar -C "$ROOT$SRC" -xf - --no-same-owner
if [ "$MODEL" != "$REPO/models/emotion_int8.tflite" ]; then
  say "using --model $MODEL as models/emotion_int8.tflite"
  install -m 0644 "$MODEL" "$ROOT$SRC/models/emotion_int8.tflite"
  install -m 0644 "${MODEL%.tflite}.json" "$ROOT$SRC/models/emotion_int8.json"
fi
rm -f "$ROOT/opt/emotion-edge/models/face_detection_short_range.tflite" \
      "$ROOT$PI_STAGE/opt/emotion-edge/models/face_detection_short_range.tflite"
say "scripts/install.sh --no-systemctl --pi no (apt, venv, requirements-edge.txt, face model, config, unit)"
timed install in_root bash "$SRC/scripts/install.sh" --no-systemctl --pi no > "$OUT/install.log" 2>&1 \
  || { tail -n 30 "$OUT/install.log" >&2; echo "error: install.sh failed in the arm64 root: see $OUT/install.log" >&2; exit 1; }
grep '^install: warning' "$OUT/install.log" >&2 || true
fail=0
check() {  # check TEXT CMD...: a named pass/fail line
  local text=$1; shift
  if "$@"; then say "ok: $text"; else say "FAILED: $text"; fail=1; fi
}
APP=/opt/emotion-edge
check "face model fetched in the arm64 root by edge.fetch_detector (sha256 checked)" \
  in_root env PYTHONPATH=$APP $APP/venv/bin/python -c \
  "from pathlib import Path; from edge.fetch_detector import is_valid; import sys; sys.exit(not is_valid(Path('$APP/models/face_detection_short_range.tflite')))"
check "installed emotion model identical to the repo's" \
  cmp -s "$MODEL" "$ROOT$APP/models/emotion_int8.tflite"
in_root $APP/venv/bin/python -m pip freeze --all > "$OUT/arm64-pip-freeze.txt"
SITE=$(in_root $APP/venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
check "every system library the aarch64 wheels link is in the root ($(python3 "$REPO/tests/arm64/needed_libs.py" \
  "$ROOT" "$SITE" --json "$OUT/arm64-needed-libs.json" > "$OUT/arm64-needed-libs.txt"; head -n 1 "$OUT/arm64-needed-libs.txt"))" \
  python3 -c 'import json, sys; sys.exit(bool(json.load(open(sys.argv[1]))["missing"]))' "$OUT/arm64-needed-libs.json"
in_root $APP/venv/bin/python -m pip check > "$OUT/arm64-pip-check.txt" 2>&1 \
  || { say "FAILED: pip check in the arm64 venv: $(tr '\n' ' ' < "$OUT/arm64-pip-check.txt")"; fail=1; }
in_root dpkg-query -W -f '${Package} ${Version} ${Architecture}\n' python3 python3-venv python3-pip libgl1 libglib2.0-0 libegl1 libgles2 \
  > "$OUT/arm64-dpkg.txt"
in_root $APP/venv/bin/python -c 'import platform, sysconfig; print(platform.python_version(), platform.machine(), sysconfig.get_platform())' \
  > "$OUT/arm64-python.txt"
"$HOST_PY" -m pip freeze --all 2>/dev/null > "$OUT/host-pip-freeze.txt" || true

if [ "$PI_STACK" = 1 ]; then
  say "Pi flavour: install.sh --root $PI_STAGE --no-apt --pi yes (numpy<2 constraint; picamera2 comes from the Raspberry Pi archive, absent here)"
  timed install_pi_stack in_root bash "$SRC/scripts/install.sh" --root "$PI_STAGE" --no-apt --pi yes > "$OUT/install-pi.log" 2>&1 \
    || { tail -n 30 "$OUT/install-pi.log" >&2; say "FAILED: install.sh --pi yes in the arm64 root: see $OUT/install-pi.log"; fail=1; PI_STACK=0; }
  [ "$PI_STACK" = 1 ] && in_root $PI_STAGE$APP/venv/bin/python -m pip freeze --all > "$OUT/arm64-pi-pip-freeze.txt"
fi

# ---------------------------------------------------------------- the runs: arm64 root and host, same frames
RUN_ARGS=(--source demo --max-frames "$FRAMES" --source.demo_frames "$FRAMES" --source.demo_faces "$FACES"
          --interval 0 --no-smoothing --save-crops --headless --log-level info)
arm_run() {  # arm_run NAME DETECTOR [PREFIX]: emotion-edge in the root, from /tmp (models resolve to the install)
  local name=$1 det=$2 prefix=${3:-$APP}
  rm -rf "${ROOT:?}$RUNS/${name:?}" "$OUT/arm64-$name"
  mkdir -p "$ROOT$RUNS"
  in_root sh -c "cd /tmp && PYTHONPATH=$prefix exec $prefix/venv/bin/python -m edge $(printf '%q ' "${RUN_ARGS[@]}") \
    --detector $det --out $RUNS/$name" > "$OUT/arm64-$name.log" 2>&1 || { say "FAILED: arm64 run $name (see $OUT/arm64-$name.log)"; return 1; }
  cp -a "$ROOT$RUNS/$name" "$OUT/arm64-$name"
  grep "summary:" "$OUT/arm64-$name.log" | sed 's/.*summary: /arm64: '"$name"': /'
}
host_run() {
  local det=$1
  rm -rf "$OUT/host-$det"
  (cd "$REPO" && PYTHONPATH=$REPO "$HOST_PY" -m edge "${RUN_ARGS[@]}" --model "$MODEL" --detector "$det" --out "$OUT/host-$det") \
    > "$OUT/host-$det.log" 2>&1 || { say "FAILED: host run $det (see $OUT/host-$det.log)"; return 1; }
  grep "summary:" "$OUT/host-$det.log" | sed 's/.*summary: /host: '"$det"': /'
}
events() { [ -s "$1/events.jsonl" ] && wc -l < "$1/events.jsonl" || echo 0; }
(cd "$REPO" && PYTHONPATH=$REPO "$HOST_PY" -m edge.fetch_detector --quiet-if-present) \
  || { say "FAILED: face model on the host (python -m edge.fetch_detector)"; fail=1; }
COMPARE=$REPO/tests/arm64/compare_labels.py
: > "$OUT/comparison.txt"
for det in haar mediapipe; do
  timed "host_run_$det" host_run "$det" || { fail=1; continue; }
  stacks=(main); [ "$PI_STACK" = 1 ] && stacks+=(pi)
  for stack in "${stacks[@]}"; do
    name=$det; prefix=$APP
    [ "$stack" = pi ] && { name=pi-$det; prefix=$PI_STAGE$APP; }
    timed "arm64_run_$name" arm_run "$name" "$det" "$prefix" || { fail=1; continue; }
    n=$(events "$OUT/arm64-$name")
    check "arm64 $name: $n events logged" test "$n" -gt 0
    python3 "$COMPARE" "$OUT/host-$det" "$OUT/arm64-$name" --name "$name (x86 host vs arm64)" \
      --json "$OUT/comparison-$name.json" | tee -a "$OUT/comparison.txt" || fail=1
  done
done

say "service: emotion-edge service --config /etc/emotion-edge/config.yaml --source demo (SQLite store), then report"
svc_run() {
  in_root sh -c "rm -rf $RUNS/service && cd / && emotion-edge service --config /etc/emotion-edge/config.yaml --source demo \
    --max-frames 20 --source.demo_frames 20 --out $RUNS/service --store.path $RUNS/service/events.db \
    && emotion-edge report --db $RUNS/service/events.db --since all --png $RUNS/service/report.png" > "$OUT/arm64-service.log" 2>&1
}
check "service command with the installed config + event store + report (PNG) on arm64" timed arm64_service svc_run
[ -f "$ROOT$RUNS/service/report.png" ] && cp "$ROOT$RUNS/service/report.png" "$OUT/arm64-service-report.png"

unmount_all
if [ -n "$TARBALL" ] && { [ ! -f "$TARBALL" ] || [ "$UPDATE_TARBALL" = 1 ]; }; then
  say "writing $TARBALL"
  partial=$(dirname "$TARBALL")/partial.$(basename "$TARBALL")  # same suffix: tar -a picks the compressor from it
  timed tarball tar -C "$ROOT" --numeric-owner --exclude='./proc/*' --exclude='./sys/*' --exclude='./dev/*' \
    -acf "$partial" . && mv "$partial" "$TARBALL"
fi

# ---------------------------------------------------------------- summary
{
  echo "== versions resolved on aarch64 (venv $APP/venv, $(cat "$OUT/arm64-python.txt"))"
  grep -iE '^(ai-edge-litert|ai_edge_litert|opencv-contrib-python|numpy|mediapipe|scikit-image|scipy|pillow|matplotlib|pydantic|PyYAML|flask|sdnotify|ml.dtypes|protobuf)==' \
    "$OUT/arm64-pip-freeze.txt" | tr '\n' ' '; echo
  [ -f "$OUT/arm64-pi-pip-freeze.txt" ] && { echo "== Pi flavour (--pi yes, numpy<2)"; grep -iE '^(ai-edge-litert|opencv-contrib-python|numpy|mediapipe|ml.dtypes)==' "$OUT/arm64-pi-pip-freeze.txt" | tr '\n' ' '; echo; }
  echo "== apt (arm64)"; cat "$OUT/arm64-dpkg.txt"
  echo "== label comparison (x86 host vs arm64, $FRAMES frames x $FACES faces, raw labels: --no-smoothing)"; cat "$OUT/comparison.txt"
  echo "== timings under qemu user emulation (seconds; NOT Raspberry Pi timings)"; cat "$TIMINGS"
} | tee "$OUT/summary.txt"
if [ "$fail" = 0 ]; then say "PASSED (results in $OUT)"; else say "FAILED (results in $OUT)"; fi
exit $fail
