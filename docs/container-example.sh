#!/usr/bin/env bash
# docs/container-example.sh [BUILD_DIR] [SECONDS]
#
# Two "containers" (processes in their own network and mount namespaces,
# made with unshare; run as root) attach to vhost-switch through vhost-user
# sockets bind-mounted into them at /run/vhost. Container c1 sends UDP
# traffic (virtio-fwd txonly), container c2 receives and checks every
# packet (virtio-fwd rxonly --validate); the switch floods c1's packets to
# c2 (unknown destination MAC); c2 sleeps when idle (--interrupt), leaving
# the core to the others on a small machine. Neither container has a network interface
# besides lo: their only way out is the socket. Prints each side's JSON and
# "container example: OK" when c2 received valid packets.
set -eu
BUILD=$(cd "${1:-build}" && pwd)
SECS=${2:-3}
SW=$BUILD/apps/vhost-switch/vhost-switch
VF=$BUILD/apps/virtio-fwd/virtio-fwd
DIR=$(mktemp -d /tmp/vhost-containers.XXXXXX)
mkdir "$DIR/sockets"
PIDS=()
cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$DIR"
}
trap cleanup EXIT

# The switch, on the host: one vhost-user port per container.
timeout -k 2 $((SECS + 20)) "$SW" --socket "$DIR/sockets/c1.sock" \
    --socket "$DIR/sockets/c2.sock" --json >"$DIR/switch.json" 2>"$DIR/switch.err" &
PIDS+=($!)
for _ in $(seq 100); do [[ -S $DIR/sockets/c2.sock ]] && break; sleep 0.05; done

# container NAME ARGS... : run virtio-fwd in new network + mount namespaces
# with the host's socket directory bind-mounted at /run/vhost (what
# `docker run -v $DIR/sockets:/run/vhost --network none` does).
container() {
    local name=$1; shift
    unshare --net --mount --propagation private -- sh -c '
        set -e
        mount -t tmpfs tmpfs /run
        mkdir -p /run/vhost
        mount --bind "$1" /run/vhost
        shift
        echo "$0: interfaces: $(ip -o link | cut -d: -f2 | tr -d " " | tr "\n" " ")" >&2
        exec "$@"' "$name" "$DIR/sockets" \
        timeout -k 2 $((SECS + 10)) "$VF" --socket "/run/vhost/$name.sock" --json "$@" \
        >"$DIR/$name.json" 2>"$DIR/$name.err" &
    PIDS+=($!)
}

container c2 --mode rxonly --validate --interrupt --duration $((SECS + 1))
container c1 --mode txonly --duration "$SECS"
wait "${PIDS[2]}" "${PIDS[1]}" || true
grep -h interfaces "$DIR"/c?.err
echo "c1: $(cat "$DIR/c1.json")"
echo "c2: $(cat "$DIR/c2.json")"
sleep 0.5; kill -INT "${PIDS[0]}" 2>/dev/null; wait "${PIDS[0]}" 2>/dev/null || true
echo "switch: $(cat "$DIR/switch.json")"
rx=$(grep -o '"rx_packets":[0-9]*' "$DIR/c2.json" | head -1 | cut -d: -f2)
bad=$(grep -o '"rx_invalid":[0-9]*' "$DIR/c2.json" | head -1 | cut -d: -f2)
if [[ ${rx:-0} -gt 0 && ${bad:-1} == 0 ]]; then
    echo "container example: OK ($rx packets from c1 to c2 through the switch)"
else
    echo "container example: FAILED"; tail -5 "$DIR"/*.err; exit 1
fi
