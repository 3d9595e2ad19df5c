#include "sessions.hpp"

#include "channel.hpp"
#include "connect.hpp"
#include "echo.grpc.pb.h"
#include "el3d/el3_client.h"
#include "el3d/smc.h"
#include "measure.hpp"
#include "run_block.hpp"
#include "shim_caller.hpp"

#include <grpcpp/grpcpp.h>

#include <memory>
#include <stdexcept>
#include <thread>

namespace el3d::bench {

namespace {

// A bare client of the echo server's Session: the same channel settings as the shim, Write() then Read().
class EchoCaller final : public Caller {
public:
	EchoCaller(const std::string& socket, unsigned cpu)
	    : stub_(Echo::NewStub(grpc::CreateCustomChannel("unix:" + socket, grpc::InsecureChannelCredentials(),
	                                                    client::session_channel_arguments()))),
	      stream_(stub_->Session(&ctx_))
	{
		v1::SessionRequest enter;
		enter.mutable_enter()->set_cpu(cpu);
		if (!stream_->Write(enter) || !stream_->Read(&resp_) || !resp_.has_entered())
			throw std::runtime_error("the echo server's Session did not answer `enter`");
		v1::SmcRequest* s = req_.mutable_smc();
		s->set_fid(kQuietUnknownFid);
		s->set_x1(kArg(1)), s->set_x2(kArg(2)), s->set_x3(kArg(3)), s->set_x4(kArg(4));
		s->set_x5(kArg(5)), s->set_x6(kArg(6)), s->set_x7(kArg(7));
	}
	~EchoCaller() override
	{
		stream_->WritesDone();
		stream_->Finish();
	}
	void call() override
	{
		if (!stream_->Write(req_) || !stream_->Read(&resp_) || !resp_.has_smc())
			throw std::runtime_error("the echo server's Session broke");
		const v1::SmcResponse& r = resp_.smc();
		const uint64_t x[8] = {r.x0(), r.x1(), r.x2(), r.x3(), r.x4(), r.x5(), r.x6(), r.x7()};
		if (!is_unknown_answer(x))
			throw std::runtime_error("the echo server changed x1..x7");
	}

private:
	std::unique_ptr<Echo::Stub> stub_;
	grpc::ClientContext ctx_;
	std::unique_ptr<grpc::ClientReaderWriter<v1::SessionRequest, v1::SessionResponse>> stream_;
	v1::SessionRequest req_;
	v1::SessionResponse resp_;
};

struct ClientHandle {
	el3_client* c = nullptr;
	~ClientHandle() { el3_disconnect(c); }
};

struct Series {
	const SessionTarget* target;
	std::vector<std::unique_ptr<Caller>> cpus;
	std::vector<std::vector<int64_t>> ns;  // per CPU
};

void run_block(Series& s, uint64_t n, bool record) { bench::run_block(s.cpus, s.ns, n, record); }

}  // namespace

const char* name(SessionPeer p) { return p == SessionPeer::Shim ? "el3client" : "grpc echo"; }

std::vector<SessionRun> session_round_trips(const std::vector<SessionTarget>& targets, unsigned cpus,
                                            uint64_t warmup, uint64_t calls, uint64_t block)
{
	std::vector<std::unique_ptr<ClientHandle>> clients;
	std::vector<Series> series;
	for (const SessionTarget& t : targets) {
		Series s{&t, {}, std::vector<std::vector<int64_t>>(cpus)};
		if (t.peer == SessionPeer::Shim) {
			auto h = std::make_unique<ClientHandle>();
			el3_error err;
			// The session's stream, as (e) has always measured it: the fast path is (f)'s.
			if (client::connect(("unix:" + t.socket).c_str(), false, &h->c, &err) != EL3_OK)
				throw std::runtime_error("el3_connect(unix:" + t.socket + "): " + err.message);
			for (unsigned k = 0; k < cpus; ++k)  // CPU 0 first: its entry is the cold boot
				s.cpus.push_back(std::make_unique<ShimCaller>(h->c, k));
			clients.push_back(std::move(h));
		} else {
			for (unsigned k = 0; k < cpus; ++k)
				s.cpus.push_back(std::make_unique<EchoCaller>(t.socket, k));
		}
		for (auto& v : s.ns)
			v.reserve(calls);
		series.push_back(std::move(s));
	}

	for (Series& s : series) {
		check_interrupted();
		run_block(s, warmup, false);
	}
	std::vector<const Child*> servers;
	for (const Series& s : series)
		servers.push_back(s.target->process);
	const std::vector<TurnTotals> totals =
	    take_turns(servers, calls, block, [&](std::size_t k, uint64_t n) { run_block(series[k], n, true); });

	std::vector<SessionRun> runs;
	for (std::size_t k = 0; k < series.size(); ++k) {
		Series& s = series[k];
		std::vector<int64_t> all;
		for (auto& v : s.ns)
			all.insert(all.end(), v.begin(), v.end());
		SessionRun run;
		run.cpus = cpus;
		const auto n = static_cast<double>(all.size());
		run.client_cpu_us = totals[k].client_cpu / n * 1e6;
		run.server_cpu_us = totals[k].server_cpu / n * 1e6;
		run.calls_per_s = totals[k].seconds > 0 ? n / totals[k].seconds : 0;
		run.latency = summarize(std::move(all));
		runs.push_back(run);
	}
	series.clear();  // the sessions close before their client disconnects
	return runs;
}

}  // namespace el3d::bench
