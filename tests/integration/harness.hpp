#pragma once
// Test harness: the process side (process.hpp) plus gRPC helpers to talk to a daemon.
#include "el3d/v1/monitor.grpc.pb.h"
#include "process.hpp"

#include <chrono>
#include <memory>
#include <string>

namespace el3d::test {

// A channel of its own (not shared with other stubs in this process).
std::unique_ptr<v1::Monitor::Stub> connect(const std::string& socket);
std::unique_ptr<grpc::ClientContext> ctx(std::chrono::milliseconds timeout = std::chrono::seconds(10));

v1::State get_state(v1::Monitor::Stub& stub);
v1::SmcResponse smc(v1::Monitor::Stub& stub, uint64_t fid, uint64_t x1 = 0, uint64_t x2 = 0, uint32_t cpu = 0);

}  // namespace el3d::test
