# Guest test script (run by the vmtest /init, see ../build-guest.sh).
# Sender side: waits for the peer to answer, sends $VMTEST_PINGS pings (all
# must be answered), then streams $VMTEST_MIB MiB of random data with
# busybox nc to $VMTEST_PEER:$VMTEST_PORT and compares its sha256 with the
# one the receiver (bulk-recv.sh) sends back on port+1.
# Params: vmtest.peer=IP (required), vmtest.pings=N (10), vmtest.mib=N (20),
#         vmtest.port=N (5001).
set -eu
PEER=${VMTEST_PEER:?vmtest.peer missing}
PINGS=${VMTEST_PINGS:-10}
MIB=${VMTEST_MIB:-20}
PORT=${VMTEST_PORT:-5001}
now() { cut -d' ' -f1 /proc/uptime; }

# Make the payload first: it costs TCG time, and the peer may still boot.
dd if=/dev/urandom of=/tmp/tx.bin bs=1048576 count="$MIB" 2>/dev/null ||
    fail "dd urandom"
tx_sha=$(sha256sum /tmp/tx.bin | cut -d' ' -f1)
tx_bytes=$(wc -c </tmp/tx.bin)
event payload-ready

i=0
until ping -c 1 -W 1 "$PEER" >/dev/null 2>&1; do
    i=$((i + 1)); [ $i -ge 90 ] && fail "peer $PEER never answered"
done
event peer-up

ping -c "$PINGS" -i 0.2 -W 3 "$PEER" >/tmp/ping.txt 2>&1 || true
cat /tmp/ping.txt
recv=$(sed -n 's/.* \([0-9]*\) packets received.*/\1/p' /tmp/ping.txt)
rtt=$(sed -n 's|.*min/avg/max = \([^ ]*\).*|\1|p' /tmp/ping.txt)
[ "${recv:-0}" = "$PINGS" ] || fail "ping ${recv:-0}/$PINGS answered"
info "ping=$recv/$PINGS" "rtt_ms=$rtt"
event ping-done

t0=$(now); i=0
while :; do
    nc "$PEER" "$PORT" </tmp/tx.bin && break
    i=$((i + 1)); [ $i -ge 20 ] && fail "nc to $PEER:$PORT failed"
    sleep 1; t0=$(now)
done
t1=$(now)
event tx-done
# Same nc trap as the receiver: stdin must not end (a regular file would,
# and '<>' on a missing path creates one), so use a FIFO opened read-write.
mkfifo /tmp/hold2
i=0; reply=""
while :; do
    reply=$(nc "$PEER" $((PORT + 1)) <>/tmp/hold2 2>/dev/null || true)
    [ -n "$reply" ] && break
    i=$((i + 1)); [ $i -ge 60 ] && fail "no checksum reply from peer"
    sleep 1
done
set -- $reply
rx_bytes=$1; rx_sha=$2
mbps=$(awk -v b="$tx_bytes" -v a="$t0" -v z="$t1" \
    'BEGIN { d = z - a; if (d <= 0) d = 0.01; printf "%.0f", b * 8 / d / 1e6 }')
secs=$(awk -v a="$t0" -v z="$t1" 'BEGIN { printf "%.2f", z - a }')
echo "vmtest: tx $tx_bytes bytes sha256=$tx_sha in ${secs}s (${mbps} Mbit/s)"
echo "vmtest: rx $rx_bytes bytes sha256=$rx_sha"
info "tx_bytes=$tx_bytes" "tx_sha256=$tx_sha" "rx_sha256=$rx_sha" \
     "tcp_secs=$secs" "tcp_mbps=$mbps"
[ "$rx_bytes" = "$tx_bytes" ] || fail "size mismatch tx=$tx_bytes rx=$rx_bytes"
[ "$rx_sha" = "$tx_sha" ] || fail "sha256 mismatch tx=$tx_sha rx=$rx_sha"
event finished
