#include "el3d/platform/platform.hpp"

#include <gtest/gtest.h>

#include <algorithm>

using namespace el3d;

TEST(Platform, FvpMatchesTfaNumbersWithSeedPayload)
{
	auto g = make_geometry(*find_platform("fvp"), {});
	EXPECT_EQ(g.rmm_base, 0xFDC00000u);
	EXPECT_EQ(g.rmm_limit, 0xFFBFF000u);
	EXPECT_EQ(g.shared_base(), 0xFFBFF000u);
	EXPECT_EQ(g.shared_size, 0x1000u);
	EXPECT_EQ(g.payload_limit, 0xFDC00000u + 0x800000u);
	EXPECT_EQ(g.core_count, 8u);
	EXPECT_EQ(g.region_slots, 4u);
	EXPECT_EQ(g.image_size(), 0x2000000u);  // 32 MiB including the shared page
}

TEST(Platform, QemuProfiles)
{
	auto q = make_geometry(*find_platform("qemu"), {});
	EXPECT_EQ(q.rmm_base, 0x40100000u);
	EXPECT_EQ(q.rmm_limit, 0x418FF000u);
	EXPECT_EQ(q.payload_limit, 0x40900000u);
	EXPECT_EQ(q.core_count, 32u);
	auto s = make_geometry(*find_platform("qemu-sbsa"), {});
	EXPECT_EQ(s.rmm_base, 0x10000000000u);
	EXPECT_EQ(s.rmm_limit, 0x10042FFF000u);
	EXPECT_EQ(s.payload_limit, 0x10000800000u);
	EXPECT_EQ(s.core_count, 512u);
	EXPECT_GT(s.image_size(), 1ull << 30);
	EXPECT_EQ(find_platform("juno"), nullptr);
}

TEST(Platform, OverridesApply)
{
	GeometryOverrides o;
	o.rmm_base = 0x80000000;
	o.rmm_size = 0x4000000;
	o.payload_size = 0x100000;
	o.region_slots = 65536;
	auto g = make_geometry(*find_platform("fvp"), o);
	EXPECT_EQ(g.rmm_base, 0x80000000u);
	EXPECT_EQ(g.rmm_limit, 0x84000000u);
	EXPECT_EQ(g.payload_limit, 0x80100000u);
	EXPECT_EQ(g.region_slots, 65536u);
}

TEST(Platform, RejectsBadGeometry)
{
	const auto& fvp = *find_platform("fvp");
	auto bad = [&](GeometryOverrides o) { EXPECT_THROW(make_geometry(fvp, o), GeometryError); };
	bad({.rmm_base = 0x1234});
	bad({.rmm_base = 0});
	bad({.rmm_size = 0x1001});
	bad({.rmm_size = 0});
	bad({.payload_size = 0x2000000});  // payload >= size
	bad({.payload_size = 0x800});
	bad({.rmm_base = 0xFFFFFFFFFFFF0000, .rmm_size = 0x10000});  // wraps with the shared page
	bad({.region_slots = 0});
	bad({.region_slots = 65537});
	bad({.core_count = 4097});
}

TEST(Platform, DramBanksAreAscendingAndPageAligned)
{
	for (const auto& p : platform_profiles()) {
		auto banks = p.dram_banks();
		ASSERT_FALSE(banks.empty()) << p.name;
		for (std::size_t i = 0; i < banks.size(); ++i) {
			EXPECT_EQ(banks[i].base % kGranule, 0u);
			EXPECT_EQ(banks[i].size % kGranule, 0u);
			EXPECT_LE(banks[i].end(), uint64_t{1} << p.pa_bits);
			if (i > 0) {
				EXPECT_LE(banks[i - 1].end(), banks[i].base);
			}
		}
	}
	EXPECT_EQ(find_platform("fvp")->dram_banks().size(), 2u);
}

TEST(Platform, GptLayoutCutsTheCarveoutOutOfDram)
{
	auto fvp = gpt_layout(make_geometry(*find_platform("fvp"), {}));
	ASSERT_EQ(fvp.size(), 3u);  // bank 0, carveout (above bank 0), bank 1
	EXPECT_EQ(fvp[0].base, 0x80000000u);
	EXPECT_EQ(fvp[0].initial, Gpi::NonSecure);
	EXPECT_EQ(fvp[1].base, 0xFDC00000u);
	EXPECT_EQ(fvp[1].end(), 0xFFC00000u);
	EXPECT_EQ(fvp[1].initial, Gpi::Realm);
	EXPECT_EQ(fvp[2].base, 0x880000000u);

	auto qemu = gpt_layout(make_geometry(*find_platform("qemu"), {}));
	ASSERT_EQ(qemu.size(), 3u);  // the carveout splits the single bank
	EXPECT_EQ(qemu[0].base, 0x40000000u);
	EXPECT_EQ(qemu[0].end(), 0x40100000u);
	EXPECT_EQ(qemu[1].base, 0x40100000u);
	EXPECT_EQ(qemu[1].end(), 0x41900000u);
	EXPECT_EQ(qemu[1].initial, Gpi::Realm);
	EXPECT_EQ(qemu[2].base, 0x41900000u);
	EXPECT_EQ(qemu[2].end(), 0x100000000u);
	for (std::size_t i = 1; i < qemu.size(); ++i)
		EXPECT_LE(qemu[i - 1].end(), qemu[i].base);
}

TEST(Platform, TfaPayloadDefaultIsUpstreamsWhereUpstreamDefinesOne)
{
	const GeometryOverrides tfa{.payload_default = PayloadDefault::Tfa};
	EXPECT_EQ(make_geometry(*find_platform("fvp"), tfa).payload_limit, 0xFE200000u);           // RMM_BASE + 6 MiB
	EXPECT_EQ(make_geometry(*find_platform("qemu-sbsa"), tfa).payload_limit, 0x10000600000u);  // RMM_BASE + 6 MiB
	EXPECT_EQ(make_geometry(*find_platform("qemu"), tfa).payload_limit, 0x40900000u);  // none upstream: the seed's
	EXPECT_EQ(make_geometry(*find_platform("fvp"), {}).payload_limit, 0xFE400000u);     // the seed's 8 MiB
	GeometryOverrides explicit_size = tfa;
	explicit_size.payload_size = 0x100000;
	EXPECT_EQ(make_geometry(*find_platform("fvp"), explicit_size).payload_limit, 0xFDD00000u);
	EXPECT_FALSE(tfa.any());  // a default, not an override
	for (const auto& p : platform_profiles()) {
		EXPECT_EQ(default_payload_size(p, PayloadDefault::Seed), 0x800000u) << p.name;
		EXPECT_EQ(default_payload_size(p, PayloadDefault::Tfa), p.payload_size_tfa ? p.payload_size_tfa : 0x800000u)
		    << p.name;
	}
}

TEST(Platform, FvpFixedPasRangesFillTheTzcRegionAroundTheCarveout)
{
	const Geometry g = make_geometry(*find_platform("fvp"), {});
	const auto fixed = gpt_fixed_ranges(g);
	ASSERT_EQ(fixed.size(), 2u);
	EXPECT_EQ(fixed[0].base, 0xFC000000u);
	EXPECT_EQ(fixed[0].end(), 0xFDC00000u);  // up to RMM_BASE
	EXPECT_EQ(fixed[0].initial, Gpi::SecureOnly);
	EXPECT_EQ(fixed[1].base, 0xFFC00000u);  // from the end of the shared page
	EXPECT_EQ(fixed[1].end(), 0x100000000u);
	EXPECT_EQ(fixed[1].initial, Gpi::Root);
	// With the stored layout, [DRAM bank 0 base, 4 GiB) is granule-mapped without a gap or overlap.
	std::vector<GptRange> all = gpt_layout(g);
	all.insert(all.end(), fixed.begin(), fixed.end());
	std::sort(all.begin(), all.end(), [](const GptRange& a, const GptRange& b) { return a.base < b.base; });
	uint64_t at = 0x80000000;
	for (const auto& r : all) {
		if (r.base >= 0x100000000)
			break;
		EXPECT_EQ(r.base, at);
		at = r.end();
	}
	EXPECT_EQ(at, 0x100000000u);
	EXPECT_TRUE(gpt_fixed_ranges(make_geometry(*find_platform("qemu"), {})).empty());
	EXPECT_TRUE(gpt_fixed_ranges(make_geometry(*find_platform("qemu-sbsa"), {})).empty());
}

TEST(Platform, FixedPasRangesGiveWayToAMovedCarveout)
{
	// A carveout moved into the TZC Secure region with --rmm-base splits it; the GPT tracks the
	// carveout, the rest stays Secure.
	const Geometry g = make_geometry(*find_platform("fvp"), {.rmm_base = 0xFD000000, .rmm_size = 0x100000, .payload_size = 0x10000});
	const auto fixed = gpt_fixed_ranges(g);
	ASSERT_EQ(fixed.size(), 3u);
	EXPECT_EQ(fixed[0].base, 0xFC000000u);
	EXPECT_EQ(fixed[0].end(), 0xFD000000u);
	EXPECT_EQ(fixed[1].base, 0xFD101000u);  // after the carveout's shared page
	EXPECT_EQ(fixed[1].end(), 0xFDC00000u);
	EXPECT_EQ(fixed[2].base, 0xFFC00000u);
	for (const auto& f : fixed)
		for (const auto& t : gpt_layout(g))
			EXPECT_TRUE(f.end() <= t.base || t.end() <= f.base);
}

TEST(Platform, FixedPasRangesAreNeverNonSecureOrRealm)
{
	// The GPT never stores them, so no Realm-world transition may start from their PAS.
	for (const auto& p : platform_profiles())
		for (const auto& f : p.fixed_pas_ranges()) {
			EXPECT_TRUE(f.initial == Gpi::SecureOnly || f.initial == Gpi::Root) << p.name;
			EXPECT_EQ((f.base | f.size) % kGranule, 0u) << p.name;
			EXPECT_LE(f.end(), uint64_t{1} << p.pa_bits) << p.name;
		}
}

TEST(Platform, DeviceWindowsPerProfile)
{
	auto windows = [](const char* name) {
		const auto w = find_platform(name)->device_windows();
		return std::vector<MemRange>(w.begin(), w.end());
	};
	EXPECT_EQ(windows("fvp"), (std::vector<MemRange>{{0x50000000, 0x10000000}, {0x4000000000, 0xC0000000}}));
	EXPECT_EQ(windows("qemu"), std::vector<MemRange>{});
	EXPECT_EQ(windows("qemu-sbsa"), (std::vector<MemRange>{{0x80000000, 0x70000000}, {0x100000000, 0x280000000}}));
}
