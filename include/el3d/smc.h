/*
 * el3d — RMM-EL3 interface constants (function IDs, return codes, register fields).
 *
 * Plain C11 so that RMM code, the client shim and the daemon share one definition.
 * Values follow the RMM-EL3 communication specification; see docs/abi.md for how el3d
 * implements each command.
 */
#ifndef EL3D_SMC_H
#define EL3D_SMC_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* SMCCC: SMC_UNK, written to the whole 64-bit x0. Same number as E_RMM_UNK. */
#define EL3_SMC_UNK UINT64_C(0xFFFFFFFFFFFFFFFF)

/* RMM-EL3 function IDs: fast call, SMC64, OEN 4 (Standard), FNUM 0x1B0-0x1CF. */
#define EL3_FID_RMM_EL3_BASE        UINT32_C(0xC40001B0)
#define EL3_FID_RMM_EL3_LAST        UINT32_C(0xC40001CF)
#define EL3_FID_RMM_GTSI_DELEGATE   UINT32_C(0xC40001B0)
#define EL3_FID_RMM_GTSI_UNDELEGATE UINT32_C(0xC40001B1)
#define EL3_FID_RMM_ATTEST_GET_REALM_KEY UINT32_C(0xC40001B2)
#define EL3_FID_RMM_ATTEST_GET_PLAT_TOKEN UINT32_C(0xC40001B3)
#define EL3_FID_RMM_EL3_FEATURES    UINT32_C(0xC40001B4)
#define EL3_FID_RMM_EL3_TOKEN_SIGN  UINT32_C(0xC40001B5)
#define EL3_FID_RMM_MECID_KEY_UPDATE UINT32_C(0xC40001B6) /* seed profile name */
#define EL3_FID_RMM_MEC_REFRESH     UINT32_C(0xC40001B6)  /* tfa profile name */
#define EL3_FID_RMM_ALLOCATE_MEMORY UINT32_C(0xC40001B7)  /* seed profile */
#define EL3_FID_RMM_RESERVE_MEMORY  UINT32_C(0xC40001BB)  /* tfa profile */
#define EL3_FID_RMM_BOOT_COMPLETE   UINT32_C(0xC40001CF)

/* RMM-EL3 runtime return codes (sign-extended into x0). */
#define EL3_E_RMM_OK          INT64_C(0)
#define EL3_E_RMM_UNK         INT64_C(-1)
#define EL3_E_RMM_BAD_ADDR    INT64_C(-2)
#define EL3_E_RMM_BAD_PAS     INT64_C(-3)
#define EL3_E_RMM_NOMEM       INT64_C(-4)
#define EL3_E_RMM_INVAL       INT64_C(-5)
#define EL3_E_RMM_AGAIN       INT64_C(-6)
#define EL3_E_RMM_FAULT       INT64_C(-7)
#define EL3_E_RMM_IN_PROGRESS INT64_C(-8)

/*
 * RMM_ALLOCATE_MEMORY (seed ABI) returns x0 = 1 for a freshly allocated region and
 * x0 = E_RMM_OK (0) when a tagged region that already existed is handed back.
 */
#define EL3_ALLOC_FRESH INT64_C(1)

/* RMM_ALLOCATE_MEMORY x2 fields (seed ABI). */
#define EL3_ALLOC_X2_ALIGN_SHIFT 24
#define EL3_ALLOC_X2_ALIGN_MASK  UINT64_C(0xFF)
#define EL3_ALLOC_X2_ID_MASK     UINT64_C(0xFFFF)
#define EL3_ALLOC_X2(align_bits, id) \
	((((uint64_t)(align_bits) & EL3_ALLOC_X2_ALIGN_MASK) << EL3_ALLOC_X2_ALIGN_SHIFT) | \
	 ((uint64_t)(id) & EL3_ALLOC_X2_ID_MASK))

/* Boot return codes (x1 of RMM_BOOT_COMPLETE). */
#define EL3_E_RMM_BOOT_SUCCESS                        INT64_C(0)
#define EL3_E_RMM_BOOT_ERR_UNKNOWN                    INT64_C(-1)
#define EL3_E_RMM_BOOT_VERSION_NOT_VALID              INT64_C(-2)
#define EL3_E_RMM_BOOT_CPUS_OUT_OF_RANGE              INT64_C(-3)
#define EL3_E_RMM_BOOT_CPU_ID_OUT_OF_RANGE            INT64_C(-4)
#define EL3_E_RMM_BOOT_INVALID_SHARED_BUFFER          INT64_C(-5)
#define EL3_E_RMM_BOOT_MANIFEST_VERSION_NOT_SUPPORTED INT64_C(-6)
#define EL3_E_RMM_BOOT_MANIFEST_DATA_ERROR            INT64_C(-7)
#define EL3_E_RMM_BOOT_NO_MEM                         INT64_C(-8)

/* Registers of one SMC: x1..x12 in, x0..x7 out. */
#define EL3_SMC_ARGS 12
#define EL3_SMC_RESULTS 8

#ifdef __cplusplus
}
#endif

#endif /* EL3D_SMC_H */
