#!/usr/bin/env bash
# bench/mq.sh [-q] -- two queue pairs on one vhost-fwd worker against one,
# with the same peer: testpmd net_virtio_user queues=2,cq=1 (--rxq=2
# --txq=2, both queues on its one forwarding core) against queues=1.
# Rows g2h and h2g (see dpdk_baseline.sh), each size in SIZES (default 64),
# one queue pair and two alternately, ROUNDS times (default 3), medians.
# vhost-fwd polls every enabled queue in one worker: the row says what a
# second queue costs or gains when one core serves both (no second core
# here: the 2-vCPU box has one for each side).
# Env: as compare.sh (ROUNDS, SIZES, ROWS, WARMUP, WINDOW, FWD).
set -u
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
: "${SIZES:=64}" "${ROWS:=g2h h2g}"
# shellcheck source=compare.sh
. "$HERE/compare.sh"
BASE_VDEV="mrg_rxbuf=1,in_order=1,packed_vq=0,queue_size=256"

mq_main() {
    [[ "${1:-}" == -q ]] && { WARMUP=1; WINDOW=2; ROUNDS=1; }
    tp_init "$BENCH_DIR"
    trap 'ours_stop_backend; tp_cleanup_all' EXIT
    echo "# vhost-fwd, one worker: 1 queue pair vs 2 (testpmd net_virtio_user $BASE_VDEV)"
    echo "# back-end forwards on core $BE_CORE, front-end on core $FE_CORE; burst $BURST; $ROUNDS rounds, median"
    echo "# $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'); load $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "# raw rows (see dpdk_baseline.sh for the columns):"
    declare -A got
    local row len r q
    BACKEND=ours
    for row in $ROWS; do
        for len in $SIZES; do
            for ((r = 0; r < ROUNDS; r++)); do
                for q in 1 2; do
                    FE_VDEV_OPTS="queues=$q,$BASE_VDEV"
                    FE_EXTRA_ARGS=""
                    if ((q > 1)); then
                        FE_VDEV_OPTS="$FE_VDEV_OPTS,cq=1"
                        FE_EXTRA_ARGS="--rxq=$q --txq=$q"
                    fi
                    OURS_QUEUES=$q
                    ROW_RESULTS=()
                    printf '#  %dqp ' "$q"
                    run_row "$row" "$len"
                    got[$q,$row,$len]+="${ROW_RESULTS[0]##* } "
                done
            done
        done
    done
    echo
    printf '%-22s %10s %10s %8s  %s\n' "scenario" "1 qp Mpps" "2 qp Mpps" "ratio" "rounds (2qp/1qp)"
    local a b ratios name
    for row in $ROWS; do
        for len in $SIZES; do
            # shellcheck disable=SC2086
            a=$(median ${got[1,$row,$len]}); b=$(median ${got[2,$row,$len]})
            # shellcheck disable=SC2086
            ratios=$(paste -d' ' <(tr ' ' '\n' <<<"${got[1,$row,$len]}" | sed '/^$/d') \
                                <(tr ' ' '\n' <<<"${got[2,$row,$len]}" | sed '/^$/d') |
                     awk '{ if ($1 + 0 > 0) printf "%.2f ", $2 / $1; else printf "nan " }')
            case $row in g2h) name="guest->host";; h2g) name="host->guest";; loop) name="loopback";; esac
            # shellcheck disable=SC2086
            printf '%-22s %10s %10s %8s  [%s]\n' "$name $len B" "$a" "$b" "$(median $ratios)" "${ratios% }"
        done
    done
}

mq_main "$@"
