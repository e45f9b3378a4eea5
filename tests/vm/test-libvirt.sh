#!/usr/bin/env bash
# tests/vm/test-libvirt.sh -- two libvirt domains (TCG, direct kernel boot of
# the vmtest guest) on vhost-switch ports, one per socket direction:
#   A: <source type='unix' mode='client'> with <reconnect>: the switch listens
#   B: <source type='unix' mode='server'>: QEMU listens, the switch connects
# both with <memoryBacking> memfd + shared, as docs/operations.md shows.
# A pings B through the switch; PASS when A's guest reports success.
#
# libvirtd is started here directly (no systemd: a machine or container
# without it as PID 1), on its usual sockets, and stopped by PID at the end;
# if a libvirtd already runs, that one is used and left alone. virtlogd
# likewise (libvirtd hands QEMU's output to it; systemd would socket-start
# it). Domains are transient (virsh create), destroyed at the end.
# Needs root, qemu-system-x86, libvirt-daemon-system (libvirtd and its
# libvirt-qemu user), libvirt-daemon-driver-qemu, libvirt-clients,
# and the guest of build-guest.sh (VMTEST_GUEST, default /tmp/vmtest-guest).
#
# Usage: tests/vm/test-libvirt.sh [--switch PATH]
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
SWITCH=${VMTEST_SWITCH:-$ROOT/build/apps/vhost-switch/vhost-switch}
GUEST=${VMTEST_GUEST:-/tmp/vmtest-guest}
while (($#)); do
    case $1 in
        --switch) SWITCH=$2; shift 2 ;;
        *) echo "usage: $0 [--switch PATH]" >&2; exit 2 ;;
    esac
done
FAILS=0
ok() { echo "PASS $*"; }
bad() { echo "FAIL $*"; FAILS=$((FAILS + 1)); }
finish() { echo "test-libvirt: $FAILS failed"; ((FAILS == 0)); exit; }
VIRSH=(timeout 60 virsh -q -c qemu:///system)
W=$(mktemp -d /tmp/test-libvirt.XXXXXX)
# QEMU runs as libvirt-qemu: the work dir (kernel, logs, sockets) must be
# reachable by it.
chmod 0755 "$W"
LIBVIRTD_PID="" VIRTLOGD_PID="" SW_PID=""
DOMS=("lvtest-a-$$" "lvtest-b-$$")
# stop_switch : SIGTERM the switch, wait for it (bounded); its exit status.
# STOP_INFO says how long it took or, when it had to be killed, where its
# threads were (the FAIL line carries it: CI shows only those lines).
STOP_INFO=""
stop_switch() {
    local rc=0 pid t0 end
    [[ -n $SW_PID ]] || return 0
    pid=$(pgrep -P "$SW_PID" -x vhost-switch | head -1)
    t0=$(date +%s%N)
    kill -TERM "${pid:-$SW_PID}" 2>/dev/null
    end=$(($(date +%s) + 30))
    while kill -0 "${pid:-$SW_PID}" 2>/dev/null && (($(date +%s) < end)); do sleep 0.1; done
    if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then
        STOP_INFO="ignored SIGTERM for 30 s; threads:$(for t in /proc/"$pid"/task/*; do
            printf ' %s=%s/%s' "$(cat "$t/comm")" "$(awk '{ print $3 }' "$t/stat")" "$(cat "$t/wchan")"; done)"
        kill -KILL "$pid" 2>/dev/null
    else
        STOP_INFO="exited $(( ($(date +%s%N) - t0) / 1000000 )) ms after SIGTERM"
    fi
    wait "$SW_PID"; rc=$?
    SW_PID=""
    return "$rc"
}
cleanup() {
    for d in "${DOMS[@]}"; do "${VIRSH[@]}" destroy "$d" >/dev/null 2>&1; done
    stop_switch
    [[ -n $LIBVIRTD_PID ]] && kill -TERM "$LIBVIRTD_PID" 2>/dev/null && wait "$LIBVIRTD_PID" 2>/dev/null
    [[ -n $VIRTLOGD_PID ]] && kill -TERM "$VIRTLOGD_PID" 2>/dev/null && wait "$VIRTLOGD_PID" 2>/dev/null
    [[ ${VMTEST_KEEP:-0} == 1 ]] || rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
wait_for() { # wait_for SECONDS CMD...
    local end=$(($(date +%s) + $1)); shift
    until "$@"; do (($(date +%s) < end)) || return 1; sleep 0.2; done
}

[[ $(id -u) == 0 ]] || { bad "libvirt: needs root"; finish; }
for t in virsh qemu-system-x86_64; do
    command -v "$t" >/dev/null || { bad "libvirt: $t missing"; finish; }
done
[[ -x /usr/sbin/libvirtd ]] || { bad "libvirt: /usr/sbin/libvirtd missing"; finish; }
[[ -f $GUEST/vmlinuz ]] || { bad "libvirt: no guest in $GUEST (tests/vm/build-guest.sh)"; finish; }
[[ -x $SWITCH ]] || { bad "libvirt: $SWITCH not built"; finish; }
cp "$GUEST/vmlinuz" "$GUEST/initramfs.cpio.gz" "$W/"
chmod 0644 "$W/vmlinuz" "$W/initramfs.cpio.gz"

# libvirtd hands QEMU's output to virtlogd: without systemd's socket
# activation it must be running first.
if ! [[ -S /run/libvirt/virtlogd-sock ]]; then
    timeout -k 5 900 /usr/sbin/virtlogd >"$W/virtlogd.log" 2>&1 &
    VIRTLOGD_PID=$!
    wait_for 30 test -S /run/libvirt/virtlogd-sock || { bad "libvirt: virtlogd did not start"; finish; }
fi
if ! "${VIRSH[@]}" version >/dev/null 2>&1; then
    timeout -k 5 900 /usr/sbin/libvirtd >"$W/libvirtd.log" 2>&1 &
    LIBVIRTD_PID=$!
    wait_for 60 "${VIRSH[@]}" version >/dev/null 2>&1 ||
        { bad "libvirt: libvirtd did not answer"; tail -5 "$W/libvirtd.log"; finish; }
fi
ok "libvirt: libvirtd answers ($(virsh -c qemu:///system version 2>/dev/null | awk '/Running hypervisor/ { print $3, $4 }'))"

# domain_xml NAME MAC IP SOURCE_XML SCRIPT
domain_xml() {
    local cmd
    cmd=$(printf '%s\n' "$5" | base64 -w0)
    cat <<XML
<domain type='qemu' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>
  <name>$1</name>
  <memory unit='MiB'>256</memory>
  <vcpu>1</vcpu>
  <memoryBacking>
    <source type='memfd'/>
    <access mode='shared'/>
  </memoryBacking>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>$W/vmlinuz</kernel>
    <initrd>$W/initramfs.cpio.gz</initrd>
    <cmdline>console=ttyS0 panic=-1 quiet loglevel=4 vmtest.timeout=300 vmtest.ip=$3 vmtest.mac=$2 vmtest.idle=240 vmtest.cmd=$cmd</cmdline>
  </os>
  <on_poweroff>destroy</on_poweroff>
  <on_crash>destroy</on_crash>
  <devices>
    <interface type='vhostuser'>
      <mac address='$2'/>
      $4
      <model type='virtio'/>
    </interface>
    <serial type='file'>
      <source path='$W/$1.serial'/>
    </serial>
    <console type='file'>
      <source path='$W/$1.console'/>
    </console>
  </devices>
  <qemu:override>
    <qemu:device alias='net0'>
      <qemu:frontend>
        <!-- QEMU 7.2 under TCG crashes with MSI-X and vhost-user -->
        <qemu:property name='vectors' type='unsigned' value='0'/>
      </qemu:frontend>
    </qemu:device>
  </qemu:override>
</domain>
XML
}
PING_SCRIPT='ok=0
for i in $(seq 60); do ping -c 1 -W 2 10.9.0.2 >/dev/null 2>&1 && ok=$((ok + 1)); [ $ok -ge 5 ] && break; done
[ $ok -ge 5 ] || fail "only $ok replies"
info replies=$ok'

# run_pair MODE : domains A and B with <source mode='MODE'> on one switch
# (client: the switch listens; server: QEMU listens, the switch runs with
# --client), A pings B.
run_pair() {
    local mode=$1 dir=$W/$1 sw_args=() src r rc
    mkdir -p "$dir" && chmod 0777 "$dir"
    [[ $mode == server ]] && sw_args=(--client)
    # Sockets 0777: QEMU is another user (libvirt-qemu).
    (umask 0; exec taskset -c 1 timeout -k 40 900 "$SWITCH" "${sw_args[@]}" \
        --socket "$dir/a.sock" --socket "$dir/b.sock" --queues 1 --cpu 1 \
        >"$dir/switch.out" 2>"$dir/switch.err") &
    SW_PID=$!
    if [[ $mode == client ]] && ! wait_for 30 test -S "$dir/b.sock"; then
        bad "libvirt $mode: switch sockets missing"; cat "$dir/switch.err"; stop_switch; return
    fi
    for d in b a; do
        src="<source type='unix' path='$dir/$d.sock' mode='$mode'/>"
        [[ $mode == client ]] && src="<source type='unix' path='$dir/$d.sock' mode='client'><reconnect enabled='yes' timeout='10'/></source>"
        if [[ $d == a ]]; then
            domain_xml "${DOMS[0]}" 52:54:00:9a:00:01 10.9.0.1/24 "$src" "$PING_SCRIPT"
        else
            domain_xml "${DOMS[1]}" 52:54:00:9a:00:02 10.9.0.2/24 "$src" 'sleep "${VMTEST_IDLE:-240}"'
        fi >"$dir/$d.xml"
        if "${VIRSH[@]}" create "$dir/$d.xml" >"$dir/create-$d.log" 2>&1; then
            ok "libvirt $mode: domain $d created"
        else
            bad "libvirt $mode: domain $d not created:"; sed 's/^/    /' "$dir/create-$d.log"
            for d in "${DOMS[@]}"; do "${VIRSH[@]}" destroy "$d" >/dev/null 2>&1; done
            stop_switch; return
        fi
    done
    wait_for 600 bash -c "grep -aqs VMTEST-RESULT '$W/${DOMS[0]}.serial'"
    r=$(grep -ah 'VMTEST-RESULT' "$W/${DOMS[0]}.serial" 2>/dev/null | head -1 | tr -d '\r')
    if [[ $r == *PASS* ]]; then ok "libvirt $mode: guest A pings guest B through the switch (${r#*PASS })"
    else bad "libvirt $mode: ping A -> B: ${r:-no result}"; tail -20 "$W/${DOMS[0]}.serial" 2>/dev/null | sed 's/^/    /'; fi
    for d in "${DOMS[@]}"; do "${VIRSH[@]}" destroy "$d" >/dev/null 2>&1; done
    mv "$W/${DOMS[0]}.serial" "$dir/a.serial" 2>/dev/null
    mv "$W/${DOMS[1]}.serial" "$dir/b.serial" 2>/dev/null
    stop_switch; rc=$?
    [[ $rc == 0 ]] && ok "libvirt $mode: switch exits 0 ($STOP_INFO)" ||
        { bad "libvirt $mode: switch exit $rc ($STOP_INFO)"; tail -5 "$dir/switch.err"; }
}
run_pair client
run_pair server
finish
