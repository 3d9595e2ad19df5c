// The trace's calls: Trace (live, filtered) and SetTrace; and the events the service records itself.
#include "service.hpp"

#include "el3d/replay/replay.hpp"

#include <spdlog/spdlog.h>

namespace el3d {

using grpc::Status;
using grpc::StatusCode;

void MonitorService::record(trace::Kind kind, uint32_t cpu, const std::string& note)
{
	if (!tracer_.enabled())
		return;
	trace::Event e;
	e.kind = kind;
	e.cpu = cpu;
	e.activation = monitor_.activation();
	e.note = note;
	tracer_.record(std::move(e));
}

void MonitorService::record_start(bool created)
{
	if (!tracer_.enabled())
		return;
	trace::Event e;
	e.kind = trace::Kind::Start;
	e.activation = monitor_.activation();
	e.config = replay::describe_setup(monitor_, created);
	const MonitorOptions& o = monitor_.options();
	e.note = std::string("el3d ") + EL3D_VERSION + ", platform " + monitor_.geometry().platform + ", " +
	         abi_name(o.abi) + " ABI, " + (o.seed ? "seed " + std::to_string(*o.seed) : std::string("no seed")) +
	         ", carveout " + monitor_.carveout().path() + (created ? " (new)" : "");
	tracer_.record(std::move(e));
}

Status MonitorService::Trace(grpc::ServerContext* ctx, const v1::TraceRequest* req, grpc::ServerWriter<v1::TraceLine>* w)
{
	trace::Filter f;
	if (req->has_cpu())
		f.cpu = req->cpu();
	if (req->has_fid())
		f.fid = req->fid();
	if (!req->result().empty())
		f.result = req->result();
	const uint64_t limit = req->count();
	uint64_t sent = 0;
	v1::TraceLine line;
	auto send = [&](const trace::Event& e, uint64_t lost) {
		line.set_json(trace::to_json(e).dump());
		line.set_lost(lost);
		++sent;
		return w->Write(line);
	};
	// Subscribe first, then send the ring: an event recorded in between may come twice, none is missed.
	auto sub = tracer_.subscribe(f);
	struct Unsubscribe {
		trace::Tracer& t;
		std::shared_ptr<trace::Subscription> s;
		~Unsubscribe() { t.unsubscribe(s); }
	} unsubscribe{tracer_, sub};
	uint64_t last_ring_seq = 0;
	if (req->ring())
		for (const trace::Event& e : tracer_.ring()) {
			if (!f.matches(e))
				continue;
			if ((limit != 0 && sent >= limit) || !send(e, 0))
				return Status::OK;
			last_ring_seq = e.seq;
		}
	while (!ctx->IsCancelled() && (limit == 0 || sent < limit)) {
		std::optional<trace::Event> e = sub->next(std::chrono::milliseconds(100));
		if (!e || e->seq <= last_ring_seq)
			continue;
		if (!send(*e, sub->lost()))
			break;
	}
	return Status::OK;
}

Status MonitorService::SetTrace(grpc::ServerContext* ctx, const v1::SetTraceRequest* req, v1::TraceConfig* resp)
{
	if (req->set_file()) {
		try {
			tracer_.open_file(req->file());
		} catch (const std::exception& e) {
			return {StatusCode::INVALID_ARGUMENT, e.what()};
		}
		spdlog::info("trace file {} (set by {})", req->file().empty() ? "off" : req->file(), ctx->peer());
		if (!req->file().empty())
			record_start(false);
	}
	if (req->set_ring()) {
		constexpr uint64_t kMaxRing = 1u << 20;
		if (req->ring() > kMaxRing)
			return {StatusCode::INVALID_ARGUMENT, "the ring keeps at most " + std::to_string(kMaxRing) + " events"};
		tracer_.set_ring(req->ring());
	}
	resp->set_file(tracer_.file());
	resp->set_ring(tracer_.ring_size());
	resp->set_recorded(tracer_.recorded());
	return Status::OK;
}

}  // namespace el3d
