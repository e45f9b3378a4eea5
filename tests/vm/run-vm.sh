#!/bin/sh
# run-vm.sh -- boot one test VM (QEMU, TCG) with an optional vhost-user NIC.
#
#   run-vm.sh start [options]   start QEMU in the background, return at once
#   run-vm.sh wait  --log F --pidfile P [--timeout S]
#                               wait for 'VMTEST-RESULT:' in the serial log,
#                               then make sure QEMU is gone (kill by PID).
#                               Prints the result line; exit 0 PASS, 1 FAIL,
#                               2 no result before the timeout (VM killed).
#   run-vm.sh kill  --pidfile P kill the VM by PID (TERM, then KILL), idempotent
#
# start options:
#   --guest DIR        output of build-guest.sh (vmlinuz, initramfs.cpio.gz);
#                      default $VMTEST_GUEST or /tmp/vmtest-guest
#   --log FILE         serial console log (required)
#   --pidfile FILE     QEMU's PID is written here (required)
#   --sock PATH        vhost-user socket; without it the VM has no NIC (-nic none)
#   --qemu-role client|server
#                      role of QEMU's chardev on the socket. client (default):
#                      the back-end listens, QEMU connects with reconnect=1.
#                      server: QEMU listens (server=on,wait=off) and the
#                      back-end connects as a client.
#   --mac MAC          NIC MAC (default 52:54:00:00:00:01)
#   --ip CIDR          guest address, e.g. 10.0.0.1/24 (default: not configured)
#   --mrg on|off       mergeable rx buffers (virtio-net-pci mrg_rxbuf), default on
#   --script FILE      test script run in the guest (via -fw_cfg)
#   --param K=V        extra vmtest.K=V on the kernel command line (repeatable);
#                      the script sees it as $VMTEST_K (upper-cased key)
#   --timeout SEC      guest-side bound for the script (default 300). QEMU
#                      itself is hard-killed (timeout(1)) after SEC+180 s.
#   --cpu N            pin QEMU to host CPU N with taskset (default: no pinning)
#   --mem SIZE         guest memory (default 256M), memfd shared with the back-end
#   --extra 'ARGS'     extra QEMU args (word-split)
# Environment: VMTEST_NIC_OPTS=props appended to -device virtio-net-pci;
#   VMTEST_NETDEV_OPTS=opts appended to -netdev vhost-user (queues=2);
#   VMTEST_ACCEL (default tcg), VMTEST_SMP (default 1);
#   VMTEST_KARGS=args appended to the kernel command line;
#   VMTEST_SLOW=N multiplies start's 30 s deadline for QEMU's pidfile (a
#   loaded machine).
#
# QEMU command line essentials (see README.md for why):
#   -accel tcg -smp 1 -no-reboot
#   -object memory-backend-memfd,id=mem,size=256M,share=on -numa node,memdev=mem
#   -chardev socket,id=c0,path=SOCK,reconnect=1        (QEMU client)
#   -chardev socket,id=c0,path=SOCK,server=on,wait=off (QEMU server)
#   -netdev vhost-user,id=n0,chardev=c0
#   -device virtio-net-pci,netdev=n0,mac=MAC,vectors=0[,mrg_rxbuf=off]
set -eu

die() { echo "run-vm: error: $*" >&2; exit 3; }

kill_vm() { # kill_vm PIDFILE
    _pf=$1
    [ -f "$_pf" ] || return 0
    _pid=$(cat "$_pf" 2>/dev/null || true)
    case "$_pid" in ''|*[!0-9]*) rm -f "$_pf"; return 0 ;; esac
    if kill -0 "$_pid" 2>/dev/null &&
       grep -q qemu-system "/proc/$_pid/cmdline" 2>/dev/null; then
        kill -TERM "$_pid" 2>/dev/null || true
        _i=0
        while kill -0 "$_pid" 2>/dev/null && [ $_i -lt 50 ]; do
            sleep 0.1; _i=$((_i + 1))
        done
        kill -KILL "$_pid" 2>/dev/null || true
    fi
    rm -f "$_pf"
}

cmd=${1:-}
[ $# -gt 0 ] && shift
case "$cmd" in
start) ;;
wait)
    LOG=""; PIDFILE=""; T=300
    while [ $# -gt 0 ]; do
        case "$1" in
        --log) LOG=$2; shift 2 ;;
        --pidfile) PIDFILE=$2; shift 2 ;;
        --timeout) T=$2; shift 2 ;;
        *) die "wait: unknown option $1" ;;
        esac
    done
    [ -n "$LOG" ] && [ -n "$PIDFILE" ] || die "wait needs --log and --pidfile"
    end=$(( $(date +%s) + T ))
    line=""
    while :; do
        line=$(grep -a -m1 '^VMTEST-RESULT:' "$LOG" 2>/dev/null | tr -d '\r' || true)
        [ -n "$line" ] && break
        pid=$(cat "$PIDFILE" 2>/dev/null || true)
        # QEMU gone without a result (crash, panic, killed, pidfile removed
        # by QEMU at exit or by 'run-vm.sh kill'): stop waiting.
        if [ -z "$pid" ] || ! kill -0 "$pid" 2>/dev/null; then
            sleep 0.5
            line=$(grep -a -m1 '^VMTEST-RESULT:' "$LOG" 2>/dev/null | tr -d '\r' || true)
            [ -n "$line" ] || line="VMTEST-RESULT: FAIL qemu exited without result"
            break
        fi
        [ "$(date +%s)" -ge "$end" ] && break
        sleep 0.5
    done
    # Give QEMU a moment to power off by itself, then make sure.
    pid=$(cat "$PIDFILE" 2>/dev/null || true)
    i=0
    while [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && [ $i -lt 30 ]; do
        sleep 0.1; i=$((i + 1))
    done
    kill_vm "$PIDFILE"
    if [ -z "$line" ]; then
        echo "VMTEST-RESULT: FAIL no result within ${T}s (VM killed)"
        exit 2
    fi
    echo "$line"
    case "$line" in "VMTEST-RESULT: PASS"*) exit 0 ;; *) exit 1 ;; esac
    ;;
kill)
    [ "${1:-}" = --pidfile ] && [ -n "${2:-}" ] || die "usage: kill --pidfile P"
    kill_vm "$2"; exit 0 ;;
*) sed -n '2,/^set -eu/p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac

GUEST=${VMTEST_GUEST:-/tmp/vmtest-guest}
LOG=""; PIDFILE=""; SOCK=""; ROLE=client; MAC=52:54:00:00:00:01; IP=""
MRG=on; SCRIPT=""; PARAMS=""; T=300; CPU=""; MEM=256M; EXTRA=""
while [ $# -gt 0 ]; do
    [ $# -ge 2 ] || die "option $1 needs a value"
    case "$1" in
    --guest) GUEST=$2 ;;
    --log) LOG=$2 ;;
    --pidfile) PIDFILE=$2 ;;
    --sock) SOCK=$2 ;;
    --qemu-role) ROLE=$2 ;;
    --mac) MAC=$2 ;;
    --ip) IP=$2 ;;
    --mrg) MRG=$2 ;;
    --script) SCRIPT=$2 ;;
    --param) case "$2" in *' '*) die "--param value must not contain spaces" ;; esac
             PARAMS="$PARAMS vmtest.$2" ;;
    --timeout) T=$2 ;;
    --cpu) CPU=$2 ;;
    --mem) MEM=$2 ;;
    --extra) EXTRA=$2 ;;
    *) die "unknown option $1" ;;
    esac
    shift 2
done
[ -n "$LOG" ] || die "--log is required"
[ -n "$PIDFILE" ] || die "--pidfile is required"
[ -s "$GUEST/vmlinuz" ] && [ -s "$GUEST/initramfs.cpio.gz" ] ||
    die "no guest in $GUEST (run build-guest.sh $GUEST)"
[ -z "$SCRIPT" ] || [ -r "$SCRIPT" ] || die "cannot read script $SCRIPT"
case "$MRG" in on|off) ;; *) die "--mrg on|off" ;; esac
command -v qemu-system-x86_64 >/dev/null || die "qemu-system-x86_64 missing (build-guest.sh installs it)"

# Refuse to clobber a live VM recorded in the same pidfile.
old=$(cat "$PIDFILE" 2>/dev/null || true)
if [ -n "$old" ] && kill -0 "$old" 2>/dev/null &&
   grep -q qemu-system "/proc/$old/cmdline" 2>/dev/null; then
    die "VM from $PIDFILE (pid $old) still running"
fi
rm -f "$PIDFILE"
: >"$LOG"

APPEND="console=ttyS0 panic=-1 quiet loglevel=4 vmtest.timeout=$T"
[ -n "$IP" ] && APPEND="$APPEND vmtest.ip=$IP vmtest.mac=$MAC"
APPEND="$APPEND$PARAMS"
# VMTEST_KARGS: more kernel arguments, e.g. init_on_alloc=0
[ -n "${VMTEST_KARGS:-}" ] && APPEND="$APPEND $VMTEST_KARGS"

# VMTEST_ACCEL / VMTEST_SMP: e.g. tcg,thread=single and 2 (two vCPUs on one
# host thread, for a guest with two queue pairs).
set -- -name "vmtest,debug-threads=on" -accel "${VMTEST_ACCEL:-tcg}" \
    -smp "${VMTEST_SMP:-1}" \
    -object "memory-backend-memfd,id=mem,size=$MEM,share=on" \
    -numa node,memdev=mem -m "$MEM" \
    -nodefaults -no-user-config -display none -vga none -no-reboot \
    -serial "file:$LOG" -monitor none \
    -kernel "$GUEST/vmlinuz" -initrd "$GUEST/initramfs.cpio.gz" \
    -append "$APPEND" \
    -pidfile "$PIDFILE"
if [ -n "$SOCK" ]; then
    case "$ROLE" in
    client) CHR="socket,id=c0,path=$SOCK,reconnect=1" ;;
    server) CHR="socket,id=c0,path=$SOCK,server=on,wait=off" ;;
    *) die "--qemu-role client|server" ;;
    esac
    DEV="virtio-net-pci,netdev=n0,mac=$MAC,vectors=0"
    [ "$MRG" = off ] && DEV="$DEV,mrg_rxbuf=off"
    # VMTEST_NIC_OPTS: more virtio-net-pci properties, e.g.
    # event_idx=off,indirect_desc=off
    [ -n "${VMTEST_NIC_OPTS:-}" ] && DEV="$DEV,$VMTEST_NIC_OPTS"
    # VMTEST_NETDEV_OPTS: more -netdev vhost-user options, e.g. queues=2
    set -- "$@" -chardev "$CHR" \
        -netdev "vhost-user,id=n0,chardev=c0${VMTEST_NETDEV_OPTS:+,$VMTEST_NETDEV_OPTS}" \
        -device "$DEV"
else
    set -- "$@" -nic none
fi
[ -n "$SCRIPT" ] && set -- "$@" -fw_cfg "name=opt/vmtest/script,file=$SCRIPT"
# shellcheck disable=SC2086
[ -n "$EXTRA" ] && set -- "$@" $EXTRA

PIN=""
[ -n "$CPU" ] && PIN="taskset -c $CPU"
ERR=$LOG.qemu-stderr
# timeout(1) is a last-resort bound if the caller dies without cleaning up.
# shellcheck disable=SC2086
nohup timeout -k 10 $((T + 180)) $PIN qemu-system-x86_64 "$@" \
    </dev/null >"$ERR" 2>&1 &
wrapper=$!
# Wait for QEMU's own pidfile (written once it is initialised).
t=$((30 * ${VMTEST_SLOW:-1}))
end=$(( $(date +%s) + t ))
while [ ! -s "$PIDFILE" ]; do
    if ! kill -0 "$wrapper" 2>/dev/null; then
        cat "$ERR" >&2
        die "qemu failed to start"
    fi
    [ "$(date +%s)" -ge "$end" ] && { kill "$wrapper" 2>/dev/null || true; die "qemu did not write $PIDFILE in $t s"; }
    sleep 0.1
done
echo "run-vm: started pid $(cat "$PIDFILE") log $LOG${SOCK:+ sock $SOCK ($ROLE, mrg_rxbuf=$MRG)}" >&2
