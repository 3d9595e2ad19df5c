#!/usr/bin/env bash
# Install el3d from a build tree into a temporary prefix, then build a consumer against it both
# ways (CMake find_package(el3d) -> el3d::client, and pkg-config el3d) and run it, in process,
# twice: the second run must find the first one's region.
set -euo pipefail
build=$1
src=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d /tmp/el3d-pkg-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
for f in bin/el3d bin/el3ctl include/el3d/el3_client.h include/el3d/el3_tfrmm.h include/el3d/smc.h \
         lib/libel3client.so lib/libel3client.a lib/libel3client_tfrmm.a lib/cmake/el3d/el3dConfig.cmake \
         lib/pkgconfig/el3d.pc; do
	[ -e "$tmp/prefix/$f" ] || { echo "FAIL: $f was not installed"; exit 1; }
done

# 1. CMake package.
cmake -S "$src" -B "$tmp/cmake-build" -DCMAKE_PREFIX_PATH="$tmp/prefix" >/dev/null
cmake --build "$tmp/cmake-build" >/dev/null
# 2. pkg-config.
PKG_CONFIG_PATH="$tmp/prefix/lib/pkgconfig" cc -std=c11 -Wall -Wextra -Werror -o "$tmp/pc-consumer" \
	"$src/consumer.c" $(PKG_CONFIG_PATH="$tmp/prefix/lib/pkgconfig" pkg-config --cflags --libs el3d) \
	-Wl,-rpath,"$tmp/prefix/lib"

ep="inproc:$tmp/c.img"
out1=$(LD_LIBRARY_PATH="$tmp/prefix/lib" "$tmp/cmake-build/consumer" "$ep")
out2=$("$tmp/pc-consumer" "$ep")
echo "$out1"
echo "$out2"
[ "$out1" = "consumer: x0=1 hello from an installed el3client" ] || { echo "FAIL: first run"; exit 1; }
[ "$out2" = "consumer: x0=0 hello from an installed el3client" ] || { echo "FAIL: second run"; exit 1; }
# The installed el3ctl and el3d run.
"$tmp/prefix/bin/el3d" --version >/dev/null
"$tmp/prefix/bin/el3ctl" --version >/dev/null
echo "packaging: installed tree, CMake package and pkg-config consumers OK"
