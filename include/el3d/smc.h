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

/*
 * RMI: the Realm Management Interface, from the Non-secure world to the RMM through EL3. FNUM
 * 0x150-0x18F with every interface version; 0x1D0-0x2CF too from interface 2.0. The RMM answers an
 * RMI with RMM_RMI_REQ_COMPLETE (the last FID of the first range), x1.. = the RMI's x0...
 */
#define EL3_FID_RMI_FIRST           UINT32_C(0xC4000150)
#define EL3_FID_RMI_LAST            UINT32_C(0xC400018F)
#define EL3_FID_RMI2_FIRST          UINT32_C(0xC40001D0)
#define EL3_FID_RMI2_LAST           UINT32_C(0xC40002CF)
#define EL3_FID_RMI_VERSION         UINT32_C(0xC4000150)
#define EL3_FID_RMM_RMI_REQ_COMPLETE UINT32_C(0xC400018F)

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

/*
 * FIRME (fast call, SMC64, OEN 4, FNUM 0x400-0x412), as TF-A's services/std_svc/firme answers
 * them; served by the tfa profiles only (docs/abi.md). Every FID of the range that el3d does not
 * implement answers EL3_FIRME_NOT_SUPPORTED there.
 */
#define EL3_FID_FIRME_FIRST              UINT32_C(0xC4000400)
#define EL3_FID_FIRME_LAST               UINT32_C(0xC4000412)
#define EL3_FID_FIRME_BASE_VERSION       UINT32_C(0xC4000400)
#define EL3_FID_FIRME_BASE_FEATURES      UINT32_C(0xC4000401)
#define EL3_FID_FIRME_GM_GPI_SET         UINT32_C(0xC4000402)
#define EL3_FID_FIRME_IDE_KEYSET_PROG    UINT32_C(0xC4000403)
#define EL3_FID_FIRME_IDE_KEYSET_GO      UINT32_C(0xC4000404)
#define EL3_FID_FIRME_IDE_KEYSET_STOP    UINT32_C(0xC4000405)
#define EL3_FID_FIRME_IDE_KEYSET_POLL    UINT32_C(0xC4000406)
#define EL3_FID_FIRME_MEC_REFRESH        UINT32_C(0xC4000407)
#define EL3_FID_FIRME_ATTEST_PAT_GET     UINT32_C(0xC4000408)
#define EL3_FID_FIRME_ATTEST_RAK_GET     UINT32_C(0xC4000409)
#define EL3_FID_FIRME_ATTEST_RAT_SIGN    UINT32_C(0xC400040A)
#define EL3_FID_FIRME_ATTEST_PAT_EXT_CLAIMS_STAGE    UINT32_C(0xC400040B)
#define EL3_FID_FIRME_ATTEST_PAT_EXT_CLAIMS_CLEAR    UINT32_C(0xC400040C)
#define EL3_FID_FIRME_ATTEST_PAT_EXT_CLAIMS_FINALISE UINT32_C(0xC400040D)
#define EL3_FID_FIRME_GM_L1_GPT_CREATE   UINT32_C(0xC400040E)
#define EL3_FID_FIRME_GM_L1_GPT_DESTROY  UINT32_C(0xC400040F)
#define EL3_FID_FIRME_IDEV_OP_START      UINT32_C(0xC4000410)
#define EL3_FID_FIRME_IDEV_OP_CONTINUE   UINT32_C(0xC4000411)
#define EL3_FID_FIRME_GM_GPI_OP_CONTINUE UINT32_C(0xC4000412)

/* FIRME status codes (sign-extended into x0). Several numbers mean other things as E_RMM codes. */
#define EL3_FIRME_SUCCESS            INT64_C(0)
#define EL3_FIRME_NOT_SUPPORTED      INT64_C(-1)
#define EL3_FIRME_INVALID_PARAMETERS INT64_C(-2)
#define EL3_FIRME_ABORTED            INT64_C(-3)
#define EL3_FIRME_INCOMPLETE         INT64_C(-4)
#define EL3_FIRME_DENIED             INT64_C(-5)
#define EL3_FIRME_BUSY               INT64_C(-6)
#define EL3_FIRME_OP_CONFLICT        INT64_C(-7)
#define EL3_FIRME_EXISTS             INT64_C(-8)
#define EL3_FIRME_NO_ENTRY           INT64_C(-9)
#define EL3_FIRME_NO_MEMORY          INT64_C(-10)
#define EL3_FIRME_BAD_DATA           INT64_C(-11)

/* FIRME service ids (x1[7:0] of BASE_VERSION and BASE_FEATURES) and versions: [30:16] major, [15:0] minor. */
#define EL3_FIRME_SVC_BASE   0u
#define EL3_FIRME_SVC_GM     1u
#define EL3_FIRME_SVC_IDE_KM 2u
#define EL3_FIRME_SVC_MECID  3u
#define EL3_FIRME_VERSION_1_0 UINT64_C(0x10000)

/* FIRME feature registers (x1 of BASE_FEATURES). */
#define EL3_FIRME_BASE_FR0_VERSION_FEATURES UINT64_C(0x3)  /* BASE_VERSION and BASE_FEATURES */
#define EL3_FIRME_BASE_FR1_SVC(id)      (UINT64_C(1) << (16 + (id) - 1))  /* service `id` (1..) present */
#define EL3_FIRME_GM_FR0_GPI_SET        UINT64_C(0x1)
#define EL3_FIRME_GM_FR1_PGS_SHIFT      0   /* [1:0] GPCCR_EL3.PGS: 0 = 4 KiB */
#define EL3_FIRME_GM_FR1_L0GPTSZ_SHIFT  2   /* [5:2] GPCCR_EL3.L0GPTSZ: 0 = 30 bits (1 GiB) */
#define EL3_FIRME_GM_FR1_PPS_SHIFT      6   /* [8:6] GPCCR_EL3.PPS: 0 = 32 bits, 2 = 40, 3 = 42, 4 = 44 */
#define EL3_FIRME_IDE_FR0_PROG_GO_STOP  UINT64_C(0x7)  /* KEYSET_PROG, _GO, _STOP; no KEYSET_POLL */
#define EL3_FIRME_MECID_FR0_REFRESH     UINT64_C(0x1)
/* MECID FR1[3:0] = common MECID width - 1 */

/* FIRME_GM_GPI_SET x3[3:0] and FIRME_MEC_REFRESH x1 fields. */
#define EL3_FIRME_GPI_SET_TARGET_MASK UINT64_C(0xF)
#define EL3_FIRME_MEC_MECID_SHIFT 32          /* x1[47:32] MECID */
#define EL3_FIRME_MEC_REASON_DESTROY UINT64_C(1)  /* x1[0]: 0 realm creation, 1 realm destruction */

/* SMCCC Arm architecture calls (OEN 0), as TF-A's arm_arch_svc answers them; tfa profiles only. */
#define EL3_FID_SMCCC_VERSION                   UINT32_C(0x80000000)
#define EL3_FID_SMCCC_ARCH_FEATURES             UINT32_C(0x80000001)
#define EL3_FID_SMCCC_ARCH_SOC_ID               UINT32_C(0x80000002)
#define EL3_FID_SMCCC_ARCH_FEATURE_AVAILABILITY UINT32_C(0xC0000003)  /* SMC64 only */
#define EL3_FID_SMCCC_ARCH_WORKAROUND_1         UINT32_C(0x80008000)
#define EL3_FID_SMCCC_ARCH_WORKAROUND_2         UINT32_C(0x80007FFF)
#define EL3_FID_SMCCC_ARCH_WORKAROUND_3         UINT32_C(0x80003FFF)
#define EL3_FID_SMCCC_ARCH_WORKAROUND_4         UINT32_C(0x80000004)
#define EL3_SMCCC_VERSION_1_5           INT64_C(0x10005)
#define EL3_SMCCC_SUCCESS               INT64_C(0)
#define EL3_SMCCC_NOT_SUPPORTED         INT64_C(-1)
#define EL3_SMCCC_NOT_REQUIRED          INT64_C(-2)
#define EL3_SMCCC_INVALID_PARAMETER     INT64_C(-4)   /* TF-A's SMC_INVALID_PARAM */
/* x1 of SMCCC_ARCH_FEATURE_AVAILABILITY: the system register, op0 << 19 | op1 << 16 | CRn << 12 | CRm << 8 | op2 << 5. */
#define EL3_SYSREG_SCR_EL3   UINT64_C(0x1E1100)
#define EL3_SYSREG_CPTR_EL3  UINT64_C(0x1E1140)
#define EL3_SYSREG_MDCR_EL3  UINT64_C(0x1E1320)
#define EL3_SYSREG_MPAM3_EL3 UINT64_C(0x1EA500)

/* Registers of one SMC: x1..x12 in, x0..x7 out. */
#define EL3_SMC_ARGS 12
#define EL3_SMC_RESULTS 8

#ifdef __cplusplus
}
#endif

#endif /* EL3D_SMC_H */
