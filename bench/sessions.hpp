#pragma once
// (e) of el3d_bench: an SMC through el3client's CPU session (what an RMM linked against the shim pays per `smc`)
// beside a bare gRPC bidirectional-stream echo with the same channel settings, 1 and 2 CPUs at once.
#include "process.hpp"
#include "stats.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace el3d::bench {

enum class SessionPeer { Shim, Echo };
const char* name(SessionPeer p);

struct SessionTarget {
	SessionPeer peer;
	Child* process;      // the server, for its CPU time
	std::string socket;  // el3d's socket (Shim) or the echo server's (Echo)
};

struct SessionRun {
	unsigned cpus = 0;
	Latency latency;           // every timed call of every CPU
	double calls_per_s = 0;    // all CPUs together, over the time their blocks ran
	double client_cpu_us = 0;  // per call: this process, all threads
	double server_cpu_us = 0;  // per call: the server process
};

// `cpus` concurrent sessions per target (CPU 0 .. cpus-1, each its own thread and connection), each making
// `calls` timed round trips of an unknown FID after `warmup` untimed ones; the targets take turns in blocks of
// `block` calls per CPU, rotating who goes first. One result per target, in order. Throws on any failed call or
// unexpected answer.
std::vector<SessionRun> session_round_trips(const std::vector<SessionTarget>& targets, unsigned cpus,
                                            uint64_t warmup, uint64_t calls, uint64_t block);

}  // namespace el3d::bench
