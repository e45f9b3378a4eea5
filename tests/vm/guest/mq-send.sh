# Guest test script (run by the vmtest /init, see ../build-guest.sh).
# Sender of the multiqueue case (mq-recv.sh is the receiver): pings, then
#   phase 1: two streams at once, from source ports $SPORTS[0,1] to
#            $PORT, $PORT+2;
#   phase 2: drops to one queue pair itself (ethtool -L combined 1), pings,
#            one stream from $SPORTS[2] to $PORT+4;
#   phase 3: back to two pairs, two streams from $SPORTS[3,4] to $PORT+6,
#            $PORT+8.
# The host picks the source ports (vmtest.sports=A,B,C,D,E) so that the
# flows land on chosen receive queues of the peer. busybox nc ignores -p when
# it connects: the port is forced by narrowing ip_local_port_range to it,
# one connection at a time (the next starts once the first is established). Every stream is
# $VMTEST_MIB MiB, checked by the sha256 the receiver hands back.
# Params: vmtest.peer=IP, vmtest.sports=A,B,C,D,E, vmtest.mib=N (4),
#         vmtest.pings=N (10), vmtest.port=N (5001).
set -eu
PEER=${VMTEST_PEER:?vmtest.peer missing}
PINGS=${VMTEST_PINGS:-10}
MIB=${VMTEST_MIB:-4}
PORT=${VMTEST_PORT:-5001}
IF=${VMTEST_IF:?no NIC}
set -- $(echo "${VMTEST_SPORTS:?vmtest.sports missing}" | tr ',' ' ')
[ $# -eq 5 ] || fail "vmtest.sports wants 5 ports"
S0=$1; S1=$2; S2=$3; S3=$4; S4=$5

dd if=/dev/urandom of=/tmp/tx.bin bs=1048576 count="$MIB" 2>/dev/null || fail "dd urandom"
tx_sha=$(sha256sum /tmp/tx.bin | cut -d' ' -f1)
tx_bytes=$(wc -c </tmp/tx.bin)
event payload-ready

pings() { # pings N : all must be answered
    ping -c "$1" -i 0.2 -W 3 "$PEER" >/tmp/ping.txt 2>&1 || true
    cat /tmp/ping.txt
    r=$(sed -n 's/.* \([0-9]*\) packets received.*/\1/p' /tmp/ping.txt)
    [ "${r:-0}" = "$1" ] || fail "$2: ping ${r:-0}/$1 answered"
}
RANGE=/proc/sys/net/ipv4/ip_local_port_range
ORIG_RANGE=$(cat "$RANGE")
# connected SPORT DPORT : an established connection from SPORT to DPORT.
connected() {
    awk -v l="$(printf ':%04X' "$1")" -v r="$(printf ':%04X' "$2")" \
        '$4 == "01" && substr($2, length($2) - 4) == l && substr($3, length($3) - 4) == r { f = 1 }
         END { exit !f }' /proc/net/tcp
}
# send SPORT DPORT : one stream from SPORT (retried until the peer listens),
# then its sum from DPORT+1, compared; failures go to /tmp/err.DPORT.
send() {
    i=0
    until echo "$1 $1" >"$RANGE" && nc "$PEER" "$2" </tmp/tx.bin; do
        i=$((i + 1)); [ $i -ge 60 ] && { echo "nc to $2 failed" >"/tmp/err.$2"; return 1; }
        sleep 1
    done
    mkfifo "/tmp/hold.$2"; i=0; reply=""
    while :; do
        reply=$(nc "$PEER" $(($2 + 1)) <>"/tmp/hold.$2" 2>/dev/null || true)
        [ -n "$reply" ] && break
        i=$((i + 1)); [ $i -ge 60 ] && { echo "no sum from $2" >"/tmp/err.$2"; return 1; }
        sleep 1
    done
    set -- "$1" "$2" $reply
    echo "vmtest: stream $1 -> $2: peer got $3 bytes sha256=$4"
    [ "$3" = "$tx_bytes" ] && [ "$4" = "$tx_sha" ] ||
        echo "stream to $2: peer got $3 bytes sha256 $4, sent $tx_bytes $tx_sha" >"/tmp/err.$2"
}
# streams SPORT DPORT [SPORT DPORT] : at once; fail if any failed.
streams() {
    pids=""; ports=""
    while [ $# -ge 2 ]; do
        send "$1" "$2" & pid=$!; pids="$pids $pid"; ports="$ports $2"
        # Its port is taken before the next narrows the range.
        until connected "$1" "$2" || ! kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
        shift 2
    done
    for p in $pids; do wait "$p" || true; done
    echo "$ORIG_RANGE" >"$RANGE"
    for p in $ports; do [ -s "/tmp/err.$p" ] && fail "$(cat "/tmp/err.$p")"; done
    return 0
}
combined() {
    ethtool -L "$IF" combined "$1" || fail "ethtool -L $IF combined $1"
    event "combined-$1"
}

i=0
until ping -c 1 -W 1 "$PEER" >/dev/null 2>&1; do
    i=$((i + 1)); [ $i -ge 90 ] && fail "peer $PEER never answered"
done
event peer-up
pings "$PINGS" "phase 1"
t0=$(cut -d' ' -f1 /proc/uptime)
streams "$S0" "$PORT" "$S1" $((PORT + 2))
event phase1-done
combined 1
pings 5 "phase 2"
streams "$S2" $((PORT + 4))
event phase2-done
combined 2
pings 5 "phase 3"
streams "$S3" $((PORT + 6)) "$S4" $((PORT + 8))
t1=$(cut -d' ' -f1 /proc/uptime)
event phase3-done
info "ping=$PINGS/$PINGS" "streams=5x${MIB}MiB" "secs=$(awk -v a="$t0" -v z="$t1" 'BEGIN { printf "%.1f", z - a }')" "tx_sha256=$tx_sha"
event finished
