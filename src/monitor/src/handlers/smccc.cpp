// SMCCC Arm architecture calls (tfa profiles), as TF-A's services/arm_arch_svc answers them. TF-A
// serves them to every world, the Realm world included (FEATURE_AVAILABILITY then reports the
// Realm world's registers); ENABLE_RMM forces ARCH_FEATURE_AVAILABILITY on.
//
// SMCCC_VERSION (0x80000000)
//   Outputs  x0  0x10005: SMCCC 1.5
//
// SMCCC_ARCH_FEATURES (0x80000001)
//   Inputs   x1  the FID asked about (all 64 bits compared, as TF-A does)
//   Outputs  x0  0 for SMCCC_VERSION, SMCCC_ARCH_FEATURES and SMCCC_ARCH_FEATURE_AVAILABILITY (SMC64,
//                0xC0000003); SMCCC_NOT_REQUIRED (-2) for ARCH_WORKAROUND_2 (TF-A's default build
//                mitigates CVE-2018-3639 statically); SMCCC_NOT_SUPPORTED (-1) for ARCH_WORKAROUND_1,
//                _3, _4 (no erratum applies to the emulated PE) and for ARCH_SOC_ID (el3d does not
//                implement it; TF-A on FVP does); SMC_UNK (-1) for anything else
//
// SMCCC_ARCH_FEATURE_AVAILABILITY (0xC0000003, SMC64 only)
//   Inputs   x1  system register: SCR_EL3 0x1E1100, CPTR_EL3 0x1E1140, MDCR_EL3 0x1E1320, MPAM3_EL3 0x1EA500
//   Outputs  x0  0, or SMC_INVALID_PARAM (-4) for any other x1
//            x1  the features EL3 enables for the Realm world (1 = enabled, whatever the bit's polarity
//                in the register); 0 on failure
//   el3d models TF-A's Realm-world context on an FVP whose PE implements every feature, and reports
//   those bits TF-RMM reads (its el3_feat_status.h); the others are 0:
//     SCR_EL3   FGT2 [59], MEC [49] (clear with --no-mec), D128 [47], S1PIE/S1POE [45], SCTLR2 [44],
//               TCR2 [43], SME [41], RNG_TRAP [40], GCS [39], HCX [38], FGT [27], CSV2_2 [25]; not THE
//               [42] or MTE2 [26] (TF-A enables those for the Non-secure world only)
//     CPTR_EL3  SME [12], SVE [8]
//     MDCR_EL3  BRBE [32], TRF [19], PMUv3 [6]; not SPE [12] or TRBE [24] (TF-A disables them for
//               the Realm world)
//     MPAM3_EL3 MPAM [62]
#include "../monitor_impl.hpp"

#include "el3d/monitor/names.hpp"
#include "el3d/smc.h"
#include "el3d/util/numbers.hpp"

#include <spdlog/spdlog.h>

#include <initializer_list>

namespace el3d {

namespace {

constexpr uint64_t bits(std::initializer_list<unsigned> positions)
{
	uint64_t v = 0;
	for (unsigned p : positions)
		v |= uint64_t{1} << p;
	return v;
}

constexpr uint64_t kScrMec = bits({49});
constexpr uint64_t kScr = bits({59, 49, 47, 45, 44, 43, 41, 40, 39, 38, 27, 25});
constexpr uint64_t kCptr = bits({12, 8});
constexpr uint64_t kMdcr = bits({32, 19, 6});
constexpr uint64_t kMpam3 = bits({62});

}  // namespace

void handle_smccc_version(Monitor::Impl&, SmcContext& c) { c.ret(EL3_SMCCC_VERSION_1_5); }

void handle_smccc_arch_features(Monitor::Impl&, SmcContext& c)
{
	const uint64_t fid = c.x(1);
	int64_t r = static_cast<int64_t>(EL3_SMC_UNK);
	switch (fid) {
	case EL3_FID_SMCCC_VERSION:
	case EL3_FID_SMCCC_ARCH_FEATURES:
	case EL3_FID_SMCCC_ARCH_FEATURE_AVAILABILITY: r = EL3_SMCCC_SUCCESS; break;
	case EL3_FID_SMCCC_ARCH_WORKAROUND_2: r = EL3_SMCCC_NOT_REQUIRED; break;
	case EL3_FID_SMCCC_ARCH_SOC_ID:
	case EL3_FID_SMCCC_ARCH_SOC_ID | (1u << 30):
	case EL3_FID_SMCCC_ARCH_WORKAROUND_1:
	case EL3_FID_SMCCC_ARCH_WORKAROUND_3:
	case EL3_FID_SMCCC_ARCH_WORKAROUND_4: r = EL3_SMCCC_NOT_SUPPORTED; break;
	default: break;
	}
	spdlog::debug("cpu{} SMCCC_ARCH_FEATURES({}) -> {}", c.cpu, fid_name(fid), r);
	c.ret(r);
}

void handle_smccc_feature_availability(Monitor::Impl& m, SmcContext& c)
{
	const uint64_t reg = c.x(1);
	uint64_t mask = 0;
	switch (reg) {
	case EL3_SYSREG_SCR_EL3: mask = m.options.mec ? kScr : kScr & ~kScrMec; break;
	case EL3_SYSREG_CPTR_EL3: mask = kCptr; break;
	case EL3_SYSREG_MDCR_EL3: mask = kMdcr; break;
	case EL3_SYSREG_MPAM3_EL3: mask = kMpam3; break;
	default:
		spdlog::info("cpu{} SMCCC_ARCH_FEATURE_AVAILABILITY({:#x}): SMC_INVALID_PARAM, not a register EL3 reports", c.cpu,
		             reg);
		return c.ret(EL3_SMCCC_INVALID_PARAMETER, 0);
	}
	spdlog::debug("cpu{} SMCCC_ARCH_FEATURE_AVAILABILITY({:#x}) -> {:#x}", c.cpu, reg, mask);
	c.ret(EL3_SMCCC_SUCCESS, mask);
}

}  // namespace el3d
