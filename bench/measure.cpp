#include "measure.hpp"

#include "echo.grpc.pb.h"
#include "el3d/smc.h"
#include "el3d/v1/monitor.grpc.pb.h"

#include <sys/stat.h>

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <barrier>
#include <exception>
#include <functional>
#include <thread>

namespace el3d::bench {

namespace {

constexpr uint64_t kAllocSize = 64;
constexpr auto kCallTimeout = std::chrono::seconds(10);

v1::SmcRequest unknown_smc(uint32_t cpu, uint64_t fid = kQuietUnknownFid)
{
	v1::SmcRequest r;
	r.set_cpu(cpu);
	r.set_fid(fid);
	// Non-zero x1..x7 so that both servers send them back and the responses are the same size.
	r.set_x1(0x1001);
	r.set_x2(0x1002);
	r.set_x3(0x1003);
	r.set_x4(0x1004);
	r.set_x5(0x1005);
	r.set_x6(0x1006);
	r.set_x7(0x1007);
	return r;
}

bool is_unknown_answer(const v1::SmcRequest& q, const v1::SmcResponse& a)
{
	return a.x0() == EL3_SMC_UNK && a.x1() == q.x1() && a.x2() == q.x2() && a.x3() == q.x3() && a.x4() == q.x4() &&
	       a.x5() == q.x5() && a.x6() == q.x6() && a.x7() == q.x7();
}

std::shared_ptr<grpc::Channel> make_channel(const std::string& socket, bool own_connection)
{
	// What el3ctl uses, so the figures are what a client of el3d sees.
	grpc::ChannelArguments args;
	args.SetMaxReceiveMessageSize(8 << 20);
	args.SetInt(GRPC_ARG_ENABLE_RETRIES, 0);
	// Channels with equal arguments to one target would share one connection (the global subchannel pool); the
	// concurrent clients must not, and the readiness probes must not inherit a failed connection's back-off.
	if (own_connection)
		args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
	return grpc::CreateCustomChannel("unix:" + socket, grpc::InsecureChannelCredentials(), args);
}

template <class Stub>
grpc::Status call_smc(Stub& stub, const v1::SmcRequest& req, v1::SmcResponse& resp)
{
	grpc::ClientContext ctx;
	ctx.set_deadline(std::chrono::system_clock::now() + kCallTimeout);  // as el3ctl: every call has a deadline
	return stub.Smc(&ctx, req, &resp);
}

std::runtime_error rpc_error(const char* what, const grpc::Status& s)
{
	return std::runtime_error(std::string(what) + " failed: " + s.error_message() + " (gRPC code " +
	                          std::to_string(static_cast<int>(s.error_code())) + ")");
}

}  // namespace

const char* name(Server s) { return s == Server::El3d ? "el3d" : "grpc echo"; }

std::vector<TurnTotals> take_turns(const std::vector<const Child*>& servers, uint64_t calls, uint64_t block,
                                   const std::function<void(std::size_t, uint64_t)>& run)
{
	std::vector<TurnTotals> totals(servers.size());
	for (uint64_t done = 0, round = 0; done < calls; done += block, ++round) {
		const uint64_t n = std::min(block, calls - done);
		for (std::size_t k = 0; k < servers.size(); ++k) {
			const std::size_t i = (k + round) % servers.size();
			check_interrupted();
			const double client_cpu0 = self_cpu_seconds();
			const double server_cpu0 = servers[i]->cpu_seconds();
			const auto begin = Clock::now();
			run(i, n);
			totals[i].seconds += std::chrono::duration<double>(Clock::now() - begin).count();
			totals[i].client_cpu += self_cpu_seconds() - client_cpu0;
			totals[i].server_cpu += servers[i]->cpu_seconds() - server_cpu0;
		}
	}
	return totals;
}

double wait_until_serving(Child& child, const std::string& socket, Server server, std::chrono::milliseconds timeout)
{
	const auto deadline = child.spawned() + timeout;
	for (;;) {
		check_interrupted();
		if (auto st = child.exited())
			throw std::runtime_error(child.what() + " exited during start-up (" + describe_wait_status(*st) +
			                         "): " + child.log_tail());
		// A channel per probe, and only once the socket exists: a gRPC channel that failed to connect waits out a
		// reconnect back-off (1 s at first), which would swamp the start time being measured.
		struct stat st {};
		if (::stat(socket.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) {
			auto channel = make_channel(socket, true);
			grpc::ClientContext ctx;
			ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(2));
			grpc::Status s;
			if (server == Server::El3d) {
				v1::State state;
				s = v1::Monitor::NewStub(channel)->GetState(&ctx, v1::GetStateRequest{}, &state);
			} else {
				v1::SmcResponse resp;
				s = Echo::NewStub(channel)->Smc(&ctx, unknown_smc(0), &resp);
			}
			if (s.ok())
				return std::chrono::duration<double>(Clock::now() - child.spawned()).count();
		}
		if (Clock::now() > deadline)
			throw std::runtime_error(child.what() + " did not answer on " + socket + " within " +
			                         std::to_string(timeout.count()) + " ms");
		std::this_thread::sleep_for(std::chrono::microseconds(200));
	}
}

v1::State get_state(const std::string& socket)
{
	auto stub = v1::Monitor::NewStub(make_channel(socket, false));
	grpc::ClientContext ctx;
	ctx.set_deadline(std::chrono::system_clock::now() + kCallTimeout);
	v1::State state;
	if (grpc::Status s = stub->GetState(&ctx, v1::GetStateRequest{}, &state); !s.ok())
		throw rpc_error("GetState", s);
	return state;
}

std::vector<SmcRun> smc_round_trips(const std::vector<SmcTarget>& targets, uint64_t warmup, uint64_t calls,
                                    uint64_t block)
{
	using Call = std::function<grpc::Status(const v1::SmcRequest&, v1::SmcResponse&)>;
	struct Series {
		const SmcTarget* target;
		Call call;
		v1::SmcRequest req;
		std::vector<int64_t> ns;
	};
	std::vector<Series> series;
	for (const SmcTarget& t : targets) {
		Series s{&t, {}, unknown_smc(0, t.fid), {}};
		auto channel = make_channel(t.socket, false);
		if (t.server == Server::El3d) {
			std::shared_ptr<v1::Monitor::Stub> stub = v1::Monitor::NewStub(channel);
			s.call = [stub](const v1::SmcRequest& q, v1::SmcResponse& a) { return call_smc(*stub, q, a); };
		} else {
			std::shared_ptr<Echo::Stub> stub = Echo::NewStub(channel);
			s.call = [stub](const v1::SmcRequest& q, v1::SmcResponse& a) { return call_smc(*stub, q, a); };
		}
		s.ns.reserve(calls);
		series.push_back(std::move(s));
	}

	v1::SmcResponse resp;
	for (Series& s : series) {
		for (uint64_t i = 0; i < warmup; ++i) {
			if (i % 256 == 0)
				check_interrupted();
			if (grpc::Status st = s.call(s.req, resp); !st.ok())
				throw rpc_error("warm-up Smc", st);
		}
	}

	std::vector<const Child*> servers;
	for (const Series& s : series)
		servers.push_back(s.target->process);
	const std::vector<TurnTotals> totals = take_turns(servers, calls, block, [&](std::size_t k, uint64_t n) {
		Series& s = series[k];
		for (uint64_t i = 0; i < n; ++i) {
			const auto t0 = Clock::now();
			grpc::Status st = s.call(s.req, resp);
			const auto t1 = Clock::now();
			if (!st.ok())
				throw rpc_error("Smc", st);
			if (!is_unknown_answer(s.req, resp))
				throw std::runtime_error(s.target->process->what() + " answered the unknown FID with x0 = " +
				                         std::to_string(resp.x0()) + " or changed x1..x7");
			s.ns.push_back(std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count());
		}
	});

	std::vector<SmcRun> runs;
	for (std::size_t k = 0; k < series.size(); ++k) {
		Series& s = series[k];
		SmcRun run;
		const auto n = static_cast<double>(s.ns.size());
		run.client_cpu_us = totals[k].client_cpu / n * 1e6;
		run.server_cpu_us = totals[k].server_cpu / n * 1e6;
		run.calls_per_s = totals[k].seconds > 0 ? n / totals[k].seconds : 0;
		run.latency = summarize(std::move(s.ns));
		runs.push_back(run);
	}
	return runs;
}

AllocRun allocations(const std::string& socket, unsigned clients, uint64_t total, uint64_t warmup)
{
	struct PerClient {
		uint64_t attempted = 0, fresh = 0, failed = 0;
		std::string first_error;
		std::vector<int64_t> ns;
		Clock::time_point begin{}, end{};
		std::exception_ptr setup_error;
	};
	std::vector<PerClient> per(clients);
	// All clients connect and warm up first, then start together: the figure is the daemon's rate under
	// contention, not the clients' staggered start.
	std::barrier start(static_cast<std::ptrdiff_t>(clients));

	auto body = [&](unsigned idx) {
		PerClient& me = per[idx];
		const uint64_t mine = total / clients + (idx < total % clients ? 1 : 0);
		std::unique_ptr<v1::Monitor::Stub> stub;
		try {
			stub = v1::Monitor::NewStub(make_channel(socket, true));
			const v1::SmcRequest probe = unknown_smc(idx);
			v1::SmcResponse resp;
			for (uint64_t i = 0; i < warmup && !interrupted(); ++i)
				if (grpc::Status s = call_smc(*stub, probe, resp); !s.ok())
					throw rpc_error("warm-up Smc", s);
		} catch (...) {
			me.setup_error = std::current_exception();
		}
		start.arrive_and_wait();  // also on error, or the other clients would wait forever
		if (me.setup_error)
			return;
		v1::SmcRequest req;
		req.set_cpu(idx);  // each client is another CPU of the emulated platform
		req.set_fid(EL3_FID_RMM_ALLOCATE_MEMORY);
		req.set_x1(kAllocSize);
		req.set_x2(0);  // align_bits 0, id 0: untagged, always a new region
		v1::SmcResponse resp;
		me.ns.reserve(mine);
		me.begin = Clock::now();
		auto prev = me.begin;
		for (uint64_t i = 0; i < mine && !interrupted(); ++i) {
			grpc::Status s = call_smc(*stub, req, resp);
			const auto now = Clock::now();
			++me.attempted;
			me.ns.push_back(std::chrono::duration_cast<std::chrono::nanoseconds>(now - prev).count());
			prev = now;
			if (s.ok() && static_cast<int64_t>(resp.x0()) == EL3_ALLOC_FRESH) {
				++me.fresh;
				continue;
			}
			++me.failed;
			if (me.first_error.empty())
				me.first_error = s.ok() ? "x0 = " + std::to_string(static_cast<int64_t>(resp.x0()))
				                        : s.error_message();
			if (!s.ok())
				break;  // the connection or the daemon is gone; the remaining calls would fail the same way
		}
		me.end = prev;
	};

	std::vector<std::thread> threads;
	threads.reserve(clients);
	for (unsigned i = 0; i < clients; ++i)
		threads.emplace_back(body, i);
	for (auto& t : threads)
		t.join();
	check_interrupted();

	AllocRun run;
	run.clients = clients;
	std::vector<int64_t> all;
	Clock::time_point begin = Clock::time_point::max(), end = Clock::time_point::min();
	for (auto& p : per) {
		if (p.setup_error)
			std::rethrow_exception(p.setup_error);
		run.attempted += p.attempted;
		run.fresh += p.fresh;
		run.failed += p.failed;
		if (run.first_error.empty())
			run.first_error = p.first_error;
		all.insert(all.end(), p.ns.begin(), p.ns.end());
		begin = std::min(begin, p.begin);
		end = std::max(end, p.end);
	}
	run.seconds = std::chrono::duration<double>(end - begin).count();
	run.per_s = run.seconds > 0 ? static_cast<double>(run.fresh) / run.seconds : 0;
	run.latency = summarize(std::move(all));
	run.regions = static_cast<uint64_t>(get_state(socket).regions_size());
	return run;
}

}  // namespace el3d::bench
