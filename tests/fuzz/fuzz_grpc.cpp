// fuzz_grpc: MonitorService, the daemon's gRPC handlers, with hostile requests. Each input is a list of calls: a
// byte picks the RPC, the next bytes are its request in protobuf wire format (parsed as gRPC would, skipped if it does
// not parse). Unary RPCs call the handler directly with a local ServerContext; Session runs a real stream to a
// server of the same service listening on a Unix socket in the scratch directory (enter, SMCs, then the client
// half-closes or cancels), with a deadline: a session that does not end is a daemon hang. (Not grpc's in-process
// channel: its transport completes a write only when the peer reads, so a client that writes its SMCs before
// reading the answers deadlocks against the handler's first write; over a socket the writes are buffered, as for a
// real client.) Every answer must be one of the statuses the API documents for bad requests (never INTERNAL or
// UNKNOWN: those are exceptions out of the core), a successful response must be consistent with its request, a
// session's CPU must be free again once its stream has ended, and the daemon must go on serving. First byte: the
// ABI profile. The control plane's RPCs (admin_call) too.
#include "fuzz_common.hpp"
#include "service.hpp"

#include "el3d/nsmem/nsmem.hpp"
#include "el3d/snapshot/store.hpp"
#include "el3d/util/numbers.hpp"

#include <nlohmann/json.hpp>

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <memory>
#include <thread>
#include <vector>

using namespace el3d;
using namespace el3d::fuzz;
using grpc::StatusCode;

namespace {

struct Daemon {
	std::unique_ptr<Monitor> monitor;
	std::unique_ptr<NsMemory> ns;
	std::unique_ptr<MonitorService> service;
	std::unique_ptr<snapshot::Store> snapshots;
	std::unique_ptr<grpc::Server> server;
	std::unique_ptr<v1::Monitor::Stub> stub;
};
// Never destroyed: a grpc::Server destroyed by exit() after grpc's own globals may hang; reachable, so not a leak.
Daemon* g_daemons[3];

// How long a session may take, and how long a cancelled one's handler may take to let its CPU go.
constexpr auto kSessionDeadline = std::chrono::seconds(5);
// A session entered with serve_rmi: its RMM_BOOT_COMPLETE answers only with the next RMI, which never comes here
// (no deadline on that wait, by design), so the client gives up after this.
constexpr auto kServingDeadline = std::chrono::milliseconds(100);

Daemon& daemon_for(unsigned n)
{
	const Abi abis[] = {Abi::Seed, Abi::Tfa, Abi::TfaV1Compat};
	if (g_daemons[n] == nullptr)
		g_daemons[n] = new Daemon;
	Daemon& d = *g_daemons[n];
	if (d.monitor)
		return d;
	CarveoutOpenRequest req;
	req.path = scratch_dir() + "/grpc-" + abi_name(abis[n]) + ".carveout";
	req.platform = "fvp";
	req.reset = true;
	req.log_capacity = 64;
	req.durability = Durability::Process;
	req.overrides.payload_default = payload_default(abis[n]);
	MonitorOptions o;
	o.abi = abis[n];
	o.sign_delay = std::chrono::milliseconds(0);
	d.monitor = std::make_unique<Monitor>(Carveout::open(req), o);
	d.ns = NsMemory::open(d.monitor->carveout(), {req.path + ".ns", true});
	d.service = std::make_unique<MonitorService>(*d.monitor, d.ns.get());
	d.snapshots = std::make_unique<snapshot::Store>(req.path + ".snapshots");
	d.service->set_snapshots(d.snapshots.get());
	const std::string endpoint = "unix:" + scratch_dir() + "/grpc-" + abi_name(abis[n]) + ".sock";
	grpc::ServerBuilder b;
	b.AddListeningPort(endpoint, grpc::InsecureServerCredentials());
	b.RegisterService(d.service.get());
	d.server = b.BuildAndStart();
	check(d.server != nullptr, "cannot start the server on " + endpoint);
	d.stub = v1::Monitor::NewStub(grpc::CreateChannel(endpoint, grpc::InsecureChannelCredentials()));
	return d;
}

// What a handler may answer a request it cannot serve.
void check_status(const grpc::Status& s, const char* rpc)
{
	switch (s.error_code()) {
	case StatusCode::OK:
	case StatusCode::INVALID_ARGUMENT:
	case StatusCode::FAILED_PRECONDITION:
	case StatusCode::OUT_OF_RANGE:
	case StatusCode::ALREADY_EXISTS:
	case StatusCode::PERMISSION_DENIED:  // Read/WriteMemory: a granule of an NS window the NS world may not access
		return;
	default:
		fail(std::string(rpc) + " answered status " + std::to_string(s.error_code()) + ": " + s.error_message());
	}
}

// The same, with the statuses the control plane's handlers add: an unknown name (snapshots, fault rules), a rule
// list that is full, a rule cleared while it was added, an RMI that no RMM can take (UNAVAILABLE, fail-fast).
void check_admin_status(const grpc::Status& s, const char* rpc)
{
	if (s.error_code() == StatusCode::NOT_FOUND || s.error_code() == StatusCode::RESOURCE_EXHAUSTED ||
	    s.error_code() == StatusCode::ABORTED || s.error_code() == StatusCode::UNAVAILABLE)
		return;
	check_status(s, rpc);
}

template <class Msg>
bool parse(Input& in, Msg& m)
{
	const std::vector<uint8_t> b = in.bytes(512);
	return m.ParseFromArray(b.data(), static_cast<int>(b.size()));
}

// Whether any CPU still has a session.
bool any_session(const Monitor& m)
{
	for (const auto& c : m.status().cpus)
		if (c.session)
			return true;
	return false;
}

// A Session stream: up to five messages (an `enter` most of the time first, then SMCs; any message sometimes),
// written before any answer is read, then the client half-closes, or cancels. The stream must end within the
// deadline with a status the API gives bad requests, and the session's CPU must be released.
void session(Daemon& d, Input& in)
{
	std::vector<v1::SessionRequest> reqs;
	bool serving = false;  // an `enter` asks to serve RMIs
	for (unsigned n = in.pick(6); n > 0 && !in.empty(); --n) {
		v1::SessionRequest req;
		if (in.pick(4) == 0) {
			if (!parse(in, req))
				continue;
		} else if (n == 1 || in.pick(3) == 0) {
			if (!parse(in, *req.mutable_enter()))
				continue;
		} else if (!parse(in, *req.mutable_smc())) {
			continue;
		}
		serving = serving || (req.has_enter() && req.enter().serve_rmi());
		reqs.push_back(std::move(req));
	}
	grpc::ClientContext ctx;
	ctx.set_deadline(std::chrono::system_clock::now() +
	                 (serving ? std::chrono::duration_cast<std::chrono::system_clock::duration>(kServingDeadline)
	                          : std::chrono::duration_cast<std::chrono::system_clock::duration>(kSessionDeadline)));
	auto stream = d.stub->Session(&ctx);
	for (const auto& req : reqs)
		if (!stream->Write(req))
			break;
	const bool cancel = in.pick(8) == 0;
	if (cancel)
		ctx.TryCancel();  // the client goes away
	else
		stream->WritesDone();
	v1::SessionResponse resp;
	while (stream->Read(&resp))
		(void)resp.ByteSizeLong();
	const grpc::Status s = stream->Finish();
	if (s.error_code() == StatusCode::DEADLINE_EXCEEDED && !serving)
		fail("Session did not end within " + std::to_string(kSessionDeadline.count()) + " s (" + s.error_message() +
		     "): the handler hangs");
	if (!((cancel && s.error_code() == StatusCode::CANCELLED) || s.error_code() == StatusCode::DEADLINE_EXCEEDED))
		check_status(s, "Session");
	// The handler has returned when a status other than CANCELLED (or, serving, DEADLINE_EXCEEDED) arrives; a
	// cancelled one may still be running.
	const auto until = std::chrono::steady_clock::now() + kSessionDeadline;
	while (any_session(*d.monitor)) {
		if (std::chrono::steady_clock::now() > until)
			fail(std::string("a Session ") + (cancel ? "cancelled by its client" : "that ended") + " still holds its CPU after " +
			     std::to_string(kSessionDeadline.count()) + " s");
		std::this_thread::sleep_for(std::chrono::milliseconds(1));
	}
}

// Read/WriteMemory's answer for [addr, addr + len) (proto: ReadMemory): more than 4 MiB INVALID_ARGUMENT; inside the
// carveout image OK; inside one Non-secure window OK, or PERMISSION_DENIED if the GPT gives one of its granules to
// another PAS; anywhere else OUT_OF_RANGE.
void check_memory_status(const Daemon& d, const grpc::Status& s, uint64_t addr, uint64_t len, const char* rpc)
{
	StatusCode want = StatusCode::OUT_OF_RANGE;
	if (len > kMaxMemoryTransfer)
		want = StatusCode::INVALID_ARGUMENT;
	else if (d.monitor->carveout().in_image(addr, len))
		want = StatusCode::OK;
	else if (len != 0 && d.ns->window_of(addr, len) != nullptr)
		want = d.monitor->ns_access_fault(addr, len) ? StatusCode::PERMISSION_DENIED : StatusCode::OK;
	if (s.error_code() != want)
		fail(std::string(rpc) + "(" + hex(addr) + ", " + std::to_string(len) + " bytes) answered " +
		     std::to_string(s.error_code()) + ", the API says " + std::to_string(want) + ": " + s.error_message());
}

// The RPCs added with the world switch, the trace, fault injection and snapshots, and ReserveMemory. What a
// hostile client could make take long is bounded here, not in the daemon, where it is a documented feature: an RMI
// is sent fail-fast (one queued without an RMM waits for it until the client gives up), a fault rule's delay is
// cut to 1 ms, a trace file is one of the scratch directory's. Snapshots are saved and restored rarely (each copies
// the carveout).
void admin_call(Daemon& d, Input& in)
{
	MonitorService& svc = *d.service;
	grpc::ServerContext ctx;
	switch (in.pick(8)) {
	case 0: {
		v1::ReserveMemoryRequest req;
		v1::ReserveMemoryResponse resp;
		if (!parse(in, req))
			break;
		const grpc::Status s = svc.ReserveMemory(&ctx, &req, &resp);
		check_status(s, "ReserveMemory");
		check(!s.ok() || (resp.result() == 0) == (resp.address() != 0), "ReserveMemory: an address without E_RMM_OK");
		break;
	}
	case 1: {
		v1::RmiRequest req;
		v1::RmiResponse resp;
		if (!parse(in, req))
			break;
		req.set_fail_fast(true);
		check_admin_status(svc.Rmi(&ctx, &req, &resp), "Rmi");
		break;
	}
	case 2: {
		v1::AddFaultRequest req;
		v1::FaultRule resp;
		if (!parse(in, req))
			break;
		nlohmann::json j = nlohmann::json::parse(req.rule_json(), nullptr, false);
		if (j.is_object() && j.contains("delay_ms")) {
			j["delay_ms"] = 1;
			req.set_rule_json(j.dump());
		}
		check_admin_status(svc.AddFault(&ctx, &req, &resp), "AddFault");
		break;
	}
	case 3: {
		v1::ListFaultsRequest req;
		v1::ListFaultsResponse resp;
		check_admin_status(svc.ListFaults(&ctx, &req, &resp), "ListFaults");
		v1::ClearFaultsRequest clear;
		v1::ClearFaultsResponse cleared;
		if (parse(in, clear))
			check_admin_status(svc.ClearFaults(&ctx, &clear, &cleared), "ClearFaults");
		break;
	}
	case 4: {
		v1::SetTraceRequest req;
		v1::TraceConfig resp;
		if (!parse(in, req))
			break;
		if (req.set_file())
			req.set_file(req.file().empty() ? "" : scratch_dir() + "/grpc.trace");
		check_status(svc.SetTrace(&ctx, &req, &resp), "SetTrace");
		break;
	}
	case 5: {
		v1::SaveSnapshotRequest req;
		v1::SnapshotInfo resp;
		if (in.pick(8) == 0 && parse(in, req))
			check_admin_status(svc.SaveSnapshot(&ctx, &req, &resp), "SaveSnapshot");
		break;
	}
	case 6: {
		v1::RestoreSnapshotRequest req;
		v1::SnapshotInfo resp;
		if (in.pick(8) == 0 && parse(in, req))
			check_admin_status(svc.RestoreSnapshot(&ctx, &req, &resp), "RestoreSnapshot");
		break;
	}
	default: {
		v1::ListSnapshotsRequest list;
		v1::SnapshotList listed;
		check_admin_status(svc.ListSnapshots(&ctx, &list, &listed), "ListSnapshots");
		v1::RemoveSnapshotRequest req;
		v1::RemoveSnapshotResponse resp;
		if (parse(in, req))
			check_admin_status(svc.RemoveSnapshot(&ctx, &req, &resp), "RemoveSnapshot");
		break;
	}
	}
}

void one_call(Daemon& d, Input& in)
{
	MonitorService& svc = *d.service;
	grpc::ServerContext ctx;
	switch (in.pick(9)) {
	case 0: {
		v1::SmcRequest req;
		v1::SmcResponse resp;
		if (parse(in, req))
			check_status(svc.Smc(&ctx, &req, &resp), "Smc");
		break;
	}
	case 1: {
		v1::AllocateMemoryRequest req;
		v1::AllocateMemoryResponse resp;
		if (!parse(in, req))
			break;
		const grpc::Status s = svc.AllocateMemory(&ctx, &req, &resp);
		check_status(s, "AllocateMemory");
		check(!s.ok() || resp.fresh() == (resp.result() == 1), "AllocateMemory: fresh without result 1");
		break;
	}
	case 2: {
		v1::GetStateRequest req;
		v1::State resp;
		if (parse(in, req))
			check_status(svc.GetState(&ctx, &req, &resp), "GetState");
		(void)resp.ByteSizeLong();
		break;
	}
	case 3: {
		v1::BootRequest req;
		v1::BootResponse resp;
		if (!parse(in, req))
			break;
		const grpc::Status s = svc.Boot(&ctx, &req, &resp);
		check_status(s, "Boot");
		check(!s.ok() || resp.kind() == v1::ENTRY_KIND_COLD || resp.kind() == v1::ENTRY_KIND_WARM,
		      "Boot: an entry that is neither cold nor warm");
		break;
	}
	case 4: {
		v1::ResetRequest req;
		v1::ResetResponse resp;
		if (in.pick(4) == 0 && parse(in, req))
			check_status(svc.Reset(&ctx, &req, &resp), "Reset");
		break;
	}
	case 5: {
		v1::ReadMemoryRequest req;
		v1::ReadMemoryResponse resp;
		if (!parse(in, req))
			break;
		const grpc::Status s = svc.ReadMemory(&ctx, &req, &resp);
		check_status(s, "ReadMemory");
		check(!s.ok() || resp.data().size() == req.length(), "ReadMemory: wrong length");
		check_memory_status(d, s, req.address(), req.length(), "ReadMemory");
		break;
	}
	case 6: {
		v1::WriteMemoryRequest req;
		v1::WriteMemoryResponse resp;
		if (!parse(in, req))
			break;
		const grpc::Status s = svc.WriteMemory(&ctx, &req, &resp);
		check_status(s, "WriteMemory");
		check_memory_status(d, s, req.address(), req.data().size(), "WriteMemory");
		break;
	}
	case 7: session(d, in); break;
	default: admin_call(d, in); break;
	}
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***)
{
	quiet_logs();
	return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
	Input in(data, size);
	Daemon& d = daemon_for(static_cast<unsigned>(in.pick(3)));
	d.monitor->reset();
	d.monitor->faults().clear();  // each input starts with no fault rule (one may kill or answer every call)
	for (unsigned n = 0; n < 32 && !in.empty(); ++n)
		one_call(d, in);
	return 0;
}
