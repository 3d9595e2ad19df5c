/*
 * Every public header of el3d next to TF-RMM's RMM-EL3 interface header, in one translation unit:
 * el3d's names carry the EL3_ prefix, so nothing here may be defined twice or differently.
 * Compiled by headers_coexist.sh with TF-RMM's own flags (-Wall -Werror -Wextra ...).
 */
#include <rmm_el3_ifc.h>
#include <smc.h>

#include <el3d/boot_manifest.h>
#include <el3d/el3_client.h>
#include <el3d/el3_tfrmm.h>
#include <el3d/smc.h>

/* TF-RMM's and el3d's values of the same codes agree. */
_Static_assert(E_RMM_BAD_PAS == EL3_E_RMM_BAD_PAS, "E_RMM_BAD_PAS");
_Static_assert(E_RMM_NOMEM == EL3_E_RMM_NOMEM, "E_RMM_NOMEM");
_Static_assert(E_RMM_BOOT_MANIFEST_DATA_ERROR == EL3_E_RMM_BOOT_MANIFEST_DATA_ERROR, "manifest data error");
_Static_assert(SMC_RMM_RESERVE_MEMORY == EL3_FID_RMM_RESERVE_MEMORY, "RESERVE_MEMORY");
_Static_assert(SMC_RMM_BOOT_COMPLETE == EL3_FID_RMM_BOOT_COMPLETE, "BOOT_COMPLETE");

int el3d_headers_coexist(void);
int el3d_headers_coexist(void)
{
	return (int)EL3_E_RMM_OK + E_RMM_OK;
}
