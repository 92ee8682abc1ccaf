#!/bin/sh
# packbin: one C library's static sysroot for one target, in the volume mounted at MOUNT.
# Sent by packbin.build.c_sysroot; runs in the builder image twice, as two containers:
#
#   c_sysroot.sh fetch LIBRARY VERSION MOUNT   (bridge network: Debian's source package)
#   c_sysroot.sh build LIBRARY ZIG_TARGET MOUNT (no network: the compile)
#
# VERSION is a Debian source version, or "" for the newest the suite's sources have that the
# mirror serves. MIRROR, SECURITY_MIRROR and SUITE come from the environment.
#
# The volume: MOUNT/root is the finished sysroot (lib/*.a, include/, lib/pkgconfig/*.pc,
# VERSION); it appears by one rename, so an interrupted build leaves nothing that looks complete.
# MOUNT/.src holds the fetched source package until the build has used it; MOUNT/.tmp-* are
# unfinished builds, removed by the next one.
#
# Lines packbin reads: "::packbin-sysroot present VERSION", "::packbin-sysroot fetched VERSION",
# "::packbin-sysroot built VERSION".
set -eu

mode=$1 lib=$2 arg=$3 mount=$4

if [ -f "$mount/root/VERSION" ]; then
    echo "::packbin-sysroot present $(cat "$mount/root/VERSION")"
    exit 0
fi

fetch() {
    version=$1
    apt_dir=/tmp/packbin-apt
    mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial"
    printf 'deb-src %s %s main\ndeb-src %s %s-updates main\ndeb-src %s %s-security main\n' \
        "$MIRROR" "$SUITE" "$MIRROR" "$SUITE" "$SECURITY_MIRROR" "$SUITE" > "$apt_dir/sources.list"
    # Source indexes only, in a directory of their own: the image's apt state is not touched.
    set -- -o "Dir::Etc::SourceList=$apt_dir/sources.list" -o Dir::Etc::SourceParts=- \
        -o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Cache=$apt_dir/cache" -o APT::Sandbox::User=root
    echo "apt-get update (deb-src of $SUITE from $MIRROR)"
    apt-get "$@" -q update > /tmp/packbin-apt.log 2>&1 || { cat /tmp/packbin-apt.log >&2; exit 1; }
    if [ -n "$version" ]; then
        candidates=$version
    else
        # Newest first; a mirror may lack a version its index lists (the next is tried).
        candidates=$(apt-cache "$@" showsrc "$lib" | sed -n 's/^Version: //p' | sort -urV)
    fi
    [ -n "$candidates" ] || { echo "no source package $lib in $SUITE" >&2; exit 1; }
    rm -rf "$mount/.src" "$mount/.src-new"
    mkdir -p "$mount/.src-new"
    for v in $candidates; do
        echo "apt-get source --download-only $lib=$v"
        if (cd "$mount/.src-new" && apt-get "$@" -q source --download-only "$lib=$v" > /tmp/packbin-apt.log 2>&1); then
            echo "$v" > "$mount/.src-new/VERSION"
            mv "$mount/.src-new" "$mount/.src"
            echo "::packbin-sysroot fetched $v"
            return 0
        fi
        echo "could not download $lib $v: $(grep '^E:' /tmp/packbin-apt.log | head -1)"
        rm -f "$mount/.src-new"/*
    done
    exit 1
}

tools() {
    # zig for the target, under the names configure scripts look for.
    bin=/tmp/packbin-cc/bin
    mkdir -p "$bin"
    printf '#!/bin/sh\nexec python3 -m ziglang cc -target %s "$@"\n' "$1" > "$bin/cc"
    printf '#!/bin/sh\nexec python3 -m ziglang ar "$@"\n' > "$bin/ar"
    printf '#!/bin/sh\nexec python3 -m ziglang ranlib "$@"\n' > "$bin/ranlib"
    chmod 755 "$bin/cc" "$bin/ar" "$bin/ranlib"
    export CC="$bin/cc" AR="$bin/ar" RANLIB="$bin/ranlib"
}

unpack() {
    work=/tmp/packbin-c-src
    rm -rf "$work" && mkdir -p "$work"
    orig=$(ls "$mount/.src/"*.orig.tar.* | head -1)
    python3 -m tarfile -e "$orig" "$work"
    src=$(find "$work" -mindepth 1 -maxdepth 1 -type d | head -1)
    [ -n "$src" ] || { echo "$orig holds no source directory" >&2; exit 1; }
    echo "$src"
}

build_zlib() {
    cd "$1"
    CFLAGS="-O2 -fPIC" ./configure --static --prefix="$mount/root"
    make -j"$(nproc)" libz.a
    make install DESTDIR="$2"
}

build_openssl() {
    cd "$1"
    case $zig_target in
        x86_64-*) os=linux-x86_64 ;;
        aarch64-*) os=linux-aarch64 ;;
        *) echo "packbin has no OpenSSL Configure target for $zig_target" >&2; exit 1 ;;
    esac
    # Static libraries only; the configuration directory is the target system's usual one.
    ./Configure "$os" no-shared no-tests no-module --prefix="$mount/root" --libdir=lib \
        --openssldir=/etc/ssl CC="$CC" AR="$AR" RANLIB="$RANLIB"
    make -j"$(nproc)" build_libs
    make install_dev DESTDIR="$2"
}

build() {
    zig_target=$1
    [ -f "$mount/.src/VERSION" ] || { echo "no fetched source in $mount/.src" >&2; exit 1; }
    version=$(cat "$mount/.src/VERSION")
    rm -rf "$mount"/.tmp-*
    dest="$mount/.tmp-$$"
    tools "$zig_target"
    src=$(unpack)
    echo "building $lib $version for $zig_target with zig cc"
    case $lib in
        zlib) build_zlib "$src" "$dest" ;;
        openssl) build_openssl "$src" "$dest" ;;
        *) echo "packbin cannot build $lib yet" >&2; exit 1 ;;
    esac
    # Installed with DESTDIR: the files are at $dest$mount/root, their .pc files naming $mount/root.
    rm -rf "$dest$mount/root/share" "$dest$mount/root/lib"/*.so*
    echo "$version" > "$dest$mount/root/VERSION"
    mv "$dest$mount/root" "$mount/root"
    rm -rf "$dest" "$mount/.src"
    echo "::packbin-sysroot built $version"
}

case $mode in
    fetch) fetch "$arg" ;;
    build) build "$arg" ;;
    *) echo "usage: $0 fetch|build LIBRARY VERSION|ZIG_TARGET MOUNT" >&2; exit 2 ;;
esac
