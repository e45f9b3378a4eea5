# Guest test script (run by the vmtest /init, see ../build-guest.sh).
# VM <-> host over vhost-switch's TAP uplink (used by test-switch.sh):
#   1. waits for the host ($VMTEST_HOST) to answer, sends $VMTEST_PINGS
#      pings (all must be answered);
#   2. uploads $VMTEST_MIB MiB of random data to HOST:$VMTEST_PORT with
#      busybox nc (the host listens; it compares tx_sha256 from our PASS
#      line with what it received);
#   3. listens on port+1 and receives the host's payload (the host pings us
#      before sending it), reports rx_bytes/rx_sha256 for the host to check.
# Params: vmtest.host=IP (required), vmtest.pings=N (10), vmtest.mib=N (20),
#         vmtest.port=N (5001), vmtest.bytes=N expected download size.
set -eu
HOST=${VMTEST_HOST:?vmtest.host missing}
PINGS=${VMTEST_PINGS:-10}
MIB=${VMTEST_MIB:-20}
PORT=${VMTEST_PORT:-5001}
now() { cut -d' ' -f1 /proc/uptime; }

dd if=/dev/urandom of=/tmp/tx.bin bs=1048576 count="$MIB" 2>/dev/null ||
    fail "dd urandom"
tx_sha=$(sha256sum /tmp/tx.bin | cut -d' ' -f1)
tx_bytes=$(wc -c </tmp/tx.bin)
event payload-ready

i=0
until ping -c 1 -W 1 "$HOST" >/dev/null 2>&1; do
    i=$((i + 1)); [ $i -ge 90 ] && fail "host $HOST never answered"
done
event peer-up
ping -c "$PINGS" -i 0.2 -W 3 "$HOST" >/tmp/ping.txt 2>&1 || true
cat /tmp/ping.txt
recv=$(sed -n 's/.* \([0-9]*\) packets received.*/\1/p' /tmp/ping.txt)
rtt=$(sed -n 's|.*min/avg/max = \([^ ]*\).*|\1|p' /tmp/ping.txt)
[ "${recv:-0}" = "$PINGS" ] || fail "ping ${recv:-0}/$PINGS answered"
info "ping=$recv/$PINGS" "rtt_ms=$rtt"
event ping-done

t0=$(now); i=0
while :; do
    nc "$HOST" "$PORT" </tmp/tx.bin && break
    i=$((i + 1)); [ $i -ge 30 ] && fail "nc to $HOST:$PORT failed"
    sleep 1; t0=$(now)
done
t1=$(now)
event tx-done
secs=$(awk -v a="$t0" -v z="$t1" 'BEGIN { printf "%.2f", z - a }')
mbps=$(awk -v b="$tx_bytes" -v a="$t0" -v z="$t1" \
    'BEGIN { d = z - a; if (d <= 0) d = 0.01; printf "%.0f", b * 8 / d / 1e6 }')
echo "vmtest: tx $tx_bytes bytes sha256=$tx_sha in ${secs}s (${mbps} Mbit/s)"
info "tx_bytes=$tx_bytes" "tx_sha256=$tx_sha" "tcp_secs=$secs" "tcp_mbps=$mbps"

# busybox nc trap: the listener's stdin must never end (FIFO opened rw).
mkfifo /tmp/hold
event listen
nc -l -p $((PORT + 1)) <>/tmp/hold >/tmp/rx.bin || fail "nc -l exited $?"
event rx-done
bytes=$(wc -c </tmp/rx.bin)
sha=$(sha256sum /tmp/rx.bin | cut -d' ' -f1)
echo "vmtest: rx $bytes bytes sha256=$sha"
info "rx_bytes=$bytes" "rx_sha256=$sha"
if [ -n "${VMTEST_BYTES:-}" ] && [ "$bytes" != "$VMTEST_BYTES" ]; then
    fail "received $bytes bytes, expected $VMTEST_BYTES"
fi
event finished
