#!/usr/bin/env bash
# Install what is missing, build everything with warnings as errors, and run the whole test suite
# (unit and integration tests, through ctest). EL3D_SANITIZE=1 builds with ASan and UBSan instead,
# in build-asan/.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/scripts/install-deps.sh"
if [ "${EL3D_SANITIZE:-0}" = 1 ]; then
	export EL3D_BUILD_DIR="${EL3D_BUILD_DIR:-$root/build-asan}"
	export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}"
	export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
	"$root/scripts/build.sh" -DEL3D_WERROR=ON -DEL3D_SANITIZE=ON -DEL3D_BUILD_TESTS=ON -DEL3D_BUILD_BENCH=OFF
else
	# Tests and benchmarks on explicitly: the build directory may have been configured by
	# start-daemon.sh, which turns them off (they are cached options).
	"$root/scripts/build.sh" -DEL3D_WERROR=ON -DEL3D_SANITIZE=OFF -DEL3D_BUILD_TESTS=ON -DEL3D_BUILD_BENCH=ON
fi
build="${EL3D_BUILD_DIR:-$root/build}"
# --no-tests=error: a build without tests must not pass for a green run.
ctest --test-dir "$build" --output-on-failure --no-tests=error -j "$(nproc)"
