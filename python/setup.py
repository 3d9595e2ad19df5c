"""Builds the el3d package with its generated parts: el3d/v1/monitor_pb2.py (protoc, from the repository's
proto/) and el3d/_smc.py (gen_names.py, from include/el3d/smc.h). Needs protoc (Debian: protobuf-compiler).
Used by `pip install ./python`; the CMake build assembles the same package in <build>/python."""
import os
import subprocess
import sys

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


class BuildWithGenerated(build_py):
    def run(self):
        super().run()
        out = self.build_lib
        os.makedirs(os.path.join(out, "el3d", "v1"), exist_ok=True)
        try:
            subprocess.run(["protoc", "-I", os.path.join(ROOT, "proto"), "--python_out", out,
                            "el3d/v1/monitor.proto"], check=True)
        except FileNotFoundError:
            sys.exit("el3d: protoc is needed to build the package (Debian: apt-get install protobuf-compiler)")
        open(os.path.join(out, "el3d", "v1", "__init__.py"), "a").close()
        subprocess.run([sys.executable, os.path.join(HERE, "gen_names.py"),
                        os.path.join(ROOT, "include", "el3d", "smc.h"), os.path.join(out, "el3d", "_smc.py")],
                       check=True)


setup(cmdclass={"build_py": BuildWithGenerated})
