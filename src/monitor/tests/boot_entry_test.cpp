// Boot entries: cold and warm registers per profile, activations, tokens, the manifest in the
// shared page, and refusals.
#include "el3d/manifest/manifest.hpp"
#include "monitor_fixture.hpp"

#include <cstring>

using namespace el3d;
using el3d::test::MonitorTest;

class BootEntry : public MonitorTest {
protected:
	void open_abi(Abi abi, std::optional<manifest::BootConfig> cfg = std::nullopt)
	{
		MonitorOptions o;
		o.abi = abi;
		o.boot_config = std::move(cfg);
		open(o, {}, true);
	}
	std::vector<uint8_t> shared_page()
	{
		std::vector<uint8_t> p;
		EXPECT_TRUE(monitor->read_memory(geom().shared_base(), geom().shared_size, p));
		return p;
	}
};

TEST_F(BootEntry, SeedColdBootRegistersAndManifest)
{
	auto e = monitor->enter(0, EntryKind::Auto);
	EXPECT_EQ(e.kind, EntryKind::Cold);
	EXPECT_EQ(e.regs[0], 0u);
	EXPECT_EQ(e.regs[1], 0x00000006u);  // interface 0.6
	EXPECT_EQ(e.regs[2], 8u);           // FVP: 8 CPUs
	EXPECT_EQ(e.regs[3], 0xFFBFF000u);  // the shared page
	EXPECT_EQ(e.regs[4], 0u);           // no activation tokens before interface 0.7
	EXPECT_GT(e.manifest_size, 168u);
	auto page = shared_page();
	auto v = manifest::validate_manifest(page, geom().shared_base(), geom().pa_bits);
	EXPECT_TRUE(v.ok()) << v.describe();
	auto spec = manifest::decode_manifest(page, geom().shared_base());
	ASSERT_EQ(spec.dram.size(), 2u);
	EXPECT_EQ(spec.dram[0].base, 0x80000000u);
}

TEST_F(BootEntry, TfaRegistersCarryActivationTokens)
{
	open_abi(Abi::Tfa);
	auto cold = monitor->enter(0, EntryKind::Auto);
	EXPECT_EQ(cold.regs[1], 0x00020000u);  // 2.0
	EXPECT_EQ(cold.regs[4], 0u);           // first boot
	auto warm = monitor->enter(1, EntryKind::Auto);
	EXPECT_EQ(warm.kind, EntryKind::Warm);
	EXPECT_EQ(warm.regs[0], 1u);
	EXPECT_EQ(warm.regs[1], 0u);
	EXPECT_EQ(warm.regs[2], 0u);
	EXPECT_EQ(warm.regs[3], 0u);
	EXPECT_EQ(smc(EL3_FID_RMM_BOOT_COMPLETE, {0, 0xAAAA0000}, 0)[0], 0u);
	EXPECT_EQ(smc(EL3_FID_RMM_BOOT_COMPLETE, {0, 0xBBBB1000}, 1)[0], 0u);
	// The RMM is restarted (live activation): tokens come back, in x4 cold and x1 warm, even
	// after el3d itself restarted.
	MonitorOptions o;
	o.abi = Abi::Tfa;
	open(o);
	auto cold2 = monitor->enter(0, EntryKind::Auto);
	EXPECT_EQ(cold2.kind, EntryKind::Cold);
	EXPECT_EQ(cold2.regs[4], 0xAAAA0000u);
	EXPECT_EQ(cold2.activation, cold.activation + 1);
	auto warm2 = monitor->enter(1, EntryKind::Auto);
	EXPECT_EQ(warm2.regs[1], 0xBBBB1000u);
	auto s = monitor->status();
	EXPECT_EQ(s.activation, cold2.activation);
	EXPECT_EQ(s.cpus[0].state, CpuBootState::Booting);  // boot state restarted with the activation
}

TEST_F(BootEntry, V1CompatReportsInterface08)
{
	open_abi(Abi::TfaV1Compat);
	EXPECT_EQ(monitor->enter(0, EntryKind::Cold).regs[1], 0x00000008u);
}

TEST_F(BootEntry, AutoPicksColdForARestartedCpu)
{
	auto a = monitor->enter(0, EntryKind::Auto);
	EXPECT_EQ(monitor->enter(3, EntryKind::Auto).kind, EntryKind::Warm);
	auto b = monitor->enter(0, EntryKind::Auto);  // CPU 0 again: a new RMM instance
	EXPECT_EQ(b.kind, EntryKind::Cold);
	EXPECT_EQ(b.activation, a.activation + 1);
	EXPECT_EQ(monitor->enter(3, EntryKind::Auto).kind, EntryKind::Warm);
	EXPECT_EQ(monitor->enter(5, EntryKind::Cold).activation, b.activation + 1);
}

TEST_F(BootEntry, Refusals)
{
	EXPECT_THROW(monitor->enter(1, EntryKind::Warm), EntryRefused);  // nothing cold-booted yet
	EXPECT_THROW(monitor->enter(8, EntryKind::Cold), EntryRefused);  // no such CPU
	monitor->enter(0, EntryKind::Cold);
	smc(EL3_FID_RMM_BOOT_COMPLETE, {static_cast<uint64_t>(EL3_E_RMM_BOOT_CPUS_OUT_OF_RANGE)}, 0);
	try {
		monitor->enter(0, EntryKind::Cold);
		FAIL() << "entry after a failed boot succeeded";
	} catch (const EntryRefused& e) {
		EXPECT_NE(std::string(e.what()).find("E_RMM_BOOT_CPUS_OUT_OF_RANGE"), std::string::npos) << e.what();
	}
	monitor->reset();
	EXPECT_NO_THROW(monitor->enter(0, EntryKind::Cold));
}

TEST_F(BootEntry, ConfigFaultsReachTheRegistersAndTheManifest)
{
	auto cfg = manifest::default_boot_config("fvp");
	cfg.faults = {*manifest::parse_fault("dram-unsorted")};
	cfg.boot.x2_core_count = 4097;
	cfg.boot.x3_offset = 8;
	auto e = monitor->enter(0, EntryKind::Cold, &cfg);
	EXPECT_EQ(e.regs[2], 4097u);
	EXPECT_EQ(e.regs[3], 0xFFBFF008u);
	auto v = manifest::validate_manifest(shared_page(), geom().shared_base(), geom().pa_bits);
	EXPECT_TRUE(v.has("dram-unsorted")) << v.describe();
	auto args = manifest::validate_boot_args(e.regs[0], e.regs[1], e.regs[2], e.regs[3],
	                                         interface_version(Abi::Seed));
	EXPECT_TRUE(args.has("cpu-count"));
	EXPECT_TRUE(args.has("shared-buffer-misaligned"));
	// The daemon's own configuration is unchanged for the next entry.
	auto next = monitor->enter(0, EntryKind::Cold);
	EXPECT_EQ(next.regs[2], 8u);
	EXPECT_TRUE(manifest::validate_manifest(shared_page(), geom().shared_base(), geom().pa_bits).ok());
}

TEST_F(BootEntry, DelegationsSurviveRestartAndResetClearsThem)
{
	monitor->enter(0, EntryKind::Cold);
	EXPECT_EQ(smc(EL3_FID_RMM_GTSI_DELEGATE, {0x80005000})[0], 0u);
	open();
	EXPECT_EQ(static_cast<int64_t>(smc(EL3_FID_RMM_GTSI_DELEGATE, {0x80005000})[0]), EL3_E_RMM_BAD_PAS);
	EXPECT_EQ(monitor->status().gpt_granules[static_cast<unsigned>(Gpi::Realm)], 0x2000000u / 0x1000 + 1);
	monitor->reset();
	EXPECT_EQ(smc(EL3_FID_RMM_GTSI_DELEGATE, {0x80005000})[0], 0u);
}

TEST_F(BootEntry, SessionsClaimCpusAndTheirEndEndsTheActivation)
{
	monitor->attach(0);
	monitor->attach(1);
	EXPECT_THROW(monitor->attach(1), SessionConflict);
	EXPECT_THROW(monitor->attach(99), EntryRefused);
	auto cold = monitor->enter(0, EntryKind::Auto);
	EXPECT_EQ(monitor->enter(1, EntryKind::Auto).kind, EntryKind::Warm);
	monitor->detach(1);
	EXPECT_EQ(monitor->enter(2, EntryKind::Auto).kind, EntryKind::Warm);  // CPU 0's session still open
	monitor->detach(0);                                                    // the last one: the RMM is gone
	monitor->attach(1);
	auto next = monitor->enter(1, EntryKind::Auto);
	EXPECT_EQ(next.kind, EntryKind::Cold);
	EXPECT_EQ(next.activation, cold.activation + 1);
	EXPECT_TRUE(monitor->status().cpus[1].session);
}
