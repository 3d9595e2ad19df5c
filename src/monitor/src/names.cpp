#include "el3d/monitor/names.hpp"

#include "el3d/smc.h"
#include "el3d/util/numbers.hpp"

namespace el3d {

std::string rmm_result_name(uint64_t x0)
{
	switch (static_cast<int64_t>(x0)) {
	case EL3_E_RMM_OK: return "E_RMM_OK";
	case EL3_ALLOC_FRESH: return "FRESH(1)";
	case EL3_E_RMM_UNK: return "E_RMM_UNK/SMC_UNK";
	case EL3_E_RMM_BAD_ADDR: return "E_RMM_BAD_ADDR";
	case EL3_E_RMM_BAD_PAS: return "E_RMM_BAD_PAS";
	case EL3_E_RMM_NOMEM: return "E_RMM_NOMEM";
	case EL3_E_RMM_INVAL: return "E_RMM_INVAL";
	case EL3_E_RMM_AGAIN: return "E_RMM_AGAIN";
	case EL3_E_RMM_FAULT: return "E_RMM_FAULT";
	case EL3_E_RMM_IN_PROGRESS: return "E_RMM_IN_PROGRESS";
	default: return "x0=" + hex(x0);
	}
}

std::string firme_result_name(uint64_t x0)
{
	switch (static_cast<int64_t>(x0)) {
	case EL3_FIRME_SUCCESS: return "FIRME_SUCCESS";
	case EL3_FIRME_NOT_SUPPORTED: return "FIRME_NOT_SUPPORTED";
	case EL3_FIRME_INVALID_PARAMETERS: return "FIRME_INVALID_PARAMETERS";
	case EL3_FIRME_ABORTED: return "FIRME_ABORTED";
	case EL3_FIRME_INCOMPLETE: return "FIRME_INCOMPLETE";
	case EL3_FIRME_DENIED: return "FIRME_DENIED";
	case EL3_FIRME_BUSY: return "FIRME_BUSY";
	case EL3_FIRME_OP_CONFLICT: return "FIRME_OP_CONFLICT";
	case EL3_FIRME_EXISTS: return "FIRME_EXISTS";
	case EL3_FIRME_NO_ENTRY: return "FIRME_NO_ENTRY";
	case EL3_FIRME_NO_MEMORY: return "FIRME_NO_MEMORY";
	case EL3_FIRME_BAD_DATA: return "FIRME_BAD_DATA";
	default: return "x0=" + hex(x0);
	}
}

std::string smccc_result_name(uint64_t x0)
{
	switch (static_cast<int64_t>(x0)) {
	case EL3_SMCCC_SUCCESS: return "SMCCC_SUCCESS";
	case EL3_SMCCC_NOT_SUPPORTED: return "SMCCC_NOT_SUPPORTED/SMC_UNK";
	case EL3_SMCCC_NOT_REQUIRED: return "SMCCC_NOT_REQUIRED";
	case EL3_SMCCC_INVALID_PARAMETER: return "SMC_INVALID_PARAM";
	default: return "x0=" + hex(x0);
	}
}

std::string result_name(uint64_t fid, uint64_t x0)
{
	const auto f = static_cast<uint32_t>(fid);
	if (f >= EL3_FID_FIRME_FIRST && f <= EL3_FID_FIRME_LAST)
		return f == EL3_FID_FIRME_BASE_VERSION && static_cast<int64_t>(x0) >= 0 ? "version " + hex(x0)
		                                                                         : firme_result_name(x0);
	if ((f & 0x3F000000u) == 0)  // OEN 0: the Arm architecture calls
		return f == EL3_FID_SMCCC_VERSION && static_cast<int64_t>(x0) >= 0 ? "version " + hex(x0) : smccc_result_name(x0);
	return rmm_result_name(x0);
}

std::string boot_result_name(int64_t code)
{
	switch (code) {
	case EL3_E_RMM_BOOT_SUCCESS: return "E_RMM_BOOT_SUCCESS";
	case EL3_E_RMM_BOOT_ERR_UNKNOWN: return "E_RMM_BOOT_ERR_UNKNOWN";
	case EL3_E_RMM_BOOT_VERSION_NOT_VALID: return "E_RMM_BOOT_VERSION_NOT_VALID";
	case EL3_E_RMM_BOOT_CPUS_OUT_OF_RANGE: return "E_RMM_BOOT_CPUS_OUT_OF_RANGE";
	case EL3_E_RMM_BOOT_CPU_ID_OUT_OF_RANGE: return "E_RMM_BOOT_CPU_ID_OUT_OF_RANGE";
	case EL3_E_RMM_BOOT_INVALID_SHARED_BUFFER: return "E_RMM_BOOT_INVALID_SHARED_BUFFER";
	case EL3_E_RMM_BOOT_MANIFEST_VERSION_NOT_SUPPORTED: return "E_RMM_BOOT_MANIFEST_VERSION_NOT_SUPPORTED";
	case EL3_E_RMM_BOOT_MANIFEST_DATA_ERROR: return "E_RMM_BOOT_MANIFEST_DATA_ERROR";
	case EL3_E_RMM_BOOT_NO_MEM: return "E_RMM_BOOT_NO_MEM";
	default: return std::to_string(code);
	}
}

std::string fid_name(uint64_t fid)
{
	switch (static_cast<uint32_t>(fid)) {
	case EL3_FID_RMM_GTSI_DELEGATE: return "RMM_GTSI_DELEGATE";
	case EL3_FID_RMM_GTSI_UNDELEGATE: return "RMM_GTSI_UNDELEGATE";
	case EL3_FID_RMM_ATTEST_GET_REALM_KEY: return "RMM_ATTEST_GET_REALM_KEY";
	case EL3_FID_RMM_ATTEST_GET_PLAT_TOKEN: return "RMM_ATTEST_GET_PLAT_TOKEN";
	case EL3_FID_RMM_EL3_FEATURES: return "RMM_EL3_FEATURES";
	case EL3_FID_RMM_EL3_TOKEN_SIGN: return "RMM_EL3_TOKEN_SIGN";
	case EL3_FID_RMM_MECID_KEY_UPDATE: return "RMM_MECID_KEY_UPDATE";
	case EL3_FID_RMM_ALLOCATE_MEMORY: return "RMM_ALLOCATE_MEMORY";
	case EL3_FID_RMM_RESERVE_MEMORY: return "RMM_RESERVE_MEMORY";
	case EL3_FID_RMM_BOOT_COMPLETE: return "RMM_BOOT_COMPLETE";
	case EL3_FID_FIRME_BASE_VERSION: return "FIRME_BASE_VERSION";
	case EL3_FID_FIRME_BASE_FEATURES: return "FIRME_BASE_FEATURES";
	case EL3_FID_FIRME_GM_GPI_SET: return "FIRME_GM_GPI_SET";
	case EL3_FID_FIRME_IDE_KEYSET_PROG: return "FIRME_IDE_KEYSET_PROG";
	case EL3_FID_FIRME_IDE_KEYSET_GO: return "FIRME_IDE_KEYSET_GO";
	case EL3_FID_FIRME_IDE_KEYSET_STOP: return "FIRME_IDE_KEYSET_STOP";
	case EL3_FID_FIRME_IDE_KEYSET_POLL: return "FIRME_IDE_KEYSET_POLL";
	case EL3_FID_FIRME_MEC_REFRESH: return "FIRME_MEC_REFRESH";
	case EL3_FID_FIRME_ATTEST_PAT_GET: return "FIRME_ATTEST_PAT_GET";
	case EL3_FID_FIRME_ATTEST_RAK_GET: return "FIRME_ATTEST_RAK_GET";
	case EL3_FID_FIRME_ATTEST_RAT_SIGN: return "FIRME_ATTEST_RAT_SIGN";
	case EL3_FID_FIRME_ATTEST_PAT_EXT_CLAIMS_STAGE: return "FIRME_ATTEST_PAT_EXT_CLAIMS_STAGE";
	case EL3_FID_FIRME_ATTEST_PAT_EXT_CLAIMS_CLEAR: return "FIRME_ATTEST_PAT_EXT_CLAIMS_CLEAR";
	case EL3_FID_FIRME_ATTEST_PAT_EXT_CLAIMS_FINALISE: return "FIRME_ATTEST_PAT_EXT_CLAIMS_FINALISE";
	case EL3_FID_FIRME_GM_L1_GPT_CREATE: return "FIRME_GM_L1_GPT_CREATE";
	case EL3_FID_FIRME_GM_L1_GPT_DESTROY: return "FIRME_GM_L1_GPT_DESTROY";
	case EL3_FID_FIRME_IDEV_OP_START: return "FIRME_IDEV_OP_START";
	case EL3_FID_FIRME_IDEV_OP_CONTINUE: return "FIRME_IDEV_OP_CONTINUE";
	case EL3_FID_FIRME_GM_GPI_OP_CONTINUE: return "FIRME_GM_GPI_OP_CONTINUE";
	case EL3_FID_SMCCC_VERSION: return "SMCCC_VERSION";
	case EL3_FID_SMCCC_ARCH_FEATURES: return "SMCCC_ARCH_FEATURES";
	case EL3_FID_SMCCC_ARCH_SOC_ID: return "SMCCC_ARCH_SOC_ID";
	case EL3_FID_SMCCC_ARCH_FEATURE_AVAILABILITY: return "SMCCC_ARCH_FEATURE_AVAILABILITY";
	case EL3_FID_SMCCC_ARCH_WORKAROUND_1: return "SMCCC_ARCH_WORKAROUND_1";
	case EL3_FID_SMCCC_ARCH_WORKAROUND_2: return "SMCCC_ARCH_WORKAROUND_2";
	case EL3_FID_SMCCC_ARCH_WORKAROUND_3: return "SMCCC_ARCH_WORKAROUND_3";
	case EL3_FID_SMCCC_ARCH_WORKAROUND_4: return "SMCCC_ARCH_WORKAROUND_4";
	case 0xC400018F: return "RMM_RMI_REQ_COMPLETE";
	default: return hex(fid);
	}
}

}  // namespace el3d
