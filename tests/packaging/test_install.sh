#!/usr/bin/env bash
# Install el3d from a build tree into a temporary prefix, then build a consumer against it three
# ways (CMake find_package(el3d) -> el3d::client and el3d::client_static, and pkg-config el3d) and
# run them, in process, one after the other: later runs must find the first one's region. Then the
# TF-RMM link recipes against the installed libraries.
set -euo pipefail
build=$1
src=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d /tmp/el3d-pkg-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
# Quiet steps; their output is shown when they fail.
step() {
	local log=$tmp/step.log
	"$@" >"$log" 2>&1 || { cat "$log"; echo "FAIL: $*"; exit 1; }
}
step cmake --install "$build" --prefix "$tmp/prefix"
for f in bin/el3d bin/el3ctl include/el3d/el3_client.h include/el3d/el3_tfrmm.h include/el3d/smc.h \
         lib/libel3client.so lib/libel3client.a lib/libel3client_tfrmm.a lib/libel3client_tfrmm_wrap.a \
         lib/cmake/el3d/el3dConfig.cmake \
         lib/pkgconfig/el3d.pc; do
	[ -e "$tmp/prefix/$f" ] || { echo "FAIL: $f was not installed"; exit 1; }
done

# 1. CMake package.
# EL3D_CONSUMER_FLAGS: what programs linked against this el3d build need too (sanitizers).
flags=${EL3D_CONSUMER_FLAGS:-}
read -r -a extra <<<"$flags"
step cmake -S "$src" -B "$tmp/cmake-build" -DCMAKE_PREFIX_PATH="$tmp/prefix" -DCMAKE_C_FLAGS="$flags" \
	-DCMAKE_CXX_FLAGS="$flags" -DCMAKE_EXE_LINKER_FLAGS="$flags"
step cmake --build "$tmp/cmake-build"
# 2. pkg-config.
PKG_CONFIG_PATH="$tmp/prefix/lib/pkgconfig" cc -std=c11 -Wall -Wextra -Werror "${extra[@]}" -o "$tmp/pc-consumer" \
	"$src/consumer.c" $(PKG_CONFIG_PATH="$tmp/prefix/lib/pkgconfig" pkg-config --cflags --libs el3d) \
	-Wl,-rpath,"$tmp/prefix/lib"

LD_LIBRARY_PATH="$tmp/prefix/lib" "$src/run_consumers.sh" "$tmp/cmake-build/consumer" \
	"$tmp/cmake-build/consumer_static" "$tmp/pc-consumer"
# el3d-rpath: a program built with it finds the installed library with no LD_LIBRARY_PATH.
PKG_CONFIG_PATH="$tmp/prefix/lib/pkgconfig" cc -std=c11 -Wall -Wextra -Werror "${extra[@]}" -o "$tmp/pc-rpath-consumer" \
	"$src/consumer.c" $(PKG_CONFIG_PATH="$tmp/prefix/lib/pkgconfig" pkg-config --cflags --libs el3d-rpath)
found=$(env -u LD_LIBRARY_PATH ldd "$tmp/pc-rpath-consumer" | awk '/libel3client/ { print $3 }')
[ -n "$found" ] && [ "$(realpath "$found")" = "$(realpath "$tmp/prefix/lib/libel3client.so.0")" ] ||
	{ echo "FAIL: el3d-rpath finds '$found', not the installed library"; exit 1; }
# The shared consumers use the installed library, the static one has none.
# ldd's output is read whole first: `ldd | grep -q` under pipefail fails when grep stops reading at its match
# and ldd, still writing, gets SIGPIPE (seen under load).
deps=$(ldd "$tmp/cmake-build/consumer_static")
grep -q libel3client <<<"$deps" && { echo "FAIL: consumer_static is not static"; exit 1; }
deps=$(LD_LIBRARY_PATH="$tmp/prefix/lib" ldd "$tmp/cmake-build/consumer")
grep -q "$tmp/prefix/lib/libel3client.so" <<<"$deps" ||
	{ echo "FAIL: consumer does not use the installed libel3client.so"; exit 1; }
"$src/../client/tfrmm_link/test_link_recipes.sh" "$tmp/prefix/include" "$tmp/prefix/lib"
out=$(LD_LIBRARY_PATH="$tmp/prefix/lib" "$tmp/cmake-build/rmm_wrap_cmake" "inproc:$tmp/wrap.img") ||
	{ echo "$out"; echo "FAIL: el3d::tfrmm_wrap through CMake"; exit 1; }
[ "$out" = "rmm-link: ok x0=1" ] || { echo "FAIL: el3d::tfrmm_wrap through CMake printed '$out'"; exit 1; }
echo "el3d::tfrmm_wrap through CMake: $out"
# What comes with them: the API definition (it compiles for another language), man pages, completion, the user unit.
for f in share/el3d/proto/el3d/v1/monitor.proto share/man/man1/el3d.1 share/man/man1/el3ctl.1 \
	share/bash-completion/completions/el3ctl lib/systemd/user/el3d.service; do
	[ -s "$tmp/prefix/$f" ] || { echo "FAIL: $f not installed"; exit 1; }
done
mkdir -p "$tmp/py"
step protoc -I "$tmp/prefix/share/el3d/proto" --python_out="$tmp/py" el3d/v1/monitor.proto
grep -q "ExecStart=$tmp/prefix/bin/el3d" "$tmp/prefix/lib/systemd/user/el3d.service" ||
	{ echo "FAIL: the unit does not run the installed el3d"; exit 1; }
# The installed el3ctl and el3d run.
step "$tmp/prefix/bin/el3d" --version
step "$tmp/prefix/bin/el3ctl" --version
echo "packaging: installed tree, CMake package (shared and static) and pkg-config consumers, TF-RMM link recipes OK"
