#!/usr/bin/python3
"""The README's commands, in the order a newcomer types them, against a real el3d started with its
defaults (as start-daemon.sh does, with the XDG directories pointed at a scratch directory): the
"A first session" block, the restart it describes, the snapshot example, then the mini-rmm block; then
"A scripted boot" on a daemon of its own started as that section says, its results checked in registers.
(The world-switch block needs TF-RMM's host build: tests/tfrmm/test_world_switch.py runs that.) Each command must
succeed, and where the README shows what it prints (a `# ...` comment that looks like output, or a
`# ...` line under it), the output must match, `...` standing for anything."""
import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

OUTPUT = re.compile(r"^(addr=|x0=|mini-rmm:)")


def blocks(readme):
    """The ```sh blocks of the README, each with the title of the section it is in."""
    text = open(readme, encoding="utf-8").read()
    out, title = [], ""
    for m in re.finditer(r"^(#+ [^\n]*)$|^```sh\n(.*?)^```", text, re.S | re.M):
        if m.group(1):
            title = m.group(1).lstrip("# ").strip()
        else:
            out.append((title, m.group(2)))
    return out


def steps(block):
    """(command, expected output or None) for each command line; a comment line right under a command
    is that command's output."""
    result = []
    for line in block.splitlines():
        if not line.strip():
            continue
        if line.startswith("#"):
            shown = line[1:].strip()
            if result and OUTPUT.match(shown):
                result[-1] = (result[-1][0], shown)
            continue
        cmd, _, comment = line.partition("  #")
        comment = comment.strip()
        result.append((cmd.strip(), comment if OUTPUT.match(comment) else None))
    return result


def matches(shown, got):
    # The README's own notes in parentheses are not output.
    shown = re.sub(r"\s*\(.*\)\s*$", "", shown)
    pattern = ".*".join(re.escape(part) for part in shown.split("...")).replace(r"\ ", r"\s+")
    return re.match(pattern, got.strip()) is not None


class Run:
    def __init__(self, build, tmp):
        self.tmp = tmp
        self.env = dict(os.environ, XDG_RUNTIME_DIR=os.path.join(tmp, "run"), XDG_STATE_HOME=os.path.join(tmp, "state"))
        for k in ("EL3D_SOCKET", "EL3D_ENDPOINT"):
            self.env.pop(k, None)
        os.makedirs(self.env["XDG_RUNTIME_DIR"], mode=0o700)
        os.symlink(build, os.path.join(tmp, "build"))  # the README's paths are relative to the checkout
        self.daemon = None
        self.shell_vars = ""

    def start(self, *options):
        self.log = open(os.path.join(self.tmp, "el3d.log"), "ab")
        self.daemon = subprocess.Popen(["build/daemon/el3d", *options], cwd=self.tmp, env=self.env, stdin=subprocess.DEVNULL,
                                       stdout=self.log, stderr=self.log)
        r = subprocess.run(["build/client/el3ctl", "wait", "--timeout", "15"], cwd=self.tmp, env=self.env,
                           capture_output=True, text=True)
        if r.returncode != 0:
            sys.exit("el3d did not start: " + r.stderr + open(os.path.join(self.tmp, "el3d.log")).read())

    def kill9(self):
        self.daemon.send_signal(signal.SIGKILL)
        self.daemon.wait()

    def stop(self):
        if self.daemon and self.daemon.poll() is None:
            self.daemon.send_signal(signal.SIGTERM)
            self.daemon.wait(timeout=10)

    def sh(self, cmd):
        if re.match(r"^[A-Z]+=\S+$", cmd):  # E=build/client/el3ctl
            self.shell_vars += cmd + "\n"
            return ""
        r = subprocess.run(["bash", "-c", self.shell_vars + cmd], cwd=self.tmp, env=self.env, capture_output=True,
                           text=True, timeout=120)
        if r.returncode != 0:
            raise AssertionError("README command failed (exit %d): %s\n%s%s" % (r.returncode, cmd, r.stdout, r.stderr))
        return r.stdout


# "A scripted boot" describes its results in words; what each of those words means in registers.
SCRIPTED_CHECKS = {
    "$E boot": ["x1=0x0000000000020000", "x2=0x0000000000000008", "x3=0x00000000ffbff000"],  # 2.0, 8 CPUs, page
    "$E manifest": ["valid"],
    "$E smc 0xC40001BB 0x4000 0x0c00000000000001": ["(E_RMM_OK)"],
    "$E smc 0xC40001B0 0x80000000": ["(E_RMM_OK)"],
    "$E smc 0xC40001B1 0x80000000": ["(E_RMM_OK)"],
    "$E smc 0xC40001B2 0xffbff000 0x1000 0": ["x1=0x0000000000000030"],  # 48 bytes
    "$E smc 0xC40001B5 3 0xffbff000 0x1000 0": ["x1=0x0000000000000061"],  # 97 bytes
    "$E smc 0xC40001CF 0 0xfe000000": ["(E_RMM_OK)"],
    "$E boot --cpu 1": ["x0=0x0000000000000001"],  # CPU 1
    "$E status": ["tfa ABI", "cpu 0    booted", "cpu 1"],
}


def scripted_boot(build, block):
    """The scripted boot, on a daemon started as the section says (`--abi tfa`), every command checked."""
    run = Run(build, tempfile.mkdtemp(prefix="el3d-readme-boot-", dir="/tmp"))
    failures = 0
    try:
        run.start("--abi", "tfa")
        for cmd, _ in steps(block):
            got = run.sh(cmd)
            missing = [w for w in SCRIPTED_CHECKS.get(cmd, []) if w not in got]
            print("%s  $ %s%s" % ("FAIL" if missing else "ok  ", cmd, "\n        missing %r in: %s" % (missing, got.strip())
                                                                     if missing else ""))
            failures += 1 if missing else 0
        checked = [c for c, _ in steps(block) if c in SCRIPTED_CHECKS]
        if len(checked) != len(SCRIPTED_CHECKS):
            print("FAIL  the scripted boot's commands changed: checks for %r" % sorted(set(SCRIPTED_CHECKS) - set(checked)))
            failures += 1
    except AssertionError as e:
        print("FAIL " + str(e))
        failures += 1
    finally:
        run.stop()
        shutil.rmtree(run.tmp, ignore_errors=True)
    return failures


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--readme", required=True)
    p.add_argument("--build", required=True)
    a = p.parse_args()
    sections = ["A first session", "Boot once, test many times: snapshots", "Linking an RMM: el3client"]
    wanted = [(t, b) for t, b in blocks(a.readme) if t in sections]
    if [t for t, _ in wanted] != sections:
        sys.exit("README: expected one block in each of %r, found %r" % (sections, [t for t, _ in wanted]))
    tmp = tempfile.mkdtemp(prefix="el3d-readme-", dir="/tmp")
    run = Run(os.path.abspath(a.build), tmp)
    failures = 0
    try:
        run.start()
        for title, block in wanted:
            for cmd, shown in steps(block):
                got = run.sh(cmd)
                ok = shown is None or matches(shown, got)
                print("%s  $ %s%s" % ("ok  " if ok else "FAIL", cmd, "" if shown is None else "\n        shows: " + shown))
                if not ok:
                    print("        printed: " + got.strip())
                    failures += 1
            if title == "A first session":
                # "Stop el3d (Ctrl-C, or kill -9 it), start it again, and alloc --id 3 returns the same
                # address with cafef00d still in it."
                run.kill9()
                run.start()
                got = run.sh("build/client/el3ctl alloc --size 0x2000 --align-bits 12 --id 3")
                mem = run.sh("build/client/el3ctl mem read 0xffbfd000 4")
                ok = "addr=0x00000000ffbfd000" in got and mem.strip() == "cafef00d"
                print("%s  after kill -9 and a restart: %s / %s" % ("ok  " if ok else "FAIL", got.strip(), mem.strip()))
                failures += 0 if ok else 1
    except AssertionError as e:
        print("FAIL " + str(e))
        failures += 1
    finally:
        run.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    scripted = [b for t, b in blocks(a.readme) if t == "A scripted boot"]
    if len(scripted) != 1:
        sys.exit("README: expected one block in \"A scripted boot\"")
    failures += scripted_boot(os.path.abspath(a.build), scripted[0])
    print("README commands: %s" % ("all as shown" if failures == 0 else "%d differ" % failures))
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
