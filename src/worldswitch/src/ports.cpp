#include "el3d/worldswitch/ports.hpp"

#include "el3d/monitor/names.hpp"
#include "el3d/smc.h"

#include <spdlog/spdlog.h>

#include <cstdio>

namespace el3d::ws {

namespace {
constexpr uint32_t kSveHint = 1u << 16;

// x0..x7 of an SMC that EL3 answers with SMC_UNK: x1..x7 as the caller left them.
void smc_unk(const SmcArgs& x, RmiRegs& out)
{
	out[0] = EL3_SMC_UNK;
	for (unsigned i = 1; i < out.size(); ++i)
		out[i] = x[i - 1];
}
}  // namespace

bool is_rmi_fid(Abi abi, uint32_t fid)
{
	if (fid >= EL3_FID_RMI_FIRST && fid <= EL3_FID_RMI_LAST)
		return true;
	return abi == Abi::Tfa && fid >= EL3_FID_RMI2_FIRST && fid <= EL3_FID_RMI2_LAST;
}

unsigned rmi_result_registers(Abi abi) { return abi == Abi::Tfa ? 8 : 5; }

NsOutcome ns_rmi(Monitor& m, WorldSwitch& w, uint32_t cpu, uint64_t fid, const SmcArgs& x, bool fail_fast,
                 const GaveUp& gave_up)
{
	NsOutcome o;
	// Only the low 32 bits are the FID; the SVE hint is not part of it, but EL3 forwards it.
	const auto f = static_cast<uint32_t>(fid);
	if (!is_rmi_fid(m.options().abi, f & ~kSveHint)) {
		spdlog::warn("cpu{} Non-secure SMC {:#x} is not an RMI of the {} profile: SMC_UNK", cpu, fid,
		             abi_name(m.options().abi));
		smc_unk(x, o.regs);
		return o;
	}
	if (m.realm_world_disabled()) {
		spdlog::warn("cpu{} RMI {:#x}: SMC_UNK, the Realm world is disabled after a failed boot", cpu, f);
		smc_unk(x, o.regs);
		return o;
	}
	Rmi rmi{f, {x[0], x[1], x[2], x[3], x[4], x[5], x[6]}};
	o.error = w.call(cpu, rmi, fail_fast, gave_up, o.regs);
	o.forwarded = o.error == RmiError::None;
	if (o.forwarded)
		spdlog::info("cpu{} RMI {:#x} x1={:#x} x2={:#x} x3={:#x} -> x0={:#x} x1={:#x} x2={:#x}", cpu, f, x[0], x[1],
		             x[2], o.regs[0], o.regs[1], o.regs[2]);
	else if (o.error == RmiError::NoRmm)  // fail-fast, e.g. a client polling until an RMM serves
		spdlog::debug("cpu{} RMI {:#x}: not forwarded ({})", cpu, f, rmi_error_name(o.error));
	else
		spdlog::warn("cpu{} RMI {:#x} x1={:#x}: not completed ({})", cpu, f, x[0], rmi_error_name(o.error));
	return o;
}

RealmPort::RealmPort(Monitor& m, WorldSwitch& w, uint32_t cpu) : m_(m), w_(w), cpu_(cpu)
{
	if (cpu >= w.cpus())
		throw std::out_of_range("cpu " + std::to_string(cpu) + " is not a CPU of the world switch");
}

RealmPort::~RealmPort() { w_.leave(cpu_); }

bool RealmPort::next_rmi(SmcResult& out, const GaveUp& gone)
{
	Rmi next;
	if (!w_.wait(cpu_, next, gone))
		return false;
	out[0] = next.fid;
	for (unsigned i = 1; i < out.size(); ++i)
		out[i] = next.x[i - 1];
	return true;
}

bool RealmPort::smc(uint64_t fid, const SmcArgs& x, SmcResult& out, const GaveUp& gone)
{
	const uint32_t f = static_cast<uint32_t>(fid) & ~kSveHint;
	if (f == EL3_FID_RMM_RMI_REQ_COMPLETE) {
		std::optional<Rmi> held = w_.held(cpu_);
		if (m_.realm_world_disabled() || !held) {
			spdlog::warn("cpu{} RMM_RMI_REQ_COMPLETE: SMC_UNK, {}", cpu_,
			             held ? "the Realm world is disabled after a failed boot" : "this CPU's RMM holds no RMI");
			smc_unk(x, out);
			return true;
		}
		// REQ_COMPLETE's x1.. are the RMI's x0..; registers the profile does not return keep the
		// Non-secure caller's values.
		RmiRegs result;
		const unsigned n = rmi_result_registers(m_.options().abi);
		for (unsigned i = 0; i < result.size(); ++i)
			result[i] = i < n ? x[i] : held->x[i - 1];
		w_.complete(cpu_, result);
		// For the trace: the RMM's half of the switch, when it handed the result over.
		SmcRecord rec;
		rec.cpu = cpu_;
		rec.activation = m_.activation();
		rec.fid = fid;
		rec.in = x;
		rec.out[0] = 0;
		for (unsigned i = 1; i < rec.out.size(); ++i)
			rec.out[i] = x[i - 1];
		char what[96];
		std::snprintf(what, sizeof(what), "RMI %#llx completed: x0=%#llx to the Non-secure caller",
		              static_cast<unsigned long long>(held->fid), static_cast<unsigned long long>(result[0]));
		rec.effects.push_back(what);
		m_.report(rec);
		return next_rmi(out, gone);
	}
	if (!m_.call(cpu_, fid, x, out))
		return true;  // not reached: the constructor checked the CPU
	if (f == EL3_FID_RMM_BOOT_COMPLETE && x[0] == 0 && out[0] == static_cast<uint64_t>(EL3_E_RMM_OK) &&
	    m_.cpu_state(cpu_) == CpuBootState::Booted) {
		if (w_.held(cpu_)) {
			spdlog::error("cpu{} RMM_BOOT_COMPLETE while its RMM holds an RMI (a protocol error): the RMI fails", cpu_);
			w_.leave(cpu_);
		}
		return next_rmi(out, gone);
	}
	return true;
}

}  // namespace el3d::ws
