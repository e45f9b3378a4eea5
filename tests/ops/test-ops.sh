#!/usr/bin/env bash
# tests/ops/test-ops.sh [--build DIR]
#
# The control socket of a running vhost-switch, from the outside: two DPDK
# 22.11 testpmd virtio-user ports exchange traffic through the switch
# (testpmd A txonly on port 0, testpmd B rxonly on port 1), then:
#   telemetry   Debian's dpdk-telemetry.py -f PREFIX (commands on stdin):
#               /ethdev/list has both ports, /ethdev/stats,0 ipackets > 0 and
#               growing, /ethdev/stats,1 opackets > 0, /ethdev/xstats,0 has
#               the vhost PMD's keys, /ethdev/link_status,N is UP
#   malformed   tests/ops/ctl_client.py: oversized, garbage, empty and
#               bad-parameter requests get null; the server goes on
#   hammer      50 concurrent clients ask /ethdev/stats,0 for 5 s while the
#               traffic runs (past the 16-client limit they are closed and
#               retry); the switch stays up and its counters keep growing
#   reconnect   testpmd A goes and comes back: port 0's link goes DOWN then
#               UP, and its totals (ipackets, rx_q0_good_packets) never go
#               back, then grow again
#   exit        SIGINT: the switch exits 0 (with ASan: no leak, no error)
#               and removes its socket file
# Prints "PASS name" / "FAIL name reason" and "ops: N passed, N failed".
# Pinning: testpmd forwards on core 0, the switch's worker on core 1.
# Every wait is on a condition with a deadline (x2 for a sanitizer build);
# everything started is stopped by PID on exit.
# Helpers run through tp_wait_until and traps look unreachable to shellcheck:
# shellcheck disable=SC2317
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BUILD=$ROOT/build
while (($#)); do
    case $1 in
        --build) BUILD=$2; shift 2 ;;
        *) echo "usage: $0 [--build DIR]"; exit 2 ;;
    esac
done
SW=$BUILD/apps/vhost-switch/vhost-switch
TELE=$(command -v dpdk-telemetry.py || echo /usr/bin/dpdk-telemetry.py)
PASS=0
FAIL=0
result() { # result NAME OK [WHY]
    if (($2)); then echo "PASS $1"; PASS=$((PASS + 1));
    else echo "FAIL $1 ${3:-}"; FAIL=$((FAIL + 1)); fi
}
finish() { echo "ops: $PASS passed, $FAIL failed"; exit $((FAIL > 0)); }
[[ -x $SW ]] || { result ops 0 "$SW not built"; finish; }
[[ -x $TELE ]] || { result ops 0 "dpdk-telemetry.py not found (Debian package dpdk)"; finish; }

# shellcheck source-path=SCRIPTDIR source=../peer/lib/testpmd.sh
. "$ROOT/tests/peer/lib/testpmd.sh"
TP_NO_TRAP=1
tp_init "$(mktemp -d /tmp/ops.XXXXXX)"
grep -qaE '__(a|t|ub)san_init' "$SW" && TP_SLOW=2 || TP_SLOW=1
PREFIX=ops$$
RUNDIR=/var/run/dpdk
((EUID == 0)) || RUNDIR=${XDG_RUNTIME_DIR:-/tmp}/dpdk
CTL=$RUNDIR/$PREFIX/dpdk_telemetry.v2
SW_PID=""
cleanup() {
    tp_cleanup_all 1
    [[ -n $SW_PID ]] && kill -KILL -- "-$SW_PID" 2>/dev/null
    rm -rf "${RUNDIR:?}/$PREFIX"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The switch, in its own process group (timeout leads it), worker on core 1.
timeout -k 2 "$(tp_life 300)" "$SW" --socket "$TP_DIR/a.sock" \
    --socket "$TP_DIR/b.sock" --queues 1 --cpu 1 --file-prefix "$PREFIX" \
    >"$TP_DIR/sw.out" 2>"$TP_DIR/sw.err" &
SW_PID=$!
sw_alive() { kill -0 "$SW_PID" 2>/dev/null; }
ready() { [[ -S $CTL && -S $TP_DIR/a.sock && -S $TP_DIR/b.sock ]]; }
if ! tp_wait_until 20 "the switch's sockets" ready; then
    result ops 0 "the switch did not come up: $(tail -3 "$TP_DIR/sw.err")"; finish
fi

vdev() { echo "net_virtio_user0,path=$1,queues=1"; }
if ! tp_start b --lcores 0,1 --main-lcore 1 --timeout 300 \
        --vdev "$(vdev "$TP_DIR/b.sock")" -- --nb-cores=1 ||
    ! tp_wait_link b 10 || ! tp_cmd b "set fwd rxonly" || ! tp_cmd b "start" ||
    ! tp_start a --lcores 0,1 --main-lcore 1 --timeout 300 \
        --vdev "$(vdev "$TP_DIR/a.sock")" -- --nb-cores=1 ||
    ! tp_wait_link a 10 || ! tp_cmd a "set fwd txonly" || ! tp_cmd a "start"; then
    result ops 0 "testpmd did not come up"; finish
fi

# tele COMMAND... : one dpdk-telemetry.py session, one reply line each.
tele() { printf '%s\n' "$@" | timeout "$(tp_secs 20)" "$TELE" -f "$PREFIX" 2>&1; }
# jq_py EXPR : evaluate EXPR on the JSON lines on stdin (r[i] is line i).
jq_py() {
    python3 -c '
import json, sys
r = [json.loads(l) for l in sys.stdin if l.strip().startswith("{")]
v = eval(sys.argv[1])
print(v if not isinstance(v, bool) else int(v))' "$1" 2>/dev/null
}
ipackets() { tele "/ethdev/stats,$1" | jq_py "r[0]['/ethdev/stats']['$2']"; }
# grows PORT KEY FROM : true once PORT's KEY is above FROM.
grows() { local v; v=$(ipackets "$1" "$2"); [[ $v =~ ^[0-9]+$ ]] && ((v > $3)); }

# --- telemetry: dpdk-telemetry.py
# testpmd reads "start" from its FIFO in its own time: wait for traffic.
tp_wait_until 30 "traffic into port 0" grows 0 ipackets 0
out=$(tele /ethdev/list /ethdev/stats,0 /ethdev/xstats,0 /ethdev/link_status,0 \
    /ethdev/link_status,1 /ethdev/info,1 /info)
echo "$out" >"$TP_DIR/tele.out"
ok=1 why=""
[[ $(jq_py "r[0]['/ethdev/list'] == [0, 1]" <<<"$out") == 1 ]] || { ok=0; why+="list; "; }
[[ $(jq_py "r[3]['/ethdev/link_status']['status'] + r[4]['/ethdev/link_status']['status']" <<<"$out") == UPUP ]] ||
    { ok=0; why+="link_status; "; }
for k in rx_good_packets rx_q0_good_packets rx_q0_size_64_packets rx_q0_guest_notifications \
    tx_q0_good_packets tx_q0_guest_notifications rx_q0_drop_no_pktbuf; do
    [[ $(jq_py "'$k' in r[2]['/ethdev/xstats']" <<<"$out") == 1 ]] || { ok=0; why+="xstats $k; "; }
done
[[ $(jq_py "r[5]['/ethdev/info']['driver_name'] == 'vhost_user' and r[6]['/info']['max_output_len'] == 65536" <<<"$out") == 1 ]] ||
    { ok=0; why+="info; "; }
first=$(jq_py "r[1]['/ethdev/stats']['ipackets']" <<<"$out")
[[ $first =~ ^[0-9]+$ ]] && ((first > 0)) || { ok=0; why+="ipackets $first; "; first=0; }
tp_wait_until 20 "port 0 ipackets above $first" grows 0 ipackets "$first" || { ok=0; why+="ipackets not growing; "; }
tp_wait_until 20 "port 1 opackets" grows 1 opackets 0 || { ok=0; why+="port 1 opackets 0; "; }
result telemetry "$ok" "$why(see $TP_DIR/tele.out)"

# --- malformed requests
if r=$(timeout "$(tp_secs 60)" python3 "$HERE/ctl_client.py" "$CTL" malformed 2>&1); then
    echo "  $r"; result malformed 1
else
    result malformed 0 "$r"
fi

# --- 50 clients while the traffic runs
before=$(ipackets 0 ipackets)
if r=$(timeout "$(tp_secs 120)" python3 "$HERE/ctl_client.py" "$CTL" hammer 50 5 2>&1); then
    echo "  $r"; ok=1 why=""
else
    ok=0 why="$r; "
fi
sw_alive || { ok=0; why+="the switch died; "; }
[[ $before =~ ^[0-9]+$ ]] || before=0
tp_wait_until 20 "port 0 ipackets above $before after the clients" grows 0 ipackets "$before" ||
    { ok=0; why+="counters stopped; "; }
result hammer "$ok" "$why"

# --- reconnect: the totals outlive the guest's connection
xstat() { tele "/ethdev/xstats,0" | jq_py "r[0]['/ethdev/xstats']['$1']"; }
link0() { tele "/ethdev/link_status,0" | jq_py "r[0]['/ethdev/link_status']['status']"; }
link_is() { [[ $(link0) == "$1" ]]; }
ok=1 why=""
tp_stop a
tp_wait_until 20 "port 0 DOWN" link_is DOWN || { ok=0; why+="link not DOWN; "; }
ip0=$(ipackets 0 ipackets) q0=$(xstat rx_q0_good_packets)
[[ $ip0 =~ ^[0-9]+$ && $q0 =~ ^[0-9]+$ ]] && ((ip0 > 0 && q0 > 0)) ||
    { ok=0; why+="totals gone after the disconnect ($ip0, $q0); "; ip0=0 q0=0; }
if tp_start a --lcores 0,1 --main-lcore 1 --timeout 300 \
        --vdev "$(vdev "$TP_DIR/a.sock")" -- --nb-cores=1 &&
    tp_wait_link a 10 && tp_cmd a "set fwd txonly" && tp_cmd a "start"; then
    tp_wait_until 20 "port 0 UP" link_is UP || { ok=0; why+="link not UP; "; }
    tp_wait_until 20 "port 0 ipackets above $ip0" grows 0 ipackets "$ip0" ||
        { ok=0; why+="ipackets went back or stopped; "; }
    q0_grows() { local v; v=$(xstat rx_q0_good_packets); [[ $v =~ ^[0-9]+$ ]] && ((v > q0)); }
    tp_wait_until 20 "rx_q0_good_packets above $q0" q0_grows ||
        { ok=0; why+="rx_q0_good_packets went back or stopped; "; }
else
    ok=0 why+="testpmd A did not come back; "
fi
result reconnect "$ok" "$why"

# --- exit: stop the traffic, then the switch
tp_stop a
tp_stop b
kill -INT "$(pgrep -P "$SW_PID" | head -1)" 2>/dev/null
sw_gone() { ! sw_alive; }
ok=1 why=""
if ! tp_wait_until 30 "the switch to exit" sw_gone; then
    ok=0 why="did not exit; "
    kill -KILL -- "-$SW_PID" 2>/dev/null
fi
wait "$SW_PID"
rc=$?
SW_PID=""
((rc == 0)) || { ok=0; why+="exit status $rc: $(grep -m3 -E 'ERROR|Sanitizer|leak' "$TP_DIR/sw.err"); "; }
[[ -e $CTL ]] && { ok=0; why+="socket file left; "; }
result exit "$ok" "$why"
finish
