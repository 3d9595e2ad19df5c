#!/usr/bin/env bash
# Compiles headers_coexist.c with the include paths, definitions and flags TF-RMM's build uses for its
# rmm_core.elf (read from the build that build_tfrmm.sh made), plus -Wall -Werror.
set -euo pipefail
work="$1" src="$2"
flags="$work/b/runtime/CMakeFiles/rmm-runtime.dir/flags.make"
[ -f "$flags" ] || { echo "headers_coexist: $flags missing: run build_tfrmm.sh first" >&2; exit 1; }
get() { sed -n "s/^$1 = //p" "$flags"; }
cmd="cc $(get C_DEFINES) $(get C_INCLUDES) $(get C_FLAGS) -Wall -Werror -c $src -o $work/headers_coexist.o"
echo "$cmd"
eval "$cmd"
echo "headers_coexist: el3d's headers and TF-RMM's rmm_el3_ifc.h compile together with -Wall -Werror"
