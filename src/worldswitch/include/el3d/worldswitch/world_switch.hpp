#pragma once
// The world switch's rendezvous: per CPU, Non-secure callers hand RMIs to the RMM serving that CPU
// and wait for its result, as EL3 switches between a hypervisor and the RMM on hardware.
//
// - One RMI per CPU is with the RMM at a time ("held"); others for that CPU wait in a bounded
//   queue, in arrival order. CPUs are independent.
// - The RMM side waits with no deadline (an RMM stopped in a debugger holds its CPU); both sides
//   poll a "gave up" predicate while they wait, so that a caller whose deadline passed or whose
//   peer went away is noticed within `poll`.
// - The RMM leaving (its session ended) fails the RMI it held with RmmGone; queued RMIs stay for
//   the next RMM of that CPU. A caller giving up withdraws a queued RMI; an RMI the RMM already
//   holds is marked abandoned, and its result is dropped (and logged) when the RMM completes it.
// No gRPC and no monitor here: ports.hpp connects this to the monitor's SMCs.
#include <array>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

namespace el3d::ws {

using RmiArgs = std::array<uint64_t, 7>;  // x1 .. x7, as EL3 forwards them
using RmiRegs = std::array<uint64_t, 8>;  // x0 .. x7

struct Rmi {
	uint64_t fid = 0;
	RmiArgs x{};
};

enum class RmiError {
	None,
	NoRmm,      // fail-fast: no RMM waits on the CPU
	QueueFull,  // the CPU's queue holds its limit
	RmmGone,    // the RMM left (its session ended) while it held this RMI
	GaveUp,     // the caller gave up (deadline, cancellation) first
};
const char* rmi_error_name(RmiError e);

enum class RmiState { Absent, Waiting, Serving };

struct CpuView {
	RmiState state = RmiState::Absent;
	uint64_t fid = 0;      // Serving: the RMI held
	unsigned queued = 0;   // RMIs waiting for the RMM
	uint64_t served = 0;   // RMIs completed since this object was made
	uint64_t dropped = 0;  // results dropped: their caller had given up
};

// Polled while waiting: true once the waiter should stop (its deadline passed, its peer left).
using GaveUp = std::function<bool()>;

class WorldSwitch {
public:
	explicit WorldSwitch(unsigned cpus, unsigned queue_limit = 64,
	                     std::chrono::milliseconds poll = std::chrono::milliseconds(20));
	~WorldSwitch();
	WorldSwitch(const WorldSwitch&) = delete;
	WorldSwitch& operator=(const WorldSwitch&) = delete;

	unsigned cpus() const { return static_cast<unsigned>(slots_.size()); }
	unsigned queue_limit() const { return queue_limit_; }

	// Non-secure side: hand `rmi` to `cpu`'s RMM and wait for its result (out = what the RMM
	// completed it with). `fail_fast`: NoRmm at once unless an RMM waits on the CPU with nothing
	// before this RMI. `cpu` must be below cpus().
	RmiError call(unsigned cpu, const Rmi& rmi, bool fail_fast, const GaveUp& gave_up, RmiRegs& out);

	// RMM side. complete(): the RMI the RMM holds is done with `result` (delivered to its caller, or
	// dropped and logged if the caller gave up); false if it held none. wait(): the RMM waits for
	// the next RMI of `cpu` and holds it; false if gone() said the RMM left first. held(): the RMI
	// it holds, if any.
	bool complete(unsigned cpu, const RmiRegs& result);
	bool wait(unsigned cpu, Rmi& next, const GaveUp& gone);
	std::optional<Rmi> held(unsigned cpu) const;
	// The RMM of `cpu` left: the RMI it held fails with RmmGone; the CPU has no RMM until wait().
	void leave(unsigned cpu);

	CpuView view(unsigned cpu) const;

private:
	struct Pending;
	struct Slot;
	mutable std::mutex mu_;
	std::vector<std::unique_ptr<Slot>> slots_;
	unsigned queue_limit_;
	std::chrono::milliseconds poll_;
};

}  // namespace el3d::ws
