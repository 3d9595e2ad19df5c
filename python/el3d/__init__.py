"""el3d's Python client: the el3d.v1.Monitor API of a running el3d (an emulated EL3 for RMM
development), typed, with SMCs by name and decoded results; and a pytest plugin
(el3d.pytest_plugin) that starts private daemons for live-activation tests. docs/python.md."""
from .client import Allocation, Client, El3dError, Entry, Session, Smc, default_socket, fid, result_code
from .daemon import Daemon

__all__ = ["Allocation", "Client", "Daemon", "El3dError", "Entry", "Session", "Smc", "default_socket", "fid",
           "result_code"]
