#pragma once
// (f) of el3d_bench: an SMC through el3client's shared-memory fast path, beside the same shim over its
// gRPC stream (e) and a raw Unix socket ping-pong (0) in the same placement, 1 and 2 CPUs, taking turns.
#include "process.hpp"
#include "sessions.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace el3d::bench {

enum class FastPeer { Raw, Stream, FastPath };
const char* name(FastPeer p);

struct FastTargets {
	const Child* el3d;        // serves the stream and the fast-path sessions
	std::string el3d_socket;
	const Child* raw;         // el3d_bench_raw_echo
	std::string raw_socket;
};

// One result per peer, in the order of FastPeer; every call of every CPU. Throws on any failed call,
// on an unexpected answer, or if a fast-path session did not get the fast path.
std::vector<SessionRun> fastpath_round_trips(const FastTargets& t, unsigned cpus, uint64_t warmup, uint64_t calls,
                                             uint64_t block);

}  // namespace el3d::bench
