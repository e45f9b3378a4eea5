# Guest test script (run by the vmtest /init, see ../build-guest.sh).
# Receiver of the multiqueue case (two queue pairs, two vCPUs):
#   phase 1: two TCP streams at once, on $PORT and $PORT+2;
#   phase 2: the guest drops to one queue pair (ethtool -L combined 1),
#            then one stream on $PORT+4;
#   phase 3: back to two pairs (combined 2), two streams on $PORT+6, +8.
# Each stream's "bytes sha256" is handed back on its port+1. The guest's
# own per-queue counters (ethtool -S) after phase 1 and at the end are
# reported (rxq0_p1 rxq1_p1 rxq0 rxq1).
# Params: vmtest.port=N (5001), vmtest.bytes=N expected size per stream.
set -eu
PORT=${VMTEST_PORT:-5001}
IF=${VMTEST_IF:?no NIC}
rxq() { ethtool -S "$IF" | sed -n "s/^ *rx_queue_$1_packets: *//p"; }
combined() {
    ethtool -L "$IF" combined "$1" || fail "ethtool -L $IF combined $1"
    now=$(ethtool -l "$IF" | awk '/Current/ { c = 1 } c && /Combined:/ { print $2; exit }')
    [ "$now" = "$1" ] || fail "combined is $now after ethtool -L combined $1"
    event "combined-$1"
}
# serve P : one stream on P into /tmp/rx.P, then "bytes sha256" on P+1.
serve() {
    mkfifo "/tmp/hold.$1"
    nc -l -p "$1" <>"/tmp/hold.$1" >"/tmp/rx.$1" || { echo "nc -l $1 exited" >"/tmp/err.$1"; return 1; }
    b=$(wc -c <"/tmp/rx.$1"); s=$(sha256sum "/tmp/rx.$1" | cut -d' ' -f1)
    rm -f "/tmp/rx.$1"
    echo "vmtest: port $1 received $b bytes sha256=$s"
    if [ -n "${VMTEST_BYTES:-}" ] && [ "$b" != "$VMTEST_BYTES" ]; then
        echo "port $1: $b bytes, expected $VMTEST_BYTES" >"/tmp/err.$1"
    fi
    echo "$b $s" | nc -l -p $(($1 + 1)) >/dev/null
}
# phase P... : serve every port at once, fail if any did.
phase() {
    pids=""
    for p in "$@"; do serve "$p" & pids="$pids $!"; done
    event "listen-$1"
    for p in $pids; do wait "$p" || true; done
    for p in "$@"; do [ -s "/tmp/err.$p" ] && fail "$(cat "/tmp/err.$p")"; done
    return 0
}
echo "vmtest: $(ethtool -l "$IF" | tr -s ' \n\t' ' ')"
phase "$PORT" $((PORT + 2))
q0=$(rxq 0); q1=$(rxq 1)
echo "vmtest: after phase 1: rx_queue_0_packets=$q0 rx_queue_1_packets=$q1"
info "rxq0_p1=$q0" "rxq1_p1=$q1"
event phase1-done
combined 1
phase $((PORT + 4))
event phase2-done
combined 2
phase $((PORT + 6)) $((PORT + 8))
event phase3-done
info "rxq0=$(rxq 0)" "rxq1=$(rxq 1)"
event finished
