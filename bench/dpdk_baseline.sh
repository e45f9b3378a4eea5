#!/usr/bin/env bash
# bench/dpdk_baseline.sh -- throughput baseline: a vhost-user back-end against
# DPDK testpmd net_virtio_user (the "guest" side), one forwarding core each.
#
# Rows (each at every size in SIZES):
#   g2h   guest->host : virtio-user txonly  -> back-end rxonly  (rate = back-end RX)
#   h2g   host->guest : back-end txonly     -> virtio-user rxonly (rate = front-end RX)
#   loop  loopback    : back-end LOOP_MODE <-> virtio-user LOOP_MODE, primed with
#                       `start tx_first TX_FIRST` on the front-end (rate = back-end RX)
# Each row: start back-end, start front-end, wait for link, WARMUP seconds, then
# read counters every SAMPLE seconds for WINDOW seconds; Mpps = counter delta over
# the window / elapsed wall time (warm-up excluded). "med1s/min1s/max1s" are the
# per-sample rates; "xchk" is the same rate from the other side's counter (read
# some ms apart, so it differs a little, a lot on a loaded machine). Then the
# front-end stops and a timing-independent packet-conservation check runs
# (status "ok", or "CONSERVATION ..." with the four cumulative counters).
# "bg%" is the machine's non-niced CPU busy % (other people's load) in the 0.5 s before
# the row started; on a shared box, only trust rows with a low bg%.
# WAIT_IDLE=SEC waits up to SEC s before each row for bg% < IDLE_PCT (15).
# "cpu%" = back-end/front-end process CPU time over the window as % of one core:
# ~100 each when undisturbed (the forwarding lcore spins; other threads sleep);
# well below 100 means someone else got our core during the window.
#
# The back-end is pluggable: BACKEND=dpdk (testpmd net_vhost, the baseline) is
# implemented here. To add one, define NAME_start_backend MODE PKTLEN SOCK,
# NAME_backend_counters, NAME_stop_backend (contract below) and run BACKEND=NAME.
#
# Usage: bench/dpdk_baseline.sh [-q]     (-q: quick, shorter windows; ~75 s normally)
# Env:   SIZES="64 1518" ROWS="g2h h2g loop" WARMUP=2 WINDOW=4 SAMPLE=1
#        FE_VDEV_OPTS="queues=1,mrg_rxbuf=1,in_order=1,packed_vq=0,queue_size=256"
#          (virtio-user's and QEMU's default ring size; with 1024, g2h was lower in
#          the runs here: 64B ~13 vs up to ~34 Mpps, 1518B ~2.5 vs up to ~20 Mpps;
#          not confirmed on an idle machine)
#        FE_EXTRA_ARGS="--rxq=2 --txq=2" (more testpmd arguments of the front-end)
#        BURST=32 LOOP_MODE=io TX_FIRST=32 BE_CORE=1 FE_CORE=0 BENCH_DIR=/tmp/bench.$$
#        WAIT_IDLE=0 IDLE_PCT=15
#        TP_VERBOSE=1 (trace every testpmd command)
# Output: a table on stdout; logs of every testpmd in BENCH_DIR (kept only on failure
#        unless KEEP_LOGS=1). Exit status 1 if any row measured nothing.
set -u
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../tests/peer/lib/testpmd.sh
. "$HERE/../tests/peer/lib/testpmd.sh"

: "${SIZES:=64 1518}" "${ROWS:=g2h h2g loop}"
: "${WARMUP:=2}" "${WINDOW:=4}" "${SAMPLE:=1}"
: "${FE_VDEV_OPTS:=queues=1,mrg_rxbuf=1,in_order=1,packed_vq=0,queue_size=256}"
: "${BURST:=32}" "${LOOP_MODE:=io}" "${TX_FIRST:=32}"
: "${BE_CORE:=1}" "${FE_CORE:=0}"      # forwarding cores (must differ)
: "${BACKEND:=dpdk}" "${BENCH_DIR:=/tmp/bench.$$}" "${KEEP_LOGS:=0}"
[[ "${1:-}" == -q ]] && { WARMUP=1; WINDOW=2; }
ROW_TIMEOUT=$((WARMUP + WINDOW + 40))   # hard life time of every process of a row

# the other core of a 2-core box hosts testpmd's (sleeping) main lcore
other_core() { [[ $1 == 0 ]] && echo 1 || echo 0; }

# ---------------------------------------------------------------------------
# Back-end contract (BACKEND=NAME provides NAME_start_backend etc.):
#   start_backend MODE PKTLEN SOCK
#       MODE: rxonly | txonly | io | mac. Start the back-end listening on SOCK
#       (vhost-user server), forwarding on core BE_CORE, and return once SOCK
#       accepts connections. It must start moving packets as soon as a front-end
#       is ready, without further commands (txonly: PKTLEN-byte frames).
#   backend_counters
#       Print "RX_PACKETS TX_PACKETS T_NS": cumulative packets received from /
#       sent to the guest on the single port, and the wall-clock time (ns,
#       date +%s%N) of the reading. Called while traffic runs.
#   stop_backend
#       Stop it for good (bounded in time, by PID) and clean up.
# ---------------------------------------------------------------------------
start_backend()    { "${BACKEND}_start_backend" "$@"; }
backend_counters() { "${BACKEND}_backend_counters"; }
stop_backend()     { "${BACKEND}_stop_backend"; }
# optional: NAME_backend_pid prints the back-end's pid (for the cpu% column)
backend_pid()      { declare -F "${BACKEND}_backend_pid" >/dev/null && "${BACKEND}_backend_pid"; }

# --- BACKEND=dpdk: testpmd net_vhost -----------------------------------------
dpdk_start_backend() {
    local mode=$1 len=$2 sock=$3
    tp_start be --lcores 0,1 --main-lcore "$(other_core "$BE_CORE")" --timeout "$ROW_TIMEOUT" \
        --vdev "net_vhost0,iface=$sock,queues=1" -- \
        --nb-cores=1 --burst="$BURST" --txpkts="$len" --forward-mode="$mode" || return 1
    # forwarding may start before the guest connects: rx returns 0, tx drops
    tp_cmd_wait be "start" 'testpmd> ' 10
}
dpdk_backend_counters() {
    tp_port_stats be >/dev/null || return 1
    echo "${TP_STATS[rx_packets]} ${TP_STATS[tx_packets]} ${TP_STATS[t_ns]}"
}
dpdk_stop_backend() { tp_stop be 5; }
dpdk_backend_pid() { echo "${TP_TPID[be]:-}"; }

# cpu_ticks PID : utime+stime of all threads of PID, in clock ticks (or 0)
cpu_ticks() { [[ -n "${1:-}" ]] && awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }

# --- front-end: always testpmd net_virtio_user -------------------------------
# start_frontend MODE PKTLEN SOCK : connect to SOCK (client), wait for link up.
# Forwarding is started separately (frontend_go) so that tx_first can be used.
start_frontend() {
    local mode=$1 len=$2 sock=$3
    tp_start fe --lcores 0,1 --main-lcore "$(other_core "$FE_CORE")" --timeout "$ROW_TIMEOUT" \
        --vdev "net_virtio_user0,path=$sock,$FE_VDEV_OPTS" -- \
        --nb-cores=1 --burst="$BURST" --txpkts="$len" --forward-mode="$mode" \
        ${FE_EXTRA_ARGS:-} || return 1
    tp_wait_link fe 10 || { tp_err "front-end link did not come up"; return 1; }
}
# frontend_go [tx_first N] : start forwarding on the front-end
frontend_go() {
    if [[ "${1:-}" == tx_first ]]; then tp_cmd_wait fe "start tx_first $2" 'testpmd> ' 10
    else tp_cmd_wait fe "start" 'testpmd> ' 10; fi
}
frontend_counters() {
    tp_port_stats fe >/dev/null || return 1
    echo "${TP_STATS[rx_packets]} ${TP_STATS[tx_packets]} ${TP_STATS[t_ns]}"
}
stop_frontend() { tp_stop fe 5; }

# ---------------------------------------------------------------------------
# cpu_busy_pct [SEC=0.5] : whole-machine CPU busy % over SEC (from /proc/stat),
# not counting niced time: other sessions run their spinners at nice 19, which
# takes only ~1.5 % of a core from a nice-0 testpmd.
cpu_busy_pct() {
    local a b
    a=$(awk '/^cpu / {print $2+$4+$7+$8+$9, $3+$5+$6}' /proc/stat)
    sleep "${1:-0.5}"
    b=$(awk '/^cpu / {print $2+$4+$7+$8+$9, $3+$5+$6}' /proc/stat)
    awk -v a="$a" -v b="$b" 'BEGIN { split(a, x, " "); split(b, y, " ");
        busy = y[1] - x[1]; idle = y[2] - x[2];
        printf "%d", (busy + idle > 0) ? 100 * busy / (busy + idle) : 0 }'
}

# wait_idle : with WAIT_IDLE=SEC, wait up to SEC seconds until the machine is
# below IDLE_PCT (default 15) % busy; prints the last busy % measured.
wait_idle() {
    local end=$((SECONDS + ${WAIT_IDLE:-0})) bg
    while :; do
        bg=$(cpu_busy_pct 0.5)
        (( bg < ${IDLE_PCT:-15} || SECONDS >= end )) && break
    done
    echo "$bg"
}

# run_row ROW PKTLEN : one measurement; prints one table line; returns 1 if the
# measured rate is zero / the row failed.
run_row() {
    local row=$1 len=$2 sock="$BENCH_DIR/vhost-$row-$len.sock"
    local be_mode fe_mode go=() prim sec   # prim/sec: which counter is the rate
    case $row in
        g2h)  be_mode=rxonly; fe_mode=txonly; prim=be_rx; sec=fe_tx ;;
        h2g)  be_mode=txonly; fe_mode=rxonly; prim=fe_rx; sec=be_tx ;;
        loop) be_mode=$LOOP_MODE; fe_mode=$LOOP_MODE; go=(tx_first "$TX_FIRST"); prim=be_rx; sec=fe_rx ;;
        *) tp_err "unknown row $row"; return 1 ;;
    esac
    rm -f "$sock"
    local fail="" bg
    bg=$(wait_idle)        # busy % of the machine without us, just before the row
    start_backend "$be_mode" "$len" "$sock" || fail="backend start"
    [[ -z "$fail" ]] && { start_frontend "$fe_mode" "$len" "$sock" || fail="frontend start"; }
    [[ -z "$fail" ]] && { frontend_go "${go[@]}" || fail="frontend go"; }
    local -a samples=() ; local b0 f0 b f rates=() i n bpid="" fpid="" bc0=0 fc0=0 w0=0
    if [[ -z "$fail" ]]; then
        sleep "$WARMUP"
        bpid=$(backend_pid); fpid=${TP_TPID[fe]:-}
        bc0=$(cpu_ticks "$bpid"); fc0=$(cpu_ticks "$fpid"); w0=$(tp_now_ns)
        b0=($(backend_counters)) f0=($(frontend_counters))
        local pb=("${b0[@]}") pf=("${f0[@]}")
        n=$(awk -v w="$WINDOW" -v s="$SAMPLE" 'BEGIN{printf "%d", w/s + 0.5}')
        for ((i = 0; i < n; i++)); do
            sleep "$SAMPLE"
            b=($(backend_counters)) f=($(frontend_counters))
            case $prim in
                be_rx) rates+=("$(tp_mpps "${pb[0]}" "${b[0]}" "${pb[2]}" "${b[2]}")") ;;
                fe_rx) rates+=("$(tp_mpps "${pf[0]}" "${f[0]}" "${pf[2]}" "${f[2]}")") ;;
            esac
            pb=("${b[@]}") pf=("${f[@]}")
        done
    fi
    local mpps=nan xchk=nan cpu="-/-"
    if [[ -z "$fail" ]]; then
        local hz w1; hz=$(getconf CLK_TCK); w1=$(tp_now_ns)
        cpu=$(awk -v b0="$bc0" -v b1="$(cpu_ticks "$bpid")" -v f0="$fc0" -v f1="$(cpu_ticks "$fpid")" \
            -v dt="$(( w1 - w0 ))" -v hz="$hz" -v hb="${bpid:+1}" 'BEGIN {
            s = dt / 1e9 * hz; printf "%s/%d", (hb ? sprintf("%d", 100 * (b1 - b0) / s) : "-"), 100 * (f1 - f0) / s }')
    fi
    if [[ -z "$fail" && ${#b[@]} -eq 3 && ${#f[@]} -eq 3 ]]; then
        case $prim in
            be_rx) mpps=$(tp_mpps "${b0[0]}" "${b[0]}" "${b0[2]}" "${b[2]}") ;;
            fe_rx) mpps=$(tp_mpps "${f0[0]}" "${f[0]}" "${f0[2]}" "${f[2]}") ;;
        esac
        case $sec in
            fe_tx) xchk=$(tp_mpps "${f0[1]}" "${f[1]}" "${f0[2]}" "${f[2]}") ;;
            be_tx) xchk=$(tp_mpps "${b0[1]}" "${b[1]}" "${b0[2]}" "${b[2]}") ;;
            fe_rx) xchk=$(tp_mpps "${f0[0]}" "${f[0]}" "${f0[2]}" "${f[2]}") ;;
        esac
        # Packet conservation (timing-independent): stop the front-end's
        # forwarding, let the back-end drain, compare cumulative counters.
        #  g2h : front-end TX == back-end RX (exact)
        #  h2g : 0 <= back-end TX - front-end RX <= 2*queue_size (left in the
        #        guest's RX ring, which nobody drains any more; seen: exactly
        #        queue_size for 128 and 1024, but 512 for queue_size=256)
        #  loop: both of the above
        tp_cmd_wait fe stop '(Done\.|not started)' 10 >/dev/null
        sleep 0.5
        b=($(backend_counters)) f=($(frontend_counters))
        local qs nq d1=0 d2=0
        qs=$(sed -n 's/.*queue_size=\([0-9]*\).*/\1/p' <<<"$FE_VDEV_OPTS"); qs=${qs:-256}
        # every RX queue of the front-end may hold some
        nq=$(sed -n 's/.*queues=\([0-9]*\).*/\1/p' <<<"$FE_VDEV_OPTS"); qs=$((qs * ${nq:-1}))
        case $row in
            g2h)  d1=$(( f[1] - b[0] )) ;;
            h2g)  d2=$(( b[1] - f[0] )) ;;
            loop) d1=$(( f[1] - b[0] )); d2=$(( b[1] - f[0] )) ;;
        esac
        if (( d1 != 0 || d2 < 0 || d2 > 2 * qs )); then
            fail="CONSERVATION fe_tx=${f[1]} be_rx=${b[0]} be_tx=${b[1]} fe_rx=${f[0]}"
        fi
    fi
    stop_frontend; stop_backend
    rm -f "$sock"
    # keep per-row logs (instance names are reused by every row)
    local n2
    for n2 in be fe; do
        [[ -f "$TP_DIR/$n2.log" ]] && mv -f "$TP_DIR/$n2.log" "$TP_DIR/$row-$len-$n2.log"
    done
    local stats
    stats=$(printf '%s\n' "${rates[@]:-}" | sort -g | awk 'NF {a[n++]=$1} END {
        if (!n) { print "nan nan nan"; exit }
        printf "%.3f %.3f %.3f", (n % 2 ? a[int(n/2)] : (a[n/2-1] + a[n/2]) / 2), a[0], a[n-1] }')
    printf '%-5s %6s %9s %9s %9s %9s %9s %4s %7s  %s\n' "$row" "$len" "$mpps" $stats "$xchk" "$bg" "$cpu" "${fail:-ok}"
    ROW_RESULTS+=("$row $len $mpps")
    [[ -z "$fail" ]] && awk -v m="$mpps" 'BEGIN { exit !(m + 0 > 0) }'
}

main() {
    tp_init "$BENCH_DIR"
    ROW_RESULTS=()
    local t_start=$SECONDS rc=0 row len
    echo "# vhost-user baseline: back-end=$BACKEND ($( [[ $BACKEND == dpdk ]] && echo 'testpmd net_vhost' )), front-end=testpmd net_virtio_user"
    echo "# front-end vdev: $FE_VDEV_OPTS; burst=$BURST; loop mode=$LOOP_MODE tx_first=$TX_FIRST"
    echo "# cores: back-end fwd $BE_CORE, front-end fwd $FE_CORE; warm-up ${WARMUP}s, window ${WINDOW}s (samples of ${SAMPLE}s)"
    echo "# $(uname -r); $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'); load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
    local busy
    busy=$(ps -eo pid=,pcpu=,comm= --sort=-pcpu | awk '$2 > 20 {printf "%s(%s%%) ", $3, $2}')
    [[ -n "$busy" ]] && echo "# WARNING: other busy processes before start (figures will be low/noisy): $busy"
    printf '%-5s %6s %9s %9s %9s %9s %9s %4s %7s  %s\n' row bytes Mpps med1s min1s max1s xchk bg% cpu% status
    for row in $ROWS; do
        for len in $SIZES; do
            run_row "$row" "$len" || rc=1
        done
    done
    echo "# took $((SECONDS - t_start))s; load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
    tp_cleanup_all
    if [[ $rc == 0 && $KEEP_LOGS != 1 ]]; then rm -rf "$BENCH_DIR"; else echo "# logs kept in $BENCH_DIR"; fi
    return $rc
}

[[ "${BASH_SOURCE[0]}" == "$0" ]] && main "$@"
