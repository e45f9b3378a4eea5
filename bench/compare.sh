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
# Env: ROUNDS=3, SIZES, ROWS, WARMUP, WINDOW, FE_VDEV_OPTS (see
# dpdk_baseline.sh), FWD=path to vhost-fwd (default build/apps/vhost-fwd/vhost-fwd)
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
: "${FWD:=$ROOT/build/apps/vhost-fwd/vhost-fwd}"
[[ -x $FWD ]] || { echo "build first: ninja -C build ($FWD missing)" >&2; exit 1; }

# --- BACKEND=ours: vhost-fwd -------------------------------------------------
OURS_PID=""
OURS_WRAP=""
ours_start_backend() {
    local mode=$1 len=$2 sock=$3 i
    rm -f "$BENCH_DIR/ours.stats"
    timeout -k 2 "$ROW_TIMEOUT" "$FWD" --socket "$sock" --mode "$mode" \
        --pkt-len "$len" --burst "$BURST" --cpu "$BE_CORE" \
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
    local i
    for ((i = 0; i < 50; i++)); do
        [[ -s $BENCH_DIR/ours.stats ]] && break
        sleep 0.02
    done
    cut -d' ' -f1-3 "$BENCH_DIR/ours.stats"
}
ours_stop_backend() {
    local i
    # How often our worker found nothing to do: high means the front-end,
    # not us, set the pace of this row.
    [[ -s $BENCH_DIR/ours.stats ]] && awk '{ if ($4 > 0) printf "#          ours: %.0f%% of polling passes idle\n", 100 * $5 / $4 }' \
        "$BENCH_DIR/ours.stats" >&2
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
    echo "# libvhost vs DPDK vhost: front-end testpmd net_virtio_user ($FE_VDEV_OPTS)"
    echo "# back-end forwards on core $BE_CORE, front-end on core $FE_CORE; burst $BURST; $ROUNDS rounds, median"
    echo "# $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'); load $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "# raw rows (see dpdk_baseline.sh for the columns):"
    declare -A got
    local row len r b
    for row in $ROWS; do
        for len in $SIZES; do
            for ((r = 0; r < ROUNDS; r++)); do
                for b in dpdk ours; do
                    BACKEND=$b
                    ROW_RESULTS=()
                    printf '#  %-5s ' "$b"
                    run_row "$row" "$len"
                    got[$b,$row,$len]+="${ROW_RESULTS[0]##* } "
                done
            done
        done
    done
    echo
    printf '%-22s %10s %10s %8s\n' "scenario" "DPDK Mpps" "ours Mpps" "ratio"
    local d o name
    for row in $ROWS; do
        for len in $SIZES; do
            # shellcheck disable=SC2086
            d=$(median ${got[dpdk,$row,$len]}); o=$(median ${got[ours,$row,$len]})
            case $row in g2h) name="guest->host";; h2g) name="host->guest";; loop) name="loopback";; esac
            printf '%-22s %10s %10s %8s\n' "$name $len B" "$d" "$o" \
                "$(awk -v d="$d" -v o="$o" 'BEGIN { if (d + 0 > 0) printf "%.2f", o / d; else print "nan" }')"
        done
    done
}

compare_main "$@"
