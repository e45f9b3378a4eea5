#!/usr/bin/env bash
# tests/peer/lib/selftest.sh -- prove testpmd.sh with DPDK talking to itself
# (testpmd net_vhost <-> testpmd net_virtio_user).
#
#   tests/peer/lib/selftest.sh        lifecycle checks + full matrix (~4 min)
#   tests/peer/lib/selftest.sh -q     lifecycle checks + reduced matrix (~1.5 min)
#   tests/peer/lib/selftest.sh -l     lifecycle checks only (~40 s)
#
# Lifecycle checks: virtio-user client without a server fails cleanly; virtio-
# user server=1 + vhost client=1; back-end quits and comes back (both roles);
# `stop` forward statistics agree with port counters; nothing left running.
# Matrix: {g2h,h2g,loop} x {64,1518} x mrg_rxbuf {0,1} x packed_vq {0,1} x
# queue_size {256,1024}, each row a short window (bench/dpdk_baseline.sh run_row);
# a row fails if it moved no packets or packet conservation is violated (see
# bench/dpdk_baseline.sh); rates of the two sides differing by > 20 % only warn.
# Exit status: number of failed checks (0 = all good), capped at 100.
set -u
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# bench script provides run_row and the dpdk back-end; it sources testpmd.sh
. "$HERE/../../../bench/dpdk_baseline.sh"

MODE=full
case ${1:-} in -q) MODE=quick ;; -l) MODE=life ;; esac
ST_DIR=/tmp/tp-selftest.$$
tp_init "$ST_DIR"
BENCH_DIR=$ST_DIR
FAILS=0
ok()   { echo "PASS $*"; }
bad()  { echo "FAIL $*"; FAILS=$((FAILS + 1)); }
check() { local what=$1; shift; if "$@"; then ok "$what"; else bad "$what"; fi; }
ms_since() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }
# be_rx_above N : the vhost side's rx_packets is above N (a condition for
# tp_wait_until; leaves the count in RX).
be_rx_above() { tp_port_stats be >/dev/null && RX=${TP_STATS[rx_packets]:-0} && ((RX > $1)); }
# Waits are on conditions (tp_wait_until); the remaining sleeps are
# durations: a counter must stay still for 0.5 s to count as frozen, and a
# blocked probe must show no prompt for 1 s.
gt() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0 > b + 0) }'; }

lifecycle() {
    local S=$ST_DIR/life.sock t a b
    rm -f "$S"
    echo "== virtio-user (client) started with no server socket"
    if tp_start fe --main-lcore 1 --timeout 60 --vdev "net_virtio_user0,path=$S,queues=1" 2>/dev/null; then
        bad "client without server should have no port"
    else ok "client without server: probe fails, tp_start reports it"; fi
    tp_stop fe 2

    echo "== default roles: vhost server (started first), virtio-user client"
    t=$(date +%s%N)
    check "vhost server start" tp_start be --main-lcore 0 --timeout 90 \
        --vdev "net_vhost0,iface=$S,queues=1" -- --nb-cores=1 --forward-mode=rxonly
    echo "   vhost testpmd prompt after $(ms_since "$t") ms"
    tp_cmd_wait be start 'testpmd> '
    t=$(date +%s%N)
    check "virtio-user client start" tp_start fe --main-lcore 1 --timeout 90 \
        --vdev "net_virtio_user0,path=$S,queues=1" -- --nb-cores=1 --forward-mode=txonly --txpkts=64
    echo "   virtio-user prompt after $(ms_since "$t") ms"
    check "virtio-user link up" tp_wait_link fe 10
    check "vhost link up" tp_wait_link be 10
    echo "   both links up $(ms_since "$t") ms after virtio-user start"
    tp_cmd_wait fe start 'testpmd> '
    RX=0; tp_wait_until 10 "vhost rx" be_rx_above 0; a=$RX
    check "vhost receives (rx_packets=$a)" gt "$a" 0
    echo "== front-end quits first (stop+quit), back-end keeps running"
    tp_stop fe 5
    tp_wait_until 10 "vhost link down" eval 'tp_port_info be && grep -q "Link status: down" <<<"$TP_OUT"'
    tp_port_stats be >/dev/null; a=${TP_STATS[rx_packets]}
    sleep 0.5
    tp_port_stats be >/dev/null; b=${TP_STATS[rx_packets]}
    check "vhost counters frozen after peer left ($a == $b)" test "$a" = "$b"
    tp_port_info be; grep -q 'Link status: down' <<<"$TP_OUT" && ok "vhost link down after peer left" || bad "vhost link down after peer left"
    echo "== front-end comes back to the same vhost server"
    check "virtio-user reconnects" tp_start fe --main-lcore 1 --timeout 60 \
        --vdev "net_virtio_user0,path=$S,queues=1" -- --nb-cores=1 --forward-mode=txonly --txpkts=64
    tp_wait_link be 10; tp_cmd_wait fe start 'testpmd> '
    RX=0; tp_wait_until 10 "vhost rx above $b" be_rx_above "$b"; a=$RX
    check "vhost counts again ($a > $b, counters not reset by reconnect)" gt "$a" "$b"
    echo "== stop: forward statistics vs port counters"
    tp_fwd_stop fe >/dev/null; local fetx=${TP_FWD[tx_packets]:-x}
    tp_port_stats fe >/dev/null
    check "fe: fwd TX-packets ($fetx) == port tx_packets (${TP_STATS[tx_packets]})" test "$fetx" = "${TP_STATS[tx_packets]}"
    tp_fwd_stop be >/dev/null; local berx=${TP_FWD[rx_packets]:-x}
    tp_port_stats be >/dev/null
    echo "   vhost fwd RX-packets=$berx port rx_packets=${TP_STATS[rx_packets]} (vhost forwarding ran, unstopped, across both connections)"
    check "be: fwd stats parsed" gt "$berx" 0
    echo "== back-end quits first"
    tp_port_stats be >/dev/null; a=${TP_STATS[rx_packets]:-0}
    tp_cmd_wait be start 'testpmd> '; tp_cmd_wait fe start 'testpmd> '
    tp_wait_until 10 "traffic before the back-end quits" be_rx_above "$a"
    tp_stop be 5
    tp_wait_until 10 "virtio-user link down" eval 'tp_port_info fe && grep -q "Link status: down" <<<"$TP_OUT"'
    tp_port_stats fe >/dev/null; a=${TP_STATS[tx_packets]}
    sleep 0.5
    tp_port_stats fe >/dev/null; b=${TP_STATS[tx_packets]}
    check "virtio-user tx frozen after back-end left ($a == $b)" test "$a" = "$b"
    check "virtio-user still alive (no crash)" tp_alive fe
    echo "== vhost server comes back: does the virtio-user client reconnect?"
    tp_start be --main-lcore 0 --timeout 60 --vdev "net_vhost0,iface=$S,queues=1" -- --nb-cores=1 --forward-mode=rxonly
    tp_cmd_wait be start 'testpmd> '
    if tp_wait_link fe 3; then echo "   NOTE: virtio-user client reconnected"; else echo "   NOTE: virtio-user client (server=0) does not reconnect: restart it too"; fi
    tp_stop fe 5; tp_stop be 5

    echo "== virtio-user server=1 (started first, no prompt until a client comes), vhost client=1"
    rm -f "$S"
    t=$(date +%s%N)
    tp_start fe --no-wait --main-lcore 1 --timeout 60 \
        --vdev "net_virtio_user0,path=$S,queues=1,server=1" -- --nb-cores=1 --forward-mode=txonly --txpkts=64
    sleep 1
    if tp_wait_log fe 'testpmd> ' 0 0; then bad "server=1 virtio-user should block in probe"; else ok "server=1 virtio-user blocks in probe until a client connects"; fi
    check "vhost client=1 start" tp_start be --main-lcore 0 --timeout 60 \
        --vdev "net_vhost0,iface=$S,queues=1,client=1" -- --nb-cores=1 --forward-mode=rxonly
    check "virtio-user prompt after client connected" tp_wait_prompt fe 10
    tp_cmd_wait be start 'testpmd> '
    check "link up (server=1/client=1)" tp_wait_link fe 10
    tp_cmd_wait fe start 'testpmd> '
    RX=0; tp_wait_until 10 "vhost rx" be_rx_above 0; a=$RX
    check "traffic (server=1/client=1): $a" gt "$a" 0
    echo "== vhost client quits and comes back (virtio-user server keeps listening)"
    tp_stop be 5
    check "vhost client=1 restart" tp_start be --main-lcore 0 --timeout 60 \
        --vdev "net_vhost0,iface=$S,queues=1,client=1" -- --nb-cores=1 --forward-mode=rxonly
    tp_cmd_wait be start 'testpmd> '
    tp_wait_link be 10
    RX=0; tp_wait_until 10 "vhost rx" be_rx_above 0; a=$RX
    check "traffic after vhost reconnect: $a" gt "$a" 0
    tp_stop fe 5; tp_stop be 5
    rm -f "$S"
}

matrix() {
    local mrgs="0 1" packeds="0 1" qss="256 1024" mrg packed qs out row len
    [[ $MODE == quick ]] && { mrgs="0 1"; packeds="0 1"; qss="256"; }
    WARMUP=0.5 WINDOW=1 SAMPLE=1 ROW_TIMEOUT=60
    printf "%-34s %-5s %6s %9s %9s %9s %9s %9s %4s %7s  %s\n" config row bytes Mpps med1s min1s max1s xchk bg% cpu% status
    for mrg in $mrgs; do for packed in $packeds; do for qs in $qss; do
        FE_VDEV_OPTS="queues=1,mrg_rxbuf=$mrg,in_order=1,packed_vq=$packed,queue_size=$qs"
        for row in g2h h2g loop; do for len in 64 1518; do
            # not $(run_row ..): in a subshell the trap would not know its instances
            run_row "$row" "$len" >"$ST_DIR/row.out"; local rc=$?
            out=$(cat "$ST_DIR/row.out")
            printf '%-34s %s\n' "mrg_rxbuf=$mrg,packed=$packed,qs=$qs" "$out"
            # columns: row len mpps med min max xchk status
            set -- $out
            if [[ $rc != 0 ]]; then FAILS=$((FAILS + 1)); echo "FAIL row above";
            elif ! awk -v m="$3" -v x="$7" 'BEGIN { d = m - x; if (d < 0) d = -d; exit !(d <= 0.2 * m) }'; then
                echo "WARN row above: the two sides' rates differ by > 20 % (machine busy?)"
            fi
        done; done
    done; done; done
}

echo "# selftest ($MODE); load average $(cut -d' ' -f1-3 /proc/loadavg); logs in $ST_DIR"
lifecycle
[[ $MODE != life ]] && matrix
tp_cleanup_all
left=$(pgrep -f -- "--file-prefix=tp_[a-z]*_$$" | wc -l)
check "no testpmd of ours left running ($left)" test "$left" = 0
check "no /var/run/dpdk/tp_*_$$ left" test -z "$(ls -d /var/run/dpdk/tp_*_$$ 2>/dev/null)"
echo "# $FAILS failure(s)"
[[ $FAILS == 0 ]] && rm -rf "$ST_DIR"
exit $(( FAILS > 100 ? 100 : FAILS ))
