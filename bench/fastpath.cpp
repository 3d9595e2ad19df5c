#include "fastpath.hpp"

#include "connect.hpp"
#include "el3d/el3_client.h"
#include "el3d/smc.h"
#include "measure.hpp"
#include "run_block.hpp"
#include "shim_caller.hpp"
#include "transfer.hpp"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <thread>

namespace el3d::bench {

namespace {

// 64 bytes each way over its own connection to el3d_bench_raw_echo.
class RawCaller final : public Caller {
public:
	explicit RawCaller(const std::string& socket)
	{
		sockaddr_un a{};
		a.sun_family = AF_UNIX;
		std::strncpy(a.sun_path, socket.c_str(), sizeof(a.sun_path) - 1);
		fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd_ < 0 || ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0)
			throw std::runtime_error("cannot connect to the raw echo at " + socket + ": " + std::strerror(errno));
		std::memset(buf_, 0x5a, sizeof(buf_));
	}
	~RawCaller() override { ::close(fd_); }
	void call() override
	{
		if (!transfer(fd_, buf_, true) || !transfer(fd_, buf_, false))
			throw std::runtime_error("the raw echo went away");
	}

private:
	int fd_ = -1;
	char buf_[kRawMessage];
};

struct ClientHandle {
	el3_client* c = nullptr;
	~ClientHandle() { el3_disconnect(c); }
};

struct Series {
	const Child* server;
	std::vector<std::unique_ptr<Caller>> cpus;
	std::vector<std::vector<int64_t>> ns;
};

void run_block(Series& s, uint64_t n, bool record) { bench::run_block(s.cpus, s.ns, n, record); }

}  // namespace

const char* name(FastPeer p)
{
	switch (p) {
	case FastPeer::Raw: return "raw UDS";
	case FastPeer::Stream: return "el3client stream";
	case FastPeer::FastPath: return "el3client fast path";
	}
	return "?";
}

std::vector<SessionRun> fastpath_round_trips(const FastTargets& t, unsigned cpus, uint64_t warmup, uint64_t calls,
                                             uint64_t block)
{
	std::vector<std::unique_ptr<ClientHandle>> clients;
	std::vector<Series> series;
	for (FastPeer p : {FastPeer::Raw, FastPeer::Stream, FastPeer::FastPath}) {
		Series s{p == FastPeer::Raw ? t.raw : t.el3d, {}, std::vector<std::vector<int64_t>>(cpus)};
		if (p == FastPeer::Raw) {
			for (unsigned k = 0; k < cpus; ++k)
				s.cpus.push_back(std::make_unique<RawCaller>(t.raw_socket));
		} else {
			auto h = std::make_unique<ClientHandle>();
			el3_error err;
			if (client::connect(("unix:" + t.el3d_socket).c_str(), p == FastPeer::FastPath, &h->c, &err) != EL3_OK)
				throw std::runtime_error("el3_connect(unix:" + t.el3d_socket + "): " + err.message);
			// The stream's CPUs first (0 .. cpus-1, CPU 0 the cold boot), then the fast path's.
			const unsigned first = p == FastPeer::Stream ? 0 : cpus;
			for (unsigned k = 0; k < cpus; ++k)
				s.cpus.push_back(std::make_unique<ShimCaller>(h->c, first + k));
			clients.push_back(std::move(h));
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
		servers.push_back(s.server);
	const std::vector<TurnTotals> totals =
	    take_turns(servers, calls, block, [&](std::size_t k, uint64_t n) { run_block(series[k], n, true); });

	std::vector<SessionRun> runs;
	for (std::size_t k = 0; k < series.size(); ++k) {
		std::vector<int64_t> all;
		for (auto& v : series[k].ns)
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
	series.clear();
	return runs;
}

}  // namespace el3d::bench
