// RMM_BOOT_COMPLETE, FID 0xC40001CF.
//
//   Inputs   x1  boot result: E_RMM_BOOT_SUCCESS (0), or a failure: any other value (the
//                E_RMM_BOOT_* codes are negative; TF-A tests x1 != E_RMM_BOOT_SUCCESS)
//            x2  activation token (interface 0.7 and later): opaque, kept per CPU and handed back
//                at this CPU's next entry (x4 cold, x1 warm) by the tfa profiles
//   Outputs  x0  E_RMM_OK. On hardware EL3 does not return to the RMM here: the next entry is the
//                next RMI. el3d returns so that a host-built RMM can carry on.
//   Effects  the CPU's boot is recorded as complete (or failed). A non-zero result disables the
//            Realm world: every later RMM-EL3 call gets SMC_UNK until a reset.
#include "../monitor_impl.hpp"

#include "el3d/monitor/names.hpp"
#include "el3d/smc.h"
#include "el3d/util/numbers.hpp"

#include <spdlog/spdlog.h>

namespace el3d {

void handle_boot_complete(Monitor::Impl& m, SmcContext& c)
{
	const auto result = static_cast<int64_t>(c.x(1));
	CpuStatus& cpu = m.boot.cpu(c.cpu);

	if (cpu.state == CpuBootState::Booted)
		spdlog::warn("cpu{} RMM_BOOT_COMPLETE again without a new boot entry (completion #{})", c.cpu,
		             cpu.completions + 1);
	cpu.boot_result = result;
	cpu.completions += 1;
	cpu.token = c.x(2);
	if (result == EL3_E_RMM_BOOT_SUCCESS) {
		cpu.state = CpuBootState::Booted;
		spdlog::info("cpu{} RMM_BOOT_COMPLETE: boot succeeded", c.cpu);
	} else {
		cpu.state = CpuBootState::Failed;
		if (!m.boot.failure())
			m.boot.set_failure(BootFailure{c.cpu, result});
		spdlog::error("cpu{} RMM_BOOT_COMPLETE reports {}: the Realm world is disabled until a reset; every "
		              "RMM-EL3 call now returns SMC_UNK",
		              c.cpu, boot_result_name(result));
	}
	m.commit();
	c.effect([&] {
		return std::string(result == EL3_E_RMM_BOOT_SUCCESS ? "cpu booted" : "boot failed: Realm world disabled") +
		       ", token " + hex(c.x(2));
	});
	c.ret(EL3_E_RMM_OK);
}

}  // namespace el3d
