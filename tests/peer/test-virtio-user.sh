#!/usr/bin/env bash
# tests/peer/test-virtio-user.sh [--build DIR] [CASE...]
#
# libvhost's front-end (virtio-user, driven by apps/virtio-fwd) against
# real back-ends, as processes over a socket:
#   ours-g2h-mrg<0|1>    virtio-fwd txonly -> vhost-fwd rxonly --validate
#   ours-h2g-mrg<0|1>    vhost-fwd txonly -> virtio-fwd rxonly --validate
#   ours-loop            vhost-fwd io <-> virtio-fwd mac --tx-first 32 --validate
#   ours-server          roles swapped: virtio-fwd --server, vhost-fwd --client
#   ours-restart-be      vhost-fwd restarts; virtio-fwd reconnects, traffic resumes
#   ours-restart-fe      virtio-fwd restarts; vhost-fwd serves the new one
#   dpdk-g2h-mrg<0|1>    virtio-fwd txonly -> testpmd net_vhost rxonly (counts)
#   dpdk-h2g-mrg<0|1>    testpmd net_vhost txonly -> virtio-fwd rxonly --validate
#   dpdk-loop            testpmd mac (start tx_first) <-> virtio-fwd mac --validate
#   dpdk-client          testpmd net_vhost client=1, virtio-fwd --server
#   dpdk-restart         testpmd (server) restarts; virtio-fwd reconnects
#   dpdk-restart-client  testpmd client=1 restarts; virtio-fwd --server accepts it
#   dpdk-mq-g2h          two queue pairs: virtio-fwd --queues 2 txonly -> testpmd rxonly
#   dpdk-mq-h2g          two queue pairs: testpmd txonly -> virtio-fwd --queues 2 rxonly --validate
#   dpdk-interrupt       dpdk-h2g with virtio-fwd --interrupt: it sleeps on its call
#                        eventfd until testpmd's packets wake it (wakeups > 0)
#   ours-interrupt       the same against vhost-fwd txonly
#   container            docs/container-example.sh: two processes in their own network
#                        namespaces on vhost-switch through a bind-mounted socket dir
#   ours-mq2             virtio-fwd and vhost-fwd both with two queue pairs
#   ours-mq              virtio-fwd asks two pairs of vhost-fwd --queues 1 (no MQ):
#                        it falls back to one pair and traffic flows
#   *-copy-loop          the loops with virtio-fwd --copy (private pool, copies);
#                        every other case must show zero-copy receive in
#                        virtio-fwd's JSON
#   ours-g2h-1518, dpdk-g2h-1518  g2h with 1518-byte packets, sent by reference
#                        (tx_zero_copy > 0)
#   *-packed-*           the same cases with packed rings (virtio-fwd --packed; the
#                        negotiated features must include VIRTIO_F_RING_PACKED):
#                        ours-packed-{g2h,h2g-mrg0,h2g-mrg1,loop,restart-be},
#                        dpdk-packed-{g2h,h2g-mrg0,h2g-mrg1,loop,restart-client}
# Counts must match exactly where both ends count (sent == received after a
# drain), received packets are validated (UDP/IPv4 headers, lengths), and
# no case may end with a broken ring or a bad header. Prints "PASS name" /
# "FAIL name reason" and "virtio-user peer: N passed, N failed". Pinning:
# back-ends on core 0, virtio-fwd on core 1. Each case runs PEER_RUN_SECS
# (2) of traffic; everything started is stopped by PID.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BUILD=$ROOT/build
CASES=()
while (($#)); do
    case $1 in
        --build) BUILD=$2; shift 2 ;;
        *) CASES+=("$1"); shift ;;
    esac
done
VF=$BUILD/apps/virtio-fwd/virtio-fwd
BE=$BUILD/apps/vhost-fwd/vhost-fwd
for b in "$VF" "$BE"; do
    [[ -x $b ]] || { echo "FAIL virtio-user peer: $b not built"; echo "virtio-user peer: 0 passed, 1 failed"; exit 1; }
done

# shellcheck source=lib/testpmd.sh
. "$HERE/lib/testpmd.sh"
TP_NO_TRAP=1
tp_init "$(mktemp -d /tmp/vupeer.XXXXXX)"
declare -A PID=()
cleanup() {
    local n
    for n in "${!PID[@]}"; do stop_proc "$n"; done
    tp_cleanup_all 1
    rm -rf "$TP_DIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

RUN_SECS=${PEER_RUN_SECS:-2}
PASS=0 FAIL=0 RC=0

# start_proc NAME BINARY CPU ARGS... : our tool, bounded to 60 s, --json.
start_proc() {
    local name=$1 bin=$2 cpu=$3; shift 3
    timeout -k 2 60 "$bin" --cpu "$cpu" --json "$@" \
        >"$TP_DIR/$name.json" 2>"$TP_DIR/$name.err" &
    PID[$name]=$!
}
proc_pid() { pgrep -P "${PID[$1]}" | head -1; }
# stop_proc NAME : SIGINT, SIGKILL after 15 s; RC: a non-zero exit status.
stop_proc() {
    local name=$1 pid=${PID[$1]:-} i rc
    [[ -n $pid ]] || return 0
    kill -INT "$(proc_pid "$name")" 2>/dev/null
    for ((i = 0; i < 150; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    rc=$?
    ((rc != 0)) && RC=$rc
    unset "PID[$name]"
}
# jget NAME KEY : KEY of port 0 in the JSON summary.
jget() { grep -o "\"$2\":[0-9]*" "$TP_DIR/$1.json" 2>/dev/null | head -1 | cut -d: -f2; }
# wait_json NAME KEY MIN SECS : (while running) poll the stats file.
wait_sock() {
    local i
    for ((i = 0; i < 100; i++)); do [[ -S $1 ]] && return 0; sleep 0.05; done
    return 1
}
# wait_rx NAME MIN SECS : the tool's stats file shows at least MIN received.
wait_count() { # wait_count NAME FIELD(1=rx,2=tx) MIN SECS
    local i v
    for ((i = 0; i < $4 * 20; i++)); do
        v=$(cut -d' ' -f"$2" "$TP_DIR/$1.stats" 2>/dev/null)
        [[ -n $v && $v -ge $3 ]] && return 0
        sleep 0.05
    done
    return 1
}
stat_of() { cut -d' ' -f"$2" "$TP_DIR/$1.stats" 2>/dev/null || echo 0; }

result() { # result NAME OK DETAIL
    local ok=$2
    if ((RC != 0)); then ok=0; set -- "$1" 0 "$3 (exit status $RC)"; fi
    RC=0
    if [[ $ok == 1 ]]; then
        echo "PASS $1 $3"; PASS=$((PASS + 1))
    else
        echo "FAIL $1 $3"; FAIL=$((FAIL + 1))
        local f
        for f in "$TP_DIR"/*.err; do echo "---- $f"; tail -5 "$f"; done
        [[ -n ${TP_LOG[be]:-} ]] && { echo "---- testpmd"; tail -5 "${TP_LOG[be]}"; }
    fi
    rm -f "$TP_DIR"/*.json "$TP_DIR"/*.err "$TP_DIR"/*.stats
}

# Front-end health from its JSON: no broken ring, no bad header.
# With VF_EXTRA=--packed, packed rings must have been negotiated (bit 34
# of the features virtio-fwd logs when the back-end is ready).
fe_clean() {
    [[ $(jget "$1" broken) == 0 && $(jget "$1" rx_bad_hdr) == 0 ]] || return 1
    # Zero-copy (virtio-fwd's shared pool) unless --copy: received in place
    # once the slots posted at set-up (at most 1024 per ring) were used;
    # with EXPECT_TX_ZC (packets of more than 256 bytes: smaller ones are
    # copied) sent by reference.
    if [[ ${VF_EXTRA:-} != *--copy* ]]; then
        [[ $(jget "$1" rx_packets) -le 2048 || $(jget "$1" rx_zero_copy) -gt 0 ]] || return 1
        [[ -z ${EXPECT_TX_ZC:-} || $(jget "$1" tx_zero_copy) -gt 0 ]] || return 1
    fi
    [[ ${VF_EXTRA:-} == *--packed* ]] || return 0
    local f
    f=$(grep -o 'back-end ready.*features 0x[0-9a-f]*' "$TP_DIR/$1.err" | tail -1 | grep -o '0x[0-9a-f]*$')
    [[ -n $f ]] && (((f >> 34) & 1))
}
mrg_arg() { [[ $1 == 0 ]] && echo --no-mrg; }

case_ours_g2h() { # NAME MRG [VF_ROLE_ARGS] [BE_ROLE_ARGS]
    local name=$1 mrg=$2 vrole=${3:-} brole=${4:-} sock=$TP_DIR/$1.sock ok=1 why=""
    # shellcheck disable=SC2086
    if [[ $vrole == --server ]]; then
        start_proc fe "$VF" 1 --socket "$sock" $vrole --mode txonly --start-paused $(mrg_arg "$mrg") ${VF_EXTRA:-} --stats-file "$TP_DIR/fe.stats"
        wait_sock "$sock"
        start_proc be "$BE" 0 --socket "$sock" $brole --mode rxonly --validate
    else
        start_proc be "$BE" 0 --socket "$sock" --mode rxonly --validate
        wait_sock "$sock"
        start_proc fe "$VF" 1 --socket "$sock" --mode txonly --start-paused $(mrg_arg "$mrg") ${VF_EXTRA:-} --stats-file "$TP_DIR/fe.stats"
    fi
    sleep 0.3
    kill -USR1 "$(proc_pid fe)"
    sleep "$RUN_SECS"
    kill -USR1 "$(proc_pid fe)"
    sleep 0.5 # the back-end drains the ring
    stop_proc fe; stop_proc be
    local sent got inv
    sent=$(jget fe tx_packets); got=$(jget be rx_packets); inv=$(jget be rx_invalid)
    [[ ${got:-0} -gt 1000 ]] || { ok=0; why="too few packets"; }
    [[ ${got:-x} == "${sent:-y}" ]] || { ok=0; why="$why received != sent"; }
    [[ ${inv:-x} == 0 ]] || { ok=0; why="$why invalid"; }
    fe_clean fe || { ok=0; why="$why front-end ring errors"; }
    result "$name" $ok "virtio-fwd sent ${sent:-?}, vhost-fwd received ${got:-?} (${inv:-?} invalid) $why"
}

case_ours_h2g() { # NAME MRG SIZE
    local name=$1 mrg=$2 size=$3 sock=$TP_DIR/$1.sock ok=1 why=""
    start_proc be "$BE" 0 --socket "$sock" --mode txonly --pkt-len "$size" --start-paused
    wait_sock "$sock"
    # shellcheck disable=SC2046
    start_proc fe "$VF" 1 --socket "$sock" --mode rxonly --validate $(mrg_arg "$mrg") ${VF_EXTRA:-} --stats-file "$TP_DIR/fe.stats"
    sleep 0.5
    kill -USR1 "$(proc_pid be)"
    sleep "$RUN_SECS"
    kill -USR1 "$(proc_pid be)"
    sleep 0.5
    stop_proc be; stop_proc fe
    local sent got inv
    sent=$(jget be tx_packets); got=$(jget fe rx_packets); inv=$(jget fe rx_invalid)
    [[ ${got:-0} -gt 1000 ]] || { ok=0; why="too few packets"; }
    [[ ${got:-x} == "${sent:-y}" ]] || { ok=0; why="$why received != sent"; }
    [[ ${inv:-x} == 0 ]] || { ok=0; why="$why invalid"; }
    fe_clean fe || { ok=0; why="$why front-end ring errors"; }
    [[ ${VF_EXTRA:-} != *--interrupt* || $(jget fe wakeups) -gt 0 ]] || { ok=0; why="$why never woken by a call"; }
    result "$name" $ok "wakeups $(jget fe wakeups); vhost-fwd sent ${sent:-?}, virtio-fwd received ${got:-?} (${inv:-?} invalid) $why"
}

case_ours_loop() { # NAME
    local name=$1 sock=$TP_DIR/$1.sock ok=1 why=""
    start_proc be "$BE" 0 --socket "$sock" --mode io
    wait_sock "$sock"
    start_proc fe "$VF" 1 --socket "$sock" --mode mac --validate --tx-first 32 ${VF_EXTRA:-} --stats-file "$TP_DIR/fe.stats"
    wait_count fe 1 10000 10 || { ok=0; why="no traffic"; }
    sleep "$RUN_SECS"
    stop_proc fe; stop_proc be
    local got inv; got=$(jget fe rx_packets); inv=$(jget fe rx_invalid)
    [[ ${got:-0} -gt 10000 ]] || { ok=0; why="$why too few packets"; }
    [[ ${inv:-x} == 0 ]] || { ok=0; why="$why invalid"; }
    fe_clean fe || { ok=0; why="$why front-end ring errors"; }
    result "$name" $ok "virtio-fwd looped ${got:-?} packets through vhost-fwd (${inv:-?} invalid) $why"
}

case_ours_restart() { # NAME be|fe
    local name=$1 who=$2 sock=$TP_DIR/$1.sock ok=1 why="" before after
    start_proc be "$BE" 0 --socket "$sock" --mode rxonly --validate
    wait_sock "$sock"
    start_proc fe "$VF" 1 --socket "$sock" --mode txonly ${VF_EXTRA:-} --stats-file "$TP_DIR/fe.stats"
    wait_count fe 2 10000 10 || { ok=0; why="no traffic before the restart"; }
    before=$(stat_of fe 2)
    if [[ $who == be ]]; then
        stop_proc be
        local b1; b1=$(jget be rx_packets); mv "$TP_DIR/be.json" "$TP_DIR/be1.json"
        start_proc be "$BE" 0 --socket "$sock" --mode rxonly --validate
        wait_count fe 2 $((before + 10000)) 10 || { ok=0; why="$why no traffic after the restart"; }
        sleep "$RUN_SECS"
        stop_proc fe; stop_proc be
        after=$(jget be rx_packets)
        [[ $(jget fe connects) == 2 ]] || { ok=0; why="$why connects $(jget fe connects) != 2"; }
        [[ $(jget be rx_invalid) == 0 && $(grep -o '"rx_invalid":[0-9]*' "$TP_DIR/be1.json" | cut -d: -f2) == 0 ]] || { ok=0; why="$why invalid"; }
        fe_clean fe || { ok=0; why="$why front-end ring errors"; }
        result "$name" $ok "back-end 1 got ${b1:-?}, back-end 2 got ${after:-?}, virtio-fwd connects $(jget fe connects) $why"
    else
        stop_proc fe
        mv "$TP_DIR/fe.json" "$TP_DIR/fe1.json"; rm -f "$TP_DIR/fe.stats"
        start_proc fe "$VF" 1 --socket "$sock" --mode txonly ${VF_EXTRA:-} --stats-file "$TP_DIR/fe.stats"
        wait_count fe 2 10000 10 || { ok=0; why="$why no traffic after the restart"; }
        stop_proc fe; sleep 0.3; stop_proc be
        [[ $(jget be connects) == 2 ]] || { ok=0; why="$why vhost-fwd connects $(jget be connects) != 2"; }
        [[ $(jget be rx_invalid) == 0 ]] || { ok=0; why="$why invalid"; }
        result "$name" $ok "vhost-fwd served $(jget be connects) front-ends, received $(jget be rx_packets) $why"
    fi
}

# testpmd net_vhost on core 0 (main lcore 1). TP_QUEUES: queue pairs (1).
start_vhost_tp() { # SOCK SIZE [client]
    local extra="" q=${TP_QUEUES:-1}
    [[ ${3:-} == client ]] && extra=",client=1"
    local sz="--txpkts=$2"
    # shellcheck disable=SC2086
    tp_start be --lcores 0,1 --main-lcore 1 --timeout 60 \
        --vdev "net_vhost0,iface=$1,queues=$q$extra" -- --nb-cores=1 \
        --rxq="$q" --txq="$q" $sz
}

case_dpdk_g2h() { # NAME MRG
    local name=$1 mrg=$2 sock=$TP_DIR/$1.sock ok=1 why=""
    start_vhost_tp "$sock" 64 || { result "$name" 0 "testpmd did not start"; return; }
    tp_cmd be "set fwd rxonly"; tp_cmd_wait be start 'testpmd> ' 5
    # shellcheck disable=SC2046
    start_proc fe "$VF" 1 --socket "$sock" --mode txonly $(mrg_arg "$mrg") ${VF_EXTRA:-} --stats-file "$TP_DIR/fe.stats"
    wait_count fe 2 1000 10 || { ok=0; why="no traffic"; }
    sleep "$RUN_SECS"
    kill -USR1 "$(proc_pid fe)"
    local prev=-1 i
    for ((i = 0; i < 25; i++)); do
        sleep 0.2; tp_port_stats be >/dev/null
        [[ ${TP_STATS[rx_packets]:-0} == "$prev" ]] && break
        prev=${TP_STATS[rx_packets]:-0}
    done
    local got=${TP_STATS[rx_packets]:-0}
    stop_proc fe; tp_stop be
    local sent; sent=$(jget fe tx_packets)
    [[ $got -gt 1000 ]] || { ok=0; why="$why too few packets"; }
    [[ $got == "${sent:-x}" ]] || { ok=0; why="$why received != sent"; }
    fe_clean fe || { ok=0; why="$why front-end ring errors"; }
    [[ $(jget fe queue_pairs) == "${TP_QUEUES:-1}" ]] || { ok=0; why="$why queue pairs $(jget fe queue_pairs)"; }
    result "$name" $ok "virtio-fwd sent ${sent:-?} on $(jget fe queue_pairs) pair(s), testpmd received $got $why"
}

case_dpdk_h2g() { # NAME MRG SIZE
    local name=$1 mrg=$2 size=$3 sock=$TP_DIR/$1.sock ok=1 why=""
    start_vhost_tp "$sock" "$size" || { result "$name" 0 "testpmd did not start"; return; }
    # shellcheck disable=SC2046
    start_proc fe "$VF" 1 --socket "$sock" --mode rxonly --validate $(mrg_arg "$mrg") ${VF_EXTRA:-} --stats-file "$TP_DIR/fe.stats"
    tp_wait_link be 10 || { ok=0; why="no link"; }
    tp_cmd be "set fwd txonly"; tp_cmd_wait be start 'testpmd> ' 5
    sleep "$RUN_SECS"
    tp_fwd_stop be >/dev/null
    local sent=${TP_FWD[tx_packets]:-0} i
    for ((i = 0; i < 40; i++)); do
        [[ $(stat_of fe 1) == "$sent" ]] && break; sleep 0.05
    done
    stop_proc fe; tp_stop be
    local got inv; got=$(jget fe rx_packets); inv=$(jget fe rx_invalid)
    [[ ${got:-0} -gt 1000 ]] || { ok=0; why="$why too few packets"; }
    [[ ${got:-x} == "$sent" ]] || { ok=0; why="$why received != sent"; }
    [[ ${inv:-x} == 0 ]] || { ok=0; why="$why invalid"; }
    fe_clean fe || { ok=0; why="$why front-end ring errors"; }
    [[ $(jget fe queue_pairs) == "${TP_QUEUES:-1}" ]] || { ok=0; why="$why queue pairs $(jget fe queue_pairs)"; }
    [[ ${VF_EXTRA:-} != *--interrupt* || $(jget fe wakeups) -gt 0 ]] || { ok=0; why="$why never woken by a call"; }
    result "$name" $ok "wakeups $(jget fe wakeups); testpmd sent $sent, virtio-fwd received ${got:-?} (${inv:-?} invalid) on $(jget fe queue_pairs) pair(s) $why"
}

case_dpdk_loop() { # NAME [client]
    local name=$1 role=${2:-} sock=$TP_DIR/$1.sock ok=1 why="" vrole=""
    [[ $role == client ]] && vrole=--server
    if [[ $role == client ]]; then
        # shellcheck disable=SC2086
        start_proc fe "$VF" 1 --socket "$sock" $vrole --mode mac --validate ${VF_EXTRA:-} --stats-file "$TP_DIR/fe.stats"
        wait_sock "$sock"
    fi
    start_vhost_tp "$sock" 64 "$role" || { result "$name" 0 "testpmd did not start"; return; }
    [[ $role == client ]] || start_proc fe "$VF" 1 --socket "$sock" --mode mac --validate ${VF_EXTRA:-} --stats-file "$TP_DIR/fe.stats"
    tp_wait_link be 10 || { ok=0; why="no link"; }
    tp_cmd be "set fwd mac"; tp_cmd_wait be "start tx_first 32" 'testpmd> ' 5
    wait_count fe 1 1000 10 || { ok=0; why="$why no traffic"; }
    sleep "$RUN_SECS"
    tp_fwd_stop be >/dev/null
    stop_proc fe; tp_stop be
    local got inv; got=$(jget fe rx_packets); inv=$(jget fe rx_invalid)
    [[ ${got:-0} -gt 1000 ]] || { ok=0; why="$why too few packets"; }
    [[ ${inv:-x} == 0 ]] || { ok=0; why="$why invalid"; }
    fe_clean fe || { ok=0; why="$why front-end ring errors"; }
    result "$name" $ok "virtio-fwd looped ${got:-?} packets with testpmd (${inv:-?} invalid) $why"
}

case_dpdk_restart() { # NAME [client]
    local name=$1 role=${2:-} sock=$TP_DIR/$1.sock ok=1 why="" vrole="" before
    [[ $role == client ]] && vrole=--server
    if [[ $role == client ]]; then
        # shellcheck disable=SC2086
        start_proc fe "$VF" 1 --socket "$sock" $vrole --mode txonly ${VF_EXTRA:-} --stats-file "$TP_DIR/fe.stats"
        wait_sock "$sock"
    fi
    start_vhost_tp "$sock" 64 "$role" || { result "$name" 0 "testpmd did not start"; return; }
    tp_cmd be "set fwd rxonly"; tp_cmd_wait be start 'testpmd> ' 5
    [[ $role == client ]] || start_proc fe "$VF" 1 --socket "$sock" --mode txonly ${VF_EXTRA:-} --stats-file "$TP_DIR/fe.stats"
    wait_count fe 2 10000 10 || { ok=0; why="no traffic before the restart"; }
    tp_stop be
    before=$(stat_of fe 2)
    start_vhost_tp "$sock" 64 "$role" || { result "$name" 0 "testpmd did not restart"; stop_proc fe; return; }
    tp_cmd be "set fwd rxonly"; tp_cmd_wait be start 'testpmd> ' 5
    wait_count fe 2 $((before + 10000)) 15 || { ok=0; why="$why no traffic after the restart"; }
    kill -USR1 "$(proc_pid fe)"
    sleep 0.5
    tp_port_stats be >/dev/null
    local got=${TP_STATS[rx_packets]:-0}
    stop_proc fe; tp_stop be
    [[ $(jget fe connects) == 2 ]] || { ok=0; why="$why connects $(jget fe connects) != 2"; }
    [[ $got -gt 10000 ]] || { ok=0; why="$why testpmd 2 got $got"; }
    fe_clean fe || { ok=0; why="$why front-end ring errors"; }
    result "$name" $ok "virtio-fwd connects $(jget fe connects), second testpmd received $got $why"
}

case_ours_mq() { # NAME: vhost-fwd offers no MQ (--queues 1): one pair, traffic still flows
    local name=$1 sock=$TP_DIR/$1.sock ok=1 why=""
    start_proc be "$BE" 0 --socket "$sock" --mode rxonly --validate --queues 1
    wait_sock "$sock"
    start_proc fe "$VF" 1 --socket "$sock" --queues 2 --mode txonly ${VF_EXTRA:-} --stats-file "$TP_DIR/fe.stats"
    wait_count fe 2 10000 10 || { ok=0; why="no traffic"; }
    kill -USR1 "$(proc_pid fe)"; sleep 0.5
    stop_proc fe; stop_proc be
    [[ $(jget fe queue_pairs) == 1 ]] || { ok=0; why="$why queue pairs $(jget fe queue_pairs) != 1"; }
    [[ $(jget fe tx_packets) == "$(jget be rx_packets)" ]] || { ok=0; why="$why received != sent"; }
    [[ $(jget be rx_invalid) == 0 ]] || { ok=0; why="$why invalid"; }
    result "$name" $ok "asked 2 pairs, got $(jget fe queue_pairs); sent $(jget fe tx_packets), received $(jget be rx_packets) $why"
}

case_ours_mq2() { # NAME: both sides with MQ: two pairs negotiated, traffic on both
    local name=$1 sock=$TP_DIR/$1.sock ok=1 why=""
    start_proc be "$BE" 0 --socket "$sock" --mode rxonly --validate --queues 2
    wait_sock "$sock"
    start_proc fe "$VF" 1 --socket "$sock" --queues 2 --mode txonly ${VF_EXTRA:-} --stats-file "$TP_DIR/fe.stats"
    wait_count fe 2 10000 10 || { ok=0; why="no traffic"; }
    kill -USR1 "$(proc_pid fe)"; sleep 0.5
    stop_proc fe; stop_proc be
    [[ $(jget fe queue_pairs) == 2 ]] || { ok=0; why="$why queue pairs $(jget fe queue_pairs) != 2"; }
    [[ $(jget fe tx_packets) == "$(jget be rx_packets)" ]] || { ok=0; why="$why received != sent"; }
    [[ $(jget be rx_invalid) == 0 ]] || { ok=0; why="$why invalid"; }
    result "$name" $ok "asked 2 pairs, got $(jget fe queue_pairs); sent $(jget fe tx_packets), received $(jget be rx_packets) $why"
}

case_container() { # NAME
    local name=$1 out
    out=$(timeout 60 "$ROOT/docs/container-example.sh" "$BUILD" "$RUN_SECS" 2>&1)
    if grep -q '^container example: OK' <<<"$out"; then
        result "$name" 1 "$(grep '^container example' <<<"$out")"
    else
        echo "$out" | tail -8 >"$TP_DIR/container.err"
        result "$name" 0 "$(grep '^container example' <<<"$out" || echo 'did not finish')"
    fi
}

ALL=(ours-g2h-mrg0 ours-g2h-mrg1 ours-h2g-mrg0 ours-h2g-mrg1 ours-loop ours-server ours-restart-be
     ours-restart-fe dpdk-g2h-mrg0 dpdk-g2h-mrg1 dpdk-h2g-mrg0 dpdk-h2g-mrg1 dpdk-loop
     dpdk-client dpdk-restart dpdk-restart-client dpdk-mq-g2h dpdk-mq-h2g ours-mq ours-mq2
     dpdk-interrupt ours-interrupt container
     ours-packed-g2h ours-packed-h2g-mrg0 ours-packed-h2g-mrg1 ours-packed-loop
     ours-packed-restart-be dpdk-packed-g2h dpdk-packed-h2g-mrg0 dpdk-packed-h2g-mrg1
     dpdk-packed-loop dpdk-packed-restart-client ours-copy-loop dpdk-copy-loop
     ours-g2h-1518 dpdk-g2h-1518)
((${#CASES[@]})) || CASES=("${ALL[@]}")
for c in "${CASES[@]}"; do
    case $c in
        ours-g2h-mrg0) case_ours_g2h "$c" 0 ;;
        ours-g2h-mrg1) case_ours_g2h "$c" 1 ;;
        ours-h2g-mrg0) case_ours_h2g "$c" 0 1518 ;;
        ours-h2g-mrg1) case_ours_h2g "$c" 1 64 ;;
        ours-loop) case_ours_loop "$c" ;;
        ours-server) case_ours_g2h "$c" 1 --server --client ;;
        ours-restart-be) case_ours_restart "$c" be ;;
        ours-restart-fe) case_ours_restart "$c" fe ;;
        dpdk-g2h-mrg0) case_dpdk_g2h "$c" 0 ;;
        dpdk-g2h-mrg1) case_dpdk_g2h "$c" 1 ;;
        dpdk-h2g-mrg0) case_dpdk_h2g "$c" 0 1518 ;;
        dpdk-h2g-mrg1) case_dpdk_h2g "$c" 1 64 ;;
        dpdk-loop) case_dpdk_loop "$c" ;;
        dpdk-client) case_dpdk_loop "$c" client ;;
        dpdk-restart) case_dpdk_restart "$c" ;;
        dpdk-restart-client) case_dpdk_restart "$c" client ;;
        dpdk-mq-g2h) TP_QUEUES=2 VF_EXTRA="--queues 2" case_dpdk_g2h "$c" 1 ;;
        dpdk-mq-h2g) TP_QUEUES=2 VF_EXTRA="--queues 2" case_dpdk_h2g "$c" 1 64 ;;
        ours-mq) case_ours_mq "$c" ;;
        ours-mq2) case_ours_mq2 "$c" ;;
        container) case_container "$c" ;;
        ours-packed-g2h) VF_EXTRA=--packed case_ours_g2h "$c" 1 ;;
        ours-packed-h2g-mrg0) VF_EXTRA=--packed case_ours_h2g "$c" 0 1518 ;;
        ours-packed-h2g-mrg1) VF_EXTRA=--packed case_ours_h2g "$c" 1 64 ;;
        ours-packed-loop) VF_EXTRA=--packed case_ours_loop "$c" ;;
        ours-packed-restart-be) VF_EXTRA=--packed case_ours_restart "$c" be ;;
        dpdk-packed-g2h) VF_EXTRA=--packed case_dpdk_g2h "$c" 1 ;;
        dpdk-packed-h2g-mrg0) VF_EXTRA=--packed case_dpdk_h2g "$c" 0 1518 ;;
        dpdk-packed-h2g-mrg1) VF_EXTRA=--packed case_dpdk_h2g "$c" 1 64 ;;
        dpdk-packed-loop) VF_EXTRA=--packed case_dpdk_loop "$c" ;;
        dpdk-packed-restart-client) VF_EXTRA=--packed case_dpdk_restart "$c" client ;;
        dpdk-interrupt) VF_EXTRA=--interrupt case_dpdk_h2g "$c" 1 64 ;;
        ours-interrupt) VF_EXTRA=--interrupt case_ours_h2g "$c" 1 64 ;;
        ours-copy-loop) VF_EXTRA=--copy case_ours_loop "$c" ;;
        ours-g2h-1518) EXPECT_TX_ZC=1 VF_EXTRA="--pkt-len 1518" case_ours_g2h "$c" 1 ;;
        dpdk-g2h-1518) EXPECT_TX_ZC=1 VF_EXTRA="--pkt-len 1518" case_dpdk_g2h "$c" 1 ;;
        dpdk-copy-loop) VF_EXTRA=--copy case_dpdk_loop "$c" ;;
        *) echo "FAIL $c: unknown case"; FAIL=$((FAIL + 1)) ;;
    esac
done
echo "virtio-user peer: $PASS passed, $FAIL failed"
((FAIL == 0))
