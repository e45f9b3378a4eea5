#!/usr/bin/env bash
# bench/vxlan.sh [--build DIR] [--secs N]   (root; a benchmark, not a test)
#
# Throughput of vhost-switch's uplinks, hosts as network namespaces on a
# veth underlay, traffic from DPDK testpmd (txonly, virtio-user) on a vhost
# port of switch A, at 64 and 1518 bytes inner frames (destination unknown:
# flooded to the uplink):
#   vxlan-switch  A encapsulates, switch B decapsulates and delivers to a
#                 testpmd rxonly port: frames/s received by that testpmd
#   vxlan-kernel  A encapsulates, the kernel's vxlan device on host B
#                 decapsulates: frames/s the vxlan device received
#   tap / nic     A's TAP uplink or NIC uplink (AF_PACKET rings on a veth):
#                 frames/s the other end received
# Also A's own send rate (its uplink's tx_packets). Each figure is the rate
# over N seconds (default 5) after a 1 s warm-up. On a 2-core machine the
# switches and testpmd share cores: compare rows of one run, not runs.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
BUILD=$ROOT/build-gcc
SECS=5
while (($#)); do
    case $1 in
        --build) BUILD=$2; shift 2 ;;
        --secs) SECS=$2; shift 2 ;;
        *) echo "usage: $0 [--build DIR] [--secs N]"; exit 2 ;;
    esac
done
NN_HERE=$ROOT/tests/netns
NN_SWBIN=$BUILD/apps/vhost-switch/vhost-switch
NN_DIR=$(mktemp -d /tmp/bench-vxlan.XXXXXX)
. "$NN_HERE/lib.sh"
TP_NO_TRAP=1 . "$ROOT/tests/peer/lib/testpmd.sh"
TP_NO_TRAP=1 tp_init "$NN_DIR/tp"
trap 'tp_cleanup_all; nn_cleanup' EXIT

# rate NAME CMD... : CMD prints a counter; its rate over SECS seconds
rate() {
    local c0 c1 t0 t1
    c0=$("$@"); t0=$(date +%s%N)
    sleep "$SECS"
    c1=$("$@"); t1=$(date +%s%N)
    awk -v a="$c0" -v b="$c1" -v t0="$t0" -v t1="$t1" \
        'BEGIN { printf "%.3f", (b - a) / ((t1 - t0) / 1e9) / 1e6 }'
}

pmd_rx() { tp_port_stats "$1" >/dev/null && echo "${TP_STATS[rx_packets]}"; }
sysrx() { nn_x "$1" cat "/sys/class/net/$2/statistics/rx_packets"; }

# tx_start SOCK LEN : testpmd txonly into SOCK, LEN-byte frames
tx_start() {
    tp_start tx --lcores 0,1 --main-lcore 1 \
        --vdev "net_virtio_user0,path=$1,queues=1" -- --nb-cores=1 \
        --total-num-mbufs=8192 --txpkts="$2" --eth-peer=0,02:00:00:00:99:99 &&
        tp_wait_link tx 20 && tp_cmd tx "set fwd txonly" && tp_cmd tx "start"
}

row() { printf "%-14s %5s B  %8s Mfps\n" "$1" "$2" "$3"; }
# an underlay that carries 1518-byte inner frames (+50)
NN_MTU=1600

bench_vxlan_switch() {
    local len=$1 r
    nn_underlay a b
    nn_switch a a --socket "$NN_DIR/a.sock" --vxlan 10.0.0.1,mtu=1600 \
        --vtep 1:42:10.0.0.2 --cpu 1
    nn_switch b b --socket "$NN_DIR/b.sock" --vxlan 10.0.0.2,mtu=1600 \
        --vtep 1:42:10.0.0.1 --cpu 0
    # Four pollers on two cores, two each: A's worker and the receiving
    # testpmd on core 1, B's worker and the sending testpmd on core 0.
    tp_start rx --lcores 0,1 --main-lcore 0 \
        --vdev "net_virtio_user0,path=$NN_DIR/b.sock,queues=1" -- --nb-cores=1 \
        --total-num-mbufs=8192 && tp_wait_link rx 20 &&
        tp_cmd rx "set fwd rxonly" && tp_cmd rx "start"
    tx_start "$NN_DIR/a.sock" "$len"
    sleep 1
    r=$(rate pmd_rx rx)
    row vxlan-switch "$len" "$r"
    tp_stop tx; tp_stop rx
    nn_cleanup
}

bench_vxlan_kernel() {
    local len=$1 r
    nn_underlay a b
    nn_switch a a --socket "$NN_DIR/a.sock" --vxlan 10.0.0.1,mtu=1600 \
        --vtep 1:42:10.0.0.2 --cpu 1
    nn_x b ip link add vx42 type vxlan id 42 dstport 4789 local 10.0.0.2 \
        remote 10.0.0.1 dev eth0 noudpcsum
    nn_x b ip link set vx42 mtu 1550
    nn_x b ip link set vx42 up
    tx_start "$NN_DIR/a.sock" "$len"
    sleep 1
    r=$(rate sysrx b vx42)
    row vxlan-kernel "$len" "$r"
    tp_stop tx
    nn_cleanup
}

bench_uplink() { # tap|nic LEN
    local kind=$1 len=$2 r
    nn_ns a
    if [ "$kind" = tap ]; then
        nn_switch a a --socket "$NN_DIR/a.sock" --tap ta --cpu 1
        nn_endpoint ta a e 192.168.1.2 02:00:00:00:00:0e
        nn_x e ip link set ta mtu 1600
        tx_start "$NN_DIR/a.sock" "$len"; sleep 1
        r=$(rate sysrx e ta)
    else
        nn_ns e
        ip link add "${P}n" type veth peer name "${P}m"
        ip link set "${P}n" netns "$P-a" name eth1
        ip link set "${P}m" netns "$P-e" name eth0
        nn_x a ip link set eth1 mtu 1600 up; nn_x e ip link set eth0 mtu 1600 up
        nn_switch a a --socket "$NN_DIR/a.sock" --nic eth1 --cpu 1
        tx_start "$NN_DIR/a.sock" "$len"; sleep 1
        r=$(rate sysrx e eth0)
    fi
    row "$kind" "$len" "$r"
    tp_stop tx
    nn_cleanup
}

echo "vhost-switch uplinks, $SECS s per row, $(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg)"
for len in 64 1518; do
    bench_vxlan_switch "$len"
    bench_vxlan_kernel "$len"
    bench_uplink tap "$len"
    bench_uplink nic "$len"
done
