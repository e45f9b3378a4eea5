# Guest test script (run by the vmtest /init, see ../build-guest.sh).
# Sends nothing by itself: stays up $VMTEST_IDLE seconds (60) with its network
# configured, then passes. For cases where the host acts on this VM (QMP).
# No IPv6 either (router solicitations, answers to others' address checks).
# With vmtest.down=1 the interface goes down: the guest sends nothing at
# all (QEMU can still send for it).
echo 1 >/proc/sys/net/ipv6/conf/all/disable_ipv6 2>/dev/null || true
if [ "${VMTEST_DOWN:-0}" = 1 ]; then
    ip link set "${VMTEST_IF:-eth0}" down || fail "cannot set the link down"
    event silent
fi
sleep "${VMTEST_IDLE:-60}"
