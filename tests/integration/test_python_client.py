#!/usr/bin/python3
"""A client in another language: Python's grpcio against the real el3d daemon.

Discovers the service through gRPC server reflection (as grpcurl or any generic client would),
then allocates, writes and reads memory, restarts the daemon and finds the region again.
Message classes are generated with the system protoc into a temporary directory.
"""
import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

import grpc
from google.protobuf import descriptor_pb2

ARGS = None
ALLOC = 0xC40001B7


def generate(proto_dir, out):
    subprocess.run(["protoc", "-I", proto_dir, "--python_out", out, "el3d/v1/monitor.proto"], check=True)
    # The reflection protocol as el3d ships it (v1), under module names that do not shadow the grpc package; v1alpha's
    # messages are v1's under another package name.
    text = open(os.path.join(proto_dir, "grpc", "reflection", "v1", "reflection.proto"), encoding="utf-8").read()
    for version in ("v1", "v1alpha"):
        with open(os.path.join(out, "reflection_%s.proto" % version), "w", encoding="utf-8") as f:
            f.write(text.replace("package grpc.reflection.v1;", "package grpc.reflection.%s;" % version))
        subprocess.run(["protoc", "-I", out, "--python_out", out, "reflection_%s.proto" % version], check=True)
    sys.path.insert(0, out)


class Daemon:
    def __init__(self, tmp):
        self.tmp = tmp
        self.sock = os.path.join(tmp, "el3d.sock")
        self.proc = None

    def start(self):
        self.log = open(os.path.join(self.tmp, "el3d.log"), "ab")
        self.proc = subprocess.Popen([ARGS.el3d, "--carveout", os.path.join(self.tmp, "c.img"),
                                      "--socket", self.sock], stdin=subprocess.DEVNULL,
                                     stdout=self.log, stderr=self.log)
        deadline = time.time() + 15
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("el3d exited with %d" % self.proc.returncode)
            if os.path.exists(self.sock):
                ch = grpc.insecure_channel("unix:" + self.sock)
                try:
                    grpc.channel_ready_future(ch).result(timeout=1)
                    return ch
                except grpc.FutureTimeoutError:
                    ch.close()
            time.sleep(0.02)
        raise RuntimeError("el3d did not come up")

    def stop(self, sig=signal.SIGTERM):
        self.proc.send_signal(sig)
        return self.proc.wait(timeout=10)


def unary(channel, method, req, resp_cls):
    call = channel.unary_unary("/el3d.v1.Monitor/" + method,
                               request_serializer=lambda m: m.SerializeToString(),
                               response_deserializer=resp_cls.FromString)
    return call(req, timeout=10)


class PythonClient(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="el3d-py-", dir="/tmp")
        self.daemon = Daemon(self.tmp)
        self.ch = self.daemon.start()

    def tearDown(self):
        self.ch.close()
        if self.daemon.proc and self.daemon.proc.poll() is None:
            self.daemon.proc.kill()
            self.daemon.proc.wait()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def test_reflection_describes_the_service(self):
        import reflection_v1alpha_pb2 as rpb
        stream = self.ch.stream_stream("/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
                                       request_serializer=lambda m: m.SerializeToString(),
                                       response_deserializer=rpb.ServerReflectionResponse.FromString)
        reqs = [rpb.ServerReflectionRequest(list_services=""),
                rpb.ServerReflectionRequest(file_containing_symbol="el3d.v1.Monitor")]
        responses = list(stream(iter(reqs), timeout=10))
        names = [s.name for s in responses[0].list_services_response.service]
        self.assertIn("el3d.v1.Monitor", names)
        files = [descriptor_pb2.FileDescriptorProto.FromString(b)
                 for b in responses[1].file_descriptor_response.file_descriptor_proto]
        monitor = [f for f in files if f.package == "el3d.v1"][0]
        methods = {m.name for m in monitor.service[0].method}
        self.assertTrue({"Smc", "AllocateMemory", "GetState", "Reset", "ReadMemory", "WriteMemory"} <= methods)

    def test_reflection_v1_describes_the_service_too(self):
        # What recent generic clients (grpcurl, grpcui) ask first; Debian's gRPC serves only v1alpha itself.
        import reflection_v1_pb2 as rpb
        stream = self.ch.stream_stream("/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
                                       request_serializer=lambda m: m.SerializeToString(),
                                       response_deserializer=rpb.ServerReflectionResponse.FromString)
        reqs = [rpb.ServerReflectionRequest(list_services=""),
                rpb.ServerReflectionRequest(file_containing_symbol="el3d.v1.Monitor.AllocateMemory"),
                rpb.ServerReflectionRequest(file_by_filename="el3d/v1/monitor.proto"),
                rpb.ServerReflectionRequest(file_containing_symbol="el3d.v1.NoSuchThing"),
                rpb.ServerReflectionRequest(all_extension_numbers_of_type="el3d.v1.State"),
                rpb.ServerReflectionRequest()]
        responses = list(stream(iter(reqs), timeout=10))
        self.assertEqual(len(responses), len(reqs))
        names = {s.name for s in responses[0].list_services_response.service}
        self.assertTrue({"el3d.v1.Monitor", "grpc.reflection.v1.ServerReflection",
                         "grpc.reflection.v1alpha.ServerReflection"} <= names, names)
        files = [descriptor_pb2.FileDescriptorProto.FromString(b)
                 for b in responses[1].file_descriptor_response.file_descriptor_proto]
        self.assertEqual(files[0].name, "el3d/v1/monitor.proto")
        methods = {m.name for m in files[0].service[0].method}
        self.assertTrue({"Smc", "AllocateMemory", "Session", "ReserveMemory"} <= methods, methods)
        self.assertEqual(responses[1].original_request.file_containing_symbol, "el3d.v1.Monitor.AllocateMemory")
        # The same file again on this stream: sent once more itself, its imports not again.
        again = responses[2].file_descriptor_response.file_descriptor_proto
        self.assertEqual(len(again), 1)
        self.assertEqual(responses[3].error_response.error_code, 5)  # NOT_FOUND
        self.assertIn("el3d.v1.NoSuchThing", responses[3].error_response.error_message)
        self.assertEqual(responses[4].all_extension_numbers_response.base_type_name, "el3d.v1.State")
        self.assertEqual(list(responses[4].all_extension_numbers_response.extension_number), [])
        self.assertEqual(responses[5].error_response.error_code, 3)  # INVALID_ARGUMENT: nothing asked

    def test_allocate_write_restart_and_find_again(self):
        from el3d.v1 import monitor_pb2 as pb
        r = unary(self.ch, "AllocateMemory", pb.AllocateMemoryRequest(size=0x3000, align_bits=12, id=2),
                  pb.AllocateMemoryResponse)
        self.assertEqual(r.result, 1)
        self.assertTrue(r.fresh)
        self.assertEqual(r.address, 0xFFBFF000 - 0x3000)
        unary(self.ch, "WriteMemory", pb.WriteMemoryRequest(address=r.address, data=b"from python"),
              pb.WriteMemoryResponse)
        # Raw SMC path, negative result sign-extended into x0.
        s = unary(self.ch, "Smc", pb.SmcRequest(fid=ALLOC, x1=0x4000, x2=2), pb.SmcResponse)
        self.assertEqual(s.x0, (1 << 64) - 4)  # E_RMM_NOMEM: larger than the recorded region

        self.ch.close()
        self.assertEqual(self.daemon.stop(signal.SIGKILL), -signal.SIGKILL)
        self.ch = self.daemon.start()
        s = unary(self.ch, "Smc", pb.SmcRequest(fid=ALLOC, x1=0x3000, x2=(12 << 24) | 2), pb.SmcResponse)
        self.assertEqual(s.x0, 0)
        self.assertEqual(s.x1, r.address)
        m = unary(self.ch, "ReadMemory", pb.ReadMemoryRequest(address=r.address, length=11),
                  pb.ReadMemoryResponse)
        self.assertEqual(m.data, b"from python")
        st = unary(self.ch, "GetState", pb.GetStateRequest(), pb.State)
        self.assertEqual(st.platform, "fvp")
        self.assertEqual([(g.id, g.address, g.size) for g in st.regions], [(2, r.address, 0x3000)])

    def test_errors_are_grpc_statuses(self):
        from el3d.v1 import monitor_pb2 as pb
        with self.assertRaises(grpc.RpcError) as e:
            unary(self.ch, "Smc", pb.SmcRequest(cpu=100, fid=ALLOC), pb.SmcResponse)
        self.assertEqual(e.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
        with self.assertRaises(grpc.RpcError) as e:
            unary(self.ch, "ReadMemory", pb.ReadMemoryRequest(address=0, length=1), pb.ReadMemoryResponse)
        self.assertEqual(e.exception.code(), grpc.StatusCode.OUT_OF_RANGE)

    def test_unknown_entry_kind_is_refused_and_changes_nothing(self):
        # Protobuf enums are open: a client can send a number no EntryKind has. It is not an entry.
        from el3d.v1 import monitor_pb2 as pb
        before = unary(self.ch, "GetState", pb.GetStateRequest(), pb.State)
        req = pb.BootRequest(cpu=0)
        req.kind = 7
        with self.assertRaises(grpc.RpcError) as e:
            unary(self.ch, "Boot", req, pb.BootResponse)
        self.assertEqual(e.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
        self.assertIn("not an EntryKind", e.exception.details())
        # The same in a session's first message: refused, and the CPU is not claimed.
        call = self.ch.stream_stream("/el3d.v1.Monitor/Session",
                                     request_serializer=lambda m: m.SerializeToString(),
                                     response_deserializer=pb.SessionResponse.FromString)
        enter = pb.SessionRequest(enter=pb.EnterRequest(cpu=0))
        enter.enter.kind = 7
        with self.assertRaises(grpc.RpcError) as e:
            list(call(iter([enter]), timeout=10))
        self.assertEqual(e.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
        after = unary(self.ch, "GetState", pb.GetStateRequest(), pb.State)
        self.assertEqual(after.activation, before.activation)
        self.assertEqual([c.entries for c in after.cpus], [c.entries for c in before.cpus])
        self.assertEqual([c.session for c in after.cpus], [c.session for c in before.cpus])
        ok = unary(self.ch, "Boot", pb.BootRequest(cpu=0, kind=pb.ENTRY_KIND_COLD), pb.BootResponse)
        self.assertEqual(ok.kind, pb.ENTRY_KIND_COLD)


class ProtoDocs(unittest.TestCase):
    """The API is documented where a generic client looks: every field, enum value and method."""

    def test_every_field_and_method_has_a_comment(self):
        out = tempfile.mkdtemp(prefix="el3d-pydesc-")
        try:
            desc = os.path.join(out, "monitor.desc")
            subprocess.run(["protoc", "-I", ARGS.proto_dir, "--include_source_info", "--descriptor_set_out", desc,
                            "el3d/v1/monitor.proto"], check=True)
            with open(desc, "rb") as f:
                fds = descriptor_pb2.FileDescriptorSet.FromString(f.read())
        finally:
            shutil.rmtree(out, ignore_errors=True)
        fd = fds.file[0]
        commented = {tuple(loc.path) for loc in fd.source_code_info.location
                     if loc.leading_comments.strip() or loc.trailing_comments.strip()}
        missing = []

        def check(path, what):
            if tuple(path) not in commented:
                missing.append(what)

        def walk_message(m, path, prefix):
            for i, field in enumerate(m.field):
                check(path + [2, i], prefix + m.name + "." + field.name)
            for i, e in enumerate(m.enum_type):
                walk_enum(e, path + [4, i], prefix + m.name + ".")
            for i, n in enumerate(m.nested_type):
                walk_message(n, path + [3, i], prefix + m.name + ".")

        def walk_enum(e, path, prefix):
            for i, v in enumerate(e.value):
                check(path + [2, i], prefix + e.name + "." + v.name)

        for i, m in enumerate(fd.message_type):
            walk_message(m, [4, i], "")
        for i, e in enumerate(fd.enum_type):
            walk_enum(e, [5, i], "")
        for i, svc in enumerate(fd.service):
            for j, method in enumerate(svc.method):
                check([6, i, 2, j], svc.name + "." + method.name)
        self.assertGreater(len(commented), 100)
        self.assertEqual(missing, [], "undocumented in monitor.proto: " + ", ".join(missing))


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--el3d", required=True)
    p.add_argument("--proto-dir", required=True)
    ARGS, rest = p.parse_known_args()
    gen = tempfile.mkdtemp(prefix="el3d-pygen-")
    try:
        generate(ARGS.proto_dir, gen)
        unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)
    finally:
        shutil.rmtree(gen, ignore_errors=True)
