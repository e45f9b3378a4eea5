#!/usr/bin/env bash
# tests/fuzz/run.sh [--seconds N] [--jobs J] [--build DIR] [TARGET...]
#
# Build the libFuzzer targets (clang, ASan + UBSan, coverage on the library
# too) and run each for N seconds (default 60) from its seed corpus in
# tests/fuzz/corpus/NAME, after replaying every saved crash in
# tests/fuzz/regressions/NAME (each must now pass). For long runs:
#   tests/fuzz/run.sh --seconds 3600 fuzz_vring
# A new crash is copied to tests/fuzz/regressions/NAME/ (commit it with the
# fix) and the run fails. Prints "PASS fuzz NAME (E execs)" or "FAIL ...".
# --jobs J runs J targets at once (one core each; default 1), printing
# their lines in target order.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
SECONDS_EACH=60
JOBS=1
BUILD=$ROOT/build-fuzz
TARGETS=()
while (($#)); do
    case $1 in
        --seconds) SECONDS_EACH=$2; shift 2 ;;
        --jobs) JOBS=$2; shift 2 ;;
        --build) BUILD=$2; shift 2 ;;
        *) TARGETS+=("$1"); shift ;;
    esac
done
((${#TARGETS[@]})) || TARGETS=(fuzz_messages fuzz_vring fuzz_net_hdr fuzz_vu fuzz_vxlan fuzz_jparse)

if [[ ! -f $BUILD/build.ninja ]]; then
    CC=clang meson setup "$BUILD" "$ROOT" -Dfuzz=true \
        -Db_sanitize=address,undefined -Db_lundef=false >/dev/null || exit 1
fi
ninja -C "$BUILD" "${TARGETS[@]/#/tests/fuzz/}" >/dev/null || { echo "FAIL fuzz build"; exit 1; }

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
# run_target TARGET : replay its regressions, fuzz it; exit status 0 if clean.
run_target() {
    local t=$1 name exe work log ok rc execs crashes c
    name=${t#fuzz_}
    exe=$BUILD/tests/fuzz/$t
    work=$(mktemp -d /tmp/fuzz-$name.XXXXXX)
    log=$work/log
    ok=1
    if [[ -d $HERE/regressions/$name ]] && compgen -G "$HERE/regressions/$name/*" >/dev/null; then
        if ! timeout 300 "$exe" "$HERE"/regressions/"$name"/* >"$log" 2>&1; then
            echo "FAIL fuzz $t: a saved regression input fails again (log: $log)"
            ok=0
        fi
    fi
    if ((ok)); then
        mkdir -p "$work/corpus"
        cp "$HERE/corpus/$name/"* "$work/corpus/" 2>/dev/null
        (cd "$work" && timeout $((SECONDS_EACH + 120)) "$exe" \
            -max_total_time="$SECONDS_EACH" -timeout=20 -rss_limit_mb=4096 \
            -max_len=40000 -print_final_stats=1 corpus >"$log" 2>&1)
        rc=$?
        execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
        crashes=$(compgen -G "$work/crash-*" "$work/leak-*" "$work/timeout-*" "$work/oom-*" | head -5)
        if ((rc != 0)) || [[ -n $crashes ]]; then
            mkdir -p "$HERE/regressions/$name"
            for c in $crashes; do cp "$c" "$HERE/regressions/$name/"; done
            echo "FAIL fuzz $t after ${execs:-?} execs: input saved in tests/fuzz/regressions/$name (log: $log)"
            tail -30 "$log"
            ok=0
        else
            echo "PASS fuzz $t (${execs:-?} execs in ${SECONDS_EACH}s, $(ls "$work/corpus" | wc -l) corpus entries)"
            rm -rf "$work"
        fi
    fi
    ((ok))
}

OUTS=$(mktemp -d /tmp/fuzz-out.XXXXXX)
i=0
for t in "${TARGETS[@]}"; do
    # at most JOBS at once
    while (($(jobs -rp | wc -l) >= JOBS)); do wait -n; done
    (run_target "$t" >"$OUTS/$i.out" 2>&1; echo $? >"$OUTS/$i.rc") &
    i=$((i + 1))
done
wait
fail=0
for ((k = 0; k < i; k++)); do
    cat "$OUTS/$k.out"
    [[ $(cat "$OUTS/$k.rc" 2>/dev/null) == 0 ]] || fail=1
done
rm -rf "$OUTS"
exit $fail
