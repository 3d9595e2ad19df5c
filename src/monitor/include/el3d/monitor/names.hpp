#pragma once
// Names for the numbers of the RMM-EL3 interface, for logs, status and the CLI.
#include <cstdint>
#include <string>

namespace el3d {

// "E_RMM_NOMEM", or "x0=0x..." for values that are not an error code.
std::string rmm_result_name(uint64_t x0);
// "E_RMM_BOOT_MANIFEST_DATA_ERROR", or the number.
std::string boot_result_name(int64_t code);
// "RMM_ALLOCATE_MEMORY", or "0x...".
std::string fid_name(uint64_t fid);

}  // namespace el3d
