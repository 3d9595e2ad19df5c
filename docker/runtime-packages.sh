#!/bin/sh
# Print the Debian packages that own the shared libraries the given executables load, one a line:
# what a runtime image must install for them (the library packages, never the -dev ones).
# Run in the build stage of docker/Dockerfile: runtime-packages.sh /opt/el3d/bin/el3d /opt/el3d/bin/el3ctl
set -eu
[ $# -gt 0 ] || { echo "usage: runtime-packages.sh EXECUTABLE..." >&2; exit 1; }

libs=$(mktemp)
owners=$(mktemp)
trap 'rm -f "$libs" "$owners"' EXIT

for exe in "$@"; do
	out=$(ldd "$exe") || { echo "runtime-packages: ldd $exe failed" >&2; exit 1; }
	if printf '%s\n' "$out" | grep -q 'not found'; then
		printf '%s\n' "$out" | grep 'not found' >&2
		exit 1
	fi
	printf '%s\n' "$out" | awk '$2 == "=>" && $3 ~ /^\// { print $3 }'
done | sort -u >"$libs"

# With merged /usr, ldd may name /usr/lib/... where dpkg knows /lib/... (or the other way round).
while read -r lib; do
	dpkg -S "$lib" 2>/dev/null || dpkg -S "${lib#/usr}" 2>/dev/null || dpkg -S "/usr$lib" 2>/dev/null ||
		{ echo "runtime-packages: no package owns $lib" >&2; exit 1; }
done <"$libs" >"$owners"

# "libgrpc++1.51:amd64: /usr/lib/..." -> "libgrpc++1.51" ("a, b: path" -> a and b); skip diversions.
grep -v '^diversion ' "$owners" | sed 's#: /.*##' | tr ',' '\n' | sed 's/^ *//; s/:.*//' | sort -u
