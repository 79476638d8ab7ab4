#!/usr/bin/env bash
# Builds libpierhead for C and lays it out like an installed library:
#   target/c/include/pierhead.h
#   target/c/lib/libpierhead.so.X.Y.Z  (soname libpierhead.so.X) + the two symlinks
#   target/c/lib/libpierhead.a
#   target/c/lib/pkgconfig/pierhead.pc
# Usage: scripts/build-c.sh [--release]   (prints the prefix on the last line)
# Then: PKG_CONFIG_PATH=target/c/lib/pkgconfig cc app.c $(pkg-config --cflags --libs pierhead)
set -euo pipefail
cd "$(dirname "$0")/.."
profile=debug
args=()
if [ "${1:-}" = "--release" ]; then profile=release; args=(--release); fi
cargo build -q -p pierhead-ffi "${args[@]}"
version=$(cargo pkgid -p pierhead-ffi | sed 's/.*[#@]//')
major=${version%%.*}
prefix=$PWD/target/c
rm -rf "$prefix"
mkdir -p "$prefix/include" "$prefix/lib/pkgconfig"
cp include/pierhead.h "$prefix/include/"
cp "target/$profile/libpierhead_ffi.so" "$prefix/lib/libpierhead.so.$version"
ln -s "libpierhead.so.$version" "$prefix/lib/libpierhead.so.$major"
ln -s "libpierhead.so.$major" "$prefix/lib/libpierhead.so"
cp "target/$profile/libpierhead_ffi.a" "$prefix/lib/libpierhead.a"
cat >"$prefix/lib/pkgconfig/pierhead.pc" <<PC
prefix=$prefix
libdir=\${prefix}/lib
includedir=\${prefix}/include

Name: pierhead
Description: Embeddable high-performance TCP server (discard, echo, HTTP/1.1)
Version: $version
Libs: -L\${libdir} -lpierhead
Libs.private: -lpthread -ldl -lm
Cflags: -I\${includedir}
PC
echo "$prefix"
