#!/bin/bash
# A simulated power cut at --durability power (docs/persistence.md, "Durability levels"): el3d runs on an ext4
# file system of its own on a loop device; after a series of delegations and allocations that el3d acknowledged,
# el3d is killed and the loop device's backing file is copied at once. The copy is the disk as a power cut at that
# instant leaves it: what reached the device (every flush, and whatever the kernel wrote back by itself), without
# the dirty pages still in the mounted file system's page cache, which a kill leaves there to be written back
# later (seconds later: dirty_expire_centisecs). el3d started on the copy must show every acknowledged change.
# The same run at --durability process is reported, not checked: there, acknowledged changes may be lost.
#
# Needs root (losetup, mount) and mkfs.ext4; exits 77 (skipped) without them.
#   power_cut_test.sh EL3D EL3CTL
set -euo pipefail
EL3D=$1
EL3CTL=$2
if [ "$(id -u)" != 0 ] || ! command -v mkfs.ext4 >/dev/null || ! losetup -f >/dev/null 2>&1; then
	echo "SKIP: needs root, loop devices and mkfs.ext4"
	exit 77
fi
work=$(mktemp -d /tmp/el3d-powercut.XXXXXX)
loops=()
mounts=()
pid=
cleanup() {
	[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	for m in "${mounts[@]}"; do umount "$m" 2>/dev/null || true; done
	for l in "${loops[@]}"; do losetup -d "$l" 2>/dev/null || true; done
	rm -rf "$work"
}
trap cleanup EXIT

attach() {  # attach FILE MOUNTPOINT
	local l
	l=$(losetup -f --show "$1")
	loops+=("$l")
	mkdir -p "$2"
	mount -t ext4 "$l" "$2"
	mounts+=("$2")
}

start_el3d() {  # start_el3d CARVEOUT SOCKET DURABILITY
	"$EL3D" --carveout "$1" --socket "$2" --durability "$3" --region-slots 16 --log-level warn 2>>"$work/el3d.log" &
	pid=$!
	EL3D_SOCKET=$2 "$EL3CTL" wait --timeout 20 >/dev/null
}

realm_granules() {  # realm_granules SOCKET
	EL3D_SOCKET=$1 "$EL3CTL" status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["gpt"].get("realm", 0))'
}

regions() {  # regions SOCKET: "addr size id" per line
	EL3D_SOCKET=$1 "$EL3CTL" status --json |
		python3 -c 'import json,sys; [print(r["addr"], r["size"], r["id"]) for r in json.load(sys.stdin)["regions"]]'
}

failed=0
for level in power process; do
	dir=$work/$level
	mkdir -p "$dir"
	truncate -s 256M "$dir/disk.img"
	mkfs.ext4 -q -F "$dir/disk.img"
	attach "$dir/disk.img" "$dir/mnt"
	sock=$dir/s.sock
	start_el3d "$dir/mnt/c.img" "$sock" "$level"
	base=$(realm_granules "$sock")
	# Acknowledged changes: 40 delegations (the GPT map), 8 tagged allocations (the allocation log), a boot
	# completion (the state document).
	for i in $(seq 0 39); do
		out=$(EL3D_SOCKET=$sock "$EL3CTL" smc --raw --cpu 1 RMM_GTSI_DELEGATE $((0x80200000 + i * 0x1000)))
		[[ "${out%% *}" =~ (^|=)0x0+$ ]] || { echo "delegation $i: $out"; exit 1; }
	done
	for id in 1 2 3 4 5 6 7 8; do
		EL3D_SOCKET=$sock "$EL3CTL" alloc --size 0x2000 --id "$id" >/dev/null
	done
	want_regions=$(regions "$sock")
	# The cut: el3d dies, and the disk is what the device holds now.
	kill -9 "$pid"
	wait "$pid" 2>/dev/null || true
	pid=
	cp --sparse=always "$dir/disk.img" "$dir/cut.img"
	attach "$dir/cut.img" "$dir/after"
	start_el3d "$dir/after/c.img" "$dir/a.sock" "$level"
	got=$(realm_granules "$dir/a.sock")
	got_regions=$(regions "$dir/a.sock")
	kill "$pid"
	wait "$pid" || true
	pid=
	lost=$((base + 40 - got))
	if [ "$got_regions" = "$want_regions" ]; then lost_regions=0; else lost_regions=$(( $(echo "$want_regions" | wc -l) - $(echo "$got_regions" | grep -c . || true) )); fi
	echo "$level: after the cut, $((got - base)) of 40 delegations and $(echo "$got_regions" | grep -c . || true) of 8 regions"
	if [ "$level" = power ] && { [ "$lost" != 0 ] || [ "$got_regions" != "$want_regions" ]; }; then
		echo "FAIL: --durability power lost acknowledged changes ($lost delegations, regions differ: $lost_regions)"
		failed=1
	fi
done
[ "$failed" = 0 ] && echo "1 passed, 0 failed" || echo "0 passed, 1 failed"
exit "$failed"
