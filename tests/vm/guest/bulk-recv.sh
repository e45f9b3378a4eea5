# Guest test script (run by the vmtest /init, see ../build-guest.sh).
# Receiver side of ping + bulk TCP: answers pings, receives one TCP stream
# on $VMTEST_PORT (default 5001), then serves its sha256 on port+1 so the
# sender can compare. Reports rx_sha256/rx_bytes on the PASS line.
# Params: vmtest.port=N (optional), vmtest.bytes=N expected size (optional).
set -eu
PORT=${VMTEST_PORT:-5001}
mkfifo /tmp/hold
# Trap: busybox nc shuts down its sending half when its stdin ends, and then
# the peer stops too; keep stdin open forever (FIFO opened read-write).
event listen
nc -l -p "$PORT" <>/tmp/hold >/tmp/rx.bin || fail "nc -l exited $?"
event rx-done
bytes=$(wc -c </tmp/rx.bin)
sha=$(sha256sum /tmp/rx.bin | cut -d' ' -f1)
echo "vmtest: received $bytes bytes sha256=$sha"
info "rx_bytes=$bytes" "rx_sha256=$sha"
# Hand the sum back to the sender (it retries connecting until we listen).
echo "$bytes $sha" | nc -l -p $((PORT + 1)) >/dev/null || fail "sum server exited $?"
if [ -n "${VMTEST_BYTES:-}" ] && [ "$bytes" != "$VMTEST_BYTES" ]; then
    fail "received $bytes bytes, expected $VMTEST_BYTES"
fi
event finished
