"""The el3d package against the real daemon: SMCs by name with decoded results, allocation, memory,
sessions, restart and kill -9 through the fixtures, and the RMM runner with mini-rmm."""
import os

import pytest

import el3d
from el3d.pytest_plugin import assert_region


def test_smc_by_name_and_decoded_results(el3d_client):
    c = el3d_client
    r = c.smc("RMM_GTSI_DELEGATE", 0x80000000)
    assert r.ok and r.name == "E_RMM_OK" and r[1] == 0x80000000
    r = c.smc("RMM_GTSI_DELEGATE", 0x80000000)
    assert r.name == "E_RMM_BAD_PAS" and r.result == -3
    assert r.x[0] == el3d.result_code("E_RMM_BAD_PAS")
    assert c.smc(0xC4000299, 7).name == "E_RMM_UNK/SMC_UNK"
    assert el3d.fid("EL3_FID_RMM_BOOT_COMPLETE") == 0xC40001CF
    with pytest.raises(ValueError, match="unknown FID"):
        c.smc("RMM_NO_SUCH_THING")
    with pytest.raises(el3d.El3dError) as e:
        c.smc("RMM_GTSI_DELEGATE", 0, cpu=99)
    assert "cpu" in e.value.details


def test_allocation_memory_and_state(el3d_client):
    c = el3d_client
    a = c.allocate(0x2000, align_bits=12, id=1)
    assert a.fresh and a.result == 1 and a.name == "FRESH(1)"
    c.write_memory(a.address, b"\xca\xfe\xf0\x0d")
    again = c.allocate(0x2000, align_bits=12, id=1)
    assert (again.result, again.address, again.fresh) == (0, a.address, False)
    assert c.allocate(0x4000, id=1).name == "E_RMM_NOMEM"
    assert_region(c, 1, size=0x2000, address=a.address, content=b"\xca\xfe\xf0\x0d")
    assert c.state().platform == "fvp"
    c.reset()
    assert c.region(1) is None


def test_a_tagged_region_survives_kill_9(el3d):
    a = el3d.client.allocate(0x3000, id=2)
    el3d.client.write_memory(a.address, b"persist")
    el3d.restart(kill=True)
    assert_region(el3d.client, 2, size=0x3000, address=a.address, content=b"persist")
    el3d.restart()
    assert el3d.client.allocate(0x3000, id=2).address == a.address


def test_a_session_boots_and_calls_and_frees_its_cpu(el3d_client):
    c = el3d_client
    with c.session(cpu=0) as s:
        assert s.entry.kind == "cold" and s.entry.x[2] == 8
        assert s.smc("RMM_BOOT_COMPLETE", 0, 0x55).ok
        with pytest.raises(el3d.El3dError):
            c.session(cpu=0)  # the CPU is held
    with c.session(cpu=0) as s:  # released: a new RMM instance
        assert s.entry.activation == 2


@pytest.mark.el3d_options(abi="tfa", options=["--seed", "1"])
def test_options_marker_and_reserve(el3d_client):
    c = el3d_client
    assert c.state().abi == "tfa"
    r = c.reserve(0x4000)
    assert r.ok and r[1] % 0x1000 == 0
    assert c.smc("RMM_GTSI_DELEGATE", 0x80000000).ok


@pytest.mark.skipif(not os.environ.get("MINI_RMM"), reason="MINI_RMM (examples/mini-rmm) not given")
def test_run_rmm_as_instance_1_then_2(el3d, run_rmm):
    first = run_rmm(os.environ["MINI_RMM"], instance=1)
    assert "instance=1" in first.stdout and "fresh=1" in first.stdout
    el3d.restart(kill=True)
    second = run_rmm(os.environ["MINI_RMM"], instance=2)
    assert "instance=2" in second.stdout and "fresh=0" in second.stdout
    assert_region(el3d.client, 1)


def test_factory_gives_independent_daemons(el3d_factory):
    a = el3d_factory()
    b = el3d_factory(platform="qemu")
    assert a.socket != b.socket
    assert b.client.state().platform == "qemu"
    a.client.allocate(0x1000, id=1)
    assert b.client.region(1) is None


def test_faults_and_snapshots(el3d_client):
    c = el3d_client
    rule = c.add_fault(fid="RMM_GTSI_DELEGATE", nth=2, result="E_RMM_BAD_PAS")
    assert rule["id"] and rule["fired"] == 0
    assert c.smc("RMM_GTSI_DELEGATE", 0x80000000).ok
    r = c.smc("RMM_GTSI_DELEGATE", 0x80001000)
    assert r.name == "E_RMM_BAD_PAS"
    assert c.faults()[0]["fired"] == 1
    assert c.clear_faults() == 1 and c.faults() == []
    assert c.smc("RMM_GTSI_DELEGATE", 0x80001000).ok  # the injected failure changed nothing
    with pytest.raises(el3d.El3dError) as e:
        c.add_fault(fid="RMM_GTSI_DELEGATE", result="E_RMM_NOMEM")  # not a result delegation can give
    assert "E_RMM_NOMEM" in e.value.details

    info = c.save_snapshot("two-delegated", note="from the test")
    assert info["name"] == "two-delegated" and info["note"] == "from the test"
    assert c.smc("RMM_GTSI_UNDELEGATE", 0x80000000).ok
    c.restore_snapshot("two-delegated")
    assert c.smc("RMM_GTSI_DELEGATE", 0x80000000).name == "E_RMM_BAD_PAS"  # delegated again, as saved
    assert [s["name"] for s in c.snapshots()] == ["two-delegated"]
    c.remove_snapshot("two-delegated")
    assert c.snapshots() == []
