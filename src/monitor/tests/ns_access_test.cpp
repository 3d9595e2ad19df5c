// Monitor::ns_access_fault: the granule protection check of the Non-secure world's memory accesses.
#include "monitor_fixture.hpp"

using namespace el3d;
using el3d::test::MonitorTest;

using NsAccess = MonitorTest;

TEST_F(NsAccess, OnlyNonSecureGranulesAreAccessible)
{
	const uint64_t dram = 0x80000000;
	EXPECT_FALSE(monitor->ns_access_fault(dram, 0x3000));
	EXPECT_FALSE(monitor->ns_access_fault(dram, 0));
	ASSERT_EQ(x0(smc(EL3_FID_RMM_GTSI_DELEGATE, {dram + 0x2000})), EL3_E_RMM_OK);
	// A range reaching into the delegated granule faults on it, by its first byte.
	auto f = monitor->ns_access_fault(dram + 0x1ff8, 16);
	ASSERT_TRUE(f);
	EXPECT_EQ(f->first, dram + 0x2000);
	EXPECT_EQ(f->second, Gpi::Realm);
	EXPECT_FALSE(monitor->ns_access_fault(dram, 0x2000));
	// The carveout is Realm from the start.
	f = monitor->ns_access_fault(geom().rmm_base, 8);
	ASSERT_TRUE(f);
	EXPECT_EQ(f->second, Gpi::Realm);
	ASSERT_EQ(x0(smc(EL3_FID_RMM_GTSI_UNDELEGATE, {dram + 0x2000})), EL3_E_RMM_OK);
	EXPECT_FALSE(monitor->ns_access_fault(dram, 0x3000));
}

TEST_F(NsAccess, TheWorldSwitchQueries)
{
	EXPECT_FALSE(monitor->realm_world_disabled());
	EXPECT_EQ(monitor->cpu_state(0), CpuBootState::Off);
	EXPECT_EQ(monitor->cpu_state(9999), CpuBootState::Off);
	smc(EL3_FID_RMM_BOOT_COMPLETE, {0}, 0);
	EXPECT_EQ(monitor->cpu_state(0), CpuBootState::Booted);
	smc(EL3_FID_RMM_BOOT_COMPLETE, {static_cast<uint64_t>(EL3_E_RMM_BOOT_ERR_UNKNOWN)}, 1);
	EXPECT_TRUE(monitor->realm_world_disabled());
	EXPECT_EQ(monitor->cpu_state(1), CpuBootState::Failed);
}
