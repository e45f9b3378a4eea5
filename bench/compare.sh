#!/usr/bin/env bash
# bench/compare.sh [-q] -- libvhost (vhost-fwd) against DPDK's own vhost-user
# back-end (testpmd net_vhost), same front-end (testpmd net_virtio_user),
# same pinning (back-end forwards on core BE_CORE, front-end on FE_CORE).
#
# For each row (g2h, h2g, loop) and size (64, 1518) the two back-ends are
# measured alternately ROUNDS times (default 3) and the median of each is
# kept; the table shows Mpps for both and the ratio ours/DPDK. Measurement
# method, per-row columns and traps: bench/dpdk_baseline.sh.
#
# Benchmarks are not tests: the figures move with the machine's load (the
# bg% column of the raw lines says how busy it was). Run it on a quiet box:
#   ninja -C build && bench/compare.sh
# RINGS="split packed" (default both): each row with split rings and with
# packed rings (virtio-user packed_vq=0 / packed_vq=1, for both back-ends).
# Env: ROUNDS=3, RINGS, SIZES, ROWS, WARMUP, WINDOW, FE_VDEV_OPTS (see
# dpdk_baseline.sh), FWD=path to vhost-fwd (default build/apps/vhost-fwd/vhost-fwd),
# OURS_QUEUES=N (vhost-fwd --queues)
set -u
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
# The same front-end options for both back-ends (virtio-user's defaults;
# both back-ends offer the same features that matter here, IN_ORDER
# included, so the front-end takes the same code paths).
: "${FE_VDEV_OPTS:=queues=1,mrg_rxbuf=1,in_order=1,packed_vq=0,queue_size=256}"
# shellcheck source=dpdk_baseline.sh
. "$HERE/dpdk_baseline.sh"
: "${ROUNDS:=3}"
: "${RINGS:=split packed}"
FE_VDEV_BASE=$FE_VDEV_OPTS
# ring_opts RING : FE_VDEV_OPTS with packed_vq for that ring format.
ring_opts() {
    local v=0
    [[ $1 == packed ]] && v=1
    if [[ $FE_VDEV_BASE == *packed_vq=* ]]; then
        sed "s/packed_vq=[01]/packed_vq=$v/" <<<"$FE_VDEV_BASE"
    else
        echo "$FE_VDEV_BASE,packed_vq=$v"
    fi
}
: "${FWD:=$ROOT/build/apps/vhost-fwd/vhost-fwd}"
[[ -x $FWD ]] || { echo "build first: ninja -C build ($FWD missing)" >&2; exit 1; }

# --- BACKEND=ours: vhost-fwd -------------------------------------------------
OURS_PID=""
OURS_WRAP=""
ours_start_backend() {
    local mode=$1 len=$2 sock=$3 i
    rm -f "$BENCH_DIR/ours.stats" "$BENCH_DIR/ours.readings"
    timeout -k 2 "$ROW_TIMEOUT" "$FWD" --socket "$sock" --mode "$mode" \
        --pkt-len "$len" --burst "$BURST" --cpu "$BE_CORE" \
        ${OURS_QUEUES:+--queues "$OURS_QUEUES"} \
        --stats-file "$BENCH_DIR/ours.stats" \
        >"$BENCH_DIR/ours.out" 2>"$BENCH_DIR/ours.err" &
    OURS_WRAP=$!
    for ((i = 0; i < 200; i++)); do
        [[ -S $sock ]] && break
        sleep 0.02
    done
    OURS_PID=$(pgrep -P "$OURS_WRAP" | head -1)
    [[ -S $sock ]]
}
ours_backend_counters() {
    local i line
    for ((i = 0; i < 50; i++)); do
        [[ -s $BENCH_DIR/ours.stats ]] && break
        sleep 0.02
    done
    line=$(<"$BENCH_DIR/ours.stats")
    # (called in a subshell: keep the readings in a file for ours_idle)
    echo "$line" >>"$BENCH_DIR/ours.readings"
    cut -d' ' -f1-3 <<<"$line"
}
# ours_idle : % of our worker's polling passes that found nothing to do
# between the first and last counter reading of the row (high: the
# front-end, not us, sets the pace).
ours_idle() {
    [[ -s $BENCH_DIR/ours.readings ]] || { echo nan; return; }
    awk 'NR == 1 { p0 = $4; i0 = $5 } { p1 = $4; i1 = $5 }
         END { p = p1 - p0; printf "%.0f", (p > 0 ? 100 * (i1 - i0) / p : 0) }' \
        "$BENCH_DIR/ours.readings"
}

ours_stop_backend() {
    local i
    [[ -n $OURS_PID ]] && kill -INT "$OURS_PID" 2>/dev/null
    for ((i = 0; i < 100; i++)); do kill -0 "$OURS_WRAP" 2>/dev/null || break; sleep 0.05; done
    kill -KILL "$OURS_WRAP" "$OURS_PID" 2>/dev/null
    wait "$OURS_WRAP" 2>/dev/null
    OURS_PID=""; OURS_WRAP=""
}
ours_backend_pid() { echo "$OURS_PID"; }

median() { printf '%s\n' "$@" | sort -g | awk '{a[n++]=$1} END {
    if (!n) { print "nan"; exit } print (n % 2 ? a[int(n/2)] : (a[n/2-1] + a[n/2]) / 2) }'; }

compare_main() {
    [[ "${1:-}" == -q ]] && { WARMUP=1; WINDOW=2; ROUNDS=1; }
    tp_init "$BENCH_DIR"
    trap 'ours_stop_backend; tp_cleanup_all' EXIT
    echo "# libvhost vs DPDK vhost: front-end testpmd net_virtio_user ($FE_VDEV_BASE; packed_vq per ring)"
    echo "# back-end forwards on core $BE_CORE, front-end on core $FE_CORE; burst $BURST; $ROUNDS rounds, median"
    echo "# $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'); load $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "# raw rows (see dpdk_baseline.sh for the columns):"
    declare -A got idle
    local row len r b ring
    for ring in $RINGS; do
        FE_VDEV_OPTS=$(ring_opts "$ring")
        for row in $ROWS; do
            for len in $SIZES; do
                for ((r = 0; r < ROUNDS; r++)); do
                    for b in dpdk ours; do
                        BACKEND=$b
                        ROW_RESULTS=()
                        printf '#  %-5s %-6s ' "$b" "$ring"
                        run_row "$row" "$len"
                        got[$b,$ring,$row,$len]+="${ROW_RESULTS[0]##* } "
                        [[ $b == ours ]] && idle[$ring,$row,$len]+="$(ours_idle) "
                    done
                done
            done
        done
    done
    echo
    echo "# Mpps: median of the rounds for each back-end. ratio: median of the"
    echo "# per-round ratios (each round measures both back-to-back, so the"
    echo "# machine's swings - this 2-vCPU VM's cores share caches or not from one"
    echo "# minute to the next - cancel out); per-round ratios in brackets."
    echo "# idle: share of our worker's polling passes that found nothing to do"
    echo "# (median); high means the front-end, not libvhost, limits the row."
    printf '%-29s %10s %10s %8s %6s  %s\n' "scenario" "DPDK Mpps" "ours Mpps" "ratio" "idle" "rounds"
    local d o name ratios r k
    for ring in $RINGS; do
    for row in $ROWS; do
        for len in $SIZES; do
            k=$ring,$row,$len
            # shellcheck disable=SC2086
            d=$(median ${got[dpdk,$k]}); o=$(median ${got[ours,$k]})
            # shellcheck disable=SC2086
            ratios=$(paste -d' ' <(tr ' ' '\n' <<<"${got[dpdk,$k]}" | sed '/^$/d') \
                                <(tr ' ' '\n' <<<"${got[ours,$k]}" | sed '/^$/d') |
                     awk '{ if ($1 + 0 > 0) printf "%.2f ", $2 / $1; else printf "nan " }')
            # shellcheck disable=SC2086
            r=$(median $ratios)
            case $row in g2h) name="guest->host";; h2g) name="host->guest";; loop) name="loopback";; esac
            # shellcheck disable=SC2086
            printf '%-29s %10s %10s %8s %5s%%  [%s]\n' "$ring $name $len B" "$d" "$o" "$r" \
                "$(median ${idle[$k]})" "${ratios% }"
        done
    done
    done
}

# bench/mq.sh sources this file for the ours_* back-end.
[[ ${BASH_SOURCE[0]} == "$0" ]] && compare_main "$@"
