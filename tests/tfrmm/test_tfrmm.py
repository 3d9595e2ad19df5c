#!/usr/bin/python3
"""TF-RMM's own host program (rmm_core.elf, built by build_tfrmm.sh with the one documented CMake
line) against the real el3d daemon over a real socket.

- It boots through el3d and runs TF-RMM's own host flow (the realm life cycle of its main()) to
  exit 0; every SMC goes to el3d; its granules' delegations land in el3d's GPT; its output matches
  its stand-alone run (EL3D_TFRMM=off: TF-RMM's in-tree EL3 stubs) except for the documented lines.
- Run twice on one carveout, the second run is a new activation that reuses the first one's state
  (activation token in x4, no new reservation); the same after kill -9 of el3d between the runs and
  after kill -9 of the RMM in the middle of its boot.
- EL3D_TFRMM_CPUS=all boots every CPU of el3d's platform (cold, then warm) before the host flow.
- Snapshots (docs/snapshots.md): TF-RMM booted once, the carveout saved; the state changed (a second
  activation, a reservation, a delegation); restored, el3d's state is the snapshot's and TF-RMM boots
  from it again as the second activation, twice over.
- A daemon with the seed ABI is refused by TF-RMM's version check, and the process ends (no hang).
"""
import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

ARGS = None

# Lines of TF-RMM's output that differ from its stand-alone run, and why (docs/client.md lists them):
# el3d's Boot Manifest lists no SMMU (el3d backs no SMMU registers), so TF-RMM's SMMUv3 driver reports
# that it has nothing to initialise; the stand-alone run uses the host harness's fake SMMU pages.
EXPECTED_ONLY_WITH_EL3D = ["SMMUv3: Failed to initialize driver"]
EXPECTED_ONLY_STANDALONE = []


def normalise(out):
    """TF-RMM's stdout without what differs from run to run (build time, the SPDM emulator's chatter)."""
    lines = []
    for line in out.splitlines():
        if line.startswith("Invalid DOE VDM header"):
            continue
        lines.append(re.sub(r" Built: .*", " Built: <time>", line))
    return lines


class TfRmm(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="el3d-tfrmm-", dir="/tmp")
        self.sock = os.path.join(self.tmp, "el3d.sock")
        self.carveout = os.path.join(self.tmp, "c.img")
        self.daemon = None
        self.log = open(os.path.join(self.tmp, "el3d.log"), "ab")

    def tearDown(self):
        self.stop_daemon()
        self.log.close()
        if self._outcome_failed():
            with open(os.path.join(self.tmp, "el3d.log"), "rb") as f:
                sys.stderr.write("--- el3d log\n" + f.read().decode(errors="replace")[-8000:])
        shutil.rmtree(self.tmp, ignore_errors=True)

    def _outcome_failed(self):
        result = getattr(self._outcome, "result", None)
        return result is not None and any(t is self for t, _ in result.failures + result.errors)

    # ---- the daemon, exactly as a user starts it for TF-RMM
    def start_daemon(self, *extra):
        self.daemon = subprocess.Popen([ARGS.el3d, "--abi", "tfa", "--socket", self.sock, "--carveout",
                                        self.carveout, *extra],
                                       stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log)
        r = subprocess.run([ARGS.el3ctl, "--socket", self.sock, "wait", "--timeout", "15"], capture_output=True)
        self.assertEqual(r.returncode, 0, r.stderr)

    def stop_daemon(self, sig=signal.SIGTERM):
        if self.daemon and self.daemon.poll() is None:
            self.daemon.send_signal(sig)
            self.daemon.wait(timeout=30)
        self.daemon = None

    def status(self):
        r = subprocess.run([ARGS.el3ctl, "--socket", self.sock, "status", "--json"], capture_output=True,
                           text=True, check=True)
        return json.loads(r.stdout)

    # ---- TF-RMM's program, from its output directory (its EL0 apps beside it)
    def rmm(self, env_extra=None, timeout=300, tfrmm_dir=None):
        """Run rmm_core.elf to its end. Its output goes to files: TF-RMM's SPDM responder emulator, a
        child it starts, may outlive an RMM that exits early and would hold a pipe open; the process
        group (the RMM and its children) is killed afterwards so that nothing is left running."""
        env = dict(os.environ, EL3D_ENDPOINT="unix:" + self.sock)
        env.update(env_extra or {})
        out_path, err_path = os.path.join(self.tmp, "rmm.out"), os.path.join(self.tmp, "rmm.err")
        with open(out_path, "wb") as out, open(err_path, "wb") as err:
            p = subprocess.Popen(["./rmm_core.elf"], cwd=tfrmm_dir or ARGS.tfrmm_dir, env=env,
                                 stdin=subprocess.DEVNULL, stdout=out, stderr=err, start_new_session=True)
            try:
                rc = p.wait(timeout=timeout)
            finally:
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                p.wait()
        def read(path):
            with open(path, encoding="utf-8", errors="replace") as f:
                return f.read()
        return subprocess.CompletedProcess(p.args, rc, read(out_path), read(err_path))

    def rmm_ok(self, env_extra=None):
        r = self.rmm(env_extra)
        self.assertEqual(r.returncode, 0, "rmm_core.elf failed:\n%s\n%s" % (r.stdout[-4000:], r.stderr[-4000:]))
        self.assertIn("el3d-tfrmm: cold boot of CPU 0 through el3d", r.stderr)
        self.assert_transport()
        return r

    def assert_transport(self):
        """TF-RMM's SMCs went through the shared-memory fast path, unless EL3D_FASTPATH turns it off."""
        with open(os.path.join(self.tmp, "el3d.log"), encoding="utf-8", errors="replace") as f:
            log = f.read()
        want = os.environ.get("EL3D_FASTPATH", "1") not in ("0", "off", "no", "false")
        self.assertEqual("session on the shared-memory fast path" in log, want, log[-3000:])

    def served(self, r):
        m = re.search(r"el3d-tfrmm: (\d+) SMCs served by el3d, (\d+) by TF-RMM's in-tree stubs", r.stderr)
        self.assertIsNotNone(m, r.stderr)
        return int(m.group(1)), int(m.group(2))

    def cpu(self, st, n):
        for c in st.get("cpus", []):
            if c.get("cpu", 0) == n:
                return c
        self.fail("cpu %d not in status: %r" % (n, st.get("cpus")))

    # ---- scenarios
    def test_host_flow_through_el3d(self):
        self.start_daemon()
        before = self.status()
        r = self.rmm_ok()
        after = self.status()
        el3d_calls, stub_calls = self.served(r)
        self.assertEqual(stub_calls, 0)
        self.assertGreater(el3d_calls, 50)
        self.assertEqual(int(after["smc_calls"]) - int(before.get("smc_calls", 0)), el3d_calls)
        # Boot: reservations from el3d's carveout, a successful RMM_BOOT_COMPLETE with a token.
        self.assertGreater(len(after.get("regions", [])), 0)
        c0 = self.cpu(after, 0)
        self.assertEqual(int(c0.get("boot_result", 0)), 0, c0)
        self.assertNotEqual(int(c0.get("token", 0)), 0, c0)
        self.assertEqual(int(after["activation"]), 1)
        # The host flow's delegations landed in el3d's GPT, in the host DRAM (el3d's first DRAM bank), each
        # one a success; what it undelegated again had been delegated; what it left delegated (TF-RMM's host
        # teardown leaves some) is exactly what el3d's GPT holds in the Realm PAS beyond the carveout.
        with open(os.path.join(self.tmp, "el3d.log"), encoding="utf-8", errors="replace") as f:
            log = f.read()
        gpi = re.findall(r"FIRME_GM_GPI_SET\((0x[0-9a-f]+), count 1, GPI (0x[0-9a-f]+)\) -> (\S+)", log)
        self.assertEqual([g for g in gpi if g[2] != "FIRME_SUCCESS"], [], "a GPI_SET failed")
        delegated = [a for a, gpi_, _ in gpi if gpi_ == "0xb"]
        undelegated = [a for a, gpi_, _ in gpi if gpi_ == "0x9"]
        self.assertGreater(len(delegated), 5)
        self.assertEqual(len(set(delegated)), len(delegated), "a granule was delegated twice")
        self.assertTrue(set(undelegated) <= set(delegated))
        dram = after["dram"][0]
        for a in delegated:
            self.assertTrue(int(dram["base"]) <= int(a, 16) < int(dram["base"]) + int(dram["size"]), a)
        self.assertEqual(int(after["gpt"]["realm"]) - int(before["gpt"]["realm"]), len(delegated) - len(undelegated))
        # What TF-RMM printed matches its stand-alone run, but for the documented lines.
        alone = self.rmm({"EL3D_TFRMM": "off"})
        self.assertEqual(alone.returncode, 0, alone.stdout[-2000:] + alone.stderr[-2000:])
        self.assertNotIn("el3d-tfrmm: cold boot", alone.stderr)
        with_el3d, standalone = normalise(r.stdout), normalise(alone.stdout)
        self.assertEqual([l for l in with_el3d if l not in standalone], EXPECTED_ONLY_WITH_EL3D)
        self.assertEqual([l for l in standalone if l not in with_el3d], EXPECTED_ONLY_STANDALONE)
        self.assertEqual([l for l in with_el3d if l not in EXPECTED_ONLY_WITH_EL3D],
                         [l for l in standalone if l not in EXPECTED_ONLY_STANDALONE])

    def test_recorded_boot_replays_identically(self):
        # TF-RMM's boot and a second activation (a live activation's new instance) recorded by an el3d
        # with a seed; `el3ctl replay` re-issues every call in process and finds the same answers, the
        # same changes and the same bytes written (keys, platform token, signatures).
        trace = os.path.join(self.tmp, "t.jsonl")
        self.start_daemon("--seed", "3", "--fixed-clock", "--trace", trace)
        first = self.rmm_ok()
        self.rmm_ok()
        self.stop_daemon()
        calls = self.served(first)[0]
        r = subprocess.run([ARGS.el3ctl, "replay", "--json", trace], capture_output=True, text=True, timeout=300)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        report = json.loads(r.stdout)
        self.assertTrue(report["identical"], report)
        self.assertGreaterEqual(report["smcs"], 2 * calls - 10)
        self.assertGreaterEqual(report["entries"], 2)
        self.assertEqual(report["notes"], [])
        # The trace has what makes it replayable: the start event, and what the attestation calls read.
        with open(trace) as f:
            events = [json.loads(l) for l in f]
        self.assertEqual(events[0]["kind"], "start")
        self.assertEqual(events[0]["config"]["monitor"]["seed"], 3)
        self.assertTrue(any(e.get("mem_out") for e in events), "no call wrote memory")
        # A different seed is a different EL3: its keys differ, and the replay says where.
        for e in events:
            if e["kind"] == "start":
                e["config"]["monitor"]["seed"] = 4
        other = os.path.join(self.tmp, "seed4.jsonl")
        with open(other, "w") as f:
            f.write("".join(json.dumps(e) + "\n" for e in events))
        r = subprocess.run([ARGS.el3ctl, "replay", other], capture_output=True, text=True, timeout=300)
        self.assertEqual(r.returncode, 3, r.stdout + r.stderr)
        self.assertIn("memory written: expected", r.stdout)

    def check_second_activation(self, first, env_extra=None):
        """Run TF-RMM again: a new activation that gets the tokens back and reserves nothing new."""
        tokens = {c["cpu"]: int(c.get("token", 0)) for c in first.get("cpus", [])}
        self.rmm_ok(env_extra)
        second = self.status()
        self.assertEqual(int(second["activation"]), int(first["activation"]) + 1)
        self.assertEqual(len(second["regions"]), len(first["regions"]), "the second RMM reserved memory")
        for c in second["cpus"]:
            if tokens.get(c["cpu"]):
                self.assertEqual(int(c["token"]), tokens[c["cpu"]], c)
        return second

    def test_second_run_reuses_state(self):
        self.start_daemon()
        self.rmm_ok()
        self.check_second_activation(self.status())

    def test_second_run_reports_reuse(self):
        # The same TF-RMM built with -DLOG_LEVEL=40 says what it does: the first run reserves its memory
        # from el3d, the second reuses the first one's global data and reserves nothing.
        self.start_daemon()
        first = self.rmm(tfrmm_dir=ARGS.tfrmm_info_dir)
        self.assertEqual(first.returncode, 0, first.stdout[-3000:] + first.stderr[-3000:])
        self.assertIn("Reserve mem: ", first.stdout)
        self.assertNotIn("Reusing global data", first.stdout)
        second = self.rmm(tfrmm_dir=ARGS.tfrmm_info_dir)
        self.assertEqual(second.returncode, 0, second.stdout[-3000:] + second.stderr[-3000:])
        self.assertIn("Reusing global data already allocated by previous RMM", second.stdout)
        self.assertNotIn("Reserve mem: ", second.stdout)
        self.assertIn("activation 2, token 0x", second.stderr)

    def el3ctl(self, *args):
        r = subprocess.run([ARGS.el3ctl, "--socket", self.sock, *args], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, "el3ctl %s: %s%s" % (" ".join(args), r.stdout, r.stderr))
        return r.stdout

    def test_boots_again_from_a_snapshot(self):
        self.start_daemon()
        self.rmm_ok()
        booted = self.status()
        self.assertIn("snapshot 'tfrmm-booted' saved", self.el3ctl("snapshot", "save", "tfrmm-booted"))
        def fixed(st):
            # What the snapshot holds (counters of the daemon's own life, sessions and RMIs aside).
            return (st["activation"], st["epoch"], st["regions"], st["gpt"], st.get("boot_failure"),
                    [(c["cpu"], c.get("state"), c.get("token"), c.get("completions"), c.get("entries"))
                     for c in st.get("cpus", [])])
        for run in range(2):
            # Change the state: TF-RMM's second activation, a reservation and a delegation by hand.
            self.rmm_ok()
            self.el3ctl("smc", "0xC40001BB", "0x4000", "0x0c00000000000001")      # RMM_RESERVE_MEMORY
            self.el3ctl("smc", "0xC4000402", "0x80400000", "1", "0xb")           # FIRME_GM_GPI_SET: Realm
            changed = self.status()
            self.assertNotEqual(fixed(changed), fixed(booted))
            out = self.el3ctl("snapshot", "restore", "tfrmm-booted")
            self.assertIn("restored", out)
            self.assertEqual(fixed(self.status()), fixed(booted), "run %d: not the snapshot's state" % run)
            # TF-RMM boots from it as the snapshot's next activation, with the snapshot's tokens.
            self.check_second_activation(booted)

    def test_second_run_after_kill_9_of_el3d(self):
        self.start_daemon()
        self.rmm_ok()
        first = self.status()
        self.stop_daemon(signal.SIGKILL)
        self.start_daemon()
        self.check_second_activation(first)

    def test_rmm_killed_mid_boot(self):
        self.start_daemon()
        self.rmm_ok()
        first = self.status()
        # A daemon that keeps answering E_RMM_AGAIN to the platform token holds TF-RMM in its boot
        # (after its reservations, before RMM_BOOT_COMPLETE): kill -9 it there.
        self.stop_daemon()
        self.start_daemon("--inject-again", "1000000000")
        env = dict(os.environ, EL3D_ENDPOINT="unix:" + self.sock)
        p = subprocess.Popen(["./rmm_core.elf"], cwd=ARGS.tfrmm_dir, env=env, stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.time() + 60
        while time.time() < deadline:
            st = self.status()
            if int(st["activation"]) == 2 and int(st["smc_calls"]) > 1000:
                break
            time.sleep(0.2)
        self.assertEqual(int(st["activation"]), 2)
        self.assertEqual(int(self.cpu(st, 0).get("completions", 0)), int(self.cpu(first, 0).get("completions", 0)))
        os.killpg(p.pid, signal.SIGKILL)  # the RMM and its SPDM responder emulator
        p.wait()
        self.stop_daemon()
        self.start_daemon()
        # The killed instance never completed its boot: the next one is activation 3, with CPU 0's token
        # from activation 1, and finds activation 1's state.
        third = self.status()
        self.rmm_ok()
        final = self.status()
        self.assertEqual(int(final["activation"]), 3)
        self.assertEqual(len(final["regions"]), len(first["regions"]))
        self.assertEqual(int(self.cpu(final, 0)["token"]), int(self.cpu(first, 0)["token"]))
        del third

    def test_rmm_killed_mid_first_boot(self):
        # Killed before its first boot completed (token 0): the next instance reserves anew and boots.
        self.start_daemon("--inject-again", "1000000000")
        env = dict(os.environ, EL3D_ENDPOINT="unix:" + self.sock)
        p = subprocess.Popen(["./rmm_core.elf"], cwd=ARGS.tfrmm_dir, env=env, stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.time() + 60
        while time.time() < deadline and int(self.status()["smc_calls"]) < 1000:
            time.sleep(0.2)
        killed = self.status()
        self.assertGreater(len(killed["regions"]), 0)
        os.killpg(p.pid, signal.SIGKILL)  # the RMM and its SPDM responder emulator
        p.wait()
        self.stop_daemon()
        self.start_daemon()
        self.rmm_ok()
        st = self.status()
        self.assertGreater(len(st["regions"]), len(killed["regions"]))
        self.assertEqual(int(self.cpu(st, 0).get("boot_result", 0)), 0)
        self.check_second_activation(st)

    def test_every_cpu_cold_then_warm(self):
        self.start_daemon()
        r = self.rmm_ok({"EL3D_TFRMM_CPUS": "all"})
        st = self.status()
        n = int(st["core_count"])
        self.assertIn("el3d-tfrmm: CPUs 1..%d booted warm" % (n - 1), r.stderr)
        done = [c for c in st["cpus"] if int(c.get("completions", 0)) == 1 and int(c.get("token", 0)) != 0]
        self.assertEqual(len(done), n, st["cpus"])
        if "TF-RMM main" in r.stderr:  # the token is each CPU's own per-CPU region
            self.assertEqual(len({int(c["token"]) for c in done}), n, "per-CPU regions must differ")
        else:                           # v0.9.0: every CPU returns the glob_data token
            self.assertEqual(len({int(c["token"]) for c in done}), 1, st["cpus"])
        self.check_second_activation(st, {"EL3D_TFRMM_CPUS": "all"})

    def test_seed_abi_is_refused_not_hung(self):
        # The seed ABI (interface 0.6) has no RMM_RESERVE_MEMORY: the per-CPU region, TF-RMM main's first
        # reservation (made before any version check, as on hardware), fails, the RMM reports
        # E_RMM_BOOT_NO_MEM in RMM_BOOT_COMPLETE, and the process ends instead of spinning in panic().
        # v0.9.0 has no per-CPU reservation and fails its interface version check instead.
        self.daemon = subprocess.Popen([ARGS.el3d, "--socket", self.sock, "--carveout", self.carveout],
                                       stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log)
        subprocess.run([ARGS.el3ctl, "--socket", self.sock, "wait", "--timeout", "15"], check=True)
        r = self.rmm(timeout=60)
        self.assertEqual(r.returncode, 1, r.stderr)
        st = self.status()
        if "TF-RMM main" in r.stderr:
            self.assertIn("start it with --abi tfa", r.stderr)
            self.assertIn("RMM_BOOT_COMPLETE x1 = -8", r.stderr)
            self.assertEqual(int(self.cpu(st, 0)["boot_result"]), -8)
        else:  # v0.9.0 reserves nothing before its version check: E_RMM_BOOT_VERSION_NOT_VALID
            self.assertIn("RMM_BOOT_COMPLETE x1 = -2", r.stderr)
            self.assertEqual(int(self.cpu(st, 0)["boot_result"]), -2)

    def test_no_daemon_is_a_clear_error(self):
        r = self.rmm(timeout=60)
        self.assertEqual(r.returncode, 1)
        self.assertIn("cannot reach el3d", r.stderr)


def main():
    global ARGS
    ap = argparse.ArgumentParser()
    ap.add_argument("--el3d", required=True)
    ap.add_argument("--el3ctl", required=True)
    ap.add_argument("--tfrmm-dir", required=True, help="TF-RMM's output directory (rmm_core.elf, EL0 apps)")
    ap.add_argument("--tfrmm-info-dir", required=True, help="the same TF-RMM built with -DLOG_LEVEL=40")
    ARGS, rest = ap.parse_known_args()
    if not os.path.exists(os.path.join(ARGS.tfrmm_dir, "rmm_core.elf")):
        sys.exit("no rmm_core.elf in %s: run build_tfrmm.sh first" % ARGS.tfrmm_dir)
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)


if __name__ == "__main__":
    main()
