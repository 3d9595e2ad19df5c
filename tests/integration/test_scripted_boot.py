#!/usr/bin/python3
"""The scripted boot of docs/boot.md, run for real: el3d (tfa ABI) driven by el3ctl only.

Boot CPU 0, read and check the Boot Manifest, reserve memory, delegate and undelegate, get the
realm key, fetch the platform token in hunks (with E_RMM_AGAIN injected) and verify it with the
independent verifier (cbor2 + cryptography), sign a hash through the asynchronous token-sign queue
and verify the signature, complete the boot with an activation token, warm-boot CPU 1, then restart
el3d and check that every piece of state is still there.
"""
import argparse
import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

ARGS = None
S = 0xFFBFF000  # FVP shared page
U64 = (1 << 64) - 1


def load_verifier():
    spec = importlib.util.spec_from_file_location("verify_platform_token", ARGS.verifier)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


class ScriptedBoot(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="el3d-sb-", dir="/tmp")
        self.sock = os.path.join(self.tmp, "el3d.sock")
        self.proc = None
        self.log = None

    def tearDown(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self.log:
            self.log.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def start(self, *extra):
        if self.log:
            self.log.close()
        self.log = log = open(os.path.join(self.tmp, "el3d.log"), "ab")
        self.proc = subprocess.Popen([ARGS.el3d, "--carveout", os.path.join(self.tmp, "c.img"), "--socket", self.sock,
                                      "--abi", "tfa", "--inject-again", "2", "--token-hunk-size", "300",
                                      "--sign-delay-ms", "1500", *extra],
                                     stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        self.ctl("wait", "--timeout", "15")

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.assertEqual(self.proc.wait(timeout=10), 0)

    def ctl(self, *args, rc=0):
        r = subprocess.run([ARGS.el3ctl, "--socket", self.sock, *args], stdin=subprocess.DEVNULL,
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, rc, "el3ctl %s: %s%s" % (" ".join(args), r.stdout, r.stderr))
        return r.stdout

    def regs(self, *args):
        out = self.ctl(*args).split()
        self.assertEqual(len(out), 8, out)
        return [int(f.split("=")[1], 16) for f in out]

    def smc(self, *args):
        return self.regs("smc", "--raw", *["%#x" % a if isinstance(a, int) else a for a in args])

    def mem(self, addr, n):
        return bytes.fromhex(self.ctl("mem", "read", "%#x" % addr, str(n)).strip())

    def status(self):
        return json.loads(self.ctl("status", "--json"))

    def test_scripted_boot_and_restart(self):
        self.start()
        self.scripted_boot_and_restart()

    def test_scripted_boot_replays_identically(self):
        """The same boot with --seed and a trace: `el3ctl replay` of it (restart included) is identical;
        replayed on a copy of the carveout as it ended, it diverges at the first call that sees it."""
        trace = os.path.join(self.tmp, "t.jsonl")
        seeded = ("--seed", "7", "--fixed-clock", "--trace", trace)
        self.start(*seeded)
        self.scripted_boot_and_restart(seeded)
        self.stop()
        r = subprocess.run([ARGS.el3ctl, "replay", trace], capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("identical", r.stdout)
        self.assertIn("1 restarts replayed", r.stdout)
        report = json.loads(subprocess.run([ARGS.el3ctl, "replay", "--json", trace], capture_output=True, text=True,
                                           timeout=120, check=True).stdout)
        self.assertTrue(report["identical"])
        self.assertEqual(report["entries"], 4)
        self.assertGreater(report["smcs"], 25)
        self.assertGreaterEqual(report["injected"], 2)  # --inject-again's E_RMM_AGAIN, answered as recorded
        self.assertEqual(report["notes"], [])
        # The scratch carveout of the replay is gone, the traced one untouched.
        before = open(os.path.join(self.tmp, "c.img"), "rb").read()
        # Replayed on the carveout as the run left it: the first boot entry already finds an RMM
        # instance that ran (activation 2, not 1).
        copy = os.path.join(self.tmp, "end.img")
        shutil.copyfile(os.path.join(self.tmp, "c.img"), copy)
        r = subprocess.run([ARGS.el3ctl, "replay", "--carveout", copy, trace], capture_output=True, text=True,
                           timeout=120)
        self.assertEqual(r.returncode, 3, r.stdout + r.stderr)
        self.assertIn("diverged at event #2", r.stdout)
        self.assertIn("entry cold", r.stdout)
        self.assertEqual(open(os.path.join(self.tmp, "c.img"), "rb").read(), before)
        # An edited trace: the first delegation's result changed; the divergence names it.
        lines = open(trace).read().splitlines()
        for i, line in enumerate(lines):
            ev = json.loads(line)
            if ev.get("name") == "RMM_GTSI_DELEGATE":
                ev["out"][0] = "0x1"
                lines[i] = json.dumps(ev)
                break
        edited = os.path.join(self.tmp, "edited.jsonl")
        with open(edited, "w") as f:
            f.write("\n".join(lines) + "\n")
        r = subprocess.run([ARGS.el3ctl, "replay", edited], capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 3, r.stdout + r.stderr)
        self.assertIn("RMM_GTSI_DELEGATE", r.stdout)
        self.assertIn("x0: expected 0x1 (", r.stdout)
        self.assertIn("got 0x0 (E_RMM_OK)", r.stdout)

    def scripted_boot_and_restart(self, start_args=()):
        seeded = "--seed" in start_args
        # Cold boot of CPU 0.
        x = self.regs("boot")
        self.assertEqual(x[:5], [0, 0x20000, 8, S, 0])
        man = json.loads(self.ctl("manifest", "--json"))
        self.assertTrue(man["valid"], man["problems"])
        self.assertEqual([(int(b["base"], 16), int(b["size"], 16)) for b in man["manifest"]["dram"]],
                         [(0x80000000, 0x7C000000), (0x880000000, 0x80000000)])
        # Memory for the RMM: 16 KiB, 4 KiB aligned, local CPU.
        r = self.smc(0xC40001BB, 0x4000, (12 << 56) | 1)
        self.assertEqual(r[0], 0)
        reserved = r[1]
        self.assertEqual(reserved % 0x1000, 0)
        # Delegation.
        self.assertEqual(self.smc(0xC40001B0, 0x80000000)[0], 0)
        self.assertEqual(self.smc(0xC40001B0, 0x80000000)[0], U64 - 2)  # E_RMM_BAD_PAS
        self.assertEqual(self.smc(0xC40001B0, 0x80010000)[0], 0)
        self.assertEqual(self.smc(0xC40001B1, 0x80000000)[0], 0)
        # TF-A's FVP GPT maps the TZC Secure region and EL3's Root memory (TZC DRAM, L1 GPT) granule
        # by granule: E_RMM_BAD_PAS there, E_RMM_BAD_ADDR above them (block-mapped).
        for pa in (0xFC000000, 0xFDBFF000, 0xFFC00000, 0xFFFFF000):
            self.assertEqual(self.smc(0xC40001B0, pa)[0], U64 - 2, hex(pa))
            self.assertEqual(self.smc(0xC40001B1, pa)[0], U64 - 2, hex(pa))
        self.assertEqual(self.smc(0xC40001B0, 0x100000000)[0], U64 - 1)
        # A buffer size that wraps past 2^64, a challenge larger than its buffer: E_RMM_INVAL, and
        # el3d is still serving.
        self.assertEqual(self.smc(0xC40001B2, S + 0xFF0, 0xFFFFFFFFFFFFF011, 0)[:2], [U64 - 4, 0xFFFFFFFFFFFFF011])
        self.assertEqual(self.smc(0xC40001B3, S + 0xFF0, 0x10, 64)[:3], [U64 - 4, 0x10, 0])
        self.assertEqual(self.smc(0xC40001B5, 3, S + 0xFF0, 0xFFFFFFFFFFFFF011, 0)[0], U64 - 4)
        self.assertEqual(self.smc(0xC40001B5, 2, S + 0xFF0, 0xFFFFFFFFFFFFF011)[0], U64 - 4)
        self.assertIsNone(self.proc.poll())
        # Realm attestation key.
        r = self.smc(0xC40001B2, S, 0x1000, 0)
        self.assertEqual(r[:2], [0, 48])
        scalar = self.mem(S, 48)
        # Platform token in hunks, retrying E_RMM_AGAIN.
        challenge = bytes(range(0x40, 0x70))
        self.ctl("mem", "write", "%#x" % S, challenge.hex())
        token, csize, agains = b"", 48, 0
        while True:
            r = self.smc(0xC40001B3, S, 0x1000, csize)
            if r[0] == U64 - 5:  # E_RMM_AGAIN
                agains += 1
                continue
            self.assertEqual(r[0], 0)
            self.assertLessEqual(r[1], 300)
            token += self.mem(S, r[1])
            csize = 0
            if r[2] == 0:
                break
        self.assertGreaterEqual(agains, 2)
        st = self.status()
        pub = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP384R1(), bytes.fromhex(st["platform_public_key"]))
        pem = pub.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        verifier = load_verifier()
        verifier.check_token(token, pem, challenge)  # raises on any problem
        with self.assertRaises(Exception):
            verifier.check_token(token[:-1] + bytes([token[-1] ^ 1]), pem, challenge)
        # Token signing through the asynchronous queue, checked against the RAK public key.
        r = self.smc(0xC40001B5, 3, S + 0x800, 0x100, 0)
        self.assertEqual(r[:2], [0, 97])
        rak_pub = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP384R1(), self.mem(S + 0x800, 97))
        self.assertEqual(rak_pub.public_numbers().x,
                         ec.derive_private_key(int.from_bytes(scalar, "big"), ec.SECP384R1()).public_key().public_numbers().x)
        digest = hashes.Hash(hashes.SHA384())
        digest.update(b"realm token")
        h = digest.finalize()
        req = (0).to_bytes(4, "little") + bytes(4) + (0x88000000).to_bytes(8, "little") + (77).to_bytes(8, "little") \
            + (1).to_bytes(4, "little") + bytes(4) + h + bytes(16)
        self.ctl("mem", "write", "%#x" % S, req.hex())
        self.assertEqual(self.smc(0xC40001B5, 1, S, 0x60)[0], 0)
        if not seeded:  # with a seed the signer answers in call order, at once
            self.assertEqual(self.smc(0xC40001B5, 2, S, 0x218)[0], U64 - 5)  # not signed yet: E_RMM_AGAIN
        for _ in range(200):  # the signer takes --sign-delay-ms (1.5 s)
            r = self.smc(0xC40001B5, 2, S, 0x218)
            if r[0] == 0:
                break
            time.sleep(0.05)
        self.assertEqual(r[0], 0)
        resp = self.mem(S, 0x218)
        self.assertEqual(int.from_bytes(resp[8:16], "little"), 77)
        self.assertEqual(int.from_bytes(resp[16:18], "little"), 96)
        sig = resp[18:18 + 96]
        from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
        rak_pub.verify(encode_dss_signature(int.from_bytes(sig[:48], "big"), int.from_bytes(sig[48:], "big")), h,
                       ec.ECDSA(Prehashed(hashes.SHA384())))
        # Boot complete with an activation token; warm boot of CPU 1.
        self.assertEqual(self.smc(0xC40001CF, 0, 0xfe000000)[0], 0)
        w = self.regs("boot", "--cpu", "1")
        self.assertEqual(w[:4], [1, 0, 0, 0])
        self.assertEqual(self.regs("smc", "--raw", "--cpu", "1", "0xC40001CF", "0", "0xfe001000")[0], 0)
        before = self.status()
        self.assertEqual(before["gpt"]["realm"], 0x2000000 // 0x1000 + 1)
        self.assertEqual((before["gpt"]["secure"], before["gpt"]["root"]), (0x1C00000 // 0x1000, 0x400000 // 0x1000))

        # Restart el3d: everything is still there.
        self.stop()
        self.start(*start_args)
        after = self.status()
        for k in ("gpt", "realm_public_key", "platform_public_key", "regions", "activation"):
            self.assertEqual(after[k], before[k], k)
        self.assertEqual([(c["cpu"], c["token"], c["state"]) for c in after["cpus"]],
                         [(0, 0xfe000000, "booted"), (1, 0xfe001000, "booted")])
        self.assertEqual(self.smc(0xC40001B0, 0x80010000)[0], U64 - 2)  # still delegated
        # The next cold boot (a new RMM instance) gets CPU 0's token back in x4, CPU 1's in x1.
        x = self.regs("boot")
        self.assertEqual(x[4], 0xfe000000)
        self.assertEqual(self.regs("boot", "--cpu", "1")[1], 0xfe001000)
        self.assertEqual(self.status()["activation"], before["activation"] + 1)

    def test_premarked_range_is_not_reapplied_on_restart(self):
        cfg = os.path.join(self.tmp, "premark.toml")
        with open(cfg, "w") as f:
            f.write('[[gpt]]\nbase = 0x80100000\nsize = "8K"\npas = "realm"\n'
                    '[[gpt]]\nbase = 0x80200000\nsize = "4K"\npas = "root"\n')
        self.start("--boot-config", cfg)
        self.regs("boot")
        self.assertEqual(self.smc(0xC40001B0, 0x80200000)[0], U64 - 2)  # Root: E_RMM_BAD_PAS
        self.assertEqual(self.smc(0xC40001B1, 0x80100000)[0], 0)       # the RMM undelegates a pre-marked granule
        self.stop()
        self.start("--boot-config", cfg)
        self.assertEqual(self.smc(0xC40001B1, 0x80100000)[0], U64 - 2)  # still Non-secure after the restart
        self.assertEqual(self.smc(0xC40001B1, 0x80101000)[0], 0)        # its neighbour is still Realm
        self.assertEqual(self.smc(0xC40001B0, 0x80200000)[0], U64 - 2)
        self.ctl("reset")                                               # a reset applies the pre-marks again
        self.assertEqual(self.smc(0xC40001B1, 0x80100000)[0], 0)

    def test_broken_manifest_and_failed_boot(self):
        self.start()
        cfg = os.path.join(self.tmp, "broken.toml")
        with open(cfg, "w") as f:
            f.write('faults = ["dram-checksum", "cpu-count"]\n')
        x = self.regs("boot", "--config", cfg)
        self.assertEqual(x[2], 4097)
        out = self.ctl("manifest", rc=3)
        self.assertIn("E_RMM_BOOT_MANIFEST_DATA_ERROR", out)
        # The RMM reports the failure: the Realm world is disabled, status names the error.
        self.assertEqual(self.smc(0xC40001CF, -3 & U64)[0], 0)
        self.assertEqual(self.smc(0xC40001B4, 0)[0], U64)  # SMC_UNK from now on
        st = self.status()
        self.assertEqual(st["boot_failure"]["name"], "E_RMM_BOOT_CPUS_OUT_OF_RANGE")
        self.assertIn("E_RMM_BOOT_CPUS_OUT_OF_RANGE", self.ctl("status"))
        self.ctl("boot", rc=3)
        self.ctl("reset")
        self.assertEqual(self.regs("boot")[2], 8)
        self.assertEqual(json.loads(self.ctl("manifest", "--json"))["valid"], True)


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--el3d", required=True)
    p.add_argument("--el3ctl", required=True)
    p.add_argument("--verifier", required=True)
    ARGS, rest = p.parse_known_args()
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)
