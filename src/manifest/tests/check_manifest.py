#!/usr/bin/python3
"""Independent check of el3d's Boot Manifest bytes.

Reads pages written by el3d_manifest_dump using only the byte offsets and the checksum rule of the RMM-EL3 spec
(Boot Manifest v0.5, tfa-rmmd.md section 4.5) -- no el3d code -- follows every pointer, recomputes every checksum
and compares the contents with TF-A's values for each platform. Then checks that each checksum fault breaks exactly
its own list and that the data faults leave every checksum intact.

Standard library only (struct), so it runs with the system /usr/bin/python3.
"""
import argparse
import os
import struct
import subprocess
import sys

MASK = (1 << 64) - 1
CORE_SIZE = 168

# List headers in the core struct: name -> (offset, element size). root_complex_list is handled separately.
LISTS = {
    "dram": (16, 16),
    "console": (40, 48),
    "ncoh": (64, 16),
    "coh": (88, 16),
    "smmu": (112, 16),
}
RC_LIST = 136
RC_INFO, ROOT_PORT, BDF = 24, 16, 8

# What TF-A's plat_rmmd_load_manifest() writes (fvp_common.c, qemu_common.c), with el3d's DRAM profiles, less
# what el3d does not back: no SMMU and no root complex by default (their register pages and ECAM are not
# memory an RMM process can read; a boot configuration can list them).
EXPECTED = {
    "fvp": {
        "pa": 0xFFBFF000,
        "dram": [(0x80000000, 0x7C000000), (0x880000000, 0x80000000)],
        "console": [(0x1C0C0000, 1, "pl011", 14745600, 115200, 0)],
        "ncoh": [(0x50000000, 0x10000000), (0x4000000000, 0xC0000000)],
        "coh": [],
        "smmu": [],
        "rc": [],
        "size": 168 + 32 + 48 + 32,
    },
    "qemu": {
        "pa": 0x418FF000,
        "dram": [(0x40000000, 0xC0000000)],
        "console": [(0x09000000, 1, "pl011", 1, 115200, 0)],
        "ncoh": [],
        "coh": [],
        "smmu": [],
        "rc": [],
        "size": 168 + 16 + 48,
    },
    "qemu-sbsa": {
        "pa": 0x10042FFF000,
        "dram": [(0x10043000000, 0x100000000)],
        "console": [(0x60000000, 1, "pl011", 1, 115200, 0)],
        "ncoh": [(0x80000000, 0x70000000), (0x100000000, 0x280000000)],
        "coh": [],
        "smmu": [],
        "rc": [],
        "size": 168 + 16 + 48 + 32,
    },
}

CHECKSUM_FAULTS = {
    "dram-checksum": "dram",
    "console-checksum": "console",
    "ncoh-checksum": "ncoh",
    "coh-checksum": "coh",
    "smmu-checksum": "smmu",
    "root-complex-checksum": "rc",
}


class Bad(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Bad(what)


class Page:
    def __init__(self, data, pa):
        self.data = data
        self.pa = pa

    def u8(self, off):
        return self.data[off]

    def u16(self, off):
        return struct.unpack_from("<H", self.data, off)[0]

    def u32(self, off):
        return struct.unpack_from("<I", self.data, off)[0]

    def u64(self, off):
        return struct.unpack_from("<Q", self.data, off)[0]

    def array(self, ptr, size, what):
        """Offset of [ptr, ptr + size) in the page; it must be inside and 8-byte aligned."""
        check(ptr % 8 == 0, "%s: pointer 0x%x is not 8-byte aligned" % (what, ptr))
        check(self.pa <= ptr and ptr + size <= self.pa + len(self.data),
              "%s: [0x%x, +%d) is outside the page at 0x%x" % (what, ptr, size, self.pa))
        return ptr - self.pa

    def words(self, off, size):
        return sum(struct.unpack_from("<%dQ" % (size // 8), self.data, off)) if size else 0


def parse(page):
    """Returns the decoded manifest, each list's checksum residue (0 = good) and the end of the used bytes."""
    m = {"version": page.u32(0), "padding": page.u32(4), "plat_data": page.u64(8), "residue": {}}
    end = CORE_SIZE
    for name, (hdr, elem) in LISTS.items():
        num, ptr, csum = page.u64(hdr), page.u64(hdr + 8), page.u64(hdr + 16)
        entries = []
        if num == 0:
            check(ptr == 0, "%s: num 0 but pointer 0x%x" % (name, ptr))
            m["residue"][name] = csum  # an empty list is {0, NULL, 0}
        else:
            off = page.array(ptr, num * elem, name)
            end = max(end, off + num * elem)
            m["residue"][name] = (num + ptr + csum + page.words(off, num * elem)) & MASK
            for i in range(num):
                e = off + i * elem
                if name == "console":
                    raw = page.data[e + 16:e + 24]
                    check(b"\0" in raw, "console %d: name is not NUL-terminated" % i)
                    nm = raw.split(b"\0")[0].decode()
                    check(raw[len(nm):] == b"\0" * (8 - len(nm)), "console %d: name padding is not zero" % i)
                    entries.append((page.u64(e), page.u64(e + 8), nm, page.u64(e + 24), page.u64(e + 32),
                                    page.u64(e + 40)))
                else:
                    entries.append((page.u64(e), page.u64(e + 8)))
        m[name] = entries

    num, ver, pad, ptr, csum = (page.u64(RC_LIST), page.u32(RC_LIST + 8), page.u32(RC_LIST + 12),
                                page.u64(RC_LIST + 16), page.u64(RC_LIST + 24))
    m["rc_info_version"], m["rc_padding"] = ver, pad
    rcs = []
    if num == 0:
        check(ptr == 0, "rc: num 0 but pointer 0x%x" % ptr)
        m["residue"]["rc"] = csum
    else:
        rc_off = page.array(ptr, num * RC_INFO, "root_complex[]")
        block_end = rc_off + num * RC_INFO
        for i in range(num):
            e = rc_off + i * RC_INFO
            check(page.data[e + 9:e + 12] == b"\0\0\0", "rc %d: padding is not zero" % i)
            nports, pports = page.u32(e + 12), page.u64(e + 16)
            ports = []
            if nports:
                p_off = page.array(pports, nports * ROOT_PORT, "rc %d root ports" % i)
                check(p_off >= rc_off, "rc %d: root ports before root_complex[]" % i)
                block_end = max(block_end, p_off + nports * ROOT_PORT)
                for j in range(nports):
                    p = p_off + j * ROOT_PORT
                    check(page.u16(p + 2) == 0, "rc %d port %d: padding is not zero" % (i, j))
                    nbdf, pbdf = page.u32(p + 4), page.u64(p + 8)
                    bdfs = []
                    if nbdf:
                        b_off = page.array(pbdf, nbdf * BDF, "rc %d port %d BDFs" % (i, j))
                        check(b_off >= rc_off, "rc %d port %d: BDFs before root_complex[]" % (i, j))
                        block_end = max(block_end, b_off + nbdf * BDF)
                        for k in range(nbdf):
                            b = b_off + k * BDF
                            bdfs.append((page.u16(b), page.u16(b + 2), page.u16(b + 4), page.u16(b + 6)))
                    ports.append((page.u16(p), bdfs))
            rcs.append((page.u64(e), page.u8(e + 8), ports))
        # One checksum over the block: all RC infos, then all root ports, then all BDF mappings.
        m["residue"]["rc"] = (num + ptr + csum + page.words(rc_off, block_end - rc_off)) & MASK
        end = max(end, block_end)
    m["rc"] = rcs
    m["end"] = end
    return m


def dump(tool, workdir, platform, faults=()):
    name = "%s%s.bin" % (platform, "".join("+" + f for f in faults))
    out = os.path.join(workdir, name)
    cmd = [tool, "--platform", platform, "--out", out]
    for f in faults:
        cmd += ["--fault", f]
    subprocess.run(cmd, check=True)
    with open(out, "rb") as fh:
        blob = fh.read()
    check(blob[:8] == b"EL3DMAN1", "%s: bad magic" % name)
    pa, size = struct.unpack_from("<QQ", blob, 8)
    data = blob[24:]
    check(size == 4096 and len(data) == 4096, "%s: the page is %d bytes, not 4096" % (name, len(data)))
    return Page(data, pa)


def check_defaults(tool, workdir, platform, exp):
    page = dump(tool, workdir, platform)
    check(page.pa == exp["pa"], "shared PA 0x%x, expected 0x%x" % (page.pa, exp["pa"]))
    m = parse(page)
    check(m["version"] == 0x5, "version 0x%x, expected 0x5 (v0.5)" % m["version"])
    check(m["padding"] == 0 and m["plat_data"] == 0, "padding / plat_data not zero")
    for name in ("dram", "console", "ncoh", "coh", "smmu", "rc"):
        check(m[name] == exp[name], "%s: %r, expected %r" % (name, m[name], exp[name]))
    check(m["rc_info_version"] == 1 and m["rc_padding"] == 0, "rc_info_version / padding")
    for name, r in m["residue"].items():
        check(r == 0, "%s: checksum leaves 0x%x, not 0" % (name, r))
    # TF-A's layout: the first DRAM bank right after the 168-byte core, arrays back to back, nothing after them.
    check(page.u64(24) == page.pa + CORE_SIZE, "DRAM banks do not start at offset 168")
    check(m["end"] == exp["size"], "arrays end at %d, expected %d" % (m["end"], exp["size"]))
    check(page.data[m["end"]:] == b"\0" * (4096 - m["end"]), "bytes after the manifest are not zero")


def check_faults(tool, workdir, platform):
    for fault, broken in CHECKSUM_FAULTS.items():
        m = parse(dump(tool, workdir, platform, [fault]))
        bad = sorted(n for n, r in m["residue"].items() if r != 0)
        check(bad == [broken], "%s: lists with a bad checksum %r, expected [%r]" % (fault, bad, broken))
    # Data faults keep every checksum right, so that what the RMM meets is the data problem itself.
    for fault in ("dram-unsorted", "dram-overlap", "dram-unaligned", "dram-zero-size", "dram-too-many",
                  "dram-none", "manifest-version"):
        m = parse(dump(tool, workdir, platform, [fault]))
        bad = sorted(n for n, r in m["residue"].items() if r != 0)
        check(bad == [], "%s: lists with a bad checksum %r" % (fault, bad))
        dram = m["dram"]
        if fault == "dram-unsorted":
            check(dram[1][0] < dram[0][0], "dram-unsorted: banks are ascending: %r" % dram)
        elif fault == "dram-overlap":
            check(dram[0][0] <= dram[1][0] < dram[0][0] + dram[0][1], "dram-overlap: no overlap: %r" % dram)
        elif fault == "dram-unaligned":
            check(dram[0][0] % 4096 != 0, "dram-unaligned: aligned: %r" % dram)
        elif fault == "dram-zero-size":
            check(dram[-1][1] == 0, "dram-zero-size: %r" % dram)
        elif fault == "dram-too-many":
            check(len(dram) == 64, "dram-too-many: %d banks" % len(dram))
            check(sum(s for _, s in dram) == sum(s for _, s in EXPECTED[platform]["dram"]), "dram-too-many: size")
        elif fault == "dram-none":
            check(dram == [], "dram-none: %r" % dram)  # parse() checked the NULL pointer, the residue the 0 sum
        elif fault == "manifest-version":
            check(m["version"] == 0x2, "manifest-version: 0x%x" % m["version"])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dump", required=True)
    ap.add_argument("--workdir", required=True)
    args = ap.parse_args()
    os.makedirs(args.workdir, exist_ok=True)
    failed = 0
    for platform, exp in EXPECTED.items():
        for step in (check_defaults, check_faults):
            try:
                if step is check_defaults:
                    step(args.dump, args.workdir, platform, exp)
                else:
                    step(args.dump, args.workdir, platform)
                print("ok   %-10s %s" % (platform, step.__name__))
            except (Bad, subprocess.CalledProcessError, struct.error) as e:
                failed += 1
                print("FAIL %-10s %s: %s" % (platform, step.__name__, e))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
