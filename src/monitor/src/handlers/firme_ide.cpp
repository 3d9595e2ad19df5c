// FIRME IDE key management service (tfa profiles, fvp only): FIRME_IDE_KEYSET_PROG (0xC4000403),
// FIRME_IDE_KEYSET_GO (0xC4000404) and FIRME_IDE_KEYSET_STOP (0xC4000405), as TF-A's
// firme_ide_km_service.c with FVP's platform hooks (fvp_firme_ide_km.c) answers them. TF-A builds
// the service for FVP only (FIRME_SUPPORT_IDE_KM with ENABLE_RMM in its platform.mk); on qemu and
// qemu-sbsa the service is absent and every IDE FID answers FIRME_NOT_SUPPORTED. FVP builds it in
// blocking mode (PLAT_IDE_KM_PENDING_OPS_MAX 0), so FIRME_IDE_KEYSET_POLL (0xC4000406) is
// FIRME_NOT_SUPPORTED there too.
//
//   Inputs   x1       ECAM address of the root complex
//            x2[1:0]  IDE type: 0 PCIe selective stream, 1 PCIe link stream (other bits ignored)
//            x3       keyset id: keyset [0], direction [1], substream [5:2], stream [13:6], root port
//                     [29:14], segment [37:30] (not checked, as TF-A)
//            PROG:    x4..x7 key quadwords 0..3; x8 handle (unused in blocking mode)
//            GO/STOP: x4 handle (unused in blocking mode)
//   Outputs  x0       FIRME_SUCCESS or an error
//   Failure conditions, in order of checking:
//            FIRME_NOT_SUPPORTED       the platform has no IDE key management (qemu, qemu-sbsa)
//            FIRME_INVALID_PARAMETERS  the IDE type is neither 0 nor 1
//            FIRME_INVALID_PARAMETERS  x1 is not the ECAM of the platform's root complex (FVP:
//                                      PCIE_EXP_BASE 0x40000000, fixed in TF-A, whatever the Boot
//                                      Manifest of a boot configuration lists)
//   TF-A answers FIRME_BUSY when another CPU holds the root complex's lock; el3d serialises SMCs, so it
//   never does. FVP's hooks program nothing (the FVP root ports have no IDE key unit) and succeed;
//   el3d, which has no root ports either, does the same and keeps no key.
//
// Feature register 0 = KEYSET_PROG | KEYSET_GO | KEYSET_STOP (0x7); there is no register 1.
#include "../monitor_impl.hpp"

#include "el3d/smc.h"
#include "el3d/util/numbers.hpp"

#include <spdlog/spdlog.h>

#include <string_view>

namespace el3d {

namespace {

// Platforms whose TF-A builds the IDE-KM service, and the ECAM its plat_get_root_complex_index() accepts.
struct IdePlatform {
	std::string_view platform;
	uint64_t ecam;
};
constexpr IdePlatform kIde[] = {{"fvp", 0x40000000}};

const IdePlatform* ide_platform(const Monitor::Impl& m)
{
	for (const auto& p : kIde)
		if (p.platform == m.carveout->geometry().platform)
			return &p;
	return nullptr;
}

}  // namespace

void handle_firme_ide_keyset(Monitor::Impl& m, SmcContext& c)
{
	const char* name = c.fid == EL3_FID_FIRME_IDE_KEYSET_PROG ? "FIRME_IDE_KEYSET_PROG"
	                   : c.fid == EL3_FID_FIRME_IDE_KEYSET_GO ? "FIRME_IDE_KEYSET_GO"
	                                                          : "FIRME_IDE_KEYSET_STOP";
	const uint64_t ecam = c.x(1), ide_type = c.x(2) & 0x3, keyset_id = c.x(3);
	const IdePlatform* p = ide_platform(m);
	if (p == nullptr) {
		spdlog::info("cpu{} {}: FIRME_NOT_SUPPORTED, TF-A has no IDE key management on {}", c.cpu, name,
		             m.carveout->geometry().platform);
		return c.ret(EL3_FIRME_NOT_SUPPORTED);
	}
	if (ide_type != 0 && ide_type != 1) {
		spdlog::info("cpu{} {}: FIRME_INVALID_PARAMETERS, IDE type {} is not a PCIe selective or link stream", c.cpu,
		             name, ide_type);
		return c.ret(EL3_FIRME_INVALID_PARAMETERS);
	}
	if (ecam != p->ecam) {
		spdlog::info("cpu{} {}: FIRME_INVALID_PARAMETERS, {:#x} is not the ECAM of a root complex (the platform's is {:#x})",
		             c.cpu, name, ecam, p->ecam);
		return c.ret(EL3_FIRME_INVALID_PARAMETERS);
	}
	spdlog::info("cpu{} {}(ECAM {:#x}, keyset id {:#x}) -> FIRME_SUCCESS (no IDE key unit: nothing is programmed)", c.cpu,
	             name, ecam, keyset_id);
	c.ret(EL3_FIRME_SUCCESS);
}

std::optional<uint64_t> firme_ide_feature(const Monitor::Impl& m, uint8_t index)
{
	if (ide_platform(m) == nullptr || index != 0)
		return std::nullopt;
	return EL3_FIRME_IDE_FR0_PROG_GO_STOP;
}

}  // namespace el3d
