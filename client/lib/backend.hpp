#pragma once
// The two ways el3client reaches the el3d core: over gRPC to a daemon, or in this process.
#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace el3d::client {

// An error with the el3client return code it maps to.
struct Error : std::runtime_error {
	Error(int c, const std::string& m) : std::runtime_error(m), code(c) {}
	int code;
};

// Where emulated physical memory lives: bytes [file_offset, file_offset + size) of the file at
// `path` (whose superblock id is `id`) hold physical addresses [base, base + size).
struct CarveoutMap {
	std::string path, id;
	uint64_t file_offset = 0, base = 0, size = 0;
};

// The Non-secure memory file: window i's bytes [file_offset, file_offset + size) hold physical
// addresses [base, base + size). Empty (no path, no windows) for a daemon that backs none.
struct NsWindowMap {
	uint64_t base = 0, size = 0, file_offset = 0;
	bool operator==(const NsWindowMap&) const = default;
};
struct NsMemoryMap {
	std::string path, id;
	std::vector<NsWindowMap> windows;  // ascending by base
	bool operator==(const NsMemoryMap&) const = default;
};

struct Info {
	std::string platform, abi;
	uint32_t interface_version = 0, core_count = 0;
	uint64_t shared_base = 0, shared_size = 0;
	CarveoutMap carveout;  // as the backend reported it at connect time
	NsMemoryMap ns;        // likewise
};

// One CPU's session. Not thread-safe: the C layer (client.cpp) makes one call at a time on it,
// except cancel().
class CpuSession {
public:
	virtual ~CpuSession() = default;  // releases the CPU
	// x1..x12 in, x0..x7 out. Throws Error when the call cannot be made.
	virtual void smc(uint64_t fid, const uint64_t* args, uint64_t* out) = 0;
	// Makes a call in progress on another thread fail soon, and every later one; thread-safe.
	// Used to close a session that another thread is blocked on.
	virtual void cancel() {}

	unsigned cpu = 0;
	std::array<uint64_t, 8> entry{};  // the entry registers
	int kind = 0;                     // 1 cold, 2 warm: what the entry was
	uint64_t activation = 0;          // activation number after the entry
	CarveoutMap carveout;             // where the carveout is, as the session handshake says
	NsMemoryMap ns;                   // where the NS memory is, likewise
};

class Backend {
public:
	virtual ~Backend() = default;
	virtual const Info& info() const = 0;
	// kind: 0 auto, 1 cold, 2 warm. serve_rmi: the session's RMM serves RMIs (the world switch).
	// `timeout` bounds the handshake (and, for the daemon, the close of the session). Throws Error.
	virtual std::unique_ptr<CpuSession> enter(unsigned cpu, int kind, bool serve_rmi,
	                                          std::chrono::milliseconds timeout) = 0;
	// One RMI from the Non-secure world on `cpu`: x1..x12 in, x0..x7 out; returns whether the RMM
	// got it (false: EL3 answered SMC_UNK itself). `timeout` (0: none) bounds the wait for the
	// RMM. Throws Error (EL3_ERR_BUSY, EL3_ERR_TIMEOUT, EL3_ERR_ABORTED, ...).
	virtual bool rmi(unsigned cpu, uint64_t fid, const uint64_t* args, bool fail_fast,
	                 std::chrono::milliseconds timeout, uint64_t* out) = 0;
};

// fastpath: sessions switch to the shared-memory mailbox when el3d offers one (else their stream).
std::unique_ptr<Backend> connect_daemon(const std::string& socket, bool fastpath = true);
std::unique_ptr<Backend> connect_inproc(const std::string& spec);  // "PATH[?abi=..&platform=..&ns-memory=..]"

}  // namespace el3d::client
