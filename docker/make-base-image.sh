#!/bin/sh
# Make a Debian 12 (bookworm) base image without a registry: debootstrap a minbase root file system
# from this machine's apt mirror and import it into a container engine.
#
#   docker/make-base-image.sh [ENGINE [TAG [MIRROR [ROOTFS]]]]
#
#   ENGINE  podman (default), docker, or none (only make ROOTFS)
#   TAG     default localhost/debian:bookworm
#   MIRROR  default: the mirror of the bookworm suite in /etc/apt/sources.list.d/debian.sources
#           (or /etc/apt/sources.list), else http://deb.debian.org/debian
#   ROOTFS  where to debootstrap; default a temporary directory, removed afterwards
#
# Needs root and debootstrap. The image's apt uses the same mirror (and its -security twin) and
# is set up like the official image's (no package caches kept in layers, no translations, no
# service starts). Then: docker build --build-arg BASE_IMAGE=localhost/debian:bookworm ...
set -eu

ENGINE=${1:-podman}
TAG=${2:-localhost/debian:bookworm}
MIRROR=${3:-}
ROOTFS=${4:-}
SUITE=bookworm

# "URIS SUITE" of each deb source on this machine, one a line.
host_sources() {
	if [ -r /etc/apt/sources.list.d/debian.sources ]; then
		awk '
			/^[ \t]*#/ { next }
			/^[ \t]*$/ { if (u != "" && s != "") { n = split(s, a, " "); for (i = 1; i <= n; i++) print u, a[i] } u = ""; s = ""; next }
			tolower($1) == "uris:"   { u = $2 }
			tolower($1) == "suites:" { $1 = ""; s = $0 }
			END { if (u != "" && s != "") { n = split(s, a, " "); for (i = 1; i <= n; i++) print u, a[i] } }
		' /etc/apt/sources.list.d/debian.sources
	fi
	if [ -r /etc/apt/sources.list ]; then
		awk '$1 == "deb" { sub(/\[[^]]*\][ \t]*/, ""); print $2, $3 }' /etc/apt/sources.list
	fi
}

if [ -z "$MIRROR" ]; then
	MIRROR=$(host_sources | awk -v s="$SUITE" '$2 == s { print $1; exit }')
	MIRROR=${MIRROR:-http://deb.debian.org/debian}
fi
MIRROR=${MIRROR%/}
SECURITY=$(host_sources | awk -v s="$SUITE-security" '$2 == s { print $1; exit }')
SECURITY=${SECURITY:-$(echo "$MIRROR" | sed 's#/debian$#/debian-security#')}
SECURITY=${SECURITY%/}

case "$ENGINE" in podman|docker|none) ;; *) echo "make-base-image: unknown engine $ENGINE" >&2; exit 1 ;; esac
[ "$(id -u)" -eq 0 ] || { echo "make-base-image: debootstrap needs root" >&2; exit 1; }
command -v debootstrap >/dev/null || { echo "make-base-image: needs debootstrap (apt-get install debootstrap)" >&2; exit 1; }

own_rootfs=""
if [ -n "$ROOTFS" ] && [ -e "$ROOTFS" ] && [ -n "$(ls -A "$ROOTFS" 2>/dev/null)" ]; then
	echo "make-base-image: $ROOTFS exists and is not empty; give a new or empty directory" >&2
	exit 1
fi
if [ -z "$ROOTFS" ]; then
	ROOTFS=$(mktemp -d "${TMPDIR:-/tmp}/el3d-rootfs.XXXXXX")
	own_rootfs=$ROOTFS
	trap 'rm -rf "$own_rootfs"' EXIT
	trap 'exit 130' INT TERM
fi

echo "make-base-image: debootstrap --variant=minbase $SUITE from $MIRROR into $ROOTFS"
debootstrap --variant=minbase "$SUITE" "$ROOTFS" "$MIRROR" >"$ROOTFS.debootstrap.log" 2>&1 || {
	tail -n 30 "$ROOTFS.debootstrap.log" >&2; rm -f "$ROOTFS.debootstrap.log"; exit 1; }
rm -f "$ROOTFS.debootstrap.log"

# Trim, and make apt behave like the official image's.
rm -rf "$ROOTFS"/var/lib/apt/lists/* "$ROOTFS"/var/cache/apt/archives/*.deb "$ROOTFS"/var/cache/apt/*.bin \
       "$ROOTFS"/var/log/* "$ROOTFS"/tmp/* 2>/dev/null || true
: >"$ROOTFS/etc/resolv.conf"
: >"$ROOTFS/etc/hostname"
cat >"$ROOTFS/etc/apt/sources.list" <<EOF
deb $MIRROR $SUITE main
deb $MIRROR $SUITE-updates main
deb $SECURITY $SUITE-security main
EOF
cat >"$ROOTFS/etc/apt/apt.conf.d/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
echo 'Acquire::Languages "none";' >"$ROOTFS/etc/apt/apt.conf.d/docker-no-languages"
echo 'Acquire::GzipIndexes "true";' >"$ROOTFS/etc/apt/apt.conf.d/docker-gzip-indexes"
echo 'APT::AutoRemove::SuggestsImportant "false";' >"$ROOTFS/etc/apt/apt.conf.d/docker-autoremove-suggests"
# A frozen (snapshot) mirror has expired Release files; if this machine's apt accepts them, so must
# the image's, or apt-get update fails inside every build.
if command -v apt-config >/dev/null && apt-config dump | grep -qi '^Acquire::Check-Valid-Until "false"'; then
	echo 'Acquire::Check-Valid-Until "false";' >"$ROOTFS/etc/apt/apt.conf.d/99mirror-no-valid-until"
fi
printf '#!/bin/sh\nexit 101\n' >"$ROOTFS/usr/sbin/policy-rc.d"
chmod +x "$ROOTFS/usr/sbin/policy-rc.d"

[ "$ENGINE" = none ] && { echo "make-base-image: root file system in $ROOTFS"; exit 0; }
echo "make-base-image: importing as $TAG with $ENGINE"
tar --numeric-owner -C "$ROOTFS" -c . |
	"$ENGINE" import -c 'CMD ["bash"]' -c 'ENV LANG=C.UTF-8' - "$TAG" >/dev/null
echo "make-base-image: $TAG ready"
