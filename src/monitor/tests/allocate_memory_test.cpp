// RMM_ALLOCATE_MEMORY through the monitor's dispatch entry: every rule of the seed ABI and every
// place el3d is deliberately safer than the seed's code.
#include "monitor_fixture.hpp"

#include <cstring>

using namespace el3d;
using el3d::test::MonitorTest;

using AllocateMemory = MonitorTest;

TEST_F(AllocateMemory, FreshRegionReturnsOneAndTheAddress)
{
	auto r = alloc(0x3000, 12, 0);
	EXPECT_EQ(x0(r), EL3_ALLOC_FRESH);
	EXPECT_EQ(r[1], geom().rmm_limit - 0x3000);
	auto r2 = alloc(0x100, 16, 0);
	EXPECT_EQ(x0(r2), EL3_ALLOC_FRESH);
	EXPECT_EQ(r2[1], (geom().rmm_limit - 0x3100) & ~uint64_t{0xffff});
}

TEST_F(AllocateMemory, TaggedRegionComesBackWithOkAndContent)
{
	auto first = alloc(0x2000, 12, 1);
	ASSERT_EQ(x0(first), EL3_ALLOC_FRESH);
	const uint8_t pattern[] = {1, 2, 3, 4};
	ASSERT_TRUE(monitor->write_memory(first[1], pattern, sizeof(pattern)));
	alloc(0x1000, 12, 0);
	auto again = alloc(0x2000, 12, 1);
	EXPECT_EQ(x0(again), EL3_E_RMM_OK);
	EXPECT_EQ(again[1], first[1]);
	std::vector<uint8_t> back;
	ASSERT_TRUE(monitor->read_memory(first[1], 4, back));
	EXPECT_EQ(back, std::vector<uint8_t>(pattern, pattern + 4));
	// Smaller re-requests get the same region.
	EXPECT_EQ(alloc(0x10, 0, 1)[1], first[1]);
}

TEST_F(AllocateMemory, IdZeroIsAlwaysNew)
{
	auto a = alloc(0x1000, 12, 0);
	auto b = alloc(0x1000, 12, 0);
	EXPECT_EQ(x0(a), EL3_ALLOC_FRESH);
	EXPECT_EQ(x0(b), EL3_ALLOC_FRESH);
	EXPECT_EQ(b[1], a[1] - 0x1000);
}

TEST_F(AllocateMemory, IdAtOrAboveSlotCountIsInvalid)
{
	auto r = alloc(0x1000, 12, 4);  // default: 4 slots, ids 0..3
	EXPECT_EQ(x0(r), EL3_E_RMM_INVAL);
	EXPECT_EQ(r[1], EL3_ALLOC_X2(12, 4));  // x1 echoes the caller's x2, as the seed leaves it
	EXPECT_EQ(x0(alloc(0x1000, 12, 0xffff)), EL3_E_RMM_INVAL);
	EXPECT_EQ(x0(alloc(0x1000, 12, 3)), EL3_ALLOC_FRESH);
	EXPECT_EQ(monitor->status().regions.size(), 1u);
}

TEST_F(AllocateMemory, SlotCountIsConfigurable)
{
	open({}, GeometryOverrides{.region_slots = 65536}, /*reset=*/true);
	EXPECT_EQ(x0(alloc(0x10, 0, 0xffff)), EL3_ALLOC_FRESH);
	EXPECT_EQ(x0(alloc(0x10, 0, 0xffff)), EL3_E_RMM_OK);
}

TEST_F(AllocateMemory, LargerReRequestIsNomemAndChangesNothing)
{
	auto a = alloc(0x1000, 12, 2);
	auto before = monitor->status();
	auto r = alloc(0x1001, 12, 2);
	EXPECT_EQ(x0(r), EL3_E_RMM_NOMEM);
	auto after = monitor->status();
	EXPECT_EQ(after.top, before.top);
	EXPECT_EQ(after.regions.size(), before.regions.size());
	EXPECT_EQ(x0(alloc(0x1000, 12, 2)), EL3_E_RMM_OK);
	EXPECT_EQ(alloc(0x1000, 12, 2)[1], a[1]);
}

TEST_F(AllocateMemory, FailsBelowPayloadLimitWithoutChange)
{
	const uint64_t room = geom().rmm_limit - geom().payload_limit;
	EXPECT_EQ(x0(alloc(room + 1, 0, 0)), EL3_E_RMM_NOMEM);
	// The seed computes top - size and wraps for huge sizes; el3d refuses.
	EXPECT_EQ(x0(alloc(UINT64_MAX, 0, 0)), EL3_E_RMM_NOMEM);
	EXPECT_EQ(x0(alloc(geom().rmm_limit + 0x1000, 0, 1)), EL3_E_RMM_NOMEM);
	// Alignment that would push the base below the payload limit.
	EXPECT_EQ(x0(alloc(0x10, 40, 0)), EL3_E_RMM_NOMEM);
	auto s = monitor->status();
	EXPECT_EQ(s.top, geom().rmm_limit);
	EXPECT_TRUE(s.regions.empty());
	auto all = alloc(room, 0, 1);
	EXPECT_EQ(x0(all), EL3_ALLOC_FRESH);
	EXPECT_EQ(all[1], geom().payload_limit);
	EXPECT_EQ(x0(alloc(1, 0, 0)), EL3_E_RMM_NOMEM);
}

TEST_F(AllocateMemory, AlignmentOf64BitsOrMoreIsInvalid)
{
	EXPECT_EQ(x0(alloc(0x10, 64, 0)), EL3_E_RMM_INVAL);
	EXPECT_EQ(x0(alloc(0x10, 255, 1)), EL3_E_RMM_INVAL);
	EXPECT_EQ(x0(alloc(0x10, 63, 0)), EL3_E_RMM_NOMEM);  // representable, just does not fit
	EXPECT_TRUE(monitor->status().regions.empty());
}

TEST_F(AllocateMemory, BitsOutsideTheDefinedFieldsAreIgnoredAsTheSeedDoes)
{
	// An RMM built for the upstream encoding (alignment in x2[63:56], flag bit 0) gets what the
	// seed's code gives it: region id 1, alignment 2^0.
	auto r = smc(EL3_FID_RMM_ALLOCATE_MEMORY, {0x1800, (uint64_t{12} << 56) | 1});
	EXPECT_EQ(x0(r), EL3_ALLOC_FRESH);
	EXPECT_EQ(r[1], geom().rmm_limit - 0x1800);  // not 4 KiB aligned: the alignment field is [31:24]
	auto same = alloc(0x1800, 0, 1);
	EXPECT_EQ(x0(same), EL3_E_RMM_OK);
	EXPECT_EQ(same[1], r[1]);
	EXPECT_EQ(x0(smc(EL3_FID_RMM_ALLOCATE_MEMORY, {0x1000, uint64_t{1} << 16})), EL3_ALLOC_FRESH);
	EXPECT_EQ(x0(smc(EL3_FID_RMM_ALLOCATE_MEMORY, {0x1000, uint64_t{1} << 32})), EL3_ALLOC_FRESH);
	EXPECT_EQ(monitor->status().regions.size(), 3u);
	// The defined fields are still checked.
	EXPECT_EQ(x0(smc(EL3_FID_RMM_ALLOCATE_MEMORY, {0x1000, (uint64_t{1} << 40) | 4})), EL3_E_RMM_INVAL);
	EXPECT_EQ(x0(smc(EL3_FID_RMM_ALLOCATE_MEMORY, {0x1000, (uint64_t{1} << 40) | EL3_ALLOC_X2(64, 0)})), EL3_E_RMM_INVAL);
}

TEST_F(AllocateMemory, InvalIsCheckedBeforeNomem)
{
	// Too big AND a bad id: the spec's order puts E_RMM_INVAL first.
	EXPECT_EQ(x0(alloc(UINT64_MAX, 0, 9)), EL3_E_RMM_INVAL);
	EXPECT_EQ(x0(alloc(UINT64_MAX, 70, 0)), EL3_E_RMM_INVAL);
}

TEST_F(AllocateMemory, FreshRegionsReadAsZero)
{
	auto a = alloc(0x1800, 0, 0);
	std::vector<uint8_t> ones(0x1800, 0xff);
	ASSERT_TRUE(monitor->write_memory(a[1], ones.data(), ones.size()));
	monitor->reset();
	auto b = alloc(0x2000, 0, 1);  // overlaps where a was
	std::vector<uint8_t> back;
	ASSERT_TRUE(monitor->read_memory(b[1], 0x2000, back));
	EXPECT_EQ(back, std::vector<uint8_t>(0x2000, 0));
}

TEST_F(AllocateMemory, AfterBootCompleteIsAllowedAndCounted)
{
	EXPECT_EQ(x0(smc(EL3_FID_RMM_BOOT_COMPLETE, {0}, 1)), EL3_E_RMM_OK);
	EXPECT_EQ(x0(alloc(0x10, 0, 0, 1)), EL3_ALLOC_FRESH);  // CPU 1 has booted
	EXPECT_EQ(x0(alloc(0x10, 0, 0, 2)), EL3_ALLOC_FRESH);  // CPU 2 is still booting
	auto s = monitor->status();
	EXPECT_EQ(s.allocations_after_boot, 1u);
	EXPECT_EQ(s.regions[0].flags & kAllocAfterBootComplete, kAllocAfterBootComplete);
	EXPECT_EQ(s.regions[1].flags & kAllocAfterBootComplete, 0u);
}

TEST_F(AllocateMemory, StrictBootRefusesAfterBootCompleteWithUnk)
{
	open(MonitorOptions{.strict_boot = true});
	EXPECT_EQ(x0(alloc(0x10, 0, 1, 0)), EL3_ALLOC_FRESH);
	smc(EL3_FID_RMM_BOOT_COMPLETE, {0}, 0);
	EXPECT_EQ(x0(alloc(0x10, 0, 1, 0)), EL3_E_RMM_UNK);
	EXPECT_EQ(x0(alloc(0x10, 0, 9, 0)), EL3_E_RMM_INVAL);  // INVAL still comes first
	EXPECT_EQ(x0(alloc(0x10, 0, 0, 3)), EL3_ALLOC_FRESH);  // another CPU still in its boot
	EXPECT_EQ(monitor->status().regions.size(), 2u);
}

TEST_F(AllocateMemory, RegionsSurviveMonitorRestart)
{
	auto t1 = alloc(0x5000, 12, 1);
	auto t2 = alloc(0x300, 6, 2);
	const uint8_t data[] = {0xde, 0xad};
	monitor->write_memory(t2[1], data, 2);
	open();
	EXPECT_EQ(x0(alloc(0x5000, 12, 1)), EL3_E_RMM_OK);
	EXPECT_EQ(alloc(0x5000, 12, 1)[1], t1[1]);
	auto again = alloc(0x300, 6, 2);
	EXPECT_EQ(again[1], t2[1]);
	std::vector<uint8_t> back;
	monitor->read_memory(t2[1], 2, back);
	EXPECT_EQ(back, std::vector<uint8_t>(data, data + 2));
	EXPECT_LT(alloc(0x10, 0, 0)[1], t2[1]);  // the top survived too
}
