#!/usr/bin/env bash
# The Python package installed the way docs/python.md says, with pip from a copy of the repository into
# a virtual environment that sees Debian's python3-grpcio and python3-protobuf (nothing downloaded),
# then the docs' complete example run with that environment's Python against the real daemon.
#   test_pip_install.sh SOURCE_DIR EL3D_BINARY
set -euo pipefail
src="$1"
el3d="$2"
work="$(mktemp -d /tmp/el3d-pip.XXXXXX)"
trap 'rm -rf "$work"' EXIT
# A copy, so that the in-tree build leaves nothing in the repository.
mkdir -p "$work/repo/include/el3d"
cp -r "$src/python" "$src/proto" "$work/repo/"
cp "$src/include/el3d/smc.h" "$work/repo/include/el3d/"
rm -rf "$work/repo/python/build" "$work/repo/python/el3d.egg-info"
/usr/bin/python3 -m venv --system-site-packages "$work/venv"
"$work/venv/bin/pip" install -q --no-build-isolation --no-index "$work/repo/python"
cd "$work"
# Installed, generated parts included, and not taken from the source tree.
"$work/venv/bin/python" - <<'PY'
import el3d, el3d._smc, el3d.v1.monitor_pb2 as pb
assert "/venv/" in el3d.__file__, el3d.__file__
assert el3d.fid("RMM_ALLOCATE_MEMORY") == 0xC40001B7
assert el3d.result_code("E_RMM_NOMEM") == (1 << 64) - 4  # as x0 holds it
assert "ReserveMemory" in [m.name for m in pb.DESCRIPTOR.services_by_name["Monitor"].methods]
print("installed:", el3d.__file__)
PY
EL3D_BINARY="$el3d" EL3D_DOCS="$src/docs" "$work/venv/bin/python" -m pytest -p el3d.pytest_plugin -q \
	-p no:cacheprovider "$src/python/tests/test_docs_example.py"
