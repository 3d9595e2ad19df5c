#pragma once
// (w) of el3d_bench: an RMI round trip through the world switch (Non-secure caller -> el3d -> RMM -> el3d ->
// caller: RMI_VERSION, answered at once by an RMM thread on el3client serving with EL3_ENTER_SERVE_RMI) beside the
// bare gRPC echo hops it is made of: a unary call (the caller's Rmi) and a bidirectional-stream round trip (the
// RMM's RMM_RMI_REQ_COMPLETE answered with the next RMI), one after the other on one thread.
#include "process.hpp"
#include "stats.hpp"

#include <cstdint>
#include <cstdio>
#include <string>

#include <nlohmann/json.hpp>

namespace el3d::bench {

struct RmiRun {
	bool measured = false;
	Latency rmi;               // the world switch's round trip
	Latency echo;              // unary + stream echo, back to back
	double rmi_cpu_us = 0;     // per call: this process (caller and RMM threads) + el3d
	double echo_cpu_us = 0;    // per call: this process + the echo server
};

// `calls` timed round trips of each after `warmup` untimed ones, taking turns in blocks of `block`.
RmiRun rmi_round_trips(Child& el3d, const std::string& el3d_socket, Child& echo, const std::string& echo_socket,
                       uint64_t warmup, uint64_t calls, uint64_t block);

void print_rmi(std::FILE* out, const RmiRun& r, uint64_t calls, uint64_t warmup, uint64_t block);
nlohmann::json rmi_json(const RmiRun& r);

}  // namespace el3d::bench
