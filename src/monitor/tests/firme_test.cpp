// FIRME and SMCCC discovery as TF-RMM performs it, FIRME_GM_GPI_SET and the legacy GTSI commands on
// one GPT, and delegations of FVP's PCIe memory windows across restarts and resets.
#include "el3d/gpt/gpt.hpp"
#include "monitor_fixture.hpp"

#include <map>

using namespace el3d;
using el3d::test::MonitorTest;

namespace {

constexpr uint64_t D = 0x80000000;  // FVP DRAM bank 0
constexpr uint64_t PCI1 = 0x50000000, PCI2 = 0x4000000000;
constexpr uint64_t REALM = 0xB, NS = 0x9;

struct Service {
	uint64_t abis = 0;  // feature register 0, masked as TF-RMM masks it
	uint64_t fr1 = 0;
};

class Firme : public MonitorTest {
protected:
	void open_tfa(Abi abi = Abi::Tfa, const char* platform = "fvp", bool mec = true)
	{
		MonitorOptions o;
		o.abi = abi;
		o.mec = mec;
		open(o, {}, true, std::string(platform));
	}

	// lib/rmm_el3_ifc/src/firme.c: firme_init() and firme_feature_discovery(), step by step. nullopt
	// if EL3 has no FIRME; otherwise the services found, by id.
	std::optional<std::map<unsigned, Service>> discover()
	{
		constexpr uint64_t kMask[] = {0, 0x3, 0x7, 0x1};
		auto major = [](uint64_t v) { return (v >> 16) & 0x3FFF; };
		const SmcResult base = smc(EL3_FID_FIRME_BASE_VERSION, {0});
		if (base[0] == EL3_SMC_UNK || major(base[0]) != 1)
			return std::nullopt;
		std::map<unsigned, Service> found;
		for (unsigned id = 1; id <= 3; ++id) {
			const SmcResult fr1 = smc(EL3_FID_FIRME_BASE_FEATURES, {0, 1});
			if (fr1[0] != 0 || (fr1[1] & (uint64_t{1} << (16 + id - 1))) == 0)
				continue;
			const SmcResult v = smc(EL3_FID_FIRME_BASE_VERSION, {id});
			if (static_cast<int64_t>(v[0]) == EL3_FIRME_NOT_SUPPORTED || major(v[0]) != 1)
				continue;
			const SmcResult r0 = smc(EL3_FID_FIRME_BASE_FEATURES, {id, 0});
			if (r0[0] != 0)
				continue;
			Service s{r0[1] & kMask[id], 0};
			const SmcResult r1 = smc(EL3_FID_FIRME_BASE_FEATURES, {id, 1});
			if (r1[0] == 0)
				s.fr1 = r1[1];
			else if (id == 3)
				continue;  // MECID needs its register 1
			found[id] = s;
		}
		return found;
	}

	uint64_t realm_granules() { return monitor->status().gpt_granules[static_cast<unsigned>(Gpi::Realm)]; }
	int64_t gpi_set(uint64_t pa, uint64_t gpi) { return x0(smc(EL3_FID_FIRME_GM_GPI_SET, {pa, 1, gpi})); }
	int64_t legacy(uint64_t fid, uint64_t pa) { return x0(smc(fid, {pa})); }
};

TEST_F(Firme, TfRmmDiscoveryFindsGmIdeAndMecidOnFvp)
{
	for (Abi abi : {Abi::Tfa, Abi::TfaV1Compat}) {
		open_tfa(abi);
		const auto found = discover();
		ASSERT_TRUE(found) << abi_name(abi);
		ASSERT_EQ(found->size(), 3u) << abi_name(abi);
		EXPECT_EQ(found->at(1).abis, 0x1u);  // GPI_SET
		EXPECT_EQ(found->at(1).fr1, 0x80u);  // 40-bit PPS, 4 KiB PGS, 1 GiB L0: what TFTF expects on FVP
		EXPECT_EQ(found->at(2).abis, 0x7u);  // KEYSET_PROG, _GO, _STOP
		EXPECT_EQ(found->at(3).abis, 0x1u);  // MEC_REFRESH
		EXPECT_EQ((found->at(3).fr1 & 0xF) + 1, 16u);  // the common MECID width, as lib/mec reads it
	}
}

TEST_F(Firme, DiscoveryOnQemuAndWithoutMec)
{
	open_tfa(Abi::Tfa, "qemu");
	auto found = discover();
	ASSERT_TRUE(found);
	EXPECT_EQ(found->count(1), 1u);
	EXPECT_EQ(found->count(2), 0u);  // TF-A builds no IDE-KM service for QEMU
	EXPECT_EQ(found->count(3), 1u);
	open_tfa(Abi::Tfa, "fvp", /*mec=*/false);
	found = discover();
	ASSERT_TRUE(found);
	EXPECT_EQ(found->count(3), 0u);
	EXPECT_EQ(found->count(1) + found->count(2), 2u);
}

TEST_F(Firme, SeedHasNoFirmeAndNoFeatureAvailability)
{
	open({}, {}, true);
	EXPECT_FALSE(discover());
	EXPECT_EQ(smc(EL3_FID_SMCCC_ARCH_FEATURES, {EL3_FID_SMCCC_ARCH_FEATURE_AVAILABILITY})[0], EL3_SMC_UNK);
}

TEST_F(Firme, ArchFeaturesSequenceOfTfRmm)
{
	// lib/arch/src/arch_features.c: ARCH_FEATURES(FEATURE_AVAILABILITY) == 0, then the four registers.
	open_tfa();
	ASSERT_EQ(x0(smc(EL3_FID_SMCCC_ARCH_FEATURES, {EL3_FID_SMCCC_ARCH_FEATURE_AVAILABILITY})), 0);
	for (uint64_t reg : {EL3_SYSREG_SCR_EL3, EL3_SYSREG_CPTR_EL3, EL3_SYSREG_MDCR_EL3, EL3_SYSREG_MPAM3_EL3}) {
		const SmcResult r = smc(EL3_FID_SMCCC_ARCH_FEATURE_AVAILABILITY, {reg});
		EXPECT_EQ(r[0], 0u) << std::hex << reg;
		EXPECT_NE(r[1], 0u) << std::hex << reg;
	}
	// TF-RMM keeps FEAT_MEC in its ID registers only if SCR_EL3 bit 49 says EL3 enabled it.
	EXPECT_NE(smc(EL3_FID_SMCCC_ARCH_FEATURE_AVAILABILITY, {EL3_SYSREG_SCR_EL3})[1] & (uint64_t{1} << 49), 0u);
	open_tfa(Abi::Tfa, "fvp", /*mec=*/false);
	EXPECT_EQ(smc(EL3_FID_SMCCC_ARCH_FEATURE_AVAILABILITY, {EL3_SYSREG_SCR_EL3})[1] & (uint64_t{1} << 49), 0u);
}

TEST_F(Firme, GpiSetAndTheLegacyCommandsShareOneGpt)
{
	open_tfa();
	const uint64_t realm0 = realm_granules();
	ASSERT_EQ(gpi_set(D, REALM), EL3_FIRME_SUCCESS);
	EXPECT_EQ(realm_granules(), realm0 + 1);
	EXPECT_EQ(legacy(EL3_FID_RMM_GTSI_DELEGATE, D), EL3_E_RMM_BAD_PAS);  // already Realm
	EXPECT_EQ(legacy(EL3_FID_RMM_GTSI_UNDELEGATE, D), EL3_E_RMM_OK);
	EXPECT_EQ(realm_granules(), realm0);
	EXPECT_EQ(gpi_set(D, NS), EL3_FIRME_DENIED);  // already Non-secure
	EXPECT_EQ(legacy(EL3_FID_RMM_GTSI_DELEGATE, D + 0x1000), EL3_E_RMM_OK);
	EXPECT_EQ(gpi_set(D + 0x1000, REALM), EL3_FIRME_DENIED);
	const SmcResult r = smc(EL3_FID_FIRME_GM_GPI_SET, {D + 0x1000, 1, NS});
	EXPECT_EQ(x0(r), EL3_FIRME_SUCCESS);
	EXPECT_EQ(r[1], 1u);  // granules transitioned
	EXPECT_EQ(realm_granules(), realm0);
	// Durable like the legacy command: a new monitor on the same file sees the delegation.
	ASSERT_EQ(gpi_set(D + 0x2000, REALM), EL3_FIRME_SUCCESS);
	MonitorOptions o;
	o.abi = Abi::Tfa;
	open(o);
	EXPECT_EQ(legacy(EL3_FID_RMM_GTSI_UNDELEGATE, D + 0x2000), EL3_E_RMM_OK);
}

TEST_F(Firme, PciWindowDelegationsSurviveARestartAndOtherStateCommits)
{
	open_tfa();
	const uint64_t realm0 = realm_granules();
	ASSERT_EQ(gpi_set(PCI1, REALM), EL3_FIRME_SUCCESS);
	ASSERT_EQ(legacy(EL3_FID_RMM_GTSI_DELEGATE, PCI2 + 0x7000), EL3_E_RMM_OK);
	// The monitor commits its own state document after them: it must carry the GPT's.
	ASSERT_EQ(x0(smc(EL3_FID_RMM_BOOT_COMPLETE, {0, 7})), EL3_E_RMM_OK);
	ASSERT_EQ(x0(smc(EL3_FID_FIRME_MEC_REFRESH, {uint64_t{3} << 32})), EL3_FIRME_SUCCESS);
	EXPECT_EQ(realm_granules(), realm0 + 2);
	MonitorOptions o;
	o.abi = Abi::Tfa;
	open(o);
	EXPECT_EQ(realm_granules(), realm0 + 2);
	EXPECT_EQ(monitor->status().mec_refreshes, 1u);
	EXPECT_EQ(legacy(EL3_FID_RMM_GTSI_DELEGATE, PCI1), EL3_E_RMM_BAD_PAS);  // still Realm
	EXPECT_EQ(legacy(EL3_FID_RMM_GTSI_UNDELEGATE, PCI1), EL3_E_RMM_OK);
	EXPECT_EQ(gpi_set(PCI2 + 0x7000, NS), EL3_FIRME_SUCCESS);
	EXPECT_EQ(realm_granules(), realm0);
	open(o);
	EXPECT_EQ(legacy(EL3_FID_RMM_GTSI_UNDELEGATE, PCI1), EL3_E_RMM_BAD_PAS);  // the undelegation is durable too
}

TEST_F(Firme, ResetReturnsPciWindowGranulesToNonSecure)
{
	open_tfa();
	ASSERT_EQ(gpi_set(PCI1 + 0x3000, REALM), EL3_FIRME_SUCCESS);
	monitor->reset();
	EXPECT_EQ(gpi_set(PCI1 + 0x3000, NS), EL3_FIRME_DENIED);
	MonitorOptions o;
	o.abi = Abi::Tfa;
	open(o);
	EXPECT_EQ(gpi_set(PCI1 + 0x3000, NS), EL3_FIRME_DENIED);
	EXPECT_EQ(gpi_set(PCI1 + 0x3000, REALM), EL3_FIRME_SUCCESS);
}

TEST_F(Firme, StatusListsTheDeviceWindowsAndTheAnyGranules)
{
	open_tfa();
	const MonitorStatus s = monitor->status();
	auto has = [&](uint64_t base, uint64_t size, Gpi g) {
		for (const auto& r : s.gpt_ranges)
			if (r.base == base && r.size == size && r.initial == g)
				return true;
		return false;
	};
	EXPECT_TRUE(has(PCI1, 0x10000000, Gpi::NonSecure));
	EXPECT_TRUE(has(PCI2, 0xC0000000, Gpi::NonSecure));
	EXPECT_TRUE(has(0x40000000, 0x10000000, Gpi::Any));
	EXPECT_EQ(s.gpt_granules[static_cast<unsigned>(Gpi::Any)], (0x10000000u + 0x20000000u) / 0x1000);
	for (std::size_t i = 1; i < s.gpt_ranges.size(); ++i)
		EXPECT_LE(s.gpt_ranges[i - 1].end(), s.gpt_ranges[i].base);
}

}  // namespace
