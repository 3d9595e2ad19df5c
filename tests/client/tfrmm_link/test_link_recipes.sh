#!/usr/bin/env bash
# The two TF-RMM link recipes of docs/client.md, with a stand-in for TF-RMM's lib/smc archive and
# host harness (written for this test, see standin_*.c), against an el3client build or install:
#   A. the drop-in: libel3client_tfrmm.a pulled in with --whole-archive ahead of librmm-lib-smc.a;
#   B. TF-RMM's own lib/smc kept, -Wl,--wrap=host_monitor_call and libel3client_tfrmm_wrap.a.
# Each must link without duplicate symbols and send every SMC to el3d (in process here).
#   test_link_recipes.sh INCLUDE_DIR LIB_DIR
set -euo pipefail
inc=$1
EL3D_LIB=$2
src=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d /tmp/el3d-link-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
cc=${CC:-cc}
# EL3D_CONSUMER_FLAGS: what programs linked against this el3client build need too (sanitizers).
read -r -a extra <<<"${EL3D_CONSUMER_FLAGS:-}"
cflags=(-std=c11 -Wall -Wextra -Werror -O1 -I"$inc" "${extra[@]}")
fail() { echo "FAIL: $*"; exit 1; }

# The drop-in libraries define exactly their entry points (external symbols).
defined() { nm --defined-only --extern-only "$1" | awk 'NF == 3 { print $3 }' | sort | tr '\n' ' '; }
[ "$(defined "$EL3D_LIB/libel3client_tfrmm.a")" = "monitor_call monitor_call_with_arg_res " ] ||
	fail "libel3client_tfrmm.a defines: $(defined "$EL3D_LIB/libel3client_tfrmm.a")"
[ "$(defined "$EL3D_LIB/libel3client_tfrmm_wrap.a")" = "__wrap_host_monitor_call " ] ||
	fail "libel3client_tfrmm_wrap.a defines: $(defined "$EL3D_LIB/libel3client_tfrmm_wrap.a")"

# TF-RMM's side: lib/smc as an archive, the harness and the RMM's own code as objects.
$cc "${cflags[@]}" -c "$src/standin_smc.c" -o "$tmp/smc_wrapper.o"
ar rcs "$tmp/librmm-lib-smc.a" "$tmp/smc_wrapper.o"
$cc "${cflags[@]}" -c "$src/standin_harness.c" -o "$tmp/host_harness.o"
$cc "${cflags[@]}" -c "$src/rmm_main.c" -o "$tmp/rmm_main.o"
rmm_objects=("$tmp/rmm_main.o" "$tmp/host_harness.o")

# The link lines of docs/client.md, with $EL3D/lib = $EL3D_LIB, placed where TF-RMM's CMake puts
# CMAKE_EXE_LINKER_FLAGS: before the objects and the libraries of rmm_core.elf.
shim=(-L"$EL3D_LIB" -Wl,--push-state,--no-as-needed -lel3client -Wl,--pop-state -Wl,-rpath,"$EL3D_LIB")
recipe_a=(-Wl,--whole-archive "$EL3D_LIB/libel3client_tfrmm.a" -Wl,--no-whole-archive "${shim[@]}")
recipe_b=(-Wl,--wrap=host_monitor_call -Wl,--whole-archive "$EL3D_LIB/libel3client_tfrmm_wrap.a"
          -Wl,--no-whole-archive "${shim[@]}")

# A. Drop-in: TF-RMM's smc_wrapper.o must not be extracted at all.
$cc "${extra[@]}" -o "$tmp/rmm-dropin" "${recipe_a[@]}" "${rmm_objects[@]}" "$tmp/librmm-lib-smc.a" 2>"$tmp/dropin.log" ||
	{ cat "$tmp/dropin.log"; fail "drop-in recipe does not link"; }
if nm "$tmp/rmm-dropin" | grep -q standin_smc_object; then
	fail "drop-in recipe: TF-RMM's smc_wrapper.o was linked as well"
fi

# B. --wrap: TF-RMM's own smc_wrapper.o, its host_monitor_call() call redirected.
$cc "${extra[@]}" -o "$tmp/rmm-wrap" "${recipe_b[@]}" "${rmm_objects[@]}" "$tmp/librmm-lib-smc.a" 2>"$tmp/wrap.log" ||
	{ cat "$tmp/wrap.log"; fail "--wrap recipe does not link"; }
nm "$tmp/rmm-wrap" | grep -q standin_smc_object || fail "--wrap recipe: TF-RMM's smc_wrapper.o is not the one used"

# Both run against el3d (in process, one carveout): the second run finds the first one's region.
ep="inproc:$tmp/c.img"
out1=$("$tmp/rmm-dropin" "$ep") || fail "drop-in run: $out1"
out2=$("$tmp/rmm-wrap" "$ep") || fail "--wrap run: $out2"
echo "$out1"
echo "$out2"
[ "$out1" = "rmm-link: ok x0=1" ] || fail "drop-in run did not allocate a fresh region"
[ "$out2" = "rmm-link: ok x0=0" ] || fail "--wrap run did not find the drop-in run's region"
echo "tfrmm link recipes: drop-in and --wrap OK"
