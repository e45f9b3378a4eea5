#!/bin/bash
# smoke-dpdk.sh -- end-to-end check of the VM test rig, with DPDK's own
# vhost-user back-end (dpdk-testpmd, net_vhost) as the "switch".
#
# For each mrg_rxbuf mode (default: on off):
#   * one dpdk-testpmd with two net_vhost ports (server sockets), 'set fwd io',
#     'start' (commands fed through a FIFO), forwarding on one lcore;
#   * VM B (10.0.0.2, guest/bulk-recv.sh) and VM A (10.0.0.1,
#     guest/ping-bulk-send.sh), each with a vhost-user virtio-net NIC on one
#     of the two sockets (QEMU is the client, reconnect=1);
#   * A waits for B, sends 10 pings (all must be answered), then sends 20 MiB
#     of random data with busybox nc; both sides print sha256, A compares,
#     and this script compares the two results again.
# Every process started here (testpmd, QEMUs) is killed by PID on exit,
# success or not (trap), and testpmd's /var/run/dpdk/<prefix> is removed.
#
# Usage: tests/vm/smoke-dpdk.sh        (root; about 1 minute per mode)
# Environment:
#   VMTEST_GUEST=/tmp/vmtest-guest  guest dir (built with build-guest.sh)
#   VMTEST_MRG="on off"             modes to run
#   VMTEST_MIB=20 VMTEST_PINGS=10   payload size, ping count
#   VMTEST_PIN=split|shared|none    CPU placement on a 2-core box:
#       split  (default) testpmd forwards on core 1 at nice 19; VM A on core 0,
#              VM B on core 1 (the VMs win the CPU whenever they need it)
#       shared testpmd forwards on core 1; both VMs on core 0
#       none   no pinning
#   VMTEST_QEMU_ROLE=client|server  client (default): testpmd's net_vhost
#       listens and QEMU connects (reconnect=1); server: QEMU listens
#       (server=on,wait=off) and net_vhost connects with client=1
#   VMTEST_KEEP=1                   keep the work dir (logs) on success
#   VMTEST_SLOW=N                   multiply the testpmd start-up deadline
# Exit status 0 when every mode passed. Logs: $WORK (printed), kept on failure.
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
GUEST=${VMTEST_GUEST:-/tmp/vmtest-guest}
MODES=${VMTEST_MRG:-on off}
MIB=${VMTEST_MIB:-20}
PINGS=${VMTEST_PINGS:-10}
PIN=${VMTEST_PIN:-split}
VM_TIMEOUT=${VMTEST_VM_TIMEOUT:-240}
RUNVM=$HERE/run-vm.sh
ROLE=${VMTEST_QEMU_ROLE:-client}
case "$ROLE" in
client) VHOPT="" ;;
server) VHOPT=",client=1" ;;
*) echo "VMTEST_QEMU_ROLE=client|server" >&2; exit 2 ;;
esac

WORK=$(mktemp -d /tmp/vmtest-dpdk.XXXXXX)
TP_WRAP=""; TP_PID=""; PFX=""; FAILED=0
VMPIDS=""; WAITERS=""

log() { echo "smoke-dpdk: $*" >&2; }
ts() { date +%s.%N; }
el() { awk -v a="$1" -v b="$(ts)" 'BEGIN { printf "%.1f", b - a }'; }

stop_testpmd() {
    if [ -n "$TP_PID" ] && kill -0 "$TP_PID" 2>/dev/null; then
        echo quit >&9 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$TP_PID" 2>/dev/null || break; sleep 0.1; done
        kill -TERM "$TP_PID" 2>/dev/null || true
        for _ in $(seq 30); do kill -0 "$TP_PID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$TP_PID" 2>/dev/null || true
    fi
    if [ -n "$TP_WRAP" ]; then
        # timeout(1) leads its own process group: testpmd goes with it.
        kill -KILL -- "-$TP_WRAP" 2>/dev/null || kill -KILL "$TP_WRAP" 2>/dev/null || true
        wait "$TP_WRAP" 2>/dev/null || true
    fi
    exec 9>&-   # (no '2>/dev/null' here: with exec it would stick)
    [ -n "$PFX" ] && rm -rf "/var/run/dpdk/$PFX"
    TP_PID=""; TP_WRAP=""; PFX=""
}

cleanup() {
    rc=$?
    for w in $WAITERS; do kill "$w" 2>/dev/null || true; done
    for pf in $VMPIDS; do "$RUNVM" kill --pidfile "$pf" || true; done
    stop_testpmd
    if [ $rc -eq 0 ] && [ $FAILED -eq 0 ] && [ "${VMTEST_KEEP:-0}" != 1 ]; then
        rm -rf "$WORK"
    else
        log "logs kept in $WORK"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

command -v dpdk-testpmd >/dev/null || {
    log "installing dpdk-dev (dpdk-testpmd)"
    timeout 300 apt-get update -qq
    DEBIAN_FRONTEND=noninteractive timeout 600 \
        apt-get install -y -qq --no-install-recommends dpdk-dev >/dev/null
}
timeout 900 "$HERE/build-guest.sh" "$GUEST"

case "$PIN" in
split)  TP_PRE="nice -n 19"; CPU_A=0; CPU_B=1 ;;
shared) TP_PRE="";           CPU_A=0; CPU_B=0 ;;
none)   TP_PRE="";           CPU_A="";  CPU_B="" ;;
*) log "VMTEST_PIN=split|shared|none"; exit 2 ;;
esac

ev() { # ev LOG NAME -> guest uptime of the event
    sed -n "s/^VMTEST-EVENT: $2 t=\([0-9.]*\).*/\1/p" "$1" | head -n1
}
field() { # field LINE KEY
    echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p" | head -n1
}

run_mode() {
    mrg=$1
    d=$WORK/mrg-$mrg; mkdir -p "$d"
    PFX=vmtest-$$-$mrg
    t_start=$(ts)

    mkfifo "$d/tp.fifo"
    exec 9<>"$d/tp.fifo"     # held open: testpmd's stdin never hits EOF
    # shellcheck disable=SC2086
    timeout -k 5 $((VM_TIMEOUT + 300)) $TP_PRE dpdk-testpmd \
        -l 0,1 --main-lcore 0 --no-pci --no-huge -m 1024 --file-prefix="$PFX" \
        --vdev "net_vhost0,iface=$d/vm0.sock,queues=1$VHOPT" \
        --vdev "net_vhost1,iface=$d/vm1.sock,queues=1$VHOPT" \
        -- -i --nb-cores=1 <"$d/tp.fifo" >"$d/testpmd.log" 2>&1 &
    TP_WRAP=$!
    _end=$(( $(date +%s) + 30 * ${VMTEST_SLOW:-1} ))
    while [ "$(date +%s)" -lt "$_end" ]; do
        TP_PID=$(pgrep -P "$TP_WRAP" -x dpdk-testpmd || true)
        if [ -n "$TP_PID" ]; then
            # client role: QEMU creates the sockets; wait for testpmd's prompt
            if [ "$ROLE" = server ]; then grep -q 'testpmd>' "$d/testpmd.log" && break
            elif [ -S "$d/vm0.sock" ] && [ -S "$d/vm1.sock" ]; then break; fi
        fi
        kill -0 "$TP_WRAP" 2>/dev/null || { cat "$d/testpmd.log" >&2; log "testpmd died"; return 1; }
        sleep 0.1
    done
    [ -n "$TP_PID" ] || { log "testpmd did not start"; return 1; }
    printf 'set fwd io\nstart\n' >&9
    log "[mrg=$mrg] testpmd pid $TP_PID up in $(el "$t_start")s (pin=$PIN, qemu-role=$ROLE)"

    t_vm=$(ts)
    VMPIDS="$d/b.pid $d/a.pid"
    "$RUNVM" start --guest "$GUEST" --log "$d/b.log" --pidfile "$d/b.pid" \
        --sock "$d/vm1.sock" --mac 52:54:00:00:00:0b --ip 10.0.0.2/24 \
        --qemu-role "$ROLE" --mrg "$mrg" --script "$HERE/guest/bulk-recv.sh" \
        --param "bytes=$((MIB * 1048576))" --timeout "$VM_TIMEOUT" ${CPU_B:+--cpu $CPU_B} || return 1
    "$RUNVM" start --guest "$GUEST" --log "$d/a.log" --pidfile "$d/a.pid" \
        --sock "$d/vm0.sock" --mac 52:54:00:00:00:0a --ip 10.0.0.1/24 \
        --qemu-role "$ROLE" --mrg "$mrg" --script "$HERE/guest/ping-bulk-send.sh" \
        --param peer=10.0.0.2 --param "mib=$MIB" --param "pings=$PINGS" \
        --timeout "$VM_TIMEOUT" ${CPU_A:+--cpu $CPU_A} || return 1

    # Waits run as background jobs: bash runs a trap only between commands,
    # and the 'wait' builtin is interruptible, a foreground child is not.
    "$RUNVM" wait --log "$d/a.log" --pidfile "$d/a.pid" \
        --timeout $((VM_TIMEOUT + 60)) >"$d/a.result" &
    wa=$!
    "$RUNVM" wait --log "$d/b.log" --pidfile "$d/b.pid" \
        --timeout $((VM_TIMEOUT + 60)) >"$d/b.result" &
    wb=$!
    WAITERS="$wa $wb"
    ra=0; rb=0
    wait $wa || ra=$?
    t_a=$(el "$t_vm")
    wait $wb || rb=$?
    WAITERS=""
    res_a=$(cat "$d/a.result"); res_b=$(cat "$d/b.result")
    VMPIDS=""

    # Wait (bounded) for stop's "Done." so the statistics are in the log.
    _off=$(stat -c %s "$d/testpmd.log")
    printf 'show port stats all\nstop\n' >&9
    _end=$(( $(date +%s) + 10 ))
    until tail -c +"$((_off + 1))" "$d/testpmd.log" | grep -q '^Done\.'; do
        [ "$(date +%s)" -lt "$_end" ] || { log "testpmd did not answer 'stop'"; break; }
        sleep 0.1
    done
    stop_testpmd

    echo "[mrg_rxbuf=$mrg] VM A: $res_a"
    echo "[mrg_rxbuf=$mrg] VM B: $res_b"
    for x in a b; do
        line=""
        for e in init netup payload-ready peer-up ping-done tx-done rx-done; do
            v=$(ev "$d/$x.log" "$e"); [ -n "$v" ] && line="$line $e=$v"
        done
        echo "[mrg_rxbuf=$mrg] VM $x guest uptime (s):$line"
    done
    grep -E 'RX-packets|TX-packets' "$d/testpmd.log" | head -n 4 |
        sed "s/^ */[mrg_rxbuf=$mrg] testpmd: /" || true
    tx=$(field "$res_a" tx_sha256); rx=$(field "$res_b" rx_sha256)
    echo "[mrg_rxbuf=$mrg] sha256 sender   $tx"
    echo "[mrg_rxbuf=$mrg] sha256 receiver $rx"
    echo "[mrg_rxbuf=$mrg] wall (host): VM start -> A result ${t_a}s, -> B result $(el "$t_vm")s; mode total $(el "$t_start")s"
    # The guest's negotiated feature bits (sysfs string, bit 0 first):
    # VIRTIO_NET_F_MRG_RXBUF is bit 15, VIRTIO_F_VERSION_1 bit 32.
    want=1; [ "$mrg" = off ] && want=0
    featok=1
    for x in a b; do
        f=$(sed -n 's/.*features=\([01]*\).*/\1/p' "$d/$x.log" | head -n1)
        echo "[mrg_rxbuf=$mrg] VM $x features: MRG_RXBUF=$(echo "$f" | cut -c16) VERSION_1=$(echo "$f" | cut -c33)"
        [ "$(echo "$f" | cut -c16)" = "$want" ] || featok=0
    done
    [ $featok = 1 ] || echo "[mrg_rxbuf=$mrg] negotiated MRG_RXBUF does not match the mode"
    if [ $ra -ne 0 ] || [ $rb -ne 0 ] || [ -z "$tx" ] || [ "$tx" != "$rx" ] ||
       [ $featok != 1 ]; then
        echo "[mrg_rxbuf=$mrg] FAIL"
        return 1
    fi
    echo "[mrg_rxbuf=$mrg] PASS ping $(field "$res_a" ping) rtt_ms $(field "$res_a" rtt_ms)" \
         "tcp ${MIB}MiB in $(field "$res_a" tcp_secs)s ($(field "$res_a" tcp_mbps) Mbit/s)"
}

pass=0; fail=0
for m in $MODES; do
    if run_mode "$m"; then pass=$((pass + 1)); else fail=$((fail + 1)); FAILED=1; fi
done
echo "smoke-dpdk: $pass passed, $fail failed"
[ $fail -eq 0 ]
