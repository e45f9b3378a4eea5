# Guest test script (run by the vmtest /init, see ../build-guest.sh).
# The VM that migrates (test-migrate.sh). It keeps pinging the peer while the
# host migrates it (the peer floods it with large pings at the same time, so
# the back-end writes into its RX buffers the whole migration), then checks
# the pings resumed quickly, and moves $VMTEST_MIB MiB out of and into the VM
# over TCP. This script starts on the source QEMU and finishes on the
# destination: its result line appears in the destination's serial log.
# With vmtest.hotplug=1 it waits instead for memory the host plugs in (a
# pc-dimm), onlines it for the kernel's own allocations (ZONE_NORMAL, which
# the kernel prefers: network buffers land there), then does the same.
# Params: vmtest.peer=IP (required), vmtest.phase=S guest seconds of pinging
#         (40), vmtest.mib=N (20), vmtest.port=N (5001), vmtest.maxgap=S (1),
#         vmtest.hotplug=1.
set -eu
PEER=${VMTEST_PEER:?vmtest.peer missing}
PHASE=${VMTEST_PHASE:-40}
MIB=${VMTEST_MIB:-20}
PORT=${VMTEST_PORT:-5001}
MAXGAP=${VMTEST_MAXGAP:-1}

dd if=/dev/urandom of=/tmp/tx.bin bs=1048576 count="$MIB" 2>/dev/null ||
    fail "dd urandom"
tx_sha=$(sha256sum /tmp/tx.bin | cut -d' ' -f1)
event payload-ready
i=0
until ping -c 1 -W 1 "$PEER" >/dev/null 2>&1; do
    i=$((i + 1)); [ $i -ge 90 ] && fail "peer $PEER never answered"
done
event peer-up
if [ "${VMTEST_HOTPLUG:-0}" = 1 ]; then
    blocks() { ls -d /sys/devices/system/memory/memory* 2>/dev/null | wc -l; }
    n0=$(blocks)
    event hotplug-ready
    i=0
    while [ "$(blocks)" -le "$n0" ]; do
        i=$((i + 1)); [ $i -ge 600 ] && fail "no memory was plugged in"
        sleep 0.2
    done
    n=0
    for st in /sys/devices/system/memory/memory*/state; do
        if [ "$(cat "$st")" = offline ]; then
            echo online_kernel >"$st" || fail "cannot online $st"
            n=$((n + 1))
        fi
    done
    normal=$(awk '/^Node 0, zone +Normal/ { z = 1 } z && /managed/ { print $2; exit }' /proc/zoneinfo)
    echo "vmtest: $n memory blocks onlined, zone Normal manages ${normal:-0} pages"
    info "mem_blocks_onlined=$n" "normal_pages=${normal:-0}"
    [ "${normal:-0}" -gt 0 ] || fail "the new memory is not in zone Normal"
    event mem-online
fi
# The host starts the migration when it sees this event.
event mig-ready
count=$((PHASE * 10))
ping -c "$count" -i 0.1 -W 2 "$PEER" >/tmp/ping.txt 2>&1 || true
event ping-done
recv=$(sed -n 's/.* \([0-9]*\) packets received.*/\1/p' /tmp/ping.txt)
# Longest run of unanswered pings, in seconds (0.1 s apart).
gap=$(sed -n 's/.*seq=\([0-9]*\).*/\1/p' /tmp/ping.txt | awk -v n="$count" '
    BEGIN { last = -1; worst = 0 }
    { if ($1 - last - 1 > worst) worst = $1 - last - 1; last = $1 }
    END { if (n - 1 - last > worst) worst = n - 1 - last; printf "%.1f", worst / 10 }')
echo "vmtest: pings $recv/$count answered, longest gap ${gap}s"
info "ping=${recv:-0}/$count" "ping_gap_s=$gap"
awk -v g="$gap" -v m="$MAXGAP" 'BEGIN { exit !(g <= m) }' ||
    fail "pings stopped for ${gap}s (more than ${MAXGAP}s)"

# Out of the VM: to the peer, which sends the sum back on port+1.
i=0
until nc "$PEER" "$PORT" </tmp/tx.bin; do
    i=$((i + 1)); [ $i -ge 20 ] && fail "nc to $PEER:$PORT failed"; sleep 1
done
mkfifo /tmp/hold2
i=0; reply=""
while :; do
    reply=$(nc "$PEER" $((PORT + 1)) <>/tmp/hold2 2>/dev/null || true)
    [ -n "$reply" ] && break
    i=$((i + 1)); [ $i -ge 60 ] && fail "no checksum reply from peer"; sleep 1
done
set -- $reply
[ "$2" = "$tx_sha" ] || fail "sha256 out: sent $tx_sha, peer got $2"
event tx-done
# Into the VM: the peer sends its payload to port+2.
mkfifo /tmp/hold3
event listen
nc -l -p $((PORT + 2)) <>/tmp/hold3 >/tmp/rx.bin || fail "nc -l exited $?"
rx_sha=$(sha256sum /tmp/rx.bin | cut -d' ' -f1)
rx_bytes=$(wc -c </tmp/rx.bin)
event rx-done
info "tx_sha256=$tx_sha" "rx_sha256=$rx_sha" "rx_bytes=$rx_bytes"
