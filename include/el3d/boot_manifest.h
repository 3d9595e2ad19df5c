/*
 * The Boot Manifest EL3 writes at offset 0 of the RMM-EL3 shared page before a cold boot (x3 of the
 * entry registers), version 0.5: the layout of TF-A's rmm_core_manifest.h, with el3d's EL3_ / el3_
 * names so that this header and TF-RMM's headers can be included together. Every pointer is a
 * physical address; with el3d's client shim PA == VA (el3_identity_mapped()), so they can be
 * dereferenced as they are. docs/boot.md describes the contents el3d writes; el3ctl manifest decodes
 * and checks a page.
 *
 * Checksums: for each list, num + (uint64_t)ptr + every u64 word of the array it points to + the
 * checksum is 0 mod 2^64; el3_manifest_checksum_ok() checks one.
 */
#ifndef EL3D_BOOT_MANIFEST_H
#define EL3D_BOOT_MANIFEST_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define EL3_BOOT_MANIFEST_VERSION UINT32_C(0x00000005) /* 0.5: bits [30:16] major, [15:0] minor */
#define EL3_BOOT_MANIFEST_VERSION_MAJOR(v) (((v) >> 16) & 0x7FFFu)
#define EL3_BOOT_MANIFEST_VERSION_MINOR(v) ((v) & 0xFFFFu)
#define EL3_BOOT_MANIFEST_CONSOLE_NAME_MAX 8 /* bytes of el3_console_info.name, NUL included */
#define EL3_BOOT_MANIFEST_RC_INFO_VERSION UINT32_C(0x00000001)

struct el3_memory_bank {
	uint64_t base;
	uint64_t size;
};

/* DRAM, non-coherent and coherent device ranges. */
struct el3_memory_info {
	uint64_t num_banks;
	uint64_t banks; /* PA of struct el3_memory_bank[num_banks] */
	uint64_t checksum;
};

struct el3_console_info {
	uint64_t base;
	uint64_t map_pages;
	char name[EL3_BOOT_MANIFEST_CONSOLE_NAME_MAX]; /* e.g. "pl011", NUL-terminated */
	uint64_t clk_in_hz;
	uint64_t baud_rate;
	uint64_t flags; /* RES0 */
};

struct el3_console_list {
	uint64_t num_consoles;
	uint64_t consoles; /* PA of struct el3_console_info[num_consoles] */
	uint64_t checksum;
};

struct el3_smmu_info {
	uint64_t smmu_base;
	uint64_t smmu_r_base;
};

struct el3_smmu_list {
	uint64_t num_smmus;
	uint64_t smmus; /* PA of struct el3_smmu_info[num_smmus] */
	uint64_t checksum;
};

struct el3_bdf_mapping_info {
	uint16_t mapping_base;
	uint16_t mapping_top; /* inclusive */
	uint16_t mapping_off;
	uint16_t smmu_idx;
};

struct el3_root_port_info {
	uint16_t root_port_id;
	uint16_t padding;
	uint32_t num_bdf_mappings;
	uint64_t bdf_mappings; /* PA of struct el3_bdf_mapping_info[num_bdf_mappings] */
};

struct el3_root_complex_info {
	uint64_t ecam_base;
	uint8_t segment;
	uint8_t padding[3];
	uint32_t num_root_ports;
	uint64_t root_ports; /* PA of struct el3_root_port_info[num_root_ports] */
};

struct el3_root_complex_list {
	uint64_t num_root_complex;
	uint32_t rc_info_version; /* EL3_BOOT_MANIFEST_RC_INFO_VERSION */
	uint32_t padding;
	uint64_t root_complex; /* PA of struct el3_root_complex_info[num_root_complex] */
	uint64_t checksum;     /* over all RC infos, then all root ports, then all BDF maps */
};

struct el3_boot_manifest {
	uint32_t version; /* EL3_BOOT_MANIFEST_VERSION */
	uint32_t padding;
	uint64_t plat_data; /* PA, optional (0) */
	struct el3_memory_info plat_dram;
	struct el3_console_list plat_console;
	struct el3_memory_info plat_ncoh_region;
	struct el3_memory_info plat_coh_region;
	struct el3_smmu_list plat_smmu;
	struct el3_root_complex_list plat_root_complex;
};

/* The offsets of TF-A's header, checked wherever this header is compiled. */
#ifdef __cplusplus
#define EL3_MANIFEST_ASSERT(c, m) static_assert(c, m)
#else
#define EL3_MANIFEST_ASSERT(c, m) _Static_assert(c, m)
#endif
EL3_MANIFEST_ASSERT(sizeof(struct el3_memory_bank) == 16, "memory_bank");
EL3_MANIFEST_ASSERT(sizeof(struct el3_memory_info) == 24, "memory_info");
EL3_MANIFEST_ASSERT(sizeof(struct el3_console_info) == 48, "console_info");
EL3_MANIFEST_ASSERT(offsetof(struct el3_console_info, clk_in_hz) == 24, "console_info.clk_in_hz");
EL3_MANIFEST_ASSERT(sizeof(struct el3_smmu_info) == 16, "smmu_info");
EL3_MANIFEST_ASSERT(sizeof(struct el3_bdf_mapping_info) == 8, "bdf_mapping_info");
EL3_MANIFEST_ASSERT(sizeof(struct el3_root_port_info) == 16, "root_port_info");
EL3_MANIFEST_ASSERT(sizeof(struct el3_root_complex_info) == 24, "root_complex_info");
EL3_MANIFEST_ASSERT(offsetof(struct el3_root_complex_info, num_root_ports) == 12, "root_complex_info.num_root_ports");
EL3_MANIFEST_ASSERT(sizeof(struct el3_root_complex_list) == 32, "root_complex_list");
EL3_MANIFEST_ASSERT(offsetof(struct el3_boot_manifest, plat_dram) == 16, "plat_dram");
EL3_MANIFEST_ASSERT(offsetof(struct el3_boot_manifest, plat_console) == 40, "plat_console");
EL3_MANIFEST_ASSERT(offsetof(struct el3_boot_manifest, plat_ncoh_region) == 64, "plat_ncoh_region");
EL3_MANIFEST_ASSERT(offsetof(struct el3_boot_manifest, plat_coh_region) == 88, "plat_coh_region");
EL3_MANIFEST_ASSERT(offsetof(struct el3_boot_manifest, plat_smmu) == 112, "plat_smmu");
EL3_MANIFEST_ASSERT(offsetof(struct el3_boot_manifest, plat_root_complex) == 136, "plat_root_complex");
EL3_MANIFEST_ASSERT(sizeof(struct el3_boot_manifest) == 168, "boot_manifest v0.5");
#undef EL3_MANIFEST_ASSERT

/* 1 if num + ptr + the `words` u64 words at `array` + checksum is 0 mod 2^64 (the manifest's rule). */
static inline int el3_manifest_checksum_ok(uint64_t num, uint64_t ptr, const void *array, size_t words,
					   uint64_t checksum)
{
	const unsigned char *p = (const unsigned char *)array;
	uint64_t sum = num + ptr + checksum;
	size_t i;

	for (i = 0; i < words; i++) {
		uint64_t w;
		size_t b;

		for (w = 0, b = 0; b < 8; b++) /* little-endian, any alignment */
			w |= (uint64_t)p[i * 8 + b] << (8 * b);
		sum += w;
	}
	return sum == 0;
}

#ifdef __cplusplus
}
#endif

#endif /* EL3D_BOOT_MANIFEST_H */
