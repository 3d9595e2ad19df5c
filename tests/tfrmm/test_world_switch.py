#!/usr/bin/python3
"""The world switch: a Non-secure program (this test, through el3d's gRPC API alone) sends RMIs
through el3d (`Rmi`) to TF-RMM's own code running in another process (rmm_core.elf with
EL3D_TFRMM_SERVE=1, booted through el3d with --abi tfa, serving RMIs from its RMM_BOOT_COMPLETE /
RMM_RMI_REQ_COMPLETE).

- RMI_VERSION: TF-RMM's answer for a supported and an unsupported revision (runtime/rmi/version.c).
- A realm's whole life, in the order TF-RMM's host flow and the RMM spec use (plat/host/host_build/
  src/host_setup.c): RMM_CONFIG_GET/SET, RMM_ACTIVATE, GRANULE_RANGE_DELEGATE, REALM_CREATE with
  realm params written into NS memory with WriteMemory, RTT_CREATE L1..L3, REC_CREATE as a
  Stateful RMI Operation (the REC's aux granules donated with OP_MEM_DONATE, OP_CONTINUE),
  REALM_ACTIVATE; then REC_DESTROY (OP_MEM_RECLAIM gives the aux granules back, OP_CONTINUE),
  RTT_DESTROY L3..L1, REALM_TERMINATE, REALM_DESTROY, GRANULE_RANGE_UNDELEGATE of every granule.
  Each result code checked, and deliberate errors with their exact code and index.
- el3d's GPT follows every delegation: ReadMemory of a delegated granule is PERMISSION_DENIED,
  readable again after its undelegation; GetState's "realm" granule count moves by one each time.
- The RMM killed while it holds an RMI: the caller gets ABORTED promptly; a new rmm_core.elf (a new
  activation on the same carveout) serves the next RMI. fail_fast without a waiting RMM is
  UNAVAILABLE; a FID outside the RMI range is answered SMC_UNK by el3d itself (forwarded false).
- Queueing: an RMI waits for an RMM that starts later; a caller whose deadline passes while the RMM
  holds its RMI gets DEADLINE_EXCEEDED and the late result is dropped; the bounded per-CPU queue
  answers RESOURCE_EXHAUSTED when full, and every queued caller gets its own result.

Every layout and FID below is from TF-RMM's lib/smc/include/smc-rmi.h of the bundled revision
(tf-rmm-9a7f8ef); with --tfrmm-src the FIDs are checked against that header at run time.
"""
import argparse
import json
import os
import re
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
import unittest

import grpc

ARGS = None
pb = None  # el3d.v1.monitor_pb2, generated at run time

GRANULE = 0x1000
SMC_UNK = 0xFFFFFFFFFFFFFFFF

# ---- FIDs: SMC64_RMI_FID(offset) = 0xC4000150 + offset (lib/smc/include/smc-rmi.h)
RMI_BASE = 0xC4000150
FIDS = {
    "VERSION": 0x00,
    "REALM_ACTIVATE": 0x07,
    "REALM_CREATE": 0x08,
    "REALM_DESTROY": 0x09,
    "REC_CREATE": 0x0A,
    "REC_DESTROY": 0x0B,
    "RTT_CREATE": 0x0D,
    "RTT_DESTROY": 0x0E,
    "FEATURES": 0x15,
    "RMM_CONFIG_SET": 0x1E,
    "RMM_CONFIG_GET": 0x9C,
    "GRANULE_RANGE_DELEGATE": 0xA1,
    "GRANULE_RANGE_UNDELEGATE": 0xA2,
    "REALM_TERMINATE": 0xB1,
    "RMM_ACTIVATE": 0xB2,
    "OP_CONTINUE": 0xB3,
    "OP_MEM_DONATE": 0xB8,
    "OP_MEM_RECLAIM": 0xB9,
}
F = {name: RMI_BASE + off for name, off in FIDS.items()}
RMM_EL3_GTSI_DELEGATE = 0xC40001B0  # an RMM-EL3 FID: not an RMI

# ---- RmiStatusCode (smc-rmi.h); x0 = status | index << 8 (lib/common/include/status.h)
RMI_SUCCESS = 0
RMI_ERROR_INPUT = 1
RMI_ERROR_REALM = 2
RMI_ERROR_RTT = 4
RMI_ERROR_GLOBAL = 11
RMI_INCOMPLETE = 13


def rmi_code(status, index=0):
    return (index << 8) | status


# RmiResultDataIncomplete: bits [9:8] RMI_OP_MEM_REQ (0 none, 1 donate, 2 reclaim), bit 10 can-cancel
RMI_OP_MEM_REQ_NONE, RMI_OP_MEM_REQ_DONATE, RMI_OP_MEM_REQ_RECLAIM = 0, 1, 2


def incomplete(mem_req, can_cancel=0):
    return RMI_INCOMPLETE | (mem_req << 8) | (can_cancel << 10)


# RmiOpMemDonateReq: [1:0] block size (0 = L3 page), [15:2] block count, [16] contiguous, [17] state
# (0 = delegated); RmiAddrRangeDesc4KB: [1:0] size, [11:2] count, [51:12] addr >> 12, [63] state.
def donate_req_fields(x2):
    return {"blk_size": x2 & 0x3, "blk_count": (x2 >> 2) & 0x3FFF, "contig": (x2 >> 16) & 1,
            "state": (x2 >> 17) & 1}


def addr_desc_4k(pa, count=1, size=0, state=0):
    return (size & 0x3) | ((count & 0x3FF) << 2) | (((pa >> 12) & ((1 << 40) - 1)) << 12) | (state << 63)


def addr_desc_4k_addr(desc):
    return ((desc >> 12) & ((1 << 40) - 1)) << 12


# TF-RMM's supported RMI revisions (runtime/rmi/version.c: rmi_revisions_supported[] = { 2.0 })
def rmi_revision(major, minor):
    return (major << 16) | minor


RMI_SUPPORTED = [rmi_revision(2, 0)]

# RmiFeatureRegister0: S2SZ [7:0], NUM_BPS [19:14], NUM_WPS [25:20]; RmiFeatureRegister2: DA_EN [0]
# REALM flags0: DA [3]; MEC policy [8:7] = 0 (RMI_MEC_POLICY_SHARED). REC params flags: RUNNABLE [0].
MAX_REC_AUX_GRANULES = 16  # smc-rmi.h; the REC's aux granules REC_CREATE asks to be donated


def realm_params(s2sz, rtt_base, flags0=0, num_bps=1, num_wps=1, algorithm=0, rtt_level_start=0,
                 rtt_num_start=1):
    """struct rmi_realm_params (smc-rmi.h), one granule: flags0 @0x0 (u64), s2sz @0x8, sve_vl @0x10,
    num_bps @0x18, num_wps @0x20, pmu_num_ctrs @0x28 (u32 each), algorithm @0x30 (u8),
    num_aux_planes @0x38 (u32), rpv[64] @0x400, ats_plane @0x440, rtt_base @0x808,
    rtt_level_start @0x810 (s64), rtt_num_start @0x818 (u32), flags1 @0x820, aux_rtt_base[3] @0xF80.
    The values are those of TF-RMM's host flow (host_create_realm_and_activate)."""
    b = bytearray(GRANULE)
    struct.pack_into("<Q", b, 0x0, flags0)
    struct.pack_into("<I", b, 0x8, s2sz)
    struct.pack_into("<I", b, 0x10, 0)          # sve_vl
    struct.pack_into("<I", b, 0x18, num_bps)
    struct.pack_into("<I", b, 0x20, num_wps)
    struct.pack_into("<I", b, 0x28, 0)          # pmu_num_ctrs
    struct.pack_into("<B", b, 0x30, algorithm)  # RMI_HASH_SHA_256
    struct.pack_into("<I", b, 0x38, 0)          # num_aux_planes
    struct.pack_into("<Q", b, 0x440, 0)         # ats_plane
    struct.pack_into("<Q", b, 0x808, rtt_base)
    struct.pack_into("<q", b, 0x810, rtt_level_start)
    struct.pack_into("<I", b, 0x818, rtt_num_start)
    struct.pack_into("<Q", b, 0x820, 0)         # flags1
    return bytes(b)


def rec_params(flags, mpidr=0, pc=0, gprs=()):
    """struct rmi_rec_params (smc-rmi.h), one granule: flags @0x0, mpidr @0x100, pc @0x200,
    gprs[8] @0x300."""
    b = bytearray(GRANULE)
    struct.pack_into("<Q", b, 0x0, flags)
    struct.pack_into("<Q", b, 0x100, mpidr)
    struct.pack_into("<Q", b, 0x200, pc)
    for i, v in enumerate(gprs):
        struct.pack_into("<Q", b, 0x300 + 8 * i, v)
    return bytes(b)


SERVING_RE = re.compile(r"el3d-tfrmm: serving RMIs on CPU 0; host DRAM at 0x([0-9a-fA-F]+), 0x([0-9a-fA-F]+) bytes")


def generate(proto_dir, out):
    subprocess.run(["protoc", "-I", proto_dir, "--python_out", out, "el3d/v1/monitor.proto"], check=True)
    sys.path.insert(0, out)


def log(msg):
    sys.stderr.write("  %s\n" % msg)
    sys.stderr.flush()


def tail(path, n=6000):
    try:
        with open(path, "rb") as f:
            return f.read().decode(errors="replace")[-n:]
    except OSError as e:
        return "(%s)" % e


class WorldSwitch(unittest.TestCase):
    # ---- set-up: el3d --abi tfa on a temporary carveout and socket
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="el3d-ws-", dir="/tmp")
        self.sock = os.path.join(self.tmp, "el3d.sock")
        self.carveout = os.path.join(self.tmp, "c.img")
        self.el3d_log = os.path.join(self.tmp, "el3d.log")
        self.log_f = open(self.el3d_log, "ab")
        self.rmms = []       # every rmm_core.elf started (Popen), for tearDown
        self.rmm = None      # the current one
        self.rmm_err = None  # its stderr file
        self.trace = os.path.join(self.tmp, "trace.jsonl")
        self.daemon = subprocess.Popen([ARGS.el3d, "--abi", "tfa", "--socket", self.sock, "--carveout",
                                        self.carveout, "--trace", self.trace, *self.el3d_args()],
                                       stdin=subprocess.DEVNULL,
                                       stdout=self.log_f, stderr=self.log_f)
        r = subprocess.run([ARGS.el3ctl, "--socket", self.sock, "wait", "--timeout", "15"], capture_output=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.ch = grpc.insecure_channel("unix:" + self.sock)
        grpc.channel_ready_future(self.ch).result(timeout=15)

    def el3d_args(self):
        """More options for el3d (a subclass's; self.tmp exists)."""
        return []

    def tearDown(self):
        for p in self.rmms:
            self.kill_rmm(p)
        self.ch.close()
        if self.daemon.poll() is None:
            self.daemon.send_signal(signal.SIGTERM)
            try:
                self.daemon.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.daemon.kill()
                self.daemon.wait()
        self.log_f.close()
        if self._outcome_failed():
            sys.stderr.write("--- el3d log (tail)\n" + tail(self.el3d_log, 8000) + "\n")
            for i, _ in enumerate(self.rmms):
                sys.stderr.write("--- rmm_core.elf #%d stderr (tail)\n" % (i + 1) +
                                 tail(os.path.join(self.tmp, "rmm%d.err" % (i + 1))) + "\n")
                sys.stderr.write("--- rmm_core.elf #%d stdout (tail)\n" % (i + 1) +
                                 tail(os.path.join(self.tmp, "rmm%d.out" % (i + 1)), 3000) + "\n")
        shutil.rmtree(self.tmp, ignore_errors=True)

    def _outcome_failed(self):
        result = getattr(self._outcome, "result", None)
        return result is not None and any(t is self for t, _ in result.failures + result.errors)

    # ---- gRPC, raw unary calls with the generated message classes
    def unary(self, method, req, resp_cls, timeout=30):
        call = self.ch.unary_unary("/el3d.v1.Monitor/" + method,
                                   request_serializer=lambda m: m.SerializeToString(),
                                   response_deserializer=resp_cls.FromString)
        return call(req, timeout=timeout)

    def state(self):
        return self.unary("GetState", pb.GetStateRequest(), pb.State)

    def cpu0(self, st=None):
        st = st or self.state()
        for c in st.cpus:
            if c.cpu == 0:
                return c
        return pb.Cpu()

    def realm_granules(self, st=None):
        st = st or self.state()
        return sum(g.granules for g in st.gpt if g.pas == "realm")

    def read(self, addr, length=GRANULE):
        return self.unary("ReadMemory", pb.ReadMemoryRequest(address=addr, length=length), pb.ReadMemoryResponse).data

    def write(self, addr, data):
        self.unary("WriteMemory", pb.WriteMemoryRequest(address=addr, data=data), pb.WriteMemoryResponse)

    def rmi_raw(self, fid, *args, timeout=60, fail_fast=False, cpu=0):
        regs = dict(("x%d" % (i + 1), v) for i, v in enumerate(args))
        return self.unary("Rmi", pb.RmiRequest(cpu=cpu, fid=fid, fail_fast=fail_fast, **regs), pb.RmiResponse,
                          timeout=timeout)

    def rmi_future(self, fid, *args, timeout=60):
        regs = dict(("x%d" % (i + 1), v) for i, v in enumerate(args))
        call = self.ch.unary_unary("/el3d.v1.Monitor/Rmi", request_serializer=lambda m: m.SerializeToString(),
                                   response_deserializer=pb.RmiResponse.FromString)
        return call.future(pb.RmiRequest(cpu=0, fid=fid, **regs), timeout=timeout)

    def wait_cpu0(self, pred, what, timeout=10):
        deadline = time.time() + timeout
        c = self.cpu0()
        while time.time() < deadline and not pred(c):
            time.sleep(0.02)
            c = self.cpu0()
        self.assertTrue(pred(c), "GetState: CPU 0 never %s: %s" % (what, c))
        return c

    def rmi(self, name, *args, expect=RMI_SUCCESS, what=""):
        """One RMI by name through el3d; x0 must be `expect` (status | index << 8)."""
        r = self.rmi_raw(F[name], *args)
        shown = " ".join("0x%x" % a for a in args)
        log("RMI_%s(%s)%s -> x0=0x%x x1=0x%x x2=0x%x%s" % (name, shown, " " + what if what else "", r.x0, r.x1,
                                                          r.x2, "" if r.forwarded else " (not forwarded)"))
        self.assertTrue(r.forwarded, "RMI_%s was not forwarded to the RMM" % name)
        self.assertEqual(r.x0, expect, "RMI_%s(%s): x0 = 0x%x, expected 0x%x" % (name, shown, r.x0, expect))
        return r

    # ---- the RMM in serve mode
    def start_rmm(self):
        n = len(self.rmms) + 1
        env = dict(os.environ, EL3D_ENDPOINT="unix:" + self.sock, EL3D_TFRMM_SERVE="1")
        out_path, self.rmm_err = os.path.join(self.tmp, "rmm%d.out" % n), os.path.join(self.tmp, "rmm%d.err" % n)
        with open(out_path, "wb") as out, open(self.rmm_err, "wb") as err:
            p = subprocess.Popen(["./rmm_core.elf"], cwd=ARGS.tfrmm_dir, env=env, stdin=subprocess.DEVNULL,
                                 stdout=out, stderr=err, start_new_session=True)
        self.rmms.append(p)
        self.rmm = p
        # It boots CPU 0 through el3d, says where its host DRAM is, then waits in el3d for RMIs.
        deadline = time.time() + 120
        m = None
        while time.time() < deadline:
            with open(self.rmm_err, encoding="utf-8", errors="replace") as f:
                m = SERVING_RE.search(f.read())
            if m and self.cpu0().rmi == pb.RMI_STATE_WAITING:
                break
            if p.poll() is not None:
                self.fail("rmm_core.elf #%d exited with %d before serving RMIs" % (n, p.returncode))
            time.sleep(0.1)
        self.assertIsNotNone(m, "rmm_core.elf #%d never said it serves RMIs" % n)
        self.assertEqual(self.cpu0().rmi, pb.RMI_STATE_WAITING, "CPU 0's RMM does not wait for RMIs")
        self.dram_base, self.dram_size = int(m.group(1), 16), int(m.group(2), 16)
        log("rmm_core.elf #%d (pid %d) serves RMIs on CPU 0; host DRAM [0x%x, 0x%x)" %
            (n, p.pid, self.dram_base, self.dram_base + self.dram_size))
        return p

    def kill_rmm(self, p):
        try:
            os.killpg(p.pid, signal.SIGKILL)  # the RMM and its SPDM responder emulator
        except (ProcessLookupError, PermissionError):
            pass
        p.wait()

    def granule(self, index):
        """The index-th granule of TF-RMM's host DRAM (every RMI address must lie there)."""
        addr = self.dram_base + index * GRANULE
        self.assertLessEqual(addr + GRANULE, self.dram_base + self.dram_size, "host DRAM too small")
        return addr

    # ---- delegation with el3d's GPT checked after each
    def assert_ns(self, addr):
        self.read(addr, GRANULE)  # no exception: the Non-secure world reads it

    def assert_denied(self, addr):
        with self.assertRaises(grpc.RpcError) as cm:
            self.read(addr, GRANULE)
        self.assertEqual(cm.exception.code(), grpc.StatusCode.PERMISSION_DENIED,
                         "ReadMemory of delegated 0x%x: %s" % (addr, cm.exception.details()))

    def delegate(self, addr, what=""):
        before = self.realm_granules()
        self.assert_ns(addr)
        r = self.rmi("GRANULE_RANGE_DELEGATE", addr, addr + GRANULE, what=what)
        self.assertEqual(r.x1, addr + GRANULE, "x1: the next granule to delegate")
        self.assert_denied(addr)
        self.assertEqual(self.realm_granules(), before + 1, "el3d's GPT: Realm granules after delegating 0x%x" % addr)

    def undelegate(self, addr, what=""):
        before = self.realm_granules()
        self.assert_denied(addr)
        r = self.rmi("GRANULE_RANGE_UNDELEGATE", addr, addr + GRANULE, what=what)
        self.assertEqual(r.x1, addr + GRANULE, "x1: the next granule to undelegate")
        self.assert_ns(addr)
        self.assertEqual(self.realm_granules(), before - 1,
                         "el3d's GPT: Realm granules after undelegating 0x%x" % addr)

    # =========================================================================================
    def test_version_unknown_fid_and_fail_fast(self):
        log("step: no RMM yet")
        self.assertEqual(self.cpu0().rmi, pb.RMI_STATE_ABSENT)
        with self.assertRaises(grpc.RpcError) as cm:
            self.rmi_raw(F["VERSION"], rmi_revision(2, 0), fail_fast=True, timeout=10)
        log("RMI_VERSION with fail_fast and no RMM -> %s" % cm.exception.code())
        self.assertEqual(cm.exception.code(), grpc.StatusCode.UNAVAILABLE)
        r = self.rmi_raw(RMM_EL3_GTSI_DELEGATE, 0x80000000, timeout=10)
        log("FID 0x%x (RMM-EL3, not an RMI) without an RMM -> x0=0x%x forwarded=%s" % (RMM_EL3_GTSI_DELEGATE, r.x0,
                                                                                      r.forwarded))
        self.assertEqual((r.x0, r.forwarded), (SMC_UNK, False))

        log("step: rmm_core.elf in serve mode")
        self.start_rmm()
        rmis_before = self.cpu0().rmis
        # runtime/rmi/version.c: a supported revision -> SUCCESS, x1 = it, x2 = the highest supported.
        r = self.rmi("VERSION", rmi_revision(2, 0))
        self.assertEqual((r.x1, r.x2), (rmi_revision(2, 0), RMI_SUPPORTED[-1]))
        # An unsupported one -> RMI_ERROR_INPUT, x1 = x2 = the highest supported.
        r = self.rmi("VERSION", rmi_revision(1, 0), expect=rmi_code(RMI_ERROR_INPUT))
        self.assertEqual((r.x1, r.x2), (RMI_SUPPORTED[-1], RMI_SUPPORTED[-1]))
        r = self.rmi("VERSION", rmi_revision(3, 0), expect=rmi_code(RMI_ERROR_INPUT))
        self.assertEqual((r.x1, r.x2), (RMI_SUPPORTED[-1], RMI_SUPPORTED[-1]))
        c = self.cpu0()
        self.assertEqual(c.rmi, pb.RMI_STATE_WAITING)
        self.assertEqual(c.rmis - rmis_before, 3, "GetState: RMIs completed by CPU 0's RMM")
        # el3d answers a non-RMI FID itself, with an RMM serving too.
        r = self.rmi_raw(RMM_EL3_GTSI_DELEGATE, 0x80000000, timeout=10)
        log("FID 0x%x with an RMM serving -> x0=0x%x forwarded=%s" % (RMM_EL3_GTSI_DELEGATE, r.x0, r.forwarded))
        self.assertEqual((r.x0, r.forwarded), (SMC_UNK, False))
        self.assertEqual(self.cpu0().rmis, c.rmis, "a non-RMI FID reached the RMM")
        # fail_fast with an RMM waiting: served.
        r = self.rmi_raw(F["VERSION"], rmi_revision(2, 0), fail_fast=True, timeout=30)
        self.assertEqual((r.x0, r.x1, r.forwarded), (RMI_SUCCESS, rmi_revision(2, 0), True))

    # =========================================================================================
    def test_rmi_waits_for_an_rmm(self):
        # Without fail_fast an RMI for a CPU with no RMM waits (queued) until an RMM serves it: on a
        # CPU that never ran, and on one whose RMM went away (queued RMIs stay for the next RMM).
        def call_in_thread():
            result = {}

            def call():
                try:
                    result["r"] = self.rmi_raw(F["VERSION"], rmi_revision(2, 0), timeout=150)
                except grpc.RpcError as e:
                    result["e"] = e
            t = threading.Thread(target=call)
            t.start()
            return t, result

        def check_served(t, result):
            t.join(timeout=60)
            self.assertFalse(t.is_alive())
            self.assertNotIn("e", result, result.get("e"))
            r = result["r"]
            log("queued RMI_VERSION -> x0=0x%x x1=0x%x x2=0x%x forwarded=%s" % (r.x0, r.x1, r.x2, r.forwarded))
            self.assertEqual((r.x0, r.x1, r.x2, r.forwarded),
                             (RMI_SUCCESS, rmi_revision(2, 0), RMI_SUPPORTED[-1], True))

        log("step: RMI_VERSION for CPU 0, which never ran")
        t, result = call_in_thread()
        time.sleep(1.0)
        self.assertTrue(t.is_alive(), "the RMI did not wait for an RMM: %r" % result)
        listed = [c for c in self.state().cpus if c.cpu == 0]
        log("GetState while it waits: CPU 0 %s" % ("rmi_queued=%d" % listed[0].rmi_queued if listed
                                                   else "not listed (it never ran)"))
        self.start_rmm_or_served()
        check_served(t, result)

        log("step: the RMM leaves; RMI_VERSION waits for the next one")
        deadline = time.time() + 30
        while time.time() < deadline and self.cpu0().rmi != pb.RMI_STATE_WAITING:
            time.sleep(0.05)
        self.assertEqual(self.cpu0().rmi, pb.RMI_STATE_WAITING)
        self.kill_rmm(self.rmm)
        deadline = time.time() + 10
        while time.time() < deadline and self.cpu0().rmi != pb.RMI_STATE_ABSENT:
            time.sleep(0.05)
        self.assertEqual(self.cpu0().rmi, pb.RMI_STATE_ABSENT)
        t, result = call_in_thread()
        deadline = time.time() + 10
        while time.time() < deadline and self.cpu0().rmi_queued == 0:
            time.sleep(0.05)
        self.assertEqual(self.cpu0().rmi_queued, 1, "GetState: the RMI is not queued for CPU 0")
        self.assertTrue(t.is_alive())
        self.start_rmm_or_served()
        check_served(t, result)
        deadline = time.time() + 10
        while time.time() < deadline and self.cpu0().rmi_queued != 0:
            time.sleep(0.05)
        self.assertEqual(self.cpu0().rmi_queued, 0)

    def start_rmm_or_served(self):
        """start_rmm without waiting for it: a queued RMI may be served before it is seen waiting."""
        n = len(self.rmms) + 1
        env = dict(os.environ, EL3D_ENDPOINT="unix:" + self.sock, EL3D_TFRMM_SERVE="1")
        out_path, self.rmm_err = os.path.join(self.tmp, "rmm%d.out" % n), os.path.join(self.tmp, "rmm%d.err" % n)
        with open(out_path, "wb") as out, open(self.rmm_err, "wb") as err:
            self.rmm = subprocess.Popen(["./rmm_core.elf"], cwd=ARGS.tfrmm_dir, env=env, stdin=subprocess.DEVNULL,
                                        stdout=out, stderr=err, start_new_session=True)
        self.rmms.append(self.rmm)

    # =========================================================================================
    def test_realm_life_cycle(self):
        self.start_rmm()
        st0 = self.state()
        realm0 = self.realm_granules(st0)
        log("el3d GPT: %d Realm granules before the realm flow" % realm0)

        # Granules of the host DRAM, as TF-RMM's host flow allocates them (allocate_granule()).
        config_buf, realm_params_buf, rec_params_buf, list_buf = (self.granule(i) for i in range(4))
        rd, rec = self.granule(4), self.granule(5)
        rtts = [self.granule(6 + i) for i in range(4)]  # root (level 0), levels 1..3
        aux_first = 10
        for a in [config_buf, realm_params_buf, rec_params_buf, list_buf, rd, rec] + rtts:
            self.assert_ns(a)

        log("step: version, features, RMM activation")
        r = self.rmi("VERSION", rmi_revision(2, 0))
        self.assertEqual((r.x1, r.x2), (rmi_revision(2, 0), RMI_SUPPORTED[-1]))
        feat0 = self.rmi("FEATURES", 0).x1
        feat2 = self.rmi("FEATURES", 2).x1
        s2sz = feat0 & 0xFF
        num_bps, num_wps = (feat0 >> 14) & 0x3F, (feat0 >> 20) & 0x3F
        da_en = feat2 & 1
        log("RMI_FEATURES: S2SZ=%d NUM_BPS=%d NUM_WPS=%d DA_EN=%d" % (s2sz, num_bps, num_wps, da_en))
        self.assertGreaterEqual(num_bps, 1)
        self.assertGreaterEqual(num_wps, 1)
        self.assertTrue(40 <= s2sz <= 48, "S2SZ %d: the host flow's start level 0 needs 40..48" % s2sz)

        # Deliberate: before RMI_RMM_ACTIVATE everything but VERSION/FEATURES/CONFIG_GET/TRACKING_GET
        # and the activation itself is refused (runtime/core/handler.c): RMI_ERROR_GLOBAL, and the
        # granule stays Non-secure in el3d's GPT.
        r = self.rmi("GRANULE_RANGE_DELEGATE", rd, rd + GRANULE, expect=rmi_code(RMI_ERROR_GLOBAL),
                     what="(before RMM_ACTIVATE)")
        self.assert_ns(rd)
        self.assertEqual(self.realm_granules(), realm0)

        # RmiRmmConfig (smc-rmi.h struct rmi_rmm_config): tracking_region_size @0, rmi_granule_size @8;
        # TF-RMM supports 4 KB granules with 1 GB tracking regions: both encodings are 0.
        self.write(config_buf, b"\xa5" * 16)
        self.rmi("RMM_CONFIG_GET", config_buf)
        cfg = self.read(config_buf, 16)
        self.assertEqual(struct.unpack("<QQ", cfg), (0, 0), "RmiRmmConfig from RMI_RMM_CONFIG_GET")
        self.rmi("RMM_CONFIG_SET", config_buf)
        self.rmi("RMM_ACTIVATE")
        self.rmi("RMM_ACTIVATE", expect=rmi_code(RMI_ERROR_GLOBAL), what="(again)")

        log("step: delegate RD, REC, RTTs")
        self.delegate(rd, "(RD)")
        self.delegate(rec, "(REC)")
        for i, a in enumerate(rtts):
            self.delegate(a, "(RTT %d)" % i)
        # Deliberate: delegating a delegated granule -> RMI_ERROR_INPUT, x1 = the same address (no
        # progress), el3d's GPT unchanged.
        before = self.realm_granules()
        r = self.rmi("GRANULE_RANGE_DELEGATE", rd, rd + GRANULE, expect=rmi_code(RMI_ERROR_INPUT), what="(RD again)")
        self.assertEqual(r.x1, rd)
        self.assertEqual(self.realm_granules(), before)
        self.assert_denied(rd)

        log("step: REALM_CREATE")
        flags0 = (1 << 3) if da_en else 0  # RMI_REALM_FLAGS0_DA as the host flow sets it
        self.write(realm_params_buf, realm_params(s2sz, rtts[0], flags0=flags0))
        self.rmi("REALM_CREATE", rd, realm_params_buf)
        for level in (1, 2, 3):
            self.rmi("RTT_CREATE", rd, rtts[level], 0, level)

        log("step: REC_CREATE (a Stateful RMI Operation: aux granules donated)")
        self.write(rec_params_buf, rec_params(flags=1, mpidr=0, pc=0))  # REC_PARAMS_FLAG_RUNNABLE
        r = self.rmi("REC_CREATE", rd, rec, rec_params_buf, expect=incomplete(RMI_OP_MEM_REQ_DONATE))
        handle = r.x1
        req = donate_req_fields(r.x2)
        log("REC_CREATE donation request: %r (handle 0x%x)" % (req, handle))
        self.assertEqual(req, {"blk_size": 0, "blk_count": MAX_REC_AUX_GRANULES, "contig": 0, "state": 0})
        aux = [self.granule(aux_first + i) for i in range(req["blk_count"])]
        for i, a in enumerate(aux):
            self.delegate(a, "(REC aux %d)" % i)
        self.write(list_buf, b"".join(struct.pack("<Q", addr_desc_4k(a)) for a in aux))
        r = self.rmi("OP_MEM_DONATE", handle, list_buf, len(aux), expect=incomplete(RMI_OP_MEM_REQ_NONE))
        self.assertEqual(r.x1, len(aux), "granules consumed from the donation list")
        self.rmi("OP_CONTINUE", handle, 0)

        # Deliberate: an RD with a live REC cannot be destroyed (refcount != 0): RMI_ERROR_REALM, index 0.
        self.rmi("REALM_DESTROY", rd, expect=rmi_code(RMI_ERROR_REALM), what="(REC alive)")

        log("step: REALM_ACTIVATE")
        self.rmi("REALM_ACTIVATE", rd)
        self.rmi("REALM_ACTIVATE", rd, expect=rmi_code(RMI_ERROR_REALM), what="(again)")
        # Deliberate: the RD granule is in use: it cannot be undelegated.
        r = self.rmi("GRANULE_RANGE_UNDELEGATE", rd, rd + GRANULE, expect=rmi_code(RMI_ERROR_INPUT), what="(RD in use)")
        self.assertEqual(r.x1, rd)
        self.assert_denied(rd)

        log("step: REC_DESTROY (aux granules reclaimed)")
        r = self.rmi("REC_DESTROY", rec, expect=incomplete(RMI_OP_MEM_REQ_RECLAIM))
        handle = r.x1
        self.write(list_buf, b"\0" * GRANULE)
        r = self.rmi("OP_MEM_RECLAIM", handle, list_buf, GRANULE // 8, expect=incomplete(RMI_OP_MEM_REQ_NONE))
        # x1 = descriptors written (lib/addr_list merges adjacent granules into one range descriptor).
        self.assertTrue(1 <= r.x1 <= len(aux), "entries written to the reclaim list: %d" % r.x1)
        descs = struct.unpack("<%dQ" % r.x1, self.read(list_buf, 8 * r.x1))
        reclaimed = []
        for d in descs:
            size, count, state = d & 3, (d >> 2) & 0x3FF, d >> 63
            self.assertEqual((size, state), (0, 0), "reclaimed: delegated L3 pages (desc 0x%x)" % d)
            reclaimed += [addr_desc_4k_addr(d) + i * GRANULE for i in range(count)]
        log("reclaim list: %s" % ", ".join("0x%x" % d for d in descs))
        self.assertEqual(sorted(reclaimed), sorted(aux), "reclaimed granules")
        self.rmi("OP_CONTINUE", handle, 0)

        log("step: RTT_DESTROY")
        # Deliberate: the level-2 RTT still holds the level-3 one: RMI_ERROR_RTT with index 2 (the level).
        self.rmi("RTT_DESTROY", rd, 0, 2, expect=rmi_code(RMI_ERROR_RTT, 2), what="(level 3 alive)")
        for level in (3, 2, 1):
            r = self.rmi("RTT_DESTROY", rd, 0, level)
            self.assertEqual(r.x1, rtts[level], "x1: the destroyed RTT's address")
            self.undelegate(rtts[level], "(RTT %d)" % level)

        log("step: REALM_TERMINATE, REALM_DESTROY")
        self.rmi("REALM_TERMINATE", rd)
        self.rmi("REALM_DESTROY", rd)
        log("step: undelegate RD, root RTT, REC, REC aux")
        self.undelegate(rd, "(RD)")
        self.undelegate(rtts[0], "(RTT 0)")
        self.undelegate(rec, "(REC)")
        for i, a in enumerate(aux):
            self.undelegate(a, "(REC aux %d)" % i)

        st = self.state()
        self.assertEqual(self.realm_granules(st), realm0, "el3d's GPT: Realm granules after the teardown")
        c = self.cpu0(st)
        self.assertEqual(c.rmi, pb.RMI_STATE_WAITING)
        self.assertIsNone(self.rmm.poll(), "rmm_core.elf exited")
        log("realm flow done: %d RMIs served by CPU 0's RMM" % c.rmis)

        # el3d's trace (--trace) has the whole flow: every RMI with its result, each of the RMM's
        # RMM_RMI_REQ_COMPLETE, and its granule transitions (FIRME_GM_GPI_SET) with their effects.
        with open(self.trace) as f:
            events = [json.loads(line) for line in f]
        rmis = [e for e in events if e["kind"] == "rmi" and e["result"] == "forwarded"]
        completes = [e for e in events if e["kind"] == "smc" and e["name"] == "RMM_RMI_REQ_COMPLETE"]
        gpi_sets = [e for e in events if e["kind"] == "smc" and e["name"] == "FIRME_GM_GPI_SET"]
        log("trace: %d events, %d RMIs, %d RMM_RMI_REQ_COMPLETE, %d FIRME_GM_GPI_SET" %
            (len(events), len(rmis), len(completes), len(gpi_sets)))
        self.assertEqual(len(rmis), c.rmis, "one trace event per RMI served")
        self.assertGreaterEqual(len(completes), len(rmis) - 1)
        self.assertTrue(any(e.get("effects", [""])[0].startswith("gpt 0x%x ->realm" % rd) for e in gpi_sets),
                        "the RD's delegation is in the trace")
        self.assertEqual([e["seq"] for e in events], list(range(1, len(events) + 1)))

    # =========================================================================================
    def test_rmm_killed_mid_rmi(self):
        self.start_rmm()
        first_activation = self.state().activation
        self.rmi("VERSION", rmi_revision(2, 0))

        log("step: SIGSTOP the RMM, RMI_VERSION in a thread")
        os.kill(self.rmm.pid, signal.SIGSTOP)
        result = {}

        def call():
            t0 = time.monotonic()
            try:
                result["r"] = self.rmi_raw(F["VERSION"], rmi_revision(2, 0), timeout=20)
            except grpc.RpcError as e:
                result["e"] = e
            result["t"] = time.monotonic() - t0
        t = threading.Thread(target=call)
        t.start()
        deadline = time.time() + 10
        c = self.cpu0()
        while time.time() < deadline and c.rmi != pb.RMI_STATE_SERVING:
            time.sleep(0.05)
            c = self.cpu0()
        self.assertEqual(c.rmi, pb.RMI_STATE_SERVING, "the stopped RMM does not hold the RMI")
        self.assertEqual(c.rmi_fid & 0xFFFFFFFF, F["VERSION"])
        log("GetState: CPU 0 rmi=SERVING rmi_fid=0x%x" % c.rmi_fid)
        # The RMM is busy: fail_fast does not queue.
        with self.assertRaises(grpc.RpcError) as cm:
            self.rmi_raw(F["VERSION"], rmi_revision(2, 0), fail_fast=True, timeout=10)
        log("fail_fast RMI while the RMM holds one -> %s" % cm.exception.code())
        self.assertEqual(cm.exception.code(), grpc.StatusCode.UNAVAILABLE)

        log("step: SIGKILL the RMM")
        killed_at = time.monotonic()
        self.kill_rmm(self.rmm)
        t.join(timeout=25)
        self.assertFalse(t.is_alive(), "the RMI never returned")
        took = time.monotonic() - killed_at
        self.assertIn("e", result, "the RMI succeeded although its RMM was killed: %r" % result.get("r"))
        log("RMI held by the killed RMM -> %s after %.2f s (%s)" % (result["e"].code(), took, result["e"].details()))
        self.assertEqual(result["e"].code(), grpc.StatusCode.ABORTED)
        self.assertLess(took, 10.0, "ABORTED came late")
        deadline = time.time() + 10
        while time.time() < deadline and self.cpu0().rmi != pb.RMI_STATE_ABSENT:
            time.sleep(0.05)
        self.assertEqual(self.cpu0().rmi, pb.RMI_STATE_ABSENT)
        with self.assertRaises(grpc.RpcError) as cm:
            self.rmi_raw(F["VERSION"], rmi_revision(2, 0), fail_fast=True, timeout=10)
        log("fail_fast RMI with no RMM -> %s" % cm.exception.code())
        self.assertEqual(cm.exception.code(), grpc.StatusCode.UNAVAILABLE)

        log("step: a new rmm_core.elf (a new activation on the same carveout)")
        self.start_rmm()
        st = self.state()
        self.assertEqual(st.activation, first_activation + 1)
        r = self.rmi("VERSION", rmi_revision(2, 0))
        self.assertEqual((r.x1, r.x2), (rmi_revision(2, 0), RMI_SUPPORTED[-1]))

    # =========================================================================================
    def test_bad_cpu_and_abandoned_rmi(self):
        self.start_rmm()
        n = self.state().core_count
        with self.assertRaises(grpc.RpcError) as cm:
            self.rmi_raw(F["VERSION"], rmi_revision(2, 0), cpu=n, timeout=10)
        log("RMI on cpu %d (core_count %d) -> %s" % (n, n, cm.exception.code()))
        self.assertEqual(cm.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
        with self.assertRaises(grpc.RpcError) as cm:
            self.rmi_raw(F["VERSION"], rmi_revision(2, 0), cpu=1, fail_fast=True, timeout=10)
        log("fail_fast RMI on cpu 1 (no RMM there) -> %s" % cm.exception.code())
        self.assertEqual(cm.exception.code(), grpc.StatusCode.UNAVAILABLE)

        log("step: an RMI whose caller gives up while the (stopped) RMM holds it")
        os.kill(self.rmm.pid, signal.SIGSTOP)
        try:
            with self.assertRaises(grpc.RpcError) as cm:
                self.rmi_raw(F["VERSION"], rmi_revision(2, 0), timeout=1.5)
            log("RMI_VERSION(2.0) with a 1.5 s deadline -> %s" % cm.exception.code())
            self.assertEqual(cm.exception.code(), grpc.StatusCode.DEADLINE_EXCEEDED)
            c = self.cpu0()
            self.assertEqual(c.rmi, pb.RMI_STATE_SERVING, "the RMM still holds the abandoned RMI")
            # el3d notices a caller's deadline by polling (world_switch.cpp, 20 ms): give it time, so
            # that the RMM's late result is dropped rather than handed to a call nobody waits for.
            time.sleep(1.0)
        finally:
            os.kill(self.rmm.pid, signal.SIGCONT)
        self.wait_cpu0(lambda c: c.rmi == pb.RMI_STATE_WAITING, "waits again")
        # The next caller gets its own result, not the abandoned one's (which was SUCCESS, x1 = 2.0).
        r = self.rmi("VERSION", rmi_revision(1, 0), expect=rmi_code(RMI_ERROR_INPUT), what="(after the abandoned one)")
        self.assertEqual((r.x1, r.x2), (RMI_SUPPORTED[-1], RMI_SUPPORTED[-1]))
        with open(self.el3d_log, encoding="utf-8", errors="replace") as f:
            self.assertRegex(f.read(), r"cpu0 RMI 0xc4000150 completed with x0=0x0 after its caller gave up: result dropped",
                             "el3d did not log the dropped result")

    # =========================================================================================
    def test_queue_full_and_results_to_their_callers(self):
        # With the RMM stopped holding one RMI, RMIs queue for CPU 0 until its bounded queue is full:
        # then RESOURCE_EXHAUSTED. Resumed, the RMM serves them all and each caller gets its own
        # result: RMI_VERSION leaves x4 as it came (TF-RMM writes x0..x3; the serve loop preloads the
        # RMI's x4..x7, SMCCC 1.2), so x4 = a per-call tag pairs results with callers.
        self.start_rmm()
        os.kill(self.rmm.pid, signal.SIGSTOP)
        futures = []
        try:
            futures.append(self.rmi_future(F["VERSION"], rmi_revision(2, 0), 0, 0, 1000, timeout=120))
            self.wait_cpu0(lambda c: c.rmi == pb.RMI_STATE_SERVING, "holds the first RMI")
            limit = None
            for i in range(1, 2000):
                f = self.rmi_future(F["VERSION"], rmi_revision(2, 0), 0, 0, 1000 + i, timeout=120)
                deadline = time.time() + 10
                while time.time() < deadline and not f.done() and self.cpu0().rmi_queued < i:
                    time.sleep(0.01)
                if f.done():
                    with self.assertRaises(grpc.RpcError) as cm:
                        f.result()
                    self.assertEqual(cm.exception.code(), grpc.StatusCode.RESOURCE_EXHAUSTED, cm.exception.details())
                    limit = i - 1
                    log("RMI #%d with %d queued -> RESOURCE_EXHAUSTED (%s)" % (i + 1, limit, cm.exception.details()))
                    break
                self.assertEqual(self.cpu0().rmi_queued, i)
                futures.append(f)
            self.assertIsNotNone(limit, "no queue limit below 2000")
            self.assertGreater(limit, 0)
        finally:
            os.kill(self.rmm.pid, signal.SIGCONT)
        for i, f in enumerate(futures):
            r = f.result(timeout=120)
            self.assertEqual((r.x0, r.x1, r.x4, r.forwarded), (RMI_SUCCESS, rmi_revision(2, 0), 1000 + i, True),
                             "RMI #%d" % i)
        c = self.wait_cpu0(lambda c: c.rmi == pb.RMI_STATE_WAITING and c.rmi_queued == 0, "drains its queue")
        log("%d RMIs served after the RMM resumed, each result to its caller; CPU 0 rmis=%d" % (len(futures), c.rmis))


def check_fids(src):
    """The FIDs above against TF-RMM's smc-rmi.h of the tree the RMM was built from."""
    path = os.path.join(src, "lib", "smc", "include", "smc-rmi.h")
    with open(path, encoding="utf-8") as f:
        text = f.read()
    found = dict((m.group(1), int(m.group(2), 16)) for m in
                 re.finditer(r"#define\s+SMC_RMI_(\w+)\s+SMC64_RMI_FID\(U\((0x[0-9A-Fa-f]+)\)\)", text))
    bad = ["%s: 0x%x here, 0x%x in %s" % (n, off, found.get(n, -1), path) for n, off in FIDS.items()
           if found.get(n) != off]
    if bad:
        sys.exit("FIDs differ from this TF-RMM revision:\n  " + "\n  ".join(bad))
    m = re.search(r"#define\s+MAX_REC_AUX_GRANULES\s+U\((\d+)\)", text)
    if not m or int(m.group(1)) != MAX_REC_AUX_GRANULES:
        sys.exit("MAX_REC_AUX_GRANULES differs from %s" % path)


def main():
    global ARGS, pb
    ap = argparse.ArgumentParser()
    ap.add_argument("--el3d", required=True)
    ap.add_argument("--el3ctl", required=True)
    ap.add_argument("--tfrmm-dir", required=True, help="TF-RMM's output directory (rmm_core.elf, EL0 apps)")
    ap.add_argument("--proto-dir", required=True, help="el3d's proto/ directory")
    ap.add_argument("--tfrmm-src", help="TF-RMM's source tree: check the FIDs used here against its smc-rmi.h")
    ARGS, rest = ap.parse_known_args()
    if not os.path.exists(os.path.join(ARGS.tfrmm_dir, "rmm_core.elf")):
        sys.exit("no rmm_core.elf in %s: run build_tfrmm.sh first" % ARGS.tfrmm_dir)
    if ARGS.tfrmm_src:
        check_fids(ARGS.tfrmm_src)
    gen = tempfile.mkdtemp(prefix="el3d-wsgen-")
    try:
        generate(ARGS.proto_dir, gen)
        from el3d.v1 import monitor_pb2
        pb = monitor_pb2
        prog = unittest.main(argv=[sys.argv[0]] + rest, verbosity=2, exit=False)
    finally:
        shutil.rmtree(gen, ignore_errors=True)
    sys.exit(0 if prog.result.wasSuccessful() else 1)


if __name__ == "__main__":
    main()
