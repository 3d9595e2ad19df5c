// FIRME MECID management service (tfa profiles): FIRME_MEC_REFRESH (0xC4000407), as TF-A's
// firme_mecid.c answers a Realm-world caller, with the reserved-bit check of el3d's legacy
// RMM_MEC_REFRESH (0xC40001B6).
//
//   Inputs   x1[47:32]  MECID
//            x1[0]      reason: 0 realm creation, 1 realm destruction
//            x1[63:48], x1[31:1]  reserved, must be zero
//   Outputs  x0         FIRME_SUCCESS or an error
//   Failure conditions, in order of checking:
//            FIRME_NOT_SUPPORTED       FEAT_MEC absent (--no-mec): the service is absent
//            FIRME_INVALID_PARAMETERS  a reserved bit is set (el3d; TF-A does not look at them)
//            FIRME_INVALID_PARAMETERS  the MECID is wider than the common MECID width (--mecid-width)
//   A refresh is counted (status: mec_refreshes, shared with the legacy command) and durable before
//   the SMC returns; FVP's and QEMU's platform hooks change nothing else.
//
// Feature registers (only with FEAT_MEC): 0 = MEC_REFRESH (bit 0); 1 = common MECID width - 1, in [3:0].
#include "../monitor_impl.hpp"

#include "el3d/smc.h"
#include "el3d/util/numbers.hpp"

#include <spdlog/spdlog.h>

namespace el3d {

std::optional<uint64_t> firme_mec_feature(const Monitor::Impl& m, uint8_t index)
{
	if (!m.options.mec)
		return std::nullopt;
	if (index == 0)
		return EL3_FIRME_MECID_FR0_REFRESH;
	if (index == 1)  // --mecid-width is 1..16, so width - 1 fits the 4-bit field
		return (m.options.mecid_width - 1u) & 0xFu;
	return std::nullopt;
}

void handle_firme_mec_refresh(Monitor::Impl& m, SmcContext& c)
{
	const uint64_t x1 = c.x(1);
	const uint64_t mecid = (x1 >> EL3_FIRME_MEC_MECID_SHIFT) & 0xFFFF;
	const uint64_t reserved = x1 & ~((uint64_t{0xFFFF} << EL3_FIRME_MEC_MECID_SHIFT) | EL3_FIRME_MEC_REASON_DESTROY);
	if (!m.options.mec) {
		spdlog::info("cpu{} FIRME_MEC_REFRESH: FIRME_NOT_SUPPORTED, FEAT_MEC is not present", c.cpu);
		return c.ret(EL3_FIRME_NOT_SUPPORTED);
	}
	if (reserved != 0) {
		spdlog::info("cpu{} FIRME_MEC_REFRESH(x1={:#x}): FIRME_INVALID_PARAMETERS, reserved bits set", c.cpu, x1);
		return c.ret(EL3_FIRME_INVALID_PARAMETERS);
	}
	if (m.options.mecid_width < 16 && (mecid >> m.options.mecid_width) != 0) {  // the MECID field is 16 bits
		spdlog::info("cpu{} FIRME_MEC_REFRESH: FIRME_INVALID_PARAMETERS, MECID {} is wider than {} bits", c.cpu, mecid,
		             m.options.mecid_width);
		return c.ret(EL3_FIRME_INVALID_PARAMETERS);
	}
	++m.mec_refreshes;
	m.commit_or_undo([&] { --m.mec_refreshes; });
	spdlog::debug("cpu{} FIRME_MEC_REFRESH(MECID {}, {}) -> FIRME_SUCCESS", c.cpu, mecid,
	              (x1 & EL3_FIRME_MEC_REASON_DESTROY) ? "destruction" : "creation");
	c.ret(EL3_FIRME_SUCCESS);
}

}  // namespace el3d
