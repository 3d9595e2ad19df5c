#!/usr/bin/env bash
# Quick start: install what is missing, build, and run el3d in the foreground with its defaults
# (FVP carveout in $XDG_STATE_HOME/el3d, socket in $XDG_RUNTIME_DIR/el3d). Arguments are passed
# to el3d, e.g. --platform qemu. Stop it with Ctrl-C.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/scripts/install-deps.sh"
build="${EL3D_BUILD_DIR:-$root/build}"
[ -x "$build/daemon/el3d" ] ||
	echo "start-daemon: first build of el3d into $build (about 15 minutes on 2 cores; later starts take seconds)"
# Progress without the compiler lines: every 10th build step, and anything that is not a step (a
# warning, an error) as it comes.
"$root/scripts/build.sh" -DEL3D_BUILD_TESTS=OFF -DEL3D_BUILD_BENCH=OFF 2>&1 |
	awk '/^\[[0-9]+\/[0-9]+\]/ { split(substr($1, 2), a, "/"); if (a[1] % 10 == 0 || a[1] == a[2])
	         { printf "start-daemon: build step %s\n", substr($1, 2, length($1) - 2); fflush() } next }
	     /^-- / { next } { print; fflush() }'
echo "start-daemon: el3d $("$build/daemon/el3d" --version) built"
echo "start-daemon: in another terminal: $build/client/el3ctl status"
exec "$build/daemon/el3d" "$@"
