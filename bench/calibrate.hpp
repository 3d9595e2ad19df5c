#pragma once
// The floor under every gRPC figure on this machine: 64 bytes each way over a raw Unix socket between two
// processes, no gRPC. perf-anchors.md measured the same thing, so a run can be set beside those numbers.
#include "stats.hpp"

#include <cstdint>

namespace el3d::bench {

struct RawUds {
	Latency same_cpu;   // both ends on CPU 0
	Latency split_cpu;  // client on CPU 0, echo process on CPU 1 (n == 0 if CPU 1 is not available)
};

// Forks plain (non-gRPC) echo processes, so it must run before this process starts any gRPC thread.
RawUds raw_uds_ping_pong(uint64_t warmup, uint64_t calls);

}  // namespace el3d::bench
