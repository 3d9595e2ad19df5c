"""Live-activation suite, written on el3d's pytest plugin (python/el3d/pytest_plugin.py, docs/python.md).

examples/mini-rmm runs as instance 1 and then as instance 2 against a private el3d (the `el3d`
fixture): instance 2 gets the same memory with x0 = 0 and finds instance 1's state. Variants:
instance 1 killed with SIGKILL in the middle of its boot, the daemon killed between instances, a
larger tagged region asked for (refused), the tfa ABI (state found through activation tokens), the
in-process endpoint with no daemon at all, and instance 2 run again and again from a snapshot taken
after instance 1.

Run by ctest (`live_activation`) as
  PYTHONPATH=<build>/python EL3D_BINARY=<el3d> MINI_RMM=<mini-rmm> python3 -m pytest -p el3d.pytest_plugin THIS
"""
import os
import signal
import subprocess
import threading
import time

import pytest

from el3d.pytest_plugin import assert_region

MINI_RMM = os.environ.get("MINI_RMM", "mini-rmm")
GRANULE = 0x1000


def parse(line):
    return dict(kv.split("=", 1) for kv in line.split()[1:] if "=" in kv)


def readline(stream, timeout):
    """One line from `stream`, or None if none arrives within `timeout` seconds."""
    got = []
    t = threading.Thread(target=lambda: got.append(stream.readline()), daemon=True)
    t.start()
    t.join(timeout)
    return got[0] if got else None


def check_instance(d):
    # Every instance dereferences EL3's physical addresses directly (PA == VA), and its CPU 0 entry was a
    # cold boot of a new activation. EL3D_EXPECT_IDENTITY=0: PA == VA cannot be had (AddressSanitizer's
    # shadow gap holds the carveout's range), the offset mapping is used.
    assert d.get("identity") == os.environ.get("EL3D_EXPECT_IDENTITY", "1"), d
    assert d.get("entry") == "cold", d
    assert d.get("activation") == d.get("instance"), d


def first_line(r):
    lines = [l for l in r.stdout.splitlines() if l.startswith("mini-rmm:")]
    return parse(lines[0]) if lines else {}


@pytest.fixture
def rmm(run_rmm):
    """mini-rmm against the `el3d` daemon; its first report line as a dict, checked, and the process."""
    def run(*args, expect_rc=0):
        r = run_rmm(MINI_RMM, *args, expect_rc=expect_rc)
        first = first_line(r)
        if expect_rc == 0:
            check_instance(first)
        return first, r
    return run


def gpt(state, pas):
    return {g.pas: g.granules for g in state.gpt}.get(pas, 0)


def wait_sessions_closed(client):
    # An RMM's CPU sessions end with its process, but el3d sees each stream end a moment later; a restore
    # is refused while one is open, and a save would catch the instance still running.
    for _ in range(200):
        if not any(c.session for c in client.state().cpus):
            return
        time.sleep(0.05)
    pytest.fail("the RMM's sessions did not close")


def test_second_instance_finds_the_first_ones_state(el3d, rmm):
    one, _ = rmm()
    assert (one["instance"], one["fresh"], one["vmids_fresh"]) == ("1", "1", "1")
    two, r = rmm()
    assert (two["instance"], two["fresh"], two["vmids_fresh"]) == ("2", "0", "0")
    assert (two["granules"], two["vmids"]) == (one["granules"], one["vmids"])
    assert "delegated=128 ok" in r.stdout  # 4 CPUs x 16 granules per instance, both kept
    st = el3d.client.state()
    assert st.activation == 2
    assert gpt(st, "realm") == 0x2000000 // GRANULE + 128
    assert sorted(r["id"] for r in el3d.client.regions()) == [1, 2]
    assert_region(el3d.client, 1, address=int(one["granules"], 16))


def test_second_instance_started_from_a_snapshot(el3d, rmm):
    # Boot once, snapshot, then run instance 2 several times from the same state: each run is instance 2
    # and finds instance 1's state, never that of the previous instance 2.
    c = el3d.client
    one, _ = rmm()
    assert (one["instance"], one["fresh"]) == ("1", "1")
    wait_sessions_closed(c)
    c.save_snapshot("after-one", note="mini-rmm instance 1 booted")
    saved = c.state()
    for run in range(3):
        wait_sessions_closed(c)
        assert c.restore_snapshot("after-one")["name"] == "after-one"
        st = c.state()
        assert (st.activation, st.epoch, list(st.regions), list(st.gpt)) == \
               (saved.activation, saved.epoch, list(saved.regions), list(saved.gpt)), "run %d" % run
        two, r = rmm()
        assert (two["instance"], two["fresh"], two["vmids_fresh"]) == ("2", "0", "0"), "run %d" % run
        assert (two["granules"], two["vmids"]) == (one["granules"], one["vmids"])
        assert "delegated=128 ok" in r.stdout  # instance 1's 64 granules, then instance 2's
        assert c.state().activation == 2
    # The daemon restarted on the restored file (kill -9) and restored once more: the same.
    el3d.restart(kill=True)
    el3d.client.restore_snapshot("after-one")
    two, _ = rmm()
    assert (two["instance"], two["fresh"], two["granules"]) == ("2", "0", one["granules"])
    snaps = el3d.client.snapshots()
    assert [s["name"] for s in snaps] == ["after-one"]
    assert snaps[0]["note"] == "mini-rmm instance 1 booted"


def test_instance_killed_mid_boot(el3d, rmm):
    env = dict(os.environ, EL3D_ENDPOINT="unix:" + el3d.socket)
    p = subprocess.Popen([MINI_RMM, "--pause-before-complete-ms", "30000"], env=env, stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # Printed after the allocations, before RMM_BOOT_COMPLETE. A hang fails the test, not CI.
    first = readline(p.stdout, 60)
    p.send_signal(signal.SIGKILL)
    p.wait()
    p.stdout.close()
    p.stderr.close()
    assert first is not None, "instance 1 printed nothing within 60 s"
    assert "instance=1" in first
    check_instance(parse(first))
    cpu0 = [c for c in el3d.client.state().cpus if c.cpu == 0]
    assert [c.state for c in cpu0] == [1]  # CPU_BOOT_STATE_BOOTING: its boot never completed
    two, _ = rmm()
    assert (two["instance"], two["fresh"]) == ("2", "0")
    assert two["granules"] == parse(first)["granules"]


def test_daemon_killed_between_instances(el3d, rmm):
    one, _ = rmm()
    region = assert_region(el3d.client, 1)
    el3d.restart(kill=True)
    assert_region(el3d.client, 1, size=region["size"], address=region["address"])
    two, _ = rmm()
    assert (two["instance"], two["fresh"], two["granules"]) == ("2", "0", one["granules"])


def test_larger_tagged_region_is_refused(el3d, rmm):
    rmm("--granule-bytes", "8")
    _, r = rmm("--granule-bytes", "16", expect_rc=1)
    assert "EL3 returned -4" in r.stderr  # E_RMM_NOMEM
    assert "reported a failed boot" in r.stderr
    st = el3d.client.state()
    assert st.boot_failure.name == "E_RMM_BOOT_NO_MEM"
    assert len(st.regions) == 2  # nothing new was allocated


@pytest.mark.el3d_options(abi="tfa")
def test_tfa_abi_finds_state_through_activation_tokens(el3d, rmm):
    one, _ = rmm()
    assert (one["abi"], one["fresh"]) == ("tfa", "1")
    two, _ = rmm()
    assert (two["instance"], two["fresh"], two["granules"]) == ("2", "0", one["granules"])
    st = el3d.client.state()
    assert [c.token for c in st.cpus if c.cpu == 0] == [int(one["granules"], 16)]
    assert all(r.id == 0 for r in st.regions)  # RESERVE_MEMORY has no tags


def test_in_process_without_a_daemon(el3d_factory):
    d = el3d_factory(start=False)
    env = dict(os.environ, EL3D_ENDPOINT="inproc:" + d.carveout)

    def inproc():
        r = subprocess.run([MINI_RMM, "--cpus", "2"], env=env, stdin=subprocess.DEVNULL, capture_output=True,
                           text=True, timeout=60)
        assert r.returncode == 0, r.stdout + r.stderr
        first = first_line(r)
        check_instance(first)
        return first

    one = inproc()
    two = inproc()
    assert (two["instance"], two["fresh"], two["granules"]) == ("2", "0", one["granules"])
    # The same file then works with the daemon: a third instance.
    d.start()
    r = d.run_rmm(MINI_RMM, "--cpus", "2", instance=3)
    assert r.returncode == 0, r.stdout + r.stderr
    three = first_line(r)
    check_instance(three)
    assert (three["instance"], three["granules"]) == ("3", one["granules"])
