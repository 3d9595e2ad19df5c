#pragma once
// The two ends of the world switch, on the monitor: the Non-secure world's RMI (ns_rmi) and the
// RMM side of a CPU that serves RMIs (RealmPort). Front ends (the daemon's Rmi call and Session
// stream) call these and nothing else; WorldSwitch carries the RMIs between them.
#include "el3d/monitor/monitor.hpp"
#include "el3d/worldswitch/world_switch.hpp"

namespace el3d::ws {

// The profile's RMI FIDs (EL3 forwards these from the Non-secure world): 0xC4000150..0xC400018F,
// and 0xC40001D0..0xC40002CF too from interface 2.0 (the tfa profile). `fid` without the SVE hint.
bool is_rmi_fid(Abi abi, uint32_t fid);
// Registers RMM_RMI_REQ_COMPLETE hands back to the Non-secure world: x1..x8 as x0..x7 from
// interface 2.0, x1..x5 as x0..x4 before (the rest keep the caller's values).
unsigned rmi_result_registers(Abi abi);

struct NsOutcome {
	RmiError error = RmiError::None;
	bool forwarded = false;  // false: EL3 answered itself (SMC_UNK)
	RmiRegs regs{};          // x0 .. x7 for the caller (error == None)
};

// One RMI from the Non-secure world on `cpu` (below the core count), as EL3's RMI handler does it:
// SMC_UNK without forwarding for a FID outside the profile's RMI range or after a failed boot;
// otherwise handed to the RMM of `cpu` and its result returned.
NsOutcome ns_rmi(Monitor& m, WorldSwitch& w, uint32_t cpu, uint64_t fid, const SmcArgs& x, bool fail_fast,
                 const GaveUp& gave_up);

// The RMM side of one CPU whose RMM serves RMIs (a session entered with serve_rmi). Destroying it
// is the RMM leaving: an RMI it held fails for its caller.
class RealmPort {
public:
	RealmPort(Monitor& m, WorldSwitch& w, uint32_t cpu);
	~RealmPort();
	RealmPort(const RealmPort&) = delete;
	RealmPort& operator=(const RealmPort&) = delete;

	// One SMC of this CPU's RMM: Monitor::call, except for the two that switch worlds, which
	// return with the next RMI (x0 = its FID, x1..x7 its arguments): RMM_BOOT_COMPLETE reporting
	// success, and RMM_RMI_REQ_COMPLETE, whose x1.. are the held RMI's result (SMC_UNK if it holds
	// none, or the Realm world is disabled). Returns false only if gone() said the RMM's session
	// ended while it waited for an RMI.
	bool smc(uint64_t fid, const SmcArgs& x, SmcResult& out, const GaveUp& gone);

private:
	bool next_rmi(SmcResult& out, const GaveUp& gone);
	Monitor& m_;
	WorldSwitch& w_;
	uint32_t cpu_;
};

}  // namespace el3d::ws
