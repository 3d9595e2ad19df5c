"""A private el3d process: its own socket and carveout in a directory, started, restarted, stopped or
killed with SIGKILL, for tests."""
import os
import shutil
import signal
import subprocess
import time

from .client import Client, El3dError


def find_el3d():
    """$EL3D_BINARY, else `el3d` on PATH."""
    path = os.environ.get("EL3D_BINARY") or shutil.which("el3d")
    if not path:
        raise FileNotFoundError("no el3d: set EL3D_BINARY to the daemon (e.g. build/daemon/el3d) or put it on PATH")
    return path


class Daemon:
    """el3d on `directory`/el3d.sock with the carveout `directory`/carveout.img. `platform`, `abi` and
    further command-line `options` (a list) are given at every start; the carveout file persists
    across restarts and kills, as it does for a user."""

    def __init__(self, directory, platform=None, abi=None, options=(), binary=None):
        self.directory = directory
        self.socket = os.path.join(directory, "el3d.sock")
        self.carveout = os.path.join(directory, "carveout.img")
        self.log_path = os.path.join(directory, "el3d.log")
        self.binary = binary or find_el3d()
        self.args = ["--socket", self.socket, "--carveout", self.carveout]
        if platform:
            self.args += ["--platform", platform]
        if abi:
            self.args += ["--abi", abi]
        self.args += list(options)
        self.proc = None
        self._client = None

    @property
    def client(self):
        """A Client connected to this daemon (made again after each restart)."""
        if self._client is None:
            self._client = Client(self.socket)
        return self._client

    def start(self, *extra, timeout=30.0):
        if self.running():
            raise RuntimeError("el3d is already running (pid %d)" % self.proc.pid)
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen([self.binary, *self.args, *extra], stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=log)
        # The socket first (a channel that failed to connect waits out gRPC's reconnect back-off), then a call.
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise El3dError("start", None, "el3d exited with status %d:\n%s" % (self.proc.returncode, self.log()))
            if os.path.exists(self.socket):
                try:
                    self.client.state()
                    return self
                except El3dError:
                    self._drop_client()
            if time.monotonic() > deadline:
                raise El3dError("start", None, "el3d did not answer within %.0f s:\n%s" % (timeout, self.log()))
            time.sleep(0.02)

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def _drop_client(self):
        if self._client is not None:
            self._client.close()
            self._client = None

    def stop(self, timeout=10.0):
        """SIGTERM: el3d finishes in-flight calls and stops. Returns its exit status."""
        self._drop_client()
        if not self.running():
            return None if self.proc is None else self.proc.returncode
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=timeout)

    def kill9(self):
        """SIGKILL, at whatever point el3d is: what a crash does."""
        self._drop_client()
        if self.running():
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def restart(self, *extra, kill=False):
        """Stop (or with kill=True, SIGKILL) and start again on the same carveout."""
        self.kill9() if kill else self.stop()
        return self.start(*extra)

    def log(self):
        try:
            with open(self.log_path, encoding="utf-8", errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def run_rmm(self, binary, *args, instance=None, env=None, timeout=120):
        """Run an RMM program (linked with el3client) against this daemon to its end, with EL3D_ENDPOINT set;
        `instance` is only for messages. Returns subprocess.CompletedProcess (text)."""
        e = dict(os.environ, EL3D_ENDPOINT="unix:" + self.socket, EL3D_SOCKET=self.socket)
        e.update(env or {})
        r = subprocess.run([binary, *args], env=e, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           timeout=timeout)
        r.instance = instance
        return r
