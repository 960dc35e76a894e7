#!/usr/bin/env bash
# Installs the C library: libmqlite.a, libmqlite.so, mqlite.h, a
# pkg-config file and a CMake package, under PREFIX (default /usr/local).
#
# The installed libmqlite.a is stripped of debug info and of the LLVM
# bitcode the Rust standard library's objects carry (neither is used when
# linking C), when `strip` is installed; its symbols stay.
#
#   scripts/install.sh [--no-build] [PREFIX]
#
# Then: cc app.c $(pkg-config --cflags --libs mqlite)          (shared)
#       cc app.c $(pkg-config --static --cflags --libs mqlite) (static, if
#       only libmqlite.a is installed or you pass the .a by path)
#       find_package(mqlite CONFIG) in CMake: targets mqlite::mqlite
#       (shared) and mqlite::mqlite_static (PREFIX/lib/cmake/mqlite/)
# With a PREFIX outside the usual places, set PKG_CONFIG_PATH=PREFIX/lib/pkgconfig
# or CMAKE_PREFIX_PATH=PREFIX (and LD_LIBRARY_PATH=PREFIX/lib to run against
# the shared library).
# MQLITE_PROFILE=NAME installs the libraries of another cargo profile
# (target/NAME, or $CARGO_TARGET_DIR/NAME; the tests use `ci`).
set -euo pipefail
cd "$(dirname "$0")/.."
profile="${MQLITE_PROFILE:-release}"
# Where cargo puts what it builds (a relative CARGO_TARGET_DIR is taken
# from here, the repository's root, as cargo does when run here).
built="${CARGO_TARGET_DIR:-target}/$profile"

build=1
if [ "${1:-}" = "--no-build" ]; then
    build=0
    shift
fi
prefix="${1:-/usr/local}"
mkdir -p "$prefix"
prefix="$(cd "$prefix" && pwd)"

if [ "$build" -eq 1 ]; then
    cargo build --profile "$profile" --lib -q
fi
for file in "$built/libmqlite.a" "$built/libmqlite.so" include/mqlite.h; do
    [ -f "$file" ] || { echo "install.sh: $file is missing (run cargo build --profile $profile)" >&2; exit 1; }
done

version="$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)"
install -d "$prefix/lib/pkgconfig" "$prefix/lib/cmake/mqlite" "$prefix/include"
install -m 0644 "$built/libmqlite.a" "$prefix/lib/libmqlite.a"
if command -v strip >/dev/null 2>&1; then
    strip --strip-debug --remove-section=.llvmbc --remove-section=.llvmcmd \
        "$prefix/lib/libmqlite.a" ||
        echo "install.sh: strip failed; libmqlite.a is installed unstripped" >&2
fi
install -m 0755 "$built/libmqlite.so" "$prefix/lib/libmqlite.so"
install -m 0644 include/mqlite.h "$prefix/include/mqlite.h"
sed -e "s|@PREFIX@|$prefix|g" -e "s|@VERSION@|$version|g" mqlite.pc.in \
    > "$prefix/lib/pkgconfig/mqlite.pc"
# The CMake package finds the files from its own place (no PREFIX in it).
# Its version file refuses a project whose pointer size is not the
# library's: the ELF class byte of libmqlite.so says which (1: 32-bit).
pointer_size=8
[ "$(od -An -tx1 -j4 -N1 "$built/libmqlite.so" | tr -d ' ')" = 01 ] && pointer_size=4
install -m 0644 cmake/mqliteConfig.cmake.in "$prefix/lib/cmake/mqlite/mqliteConfig.cmake"
sed -e "s|@VERSION@|$version|g" -e "s|@SIZEOF_VOID_P@|$pointer_size|g" \
    cmake/mqliteConfigVersion.cmake.in > "$prefix/lib/cmake/mqlite/mqliteConfigVersion.cmake"
echo "installed mqlite $version under $prefix"
