# shellcheck shell=bash
# tests/netns/ovs.sh -- the "ovs" case of test-vxlan.sh: OVS's userspace
# datapath (ovs-vswitchd --disable-system, datapath_type=netdev; no kernel
# module) in host B's namespace with a vxlan port (VNI 42) as the remote end
# of vhost-switch's VXLAN uplink on host A. OVS userspace tunnelling wants
# the underlay address on an OVS bridge (br-phy, holding eth0); tenants hang
# off br-int. ovsdb-server and ovs-vswitchd run with a private run
# directory and are stopped by their pids.

OVS_D=""

ovs_stop() {
    local f
    [ -n "$OVS_D" ] || return 0
    for f in vswitchd ovsdb; do
        [ -f "$OVS_D/$f.pid" ] && kill -TERM "$(cat "$OVS_D/$f.pid")" 2>/dev/null
    done
    for f in vswitchd ovsdb; do
        [ -f "$OVS_D/$f.pid" ] && nn_wait 10 "$f exit" sh -c "! kill -0 $(cat "$OVS_D/$f.pid")"
    done
    OVS_D=""
}

ovs_case() {
    local v
    OVS_D=$NN_DIR/ovs
    mkdir -p "$OVS_D"
    export OVS_RUNDIR=$OVS_D OVS_LOGDIR=$OVS_D OVS_DBDIR=$OVS_D OVS_SYSCONFDIR=$OVS_D
    v="ovs-vsctl --timeout=20 --db=unix:$OVS_D/db.sock"
    nn_underlay a b || { ko ovs-setup; return; }
    nn_x b ip link set eth0 up
    nn_x b ip addr flush dev eth0
    ovsdb-tool create "$OVS_D/conf.db" /usr/share/openvswitch/vswitch.ovsschema &&
        nn_x b ovsdb-server "$OVS_D/conf.db" --remote="punix:$OVS_D/db.sock" \
            --pidfile="$OVS_D/ovsdb.pid" --detach --log-file="$OVS_D/ovsdb.log" \
            --unixctl="$OVS_D/ovsdb.ctl" 2>>"$OVS_D/start.log" &&
        $v --no-wait init 2>>"$OVS_D/start.log" &&
        nn_x b ovs-vswitchd "unix:$OVS_D/db.sock" --disable-system \
            --pidfile="$OVS_D/vswitchd.pid" --detach --log-file="$OVS_D/vswitchd.log" \
            --unixctl="$OVS_D/vswitchd.ctl" 2>>"$OVS_D/start.log" ||
        { echo "SKIP ovs: ovs-vswitchd does not start here (see $OVS_D)"; ovs_stop; nn_cleanup; return; }
    $v add-br br-phy -- set bridge br-phy datapath_type=netdev -- add-port br-phy eth0 &&
        nn_x b ip addr add 10.0.0.2/24 dev br-phy && nn_x b ip link set br-phy up &&
        $v add-br br-int -- set bridge br-int datapath_type=netdev \
            -- add-port br-int vx0 -- set interface vx0 type=vxlan \
            options:remote_ip=10.0.0.1 options:key=42 &&
        nn_x b ip link add v1 type veth peer name v1p && nn_x b ip link set v1 up &&
        $v add-port br-int v1 && nn_ns b1 &&
        ip -n "$P-b" link set v1p netns "$P-b1" name eth0 &&
        nn_x b1 ethtool -K eth0 tx off >/dev/null &&
        nn_x b1 ip link set eth0 address "$MB" mtu 1450 &&
        nn_x b1 ip addr add 192.168.1.2/24 dev eth0 && nn_x b1 ip link set eth0 up ||
        { ko ovs-setup-b "(logs: $OVS_D)"; ovs_stop; nn_cleanup; return; }
    nn_switch a a --tap ta --vxlan 10.0.0.1 --vtep 1:42:10.0.0.2 &&
        nn_endpoint ta a a1 192.168.1.1 "$MA" || { ko ovs-switch; ovs_stop; nn_cleanup; return; }
    check ovs-ping-a2b nn_ping a1 192.168.1.2
    check ovs-ping-b2a nn_ping b1 192.168.1.1
    check ovs-tcp-a2b nn_xfer a1 b1 192.168.1.2
    check ovs-tcp-b2a nn_xfer b1 a1 192.168.1.1
    ovs_stop
    check ovs-switch-clean nn_switch_stop a
    check ovs-no-bad-headers test "$(nn_json a 'sum(j["vxlan"][k] for k in ("drop_flags", "drop_short", "drop_vni", "drop_send"))')" = 0
    nn_cleanup
}
