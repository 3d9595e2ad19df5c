// FIRME (0xC4000400-0xC4000412) and the SMCCC architecture calls of every ABI profile x every failure
// condition, in the order TF-A checks them, as one table (abi_table.hpp runs it). The seed profile
// answers SMC_UNK to all of them, with the caller's registers.
#include "abi_table.hpp"

#include <cstdio>

using namespace el3d;
using namespace el3d::abi_table;

namespace {

constexpr uint64_t F_VERSION = EL3_FID_FIRME_BASE_VERSION, F_FEATURES = EL3_FID_FIRME_BASE_FEATURES,
                   F_GPI_SET = EL3_FID_FIRME_GM_GPI_SET, F_PROG = EL3_FID_FIRME_IDE_KEYSET_PROG,
                   F_GO = EL3_FID_FIRME_IDE_KEYSET_GO, F_STOP = EL3_FID_FIRME_IDE_KEYSET_STOP,
                   F_POLL = EL3_FID_FIRME_IDE_KEYSET_POLL, F_MEC = EL3_FID_FIRME_MEC_REFRESH;
constexpr uint64_t S_VERSION = EL3_FID_SMCCC_VERSION, S_FEATURES = EL3_FID_SMCCC_ARCH_FEATURES,
                   S_AVAIL = EL3_FID_SMCCC_ARCH_FEATURE_AVAILABILITY;
constexpr int64_t SUCCESS = EL3_FIRME_SUCCESS, NOT_SUPPORTED = EL3_FIRME_NOT_SUPPORTED,
                  INVALID = EL3_FIRME_INVALID_PARAMETERS, DENIED = EL3_FIRME_DENIED, V1_0 = EL3_FIRME_VERSION_1_0;
constexpr uint64_t REALM = 0xB, NS = 0x9;  // target GPIs
constexpr uint64_t PCI1 = 0x50000000, PCI2 = 0x4000000000, ECAM = 0x40000000;  // FVP
constexpr uint64_t SCR = 0x802bbc00a000000, SCR_NO_MEC = 0x800bbc00a000000;
constexpr uint64_t MEC5 = (uint64_t{5} << 32) | 1;  // MECID 5, realm destruction

void no_mec(MonitorOptions& o) { o.mec = false; }
void mecid_8_bits(MonitorOptions& o) { o.mecid_width = 8; }
void delegate_d(Env& e) { e.call(F_GPI_SET, {D, 1, REALM}); }

Row on(const char* platform, Row r)
{
	r.platform = platform;
	return r;
}

std::vector<Row> make_rows()
{
	std::vector<Row> r = {
	    // --- FIRME_BASE_VERSION: x1[7:0] = service ----------------------------------------------------------------
	    {"version_base", UPSTREAM, F_VERSION, {0}, V1_0},
	    {"version_gm", UPSTREAM, F_VERSION, {1}, V1_0},
	    {"version_ide_km_fvp", UPSTREAM, F_VERSION, {2}, V1_0},
	    on("qemu", {"version_ide_km_qemu", UPSTREAM, F_VERSION, {2}, NOT_SUPPORTED, 2}),
	    on("qemu-sbsa", {"version_ide_km_qemu_sbsa", UPSTREAM, F_VERSION, {2}, NOT_SUPPORTED, 2}),
	    {"version_mecid", UPSTREAM, F_VERSION, {3}, V1_0},
	    {"version_mecid_without_mec", UPSTREAM, F_VERSION, {3}, NOT_SUPPORTED, 3, nullptr, no_mec},
	    {"version_attestation", UPSTREAM, F_VERSION, {4}, NOT_SUPPORTED, 4},
	    {"version_integrated_devices", UPSTREAM, F_VERSION, {5}, NOT_SUPPORTED, 5},
	    {"version_unknown_service", UPSTREAM, F_VERSION, {6}, NOT_SUPPORTED, 6},
	    {"version_service_255", UPSTREAM, F_VERSION, {0xFF}, NOT_SUPPORTED, 0xFF},
	    {"version_service_is_x1_low_byte", UPSTREAM, F_VERSION, {0x104}, NOT_SUPPORTED, 0x104},
	    {"version_service_0x101_is_gm", UPSTREAM, F_VERSION, {0x101}, V1_0},
	    // --- FIRME_BASE_FEATURES: x1[7:0] = service, x2[7:0] = register; on failure x1 is the caller's ---------------
	    {"features_base_0", UPSTREAM, F_FEATURES, {0, 0}, SUCCESS, 0x3},
	    {"features_base_1_fvp", UPSTREAM, F_FEATURES, {0, 1}, SUCCESS, 0x70000},  // GM, IDE-KM, MECID
	    {"features_base_1_without_mec", UPSTREAM, F_FEATURES, {0, 1}, SUCCESS, 0x30000, nullptr, no_mec},
	    on("qemu", {"features_base_1_qemu", UPSTREAM, F_FEATURES, {0, 1}, SUCCESS, 0x50000}),  // no IDE-KM
	    {"features_base_2", UPSTREAM, F_FEATURES, {0x100, 2}, NOT_SUPPORTED, 0x100},
	    {"features_register_is_x2_low_byte", UPSTREAM, F_FEATURES, {0, 0x101}, SUCCESS, 0x70000},
	    {"features_gm_0", UPSTREAM, F_FEATURES, {1, 0}, SUCCESS, 0x1},
	    {"features_gm_1_fvp", UPSTREAM, F_FEATURES, {1, 1}, SUCCESS, 0x80},  // PPS 40 bits, PGS 4 KiB, L0 1 GiB
	    on("qemu", {"features_gm_1_qemu", UPSTREAM, F_FEATURES, {1, 1}, SUCCESS, 0x80}),
	    on("qemu-sbsa", {"features_gm_1_qemu_sbsa", UPSTREAM, F_FEATURES, {1, 1}, SUCCESS, 0xC0}),  // PPS 42 bits
	    {"features_gm_2", UPSTREAM, F_FEATURES, {1, 2}, NOT_SUPPORTED, 1},
	    {"features_ide_km_0", UPSTREAM, F_FEATURES, {2, 0}, SUCCESS, 0x7},
	    {"features_ide_km_1", UPSTREAM, F_FEATURES, {2, 1}, NOT_SUPPORTED, 2},
	    on("qemu", {"features_ide_km_0_qemu", UPSTREAM, F_FEATURES, {2, 0}, NOT_SUPPORTED, 2}),
	    {"features_mecid_0", UPSTREAM, F_FEATURES, {3, 0}, SUCCESS, 0x1},
	    {"features_mecid_1", UPSTREAM, F_FEATURES, {3, 1}, SUCCESS, 0xF},  // 16-bit MECIDs
	    {"features_mecid_1_8_bits", UPSTREAM, F_FEATURES, {3, 1}, SUCCESS, 0x7, nullptr, mecid_8_bits},
	    {"features_mecid_2", UPSTREAM, F_FEATURES, {3, 2}, NOT_SUPPORTED, 3},
	    {"features_mecid_0_without_mec", UPSTREAM, F_FEATURES, {3, 0}, NOT_SUPPORTED, 3, nullptr, no_mec},
	    {"features_attestation", UPSTREAM, F_FEATURES, {4, 0}, NOT_SUPPORTED, 4},
	    {"features_unknown_service", UPSTREAM, F_FEATURES, {6, 0}, NOT_SUPPORTED, 6},
	    // --- FIRME_GM_GPI_SET: x1 PA, x2 count, x3[3:0] target GPI; x1 out = granules transitioned --------------------
	    {"gpi_set_delegate", UPSTREAM, F_GPI_SET, {D, 1, REALM}, SUCCESS, 1},
	    {"gpi_set_undelegate", UPSTREAM, F_GPI_SET, {D, 1, NS}, SUCCESS, 1, delegate_d},
	    {"gpi_set_undelegate_of_legacy_delegation", UPSTREAM, F_GPI_SET, {D, 1, NS}, SUCCESS, 1,
	     [](Env& e) { e.call(B0, {D}); }},
	    {"gpi_set_target_above_bit_3_ignored", UPSTREAM, F_GPI_SET, {D, 1, 0xFFF0 | REALM}, SUCCESS, 1},
	    {"gpi_set_count_0", UPSTREAM, F_GPI_SET, {D, 0, REALM}, INVALID, 0},
	    {"gpi_set_count_2", UPSTREAM, F_GPI_SET, {D, 2, REALM}, INVALID, 0},
	    {"gpi_set_count_before_target", UPSTREAM, F_GPI_SET, {D, 2, 0x3}, INVALID, 0},
	    {"gpi_set_invalid_target_3", UPSTREAM, F_GPI_SET, {D, 1, 0x3}, DENIED, 0},
	    {"gpi_set_invalid_target_nso", UPSTREAM, F_GPI_SET, {D, 1, 0xD}, DENIED, 0},
	    {"gpi_set_invalid_target_nsp", UPSTREAM, F_GPI_SET, {D, 1, 0x5}, DENIED, 0},
	    {"gpi_set_invalid_target_before_alignment", UPSTREAM, F_GPI_SET, {D + 8, 1, 0x3}, DENIED, 0},
	    {"gpi_set_target_secure", UPSTREAM, F_GPI_SET, {D, 1, 0x8}, DENIED, 0},
	    {"gpi_set_target_root", UPSTREAM, F_GPI_SET, {D, 1, 0xA}, DENIED, 0},
	    {"gpi_set_target_no_access", UPSTREAM, F_GPI_SET, {D, 1, 0x0}, DENIED, 0},
	    {"gpi_set_target_any", UPSTREAM, F_GPI_SET, {D, 1, 0xF}, DENIED, 0},
	    {"gpi_set_valid_target_after_alignment", UPSTREAM, F_GPI_SET, {D + 8, 1, 0x8}, INVALID, 0},
	    {"gpi_set_misaligned", UPSTREAM, F_GPI_SET, {D + 0x800, 1, REALM}, INVALID, 0},
	    {"gpi_set_outside_pa_space", UPSTREAM, F_GPI_SET, {PA_END, 1, REALM}, INVALID, 0},
	    {"gpi_set_last_granule_of_pa_space", UPSTREAM, F_GPI_SET, {PA_END - 0x1000, 1, REALM}, INVALID, 0},
	    {"gpi_set_wraps_past_2_64", UPSTREAM, F_GPI_SET, {0xFFFFFFFFFFFFF000, 1, REALM}, INVALID, 0},
	    {"gpi_set_block_mapped", UPSTREAM, F_GPI_SET, {0x10000000, 1, REALM}, INVALID, 0},
	    {"gpi_set_misaligned_before_pas", UPSTREAM, F_GPI_SET, {0xFDC00010, 1, REALM}, INVALID, 0},
	    {"gpi_set_double_delegate", UPSTREAM, F_GPI_SET, {D, 1, REALM}, DENIED, 0, delegate_d},
	    {"gpi_set_undelegate_ns", UPSTREAM, F_GPI_SET, {D, 1, NS}, DENIED, 0},
	    {"gpi_set_delegate_carveout", UPSTREAM, F_GPI_SET, {0xFDC00000, 1, REALM}, DENIED, 0},
	    {"gpi_set_delegate_pre_marked_secure", UPSTREAM, F_GPI_SET, {SECURE, 1, REALM}, DENIED, 0},
	    {"gpi_set_delegate_pre_marked_root", UPSTREAM, F_GPI_SET, {ROOT, 1, REALM}, DENIED, 0},
	    {"gpi_set_delegate_tzc_secure", UPSTREAM, F_GPI_SET, {TZC_SECURE, 1, REALM}, DENIED, 0},
	    {"gpi_set_delegate_el3_root", UPSTREAM, F_GPI_SET, {EL3_ROOT, 1, REALM}, DENIED, 0},
	    {"gpi_set_undelegate_el3_root", UPSTREAM, F_GPI_SET, {EL3_ROOT, 1, NS}, DENIED, 0},
	    {"gpi_set_delegate_pci_window_1", UPSTREAM, F_GPI_SET, {PCI1, 1, REALM}, SUCCESS, 1},
	    {"gpi_set_delegate_pci_window_2", UPSTREAM, F_GPI_SET, {PCI2 + 0xBFFFF000, 1, REALM}, SUCCESS, 1},
	    {"gpi_set_double_delegate_pci_window", UPSTREAM, F_GPI_SET, {PCI1, 1, REALM}, DENIED, 0,
	     [](Env& e) { e.call(B0, {PCI1}); }},
	    {"gpi_set_delegate_fvp_any", UPSTREAM, F_GPI_SET, {0x60000000, 1, REALM}, DENIED, 0},
	    // --- FIRME_MEC_REFRESH: x1[47:32] MECID, x1[0] reason -------------------------------------------------------
	    {"mec_refresh", UPSTREAM, F_MEC, {MEC5}, SUCCESS},
	    {"mec_refresh_widest_mecid", UPSTREAM, F_MEC, {uint64_t{0xFFFF} << 32}, SUCCESS},
	    {"mec_refresh_without_mec", UPSTREAM, F_MEC, {MEC5}, NOT_SUPPORTED, {}, nullptr, no_mec},
	    {"mec_refresh_reserved_low_bits", UPSTREAM, F_MEC, {MEC5 | 2}, INVALID},
	    {"mec_refresh_reserved_high_bits", UPSTREAM, F_MEC, {uint64_t{1} << 48}, INVALID},
	    {"mec_refresh_without_mec_before_reserved_bits", UPSTREAM, F_MEC, {uint64_t{1} << 48}, NOT_SUPPORTED, {},
	     nullptr, no_mec},
	    {"mec_refresh_too_wide", UPSTREAM, F_MEC, {uint64_t{256} << 32}, INVALID, {}, nullptr, mecid_8_bits},
	    {"mec_refresh_8_bit_mecid_fits", UPSTREAM, F_MEC, {uint64_t{255} << 32}, SUCCESS, {}, nullptr, mecid_8_bits},
	    // --- FIRME IDE-KM (fvp): x1 ECAM, x2[1:0] IDE type, x3 keyset id ---------------------------------------------
	    {"ide_prog", UPSTREAM, F_PROG, {ECAM, 0, 0x41, 1, 2, 3, 4, 0x99}, SUCCESS},
	    {"ide_prog_link_stream", UPSTREAM, F_PROG, {ECAM, 1, 0}, SUCCESS},
	    {"ide_prog_flags_above_bit_1_ignored", UPSTREAM, F_PROG, {ECAM, 0x4, 0}, SUCCESS},
	    {"ide_prog_type_2", UPSTREAM, F_PROG, {ECAM, 2, 0}, INVALID},
	    {"ide_prog_type_3_cxl", UPSTREAM, F_PROG, {ECAM, 3, 0}, INVALID},
	    {"ide_prog_bad_ecam", UPSTREAM, F_PROG, {0xF0000000, 0, 0}, INVALID},
	    {"ide_prog_type_before_ecam", UPSTREAM, F_PROG, {0xF0000000, 3, 0}, INVALID},
	    {"ide_go", UPSTREAM, F_GO, {ECAM, 0, 0x41, 0x99}, SUCCESS},
	    {"ide_go_bad_type", UPSTREAM, F_GO, {ECAM, 2, 0x41}, INVALID},
	    {"ide_go_bad_ecam", UPSTREAM, F_GO, {ECAM + 0x1000, 0, 0x41}, INVALID},
	    {"ide_stop", UPSTREAM, F_STOP, {ECAM, 1, 0x41, 0x99}, SUCCESS},
	    {"ide_stop_bad_type", UPSTREAM, F_STOP, {ECAM, 3, 0x41}, INVALID},
	    {"ide_stop_bad_ecam", UPSTREAM, F_STOP, {0, 0, 0x41}, INVALID},
	    {"ide_poll_blocking_mode", UPSTREAM, F_POLL, {ECAM, 0, 0x41}, NOT_SUPPORTED, ECAM},
	    on("qemu", {"ide_prog_qemu", UPSTREAM, F_PROG, {ECAM, 0, 0}, NOT_SUPPORTED, ECAM}),
	    on("qemu-sbsa", {"ide_go_qemu_sbsa", UPSTREAM, F_GO, {0xF0000000, 0, 0}, NOT_SUPPORTED}),
	    on("qemu-sbsa", {"ide_stop_qemu_sbsa_bad_type", UPSTREAM, F_STOP, {0xF0000000, 3, 0}, NOT_SUPPORTED}),
	    // --- After a failed boot the FIRME services are off with the Realm world: SMC_UNK, caller's x1 ---------------
	    {"failed_boot_firme_version", UPSTREAM, F_VERSION, {0}, UNK, 0, failed_boot},
	    {"failed_boot_firme_features", UPSTREAM, F_FEATURES, {0, 0}, UNK, 0, failed_boot},
	    {"failed_boot_gpi_set", UPSTREAM, F_GPI_SET, {D, 1, REALM}, UNK, D, failed_boot},
	    {"failed_boot_firme_mec_refresh", UPSTREAM, F_MEC, {MEC5}, UNK, MEC5, failed_boot},
	    {"failed_boot_smccc_still_answers", UPSTREAM, S_VERSION, {}, EL3_SMCCC_VERSION_1_5, {}, failed_boot},
	    // --- SMCCC ------------------------------------------------------------------------------------------------
	    {"smccc_version", UPSTREAM, S_VERSION, {}, EL3_SMCCC_VERSION_1_5},
	    {"arch_features_version", UPSTREAM, S_FEATURES, {S_VERSION}, 0},
	    {"arch_features_arch_features", UPSTREAM, S_FEATURES, {S_FEATURES}, 0},
	    {"arch_features_feature_availability", UPSTREAM, S_FEATURES, {S_AVAIL}, 0},
	    {"arch_features_feature_availability_smc32", UPSTREAM, S_FEATURES, {0x80000003}, UNK},
	    {"arch_features_x1_compared_in_64_bits", UPSTREAM, S_FEATURES, {(uint64_t{1} << 32) | S_AVAIL}, UNK},
	    {"arch_features_workaround_1", UPSTREAM, S_FEATURES, {0x80008000}, EL3_SMCCC_NOT_SUPPORTED},
	    {"arch_features_workaround_2", UPSTREAM, S_FEATURES, {0x80007FFF}, EL3_SMCCC_NOT_REQUIRED},
	    {"arch_features_workaround_3", UPSTREAM, S_FEATURES, {0x80003FFF}, EL3_SMCCC_NOT_SUPPORTED},
	    {"arch_features_workaround_4", UPSTREAM, S_FEATURES, {0x80000004}, EL3_SMCCC_NOT_SUPPORTED},
	    {"arch_features_soc_id", UPSTREAM, S_FEATURES, {0x80000002}, EL3_SMCCC_NOT_SUPPORTED},
	    {"arch_features_firme", UPSTREAM, S_FEATURES, {F_VERSION}, UNK},
	    {"feature_availability_scr", UPSTREAM, S_AVAIL, {EL3_SYSREG_SCR_EL3}, 0, SCR},
	    {"feature_availability_scr_without_mec", UPSTREAM, S_AVAIL, {EL3_SYSREG_SCR_EL3}, 0, SCR_NO_MEC, nullptr, no_mec},
	    {"feature_availability_cptr", UPSTREAM, S_AVAIL, {EL3_SYSREG_CPTR_EL3}, 0, 0x1100},
	    {"feature_availability_mdcr", UPSTREAM, S_AVAIL, {EL3_SYSREG_MDCR_EL3}, 0, 0x100080040},
	    {"feature_availability_mpam3", UPSTREAM, S_AVAIL, {EL3_SYSREG_MPAM3_EL3}, 0, uint64_t{1} << 62},
	    {"feature_availability_unknown_register", UPSTREAM, S_AVAIL, {0x1E1000}, EL3_SMCCC_INVALID_PARAMETER, 0},
	    {"feature_availability_register_in_64_bits", UPSTREAM, S_AVAIL, {(uint64_t{1} << 32) | EL3_SYSREG_SCR_EL3},
	     EL3_SMCCC_INVALID_PARAMETER, 0},
	    {"feature_availability_smc32", UPSTREAM, 0x80000003, {EL3_SYSREG_SCR_EL3}, UNK, EL3_SYSREG_SCR_EL3},
	    // --- seed: none of them exists -----------------------------------------------------------------------------
	    {"seed_smccc_version", SEED, S_VERSION, {0x77}, UNK, 0x77},
	    {"seed_arch_features", SEED, S_FEATURES, {S_AVAIL}, UNK, S_AVAIL},
	    {"seed_feature_availability", SEED, S_AVAIL, {EL3_SYSREG_SCR_EL3}, UNK, EL3_SYSREG_SCR_EL3},
	};
	// Every FID of the FIRME range: SMC_UNK in seed; FIRME_NOT_SUPPORTED, the caller's x1, in the tfa
	// profiles for those el3d (like TF-A) does not provide.
	for (uint64_t fid = EL3_FID_FIRME_FIRST; fid <= EL3_FID_FIRME_LAST; ++fid) {
		char name[32];
		std::snprintf(name, sizeof name, "seed_firme_%llx", static_cast<unsigned long long>(fid));
		r.push_back({name, SEED, fid, {0x1234, 1, REALM}, UNK, 0x1234});
		const bool provided = fid <= F_STOP || fid == F_MEC;
		if (!provided) {
			std::snprintf(name, sizeof name, "firme_not_provided_%llx", static_cast<unsigned long long>(fid));
			r.push_back({name, UPSTREAM, fid, {0x1234, 1, REALM}, NOT_SUPPORTED, 0x1234});
		}
	}
	return r;
}

const std::vector<Row>& rows()
{
	static const std::vector<Row> r = make_rows();
	return r;
}

class FirmeTable : public ::testing::TestWithParam<Param> {};

TEST_P(FirmeTable, Row) { run((*GetParam().rows)[GetParam().row], GetParam().abi); }

INSTANTIATE_TEST_SUITE_P(AllProfiles, FirmeTable, ::testing::ValuesIn(params(rows())), param_name);

}  // namespace
