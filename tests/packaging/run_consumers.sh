#!/usr/bin/env bash
# Run consumer builds one after the other, in process, on one new carveout file: the first must
# allocate the region fresh (x0=1), every later one must find it (x0=0); all of them must
# dereference the physical address directly (identity=1; identity=0, the offset mapping, where
# EL3D_EXPECT_IDENTITY=0 says that PA == VA cannot be had, as under AddressSanitizer).
#   run_consumers.sh CONSUMER [CONSUMER...]   (LD_LIBRARY_PATH as the consumers need)
set -euo pipefail
tmp=$(mktemp -d /tmp/el3d-consumer-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
id=${EL3D_EXPECT_IDENTITY:-1}
want="consumer: x0=1 identity=$id hello from an installed el3client"
for c in "$@"; do
	out=$("$c" "inproc:$tmp/c.img") || { echo "FAIL: $c: $out"; exit 1; }
	echo "$out"
	[ "$out" = "$want" ] || { echo "FAIL: $c printed '$out', expected '$want'"; exit 1; }
	want="consumer: x0=0 identity=$id hello from an installed el3client"
done
