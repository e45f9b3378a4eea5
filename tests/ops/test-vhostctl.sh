#!/usr/bin/env bash
# tests/ops/test-vhostctl.sh -- vhostctl against a fake control socket
# (tests/ops/fake_ctl.py: canned replies in the shapes of docs/operations.md,
# and hostile servers) and against a real DPDK telemetry v2 peer (dpdk-testpmd
# with a net_null port).
#
#   tests/ops/test-vhostctl.sh [--build DIR] [--no-peer] [--tag TAG]
#
# Prints PASS/FAIL lines (with " [TAG]" appended when given) and a last line
# "test-vhostctl: N passed, N failed". Exit status 0 only if nothing failed.
# Every vhostctl run is bounded (timeout, and vhostctl's own -t); waits are on
# conditions (a socket path appearing), never fixed sleeps.
set -u
# shellcheck disable=SC2015 # "A && pass || fail": pass always succeeds
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=$ROOT/build-ci-gcc
PEER=1
TAG=""
while (($#)); do
    case $1 in
        --build) BUILD=$(cd "$2" && pwd); shift 2 ;;
        --no-peer) PEER=0; shift ;;
        --tag) TAG=" [$2]"; shift 2 ;;
        *) echo "usage: $0 [--build DIR] [--no-peer] [--tag TAG]" >&2; exit 2 ;;
    esac
done
V=$BUILD/apps/vhostctl/vhostctl
FAKE=$ROOT/tests/ops/fake_ctl.py
# The system python: a pyenv shim costs a second per call on a loaded machine.
PY=python3
[[ -x /usr/bin/python3 ]] && PY=/usr/bin/python3
# A sanitizer report makes vhostctl exit 23: never an accepted exit code here.
# -f PREFIX resolves like the daemons; a systemd unit's directory must not leak in.
unset RUNTIME_DIRECTORY
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:exitcode=23}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1:exitcode=23}
W=$(mktemp -d /tmp/vhostctl-test.XXXXXX)
NPASS=0
NFAIL=0
FAKE_PID=""
SW_PID=""

pass() { echo "PASS cli $*$TAG"; NPASS=$((NPASS + 1)); }
fail() { echo "FAIL cli $*$TAG"; NFAIL=$((NFAIL + 1)); }

stop_fake() {
    if [[ -n $FAKE_PID ]]; then
        kill "$FAKE_PID" 2>/dev/null
        wait "$FAKE_PID" 2>/dev/null
        FAKE_PID=""
    fi
}
gone() { ! kill -0 "$1" 2>/dev/null; }
stop_switch() {
    if [[ -n $SW_PID ]]; then
        kill "$SW_PID" 2>/dev/null
        wait_for 20 gone "$SW_PID" || kill -9 "$SW_PID" 2>/dev/null
        wait "$SW_PID" 2>/dev/null
        SW_PID=""
    fi
}
cleanup() {
    stop_fake
    stop_switch
    [[ $(type -t tp_cleanup_all) == function ]] && tp_cleanup_all
    rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

[[ -x $V ]] || { fail "no vhostctl at $V"; echo "test-vhostctl: $NPASS passed, $NFAIL failed"; exit 1; }

# wait_for SECONDS CMD... : CMD every 50 ms until it succeeds or time is up.
wait_for() {
    local end=$(($(date +%s) + $1)); shift
    until "$@"; do
        (($(date +%s) < end)) || return 1
        sleep 0.05
    done
}

# start_fake SOCKET MODE [MAX_OUTPUT_LEN]
start_fake() {
    stop_fake
    rm -f "$1"
    timeout 300 "$PY" "$FAKE" --socket "$1" --mode "$2" --max-output-len "${3:-16384}" \
        2>>"$W/fake.log" &
    FAKE_PID=$!
    wait_for 20 test -S "$1" || { fail "fake server ($2) did not start"; return 1; }
}

# run ARGS... : vhostctl ARGS, bounded; sets RC, OUT (stdout file), ERR, SECS.
run() {
    local t0
    t0=$(date +%s%N)
    timeout -k 2 30 "$V" "$@" >"$W/out" 2>"$W/err"
    RC=$?
    SECS=$(( ($(date +%s%N) - t0) / 1000000000 ))
    OUT=$W/out
    ERR=$W/err
}
is_json() { "$PY" -c 'import json,sys; json.load(open(sys.argv[1]))' "$1" 2>/dev/null; }
# jcheck FILE PYEXPR : PYEXPR true of v = the JSON in FILE
jcheck() { "$PY" -c 'import json,sys; v=json.load(open(sys.argv[1])); sys.exit(0 if eval(sys.argv[2]) else 1)' "$1" "$2" 2>/dev/null; }
no_ctl() { ! grep -qP '[\x00-\x08\x0b-\x1f\x7f]' "$1"; } # no terminal control bytes

# expect NAME RC GREP-PATTERN ARGS... : exit code RC, stdout matching the ERE
expect() {
    local name=$1 want=$2 pat=$3; shift 3
    run "$@"
    if [[ $RC == "$want" ]] && { [[ -z $pat ]] || grep -qE -- "$pat" "$OUT"; } && no_ctl "$OUT"; then
        pass "$name"
    else
        fail "$name (rc $RC, want $want; stdout: $(head -c 300 "$OUT" | tr '\n' '|'); stderr: $(head -c 300 "$ERR"))"
    fi
}
# expect_json NAME PYEXPR ARGS... : exit 0, stdout valid JSON with PYEXPR true
expect_json() {
    local name=$1 cond=$2; shift 2
    run "$@"
    if [[ $RC == 0 ]] && is_json "$OUT" && jcheck "$OUT" "$cond"; then
        pass "$name"
    else
        fail "$name (rc $RC; stdout: $(head -c 300 "$OUT" | tr '\n' '|'); stderr: $(head -c 300 "$ERR"))"
    fi
}
# expect_fail NAME RC STDERR-PATTERN ARGS... : exit code RC and a message on stderr
expect_fail() {
    local name=$1 want=$2 pat=$3; shift 3
    run "$@"
    if [[ $RC == "$want" ]] && grep -qE -- "$pat" "$ERR" && no_ctl "$ERR"; then
        pass "$name"
    else
        fail "$name (rc $RC, want $want; stderr: $(head -c 300 "$ERR"))"
    fi
}

# ---- usage and unreachable: no server needed ----
expect "help" 0 'pmd-stats-show' --help
for w in show port-add port-del fdb-show fdb-flush vtep-show vtep-add vtep-del rxq-show log-level top call; do
    grep -q -- "  $w" "$OUT" || fail "help mentions $w"
done
expect_fail "usage: no command" 2 'no command'
expect_fail "usage: unknown command" 2 'unknown command' frobnicate
expect_fail "usage: port-add without SPEC" 2 'arguments' -s "$W/none" port-add
expect_fail "usage: show with an argument" 2 'arguments' -s "$W/none" show extra
expect_fail "usage: bad timeout" 2 'timeout' -t abc show
expect_fail "usage: bad count" 2 'count' -n 0 top
expect_fail "usage: call without a slash" 2 'call' -s "$W/none" call info
expect_fail "unreachable: no socket" 3 'No such file' -s "$W/none" show
expect_fail "unreachable: no prefix" 3 "dpdk/no-such-prefix-$$/dpdk_telemetry.v2" -f "no-such-prefix-$$" show
: >"$W/plainfile"
expect_fail "unreachable: not a socket" 3 "$W/plainfile" -s "$W/plainfile" show

# ---- the fake switch: every command, table and --json ----
S=$W/ctl.sock
if start_fake "$S" normal; then
    expect "show" 0 '^ID +NAME +KIND +MODE +STATE' -s "$S" show
    # MACS: a count (the switch's shape) or a list, joined.
    grep -qE '^ +0 +vm1 +vhost +server +up +0 +2 +[0-9]+ +[0-9]+ +0 +3 +1$' "$OUT" &&
        grep -qE '^ +2 +vm3 .* 52:54:00:00:00:03,52:54:00:00:00:04$' "$OUT" &&
        pass "show: port row" || fail "show: port row ($(tr '\n' '|' <"$OUT"))"
    # The fake's second port name carries an ESC: printed as '?', never raw.
    grep -q 'tap-é?\[31m' "$OUT" && pass "show: control bytes from the server neutralised" ||
        fail "show: control bytes ($(tr '\n' '|' <"$OUT" | cat -v))"
    expect_json "show --json" 'len(v) == 3 and v[0]["name"] == "vm1" and v[1]["macs"] == 0' -s "$S" --json show
    expect_json "show --json --compact" 'v[0]["queues"] == 2' -s "$S" --json --compact show
    [[ $(wc -l <"$OUT") == 1 ]] && pass "compact is one line" || fail "compact is one line"
    expect "fdb-show" 0 '^MAC +NET +PORT +VTEP +AGE' -s "$S" fdb-show
    grep -qE '^52:54:00:00:00:01 +0 +vm1 +- +3$' "$OUT" && grep -qE '192\.0\.2\.2' "$OUT" &&
        pass "fdb-show: rows with port names and vtep" || fail "fdb-show rows ($(tr '\n' '|' <"$OUT"))"
    expect "fdb-show NET" 0 '' -s "$S" fdb-show 7
    [[ $(grep -c '^[0-9a-f][0-9a-f]:' "$OUT") == 2 ]] && pass "fdb-show NET: filtered" || fail "fdb-show NET: filtered"
    expect "fdb-show truncated" 0 '^\(1 of 5000 entries shown: the reply was truncated\)$' -s "$S" fdb-show 99
    expect_json "fdb-show --json" 'v["count"] == 3 and v["entries"][2]["vtep"] == "192.0.2.2"' -s "$S" --json fdb-show
    expect "fdb-flush" 0 '^flushed 3 FDB entries$' -s "$S" fdb-flush
    expect "fdb-flush PORT" 0 '^flushed 1 FDB entry$' -s "$S" fdb-flush vm1
    expect_json "fdb-flush --json" 'v["flushed"] == 3' -s "$S" --json fdb-flush
    expect "vtep-show" 0 '^NET +VNI +VTEP +PORT +KIND$' -s "$S" vtep-show
    [[ $(sed 1d "$OUT" | tr -s ' ' | sed 's/^ //' | tr '\n' '|') == '1 42 10.0.0.2 4789 flood|1 42 10.0.0.3 8472 learned|7 700 - - -|' ]] &&
        pass "vtep-show: a row per VTEP, a network without one shown" || fail "vtep-show rows ($(tr '\n' '|' <"$OUT"))"
    expect_json "vtep-show --json" 'v[0]["vteps"][1]["port"] == 8472 and v[1]["vteps"] == []' -s "$S" --json vtep-show
    expect "vtep-add" 0 '^added VTEP 1:42:10.0.0.9$' -s "$S" vtep-add 1:42:10.0.0.9
    expect_json "vtep-add --json" 'v == {"added": "1:42:10.0.0.9:4790"}' -s "$S" --json vtep-add 1:42:10.0.0.9:4790
    expect_fail "vtep-add refused: error exits 1" 1 'network 9 has VNI 900' -s "$S" vtep-add 9:901:10.0.0.9
    expect "vtep-del" 0 '^deleted VTEP 1:10.0.0.2$' -s "$S" vtep-del 1:10.0.0.2
    expect_fail "vtep-del unknown: error exits 1" 1 'no such VTEP' -s "$S" vtep-del 1:10.9.9.9
    expect_fail "usage: vtep-add without SPEC" 2 'arguments' -s "$S" vtep-add
    expect "pmd-stats-show" 0 'busy passes: [0-9]+ \(10\.0 %\)' -s "$S" pmd-stats-show
    grep -q 'idle passes: [0-9]* (90.0 %)' "$OUT" && grep -q '^worker 0 cpu 1:' "$OUT" && grep -q 'units: 3' "$OUT" &&
        grep -q '^worker 1:' "$OUT" && pass "pmd-stats-show: idle, cpu, units" || fail "pmd-stats-show ($(tr '\n' '|' <"$OUT"))"
    expect_json "pmd-stats-show --json" 'v[1]["units"] == 3 and "busy_passes" in v[1]' -s "$S" --json pmd-stats-show
    expect "rxq-show" 0 '^worker 0:$' -s "$S" rxq-show
    [[ $(grep -n '' "$OUT" | tr '\n' '|') == '1:worker 0:|2:  port: vm1 (id 0)  queue-id: 0|3:  port: tap0 (id 1)  queue-id: 0|4:worker 1:|5:  port: vm1 (id 0)  queue-id: 1|' ]] &&
        pass "rxq-show: grouped by worker" || fail "rxq-show: grouped ($(tr '\n' '|' <"$OUT"))"
    expect_json "rxq-show --json" 'len(v) == 3' -s "$S" --json rxq-show
    expect "log-level" 0 '^log level: info$' -s "$S" log-level
    expect "log-level LEVEL" 0 '^log level: debug$' -s "$S" log-level debug
    expect_json "log-level --json" 'v == {"level": "warning"}' -s "$S" --json log-level warning
    expect_fail "log-level bad: null reply exits 1" 1 'no result' -s "$S" log-level loud
    expect "port-add" 0 '^added port 2 /tmp/vm9.sock$' -s "$S" port-add /tmp/vm9.sock,queues=2
    expect_json "port-add --json" 'v == {"id": 2, "name": "/tmp/vm9.sock"}' -s "$S" --json port-add /tmp/vm9.sock
    expect_fail "port-add refused: error exits 1" 1 'port exists: /tmp/exists' -s "$S" port-add /tmp/exists
    expect "port-del" 0 '^deleted port 0 vm1$' -s "$S" port-del vm1
    expect_fail "port-del unknown: error exits 1" 1 'no such port: nope' -s "$S" port-del nope
    expect_fail "port-add over 1024 bytes: usage" 2 '1024' -s "$S" port-add "$(printf '/tmp/%01100d' 0)"
    expect_json "call /" '"/vhost-switch/ports" in v' -s "$S" call /
    expect_json "call /ethdev/stats,0" 'v["ipackets"] > 0 and len(v["q_ipackets"]) == 1' -s "$S" call /ethdev/stats,0
    expect_fail "call unknown: null exits 1" 1 'no result' -s "$S" call /no/such/command
    expect "top" 0 '^ID +NAME +RX_PPS' -s "$S" top -n 2 -i 0.2
    [[ $(grep -c '^vhostctl top:' "$OUT") == 2 ]] && grep -qE '^ +0 +vm1 +[1-9][0-9]* +[1-9]' "$OUT" &&
        grep -qE '^ +0 +1 +10\.0 ' "$OUT" && grep -qE '^ +1 +- +0\.0 ' "$OUT" && pass "top: 2 blocks, port rates, worker busy %" ||
        fail "top blocks ($(tr '\n' '|' <"$OUT"))"
    # On a terminal (script(1) gives it one), top clears the screen with ANSI codes.
    if command -v script >/dev/null; then
        timeout -k 2 30 script -qec "$V -s $S top -n 2 -i 0.1" /dev/null >"$W/tty.out" 2>&1
        [[ $(grep -c $'\e\[H\e\[2J' "$W/tty.out") == 2 ]] && pass "top on a tty: ANSI clear per refresh" ||
            fail "top on a tty ($(head -c 300 "$W/tty.out" | cat -v))"
    fi
    # -f PREFIX: the socket where DPDK's rule puts it.
    if (($(id -u) == 0)); then rundir=/var/run/dpdk; else rundir=${XDG_RUNTIME_DIR:-/tmp}/dpdk; fi
    P=vhostctl-test-$$
    mkdir -p "$rundir/$P"
    if start_fake "$rundir/$P/dpdk_telemetry.v2" normal; then
        expect "-f PREFIX" 0 'vm1' -f "$P" show
    fi
    stop_fake
    rm -rf "${rundir:?}/$P"
fi

# ---- hostile servers: non-zero exit, no crash or sanitizer report, within the timeout ----
for mode in garbage truncated huge silent close nohello badhello hugehello wrongkey deep nul error null; do
    maxlen=4096; [[ $mode == deep ]] && maxlen=1048576 # past the size check, to the depth limit
    start_fake "$S" "$mode" "$maxlen" || continue
    for args in "call /info" "show" "top -n 1 -i 0.1"; do
        # shellcheck disable=SC2086
        run -t 2 -s "$S" $args
        if ((RC == 1 || RC == 3)) && ((SECS <= 10)) && [[ -s $ERR ]] && no_ctl "$ERR"; then
            pass "hostile $mode: $args (exit $RC, ${SECS}s)"
        else
            fail "hostile $mode: $args (exit $RC, ${SECS}s; stderr: $(head -c 400 "$ERR"))"
        fi
    done
done
stop_fake
# A server that accepts nothing: a bound socket nobody listens on.
"$PY" -c 'import socket,sys; s=socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET); s.bind(sys.argv[1])' "$W/dead.sock"
expect_fail "hostile: socket nobody listens on" 3 'Connection refused' -t 2 -s "$W/dead.sock" show

# ---- a real vhost-switch (once it has a control socket: --ctl in its --help;
# the /vhost-switch/* checks once "call /" lists them) ----
SW=${VHOSTCTL_TEST_SWITCH:-$BUILD/apps/vhost-switch/vhost-switch}
if ((PEER)) && [[ -x $SW ]] && timeout 10 "$SW" --help 2>&1 | grep -q -- '--ctl'; then
    C=$W/sw.ctl
    # One worker pinned to CPU 1 (it polls); stopped by PID in cleanup.
    timeout -k 3 120 taskset -c 1 "$SW" --socket "$W/vm0.sock" --workers 1 --cpu 1 --ctl "$C" \
        >"$W/sw.log" 2>&1 &
    SW_PID=$!
    if wait_for 30 test -S "$C"; then
        expect_json "switch: call /" 'isinstance(v, list) and "/ethdev/list" in v' -t 10 -s "$C" call /
        cmds=$(cat "$OUT")
        expect_json "switch: call /ethdev/list" 'v == [0]' -t 10 -s "$C" call /ethdev/list
        expect_json "switch: call /ethdev/info,0" '"vm0.sock" in v["name"]' -t 10 -s "$C" call /ethdev/info,0
        expect "switch: top" 0 '^ID +NAME +RX_PPS' -t 10 -s "$C" top -n 1 -i 0.2
        # The /vhost-switch/* commands, once the switch serves them.
        if [[ $cmds == *'"/vhost-switch/ports"'* ]]; then
            expect "switch: show" 0 '^ID +NAME +KIND' -t 10 -s "$C" show
            grep -q 'vm0.sock' "$OUT" && pass "switch: show lists the port" || fail "switch: show lists the port ($(tr '\n' '|' <"$OUT"))"
            expect "switch: fdb-show" 0 '^MAC +NET +PORT +VTEP +AGE' -t 10 -s "$C" fdb-show
            expect_json "switch: pmd-stats-show --json" 'len(v) >= 1 and "busy_passes" in v[0]' -t 10 -s "$C" --json pmd-stats-show
            expect "switch: pmd-stats-show" 0 '^worker 0' -t 10 -s "$C" pmd-stats-show
            expect "switch: rxq-show" 0 '' -t 10 -s "$C" rxq-show
            expect_json "switch: port-add --json" '"id" in v and "name" in v' -t 10 -s "$C" --json port-add "$W/vm1.sock"
            id=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$OUT" 2>/dev/null)
            expect "switch: show after port-add" 0 'vm1.sock' -t 10 -s "$C" show
            expect "switch: port-del" 0 "^deleted port ${id:-X} " -t 10 -s "$C" port-del "${id:-X}"
            expect_fail "switch: port-del again fails" 1 '.' -t 10 -s "$C" port-del "${id:-X}"
        fi
    else
        fail "switch: no control socket at $C ($(tail -3 "$W/sw.log" | tr '\n' '|'))"
    fi
    stop_switch
fi

# ---- a real peer: dpdk-testpmd's telemetry (DPDK 22.11) ----
if ((PEER)); then
    if ! command -v dpdk-testpmd >/dev/null; then
        fail "peer: dpdk-testpmd not installed"
    else
        # shellcheck source=tests/peer/lib/testpmd.sh
        . "$ROOT/tests/peer/lib/testpmd.sh"
        TP_DIR=$W/tp TP_MEM=256 tp_init
        P=vctl_$$
        # Interactive testpmd never forwards unless told: no spinning core.
        if tp_start tel --lcores 0,1 --main-lcore 0 --vdev net_null0 --prefix "$P" --timeout 120 \
            -- --nb-cores=1; then
            if (($(id -u) == 0)); then rundir=/var/run/dpdk; else rundir=${XDG_RUNTIME_DIR:-/tmp}/dpdk; fi
            if wait_for 30 test -S "$rundir/$P/dpdk_telemetry.v2"; then
                expect_json "testpmd: call /ethdev/list" 'v == [0]' -f "$P" call /ethdev/list
                expect_json "testpmd: --json call /ethdev/stats,0" 'v["ipackets"] == 0 and "q_ipackets" in v' \
                    -f "$P" --json call /ethdev/stats,0
                expect_json "testpmd: call /info" '"max_output_len" in v' -f "$P" call /info
                expect "testpmd: top (ethdev counters and names)" 0 '^ +0 +net_null0 ' -f "$P" top -n 1 -i 0.2
                expect_fail "testpmd: show (not a switch) exits 1" 1 'no result' -f "$P" show
            else
                fail "testpmd: no telemetry socket at $rundir/$P/dpdk_telemetry.v2"
            fi
            tp_stop tel
        else
            fail "testpmd: did not start ($(tail -5 "${TP_LOG[tel]}" 2>/dev/null | tr '\n' '|'))"
        fi
    fi
fi

echo "test-vhostctl: $NPASS passed, $NFAIL failed"
((NFAIL == 0))
