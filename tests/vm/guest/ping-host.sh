# Guest test script (run by the vmtest /init, see ../build-guest.sh).
# Waits for the host ($VMTEST_HOST) to answer, then sends $VMTEST_PINGS
# pings; every one must be answered. Used by test-libvirt.sh.
set -eu
HOST=${VMTEST_HOST:?vmtest.host missing}
PINGS=${VMTEST_PINGS:-10}
i=0
until ping -c 1 -W 1 "$HOST" >/dev/null 2>&1; do
    i=$((i + 1)); [ $i -ge 90 ] && fail "host $HOST never answered"
done
event peer-up
ping -c "$PINGS" -i 0.2 -W 3 "$HOST" >/tmp/ping.txt 2>&1 || true
got=$(sed -n 's/.* \([0-9]*\) packets received.*/\1/p' /tmp/ping.txt)
[ "${got:-0}" = "$PINGS" ] || fail "pings answered: ${got:-0}/$PINGS"
info "pings=$got/$PINGS"
