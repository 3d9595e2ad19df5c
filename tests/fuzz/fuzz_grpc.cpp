// fuzz_grpc: MonitorService, the daemon's gRPC handlers, with hostile requests. Each input is a list of calls: a
// byte picks the RPC, the next bytes are its request in protobuf wire format (parsed as gRPC would, skipped if it does
// not parse), and the handler is called directly with a local ServerContext. Every unary RPC is covered; Session
// (a stream) is not yet: a stream through an in-process server hung under the fuzzer and was left out. Every
// answer must be one of the statuses the API documents for bad requests (never INTERNAL or UNKNOWN: those are
// exceptions out of the core), a successful response must be consistent with its request, and the daemon must go
// on serving. First byte: the ABI profile.
#include "fuzz_common.hpp"
#include "service.hpp"

#include "el3d/nsmem/nsmem.hpp"

#include <grpcpp/grpcpp.h>

#include <memory>

using namespace el3d;
using namespace el3d::fuzz;
using grpc::StatusCode;

namespace {

struct Daemon {
	std::unique_ptr<Monitor> monitor;
	std::unique_ptr<NsMemory> ns;
	std::unique_ptr<MonitorService> service;
};
Daemon g_daemons[3];

Daemon& daemon_for(unsigned n)
{
	const Abi abis[] = {Abi::Seed, Abi::Tfa, Abi::TfaV1Compat};
	Daemon& d = g_daemons[n];
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
		return;
	default:
		fail(std::string(rpc) + " answered status " + std::to_string(s.error_code()) + ": " + s.error_message());
	}
}

template <class Msg>
bool parse(Input& in, Msg& m)
{
	const std::vector<uint8_t> b = in.bytes(512);
	return m.ParseFromArray(b.data(), static_cast<int>(b.size()));
}

void one_call(Daemon& d, Input& in)
{
	MonitorService& svc = *d.service;
	grpc::ServerContext ctx;
	switch (in.pick(7)) {
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
		break;
	}
	default: {
		v1::WriteMemoryRequest req;
		v1::WriteMemoryResponse resp;
		if (!parse(in, req))
			break;
		const grpc::Status s = svc.WriteMemory(&ctx, &req, &resp);
		check_status(s, "WriteMemory");
		check(s.ok() == d.monitor->carveout().in_image(req.address(), req.data().size()) ||
		          req.data().size() > kMaxMemoryTransfer,
		      "WriteMemory: accepted outside the image, or refused inside it");
		break;
	}
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
	for (unsigned n = 0; n < 32 && !in.empty(); ++n)
		one_call(d, in);
	return 0;
}
