#pragma once
// The CPU sessions of this process: the registry behind el3_cpu handles, the calling thread's CPU for
// monitor_call(), and the end of the process after a failed boot. Private to el3client.
#include "backend.hpp"
#include "el3d/el3_client.h"
#include "memory.hpp"

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

struct el3_client {
	std::unique_ptr<el3d::client::Backend> backend;
	el3d::client::PhysMemory mem;  // the carveout and the NS memory, mapped
};

namespace el3d::client {

// An el3_cpu handle is the number of a CPU session in this process's registry, never reused:
// a handle that has ended is simply not found, so a call through it (a stale binding, a CPU left
// by another thread, a client disconnected) is an error, never a use-after-free.
struct CpuEntry {
	uint64_t id = 0;
	el3_client* client = nullptr;
	unsigned cpu = 0;
	int kind = 0;
	uint64_t activation = 0;
	std::mutex mu;                        // one call at a time on a CPU; held to close it
	std::unique_ptr<CpuSession> session;  // null once closed
};

struct Registry {
	std::mutex mu;
	uint64_t next = 1;
	std::unordered_map<uint64_t, std::shared_ptr<CpuEntry>> cpus;
};

// The process's registry. Never destroyed: sessions still open when the process exits must not be
// torn down by static destructors (the kernel closes their connections, el3d notices).
Registry& registry();

inline uint64_t id_of(const el3_cpu* h) { return static_cast<uint64_t>(reinterpret_cast<uintptr_t>(h)); }
inline el3_cpu* handle_of(uint64_t id) { return reinterpret_cast<el3_cpu*>(static_cast<uintptr_t>(id)); }

// The session of a handle; null if it has ended.
std::shared_ptr<CpuEntry> find(const el3_cpu* h);
// Remove a session from the registry; null if it was not there (ended already).
std::shared_ptr<CpuEntry> take(uint64_t id);
// Close a session taken from the registry. A thread in a call on it (an SMC can block as long as
// EL3 takes) is woken with EL3_ERR_SESSION first.
void close_session(CpuEntry& e);

// The calling thread's CPU for monitor_call(): the session id (0: none) and its CPU index.
void bind(uint64_t id, unsigned cpu);
uint64_t bound_id();
unsigned bound_cpu();

// After a failed boot the process ends: the RMM gets no more answers from EL3 on any CPU.
// Ends the process with exit status 1 once no thread is inside a call on a CPU session (a call in
// flight is woken as by el3_cpu_leave), so that exit handlers and static destructors never run
// beside el3d's code on another CPU's thread. A second CPU failing meanwhile waits here for the end.
[[noreturn]] void end_process_after_failed_boot();
// Whether a call must stop because the process is ending after a failed boot: false in normal
// times. Meanwhile a call from another thread never returns (its thread waits for the end), and one
// from the exit handlers of the ending thread returns true: it fails (its CPU locks are taken).
bool ending();

// The el3_error of a call: `code` and `msg` (returns `code`), or success (returns EL3_OK).
int set_error(el3_error* err, int code, const std::string& msg);
int ok(el3_error* err);

}  // namespace el3d::client
