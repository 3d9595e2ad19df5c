#!/usr/bin/env bash
# Build the libFuzzer targets of tests/fuzz (clang, EL3D_FUZZ=ON, in build-fuzz/) and run each for SECONDS (default
# 60) on a copy of its committed seed corpus, with the shared dictionary. Fails if any target finds a crash, a leak,
# a timeout or a broken invariant; prints each target's executions per second. Installs clang and libFuzzer
# (Debian 12: clang, libclang-rt-14-dev, llvm) if they are missing. docs/fuzzing.md: long runs, reproducing a crash.
#
#   scripts/run-fuzz.sh [SECONDS] [TARGET...]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
seconds="${1:-60}"
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(fuzz_dispatch fuzz_carveout_open fuzz_boot_config fuzz_manifest fuzz_grpc)

"$root/scripts/install-deps.sh"
if ! command -v clang++ >/dev/null || ! ls /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a >/dev/null 2>&1 \
	|| ! command -v llvm-symbolizer >/dev/null; then
	sudo=""
	[ "$(id -u)" -eq 0 ] || sudo="sudo"
	export DEBIAN_FRONTEND=noninteractive
	$sudo apt-get update -q
	$sudo apt-get install -y -q --no-install-recommends clang libclang-rt-14-dev llvm </dev/null
fi

build="${EL3D_FUZZ_BUILD_DIR:-$root/build-fuzz}"
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
cmake -S "$root" -B "$build" -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DEL3D_FUZZ=ON -DEL3D_WERROR=ON \
	-DEL3D_BUILD_TESTS=OFF -DEL3D_BUILD_BENCH=OFF "${launcher[@]}" >/dev/null
cmake --build "$build" -j "${EL3D_JOBS:-$(nproc)}" --target "${targets[@]}"

# Scratch space for corpora, artifacts and the targets' carveout files: nothing is written into the repository.
# The carveout files go to tmpfs (/dev/shm) when there is one: on a disk file system every reset's hole punching
# and every fresh page cost block allocation (fuzz_dispatch ran about a fifth slower with them in ext4's /tmp).
work="$(mktemp -d "${TMPDIR:-/tmp}/el3d-fuzz.XXXXXX")"
files="$work"
if [ -d /dev/shm ] && [ -w /dev/shm ]; then
	files="$(mktemp -d /dev/shm/el3d-fuzz-files.XXXXXX)"
fi
trap 'rm -rf "$work" "$files"' EXIT
export EL3D_FUZZ_SCRATCH="$files"
export ASAN_OPTIONS="${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
failed=()
summary=""
for t in "${targets[@]}"; do
	mkdir -p "$work/$t/corpus" "$work/$t/artifacts"
	cp -r "$root/tests/fuzz/corpus/$t/." "$work/$t/corpus/" 2>/dev/null || true
	# A target's own flags. fuzz_dispatch: inputs of its 32 operations at most need no more than 512 bytes (longer
	# ones only cost libFuzzer bookkeeping), and libFuzzer's entropic scheduler's per-feature bookkeeping cost more
	# than the target itself on its inputs (docs/fuzzing.md, "Measured").
	flags=()
	case "$t" in
	fuzz_dispatch) flags=(-max_len=512 -entropic=0) ;;
	esac
	echo "== $t: ${seconds} s ${flags[*]}"
	set +e
	(cd "$work/$t" && "$build/tests/fuzz/$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=4096 \
		-dict="$root/tests/fuzz/el3d.dict" -artifact_prefix="$work/$t/artifacts/" -print_final_stats=1 \
		${flags[@]+"${flags[@]}"} corpus) >"$work/$t/log" 2>&1
	rc=$?
	set -e
	rate="$(sed -n 's/^stat::average_exec_per_sec: *//p' "$work/$t/log")"
	runs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/$t/log")"
	if [ $rc -ne 0 ] || ls "$work/$t/artifacts/"* >/dev/null 2>&1; then
		failed+=("$t")
		tail -n 60 "$work/$t/log"
		for a in "$work/$t/artifacts/"*; do
			[ -e "$a" ] || continue
			echo "-- $t: input that fails (base64; docs/fuzzing.md says how to reproduce): $(basename "$a")"
			base64 -w0 "$a" | head -c 20000
			echo
		done
	fi
	summary+="$(printf '%-20s %8s exec/s %10s runs  %s' "$t" "${rate:-?}" "${runs:-?}" "$([ $rc -eq 0 ] && echo ok || echo FAILED)")"$'\n'
done
echo "== fuzzing summary (${seconds} s per target)"
printf '%s' "$summary"
if [ ${#failed[@]} -gt 0 ]; then
	echo "== fuzzing FAILED: ${failed[*]}"
	exit 1
fi
