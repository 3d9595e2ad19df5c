#pragma once
// Names for the numbers of the RMM-EL3 interface, for logs, status and the CLI.
#include <cstdint>
#include <string>

namespace el3d {

// "E_RMM_NOMEM", or "x0=0x..." for values that are not an error code.
std::string rmm_result_name(uint64_t x0);
// "FIRME_DENIED", or "x0=0x..." for values that are not a FIRME status.
std::string firme_result_name(uint64_t x0);
// "SMCCC_NOT_REQUIRED", or "x0=0x..." for values that are not an SMCCC status.
std::string smccc_result_name(uint64_t x0);
// x0 of `fid` named by its family: FIRME status for the FIRME range, SMCCC status for the Arm
// architecture calls ("version 0x10000" for a version call that succeeded), E_RMM names otherwise.
std::string result_name(uint64_t fid, uint64_t x0);
// "E_RMM_BOOT_MANIFEST_DATA_ERROR", or the number.
std::string boot_result_name(int64_t code);
// "RMM_ALLOCATE_MEMORY", "FIRME_GM_GPI_SET", "SMCCC_ARCH_FEATURES", or "0x...".
std::string fid_name(uint64_t fid);

}  // namespace el3d
