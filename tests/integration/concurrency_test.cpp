// Several clients at once: allocations never overlap and none is lost.
#include "harness.hpp"

#include "el3d/smc.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <thread>

using namespace el3d::test;

TEST(Concurrency, FourClientsTimesThousandAllocationsNeverOverlap)
{
	TempDir d;
	Daemon el3d(d, {"--region-slots", "1024"});
	ASSERT_TRUE(el3d.start()) << el3d.log();
	constexpr int kClients = 4, kPerClient = 1000;
	struct Got {
		uint64_t addr, size;
		uint32_t id;
	};
	std::vector<std::vector<Got>> got(kClients);
	std::vector<std::thread> threads;
	for (int c = 0; c < kClients; ++c)
		threads.emplace_back([&, c] {
			auto stub = connect(el3d.socket);  // its own connection
			for (int i = 0; i < kPerClient; ++i) {
				// Every 4th allocation is tagged with an id unique to this client.
				const uint32_t id = (i % 4 == 0) ? static_cast<uint32_t>(c * (kPerClient / 4) + i / 4 + 1) : 0;
				const uint64_t size = 1 + (static_cast<uint64_t>(i) * 7919 + static_cast<uint64_t>(c) * 104729) % 2048;
				const unsigned align = static_cast<unsigned>((i + c) % 9);
				auto r = smc(*stub, EL3_FID_RMM_ALLOCATE_MEMORY, size, EL3_ALLOC_X2(align, id), static_cast<uint32_t>(c));
				ASSERT_EQ(r.x0(), 1u) << "client " << c << " allocation " << i;
				ASSERT_EQ(r.x1() & ((uint64_t{1} << align) - 1), 0u);
				got[c].push_back({r.x1(), size, id});
			}
		});
	for (auto& t : threads)
		t.join();

	auto s = get_state(*connect(el3d.socket));
	std::vector<Got> all;
	for (auto& g : got)
		all.insert(all.end(), g.begin(), g.end());
	ASSERT_EQ(all.size(), static_cast<std::size_t>(kClients * kPerClient));
	EXPECT_EQ(s.regions_size(), kClients * kPerClient);
	std::sort(all.begin(), all.end(), [](const Got& a, const Got& b) { return a.addr < b.addr; });
	EXPECT_GE(all.front().addr, s.payload_limit());
	EXPECT_LE(all.back().addr + all.back().size, s.rmm_limit());
	for (std::size_t i = 1; i < all.size(); ++i)
		ASSERT_LE(all[i - 1].addr + all[i - 1].size, all[i].addr) << "regions " << i - 1 << " and " << i << " overlap";
	EXPECT_EQ(s.top(), all.front().addr);

	// Tagged regions come back unchanged, from any client.
	auto stub = connect(el3d.socket);
	for (const auto& g : all)
		if (g.id != 0) {
			auto r = smc(*stub, EL3_FID_RMM_ALLOCATE_MEMORY, g.size, EL3_ALLOC_X2(0, g.id), 5);
			ASSERT_EQ(r.x0(), 0u);
			ASSERT_EQ(r.x1(), g.addr);
		}
}
