#!/bin/bash
# test-switch.sh -- end-to-end tests of vhost-switch with real VMs
# (tiny Debian guests under QEMU/TCG, see README.md and build-guest.sh).
#
# Cases (VMTEST_CASES, default all, in this order):
#   mrg-on          two VMs through the switch: 10 pings (all answered) and
#   mrg-off         20 MiB over TCP, sha256 equal on both ends; virtio-net
#                   mrg_rxbuf on / off (the negotiated bit is checked)
#   tap             a VM and the host through the TAP uplink: the switch
#                   creates the TAP (unique name vht<pid>), we move it into a
#                   private netns (vhtest-<pid>) as 10.0.0.254/24; the VM
#                   pings the host, uploads 20 MiB, the host pings the VM and
#                   sends 20 MiB back (busybox nc on both sides, sha256 both
#                   ways)
#   restart-server  the switch listens, QEMU connects with reconnect=1; while
#                   VM A pings VM B every 0.2 s the switch is SIGKILLed and
#                   started again; pings must resume (10 in a row answered before the last second),
#                   then a checked 20 MiB transfer; no VM reboots
#   restart-client  the same with the switch as client (--client) and QEMU
#                   listening (server=on,wait=off)
#   ring-features-off  mrg-on with guests that negotiate neither EVENT_IDX
#                   nor INDIRECT_DESC (both are on in the other cases)
#   two-workers     mrg-on with --workers 2: each VM's port on its own worker,
#                   packets crossing between workers
#   tso-cut         guests without GUEST_TSO4/6: the senders' TSO packets are
#                   cut by the switch (software segmentation), data intact
#   mac-steal       port security: VM A's port allows only A's MAC
#                   (--socket PATH,mac=...); VM T (an open port) takes A's MAC
#                   and sends as A for the whole case; then A pings and sends
#                   20 MiB to VM B. T's frames must all be dropped and counted
#                   (spoofed > 0 on T's port, none of its pings answered), A's
#                   MAC never moves, A's pings and transfer all succeed
#   mq              two queue pairs per VM (-netdev queues=2, mq=on, two vCPUs
#                   on one host thread), switch --queues 2 --workers 2: pings
#                   and two TCP streams at once whose source ports the host
#                   picks so that B's two RX queues each get one (the switch's
#                   per-queue counters and B's ethtool -S must show traffic on
#                   both); then both guests drop to one queue pair at run time
#                   (ethtool -L combined 1: QEMU disables the rings with
#                   SET_VRING_ENABLE) and a stream whose flow would go to the
#                   disabled queue must arrive; then back to two pairs and two
#                   more streams; every stream sha256-checked
#   packed-mrg-on   mrg-on with packed virtqueues (packed=on; RING_PACKED
#                   negotiated by both guests)
#   restart-packed  restart-server with packed virtqueues
#   runtime-port    ports at run time over the control socket: VM B's port is
#                   added with vhostctl port-add while the switch runs, VM A
#                   (there from the start) pings B and sends 20 MiB; during
#                   the transfer VM X's port is removed (port-del): A and B
#                   see nothing of it (all pings, sha256), X is gone
# Each case prints 'PASS name ...' or 'FAIL name reason', then the switch's
# statistics (its stdout at SIGTERM); the script ends with
# 'test-switch: N passed, N failed' and exits non-zero on any failure.
#
# Usage: tests/vm/test-switch.sh      (root: QEMU, TAP, netns; ~2 minutes)
# Environment:
#   VMTEST_CASES="mrg-on mrg-off ring-features-off two-workers tso-cut mac-steal mq tap restart-server restart-client"
#   VMTEST_GUEST=/tmp/vmtest-guest   guest dir (built with build-guest.sh)
#   VMTEST_SWITCH=PATH               vhost-switch binary (default: the build
#                                    dir's, rebuilt with ninja first)
#   VMTEST_MIB=20 VMTEST_PINGS=10    payload size, ping count
#   VMTEST_WINDOW=10                 restart cases: guest ping window (s)
#   VMTEST_KEEP=1                    keep the work dir (logs) on success
#   VMTEST_SLOW=N                    deadline factor (default: the 1-minute
#                                    load average per CPU, 1 to 4)
# Waits are on conditions (the switch's start-up line, guest events in the
# serial log, ports reconnected) with deadlines multiplied by the factor;
# the guests' own bounds (VMTEST_VM_TIMEOUT, the restart ping window) too.
# CPU placement (2 cores): the switch's worker spins on core 1 at nice 19,
# VM A on core 0, VM B on core 1 (the VM wins the core whenever it has work).
# Every process started here (switch, QEMUs, host-side nc/ping) is bounded
# by timeout(1) and killed by PID on exit, success or not; the TAP goes with
# the switch and the netns is deleted.
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
GUEST=${VMTEST_GUEST:-/tmp/vmtest-guest}
CASES=${VMTEST_CASES:-mrg-on mrg-off ring-features-off two-workers tso-cut mac-steal mq tap restart-server restart-client packed-mrg-on restart-packed runtime-port}
MIB=${VMTEST_MIB:-20}
PINGS=${VMTEST_PINGS:-10}
# Deadline factor, from the load when the run starts (QEMU under TCG is
# CPU-bound: a loaded machine slows the guests as much as the host side).
SLOW=${VMTEST_SLOW:-$(awk -v n="$(nproc)" '{ f = int($1 / n + 0.999)
    print ((f < 1) ? 1 : ((f > 4) ? 4 : f)) }' /proc/loadavg)}
export VMTEST_SLOW=$SLOW   # run-vm.sh scales its own deadlines by it
WINDOW=${VMTEST_WINDOW:-$((10 * SLOW))}
VM_TIMEOUT=${VMTEST_VM_TIMEOUT:-$((150 * SLOW))}
SW_DURATION=$((VM_TIMEOUT + 120))   # the switch's own bound (--duration)
RUNVM=$HERE/run-vm.sh
SW=${VMTEST_SWITCH:-$ROOT/build/apps/vhost-switch/vhost-switch}
# vhostctl of the same build (runtime-port)
VHOSTCTL=${VMTEST_VHOSTCTL:-$(dirname "$SW")/../vhostctl/vhostctl}
BYTES=$((MIB * 1048576))
HOST_IP=10.0.0.254

WORK=$(mktemp -d /tmp/vmtest-switch.XXXXXX)
SW_WRAP=""; SW_PID=""; VMPIDS=""; WAITERS=""; HOSTJOBS=""; NETNS=""
FAILED=0

log() { echo "test-switch: $*" >&2; }
ts() { date +%s.%N; }
# until_deadline END_S : true while $(date +%s) < END_S (for bounded polls).
until_deadline() { [ "$(date +%s)" -lt "$1" ]; }
el() { awk -v a="$1" -v b="$(ts)" 'BEGIN { printf "%.1f", b - a }'; }
field() { # field LINE KEY
    echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p" | head -n1
}
ev() { # ev LOG NAME -> guest uptime of the event
    sed -n "s/^VMTEST-EVENT: $2 t=\([0-9.]*\).*/\1/p" "$1" | head -n1
}

# --- the switch ----------------------------------------------------------------
# sw_start DIR TAG ARGS...: start vhost-switch (worker on core 1, nice 19),
# stdout -> DIR/sw.TAG.out (statistics at exit), stderr -> DIR/sw.TAG.err;
# returns once it has registered its ports.
sw_start() {
    _d=$1; _tag=$2; shift 2
    # shellcheck disable=SC2086
    timeout -k 5 $((SW_DURATION + 30)) nice -n 19 "$SW" --cpu 1 \
        --duration "$SW_DURATION" "$@" ${SW_EXTRA:-} >"$_d/sw.$_tag.out" 2>"$_d/sw.$_tag.err" &
    SW_WRAP=$!; SW_PID=""
    _end=$(( $(date +%s) + 10 * SLOW ))
    while until_deadline "$_end"; do
        if [ -z "$SW_PID" ]; then
            _p=$(pgrep -P "$SW_WRAP" || true)
            [ -n "$_p" ] && [ "$(cat "/proc/$_p/comm" 2>/dev/null)" = vhost-switch ] &&
                SW_PID=$_p
        fi
        [ -n "$SW_PID" ] && grep -q '^vhost-switch: ' "$_d/sw.$_tag.err" && return 0
        kill -0 "$SW_WRAP" 2>/dev/null || break
        sleep 0.1
    done
    cat "$_d/sw.$_tag.err" >&2
    REASON="vhost-switch did not start (see $_d/sw.$_tag.err)"
    return 1
}
# sw_stop [KILL]: SIGTERM (statistics) or SIGKILL, then reap.
sw_stop() {
    if [ -n "$SW_PID" ] && kill -0 "$SW_PID" 2>/dev/null; then
        if [ "${1:-}" = KILL ]; then
            kill -KILL "$SW_PID" 2>/dev/null || true
        else
            kill -TERM "$SW_PID" 2>/dev/null || true
            _end=$(( $(date +%s) + 5 * SLOW ))
            while kill -0 "$SW_PID" 2>/dev/null && until_deadline "$_end"; do sleep 0.1; done
            kill -0 "$SW_PID" 2>/dev/null && log "vhost-switch ignored SIGTERM for $((5 * SLOW)) s: SIGKILL"
            kill -KILL "$SW_PID" 2>/dev/null || true
        fi
    fi
    if [ -n "$SW_WRAP" ]; then
        # timeout(1) leads its own process group: the switch goes with it
        # even when its pid was never found.
        kill -KILL -- "-$SW_WRAP" 2>/dev/null || kill -KILL "$SW_WRAP" 2>/dev/null || true
        wait "$SW_WRAP" 2>/dev/null || true
    fi
    SW_PID=""; SW_WRAP=""
}
# sw_col FILE NAME: the sum over ports of the statistics column NAME (found
# in the header line of the port table).
sw_col() {
    awk -v want="$2" '$1 == "port" && $2 == "name" { for (i = 1; i <= NF; i++) if ($i == want) c = i; next }
        c && $1 ~ /^[0-9]+$/ { s += $c } END { print s + 0 }' "$1"
}
# sw_port_col FILE PORT NAME: column NAME of one port.
sw_port_col() {
    awk -v want="$3" -v p="$2" '$1 == "port" && $2 == "name" { for (i = 1; i <= NF; i++) if ($i == want) c = i; next }
        c && $1 == p { print $c; exit }' "$1"
}
sw_stats() { # sw_stats CASE FILE
    echo "  [$1] vhost-switch statistics:"
    if [ -s "$2" ]; then sed 's/^/  [switch] /' "$2"; else echo "  [switch] (none)"; fi
}

cleanup() {
    rc=$?
    for j in $WAITERS $HOSTJOBS; do kill "$j" 2>/dev/null || true; done
    for pf in $VMPIDS; do "$RUNVM" kill --pidfile "$pf" || true; done
    sw_stop
    for j in $WAITERS $HOSTJOBS; do wait "$j" 2>/dev/null || true; done
    [ -n "$NETNS" ] && ip netns del "$NETNS" 2>/dev/null
    if [ $rc -eq 0 ] && [ $FAILED -eq 0 ] && [ "${VMTEST_KEEP:-0}" != 1 ]; then
        rm -rf "$WORK"
    else
        log "logs kept in $WORK"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# --- VMs -------------------------------------------------------------------------
# vm_start DIR X SOCK MAC IP ROLE MRG CPU SCRIPT [--param K=V ...]
vm_start() {
    _d=$1; _x=$2; _sock=$3; _mac=$4; _ip=$5; _role=$6; _mrg=$7; _cpu=$8
    _script=$9; shift 9
    VMPIDS="$VMPIDS $_d/$_x.pid"
    "$RUNVM" start --guest "$GUEST" --log "$_d/$_x.log" --pidfile "$_d/$_x.pid" \
        --sock "$_sock" --mac "$_mac" --ip "$_ip" --qemu-role "$_role" \
        --mrg "$_mrg" --cpu "$_cpu" --script "$HERE/guest/$_script" \
        --timeout "$VM_TIMEOUT" "$@" 2>>"$_d/run-vm.err" ||
        { REASON="run-vm start $_x failed: $(tail -n1 "$_d/run-vm.err")"; return 1; }
}
# vm_wait_bg DIR X: waiter in the background (bash runs traps only between
# commands; 'wait' is interruptible, a foreground child is not).
vm_wait_bg() {
    "$RUNVM" wait --log "$1/$2.log" --pidfile "$1/$2.pid" \
        --timeout $((VM_TIMEOUT + 60)) >"$1/$2.result" &
    WAITER=$!
    WAITERS="$WAITERS $WAITER"
}
# wait_event LOG NAME TIMEOUT [PID]: poll the serial log for an event;
# stops early if PID (a waiter) is gone.
wait_event() {
    _end=$(( $(date +%s) + $3 ))
    while ! grep -aq "^VMTEST-EVENT: $2 " "$1" 2>/dev/null; do
        [ -n "${4:-}" ] && ! kill -0 "$4" 2>/dev/null && return 1
        [ "$(date +%s)" -ge "$_end" ] && return 1
        sleep 0.2
    done
}
events() { # events LOG -> "name=t ..." of the interesting events
    _l=""
    for _e in init netup payload-ready peer-up ping-start ping-done tx-done listen rx-done; do
        _v=$(ev "$1" "$_e"); [ -n "$_v" ] && _l="$_l $_e=$_v"
    done
    echo "${_l# }"
}
mrg_bit() { # mrg_bit LOG -> negotiated VIRTIO_NET_F_MRG_RXBUF (bit 15)
    sed -n 's/.*features=\([01]*\).*/\1/p' "$1" | head -n1 | cut -c16
}
res_reason() { # the reason part of a result line
    echo "$1" | sed 's/^VMTEST-RESULT: //'
}

# --- case: two VMs, ping + bulk ------------------------------------------------
case_pair() { # case_pair NAME MRG
    name=$1; mrg=$2; d=$WORK/$name; mkdir -p "$d"
    t0=$(ts)
    sw_start "$d" 1 --socket "$d/vm0.sock" --socket "$d/vm1.sock" || return 1
    vm_start "$d" b "$d/vm1.sock" 52:54:00:00:00:0b 10.0.0.2/24 client "$mrg" 1 \
        bulk-recv.sh --param "bytes=$BYTES" || return 1
    vm_wait_bg "$d" b; wb=$WAITER
    # A gives its peer a fixed 90 tries (guest side) to answer: start A once
    # B listens, so that B's boot on a loaded machine does not count (seen:
    # B not booted when A gave up, load 18).
    wait_event "$d/b.log" listen $((120 * SLOW)) "$wb" ||
        { REASON="VM B never listened (B: $(events "$d/b.log"))"; return 1; }
    vm_start "$d" a "$d/vm0.sock" 52:54:00:00:00:0a 10.0.0.1/24 client "$mrg" 0 \
        ping-bulk-send.sh --param peer=10.0.0.2 --param "mib=$MIB" \
        --param "pings=$PINGS" || return 1
    vm_wait_bg "$d" a; wa=$WAITER
    ra=0; rb=0
    wait "$wa" || ra=$?
    # B only receives: once A has failed nothing more comes, so do not let
    # B wait out its whole bound.
    [ $ra -eq 0 ] || "$RUNVM" kill --pidfile "$d/b.pid"
    wait "$wb" || rb=$?
    WAITERS=""; VMPIDS=""
    sw_stop
    res_a=$(cat "$d/a.result"); res_b=$(cat "$d/b.result")
    echo "  [$name] VM A: $res_a"
    echo "  [$name] VM B: $res_b"
    echo "  [$name] VM A guest uptime (s): $(events "$d/a.log")"
    echo "  [$name] VM B guest uptime (s): $(events "$d/b.log")"
    sed -n 's/^\(PING\|[0-9]* bytes from\|[0-9]* packets\|round-trip\)/&/p' "$d/a.log" |
        tr -d '\r' | sed "s/^/  [$name] A: /"
    sw_stats "$name" "$d/sw.1.out"
    tx=$(field "$res_a" tx_sha256); rx=$(field "$res_b" rx_sha256)
    want=1; [ "$mrg" = off ] && want=0
    ma=$(mrg_bit "$d/a.log"); mb=$(mrg_bit "$d/b.log")
    if [ $ra -ne 0 ]; then REASON="VM A: $(res_reason "$res_a")"; return 1; fi
    if [ $rb -ne 0 ]; then REASON="VM B: $(res_reason "$res_b")"; return 1; fi
    if [ -z "$tx" ] || [ "$tx" != "$rx" ]; then REASON="sha256 tx=$tx rx=$rx"; return 1; fi
    if [ "$ma" != "$want" ] || [ "$mb" != "$want" ]; then
        REASON="negotiated MRG_RXBUF A=$ma B=$mb, wanted $want"; return 1
    fi
    DETAIL="ping=$(field "$res_a" ping) rtt_ms=$(field "$res_a" rtt_ms)"
    DETAIL="$DETAIL tcp=${MIB}MiB/$(field "$res_a" tcp_secs)s($(field "$res_a" tcp_mbps)Mbit/s)"
    DETAIL="$DETAIL sha256=${tx:0:16}.. MRG_RXBUF=$ma EVENT_IDX=$(feature_bit "$d/a.log" 29)"
    DETAIL="$DETAIL INDIRECT_DESC=$(feature_bit "$d/a.log" 28) time=$(el "$t0")s"
}

# --- case: guests that take no TSO: the switch cuts the senders' TSO ---------
case_tso_cut() {
    VMTEST_NIC_OPTS=guest_tso4=off,guest_tso6=off
    export VMTEST_NIC_OPTS
    case_pair tso-cut on; r=$?
    unset VMTEST_NIC_OPTS
    [ $r -eq 0 ] || return 1
    out=$WORK/tso-cut/sw.1.out
    # TSO packets cut in software, all ports
    cut_n=$(sw_col "$out" tso-cut)
    if [ "$cut_n" -eq 0 ]; then
        REASON="no TSO packet was cut (the senders may not have used TSO)"; return 1
    fi
    DETAIL="$DETAIL tso_cut=$cut_n"
}

# --- case: a VM takes another VM's MAC --------------------------------------------
case_mac_steal() {
    name=mac-steal; d=$WORK/$name; mkdir -p "$d"
    t0=$(ts)
    vmac=52:54:00:00:00:0a
    # port 0: A (only its MAC), port 1: B, port 2: T (open port)
    sw_start "$d" 1 --socket "$d/vm0.sock,mac=$vmac" --socket "$d/vm1.sock" \
        --socket "$d/vm2.sock" || return 1
    vm_start "$d" b "$d/vm1.sock" 52:54:00:00:00:0b 10.0.0.2/24 client on 1 \
        bulk-recv.sh --param "bytes=$BYTES" || return 1
    vm_start "$d" t "$d/vm2.sock" 52:54:00:00:00:0c 10.0.0.3/24 client on 0 \
        mac-steal.sh --param peer=10.0.0.2 --param "steal=$vmac" \
        --param "window=$VM_TIMEOUT" || return 1
    vm_wait_bg "$d" t; wt=$WAITER
    # A starts once T sends as A: every frame of A's run competes with T's.
    wait_event "$d/t.log" stolen 120 "$wt" ||
        { REASON="thief never took the MAC ($(tail -n1 "$d/t.log" | tr -d '\r'))"; return 1; }
    vm_start "$d" a "$d/vm0.sock" "$vmac" 10.0.0.1/24 client on 0 \
        ping-bulk-send.sh --param peer=10.0.0.2 --param "mib=$MIB" \
        --param "pings=$PINGS" || return 1
    vm_wait_bg "$d" a; wa=$WAITER
    vm_wait_bg "$d" b; wb=$WAITER
    ra=0; rb=0
    wait "$wa" || ra=$?
    wait "$wb" || rb=$?
    # T is still sending as A: stop it, then the switch (statistics).
    "$RUNVM" kill --pidfile "$d/t.pid" || true
    wait "$wt" 2>/dev/null || true
    WAITERS=""; VMPIDS=""
    sw_stop
    res_a=$(cat "$d/a.result"); res_b=$(cat "$d/b.result")
    echo "  [$name] VM A: $res_a"
    echo "  [$name] VM B: $res_b"
    echo "  [$name] VM T: $(grep -a 'now 52:54' "$d/t.log" | tr -d '\r')"
    grep -a -E 'packets (transmitted|received)' "$d/t.log" | tr -d '\r' |
        sed "s/^/  [$name] T (as A): /" || true
    grep -a -E 'moved here|locked to' "$d/sw.1.err" | sed "s/^/  [$name] switch: /" || true
    sw_stats "$name" "$d/sw.1.out"
    spoofed=$(sw_port_col "$d/sw.1.out" 2 spoofed)
    moves=$(sw_col "$d/sw.1.out" moves)
    tx=$(field "$res_a" tx_sha256); rx=$(field "$res_b" rx_sha256)
    if [ $ra -ne 0 ]; then REASON="victim A: $(res_reason "$res_a")"; return 1; fi
    if [ $rb -ne 0 ]; then REASON="VM B: $(res_reason "$res_b")"; return 1; fi
    if [ -z "$tx" ] || [ "$tx" != "$rx" ]; then REASON="sha256 tx=$tx rx=$rx"; return 1; fi
    if [ "${spoofed:-0}" -eq 0 ]; then REASON="no frame of T counted as spoofed"; return 1; fi
    if [ "${moves:-0}" -ne 0 ]; then REASON="a MAC moved ($moves moves)"; return 1; fi
    if grep -aq 'packets received' "$d/t.log" &&
        ! grep -aq ' 0 packets received' "$d/t.log"; then
        REASON="T's pings as A were answered"; return 1
    fi
    DETAIL="spoofed=$spoofed moves=$moves ping=$(field "$res_a" ping)"
    DETAIL="$DETAIL tcp=${MIB}MiB/$(field "$res_a" tcp_secs)s sha256=${tx:0:16}.. time=$(el "$t0")s"
}

# --- case: the pair again, each VM's port polled by its own worker ------------
case_two_workers() {
    SW_EXTRA="--workers 2 --cpu 1,0"
    case_pair two-workers on; r=$?
    SW_EXTRA=""
    [ $r -eq 0 ] || return 1
    out=$WORK/two-workers/sw.1.out
    # Both workers forwarded: the two ports went to different workers.
    w0=$(sed -n 's/^worker 0 .*\(ports\|queues\), \([0-9]*\) packets.*/\2/p' "$out")
    w1=$(sed -n 's/^worker 1 .*\(ports\|queues\), \([0-9]*\) packets.*/\2/p' "$out")
    if [ "${w0:-0}" -eq 0 ] || [ "${w1:-0}" -eq 0 ]; then
        REASON="worker packets: ${w0:-?} and ${w1:-?} (want both > 0)"; return 1
    fi
    DETAIL="$DETAIL workers=$w0+$w1"
}

# --- case: two queue pairs per VM, queue count changed at run time ----------
# mq_sport DPORT QUEUE FROM: the first source port >= FROM whose TCP flow
# 10.0.0.1 -> 10.0.0.2:DPORT the switch puts on RX queue QUEUE of two (the
# flow hash of apps/common/flowhash.h, multiply-shift over the queues).
mq_sport() {
    python3 - "$@" <<'PY'
import struct, sys
M = 0xffffffff
def mix(h, v):
    v = (v * 0xcc9e2d51) & M
    v = ((v << 15) | (v >> 17)) & M
    h ^= (v * 0x1b873593) & M
    h = ((h << 13) | (h >> 19)) & M
    return (h * 5 + 0xe6546b64) & M
def final(h):
    h ^= h >> 16; h = (h * 0x85ebca6b) & M
    h ^= h >> 13; h = (h * 0xc2b2ae35) & M
    return h ^ (h >> 16)
le = lambda b: struct.unpack('<I', bytes(b))[0]
dport, queue, sport = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
while True:
    h = mix(0x9747b28c, le([10, 0, 0, 1]))
    h = mix(h, le([10, 0, 0, 2]))
    h = mix(h, 6)
    h = mix(h, le([sport >> 8, sport & 255, dport >> 8, dport & 255]))
    if (final(h) * 2) >> 32 == queue:
        print(sport); break
    sport += 1
PY
}
# sw_queue FILE PORT QUEUE DIR: the switch's per-queue count (DIR rx|tx) of
# a port, from the "queues" line under its row.
sw_queue() {
    awk -v p="$2" -v q="q$3" -v dir="$4" '$1 == "port" && $2 == "name" { t = 1; next }
        t && $1 ~ /^[0-9]+$/ { cur = $1; next }
        t && $1 == "queues" && cur == p { for (i = 1; i <= NF; i++) if ($i == q) { print (dir == "rx") ? $(i + 2) : $(i + 4); exit } }' "$1"
}
case_mq() {
    name=mq; d=$WORK/$name; mkdir -p "$d"
    t0=$(ts)
    smib=$(( (MIB + 4) / 5 ))   # five streams of MIB/5 MiB
    sp="$(mq_sport 5001 0 40000),$(mq_sport 5003 1 40000),$(mq_sport 5005 1 41000)"
    sp="$sp,$(mq_sport 5007 0 42000),$(mq_sport 5009 1 42000)"
    sw_start "$d" 1 --queues 2 --workers 2 --cpu 1,0 --socket "$d/vm0.sock" \
        --socket "$d/vm1.sock" || return 1
    export VMTEST_NETDEV_OPTS=queues=2 VMTEST_NIC_OPTS=mq=on VMTEST_SMP=2 \
        VMTEST_ACCEL=tcg,thread=single
    r=0
    vm_start "$d" b "$d/vm1.sock" 52:54:00:00:00:0b 10.0.0.2/24 client on 1 \
        mq-recv.sh --param "bytes=$((smib * 1048576))" &&
    vm_start "$d" a "$d/vm0.sock" 52:54:00:00:00:0a 10.0.0.1/24 client on 0 \
        mq-send.sh --param peer=10.0.0.2 --param "mib=$smib" \
        --param "pings=$PINGS" --param "sports=$sp" || r=1
    unset VMTEST_NETDEV_OPTS VMTEST_NIC_OPTS VMTEST_SMP VMTEST_ACCEL
    [ $r -eq 0 ] || return 1
    vm_wait_bg "$d" a; wa=$WAITER
    vm_wait_bg "$d" b; wb=$WAITER
    ra=0; rb=0
    wait "$wa" || ra=$?
    wait "$wb" || rb=$?
    WAITERS=""; VMPIDS=""
    sw_stop
    res_a=$(cat "$d/a.result"); res_b=$(cat "$d/b.result")
    echo "  [$name] source ports $sp"
    echo "  [$name] VM A: $res_a"
    echo "  [$name] VM B: $res_b"
    grep -a -E '^vmtest: (eth|Channel|stream|port|after)' "$d/a.log" "$d/b.log" | tr -d '\r' |
        sed "s|^$d/|  [$name] |" || true
    grep -E 'queue pair' "$d/sw.1.err" | sed "s/^/  [$name] switch: /" || true
    sw_stats "$name" "$d/sw.1.out"
    if [ $ra -ne 0 ]; then REASON="VM A: $(res_reason "$res_a")"; return 1; fi
    if [ $rb -ne 0 ]; then REASON="VM B: $(res_reason "$res_b")"; return 1; fi
    bq0=$(sw_queue "$d/sw.1.out" 1 0 tx); bq1=$(sw_queue "$d/sw.1.out" 1 1 tx)
    if [ "${bq0:-0}" -eq 0 ] || [ "${bq1:-0}" -eq 0 ]; then
        REASON="switch into B's RX queues: q0 ${bq0:-?} q1 ${bq1:-?} (want both > 0)"; return 1
    fi
    # Phase 1's streams, one per queue: each is >= 64 frames even at the
    # largest GSO size (pings and ACKs alone are far fewer).
    g0=$(field "$res_b" rxq0_p1); g1=$(field "$res_b" rxq1_p1)
    if [ "${g0:-0}" -lt 32 ] || [ "${g1:-0}" -lt 32 ]; then
        REASON="B's own RX queue counters after phase 1: ${g0:-?} and ${g1:-?} (want both >= 32: one stream each)"; return 1
    fi
    for p in 0 1; do
        off=$(grep -c "^port $p: queue pair 1 off" "$d/sw.1.err" || true)
        on=$(grep -c "^port $p: queue pair 1 on" "$d/sw.1.err" || true)
        if [ "$off" -lt 1 ] || [ "$on" -lt 2 ]; then
            REASON="port $p: queue pair 1 turned off $off and on $on times (want >= 1, >= 2)"; return 1
        fi
    done
    DETAIL="switch->B q0=$bq0 q1=$bq1 B-guest rxq0/1 after phase 1=$g0/$g1"
    DETAIL="$DETAIL $(field "$res_a" streams) in $(field "$res_a" secs)s ping=$(field "$res_a" ping) time=$(el "$t0")s"
}

# --- case: the pair again, guests without EVENT_IDX and INDIRECT_DESC ---------
feature_bit() { # feature_bit LOG BIT -> negotiated bit (features string, bit 0 first)
    sed -n 's/.*features=\([01]*\).*/\1/p' "$1" | head -n1 | cut -c$(($2 + 1))
}
case_ring_features_off() {
    VMTEST_NIC_OPTS=event_idx=off,indirect_desc=off
    export VMTEST_NIC_OPTS
    case_pair ring-features-off on; r=$?
    unset VMTEST_NIC_OPTS
    [ $r -eq 0 ] || return 1
    d=$WORK/ring-features-off
    for x in a b; do
        if [ "$(feature_bit "$d/$x.log" 29)" != 0 ] || [ "$(feature_bit "$d/$x.log" 28)" != 0 ]; then
            REASON="VM $x negotiated EVENT_IDX or INDIRECT_DESC"; return 1
        fi
    done
    DETAIL="$DETAIL EVENT_IDX=0 INDIRECT_DESC=0"
}

# --- cases: packed virtqueues (virtio-net-pci packed=on) -------------------------
# packed-mrg-on: the pair with packed rings (the negotiated bit 34 is checked).
case_packed() {
    VMTEST_NIC_OPTS=packed=on
    export VMTEST_NIC_OPTS
    case_pair packed-mrg-on on; r=$?
    unset VMTEST_NIC_OPTS
    [ $r -eq 0 ] || return 1
    for x in a b; do
        if [ "$(feature_bit "$WORK/packed-mrg-on/$x.log" 34)" != 1 ]; then
            REASON="VM $x did not negotiate RING_PACKED"; return 1
        fi
    done
    DETAIL="$DETAIL RING_PACKED=1"
}
# restart-packed: restart-server with packed rings. A packed ring's indices
# cannot be read back from guest memory; QEMU 7.2 re-sends the base it last
# got from GET_VRING_BASE (see docs/ARCHITECTURE.md, "Packed rings").
case_restart_packed() {
    VMTEST_NIC_OPTS=packed=on
    export VMTEST_NIC_OPTS
    case_restart restart-packed server; r=$?
    unset VMTEST_NIC_OPTS
    [ $r -eq 0 ] || return 1
    [ "$(feature_bit "$WORK/restart-packed/a.log" 34)" = 1 ] ||
        { REASON="VM A did not negotiate RING_PACKED"; return 1; }
    DETAIL="$DETAIL RING_PACKED=1"
}

# --- case: VM <-> host through the TAP uplink ----------------------------------
case_tap() {
    name=tap; d=$WORK/$name; mkdir -p "$d"
    t0=$(ts)
    tapname=vht$$; tapname=${tapname:0:15}
    NETNS=vhtest-$$
    ns() { ip netns exec "$NETNS" "$@"; }
    ip netns add "$NETNS" || { REASON="ip netns add failed"; NETNS=""; return 1; }
    ns ip link set lo up
    head -c "$BYTES" /dev/urandom >"$d/host-tx.bin"
    host_tx_sha=$(sha256sum "$d/host-tx.bin" | cut -d' ' -f1)
    sw_start "$d" 1 --tap "$tapname" --socket "$d/vm0.sock" || return 1
    ip link set "$tapname" netns "$NETNS" &&
        ns ip addr add "$HOST_IP/24" dev "$tapname" &&
        ns ip link set "$tapname" up ||
        { REASON="cannot move/configure TAP $tapname in netns $NETNS"; return 1; }
    # Host listener for the VM's upload (stdin: a FIFO held open, see trap 6).
    mkfifo "$d/hold"
    timeout -k 2 $((VM_TIMEOUT + 30)) ip netns exec "$NETNS" \
        busybox nc -l -p 5001 <>"$d/hold" >"$d/host-rx.bin" 2>"$d/host-nc.err" &
    hl=$!; HOSTJOBS="$hl"
    vm_start "$d" a "$d/vm0.sock" 52:54:00:00:00:0a 10.0.0.1/24 client on 0 \
        tap-peer.sh --param "host=$HOST_IP" --param "mib=$MIB" \
        --param "pings=$PINGS" --param "bytes=$BYTES" || return 1
    vm_wait_bg "$d" a; wa=$WAITER
    # Upload done when the host's nc exits (or the VM gave up).
    while kill -0 "$hl" 2>/dev/null && kill -0 "$wa" 2>/dev/null; do sleep 0.2; done
    host_ping="" ; host_send=""
    if wait_event "$d/a.log" listen $((60 * SLOW)) "$wa"; then
        timeout $((30 * SLOW)) ip netns exec "$NETNS" busybox ping -c "$PINGS" -i 0.2 -W 3 10.0.0.1 \
            >"$d/host-ping.txt" 2>&1 &
        hp=$!; HOSTJOBS="$hl $hp"; wait "$hp" || true
        host_ping=$(sed -n 's/.* \([0-9]*\) packets received.*/\1/p' "$d/host-ping.txt")
        # Retried: the guest announces 'listen' just before its nc listens.
        for try in $(seq 10); do
            timeout $((60 * SLOW)) ip netns exec "$NETNS" busybox nc 10.0.0.1 5002 \
                <"$d/host-tx.bin" >/dev/null 2>>"$d/host-nc.err" &
            hs=$!; HOSTJOBS="$hl $hs"
            if wait "$hs"; then host_send=ok; break; fi
            echo "  [$name] retry: host->VM nc attempt $try failed ($(tail -n1 "$d/host-nc.err" 2>/dev/null)); the guest may not listen yet"
            sleep 1
        done
    fi
    ra=0; wait "$wa" || ra=$?
    kill "$hl" 2>/dev/null || true; wait "$hl" 2>/dev/null || true
    WAITERS=""; VMPIDS=""; HOSTJOBS=""
    sw_stop
    ip netns del "$NETNS" 2>/dev/null || true; NETNS=""
    res=$(cat "$d/a.result")
    host_rx_sha=$(sha256sum "$d/host-rx.bin" | cut -d' ' -f1)
    host_rx_bytes=$(wc -c <"$d/host-rx.bin")
    echo "  [$name] VM: $res"
    echo "  [$name] VM guest uptime (s): $(events "$d/a.log")"
    sed -n 's/^\([0-9]* packets\|round-trip\)/&/p' "$d/a.log" | tr -d '\r' |
        sed "s/^/  [$name] VM ping host: /"
    grep -E 'packets|round-trip' "$d/host-ping.txt" 2>/dev/null |
        sed "s/^/  [$name] host ping VM: /" || true
    echo "  [$name] VM->host sha256 sent $(field "$res" tx_sha256)"
    echo "  [$name] VM->host sha256 recv $host_rx_sha ($host_rx_bytes bytes)"
    echo "  [$name] host->VM sha256 sent $host_tx_sha"
    echo "  [$name] host->VM sha256 recv $(field "$res" rx_sha256) ($(field "$res" rx_bytes) bytes)"
    sw_stats "$name" "$d/sw.1.out"
    if [ "$host_rx_sha" != "$(field "$res" tx_sha256)" ]; then
        REASON="VM->host: host got $host_rx_bytes bytes sha256 ${host_rx_sha:0:16}.., VM sent $(field "$res" tx_sha256 | cut -c1-16).. ($(res_reason "$res"))"
        return 1
    fi
    [ "${host_ping:-0}" = "$PINGS" ] || { REASON="host ping VM ${host_ping:-0}/$PINGS answered"; return 1; }
    [ -n "$host_send" ] || { REASON="host->VM nc failed ($(tail -n1 "$d/host-nc.err" 2>/dev/null))"; return 1; }
    [ $ra -eq 0 ] || { REASON="VM: $(res_reason "$res")"; return 1; }
    [ "$(field "$res" rx_sha256)" = "$host_tx_sha" ] ||
        { REASON="host->VM sha256 mismatch"; return 1; }
    DETAIL="vm-ping=$(field "$res" ping) host-ping=$host_ping/$PINGS"
    DETAIL="$DETAIL vm->host=${MIB}MiB/$(field "$res" tcp_secs)s($(field "$res" tcp_mbps)Mbit/s)"
    DETAIL="$DETAIL host->vm=${MIB}MiB sha256=ok,ok tap=$tapname time=$(el "$t0")s"
}

# --- case: switch restart under traffic ----------------------------------------
case_restart() { # case_restart NAME client|server (the switch's role)
    name=$1; role=$2; d=$WORK/$name; mkdir -p "$d"
    t0=$(ts)
    if [ "$role" = server ]; then qrole=client; swopt=""; else qrole=server; swopt=--client; fi
    swargs="$swopt --socket $d/vm0.sock --socket $d/vm1.sock"
    # shellcheck disable=SC2086
    if [ "$role" = server ]; then sw_start "$d" 1 $swargs || return 1; fi
    vm_start "$d" b "$d/vm1.sock" 52:54:00:00:00:0b 10.0.0.2/24 "$qrole" on 1 \
        bulk-recv.sh --param "bytes=$BYTES" || return 1
    vm_wait_bg "$d" b; wb=$WAITER
    # QEMU as server does not boot the guest before a back-end connected
    # (its vhost-user netdev waits, whatever wait=off says): the switch as
    # client starts now (it keeps retrying A's socket until A's QEMU is up).
    # shellcheck disable=SC2086
    if [ "$role" = client ]; then sw_start "$d" 1 $swargs || return 1; fi
    # A once B listens (see case_pair); B listens with or without a link.
    wait_event "$d/b.log" listen $((120 * SLOW)) "$wb" ||
        { REASON="VM B never listened (B: $(events "$d/b.log"))"; return 1; }
    vm_start "$d" a "$d/vm0.sock" 52:54:00:00:00:0a 10.0.0.1/24 "$qrole" on 0 \
        ping-restart-send.sh --param peer=10.0.0.2 --param "mib=$MIB" \
        --param "window=$WINDOW" || return 1
    vm_wait_bg "$d" a; wa=$WAITER
    restarted=""
    if wait_event "$d/a.log" ping-start $((120 * SLOW)) "$wa"; then
        # Durations, not waits: pings flow for 3 s before the kill, and the
        # switch stays down 1 s, so the guest sees an outage under traffic.
        sleep 3
        t_kill=$(ts)
        sw_stop KILL
        sleep 1
        # shellcheck disable=SC2086
        if sw_start "$d" 2 $swargs; then
            restarted="down $(el "$t_kill")s"
            # both ports back (new device callbacks of the new instance);
            # QEMU retries its connection every second.
            _end=$(( $(date +%s) + 30 * SLOW ))
            while [ "$(grep -c 'VM connected' "$d/sw.2.err")" -lt 2 ] && until_deadline "$_end"; do
                sleep 0.1
            done
            restarted="$restarted, ports reconnected after $(el "$t_kill")s"
        fi
    fi
    ra=0; rb=0
    wait "$wa" || ra=$?
    # B only receives: once A has failed nothing more comes, so do not let
    # B wait out its whole bound.
    [ $ra -eq 0 ] || "$RUNVM" kill --pidfile "$d/b.pid"
    wait "$wb" || rb=$?
    WAITERS=""; VMPIDS=""
    sw_stop
    res_a=$(cat "$d/a.result"); res_b=$(cat "$d/b.result")
    echo "  [$name] VM A: $res_a"
    echo "  [$name] VM B: $res_b"
    echo "  [$name] VM A guest uptime (s): $(events "$d/a.log")"
    echo "  [$name] VM B guest uptime (s): $(events "$d/b.log")"
    grep -a -E '^vmtest: pings|^[0-9]+ packets|^round-trip' "$d/a.log" | tr -d '\r' |
        sed "s/^/  [$name] A: /" || true
    echo "  [$name] restart: ${restarted:-not done}"
    echo "  [$name] first instance: SIGKILLed (no statistics); second instance:"
    sw_stats "$name" "$d/sw.2.out"
    [ -n "$restarted" ] || { REASON="restart not done (A: $(res_reason "$res_a"))"; return 1; }
    nconn=$(grep -c 'VM connected' "$d/sw.2.err" || true)
    [ "$nconn" -ge 2 ] || { REASON="only $nconn port(s) reconnected to the new switch"; return 1; }
    if [ $ra -ne 0 ]; then REASON="VM A: $(res_reason "$res_a")"; return 1; fi
    if [ $rb -ne 0 ]; then REASON="VM B: $(res_reason "$res_b")"; return 1; fi
    for x in a b; do
        n=$(grep -ac '^VMTEST-EVENT: init ' "$d/$x.log" || true)
        [ "$n" = 1 ] || { REASON="VM $x booted $n times"; return 1; }
    done
    tx=$(field "$res_a" tx_sha256); rx=$(field "$res_b" rx_sha256)
    if [ -z "$tx" ] || [ "$tx" != "$rx" ]; then REASON="sha256 tx=$tx rx=$rx"; return 1; fi
    lost=$(field "$res_a" lost_seqs); late=$(field "$res_a" late)
    # The outage must have been seen by the guest: lost or late replies.
    if [ "$lost" = none ] && [ "${late:-0}" = 0 ]; then
        REASON="the guest saw no outage (no lost or late ping): restart not under traffic?"
        return 1
    fi
    DETAIL="pings=$(field "$res_a" pings) lost_seqs=$lost late=$late"
    DETAIL="$DETAIL rtt_max=$(field "$res_a" rtt_max_ms)ms"
    DETAIL="$DETAIL tcp=${MIB}MiB/$(field "$res_a" tcp_secs)s($(field "$res_a" tcp_mbps)Mbit/s)"
    DETAIL="$DETAIL sha256=${tx:0:16}.. qemu=$qrole time=$(el "$t0")s"
}

# --- case: ports added and removed at run time (control socket) ---------------
# The switch starts with A's port and X's port only; VM X (idle) connects.
# B's port is added with `vhostctl port-add` while the switch runs, VM B
# boots on it and A (connected from the start) pings it and sends 20 MiB;
# while that transfer runs X's port is removed with `vhostctl port-del`. A's
# pings and transfer to B must all succeed (sha256), B must be listed by
# `show` after the add and X must be gone after the delete.
case_runtime_port() {
    name=runtime-port; d=$WORK/$name; mkdir -p "$d"
    t0=$(ts)
    ctl=$d/ctl.sock
    vctl() { timeout 30 "$VHOSTCTL" -s "$ctl" -t 10 "$@"; }
    [ -x "$VHOSTCTL" ] || { REASON="no vhostctl at $VHOSTCTL"; return 1; }
    sw_start "$d" 1 --socket "$d/vm0.sock" --socket "$d/vm2.sock" --ctl "$ctl" || return 1
    vm_start "$d" x "$d/vm2.sock" 52:54:00:00:00:0c 10.0.0.3/24 client on 0 \
        idle.sh --param "idle=$VM_TIMEOUT" || return 1
    vm_wait_bg "$d" x; wx=$WAITER
    vctl port-add "$d/vm1.sock" >"$d/port-add.out" 2>&1 ||
        { REASON="port-add failed: $(cat "$d/port-add.out")"; return 1; }
    vctl --json show >"$d/show1.json" 2>&1 ||
        { REASON="show failed: $(cat "$d/show1.json")"; return 1; }
    grep -q "vm1.sock" "$d/show1.json" || { REASON="added port not in show"; return 1; }
    vm_start "$d" b "$d/vm1.sock" 52:54:00:00:00:0b 10.0.0.2/24 client on 1 \
        bulk-recv.sh --param "bytes=$BYTES" || return 1
    vm_wait_bg "$d" b; wb=$WAITER
    wait_event "$d/b.log" listen $((120 * SLOW)) "$wb" ||
        { REASON="VM B (added port) never listened (B: $(events "$d/b.log"))"; return 1; }
    vm_start "$d" a "$d/vm0.sock" 52:54:00:00:00:0a 10.0.0.1/24 client on 0 \
        ping-bulk-send.sh --param peer=10.0.0.2 --param "mib=$MIB" \
        --param "pings=$PINGS" || return 1
    vm_wait_bg "$d" a; wa=$WAITER
    # X's port goes while A's transfer to B runs.
    wait_event "$d/a.log" ping-done $((180 * SLOW)) "$wa" ||
        { REASON="A never finished its pings (A: $(events "$d/a.log"))"; return 1; }
    vctl port-del "$d/vm2.sock" >"$d/port-del.out" 2>&1 ||
        { REASON="port-del failed: $(cat "$d/port-del.out")"; return 1; }
    vctl --json show >"$d/show2.json" 2>&1 || { REASON="show failed after port-del"; return 1; }
    ra=0; rb=0
    wait "$wa" || ra=$?
    [ $ra -eq 0 ] || "$RUNVM" kill --pidfile "$d/b.pid"
    wait "$wb" || rb=$?
    "$RUNVM" kill --pidfile "$d/x.pid" || true
    wait "$wx" 2>/dev/null || true
    WAITERS=""; VMPIDS=""
    sw_stop
    res_a=$(cat "$d/a.result"); res_b=$(cat "$d/b.result")
    echo "  [$name] $(cat "$d/port-add.out") / $(cat "$d/port-del.out")"
    echo "  [$name] VM A: $res_a"
    echo "  [$name] VM B: $res_b"
    sw_stats "$name" "$d/sw.1.out"
    tx=$(field "$res_a" tx_sha256); rx=$(field "$res_b" rx_sha256)
    if [ $ra -ne 0 ]; then REASON="VM A: $(res_reason "$res_a")"; return 1; fi
    if [ $rb -ne 0 ]; then REASON="VM B (added at run time): $(res_reason "$res_b")"; return 1; fi
    if [ -z "$tx" ] || [ "$tx" != "$rx" ]; then REASON="sha256 tx=$tx rx=$rx"; return 1; fi
    if grep -q "vm2.sock" "$d/show2.json"; then REASON="deleted port still in show"; return 1; fi
    if [ -e "$d/vm2.sock" ]; then REASON="deleted port's socket file left"; return 1; fi
    DETAIL="ping=$(field "$res_a" ping) tcp=${MIB}MiB/$(field "$res_a" tcp_secs)s"
    DETAIL="$DETAIL sha256=${tx:0:16}.. port-del during the transfer time=$(el "$t0")s"
}

# --- main ------------------------------------------------------------------------
[ "$(id -u)" = 0 ] || { log "must run as root (QEMU, TAP, netns)"; exit 2; }
if [ -z "${VMTEST_SWITCH:-}" ] && [ -d "$ROOT/build" ]; then
    timeout 600 ninja -C "$ROOT/build" >"$WORK/ninja.log" 2>&1 ||
        { tail -n 20 "$WORK/ninja.log" >&2; log "build failed; testing the existing binary"; }
fi
[ -x "$SW" ] || { log "no $SW (build with meson/ninja)"; exit 2; }
timeout 900 "$HERE/build-guest.sh" "$GUEST"
log "work dir $WORK; switch $SW; deadlines x$SLOW (load $(cut -d' ' -f1 /proc/loadavg))"

pass=0; fail=0; T_ALL=$(ts)
for c in $CASES; do
    REASON=""; DETAIL=""
    echo "=== $c"
    case "$c" in
    mrg-on) f="case_pair $c on" ;;
    mrg-off) f="case_pair $c off" ;;
    tap) f=case_tap ;;
    restart-server) f="case_restart $c server" ;;
    restart-client) f="case_restart $c client" ;;
    ring-features-off) f=case_ring_features_off ;;
    two-workers) f=case_two_workers ;;
    tso-cut) f=case_tso_cut ;;
    mac-steal) f=case_mac_steal ;;
    mq) f=case_mq ;;
    packed-mrg-on) f=case_packed ;;
    restart-packed) f=case_restart_packed ;;
    runtime-port) f=case_runtime_port ;;
    *) log "unknown case $c"; fail=$((fail + 1)); FAILED=1; continue ;;
    esac
    if $f; then
        echo "PASS $c $DETAIL"; pass=$((pass + 1))
    else
        # clean up what a failed case left running before the next one
        for j in $WAITERS $HOSTJOBS; do kill "$j" 2>/dev/null || true; done
        for pf in $VMPIDS; do "$RUNVM" kill --pidfile "$pf" || true; done
        sw_stop
        for j in $WAITERS $HOSTJOBS; do wait "$j" 2>/dev/null || true; done
        WAITERS=""; HOSTJOBS=""; VMPIDS=""
        [ -n "$NETNS" ] && { ip netns del "$NETNS" 2>/dev/null || true; NETNS=""; }
        echo "FAIL $c ${REASON:-unknown}"; fail=$((fail + 1)); FAILED=1
    fi
done
echo "test-switch: $pass passed, $fail failed ($(el "$T_ALL")s)"
[ $fail -eq 0 ]
