# shellcheck shell=bash
# tests/peer/lib/testpmd.sh -- drive DPDK dpdk-testpmd instances from bash.
#
# Source this file from a bash script (bash >= 4.3):
#
#     . tests/peer/lib/testpmd.sh
#     tp_init                         # work dir + EXIT/INT/TERM trap
#     tp_start be --lcores 0,1 --main-lcore 0 \
#         --vdev "net_vhost0,iface=/tmp/a.sock,queues=1" -- --nb-cores=1
#     tp_cmd be "set fwd rxonly"; tp_cmd be "start"
#     tp_start fe --lcores 0,1 --main-lcore 1 \
#         --vdev "net_virtio_user0,path=/tmp/a.sock,queues=1" -- --nb-cores=1 --txpkts=64
#     tp_wait_link fe 10 && tp_cmd fe "set fwd txonly" && tp_cmd fe "start"
#     tp_port_stats be; echo "${TP_STATS[rx_packets]}"
#     tp_stop fe; tp_stop be          # or just exit: the trap calls tp_cleanup_all
#
# Every testpmd runs as
#     timeout -k 3 TIMEOUT stdbuf -oL -eL dpdk-testpmd -l L --main-lcore M \
#         --no-pci --no-huge -m MEM --file-prefix=PREFIX [--vdev ..] [eal..] \
#         -- -i [testpmd args..]  <FIFO  >LOG 2>&1
# so that (a) it dies by itself after TIMEOUT seconds even if this shell is
# SIGKILLed and no trap runs, (b) its stdout is line-buffered and the log can be
# read while it runs (without stdbuf testpmd's printf output is block-buffered
# and appears only at exit), (c) commands arrive on a FIFO that this shell keeps
# open read-write, so testpmd never sees EOF on stdin.
#
# All state is kept in global associative arrays keyed by instance name:
#   TP_PID[name]     pid of the `timeout` wrapper; it is also the process-group
#                    id of the wrapper + testpmd (timeout calls setpgid(0,0))
#   TP_TPID[name]    pid of dpdk-testpmd itself (child of the wrapper)
#   TP_PREFIX[name]  EAL --file-prefix (runtime dir /var/run/dpdk/PREFIX)
#   TP_FIFO[name]    stdin FIFO path;  TP_FD[name]: the shell's fd on it
#   TP_LOG[name]     stdout+stderr log
# Results of the last query: TP_STATS (assoc), TP_FWD (assoc), TP_OUT (text).
#
# Environment knobs: TP_DIR (work dir, default /tmp/tp.$$), TP_MEM (EAL -m,
# default 1024), TP_TIMEOUT (default hard life time in seconds, 600),
# TP_TESTPMD (binary, default dpdk-testpmd), TP_VERBOSE=1 (trace to stderr),
# TP_SLOW (integer >= 1, default 1): every deadline of this library (prompt,
# command reply, link, tp_wait_until, stop grace) is multiplied by it, for
# slow runs (a peer under valgrind or a sanitizer, a loaded machine). Waits
# end as soon as their condition holds, so a large factor costs nothing when
# things work; it only delays the verdict when they do not.

declare -gA TP_PID=() TP_TPID=() TP_PREFIX=() TP_FIFO=() TP_FD=() TP_LOG=()
declare -gA TP_STATS=() TP_FWD=()
declare -g TP_OUT=""
: "${TP_TESTPMD:=dpdk-testpmd}"
: "${TP_MEM:=1024}"
: "${TP_TIMEOUT:=600}"
: "${TP_SLOW:=1}"

# tp_secs SEC : print SEC (an integer or decimal number of seconds) times
# TP_SLOW, rounded up to whole seconds (0 stays 0: "look once").
tp_secs() {
    awk -v s="$1" -v k="${TP_SLOW:-1}" 'BEGIN { t = s * (k < 1 ? 1 : k)
        printf "%d\n", (t == int(t)) ? t : int(t) + 1 }'
}

# tp_life SEC : a process's hard life time: SEC scaled like a deadline, but
# never past max(SEC, 600 s), so that what a killed script leaves behind
# still dies soon.
tp_life() {
    local t
    t=$(tp_secs "$1")
    ((t <= $1 || t <= 600)) && echo "$t" || echo $(($1 > 600 ? $1 : 600))
}

# tp_wait_until SEC WHAT CMD... : run CMD every 50 ms until it succeeds
# (return 0) or tp_secs SEC have passed (return 1, and print "tp: timed out
# after N s waiting for WHAT" on stderr). A condition wait, never a sleep:
# it returns as soon as CMD succeeds.
tp_wait_until() {
    local tmo t what=$2
    tmo=$(tp_secs "$1"); t=$(tp_now_ns); shift 2
    local end=$(( t + tmo * 1000000000 ))
    while :; do
        "$@" && return 0
        (( $(tp_now_ns) < end )) || break
        sleep 0.05
    done
    tp_err "timed out after ${tmo} s waiting for $what"
}

# tp_log MSG... : trace to stderr when TP_VERBOSE=1.
tp_log() { [[ "${TP_VERBOSE:-0}" == 1 ]] && echo "[tp $(date +%T.%N | cut -c1-12)] $*" >&2; return 0; }

# tp_die MSG... : print to stderr and return 1 (callers decide whether to exit).
tp_err() { echo "tp: $*" >&2; return 1; }

# tp_now_ns : print CLOCK_REALTIME in nanoseconds.
tp_now_ns() { date +%s%N; }

# tp_init [DIR] : create the work dir (TP_DIR) and install the cleanup trap on
# EXIT, INT and TERM. Call once, early. If the caller needs its own EXIT trap,
# have it call tp_cleanup_all itself (set TP_NO_TRAP=1 before tp_init).
tp_init() {
    TP_DIR="${1:-${TP_DIR:-/tmp/tp.$$}}"
    mkdir -p "$TP_DIR" || return 1
    if [[ "${TP_NO_TRAP:-0}" != 1 ]]; then
        trap 'tp_cleanup_all' EXIT
        trap 'tp_cleanup_all; trap - INT; kill -INT $$' INT
        trap 'tp_cleanup_all; trap - TERM; kill -TERM $$' TERM
    fi
}

# tp_start NAME [--lcores L] [--main-lcore M] [--vdev ARGS]... [--eal ARG]...
#          [--prefix P] [--timeout SEC] [--no-wait] [--] [TESTPMD_APP_ARGS...]
# Start testpmd instance NAME in interactive mode (-i is always added) and wait
# (up to 30 s) for its first "testpmd> " prompt; with --no-wait return at once
# and call tp_wait_prompt later (needed for net_virtio_user with server=1:
# its probe blocks inside EAL init until a vhost client connects, so there is
# no prompt before the back-end is started). Defaults: --lcores 0,1,
# --main-lcore 0 (so the single forwarding lcore is the other one), prefix
# "tp_NAME_$$", timeout TP_TIMEOUT. --vdev is passed as one argv word: no
# quoting games are needed for the commas. Returns 1 (and prints the log tail)
# if testpmd exits or no prompt appears.
tp_start() {
    local name=$1; shift
    [[ -n "$name" ]] || { tp_err "tp_start: no name"; return 1; }
    [[ -z "${TP_PID[$name]:-}" ]] || { tp_err "tp_start: $name already running"; return 1; }
    [[ -n "${TP_DIR:-}" ]] || tp_init || return 1
    local lcores=0,1 main=0 prefix="tp_${name}_$$" tmo=$TP_TIMEOUT nowait=0
    local -a eal=()
    while (($#)); do
        case $1 in
            --lcores) lcores=$2; shift 2 ;;
            --main-lcore) main=$2; shift 2 ;;
            --vdev) eal+=(--vdev "$2"); shift 2 ;;
            --eal) eal+=("$2"); shift 2 ;;
            --prefix) prefix=$2; shift 2 ;;
            --timeout) tmo=$2; shift 2 ;;
            --no-wait) nowait=1; shift ;;
            --) shift; break ;;
            *) break ;;
        esac
    done
    local fifo="$TP_DIR/$name.fifo" log="$TP_DIR/$name.log" fd f
    rm -f "$fifo"; mkfifo "$fifo" || return 1
    : >"$log"
    # O_RDWR on a FIFO never blocks on Linux, and keeps a writer alive forever.
    exec {fd}<>"$fifo" || return 1
    rm -rf "/var/run/dpdk/$prefix"
    local -a cmd=(timeout -k 3 "$(tp_life "$tmo")" stdbuf -oL -eL "$TP_TESTPMD"
        -l "$lcores" --main-lcore "$main" --no-pci --no-huge -m "$TP_MEM"
        --file-prefix="$prefix" "${eal[@]}" -- -i "$@")
    tp_log "start $name: ${cmd[*]}"
    echo "# ${cmd[*]}" >"$log.cmd"
    # The child closes every instance's FIFO fd (its own included): only this
    # shell holds the writers. The subshell execs, so $! is timeout's pid.
    (
        for f in "${TP_FD[@]}" "$fd"; do exec {f}>&-; done
        exec "${cmd[@]}"
    ) <"$fifo" >>"$log" 2>&1 &
    local pid=$!
    TP_PID[$name]=$pid TP_PREFIX[$name]=$prefix TP_FIFO[$name]=$fifo
    TP_FD[$name]=$fd TP_LOG[$name]=$log TP_TPID[$name]=""
    # testpmd's own pid (the wrapper's child): a loaded machine may take a
    # while to fork and exec; without it tp_stop still kills the group.
    local end=$(( $(tp_now_ns) + $(tp_secs 5) * 1000000000 ))
    while :; do
        TP_TPID[$name]=$(pgrep -P "$pid" 2>/dev/null | head -1)
        [[ -n "${TP_TPID[$name]}" ]] && break
        kill -0 "$pid" 2>/dev/null && (( $(tp_now_ns) < end )) || break
        sleep 0.02
    done
    ((nowait)) && { tp_log "$name started (not waiting): pid ${TP_TPID[$name]}"; return 0; }
    tp_wait_prompt "$name" 30 || { tp_stop "$name" 1; return 1; }
    tp_log "$name up: pid ${TP_TPID[$name]} (wrapper $pid) prefix $prefix"
}

# tp_wait_prompt NAME [TIMEOUT_SEC=30] : wait for the first "testpmd> " prompt
# (end of EAL init + port setup). Returns 1, with the log tail on stderr, on
# timeout or death. Also fails if testpmd came up without any port ("No probed
# ethernet devices", e.g. virtio-user client whose socket does not exist yet).
tp_wait_prompt() {
    local name=$1 tmo=${2:-30}
    if ! tp_wait_log "$name" 'testpmd> ' "$tmo" 0; then
        tp_err "$name did not reach its prompt in $(tp_secs "$tmo") s; log tail:"
        tail -20 "${TP_LOG[$name]}" >&2
        return 1
    fi
    if grep -q 'No probed ethernet devices' "${TP_LOG[$name]}"; then
        tp_err "$name has no port (probe failed); log:"
        grep -E 'fail|error|Error' "${TP_LOG[$name]}" | head -8 >&2
        return 1
    fi
}

# tp_alive NAME : true while the instance's wrapper process exists.
tp_alive() { [[ -n "${TP_PID[$1]:-}" ]] && kill -0 "${TP_PID[$1]}" 2>/dev/null; }

# tp_log_size NAME : print the current byte size of NAME's log (an offset for
# tp_wait_log / tp_since).
tp_log_size() { stat -c %s "${TP_LOG[$1]}" 2>/dev/null || echo 0; }

# tp_since NAME OFFSET : print the log from byte OFFSET on.
tp_since() { tail -c +"$(($2 + 1))" "${TP_LOG[$1]}"; }

# tp_cmd NAME COMMAND... : send one command line to NAME's stdin (no waiting).
tp_cmd() {
    local name=$1; shift
    tp_alive "$name" || { tp_err "tp_cmd: $name is not running"; return 1; }
    tp_log "$name <- $*"
    printf '%s\n' "$*" >&"${TP_FD[$name]}"
}

# tp_wait_log NAME REGEX TIMEOUT_SEC [OFFSET] : wait until the extended regex
# REGEX (grep -E) matches in NAME's log after byte OFFSET (default 0). Returns 1
# on timeout or if the instance died.
tp_wait_log() {
    local name=$1 re=$2 tmo off=${4:-0}
    tmo=$(tp_secs "$3")
    local end=$(( $(date +%s%N) + tmo * 1000000000 ))
    while :; do
        tail -c +"$((off + 1))" "${TP_LOG[$name]}" 2>/dev/null | grep -qE -- "$re" && return 0
        tp_alive "$name" || { tail -c +"$((off + 1))" "${TP_LOG[$name]}" 2>/dev/null | grep -qE -- "$re"; return; }
        (( $(date +%s%N) < end )) || return 1
        sleep 0.05
    done
}

# tp_cmd_wait NAME COMMAND REGEX [TIMEOUT=10] : send COMMAND and wait until
# REGEX appears in the output that follows it; the output (from the command
# echo to now) is left in TP_OUT. Use 'testpmd> ' as REGEX to wait for the
# next prompt (the echo line "testpmd> CMD" does not count: we look after it).
tp_cmd_wait() {
    local name=$1 cmd=$2 re=$3 tmo off rc=1
    tmo=$(tp_secs "${4:-10}")
    off=$(tp_log_size "$name")
    tp_cmd "$name" "$cmd" || return 1
    local end=$(( $(date +%s%N) + tmo * 1000000000 ))
    while :; do
        # output after the echoed command line
        TP_OUT=$(tp_since "$name" "$off" | awk -v c="$cmd" 'f {print; next} index($0, c) {f=1; sub(/.*/, "")} ')
        grep -qE -- "$re" <<<"$TP_OUT" && { rc=0; break; }
        tp_alive "$name" || break
        (( $(date +%s%N) < end )) || break
        sleep 0.02
    done
    TP_OUT=$(tp_since "$name" "$off")
    return $rc
}

# tp_port_stats NAME [PORT=0] : run `show port stats PORT` and parse it into the
# assoc array TP_STATS: rx_packets rx_missed rx_bytes rx_errors rx_nombuf
# tx_packets tx_errors tx_bytes rx_pps tx_pps (rx/tx_pps are testpmd's own
# "Throughput (since last show)" figures, computed from the TSC between two
# consecutive `show port stats` of the same port) and t_ns (wall clock, midpoint
# of command send and reply). Also prints one line "rx_packets=.. tx_packets=..".
# Works mid-run (forwarding keeps going) and after `stop`.
tp_port_stats() {
    local name=$1 port=${2:-0} t0 t1
    t0=$(tp_now_ns)
    tp_cmd_wait "$name" "show port stats $port" 'Tx-pps:.*' 10 || { tp_err "tp_port_stats: no reply from $name"; return 1; }
    t1=$(tp_now_ns)
    TP_STATS=()
    local k v
    while read -r k v; do TP_STATS[$k]=$v; done < <(
        awk '/NIC statistics for port/ {blk=1}
             blk && /RX-packets:/ {print "rx_packets",$2; print "rx_missed",$4; print "rx_bytes",$6}
             blk && /RX-errors:/  {print "rx_errors",$2}
             blk && /RX-nombuf:/  {print "rx_nombuf",$2}
             blk && /TX-packets:/ {print "tx_packets",$2; print "tx_errors",$4; print "tx_bytes",$6}
             blk && /Rx-pps:/     {print "rx_pps",$2}
             blk && /Tx-pps:/     {print "tx_pps",$2; exit}' <<<"$TP_OUT")
    TP_STATS[t_ns]=$(( (t0 + t1) / 2 ))
    [[ -n "${TP_STATS[rx_packets]:-}" ]] || { tp_err "tp_port_stats: cannot parse"; return 1; }
    echo "rx_packets=${TP_STATS[rx_packets]} tx_packets=${TP_STATS[tx_packets]} rx_missed=${TP_STATS[rx_missed]} tx_errors=${TP_STATS[tx_errors]} rx_pps=${TP_STATS[rx_pps]:-} tx_pps=${TP_STATS[tx_pps]:-} t_ns=${TP_STATS[t_ns]}"
}

# tp_port_info NAME [PORT=0] : run `show port info PORT`; output in TP_OUT.
tp_port_info() { tp_cmd_wait "$1" "show port info ${2:-0}" 'testpmd> ' "${3:-10}"; }

# tp_link_up NAME [PORT=0] : true if `show port info` reports "Link status: up".
# One probe waits 2 s (scaled) at most: a reply whose echoed command line
# another thread's log line cut in two (vhost's VHOST_CONFIG lines come
# exactly while a front-end connects) is not recognised, and must cost one
# probe of tp_wait_link's budget, not all of it.
tp_link_up() { tp_port_info "$1" "${2:-0}" 2 && grep -q 'Link status: up' <<<"$TP_OUT"; }

# tp_wait_link NAME TIMEOUT_SEC [PORT=0] : poll tp_link_up every 0.2 s; says
# on stderr why it gave up.
tp_wait_link() {
    local name=$1 tmo port=${3:-0}
    tmo=$(tp_secs "$2")
    local end=$(( $(date +%s%N) + tmo * 1000000000 ))
    while :; do
        tp_link_up "$name" "$port" && return 0
        tp_alive "$name" || { tp_err "$name exited before its link came up"; return 1; }
        (( $(date +%s%N) < end )) || { tp_err "$name: link not up after $tmo s"; return 1; }
        sleep 0.2
    done
}

# tp_fwd_stop NAME : send `stop` and parse the "Accumulated forward statistics
# for all ports" block it prints into assoc array TP_FWD: rx_packets rx_dropped
# rx_total tx_packets tx_dropped tx_total (counted by the forwarding engine
# since the last `start`; TX-dropped = packets the PMD refused and testpmd
# freed). Prints one summary line. Port counters stay readable afterwards via
# tp_port_stats.
tp_fwd_stop() {
    local name=$1
    TP_FWD=()
    tp_cmd_wait "$name" "stop" '(Done\.|Packet forwarding not started)' 15 || { tp_err "tp_fwd_stop: no reply from $name"; return 1; }
    local k v
    while read -r k v; do TP_FWD[$k]=$v; done < <(
        awk '/Accumulated forward statistics for all ports/ {blk=1; next}
             blk && /RX-packets:/ {print "rx_packets",$2; print "rx_dropped",$4; print "rx_total",$6}
             blk && /TX-packets:/ {print "tx_packets",$2; print "tx_dropped",$4; print "tx_total",$6; exit}' <<<"$TP_OUT")
    echo "fwd rx_packets=${TP_FWD[rx_packets]:-} rx_dropped=${TP_FWD[rx_dropped]:-} tx_packets=${TP_FWD[tx_packets]:-} tx_dropped=${TP_FWD[tx_dropped]:-}"
}

# tp_stop NAME [GRACE_SEC=5] : stop instance NAME for good: `stop`, `quit`,
# wait up to GRACE seconds for it to exit, then SIGTERM, (1 s) SIGKILL -- to
# testpmd's pid and to the wrapper's process group, never by name. Then closes
# the FIFO fd, removes the FIFO and /var/run/dpdk/PREFIX, and forgets NAME.
# The log is kept (TP_LOG entry is kept too, so it can still be read).
tp_stop() {
    local name=$1 grace
    grace=$(tp_secs "${2:-5}")
    local pid=${TP_PID[$name]:-} tpid=${TP_TPID[$name]:-}
    [[ -n "$pid" ]] || return 0
    if tp_alive "$name"; then
        printf 'stop\nquit\n' >&"${TP_FD[$name]}" 2>/dev/null
        local end=$(( $(date +%s%N) + grace * 1000000000 ))
        while kill -0 "$pid" 2>/dev/null && (( $(date +%s%N) < end )); do sleep 0.05; done
        if kill -0 "$pid" 2>/dev/null; then
            tp_log "$name: SIGTERM"
            [[ -n "$tpid" ]] && kill -TERM "$tpid" 2>/dev/null
            kill -TERM -- "-$pid" 2>/dev/null
            end=$(( $(date +%s%N) + 1000000000 ))
            while kill -0 "$pid" 2>/dev/null && (( $(date +%s%N) < end )); do sleep 0.05; done
        fi
        if kill -0 "$pid" 2>/dev/null || { [[ -n "$tpid" ]] && kill -0 "$tpid" 2>/dev/null; }; then
            tp_log "$name: SIGKILL"
            [[ -n "$tpid" ]] && kill -KILL "$tpid" 2>/dev/null
            kill -KILL -- "-$pid" 2>/dev/null
            kill -KILL "$pid" 2>/dev/null
        fi
    fi
    wait "$pid" 2>/dev/null
    # a zombie-free check that testpmd itself is gone (it may be reparented)
    if [[ -n "$tpid" ]] && kill -0 "$tpid" 2>/dev/null; then kill -KILL "$tpid" 2>/dev/null; fi
    # (a redirection on a plain 'exec' would stick to the shell: group it)
    [[ -n "${TP_FD[$name]:-}" ]] && { exec {TP_FD[$name]}>&-; } 2>/dev/null
    rm -f "${TP_FIFO[$name]}"
    [[ -n "${TP_PREFIX[$name]:-}" ]] && rm -rf "/var/run/dpdk/${TP_PREFIX[$name]}"
    unset "TP_PID[$name]" "TP_TPID[$name]" "TP_FD[$name]" "TP_FIFO[$name]" "TP_PREFIX[$name]"
    tp_log "$name stopped"
}

# tp_cleanup_all [GRACE_SEC=2] : tp_stop every known instance (for traps).
tp_cleanup_all() {
    local n
    for n in "${!TP_PID[@]}"; do tp_stop "$n" "${1:-2}"; done
    return 0
}

# tp_mpps COUNT0 COUNT1 T0_NS T1_NS : print (COUNT1-COUNT0)/(T1-T0) in Mpps,
# 3 decimals.
tp_mpps() {
    awk -v c0="$1" -v c1="$2" -v t0="$3" -v t1="$4" \
        'BEGIN { dt = (t1 - t0) / 1e9; if (dt <= 0) { print "nan"; exit }
                 printf "%.3f\n", (c1 - c0) / dt / 1e6 }'
}

# tp_gbps BYTES0 BYTES1 T0_NS T1_NS : print payload Gbit/s (no FCS/IFG).
tp_gbps() {
    awk -v c0="$1" -v c1="$2" -v t0="$3" -v t1="$4" \
        'BEGIN { dt = (t1 - t0) / 1e9; if (dt <= 0) { print "nan"; exit }
                 printf "%.3f\n", (c1 - c0) * 8 / dt / 1e9 }'
}
