#include "service.hpp"

#include "reason_sink.hpp"

#include "el3d/gpt/gpt.hpp"
#include "el3d/monitor/names.hpp"
#include "el3d/smc.h"
#include "el3d/util/numbers.hpp"
#include "el3d/worldswitch/ports.hpp"
#include "proto_regs.hpp"
#include "state_proto.hpp"

#include <spdlog/spdlog.h>

namespace el3d {

using grpc::Status;
using grpc::StatusCode;

namespace {
// Whether x0 says the call did what was asked (E_RMM_OK / FIRME_SUCCESS, a fresh allocation), so
// that the reason is sent only for failures. SMCCC answers (versions, feature bits) count as success.
bool succeeded(uint64_t fid, uint64_t x0)
{
	const auto f = static_cast<uint32_t>(fid) & ~(1u << 16);
	if (f == EL3_FID_RMM_ALLOCATE_MEMORY && x0 == static_cast<uint64_t>(EL3_ALLOC_FRESH))
		return true;
	if ((f & 0xFFFFFF00u) == 0x80000000u || f == EL3_FID_SMCCC_ARCH_FEATURE_AVAILABILITY)
		return static_cast<int64_t>(x0) >= 0;
	return x0 == 0;
}

}  // namespace

Status MonitorService::dispatch(uint32_t cpu, uint64_t fid, const SmcArgs& x, SmcResult& out, std::string* reason)
{
	std::string ignored;
	ReasonSink::Capture capture(reason != nullptr ? *reason : ignored);
	try {
		if (!monitor_.call(cpu, fid, x, out))
			return {StatusCode::INVALID_ARGUMENT, "cpu " + std::to_string(cpu) + " is not a CPU of this platform (" +
			                                          std::to_string(monitor_.geometry().core_count) + " cores)"};
		return Status::OK;
	} catch (const SessionKilled& e) {
		return {StatusCode::ABORTED, e.what()};  // a fault rule's kill: the session ends here, as on an RMM crash
	} catch (const std::exception& e) {
		// The call could not be carried out (e.g. the carveout file became unwritable); the SMC
		// changed nothing that was not made durable.
		spdlog::error("cpu{} {}: {}", cpu, fid_name(fid), e.what());
		return {StatusCode::INTERNAL, e.what()};
	}
}

Status MonitorService::Smc(grpc::ServerContext*, const v1::SmcRequest* req, v1::SmcResponse* resp)
{
	SmcResult r{};
	std::string why;
	Status s = dispatch(req->cpu(), req->fid(), args_of(*req), r, &why);
	if (s.ok()) {
		set_regs(resp, r);
		resp->set_result_name(result_name(req->fid(), r[0]));
		if (!succeeded(req->fid(), r[0]))
			resp->set_reason(why);
	}
	return s;
}

Status MonitorService::AllocateMemory(grpc::ServerContext*, const v1::AllocateMemoryRequest* req,
                                      v1::AllocateMemoryResponse* resp)
{
	if (req->align_bits() > EL3_ALLOC_X2_ALIGN_MASK)
		return {StatusCode::INVALID_ARGUMENT, "align_bits " + std::to_string(req->align_bits()) +
		                                          " does not fit the 8-bit field x2[31:24]"};
	if (req->id() > EL3_ALLOC_X2_ID_MASK)
		return {StatusCode::INVALID_ARGUMENT, "id " + std::to_string(req->id()) + " does not fit the 16-bit field x2[15:0]"};
	SmcResult r{};
	std::string why;
	Status s = dispatch(req->cpu(), EL3_FID_RMM_ALLOCATE_MEMORY, {req->size(), EL3_ALLOC_X2(req->align_bits(), req->id())}, r,
	                    &why);
	if (!s.ok())
		return s;
	const auto x0 = static_cast<int64_t>(r[0]);
	resp->set_result(x0);
	resp->set_address(x0 >= 0 ? r[1] : 0);
	resp->set_fresh(x0 == EL3_ALLOC_FRESH);
	resp->set_result_name(rmm_result_name(r[0]));
	if (x0 < 0)
		resp->set_reason(why);
	return Status::OK;
}

Status MonitorService::GetState(grpc::ServerContext*, const v1::GetStateRequest*, v1::State* resp)
{
	to_proto(monitor_.status(), *resp);
	// CPUs that have not run are not listed, unless RMIs wait for them.
	std::vector<bool> listed(world_.cpus(), false);
	for (const v1::Cpu& c : resp->cpus())
		if (c.cpu() < listed.size())
			listed[c.cpu()] = true;
	for (uint32_t cpu = 0; cpu < world_.cpus(); ++cpu)
		if (!listed[cpu] && world_.view(cpu).queued != 0)
			resp->add_cpus()->set_cpu(cpu);
	for (v1::Cpu& c : *resp->mutable_cpus()) {
		if (c.cpu() >= world_.cpus())
			continue;
		const ws::CpuView v = world_.view(c.cpu());
		c.set_rmi(v.state == ws::RmiState::Serving   ? v1::RMI_STATE_SERVING
		          : v.state == ws::RmiState::Waiting ? v1::RMI_STATE_WAITING
		                                             : v1::RMI_STATE_ABSENT);
		c.set_rmi_fid(v.fid);
		c.set_rmi_queued(v.queued);
		c.set_rmis(v.served);
	}
	if (ns_ != nullptr)
		to_proto(ns_->info(), *resp->mutable_ns_memory());
	return Status::OK;
}

Status MonitorService::enter(uint32_t cpu, v1::EntryKind k, const std::string& config, const std::string& format,
                             v1::BootResponse* resp)
{
	// Open enums: a client may send any number. Only the three defined kinds are entries.
	EntryKind kind;
	switch (k) {
	case v1::ENTRY_KIND_AUTO: kind = EntryKind::Auto; break;
	case v1::ENTRY_KIND_COLD: kind = EntryKind::Cold; break;
	case v1::ENTRY_KIND_WARM: kind = EntryKind::Warm; break;
	default:
		return {StatusCode::INVALID_ARGUMENT, "kind " + std::to_string(static_cast<int>(k)) +
		                                          " is not an EntryKind (0 AUTO, 1 COLD, 2 WARM)"};
	}
	try {
		std::optional<manifest::BootConfig> cfg;
		if (!config.empty()) {
			if (!format.empty() && format != "json" && format != "toml")
				return {StatusCode::INVALID_ARGUMENT, "config_format must be json or toml, not " + format};
			cfg = manifest::parse_boot_config(config, format == "toml" ? manifest::Format::Toml : manifest::Format::Json,
			                                  monitor_.geometry().platform);
		}
		const Entry e = monitor_.enter(cpu, kind, cfg ? &*cfg : nullptr);
		resp->set_kind(e.kind == EntryKind::Cold ? v1::ENTRY_KIND_COLD : v1::ENTRY_KIND_WARM);
		set_regs(resp, e.regs);
		resp->set_activation(e.activation);
		resp->set_manifest_size(e.manifest_size);
		return Status::OK;
	} catch (const manifest::ConfigError& e) {
		return {StatusCode::INVALID_ARGUMENT, std::string("boot configuration: ") + e.what()};
	} catch (const std::length_error& e) {
		return {StatusCode::INVALID_ARGUMENT, std::string("boot configuration: ") + e.what()};
	} catch (const EntryRefused& e) {
		const bool bad_cpu = cpu >= monitor_.geometry().core_count;
		return {bad_cpu ? StatusCode::INVALID_ARGUMENT : StatusCode::FAILED_PRECONDITION, e.what()};
	} catch (const std::exception& e) {
		spdlog::error("boot entry of cpu{}: {}", cpu, e.what());
		return {StatusCode::INTERNAL, e.what()};
	}
}

Status MonitorService::Boot(grpc::ServerContext*, const v1::BootRequest* req, v1::BootResponse* resp)
{
	return enter(req->cpu(), req->kind(), req->config(), req->config_format(), resp);
}

Status MonitorService::Rmi(grpc::ServerContext* ctx, const v1::RmiRequest* req, v1::RmiResponse* resp)
{
	const uint32_t cpu = req->cpu();
	if (cpu >= world_.cpus())
		return {StatusCode::INVALID_ARGUMENT, "cpu " + std::to_string(cpu) + " is not a CPU of this platform (" +
		                                          std::to_string(world_.cpus()) + " cores)"};
	const SmcArgs x{req->x1(), req->x2(), req->x3(), req->x4(),  req->x5(),  req->x6(),
	                req->x7(), req->x8(), req->x9(), req->x10(), req->x11(), req->x12()};
	ws::NsOutcome o;
	const auto t0 = std::chrono::steady_clock::now();
	try {
		o = ws::ns_rmi(monitor_, world_, cpu, req->fid(), x, req->fail_fast(), [ctx] { return ctx->IsCancelled(); });
	} catch (const std::exception& e) {
		spdlog::error("cpu{} RMI {}: {}", cpu, hex(req->fid()), e.what());
		return {StatusCode::INTERNAL, e.what()};
	}
	if (tracer_.enabled()) {
		trace::Event ev;
		ev.kind = trace::Kind::Rmi;
		ev.cpu = cpu;
		ev.activation = monitor_.activation();
		ev.fid = req->fid();
		ev.name = fid_name(req->fid());
		for (unsigned i = 0; i < 7; ++i)
			ev.in[i] = x[i];
		ev.out = o.regs;
		ev.result = o.error != ws::RmiError::None ? ws::rmi_error_name(o.error)
		            : o.forwarded                 ? "forwarded"
		                                          : "SMC_UNK (not an RMI)";
		ev.duration_ns = static_cast<uint64_t>(
		    std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0).count());
		tracer_.record(std::move(ev));
	}
	const std::string what = "RMI " + hex(static_cast<uint32_t>(req->fid())) + " on cpu" + std::to_string(cpu);
	switch (o.error) {
	case ws::RmiError::None: break;
	case ws::RmiError::NoRmm:
		return {StatusCode::UNAVAILABLE, what + ": no RMM waits for RMIs on this CPU (none serves it, or it is busy) "
		                                        "and fail_fast is set"};
	case ws::RmiError::QueueFull:
		return {StatusCode::RESOURCE_EXHAUSTED,
		        what + ": " + std::to_string(world_.queue_limit()) + " RMIs already wait for this CPU's RMM"};
	case ws::RmiError::RmmGone:
		return {StatusCode::ABORTED, what + ": the RMM serving this CPU went away (its session ended) while it held "
		                                    "the RMI; it may or may not have taken effect"};
	case ws::RmiError::GaveUp:
		return {ctx->deadline() <= std::chrono::system_clock::now() ? StatusCode::DEADLINE_EXCEEDED : StatusCode::CANCELLED,
		        what + ": the caller gave up before the RMM completed it"};
	}
	resp->set_x0(o.regs[0]);
	resp->set_x1(o.regs[1]);
	resp->set_x2(o.regs[2]);
	resp->set_x3(o.regs[3]);
	resp->set_x4(o.regs[4]);
	resp->set_x5(o.regs[5]);
	resp->set_x6(o.regs[6]);
	resp->set_x7(o.regs[7]);
	resp->set_forwarded(o.forwarded);
	return Status::OK;
}

Status MonitorService::Reset(grpc::ServerContext* ctx, const v1::ResetRequest*, v1::ResetResponse*)
{
	spdlog::warn("reset requested by {}: forgetting every region and boot state, zeroing the Non-secure memory",
	             ctx->peer());
	std::lock_guard lock(reset_mu_);
	try {
		monitor_.reset();
		// After the carveout's reset committed: a crash before this point is finished by the next start.
		if (ns_ != nullptr)
			ns_->reset(monitor_.carveout().epoch());
		record(trace::Kind::Reset, 0, ctx->peer());
	} catch (const std::exception& e) {
		spdlog::error("reset failed: {}", e.what());
		return {StatusCode::INTERNAL, e.what()};
	}
	return Status::OK;
}

Status MonitorService::check_memory(uint64_t addr, uint64_t len, bool& ns) const
{
	if (len > kMaxMemoryTransfer)
		return {StatusCode::INVALID_ARGUMENT, "at most " + std::to_string(kMaxMemoryTransfer) + " bytes per call"};
	ns = false;
	if (monitor_.carveout().in_image(addr, len))
		return Status::OK;
	if (ns_ != nullptr && len != 0 && ns_->window_of(addr, len) != nullptr) {
		ns = true;
		// The Non-secure world's access: a granule protection fault on any granule it may not touch.
		if (auto fault = monitor_.ns_access_fault(addr, len))
			return {StatusCode::PERMISSION_DENIED, "granule " + hex(fault->first) + " is in the " +
			                                           gpi_name(fault->second) +
			                                           " PAS: the Non-secure world may not access it (GPC fault)"};
		return Status::OK;
	}
	return {StatusCode::OUT_OF_RANGE, "[" + hex(addr) + ", +" + hex(len) + ") is not inside the carveout image [" +
	                                      hex(monitor_.geometry().rmm_base) + ", " + hex(monitor_.geometry().image_end()) +
	                                      ")" + (ns_ != nullptr ? " nor inside one Non-secure memory window" : "")};
}

Status MonitorService::ReadMemory(grpc::ServerContext*, const v1::ReadMemoryRequest* req, v1::ReadMemoryResponse* resp)
{
	bool ns = false;
	if (Status s = check_memory(req->address(), req->length(), ns); !s.ok())
		return s;
	std::vector<uint8_t> data;
	try {
		if (ns)
			ns_->read(req->address(), req->length(), data);
		else if (!monitor_.read_memory(req->address(), req->length(), data))
			return {StatusCode::INTERNAL, "cannot read the carveout file"};
	} catch (const std::exception& e) {
		return {StatusCode::INTERNAL, e.what()};
	}
	resp->set_data(data.data(), data.size());
	return Status::OK;
}

Status MonitorService::WriteMemory(grpc::ServerContext*, const v1::WriteMemoryRequest* req, v1::WriteMemoryResponse*)
{
	const std::string& d = req->data();
	bool ns = false;
	if (Status s = check_memory(req->address(), d.size(), ns); !s.ok())
		return s;
	try {
		if (ns)
			ns_->write(req->address(), reinterpret_cast<const uint8_t*>(d.data()), d.size());
		else if (!monitor_.write_memory(req->address(), reinterpret_cast<const uint8_t*>(d.data()), d.size()))
			return {StatusCode::INTERNAL, "cannot write or flush the carveout file (see the daemon's log)"};
	} catch (const std::exception& e) {
		return {StatusCode::INTERNAL, e.what()};
	}
	return Status::OK;
}

}  // namespace el3d
