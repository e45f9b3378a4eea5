#!/bin/bash
# scripts/demo.sh -- see vhost-switch work, from a fresh Debian 12 machine.
#
#   1. installs what is missing (apt-get, through sudo when not root):
#      compiler, meson, ninja, pkg-config, qemu-system-x86, busybox-static,
#      cpio, gzip
#   2. builds the project (meson setup + ninja in build/)
#   3. builds a tiny guest (Debian cloud kernel + busybox initramfs, cached;
#      tests/vm/build-guest.sh)
#   4. starts vhost-switch with two vhost-user sockets and boots two VMs
#      (QEMU, software emulation) with a virtio-net NIC each on the switch
#   5. VM A (10.0.0.1) pings VM B (10.0.0.2) and sends it 20 MiB over TCP;
#      both print the sha256 of what they sent / received
#   6. prints the switch's statistics and stops everything
# With --migrate, step 5 is a live migration instead: VM A moves to a second
# QEMU process (both attached to the switch) while it pings VM B and B
# floods it; the demo prints the migration time, the downtime, whether the
# guest's RAM is identical on both sides, then moves 20 MiB each way between
# the migrated VM and B and compares the hashes.
# About a minute once the packages are there. Everything it starts is killed
# on exit, also on Ctrl-C. Works as a normal user (sudo only for apt-get).
#
# Environment: DEMO_GUEST=/tmp/vmtest-guest (guest build dir), DEMO_MIB=20,
# DEMO_KEEP=1 (keep the logs dir).
set -eu

MIGRATE=0
case "${1:-}" in
--migrate) MIGRATE=1 ;;
"") ;;
*) echo "usage: scripts/demo.sh [--migrate]" >&2; exit 2 ;;
esac
ROOT=$(cd "$(dirname "$0")/.." && pwd)
GUEST=${DEMO_GUEST:-${VMTEST_GUEST:-/tmp/vmtest-guest}}
MIB=${DEMO_MIB:-20}
RUNVM=$ROOT/tests/vm/run-vm.sh
SW=$ROOT/build/apps/vhost-switch/vhost-switch
T0=$(date +%s.%N)
WORK=""; SW_WRAP=""; SW_PID=""; VMPIDS=""; WAITERS=""

if [ -t 1 ]; then B=$'\e[1m'; G=$'\e[32m'; R=$'\e[31m'; N=$'\e[0m'; else B=""; G=""; R=""; N=""; fi
step() { echo; echo "${B}==> $*${N}"; }
say() { echo "    $*"; }
die() { echo "${R}demo: $*${N}" >&2; exit 1; }
elapsed() { awk -v a="$T0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.0f", b - a }'; }

stop_switch() {
    if [ -n "$SW_PID" ] && kill -0 "$SW_PID" 2>/dev/null; then
        kill -TERM "$SW_PID" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$SW_PID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$SW_PID" 2>/dev/null || true
    fi
    if [ -n "$SW_WRAP" ]; then
        kill -KILL "$SW_WRAP" 2>/dev/null || true
        wait "$SW_WRAP" 2>/dev/null || true
    fi
    SW_PID=""; SW_WRAP=""
}
cleanup() {
    rc=$?
    for w in $WAITERS; do kill "$w" 2>/dev/null || true; done
    for pf in $VMPIDS; do "$RUNVM" kill --pidfile "$pf" || true; done
    stop_switch
    if [ -n "$WORK" ]; then
        if [ $rc -ne 0 ] || [ "${DEMO_KEEP:-0}" = 1 ]; then
            echo "demo: logs kept in $WORK" >&2
        else
            rm -rf "$WORK"
        fi
    fi
}
trap cleanup EXIT
trap 'echo; echo "demo: interrupted" >&2; exit 130' INT TERM HUP

# --- 1. packages -------------------------------------------------------------
step "[1/5] Checking the packages this needs"
[ -r /etc/debian_version ] || say "(not Debian: install meson, ninja, gcc, qemu-system-x86_64, static busybox, cpio yourself)"
if command -v apt-get >/dev/null; then
    # shellcheck source=deps.sh
    . "$ROOT/scripts/deps.sh"
    need_pkgs "${BUILD_PKGS[@]}" qemu-system-x86 busybox-static cpio gzip procps python3 ||
        die "could not install the packages"
fi
for c in meson ninja cc qemu-system-x86_64 cpio; do
    command -v "$c" >/dev/null || die "$c not found"
done
say "ok: $(meson --version | sed 's/^/meson /'), $(ninja --version | sed 's/^/ninja /'), $(qemu-system-x86_64 --version | head -n1 | sed 's/ version / /; s/ (.*//')"

# --- 2. build ----------------------------------------------------------------
step "[2/5] Building libvhost and vhost-switch (meson + ninja in build/)"
cd "$ROOT"
if [ ! -f build/build.ninja ]; then
    meson setup build >/tmp/demo-meson.$$.log 2>&1 ||
        { cat /tmp/demo-meson.$$.log >&2; rm -f /tmp/demo-meson.$$.log; die "meson setup failed"; }
    rm -f /tmp/demo-meson.$$.log
fi
ninja -C build | tail -n 1 | sed 's/^/    /'
[ -x "$SW" ] || die "no $SW after the build"
say "built $SW"

# --- 3. guest ----------------------------------------------------------------
step "[3/5] Building the guest: Debian cloud kernel + busybox initramfs (cached)"
"$ROOT/tests/vm/build-guest.sh" "$GUEST" 2>&1 | sed 's/^build-guest: /    /'
[ -s "$GUEST/vmlinuz" ] || die "guest build failed"

# --- 4. switch + VMs ---------------------------------------------------------
WORK=$(mktemp -d /tmp/vhost-demo.XXXXXX)
ncpu=$(nproc)
if [ "$ncpu" -ge 2 ]; then
    # The switch's worker polls at 100 %: give it the last core at the
    # lowest priority; the VMs (software-emulated CPUs) take it when they
    # need it.
    last=$((ncpu - 1)); SWCPU="--cpu $last"; CPU_A=0; CPU_B=$last
else
    SWCPU=""; CPU_A=""; CPU_B=""
fi
if [ $MIGRATE = 1 ]; then
    # shellcheck source=demo-migrate.sh
    . "$ROOT/scripts/demo-migrate.sh"
    exit 0
fi
step "[4/5] Starting vhost-switch and two VMs"
# shellcheck disable=SC2086
timeout -k 5 300 nice -n 19 "$SW" --socket "$WORK/vm-a.sock" --socket "$WORK/vm-b.sock" \
    $SWCPU --duration 240 >"$WORK/switch.out" 2>"$WORK/switch.err" &
SW_WRAP=$!
for _ in $(seq 100); do
    p=$(pgrep -P "$SW_WRAP" || true)
    [ -n "$p" ] && [ "$(cat "/proc/$p/comm" 2>/dev/null)" = vhost-switch ] && SW_PID=$p
    [ -n "$SW_PID" ] && [ -S "$WORK/vm-b.sock" ] && [ -S "$WORK/vm-a.sock" ] && break
    kill -0 "$SW_WRAP" 2>/dev/null || { cat "$WORK/switch.err" >&2; die "vhost-switch exited"; }
    sleep 0.1
done
[ -n "$SW_PID" ] || die "vhost-switch did not start"
say "vhost-switch (pid $SW_PID): vhost-user sockets $WORK/vm-a.sock, vm-b.sock"

VMPIDS="$WORK/b.pid $WORK/a.pid"
"$RUNVM" start --guest "$GUEST" --log "$WORK/b.log" --pidfile "$WORK/b.pid" \
    --sock "$WORK/vm-b.sock" --mac 52:54:00:00:00:0b --ip 10.0.0.2/24 \
    --script "$ROOT/tests/vm/guest/bulk-recv.sh" --param "bytes=$((MIB * 1048576))" \
    --timeout 150 ${CPU_B:+--cpu $CPU_B} 2>/dev/null || die "VM B did not start"
say "VM B booting: 52:54:00:00:00:0b 10.0.0.2 (receives)"
"$RUNVM" start --guest "$GUEST" --log "$WORK/a.log" --pidfile "$WORK/a.pid" \
    --sock "$WORK/vm-a.sock" --mac 52:54:00:00:00:0a --ip 10.0.0.1/24 \
    --script "$ROOT/tests/vm/guest/ping-bulk-send.sh" --param peer=10.0.0.2 \
    --param "mib=$MIB" --param pings=10 \
    --timeout 150 ${CPU_A:+--cpu $CPU_A} 2>/dev/null || die "VM A did not start"
say "VM A booting: 52:54:00:00:00:0a 10.0.0.1 (pings B, then sends $MIB MiB)"

"$RUNVM" wait --log "$WORK/a.log" --pidfile "$WORK/a.pid" --timeout 200 >"$WORK/a.result" &
wa=$!
"$RUNVM" wait --log "$WORK/b.log" --pidfile "$WORK/b.pid" --timeout 200 >"$WORK/b.result" &
wb=$!
WAITERS="$wa $wb"
shown=""
while kill -0 "$wa" 2>/dev/null || kill -0 "$wb" 2>/dev/null; do
    for e in "a netup:VM A network up" "b netup:VM B network up" \
             "a payload-ready:VM A made $MIB MiB of random data" \
             "a peer-up:VM A reaches VM B through the switch"; do
        key=${e%%:*}; x=${key%% *}; ev=${key#* }
        case " $shown " in *" $x.$ev "*) continue ;; esac
        t=$(sed -n "s/^VMTEST-EVENT: $ev t=\([0-9.]*\).*/\1/p" "$WORK/$x.log" 2>/dev/null | head -n1)
        [ -n "$t" ] && { say "${e#*:} (guest uptime ${t}s)"; shown="$shown $x.$ev"; }
    done
    sleep 0.3
done
ra=0; rb=0
wait "$wa" || ra=$?
wait "$wb" || rb=$?
WAITERS=""; VMPIDS=""

# --- 5. results --------------------------------------------------------------
step "[5/5] What the VMs saw"
say "VM A pings VM B:"
tr -d '\r' <"$WORK/a.log" |
    grep -E '^(PING |[0-9]+ bytes from|[0-9]+ packets transmitted|round-trip)' |
    sed 's/^/      /'
say "VM A sends $MIB MiB to VM B over TCP (busybox nc), both sides hash it:"
tx=$(tr -d '\r' <"$WORK/a.log" | sed -n 's/^vmtest: tx .*sha256=\([0-9a-f]*\).*/\1/p' | head -n1)
rx=$(tr -d '\r' <"$WORK/b.log" | sed -n 's/^vmtest: received .*sha256=\([0-9a-f]*\).*/\1/p' | head -n1)
rate=$(tr -d '\r' <"$WORK/a.log" | sed -n 's/^vmtest: tx .* in \(.*\)$/\1/p' | head -n1)
say "  VM A sent     sha256 ${tx:-?}  ($rate)"
say "  VM B received sha256 ${rx:-?}"
if [ -n "$tx" ] && [ "$tx" = "$rx" ] && [ $ra -eq 0 ] && [ $rb -eq 0 ]; then
    say "  ${G}identical: the data crossed the switch intact${N}"
    ok=1
else
    say "  ${R}FAILED${N}: A: $(cat "$WORK/a.result")"
    say "          B: $(cat "$WORK/b.result")"
    ok=0
fi

step "vhost-switch statistics (printed when it stops)"
stop_switch
sed 's/^/    /' "$WORK/switch.out"
say "(rx = from that VM, tx = to it; ports read 'down' and the MAC table is empty"
say " because the VMs powered off before the switch was stopped)"
echo
if [ $ok = 1 ]; then
    echo "${G}${B}Demo done in $(elapsed) s${N}: two VMs talked through vhost-switch; everything stopped."
    echo "Next: tests/vm/test-switch.sh (root) runs the full VM test suite (TAP uplink, restarts)."
else
    echo "${R}${B}Demo failed after $(elapsed) s${N} (logs below are kept)."
    exit 1
fi
