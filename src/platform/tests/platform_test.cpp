#include "el3d/platform/platform.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <ostream>

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

namespace {
struct Piece {
	uint64_t base, end;
	Gpi gpi;
	bool operator==(const Piece&) const = default;
};
std::ostream& operator<<(std::ostream& o, const Piece& p)
{
	return o << std::hex << "[0x" << p.base << ", 0x" << p.end << ") " << static_cast<unsigned>(p.gpi);
}
std::vector<Piece> pieces(const std::vector<GptRange>& r)
{
	std::vector<Piece> out;
	for (const auto& x : r)
		out.push_back({x.base, x.end(), x.initial});
	return out;
}
// Everything the GPT maps granule by granule, ascending: tracked, device windows and fixed ranges.
std::vector<GptRange> granule_mapped(const Geometry& g)
{
	std::vector<GptRange> all = gpt_layout(g);
	for (const auto& v : {gpt_device_ranges(g), gpt_fixed_ranges(g)})
		all.insert(all.end(), v.begin(), v.end());
	std::sort(all.begin(), all.end(), [](const GptRange& a, const GptRange& b) { return a.base < b.base; });
	return all;
}
constexpr Gpi NS = Gpi::NonSecure, REALM = Gpi::Realm, SEC = Gpi::SecureOnly, ROOT = Gpi::Root, ANY = Gpi::Any;
}  // namespace

// The PAS regions of TF-A's GPT (fvp_pas_def.h and fvp_bl2_setup.c's pas_regions[]), with the rest
// of every table-mapped 1 GiB L0 entry GPI any.
TEST(Platform, FvpGptMapsWhatTfaMaps)
{
	const Geometry g = make_geometry(*find_platform("fvp"), {});
	EXPECT_EQ(pieces(granule_mapped(g)), (std::vector<Piece>{
	                                         {0x40000000, 0x50000000, ANY},
	                                         {0x50000000, 0x60000000, NS},  // PCI memory region 1
	                                         {0x60000000, 0x80000000, ANY},
	                                         {0x80000000, 0xFC000000, NS},  // DRAM
	                                         {0xFC000000, 0xFDC00000, SEC},  // TZC DRAM up to RMM_BASE
	                                         {0xFDC00000, 0xFFC00000, REALM},  // the carveout with its shared page
	                                         {0xFFC00000, 0x100000000, ROOT},  // EL3's TZC DRAM and the L1 GPT
	                                         {0x880000000, 0x900000000, NS},  // DRAM bank 1
	                                         {0x4000000000, 0x40C0000000, NS},  // PCI memory region 2 (first 3 GiB)
	                                     }));
	EXPECT_EQ(pieces(gpt_device_ranges(g)),
	          (std::vector<Piece>{{0x50000000, 0x60000000, NS}, {0x4000000000, 0x40C0000000, NS}}));
}

TEST(Platform, QemuGptMapsWhatTfaMaps)
{
	// qemu_pas_def.h: the first 1 GiB is table-mapped because of EL3's and the Secure world's memory.
	EXPECT_EQ(pieces(granule_mapped(make_geometry(*find_platform("qemu"), {}))),
	          (std::vector<Piece>{
	              {0x0, 0x0E001000, ANY},  // flash, IO, and the 4 KiB shared RAM
	              {0x0E001000, 0x0E100000, ROOT},  // Secure SRAM (EL3)
	              {0x0E100000, 0x0EEFE000, SEC},  // Secure DRAM (EL2, EL1)
	              {0x0EEFE000, 0x0F000000, ROOT},  // L0 and L1 GPTs
	              {0x0F000000, 0x40000000, ANY},
	              {0x40000000, 0x40100000, NS},  // DRAM (device tree)
	              {0x40100000, 0x41900000, REALM},  // the RMM
	              {0x41900000, 0x100000000, NS},
	          }));
	EXPECT_TRUE(gpt_device_ranges(make_geometry(*find_platform("qemu"), {})).empty());
}

TEST(Platform, QemuSbsaGptMapsWhatTfaMaps)
{
	const Geometry g = make_geometry(*find_platform("qemu-sbsa"), {});
	EXPECT_EQ(g.pa_bits, 42u);  // PLAT_QEMU_GPCCR_PPS: 4 TiB
	EXPECT_EQ(pieces(granule_mapped(g)), (std::vector<Piece>{
	                                         {0x0, 0x20008000, ANY},
	                                         {0x20008000, 0x37BA9000, SEC},  // BL32's Secure SRAM
	                                         {0x37BA9000, 0x40000000, ROOT},  // EL3's SRAM and the GPTs
	                                         {0x80000000, 0xF0000000, NS},  // SBSA_PCIE_MMIO
	                                         {0xF0000000, 0x100000000, ANY},  // the ECAM
	                                         {0x100000000, 0x380000000, NS},  // SBSA_PCIE_MMIO_HIGH (10 GiB of it)
	                                         {0x10000000000, 0x10043000000, REALM},
	                                         {0x10043000000, 0x10143000000, NS},  // el3d's 4 GiB of DRAM
	                                         {0x10143000000, 0x10180000000, ANY},
	                                     }));
}

TEST(Platform, FixedPasRangesGiveWayToAMovedCarveout)
{
	// A carveout moved into the TZC Secure region with --rmm-base splits it; the GPT tracks the
	// carveout, the rest stays Secure; where the carveout was is in no PAS region any more (any).
	const Geometry g = make_geometry(*find_platform("fvp"), {.rmm_base = 0xFD000000, .rmm_size = 0x100000, .payload_size = 0x10000});
	std::vector<Piece> tzc;
	for (const auto& p : pieces(granule_mapped(g)))
		if (p.base >= 0xFC000000 && p.end <= 0x100000000)
			tzc.push_back(p);
	EXPECT_EQ(tzc, (std::vector<Piece>{{0xFC000000, 0xFD000000, SEC},
	                                   {0xFD000000, 0xFD101000, REALM},  // the carveout and its shared page
	                                   {0xFD101000, 0xFDC00000, SEC},
	                                   {0xFDC00000, 0xFFC00000, ANY},
	                                   {0xFFC00000, 0x100000000, ROOT}}));
}

TEST(Platform, GranuleMappedRangesNeverOverlapAndFixedOnesAreNeverNonSecureOrRealm)
{
	for (const auto& p : platform_profiles()) {
		const Geometry g = make_geometry(p, {});
		const auto all = granule_mapped(g);
		for (std::size_t i = 1; i < all.size(); ++i)
			EXPECT_LE(all[i - 1].end(), all[i].base) << p.name;
		for (const auto& f : gpt_fixed_ranges(g)) {
			EXPECT_TRUE(f.initial != Gpi::NonSecure && f.initial != Gpi::Realm) << p.name;
			EXPECT_LE(f.end(), uint64_t{1} << g.pa_bits) << p.name;
		}
		for (const auto& d : gpt_device_ranges(g))
			EXPECT_EQ(d.initial, Gpi::NonSecure) << p.name;
	}
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
