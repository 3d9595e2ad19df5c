"""A typed client of el3d's gRPC API over its Unix socket."""
import dataclasses
import json
import os
import queue
import threading

import grpc

from . import _smc
from .v1 import monitor_pb2 as pb

_SERVICE = "/el3d.v1.Monitor/"
U64 = (1 << 64) - 1


class El3dError(Exception):
    """A call el3d refused (bad argument, CPU in use, ...) or could not be made (el3d not running).
    `code` is the grpc.StatusCode, `details` el3d's reason."""

    def __init__(self, what, code, details):
        super().__init__("%s: %s" % (what, details))
        self.code, self.details = code, details


def default_socket():
    """Where el3ctl and el3client look: $EL3D_SOCKET, else $XDG_RUNTIME_DIR/el3d/el3d.sock."""
    if os.environ.get("EL3D_SOCKET"):
        return os.environ["EL3D_SOCKET"]
    run = os.environ.get("XDG_RUNTIME_DIR") or "/tmp/el3d-%d" % os.getuid()
    return os.path.join(run, "el3d", "el3d.sock")


def fid(f):
    """A FID from its number or its name: "RMM_GTSI_DELEGATE", "EL3_FID_RMM_GTSI_DELEGATE" or 0xC40001B0."""
    if isinstance(f, int):
        return f
    name = f.upper()
    if name.startswith("EL3_FID_"):
        name = name[len("EL3_FID_"):]
    if name in _smc.FIDS:
        return _smc.FIDS[name]
    try:
        return int(f, 0)
    except ValueError:
        raise ValueError("unknown FID %r (known: %s)" % (f, ", ".join(sorted(_smc.FIDS)))) from None


def result_code(name):
    """The value of a result name ("E_RMM_BAD_PAS", "FIRME_DENIED"), as x0 holds it (two's complement)."""
    n = name.upper()
    if n.startswith("EL3_"):
        n = n[4:]
    if n == "SMC_UNK":
        return U64
    return _smc.CODES[n] & U64


def _signed(v):
    return v - (1 << 64) if v >> 63 else v


@dataclasses.dataclass
class Smc:
    """x0..x7 of an SMC, with x0 by name as el3d names it for the FID."""
    x: list
    name: str = ""

    @property
    def result(self):
        """x0 as a signed number (E_RMM_* codes are negative)."""
        return _signed(self.x[0])

    @property
    def ok(self):
        return self.x[0] == 0

    def __getitem__(self, i):
        return self.x[i]


@dataclasses.dataclass
class Allocation:
    result: int      # 1 = new (zeroed), 0 = an existing tagged region came back, < 0 = E_RMM_* error
    address: int
    fresh: bool
    name: str        # result by name, e.g. "E_RMM_NOMEM"


@dataclasses.dataclass
class Entry:
    kind: str        # "cold" or "warm"
    x: list          # the entry registers x0..x7
    activation: int
    manifest_size: int


def _regs(m):
    return [m.x0, m.x1, m.x2, m.x3, m.x4, m.x5, m.x6, m.x7]


def _kind(kind):
    return {"auto": pb.ENTRY_KIND_AUTO, "cold": pb.ENTRY_KIND_COLD, "warm": pb.ENTRY_KIND_WARM}[kind]


def _args(args, n=12):
    if len(args) > n:
        raise ValueError("at most %d argument registers, got %d" % (n, len(args)))
    vals = [a & U64 for a in args] + [0] * (n - len(args))
    return {"x%d" % (i + 1): v for i, v in enumerate(vals)}


class _Admin:
    """Fault rules and snapshots (mixed into Client)."""

    # ---- fault injection (docs/faults.md)
    def add_fault(self, rule=None, **fields):
        """Add a fault rule, as a dict in the --faults file's JSON form or as keyword fields, e.g.
        add_fault(fid="RMM_GTSI_DELEGATE", nth=3, result="E_RMM_BAD_PAS"). Returns the rule as el3d holds it
        (a dict with "id", "description", "matched", "fired" and the rule's fields)."""
        r = dict(rule or {}, **fields)
        got = self._call("AddFault", pb.AddFaultRequest(rule_json=json.dumps(r)), pb.FaultRule)
        return _fault(got)

    def faults(self):
        """The rules in force, with their counters."""
        return [_fault(r) for r in self._call("ListFaults", pb.ListFaultsRequest(), pb.ListFaultsResponse).rules]

    def clear_faults(self, id=""):
        """Remove one rule by id, or every rule. Returns how many were removed."""
        return self._call("ClearFaults", pb.ClearFaultsRequest(id=id), pb.ClearFaultsResponse).cleared

    # ---- snapshots (docs/snapshots.md)
    def save_snapshot(self, name, note="", force=False):
        """Copy the carveout as snapshot `name`; returns its info (a dict)."""
        return _snap(self._call("SaveSnapshot", pb.SaveSnapshotRequest(name=name, note=note, force=force), pb.SnapshotInfo,
                                timeout=max(self.timeout, 120)))

    def restore_snapshot(self, name, force=False):
        """Make the carveout what snapshot `name` holds (refused while an RMM holds a CPU unless force)."""
        return _snap(self._call("RestoreSnapshot", pb.RestoreSnapshotRequest(name=name, force=force), pb.SnapshotInfo,
                                timeout=max(self.timeout, 120)))

    def snapshots(self):
        return [_snap(i) for i in self._call("ListSnapshots", pb.ListSnapshotsRequest(), pb.SnapshotList).snapshots]

    def remove_snapshot(self, name):
        self._call("RemoveSnapshot", pb.RemoveSnapshotRequest(name=name), pb.RemoveSnapshotResponse)


def _fault(r):
    d = json.loads(r.rule_json) if r.rule_json else {}
    d.update(id=r.id, description=r.description, matched=r.matched, fired=r.fired)
    return d


def _snap(i):
    return {f.name: getattr(i, f.name) for f in i.DESCRIPTOR.fields}


class Client(_Admin):
    """One connection to el3d. `socket`: its Unix socket (default: default_socket()); `timeout`: seconds
    each call may take."""

    def __init__(self, socket=None, timeout=10.0):
        self.socket = socket or default_socket()
        self.timeout = timeout
        self._channel = grpc.insecure_channel("unix:" + self.socket)

    def close(self):
        self._channel.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _call(self, method, request, response_type, timeout=None):
        stub = self._channel.unary_unary(_SERVICE + method, request_serializer=type(request).SerializeToString,
                                         response_deserializer=response_type.FromString)
        try:
            return stub(request, timeout=self.timeout if timeout is None else timeout)
        except grpc.RpcError as e:
            raise El3dError(method, e.code(), e.details()) from None

    def wait(self, timeout=10.0):
        """Wait until el3d answers (it may be starting)."""
        try:
            grpc.channel_ready_future(self._channel).result(timeout=timeout)
        except grpc.FutureTimeoutError:
            raise El3dError("wait", grpc.StatusCode.UNAVAILABLE, "no el3d answers on " + self.socket) from None
        return self

    # ---- SMCs
    def smc(self, f, *args, cpu=0):
        """One SMC on `cpu`: f by name or number, x1.. as args. Returns Smc (x0..x7, x0 by name)."""
        r = self._call("Smc", pb.SmcRequest(cpu=cpu, fid=fid(f), **_args(args)), pb.SmcResponse)
        return Smc(_regs(r), r.result_name)

    def allocate(self, size, align_bits=12, id=0, cpu=0):
        """RMM_ALLOCATE_MEMORY (seed ABI): a tagged region (id 1..) comes back with its content."""
        r = self._call("AllocateMemory", pb.AllocateMemoryRequest(cpu=cpu, size=size, align_bits=align_bits, id=id),
                       pb.AllocateMemoryResponse)
        return Allocation(r.result, r.address, r.fresh, r.result_name)

    def reserve(self, size, align_bits=12, local=True, cpu=0):
        """RMM_RESERVE_MEMORY (tfa ABI): x1 = size, x2 = alignment and the local-CPU flag."""
        return self.smc("RMM_RESERVE_MEMORY", size, (align_bits << 56) | (1 if local else 0), cpu=cpu)

    # ---- memory, state, boot
    def read_memory(self, address, length):
        return self._call("ReadMemory", pb.ReadMemoryRequest(address=address, length=length), pb.ReadMemoryResponse).data

    def write_memory(self, address, data):
        self._call("WriteMemory", pb.WriteMemoryRequest(address=address, data=bytes(data)), pb.WriteMemoryResponse)

    def state(self):
        """GetState as its protobuf message (fields in proto/el3d/v1/monitor.proto)."""
        return self._call("GetState", pb.GetStateRequest(), pb.State)

    def regions(self):
        """The allocations of this epoch: {id, address, size, align_bits, cpu, activation}, oldest first."""
        return [{"id": r.id, "address": r.address, "size": r.size, "align_bits": r.align_bits, "cpu": r.cpu,
                 "activation": r.activation} for r in self.state().regions]

    def region(self, id):
        """The tagged region `id`, or None."""
        for r in self.regions():
            if r["id"] == id and id != 0:
                return r
        return None

    def boot(self, cpu=0, kind="auto", config=None, config_format="json"):
        """EL3 enters the RMM on `cpu` (no session): the entry registers. `config`: a boot configuration for
        this entry (a dict, JSON or TOML text)."""
        if isinstance(config, dict):
            config = json.dumps(config)
        r = self._call("Boot", pb.BootRequest(cpu=cpu, kind=_kind(kind), config=config or "",
                                                 config_format=config_format), pb.BootResponse)
        return Entry("cold" if r.kind == pb.ENTRY_KIND_COLD else "warm", _regs(r), r.activation, r.manifest_size)

    def reset(self):
        """Forget every region, delegation and boot state (el3ctl reset)."""
        self._call("Reset", pb.ResetRequest(), pb.ResetResponse)

    def session(self, cpu=0, kind="auto", client="python", serve_rmi=False, config=None):
        """A CPU session as an RMM holds one: claims the CPU and enters it; SMCs on it; released on close
        (a context manager)."""
        return Session(self, cpu, kind, client, serve_rmi, config)

    # ---- the world switch and the trace
    def rmi(self, f, *args, cpu=0, fail_fast=False, timeout=None):
        """One RMI from the Non-secure world to the RMM serving `cpu`: the RMM's answer (name "forwarded"), or
        SMC_UNK from el3d itself. El3dError when it was not completed (no RMM, queue full, RMM gone)."""
        req = pb.RmiRequest(cpu=cpu, fid=fid(f), fail_fast=fail_fast, **_args(args, 12))
        r = self._call("Rmi", req, pb.RmiResponse, timeout=timeout)
        return Smc(_regs(r), "forwarded" if r.forwarded else "SMC_UNK")

    def trace(self, cpu=None, f=None, result="", ring=False, count=0):
        """Follow el3d's trace: an iterator of events (dicts, the trace file's format, docs/trace.md)."""
        req = pb.TraceRequest(result=result, ring=ring, count=count)
        if cpu is not None:
            req.cpu = cpu
        if f is not None:
            req.fid = fid(f)
        stream = self._channel.unary_stream(_SERVICE + "Trace", request_serializer=pb.TraceRequest.SerializeToString,
                                            response_deserializer=pb.TraceLine.FromString)
        try:
            for line in stream(req):
                yield json.loads(line.json)
        except grpc.RpcError as e:
            raise El3dError("Trace", e.code(), e.details()) from None

    def set_trace(self, file=None, off=False, ring=None):
        req = pb.SetTraceRequest()
        if file is not None or off:
            req.set_file, req.file = True, "" if off else file
        if ring is not None:
            req.set_ring, req.ring = True, ring
        return self._call("SetTrace", req, pb.TraceConfig)


class Session:
    """One CPU's session (see Client.session)."""

    def __init__(self, client, cpu, kind, name, serve_rmi, config):
        self._requests = queue.Queue()
        self._closed = False
        stream = client._channel.stream_stream(_SERVICE + "Session",
                                               request_serializer=pb.SessionRequest.SerializeToString,
                                               response_deserializer=pb.SessionResponse.FromString)
        if isinstance(config, dict):
            config = json.dumps(config)
        self._requests.put(pb.SessionRequest(enter=pb.EnterRequest(cpu=cpu, kind=_kind(kind), client=name,
                                                                   serve_rmi=serve_rmi, config=config or "")))
        self._responses = stream(iter(self._requests.get, None))
        self._lock = threading.Lock()
        try:
            first = next(self._responses)
        except grpc.RpcError as e:
            raise El3dError("Session", e.code(), e.details()) from None
        e = first.entered.entry
        self.cpu = cpu
        self.entry = Entry("cold" if e.kind == pb.ENTRY_KIND_COLD else "warm", _regs(e), e.activation, e.manifest_size)
        self.carveout = first.entered.carveout

    def smc(self, f, *args):
        with self._lock:
            self._requests.put(pb.SessionRequest(smc=pb.SmcRequest(fid=fid(f), **_args(args))))
            try:
                r = next(self._responses).smc
            except grpc.RpcError as e:
                raise El3dError("Session", e.code(), e.details()) from None
            except StopIteration:
                raise El3dError("Session", grpc.StatusCode.ABORTED, "el3d ended the session") from None
        return Smc(_regs(r), "")

    def close(self):
        if not self._closed:
            self._closed = True
            self._requests.put(None)
            try:
                for _ in self._responses:
                    pass
            except grpc.RpcError:
                pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
