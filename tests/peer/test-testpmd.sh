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
#   mq-g2h / mq-h2g       two queue pairs (virtio-user queues=2,cq=1, testpmd
#                         --rxq=2 --txq=2): g2h and h2g as above, and each
#                         queue's count on our side (vhost-fwd --json
#                         "queues") equals testpmd's for its stream, both
#                         non-zero
#   mq-interrupt          interrupt with two queue pairs: woken by kicks on
#                         either TX ring, both queues carry traffic
#   packed-<case>         <case> with packed virtqueues (virtio-user
#                         packed_vq=1): g2h/h2g/loop, mrg on/off, in_order
#                         on/off, indirect off, interrupt, reconnect
# Prints "PASS name ..." / "FAIL name reason" per case and
# "peer: N passed, N failed" at the end. Pinning: testpmd forwards on core 0,
# vhost-fwd on core 1. Everything started is killed by PID on exit.
#
# No fixed sleeps: every step waits on a condition (socket present, prompt,
# link up, vhost-fwd's counters -- read from its --stats-file -- reaching a
# value) with a deadline. Deadlines are multiplied by TP_SLOW, set before
# each case: x4 when vhost-fwd runs under valgrind (PEER_FWD_WRAPPER), x2
# for a sanitizer build, times the 1-minute load average per CPU (1 to 4);
# PEER_SLOW=N forces the factor. A traffic window (PEER_RUN_SECS) is a
# duration, not a wait: it runs at least that long, and on until the
# counters have moved enough. The only retries are for what is racy by
# nature, each printed with its reason ("retry: ...").
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

# Deadline factor (see the header). BASE_SLOW: what the run itself costs.
if [[ -n ${PEER_SLOW:-} ]]; then
    BASE_SLOW=$PEER_SLOW WHY_SLOW="PEER_SLOW"
elif [[ ${PEER_FWD_WRAPPER:-} == *valgrind* ]]; then
    BASE_SLOW=4 WHY_SLOW="valgrind"
elif grep -qaE '__(a|t|ub)san_init' "$FWD"; then
    BASE_SLOW=2 WHY_SLOW="sanitizer build"
else
    BASE_SLOW=1 WHY_SLOW="plain build"
fi
# set_slow NAME : TP_SLOW for the next case, from the load right now.
set_slow() {
    local l
    read -r l _ </proc/loadavg
    if [[ -n ${PEER_SLOW:-} ]]; then TP_SLOW=$PEER_SLOW; else
        TP_SLOW=$((BASE_SLOW * $(awk -v l="$l" -v n="$(nproc)" \
            'BEGIN { f = int(l / n + 0.999); print ((f < 1) ? 1 : ((f > 4) ? 4 : f)) }')))
    fi
    echo "# $1: deadlines x$TP_SLOW ($WHY_SLOW, load $l on $(nproc) CPUs)"
}

# start_fwd NAME ARGS... : vhost-fwd on core 1, --json, bounded in time;
# its port-0 counters go to $TP_DIR/NAME.stats every 20 ms (read by fstat).
start_fwd() {
    local name=$1; shift
    rm -f "$TP_DIR/$name.stats"
    timeout -k 2 "$(tp_life 180)" "${WRAP[@]}" "$FWD" --cpu 1 --json \
        --stats-file "$TP_DIR/$name.stats" "$@" \
        >"$TP_DIR/$name.json" 2>"$TP_DIR/$name.err" &
    FWD_PID[$name]=$!
}

# The vhost-fwd process itself (not the timeout wrapper, not valgrind's).
fwd_pid() { pgrep -P "${FWD_PID[$1]}" | head -1; }
fwd_gone() { ! kill -0 "${FWD_PID[$1]}" 2>/dev/null; }
# fwd_signal NAME SIG : signal vhost-fwd itself (its handlers are installed
# before it creates or connects its socket, which every case waits for).
fwd_signal() {
    local p
    p=$(fwd_pid "$1")
    [[ -n $p ]] && kill -"$2" "$p"
}

# stop_fwd NAME : SIGINT; once it has exited (within 30 s, scaled: valgrind
# checks for leaks at exit) the JSON is complete, else SIGKILL. FWD_RC: its
# exit status (a sanitizer or valgrind error, or a hang at exit, makes it
# non-zero, and the case fails).
stop_fwd() {
    local name=$1 pid=${FWD_PID[$1]:-}
    [[ -n $pid ]] || return 0
    fwd_signal "$name" INT 2>/dev/null
    # timeout(1) leads its own process group: KILL takes vhost-fwd with it.
    tp_wait_until 30 "vhost-fwd to exit after SIGINT" fwd_gone "$name" ||
        kill -KILL -- "-$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    FWD_RC=$?
    unset "FWD_PID[$name]"
}

# jget NAME KEY : value of KEY for port 0 in vhost-fwd's JSON summary.
jget() {
    grep -o "\"$2\":[0-9]*" "$TP_DIR/$1.json" | head -1 | cut -d: -f2
}

# fstat NAME : read vhost-fwd's stats file into FS_RX FS_TX FS_T (ns)
# FS_PASSES (worker passes); false if there is none yet.
fstat() {
    local a b c d e
    read -r a b c d e _ 2>/dev/null <"$TP_DIR/$1.stats" || return 1
    [[ -n $e ]] || return 1
    FS_RX=$a FS_TX=$b FS_T=$c FS_PASSES=$d
}
# Conditions on vhost-fwd's counters, for tp_wait_until.
rx_at_least() { fstat "$1" && ((FS_RX >= $2)); }
tx_at_least() { fstat "$1" && ((FS_TX >= $2)); }
rx_is() { fstat "$1" && ((FS_RX == $2)); }
stats_after() { fstat "$1" && ((FS_T > $2)); }

# window T0_NS SECS WHAT CMD... : a traffic window that began at T0_NS:
# wait until CMD holds (traffic moved), then until SECS have passed.
window() {
    local t0=$1 secs=$2 what=$3 rest; shift 3
    tp_wait_until "$(awk -v s="$secs" 'BEGIN { print s + 10 }')" "$what" "$@" || return 1
    rest=$(awk -v s="$secs" -v t="$(( ($(tp_now_ns) - t0) / 1000000 ))" 'BEGIN { printf "%d", s * 1000 - t }')
    # The traffic's duration, not a wait for anything.
    ((rest <= 0)) || sleep "$(awk -v r="$rest" 'BEGIN { printf "%.3f", r / 1000 }')"
}

# fwd_settled NAME : true once vhost-fwd's worker has seen everything that
# came before this call: two stats files written after it (the main loop
# stores the pause flag, then writes the file; the worker reads the flag on
# every pass).
fwd_settled() {
    local t
    t=$(tp_now_ns)
    tp_wait_until 5 "a vhost-fwd stats file" stats_after "$1" "$t" || return 1
    t=$FS_T
    tp_wait_until 5 "a second vhost-fwd stats file" stats_after "$1" $((t + 100000000))
}

wait_for_sock() { tp_wait_until 5 "socket $1" test -S "$1"; }

# virtio-user options and testpmd arguments for a packet size.
# VDEV_EXTRA: more virtio-user options for every testpmd of a case.
VDEV_EXTRA=""
# VDEV_QUEUES / TP_QUEUE_ARGS: queue pairs of the multiqueue cases.
VDEV_QUEUES=1
TP_QUEUE_ARGS=""
vdev() { echo "net_virtio_user0,path=$1,queues=$VDEV_QUEUES,mrg_rxbuf=$2${3:+,$3}${VDEV_EXTRA:+,$VDEV_EXTRA}"; }
# A small mbuf pool and EAL memory: testpmd's start-up work (touching its
# memory, initialising every mbuf) runs on its main lcore, which shares
# core 1 with vhost-fwd's spinning worker; with the defaults (155456 mbufs,
# -m 1024) a loaded machine took 20-70 s to reach the prompt.
TP_MEM=256
tp_size_args() {
    if (($1 > 1518)); then
        echo "--mbuf-size=10240 --total-num-mbufs=4096 --max-pkt-len=9728 --txpkts=$1"
    else
        echo "--total-num-mbufs=8192 --txpkts=$1"
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

# start_testpmd SOCK MRG SIZE [VDEV_EXTRA] : testpmd (virtio-user client)
# up, its link up. PEER_START_TRIES (default 1): attempts; a retry is
# printed with the reason the attempt failed (testpmd's own log tail is on
# stderr). Deadlines are scaled, so a retry is only for what the deadline
# cannot cover.
start_testpmd() {
    local try
    for ((try = 1; try <= ${PEER_START_TRIES:-1}; try++)); do
        # shellcheck disable=SC2046
        tp_start fe --lcores 0,1 --main-lcore 1 --timeout 120 \
            --vdev "$(vdev "$1" "$2" "${4:-}")" -- --nb-cores=1 $(tp_size_args "$3") $TP_QUEUE_ARGS &&
            tp_wait_link fe 10 && return 0
        tp_stop fe 1
        ((try < ${PEER_START_TRIES:-1})) &&
            echo "  retry: testpmd did not come up (attempt $try; see above), starting it again"
    done
    return 1
}

# stop_traffic NAME : `stop` testpmd's forwarding; TP_FWD holds its totals.
stop_traffic() { tp_fwd_stop fe >/dev/null || echo "  ($1: no reply to stop)"; }

case_g2h() { # case_g2h NAME SIZE MRG [FWD_ARGS...]
    local name=$1 size=$2 mrg=$3; shift 3
    local sock=$TP_DIR/$name.sock ok=1 why=""
    start_fwd fwd --socket "$sock" --mode rxonly --validate "$@"
    wait_for_sock "$sock" || { result "$name" 0 "no socket"; stop_fwd fwd; return; }
    if ! start_testpmd "$sock" "$mrg" "$size" || ! tp_wait_link fe 10; then
        result "$name" 0 "testpmd did not come up"; tp_stop fe; stop_fwd fwd; return
    fi
    tp_cmd fe "set fwd txonly"
    local t0; t0=$(tp_now_ns)
    tp_cmd_wait fe "start" 'testpmd> ' 5
    window "$t0" "$RUN_SECS" "vhost-fwd to receive 2000 packets" rx_at_least fwd 2000 || why="traffic did not flow;"
    stop_traffic "$name"
    local sent=${TP_FWD[tx_packets]:-0}
    # vhost-fwd drains the ring before testpmd goes
    tp_wait_until 10 "vhost-fwd to receive all $sent packets" rx_is fwd "$sent"
    tp_stop fe
    stop_fwd fwd
    local got invalid
    got=$(jget fwd rx_packets); invalid=$(jget fwd rx_invalid)
    [[ ${got:-0} -gt 1000 ]] || { ok=0; why="too few packets"; }
    [[ ${got:-x} == "$sent" ]] || { ok=0; why="$why received != sent"; }
    [[ ${invalid:-x} == 0 ]] || { ok=0; why="$why invalid packets"; }
    result "$name" $ok "testpmd sent $sent, vhost-fwd received ${got:-?} (${invalid:-?} invalid) $why"
}

testpmd_rx_is() { tp_port_stats fe >/dev/null && [[ ${TP_STATS[rx_packets]:-} == "$1" ]]; }

case_h2g() { # case_h2g NAME SIZE MRG
    local name=$1 size=$2 mrg=$3
    local sock=$TP_DIR/$name.sock ok=1 why=""
    start_fwd fwd --socket "$sock" --mode txonly --pkt-len "$size" --start-paused
    wait_for_sock "$sock" || { result "$name" 0 "no socket"; stop_fwd fwd; return; }
    if ! start_testpmd "$sock" "$mrg" "$size" || ! tp_wait_link fe 10; then
        result "$name" 0 "testpmd did not come up"; tp_stop fe; stop_fwd fwd; return
    fi
    tp_cmd fe "set fwd rxonly"; tp_cmd_wait fe "start" 'testpmd> ' 5
    local t0; t0=$(tp_now_ns)
    fwd_signal fwd USR1 # go
    window "$t0" "$RUN_SECS" "vhost-fwd to send 2000 packets" tx_at_least fwd 2000 || why="traffic did not flow;"
    # Pause our traffic, still connected: testpmd drains what we placed.
    fwd_signal fwd USR1
    fwd_settled fwd; fstat fwd
    local placed=${FS_TX:-x}
    tp_wait_until 10 "testpmd to receive all $placed packets" testpmd_rx_is "$placed"
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
    tp_cmd fe "set fwd mac"
    local t0 now last=-1 tlast stall inject=1 trx=0 ttx=0 end rest
    t0=$(tp_now_ns); tlast=$t0
    stall=$(( $(tp_secs 2) * 1000000000 ))
    end=$(( t0 + $(tp_secs $((RUN_SECS + 10))) * 1000000000 ))
    tp_cmd_wait fe "start tx_first 32" 'testpmd> ' 5
    # Until both directions have moved 10000 packets (testpmd received
    # what we sent, less what sits in its ring). A loop's population only
    # shrinks: a packet dropped on a full ring is gone. If vhost-fwd's
    # receive counter stops while testpmd runs, the population is gone:
    # inject again (at most twice), and say so.
    until fstat fwd && ((FS_RX >= 10000 && FS_TX >= 10600)); do
        now=$(tp_now_ns)
        if [[ ${FS_RX:-0} != "$last" ]]; then
            last=${FS_RX:-0}; tlast=$now
        elif ((now - tlast > stall && inject < 3)); then
            stop_traffic "$name"
            trx=$((trx + ${TP_FWD[rx_packets]:-0})); ttx=$((ttx + ${TP_FWD[tx_packets]:-0}))
            echo "  retry: the loop stopped at vhost-fwd rx $last (its packets were dropped on full rings); injecting 32 bursts again"
            tp_cmd_wait fe "start tx_first 32" 'testpmd> ' 5
            inject=$((inject + 1)); tlast=$(tp_now_ns)
        fi
        ((now < end)) || { why="loop moved too little in $(tp_secs $((RUN_SECS + 10))) s;"; break; }
        sleep 0.05
    done
    rest=$(( RUN_SECS * 1000 - ($(tp_now_ns) - t0) / 1000000 ))
    # The traffic's duration, not a wait for anything.
    ((rest <= 0)) || sleep "$(awk -v r="$rest" 'BEGIN { printf "%.3f", r / 1000 }')"
    stop_traffic "$name"
    trx=$((trx + ${TP_FWD[rx_packets]:-0})); ttx=$((ttx + ${TP_FWD[tx_packets]:-0}))
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

# fwd_asleep NAME : vhost-fwd's worker sleeps in poll() on the kick fds
# (the only poll() in vhost-fwd: the event thread uses epoll, the main
# thread usleep). Its kernel wait channel says so, under valgrind too.
fwd_asleep() {
    local p t
    p=$(fwd_pid "$1") && [[ -n $p ]] || return 1
    for t in /proc/"$p"/task/*; do
        [[ $(cat "$t/wchan" 2>/dev/null) == @(do_sys_poll|poll_schedule_timeout)* ]] && return 0
    done
    return 1
}

case_interrupt() { # case_interrupt [NAME [VHOST_FWD_ARGS...]] (NAME: $NAME)
    local name=${1:-$NAME} sock=$TP_DIR/${1:-$NAME}.sock ok=1 why="" sent=0
    start_fwd fwd --socket "$sock" --mode rxonly --validate --interrupt "${@:2}"
    wait_for_sock "$sock" || { result $name 0 "no socket"; stop_fwd fwd; return; }
    if ! start_testpmd "$sock" 1 64 || ! tp_wait_link fe 10; then
        result $name 0 "testpmd did not come up"; tp_stop fe; stop_fwd fwd; return
    fi
    tp_cmd fe "set fwd txonly"
    # Idle, burst, idle, burst: vhost-fwd falls asleep in between and the
    # guest's kick must wake it.
    local round t0
    for round in 1 2 3; do
        tp_wait_until 10 "vhost-fwd to fall asleep (round $round)" fwd_asleep fwd ||
            { ok=0; why="$why never asleep;"; }
        fstat fwd
        t0=$(tp_now_ns)
        tp_cmd_wait fe "start" 'testpmd> ' 5
        window "$t0" 0.5 "vhost-fwd to wake up and receive (round $round)" rx_at_least fwd $((FS_RX + 1))
        stop_traffic $name
        sent=$((sent + ${TP_FWD[tx_packets]:-0}))
        tp_wait_until 10 "vhost-fwd to receive all $sent packets" rx_is fwd "$sent"
    done
    tp_stop fe
    stop_fwd fwd
    local got wakeups invalid
    got=$(jget fwd rx_packets); invalid=$(jget fwd rx_invalid)
    wakeups=$(grep -o '"wakeups":[0-9]*' "$TP_DIR/fwd.json" | cut -d: -f2)
    [[ ${got:-x} == "$sent" && $sent -gt 0 ]] || { ok=0; why="received != sent"; }
    [[ ${wakeups:-0} -ge 2 ]] || { ok=0; why="$why not woken by kicks"; }
    [[ ${invalid:-x} == 0 ]] || { ok=0; why="$why invalid packets"; }
    INTR_QUEUES=$(fwd_queues fwd rx_packets)
    [[ -n ${INTR_CHECK:-} ]] && { $INTR_CHECK || { ok=0; why="$why $MQ_WHY"; }; }
    result $name $ok "sent $sent, received ${got:-?}, woken by kicks ${wakeups:-?} times${INTR_QUEUES:+, per queue ($INTR_QUEUES)} $why"
}

# One testpmd session of txonly traffic (1.5 s, and at least 1000 packets
# received); adds what it sent to SENT, and quits once vhost-fwd has
# received all of it.
session() { # session NAME
    local t0
    tp_cmd fe "set fwd txonly"
    t0=$(tp_now_ns)
    tp_cmd_wait fe "start" 'testpmd> ' 5
    window "$t0" 1.5 "vhost-fwd to receive 1000 packets" rx_at_least fwd $((SENT + 1000))
    stop_traffic "$1"
    SENT=$((SENT + ${TP_FWD[tx_packets]:-0}))
    tp_wait_until 10 "vhost-fwd to receive all $SENT packets" rx_is fwd "$SENT"
    tp_stop fe
}

# fwd_lines NAME REGEX N : vhost-fwd's stderr has at least N lines matching.
fwd_lines() { (($(grep -cE -- "$2" "$TP_DIR/$1.err" 2>/dev/null) >= $3)); }
# session_gone I : vhost-fwd has seen session I end (its device stopped),
# so the next session is a new connection, not one it must refuse.
session_gone() {
    tp_wait_until 10 "vhost-fwd to see session $1 end" fwd_lines fwd '^port 0: device [0-9]+ stopped' "$1"
}
ms_since() { echo $(( ($(tp_now_ns) - $1) / 1000000 )); }

case_reconnect_server() {
    local name=$NAME sock=$TP_DIR/rs.sock ok=1 why="" t0
    SENT=0
    start_fwd fwd --socket "$sock" --mode rxonly --validate
    wait_for_sock "$sock" || { result $name 0 "no socket"; stop_fwd fwd; return; }
    local i
    for i in 1 2; do
        t0=$(tp_now_ns)
        if ! start_testpmd "$sock" 1 64; then
            ok=0; why="testpmd session $i did not come up"; tp_stop fe; break
        fi
        echo "  session $i: up after $(ms_since "$t0") ms"
        session $name
        session_gone "$i"
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
    local t0 stage
    for i in 1 2; do
        t0=$(tp_now_ns)
        # virtio-user server=1 blocks in its probe until we connect: each
        # stage is waited for on its own, and a failure names it.
        # shellcheck disable=SC2046
        tp_start fe --lcores 0,1 --main-lcore 1 --timeout 120 --no-wait \
            --vdev "$(vdev "$sock" 1 server=1)" -- --nb-cores=1 $(tp_size_args 64)
        [[ $i == 1 ]] && start_fwd fwd --client --socket "$sock" --mode rxonly --validate
        stage="testpmd's socket"
        tp_wait_until 20 "$stage" test -S "$sock" &&
            { stage="vhost-fwd's device $i"; tp_wait_until 20 "$stage" fwd_lines fwd ' ready on ' "$i"; } &&
            { stage="testpmd's prompt"; tp_wait_prompt fe 20; } &&
            { stage="testpmd's link"; tp_wait_link fe 10; } && stage=""
        if [[ -n $stage ]]; then
            ok=0; why="testpmd session $i did not come up: no $stage after $(ms_since "$t0") ms"
            tp_stop fe; break
        fi
        echo "  session $i: up after $(ms_since "$t0") ms"
        session $name
        session_gone "$i"
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
    local name=$NAME ok=1 why="" mrg line
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
        # Packed rings exactly when virtio-user asks for them.
        if [[ $VDEV_EXTRA == *packed_vq=1* ]]; then
            [[ $line == *RING_PACKED* ]] || { ok=0; why="$why RING_PACKED missing"; }
        else
            [[ $line != *RING_PACKED* ]] || { ok=0; why="$why RING_PACKED acked"; }
        fi
        if [[ $mrg == 1 ]]; then
            [[ $line == *MRG_RXBUF* ]] || { ok=0; why="$why MRG_RXBUF missing"; }
        else
            [[ $line != *MRG_RXBUF* ]] || { ok=0; why="$why MRG_RXBUF acked"; }
        fi
    done
    result $name $ok "new_device reports the acked features $why"
}

# ------------------------------------------------------------ multiqueue
# fwd_queues NAME FIELD : vhost-fwd's per-queue FIELD of port 0, "N0 N1 ...".
fwd_queues() {
    python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
print(" ".join(str(q[sys.argv[2]]) for q in d["ports"][0].get("queues", [])))' \
        "$TP_DIR/$1.json" "$2" 2>/dev/null
}
# tp_streams : from the `stop` output in TP_OUT, testpmd's per-stream counts
# "RXQ:RX-packets:TX-packets ..." (one stream per queue pair here).
tp_streams() {
    awk '/Forward Stats for RX Port=/ { split($0, a, "Queue="); q = a[2] + 0; next }
         q != "" && /RX-packets:/ { printf "%s:%s:%s ", q, $2, $4; q = "" }' <<<"$TP_OUT"
}
# mq_check WHAT OURS THEIRS_FIELD : ours ("N0 N1") against testpmd's streams
# (field 2: RX, 3: TX) queue by queue, both queues non-zero. Sets MQ_WHY.
mq_check() {
    local ours=($2) s q want i=0
    MQ_WHY=""
    ((${#ours[@]} == 2)) || { MQ_WHY="$1: our queues '${2}' (want 2)"; return 1; }
    for q in 0 1; do
        want=0
        for s in $STREAMS; do
            [[ ${s%%:*} == "$q" ]] && want=$(cut -d: -f"$3" <<<"$s")
        done
        [[ ${ours[$q]} == "$want" && $want -gt 0 ]] ||
            { MQ_WHY="$MQ_WHY $1 queue $q: ours ${ours[$q]}, testpmd $want;"; i=1; }
    done
    return $i
}

case_mq_g2h() {
    local name=mq-g2h sock=$TP_DIR/mq-g2h.sock ok=1 why=""
    start_fwd fwd --socket "$sock" --mode rxonly --validate --queues 2
    wait_for_sock "$sock" || { result $name 0 "no socket"; stop_fwd fwd; return; }
    VDEV_QUEUES=2 VDEV_EXTRA=cq=1 TP_QUEUE_ARGS="--rxq=2 --txq=2"
    if ! start_testpmd "$sock" 1 64 || ! tp_wait_link fe 10; then
        VDEV_QUEUES=1 VDEV_EXTRA="" TP_QUEUE_ARGS=""
        result $name 0 "testpmd did not come up"; tp_stop fe; stop_fwd fwd; return
    fi
    VDEV_QUEUES=1 VDEV_EXTRA="" TP_QUEUE_ARGS=""
    tp_cmd fe "set fwd txonly"
    local t0; t0=$(tp_now_ns)
    tp_cmd_wait fe "start" 'testpmd> ' 5
    window "$t0" "$RUN_SECS" "vhost-fwd to receive 2000 packets" rx_at_least fwd 2000 || why="traffic did not flow;"
    stop_traffic $name
    STREAMS=$(tp_streams)
    local sent=${TP_FWD[tx_packets]:-0}
    tp_wait_until 10 "vhost-fwd to receive all $sent packets" rx_is fwd "$sent"
    tp_stop fe
    stop_fwd fwd
    local got invalid ours
    got=$(jget fwd rx_packets); invalid=$(jget fwd rx_invalid)
    ours=$(fwd_queues fwd rx_packets)
    [[ ${got:-0} -gt 1000 && ${got:-x} == "$sent" ]] || { ok=0; why="$why received != sent"; }
    [[ ${invalid:-x} == 0 ]] || { ok=0; why="$why invalid packets"; }
    mq_check "testpmd TX -> our RX" "$ours" 3 || { ok=0; why="$why $MQ_WHY"; }
    result $name $ok "testpmd sent $sent (streams $STREAMS), vhost-fwd received ${got:-?} per queue ($ours) $why"
}

case_mq_h2g() {
    local name=mq-h2g sock=$TP_DIR/mq-h2g.sock ok=1 why=""
    start_fwd fwd --socket "$sock" --mode txonly --pkt-len 64 --start-paused --queues 2
    wait_for_sock "$sock" || { result $name 0 "no socket"; stop_fwd fwd; return; }
    VDEV_QUEUES=2 VDEV_EXTRA=cq=1 TP_QUEUE_ARGS="--rxq=2 --txq=2"
    if ! start_testpmd "$sock" 1 64 || ! tp_wait_link fe 10; then
        VDEV_QUEUES=1 VDEV_EXTRA="" TP_QUEUE_ARGS=""
        result $name 0 "testpmd did not come up"; tp_stop fe; stop_fwd fwd; return
    fi
    VDEV_QUEUES=1 VDEV_EXTRA="" TP_QUEUE_ARGS=""
    tp_cmd fe "set fwd rxonly"; tp_cmd_wait fe "start" 'testpmd> ' 5
    local t0; t0=$(tp_now_ns)
    fwd_signal fwd USR1 # go
    window "$t0" "$RUN_SECS" "vhost-fwd to send 2000 packets" tx_at_least fwd 2000 || why="traffic did not flow;"
    fwd_signal fwd USR1
    fwd_settled fwd; fstat fwd
    local placed=${FS_TX:-x}
    tp_wait_until 10 "testpmd to receive all $placed packets" testpmd_rx_is "$placed"
    stop_fwd fwd
    tp_fwd_stop fe >/dev/null
    STREAMS=$(tp_streams)
    local got=${TP_STATS[rx_packets]:-0}
    tp_stop fe
    local sent ours
    sent=$(jget fwd tx_packets)
    ours=$(fwd_queues fwd tx_packets)
    [[ $got -gt 1000 && $got == "${sent:-x}" ]] || { ok=0; why="$why received != sent"; }
    mq_check "our TX -> testpmd RX" "$ours" 2 || { ok=0; why="$why $MQ_WHY"; }
    result $name $ok "vhost-fwd sent ${sent:-?} per queue ($ours), testpmd received $got (streams $STREAMS) $why"
}

# mq-interrupt: the interrupt case with two queue pairs: vhost-fwd sleeps on
# both TX rings' kick fds; both queues carry traffic.
mq_both_queues() {
    local q=($INTR_QUEUES)
    MQ_WHY="per queue '${INTR_QUEUES}' (want two, both > 0)"
    ((${#q[@]} == 2 && q[0] > 0 && q[1] > 0))
}
case_mq_interrupt() {
    VDEV_QUEUES=2 VDEV_EXTRA=cq=1 TP_QUEUE_ARGS="--rxq=2 --txq=2" INTR_CHECK=mq_both_queues
    case_interrupt mq-interrupt --queues 2
    VDEV_QUEUES=1 VDEV_EXTRA="" TP_QUEUE_ARGS="" INTR_CHECK=""
}

# Packed rings: mergeable on and off, in_order on and off, indirect off, in
# both directions and looped (every packed-<case> can be named too).
PACKED=(packed-features packed-g2h-64-mrg0 packed-g2h-1518-mrg1 packed-g2h-9000-mrg1
        packed-h2g-64-mrg1 packed-h2g-1518-mrg0 packed-h2g-9000-mrg1 packed-loop-mrg1
        packed-noindirect packed-noinorder-g2h packed-noinorder-h2g packed-interrupt
        packed-reconnect-server)
ALL=(features g2h-64-mrg0 g2h-64-mrg1 g2h-1518-mrg0 g2h-1518-mrg1 g2h-9000-mrg1
     h2g-64-mrg0 h2g-64-mrg1 h2g-1518-mrg0 h2g-1518-mrg1 h2g-9000-mrg1 h2g-9000-mrg0
     loop-mrg0 loop-mrg1 noindirect noinorder-g2h noinorder-h2g interrupt reconnect-server reconnect-client
     mq-g2h mq-h2g mq-interrupt "${PACKED[@]}")
((${#CASES[@]})) || CASES=("${ALL[@]}")
run_case() { # run_case CASE (VDEV_EXTRA as set by the caller)
    local c=$1 s extra=$VDEV_EXTRA
    case $c in
        g2h-*-mrg*) s=${c#g2h-}; case_g2h "$NAME" "${s%-mrg*}" "${c##*mrg}" ;;
        h2g-*-mrg*) s=${c#h2g-}; case_h2g "$NAME" "${s%-mrg*}" "${c##*mrg}" ;;
        loop-mrg*) case_loop "$NAME" "${c##*mrg}" ;;
        noindirect) case_g2h "$NAME" 1518 1 --no-indirect ;;
        noinorder-g2h) VDEV_EXTRA=${extra:+$extra,}in_order=0; case_g2h "$NAME" 64 1 ;;
        noinorder-h2g) VDEV_EXTRA=${extra:+$extra,}in_order=0; case_h2g "$NAME" 1518 1 ;;
        interrupt) case_interrupt ;;
        reconnect-server) case_reconnect_server ;;
        reconnect-client) case_reconnect_client ;;
        features) case_features ;;
        mq-g2h) case_mq_g2h ;;
        mq-h2g) case_mq_h2g ;;
        mq-interrupt) case_mq_interrupt ;;
        *) echo "FAIL $NAME: unknown case"; FAIL=$((FAIL + 1)) ;;
    esac
    VDEV_EXTRA=$extra
}
for c in "${CASES[@]}"; do
    set_slow "$c"
    NAME=$c
    case $c in
        # The same case with packed virtqueues (virtio-user packed_vq=1).
        packed-*) VDEV_EXTRA=packed_vq=1; run_case "${c#packed-}"; VDEV_EXTRA="" ;;
        *) run_case "$c" ;;
    esac
done
((PASS + FAIL)) || { echo "FAIL peer: no case ran"; FAIL=1; }
echo "peer: $PASS passed, $FAIL failed"
((FAIL == 0))
