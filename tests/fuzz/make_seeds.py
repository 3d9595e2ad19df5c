#!/usr/bin/env python3
"""Writes the seed corpora of tests/fuzz (corpus/<target>/). Run again after changing a target's input format:

    tests/fuzz/make_seeds.py [--manifest-dump build/src/manifest/el3d_manifest_dump]

The dispatch and gRPC seeds follow the decoders in fuzz_dispatch.cpp / dispatch_pick.hpp and fuzz_grpc.cpp byte for
byte; the manifest seeds are pages el3d_manifest_dump writes (skipped without it)."""
import argparse
import os
import struct
import subprocess
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))


def write(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# --- fuzz_dispatch -----------------------------------------------------------------------------------------------
# Indexes into the tables of dispatch_pick.hpp.
SIZE = {0: 0, 0x1000: 3, 0x2000: 5, 0x10000: 6, "left": 8, "left+1": 9}
ALIGN = {0: 0, 12: 3, 16: 7, 64: 11}
CPU = {0: 0, 1: 3, 2: 5, "n": 8}


def cpu(c):
    return bytes([1, CPU[c]])


def alloc_seed(size, align, tag, c=0):
    return bytes([0, 1, 0, SIZE[size], 1, ALIGN[align], 1, tag, 1]) + cpu(c)


def reserve(size, align, local=0, c=0):
    return bytes([0, 1, 0, SIZE[size], 1, ALIGN[align], local, 1]) + cpu(c)


def pa_carveout(k):
    return bytes([0]) + struct.pack("<H", k) + bytes([1])


def pa_tracked(rng, k):
    return bytes([4, rng]) + struct.pack("<H", k) + bytes([1])


def pa_device(k):
    return bytes([5, 0]) + struct.pack("<H", k) + bytes([1])


def pa_region(i):
    return bytes([2, i, 0, 1])


def gtsi(delegate, pa, c=0):
    return bytes([3, 1 if delegate else 0]) + pa + cpu(c)


def gpi_set(pa, realm, c=0):
    return bytes([5]) + pa + bytes([1, 1, 0 if realm else 1]) + cpu(c)


def enter(c, kind):  # kind: 0 auto, 1 cold, 2 warm
    return bytes([8]) + cpu(c) + bytes([kind])


def boot_complete(c, ok=True, token=0x5A):
    return bytes([7, 1 if ok else 0]) + (b"" if ok else bytes([3])) + bytes([0, token]) + cpu(c)


def write_mem(pa, data):
    return bytes([13]) + pa + struct.pack("<H", len(data)) + data + bytes([1])


def read_mem(pa):
    return bytes([12]) + pa + bytes([1, 3])


def raw_smc(fid_idx):
    return bytes([6, fid_idx, 5, 1]) + pa_carveout(0) + bytes([1, 0, SIZE[0x1000], 1, 7]) + bytes([1] * 9) + cpu(0)


ATTACH, DETACH0, RESET, REOPEN = bytes([10]) + cpu(0), bytes([11]) + cpu(0), bytes([14]), bytes([15, 0])


def dispatch_seeds():
    for abi, abi_name in enumerate(["seed", "tfa", "tfa-v1-compat"]):
        for plat, plat_name in enumerate(["fvp", "qemu", "qemu-sbsa"]):
            head = bytes([abi, plat])
            if abi == 0:
                allocs = alloc_seed(0x2000, 12, 1) + alloc_seed(0x1000, 16, 2) + alloc_seed(0x1000, 12, 1) + \
                    alloc_seed(0x10000, 0, 0) + alloc_seed("left+1", 12, 3) + alloc_seed(0x1000, 12, 5)
            else:
                allocs = reserve(0x2000, 12) + reserve(0x1000, 16, 1) + reserve(0, 0) + reserve("left", 12) + \
                    reserve(0x1000, 64)
            boot = ATTACH + enter(0, 1) + enter(1, 0) + boot_complete(0) + enter(2, 2)
            gpt = gtsi(True, pa_tracked(0, 7)) + gtsi(True, pa_tracked(0, 7)) + gtsi(False, pa_carveout(3)) + \
                gtsi(True, pa_carveout(3)) + gtsi(True, pa_device(2)) + gtsi(False, pa_tracked(0, 7))
            if abi != 0:
                gpt += gpi_set(pa_tracked(0, 9), True) + gpi_set(pa_tracked(0, 9), False)
            mem = write_mem(pa_region(0), b"\xca\xfe\xf0\x0d" * 4) + read_mem(pa_region(0))
            write("fuzz_dispatch", f"{abi_name}-{plat_name}-boot", head + boot + allocs + gpt + mem + DETACH0)
            write("fuzz_dispatch", f"{abi_name}-{plat_name}-reopen", head + allocs + mem + gpt + REOPEN + allocs)
            write("fuzz_dispatch", f"{abi_name}-{plat_name}-reset", head + boot + allocs + gpt + mem + RESET + allocs)
    base = bytes([1, 0])
    write("fuzz_dispatch", "tfa-fvp-failed-boot",
          base + enter(0, 1) + boot_complete(0, ok=False) + reserve(0x1000, 12) + enter(1, 0) + REOPEN + RESET)
    write("fuzz_dispatch", "tfa-fvp-raw-fids", base + b"".join(raw_smc(i) for i in range(0, 36, 3)))
    write("fuzz_dispatch", "seed-fvp-raw-fids", bytes([0, 0]) + b"".join(raw_smc(i) for i in range(1, 36, 3)))


# --- fuzz_boot_config ----------------------------------------------------------------------------------------------
TOML = """faults = ["dram-unsorted"]
[manifest]
version = 5
[[manifest.dram]]
base = 0x80000000
size = "2G"
[[manifest.consoles]]
base = 0x1C0C0000
name = "pl011"
clk_in_hz = 14745600
baud_rate = 115200
[[manifest.root_complexes]]
ecam_base = 0x40000000
ports = [{ id = 8, bdfs = [{ base = 0, top = 0x7FFF }] }]
[fault_params]
dram_banks = 64
[boot]
x2_core_count = 4097
[[gpt]]
base = 0xFFC00000
size = "3M"
pas = "root"
"""
JSON = """{"faults": ["dram-checksum", "cpu-count"], "manifest": {"dram": [{"base": "0x80000000", "size": "1G"},
 {"base": "0x880000000", "size": "0x80000000"}], "ncoh": [{"base": "0x50000000", "size": "256M"}],
 "smmus": [{"base": "0x2B400000", "r_base": "0x2B420000"}]}, "boot": {"x1_version": "0x20000", "x3_offset": 8},
 "gpt": [{"base": "0x80000000", "size": "0x2000", "pas": "secure"}]}
"""


def boot_config_seeds():
    # First byte: bit 0 = TOML, (byte >> 1) % 3 = platform (fvp, qemu, qemu-sbsa).
    write("fuzz_boot_config", "toml-fvp", b"\x01" + TOML.encode())
    write("fuzz_boot_config", "toml-qemu", b"\x03" + b'faults = ["manifest-version"]\n[fault_params]\nbad_version = 2\n')
    write("fuzz_boot_config", "json-fvp", b"\x00" + JSON.encode())
    write("fuzz_boot_config", "json-sbsa", b"\x04" + b'{"manifest": {"consoles": [], "version": "0x3"}}')
    write("fuzz_boot_config", "toml-empty", b"\x01")


# --- fuzz_manifest ---------------------------------------------------------------------------------------------------
def manifest_seeds(dump):
    if not dump:
        return
    with tempfile.TemporaryDirectory() as tmp:
        runs = [("fvp", []), ("qemu", []), ("qemu-sbsa", []), ("fvp", ["dram-unsorted"]), ("fvp", ["dram-too-many"]),
                ("fvp", ["console-checksum"]), ("qemu", ["manifest-version"])]
        for n, (plat, faults) in enumerate(runs):
            out = os.path.join(tmp, "page")
            args = [dump, "--platform", plat, "--out", out]
            for f in faults:
                args += ["--fault", f]
            subprocess.run(args, check=True)
            page = open(out, "rb").read()[24:]
            pa_index = {"fvp": 0, "qemu": 1, "qemu-sbsa": 2}[plat]
            # pa, pa_bits (40 or 42), max banks from the default (pick(4) != 0)
            write("fuzz_manifest", f"{plat}-{'-'.join(faults) or 'default'}",
                  bytes([pa_index, 1 if plat == "qemu-sbsa" else 0, 1]) + page)


# --- fuzz_carveout_open ------------------------------------------------------------------------------------------------
def carveout_seeds():
    # mode, then patches: count-1, area, offset..., op, value...; then three CRC-fix flags.
    write("fuzz_carveout_open", "unpatched", bytes([4, 0, 7, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0]))
    write("fuzz_carveout_open", "superblock-field-crc-fixed", bytes([0, 0, 0, 0x78, 0x00, 3, 5, 1, 0, 0]))
    write("fuzz_carveout_open", "state-header-crc-fixed", bytes([4, 0, 1, 0, 0x08, 2, 1, 0, 1, 0, 0]))
    write("fuzz_carveout_open", "log-record", bytes([0, 0, 3, 0x10, 0x00, 0, 0x41, 0, 0, 1]))
    write("fuzz_carveout_open", "truncated", bytes([1, 0, 6, 3, 5, 1]))


# --- fuzz_grpc -----------------------------------------------------------------------------------------------------------
def varint(v):
    out = b""
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


def field(n, v):  # varint field
    return varint(n << 3) + varint(v)


def lfield(n, data):  # length-delimited field
    return varint(n << 3 | 2) + varint(len(data)) + data


def msg(data):  # Input::bytes(512): u16 length, then the bytes
    return struct.pack("<H", len(data)) + data


def grpc_seeds():
    smc_reserve = field(2, 0xC40001BB) + field(3, 0x2000) + field(4, 12 << 56)
    smc_delegate = field(2, 0xC40001B0) + field(3, 0x80000000)
    boot = field(1, 0) + field(2, 1)
    alloc = field(1, 0) + field(2, 0x1000) + field(3, 12) + field(4, 1)
    read = field(1, 0xFFBFF000) + field(2, 64)
    wr = field(1, 0xFFBFF000) + lfield(2, b"\x01\x02\x03\x04")
    enter = field(1, 1) + field(2, 0) + lfield(5, b"fuzz")
    cfg = lfield(3, b'faults = ["dram-checksum"]\n') + lfield(4, b"toml")
    unary = bytes([3]) + msg(boot) + bytes([0]) + msg(smc_reserve) + bytes([0]) + msg(smc_delegate) + \
        bytes([5]) + msg(read) + bytes([6]) + msg(wr) + bytes([2]) + msg(b"") + bytes([1]) + msg(alloc) + \
        bytes([3]) + msg(boot + cfg)
    for abi in range(3):
        write("fuzz_grpc", f"unary-{abi}", bytes([abi]) + unary)
    # Session: n = 3 messages: enter, then two SMCs (picks: 1 = not raw, then 0 = enter / 1 = smc).
    session = bytes([7, 3, 1, 0]) + msg(enter) + bytes([1, 1]) + msg(smc_reserve) + bytes([1, 1]) + \
        msg(smc_delegate) + bytes([1])
    write("fuzz_grpc", "session-tfa", bytes([1]) + session + bytes([4, 0]) + msg(b"") + session)
    # The control plane (one_call 8 -> admin_call): a reservation, an RMI, a fault rule added, listed and
    # cleared, the trace's ring set, a snapshot saved, restored, listed and removed.
    reserve = field(1, 0) + field(2, 0x4000) + field(3, 12) + field(4, 1)
    rmi = field(1, 0) + field(2, 0xC4000150) + field(3, 0x20000)
    rule = lfield(1, b'{"fid": "RMM_GTSI_DELEGATE", "nth": 1, "result": "E_RMM_BAD_PAS", "delay_ms": 5}')
    ring = field(3, 1) + field(4, 16)
    snap = lfield(1, b"s1") + lfield(2, b"seed")
    admin = bytes([8, 0]) + msg(reserve) + bytes([8, 1]) + msg(rmi) + bytes([8, 2]) + msg(rule) + \
        bytes([0]) + msg(smc_delegate) + bytes([8, 3]) + msg(b"") + bytes([8, 4]) + msg(ring) + \
        bytes([8, 5, 0]) + msg(snap) + bytes([8, 6, 0]) + msg(lfield(1, b"s1")) + bytes([8, 7]) + msg(lfield(1, b"s1"))
    write("fuzz_grpc", "admin-tfa", bytes([1]) + admin)
    write("fuzz_grpc", "admin-seed", bytes([0]) + admin)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--manifest-dump", help="el3d_manifest_dump (a build with tests) for the manifest seeds")
    a = ap.parse_args()
    dispatch_seeds()
    boot_config_seeds()
    manifest_seeds(a.manifest_dump)
    carveout_seeds()
    grpc_seeds()


if __name__ == "__main__":
    main()
