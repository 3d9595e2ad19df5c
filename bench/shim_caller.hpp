#pragma once
// The caller (e) and (f) time: one SMC of the quiet unknown FID per call(), checked to come back as
// SMC_UNK with x1..x7 unchanged. ShimCaller makes it through el3client, as an RMM does.
#include "el3d/el3_client.h"
#include "el3d/smc.h"
#include "measure.hpp"

#include <cstdint>
#include <stdexcept>
#include <string>

namespace el3d::bench {

// x1..x7 the servers send back; x8..x12 stay zero (not on the wire).
constexpr uint64_t kArg(unsigned i) { return 0x1000 + i; }

inline bool is_unknown_answer(const uint64_t x[8])
{
	if (x[0] != EL3_SMC_UNK)
		return false;
	for (unsigned i = 1; i < 8; ++i)
		if (x[i] != kArg(i))
			return false;
	return true;
}

// One CPU's session with one server: a round trip per call().
class Caller {
public:
	virtual ~Caller() = default;
	// One SMC of the unknown FID; throws if it fails or is not answered with SMC_UNK and x1..x7 unchanged.
	virtual void call() = 0;
};

// The shim, as an RMM uses it: el3_smc() on a CPU entered with el3_cpu_enter() (over the stream or the fast
// path, as the client was connected).
class ShimCaller final : public Caller {
public:
	ShimCaller(el3_client* c, unsigned cpu)
	{
		el3_regs entry;
		el3_error err;
		if (el3_cpu_enter(c, cpu, EL3_ENTRY_AUTO, &cpu_, &entry, &err) != EL3_OK)
			throw std::runtime_error("el3_cpu_enter(cpu " + std::to_string(cpu) + "): " + err.message);
		for (unsigned i = 0; i < 7; ++i)
			args_[i] = kArg(i + 1);
	}
	~ShimCaller() override { el3_cpu_leave(cpu_); }
	void call() override
	{
		el3_regs out;
		el3_error err;
		if (el3_smc(cpu_, kQuietUnknownFid, args_, &out, &err) != EL3_OK)
			throw std::runtime_error(std::string("el3_smc: ") + err.message);
		if (!is_unknown_answer(out.x))
			throw std::runtime_error("el3d answered the unknown FID through the shim with x0 = " +
			                         std::to_string(out.x[0]) + " or changed x1..x7");
	}

private:
	el3_cpu* cpu_ = nullptr;
	uint64_t args_[EL3_SMC_ARGS] = {};
};

}  // namespace el3d::bench
