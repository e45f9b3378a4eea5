# Guest test script (run by the vmtest /init, see ../build-guest.sh).
# Sends nothing: stays up $VMTEST_IDLE seconds (60) with its network
# configured, then passes. For cases where the host acts on this VM (QMP).
sleep "${VMTEST_IDLE:-60}"
