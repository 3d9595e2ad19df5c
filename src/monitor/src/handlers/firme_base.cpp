// FIRME base service (tfa profiles): FIRME_BASE_VERSION (0xC4000400), FIRME_BASE_FEATURES
// (0xC4000401), and FIRME_NOT_SUPPORTED for the FIDs of the FIRME range el3d does not implement.
// Numbers and checks as TF-A's services/std_svc/firme answers a Realm-world caller.
//
// FIRME_BASE_VERSION
//   Inputs   x1[7:0]  service id (the other bits are ignored, as TF-A casts x1 to 8 bits)
//   Outputs  x0       the service's version, 1.0 = 0x10000, for base (0), GM (1), IDE-KM (2, fvp
//                     only) and MECID (3, unless --no-mec); FIRME_NOT_SUPPORTED for any other id
//
// FIRME_BASE_FEATURES
//   Inputs   x1[7:0]  service id; x2[7:0] feature register index (other bits ignored)
//   Outputs  x0       FIRME_SUCCESS, or FIRME_NOT_SUPPORTED (service absent, or no such register)
//            x1       the register on success; the caller's x1 on failure (TF-A writes x0 only)
//   Registers: base 0 = 0x3 (BASE_VERSION, BASE_FEATURES); base 1 = one bit per present service,
//   BIT(16 + id - 1); the services' own registers are listed in firme_gm.cpp, firme_ide.cpp and
//   firme_mec.cpp.
#include "../monitor_impl.hpp"

#include "el3d/monitor/names.hpp"
#include "el3d/smc.h"
#include "el3d/util/numbers.hpp"

#include <spdlog/spdlog.h>

namespace el3d {

namespace {

// A service's feature register, or nullopt for FIRME_NOT_SUPPORTED (absent service, bad index).
std::optional<uint64_t> feature_register(const Monitor::Impl& m, uint8_t service, uint8_t index)
{
	switch (service) {
	case EL3_FIRME_SVC_BASE:
		if (index == 0)
			return EL3_FIRME_BASE_FR0_VERSION_FEATURES;
		if (index == 1) {
			uint64_t r = 0;
			for (uint8_t s : {EL3_FIRME_SVC_GM, EL3_FIRME_SVC_IDE_KM, EL3_FIRME_SVC_MECID})
				if (firme_service_present(m, s))
					r |= EL3_FIRME_BASE_FR1_SVC(s);
			return r;
		}
		return std::nullopt;
	case EL3_FIRME_SVC_GM: return firme_gm_feature(m, index);
	case EL3_FIRME_SVC_IDE_KM: return firme_ide_feature(m, index);
	case EL3_FIRME_SVC_MECID: return firme_mec_feature(m, index);
	default: return std::nullopt;  // attestation (4) and integrated devices (5): not built by TF-A
	}
}

}  // namespace

bool firme_service_present(const Monitor::Impl& m, uint8_t service)
{
	switch (service) {
	case EL3_FIRME_SVC_BASE:
	case EL3_FIRME_SVC_GM: return true;  // FEAT_RME: always, on every platform el3d emulates
	case EL3_FIRME_SVC_IDE_KM: return firme_ide_feature(m, 0).has_value();
	case EL3_FIRME_SVC_MECID: return m.options.mec;
	default: return false;
	}
}

void handle_firme_base_version(Monitor::Impl& m, SmcContext& c)
{
	const auto service = static_cast<uint8_t>(c.x(1));
	const int64_t v = firme_service_present(m, service) ? EL3_FIRME_VERSION_1_0 : EL3_FIRME_NOT_SUPPORTED;
	spdlog::debug("cpu{} FIRME_BASE_VERSION(service {}) -> {}", c.cpu, service, v < 0 ? firme_result_name(v) : hex(v));
	c.ret(v);
}

void handle_firme_base_features(Monitor::Impl& m, SmcContext& c)
{
	const auto service = static_cast<uint8_t>(c.x(1));
	const auto index = static_cast<uint8_t>(c.x(2));
	const std::optional<uint64_t> reg = feature_register(m, service, index);
	if (!reg) {
		spdlog::debug("cpu{} FIRME_BASE_FEATURES(service {}, register {}) -> FIRME_NOT_SUPPORTED", c.cpu, service, index);
		return c.ret(EL3_FIRME_NOT_SUPPORTED);
	}
	spdlog::debug("cpu{} FIRME_BASE_FEATURES(service {}, register {}) -> {:#x}", c.cpu, service, index, *reg);
	c.ret(EL3_FIRME_SUCCESS, *reg);
}

void handle_firme_not_supported(Monitor::Impl&, SmcContext& c)
{
	spdlog::info("cpu{} {}: FIRME_NOT_SUPPORTED (el3d, like TF-A, does not provide it)", c.cpu, fid_name(c.fid));
	c.ret(EL3_FIRME_NOT_SUPPORTED);
}

}  // namespace el3d
