# shellcheck shell=bash
# scripts/deps.sh -- sourced by demo.sh and test.sh: install missing Debian
# packages with apt-get (as root, or through sudo), updating the package
# lists once, only when something is missing.

_deps_updated=0

# need_pkgs PKG... : make sure every package is installed.
need_pkgs() {
    local missing=() p sudo=""
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
            missing+=("$p")
    done
    ((${#missing[@]})) || return 0
    if [[ $(id -u) != 0 ]]; then
        command -v sudo >/dev/null || { echo "need root or sudo to install: ${missing[*]}" >&2; return 1; }
        sudo="sudo"
    fi
    echo "installing: ${missing[*]}" >&2
    if ((!_deps_updated)); then
        $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2 || return 1
        _deps_updated=1
    fi
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
        --no-install-recommends "${missing[@]}" >&2
}

# The build itself: compilers, Meson, Ninja, UAPI headers.
BUILD_PKGS=(gcc libc6-dev linux-libc-dev meson ninja-build pkg-config)
