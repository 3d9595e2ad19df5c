#pragma once
// The two ways el3client reaches the el3d core: over gRPC to a daemon, or in this process.
#include <array>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>

namespace el3d::client {

// An error with the el3client return code it maps to.
struct Error : std::runtime_error {
	Error(int c, const std::string& m) : std::runtime_error(m), code(c) {}
	int code;
};

struct Info {
	std::string platform, abi, carveout_path, carveout_id;
	uint32_t interface_version = 0, core_count = 0;
	uint64_t rmm_base = 0, carveout_size = 0, shared_base = 0, shared_size = 0, file_offset = 0;
};

class CpuSession {
public:
	virtual ~CpuSession() = default;  // releases the CPU
	// x1..x12 in, x0..x7 out. Throws Error when the call cannot be made.
	virtual void smc(uint64_t fid, const uint64_t* args, uint64_t* out) = 0;
	std::array<uint64_t, 8> entry{};
	unsigned cpu = 0;
};

class Backend {
public:
	virtual ~Backend() = default;
	virtual const Info& info() const = 0;
	// kind: 0 auto, 1 cold, 2 warm. Throws Error.
	virtual std::unique_ptr<CpuSession> enter(unsigned cpu, int kind) = 0;
};

std::unique_ptr<Backend> connect_daemon(const std::string& socket);
std::unique_ptr<Backend> connect_inproc(const std::string& spec);  // "PATH[?abi=..&platform=..]"

}  // namespace el3d::client
