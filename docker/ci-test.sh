#!/usr/bin/env bash
# Build and run the container environment for real, then undo everything this run started.
#
#   bash docker/ci-test.sh            (from the repository root; needs root; reads no stdin)
#
# Steps: install what is missing (apt-get, and the npm linters into a temporary directory);
# lint docker/Dockerfile (dockerfilelint, dockerfile-utils), the scripts (shellcheck) and
# docker/compose.yaml (docker-compose config, no engine); start an engine with all of its state
# under a temporary directory (rootful podman, preferred, with docker-compose v1 talking to
# `podman system service`; else dockerd started by hand); make the Debian base image offline if it
# is not there; build the image; smoke-test it; bring the compose project up; allocate a tagged
# region and write a pattern from a client container; restart the daemon container; check from a
# new client container that the region comes back `existing`, same address, same bytes; run
# compose's mini-rmm service (an RMM linked with el3client), restart el3d, run it again and check
# that the second instance finds the first one's state; the same through a host directory
# (docker/compose.host.yaml); time `stop` of the daemon (must be well under the 10 s kill timeout); take it all down; check that
# nothing is left (processes, mounts, network links, firewall rules, ip_forward).
#
# If no engine can be installed or started it prints "SKIPPED: <reason>" and exits 0.
#
# Environment:
#   EL3D_CI_ENGINE=auto|podman|docker   engine to use (default auto: podman, then docker)
#   EL3D_CI_CACHE=DIR                   keep the debootstrapped base image tarball in DIR between
#                                       runs (default: none, nothing is kept)
#   EL3D_CI_KEEP=1                      keep the temporary directory's logs (engine state is
#                                       always removed)
set -euo pipefail
exec </dev/null
cd "$(dirname "$0")/.."
ROOT=$PWD
export DEBIAN_FRONTEND=noninteractive

IMAGE=localhost/el3d:dev
BUILD_IMAGE=localhost/el3d-build:dev
BASE_TAG=localhost/debian:bookworm
PROJECT=el3dci$$
COMPOSE_FILE_REL=docker/compose.yaml
STOP_LIMIT_S=5
WANT_ENGINE=${EL3D_CI_ENGINE:-auto}

WORK=$(mktemp -d /tmp/el3d-ci.XXXXXX)
chmod 0755 "$WORK"
PASSED=0
FAILED=0
SKIP_REASON=""
ENGINE=""          # podman | docker, once one is running
E=()               # the engine's CLI
C=()               # docker-compose with project and file
COMPOSE_USED=0
HC=()              # the same with docker/compose.host.yaml, another project
HOST_COMPOSE_USED=0
STEP_NAMES=()
STEP_SECS=()
T_START=$(date +%s.%N)

say() { printf '== %s\n' "$*"; }
note() { printf '   %s\n' "$*"; }
pass() { PASSED=$((PASSED + 1)); printf 'PASS %s\n' "$*"; }
fail() { FAILED=$((FAILED + 1)); printf 'FAIL %s\n' "$*" >&2; }
die() { fail "$*"; exit 1; }
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }
indent() { sed -u 's/^/    | /'; }

# step NAME FUNCTION: run a step, record its wall time.
step() {
	local name=$1 t0 rc=0
	shift
	say "$name"
	t0=$(now)
	"$@" || rc=$?
	STEP_NAMES+=("$name")
	STEP_SECS+=("$(secs "$t0" "$(now)")")
	return "$rc"
}

# check NAME COMMAND...: one test; its output is shown indented.
check() {
	local name=$1 out rc=0
	shift
	out=$("$@" 2>&1) || rc=$?
	[ -n "$out" ] && printf '%s\n' "$out" | indent
	if [ "$rc" -eq 0 ]; then pass "$name"; else fail "$name (exit $rc)"; fi
	return 0
}

# ---- packages ------------------------------------------------------------------------------------
APT_UPDATED=0
missing_pkgs() {
	local p
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || printf '%s ' "$p"
	done
}
apt_install() {
	local missing
	missing=$(missing_pkgs "$@")
	[ -z "$missing" ] && return 0
	note "apt-get install $missing"
	if [ "$APT_UPDATED" = 0 ]; then
		apt-get -o DPkg::Lock::Timeout=300 update -q >>"$WORK/apt.log" 2>&1 || { tail -n 20 "$WORK/apt.log" | indent; return 1; }
		APT_UPDATED=1
	fi
	# shellcheck disable=SC2086 # word splitting of the package list is intended
	apt-get -o DPkg::Lock::Timeout=300 install -y -q --no-install-recommends $missing >>"$WORK/apt.log" 2>&1 ||
		{ tail -n 20 "$WORK/apt.log" | indent; return 1; }
}

PODMAN_PKGS=(podman runc iptables netavark aardvark-dns)
DOCKER_PKGS=(docker.io iptables)
COMMON_PKGS=(debootstrap docker-compose shellcheck)
ENGINE_PKGS_OK=""

install_packages() {
	local common=("${COMMON_PKGS[@]}")
	command -v npm >/dev/null || common+=(npm)
	apt_install "${common[@]}" || { SKIP_REASON="apt-get could not install ${common[*]}"; return 0; }
	if [ "$WANT_ENGINE" != docker ] && apt_install "${PODMAN_PKGS[@]}"; then
		ENGINE_PKGS_OK="podman"
	fi
	if [ "$WANT_ENGINE" = docker ] || { [ "$WANT_ENGINE" = auto ] && [ -z "$ENGINE_PKGS_OK" ]; }; then
		apt_install "${DOCKER_PKGS[@]}" && ENGINE_PKGS_OK="$ENGINE_PKGS_OK docker"
	fi
	note "engine packages installed: ${ENGINE_PKGS_OK:-none}"
	return 0
}

# ---- linters (no engine needed) ------------------------------------------------------------------
install_linters() {
	export npm_config_cache="$WORK/npm-cache"
	npm install --prefix "$WORK/npm" --no-fund --no-audit --no-update-notifier --loglevel=error \
		dockerfilelint dockerfile-utils 2>&1 | indent
}

lint() {
	local bin="$WORK/npm/node_modules/.bin"
	check "dockerfilelint docker/Dockerfile" "$bin/dockerfilelint" -c docker docker/Dockerfile
	check "dockerfile-utils lint docker/Dockerfile" "$bin/dockerfile-utils" lint docker/Dockerfile
	check "docker-compose config -q (no engine)" \
		env DOCKER_HOST="unix://$WORK/no-engine.sock" BASE_IMAGE="$BASE_TAG" \
		docker-compose -p "$PROJECT" -f "$COMPOSE_FILE_REL" config -q
	check "docker-compose config -q with docker/compose.host.yaml (no engine)" \
		env DOCKER_HOST="unix://$WORK/no-engine.sock" BASE_IMAGE="$BASE_TAG" EL3D_HOST_DIR=/srv/el3d \
		docker-compose -p "$PROJECT" -f "$COMPOSE_FILE_REL" -f docker/compose.host.yaml config -q
	check "shellcheck docker/*.sh" shellcheck -S warning docker/*.sh
}

# ---- host state, to prove the run leaves none behind ----------------------------------------------
# Paths an engine may create outside the roots it is given: rootful podman's blob info cache
# (/var/lib/containers/cache) and network run directory (/run/containers/networks), dockerd's plugin
# directory (/run/docker/plugins), and defaults a misconfigured run would use. Removed at the end
# if this run created them.
HOST_PATHS=(/var/lib/containers /run/containers /run/libpod /etc/containers/networks /var/lib/docker
	/run/docker /run/containerd /etc/docker/key.json /var/lib/cni /run/netns)
host_snapshot() { # DIR
	mkdir -p "$1"
	ip -o link show 2>/dev/null | awk -F': ' '{ sub(/@.*/, "", $2); print $2 }' | sort >"$1/links"
	cat /proc/sys/net/ipv4/ip_forward >"$1/ip_forward"
	{ command -v iptables-save >/dev/null && iptables-save 2>/dev/null || true; } |
		sed -e '/^#/d' -e 's/\[[0-9]*:[0-9]*\]//' >"$1/iptables"
	{ command -v nft >/dev/null && nft list ruleset 2>/dev/null || true; } >"$1/nft"
	for d in "${HOST_PATHS[@]}"; do
		[ -e "$d" ] && echo "$d"
	done >"$1/paths"
	return 0
}

# ---- engines ----------------------------------------------------------------------------------
start_podman() {
	command -v podman >/dev/null || { note "podman is not installed"; return 1; }
	local P="$WORK/podman"
	mkdir -p "$P/root" "$P/run" "$P/tmp" "$P/networks"
	cat >"$P/storage.conf" <<-EOF
	[storage]
	driver = "overlay"
	graphroot = "$P/root"
	runroot = "$P/run"
	EOF
	# runc (crun 1.8 fails on a cgroup v1 hybrid host); ulimits podman may set: its defaults are
	# higher than our hard limits, which root without CAP_SYS_RESOURCE may not raise (nofile: our
	# hard limit; nproc: at most 32768, above that runc fails here even under the hard limit);
	# no systemd; every path of podman's own under $P.
	local nofile nproc
	nofile=$(ulimit -Hn); [ "$nofile" = unlimited ] && nofile=1048576
	nproc=$(ulimit -Hu); { [ "$nproc" = unlimited ] || [ "$nproc" -gt 32768 ]; } && nproc=32768
	cat >"$P/containers.conf" <<-EOF
	[containers]
	default_ulimits = ["nofile=$nofile:$nofile", "nproc=$nproc:$nproc"]
	[engine]
	runtime = "runc"
	cgroup_manager = "cgroupfs"
	events_logger = "file"
	events_logfile_path = "$P/events.log"
	tmp_dir = "$P/tmp"
	[network]
	network_config_dir = "$P/networks"
	EOF
	export CONTAINERS_STORAGE_CONF="$P/storage.conf" CONTAINERS_CONF="$P/containers.conf"
	E=(podman)
	local info
	info=$(podman info --format '{{.Version.Version}} runtime={{.Host.OCIRuntime.Name}} storage={{.Store.GraphDriverName}} cgroups={{.Host.CgroupsVersion}}' 2>&1) ||
		{ printf '%s\n' "$info" | indent; return 1; }
	note "podman $info"
	podman system service --time=0 "unix://$WORK/podman.sock" >"$WORK/podman-service.log" 2>&1 &
	echo $! >"$WORK/podman-service.pid"
	local i
	for i in $(seq 1 100); do
		podman --url "unix://$WORK/podman.sock" version >/dev/null 2>&1 && break
		sleep 0.1
		[ "$i" = 100 ] && { tail -n 20 "$WORK/podman-service.log" | indent; return 1; }
	done
	export DOCKER_HOST="unix://$WORK/podman.sock"
	ENGINE=podman
	note "podman system service (pid $(cat "$WORK/podman-service.pid")) on $DOCKER_HOST"
}

start_docker() {
	command -v dockerd >/dev/null || { note "dockerd is not installed"; return 1; }
	local D="$WORK/docker"
	mkdir -p "$D/data" "$D/exec"
	# No bridge, no iptables, no ip_forward: builds use --network host, containers network none.
	dockerd --data-root "$D/data" --exec-root "$D/exec" -H "unix://$WORK/docker.sock" \
		--pidfile "$WORK/dockerd.pid" --bridge=none --iptables=false --ip6tables=false \
		--ip-forward=false --ip-masq=false --userland-proxy=false >"$WORK/dockerd.log" 2>&1 &
	echo $! >"$WORK/dockerd.launch.pid"
	export DOCKER_HOST="unix://$WORK/docker.sock"
	if [ -x /usr/bin/docker ]; then E=(/usr/bin/docker); else E=(docker); fi
	local i
	for i in $(seq 1 100); do
		"${E[@]}" version >/dev/null 2>&1 && break
		sleep 0.2
		[ "$i" = 100 ] && { tail -n 20 "$WORK/dockerd.log" | indent; return 1; }
	done
	ENGINE=docker
	note "dockerd $("${E[@]}" version -f '{{.Server.Version}}') (pid $(cat "$WORK/dockerd.launch.pid")) on $DOCKER_HOST"
}

start_engine() {
	case "$WANT_ENGINE" in
	auto) start_podman || { note "podman failed; trying dockerd"; stop_engine; apt_install "${DOCKER_PKGS[@]}" && start_docker; } ;;
	podman) start_podman ;;
	docker) start_docker ;;
	*) SKIP_REASON="EL3D_CI_ENGINE=$WANT_ENGINE: want auto, podman or docker"; return 1 ;;
	esac
}

stop_engine() {
	local f pid i
	for f in "$WORK/podman-service.pid" "$WORK/dockerd.launch.pid"; do
		[ -f "$f" ] || continue
		pid=$(cat "$f")
		if kill -0 "$pid" 2>/dev/null; then
			kill -TERM "$pid" 2>/dev/null
			for i in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
			kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
		fi
		wait "$pid" 2>/dev/null
		rm -f "$f"
	done
	return 0
}

# ---- the image ------------------------------------------------------------------------------------
base_image() {
	if "${E[@]}" image inspect "$BASE_TAG" >/dev/null 2>&1; then
		note "$BASE_TAG is already there"
	else
		local tar="${EL3D_CI_CACHE:+$EL3D_CI_CACHE/debian-bookworm-minbase.tar}"
		if [ -n "$tar" ] && [ -s "$tar" ]; then
			note "importing $BASE_TAG from $tar"
		else
			bash docker/make-base-image.sh none "$BASE_TAG" "" "$WORK/rootfs" 2>&1 | indent
			tar="${tar:-$WORK/rootfs.tar}"
			[ -n "${EL3D_CI_CACHE:-}" ] && mkdir -p "$EL3D_CI_CACHE"
			tar --numeric-owner -C "$WORK/rootfs" -cf "$tar" .
			rm -rf "$WORK/rootfs"
		fi
		"${E[@]}" import -c 'CMD ["bash"]' -c 'ENV LANG=C.UTF-8' "$tar" "$BASE_TAG" >/dev/null
		[ "$tar" = "$WORK/rootfs.tar" ] && rm -f "$tar"
	fi
	check "base image runs a container" "${E[@]}" run --rm --network none "$BASE_TAG" \
		sh -c '. /etc/os-release && echo "$PRETTY_NAME"'
}

build_image() {
	local args=(build -f docker/Dockerfile -t "$IMAGE" --build-arg "BASE_IMAGE=$BASE_TAG" --network host)
	# podman: docker format, or HEALTHCHECK is dropped (OCI images have none).
	[ "$ENGINE" = podman ] && args+=(--format docker --pull=never)
	# The whole log goes to a file; CI output gets the steps, apt's downloads and ninja's progress.
	local rc
	"${E[@]}" "${args[@]}" . 2>&1 | tee "$WORK/build.log" |
		{ grep --line-buffered -E 'STEP [0-9]+/|^Step [0-9]+/|^\[[0-9]+/[0-9]+\] |^Fetched |^Successfully' || true; } |
		cut -c1-160 | indent
	rc=${PIPESTATUS[0]}
	if [ "$rc" -eq 0 ]; then
		pass "image $IMAGE built ($("${E[@]}" image inspect -f '{{.Size}}' "$IMAGE" | awk '{ printf "%.0f MB", $1 / 1e6 }'))"
	else
		tail -n 60 "$WORK/build.log" | indent
		die "image build failed (exit $rc)"
	fi
	# The build stage as an image of its own: compose's mini-rmm service (an RMM linked with
	# el3client) runs from it. Every layer is cached from the build above.
	args=(build -f docker/Dockerfile -t "$BUILD_IMAGE" --target build --build-arg "BASE_IMAGE=$BASE_TAG" --network host)
	[ "$ENGINE" = podman ] && args+=(--format docker --pull=never)
	"${E[@]}" "${args[@]}" . >>"$WORK/build.log" 2>&1 || { tail -n 20 "$WORK/build.log" | indent; die "build --target build failed"; }
	pass "image $BUILD_IMAGE (the build stage, for mini-rmm) built"
}

# run1 ARGS...: a one-off container, no network, no healthcheck; stdout only (stderr to a log).
run1() { "${E[@]}" run --rm --network none --no-healthcheck "$@" 2>>"$WORK/run.log"; }

smoke() {
	local ver out
	ver=$(sed -n 's/^project(el3d VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt)
	out=$(run1 --entrypoint /opt/el3d/bin/el3d "$IMAGE" --version) || true
	if [ "$out" = "$ver" ]; then pass "el3d --version = $out"; else fail "el3d --version: '$out', want '$ver'"; fi
	out=$(run1 --entrypoint el3ctl "$IMAGE" --version) || true
	if [ "$out" = "$ver" ]; then pass "el3ctl --version = $out"; else fail "el3ctl --version: '$out', want '$ver'"; fi
	out=$(run1 --entrypoint id "$IMAGE" -u) || true
	if [ "$out" = 10001 ]; then pass "runs as uid 10001"; else fail "runs as uid '$out', want 10001"; fi
	out=$(run1 --entrypoint /bin/sh "$IMAGE" -c \
		'dpkg-query -W -f "\${Package}\n" | grep -E -- "-dev$|^(g\+\+|gcc|cmake|ninja-build)$" || true')
	if [ -z "$out" ]; then pass "runtime image has no compiler and no -dev packages"
	else fail "runtime image has build packages: $(echo "$out" | tr '\n' ' ')"; fi
	# HEALTHCHECK, STOPSIGNAL and VOLUME as the engine stored them (podman: only in docker format).
	out=$("${E[@]}" image inspect "$IMAGE" | python3 -c '
import json, sys
img = json.load(sys.stdin)[0]
def find(o, key):
    if isinstance(o, dict):
        for k, v in o.items():
            if k.lower() == key and v:
                return v
            r = find(v, key)
            if r:
                return r
    elif isinstance(o, list):
        for v in o:
            r = find(v, key)
            if r:
                return r
    return None
hc, sig, vol = find(img, "healthcheck"), find(img, "stopsignal"), find(img, "volumes")
print("healthcheck:", json.dumps(hc), "stopsignal:", sig, "volumes:", json.dumps(vol))
ok = hc and "el3ctl" in json.dumps(hc) and "wait" in json.dumps(hc) and str(sig) in ("SIGTERM", "15") \
     and vol and "/el3d" in vol
sys.exit(0 if ok else 1)') && pass "image has HEALTHCHECK (el3ctl wait), STOPSIGNAL SIGTERM, VOLUME /el3d" ||
		fail "image config: $out"
	note "$out"
}

# ---- compose: up, persistence across a daemon restart, stop time ---------------------------------
# dev ARGS...: a new client container of the dev service; stdout only (compose's chatter to a log).
dev() { timeout 120 "${C[@]}" run --rm -T dev "$@" 2>>"$WORK/compose.log"; }
el3d_cid() { "${C[@]}" ps -q el3d; }

compose_up() {
	export BASE_IMAGE="$BASE_TAG"
	C=(docker-compose -p "$PROJECT" -f "$COMPOSE_FILE_REL")
	COMPOSE_USED=1
	timeout 120 "${C[@]}" up -d --no-build el3d 2>&1 | indent || die "compose up failed"
	local out
	out=$(dev) || { printf '%s\n' "$out" | indent; tail -n 20 "$WORK/compose.log" | indent; die "the dev service's example session failed"; }
	printf '%s\n' "$out" | indent
	grep -Eq '^addr=0x[0-9a-f]{16} size=0x2000 id=1 (fresh|existing)$' <<<"$out" && grep -q 'mem\[.*\] = cafef00d' <<<"$out" &&
		pass "compose: the dev service's example session (alloc, mem write, status)" ||
		fail "compose: unexpected output from the dev example session"
	local cid
	cid=$(el3d_cid)
	if [ "$ENGINE" = podman ]; then
		check "healthcheck passes (podman healthcheck run)" podman healthcheck run "$cid"
	else
		local i st=""
		for i in $(seq 1 60); do
			st=$("${E[@]}" inspect -f '{{.State.Health.Status}}' "$cid")
			[ "$st" = healthy ] && break
			sleep 0.5
		done
		[ "$st" = healthy ] && pass "healthcheck: healthy" || fail "healthcheck: status $st"
	fi
}

ADDR=""
PATTERN=""
persistence() {
	local out started1 started2 back
	out=$(dev el3ctl alloc --size 0x3000 --id 3) || true
	note "$out"
	if [[ "$out" =~ ^addr=(0x[0-9a-f]{16})\ size=0x3000\ id=3\ fresh$ ]]; then
		ADDR=${BASH_REMATCH[1]}
		pass "client container: alloc --id 3 is fresh at $ADDR"
	else
		die "client container: alloc --id 3: unexpected '$out'"
	fi
	PATTERN=$(od -An -tx1 -N4096 /dev/urandom | tr -d ' \n')
	dev el3ctl mem write "$ADDR" "$PATTERN" | indent || die "mem write failed"
	back=$(dev el3ctl mem read "$ADDR" 4096) || true
	[ "$back" = "$PATTERN" ] && pass "client container: wrote and read back 4 KiB at $ADDR" ||
		fail "client container: read back differs"
	out=$(dev el3ctl status) || true
	grep -q "$ADDR" <<<"$out" && pass "plain 'el3ctl status' (EL3D_SOCKET) lists the region" ||
		{ printf '%s\n' "$out" | indent; fail "el3ctl status does not list $ADDR"; }

	started1=$("${E[@]}" inspect -f '{{.State.StartedAt}}' "$(el3d_cid)")
	local t0 t1
	t0=$(now)
	timeout 60 "${C[@]}" restart el3d 2>&1 | indent || die "compose restart el3d failed"
	t1=$(now)
	started2=$("${E[@]}" inspect -f '{{.State.StartedAt}}' "$(el3d_cid)")
	[ "$started1" != "$started2" ] && pass "compose restart el3d ($(secs "$t0" "$t1") s): container restarted" ||
		fail "compose restart el3d: StartedAt unchanged ($started1)"

	out=$(dev el3ctl alloc --size 0x3000 --id 3) || true
	note "$out"
	[ "$out" = "addr=$ADDR size=0x3000 id=3 existing" ] &&
		pass "new client container after the restart: id 3 is existing at $ADDR" ||
		fail "after the restart: '$out', want 'addr=$ADDR size=0x3000 id=3 existing'"
	back=$(dev el3ctl mem read "$ADDR" 4096) || true
	[ "$back" = "$PATTERN" ] && pass "after the restart: the 4 KiB pattern is intact" ||
		fail "after the restart: the content differs"
}

# ---- compose's mini-rmm service on the named volume: a live activation across containers ---------
mini_rmm() {
	local out rc
	out=$(dev el3ctl reset) || { printf '%s\n' "$out" | indent; die "el3ctl reset failed"; }
	pass "client container: el3ctl reset (mini-rmm's tags 1 and 2 must be free)"
	out=$(timeout 120 "${C[@]}" run --rm -T mini-rmm 2>>"$WORK/compose.log") && rc=0 || rc=$?
	note "$out"
	[[ "$out" =~ instance=1\ .*fresh=1 ]] && [[ "$out" =~ instance=1\ .*\ ok$ ]] &&
		pass "compose run mini-rmm: instance 1 booted with fresh tagged regions (exit $rc)" ||
		fail "compose run mini-rmm, instance 1: exit $rc, '$out' (see $WORK/compose.log)"
	timeout 60 "${C[@]}" restart el3d 2>&1 | indent || fail "compose restart el3d failed"
	out=$(timeout 120 "${C[@]}" run --rm -T mini-rmm 2>>"$WORK/compose.log") && rc=0 || rc=$?
	note "$out"
	[[ "$out" =~ instance=2\ .*fresh=0 ]] && [[ "$out" =~ instance=2\ .*\ ok$ ]] &&
		pass "compose run mini-rmm after restart el3d: instance 2 found instance 1's regions and state" ||
		fail "compose run mini-rmm, instance 2: exit $rc, '$out' (see $WORK/compose.log)"
}

stop_time() {
	local cid t0 t1 dt code
	cid=$(el3d_cid)
	t0=$(now)
	"${E[@]}" stop -t 10 "$cid" >/dev/null 2>>"$WORK/run.log"
	t1=$(now)
	dt=$(secs "$t0" "$t1")
	STOP_SECS=$dt
	if awk -v d="$dt" -v m="$STOP_LIMIT_S" 'BEGIN { exit !(d <= m) }'; then
		pass "$ENGINE stop of the daemon took $dt s (limit $STOP_LIMIT_S s, kill timeout 10 s)"
	else
		fail "$ENGINE stop of the daemon took $dt s (limit $STOP_LIMIT_S s): SIGTERM not handled as PID 1?"
	fi
	code=$("${E[@]}" inspect -f '{{.State.ExitCode}}' "$cid")
	[ "$code" = 0 ] && pass "el3d exited with status 0 on SIGTERM" || fail "el3d exit status $code on SIGTERM"
	local ls
	ls=$(timeout 60 "${C[@]}" run --rm -T --no-deps --entrypoint /bin/ls dev -A /el3d 2>>"$WORK/compose.log") || true
	note "/el3d after the stop: $(echo "$ls" | tr '\n' ' ')"
	grep -qx carveout.img <<<"$ls" && ! grep -q 'el3d.sock' <<<"$ls" &&
		pass "clean stop: carveout kept, socket and lock removed" || fail "after the stop /el3d holds: $ls"
}

compose_down() {
	timeout 120 "${C[@]}" down -v -t 5 2>&1 | indent
	COMPOSE_USED=0
	local left
	left=$({ "${E[@]}" ps -aq --filter "label=com.docker.compose.project=$PROJECT"; "${E[@]}" volume ls -q | grep "$PROJECT"; } 2>/dev/null || true)
	[ -z "$left" ] && pass "compose down -v: no containers or volumes of $PROJECT left" ||
		fail "compose down -v left: $left"
}

# ---- a host directory instead of the volume (docker/compose.host.yaml), RMM code outside ------------
# The state goes to a directory of the host, mounted at the same path; the daemon runs as another
# uid (10002, standing for the developer's). Checks what a host program needs: the socket on the
# host, owned by that uid, and the carveout file at the path el3d reports, with the id el3d reports.
# Then examples/mini-rmm (from the build stage, in a container of its own with only that directory
# mounted, as that uid) boots against the daemon, el3d restarts, and the second mini-rmm instance
# finds the first one's state: a live activation across containers.
host_dir() {
	local D="$WORK/host-state" out rc want_id have_id
	install -d -o 10002 -g 10002 -m 0700 "$D"
	HC=(env EL3D_HOST_DIR="$D" EL3D_UID=10002 EL3D_GID=10002
		docker-compose -p "${PROJECT}h" -f "$COMPOSE_FILE_REL" -f docker/compose.host.yaml)
	HOST_COMPOSE_USED=1
	timeout 120 "${HC[@]}" up -d --no-build el3d 2>&1 | indent || die "compose up with compose.host.yaml failed"
	out=$(timeout 120 "${HC[@]}" run --rm -T dev el3ctl status --json 2>>"$WORK/compose.log") || true
	out=$(python3 -c 'import json, sys; d = json.load(sys.stdin); print(d["carveout_path"], d["carveout_id"])' <<<"$out" 2>&1) || true
	note "el3d reports: $out"
	want_id=${out#* }
	have_id=$(od -An -tx1 -j16 -N16 "$D/carveout.img" 2>/dev/null | tr -d ' \n')
	if [ "${out%% *}" = "$D/carveout.img" ] && [ -n "$have_id" ] && [ "$have_id" = "$want_id" ]; then
		pass "host directory: el3d's carveout file is on the host at the path it reports, id $have_id"
	else
		fail "host directory: el3d reports '$out', the host file at $D/carveout.img has id '$have_id'"
	fi
	if [ -S "$D/el3d.sock" ] && [ "$(stat -c '%u %a' "$D/el3d.sock")" = "10002 600" ]; then
		pass "host directory: the socket is on the host, mode 0600, owned by the chosen uid"
	else
		fail "host directory: socket: $(stat -c '%F %u %a' "$D/el3d.sock" 2>&1)"
	fi

	# compose's mini-rmm service with the host-directory override: its own container, only that
	# directory of the host, the chosen uid.
	local mini=(timeout 120 "${HC[@]}" run --rm -T mini-rmm)
	out=$("${mini[@]}" 2>>"$WORK/compose.log") && rc=0 || rc=$?
	note "$out"
	[[ "$out" =~ instance=1\ .*\ ok$ ]] && pass "mini-rmm in another container: instance 1 booted (exit $rc)" ||
		fail "mini-rmm instance 1: exit $rc, '$out' (see $WORK/compose.log)"
	timeout 60 "${HC[@]}" restart el3d 2>&1 | indent || fail "compose restart el3d (host directory) failed"
	out=$("${mini[@]}" 2>>"$WORK/compose.log") && rc=0 || rc=$?
	note "$out"
	[[ "$out" =~ instance=2\ .*\ ok$ ]] && pass "mini-rmm after an el3d restart: instance 2 found instance 1's state" ||
		fail "mini-rmm instance 2: exit $rc, '$out' (see $WORK/compose.log)"

	timeout 120 "${HC[@]}" down -v -t 5 2>&1 | indent
	HOST_COMPOSE_USED=0
}

# ---- cleanup (also on failure) ---------------------------------------------------------------------
CLEANED=0
cleanup() {
	[ "$CLEANED" = 1 ] && return 0
	CLEANED=1
	set +e
	say "cleanup"
	local t0
	t0=$(now)
	if [ "$COMPOSE_USED" = 1 ] && [ ${#C[@]} -gt 0 ]; then
		timeout 60 "${C[@]}" down -v -t 2 >/dev/null 2>&1
	fi
	if [ "$HOST_COMPOSE_USED" = 1 ] && [ ${#HC[@]} -gt 0 ]; then
		timeout 60 "${HC[@]}" down -v -t 2 >/dev/null 2>&1
	fi
	if [ "$ENGINE" = podman ]; then
		podman rm -af -t 2 >/dev/null 2>&1
		podman system reset -f >/dev/null 2>&1
	elif [ "$ENGINE" = docker ]; then
		local ids
		ids=$("${E[@]}" ps -aq 2>/dev/null)
		# shellcheck disable=SC2086
		[ -n "$ids" ] && "${E[@]}" rm -f $ids >/dev/null 2>&1
	fi
	stop_engine
	# Anything still mounted under $WORK (overlay layers, netns, shm), deepest first.
	local m
	awk -v w="$WORK" 'index($5, w) == 1 { print $5 }' /proc/self/mountinfo | sort -r | while read -r m; do
		umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null
	done
	# Host changes an engine can make (none expected: no bridge, no iptables, network none).
	if [ -f "$WORK/before/links" ]; then
		local pth
		for pth in "${HOST_PATHS[@]}"; do
			[ -e "$pth" ] && ! grep -qx "$pth" "$WORK/before/paths" || continue
			awk -v w="$pth/" 'index($5, w) == 1 { print $5 }' /proc/self/mountinfo | sort -r | while read -r m; do
				umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null
			done
			rm -rf "$pth"
		done
		host_snapshot "$WORK/after"
		local l
		for l in docker0 podman0 cni-podman0; do
			grep -qx "$l" "$WORK/before/links" || ! grep -qx "$l" "$WORK/after/links" || ip link delete "$l"
		done
		[ "$(cat "$WORK/after/ip_forward")" = "$(cat "$WORK/before/ip_forward")" ] ||
			cat "$WORK/before/ip_forward" >/proc/sys/net/ipv4/ip_forward
		# Chains an engine adds; removed only if this run added them.
		local t c
		for t in filter nat; do
			for c in DOCKER DOCKER-USER DOCKER-ISOLATION-STAGE-1 DOCKER-ISOLATION-STAGE-2 NETAVARK_FORWARD NETAVARK_INPUT NETAVARK-ISOLATION-1 NETAVARK-ISOLATION-2 NETAVARK-ISOLATION-3 NETAVARK-HOSTPORT-DNAT NETAVARK-HOSTPORT-SETMARK NETAVARK-HOSTPORT-MASQ; do
				grep -q "^:$c " "$WORK/before/iptables" && continue
				grep -q "^:$c " "$WORK/after/iptables" || continue
				iptables-save -t "$t" | sed -n "s/^-A \([A-Z_-]*\) \(.*-j $c\)\$/\1 \2/p" | while read -r chain rest; do
					# shellcheck disable=SC2086
					iptables -t "$t" -D "$chain" $rest 2>/dev/null
				done
				iptables -t "$t" -F "$c" 2>/dev/null && iptables -t "$t" -X "$c" 2>/dev/null
			done
		done
		host_snapshot "$WORK/after"
	fi
	STEP_NAMES+=("cleanup")
	STEP_SECS+=("$(secs "$t0" "$(now)")")
	leftovers
	set -e
}

leftovers() {
	local bad=() f p
	for f in podman-service.pid dockerd.launch.pid; do
		[ -f "$WORK/$f" ] && kill -0 "$(cat "$WORK/$f")" 2>/dev/null && bad+=("process $(cat "$WORK/$f") still running")
	done
	p=$(pgrep -f "$WORK" | grep -vx "$$" | tr '\n' ' ')
	[ -n "$p" ] && bad+=("processes using $WORK: $p")
	awk -v w="$WORK" 'index($5, w) == 1 { found = 1 } END { exit !found }' /proc/self/mountinfo && bad+=("mounts under $WORK")
	if [ -f "$WORK/before/links" ]; then
		local d
		for d in links ip_forward iptables nft paths; do
			if ! diff -q "$WORK/before/$d" "$WORK/after/$d" >/dev/null; then
				bad+=("host $d changed: $(diff "$WORK/before/$d" "$WORK/after/$d" | grep '^[<>]' | head -5 | tr '\n' ' ')")
			fi
		done
	fi
	if [ ${#bad[@]} -eq 0 ]; then
		pass "cleanup: no engine process, container, mount, link, firewall rule or ip_forward change left"
	else
		for p in "${bad[@]}"; do fail "cleanup: $p"; done
	fi
}

finish() {
	local rc=$?
	trap - EXIT INT TERM
	cleanup
	if [ "${EL3D_CI_KEEP:-0}" = 1 ]; then
		rm -rf "$WORK/podman" "$WORK/docker"
		note "logs kept in $WORK"
	else
		rm -rf "$WORK"
		[ -e "$WORK" ] && fail "cleanup: could not remove $WORK"
	fi
	say "timings"
	local i
	for i in "${!STEP_NAMES[@]}"; do printf '   %-48s %7s s\n' "${STEP_NAMES[$i]}" "${STEP_SECS[$i]}"; done
	printf '   %-48s %7s s\n' "total" "$(secs "$T_START" "$(now)")"
	[ -n "${STOP_SECS:-}" ] && printf '   %-48s %7s s\n' "(stop of the daemon container)" "$STOP_SECS"
	if [ "$rc" -ne 0 ] && [ "$FAILED" -eq 0 ]; then FAILED=1; fi
	say "docker/ci-test.sh: ${ENGINE:-no engine}: $PASSED passed, $FAILED failed"
	if [ -n "$SKIP_REASON" ] && [ "$FAILED" -eq 0 ]; then
		echo "SKIPPED: $SKIP_REASON"
		exit 0
	fi
	[ "$FAILED" -eq 0 ] || exit 1
	exit 0
}
trap finish EXIT
trap 'echo "interrupted" >&2; exit 130' INT TERM

# ---- main ------------------------------------------------------------------------------------------
say "docker/ci-test.sh in $ROOT (temporary directory $WORK)"
if [ "$(id -u)" -ne 0 ]; then
	SKIP_REASON="needs root (apt-get, debootstrap, rootful podman or dockerd)"
	exit 0
fi
step "install packages (apt-get)" install_packages
[ -n "$SKIP_REASON" ] && exit 0
step "install linters (npm, temporary dir)" install_linters || die "npm install of the linters failed"
step "lint Dockerfile, scripts, compose.yaml" lint
if [ -z "$ENGINE_PKGS_OK" ]; then
	SKIP_REASON="no container engine could be installed (podman: ${PODMAN_PKGS[*]}; docker: ${DOCKER_PKGS[*]})"
	exit 0
fi
host_snapshot "$WORK/before"
if ! step "start the engine" start_engine; then
	stop_engine
	SKIP_REASON=${SKIP_REASON:-"no container engine could be started (see the messages above)"}
	exit 0
fi
step "base image $BASE_TAG" base_image
step "build $IMAGE" build_image
step "smoke test" smoke
step "compose up + example session" compose_up
step "persistence across compose restart el3d" persistence
step "compose run mini-rmm, restart, run again" mini_rmm
step "stop time" stop_time
step "compose down -v" compose_down
step "host directory (compose.host.yaml) + mini-rmm" host_dir
