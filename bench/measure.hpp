#pragma once
// The gRPC side of el3d_bench: channels set up like el3ctl's, readiness polling, and the timed call loops.
#include "process.hpp"
#include "stats.hpp"

#include "el3d/v1/monitor.pb.h"

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace el3d::bench {

enum class Server { El3d, Echo };
const char* name(Server s);

// Seconds from spawn until the server first answers (GetState for el3d, Smc for the echo server). Throws if the
// child exits first or `timeout` passes.
double wait_until_serving(Child& child, const std::string& socket, Server server,
                          std::chrono::milliseconds timeout = std::chrono::seconds(30));

v1::State get_state(const std::string& socket);

// Unknown FIDs, both answered with SMC_UNK without touching the carveout file. el3d logs nothing for the quiet one
// (outside the RMM-EL3 range: a debug message) and a warning line per call for the other (an unimplemented number
// inside the RMM-EL3 range, 0x1B0..0x1CF).
inline constexpr uint64_t kQuietUnknownFid = 0xC4000200;
inline constexpr uint64_t kWarnedUnknownFid = 0xC40001BF;

// What the series of calls that take turns used: wall time, and CPU time of this process (all threads) and of the
// series' server, summed over its blocks.
struct TurnTotals {
	double seconds = 0, client_cpu = 0, server_cpu = 0;
};
// `calls` calls per series in blocks of `block`, the series taking turns and rotating who goes first, so that
// whatever else the machine does meanwhile falls on every series alike and their ratio holds even when the
// absolute figures move. run(i, n) makes n calls of series i; servers[i] is its server. Polls for interruption.
std::vector<TurnTotals> take_turns(const std::vector<const Child*>& servers, uint64_t calls, uint64_t block,
                                   const std::function<void(std::size_t, uint64_t)>& run);

// (a) Sequential round trips of an SMC that touches no disk: an unknown FID, answered with SMC_UNK.
struct SmcTarget {
	Child* process;
	std::string socket;
	Server server;
	uint64_t fid;
};
struct SmcRun {
	Latency latency;
	double calls_per_s = 0;
	double client_cpu_us = 0;  // per call: this process, all threads (getrusage)
	double server_cpu_us = 0;  // per call: the server process (/proc/<pid>/stat, 10 ms ticks)
};
// `calls` round trips per target after `warmup` untimed ones, in blocks of `block` calls that take turns. One result
// per target, in order. A client CPU figure counts all of this process's threads during that target's blocks; a
// server figure is read at each block's ends, so it is within about (10 ms x blocks / calls) per call.
std::vector<SmcRun> smc_round_trips(const std::vector<SmcTarget>& targets, uint64_t warmup, uint64_t calls,
                                    uint64_t block);

// (b), (c) RMM_ALLOCATE_MEMORY of 64 untagged bytes from `clients` concurrent clients, each on its own connection
// and its own CPU number, `total` allocations in all. Each client first makes `warmup` unknown-FID SMCs, which
// warm the connection without using up the allocation log.
struct AllocRun {
	std::string durability;  // el3d --durability of the daemon measured
	unsigned clients = 0;
	uint64_t attempted = 0;
	uint64_t fresh = 0;   // x0 == 1: a new region
	uint64_t failed = 0;  // gRPC errors or any other x0
	std::string first_error;
	double seconds = 0;  // first timed call's start to last one's end, over all clients
	double per_s = 0;    // fresh / seconds
	Latency latency;     // per allocation, all clients together
	uint64_t regions = 0;  // regions in GetState afterwards
	bool regions_match() const { return regions == fresh; }
};
AllocRun allocations(const std::string& socket, unsigned clients, uint64_t total, uint64_t warmup);

}  // namespace el3d::bench
