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
	default: return hex(fid);
	}
}

}  // namespace el3d
