// The RMM-EL3 commands (0xC40001B0-0xC40001CF) of every ABI profile x every failure condition, as one
// table (abi_table.hpp runs it).
#include "abi_table.hpp"

using namespace el3d;
using namespace el3d::abi_table;

namespace {

// A token-sign request in the shared page: sig_alg, granule, ticket, hash_alg, hash.
std::vector<uint8_t> sign_request(uint32_t sig_alg = 0, uint32_t hash_alg = 1)
{
	std::vector<uint8_t> b(0x60, 0);
	std::memcpy(&b[0x00], &sig_alg, 4);
	const uint64_t granule = 0x88000000, ticket = 42;
	std::memcpy(&b[0x08], &granule, 8);
	std::memcpy(&b[0x10], &ticket, 8);
	std::memcpy(&b[0x18], &hash_alg, 4);
	for (int i = 0; i < 48; ++i)
		b[0x20 + i] = static_cast<uint8_t>(i);
	return b;
}

const std::vector<Row>& rows()
{
	static const std::vector<Row> r = {
	    // --- RMM_GTSI_DELEGATE -------------------------------------------------------------------------------------
	    {"delegate_ok", ALL, B0, {D}, OK},
	    {"delegate_misaligned", ALL, B0, {D + 8}, BAD_ADDR},
	    {"delegate_outside_pa_space", ALL, B0, {uint64_t{1} << 40}, BAD_ADDR},
	    {"delegate_last_granule_of_pa_space", ALL, B0, {(uint64_t{1} << 40) - 0x1000}, BAD_ADDR},
	    {"delegate_block_mapped", ALL, B0, {0x10000000}, BAD_ADDR},
	    {"delegate_misaligned_before_pas", ALL, B0, {0xFDC00010}, BAD_ADDR},
	    {"delegate_already_realm", ALL, B0, {D + 0x2000}, BAD_PAS, {}, [](Env& e) { e.call(B0, {D + 0x2000}); }},
	    {"delegate_carveout_is_realm", ALL, B0, {0xFDC00000}, BAD_PAS},
	    {"delegate_secure", ALL, B0, {SECURE}, BAD_PAS},
	    {"delegate_root", ALL, B0, {ROOT}, BAD_PAS},
	    {"delegate_fvp_tzc_secure_first", ALL, B0, {TZC_SECURE}, BAD_PAS},
	    {"delegate_fvp_tzc_secure_last", ALL, B0, {0xFDBFF000}, BAD_PAS},
	    {"delegate_fvp_el3_root_first", ALL, B0, {EL3_ROOT}, BAD_PAS},
	    {"delegate_fvp_l1_gpt_last", ALL, B0, {0xFFFFF000}, BAD_PAS},
	    {"delegate_fvp_tzc_secure_misaligned", ALL, B0, {TZC_SECURE + 8}, BAD_ADDR},
	    {"delegate_last_dram_granule_below_tzc", ALL, B0, {TZC_SECURE - 0x1000}, OK},
	    {"delegate_above_el3_root_block_mapped", ALL, B0, {0x100000000}, BAD_ADDR},
	    // TF-A's FVP GPT maps the PCIe memory windows granule by granule, Non-secure, and the rest of their
	    // 1 GiB L0 entry as GPI any (in no PAS region).
	    {"delegate_fvp_pci_window_1", ALL, B0, {0x50000000}, OK},
	    {"delegate_fvp_pci_window_1_last", ALL, B0, {0x5FFFF000}, OK},
	    {"delegate_fvp_pci_window_2", ALL, B0, {0x4000000000}, OK},
	    {"delegate_fvp_pci_window_2_last", ALL, B0, {0x40BFFFF000}, OK},
	    {"delegate_fvp_pci_window_misaligned", ALL, B0, {0x50000800}, BAD_ADDR},
	    {"delegate_fvp_pci_window_already_realm", ALL, B0, {0x50000000}, BAD_PAS, {},
	     [](Env& e) { e.call(B0, {0x50000000}); }},
	    {"delegate_fvp_beyond_pci_window_2", ALL, B0, {0x40C0000000}, BAD_ADDR},
	    {"delegate_fvp_any_below_pci_window_1", ALL, B0, {0x4FFFF000}, BAD_PAS},
	    {"delegate_fvp_any_above_pci_window_1", ALL, B0, {0x60000000}, BAD_PAS},
	    {"delegate_qemu_dram", ALL, B0, {0x41900000}, OK, {}, nullptr, nullptr, std::nullopt, 0, "qemu"},
	    {"delegate_qemu_el3_sram_root", ALL, B0, {0x0E001000}, BAD_PAS, {}, nullptr, nullptr, std::nullopt, 0, "qemu"},
	    {"delegate_qemu_secure_dram", ALL, B0, {0x0E100000}, BAD_PAS, {}, nullptr, nullptr, std::nullopt, 0, "qemu"},
	    {"delegate_qemu_gpt_root", ALL, B0, {0x0EFFF000}, BAD_PAS, {}, nullptr, nullptr, std::nullopt, 0, "qemu"},
	    {"delegate_qemu_uart_any", ALL, B0, {0x09000000}, BAD_PAS, {}, nullptr, nullptr, std::nullopt, 0, "qemu"},
	    {"delegate_qemu_above_dram_block_mapped", ALL, B0, {0x100000000}, BAD_ADDR, {}, nullptr, nullptr, std::nullopt,
	     0, "qemu"},
	    {"delegate_qemu_sbsa_pci_window", ALL, B0, {0x80000000}, OK, {}, nullptr, nullptr, std::nullopt, 0, "qemu-sbsa"},
	    {"delegate_qemu_sbsa_ecam_any", ALL, B0, {0xF0000000}, BAD_PAS, {}, nullptr, nullptr, std::nullopt, 0,
	     "qemu-sbsa"},
	    {"delegate_qemu_sbsa_secure_sram", ALL, B0, {0x20008000}, BAD_PAS, {}, nullptr, nullptr, std::nullopt, 0,
	     "qemu-sbsa"},
	    {"delegate_qemu_sbsa_last_granule_of_4_tib", ALL, B0, {(uint64_t{1} << 42) - 0x1000}, BAD_ADDR, {}, nullptr,
	     nullptr, std::nullopt, 0, "qemu-sbsa"},
	    // --- RMM_GTSI_UNDELEGATE -----------------------------------------------------------------------------------
	    {"undelegate_ok", ALL, B1, {D + 0x3000}, OK, {}, [](Env& e) { e.call(B0, {D + 0x3000}); }},
	    {"undelegate_misaligned", ALL, B1, {D + 0x3001}, BAD_ADDR},
	    {"undelegate_outside_pa_space", ALL, B1, {uint64_t{1} << 41}, BAD_ADDR},
	    {"undelegate_last_granule_of_pa_space", ALL, B1, {PA_END - 0x1000}, BAD_ADDR},
	    {"undelegate_block_mapped", ALL, B1, {0x0}, BAD_ADDR},
	    {"undelegate_ns", ALL, B1, {D + 0x4000}, BAD_PAS},
	    {"undelegate_secure", ALL, B1, {SECURE}, BAD_PAS},
	    {"undelegate_root", ALL, B1, {ROOT}, BAD_PAS},
	    {"undelegate_fvp_tzc_secure", ALL, B1, {TZC_SECURE + 0x5000}, BAD_PAS},
	    {"undelegate_fvp_el3_root", ALL, B1, {EL3_ROOT + 0x5000}, BAD_PAS},
	    {"undelegate_fvp_pci_window", ALL, B1, {0x4000001000}, OK, {}, [](Env& e) { e.call(B0, {0x4000001000}); }},
	    {"undelegate_fvp_pci_window_ns", ALL, B1, {0x4000001000}, BAD_PAS},
	    {"undelegate_fvp_any", ALL, B1, {0x7FFFF000}, BAD_PAS},
	    // --- RMM_ATTEST_GET_REALM_KEY: x1 echoes the caller's x2 on failure ------------------------------------------
	    {"realm_key_ok", ALL, B2, {S, 0x1000, 0}, OK, 48},
	    {"realm_key_buffer_outside_shared_page", ALL, B2, {S - 0x1000, 0x100, 0}, BAD_ADDR, 0x100},
	    {"realm_key_buffer_end_outside_page", ALL, B2, {S + 0xF80, 0x100, 0}, INVAL, 0x100},
	    {"realm_key_zero_size", ALL, B2, {S, 0, 0}, INVAL, 0},
	    {"realm_key_zero_size_inside_page", ALL, B2, {S + 0x100, 0, 0}, INVAL, 0},
	    {"realm_key_wrapping_size", ALL, B2, {S + 0xFF0, WRAP, 0}, INVAL, WRAP},
	    {"realm_key_fits_at_page_end", ALL, B2, {S + 0x1000 - 48, 48, 0}, OK, 48},
	    {"realm_key_one_byte_past_page_end", ALL, B2, {S + 0x1000 - 48, 49, 0}, INVAL, 49},
	    {"realm_key_bad_curve", ALL, B2, {S, 0x100, 1}, INVAL, 0x100},
	    {"realm_key_buffer_too_small", ALL, B2, {S, 47, 0}, UNK, 47},
	    // --- RMM_ATTEST_GET_PLAT_TOKEN: on failure x1 = caller's x2, x2 = 0 -----------------------------------------
	    {"plat_token_start_ok", ALL, B3, {S, 0x1000, 48}, OK},
	    {"plat_token_buffer_outside_page", ALL, B3, {D, 0x1000, 48}, BAD_ADDR, 0x1000, nullptr, nullptr, 0},
	    {"plat_token_buffer_end_outside_page", ALL, B3, {S + 0x800, 0x1000, 48}, INVAL, 0x1000, nullptr, nullptr, 0},
	    {"plat_token_zero_size", ALL, B3, {S, 0, 32}, INVAL, 0, nullptr, nullptr, 0},
	    {"plat_token_wrapping_size", ALL, B3, {S + 0xFF0, WRAP, 32}, INVAL, WRAP, nullptr, nullptr, 0},
	    {"plat_token_bad_challenge_size", ALL, B3, {S, 0x1000, 16}, INVAL, 0x1000, nullptr, nullptr, 0},
	    {"plat_token_challenge_larger_than_buffer", ALL, B3, {S + 0xFF0, 0x10, 64}, INVAL, 0x10, nullptr, nullptr, 0},
	    {"plat_token_challenge_fills_buffer", ALL, B3, {S + 0xFC0, 0x40, 64}, OK, 0x40},
	    {"plat_token_continue_without_start", ALL, B3, {S, 0x1000, 0}, INVAL, 0x1000, nullptr, nullptr, 0},
	    {"plat_token_again_injected", ALL, B3, {S, 0x1000, 32}, AGAIN, 0x1000, nullptr,
	     [](MonitorOptions& o) { o.inject_again = 2; }, 0},
	    {"plat_token_bad_addr_before_again", ALL, B3, {D, 0x1000, 32}, BAD_ADDR, 0x1000, nullptr,
	     [](MonitorOptions& o) { o.inject_again = 2; }, 0},
	    {"plat_token_end_outside_page_before_again", ALL, B3, {S + 0x800, 0x1000, 32}, INVAL, 0x1000, nullptr,
	     [](MonitorOptions& o) { o.inject_again = 2; }, 0},
	    {"plat_token_bad_challenge_size_before_again", ALL, B3, {S, 0x1000, 16}, INVAL, 0x1000, nullptr,
	     [](MonitorOptions& o) { o.inject_again = 2; }, 0},
	    {"plat_token_challenge_larger_than_buffer_before_again", ALL, B3, {S + 0xFF0, 0x10, 64}, INVAL, 0x10, nullptr,
	     [](MonitorOptions& o) { o.inject_again = 2; }, 0},
	    // --- RMM_EL3_FEATURES ---------------------------------------------------------------------------------------
	    {"features_reg0_token_sign", ALL, B4, {0}, OK, 1},
	    {"features_reg0_without_token_sign", ALL, B4, {0}, OK, 0, nullptr, [](MonitorOptions& o) { o.token_sign = false; }},
	    {"features_bad_index", ALL, B4, {1, 0x77}, INVAL, 0x77},
	    // --- RMM_EL3_TOKEN_SIGN ---------------------------------------------------------------------------------------
	    {"token_sign_bad_op_seed", SEED, B5, {4, S, 0x1000}, INVAL},
	    {"token_sign_bad_op_tfa", UPSTREAM, B5, {4, S, 0x1000}, UNK},
	    {"token_sign_op_0_seed", SEED, B5, {0, S, 0x1000}, INVAL},
	    {"token_sign_op_0_tfa", UPSTREAM, B5, {0, S, 0x1000}, UNK},
	    {"token_sign_bad_op_before_bad_addr_seed", SEED, B5, {4, D, 0}, INVAL},
	    {"token_sign_bad_op_before_bad_addr_tfa", UPSTREAM, B5, {4, D, 0}, UNK},
	    {"token_sign_absent", ALL, B5, {3, S, 0x1000, 0}, UNK, {}, nullptr, [](MonitorOptions& o) { o.token_sign = false; }},
	    {"token_sign_push_bad_addr", ALL, B5, {1, D, 0x60}, BAD_ADDR},
	    {"token_sign_push_end_outside_page", ALL, B5, {1, S + 0xFC0, 0x60}, INVAL},
	    {"token_sign_push_zero_size", ALL, B5, {1, S, 0}, INVAL},
	    {"token_sign_push_wrapping_size", ALL, B5, {1, S + 0xFF0, WRAP}, INVAL},
	    {"token_sign_push_too_small", ALL, B5, {1, S, 0x5F}, INVAL, {}, [](Env& e) { e.put(S, sign_request()); }},
	    {"token_sign_push_bad_sig_alg", ALL, B5, {1, S, 0x60}, INVAL, {}, [](Env& e) { e.put(S, sign_request(1, 1)); }},
	    {"token_sign_push_bad_hash_alg", ALL, B5, {1, S, 0x60}, INVAL, {}, [](Env& e) { e.put(S, sign_request(0, 2)); }},
	    {"token_sign_push_ok", ALL, B5, {1, S, 0x60}, OK, {}, [](Env& e) { e.put(S, sign_request()); }},
	    {"token_sign_push_queue_full", ALL, B5, {1, S, 0x60}, AGAIN, {},
	     [](Env& e) {
		     e.put(S, sign_request());
		     e.call(B5, {1, S, 0x60});
	     },
	     [](MonitorOptions& o) { o.sign_queue_depth = 1; }},
	    {"token_sign_pull_bad_addr", ALL, B5, {2, D, 0x218}, BAD_ADDR},
	    {"token_sign_pull_end_outside_page", ALL, B5, {2, S + 0xE00, 0x218}, INVAL},
	    {"token_sign_pull_zero_size", ALL, B5, {2, S, 0}, INVAL},
	    {"token_sign_pull_wrapping_size", ALL, B5, {2, S + 0xFF0, WRAP}, INVAL},
	    {"token_sign_pull_too_small", ALL, B5, {2, S, 0x217}, INVAL},
	    {"token_sign_pull_nothing_ready", ALL, B5, {2, S, 0x218}, AGAIN},
	    {"token_sign_pull_not_signed_yet", ALL, B5, {2, S, 0x218}, AGAIN, {},
	     [](Env& e) {
		     e.put(S, sign_request());
		     e.call(B5, {1, S, 0x60});
	     },
	     [](MonitorOptions& o) { o.sign_delay = std::chrono::milliseconds(60000); }},
	    {"token_sign_rak_pub_ok", ALL, B5, {3, S, 0x1000, 0}, OK, 97},
	    {"token_sign_rak_pub_bad_curve", ALL, B5, {3, S, 0x1000, 2}, INVAL},
	    {"token_sign_rak_pub_too_small", ALL, B5, {3, S, 96, 0}, UNK},
	    {"token_sign_rak_pub_bad_addr", ALL, B5, {3, S + 0x1000, 0x100, 0}, BAD_ADDR},
	    {"token_sign_rak_pub_end_outside_page", ALL, B5, {3, S + 0xFA0, 0x100, 0}, INVAL},
	    {"token_sign_rak_pub_zero_size", ALL, B5, {3, S, 0, 0}, INVAL},
	    {"token_sign_rak_pub_wrapping_size", ALL, B5, {3, S + 0xFF0, WRAP, 0}, INVAL},
	    {"token_sign_rak_pub_fits_at_page_end", ALL, B5, {3, S + 0x1000 - 97, 97, 0}, OK, 97},
	    // --- RMM_MECID_KEY_UPDATE (seed) / RMM_MEC_REFRESH (tfa) -------------------------------------------------------
	    {"mecid_key_update_ok", SEED, B6, {5}, OK},
	    {"mecid_key_update_reserved_bits", SEED, B6, {uint64_t{1} << 16}, INVAL},
	    {"mecid_key_update_too_wide", SEED, B6, {256}, INVAL, {}, nullptr, [](MonitorOptions& o) { o.mecid_width = 8; }},
	    {"mecid_key_update_no_mec", SEED, B6, {5}, UNK, {}, nullptr, [](MonitorOptions& o) { o.mec = false; }},
	    {"mecid_key_update_no_mec_before_reserved_bits", SEED, B6, {uint64_t{1} << 16}, UNK, {}, nullptr,
	     [](MonitorOptions& o) { o.mec = false; }},
	    {"mec_refresh_ok", UPSTREAM, B6, {(uint64_t{5} << 32) | 1}, OK},
	    {"mec_refresh_reserved_low_bits", UPSTREAM, B6, {(uint64_t{5} << 32) | 2}, INVAL},
	    {"mec_refresh_reserved_high_bits", UPSTREAM, B6, {uint64_t{1} << 48}, INVAL},
	    {"mec_refresh_too_wide", UPSTREAM, B6, {uint64_t{256} << 32}, INVAL, {}, nullptr,
	     [](MonitorOptions& o) { o.mecid_width = 8; }},
	    {"mec_refresh_no_mec", UPSTREAM, B6, {uint64_t{5} << 32}, UNK, {}, nullptr, [](MonitorOptions& o) { o.mec = false; }},
	    {"mec_refresh_no_mec_before_reserved_bits", UPSTREAM, B6, {uint64_t{1} << 48}, UNK, {}, nullptr,
	     [](MonitorOptions& o) { o.mec = false; }},
	    {"mec_refresh_seed_encoding_rejected", UPSTREAM, B6, {5}, INVAL},
	    // --- RMM_ALLOCATE_MEMORY (seed only): x1 echoes x2 on failure ---------------------------------------------------
	    {"allocate_fresh", SEED, B7, {0x1000, EL3_ALLOC_X2(12, 1)}, 1, 0xFFBFE000},
	    {"allocate_existing", SEED, B7, {0x1000, EL3_ALLOC_X2(12, 1)}, OK, 0xFFBFE000,
	     [](Env& e) { e.call(B7, {0x1000, EL3_ALLOC_X2(12, 1)}); }},
	    {"allocate_bad_id", SEED, B7, {0x1000, EL3_ALLOC_X2(12, 4)}, INVAL, EL3_ALLOC_X2(12, 4)},
	    {"allocate_alignment_64", SEED, B7, {0x1000, EL3_ALLOC_X2(64, 0)}, INVAL},
	    {"allocate_reserved_bits_ignored", SEED, B7, {0x1000, (uint64_t{1} << 40) | EL3_ALLOC_X2(12, 1)}, 1, 0xFFBFE000},
	    {"allocate_upstream_encoding_ignored", SEED, B7, {0x1000, (uint64_t{12} << 56) | 1}, 1, 0xFFBFE000},
	    {"allocate_bad_id_despite_reserved_bits", SEED, B7, {0x1000, (uint64_t{1} << 40) | 4}, INVAL},
	    {"allocate_strict_after_boot", SEED, B7, {0x1000, 0}, UNK, {}, [](Env& e) { e.call(CF, {0}); },
	     [](MonitorOptions& o) { o.strict_boot = true; }},
	    {"allocate_larger_than_recorded", SEED, B7, {0x2000, 1}, NOMEM, 1, [](Env& e) { e.call(B7, {0x1000, 1}); }},
	    {"allocate_too_large", SEED, B7, {0x1800000, 0}, NOMEM},
	    {"allocate_wraps_in_seed", SEED, B7, {UINT64_MAX - 0xFFF, 0}, NOMEM, 0},
	    {"allocate_log_full", SEED, B7, {0x1000, EL3_ALLOC_X2(12, 2)}, NOMEM, EL3_ALLOC_X2(12, 2),
	     [](Env& e) { e.call(B7, {0x1000, 0}); }, nullptr, std::nullopt, 1},
	    {"allocate_absent_in_tfa", UPSTREAM, B7, {0x1000, 0}, UNK},
	    // --- RMM_RESERVE_MEMORY (tfa only): x1 echoes x2 on failure ---------------------------------------------------
	    {"reserve_ok", UPSTREAM, BB, {0x1000, (uint64_t{12} << 56) | 1}, OK, 0xFFBFE000},
	    {"reserve_alignment_64", UPSTREAM, BB, {0x1000, uint64_t{64} << 56}, INVAL, uint64_t{64} << 56},
	    {"reserve_unknown_flag", UPSTREAM, BB, {0x1000, 2}, INVAL, 2},
	    {"reserve_reserved_bit_32", UPSTREAM, BB, {0x1000, uint64_t{1} << 32}, INVAL},
	    {"reserve_reserved_bit_55", UPSTREAM, BB, {0x1000, uint64_t{1} << 55}, INVAL},
	    {"reserve_strict_after_boot", UPSTREAM, BB, {0x1000, 0}, UNK, {}, [](Env& e) { e.call(CF, {0}); },
	     [](MonitorOptions& o) { o.strict_boot = true; }},
	    {"reserve_too_large", UPSTREAM, BB, {0x1800000, 0}, NOMEM},
	    {"reserve_wraps_in_tfa", UPSTREAM, BB, {UINT64_MAX - 0xFFF, 0}, NOMEM},
	    {"reserve_log_full", UPSTREAM, BB, {0x1000, uint64_t{12} << 56}, NOMEM, uint64_t{12} << 56,
	     [](Env& e) { e.call(BB, {0x1000, 0}); }, nullptr, std::nullopt, 1},
	    {"reserve_absent_in_seed", SEED, BB, {0x1000, 0}, UNK},
	    // --- RMM_BOOT_COMPLETE -------------------------------------------------------------------------------------
	    {"boot_complete_ok", ALL, CF, {0, 0x1234}, OK},
	    // After a failed boot (any non-zero x1, from any CPU) every RMM-EL3 FID is SMC_UNK, and x1 is the caller's.
	    {"failed_boot_delegate", ALL, B0, {D}, UNK, D, failed_boot},
	    {"failed_boot_undelegate", ALL, B1, {D}, UNK, D, failed_boot},
	    {"failed_boot_realm_key", ALL, B2, {S, 0x1000, 0}, UNK, S, failed_boot},
	    {"failed_boot_plat_token", ALL, B3, {S, 0x1000, 48}, UNK, S, failed_boot},
	    {"failed_boot_features", ALL, B4, {0}, UNK, 0, failed_boot},
	    {"failed_boot_token_sign", ALL, B5, {3, S, 0x1000, 0}, UNK, 3, failed_boot},
	    {"failed_boot_mecid_key_update", SEED, B6, {5}, UNK, 5, failed_boot},
	    {"failed_boot_mec_refresh", UPSTREAM, B6, {uint64_t{5} << 32}, UNK, uint64_t{5} << 32, failed_boot},
	    {"failed_boot_allocate", SEED, B7, {0x1000, 0}, UNK, 0x1000, failed_boot},
	    {"failed_boot_reserve", UPSTREAM, BB, {0x1000, 0}, UNK, 0x1000, failed_boot},
	    {"failed_boot_boot_complete", ALL, CF, {0}, UNK, 0, failed_boot},
	    {"failed_boot_positive_result", ALL, B4, {0}, UNK, 0, [](Env& e) { e.call(CF, {1}, 3); }},
	    {"failed_boot_no_mem_result", ALL, B0, {D}, UNK, D,
	     [](Env& e) { e.call(CF, {static_cast<uint64_t>(-8)}, 1); }},
	    // --- FIDs no profile serves (FIRME and SMCCC: abi_table_firme_test.cpp) --------------------------------------
	    {"ide_key_prog_absent", ALL, 0xC40001B8, {}, UNK},
	    {"rmi_req_complete_absent", ALL, 0xC400018F, {}, UNK},
	};
	return r;
}

class AbiTable : public ::testing::TestWithParam<Param> {};

TEST_P(AbiTable, Row) { run((*GetParam().rows)[GetParam().row], GetParam().abi); }

INSTANTIATE_TEST_SUITE_P(AllProfiles, AbiTable, ::testing::ValuesIn(params(rows())), param_name);

}  // namespace
