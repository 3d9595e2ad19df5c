#pragma once
// The table-driven ABI test: FID x failure condition x profile, one row per condition. Each row runs
// on a fresh monitor (new carveout file) after a cold boot entry of CPU 0, so rows cannot influence
// each other. abi_table_test.cpp holds the RMM-EL3 commands, abi_table_firme_test.cpp FIRME and SMCCC.
#include "el3d/monitor/monitor.hpp"
#include "el3d/smc.h"
#include "tempdir.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <functional>
#include <string>

namespace el3d::abi_table {

constexpr uint64_t S = 0xFFBFF000;     // FVP shared page
constexpr uint64_t D = 0x80000000;     // FVP DRAM bank 0
constexpr uint64_t SECURE = D + 0x100000;  // pre-marked Secure by the table's boot configuration (fvp rows)
constexpr uint64_t ROOT = D + 0x200000;    // pre-marked Root by the table's boot configuration (fvp rows)
constexpr uint64_t TZC_SECURE = 0xFC000000;  // FVP: Secure below the carveout, granule-mapped by TF-A's GPT
constexpr uint64_t EL3_ROOT = 0xFFC00000;    // FVP: EL3's TZC DRAM and the L1 GPT, Root, up to 2^32
constexpr uint64_t WRAP = 0xFFFFFFFFFFFFF011;  // with x1 = S + 0xFF0, TF-A's x1 + x2 - 1 wraps back into the page
constexpr uint64_t PA_END = uint64_t{1} << 40;
constexpr uint64_t B0 = EL3_FID_RMM_GTSI_DELEGATE, B1 = EL3_FID_RMM_GTSI_UNDELEGATE, B2 = EL3_FID_RMM_ATTEST_GET_REALM_KEY,
                   B3 = EL3_FID_RMM_ATTEST_GET_PLAT_TOKEN, B4 = EL3_FID_RMM_EL3_FEATURES, B5 = EL3_FID_RMM_EL3_TOKEN_SIGN,
                   B6 = EL3_FID_RMM_MEC_REFRESH, B7 = EL3_FID_RMM_ALLOCATE_MEMORY, BB = EL3_FID_RMM_RESERVE_MEMORY,
                   CF = EL3_FID_RMM_BOOT_COMPLETE;
constexpr int64_t OK = EL3_E_RMM_OK, UNK = EL3_E_RMM_UNK, BAD_ADDR = EL3_E_RMM_BAD_ADDR, BAD_PAS = EL3_E_RMM_BAD_PAS,
                  NOMEM = EL3_E_RMM_NOMEM, INVAL = EL3_E_RMM_INVAL, AGAIN = EL3_E_RMM_AGAIN;

enum Profiles { SEED = 1, TFA = 2, V1 = 4, ALL = 7, UPSTREAM = 6 };

struct Env {
	Monitor& m;
	SmcResult call(uint64_t fid, SmcArgs x, uint32_t cpu = 0)
	{
		SmcResult r{};
		EXPECT_TRUE(m.call(cpu, fid, x, r));
		return r;
	}
	void put(uint64_t pa, const std::vector<uint8_t>& bytes) { ASSERT_TRUE(m.write_memory(pa, bytes.data(), bytes.size())); }
};

// CPU 3 reports a failed boot: the Realm world is disabled on every CPU.
inline void failed_boot(Env& e) { e.call(CF, {static_cast<uint64_t>(EL3_E_RMM_BOOT_MANIFEST_DATA_ERROR)}, 3); }

struct Row {
	std::string name;
	int profiles;
	uint64_t fid;
	SmcArgs x;
	int64_t x0;
	std::optional<uint64_t> x1 = std::nullopt;       // checked when set
	std::function<void(Env&)> setup = nullptr;       // runs after the cold boot, before the call
	std::function<void(MonitorOptions&)> opts = nullptr;
	std::optional<uint64_t> x2 = std::nullopt;
	uint64_t log_capacity = 0;                       // allocation-log records of the file; 0 = default
	const char* platform = "fvp";                    // fvp rows get the SECURE and ROOT pre-marks
};

struct Param {
	const std::vector<Row>* rows;
	std::size_t row;
	Abi abi;
};

inline std::vector<Param> params(const std::vector<Row>& rows)
{
	std::vector<Param> out;
	for (std::size_t i = 0; i < rows.size(); ++i)
		for (Abi a : {Abi::Seed, Abi::Tfa, Abi::TfaV1Compat})
			if (rows[i].profiles & (a == Abi::Seed ? SEED : a == Abi::Tfa ? TFA : V1))
				out.push_back({&rows, i, a});
	return out;
}

inline std::string param_name(const ::testing::TestParamInfo<Param>& p)
{
	return (*p.param.rows)[p.param.row].name + "_" +
	       (p.param.abi == Abi::Seed ? "seed" : p.param.abi == Abi::Tfa ? "tfa" : "tfa_v1_compat");
}

inline void run(const Row& row, Abi abi)
{
	test::TempDir dir;
	MonitorOptions o;
	o.abi = abi;
	o.sign_delay = std::chrono::milliseconds(0);
	manifest::BootConfig cfg = manifest::default_boot_config(row.platform);
	if (std::string(row.platform) == "fvp") {
		cfg.gpt.push_back({SECURE, 0x10000, "secure"});
		cfg.gpt.push_back({ROOT, 0x1000, "root"});
	}
	o.boot_config = cfg;
	if (row.opts)
		row.opts(o);
	CarveoutOpenRequest req;
	req.path = dir.file("c.img");
	req.platform = row.platform;
	req.log_capacity = row.log_capacity;
	req.durability = Durability::Process;  // each row checks answers, not flushes: no msync (docs/fuzzing.md)
	Monitor m(Carveout::open(req), o);
	m.enter(0, EntryKind::Cold);
	Env env{m};
	if (row.setup)
		row.setup(env);
	SmcResult r = env.call(row.fid, row.x);
	EXPECT_EQ(static_cast<int64_t>(r[0]), row.x0);
	if (row.x1) {
		EXPECT_EQ(r[1], *row.x1);
	}
	if (row.x2) {
		EXPECT_EQ(r[2], *row.x2);
	}
}

}  // namespace el3d::abi_table
