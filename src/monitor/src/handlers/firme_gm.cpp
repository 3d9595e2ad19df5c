// FIRME granule management service (tfa profiles): FIRME_GM_GPI_SET (0xC4000402), as TF-A's
// firme_granule_management_service.c and gpt_transition_pas() answer a Realm-world caller.
//
//   Inputs   x1       physical address of the first granule
//            x2       granule count: must be 1 (TF-A transitions one granule per call)
//            x3[3:0]  target GPI: 0xB Realm (delegate) or 0x9 Non-secure (undelegate); x3[63:4] ignored
//   Outputs  x0       FIRME_SUCCESS or an error
//            x1       granules transitioned: 1 on success, 0 on failure
//   Failure conditions, in order of checking:
//            FIRME_INVALID_PARAMETERS  x2 != 1
//            FIRME_DENIED              the target is not a GPI TF-A knows (valid: 0x0 no access, 0x8
//                                      Secure, 0x9 NS, 0xA Root, 0xB Realm, 0xF any; el3d emulates
//                                      neither FEAT_RME_GPC2 (0xD NSO) nor FEAT_RME_GDI (0x4, 0x5))
//            FIRME_INVALID_PARAMETERS  not 4 KiB aligned; outside the PA space, its last granule
//                                      included; in memory the GPT maps with a block (Gpt::BadAddr)
//            FIRME_DENIED              the transition is not NS -> Realm or Realm -> NS (Gpt::BadPas:
//                                      already in the target PAS, Secure, Root, any, ...)
//   The transition is the one the legacy RMM_GTSI_DELEGATE / _UNDELEGATE make: the same GPT, durable
//   before the SMC returns.
//
// Feature registers: 0 = GPI_SET (bit 0); 1 = PGS [1:0] | L0GPTSZ [5:2] | PPS [8:6] of GPCCR_EL3: 4 KiB
// granules, 1 GiB L0 entries (PLATFORM_L0GPTSZ of all three platforms) and the platform's PPS
// (fvp, qemu: 40 bits -> 0x80, as TFTF expects; qemu-sbsa: 42 bits -> 0xC0).
#include "../monitor_impl.hpp"

#include "el3d/smc.h"
#include "el3d/util/numbers.hpp"

#include <spdlog/spdlog.h>

namespace el3d {

namespace {

// GPCCR_EL3.PPS for a physical address size; the largest encoding that does not exceed it.
uint64_t pps_field(unsigned pa_bits)
{
	constexpr unsigned kBits[] = {32, 36, 40, 42, 44, 48, 52};
	uint64_t code = 0;
	for (uint64_t i = 0; i < std::size(kBits); ++i)
		if (pa_bits >= kBits[i])
			code = i;
	return code;
}

bool gpi_known(uint64_t gpi)
{
	switch (gpi) {
	case 0x0: case 0x8: case 0x9: case 0xA: case 0xB: case 0xF: return true;
	default: return false;
	}
}

}  // namespace

std::optional<uint64_t> firme_gm_feature(const Monitor::Impl& m, uint8_t index)
{
	if (index == 0)
		return EL3_FIRME_GM_FR0_GPI_SET;
	if (index == 1) {
		constexpr uint64_t kPgs4K = 0, kL0Gpt30Bits = 0;
		return (kPgs4K << EL3_FIRME_GM_FR1_PGS_SHIFT) | (kL0Gpt30Bits << EL3_FIRME_GM_FR1_L0GPTSZ_SHIFT) |
		       (pps_field(m.carveout->geometry().pa_bits) << EL3_FIRME_GM_FR1_PPS_SHIFT);
	}
	return std::nullopt;
}

void handle_firme_gm_gpi_set(Monitor::Impl& m, SmcContext& c)
{
	const uint64_t pa = c.x(1), count = c.x(2), target = c.x(3) & EL3_FIRME_GPI_SET_TARGET_MASK;
	auto fail = [&](int64_t code, const char* name, const std::string& why) {
		spdlog::info("cpu{} FIRME_GM_GPI_SET({:#x}, count {}, GPI {:#x}) -> {}: {}", c.cpu, pa, count, target, name,
		             why);
		c.ret(code, 0);
	};
	if (count != 1)
		return fail(EL3_FIRME_INVALID_PARAMETERS, "FIRME_INVALID_PARAMETERS", "the count must be 1");
	if (!gpi_known(target))
		return fail(EL3_FIRME_DENIED, "FIRME_DENIED", "not a valid target GPI");
	switch (m.gpt.set_gpi(pa, static_cast<Gpi>(target))) {
	case Gpt::Result::Ok:
		// One line per transition, as for a failure: the GPT's history can be read from the log.
		spdlog::info("cpu{} FIRME_GM_GPI_SET({:#x}, count 1, GPI {:#x}) -> FIRME_SUCCESS", c.cpu, pa, target);
		c.effect([&] { return "gpt " + hex(pa) + " ->" + gpi_name(static_cast<Gpi>(target)); });
		return c.ret(EL3_FIRME_SUCCESS, 1);
	case Gpt::Result::BadAddr:
		return fail(EL3_FIRME_INVALID_PARAMETERS, "FIRME_INVALID_PARAMETERS",
		            "misaligned, outside the PA space or block-mapped");
	case Gpt::Result::BadPas: {
		const auto cur = m.gpt.lookup(pa);
		return fail(EL3_FIRME_DENIED, "FIRME_DENIED",
		            std::string("a Realm-world caller cannot make a ") + (cur ? gpi_name(*cur) : "?") + " granule " +
		                gpi_name(static_cast<Gpi>(target)));
	}
	}
}

}  // namespace el3d
