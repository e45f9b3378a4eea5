#!/usr/bin/env bash
# tests/ops/test-metrics.sh [--build DIR] -- vhost-switch's Prometheus
# metrics with real traffic: two DPDK testpmd virtio-user ports (one
# txonly, one rxonly) on a switch with --metrics-textfile and
# --metrics-listen; both outputs parsed by prometheus_client, counters
# rise and never fall, histograms are cumulative with _count == packets,
# other paths get 404; systemd's READY=1 before traffic and STOPPING=1 at
# exit on a NOTIFY_SOCKET of ours; the textfile is written a last time at
# exit. Waits on conditions, never fixed sleeps.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=$ROOT/build
while (($#)); do
    case $1 in
        --build) BUILD=$(cd "$2" && pwd); shift 2 ;;
        *) echo "usage: $0 [--build DIR]" >&2; exit 2 ;;
    esac
done
SWITCH=$BUILD/apps/vhost-switch/vhost-switch
PY=/usr/bin/python3   # Debian's, where python3-prometheus-client lives
CHECK="$PY $ROOT/tests/ops/metrics_check.py"
FAILS=0
ok() { echo "PASS $*"; }
bad() { echo "FAIL $*"; FAILS=$((FAILS + 1)); }
check() { local what=$1; shift; if "$@"; then ok "$what"; else bad "$what"; fi; }
# shellcheck source=../peer/lib/testpmd.sh
. "$ROOT/tests/peer/lib/testpmd.sh"
TP_NO_TRAP=1 tp_init "$(mktemp -d /tmp/test-metrics.XXXXXX)"
D=$TP_DIR
SW_PID="" NOTIFY_PID=""
cleanup() {
    tp_cleanup_all
    [[ -n $SW_PID ]] && kill -KILL "$SW_PID" 2>/dev/null
    [[ -n $NOTIFY_PID ]] && kill "$NOTIFY_PID" 2>/dev/null
    wait 2>/dev/null
    rm -rf "$D"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
# wait_for SECONDS CMD... : until CMD succeeds (polling every 0.1 s)
wait_for() {
    local end=$(($(date +%s) + $1)); shift
    until "$@"; do (($(date +%s) < end)) || return 1; sleep 0.1; done
}
scrape() { # scrape PATH OUT : HTTP GET, status code to stdout
    $PY - "$PORT" "$1" "$2" <<'PYEOF'
import sys, urllib.request, urllib.error
try:
    with urllib.request.urlopen("http://127.0.0.1:%s%s" % (sys.argv[1], sys.argv[2]), timeout=10) as r:
        open(sys.argv[3], "wb").write(r.read())
        print(r.status, r.headers.get("Content-Type"))
except urllib.error.HTTPError as e:
    print(e.code)
except Exception as e:
    print("error", e)
PYEOF
}
value() { $CHECK value "$@" 2>/dev/null || echo -1; }
rx_a_above() { # the textfile shows more than $1 packets from port a
    [[ -s $D/m.prom ]] && (($(value "$D/m.prom" vhost_switch_port_packets_total port=0 direction=rx) > $1))
}

[[ -x $SWITCH ]] || { bad "metrics: $SWITCH not built"; echo "test-metrics: 1 failed"; exit 1; }
PORT=$($PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

# Our NOTIFY_SOCKET: every datagram, one line each, until STOPPING=1.
$PY - "$D/notify.sock" "$D/notify.log" <<'PYEOF' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(600)
with open(sys.argv[2], "a", buffering=1) as log:
    while True:
        msg = s.recv(4096).decode()
        log.write(msg.replace("\n", " ") + "\n")
        if "STOPPING=1" in msg:
            break
PYEOF
NOTIFY_PID=$!
wait_for 20 test -S "$D/notify.sock" || bad "metrics: notify listener did not start"

NOTIFY_SOCKET=$D/notify.sock taskset -c 1 "$SWITCH" --socket "$D/a.sock" --socket "$D/b.sock" \
    --queues 1 --cpu 1 --metrics-textfile "$D/m.prom" --metrics-interval 0.3 \
    --metrics-listen "127.0.0.1:$PORT" >"$D/switch.out" 2>"$D/switch.err" &
SW_PID=$!
check "metrics: READY=1 from the switch" wait_for 60 grep -q 'READY=1' "$D/notify.log"
check "metrics: textfile written" wait_for 30 test -s "$D/m.prom"
check "metrics: no PATH.tmp left beside the textfile" bash -c "! ls '$D'/m.prom.tmp 2>/dev/null | grep -q ."

tp_start b --lcores 0,1 --main-lcore 1 --timeout 300 --vdev "net_virtio_user0,path=$D/b.sock,queues=1" \
    -- --nb-cores=1 --forward-mode=rxonly || bad "metrics: testpmd b did not start"
tp_start a --lcores 0,1 --main-lcore 1 --timeout 300 --vdev "net_virtio_user0,path=$D/a.sock,queues=1" \
    -- --nb-cores=1 --forward-mode=txonly --txpkts=64 || bad "metrics: testpmd a did not start"
tp_cmd_wait b start 'testpmd> ' 15 >/dev/null
tp_cmd_wait a start 'testpmd> ' 15 >/dev/null

check "metrics: packets counted in the textfile" wait_for 120 rx_a_above 1000
cp "$D/m.prom" "$D/first.prom"
first=$(value "$D/first.prom" vhost_switch_port_packets_total port=0 direction=rx)
check "metrics: counters rise" wait_for 120 rx_a_above "$first"
cp "$D/m.prom" "$D/second.prom"
if $CHECK parse "$D/second.prom" >"$D/families" 2>&1; then
    ok "metrics: textfile parses ($(wc -l <"$D/families") families)"
else bad "metrics: textfile does not parse:"; sed 's/^/    /' "$D/families"; fi
check "metrics: no counter fell" $CHECK monotonic "$D/first.prom" "$D/second.prom"
for fam in vhost_switch_port_packets vhost_switch_port_bytes vhost_switch_port_drops \
    vhost_switch_queue_packets vhost_switch_queue_bytes vhost_switch_queue_drops \
    vhost_switch_queue_guest_notifications vhost_switch_packet_size_bytes \
    vhost_switch_port_connects vhost_switch_worker_passes \
    vhost_switch_worker_busy_passes vhost_switch_worker_packets vhost_switch_mac_table_entries; do
    grep -q "^$fam " "$D/families" || bad "metrics: family $fam missing"
done
check "metrics: both ports connected once" test "$(value "$D/second.prom" vhost_switch_port_connects_total)" = 2
check "metrics: port b sent what a received (flooded)" \
    test "$(value "$D/second.prom" vhost_switch_port_packets_total port=1 direction=tx)" -gt 0
# The switch stopped counting while we read? No: the file is one render.
check "metrics: size histograms cumulative, _count == the queue's packets" \
    $CHECK histogram "$D/second.prom" vhost_switch_packet_size_bytes vhost_switch_queue_packets_total
check "metrics: guest notifications family has samples" \
    test "$(value "$D/second.prom" vhost_switch_queue_guest_notifications_total)" -ge 0

code=$(scrape /metrics "$D/http.prom")
check "metrics: GET /metrics 200 text/plain 0.0.4 ($code)" test "$code" = "200 text/plain; version=0.0.4; charset=utf-8"
check "metrics: HTTP body parses" bash -c "$CHECK parse $D/http.prom >/dev/null"
check "metrics: HTTP counters not behind the textfile" $CHECK monotonic "$D/second.prom" "$D/http.prom"
code=$(scrape /other "$D/other")
check "metrics: GET /other 404 ($code)" test "${code%% *}" = 404

tp_fwd_stop a >/dev/null
tp_fwd_stop b >/dev/null
tp_stop a; tp_stop b
before=$(value "$D/m.prom" vhost_switch_port_packets_total port=0 direction=rx)
kill -TERM "$SW_PID"
wait "$SW_PID"; rc=$?
SW_PID=""
check "metrics: switch exits 0 (ASan/UBSan clean) ($rc)" test "$rc" = 0
check "metrics: STOPPING=1 after READY=1" \
    awk '/READY=1/ { r = NR } /STOPPING=1/ { s = NR } END { exit !(r && s > r) }' "$D/notify.log"
check "metrics: final textfile at exit has every packet" \
    test "$(value "$D/m.prom" vhost_switch_port_packets_total port=0 direction=rx)" -ge "$before"
grep -E 'ERROR|Sanitizer|runtime error' "$D/switch.err" | head -5

echo "test-metrics: $FAILS failed"
((FAILS == 0))
