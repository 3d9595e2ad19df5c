// RMM_GTSI_DELEGATE (0xC40001B0) and RMM_GTSI_UNDELEGATE (0xC40001B1).
//
//   Inputs   x1  physical address of one 4 KiB granule
//   Outputs  x0  E_RMM_OK or an error
//   Failure conditions, in order of checking (TF-A's GPT library):
//            E_RMM_BAD_ADDR  not 4 KiB aligned; outside the PA space (including its last granule,
//                            as TF-A's `base + size >= PPS` test rejects it); in a block-mapped region
//                            (anything that is not DRAM or the RMM carveout)
//            E_RMM_BAD_PAS   the granule is not Non-secure (delegate) / not Realm (undelegate)
#include "../monitor_impl.hpp"

#include "el3d/smc.h"
#include "el3d/util/numbers.hpp"

#include <spdlog/spdlog.h>

namespace el3d {

namespace {
void transition(Monitor::Impl& m, SmcContext& c, bool delegate)
{
	const uint64_t pa = c.x(1);
	const Gpt::Result r = delegate ? m.gpt.delegate(pa) : m.gpt.undelegate(pa);
	const char* name = delegate ? "RMM_GTSI_DELEGATE" : "RMM_GTSI_UNDELEGATE";
	switch (r) {
	case Gpt::Result::Ok:
		spdlog::debug("cpu{} {}({:#x}) -> E_RMM_OK", c.cpu, name, pa);
		c.effect([&] { return "gpt " + hex(pa) + (delegate ? " ns->realm" : " realm->ns"); });
		return c.ret(EL3_E_RMM_OK);
	case Gpt::Result::BadAddr:
		spdlog::info("cpu{} {}({:#x}) -> E_RMM_BAD_ADDR: {}", c.cpu, name, pa,
		             (pa & (kGranule - 1)) != 0 ? "not 4 KiB aligned"
		             : m.gpt.lookup(pa)         ? "the last granule of the PA space"
		                                        : "not granule-mapped (outside the PA space, or not DRAM, the RMM "
		                                          "carveout or a device window)");
		return c.ret(EL3_E_RMM_BAD_ADDR);
	case Gpt::Result::BadPas: {
		auto cur = m.gpt.lookup(pa & ~(kGranule - 1));
		spdlog::info("cpu{} {}({:#x}) -> E_RMM_BAD_PAS: the granule is {}", c.cpu, name, pa,
		             cur ? gpi_name(*cur) : "untracked");
		return c.ret(EL3_E_RMM_BAD_PAS);
	}
	}
}
}  // namespace

void handle_gtsi_delegate(Monitor::Impl& m, SmcContext& c) { transition(m, c, true); }
void handle_gtsi_undelegate(Monitor::Impl& m, SmcContext& c) { transition(m, c, false); }

}  // namespace el3d
