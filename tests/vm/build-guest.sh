#!/bin/sh
# build-guest.sh OUTDIR -- build a tiny Linux guest for vhost-user VM tests.
#
# Produces:
#   OUTDIR/vmlinuz            Debian cloud kernel (linux-image-*-cloud-amd64)
#   OUTDIR/initramfs.cpio.gz  static busybox + virtio-net module chain +
#                             qemu_fw_cfg + /init (below) + Debian's ethtool
#                             with its libraries (libc6, libmnl0), so a
#                             guest can change its queue count
#                             (ethtool -L eth0 combined N; busybox has none)
#   OUTDIR/kernel-version     the kernel release, e.g. 6.1.0-56-cloud-amd64
#
# What it does:
#   * apt-get installs qemu-system-x86, busybox-static, cpio, gzip only if a
#     tool is missing (runs 'apt-get update' first in that case).
#   * Resolves linux-image-cloud-amd64 to the real versioned image package
#     (override: VMTEST_KERNEL_PKG=linux-image-6.1.0-56-cloud-amd64), fetches
#     it with 'apt-get download' into the cache and unpacks it with dpkg-deb -x
#     (never installed on the host). The .deb has no modules.dep: the load
#     order is computed from each module's 'depends=' modinfo field.
#   * Idempotent: the cache keeps the .deb and the unpacked tree; OUTDIR keeps
#     a stamp of the inputs (kernel package, busybox binary, this script), and
#     a second run with unchanged inputs returns at once.
#     Cache dir: $VMTEST_CACHE, default ${XDG_CACHE_HOME:-$HOME/.cache}/libvhost-vmtest.
#     VMTEST_OFFLINE=1 skips the apt look-up and reuses the newest cached .deb.
#
# Guest /init contract (kernel command line, all optional):
#   vmtest.ip=10.0.0.1/24   address for the NIC (no NIC configured if absent)
#   vmtest.mac=52:54:..     pick the NIC with this MAC (default: eth0)
#   vmtest.timeout=SEC      bound for the test script (default 600)
#   vmtest.cmd=BASE64       test script on the command line (fallback when
#                           there is no fw_cfg file; keep it short)
#   vmtest.KEY=VALUE        any other key is exported as VMTEST_KEY=VALUE
#                           (key upper-cased) for the test script.
#   The test script comes from QEMU's
#     -fw_cfg name=opt/vmtest/script,file=PATH
#   (read from /sys/firmware/qemu_fw_cfg/by_name/opt/vmtest/script/raw),
#   else from vmtest.cmd, else a built-in smoke test (prints uname, passes).
#   It runs under 'sh' with /lib/vmtest-lib.sh sourced first (helpers:
#   fail REASON, info K=V, event NAME). Console output:
#     VMTEST-EVENT: <name> t=<uptime seconds>        progress markers
#     VMTEST-RESULT: PASS [info...]                  script exited 0
#     VMTEST-RESULT: FAIL <reason>                   anything else
#   then 'poweroff -f' (QEMU must run with -no-reboot; a panic also ends QEMU
#   through panic=-1).
set -eu

usage() { echo "usage: $0 OUTDIR" >&2; exit 2; }
[ $# -eq 1 ] || usage
OUT=$1
SELF=$(readlink -f "$0")
CACHE=${VMTEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/libvhost-vmtest}
MODULES_WANTED="virtio_net virtio_pci qemu_fw_cfg"
APT_UPDATED=0

log() { echo "build-guest: $*" >&2; }
die() { echo "build-guest: error: $*" >&2; exit 1; }

apt_update_once() {
    if [ "$APT_UPDATED" = 0 ]; then
        log "apt-get update"
        timeout 300 apt-get update -qq || die "apt-get update failed"
        APT_UPDATED=1
    fi
}

need_pkg() { # need_pkg COMMAND PACKAGE
    command -v "$1" >/dev/null 2>&1 && return 0
    [ -x "/usr/sbin/$1" ] && return 0
    apt_update_once
    log "installing $2 (for $1)"
    DEBIAN_FRONTEND=noninteractive timeout 600 \
        apt-get install -y -qq --no-install-recommends "$2" >/dev/null ||
        die "apt-get install $2 failed"
}

need_pkg qemu-system-x86_64 qemu-system-x86
need_pkg busybox busybox-static
need_pkg cpio cpio
need_pkg gzip gzip
need_pkg dpkg-deb dpkg
# The static busybox is required: the guest has no libc (Debian's plain
# 'busybox' package also provides /bin/busybox, dynamically linked).
BUSYBOX=/bin/busybox
if ! dpkg-query -W -f='${Status}' busybox-static 2>/dev/null |
     grep -q 'install ok installed'; then
    apt_update_once
    DEBIAN_FRONTEND=noninteractive timeout 600 \
        apt-get install -y -qq --no-install-recommends busybox-static >/dev/null ||
        die "apt-get install busybox-static failed"
fi

mkdir -p "$CACHE/debs" "$OUT"

# --- resolve and fetch the kernel package -------------------------------------
resolve_kpkg() {
    apt-cache depends linux-image-cloud-amd64 2>/dev/null |
        sed -n 's/^ *Depends: \(linux-image-[0-9].*-cloud-amd64\)$/\1/p' | head -n1
}
if [ -n "${VMTEST_KERNEL_PKG:-}" ]; then
    KPKG=$VMTEST_KERNEL_PKG
elif [ "${VMTEST_OFFLINE:-0}" = 1 ]; then
    KPKG=$(ls -t "$CACHE/debs"/linux-image-*-cloud-amd64_*.deb 2>/dev/null |
           head -n1 | sed 's|.*/||; s|_.*||')
    [ -n "$KPKG" ] || die "VMTEST_OFFLINE=1 but no cached kernel .deb"
else
    KPKG=$(resolve_kpkg)
    if [ -z "$KPKG" ]; then apt_update_once; KPKG=$(resolve_kpkg); fi
    [ -n "$KPKG" ] || die "cannot resolve linux-image-cloud-amd64"
fi
DEB=$(ls "$CACHE/debs/${KPKG}"_*.deb 2>/dev/null | head -n1 || true)
if [ -z "$DEB" ]; then
    log "downloading $KPKG"
    # apt-get download writes into the cwd; _apt cannot write to root-owned
    # dirs, which only gives a harmless warning.
    (cd "$CACHE/debs" && timeout 600 apt-get download -q "$KPKG" 2>&1 |
        grep -v 'Download is performed unsandboxed' >&2) || true
    DEB=$(ls "$CACHE/debs/${KPKG}"_*.deb 2>/dev/null | head -n1 || true)
    [ -n "$DEB" ] || { apt_update_once
        (cd "$CACHE/debs" && timeout 600 apt-get download -q "$KPKG") >&2 || true
        DEB=$(ls "$CACHE/debs/${KPKG}"_*.deb 2>/dev/null | head -n1 || true); }
    [ -n "$DEB" ] || die "apt-get download $KPKG failed"
fi

# --- ethtool and its libraries (fetched like the kernel, never installed) -----
USERLAND_PKGS="ethtool libmnl0 libc6"
fetch_deb() { # fetch_deb PKG -> path of the cached .deb (newest)
    _deb=$(ls -t "$CACHE/debs/$1"_*.deb 2>/dev/null | head -n1 || true)
    if [ -z "$_deb" ] && [ "${VMTEST_OFFLINE:-0}" != 1 ]; then
        log "downloading $1"
        (cd "$CACHE/debs" && timeout 600 apt-get download -q "$1" 2>&1 |
            grep -v 'Download is performed unsandboxed' >&2) || true
        _deb=$(ls -t "$CACHE/debs/$1"_*.deb 2>/dev/null | head -n1 || true)
        [ -n "$_deb" ] || { apt_update_once
            (cd "$CACHE/debs" && timeout 600 apt-get download -q "$1") >&2 || true
            _deb=$(ls -t "$CACHE/debs/$1"_*.deb 2>/dev/null | head -n1 || true); }
    fi
    [ -n "$_deb" ] || die "apt-get download $1 failed"
    echo "$_deb"
}
USERLAND_DEBS=""
for p in $USERLAND_PKGS; do USERLAND_DEBS="$USERLAND_DEBS $(fetch_deb "$p")"; done

# --- up to date? --------------------------------------------------------------
STAMP=$( { basename "$DEB"; for d in $USERLAND_DEBS; do basename "$d"; done
           sha256sum "$BUSYBOX" | cut -d' ' -f1;
           sha256sum "$SELF" | cut -d' ' -f1; echo "$MODULES_WANTED"; } |
         sha256sum | cut -d' ' -f1)
if [ -f "$OUT/.stamp" ] && [ "$(cat "$OUT/.stamp")" = "$STAMP" ] &&
   [ -s "$OUT/vmlinuz" ] && [ -s "$OUT/initramfs.cpio.gz" ]; then
    log "up to date: $OUT ($(cat "$OUT/kernel-version"))"
    exit 0
fi

# --- unpack the kernel (cached) -----------------------------------------------
KROOT=$CACHE/unpacked/$(basename "$DEB" .deb)
if [ ! -f "$KROOT/.done" ]; then
    log "unpacking $(basename "$DEB")"
    rm -rf "$KROOT"; mkdir -p "$KROOT"
    dpkg-deb -x "$DEB" "$KROOT"
    touch "$KROOT/.done"
fi
KVER=$(ls "$KROOT/lib/modules" | head -n1)
[ -n "$KVER" ] || die "no lib/modules in $DEB"
MODDIR=$KROOT/lib/modules/$KVER
[ -f "$KROOT/boot/vmlinuz-$KVER" ] || die "no vmlinuz-$KVER in $DEB"

# --- module dependency closure, in load order ---------------------------------
find_ko() { # module name (- and _ equivalent) -> path
    _n=$(echo "$1" | tr '-' '_')
    find "$MODDIR/kernel" -name '*.ko' | while read -r f; do
        b=$(basename "$f" .ko | tr '-' '_')
        [ "$b" = "$_n" ] && { echo "$f"; break; }
    done
}
ko_depends() { # path -> space separated depends
    tr '\0' '\n' <"$1" | sed -n 's/^depends=//p' | head -n1 | tr ',' ' '
}
ORDER=""
visit() {
    case " $ORDER " in *" $1 "*) return 0 ;; esac
    _f=$(find_ko "$1")
    if [ -z "$_f" ]; then
        # built into the kernel?
        if grep -q "/$(echo "$1" | tr '_' '-')\.ko$\|/$1\.ko$" \
            "$MODDIR/modules.builtin" 2>/dev/null; then return 0; fi
        die "module $1 not found in $KVER"
    fi
    for _d in $(ko_depends "$_f"); do visit "$_d"; done
    ORDER="$ORDER $1"
}
for m in $MODULES_WANTED; do visit "$m"; done
ORDER=$(echo $ORDER)
log "kernel $KVER, modules: $ORDER"

# --- assemble the initramfs ---------------------------------------------------
STAGE=$(mktemp -d "${TMPDIR:-/tmp}/vmtest-initramfs.XXXXXX")
trap 'rm -rf "$STAGE"' EXIT
trap 'exit 1' INT TERM
mkdir -p "$STAGE"/bin "$STAGE"/sbin "$STAGE"/dev "$STAGE"/proc "$STAGE"/sys \
         "$STAGE"/tmp "$STAGE"/etc "$STAGE"/lib/modules "$STAGE"/root
cp "$BUSYBOX" "$STAGE/bin/busybox"
for a in $("$BUSYBOX" --list); do
    [ "$a" = busybox ] || ln -s busybox "$STAGE/bin/$a"
done
: >"$STAGE/lib/modules/order"
for m in $ORDER; do
    cp "$(find_ko "$m")" "$STAGE/lib/modules/$m.ko"
    echo "$m" >>"$STAGE/lib/modules/order"
done
echo "$KVER" >"$STAGE/etc/kernel-version"

# ethtool, dynamically linked: the loader, libc, libm and libmnl beside it
# (its NEEDED entries).
UL=$(mktemp -d "${TMPDIR:-/tmp}/vmtest-userland.XXXXXX")
for d in $USERLAND_DEBS; do dpkg-deb -x "$d" "$UL"; done
mkdir -p "$STAGE/lib/x86_64-linux-gnu" "$STAGE/lib64" "$STAGE/usr/sbin"
cp -L "$UL/usr/sbin/ethtool" "$STAGE/usr/sbin/ethtool" 2>/dev/null ||
    cp -L "$UL/sbin/ethtool" "$STAGE/usr/sbin/ethtool" || die "no ethtool in the .deb"
for l in ld-linux-x86-64.so.2 libc.so.6 libm.so.6 libmnl.so.0; do
    f=$(find "$UL" -name "$l" | head -n1)
    [ -n "$f" ] || die "no $l in $USERLAND_PKGS"
    cp -L "$f" "$STAGE/lib/x86_64-linux-gnu/$l"
done
ln -s ../lib/x86_64-linux-gnu/ld-linux-x86-64.so.2 "$STAGE/lib64/ld-linux-x86-64.so.2"
ln -s ../usr/sbin/ethtool "$STAGE/sbin/ethtool"
rm -rf "$UL"

cat >"$STAGE/lib/vmtest-lib.sh" <<'EOF'
# Helpers for test scripts (sourced before the script runs).
# fail REASON : record the reason and exit 1
# info K=V    : append to the PASS line
# event NAME  : print a timestamped progress marker
vmtest_now() { cut -d' ' -f1 /proc/uptime; }
event() { echo "VMTEST-EVENT: $* t=$(vmtest_now)"; }
info() { printf ' %s' "$*" >>/tmp/vmtest-info; }
fail() { echo "$*" >/tmp/vmtest-reason; echo "vmtest: FAIL: $*"; exit 1; }
EOF

cat >"$STAGE/init" <<'EOF'
#!/bin/sh
# vmtest /init: see tests/vm/build-guest.sh for the contract.
export PATH=/bin:/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mount -t tmpfs -o size=200m tmpfs /tmp
exec </dev/console >/dev/console 2>&1
. /lib/vmtest-lib.sh

result() {
    echo
    echo "VMTEST-RESULT: $*"
    sync
    sleep 1
    poweroff -f
    sleep 5
}
trap 'result FAIL init-signal' INT TERM

# vmtest.KEY=VALUE on the command line -> VMTEST_KEY=VALUE
for w in $(cat /proc/cmdline); do
    case "$w" in
    vmtest.*=*)
        k=${w%%=*}; k=${k#vmtest.}; v=${w#*=}
        case "$k" in *[!a-zA-Z0-9_]*|'') continue ;; esac
        k=$(echo "$k" | tr a-z A-Z)
        export "VMTEST_$k=$v" ;;
    esac
done
event init

for m in $(cat /lib/modules/order); do
    insmod "/lib/modules/$m.ko" || result FAIL "insmod $m"
done
event modules

if [ -n "${VMTEST_IP:-}" ]; then
    ifc=""; i=0
    while [ $i -lt 100 ]; do   # up to 10 s for the NIC to appear
        if [ -n "${VMTEST_MAC:-}" ]; then
            for d in /sys/class/net/*; do
                [ "$(cat "$d/address" 2>/dev/null)" = "$VMTEST_MAC" ] &&
                    ifc=${d##*/}
            done
        elif [ -e /sys/class/net/eth0 ]; then
            ifc=eth0
        fi
        [ -n "$ifc" ] && break
        i=$((i + 1)); sleep 0.1
    done
    [ -n "$ifc" ] || result FAIL "no NIC (mac=${VMTEST_MAC:-any})"
    ip link set lo up
    ip addr add "$VMTEST_IP" dev "$ifc" || result FAIL "ip addr add $VMTEST_IP"
    ip link set "$ifc" up || result FAIL "ip link set $ifc up"
    export VMTEST_IF=$ifc
    echo "vmtest: $ifc $(cat /sys/class/net/$ifc/address) $VMTEST_IP" \
         "features=$(cat /sys/class/net/$ifc/device/features 2>/dev/null)"
    event netup
fi

fw=/sys/firmware/qemu_fw_cfg/by_name/opt/vmtest/script/raw
if [ -r "$fw" ]; then
    cat "$fw" >/tmp/vmtest.sh
elif [ -n "${VMTEST_CMD:-}" ]; then
    echo "$VMTEST_CMD" | base64 -d >/tmp/vmtest.sh || result FAIL "bad vmtest.cmd"
else
    echo 'echo "vmtest: built-in smoke: $(uname -r) $(nproc) cpu"' >/tmp/vmtest.sh
fi
: >/tmp/vmtest-info
event script-start
timeout "${VMTEST_TIMEOUT:-600}" sh -c '. /lib/vmtest-lib.sh; . /tmp/vmtest.sh'
rc=$?
event script-end
if [ $rc -eq 0 ]; then
    result "PASS$(cat /tmp/vmtest-info)"
elif [ -s /tmp/vmtest-reason ]; then
    result "FAIL $(head -n1 /tmp/vmtest-reason)"
elif [ $rc -eq 143 ] || [ $rc -eq 124 ]; then
    result "FAIL timeout after ${VMTEST_TIMEOUT:-600}s"
else
    result "FAIL exit=$rc"
fi
EOF
chmod 755 "$STAGE/init"

# Build into temporaries, then rename: a concurrent reader never sees half.
(cd "$STAGE" && find . | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0) |
    gzip -9 -n >"$OUT/initramfs.cpio.gz.tmp"
cp "$KROOT/boot/vmlinuz-$KVER" "$OUT/vmlinuz.tmp"
mv "$OUT/initramfs.cpio.gz.tmp" "$OUT/initramfs.cpio.gz"
mv "$OUT/vmlinuz.tmp" "$OUT/vmlinuz"
echo "$KVER" >"$OUT/kernel-version"
echo "$STAMP" >"$OUT/.stamp"
log "built $OUT/vmlinuz and $OUT/initramfs.cpio.gz" \
    "($(du -k "$OUT/initramfs.cpio.gz" | cut -f1) KiB)"
