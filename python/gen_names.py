#!/usr/bin/python3
"""el3d/_smc.py from include/el3d/smc.h: the FIDs and result codes by name, so that the Python
package and the C headers cannot disagree."""
import re
import sys

smc_h, out = sys.argv[1], sys.argv[2]
fids, codes = {}, {}
for m in re.finditer(r"^#define (EL3_\w+)\s+(U?INT\d+_C)\((-?(?:0x)?[0-9A-Fa-f]+)\)", open(smc_h).read(), re.M):
    name, kind, value = m.group(1), m.group(2), int(m.group(3), 0)
    if name.startswith("EL3_FID_") and not name.endswith(("_FIRST", "_LAST", "_BASE")):
        fids[name[len("EL3_FID_"):]] = value
    elif name.startswith(("EL3_E_RMM_", "EL3_FIRME_")) and kind.startswith("INT"):
        codes[name[len("EL3_"):]] = value
with open(out, "w") as f:
    f.write("# Generated from include/el3d/smc.h by python/gen_names.py. Do not edit.\n")
    f.write("FIDS = {\n" + "".join("    %r: 0x%08X,\n" % kv for kv in sorted(fids.items())) + "}\n")
    f.write("CODES = {\n" + "".join("    %r: %d,\n" % kv for kv in sorted(codes.items())) + "}\n")
