#include "world_switch.hpp"

#include "channel.hpp"
#include "echo.grpc.pb.h"
#include "el3d/el3_client.h"
#include "el3d/smc.h"
#include "el3d/v1/monitor.grpc.pb.h"
#include "measure.hpp"

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <stdexcept>
#include <thread>

namespace el3d::bench {

namespace {

constexpr uint64_t kRmiVersion = EL3_FID_RMI_VERSION;
constexpr uint64_t kAnswer = 0x10000;  // what the RMM answers in x1

// The RMM: CPU 0 entered serving RMIs, each answered at once (x0 = 0, x1 = kAnswer) until the CPU is left.
class Rmm {
public:
	explicit Rmm(const std::string& socket)
	{
		el3_error err;
		if (el3_connect(("unix:" + socket).c_str(), &client_, &err) != EL3_OK)
			throw std::runtime_error("el3_connect(unix:" + socket + "): " + err.message);
		el3_regs entry;
		if (el3_cpu_enter_flags(client_, 0, EL3_ENTRY_AUTO, EL3_ENTER_SERVE_RMI, &cpu_, &entry, &err) != EL3_OK) {
			el3_disconnect(client_);
			throw std::runtime_error(std::string("el3_cpu_enter_flags: ") + err.message);
		}
		thread_ = std::thread([this] { serve(); });
	}
	~Rmm()
	{
		el3_cpu_leave(cpu_);  // its waiting RMM_RMI_REQ_COMPLETE fails: the loop ends
		thread_.join();
		el3_disconnect(client_);
	}

private:
	void serve()
	{
		el3_regs r;
		el3_error err;
		if (el3_boot_complete(cpu_, 0, 0, &r, &err) != EL3_OK)
			return;
		for (;;) {
			const uint64_t res[EL3_SMC_ARGS] = {0, kAnswer, kAnswer};
			if (el3_smc(cpu_, EL3_FID_RMM_RMI_REQ_COMPLETE, res, &r, &err) != EL3_OK)
				return;
		}
	}
	el3_client* client_ = nullptr;
	el3_cpu* cpu_ = nullptr;
	std::thread thread_;
};

class RmiCaller {
public:
	explicit RmiCaller(const std::string& socket)
	    : stub_(v1::Monitor::NewStub(grpc::CreateCustomChannel("unix:" + socket, grpc::InsecureChannelCredentials(),
	                                                           client::session_channel_arguments())))
	{
		req_.set_cpu(0);
		req_.set_fid(kRmiVersion);
		req_.set_x1(0x20000);
	}
	void call()
	{
		grpc::ClientContext ctx;
		v1::RmiResponse r;
		const grpc::Status st = stub_->Rmi(&ctx, req_, &r);
		if (!st.ok() || !r.forwarded() || r.x0() != 0 || r.x1() != kAnswer)
			throw std::runtime_error("RMI_VERSION through el3d: " + (st.ok() ? "unexpected answer" : st.error_message()));
	}

private:
	std::unique_ptr<v1::Monitor::Stub> stub_;
	v1::RmiRequest req_;
};

// The same hops without el3d: a unary Smc to the echo server, then a round trip on its Session stream.
class EchoHops {
public:
	explicit EchoHops(const std::string& socket)
	    : stub_(Echo::NewStub(grpc::CreateCustomChannel("unix:" + socket, grpc::InsecureChannelCredentials(),
	                                                    client::session_channel_arguments()))),
	      stream_(stub_->Session(&stream_ctx_))
	{
		v1::SessionRequest enter;
		enter.mutable_enter()->set_cpu(0);
		if (!stream_->Write(enter) || !stream_->Read(&resp_) || !resp_.has_entered())
			throw std::runtime_error("the echo server's Session did not answer `enter`");
		unary_.set_fid(kQuietUnknownFid);
		req_.mutable_smc()->set_fid(kQuietUnknownFid);
	}
	~EchoHops()
	{
		stream_->WritesDone();
		stream_->Finish();
	}
	void call()
	{
		grpc::ClientContext ctx;
		v1::SmcResponse r;
		if (!stub_->Smc(&ctx, unary_, &r).ok() || r.x0() != EL3_SMC_UNK)
			throw std::runtime_error("the echo server's Smc failed");
		if (!stream_->Write(req_) || !stream_->Read(&resp_) || !resp_.has_smc())
			throw std::runtime_error("the echo server's Session broke");
	}

private:
	std::unique_ptr<Echo::Stub> stub_;
	grpc::ClientContext stream_ctx_;
	std::unique_ptr<grpc::ClientReaderWriter<v1::SessionRequest, v1::SessionResponse>> stream_;
	v1::SmcRequest unary_;
	v1::SessionRequest req_;
	v1::SessionResponse resp_;
};

template <class C>
void run_block(C& c, uint64_t n, std::vector<int64_t>* ns)
{
	for (uint64_t i = 0; i < n; ++i) {
		const auto t0 = Clock::now();
		c.call();
		if (ns != nullptr)
			ns->push_back(std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - t0).count());
	}
}

}  // namespace

RmiRun rmi_round_trips(Child& el3d, const std::string& el3d_socket, Child& echo, const std::string& echo_socket,
                       uint64_t warmup, uint64_t calls, uint64_t block)
{
	Rmm rmm(el3d_socket);
	RmiCaller rmi(el3d_socket);
	EchoHops hops(echo_socket);
	run_block(rmi, warmup, nullptr);
	run_block(hops, warmup, nullptr);
	std::vector<int64_t> rmi_ns, echo_ns;
	rmi_ns.reserve(calls);
	echo_ns.reserve(calls);
	const std::vector<TurnTotals> totals = take_turns({&el3d, &echo}, calls, block, [&](std::size_t k, uint64_t n) {
		if (k == 0)
			run_block(rmi, n, &rmi_ns);
		else
			run_block(hops, n, &echo_ns);
	});
	RmiRun r;
	r.measured = true;
	r.rmi_cpu_us = (totals[0].client_cpu + totals[0].server_cpu) / static_cast<double>(rmi_ns.size()) * 1e6;
	r.echo_cpu_us = (totals[1].client_cpu + totals[1].server_cpu) / static_cast<double>(echo_ns.size()) * 1e6;
	r.rmi = summarize(std::move(rmi_ns));
	r.echo = summarize(std::move(echo_ns));
	return r;
}

void print_rmi(std::FILE* out, const RmiRun& r, uint64_t calls, uint64_t warmup, uint64_t block)
{
	std::fprintf(out, "(w) RMI round trip through the world switch (Non-secure caller -> el3d -> RMM thread on el3client ->\n"
	                  "    el3d -> caller; RMI_VERSION answered at once), beside the bare gRPC echo hops it is made of (a\n"
	                  "    unary call, then a bidirectional-stream round trip); %llu timed calls after %llu warm-up, taking\n"
	                  "    turns in blocks of %llu; unpinned; us\n",
	             static_cast<unsigned long long>(calls), static_cast<unsigned long long>(warmup),
	             static_cast<unsigned long long>(block));
	std::fprintf(out, "  %-22s %8s %8s %8s %8s   %s\n", "", "p50", "p90", "p99", "mean", "CPU us/call (all processes)");
	std::fprintf(out, "  %-22s %8.1f %8.1f %8.1f %8.1f   %.1f\n", "RMI via el3d", r.rmi.p50, r.rmi.p90, r.rmi.p99,
	             r.rmi.mean, r.rmi_cpu_us);
	std::fprintf(out, "  %-22s %8.1f %8.1f %8.1f %8.1f   %.1f\n", "echo: unary + stream", r.echo.p50, r.echo.p90,
	             r.echo.p99, r.echo.mean, r.echo_cpu_us);
	if (r.echo.p50 > 0)
		std::fprintf(out, "  RMI / echo hops at p50: %.2fx\n", r.rmi.p50 / r.echo.p50);
}

nlohmann::json rmi_json(const RmiRun& r)
{
	auto lat = [](const Latency& l) {
		return nlohmann::json{{"n", l.n}, {"p50_us", l.p50}, {"p90_us", l.p90}, {"p99_us", l.p99}, {"mean_us", l.mean}};
	};
	return {{"rmi", lat(r.rmi)}, {"echo_hops", lat(r.echo)}, {"rmi_cpu_us", r.rmi_cpu_us},
	        {"echo_cpu_us", r.echo_cpu_us}};
}

}  // namespace el3d::bench
