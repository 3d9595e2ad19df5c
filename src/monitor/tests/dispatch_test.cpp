#include "monitor_fixture.hpp"

using namespace el3d;
using el3d::test::MonitorTest;

using Dispatch = MonitorTest;

TEST_F(Dispatch, UnknownFidsGetSmcUnkAndKeepOtherRegisters)
{
	const SmcArgs x = {11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22};
	for (uint64_t fid : {uint64_t{0xC40001B9}, uint64_t{0xC40001BB}, uint64_t{0x84000000}, uint64_t{0},
	                     uint64_t{0xC4000400}, uint64_t{0xC40001B8}}) {
		auto r = smc(fid, x);
		EXPECT_EQ(r[0], EL3_SMC_UNK) << std::hex << fid;
		for (unsigned i = 1; i < 8; ++i)
			EXPECT_EQ(r[i], x[i - 1]);
	}
}

TEST_F(Dispatch, OnlyTheLow32BitsAreTheFid)
{
	auto r = smc(0xFFFFFFFF00000000ull | EL3_FID_RMM_ALLOCATE_MEMORY, {0x10, 0});
	EXPECT_EQ(static_cast<int64_t>(r[0]), EL3_ALLOC_FRESH);
}

TEST_F(Dispatch, SveHintIsIgnoredAndMbzBitsAreRejected)
{
	EXPECT_EQ(x0(smc(EL3_FID_RMM_ALLOCATE_MEMORY | (1u << 16), {0x10, 0})), EL3_ALLOC_FRESH);
	EXPECT_EQ(smc(EL3_FID_RMM_ALLOCATE_MEMORY | (1u << 17), {0x10, 0})[0], EL3_SMC_UNK);
	EXPECT_EQ(smc(EL3_FID_RMM_ALLOCATE_MEMORY | (1u << 23), {0x10, 0})[0], EL3_SMC_UNK);
	EXPECT_EQ(monitor->status().regions.size(), 1u);
}

TEST_F(Dispatch, CpuOutsideThePlatformIsRefused)
{
	SmcResult out{};
	out[0] = 42;
	EXPECT_FALSE(monitor->call(geom().core_count, EL3_FID_RMM_ALLOCATE_MEMORY, {0x10, 0}, out));
	EXPECT_EQ(out[0], 42u);
	EXPECT_TRUE(monitor->call(geom().core_count - 1, EL3_FID_RMM_ALLOCATE_MEMORY, {0x10, 0}, out));
	EXPECT_TRUE(monitor->status().regions.size() == 1u);
}

TEST_F(Dispatch, ResetForgetsRegionsAndZeroesMemory)
{
	auto a = alloc(0x1000, 12, 1);
	const uint8_t b = 0x77;
	monitor->write_memory(a[1], &b, 1);
	smc(EL3_FID_RMM_BOOT_COMPLETE, {0});
	monitor->reset();
	auto s = monitor->status();
	EXPECT_TRUE(s.regions.empty());
	EXPECT_TRUE(s.cpus.empty());
	EXPECT_EQ(s.top, geom().rmm_limit);
	std::vector<uint8_t> back;
	monitor->read_memory(a[1], 1, back);
	EXPECT_EQ(back[0], 0);
	EXPECT_EQ(x0(alloc(0x1000, 12, 1)), EL3_ALLOC_FRESH);
}

TEST_F(Dispatch, MemoryAccessIsBoundedByTheImage)
{
	std::vector<uint8_t> out;
	EXPECT_FALSE(monitor->read_memory(geom().rmm_base - 1, 1, out));
	EXPECT_FALSE(monitor->read_memory(geom().image_end() - 1, 2, out));
	EXPECT_TRUE(monitor->read_memory(geom().image_end() - 1, 1, out));
	EXPECT_FALSE(monitor->read_memory(UINT64_MAX, 2, out));
	const uint8_t v = 1;
	EXPECT_FALSE(monitor->write_memory(geom().image_end(), &v, 1));
	EXPECT_TRUE(monitor->write_memory(geom().shared_base(), &v, 1));
}
