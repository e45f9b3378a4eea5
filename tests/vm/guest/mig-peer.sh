# Guest test script (run by the vmtest /init, see ../build-guest.sh).
# The peer of the migrating VM (test-migrate.sh, mig-guest.sh): floods it
# with large pings for the whole migration (the back-end keeps writing into
# the migrating guest's RX buffers), receives its upload on $VMTEST_PORT and
# returns the sum on port+1, then sends its own payload to port+2.
# Params: vmtest.peer=IP (required), vmtest.mib=N (20), vmtest.port=N (5001).
set -eu
PEER=${VMTEST_PEER:?vmtest.peer missing}
MIB=${VMTEST_MIB:-20}
PORT=${VMTEST_PORT:-5001}

dd if=/dev/urandom of=/tmp/tx.bin bs=1048576 count="$MIB" 2>/dev/null ||
    fail "dd urandom"
tx_sha=$(sha256sum /tmp/tx.bin | cut -d' ' -f1)
mkfifo /tmp/hold
event listen
i=0
until ping -c 1 -W 1 "$PEER" >/dev/null 2>&1; do
    i=$((i + 1)); [ $i -ge 120 ] && fail "peer $PEER never answered"
done
event peer-up
# Flood until the upload arrives (after the migration).
ping -q -i 0.02 -s 1400 -w 600 "$PEER" >/tmp/flood.txt 2>&1 &
flood=$!
event flood-start
nc -l -p "$PORT" <>/tmp/hold >/tmp/rx.bin || fail "nc -l exited $?"
kill "$flood" 2>/dev/null || true
wait "$flood" 2>/dev/null || true
rx_sha=$(sha256sum /tmp/rx.bin | cut -d' ' -f1)
rx_bytes=$(wc -c </tmp/rx.bin)
event rx-done
echo "$rx_bytes $rx_sha" | nc -l -p $((PORT + 1)) >/dev/null || fail "sum server exited $?"
i=0
until nc "$PEER" $((PORT + 2)) </tmp/tx.bin; do
    i=$((i + 1)); [ $i -ge 30 ] && fail "nc to $PEER:$((PORT + 2)) failed"; sleep 1
done
event tx-done

info "rx_sha256=$rx_sha" "rx_bytes=$rx_bytes" "tx_sha256=$tx_sha"
