#!/usr/bin/python3
"""Every C block of the README and docs/*.md (```c) is a whole translation unit: compile each as C11
with the project's public headers and -Wall -Wextra -Werror. A block that stops compiling is a doc
that lies."""
import glob
import os
import re
import subprocess
import sys
import tempfile

root, include = sys.argv[1], sys.argv[2]
files = [os.path.join(root, "README.md")] + sorted(glob.glob(os.path.join(root, "docs", "*.md")))
blocks = []
for path in files:
    text = open(path, encoding="utf-8").read()
    for m in re.finditer(r"^([ \t]*)```c\n(.*?)^\1```", text, re.S | re.M):
        indent = m.group(1)
        code = "\n".join(l[len(indent):] if l.startswith(indent) else l for l in m.group(2).splitlines())
        line = text.count("\n", 0, m.start()) + 1
        blocks.append((os.path.relpath(path, root), line, code + "\n"))
if not blocks:
    sys.exit("no C blocks found under " + root)
failed = 0
with tempfile.TemporaryDirectory() as tmp:
    for path, line, code in blocks:
        src = os.path.join(tmp, "snippet.c")
        with open(src, "w") as f:
            f.write(code)
        r = subprocess.run(["cc", "-std=c11", "-Wall", "-Wextra", "-Werror", "-I", include, "-c", src, "-o",
                            os.path.join(tmp, "snippet.o")], capture_output=True, text=True)
        status = "ok" if r.returncode == 0 else "FAILED"
        print("%s:%d: %s" % (path, line, status))
        if r.returncode != 0:
            failed += 1
            print(r.stderr)
print("%d C blocks, %d failed" % (len(blocks), failed))
sys.exit(1 if failed else 0)
