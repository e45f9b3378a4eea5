# shellcheck shell=bash
# scripts/demo-migrate.sh -- the live-migration part of 'scripts/demo.sh
# --migrate' (sourced by it after the build; uses its helpers and variables).
#
# vhost-switch gets three ports: VM A's source and destination QEMUs and VM
# B. VM A pings B every 0.1 s while B floods it with large pings (so the
# switch writes into A's memory the whole time); A moves to the second QEMU
# (max-bandwidth 32 MiB/s: a few seconds); both QEMUs' RAM is compared page
# by page before the destination resumes; then A and B move 20 MiB each way.
QMP=$ROOT/tests/vm/qmp.py
MEM=262152K   # 8 KiB over a round size: QEMU 7.2's TCG dirty-tracking bug
RAM_BYTES=$((262152 * 1024))
command -v python3 >/dev/null || die "python3 not found (QMP client)"

step "[4/5] Starting vhost-switch, VM B, and VM A twice (source, and a destination waiting for it)"
# shellcheck disable=SC2086
timeout -k 5 400 nice -n 19 "$SW" --socket "$WORK/vm-a.sock" --socket "$WORK/vm-a2.sock" \
    --socket "$WORK/vm-b.sock" $SWCPU --duration 360 >"$WORK/switch.out" 2>"$WORK/switch.err" &
SW_WRAP=$!
for _ in $(seq 100); do
    p=$(pgrep -P "$SW_WRAP" || true)
    [ -n "$p" ] && [ "$(cat "/proc/$p/comm" 2>/dev/null)" = vhost-switch ] && SW_PID=$p
    [ -n "$SW_PID" ] && [ -S "$WORK/vm-b.sock" ] && [ -S "$WORK/vm-a2.sock" ] && break
    kill -0 "$SW_WRAP" 2>/dev/null || { cat "$WORK/switch.err" >&2; die "vhost-switch exited"; }
    sleep 0.1
done
[ -n "$SW_PID" ] || die "vhost-switch did not start"
say "vhost-switch (pid $SW_PID): ports vm-a.sock (A, source), vm-a2.sock (A, destination), vm-b.sock"

vm() { # vm NAME SOCK MAC IP SCRIPT CPU [run-vm options...]
    _n=$1; _s=$2; _m=$3; _i=$4; _sc=$5; _c=$6; shift 6
    VMPIDS="$VMPIDS $WORK/$_n.pid"
    VMTEST_KARGS=init_on_alloc=0 "$RUNVM" start --guest "$GUEST" --log "$WORK/$_n.log" \
        --pidfile "$WORK/$_n.pid" --mem "$MEM" --sock "$WORK/$_s" --mac "$_m" \
        --ip "$_i" --script "$ROOT/tests/vm/guest/$_sc" --timeout 240 \
        ${_c:+--cpu $_c} "$@" 2>/dev/null || die "VM $_n did not start"
}
vm b vm-b.sock 52:54:00:00:00:0b 10.0.0.2/24 mig-peer.sh "$CPU_B" \
    --param peer=10.0.0.1 --param "mib=$MIB"
say "VM B booting: 52:54:00:00:00:0b 10.0.0.2 (floods A with pings, then swaps $MIB MiB with it)"
A_PARAMS=(--param peer=10.0.0.2 --param "mib=$MIB" --param phase=30)
vm a vm-a.sock 52:54:00:00:00:0a 10.0.0.1/24 mig-guest.sh "$CPU_A" "${A_PARAMS[@]}" \
    --extra "-qmp unix:$WORK/a.qmp,server=on,wait=off"
say "VM A booting: 52:54:00:00:00:0a 10.0.0.1 (pings B every 0.1 s)"
vm a2 vm-a2.sock 52:54:00:00:00:0a 10.0.0.1/24 mig-guest.sh "$CPU_A" "${A_PARAMS[@]}" \
    --extra "-qmp unix:$WORK/a2.qmp,server=on,wait=off -incoming unix:$WORK/mig.sock -S"
say "VM A's destination QEMU started, waiting for the migration stream"

for _ in $(seq 900); do
    grep -aq '^VMTEST-EVENT: mig-ready ' "$WORK/a.log" 2>/dev/null && break
    sleep 0.2
done
grep -aq '^VMTEST-EVENT: mig-ready ' "$WORK/a.log" || die "VM A never reached VM B"
say "VM A reaches VM B through the switch; B is flooding A"

step "[5/5] Migrating VM A to the other QEMU while the traffic flows"
"$QMP" "$WORK/a.qmp" hmp "migrate_set_parameter max-bandwidth 32M" >/dev/null
"$QMP" "$WORK/a.qmp" hmp "migrate -d unix:$WORK/mig.sock" >/dev/null
"$QMP" "$WORK/a.qmp" migrate-wait 180 >"$WORK/mig.info" ||
    die "migration did not complete: $(grep 'Migration status' "$WORK/mig.info")"
total=$(sed -n 's/^total time: \([0-9]*\).*/\1/p' "$WORK/mig.info")
down=$(sed -n 's/^downtime: \([0-9]*\).*/\1/p' "$WORK/mig.info")
say "migration completed in ${total} ms; the guest was stopped for ${down} ms"
"$QMP" "$WORK/a.qmp" hmp "pmemsave 0 $RAM_BYTES \"$WORK/src.ram\"" >/dev/null
"$QMP" "$WORK/a2.qmp" hmp "pmemsave 0 $RAM_BYTES \"$WORK/dst.ram\"" >/dev/null
cmp_out=$("$ROOT/tests/vm/ramcmp.py" "$WORK/src.ram" "$WORK/dst.ram") || true
rm -f "$WORK/src.ram" "$WORK/dst.ram"
say "guest RAM, source vs destination, before it resumes: $cmp_out"
"$QMP" "$WORK/a2.qmp" hmp cont >/dev/null
"$QMP" "$WORK/a.qmp" hmp quit >/dev/null 2>&1 || true
"$RUNVM" kill --pidfile "$WORK/a.pid"
say "VM A runs on the destination QEMU; the source QEMU is gone"

"$RUNVM" wait --log "$WORK/a2.log" --pidfile "$WORK/a2.pid" --timeout 240 >"$WORK/a.result" &
wa=$!
"$RUNVM" wait --log "$WORK/b.log" --pidfile "$WORK/b.pid" --timeout 240 >"$WORK/b.result" &
wb=$!
WAITERS="$wa $wb"
ra=0; rb=0
wait "$wa" || ra=$?
wait "$wb" || rb=$?
WAITERS=""; VMPIDS=""
res_a=$(cat "$WORK/a.result"); res_b=$(cat "$WORK/b.result")
f() { echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p" | head -n1; }
say "VM A's pings during the migration: $(f "$res_a" ping) answered, longest gap $(f "$res_a" ping_gap_s) s"
say "A -> B $MIB MiB: sent sha256 $(f "$res_a" tx_sha256 | cut -c1-16)..  received $(f "$res_b" rx_sha256 | cut -c1-16).."
say "B -> A $MIB MiB: sent sha256 $(f "$res_b" tx_sha256 | cut -c1-16)..  received $(f "$res_a" rx_sha256 | cut -c1-16).."
ok=0
if [ $ra -eq 0 ] && [ $rb -eq 0 ] && [ -n "$(f "$res_a" tx_sha256)" ] &&
   [ "$(f "$res_a" tx_sha256)" = "$(f "$res_b" rx_sha256)" ] &&
   [ "$(f "$res_b" tx_sha256)" = "$(f "$res_a" rx_sha256)" ] &&
   [ "$(f "$cmp_out" differ)" = 0 ]; then
    say "${G}identical both ways, and the RAM images matched: the migration lost nothing${N}"
    ok=1
else
    say "${R}FAILED${N}: A: $res_a"
    say "        B: $res_b"
fi

step "vhost-switch statistics (printed when it stops)"
stop_switch
sed 's/^/    /' "$WORK/switch.out"
grep -a 'moved here\|SEND_RARP' "$WORK/switch.err" | sed 's/^/    /' || true
echo
if [ $ok = 1 ]; then
    echo "${G}${B}Demo done in $(elapsed) s${N}: VM A moved between QEMU processes (downtime ${down} ms) while talking to VM B through vhost-switch."
else
    echo "${R}${B}Demo failed after $(elapsed) s${N} (logs are kept)."
    exit 1
fi
