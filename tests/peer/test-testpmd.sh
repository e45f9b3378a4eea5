#!/usr/bin/env bash
# tests/peer/test-testpmd.sh [--build DIR] [CASE...]
#
# libvhost against a real front-end: DPDK 22.11 dpdk-testpmd with
# net_virtio_user, our side being vhost-fwd. Every packet our side receives
# is validated (UDP/IPv4 headers and lengths); counts must match on both
# sides. Cases (all by default):
#   g2h-<size>-mrg<0|1>   testpmd txonly -> vhost-fwd rxonly --validate
#   h2g-<size>-mrg<0|1>   vhost-fwd txonly -> testpmd rxonly
#   loop-mrg<0|1>         testpmd mac (start tx_first) <-> vhost-fwd mac --validate
#   noindirect            g2h with INDIRECT_DESC not offered
#   noinorder-*           g2h/h2g with virtio-user's in_order=0 (it is on by
#                         default, and we offer VIRTIO_F_IN_ORDER)
#   interrupt             vhost-fwd sleeps on the kick fd between bursts
#   reconnect-server      testpmd restarts; vhost-fwd (server) serves it again
#   reconnect-client      vhost-fwd as client, testpmd virtio-user server=1,
#                         testpmd restarts; vhost-fwd reconnects by itself
#   features              what new_device reports matches what was offered
# Prints "PASS name ..." / "FAIL name reason" per case and
# "peer: N passed, N failed" at the end. Pinning: testpmd forwards on core 0,
# vhost-fwd on core 1. Everything started is killed by PID on exit.
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
FWD=$BUILD/apps/vhost-fwd/vhost-fwd
[[ -x $FWD ]] || { echo "FAIL peer: $FWD not built"; echo "peer: 0 passed, 1 failed"; exit 1; }

# shellcheck source=lib/testpmd.sh
. "$HERE/lib/testpmd.sh"
TP_NO_TRAP=1
tp_init "$(mktemp -d /tmp/peer.XXXXXX)"
declare -A FWD_PID=()
cleanup() {
    local n
    for n in "${!FWD_PID[@]}"; do stop_fwd "$n"; done
    tp_cleanup_all 1
}
trap cleanup EXIT
trap 'exit 130' INT TERM

RUN_SECS=${PEER_RUN_SECS:-3}
PASS=0
FAIL=0

# PEER_FWD_WRAPPER: a command vhost-fwd runs under (e.g. valgrind ...).
read -r -a WRAP <<<"${PEER_FWD_WRAPPER:-}"
FWD_RC=0

# start_fwd NAME ARGS... : vhost-fwd on core 1, bounded to 180 s, --json.
start_fwd() {
    local name=$1; shift
    timeout -k 2 180 "${WRAP[@]}" "$FWD" --cpu 1 --json "$@" \
        >"$TP_DIR/$name.json" 2>"$TP_DIR/$name.err" &
    FWD_PID[$name]=$!
}

# The vhost-fwd process itself (not the timeout wrapper, not valgrind's).
fwd_pid() { pgrep -P "${FWD_PID[$1]}" | head -1; }

# stop_fwd NAME : SIGINT, then SIGKILL after 30 s; the JSON is then
# complete. FWD_RC: its exit status (a sanitizer or valgrind error makes it
# non-zero, and the case fails).
stop_fwd() {
    local name=$1 pid=${FWD_PID[$1]:-} i
    [[ -n $pid ]] || return 0
    kill -INT "$(fwd_pid "$name")" 2>/dev/null
    for ((i = 0; i < 300; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    FWD_RC=$?
    unset "FWD_PID[$name]"
}

# jget NAME KEY : value of KEY for port 0 in vhost-fwd's JSON summary.
jget() {
    grep -o "\"$2\":[0-9]*" "$TP_DIR/$1.json" | head -1 | cut -d: -f2
}

wait_for_sock() {
    local i
    for ((i = 0; i < 100; i++)); do [[ -S $1 ]] && return 0; sleep 0.05; done
    return 1
}

# virtio-user options and testpmd arguments for a packet size.
# VDEV_EXTRA: more virtio-user options for every testpmd of a case.
VDEV_EXTRA=""
vdev() { echo "net_virtio_user0,path=$1,queues=1,mrg_rxbuf=$2${3:+,$3}${VDEV_EXTRA:+,$VDEV_EXTRA}"; }
tp_size_args() {
    if (($1 > 1518)); then
        echo "--mbuf-size=10240 --total-num-mbufs=16384 --max-pkt-len=9728 --txpkts=$1"
    else
        echo "--txpkts=$1"
    fi
}

result() { # result NAME OK DETAIL
    local ok=$2
    if ((FWD_RC != 0)); then
        ok=0; set -- "$1" 0 "$3 (vhost-fwd exit status $FWD_RC)"
    fi
    FWD_RC=0
    if [[ $ok == 1 ]]; then
        echo "PASS $1 $3"; PASS=$((PASS + 1))
    else
        echo "FAIL $1 $3"; FAIL=$((FAIL + 1))
        echo "---- vhost-fwd log ($1)"; tail -5 "$TP_DIR/fwd.err" 2>/dev/null
        echo "---- testpmd log ($1)"; tail -5 "${TP_LOG[fe]:-/dev/null}" 2>/dev/null
    fi
}

# PEER_START_TRIES: attempts to bring testpmd up (valgrind runs: DPDK's
# virtio-user gives up on a reply that takes long, as the first ones do
# while valgrind translates new code).
start_testpmd() { # start_testpmd SOCK MRG SIZE [VDEV_EXTRA] [--no-wait]
    local try
    for ((try = 1; try <= ${PEER_START_TRIES:-1}; try++)); do
        # shellcheck disable=SC2046
        tp_start fe --lcores 0,1 --main-lcore 1 --timeout 120 ${5:-} \
            --vdev "$(vdev "$1" "$2" "${4:-}")" -- --nb-cores=1 $(tp_size_args "$3") &&
            { [[ -n ${5:-} ]] || tp_wait_link fe 10; } && return 0
        tp_stop fe 1
    done
    return 1
}

case_g2h() { # case_g2h NAME SIZE MRG [FWD_ARGS...]
    local name=$1 size=$2 mrg=$3; shift 3
    local sock=$TP_DIR/$name.sock ok=1 why=""
    start_fwd fwd --socket "$sock" --mode rxonly --validate "$@"
    wait_for_sock "$sock" || { result "$name" 0 "no socket"; stop_fwd fwd; return; }
    if ! start_testpmd "$sock" "$mrg" "$size" || ! tp_wait_link fe 10; then
        result "$name" 0 "testpmd did not come up"; tp_stop fe; stop_fwd fwd; return
    fi
    tp_cmd fe "set fwd txonly"; tp_cmd fe "start"
    sleep "$RUN_SECS"
    tp_fwd_stop fe >/dev/null
    local sent=${TP_FWD[tx_packets]:-0}
    sleep 0.5 # let vhost-fwd drain the ring
    tp_stop fe
    stop_fwd fwd
    local got invalid
    got=$(jget fwd rx_packets); invalid=$(jget fwd rx_invalid)
    [[ ${got:-0} -gt 1000 ]] || { ok=0; why="too few packets"; }
    [[ ${got:-x} == "$sent" ]] || { ok=0; why="$why received != sent"; }
    [[ ${invalid:-x} == 0 ]] || { ok=0; why="$why invalid packets"; }
    result "$name" $ok "testpmd sent $sent, vhost-fwd received ${got:-?} (${invalid:-?} invalid) $why"
}

case_h2g() { # case_h2g NAME SIZE MRG
    local name=$1 size=$2 mrg=$3
    local sock=$TP_DIR/$name.sock ok=1 why=""
    start_fwd fwd --socket "$sock" --mode txonly --pkt-len "$size" --start-paused
    wait_for_sock "$sock" || { result "$name" 0 "no socket"; stop_fwd fwd; return; }
    if ! start_testpmd "$sock" "$mrg" "$size" || ! tp_wait_link fe 10; then
        result "$name" 0 "testpmd did not come up"; tp_stop fe; stop_fwd fwd; return
    fi
    tp_cmd fe "set fwd rxonly"; tp_cmd_wait fe "start" 'testpmd> ' 5
    kill -USR1 "$(fwd_pid fwd)" # go
    sleep "$RUN_SECS"
    # Pause our traffic, still connected: testpmd drains what we placed.
    kill -USR1 "$(fwd_pid fwd)"
    local prev=-1 i
    for ((i = 0; i < 50; i++)); do
        sleep 0.2
        tp_port_stats fe >/dev/null
        [[ ${TP_STATS[rx_packets]:-0} == "$prev" ]] && break
        prev=${TP_STATS[rx_packets]:-0}
    done
    stop_fwd fwd
    local errors=${TP_STATS[rx_errors]:-x}
    tp_fwd_stop fe >/dev/null
    local got=${TP_STATS[rx_packets]:-0}
    tp_stop fe
    local sent
    sent=$(jget fwd tx_packets)
    [[ $got -gt 1000 ]] || { ok=0; why="too few packets"; }
    [[ $got == "${sent:-x}" ]] || { ok=0; why="$why received != sent"; }
    [[ $errors == 0 ]] || { ok=0; why="$why rx errors $errors"; }
    result "$name" $ok "vhost-fwd sent ${sent:-?}, testpmd received $got, rx errors $errors $why"
}

case_loop() { # case_loop NAME MRG
    local name=$1 mrg=$2 sock=$TP_DIR/$1.sock ok=1 why=""
    start_fwd fwd --socket "$sock" --mode mac --validate
    wait_for_sock "$sock" || { result "$name" 0 "no socket"; stop_fwd fwd; return; }
    if ! start_testpmd "$sock" "$mrg" 64 || ! tp_wait_link fe 10; then
        result "$name" 0 "testpmd did not come up"; tp_stop fe; stop_fwd fwd; return
    fi
    tp_cmd fe "set fwd mac"; tp_cmd fe "start tx_first 32"
    sleep "$RUN_SECS"
    tp_fwd_stop fe >/dev/null
    local trx=${TP_FWD[rx_packets]:-0} ttx=${TP_FWD[tx_packets]:-0}
    tp_stop fe
    stop_fwd fwd
    local rx tx invalid
    rx=$(jget fwd rx_packets); tx=$(jget fwd tx_packets); invalid=$(jget fwd rx_invalid)
    [[ ${rx:-0} -gt 10000 && ${tx:-0} -gt 10000 && $trx -gt 10000 ]] || { ok=0; why="too few packets"; }
    [[ ${invalid:-x} == 0 ]] || { ok=0; why="$why invalid packets"; }
    # Everything testpmd received came from us, and we received what it sent.
    [[ $trx -le ${tx:-0} && ${rx:-0} -le $ttx ]] || { ok=0; why="$why counts inconsistent"; }
    result "$name" $ok "testpmd rx $trx tx $ttx; vhost-fwd rx ${rx:-?} tx ${tx:-?} (${invalid:-?} invalid) $why"
}

case_interrupt() {
    local name=interrupt sock=$TP_DIR/interrupt.sock ok=1 why="" sent=0
    start_fwd fwd --socket "$sock" --mode rxonly --validate --interrupt
    wait_for_sock "$sock" || { result $name 0 "no socket"; stop_fwd fwd; return; }
    if ! start_testpmd "$sock" 1 64 || ! tp_wait_link fe 10; then
        result $name 0 "testpmd did not come up"; tp_stop fe; stop_fwd fwd; return
    fi
    tp_cmd fe "set fwd txonly"
    # Idle, burst, idle, burst: vhost-fwd falls asleep in between and the
    # guest's kick must wake it.
    local round
    for round in 1 2 3; do
        sleep 1
        tp_cmd fe "start"; sleep 0.5
        tp_fwd_stop fe >/dev/null
        sent=$((sent + ${TP_FWD[tx_packets]:-0}))
    done
    sleep 1
    tp_stop fe
    stop_fwd fwd
    local got wakeups invalid
    got=$(jget fwd rx_packets); invalid=$(jget fwd rx_invalid)
    wakeups=$(grep -o '"wakeups":[0-9]*' "$TP_DIR/fwd.json" | cut -d: -f2)
    [[ ${got:-x} == "$sent" && $sent -gt 0 ]] || { ok=0; why="received != sent"; }
    [[ ${wakeups:-0} -ge 2 ]] || { ok=0; why="$why not woken by kicks"; }
    [[ ${invalid:-x} == 0 ]] || { ok=0; why="$why invalid packets"; }
    result $name $ok "sent $sent, received ${got:-?}, woken by kicks ${wakeups:-?} times $why"
}

# One testpmd session of txonly traffic; adds what it sent to SENT.
session() { # session SOCK [VDEV_EXTRA] [--no-wait-then-fwd-args...]
    tp_cmd fe "set fwd txonly"; tp_cmd fe "start"
    sleep 1.5
    tp_fwd_stop fe >/dev/null
    SENT=$((SENT + ${TP_FWD[tx_packets]:-0}))
    sleep 0.3
    tp_stop fe
}

case_reconnect_server() {
    local name=reconnect-server sock=$TP_DIR/rs.sock ok=1 why=""
    SENT=0
    start_fwd fwd --socket "$sock" --mode rxonly --validate
    wait_for_sock "$sock" || { result $name 0 "no socket"; stop_fwd fwd; return; }
    local i
    for i in 1 2; do
        if ! start_testpmd "$sock" 1 64 || ! tp_wait_link fe 10; then
            ok=0; why="testpmd session $i did not come up"; tp_stop fe; break
        fi
        session
    done
    stop_fwd fwd
    local got connects
    got=$(jget fwd rx_packets); connects=$(jget fwd connects)
    [[ ${connects:-0} == 2 ]] || { ok=0; why="$why connects ${connects:-?}"; }
    [[ ${got:-x} == "$SENT" && $SENT -gt 0 ]] || { ok=0; why="$why received != sent"; }
    result $name $ok "2 sessions, sent $SENT, received ${got:-?}, connects ${connects:-?} $why"
}

case_reconnect_client() {
    local name=reconnect-client sock=$TP_DIR/rc.sock ok=1 why=""
    SENT=0
    local i
    for i in 1 2; do
        # virtio-user server=1 blocks in its probe until we connect.
        start_testpmd "$sock" 1 64 server=1 --no-wait
        [[ $i == 1 ]] && start_fwd fwd --client --socket "$sock" --mode rxonly --validate
        if ! tp_wait_prompt fe 20 || ! tp_wait_link fe 10; then
            ok=0; why="testpmd session $i did not come up"; tp_stop fe; break
        fi
        session
        rm -f "$sock"
    done
    stop_fwd fwd
    local got connects
    got=$(jget fwd rx_packets); connects=$(jget fwd connects)
    [[ ${connects:-0} == 2 ]] || { ok=0; why="$why connects ${connects:-?}"; }
    [[ ${got:-x} == "$SENT" && $SENT -gt 0 ]] || { ok=0; why="$why received != sent"; }
    result $name $ok "2 sessions, sent $SENT, received ${got:-?}, connects ${connects:-?} $why"
}

case_features() {
    local name=features ok=1 why="" mrg line
    for mrg in 0 1; do
        local sock=$TP_DIR/feat$mrg.sock
        start_fwd fwd --socket "$sock" --mode rxonly
        wait_for_sock "$sock" || { ok=0; why="no socket"; stop_fwd fwd; break; }
        if ! start_testpmd "$sock" "$mrg" 64 || ! tp_wait_link fe 10; then
            ok=0; why="testpmd did not come up"; tp_stop fe; stop_fwd fwd; break
        fi
        tp_stop fe
        stop_fwd fwd
        line=$(grep -m1 'ready on' "$TP_DIR/fwd.err")
        echo "  mrg_rxbuf=$mrg: $line"
        [[ $line == *VERSION_1* && $line == *PROTOCOL_FEATURES* ]] || { ok=0; why="$why no VERSION_1"; }
        if [[ $mrg == 1 ]]; then
            [[ $line == *MRG_RXBUF* ]] || { ok=0; why="$why MRG_RXBUF missing"; }
        else
            [[ $line != *MRG_RXBUF* ]] || { ok=0; why="$why MRG_RXBUF acked"; }
        fi
    done
    result $name $ok "new_device reports the acked features $why"
}

ALL=(features g2h-64-mrg0 g2h-64-mrg1 g2h-1518-mrg0 g2h-1518-mrg1 g2h-9000-mrg1
     h2g-64-mrg0 h2g-64-mrg1 h2g-1518-mrg0 h2g-1518-mrg1 h2g-9000-mrg1 h2g-9000-mrg0
     loop-mrg0 loop-mrg1 noindirect noinorder-g2h noinorder-h2g interrupt reconnect-server reconnect-client)
((${#CASES[@]})) || CASES=("${ALL[@]}")
for c in "${CASES[@]}"; do
    case $c in
        g2h-*-mrg*) s=${c#g2h-}; case_g2h "$c" "${s%-mrg*}" "${c##*mrg}" ;;
        h2g-*-mrg*) s=${c#h2g-}; case_h2g "$c" "${s%-mrg*}" "${c##*mrg}" ;;
        loop-mrg*) case_loop "$c" "${c##*mrg}" ;;
        noindirect) case_g2h noindirect 1518 1 --no-indirect ;;
        noinorder-g2h) VDEV_EXTRA=in_order=0; case_g2h "$c" 64 1; VDEV_EXTRA="" ;;
        noinorder-h2g) VDEV_EXTRA=in_order=0; case_h2g "$c" 1518 1; VDEV_EXTRA="" ;;
        interrupt) case_interrupt ;;
        reconnect-server) case_reconnect_server ;;
        reconnect-client) case_reconnect_client ;;
        features) case_features ;;
        *) echo "FAIL $c: unknown case"; FAIL=$((FAIL + 1)) ;;
    esac
done
echo "peer: $PASS passed, $FAIL failed"
((FAIL == 0))
