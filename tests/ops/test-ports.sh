#!/usr/bin/env bash
# tests/ops/test-ports.sh [--build DIR]
#
# vhost-switch ports at run time over its control socket (telemetry v2,
# tests/ops/ctl.py), with DPDK 22.11 dpdk-testpmd virtio-user ports as VMs:
#   A (txonly, frames to a MAC nobody has: flooded) and B (rxonly) on ports
#   given at start; port C added with /vhost-switch/port_add and a third
#   testpmd (rxonly) attached to it: C receives A's frames; B deleted with
#   /vhost-switch/port_del while A sends: C keeps receiving, B's socket file
#   is gone, the ports list has A and C; B added again at the same path gets
#   the same id with its counters at zero; errors (duplicate, path not a
#   socket, unknown port) are error replies and the switch keeps running;
#   it exits cleanly (status 0, no sanitizer report).
# Prints "PASS ports-<step>" / "FAIL ports-<step> reason" and
# "ports: N passed, N failed". Pinning: the switch's worker on core 1, each
# testpmd forwards on core 0. Everything started is stopped by PID on exit.
# No fixed sleeps: every step waits on a condition with a deadline.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BUILD=$ROOT/build
while (($#)); do
    case $1 in
        --build) BUILD=$2; shift 2 ;;
        *) echo "usage: $0 [--build DIR]" >&2; exit 2 ;;
    esac
done
SW=$BUILD/apps/vhost-switch/vhost-switch
CTL="python3 $HERE/ctl.py"
PASS=0 FAIL=0
pass() { echo "PASS ports-$1"; PASS=$((PASS + 1)); }
fail() { echo "FAIL ports-$1 ${2:-}"; FAIL=$((FAIL + 1)); }
finish() { echo "ports: $PASS passed, $FAIL failed"; exit $((FAIL ? 1 : 0)); }
[[ -x $SW ]] || { fail build "$SW not built"; finish; }

# shellcheck source=../peer/lib/testpmd.sh
. "$ROOT/tests/peer/lib/testpmd.sh"
TP_NO_TRAP=1
# Deadlines scale with the load (1-minute average per CPU, 1 to 4), as the
# peer tests do; OPS_SLOW=N forces the factor.
load=$(awk -v n="$(nproc)" '{ f = int($1 / n + 0.999); print (f < 1 ? 1 : (f > 4 ? 4 : f)) }' /proc/loadavg)
TP_SLOW=${OPS_SLOW:-$load}
D=$(mktemp -d /tmp/ops-ports.XXXXXX)
tp_init "$D"
SW_PID=
cleanup() {
    tp_cleanup_all 1
    if [[ -n $SW_PID ]] && kill -0 "$SW_PID" 2>/dev/null; then
        kill -TERM "$SW_PID"
        tp_wait_until 10 "vhost-switch to stop" bash -c "! kill -0 $SW_PID 2>/dev/null" ||
            kill -KILL "$SW_PID"
    fi
    rm -rf "$D"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ctl() { $CTL "$D/ctl.sock" "$1"; }
# The value of KEY of the port named NAME in /vhost-switch/ports.
port_field() {
    ctl /vhost-switch/ports | python3 -c '
import json, sys
for p in json.load(sys.stdin):
    if p["name"] == sys.argv[1]:
        print(p[sys.argv[2]]); break
else:
    print("none")' "$1" "$2"
}
ge() { local v; v=$(port_field "$1" "$2"); [[ $v != none ]] && ((v >= $3)); }

timeout -k 3 600 taskset -c 1 "$SW" --socket "$D/a.sock" --socket "$D/b.sock" \
    --queues 1 --workers 1 --cpu 1 --ctl "$D/ctl.sock" >"$D/switch.log" 2>&1 &
SW_PID=$!
tp_wait_until 20 "the switch's sockets" test -S "$D/ctl.sock" -a -S "$D/b.sock" ||
    { fail start "no sockets: $(tail -3 "$D/switch.log")"; finish; }

vu() { echo "net_virtio_user0,path=$1,queues=1,queue_size=256"; }
tp_start a --main-lcore 1 --timeout 300 --vdev "$(vu "$D/a.sock")" -- \
    --nb-cores=1 --forward-mode=txonly --txpkts=64 --total-num-mbufs=8192 --eth-peer=0,02:00:00:00:ee:ee &&
tp_start b --main-lcore 1 --timeout 300 --vdev "$(vu "$D/b.sock")" -- \
    --nb-cores=1 --forward-mode=rxonly --total-num-mbufs=8192 &&
tp_wait_link a 20 && tp_wait_link b 20 &&
tp_cmd_wait b start 'testpmd> ' && tp_cmd_wait a start 'testpmd> ' ||
    { fail start "testpmd A/B"; finish; }
if tp_wait_until 30 "B to receive" ge "$D/b.sock" tx_packets 1000; then
    pass a-to-b
else
    fail a-to-b "$(ctl /vhost-switch/ports)"
fi

# C at run time, a third testpmd on it.
r=$(ctl "/vhost-switch/port_add,$D/c.sock")
[[ $r == *'"id": 2'* ]] && pass add || fail add "$r"
tp_start c --main-lcore 1 --timeout 300 --vdev "$(vu "$D/c.sock")" -- \
    --nb-cores=1 --forward-mode=rxonly --total-num-mbufs=8192 && tp_wait_link c 20 &&
    tp_cmd_wait c start 'testpmd> ' || fail add "testpmd C"
if tp_wait_until 30 "C to receive" ge "$D/c.sock" tx_packets 1000; then
    pass a-to-c
else
    fail a-to-c "$(ctl /vhost-switch/ports)"
fi

# B goes while A sends; C keeps receiving.
r=$(ctl "/vhost-switch/port_del,$D/b.sock")
[[ $r == *'"id": 1'* ]] && pass del || fail del "$r"
[[ ! -e $D/b.sock ]] || fail del "b.sock still there"
c0=$(port_field "$D/c.sock" tx_packets)
if tp_wait_until 30 "C to receive after the delete" ge "$D/c.sock" tx_packets $((c0 + 1000)); then
    pass c-after-del
else
    fail c-after-del "$(ctl /vhost-switch/ports)"
fi
[[ $(port_field "$D/b.sock" id) == none ]] && pass b-gone || fail b-gone "$(ctl /vhost-switch/ports)"
tp_stop b

# B again at the same path: same id, counters from zero.
r=$(ctl "/vhost-switch/port_add,$D/b.sock")
[[ $r == *'"id": 1'* ]] && [[ $(port_field "$D/b.sock" tx_packets) == 0 ]] &&
    pass readd || fail readd "$r"

# Errors: replies, and the switch keeps forwarding.
ok=1
r=$(ctl "/vhost-switch/port_add,$D/c.sock") && ok=0
[[ $r == *'"error"'* ]] || ok=0
: >"$D/plain"
r=$(ctl "/vhost-switch/port_add,$D/plain") && ok=0
[[ $r == *"not a socket"* && -f $D/plain ]] || ok=0
r=$(ctl "/vhost-switch/port_del,nosuch") && ok=0
[[ $r == *'"error"'* ]] || ok=0
r=$(ctl "/vhost-switch/port_add,$D/x.sock,bogus") && ok=0
[[ $r == *"unknown port option"* ]] || ok=0
c0=$(port_field "$D/c.sock" tx_packets)
tp_wait_until 30 "C to receive after the errors" ge "$D/c.sock" tx_packets $((c0 + 1000)) || ok=0
((ok)) && pass errors || fail errors "last reply: $r"

kill -0 "$SW_PID" 2>/dev/null && pass alive || fail alive "$(tail -5 "$D/switch.log")"

# A clean exit: status 0, no sanitizer report (an ASan build leaks nothing).
tp_cleanup_all 1
kill -TERM "$SW_PID" 2>/dev/null
wait "$SW_PID"
rc=$?
SW_PID=
if ((rc == 0)) && ! grep -qE 'ERROR: AddressSanitizer|runtime error|ThreadSanitizer' "$D/switch.log"; then
    pass exit
else
    fail exit "status $rc: $(grep -m3 -E 'Sanitizer|runtime error' "$D/switch.log")"
fi
finish
