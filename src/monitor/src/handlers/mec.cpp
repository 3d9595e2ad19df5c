// RMM_MECID_KEY_UPDATE (seed, interface 0.5-0.7) and RMM_MEC_REFRESH (tfa, 0.8 and later), both
// FID 0xC40001B6.
//
//   seed:  x1[15:0] MECID; other x1 bits must be zero
//   tfa:   x1[47:32] MECID, x1[0] reason (0 realm creation, 1 destruction); [63:48], [31:1] zero
//   Outputs  x0  E_RMM_OK or an error
//   Failure conditions, in order of checking:
//            E_RMM_UNK    FEAT_MEC not present (--no-mec)
//            E_RMM_INVAL  reserved bits set; MECID wider than the MECID width (--mecid-width)
#include "../monitor_impl.hpp"

#include "el3d/smc.h"
#include "el3d/util/numbers.hpp"

#include <spdlog/spdlog.h>

namespace el3d {

namespace {
void refresh(Monitor::Impl& m, SmcContext& c, uint64_t mecid, bool reserved_ok, const char* name)
{
	if (!m.options.mec) {
		spdlog::info("cpu{} {}: E_RMM_UNK, FEAT_MEC is not present", c.cpu, name);
		return c.ret(EL3_E_RMM_UNK);
	}
	if (!reserved_ok) {
		spdlog::info("cpu{} {}(x1={:#x}): E_RMM_INVAL, reserved bits set", c.cpu, name, c.x(1));
		return c.ret(EL3_E_RMM_INVAL);
	}
	if (m.options.mecid_width < 64 && (mecid >> m.options.mecid_width) != 0) {
		spdlog::info("cpu{} {}: E_RMM_INVAL, MECID {} is wider than {} bits", c.cpu, name, mecid,
		             m.options.mecid_width);
		return c.ret(EL3_E_RMM_INVAL);
	}
	++m.mec_refreshes;  // shown in status and kept in the file: durable before the SMC returns
	m.commit_or_undo([&] { --m.mec_refreshes; });
	spdlog::debug("cpu{} {}(MECID {}) -> E_RMM_OK", c.cpu, name, mecid);
	c.ret(EL3_E_RMM_OK);
}
}  // namespace

void handle_mecid_key_update(Monitor::Impl& m, SmcContext& c)
{
	const uint64_t x1 = c.x(1);
	refresh(m, c, x1 & 0xffff, (x1 >> 16) == 0, "RMM_MECID_KEY_UPDATE");
}

void handle_mec_refresh(Monitor::Impl& m, SmcContext& c)
{
	const uint64_t x1 = c.x(1);
	const uint64_t reserved = x1 & ~((uint64_t{0xffff} << 32) | 1);
	refresh(m, c, (x1 >> 32) & 0xffff, reserved == 0, "RMM_MEC_REFRESH");
}

}  // namespace el3d
