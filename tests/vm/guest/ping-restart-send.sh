# Guest test script (run by the vmtest /init, see ../build-guest.sh).
# Sender side across a back-end restart (used by test-switch.sh):
#   1. makes the payload, waits for the peer ($VMTEST_PEER) to answer;
#   2. 'event ping-start', then pings the peer every 0.2 s for
#      $VMTEST_WINDOW seconds while the host kills and restarts the switch
#      (the VM keeps running: QEMU reconnects, the guest never notices
#      beyond a pause); reports lost sequence numbers, late replies (> 0.5 s:
#      requests queued in the TX ring during the outage and sent after the
#      reconnect) and the max rtt, and requires the last $VMTEST_TAIL pings
#      all answered (traffic resumed);
#   3. then the same checked transfer as ping-bulk-send.sh: $VMTEST_MIB MiB
#      to PEER:$VMTEST_PORT (bulk-recv.sh), sha256 compared with the sum the
#      receiver sends back on port+1.
# Params: vmtest.peer=IP (required), vmtest.window=S (20), vmtest.tail=N (10),
#         vmtest.mib=N (20), vmtest.port=N (5001).
set -eu
PEER=${VMTEST_PEER:?vmtest.peer missing}
WINDOW=${VMTEST_WINDOW:-20}
TAIL=${VMTEST_TAIL:-10}
MIB=${VMTEST_MIB:-20}
PORT=${VMTEST_PORT:-5001}
now() { cut -d' ' -f1 /proc/uptime; }

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

event ping-start
ping -i 0.2 -W 1 -w "$WINDOW" "$PEER" >/tmp/ping.txt 2>&1 || true
event ping-end
# Answered sequence numbers, one per line.
sed -n 's/.*seq=\([0-9]*\) .*/\1/p' /tmp/ping.txt | sort -n -u >/tmp/seqs
sent=$(sed -n 's/^\([0-9]*\) packets transmitted.*/\1/p' /tmp/ping.txt)
recv=$(wc -l </tmp/seqs)
[ -n "$sent" ] && [ "$sent" -gt 0 ] || fail "ping gave no summary"
# Lost sequence numbers (0..sent-1 not answered), as first-last ranges.
lost=$(awk -v n="$sent" '{ ok[$1] = 1 }
    END { s = -1; out = "";
          for (i = 0; i <= n; i++) {
              if (i < n && !ok[i]) { if (s < 0) s = i; continue }
              if (s >= 0) { out = out (out ? "," : "") s "-" (i - 1); s = -1 }
          }
          print (out ? out : "none") }' /tmp/seqs)
nlost=$((sent - recv))
# Packets the guest queued while the switch was down sit in the TX ring and
# go out after the reconnect: the outage shows as late replies, not losses.
late=$(sed -n 's/.*seq=.* time=\([0-9.]*\) ms.*/\1/p' /tmp/ping.txt |
       awk '$1 > 500 { n++ } END { print n + 0 }')
rtt_max=$(sed -n 's|.*min/avg/max = [^/]*/[^/]*/\([0-9.]*\).*|\1|p' /tmp/ping.txt)
grep -E 'packets|round-trip' /tmp/ping.txt || true
echo "vmtest: pings sent=$sent answered=$recv lost=$nlost lost_seqs=$lost late_over_500ms=$late rtt_max_ms=$rtt_max"
info "pings=$recv/$sent" "lost_seqs=$lost" "late=$late" "rtt_max_ms=${rtt_max:-?}"
# The last GRACE pings (one second) are left out: ping stops at its
# deadline, so a reply to them may not be waited for on a loaded machine.
GRACE=5
first_tail=$((sent - TAIL - GRACE))
[ "$first_tail" -ge 0 ] || fail "only $sent pings sent"
j=$first_tail
while [ $j -lt $((sent - GRACE)) ]; do
    grep -qx "$j" /tmp/seqs || fail "ping seq $j (of the $TAIL before the last $GRACE) unanswered: traffic did not resume (lost $lost)"
    j=$((j + 1))
done
event ping-done

t0=$(now); i=0
while :; do
    nc "$PEER" "$PORT" </tmp/tx.bin && break
    i=$((i + 1)); [ $i -ge 20 ] && fail "nc to $PEER:$PORT failed"
    sleep 1; t0=$(now)
done
t1=$(now)
event tx-done
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
