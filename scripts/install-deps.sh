#!/usr/bin/env bash
# Install the Debian 12 packages el3d needs to build and test. Skips apt entirely when they are
# all present already (so it needs no root then); otherwise uses apt-get, through sudo if needed.
set -euo pipefail

PACKAGES=(
	g++ cmake ninja-build pkg-config git make xz-utils
	libgrpc++-dev libgrpc-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
	libasio-dev libspdlog-dev libfmt-dev nlohmann-json3-dev libcli11-dev libssl-dev zlib1g-dev
	libgtest-dev libgmock-dev libtomlplusplus-dev
	python3 python3-grpcio python3-protobuf python3-pytest python3-cbor2 python3-cryptography libcbor-dev
	python3-venv python3-setuptools
)

missing=()
for p in "${PACKAGES[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
	echo "install-deps: all ${#PACKAGES[@]} packages present"
	exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
	command -v sudo >/dev/null || { echo "install-deps: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
	SUDO="sudo"
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
