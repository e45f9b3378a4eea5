#!/bin/bash
# test-migrate.sh -- live migration of a running Linux guest between two QEMU
# processes, both attached to one vhost-switch, while the switch writes into
# the guest's RX buffers the whole time (a peer VM floods it with pings).
#
# Cases (VMTEST_CASES, default all, in this order):
#   split-mrg-on    QEMU as client (reconnect=1), mergeable RX buffers on
#   split-mrg-off   QEMU as server (the switch connects), mrg_rxbuf=off,
#                   guest_announce=off: QEMU sends SEND_RARP on the
#                   destination, and the switch must learn the MAC there
#   packed-mrg-on   split-mrg-on with packed virtqueues (packed=on)
#   no-log          the same migration with the switch's dirty logging
#                   switched off (VHOST_TEST_SKIP_DIRTY_LOG=1): pages must
#                   differ -- shows the RAM comparison can fail
#   cancel          a migration cancelled midway: logging stops, the guest
#                   keeps running on the source and its transfers succeed
#   announce        HMP announce_self on a guest with guest_announce=off: QEMU
#                   sends SEND_RARP, the switch gets a RARP frame from the
#                   guest's port and moves the guest's MAC back there from
#                   the port of a VM that had taken it
#   hotplug         memory hot-plug (no migration): a 128 MiB pc-dimm plugged
#                   into a running guest reaches the switch (ADD_MEM_REG); the
#                   guest onlines it for kernel allocations and moves 20 MiB
#                   each way through buffers that now live there
# A migration case passes when:
#   * 'info migrate' says completed (total time and downtime are reported);
#   * after completion, before 'cont', the guest RAM of source and
#     destination (pmemsave of all of it) is equal page by page;
#   * after 'cont': the guest's pings to its peer never stopped for more
#     than a second, 20 MiB move out of and into the migrated guest over TCP
#     with sha256 equal at both ends, the guest did not boot again, and the
#     switch's MAC table has the guest on the destination port (port
#     security on: both of the guest's ports list its MAC).
# The guest gets 8 KiB more RAM than a round size and boots with
# init_on_alloc=0 (see shared notes: QEMU 7.2's TCG dirty tracking bug with
# sizes that are multiples of 256 KiB; and a guest that zeroes every page it
# allocates hides missing logging).
#
# Usage: tests/vm/test-migrate.sh   (root; ~4 minutes)
# Environment: VMTEST_CASES, VMTEST_GUEST (default /tmp/vmtest-guest),
#   VMTEST_SWITCH (vhost-switch binary), VMTEST_MIB=20, VMTEST_KEEP=1,
#   VMTEST_MIG_BW=32M (migration bandwidth cap)
# Prints 'PASS name ...' / 'FAIL name reason' per case and ends with
# 'test-migrate: N passed, N failed'.
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
GUEST=${VMTEST_GUEST:-/tmp/vmtest-guest}
CASES=${VMTEST_CASES:-split-mrg-on split-mrg-off packed-mrg-on no-log cancel announce hotplug}
MIB=${VMTEST_MIB:-20}
BW=${VMTEST_MIG_BW:-32M}
VM_TIMEOUT=${VMTEST_VM_TIMEOUT:-240}
RUNVM=$HERE/run-vm.sh
QMP=$HERE/qmp.py
SW=${VMTEST_SWITCH:-$ROOT/build/apps/vhost-switch/vhost-switch}
MEM=262152K
RAM_BYTES=$((262152 * 1024))
MAC_A=52:54:00:00:00:0a
MAC_B=52:54:00:00:00:0b

WORK=$(mktemp -d /tmp/vmtest-migrate.XXXXXX)
SW_PID=""; SW_WRAP=""; VMPIDS=""; WAITERS=""
FAILED=0; PASSED=0

log() { echo "test-migrate: $*" >&2; }
ts() { date +%s.%N; }
el() { awk -v a="$1" -v b="$(ts)" 'BEGIN { printf "%.1f", b - a }'; }
field() { echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p" | head -n1; }

sw_start() { # sw_start DIR ARGS...
    _d=$1; shift
    timeout -k 5 $((VM_TIMEOUT + 200)) nice -n 19 "$SW" --cpu 1 \
        --duration $((VM_TIMEOUT + 150)) "$@" >"$_d/sw.out" 2>"$_d/sw.err" &
    SW_WRAP=$!; SW_PID=""
    for _ in $(seq 200); do
        if [ -z "$SW_PID" ]; then
            _p=$(pgrep -P "$SW_WRAP" || true)
            [ -n "$_p" ] && [ "$(cat "/proc/$_p/comm" 2>/dev/null)" = vhost-switch ] &&
                SW_PID=$_p
        fi
        [ -n "$SW_PID" ] && grep -q '^vhost-switch: ' "$_d/sw.err" && return 0
        kill -0 "$SW_WRAP" 2>/dev/null || break
        sleep 0.1
    done
    REASON="vhost-switch did not start (see $_d/sw.err)"
    return 1
}
sw_stop() {
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
    for j in $WAITERS; do kill "$j" 2>/dev/null || true; done
    for pf in $VMPIDS; do "$RUNVM" kill --pidfile "$pf" || true; done
    sw_stop
    for j in $WAITERS; do wait "$j" 2>/dev/null || true; done
    if [ $rc -eq 0 ] && [ $FAILED -eq 0 ] && [ "${VMTEST_KEEP:-0}" != 1 ]; then
        rm -rf "$WORK"
    else
        log "logs kept in $WORK"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# vm_start DIR X SOCK MAC IP ROLE MRG CPU SCRIPT [run-vm options...]
vm_start() {
    _d=$1; _x=$2; _sock=$3; _mac=$4; _ip=$5; _role=$6; _mrg=$7; _cpu=$8
    _script=$9; shift 9
    VMPIDS="$VMPIDS $_d/$_x.pid"
    VMTEST_KARGS=init_on_alloc=0 "$RUNVM" start --guest "$GUEST" \
        --log "$_d/$_x.log" --pidfile "$_d/$_x.pid" --mem "$MEM" \
        --sock "$_sock" --mac "$_mac" --ip "$_ip" --qemu-role "$_role" \
        --mrg "$_mrg" --cpu "$_cpu" --script "$HERE/guest/$_script" \
        --timeout "$VM_TIMEOUT" "$@" 2>>"$_d/run-vm.err" ||
        { REASON="run-vm start $_x failed: $(tail -n1 "$_d/run-vm.err")"; return 1; }
}
vm_wait_bg() { # vm_wait_bg DIR X -> $WAITER
    "$RUNVM" wait --log "$1/$2.log" --pidfile "$1/$2.pid" \
        --timeout $((VM_TIMEOUT + 60)) >"$1/$2.result" &
    WAITER=$!
    WAITERS="$WAITERS $WAITER"
}
wait_event() { # wait_event LOG NAME TIMEOUT
    _end=$(( $(date +%s) + $3 ))
    while ! grep -aq "^VMTEST-EVENT: $2 " "$1" 2>/dev/null; do
        [ "$(date +%s)" -ge "$_end" ] && return 1
        sleep 0.2
    done
}
mig_field() { # mig_field INFO 'total time' -> the number
    sed -n "s/^$2: \([0-9]*\).*/\1/p" "$1" | head -n1
}
# fdb_port DIR MAC -> the port the switch's MAC table has MAC on, now
# (SIGUSR1 makes the switch print its table: "fdb MAC port N age S")
fdb_port() {
    _n=$(grep -ac '^fdb: ' "$1/sw.err" || true)
    kill -USR1 "$SW_PID" 2>/dev/null || return 0
    for _ in $(seq 50); do
        [ "$(grep -ac '^fdb: ' "$1/sw.err" || true)" -gt "$_n" ] && break
        sleep 0.1
    done
    sleep 0.1 # the entries follow the header line
    awk -v m="$2" '/^fdb: / { p = "" } $1 == "fdb" && $2 == m { p = $4 } END { print p }' "$1/sw.err"
}

# case_migrate NAME ROLE MRG MODE  (MODE: ok | nolog | cancel)
case_migrate() {
    name=$1; role=$2; mrg=$3; mode=$4; d=$WORK/$name; mkdir -p "$d"
    t0=$(ts)
    # Port security on: both of A's ports may use A's MAC (the move is
    # legitimate), B's only B's.
    sw_args=(--socket "$d/a-src.sock,mac=$MAC_A" --socket "$d/a-dst.sock,mac=$MAC_A"
             --socket "$d/b.sock,mac=$MAC_B")
    [ "$role" = server ] && sw_args+=(--client)
    skip=0; [ "$mode" = nolog ] && skip=1
    VHOST_TEST_SKIP_DIRTY_LOG=$skip sw_start "$d" "${sw_args[@]}" || return 1
    nic=""; [ "$name" = split-mrg-off ] && nic=guest_announce=off
    # Packed rings: the device writes used entries into the descriptor
    # ring, which must be logged like every other write into the guest.
    [ "$name" = packed-mrg-on ] && nic=packed=on
    export VMTEST_NIC_OPTS=$nic
    vm_start "$d" b "$d/b.sock" $MAC_B 10.0.0.2/24 "$role" "$mrg" 1 mig-peer.sh \
        --param peer=10.0.0.1 --param "mib=$MIB" || return 1
    a_params=(--param peer=10.0.0.2 --param "mib=$MIB" --param phase=30)
    vm_start "$d" a-src "$d/a-src.sock" $MAC_A 10.0.0.1/24 "$role" "$mrg" 0 mig-guest.sh \
        "${a_params[@]}" --extra "-qmp unix:$d/src.qmp,server=on,wait=off" || return 1
    vm_start "$d" a-dst "$d/a-dst.sock" $MAC_A 10.0.0.1/24 "$role" "$mrg" 0 mig-guest.sh \
        "${a_params[@]}" --extra "-qmp unix:$d/dst.qmp,server=on,wait=off -incoming unix:$d/mig.sock -S" ||
        return 1
    unset VMTEST_NIC_OPTS
    vm_wait_bg "$d" b; wb=$WAITER
    wait_event "$d/a-src.log" mig-ready 150 ||
        { REASON="guest A never reached its peer (see $d/a-src.log)"; return 1; }
    wait_event "$d/b.log" flood-start 30 || { REASON="peer B never started flooding"; return 1; }
    "$QMP" "$d/src.qmp" hmp "migrate_set_parameter max-bandwidth $BW" >/dev/null
    tm=$(ts)
    "$QMP" "$d/src.qmp" hmp "migrate -d unix:$d/mig.sock" >"$d/migrate.out"
    if [ "$mode" = cancel ]; then
        # Cancel once a few MiB went over: logging was on for a while.
        for _ in $(seq 100); do
            "$QMP" "$d/src.qmp" hmp "info migrate" >"$d/mig.info" || true
            cat "$d/mig.info" >>"$d/mig.trace"
            t=$(sed -n 's/^transferred ram: \([0-9]*\).*/\1/p' "$d/mig.info")
            [ "${t:-0}" -ge 8192 ] && break
            sleep 0.1
        done
        "$QMP" "$d/src.qmp" hmp migrate_cancel >/dev/null
        "$QMP" "$d/src.qmp" migrate-wait 30 >"$d/mig.info" && {
            REASON="migration completed though cancelled"; return 1; }
        grep -q 'Migration status: cancelled' "$d/mig.info" ||
            { REASON="after cancel: $(grep 'Migration status' "$d/mig.info")"; return 1; }
        cancel_s=$(el "$tm")
        # QEMU turned LOG_ALL (bit 26) on, then off again at the cancel.
        feats=$(sed -n 's/.*a-src.sock: features acked 0x\([0-9a-f]*\).*/\1/p' "$d/sw.err")
        on=$(echo "$feats" | while read -r f; do echo $(( (0x$f >> 26) & 1 )); done | tr -d '\n')
        case "$on" in *1*0) ;; *)
            REASON="LOG_ALL was not switched on and off again (features: $(echo $feats))"; return 1 ;;
        esac
        "$RUNVM" kill --pidfile "$d/a-dst.pid"
        vm_wait_bg "$d" a-src; wa=$WAITER
        ra=0; rb=0; wait "$wa" || ra=$?; wait "$wb" || rb=$?
        WAITERS=""
        res_a=$(cat "$d/a-src.result"); res_b=$(cat "$d/b.result")
        sw_stop
        echo "  [$name] VM A (source): $res_a"
        echo "  [$name] VM B: $res_b"
        [ $ra -eq 0 ] || { REASON="VM A: $res_a"; return 1; }
        [ $rb -eq 0 ] || { REASON="VM B: $res_b"; return 1; }
        DETAIL="cancelled after ${cancel_s}s, LOG_ALL on then off; $(field "$res_a" ping) pings, gap $(field "$res_a" ping_gap_s)s, transfers ok"
        return 0
    fi
    mrc=0; "$QMP" "$d/src.qmp" migrate-wait 180 >"$d/mig.info" || mrc=$?
    mig_s=$(el "$tm")
    [ $mrc -eq 0 ] || { REASON="migration did not complete: $(grep 'Migration status' "$d/mig.info")"; return 1; }
    total=$(mig_field "$d/mig.info" "total time"); down=$(mig_field "$d/mig.info" downtime)
    # Both paused now: the source after completion, the destination before
    # 'cont'. Their RAM must be the same page for page.
    "$QMP" "$d/src.qmp" hmp "pmemsave 0 $RAM_BYTES \"$d/src.ram\"" >/dev/null
    "$QMP" "$d/dst.qmp" hmp "pmemsave 0 $RAM_BYTES \"$d/dst.ram\"" >/dev/null
    cmp_rc=0; cmp_out=$("$HERE/ramcmp.py" "$d/src.ram" "$d/dst.ram") || cmp_rc=$?
    rm -f "$d/src.ram" "$d/dst.ram"
    echo "  [$name] migration: total ${total}ms downtime ${down}ms (host ${mig_s}s); RAM $cmp_out"
    if [ "$mode" = nolog ]; then
        differ=$(field "$cmp_out" differ)
        [ "${differ:-0}" -gt 0 ] ||
            { REASON="no page differs although logging was off: the comparison cannot fail"; return 1; }
        DETAIL="without logging: $cmp_out (migration ${total}ms)"
        return 0
    fi
    [ $cmp_rc -eq 0 ] || { REASON="guest RAM differs after migration: $cmp_out"; return 1; }
    "$QMP" "$d/dst.qmp" hmp cont >/dev/null
    "$QMP" "$d/src.qmp" hmp quit >/dev/null 2>&1 || true
    "$RUNVM" kill --pidfile "$d/a-src.pid"
    vm_wait_bg "$d" a-dst; wa=$WAITER
    # While the migrated guest still pings: where is its MAC now? (Ports:
    # 0 a-src, 1 a-dst, 2 b.)
    wait_event "$d/a-dst.log" ping-done 120 || true
    port=$(fdb_port "$d" $MAC_A)
    ra=0; rb=0; wait "$wa" || ra=$?; wait "$wb" || rb=$?
    WAITERS=""
    res_a=$(cat "$d/a-dst.result"); res_b=$(cat "$d/b.result")
    sw_stop
    echo "  [$name] VM A (destination): $res_a"
    echo "  [$name] VM B: $res_b"
    sed 's/^/  [switch] /' "$d/sw.out"
    [ $ra -eq 0 ] || { REASON="VM A: $res_a"; return 1; }
    [ $rb -eq 0 ] || { REASON="VM B: $res_b"; return 1; }
    boots=$(grep -ac '^VMTEST-EVENT: init ' "$d/a-dst.log" || true)
    [ "$boots" = 0 ] || { REASON="the guest booted again on the destination"; return 1; }
    [ "$(field "$res_b" rx_sha256)" = "$(field "$res_a" tx_sha256)" ] ||
        { REASON="sha256 out of the guest differs"; return 1; }
    [ "$(field "$res_a" rx_sha256)" = "$(field "$res_b" tx_sha256)" ] ||
        { REASON="sha256 into the guest differs"; return 1; }
    [ "$port" = 1 ] ||
        { REASON="the MAC table has $MAC_A on port '${port:-none}', not the destination (1)"; return 1; }
    rarp=""; grep -aq 'a-dst.sock: guest announcement (RARP) handed' "$d/sw.err" && rarp=" (RARP)"
    DETAIL="total ${total}ms downtime ${down}ms, RAM $cmp_out, pings $(field "$res_a" ping) gap $(field "$res_a" ping_gap_s)s, 2x${MIB}MiB sha256 ok, MAC on the destination port$rarp, time $(el "$t0")s"
}

# case_hotplug: a 128 MiB pc-dimm (memfd, shared) plugged into VM A while it
# talks to B; the back-end must map it (ADD_MEM_REG) and the guest's traffic
# through its buffers there must work.
case_hotplug() {
    name=hotplug; d=$WORK/$name; mkdir -p "$d"
    t0=$(ts)
    sw_start "$d" --socket "$d/a.sock" --socket "$d/b.sock" || return 1
    vm_start "$d" b "$d/b.sock" $MAC_B 10.0.0.2/24 client on 1 mig-peer.sh \
        --param peer=10.0.0.1 --param "mib=$MIB" || return 1
    vm_start "$d" a "$d/a.sock" $MAC_A 10.0.0.1/24 client on 0 mig-guest.sh \
        --param peer=10.0.0.2 --param "mib=$MIB" --param phase=5 --param hotplug=1 \
        --extra "-m slots=2,maxmem=1G -qmp unix:$d/a.qmp,server=on,wait=off" || return 1
    vm_wait_bg "$d" a; wa=$WAITER
    vm_wait_bg "$d" b; wb=$WAITER
    wait_event "$d/a.log" hotplug-ready 150 ||
        { REASON="guest A never reached its peer (see $d/a.log)"; return 1; }
    "$QMP" "$d/a.qmp" hmp "object_add memory-backend-memfd,id=mem1,size=128M,share=on" >"$d/hotplug.out" 2>&1
    "$QMP" "$d/a.qmp" hmp "device_add pc-dimm,id=dimm1,memdev=mem1" >>"$d/hotplug.out" 2>&1
    ra=0; rb=0; wait "$wa" || ra=$?; wait "$wb" || rb=$?
    WAITERS=""
    res_a=$(cat "$d/a.result"); res_b=$(cat "$d/b.result")
    sw_stop
    echo "  [$name] VM A: $res_a"
    echo "  [$name] VM B: $res_b"
    [ $ra -eq 0 ] || { REASON="VM A: $res_a ($(cat "$d/hotplug.out"))"; return 1; }
    [ $rb -eq 0 ] || { REASON="VM B: $res_b"; return 1; }
    # The new region: guest-physical at or above 4 GiB, 128 MiB.
    region=$(grep -a 'a.sock.*\|mapped guest memory' "$d/sw.err" |
             sed -n 's/.*mapped guest memory gpa \(0x1[0-9a-f]\{8\}\) size 0x8000000.*/\1/p' | head -n1)
    [ -n "$region" ] || { REASON="the back-end never mapped the plugged-in memory"; return 1; }
    [ "$(field "$res_b" rx_sha256)" = "$(field "$res_a" tx_sha256)" ] ||
        { REASON="sha256 out of the guest differs"; return 1; }
    [ "$(field "$res_a" rx_sha256)" = "$(field "$res_b" tx_sha256)" ] ||
        { REASON="sha256 into the guest differs"; return 1; }
    DETAIL="region at $region mapped, $(field "$res_a" mem_blocks_onlined) blocks onlined (zone Normal $(field "$res_a" normal_pages) pages), 2x${MIB}MiB sha256 ok, time $(el "$t0")s"
}

# case_announce: HMP announce_self on a guest with guest_announce=off makes
# QEMU send SEND_RARP; the RARP frame the switch gets moves the guest's MAC
# back to its port, from the port of a VM that had taken it. The guest's
# interface is down the whole time (it sends nothing), so the RARP is the
# only frame that can bring the MAC back.
case_announce() {
    name=announce; d=$WORK/$name; mkdir -p "$d"
    t0=$(ts)
    sw_start "$d" --socket "$d/a.sock" --socket "$d/b.sock" || return 1
    export VMTEST_NIC_OPTS=guest_announce=off
    vm_start "$d" a "$d/a.sock" $MAC_A 10.0.0.1/24 client on 0 idle.sh \
        --param idle=120 --param down=1 --extra "-qmp unix:$d/a.qmp,server=on,wait=off" || return 1
    unset VMTEST_NIC_OPTS
    wait_event "$d/a.log" silent 150 || { REASON="VM A never came up (see $d/a.log)"; return 1; }
    # B takes A's MAC (and another address), sends ARP broadcasts for an
    # address nobody has for 2 s: port 1 learns A's MAC. Then it is quiet.
    vm_start "$d" b "$d/b.sock" $MAC_B 10.0.0.2/24 client on 1 mac-steal.sh \
        --param peer=10.0.0.2 --param steal=$MAC_A --param window=2 \
        --param target=10.0.0.99 --param as_ip=10.0.0.77/24 --param linger=120 || return 1
    wait_event "$d/b.log" quiet 150 || { REASON="VM B never took A's MAC (see $d/b.log)"; return 1; }
    before=$(fdb_port "$d" $MAC_A)
    [ "$before" = 1 ] || { REASON="after the theft A's MAC is on port '${before:-none}', not 1"; return 1; }
    "$QMP" "$d/a.qmp" hmp announce_self >/dev/null
    for _ in $(seq 100); do
        grep -aq 'a.sock: guest announcement (RARP) handed' "$d/sw.err" && break
        sleep 0.1
    done
    grep -aq 'a.sock: SEND_RARP' "$d/sw.err" || { REASON="no SEND_RARP reached the switch"; return 1; }
    after=$(fdb_port "$d" $MAC_A)
    [ "$after" = 0 ] || { REASON="after announce_self A's MAC is on port '${after:-none}', not 0"; return 1; }
    n=$(grep -ac 'a.sock: SEND_RARP' "$d/sw.err")
    DETAIL="guest silent, $n SEND_RARP, its MAC moved from port 1 (thief) back to port 0 by the RARP, time $(el "$t0")s"
}

packed_negotiated() { # packed_negotiated CASE: RING_PACKED (bit 34) in the guest
    local f
    f=$(sed -n 's/.*features=\([01]*\).*/\1/p' "$WORK/$1/a-src.log" | head -n1 | cut -c35)
    [ "$f" = 1 ] || { REASON="the guest did not negotiate RING_PACKED"; return 1; }
    DETAIL="$DETAIL RING_PACKED=1"
}

run_case() {
    REASON=""; DETAIL=""
    case $1 in
    split-mrg-on) case_migrate split-mrg-on client on ok ;;
    split-mrg-off) case_migrate split-mrg-off server off ok ;;
    packed-mrg-on) case_migrate packed-mrg-on client on ok && packed_negotiated packed-mrg-on ;;
    no-log) case_migrate no-log client on nolog ;;
    cancel) case_migrate cancel client on cancel ;;
    hotplug) case_hotplug ;;
    announce) case_announce ;;
    *) REASON="unknown case"; false ;;
    esac
}

[ "$(id -u)" = 0 ] || { echo "FAIL test-migrate: needs root"; exit 1; }
timeout 900 "$HERE/build-guest.sh" "$GUEST" >&2 || { echo "FAIL build-guest"; exit 1; }
if [ -z "${VMTEST_SWITCH:-}" ]; then
    ninja -C "$ROOT/build" apps/vhost-switch/vhost-switch >&2 || { echo "FAIL build"; exit 1; }
fi
for c in $CASES; do
    rc=0; run_case "$c" || rc=$?
    for pf in $VMPIDS; do "$RUNVM" kill --pidfile "$pf" || true; done
    VMPIDS=""; sw_stop
    # A sanitizer report from the switch (ASan/UBSan builds) fails the case.
    if [ $rc -eq 0 ] && grep -aqE 'ERROR: AddressSanitizer|runtime error:|ERROR: LeakSanitizer' \
        "$WORK/$c/sw.err" 2>/dev/null; then
        rc=1; REASON="sanitizer report in $WORK/$c/sw.err"
    fi
    if [ $rc -eq 0 ]; then
        echo "PASS $c $DETAIL"; PASSED=$((PASSED + 1))
    else
        echo "FAIL $c ${REASON:-exit $rc}"; FAILED=$((FAILED + 1))
    fi
done
echo "test-migrate: $PASSED passed, $FAILED failed"
[ $FAILED -eq 0 ]
