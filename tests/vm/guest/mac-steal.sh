# Guest test script (run by the vmtest /init, see ../build-guest.sh).
# The thief: once its peer answers (under its own MAC), it takes another
# guest's MAC ($VMTEST_STEAL) and keeps sending as that guest for
# $VMTEST_WINDOW seconds (pings to the peer: ARP and ICMP frames with the
# stolen source MAC). The switch must drop them all: the script passes
# either way and reports how many were answered (stolen_answered=N); the
# harness judges from the switch's counters and the victim's result.
# With vmtest.target=IP it sends to that address instead of the peer (an
# address nobody has: only ARP broadcasts go out, nobody answers), and with
# vmtest.linger=S it stays up S seconds after the window without sending;
# vmtest.as_ip=CIDR also takes that address (so the victim, which knows the
# thief's own address, learns nothing from the thief's ARP requests).
# Params: vmtest.peer=IP (required), vmtest.steal=MAC (required),
#         vmtest.window=S (60), vmtest.target=IP, vmtest.linger=S (0).
set -eu
PEER=${VMTEST_PEER:?vmtest.peer missing}
STEAL=${VMTEST_STEAL:?vmtest.steal missing}
WINDOW=${VMTEST_WINDOW:-60}
IFC=${VMTEST_IF:-eth0}

i=0
until ping -c 1 -W 1 "$PEER" >/dev/null 2>&1; do
    i=$((i + 1)); [ $i -ge 90 ] && fail "peer $PEER never answered"
done
event peer-up
own=$(cat "/sys/class/net/$IFC/address")
# No IPv6 from the stolen MAC: its duplicate address detection would make
# the victim answer (and so reclaim its MAC on the switch).
[ -n "${VMTEST_AS_IP:-}" ] && echo 1 >/proc/sys/net/ipv6/conf/all/disable_ipv6 2>/dev/null || true
ip link set "$IFC" down
ip link set "$IFC" address "$STEAL" || fail "cannot set MAC $STEAL"
ip link set "$IFC" up
if [ -n "${VMTEST_AS_IP:-}" ]; then
    ip addr flush dev "$IFC"
    ip addr add "$VMTEST_AS_IP" dev "$IFC" || fail "cannot set address $VMTEST_AS_IP"
fi
ip neigh flush dev "$IFC" 2>/dev/null || true
echo "vmtest: $IFC now $(cat "/sys/class/net/$IFC/address") (was $own)"
event stolen
ping -c $((WINDOW * 5)) -i 0.2 -W 1 "${VMTEST_TARGET:-$PEER}" >/tmp/ping.txt 2>&1 || true
tail -n 2 /tmp/ping.txt
recv=$(sed -n 's/.* \([0-9]*\) packets received.*/\1/p' /tmp/ping.txt)
info "own_mac=$own" "stolen_answered=${recv:-0}"
event quiet
sleep "${VMTEST_LINGER:-0}"
event finished
