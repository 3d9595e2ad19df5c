"""pytest fixtures for RMM persistence and live-activation tests against a private el3d.

Enable with `-p el3d.pytest_plugin` (or `pytest_plugins = ["el3d.pytest_plugin"]` in a conftest.py).
The el3d binary is $EL3D_BINARY or `el3d` on PATH.

Fixtures:
  el3d          a started Daemon in a private directory (platform, ABI and options from the
                `el3d_options` marker: @pytest.mark.el3d_options(abi="tfa", options=["--seed", "1"])),
                stopped (or found dead) at the end of the test; its log is printed if the test fails.
  el3d_factory  makes more daemons: el3d_factory(platform=None, abi=None, options=()).
  el3d_client   el3d.client, a Client of the `el3d` fixture's daemon.
  run_rmm       run_rmm(binary, *args, instance=N): the RMM program against the `el3d` daemon,
                asserting it exits 0; returns its CompletedProcess.
Helpers: assert_region(client, id, size=None, content=None, address=None) returns the region.
"""
import pytest

from .daemon import Daemon


def pytest_configure(config):
    config.addinivalue_line("markers", "el3d_options(platform=None, abi=None, options=()): how the el3d fixture "
                                       "starts its daemon")


@pytest.fixture
def el3d_factory(tmp_path_factory, request):
    made = []

    def make(platform=None, abi=None, options=(), start=True):
        d = Daemon(str(tmp_path_factory.mktemp("el3d")), platform=platform, abi=abi, options=options)
        made.append(d)
        return d.start() if start else d

    yield make
    failed = getattr(request.node, "rep_call", None) is not None and request.node.rep_call.failed
    for d in made:
        if failed:
            print("---- el3d log (%s) ----\n%s" % (d.directory, d.log()))
        try:
            d.stop()
        except Exception:
            d.kill9()


@pytest.fixture
def el3d(el3d_factory, request):
    m = request.node.get_closest_marker("el3d_options")
    kw = dict(m.kwargs) if m else {}
    return el3d_factory(**kw)


@pytest.fixture
def el3d_client(el3d):
    return el3d.client


@pytest.fixture
def run_rmm(el3d):
    def run(binary, *args, instance=None, env=None, expect_rc=0, timeout=120):
        r = el3d.run_rmm(binary, *args, instance=instance, env=env, timeout=timeout)
        assert r.returncode == expect_rc, "RMM instance %s exited %d:\n%s\n%s" % (instance, r.returncode, r.stdout,
                                                                                 r.stderr)
        return r
    return run


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)


def assert_region(client, id, size=None, content=None, address=None):
    """The tagged region `id` exists (with this size, at this address, starting with these bytes)."""
    r = client.region(id)
    assert r is not None, "no region with id %d (regions: %r)" % (id, client.regions())
    if size is not None:
        assert r["size"] == size, "region %d has %d bytes, not %d" % (id, r["size"], size)
    if address is not None:
        assert r["address"] == address, "region %d is at %#x, not %#x" % (id, r["address"], address)
    if content is not None:
        got = client.read_memory(r["address"], len(content))
        assert got == bytes(content), "region %d holds %s, not %s" % (id, got.hex(), bytes(content).hex())
    return r
