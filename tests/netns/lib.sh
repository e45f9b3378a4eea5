# shellcheck shell=bash
# tests/netns/lib.sh -- hosts in network namespaces for the multi-host tests.
#
# Every namespace is $P-NAME (P unique per run) and is deleted by nn_cleanup,
# as is every switch started with nn_switch (killed by its pid). Waits are
# conditions with deadlines (nn_wait), never fixed sleeps.

P=${P:-vx$$}
NN_NS=()
NN_SW=()
declare -gA NN_SWPID=()
NN_SLOW=${NN_SLOW:-1}

nn_log() { echo "[$(date +%T)] $*" >&2; }

# nn_wait SEC WHAT CMD... : run CMD every 0.1 s until it succeeds or SEC
# (times NN_SLOW) pass.
nn_wait() {
    local end=$(($(date +%s) + $1 * NN_SLOW)) what=$2
    shift 2
    while :; do
        "$@" >/dev/null 2>&1 && return 0
        (($(date +%s) < end)) || { nn_log "timed out waiting for $what"; return 1; }
        sleep 0.1
    done
}

nn_x() { local n=$1; shift; ip netns exec "$P-$n" "$@"; }

# nn_ns NAME : a namespace with lo up and IPv6 off (no background traffic:
# the leak checks count frames).
nn_ns() {
    ip netns add "$P-$1" || return 1
    NN_NS+=("$P-$1")
    nn_x "$1" ip link set lo up
    nn_x "$1" sysctl -q -w net.ipv6.conf.all.disable_ipv6=1 \
        net.ipv6.conf.default.disable_ipv6=1 >/dev/null
}

# nn_underlay HOST... : each host a namespace with eth0 10.0.0.N/24 (N from
# 1, in order), all in one bridge (namespace "ul"); MTU NN_MTU (1500).
nn_underlay() {
    local i=1 h
    nn_ns ul && nn_x ul ip link add br0 type bridge && nn_x ul ip link set br0 up || return 1
    for h in "$@"; do
        nn_ns "$h" || return 1
        ip link add "$P$h" mtu "${NN_MTU:-1500}" type veth peer name "$P${h}u" \
            mtu "${NN_MTU:-1500}" || return 1
        ip link set "$P$h" netns "$P-$h" name eth0 &&
            ip link set "$P${h}u" netns "$P-ul" &&
            nn_x ul ip link set "$P${h}u" master br0 up &&
            nn_x "$h" ip addr add "10.0.0.$i/24" dev eth0 &&
            nn_x "$h" ip link set eth0 up || return 1
        i=$((i + 1))
    done
}

# nn_switch NAME HOST ARGS... : run vhost-switch in HOST's namespace (logs in
# $NN_DIR/sw-NAME.{out,err}), with NN_SWARGS added; waits until it is up.
nn_switch() {
    local name=$1 host=$2
    shift 2
    # a previous switch's log must not count as this one being up
    rm -f "$NN_DIR/sw-$name.out" "$NN_DIR/sw-$name.err"
    # shellcheck disable=SC2086 # NN_SWARGS: extra words, e.g. "--workers 2"
    ip netns exec "$P-$host" "$NN_SWBIN" "$@" ${NN_SWARGS:-} --json \
        >"$NN_DIR/sw-$name.out" 2>"$NN_DIR/sw-$name.err" &
    NN_SWPID[$name]=$!
    NN_SW+=("$name")
    nn_wait 20 "switch $name" grep -q '^vhost-switch:' "$NN_DIR/sw-$name.err"
}

# nn_switch_stop NAME : SIGTERM, wait; its JSON summary is then in
# sw-NAME.out. Fails if it exited with an error or a sanitizer spoke.
nn_switch_stop() {
    local pid=${NN_SWPID[$1]:-} rc
    [ -n "$pid" ] || return 0
    kill -TERM "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    rc=$?
    unset "NN_SWPID[$1]"
    if [ "$rc" != 0 ] || grep -qE 'Sanitizer|runtime error' "$NN_DIR/sw-$1.err"; then
        nn_log "switch $1: exit $rc (see $NN_DIR/sw-$1.err)"
        return 1
    fi
}

# nn_json NAME EXPR : evaluate a python expression on switch NAME's JSON
# summary (j), e.g. 'j["vxlan"]["drop_vni"]'
nn_json() {
    python3 -c 'import json,sys; j=json.loads(open(sys.argv[1]).read().strip().splitlines()[-1]); print(eval(sys.argv[2]))' \
        "$NN_DIR/sw-$1.out" "$2"
}

# nn_fdb NAME : the MAC table of a running switch (SIGUSR1), printed.
# (stderr is unbuffered: wait until the dump has as many entries as its
# header "fdb: N entries" says)
nn_fdb_dump() { # FILE N : the entries after header number N+1, if complete
    awk -v n="$2" '/^fdb: / { k++; if (k == n + 1) want = $2 }
        k > n && /^fdb / { print; got++ }
        END { exit (want == "" || got < want) }' "$1"
}
nn_fdb() {
    local f=$NN_DIR/sw-$1.err n
    n=$(grep -ac '^fdb: ' "$f")
    kill -USR1 "${NN_SWPID[$1]}"
    nn_wait 10 "fdb of $1" nn_fdb_dump "$f" "$n" || return 1
    nn_fdb_dump "$f" "$n"
}

# nn_endpoint IF FROMHOST NS IP MAC : move interface IF from FROMHOST's
# namespace into a new namespace NS, as IP/24 with MAC, MTU 1450 (a VXLAN
# underlay of 1500: see docs/multi-host.md).
nn_endpoint() {
    nn_ns "$3" || return 1
    ip -n "$P-$2" link set "$1" netns "$P-$3" &&
        nn_x "$3" ip link set "$1" address "$5" mtu 1450 &&
        nn_x "$3" ip addr add "$4/24" dev "$1" &&
        nn_x "$3" ip link set "$1" up
}

# nn_rx NS IF : frames received on IF
nn_rx() { nn_x "$1" cat "/sys/class/net/$2/statistics/rx_packets"; }

# nn_ping NS IP : wait until IP answers (ARP, learning), then 5 pings, all
# answered (each reply may take until the deadline: a loaded machine is
# slow, not lossy).
# (busybox ping -c N gives up on a reply about a second after its last
# request: one ping at a time, each with its own deadline, instead)
nn_ping() {
    local i
    nn_wait 30 "first ping $1 -> $2" nn_x "$1" busybox ping -c 1 -W 1 "$2" || return 1
    for i in 1 2 3 4 5; do
        nn_x "$1" busybox ping -c 1 -W $((10 * NN_SLOW)) "$2" >"$NN_DIR/ping.log" 2>&1 ||
            { nn_log "ping $i: $(tail -2 "$NN_DIR/ping.log")"; return 1; }
    done
}

# nn_xfer FROMNS TONS TOIP : 2 MiB of random bytes over TCP, compared.
nn_xfer() {
    local in=$NN_DIR/xfer.in out=$NN_DIR/xfer.out rpid
    head -c 2097152 /dev/urandom >"$in"
    rm -f "$out"
    nn_x "$2" python3 "$NN_HERE/xfer.py" recv 5001 "$out" >"$NN_DIR/xfer.log" 2>&1 &
    rpid=$!
    nn_wait 20 "xfer listener" grep -q listening "$NN_DIR/xfer.log" &&
        timeout $((60 * NN_SLOW)) ip netns exec "$P-$1" python3 "$NN_HERE/xfer.py" send "$3" 5001 "$in"
    wait "$rpid"
    cmp -s "$in" "$out"
}

nn_cleanup() {
    local n
    for n in "${!NN_SWPID[@]}"; do nn_switch_stop "$n"; done
    for n in "${NN_NS[@]}"; do ip netns del "$n" 2>/dev/null; done
    NN_NS=()
}
