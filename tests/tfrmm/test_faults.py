#!/usr/bin/python3
"""Fault injection against TF-RMM's own code: rmm_core.elf in serve mode (as in test_world_switch.py, whose
helpers this uses), el3d started with a --faults file that hides FIRME (FIRME_BASE_VERSION answers SMC_UNK, so
TF-RMM delegates with the legacy RMM_GTSI_DELEGATE, as on a TF-A without FIRME), and rules added while it runs
with el3ctl, the documented command:

- `el3ctl fault add --fid RMM_GTSI_DELEGATE --nth 3 --result E_RMM_BAD_PAS`: the Non-secure side's 3rd
  RMI_GRANULE_RANGE_DELEGATE gets TF-RMM's answer to that EL3 error (RMI_ERROR_INPUT, x1 = the granule: nothing
  delegated), el3d's GPT still has the granule Non-secure, the trace marks the call injected by the rule, and a
  retry delegates it (TF-RMM's granule state did not move either).
- `el3ctl fault add --fid RMM_GTSI_DELEGATE --nth 1 --kill`: rmm_core.elf dies at that SMC (its session with
  el3d ends), the Non-secure caller's RMI is ABORTED, el3d keeps running with the granule Non-secure, and a new
  rmm_core.elf serves the next delegation on the same CPU.
"""
import os
import subprocess
import sys
import time
import unittest

import grpc

import test_world_switch as ws


class Faults(ws.WorldSwitch):
    def el3d_args(self):
        rules = os.path.join(self.tmp, "faults.toml")
        with open(rules, "w") as f:
            f.write('[[faults]]\nid = "no-firme"\nfid = "FIRME_BASE_VERSION"\nalways = true\nresult = "SMC_UNK"\n')
        return ["--faults", rules]

    def el3ctl(self, *args):
        r = subprocess.run([ws.ARGS.el3ctl, "--socket", self.sock, *args], capture_output=True, text=True)
        ws.log("el3ctl %s -> %d %s%s" % (" ".join(args), r.returncode, r.stdout.strip(), r.stderr.strip()))
        self.assertEqual(r.returncode, 0, r.stderr)
        return r.stdout

    def events(self):
        import json
        with open(self.trace) as f:
            return [json.loads(line) for line in f if line.strip()]

    def gtsi_calls(self):
        return [e for e in self.events() if e.get("kind") == "smc" and e.get("name") == "RMM_GTSI_DELEGATE"]

    def activate(self):
        """RMI_RMM_CONFIG_GET/SET and RMI_RMM_ACTIVATE, as the host flow starts (granule 0 is the config buffer):
        TF-RMM refuses delegations before (RMI_ERROR_GLOBAL)."""
        config_buf = self.granule(0)
        self.rmi("RMM_CONFIG_GET", config_buf)
        self.rmi("RMM_CONFIG_SET", config_buf)
        self.rmi("RMM_ACTIVATE")

    def test_third_delegate_fails_with_bad_pas(self):
        self.start_rmm()
        self.activate()
        self.el3ctl("fault", "add", "--id", "d3", "--fid", "RMM_GTSI_DELEGATE", "--nth", "3", "--result",
                    "E_RMM_BAD_PAS")
        g = [self.granule(i) for i in range(1, 4)]
        self.delegate(g[0], "(1st RMM_GTSI_DELEGATE)")
        self.delegate(g[1], "(2nd)")
        before = self.realm_granules()
        r = self.rmi("GRANULE_RANGE_DELEGATE", g[2], g[2] + ws.GRANULE, expect=ws.rmi_code(ws.RMI_ERROR_INPUT),
                     what="(3rd: E_RMM_BAD_PAS injected)")
        self.assertEqual(r.x1, g[2], "x1: TF-RMM delegated nothing")
        self.assert_ns(g[2])
        self.assertEqual(self.realm_granules(), before, "el3d's GPT changed after an injected failure")
        # TF-RMM kept the granule Non-secure too: the 4th delegation (of the same granule) succeeds.
        self.delegate(g[2], "(4th: served)")
        for a in g:
            self.undelegate(a)
        calls = self.gtsi_calls()
        self.assertEqual(len(calls), 4, "TF-RMM delegated through RMM_GTSI_DELEGATE (FIRME hidden)")
        injected = [e for e in calls if e.get("injected")]
        self.assertEqual(len(injected), 1)
        self.assertEqual(injected[0]["result"], "E_RMM_BAD_PAS")
        self.assertEqual(injected[0]["in"][0], "0x%x" % g[2])
        self.assertEqual(injected[0]["note"], "injected by fault rule d3")
        self.assertEqual(calls[2], injected[0])
        self.assertFalse([e for e in self.events() if e.get("name") == "FIRME_GM_GPI_SET"])
        listing = self.el3ctl("fault", "list")
        self.assertIn("d3: RMM_GTSI_DELEGATE any cpu nth 3 -> E_RMM_BAD_PAS  [picked 4, fired 1]", listing)
        self.assertIn("no-firme: FIRME_BASE_VERSION any cpu always -> SMC_UNK", listing)

    def test_kill_makes_the_rmm_die_at_that_smc(self):
        rmm = self.start_rmm()
        self.activate()
        self.el3ctl("fault", "add", "--id", "crash", "--fid", "RMM_GTSI_DELEGATE", "--nth", "1", "--kill")
        g = self.granule(1)
        with self.assertRaises(grpc.RpcError) as cm:
            self.rmi_raw(ws.F["GRANULE_RANGE_DELEGATE"], g, g + ws.GRANULE, timeout=60)
        ws.log("RMI_GRANULE_RANGE_DELEGATE with the RMM killed at its SMC -> %s %s" %
               (cm.exception.code(), cm.exception.details()))
        self.assertEqual(cm.exception.code(), grpc.StatusCode.ABORTED)
        rc = rmm.wait(timeout=60)
        ws.log("rmm_core.elf exited with %d" % rc)
        self.assertNotEqual(rc, 0)
        with open(self.rmm_err, encoding="utf-8", errors="replace") as f:
            self.assertIn("the session with el3d broke", f.read())
        self.assertIsNone(self.daemon.poll(), "el3d stopped")
        self.wait_cpu0(lambda c: not c.session, "released its session")
        self.assert_ns(g)
        killed = [e for e in self.gtsi_calls() if e.get("injected")]
        self.assertEqual(len(killed), 1)
        self.assertEqual((killed[0]["result"], killed[0]["note"]), ("killed", "session killed by fault rule crash"))
        # The rule fired once (nth 1): a new RMM on the same CPU is served as usual. It is a live activation that
        # finds the first instance's state, ACTIVE included (no RMM_ACTIVATE again).
        self.start_rmm()
        self.delegate(g, "(a new rmm_core.elf)")
        self.undelegate(g)


def load_tests(loader, tests, pattern):
    # Only this file's tests, not the world switch's it inherits.
    return loader.loadTestsFromNames(["test_third_delegate_fails_with_bad_pas", "test_kill_makes_the_rmm_die_at_that_smc"],
                                     Faults)


def main():
    import argparse
    import shutil
    import tempfile
    ap = argparse.ArgumentParser()
    ap.add_argument("--el3d", required=True)
    ap.add_argument("--el3ctl", required=True)
    ap.add_argument("--tfrmm-dir", required=True, help="TF-RMM's output directory (rmm_core.elf, EL0 apps)")
    ap.add_argument("--proto-dir", required=True, help="el3d's proto/ directory")
    ws.ARGS, rest = ap.parse_known_args()
    if not os.path.exists(os.path.join(ws.ARGS.tfrmm_dir, "rmm_core.elf")):
        sys.exit("no rmm_core.elf in %s: run build_tfrmm.sh first" % ws.ARGS.tfrmm_dir)
    gen = tempfile.mkdtemp(prefix="el3d-faultsgen-")
    try:
        ws.generate(ws.ARGS.proto_dir, gen)
        from el3d.v1 import monitor_pb2
        ws.pb = monitor_pb2
        prog = unittest.main(argv=[sys.argv[0]] + rest, verbosity=2, exit=False)
    finally:
        shutil.rmtree(gen, ignore_errors=True)
    sys.exit(0 if prog.result.wasSuccessful() else 1)


if __name__ == "__main__":
    main()
