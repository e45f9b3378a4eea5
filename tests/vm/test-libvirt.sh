#!/bin/bash
# test-libvirt.sh -- a guest defined and started through libvirt (virsh) on a
# vhost-switch port, in both socket directions, pings through the switch.
#
#   server  the switch listens (--socket), libvirt's interface has
#           <source type='unix' mode='client'> with <reconnect/>
#   client  QEMU listens (<source mode='server'>), the switch connects
#           (--client)
#
# Each case: vhost-switch (worker on core 1, nice 19) with a TAP uplink moved
# into a private netns as 10.77.0.254/24; a domain with the test guest
# (build-guest.sh's kernel + initramfs as <kernel>/<initrd>, the script
# handed over by <sysinfo type='fwcfg'>), memfd shared memory; the guest
# pings the netns PINGS times (every one answered; the switch is the only
# path) and reports on its serial console (a file).
#
# libvirt: Debian 12's libvirtd (9.0), our own instance started directly (no
# systemd here) in a private mount namespace: /etc/libvirt and /run/libvirt
# are the test's own there, so a system libvirtd (Debian's package starts
# one) is neither used nor disturbed, and qemu.conf has what a container
# needs (QEMU as root, no cgroups, no namespaces, no security driver, no
# virtlogd). The daemon is stopped by PID at exit.
# Needs root. Prints PASS/FAIL lines and "test-libvirt: N passed, N failed".
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
. "$ROOT/scripts/deps.sh"
GUEST=${VMTEST_GUEST:-/tmp/vmtest-guest}
SW=${VMTEST_SWITCH:-$ROOT/build/apps/vhost-switch/vhost-switch}
PINGS=${VMTEST_PINGS:-10}
SLOW=${VMTEST_SLOW:-$(awk -v n="$(nproc)" '{ f = int($1 / n + 0.999)
    print ((f < 1) ? 1 : ((f > 4) ? 4 : f)) }' /proc/loadavg)}
VM_TIMEOUT=$((150 * SLOW))
CASES=${VMTEST_LIBVIRT_CASES:-server client}
WORK=$(mktemp -d /tmp/vmtest-libvirt.XXXXXX)
chmod 755 "$WORK"
VIRSH=(virsh -q -c qemu:///system)
PASS=0; FAIL=0
LVD_WRAP=""; SW_WRAP=""; NETNS=""; DOM=""

log() { echo "test-libvirt: $*" >&2; }
pass() { echo "PASS libvirt-$1${2:+ ($2)}"; PASS=$((PASS + 1)); }
fail() { echo "FAIL libvirt-$1: $2"; FAIL=$((FAIL + 1)); }
until_deadline() { [ "$(date +%s)" -lt "$1" ]; }

cleanup() {
    [ -n "$DOM" ] && { "${VIRSH[@]}" destroy "$DOM" >/dev/null 2>&1; "${VIRSH[@]}" undefine "$DOM" >/dev/null 2>&1; }
    sw_stop
    [ -n "$NETNS" ] && ip netns del "$NETNS" 2>/dev/null
    if [ -n "$LVD_WRAP" ]; then
        kill -TERM -- "-$LVD_WRAP" 2>/dev/null || kill -TERM "$LVD_WRAP" 2>/dev/null
        wait "$LVD_WRAP" 2>/dev/null
        kill -KILL -- "-$LVD_WRAP" 2>/dev/null
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ "$(id -u)" = 0 ] && [ -z "${TEST_LIBVIRT_NS:-}" ]; then
    rm -rf "$WORK"
    TEST_LIBVIRT_NS=1 exec unshare -m --propagation private "$0" "$@"
fi
[ "$(id -u)" = 0 ] || { fail setup "needs root (libvirtd, TAP, netns)"; echo "test-libvirt: 0 passed, 1 failed"; exit 1; }
# Debian's package starts the system daemons when it is installed (sysv
# scripts): a first install here stops them again, the test uses its own.
had_libvirt=1; command -v libvirtd >/dev/null || had_libvirt=0
need_pkgs libvirt-daemon-system libvirt-clients qemu-system-x86 iproute2 >/dev/null 2>&1 ||
    { fail setup "could not install libvirt"; echo "test-libvirt: 0 passed, 1 failed"; exit 1; }
if [ "$had_libvirt" = 0 ]; then
    for d in libvirtd virtlogd virtlockd; do
        [ -x "/etc/init.d/$d" ] && "/etc/init.d/$d" stop >/dev/null 2>&1
    done
fi
[ -f "$GUEST/vmlinuz" ] || timeout 900 "$HERE/build-guest.sh" "$GUEST" >"$WORK/build-guest.log" 2>&1 ||
    { fail setup "build-guest.sh failed"; echo "test-libvirt: 0 passed, 1 failed"; exit 1; }

# --- libvirtd ---------------------------------------------------------------
start_libvirtd() {
    mkdir -p "$WORK/etc" "$WORK/run" /run/libvirt
    cp -a /etc/libvirt/. "$WORK/etc/" || return 1
    # Later settings win: what a container without systemd, cgroup
    # delegation, AppArmor or virtlogd needs.
    cat >>"$WORK/etc/qemu.conf" <<'EOF'
# test-libvirt.sh
user = "root"
group = "root"
dynamic_ownership = 0
security_driver = "none"
namespaces = [ ]
cgroup_controllers = [ ]
stdio_handler = "file"
EOF
    mount --bind "$WORK/etc" /etc/libvirt && mount --bind "$WORK/run" /run/libvirt || return 1
    setsid timeout -k 5 $((VM_TIMEOUT * 3 + 300)) libvirtd --pid-file "$WORK/libvirtd.pid" \
        >"$WORK/libvirtd.log" 2>&1 &
    LVD_WRAP=$!
    local end=$(( $(date +%s) + 30 * SLOW ))
    while until_deadline "$end"; do
        "${VIRSH[@]}" version >/dev/null 2>&1 && return 0
        kill -0 "$LVD_WRAP" 2>/dev/null || break
        sleep 0.2
    done
    tail -5 "$WORK/libvirtd.log" >&2
    return 1
}

# --- the switch -----------------------------------------------------------------
sw_start() { # sw_start TAG ARGS...
    local tag=$1; shift
    setsid timeout -k 5 $((VM_TIMEOUT + 120)) nice -n 19 "$SW" --cpu 1 --workers 1 \
        --duration $((VM_TIMEOUT + 90)) "$@" >"$WORK/sw.$tag.out" 2>"$WORK/sw.$tag.err" &
    SW_WRAP=$!
    local end=$(( $(date +%s) + 10 * SLOW ))
    while until_deadline "$end"; do
        grep -q '^vhost-switch: ' "$WORK/sw.$tag.err" && return 0
        kill -0 "$SW_WRAP" 2>/dev/null || break
        sleep 0.1
    done
    cat "$WORK/sw.$tag.err" >&2
    return 1
}
sw_stop() {
    [ -n "$SW_WRAP" ] || return 0
    pkill -TERM -P "$SW_WRAP" 2>/dev/null
    local end=$(( $(date +%s) + 10 ))
    while pgrep -P "$SW_WRAP" >/dev/null 2>&1 && until_deadline "$end"; do sleep 0.1; done
    kill -KILL -- "-$SW_WRAP" 2>/dev/null || kill -KILL "$SW_WRAP" 2>/dev/null
    wait "$SW_WRAP" 2>/dev/null
    SW_WRAP=""
}

# domain_xml NAME SOCK MODE MAC LOG: the domain, as docs/operations.md shows
# it, plus what the test guest needs (kernel/initrd, its script by fw_cfg, a
# serial log file, pci=nomsi: QEMU 7.2 under TCG crashes when a vhost-user
# guest uses MSI-X, see /work notes; with KVM no such line is needed).
domain_xml() {
    local name=$1 sock=$2 mode=$3 mac=$4 logf=$5 reconnect=""
    [ "$mode" = client ] && reconnect="<reconnect enabled='yes' timeout='1'/>"
    cat <<EOF
<domain type='qemu'>
  <name>$name</name>
  <memory unit='MiB'>256</memory>
  <memoryBacking>
    <source type='memfd'/>
    <access mode='shared'/>
  </memoryBacking>
  <vcpu placement='static' cpuset='0'>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>$GUEST/vmlinuz</kernel>
    <initrd>$GUEST/initramfs.cpio.gz</initrd>
    <cmdline>console=ttyS0 panic=-1 quiet loglevel=4 pci=nomsi vmtest.timeout=$VM_TIMEOUT vmtest.ip=10.77.0.1/24 vmtest.mac=$mac vmtest.host=10.77.0.254 vmtest.pings=$PINGS</cmdline>
  </os>
  <sysinfo type='fwcfg'>
    <entry name='opt/vmtest/script' file='$HERE/guest/ping-host.sh'/>
  </sysinfo>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>destroy</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <interface type='vhostuser'>
      <mac address='$mac'/>
      <source type='unix' path='$sock' mode='$mode'>$reconnect</source>
      <model type='virtio'/>
    </interface>
    <serial type='file'>
      <source path='$logf'/>
      <target port='0'/>
    </serial>
    <memballoon model='none'/>
  </devices>
</domain>
EOF
}

case_teardown() {
    if [ -n "$DOM" ]; then
        "${VIRSH[@]}" destroy "$DOM" >/dev/null 2>&1
        "${VIRSH[@]}" undefine "$DOM" >/dev/null 2>&1
        DOM=""
    fi
    sw_stop
    [ -n "$NETNS" ] && ip netns del "$NETNS" 2>/dev/null
    NETNS=""
}

run_case() { # run_case server|client
    local c=$1 sock=$WORK/$1.sock tap="vhlv$$" logf=$WORK/$1.serial mode swargs
    NETNS="vhlv-$$"
    case $c in
        server) mode=client; swargs=(--socket "$sock") ;;   # QEMU is the client
        client) mode=server; swargs=(--client --socket "$sock") ;;
    esac
    : >"$logf"
    DOM="vhlv-$c-$$"
    domain_xml "$DOM" "$sock" "$mode" 52:54:00:77:00:01 "$logf" >"$WORK/$c.xml"
    # The switch first in both directions: as a client it retries until
    # QEMU listens (QEMU's server=on waits for it before the guest runs,
    # and virsh start returns only then).
    sw_start "$c" "${swargs[@]}" --tap "$tap" || { fail "$c" "vhost-switch did not start"; return; }
    [ "$c" = server ] && chmod 666 "$sock"
    ip netns add "$NETNS" && ip -n "$NETNS" link set lo up || { fail "$c" "netns"; return; }
    ip link set "$tap" netns "$NETNS" || { fail "$c" "cannot move TAP"; return; }
    "${VIRSH[@]}" define "$WORK/$c.xml" >"$WORK/$c.define" 2>&1 ||
        { fail "$c" "virsh define: $(head -c 300 "$WORK/$c.define")"; DOM=""; return; }
    timeout $((60 * SLOW)) "${VIRSH[@]}" start "$DOM" >"$WORK/$c.start" 2>&1 ||
        { fail "$c" "virsh start: $(head -c 400 "$WORK/$c.start")"; return; }
    ip -n "$NETNS" addr add 10.77.0.254/24 dev "$tap" && ip -n "$NETNS" link set "$tap" up ||
        { fail "$c" "cannot configure TAP"; return; }
    local end=$(( $(date +%s) + VM_TIMEOUT + 30 ))
    while ! grep -q '^VMTEST-RESULT:' "$logf" 2>/dev/null && until_deadline "$end"; do
        sleep 0.5
    done
    local res
    res=$(grep -a '^VMTEST-RESULT:' "$logf" | head -n1)
    case $res in
        *PASS*) pass "$c" "libvirt mode='$mode': ${res#VMTEST-RESULT: }" ;;
        "") fail "$c" "no result from the guest in $((VM_TIMEOUT + 30)) s (serial: $(tail -c 300 "$logf" | tr '\n' ' '))" ;;
        *) fail "$c" "${res#VMTEST-RESULT: }" ;;
    esac
}

if ! start_libvirtd; then
    fail setup "libvirtd did not start (see above)"
else
    for c in $CASES; do run_case "$c"; case_teardown; done
fi
echo "test-libvirt: $PASS passed, $FAIL failed"
[ "$FAIL" = 0 ]
