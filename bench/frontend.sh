#!/usr/bin/env bash
# bench/frontend.sh -- what our virtio-user front-end lets us measure.
#
#  backend   Back-end cost on its own: our load generator (virtio-fwd --gen:
#            prebuilt packets, no per-packet copy or write) against our
#            back-end (vhost-fwd) and against DPDK's (testpmd net_vhost),
#            g2h / h2g / loop at 64 and 1518 bytes. The generator's idle%
#            (its empty polls) shows the back-end, not the generator, sets
#            the pace when it is high.
#  frontend  Front-end cost: our front-end (virtio-fwd, plain bursts with
#            pktbufs, zero-copy from its shared pool) against DPDK's virtio-user (testpmd net_virtio_user),
#            both against the same back-end, g2h / h2g: vhost-fwd, or
#            DPDK's (testpmd net_vhost) with FE_BACKEND=dpdk.
#  loop      Loopback pairs, as DPDK's perf_virtio_user_loopback: ours+ours
#            (vhost-fwd io, virtio-fwd mac --tx-first 32) against DPDK+DPDK
#            (testpmd net_vhost io, testpmd virtio-user mac, start tx_first 32).
#
# Pinning: back-end on core BE_CORE (0), front-end/generator on FE_CORE (1).
# Rates are counter deltas over WINDOW seconds (3) after WARMUP (1), median
# of ROUNDS (1) runs, ours and DPDK alternating. Prints the raw rows, then a
# table of median Mpps and the median of the per-round ratios ours/DPDK
# (each ratio from two runs back to back) against the issue's targets, and
# the same ratio per core used by the measured side (back-end for backend,
# front-end for frontend, both for loop: from /proc CPU times, steadier when
# other work shares the cores), and draws
# OUT/frontend.png with gnuplot (installed with apt-get when missing, unless
# NO_INSTALL=1). Not a test: figures move with the machine's load.
#   ninja -C build && bench/frontend.sh [backend] [frontend] [loop]
# Env: BUILD (build), OUT (build-bench), SIZES ("64 1518"), RINGS ("split";
# "split packed" adds the packed-ring rows: our front-end with --packed,
# DPDK's virtio-user with packed_vq=1; both back-ends take what is offered),
# ROUNDS, WINDOW, WARMUP, BE_CORE, FE_CORE, DIRS (the directions of the
# backend and frontend rows, e.g. "h2g"; all by default), FE_BACKEND (ours | dpdk: the
# back-end of the frontend rows), VF_EXTRA (more virtio-fwd
# options for the frontend and loop rows, e.g. --copy: the copying path
# instead of zero-copy from its shared pool).
set -u
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
: "${BUILD:=$ROOT/build}" "${OUT:=$ROOT/build-bench}" "${SIZES:=64 1518}"
: "${RINGS:=split}" "${ROUNDS:=1}" "${WINDOW:=3}" "${WARMUP:=1}" "${BE_CORE:=0}" "${FE_CORE:=1}"
: "${FE_BACKEND:=ours}"
ROW_BE=""; [[ $FE_BACKEND == dpdk ]] && ROW_BE="-dpdkbe"
VF=$BUILD/apps/virtio-fwd/virtio-fwd
BE=$BUILD/apps/vhost-fwd/vhost-fwd
for b in "$VF" "$BE"; do [[ -x $b ]] || { echo "build first: $b missing" >&2; exit 1; }; done
SECTIONS=("$@")
((${#SECTIONS[@]})) || SECTIONS=(backend frontend loop)
mkdir -p "$OUT"

# shellcheck source=../tests/peer/lib/testpmd.sh
. "$ROOT/tests/peer/lib/testpmd.sh"
TP_NO_TRAP=1
tp_init "$(mktemp -d /tmp/bench-fe.XXXXXX)"
W=$TP_DIR
declare -A PID=()
cleanup() { local n; for n in "${!PID[@]}"; do stop_tool "$n"; done; tp_cleanup_all 1; rm -rf "$W"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

start_tool() { # NAME BINARY ARGS... (stats in $W/NAME.stats)
    local name=$1 bin=$2; shift 2
    rm -f "$W/$name.stats"
    timeout -k 2 120 "$bin" --stats-file "$W/$name.stats" "$@" >"$W/$name.out" 2>"$W/$name.err" &
    PID[$name]=$!
}
stop_tool() {
    local name=$1 pid=${PID[$1]:-} i
    [[ -n $pid ]] || return 0
    kill -INT "$(pgrep -P "$pid" | head -1)" 2>/dev/null
    for ((i = 0; i < 100; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
    kill -KILL "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
    unset "PID[$name]"
}
# tool_pid NAME : the tool's own pid (the child of its timeout wrapper).
tool_pid() {
    local i p
    for ((i = 0; i < 100; i++)); do
        p=$(pgrep -P "${PID[$1]}" | head -1); [[ -n $p ]] && { echo "$p"; return; }; sleep 0.01
    done
}
wait_sock() { local i; for ((i = 0; i < 200; i++)); do [[ -S $1 ]] && return 0; sleep 0.02; done; return 1; }
# Counters of a tool: "RX TX T_NS PASSES IDLE".
snap() { cat "$W/$1.stats" 2>/dev/null; }
# wait_moving NAME FIELD : until the counter passes 1000 (10 s at most).
wait_moving() {
    local i v
    for ((i = 0; i < 200; i++)); do
        v=$(snap "$1" | cut -d' ' -f"$2"); [[ -n $v && $v -gt 1000 ]] && return 0; sleep 0.05
    done
    return 1
}
# CPU time (clock ticks) used so far by the processes in CPU_PIDS: the
# side a row measures. On a busy machine a process gets only part of its
# core, so Mpps per core used (rate / cpu share) is steadier than Mpps.
CPU_PIDS=""
ticks() {
    local p t=0 v
    for p in $CPU_PIDS; do
        v=$(awk '{ sub(/.*\) /, ""); print $12 + $13 }' "/proc/$p/stat" 2>/dev/null)
        t=$((t + ${v:-0}))
    done
    echo "$t"
}
HZ=$(getconf CLK_TCK)
# cpu_share T0 T1 SECONDS : % of one core the measured side used.
cpu_share() { awk -v a="$1" -v b="$2" -v s="$3" -v hz="$HZ" 'BEGIN { printf "%.0f\n", (b - a) / hz / s * 100 }'; }
# rate_tool NAME FIELD : Mpps of a counter over WINDOW; the tool's idle%
# (empty polls) goes to $W/idle, the measured side's cpu% to $W/cpu.
rate_tool() {
    local a b c0 c1
    sleep "$WARMUP"; a=$(snap "$1"); c0=$(ticks); sleep "$WINDOW"; b=$(snap "$1"); c1=$(ticks)
    cpu_share "$c0" "$c1" "$WINDOW" >"$W/cpu"
    awk -v a="$a" -v b="$b" 'BEGIN { split(a, x, " "); split(b, y, " ");
        p = y[4] - x[4]; printf "%.0f\n", (p > 0 ? 100 * (y[5] - x[5]) / p : 0) }' >"$W/idle"
    awk -v a="$a" -v b="$b" -v k="$2" 'BEGIN { split(a, x, " "); split(b, y, " ");
        dt = (y[3] - x[3]) / 1e9; if (dt <= 0) { print "nan"; exit }
        printf "%.3f\n", (y[k] - x[k]) / dt / 1e6 }'
}
# rate_tp NAME rx|tx : Mpps of a testpmd port counter over WINDOW.
rate_tp() {
    local c0 t0 k0 k1
    sleep "$WARMUP"
    tp_port_stats "$1" >/dev/null; c0=${TP_STATS[${2}_packets]}; t0=${TP_STATS[t_ns]}; k0=$(ticks)
    sleep "$WINDOW"
    tp_port_stats "$1" >/dev/null; k1=$(ticks)
    cpu_share "$k0" "$k1" "$(awk -v a="$t0" -v b="${TP_STATS[t_ns]}" 'BEGIN { print (b - a) / 1e9 }')" >"$W/cpu"
    tp_mpps "$c0" "${TP_STATS[${2}_packets]}" "$t0" "${TP_STATS[t_ns]}"
}
vhost_tp() { # SOCK SIZE MODE : testpmd net_vhost forwarding on BE_CORE
    tp_start be --lcores 0,1 --main-lcore "$FE_CORE" --timeout 120 \
        --vdev "net_vhost0,iface=$1,queues=1" -- --nb-cores=1 --txpkts="$2" || return 1
    tp_cmd be "set fwd $3"; tp_cmd_wait be start 'testpmd> ' 5
}
virtio_tp() { # SOCK SIZE MODE [START_CMD] : testpmd virtio-user on FE_CORE
    tp_start fe --lcores 0,1 --main-lcore "$BE_CORE" --timeout 120 \
        --vdev "net_virtio_user0,path=$1,queues=1,mrg_rxbuf=1,in_order=1,queue_size=256$TP_RING" -- \
        --nb-cores=1 --txpkts="$2" || return 1
    tp_wait_link fe 10
    tp_cmd fe "set fwd $3"; tp_cmd_wait fe "${4:-start}" 'testpmd> ' 5
}

declare -A RES=()
ROWS=()
# The ring format of the rows being measured: our front-end's flag, DPDK
# virtio-user's devarg, and the row name's suffix.
RING=split VF_RING=() TP_RING="" ROW_RING=""
set_ring() {
    RING=$1
    if [[ $RING == packed ]]; then VF_RING=(--packed) TP_RING=",packed_vq=1" ROW_RING="-packed"
    else VF_RING=() TP_RING="" ROW_RING=""; fi
}
record() { # KEY VALUE
    RES[$1]="${RES[$1]:-} $2"
}

# --- backend: generator x (ours | dpdk) -------------------------------------
measure_backend() { # DIR SIZE WHO
    local dir=$1 size=$2 who=$3 sock=$W/b.sock mode gmode field r
    case $dir in g2h) mode=rxonly gmode=txonly field=2 ;; h2g) mode=txonly gmode=rxonly field=1 ;;
                 loop) mode=io gmode=io field=1 ;; esac
    rm -f "$sock"
    if [[ $who == ours ]]; then
        start_tool be "$BE" --socket "$sock" --mode "$mode" --pkt-len "$size" --cpu "$BE_CORE"
        wait_sock "$sock"
    else
        vhost_tp "$sock" "$size" "$mode" || { echo nan; return; }
    fi
    start_tool gen "$VF" --socket "$sock" --gen --mode "$gmode" --pkt-len "$size" --cpu "$FE_CORE" "${VF_RING[@]}"
    if [[ $who == ours ]]; then CPU_PIDS=$(tool_pid be); else CPU_PIDS=${TP_TPID[be]}; fi
    echo nan >"$W/idle"; echo nan >"$W/cpu"
    if wait_moving gen "$field"; then r=$(rate_tool gen "$field"); else r=nan; fi
    stop_tool gen; stop_tool be; tp_stop be 1
    echo "raw backend $dir$ROW_RING $size $who ${r} Mpps generator-idle $(<"$W/idle")% back-end-cpu $(<"$W/cpu")%" >&2
    record "backend/$dir$ROW_RING/$size/$who" "$r"
    record "backend/$dir$ROW_RING/$size/$who/cpu" "$(<"$W/cpu")"
}

# --- frontend: (ours | dpdk) x vhost-fwd -------------------------------------
measure_frontend() { # DIR SIZE WHO
    local dir=$1 size=$2 who=$3 sock=$W/f.sock mode fmode field r tpdir
    case $dir in g2h) mode=rxonly fmode=txonly field=1 tpdir=rx ;; h2g) mode=txonly fmode=rxonly field=2 tpdir=tx ;; esac
    rm -f "$sock"
    if [[ $FE_BACKEND == dpdk ]]; then
        # testpmd's net_vhost listens; both front-ends connect to it.
        vhost_tp "$sock" "$size" "$mode" || { echo nan; return; }
        wait_sock "$sock"
    else
        start_tool be "$BE" --socket "$sock" --mode "$mode" --pkt-len "$size" --cpu "$BE_CORE"
        wait_sock "$sock"
    fi
    if [[ $who == ours ]]; then
        # shellcheck disable=SC2086
        start_tool fe "$VF" --socket "$sock" --mode "$fmode" --pkt-len "$size" --cpu "$FE_CORE" "${VF_RING[@]}" ${VF_EXTRA:-}
    else
        virtio_tp "$sock" "$size" "$fmode" || { stop_tool be; echo nan; return; }
    fi
    if [[ $who == ours ]]; then CPU_PIDS=$(tool_pid fe); else CPU_PIDS=${TP_TPID[fe]}; fi
    echo nan >"$W/idle"; echo nan >"$W/cpu"
    if [[ $FE_BACKEND == dpdk ]]; then
        r=$(rate_tp be "$tpdir")
    elif wait_moving be "$field"; then r=$(rate_tool be "$field"); else r=nan; fi
    stop_tool fe; tp_stop fe 1; stop_tool be; tp_stop be 1
    echo "raw frontend $dir$ROW_RING$ROW_BE $size $who ${r} Mpps back-end-idle $(<"$W/idle")% front-end-cpu $(<"$W/cpu")%" >&2
    record "frontend/$dir$ROW_RING$ROW_BE/$size/$who" "$r"
    record "frontend/$dir$ROW_RING$ROW_BE/$size/$who/cpu" "$(<"$W/cpu")"
}

# --- loop: ours+ours | dpdk+dpdk ---------------------------------------------
measure_loop() { # SIZE WHO
    local size=$1 who=$2 sock=$W/l.sock r
    rm -f "$sock"
    if [[ $who == ours ]]; then
        start_tool be "$BE" --socket "$sock" --mode io --pkt-len "$size" --cpu "$BE_CORE"
        wait_sock "$sock"
        # shellcheck disable=SC2086
        start_tool fe "$VF" --socket "$sock" --mode mac --tx-first 32 --pkt-len "$size" --cpu "$FE_CORE" "${VF_RING[@]}" ${VF_EXTRA:-}
        CPU_PIDS="$(tool_pid be) $(tool_pid fe)"
        echo nan >"$W/cpu"
        if wait_moving be 1; then r=$(rate_tool be 1); else r=nan; fi
        stop_tool fe; stop_tool be
    else
        echo nan >"$W/cpu"
        if vhost_tp "$sock" "$size" io && virtio_tp "$sock" "$size" mac "start tx_first 32"; then
            CPU_PIDS="${TP_TPID[be]} ${TP_TPID[fe]}"
            r=$(rate_tp be rx)
        else
            r=nan
        fi
        tp_stop fe 1; tp_stop be 1
    fi
    echo "raw loop pair$ROW_RING $size $who ${r} Mpps cpu $(<"$W/cpu")% (both sides)" >&2
    record "loop/pair$ROW_RING/$size/$who" "$r"
    record "loop/pair$ROW_RING/$size/$who/cpu" "$(<"$W/cpu")"
}

median() { printf '%s\n' "$@" | grep -v nan | sort -g | awk '{a[n++]=$1} END {
    if (!n) { print "nan"; exit } print (n % 2 ? a[int(n/2)] : (a[n/2-1] + a[n/2]) / 2) }'; }

echo "# $(date -u +%FT%TZ) load: $(cut -d' ' -f1-3 /proc/loadavg), rounds $ROUNDS, window ${WINDOW}s, rings $RINGS" >&2
for sec in "${SECTIONS[@]}"; do
    for ((round = 0; round < ROUNDS; round++)); do
        for size in $SIZES; do
          for ring in $RINGS; do
            set_ring "$ring"
            case $sec in
                backend) for dir in ${DIRS:-g2h h2g loop}; do for who in ours dpdk; do measure_backend $dir "$size" $who; done; done ;;
                frontend) for dir in ${DIRS:-g2h h2g}; do for who in ours dpdk; do measure_frontend $dir "$size" $who; done; done ;;
                loop) for who in ours dpdk; do measure_loop "$size" $who; done ;;
            esac
          done
        done
    done
done

# --- table -------------------------------------------------------------------
target() { # SECTION ROW SIZE -> target ratio or - (issue 12; packed rows: issue 10's)
    case $1/$2/$3 in
        backend/*-packed/64) echo 1.2 ;; backend/*-packed/1518) echo 1.0 ;;
        backend/*/64) echo 1.5 ;; backend/*/1518) echo 1.1 ;; frontend/*/64) echo 1.2 ;; *) echo - ;;
    esac
}
DAT=$OUT/frontend.dat
: >"$DAT"
printf '%-9s %-11s %5s %10s %10s %7s %9s %7s\n' section row size "ours Mpps" "DPDK Mpps" ratio "per-core" target
for key in $(printf '%s\n' "${!RES[@]}" | grep -v '/cpu$' | sed 's,/[^/]*$,,' | sort -u); do
    IFS=/ read -r sec dir size <<<"$key"
    # shellcheck disable=SC2086
    o=$(median ${RES[$key/ours]:-nan}); d=$(median ${RES[$key/dpdk]:-nan})
    # Median of the per-round ratios: ours and DPDK run back to back in a
    # round, so a ratio compares figures taken under the same load.
    ratio=$(awk -v o="${RES[$key/ours]:-}" -v d="${RES[$key/dpdk]:-}" 'BEGIN {
        n = split(o, a, " "); split(d, b, " "); k = 0
        for (i = 1; i <= n; i++) if (a[i] != "nan" && b[i] != "nan" && b[i] > 0) r[k++] = a[i] / b[i]
        if (!k) { print "nan"; exit }
        for (i = 0; i < k; i++) for (j = i + 1; j < k; j++) if (r[j] < r[i]) { t = r[i]; r[i] = r[j]; r[j] = t }
        printf "%.2f", (k % 2 ? r[int(k / 2)] : (r[k / 2 - 1] + r[k / 2]) / 2) }')
    # The same per Mpps per core used by the measured side (cpu%/100).
    pcr=$(awk -v o="${RES[$key/ours]:-}" -v d="${RES[$key/dpdk]:-}" \
              -v oc="${RES[$key/ours/cpu]:-}" -v dc="${RES[$key/dpdk/cpu]:-}" 'BEGIN {
        n = split(o, a, " "); split(d, b, " "); split(oc, x, " "); split(dc, y, " "); k = 0
        for (i = 1; i <= n; i++)
            if (a[i] != "nan" && b[i] != "nan" && b[i] > 0 && x[i] > 0 && y[i] > 0)
                r[k++] = (a[i] / x[i]) / (b[i] / y[i])
        if (!k) { print "nan"; exit }
        for (i = 0; i < k; i++) for (j = i + 1; j < k; j++) if (r[j] < r[i]) { t = r[i]; r[i] = r[j]; r[j] = t }
        printf "%.2f", (k % 2 ? r[int(k / 2)] : (r[k / 2 - 1] + r[k / 2]) / 2) }')
    printf '%-9s %-11s %5s %10s %10s %7s %9s %7s\n' "$sec" "$dir" "$size" "$o" "$d" "$ratio" "$pcr" "$(target "$sec" "$dir" "$size")"
    echo "\"$sec $dir $size\" $o $d" >>"$DAT"
done

# --- chart -------------------------------------------------------------------
if ! command -v gnuplot >/dev/null && [[ ${NO_INSTALL:-0} != 1 ]]; then
    { apt-get update -qq && apt-get install -y -qq gnuplot-nox; } >/dev/null 2>&1
fi
if command -v gnuplot >/dev/null; then
    gnuplot <<GP 2>/dev/null && echo "chart: $OUT/frontend.png"
set terminal pngcairo size 1100,500 noenhanced
set output "$OUT/frontend.png"
set title "libvhost (ours) vs DPDK 22.11: Mpps, higher is better"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set xtics rotate by -30
set ylabel "Mpps"
set key top right
set grid ytics
plot "$DAT" using 2:xtic(1) title "ours", "" using 3 title "DPDK"
GP
else
    echo "no gnuplot: chart not drawn (data in $DAT)"
fi
