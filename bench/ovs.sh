#!/usr/bin/env bash
# bench/ovs.sh -- vhost-switch against OVS-DPDK as the L2 switch between two
# VM ports (root; a benchmark, not a test).
#
# The same peer for both: one DPDK testpmd with two virtio-user ports in
# server mode (the switch connects to each as a client, as OVS's
# dpdkvhostuserclient ports do), io forwarding on FE_CORE, seeded with 32
# bursts per port (start tx_first). Port 0 sends from MAC ..:01 to ..:02 and
# port 1 the other way, so once both MACs are learned every frame is a
# learned unicast: port 0 -> switch -> port 1 -> testpmd -> port 0 ... The
# switch forwards on BE_CORE: vhost-switch with one worker (--cpu), OVS-DPDK
# (Debian openvswitch-switch-dpdk, DPDK 22.11, userspace datapath, one
# netdev bridge, the NORMAL action: MAC learning) with pmd-cpu-mask on the
# same core. The rate is testpmd's receive rate, both ports, over WINDOW
# seconds after WARMUP; ROUNDS rounds, the two switches alternating; the
# table gives medians and the median of the per-round ratios ours/OVS.
#   bench/ovs.sh [--build DIR]      (default build; gcc debugoptimized)
# Env: SIZES ("64 1518"), ROUNDS (3), WINDOW (3), WARMUP (2), BE_CORE (0),
# FE_CORE (1). Installs openvswitch-switch-dpdk when missing (NO_INSTALL=1:
# not). OVS-DPDK runs without hugepages here (--no-huge --legacy-mem: OVS
# adds --in-memory otherwise, which --no-huge refuses).
set -u
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
BUILD=$ROOT/build
while (($#)); do
    case $1 in
        --build) BUILD=$2; shift 2 ;;
        *) echo "usage: $0 [--build DIR]" >&2; exit 2 ;;
    esac
done
: "${SIZES:=64 1518}" "${ROUNDS:=3}" "${WINDOW:=3}" "${WARMUP:=2}" "${BE_CORE:=0}" "${FE_CORE:=1}"
SW=$BUILD/apps/vhost-switch/vhost-switch
OVS_VSWITCHD=/usr/lib/openvswitch-switch-dpdk/ovs-vswitchd-dpdk
[[ $(id -u) == 0 ]] || { echo "needs root (OVS-DPDK)" >&2; exit 1; }
[[ -x $SW ]] || { echo "build first: $SW missing" >&2; exit 1; }
if [[ ! -x $OVS_VSWITCHD ]] && [[ ${NO_INSTALL:-0} != 1 ]]; then
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
        --no-install-recommends openvswitch-switch-dpdk; } >/dev/null 2>&1
fi
[[ -x $OVS_VSWITCHD ]] || { echo "no $OVS_VSWITCHD (openvswitch-switch-dpdk)" >&2; exit 1; }

# shellcheck source=../tests/peer/lib/testpmd.sh
. "$ROOT/tests/peer/lib/testpmd.sh"
TP_NO_TRAP=1
tp_init "$(mktemp -d /tmp/bench-ovs.XXXXXX)"
W=$TP_DIR
OVS_D=$W/ovs
SW_PID=""
V=(ovs-vsctl --timeout=20 --db="unix:$OVS_D/db.sock")
export OVS_RUNDIR=$OVS_D OVS_LOGDIR=$OVS_D OVS_DBDIR=$OVS_D OVS_SYSCONFDIR=$OVS_D

ovs_stop() {
    local f p i
    for f in vswitchd ovsdb; do
        p=$(cat "$OVS_D/$f.pid" 2>/dev/null) || continue
        kill -TERM "$p" 2>/dev/null
        for ((i = 0; i < 100; i++)); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$p" 2>/dev/null
        rm -f "$OVS_D/$f.pid"
    done
}
sw_stop() {
    [[ -n $SW_PID ]] || return 0
    kill -TERM "$SW_PID" 2>/dev/null
    wait "$SW_PID" 2>/dev/null
    SW_PID=""
}
cleanup() { sw_stop; ovs_stop; tp_cleanup_all 1; rm -rf "$W"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

MAC0=02:00:00:00:00:01 MAC1=02:00:00:00:00:02
# testpmd with both ports listening; its io forwarding starts once the
# switch connected both (link up), seeded with 32 bursts per port.
peer_start() { # SIZE
    local s0=$W/vm0.sock s1=$W/vm1.sock
    rm -f "$s0" "$s1"
    # --no-wait: a server-mode port holds testpmd's start until a client came
    tp_start vm --no-wait --lcores "$BE_CORE,$FE_CORE" --main-lcore "$BE_CORE" --timeout 120 \
        --vdev "net_virtio_user0,path=$s0,server=1,mac=$MAC0,queues=1,mrg_rxbuf=1,in_order=1,queue_size=256" \
        --vdev "net_virtio_user1,path=$s1,server=1,mac=$MAC1,queues=1,mrg_rxbuf=1,in_order=1,queue_size=256" \
        -- --nb-cores=1 --txpkts="$1" --eth-peer="0,$MAC1" --eth-peer="1,$MAC0" --no-lsc-interrupt
}
peer_go() {
    tp_wait_prompt vm 30 && tp_wait_link vm 20 0 && tp_wait_link vm 20 1 || return 1
    tp_cmd vm "set fwd io"
    tp_cmd_wait vm "start tx_first 32" 'testpmd> ' 5
}
# rate : testpmd's receive rate, both ports, Mpps over WINDOW.
rate() {
    local a0 a1 b0 b1 t0 t1
    sleep "$WARMUP"
    tp_port_stats vm 0 >/dev/null || { echo nan; return; }
    a0=${TP_STATS[rx_packets]} t0=${TP_STATS[t_ns]}
    tp_port_stats vm 1 >/dev/null || { echo nan; return; }
    a1=${TP_STATS[rx_packets]}
    sleep "$WINDOW"
    tp_port_stats vm 0 >/dev/null || { echo nan; return; }
    b0=${TP_STATS[rx_packets]} t1=${TP_STATS[t_ns]}
    tp_port_stats vm 1 >/dev/null || { echo nan; return; }
    b1=${TP_STATS[rx_packets]}
    tp_mpps $((a0 + a1)) $((b0 + b1)) "$t0" "$t1"
}

measure_ours() { # SIZE
    local r=nan
    peer_start "$1" || { echo nan; return; }
    taskset -c "$BE_CORE" timeout -k 2 120 "$SW" --cpu "$BE_CORE" --queues 1 \
        --socket "$W/vm0.sock,client" --socket "$W/vm1.sock,client" \
        >"$W/sw.out" 2>"$W/sw.err" &
    SW_PID=$!
    peer_go && r=$(rate)
    tp_stop vm 1; sw_stop
    echo "$r"
}

ovs_start() {
    rm -rf "$OVS_D"; mkdir -p "$OVS_D"
    ovsdb-tool create "$OVS_D/conf.db" /usr/share/openvswitch/vswitch.ovsschema &&
        ovsdb-server "$OVS_D/conf.db" --remote="punix:$OVS_D/db.sock" \
            --pidfile="$OVS_D/ovsdb.pid" --detach --log-file="$OVS_D/ovsdb.log" \
            --unixctl="$OVS_D/ovsdb.ctl" >/dev/null 2>&1 &&
        "${V[@]}" --no-wait init &&
        "${V[@]}" --no-wait set Open_vSwitch . other_config:dpdk-init=true \
            "other_config:dpdk-extra=--no-huge -m 1024 --no-pci --legacy-mem" \
            "other_config:dpdk-lcore-mask=$(printf '0x%x' $((1 << FE_CORE)))" \
            "other_config:pmd-cpu-mask=$(printf '0x%x' $((1 << BE_CORE)))" &&
        timeout 60 "$OVS_VSWITCHD" "unix:$OVS_D/db.sock" --pidfile="$OVS_D/vswitchd.pid" \
            --detach --log-file="$OVS_D/vswitchd.log" --unixctl="$OVS_D/vswitchd.ctl" \
            >/dev/null 2>&1 &&
        "${V[@]}" add-br br0 -- set bridge br0 datapath_type=netdev
}
measure_ovs() { # SIZE
    local r=nan
    peer_start "$1" || { echo nan; return; }
    if ovs_start &&
        "${V[@]}" add-port br0 vm0 -- set Interface vm0 type=dpdkvhostuserclient \
            "options:vhost-server-path=$W/vm0.sock" &&
        "${V[@]}" add-port br0 vm1 -- set Interface vm1 type=dpdkvhostuserclient \
            "options:vhost-server-path=$W/vm1.sock" && peer_go; then
        r=$(rate)
    else
        echo "OVS-DPDK did not start or connect (logs: $OVS_D)" >&2
    fi
    tp_stop vm 1; ovs_stop
    echo "$r"
}

declare -A RES=()
echo "# $(date -u +%FT%TZ) load: $(cut -d' ' -f1-3 /proc/loadavg); switch on core $BE_CORE, testpmd io on core $FE_CORE; rounds $ROUNDS, window ${WINDOW}s" >&2
for ((round = 0; round < ROUNDS; round++)); do
    for size in $SIZES; do
        o=$(measure_ours "$size"); d=$(measure_ovs "$size")
        echo "raw $size ours $o ovs $d" >&2
        RES[$size/ours]="${RES[$size/ours]:-} $o"
        RES[$size/ovs]="${RES[$size/ovs]:-} $d"
    done
done
median() { printf '%s\n' "$@" | grep -v nan | sort -g | awk '{a[n++]=$1} END {
    if (!n) { print "nan"; exit } print (n % 2 ? a[int(n/2)] : (a[n/2-1] + a[n/2]) / 2) }'; }
printf '%-6s %14s %14s %7s\n' size "ours Mpps" "OVS-DPDK Mpps" ratio
for size in $SIZES; do
    # shellcheck disable=SC2086
    o=$(median ${RES[$size/ours]}); d=$(median ${RES[$size/ovs]})
    ratio=$(awk -v o="${RES[$size/ours]}" -v d="${RES[$size/ovs]}" 'BEGIN {
        n = split(o, a, " "); split(d, b, " "); k = 0
        for (i = 1; i <= n; i++) if (a[i] != "nan" && b[i] != "nan" && b[i] > 0) r[k++] = a[i] / b[i]
        if (!k) { print "nan"; exit }
        for (i = 0; i < k; i++) for (j = i + 1; j < k; j++) if (r[j] < r[i]) { t = r[i]; r[i] = r[j]; r[j] = t }
        printf "%.2f", (k % 2 ? r[int(k / 2)] : (r[k / 2 - 1] + r[k / 2]) / 2) }')
    printf '%-6s %14s %14s %7s\n' "$size" "$o" "$d" "$ratio"
done
