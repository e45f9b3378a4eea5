#!/usr/bin/env bash
# tests/netns/test-vxlan.sh [--build DIR] [CASE...]   (root: namespaces)
#
# vhost-switch across hosts, each host a network namespace on one veth
# underlay (10.0.0.0/24, MTU 1500; endpoints MTU 1450):
#   kernel  switch A (VXLAN uplink; a testpmd icmpecho port in network 1,
#           the TAP uplink in network 2) against the kernel's vxlan devices
#           on host B (VNI 42 and 43, dstport 4789, each in a bridge with a
#           namespace behind it; both namespaces have the same MAC and IP):
#           no leak between the networks (counters), ping both networks,
#           a checked TCP transfer both ways, a wrong VNI dropped and counted,
#           a remote host using the MAC a local port owns dropped and counted
#   switch  three switches: A and B with a TAP uplink in each of networks 1
#           and 2 (VNIs 100 and 200, same MACs and IPs in both), C with
#           one in network 1 (but both VNIs): ping and checked transfers in
#           both networks, flooding reaches the third host, a broadcast of
#           one network reaches no port of the other, a MAC that moves from
#           host B to host C is followed (A's MAC table, ping, transfer)
#   vm      a Linux VM (QEMU, TCG) on switch A's VXLAN uplink, a namespace
#           behind the kernel's vxlan on host B: ping, 20 MiB each way
#           (sha256); the guest's TSO and partial checksums cross the overlay
#           (SKIP without the test guest: tests/vm/build-guest.sh)
#   ovs     OVS userspace datapath (netdev) with a vxlan port as host B
#           (SKIP if ovs-vswitchd is not installed)
#   trunk   an 802.1Q trunk TAP uplink (networks 5 and 6 behind access
#           TAPs with the same MAC and IP): tagged ARP gets a reply tagged
#           the same, the other network sees nothing, untagged is dropped
#   nic     the NIC uplink (AF_PACKET rings) on a veth with a namespace
#           behind it: a testpmd icmpecho port and a TAP namespace reach it
#           (ping, checked TCP both ways)
#   vtep-runtime  switch A started with --vxlan (strict) and no --vtep: a
#           TAP namespace in network 1 reaches the kernel's vxlan host only
#           once vtep_add (control socket) maps VNI 42 to it; after
#           vtep_del no frame reaches the kernel's vxlan device; vtep_add
#           again restores it
#   vxlan-port-runtime  the VXLAN uplink itself added with port_add and
#           removed with port_del (then nothing reaches the kernel side),
#           added again (no VTEP left from before), traffic each time
# Prints PASS/FAIL/SKIP lines and "test-vxlan: N passed, N failed".
set -u
NN_HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$NN_HERE/../.." && pwd)
BUILD=$ROOT/build-gcc
CASES=()
while (($#)); do
    case $1 in
        --build) BUILD=$2; shift 2 ;;
        *) CASES+=("$1"); shift ;;
    esac
done
((${#CASES[@]})) || CASES=(kernel switch ovs nic trunk vtep-runtime vxlan-port-runtime vm)
NN_SWBIN=$BUILD/apps/vhost-switch/vhost-switch
NN_DIR=$(mktemp -d /tmp/netns-vxlan.XXXXXX)
# shellcheck source=lib.sh
. "$NN_HERE/lib.sh"
# shellcheck source=../peer/lib/testpmd.sh
TP_NO_TRAP=1 . "$ROOT/tests/peer/lib/testpmd.sh"
TP_NO_TRAP=1 tp_init "$NN_DIR/tp"
trap 'tp_cleanup_all; [ "$(type -t ovs_stop)" = function ] && ovs_stop; nn_cleanup' EXIT
PASS=0 FAIL=0

[ "$(id -u)" = 0 ] || { echo "FAIL netns: needs root"; echo "test-vxlan: 0 passed, 1 failed"; exit 1; }
[ -x "$NN_SWBIN" ] || { echo "FAIL netns: no $NN_SWBIN"; echo "test-vxlan: 0 passed, 1 failed"; exit 1; }

ok() { echo "PASS $1"; PASS=$((PASS + 1)); }
ko() { echo "FAIL $1 ${2:-}"; FAIL=$((FAIL + 1)); }
check() { local name=$1; shift; if "$@"; then ok "$name"; else ko "$name" "(logs: $NN_DIR)"; fi; }

MA=02:00:00:00:00:0a
MB=02:00:00:00:00:0b
MC=02:00:00:00:00:0c
MP=02:00:00:00:00:0d

# kernel_side HOST VNI NS IP MAC LOCAL REMOTE : a kernel vxlan device in a
# bridge with a namespace behind it
kernel_side() {
    nn_x "$1" ip link add "vx$2" type vxlan id "$2" dstport 4789 local "$6" \
        remote "$7" dev eth0 noudpcsum &&
        nn_x "$1" ip link add "br$2" type bridge &&
        nn_x "$1" ip link set "vx$2" master "br$2" up &&
        nn_x "$1" ip link set "br$2" up &&
        nn_x "$1" ip link add "v$2" type veth peer name "v$2p" &&
        nn_x "$1" ip link set "v$2" master "br$2" up || return 1
    # checksums filled in when sent: a veth hands partial ones across
    # namespaces, and the kernel's vxlan would carry them out unfilled to
    # our UDP socket (a real NIC fills them)
    nn_ns "$3" && ip -n "$P-$1" link set "v$2p" netns "$P-$3" name eth0 &&
        nn_x "$3" ethtool -K eth0 tx off >/dev/null &&
        nn_x "$3" ip link set eth0 address "$5" mtu 1450 &&
        nn_x "$3" ip addr add "$4/24" dev eth0 && nn_x "$3" ip link set eth0 up
}

# no_leak NS IF CMD... : IF in NS receives nothing while CMD runs (CMD's
# own result is not looked at: check it separately)
no_leak() {
    local ns=$1 ifc=$2 before after
    shift 2
    before=$(nn_rx "$ns" "$ifc")
    "$@" >/dev/null 2>&1
    after=$(nn_rx "$ns" "$ifc")
    [ "$before" = "$after" ] || { nn_log "$ns $ifc got $((after - before)) frames"; return 1; }
}

case_kernel() {
    local sock=$NN_DIR/a.sock
    nn_underlay a b || { ko kernel-setup; return; }
    # the testpmd port owns its MAC (port security)
    nn_switch a a --socket "$sock,network=1,mac=$MP" --tap ta,network=2 \
        --vxlan 10.0.0.1 --vtep 1:42:10.0.0.2 --vtep 2:43:10.0.0.2 ||
        { ko kernel-switch; return; }
    nn_endpoint ta a a2 192.168.1.1 "$MA" || { ko kernel-setup-a; return; }
    kernel_side b 42 b42 192.168.1.2 "$MB" 10.0.0.2 10.0.0.1 &&
        kernel_side b 43 b43 192.168.1.2 "$MB" 10.0.0.2 10.0.0.1 ||
        { ko kernel-setup-b; return; }
    # testpmd answers ARP and ICMP echo for any address in network 1
    tp_start pmd --lcores 0,1 --main-lcore 0 \
        --vdev "net_virtio_user0,path=$sock,queues=1,mac=$MP" -- --nb-cores=1 &&
        tp_wait_link pmd 20 && tp_cmd pmd "set fwd icmpecho" && tp_cmd pmd "start" ||
        { ko kernel-testpmd; return; }
    # network 1 traffic (a broadcast ARP first) while network 2 is idle
    check kernel-no-leak no_leak a2 ta nn_ping b42 192.168.1.10
    check kernel-ping-testpmd nn_ping b42 192.168.1.77
    check kernel-ping-a2b nn_ping a2 192.168.1.2
    check kernel-ping-b2a nn_ping b43 192.168.1.1
    check kernel-tcp-a2b nn_xfer a2 b43 192.168.1.2
    check kernel-tcp-b2a nn_xfer b43 a2 192.168.1.1
    # a remote host that takes the testpmd port's MAC: dropped and counted
    nn_x b42 ip link set eth0 address "$MP"
    nn_x b42 busybox ping -c 2 -W 1 192.168.1.99 >/dev/null 2>&1
    # a VNI switch A does not carry: dropped and counted
    kernel_side b 44 b44 192.168.9.2 "$MB" 10.0.0.2 10.0.0.1
    nn_x b44 busybox ping -c 2 -W 1 192.168.9.1 >/dev/null 2>&1
    tp_stop pmd
    check kernel-switch-clean nn_switch_stop a
    check kernel-remote-spoof-counted test "$(nn_json a '[p["drop_spoofed"] for p in j["ports"] if p["kind"] == "vxlan"][0]')" -gt 0
    check kernel-bad-vni-counted test "$(nn_json a 'j["vxlan"]["drop_vni"]')" -gt 0
    check kernel-no-bad-headers test "$(nn_json a 'j["vxlan"]["drop_flags"] + j["vxlan"]["drop_short"] + j["vxlan"]["drop_send"]')" = 0
    nn_cleanup
}

moved_to() {
    nn_fdb a | awk -v m="$MB" '$2 == m && $8 == 1 { print $10 }' | grep -qx "$1"
}

case_switch() {
    local vt="--vtep 1:100:IP --vtep 2:200:IP" c0 f
    nn_underlay a b c || { ko switch-setup; return; }
    # VTEPs of A (index + 1, as in its MAC table): 1 = B net 1, 2 = C
    # net 1, 3 = B net 2, 4 = C net 2. C carries both VNIs but has only a
    # network 1 port.
    nn_switch a a --tap ta,network=1 --tap ta2,network=2 --vxlan 10.0.0.1 \
        --vtep 1:100:10.0.0.2 --vtep 1:100:10.0.0.3 \
        --vtep 2:200:10.0.0.2 --vtep 2:200:10.0.0.3 &&
        nn_switch b b --tap tb,network=1 --tap tb2,network=2 --vxlan 10.0.0.2 \
            ${vt//IP/10.0.0.1} ${vt//IP/10.0.0.3} &&
        nn_switch c c --tap tc,network=1 --vxlan 10.0.0.3 \
            ${vt//IP/10.0.0.1} ${vt//IP/10.0.0.2} || { ko switch-start; return; }
    # networks 1 and 2 have the same MACs and addresses
    nn_endpoint ta a a1 192.168.1.1 "$MA" && nn_endpoint ta2 a a2 192.168.1.1 "$MA" &&
        nn_endpoint tb b b1 192.168.1.2 "$MB" && nn_endpoint tb2 b b2 192.168.1.2 "$MB" &&
        nn_endpoint tc c c1 192.168.1.3 "$MC" || { ko switch-setup-endpoints; return; }
    # a broadcast of network 1 reaches the third host, and no port of
    # network 2 on any host
    c0=$(nn_rx c1 tc)
    check switch-no-leak no_leak a2 ta2 no_leak b2 tb2 \
        nn_x a1 busybox ping -c 2 -W 1 192.168.1.99
    check switch-flood-third-host test "$(nn_rx c1 tc)" -gt "$c0"
    check switch-ping-net1 nn_ping a1 192.168.1.2
    check switch-ping-net2 nn_ping b2 192.168.1.1
    check switch-ping-third nn_ping c1 192.168.1.1
    check switch-tcp-net1-a2b nn_xfer a1 b1 192.168.1.2
    check switch-tcp-net1-b2a nn_xfer b1 a1 192.168.1.1
    check switch-tcp-net2 nn_xfer b2 a2 192.168.1.1
    # host B's MAC and address (network 1) move to host C
    check switch-mac-at-b moved_to 1
    nn_x b1 ip link set tb down
    nn_x c1 ip link set tc address "$MB"
    nn_x c1 ip addr flush dev tc
    nn_x c1 ip addr add 192.168.1.2/24 dev tc
    check switch-mac-moved-ping nn_ping c1 192.168.1.1
    check switch-mac-moved-fdb moved_to 2
    check switch-mac-moved-tcp nn_xfer a1 c1 192.168.1.2
    check switch-clean nn_switch_stop a
    check switch-b-clean nn_switch_stop b
    check switch-c-clean nn_switch_stop c
    f='sum(j["vxlan"][k] for k in ("drop_flags", "drop_short", "drop_vni", "drop_vtep", "drop_send"))'
    check switch-no-bad-headers test "$(nn_json a "$f")" = 0
    nn_cleanup
}

case_nic() {
    local sock=$NN_DIR/n.sock
    nn_ns a && nn_ns n1 &&
        ip link add "${P}n" type veth peer name "${P}m" &&
        ip link set "${P}n" netns "$P-a" name eth1 &&
        ip link set "${P}m" netns "$P-n1" name eth0 &&
        nn_x a ip link set eth1 up &&
        nn_x n1 ethtool -K eth0 tx off >/dev/null &&
        nn_x n1 ip link set eth0 address "$MB" &&
        nn_x n1 ip addr add 192.168.1.2/24 dev eth0 && nn_x n1 ip link set eth0 up ||
        { ko nic-setup; return; }
    nn_switch a a --socket "$sock" --tap ta --nic eth1 || { ko nic-switch; return; }
    nn_endpoint ta a a1 192.168.1.1 "$MA" || { ko nic-setup-a; return; }
    tp_start pmd --lcores 0,1 --main-lcore 0 \
        --vdev "net_virtio_user0,path=$sock,queues=1" -- --nb-cores=1 &&
        tp_wait_link pmd 20 && tp_cmd pmd "set fwd icmpecho" && tp_cmd pmd "start" ||
        { ko nic-testpmd; return; }
    check nic-ping-testpmd nn_ping n1 192.168.1.77
    tp_stop pmd
    check nic-ping nn_ping a1 192.168.1.2
    check nic-tcp-out nn_xfer a1 n1 192.168.1.2
    check nic-tcp-in nn_xfer n1 a1 192.168.1.1
    check nic-switch-clean nn_switch_stop a
    check nic-counted test "$(nn_json a '[p["rx_packets"] for p in j["ports"] if p["kind"] == "nic"][0]')" -gt 100
    check nic-no-drops test "$(nn_json a '[p["drop_rx_too_big"] + p["drop_tx_bad"] for p in j["ports"] if p["kind"] == "nic"][0]')" = 0
    nn_cleanup
}

case_trunk() {
    nn_ns a || { ko trunk-setup; return; }
    nn_switch a a --tap tt,trunk --tap t5,network=5 --tap t6,network=6 ||
        { ko trunk-switch; return; }
    nn_endpoint t5 a e5 192.168.5.1 "$MA" && nn_endpoint t6 a e6 192.168.5.1 "$MA" &&
        nn_ns tr && ip -n "$P-a" link set tt netns "$P-tr" &&
        nn_x tr ip link set tt up || { ko trunk-setup-endpoints; return; }
    # VID 5 is network 5: the reply comes back tagged 5, network 6 sees nothing
    check trunk-vid5 nn_x tr python3 "$NN_HERE/vlan.py" tt 5 "$MB" 192.168.5.2 192.168.5.1
    check trunk-no-leak no_leak e6 t6 nn_x tr python3 "$NN_HERE/vlan.py" tt 5 "$MB" \
        192.168.5.2 192.168.5.1
    check trunk-vid6 nn_x tr python3 "$NN_HERE/vlan.py" tt 6 "$MC" 192.168.5.3 192.168.5.1
    # untagged frames on a trunk (no native VLAN): dropped and counted (a
    # tagged exchange after it: the port's frames are handled in order, so
    # the untagged one has been by the time the reply comes)
    nn_x tr python3 "$NN_HERE/vlan.py" tt 0 "$MB" 192.168.5.2 192.168.5.1 --no-wait
    check trunk-vid5-again nn_x tr python3 "$NN_HERE/vlan.py" tt 5 "$MB" 192.168.5.2 192.168.5.1
    check trunk-switch-clean nn_switch_stop a
    check trunk-untagged-counted test "$(nn_json a '[p["rx_drops"] for p in j["ports"] if p["name"] == "tt"][0]')" -ge 1
    nn_cleanup
}

# A Linux VM (QEMU, TCG) on switch A's VXLAN uplink and a namespace behind
# the kernel's vxlan on host B: the guest's offloads (TSO, partial
# checksums) are cut and completed before encapsulation.
case_vm() {
    local g=${VMTEST_GUEST:-/tmp/vmtest-guest} d=$NN_DIR/vm hl wa=1 res sha
    if [ ! -f "$g/vmlinuz" ]; then
        echo "SKIP vm: no test guest in $g (tests/vm/build-guest.sh)"
        return
    fi
    mkdir -p "$d"
    nn_underlay a b || { ko vm-setup; return; }
    nn_switch a a --socket "$d/vm0.sock" --vxlan 10.0.0.1 --vtep 1:42:10.0.0.2 ||
        { ko vm-switch; return; }
    kernel_side b 42 h 10.9.0.254 "$MB" 10.0.0.2 10.0.0.1 || { ko vm-setup-b; return; }
    head -c 20971520 /dev/urandom >"$d/host-tx.bin"
    mkfifo "$d/hold"
    # the guest uploads to the host's nc (stdin a FIFO held open)
    timeout $((400 * NN_SLOW)) ip netns exec "$P-h" busybox nc -l -p 5001 <>"$d/hold" \
        >"$d/host-rx.bin" 2>"$d/nc.err" &
    hl=$!
    sh "$ROOT/tests/vm/run-vm.sh" start --guest "$g" --log "$d/vm.log" \
        --pidfile "$d/vm.pid" --sock "$d/vm0.sock" --mac 52:54:00:00:00:0a \
        --ip 10.9.0.1/24 --script "$ROOT/tests/vm/guest/tap-peer.sh" \
        --param host=10.9.0.254 --param mib=20 --param pings=10 \
        --param bytes=20971520 --timeout 300 >/dev/null || { ko vm-start; return; }
    if nn_wait 300 "guest listening" grep -qE 'listen|VMTEST-RESULT' "$d/vm.log"; then
        # the guest announces 'listen' just before its nc listens
        nn_wait 60 "host -> VM transfer" timeout $((60 * NN_SLOW)) \
            ip netns exec "$P-h" busybox nc 10.9.0.1 5002 <"$d/host-tx.bin"
    fi
    res=$(sh "$ROOT/tests/vm/run-vm.sh" wait --log "$d/vm.log" --pidfile "$d/vm.pid" \
        --timeout $((300 * NN_SLOW))) && wa=0
    kill "$hl" 2>/dev/null; wait "$hl" 2>/dev/null
    sha=$(sha256sum <"$d/host-rx.bin" | cut -d' ' -f1)
    check vm-guest-pass test "$wa" = 0
    check vm-ping-10 grep -q 'ping=10/10' <<<"$res"
    check vm-tcp-vm2host grep -q "tx_sha256=$sha" <<<"$res"
    check vm-tcp-host2vm grep -q "rx_sha256=$(sha256sum <"$d/host-tx.bin" | cut -d' ' -f1)" <<<"$res"
    check vm-switch-clean nn_switch_stop a
    check vm-no-drops test "$(nn_json a 'sum(j["vxlan"][k] for k in ("drop_too_big", "drop_bad_meta", "drop_send", "drop_flags"))')" = 0
    nn_cleanup
}

# ctl NAME CMD[,PARAMS] : a control-socket request to switch NAME (its
# socket is $NN_DIR/NAME.ctl); the reply on stdout (and in the log when
# it is an error)
# vctl NODE WORDS... : vhostctl (the operator's CLI) on NODE's control socket
vctl() {
    local n=$1; shift
    timeout $((20 * NN_SLOW)) "$BUILD/apps/vhostctl/vhostctl" -s "$NN_DIR/$n.ctl" "$@"
}
ctl() {
    local r rc
    r=$(timeout $((20 * NN_SLOW)) python3 "$ROOT/tests/ops/ctl.py" "$NN_DIR/$1.ctl" "$2")
    rc=$?
    [ "$rc" = 0 ] || nn_log "ctl $2: $r"
    echo "$r"
    return $rc
}

# the kernel host (network 1 = VNI 42 on host b) as seen from a1; with
# vtep_del'd or no uplink, a1's pings reach nothing there
vx_reach() { nn_ping a1 192.168.1.2; }
vx_silent() { no_leak b vx42 nn_x a1 busybox ping -c 2 -W 1 192.168.1.2; }

case_vtep-runtime() {
    nn_underlay a b || { ko vtep-runtime-setup; return; }
    # strict: a removed VTEP's frames are dropped, not learned again
    nn_switch a a --tap ta,network=1 --vxlan 10.0.0.1,strict \
        --ctl "$NN_DIR/a.ctl" || { ko vtep-runtime-switch; return; }
    nn_endpoint ta a a1 192.168.1.1 "$MA" &&
        kernel_side b 42 b42 192.168.1.2 "$MB" 10.0.0.2 10.0.0.1 ||
        { ko vtep-runtime-setup-b; return; }
    check vtep-runtime-none-yet vx_silent
    check vtep-runtime-add ctl a /vhost-switch/vtep_add,1:42:10.0.0.2
    check vtep-runtime-listed grep -q '"vni": 42, "vteps": \[{"ip": "10.0.0.2", "port": 4789, "kind": "flood"}' \
        <<<"$(ctl a /vhost-switch/vteps)"
    check vtep-runtime-ping vx_reach
    # The operator's words for the same: vhostctl vtep-del/-add/-show.
    check vtep-runtime-del test "$(vctl a vtep-del 1:10.0.0.2)" = "deleted VTEP 1:10.0.0.2"
    check vtep-runtime-silent vx_silent
    check vtep-runtime-readd test "$(vctl a vtep-add 1:42:10.0.0.2)" = "added VTEP 1:42:10.0.0.2"
    check vtep-runtime-show grep -qE '^ +1 +42 +10\.0\.0\.2 +4789 +flood$' <<<"$(vctl a vtep-show)"
    check vtep-runtime-ping-again vx_reach
    check vtep-runtime-refuse-vni test "$(ctl a /vhost-switch/vtep_add,1:43:10.0.0.3)" = \
        '{"error": "network 1 is VNI 42"}'
    check vtep-runtime-clean nn_switch_stop a
    check vtep-runtime-no-bad-headers test "$(nn_json a 'j["vxlan"]["drop_flags"] + j["vxlan"]["drop_short"] + j["vxlan"]["drop_send"]')" = 0
    nn_cleanup
}

case_vxlan-port-runtime() {
    nn_underlay a b || { ko vxlan-port-setup; return; }
    nn_switch a a --tap ta,network=1 --ctl "$NN_DIR/a.ctl" ||
        { ko vxlan-port-switch; return; }
    nn_endpoint ta a a1 192.168.1.1 "$MA" &&
        kernel_side b 42 b42 192.168.1.2 "$MB" 10.0.0.2 10.0.0.1 ||
        { ko vxlan-port-setup-b; return; }
    check vxlan-port-add ctl a /vhost-switch/port_add,vxlan=10.0.0.1,strict
    check vxlan-port-second-refused test "$(ctl a /vhost-switch/port_add,vxlan=10.0.0.1:4790)" = \
        '{"error": "10.0.0.1:4790: there is a VXLAN uplink already (only one)"}'
    check vxlan-port-vtep ctl a /vhost-switch/vtep_add,1:42:10.0.0.2
    check vxlan-port-ping vx_reach
    check vxlan-port-del ctl a /vhost-switch/port_del,vxlan
    check vxlan-port-gone test "$(ctl a /vhost-switch/vteps)" = '{"error": "no VXLAN uplink"}'
    check vxlan-port-silent vx_silent
    check vxlan-port-readd ctl a /vhost-switch/port_add,vxlan=10.0.0.1,strict
    check vxlan-port-starts-empty test "$(ctl a /vhost-switch/vteps)" = '[]'
    check vxlan-port-silent-empty vx_silent
    check vxlan-port-vtep-again ctl a /vhost-switch/vtep_add,1:42:10.0.0.2
    check vxlan-port-ping-again vx_reach
    check vxlan-port-clean nn_switch_stop a
    nn_cleanup
}

case_ovs() {
    if ! command -v ovs-vswitchd >/dev/null; then
        echo "SKIP ovs: ovs-vswitchd not installed (apt-get install openvswitch-switch)"
        return
    fi
    . "$NN_HERE/ovs.sh"
    ovs_case
}

for c in "${CASES[@]}"; do
    nn_log "case $c"
    "case_$c"
    # whatever a case left behind (it returns early when its set-up fails)
    tp_cleanup_all
    [ "$(type -t ovs_stop)" = function ] && ovs_stop
    [ -f "$NN_DIR/vm/vm.pid" ] && sh "$ROOT/tests/vm/run-vm.sh" kill --pidfile "$NN_DIR/vm/vm.pid"
    nn_cleanup
done
echo "test-vxlan: $PASS passed, $FAIL failed"
[ "$FAIL" = 0 ]
