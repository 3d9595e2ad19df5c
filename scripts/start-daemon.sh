#!/usr/bin/env bash
# Quick start: install what is missing, build, and run el3d in the foreground with its defaults
# (FVP carveout in $XDG_STATE_HOME/el3d, socket in $XDG_RUNTIME_DIR/el3d). Arguments are passed
# to el3d, e.g. --platform qemu. Stop it with Ctrl-C.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/scripts/install-deps.sh"
"$root/scripts/build.sh" -DEL3D_BUILD_TESTS=OFF -DEL3D_BUILD_BENCH=OFF >/dev/null
build="${EL3D_BUILD_DIR:-$root/build}"
echo "start-daemon: in another terminal: $build/client/el3ctl status"
exec "$build/daemon/el3d" "$@"
