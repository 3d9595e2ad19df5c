"""The complete example of docs/python.md, run as written: a user who copies it gets a passing test."""
import os
import re
import subprocess
import sys


def test_the_docs_example_passes(tmp_path):
    doc = open(os.path.join(os.environ["EL3D_DOCS"], "python.md"), encoding="utf-8").read()
    blocks = re.findall(r"^```python\n(.*?)^```", doc, re.S | re.M)
    assert len(blocks) == 1, "docs/python.md should have one complete ```python example"
    (tmp_path / "test_example.py").write_text(blocks[0])
    r = subprocess.run([sys.executable, "-m", "pytest", "-p", "el3d.pytest_plugin", "-q", "-p", "no:cacheprovider",
                        str(tmp_path / "test_example.py")], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "1 passed" in r.stdout
