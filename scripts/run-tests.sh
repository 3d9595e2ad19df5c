#!/usr/bin/env bash
# Install what is missing, build everything with warnings as errors, and run the whole test suite
# (unit and integration tests, through ctest). EL3D_SANITIZE=address (or 1) builds with ASan and
# UBSan instead, in build-asan/; EL3D_SANITIZE=thread with ThreadSanitizer, in build-tsan/
# (docs/sanitizers.md). Extra arguments go to ctest (e.g. -L client, -LE tfrmm).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/scripts/install-deps.sh"
case "${EL3D_SANITIZE:-0}" in
1 | ON | on | address)
	export EL3D_BUILD_DIR="${EL3D_BUILD_DIR:-$root/build-asan}"
	export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}"
	export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
	"$root/scripts/build.sh" -DEL3D_WERROR=ON -DEL3D_SANITIZE=address -DEL3D_BUILD_TESTS=ON -DEL3D_BUILD_BENCH=OFF
	;;
thread)
	export EL3D_BUILD_DIR="${EL3D_BUILD_DIR:-$root/build-tsan}"
	# Every TSan program of the suite (test binaries, and the el3d, el3ctl and RMMs they spawn) stops
	# at its first report with exit code 66, so that a race in a child daemon fails its test too, and
	# writes the report to tsan-reports/ in the build directory: any report there fails the run below,
	# even one from a daemon whose test had already passed when it died. The suppressions cover
	# uninstrumented Debian libraries only (tests/tsan.supp says why, entry by entry).
	tsan_reports="$EL3D_BUILD_DIR/tsan-reports"
	rm -rf "$tsan_reports"
	mkdir -p "$tsan_reports"
	export TSAN_OPTIONS="${TSAN_OPTIONS:-halt_on_error=1:exitcode=66:second_deadlock_stack=1:suppressions=$root/tests/tsan.supp:log_path=$tsan_reports/report}"
	"$root/scripts/build.sh" -DEL3D_WERROR=ON -DEL3D_SANITIZE=thread -DEL3D_BUILD_TESTS=ON -DEL3D_BUILD_BENCH=OFF
	;;
0 | OFF | off | "")
	# Tests and benchmarks on explicitly: the build directory may have been configured by
	# start-daemon.sh, which turns them off (they are cached options).
	"$root/scripts/build.sh" -DEL3D_WERROR=ON -DEL3D_SANITIZE=OFF -DEL3D_BUILD_TESTS=ON -DEL3D_BUILD_BENCH=ON
	;;
*)
	echo "run-tests.sh: EL3D_SANITIZE=${EL3D_SANITIZE}: expected address (or 1), thread or 0" >&2
	exit 2
	;;
esac
build="${EL3D_BUILD_DIR:-$root/build}"
# --no-tests=error: a build without tests must not pass for a green run.
rc=0
ctest --test-dir "$build" --output-on-failure --no-tests=error -j "$(nproc)" "$@" || rc=$?
if [ -n "${tsan_reports:-}" ] && [ -n "$(ls -A "$tsan_reports")" ]; then
	for f in "$tsan_reports"/*; do
		echo "== ThreadSanitizer report $f"
		cat "$f"
	done
	echo "run-tests.sh: ThreadSanitizer reported $(ls "$tsan_reports" | wc -l) program(s) (above)" >&2
	rc=1
fi
exit "$rc"
