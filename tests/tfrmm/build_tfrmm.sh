#!/usr/bin/env bash
# Builds TF-RMM's host program against el3d, as docs/client.md tells a user to:
#   1. install el3d (this build) into WORK/prefix;
#   2. extract the bundled TF-RMM (with all its submodules) into WORK/tf-rmm, once;
#   3. configure it with exactly the one documented line, and build it.
# Usage: build_tfrmm.sh EL3D_BUILD_DIR TARBALL WORK
# Everything stays under WORK (in el3d's build tree); a second run only rebuilds what changed.
set -euo pipefail
build="$1" tarball="$2" work="$3"
if [ ! -f "$tarball" ]; then
	echo "build_tfrmm: TF-RMM bundle $tarball not found (set -DEL3D_TFRMM_TARBALL=...)" >&2
	# Outside CI a checkout without ../shared skips the TF-RMM tests (ctest says so); CI must have it.
	[ "${CI:-}" = true ] && exit 2
	exit 77
fi
mkdir -p "$work"
prefix="$work/prefix"
echo "== installing el3d into $prefix"
cmake --install "$build" --prefix "$prefix" > "$work/install.log"
src="$work/tf-rmm"
stamp="$work/extracted.stamp"
if [ ! -f "$stamp" ] || [ "$tarball" -nt "$stamp" ]; then
	echo "== extracting $(basename "$tarball")"
	rm -rf "$src" "$work/extract"
	mkdir -p "$work/extract"
	tar -xJf "$tarball" -C "$work/extract"
	mv "$work/extract/tf-rmm" "$src"
	rmdir "$work/extract"
	touch "$stamp"
fi
echo "== configuring TF-RMM (the documented line)"
cmake -S "$src" -B "$work/b" -DRMM_CONFIG=host_defcfg -DHOST_VARIANT=host_build \
	-DCMAKE_PROJECT_INCLUDE="$prefix/lib/cmake/el3d/el3d-tfrmm.cmake" > "$work/configure.log" 2>&1 ||
	{ cat "$work/configure.log"; exit 1; }
grep "el3d:" "$work/configure.log" || { echo "build_tfrmm: el3d-tfrmm.cmake was not applied" >&2; exit 1; }
echo "== building TF-RMM ($(nproc) jobs; about 8 minutes on 2 cores from scratch)"
start=$(date +%s)
cmake --build "$work/b" -j "$(nproc)" > "$work/build.log" 2>&1 || { tail -60 "$work/build.log"; exit 1; }
echo "== built in $(( $(date +%s) - start )) s: $(ls "$work"/b/Release/rmm_core.elf)"
# The same line plus TF-RMM's own -DLOG_LEVEL=40 (INFO), so that a test can read what TF-RMM says of a
# live activation ("Reusing global data already allocated by previous RMM", its reservations).
echo "== configuring and building TF-RMM again with -DLOG_LEVEL=40 (INFO messages)"
start=$(date +%s)
cmake -S "$src" -B "$work/b-info" -DRMM_CONFIG=host_defcfg -DHOST_VARIANT=host_build -DLOG_LEVEL=40 \
	-DCMAKE_PROJECT_INCLUDE="$prefix/lib/cmake/el3d/el3d-tfrmm.cmake" > "$work/configure-info.log" 2>&1 ||
	{ cat "$work/configure-info.log"; exit 1; }
cmake --build "$work/b-info" -j "$(nproc)" > "$work/build-info.log" 2>&1 || { tail -60 "$work/build-info.log"; exit 1; }
echo "== built in $(( $(date +%s) - start )) s: $(ls "$work"/b-info/Release/rmm_core.elf)"
