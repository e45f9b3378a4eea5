#!/usr/bin/env bash
# scripts/test.sh -- every test of libvhost, from a fresh Debian 12 machine.
#
# Installs what is missing (apt-get; sudo when not root), then:
#   1. builds three ways: gcc, clang (both -Wall -Wextra -Werror), and gcc
#      with ASan + UBSan
#   2. unit tests (meson suite "unit") in the gcc and ASan builds (clang
#      runs them in step 7, with TSan)
#   3. peer tests against DPDK testpmd (virtio-user front-end for our back-end,
#      net_vhost back-end for our front-end), with the ASan build
#   3b. operations (ops): vhost-switch's control socket under traffic from
#      two testpmd virtio-user ports, driven by Debian's dpdk-telemetry.py
#      and a hostile/concurrent client (tests/ops/test-ops.sh, ASan build);
#      ports added and removed at run time (tests/ops/test-ports.sh)
#   3c. cli: vhostctl against a fake control socket (every command, table
#      and --json output, exit codes, hostile servers) and against
#      dpdk-testpmd's telemetry (gcc build); the fake-server cases again
#      with the ASan build (tests/ops/test-vhostctl.sh)
#   4. the same traffic with vhost-fwd under valgrind (leaks, invalid access)
#   5. end-to-end VM tests of vhost-switch (QEMU + Linux guests; needs root
#      for the TAP device and a network namespace)
#   5b. live migration of a Linux guest between two QEMU processes on the
#      switch (RAM compared page by page, a run without logging that must
#      differ, cancel, announce_self, memory hot-plug; tests/vm/test-migrate.sh)
#   5c. multi-host: vhost-switch's VXLAN uplink and tenant networks across
#      hosts made of network namespaces, against the kernel's vxlan, other
#      switches and OVS; VTEPs and the uplink changed at run time over the
#      control socket (tests/netns/test-vxlan.sh, ASan switch)
#   6. the fuzz targets, 20 s each by default, two at once (clang, libFuzzer)
#   6b. operations: the systemd units (systemd-analyze verify), man pages
#      (mandoc lint, every --help option documented) and meson install
#      (tests/ops/test-dist.sh); Prometheus metrics of a switch between
#      two testpmd ports, textfile and HTTP (tests/ops/test-metrics.sh,
#      ASan build); both in step ops
#   7. ThreadSanitizer (clang): the unit suite (in-process and hostile tests,
#      control plane under traffic) and the peer cases where the control
#      plane and the data path meet (reconnect both ways, interrupt mode),
#      and the ops step's switch case; any report is a FAIL line
# Every step prints PASS/FAIL lines; the last line is "N passed, N failed".
# Exit status 0 only if nothing failed.
#
# Environment: TEST_STEPS="build unit peer ops cli valgrind vm migrate netns fuzz tsan" (a subset),
# FUZZ_SECONDS=20 (per target; the CI budget: longer runs by hand, tests/fuzz/run.sh),
# PEER_RUN_SECS=2 (the traffic window of each peer case).
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 1
# shellcheck source=deps.sh
. "$ROOT/scripts/deps.sh"

STEPS=${TEST_STEPS:-build unit peer ops cli valgrind vm migrate netns fuzz tsan}
FUZZ_SECONDS=${FUZZ_SECONDS:-20}
# Each peer case moves millions of packets in 2 s even under ASan.
export PEER_RUN_SECS=${PEER_RUN_SECS:-2}
LOGDIR=$(mktemp -d /tmp/libvhost-test.XXXXXX)
PASS=0
FAIL=0
T0=$(date +%s)

note() { echo "== $* ($(($(date +%s) - T0)) s)"; }
count() { # count LOGFILE : add its PASS/FAIL lines to the totals, echo them
    local p f
    p=$(grep -cE '^PASS ' "$1")
    f=$(grep -cE '^FAIL ' "$1")
    PASS=$((PASS + p))
    FAIL=$((FAIL + f))
    grep -E '^(PASS|FAIL) ' "$1"
}
want() { [[ " $STEPS " == *" $1 "* ]]; }
# unit_results BUILD LOG: meson's "1/6 pktbuf OK 0.2s" lines -> "PASS unit
# pktbuf [build]" (meson prints a failed test's line twice: once each)
unit_results() {
    awk -v b="$1" '/^ *[0-9]+\/[0-9]+ / && !seen[$2]++ {
            name = $2; res = $3
            if (res == "OK") print "PASS unit " name " [" b "]"
            else print "FAIL unit " name " [" b "] " res
        }' "$2"
}

need_pkgs "${BUILD_PKGS[@]}" libvirt-daemon-system libvirt-daemon-driver-qemu libvirt-clients clang libclang-rt-14-dev dpdk-dev valgrind \
    qemu-system-x86 busybox-static cpio gzip iproute2 procps python3 ethtool \
    openvswitch-switch libmicrohttpd-dev python3-prometheus-client mandoc systemd ||
    { echo "FAIL could not install the packages the tests need"; echo "0 passed, 1 failed"; exit 1; }

BUILDS=(build-ci-gcc build-ci-clang build-ci-asan)
setup_build() { # setup_build DIR CC [meson options...]
    local dir=$1 cc=$2; shift 2
    [[ -f $dir/build.ninja ]] && return 0
    CC=$cc meson setup "$dir" "$@" >"$LOGDIR/$dir.setup.log" 2>&1
}
if want build || want unit || want peer || want ops || want cli || want valgrind || want vm || want migrate || want netns; then
    note "build"
    : >"$LOGDIR/build.log"
    for b in "${BUILDS[@]}"; do
        case $b in
            build-ci-gcc) args=(gcc -Dbuildtype=debugoptimized) ;;
            build-ci-clang) args=(clang -Dbuildtype=debugoptimized) ;;
            build-ci-asan) args=(gcc -Dbuildtype=debug -Db_sanitize=address,undefined -Db_lundef=false) ;;
        esac
        if setup_build "$b" "${args[@]}" && ninja -C "$b" >"$LOGDIR/$b.log" 2>&1; then
            echo "PASS build $b" >>"$LOGDIR/build.log"
        else
            echo "FAIL build $b (see $LOGDIR/$b.log)" >>"$LOGDIR/build.log"
            tail -20 "$LOGDIR/$b.log"
        fi
    done
    count "$LOGDIR/build.log"
fi

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:exitcode=23
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1:exitcode=23

if want unit; then
    note "unit tests"
    # Not build-ci-clang: the TSan build (step 7) runs the suite with clang.
    for b in build-ci-gcc build-ci-asan; do
        [[ -f $b/build.ninja ]] || continue
        meson test -C "$b" --suite unit --print-errorlogs >"$LOGDIR/unit-$b.log" 2>&1
        unit_results "$b" "$LOGDIR/unit-$b.log" >"$LOGDIR/unit-$b.res"
        grep -q . "$LOGDIR/unit-$b.res" || echo "FAIL unit [$b]: no test ran" >"$LOGDIR/unit-$b.res"
        count "$LOGDIR/unit-$b.res"
        grep -q '^FAIL' "$LOGDIR/unit-$b.res" && grep -E 'FAIL|ERROR' "$LOGDIR/unit-$b.log" | head -20
    done
fi

if want peer; then
    note "peer tests (DPDK testpmd virtio-user, ASan build)"
    timeout 1500 tests/peer/test-testpmd.sh --build build-ci-asan >"$LOGDIR/peer.log" 2>&1
    grep -q '^peer:' "$LOGDIR/peer.log" || echo "FAIL peer: did not finish" >>"$LOGDIR/peer.log"
    count "$LOGDIR/peer.log"
    note "peer tests of our front-end (virtio-user: our back-end, testpmd net_vhost; ASan build)"
    timeout 900 tests/peer/test-virtio-user.sh --build build-ci-asan >"$LOGDIR/peer-vu.log" 2>&1
    grep -q '^virtio-user peer:' "$LOGDIR/peer-vu.log" || echo "FAIL peer-vu: did not finish" >>"$LOGDIR/peer-vu.log"
    count "$LOGDIR/peer-vu.log"
fi

if want ops; then
    note "operations: the control socket under traffic (testpmd, dpdk-telemetry.py; ASan build)"
    timeout 300 tests/ops/test-ops.sh --build build-ci-asan >"$LOGDIR/ops.log" 2>&1
    grep -q '^ops:' "$LOGDIR/ops.log" || echo "FAIL ops: did not finish" >>"$LOGDIR/ops.log"
    count "$LOGDIR/ops.log"
    # Ports added and removed over the socket while testpmd VMs send.
    timeout 600 tests/ops/test-ports.sh --build build-ci-asan >"$LOGDIR/ops-ports.log" 2>&1
    grep -q '^ports:' "$LOGDIR/ops-ports.log" || echo "FAIL ops ports: did not finish" >>"$LOGDIR/ops-ports.log"
    count "$LOGDIR/ops-ports.log"
    note "dist: systemd units, man pages, meson install"
    timeout 600 tests/ops/test-dist.sh --build "$ROOT/build-ci-gcc" >"$LOGDIR/dist.log" 2>&1
    grep -q '^test-dist:' "$LOGDIR/dist.log" || echo "FAIL dist: did not finish" >>"$LOGDIR/dist.log"
    count "$LOGDIR/dist.log"
    note "metrics: Prometheus textfile and HTTP of vhost-switch between two testpmd ports (ASan build)"
    timeout 600 tests/ops/test-metrics.sh --build "$ROOT/build-ci-asan" >"$LOGDIR/metrics.log" 2>&1
    grep -q '^test-metrics:' "$LOGDIR/metrics.log" || echo "FAIL metrics: did not finish" >>"$LOGDIR/metrics.log"
    count "$LOGDIR/metrics.log"
fi

if want cli; then
    note "vhostctl: fake control sockets, hostile servers, testpmd telemetry (gcc; ASan for the fake cases)"
    timeout 300 tests/ops/test-vhostctl.sh --build build-ci-gcc --tag build-ci-gcc >"$LOGDIR/cli.log" 2>&1
    grep -q '^test-vhostctl:' "$LOGDIR/cli.log" || echo "FAIL cli: did not finish [build-ci-gcc]" >>"$LOGDIR/cli.log"
    timeout 300 tests/ops/test-vhostctl.sh --build build-ci-asan --no-peer --tag build-ci-asan >"$LOGDIR/cli-asan.log" 2>&1
    grep -q '^test-vhostctl:' "$LOGDIR/cli-asan.log" || echo "FAIL cli: did not finish [build-ci-asan]" >>"$LOGDIR/cli-asan.log"
    count "$LOGDIR/cli.log"
    count "$LOGDIR/cli-asan.log"
fi

if want valgrind; then
    note "peer traffic under valgrind"
    # --fair-sched: our worker spins without syscalls; valgrind's default
    # scheduler would starve the event thread.
    PEER_FWD_WRAPPER="valgrind -q --fair-sched=yes --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect --show-leak-kinds=definite,indirect" \
    PEER_RUN_SECS=3 timeout 600 tests/peer/test-testpmd.sh \
        --build build-ci-gcc g2h-64-mrg1 h2g-1518-mrg0 loop-mrg1 g2h-9000-mrg1 \
        interrupt reconnect-server reconnect-client mq-g2h packed-g2h-64-mrg1 packed-h2g-1518-mrg0 \
        >"$LOGDIR/valgrind.log" 2>&1
    grep -q '^peer:' "$LOGDIR/valgrind.log" || echo "FAIL valgrind: did not finish" >>"$LOGDIR/valgrind.log"
    sed -E 's/^(PASS|FAIL) /\1 valgrind /' "$LOGDIR/valgrind.log" >"$LOGDIR/valgrind.res"
    count "$LOGDIR/valgrind.res"
fi

if want vm; then
    note "VM tests (vhost-switch, QEMU, Linux guests; ASan build)"
    if [[ $(id -u) != 0 ]]; then
        echo "FAIL vm: needs root (QEMU, TAP, netns)" >"$LOGDIR/vm.log"
    else
        VMTEST_SWITCH=$ROOT/build-ci-asan/apps/vhost-switch/vhost-switch \
            timeout 2400 tests/vm/test-switch.sh >"$LOGDIR/vm.log" 2>&1
        grep -q '^test-switch:' "$LOGDIR/vm.log" || echo "FAIL vm: did not finish" >>"$LOGDIR/vm.log"
        # libvirt domains on switch ports, both socket directions
        # (libvirtd and virtlogd started directly when not running)
        timeout 900 tests/vm/test-libvirt.sh --switch "$ROOT/build-ci-asan/apps/vhost-switch/vhost-switch" \
            >"$LOGDIR/vm-libvirt.log" 2>&1
        grep -q '^test-libvirt:' "$LOGDIR/vm-libvirt.log" || echo "FAIL libvirt: did not finish" >>"$LOGDIR/vm-libvirt.log"
        cat "$LOGDIR/vm-libvirt.log" >>"$LOGDIR/vm.log"
    fi
    sed -E 's/^(PASS|FAIL) /\1 vm /' "$LOGDIR/vm.log" >"$LOGDIR/vm.res"
    count "$LOGDIR/vm.res"
fi

if want migrate; then
    note "live migration and memory hot-plug (QEMU, Linux guests; ASan switch)"
    if [[ $(id -u) != 0 ]]; then
        echo "FAIL migrate: needs root (QEMU)" >"$LOGDIR/migrate.log"
    else
        VMTEST_SWITCH=$ROOT/build-ci-asan/apps/vhost-switch/vhost-switch \
            timeout 1500 tests/vm/test-migrate.sh >"$LOGDIR/migrate.log" 2>&1
        grep -q '^test-migrate:' "$LOGDIR/migrate.log" || echo "FAIL migrate: did not finish" >>"$LOGDIR/migrate.log"
    fi
    sed -E 's/^(PASS|FAIL) /\1 migrate /' "$LOGDIR/migrate.log" >"$LOGDIR/migrate.res"
    count "$LOGDIR/migrate.res"
fi

if want netns; then
    note "multi-host: VXLAN uplink and tenant networks in network namespaces (ASan switch)"
    if [[ $(id -u) != 0 ]]; then
        echo "FAIL netns: needs root (namespaces, TAP, raw sockets)" >"$LOGDIR/netns.log"
    else
        timeout 900 tests/netns/test-vxlan.sh --build "$ROOT/build-ci-asan" >"$LOGDIR/netns.log" 2>&1
        grep -q '^test-vxlan:' "$LOGDIR/netns.log" || echo "FAIL netns: did not finish" >>"$LOGDIR/netns.log"
    fi
    sed -E 's/^(PASS|FAIL) /\1 netns /' "$LOGDIR/netns.log" >"$LOGDIR/netns.res"
    count "$LOGDIR/netns.res"
fi



if want fuzz; then
    note "fuzzing (${FUZZ_SECONDS}s per target)"
    # two targets at once: one per core
    timeout $((FUZZ_SECONDS * 6 + 600)) tests/fuzz/run.sh --seconds "$FUZZ_SECONDS" --jobs 2 \
        --build "$ROOT/build-ci-fuzz" >"$LOGDIR/fuzz.log" 2>&1
    grep -qE '^(PASS|FAIL) ' "$LOGDIR/fuzz.log" || echo "FAIL fuzz: did not run" >>"$LOGDIR/fuzz.log"
    count "$LOGDIR/fuzz.log"
fi

if want tsan; then
    note "ThreadSanitizer (clang): unit suite and control/data peer cases"
    b=build-ci-tsan
    : >"$LOGDIR/tsan.res"
    # exitcode=66: a report fails the process it happened in (a test, or
    # vhost-fwd, whose exit status the peer cases check).
    export TSAN_OPTIONS="halt_on_error=1 exitcode=66 second_deadlock_stack=1"
    if setup_build "$b" clang -Dbuildtype=debugoptimized -Db_sanitize=thread -Db_lundef=false &&
        ninja -C "$b" >"$LOGDIR/$b.log" 2>&1; then
        echo "PASS build $b" >>"$LOGDIR/tsan.res"
        meson test -C "$b" --suite unit --print-errorlogs >"$LOGDIR/unit-$b.log" 2>&1
        unit_results "$b" "$LOGDIR/unit-$b.log" >>"$LOGDIR/tsan.res"
        grep -q "unit .*\[$b\]" "$LOGDIR/tsan.res" || echo "FAIL unit [$b]: no test ran" >>"$LOGDIR/tsan.res"
        if grep -q 'WARNING: ThreadSanitizer' "$b/meson-logs/testlog.txt"; then
            echo "FAIL tsan unit: ThreadSanitizer report (see $ROOT/$b/meson-logs/testlog.txt)" >>"$LOGDIR/tsan.res"
            grep -m3 -A12 'WARNING: ThreadSanitizer' "$b/meson-logs/testlog.txt"
        fi
        timeout 600 tests/peer/test-testpmd.sh --build "$b" \
            reconnect-server reconnect-client interrupt mq-interrupt packed-reconnect-server >"$LOGDIR/tsan-peer.log" 2>&1
        grep -q '^peer:' "$LOGDIR/tsan-peer.log" || echo "FAIL tsan peer: did not finish" >>"$LOGDIR/tsan-peer.log"
        sed -E 's/^(PASS|FAIL) /\1 tsan /' "$LOGDIR/tsan-peer.log" | grep -E '^(PASS|FAIL) ' >>"$LOGDIR/tsan.res"
        if grep -q 'ThreadSanitizer' "$LOGDIR/tsan-peer.log"; then
            echo "FAIL tsan peer: ThreadSanitizer report (see $LOGDIR/tsan-peer.log)" >>"$LOGDIR/tsan.res"
        fi
        # The control socket's thread beside the switch's workers and
        # event thread (a report makes the switch exit 66: FAIL exit).
        timeout 300 tests/ops/test-ops.sh --build "$b" >"$LOGDIR/tsan-ops.log" 2>&1
        grep -q '^ops:' "$LOGDIR/tsan-ops.log" || echo "FAIL tsan ops: did not finish" >>"$LOGDIR/tsan-ops.log"
        sed -E 's/^(PASS|FAIL) /\1 tsan ops /' "$LOGDIR/tsan-ops.log" | grep -E '^(PASS|FAIL) ' >>"$LOGDIR/tsan.res"
        # Ports added and removed by that thread while the workers forward.
        timeout 600 tests/ops/test-ports.sh --build "$b" >"$LOGDIR/tsan-ports.log" 2>&1
        grep -q '^ports:' "$LOGDIR/tsan-ports.log" || echo "FAIL tsan ports: did not finish" >>"$LOGDIR/tsan-ports.log"
        sed -E 's/^(PASS|FAIL) /\1 tsan /' "$LOGDIR/tsan-ports.log" | grep -E '^(PASS|FAIL) ' >>"$LOGDIR/tsan.res"
    else
        echo "FAIL build $b (see $LOGDIR/$b.log)" >>"$LOGDIR/tsan.res"
        tail -20 "$LOGDIR/$b.log"
    fi
    unset TSAN_OPTIONS
    count "$LOGDIR/tsan.res"
    grep -q '^FAIL' "$LOGDIR/tsan.res" && grep -E 'FAIL|ERROR' "$LOGDIR/unit-$b.log" | head -20
fi

note "done; logs in $LOGDIR"
echo "$PASS passed, $FAIL failed"
((FAIL == 0))
