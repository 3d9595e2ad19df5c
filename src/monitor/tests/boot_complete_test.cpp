#include "monitor_fixture.hpp"

using namespace el3d;
using el3d::test::MonitorTest;

using BootComplete = MonitorTest;

TEST_F(BootComplete, RecordedPerCpuAndPersisted)
{
	EXPECT_EQ(x0(smc(EL3_FID_RMM_BOOT_COMPLETE, {0, 0x1234}, 0)), EL3_E_RMM_OK);
	smc(EL3_FID_RMM_ALLOCATE_MEMORY, {0x10, 0}, 3);  // CPU 3 runs but does not complete
	auto s = monitor->status();
	ASSERT_EQ(s.cpus.size(), 2u);
	EXPECT_EQ(s.cpus[0].cpu, 0u);
	EXPECT_EQ(s.cpus[0].state, CpuBootState::Booted);
	EXPECT_EQ(s.cpus[0].completions, 1u);
	EXPECT_EQ(s.cpus[1].cpu, 3u);
	EXPECT_EQ(s.cpus[1].state, CpuBootState::Booting);
	open();
	s = monitor->status();
	ASSERT_GE(s.cpus.size(), 1u);
	EXPECT_EQ(s.cpus[0].state, CpuBootState::Booted);
}

TEST_F(BootComplete, NegativeResultDisablesRealmWorldUntilReset)
{
	EXPECT_EQ(x0(smc(EL3_FID_RMM_BOOT_COMPLETE, {static_cast<uint64_t>(EL3_E_RMM_BOOT_MANIFEST_DATA_ERROR)}, 2)), EL3_E_RMM_OK);
	auto s = monitor->status();
	ASSERT_TRUE(s.boot_failure);
	EXPECT_EQ(s.boot_failure->cpu, 2u);
	EXPECT_EQ(s.boot_failure->code, EL3_E_RMM_BOOT_MANIFEST_DATA_ERROR);
	// Every RMM-EL3 call, from every CPU, now gets SMC_UNK, and nothing is allocated.
	auto r = smc(EL3_FID_RMM_ALLOCATE_MEMORY, {0x10, 0}, 0);
	EXPECT_EQ(r[0], EL3_SMC_UNK);
	EXPECT_EQ(smc(EL3_FID_RMM_BOOT_COMPLETE, {0}, 1)[0], EL3_SMC_UNK);
	EXPECT_TRUE(monitor->status().regions.empty());
	// It survives a restart...
	open();
	EXPECT_EQ(smc(EL3_FID_RMM_ALLOCATE_MEMORY, {0x10, 0})[0], EL3_SMC_UNK);
	// ...and a reset ends it.
	monitor->reset();
	EXPECT_FALSE(monitor->status().boot_failure);
	EXPECT_EQ(x0(smc(EL3_FID_RMM_ALLOCATE_MEMORY, {0x10, 0})), EL3_ALLOC_FRESH);
}

TEST_F(BootComplete, RepeatIsRecordedWithoutError)
{
	smc(EL3_FID_RMM_BOOT_COMPLETE, {0}, 0);
	EXPECT_EQ(x0(smc(EL3_FID_RMM_BOOT_COMPLETE, {0}, 0)), EL3_E_RMM_OK);
	EXPECT_EQ(monitor->status().cpus[0].completions, 2u);
}

// status(s) into a MonitorStatus that held an earlier, larger status gives what status() gives: every field
// replaced, nothing left over (CPUs, regions, counts).
TEST_F(BootComplete, StatusIntoAReusedObjectMatchesAFreshOne)
{
	smc(EL3_FID_RMM_BOOT_COMPLETE, {0, 0x77}, 0);
	smc(EL3_FID_RMM_ALLOCATE_MEMORY, {0x10, 0}, 0);  // after CPU 0's boot: counted
	smc(EL3_FID_RMM_ALLOCATE_MEMORY, {0x10, 0}, 5);
	MonitorStatus reused;
	monitor->status(reused);
	ASSERT_EQ(reused.cpus.size(), 2u);
	ASSERT_EQ(reused.regions.size(), 2u);
	ASSERT_EQ(reused.allocations_after_boot, 1u);
	for (int round = 0; round < 2; ++round) {
		if (round == 0)
			monitor->reset();
		else
			smc(EL3_FID_RMM_ALLOCATE_MEMORY, {0x10, 0}, 2);
		monitor->status(reused);
		const MonitorStatus fresh = monitor->status();
		EXPECT_EQ(reused.cpus.size(), fresh.cpus.size());
		for (std::size_t i = 0; i < std::min(reused.cpus.size(), fresh.cpus.size()); ++i) {
			EXPECT_EQ(reused.cpus[i].cpu, fresh.cpus[i].cpu);
			EXPECT_EQ(reused.cpus[i].state, fresh.cpus[i].state);
		}
		EXPECT_EQ(reused.regions.size(), fresh.regions.size());
		EXPECT_EQ(reused.allocations_after_boot, fresh.allocations_after_boot);
		EXPECT_EQ(reused.top, fresh.top);
		EXPECT_EQ(reused.epoch, fresh.epoch);
		EXPECT_EQ(reused.gpt_granules, fresh.gpt_granules);
		EXPECT_EQ(reused.gpt_ranges.size(), fresh.gpt_ranges.size());
		EXPECT_EQ(reused.realm_key, fresh.realm_key);
		EXPECT_EQ(reused.boot_config_json, fresh.boot_config_json);
		EXPECT_EQ(reused.carveout_uuid, fresh.carveout_uuid);
	}
	EXPECT_EQ(reused.cpus.size(), 1u);
	EXPECT_EQ(reused.allocations_after_boot, 0u);
}
