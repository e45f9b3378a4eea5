#!/usr/bin/env bash
# tests/ops/test-dist.sh [--build DIR] -- what the packages ship: the
# systemd units pass `systemd-analyze verify`, the man pages are clean under
# `mandoc -T lint -W warning` and document every option of the programs'
# --help, and `meson install --destdir` places units, pages and examples.
#
# systemd-analyze verify needs no systemd as PID 1 (it loads the units
# itself), but it checks that ExecStart's binary exists: the installed
# units are verified with ExecStart pointed at the build's binaries, as
# an instance (a template alone is not loaded). Warnings count as
# failures: verify exits 0 on an unknown key and only prints it.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=$ROOT/build
while (($#)); do
    case $1 in
        --build) BUILD=$(cd "$2" && pwd); shift 2 ;;
        *) echo "usage: $0 [--build DIR]" >&2; exit 2 ;;
    esac
done
FAILS=0
ok() { echo "PASS $*"; }
bad() { echo "FAIL $*"; FAILS=$((FAILS + 1)); }
WORK=$(mktemp -d /tmp/test-dist.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
APPS=(vhost-switch vhost-fwd)

# 1. meson install --destdir
DEST=$WORK/dest
if timeout 300 meson install -C "$BUILD" --destdir "$DEST" --no-rebuild >"$WORK/install.log" 2>&1; then
    ok "dist install"
else
    bad "dist install (meson install failed)"; tail -5 "$WORK/install.log"
fi
for f in "${APPS[@]/%/@.service}"; do
    u=$(find "$DEST" -path "*/systemd/system/$f" | head -1)
    if [[ -n $u ]]; then ok "dist installs $f (${u#"$DEST"})"; else bad "dist: $f not installed"; fi
done
for p in vhost-switch.8 vhost-fwd.8 vhostctl.8; do
    m=$(find "$DEST" -path "*/man8/$p" | head -1)
    if [[ -n $m ]]; then ok "dist installs $p"; else bad "dist: $p not installed"; fi
done
for a in "${APPS[@]}"; do
    [[ -n $(find "$DEST" -name "$a.conf.example") ]] && ok "dist installs $a.conf.example" ||
        bad "dist: $a.conf.example not installed"
done

# 2. systemd-analyze verify, and proof that it would see a mistake
verify() { # verify UNITFILE APP : empty output and status 0
    local dir=$WORK/units.$RANDOM
    mkdir -p "$dir"
    sed -E "s|^ExecStart=[^ ]*/$2 |ExecStart=$BUILD/apps/$2/$2 |" "$1" >"$dir/$2@.service"
    ln -s "$2@.service" "$dir/$2@ci.service"
    (cd "$dir" && timeout 60 systemd-analyze verify --man=no "$dir/$2@ci.service") >"$dir/out" 2>&1
    local rc=$?
    cat "$dir/out"
    ((rc == 0)) && ! [[ -s $dir/out ]]
}
if ! command -v systemd-analyze >/dev/null; then
    bad "dist: systemd-analyze missing (package systemd)"
else
    for a in "${APPS[@]}"; do
        u=$(find "$DEST" -path "*/systemd/system/$a@.service" | head -1)
        [[ -n $u ]] || continue
        if verify "$u" "$a" >"$WORK/verify.$a" 2>&1; then ok "dist systemd-analyze verify $a@.service"
        else bad "dist systemd-analyze verify $a@.service:"; sed 's/^/    /' "$WORK/verify.$a"; fi
        grep -q '^Type=notify' "$u" && ok "dist $a@.service is Type=notify" || bad "dist $a@.service: not Type=notify"
    done
    u=$(find "$DEST" -path "*/systemd/system/vhost-fwd@.service" | head -1)
    if [[ -n $u ]]; then
        sed 's/^Restart=on-failure/Restart=sometimes/' "$u" >"$WORK/broken@.service"
        if verify "$WORK/broken@.service" vhost-fwd >/dev/null 2>&1; then
            bad "dist: verify accepted a broken unit (the check sees nothing)"
        else ok "dist: verify rejects a broken unit"; fi
    fi
fi

# 3. man pages: lint, and every --help option documented
for p in "$ROOT"/doc/man/*.8; do
    out=$(mandoc -T lint -W warning "$p" 2>&1)
    if [[ -z $out ]]; then ok "dist mandoc lint $(basename "$p")"
    else bad "dist mandoc lint $(basename "$p"):"; echo "$out" | sed 's/^/    /'; fi
done
help_options() { # help_options BINARY : the --long options of its --help
    "$1" --help 2>&1 | grep -oE -- '--[a-z][a-z0-9-]*' | sort -u
}
man_options() { # man_options PAGE : the long options it documents
    grep -oE '^\.(It|Op) Fl -[a-z][a-z0-9-]*|Fl -[a-z][a-z0-9-]*' "$1" |
        grep -oE -- '-[a-z][a-z0-9-]*$' | sed 's/^/-/' | sort -u
}
for a in "${APPS[@]}" vhostctl; do
    bin=$(find "$BUILD/apps" -type f -name "$a" -perm -u+x | head -1)
    if [[ -z $bin ]]; then
        echo "skip: $a not built here (its page is still linted)"; continue
    fi
    missing=$(comm -23 <(help_options "$bin") <(man_options "$ROOT/doc/man/$a.8") | tr '\n' ' ')
    if [[ -z $missing ]]; then ok "dist $a.8 documents every option of $a --help"
    else bad "dist $a.8 lacks: $missing"; fi
done

echo "test-dist: $FAILS failed"
((FAILS == 0))
