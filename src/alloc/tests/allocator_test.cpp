#include "el3d/alloc/allocator.hpp"

#include "tempdir.hpp"

#include <gtest/gtest.h>

#include <cstring>

using namespace el3d;
using el3d::test::TempDir;

TEST(PlaceTopDown, AlignsDownAndNeverWraps)
{
	EXPECT_EQ(place_top_down(0x10000, 0x1000, 0x100, 0), 0xff00u);
	EXPECT_EQ(place_top_down(0x10000, 0x1000, 0x100, 12), 0xf000u);
	EXPECT_EQ(place_top_down(0x10000, 0x1000, 0x100, 16), std::nullopt);  // 0x0 < floor
	EXPECT_EQ(place_top_down(0x10000, 0x1000, 0xf000, 0), 0x1000u);       // exactly to the floor
	EXPECT_EQ(place_top_down(0x10000, 0x1000, 0xf001, 0), std::nullopt);
	EXPECT_EQ(place_top_down(0x10000, 0x1000, UINT64_MAX, 0), std::nullopt);  // the seed wraps here
	EXPECT_EQ(place_top_down(0x10000, 0x1000, 0x10001, 0), std::nullopt);
	EXPECT_EQ(place_top_down(0x10000, 0x1000, 0, 0), 0x10000u);
	EXPECT_EQ(place_top_down(0x10000, 0x1000, 1, 64), std::nullopt);
	EXPECT_EQ(place_top_down(0x10000, 0x1000, 1, 63), std::nullopt);
}

class AllocatorTest : public ::testing::Test {
protected:
	void SetUp() override { open(); }
	void open()
	{
		alloc.reset();
		carveout.reset();
		CarveoutOpenRequest r;
		r.path = d.file("c.img");
		carveout = Carveout::open(r);
		alloc = std::make_unique<Allocator>(*carveout);
	}
	AllocOutcome allocate(uint64_t size, unsigned align = 0, uint32_t id = 0)
	{
		return alloc->allocate(AllocRequest{.size = size, .align_bits = align, .id = id});
	}
	uint64_t limit() const { return carveout->geometry().rmm_limit; }
	uint64_t payload() const { return carveout->geometry().payload_limit; }

	TempDir d;
	std::unique_ptr<Carveout> carveout;
	std::unique_ptr<Allocator> alloc;
};

TEST_F(AllocatorTest, GrowsDownFromTheLimit)
{
	EXPECT_EQ(alloc->top(), limit());
	auto a = allocate(0x1000, 12);
	EXPECT_EQ(a.status, AllocStatus::Fresh);
	EXPECT_EQ(a.addr, limit() - 0x1000);
	auto b = allocate(0x10, 0);
	EXPECT_EQ(b.addr, limit() - 0x1010);
	auto c = allocate(0x10, 16);  // 64 KiB aligned
	EXPECT_EQ(c.addr, (limit() - 0x1020) & ~uint64_t{0xffff});
	EXPECT_EQ(alloc->top(), c.addr);
	EXPECT_EQ(alloc->records().size(), 3u);
}

TEST_F(AllocatorTest, UntaggedAlwaysNew)
{
	auto a = allocate(0x100, 0, 0);
	auto b = allocate(0x100, 0, 0);
	EXPECT_EQ(a.status, AllocStatus::Fresh);
	EXPECT_EQ(b.status, AllocStatus::Fresh);
	EXPECT_NE(a.addr, b.addr);
}

TEST_F(AllocatorTest, TaggedComesBackWithContent)
{
	auto a = allocate(0x2000, 12, 1);
	ASSERT_EQ(a.status, AllocStatus::Fresh);
	std::memcpy(carveout->ptr(a.addr), "granules", 8);
	allocate(0x1000, 12, 0);
	auto again = allocate(0x2000, 12, 1);
	EXPECT_EQ(again.status, AllocStatus::Existing);
	EXPECT_EQ(again.addr, a.addr);
	EXPECT_EQ(std::memcmp(carveout->ptr(a.addr), "granules", 8), 0);
	auto smaller = allocate(0x10, 0, 1);
	EXPECT_EQ(smaller.status, AllocStatus::Existing);
	EXPECT_EQ(smaller.addr, a.addr);
}

TEST_F(AllocatorTest, LargerReRequestIsRefusedWithoutChange)
{
	auto a = allocate(0x1000, 0, 2);
	const uint64_t top = alloc->top();
	auto bigger = allocate(0x1001, 0, 2);
	EXPECT_EQ(bigger.status, AllocStatus::TooLarge);
	EXPECT_EQ(alloc->top(), top);
	EXPECT_EQ(alloc->records().size(), 1u);
	EXPECT_EQ(alloc->tagged(2)->addr, a.addr);
}

TEST_F(AllocatorTest, NoSpaceBelowPayloadLimitChangesNothing)
{
	const uint64_t room = limit() - payload();
	auto too_big = allocate(room + 1);
	EXPECT_EQ(too_big.status, AllocStatus::NoSpace);
	auto wrap = allocate(UINT64_MAX - 0xfff);
	EXPECT_EQ(wrap.status, AllocStatus::NoSpace);
	EXPECT_EQ(alloc->top(), limit());
	EXPECT_TRUE(alloc->records().empty());
	auto all = allocate(room, 12, 3);
	EXPECT_EQ(all.status, AllocStatus::Fresh);
	EXPECT_EQ(all.addr, payload());
	EXPECT_EQ(allocate(1).status, AllocStatus::NoSpace);
	EXPECT_EQ(allocate(0).status, AllocStatus::Fresh);  // zero bytes still fit at the floor
}

TEST_F(AllocatorTest, FreshMemoryIsZeroEvenAfterOldWrites)
{
	// Dirty the memory below the top as a previous RMM might have.
	std::memset(carveout->ptr(limit() - 0x3000), 0x5a, 0x3000);
	auto a = allocate(0x2800, 0);
	ASSERT_EQ(a.status, AllocStatus::Fresh);
	for (uint64_t i = 0; i < 0x2800; ++i)
		ASSERT_EQ(carveout->ptr(a.addr)[i], 0) << "byte " << i;
}

TEST_F(AllocatorTest, StateIsRebuiltFromTheLog)
{
	auto t1 = allocate(0x4000, 14, 1);
	auto u = allocate(0x100, 0, 0);
	auto t3 = allocate(0x800, 4, 3);
	std::memcpy(carveout->ptr(t3.addr), "vmid", 4);
	open();
	EXPECT_EQ(alloc->top(), t3.addr);
	EXPECT_EQ(alloc->records().size(), 3u);
	EXPECT_EQ(alloc->tagged(1)->addr, t1.addr);
	EXPECT_EQ(alloc->tagged(3)->size, 0x800u);
	EXPECT_FALSE(alloc->tagged(2));
	auto again = allocate(0x800, 4, 3);
	EXPECT_EQ(again.status, AllocStatus::Existing);
	EXPECT_EQ(again.addr, t3.addr);
	EXPECT_EQ(std::memcmp(carveout->ptr(t3.addr), "vmid", 4), 0);
	EXPECT_LT(allocate(0x10).addr, u.addr);
}

TEST_F(AllocatorTest, ZeroSizedTaggedRequestDoesNotClaimTheTag)
{
	auto z = allocate(0, 12, 1);
	EXPECT_EQ(z.status, AllocStatus::Fresh);
	EXPECT_FALSE(alloc->tagged(1));
	auto real = allocate(0x1000, 12, 1);
	EXPECT_EQ(real.status, AllocStatus::Fresh);
	EXPECT_EQ(alloc->tagged(1)->addr, real.addr);
}

TEST_F(AllocatorTest, LogFullRefusesWithoutChange)
{
	alloc.reset();
	carveout.reset();
	CarveoutOpenRequest r;
	r.path = d.file("small.img");
	r.log_capacity = 1;
	carveout = Carveout::open(r);
	alloc = std::make_unique<Allocator>(*carveout);
	EXPECT_EQ(allocate(0x10).status, AllocStatus::Fresh);
	const uint64_t top = alloc->top();
	EXPECT_EQ(allocate(0x10).status, AllocStatus::LogFull);
	EXPECT_EQ(alloc->top(), top);
}
