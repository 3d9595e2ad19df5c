// Platform manifests, their byte layout, decoding and validation.
#include "el3d/manifest/manifest.hpp"

#include "el3d/platform/platform.hpp"
#include "el3d/boot_manifest.h"
#include "el3d/smc.h"

#include <gtest/gtest.h>

#include <cstring>

using namespace el3d;
using namespace el3d::manifest;

namespace {

// Test-side readers at raw offsets, independent of the library's layout.hpp.
uint64_t rd64(const std::vector<uint8_t>& p, std::size_t off)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; --i)
		v = (v << 8) | p.at(off + static_cast<std::size_t>(i));
	return v;
}
uint32_t rd32(const std::vector<uint8_t>& p, std::size_t off) { return static_cast<uint32_t>(rd64(p, off)); }
uint16_t rd16(const std::vector<uint8_t>& p, std::size_t off)
{
	return static_cast<uint16_t>(p.at(off) | (p.at(off + 1) << 8));
}
void wr64(std::vector<uint8_t>& p, std::size_t off, uint64_t v)
{
	for (std::size_t i = 0; i < 8; ++i)
		p.at(off + i) = static_cast<uint8_t>(v >> (8 * i));
}
// Sum of num + ptr + checksum + the u64 words of [ptr, ptr + bytes): 0 for a good list.
uint64_t list_sum(const std::vector<uint8_t>& p, uint64_t pa, std::size_t header, std::size_t bytes)
{
	uint64_t s = rd64(p, header) + rd64(p, header + 8) + rd64(p, header + 16);
	if (rd64(p, header + 8) != 0)
		for (std::size_t i = 0; i < bytes; i += 8)
			s += rd64(p, rd64(p, header + 8) - pa + i);
	return s;
}

const PlatformProfile& profile(std::string_view name) { return *find_platform(name); }
uint64_t shared_pa(std::string_view name) { return profile(name).rmm_limit; }

std::vector<uint8_t> page_for(std::string_view platform, const std::vector<Fault>& faults = {})
{
	return build_manifest(platform_spec(platform), faults, FaultParams{}, shared_pa(platform));
}

}  // namespace

TEST(manifest, EveryPlatformValidatesCleanAndFits)
{
	for (const auto& p : platform_profiles()) {
		SCOPED_TRACE(std::string(p.name));
		const Spec s = platform_spec(p.name);
		EXPECT_LE(encoded_size(s), kPageSize);
		const auto page = build_manifest(s, {}, {}, p.rmm_limit);
		ASSERT_EQ(page.size(), kPageSize);
		const auto v = validate_manifest(page, p.rmm_limit, p.pa_bits);
		EXPECT_TRUE(v.ok()) << v.describe();
		EXPECT_EQ(v.boot_error(), 0);
		// The DRAM is the profile's.
		ASSERT_EQ(s.dram.size(), p.dram_banks().size());
		for (std::size_t i = 0; i < s.dram.size(); ++i) {
			EXPECT_EQ(s.dram[i].base, p.dram_banks()[i].base);
			EXPECT_EQ(s.dram[i].size, p.dram_banks()[i].size);
		}
	}
	EXPECT_THROW(platform_spec("juno"), std::invalid_argument);
}

TEST(manifest, FvpBytesAtTfaOffsets)
{
	const uint64_t pa = 0xFFBFF000;
	ASSERT_EQ(shared_pa("fvp"), pa);
	const auto p = page_for("fvp");
	EXPECT_EQ(rd32(p, 0), 0x5u);  // version 0.5
	EXPECT_EQ(rd32(p, 4), 0u);    // padding
	EXPECT_EQ(rd64(p, 8), 0u);    // plat_data
	// plat_dram: 2 banks right after the 168-byte core.
	EXPECT_EQ(rd64(p, 16), 2u);
	EXPECT_EQ(rd64(p, 24), pa + 168);
	EXPECT_EQ(rd64(p, 168), 0x80000000u);
	EXPECT_EQ(rd64(p, 176), 0x7C000000u);
	EXPECT_EQ(rd64(p, 184), 0x880000000u);
	EXPECT_EQ(rd64(p, 192), 0x80000000u);
	// plat_console: the pl011 at 200 (TF-A's FVP diagram puts clk_in_hz at 224).
	EXPECT_EQ(rd64(p, 40), 1u);
	EXPECT_EQ(rd64(p, 48), pa + 200);
	EXPECT_EQ(rd64(p, 200), 0x1C0C0000u);
	EXPECT_EQ(rd64(p, 208), 1u);
	EXPECT_EQ(std::memcmp(p.data() + 216, "pl011\0\0\0", 8), 0);
	EXPECT_EQ(rd64(p, 224), 14745600u);
	EXPECT_EQ(rd64(p, 232), 115200u);
	EXPECT_EQ(rd64(p, 240), 0u);
	// ncoh: 2 ranges at 248; coh empty.
	EXPECT_EQ(rd64(p, 64), 2u);
	EXPECT_EQ(rd64(p, 72), pa + 248);
	EXPECT_EQ(rd64(p, 248), 0x50000000u);
	EXPECT_EQ(rd64(p, 264), 0x4000000000u);
	EXPECT_EQ(rd64(p, 88), 0u);
	EXPECT_EQ(rd64(p, 96), 0u);
	EXPECT_EQ(rd64(p, 104), 0u);
	// SMMU at 280, as in TF-A's diagram.
	EXPECT_EQ(rd64(p, 112), 1u);
	EXPECT_EQ(rd64(p, 120), pa + 280);
	EXPECT_EQ(rd64(p, 280), 0x2B400000u);
	EXPECT_EQ(rd64(p, 288), 0x2B420000u);
	// Root complex at 296, its two root ports at 320, their BDF mappings at 352.
	EXPECT_EQ(rd64(p, 136), 1u);
	EXPECT_EQ(rd32(p, 144), 1u);  // rc_info_version 0.1
	EXPECT_EQ(rd64(p, 152), pa + 296);
	EXPECT_EQ(rd64(p, 296), 0x40000000u);
	EXPECT_EQ(p[304], 0u);        // segment
	EXPECT_EQ(rd32(p, 308), 2u);  // num_root_ports
	EXPECT_EQ(rd64(p, 312), pa + 320);
	EXPECT_EQ(rd16(p, 320), 0x8u);
	EXPECT_EQ(rd32(p, 324), 1u);
	EXPECT_EQ(rd64(p, 328), pa + 352);
	EXPECT_EQ(rd16(p, 336), 0x10u);
	EXPECT_EQ(rd64(p, 344), pa + 360);
	EXPECT_EQ(rd16(p, 352), 0x0000u);
	EXPECT_EQ(rd16(p, 354), 0x7FFFu);
	EXPECT_EQ(rd16(p, 360), 0x8000u);
	EXPECT_EQ(rd16(p, 362), 0xFFFFu);
	EXPECT_EQ(encoded_size(platform_spec("fvp")), 368u);
	for (std::size_t i = 368; i < p.size(); ++i)
		ASSERT_EQ(p[i], 0) << "byte " << i;

	// Every checksum makes its list sum to zero; the RC one spans RC infos, root ports and BDF mappings.
	EXPECT_EQ(list_sum(p, pa, 16, 32), 0u);
	EXPECT_EQ(list_sum(p, pa, 40, 48), 0u);
	EXPECT_EQ(list_sum(p, pa, 64, 32), 0u);
	EXPECT_EQ(list_sum(p, pa, 112, 16), 0u);
	uint64_t rc = rd64(p, 136) + rd64(p, 152) + rd64(p, 160);
	for (std::size_t off = 296; off < 368; off += 8)
		rc += rd64(p, off);
	EXPECT_EQ(rc, 0u);
}

TEST(manifest, QemuHasOnlyDramAndConsole)
{
	const uint64_t pa = shared_pa("qemu");
	EXPECT_EQ(pa, 0x418FF000u);
	const auto p = page_for("qemu");
	EXPECT_EQ(rd64(p, 16), 1u);
	EXPECT_EQ(rd64(p, 168), 0x40000000u);
	EXPECT_EQ(rd64(p, 176), 0xC0000000u);
	EXPECT_EQ(rd64(p, 48), pa + 184);  // TF-A's QEMU diagram: console at 184
	EXPECT_EQ(rd64(p, 184), 0x09000000u);
	EXPECT_EQ(rd64(p, 184 + 24), 1u);  // clk_in_hz
	EXPECT_EQ(rd64(p, 184 + 32), 115200u);
	// Empty lists are {0, NULL, 0}.
	for (std::size_t h : {64u, 88u, 112u}) {
		EXPECT_EQ(rd64(p, h), 0u);
		EXPECT_EQ(rd64(p, h + 8), 0u);
		EXPECT_EQ(rd64(p, h + 16), 0u);
	}
	EXPECT_EQ(rd64(p, 136), 0u);
	EXPECT_EQ(rd64(p, 152), 0u);
	EXPECT_EQ(rd64(p, 160), 0u);
}

TEST(manifest, QemuSbsaContents)
{
	const Spec s = platform_spec("qemu-sbsa");
	ASSERT_EQ(s.consoles.size(), 1u);
	EXPECT_EQ(s.consoles[0].base, 0x60000000u);
	EXPECT_EQ(s.ncoh, (std::vector<Bank>{{0x80000000, 0x70000000}, {0x100000000, 0x280000000}}));
	EXPECT_TRUE(s.smmus.empty());
	ASSERT_EQ(s.root_complexes.size(), 1u);
	EXPECT_EQ(s.root_complexes[0].ecam_base, 0xF0000000u);
	ASSERT_EQ(s.root_complexes[0].ports.size(), 1u);
	EXPECT_EQ(s.root_complexes[0].ports[0].bdfs, (std::vector<BdfMapping>{{0, 0x8000, 0, 0}}));
}

TEST(manifest, DecodeRoundTrips)
{
	for (const auto& p : platform_profiles()) {
		const Spec s = platform_spec(p.name);
		EXPECT_EQ(decode_manifest(build_manifest(s, {}, {}, p.rmm_limit), p.rmm_limit), s) << p.name;
	}
	// A spec with every list populated and several ports and mappings.
	Spec s;
	s.plat_data = 0x12345000;
	s.dram = {{0x1000, 0x1000}, {0x100000, 0x200000}, {0x40000000, 0x40000000}};
	s.ncoh = {{0x5000000, 0x1000}};
	s.coh = {{0x6000000, 0x2000}, {0x7000000, 0x3000}};
	s.consoles = {{0x9000000, 2, "uart7ab", 24000000, 9600, 0}, {0x9010000, 1, "", 1, 1, 5}};
	s.smmus = {{0x2B400000, 0x2B420000}, {0x2B500000, 0x2B520000}};
	s.root_complexes = {{0x40000000, 3, {{1, {{0, 1, 2, 3}, {4, 5, 6, 1}}}, {2, {}}}},
	                    {0x50000000, 255, {}},
	                    {0x60000000, 0, {{0xFFFF, {{0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF}}}}}};
	const auto page = build_manifest(s, {}, {}, 0x7000);
	EXPECT_EQ(decode_manifest(page, 0x7000), s);
	const auto v = validate_manifest(page, 0x7000, 48, 3);
	EXPECT_TRUE(v.ok()) << v.describe();
	// Read at the wrong PA, every pointer is outside the page.
	EXPECT_THROW(decode_manifest(page, 0x8000), std::invalid_argument);
}

TEST(manifest, TooBigForThePage)
{
	Spec s = platform_spec("qemu");
	s.dram.clear();
	for (uint64_t i = 0; i < 300; ++i)
		s.dram.push_back({0x100000000 + i * 0x1000, 0x1000});
	EXPECT_GT(encoded_size(s), kPageSize);
	EXPECT_THROW(build_manifest(s, {}, {}, 0x418FF000), std::length_error);
	// It fits a larger buffer.
	EXPECT_EQ(build_manifest(s, {}, {}, 0x418FF000, 8192).size(), 8192u);
	// The largest DRAM list that fits next to QEMU's console: (4096 - 168 - 48) / 16 = 242 banks.
	s.dram.resize(242);
	EXPECT_NO_THROW(build_manifest(s, {}, {}, 0x418FF000));
	s.dram.push_back({0x200000000, 0x1000});
	EXPECT_THROW(build_manifest(s, {}, {}, 0x418FF000), std::length_error);

	Spec n = platform_spec("qemu");
	n.consoles[0].name = "12345678";
	EXPECT_THROW(build_manifest(n, {}, {}, 0x418FF000), std::length_error);
	n.consoles[0].name = "1234567";
	EXPECT_NO_THROW(build_manifest(n, {}, {}, 0x418FF000));
	EXPECT_THROW(build_manifest(n, {}, {}, 0x418FF004), std::invalid_argument);
}

TEST(manifest_validate, DramRules)
{
	const uint64_t pa = 0x10000;
	auto check = [&](std::vector<Bank> dram, unsigned pa_bits = 40) {
		Spec s = platform_spec("qemu");
		s.dram = std::move(dram);
		return validate_manifest(build_manifest(s, {}, {}, pa), pa, pa_bits);
	};
	EXPECT_TRUE(check({{0x1000, 0x1000}, {0x2000, 0x1000}}).ok());  // adjacent banks are fine
	EXPECT_TRUE(check({{0x80000000, 0x80000000}}, 32).ok());        // ends exactly at 2^32
	EXPECT_TRUE(check({{0x80000000, 0x80001000}}, 32).has("dram-above-pa"));
	EXPECT_TRUE(check({{0xFFFFFFFFFFFFF000, 0x2000}}, 64).has("dram-above-pa"));  // wraps
	EXPECT_TRUE(check({{0, 0x1000}}).has("dram-zero-base"));
	EXPECT_TRUE(check({{0x1000, 0x800}}).has("dram-unaligned"));
	EXPECT_TRUE(check({{0x1000, 0}}).has("dram-zero-size"));
	EXPECT_TRUE(check({{0x3000, 0x1000}, {0x1000, 0x1000}}).has("dram-unsorted"));
	EXPECT_TRUE(check({{0x1000, 0x2000}, {0x2000, 0x1000}}).has("dram-overlap"));
	EXPECT_TRUE(check({}).has("dram-none"));
	const auto many = check({{0x1000, 0x1000}, {0x2000, 0x1000}, {0x3000, 0x1000}});
	EXPECT_TRUE(many.has("dram-too-many"));
	EXPECT_EQ(many.boot_error(), EL3_E_RMM_BOOT_MANIFEST_DATA_ERROR);
	// The limit is the RMM build's.
	Spec s = platform_spec("qemu");
	s.dram = {{0x1000, 0x1000}, {0x2000, 0x1000}, {0x3000, 0x1000}};
	EXPECT_TRUE(validate_manifest(build_manifest(s, {}, {}, pa), pa, 40, 3).ok());
}

TEST(manifest_validate, DeviceRangesFollowTheSameRulesButMayBeAbsent)
{
	Spec s = platform_spec("fvp");
	s.ncoh = {{0x60000000, 0x1000}, {0x50000000, 0x1000}};
	s.coh = {{0x1001, 0x1000}};
	const auto v = validate_manifest(build_manifest(s, {}, {}, 0xFFBFF000), 0xFFBFF000, 40);
	EXPECT_TRUE(v.has("ncoh-unsorted"));
	EXPECT_TRUE(v.has("coh-unaligned"));
	EXPECT_EQ(v.problems.size(), 2u) << v.describe();
	// Device ranges above 2^pa_bits.
	s = platform_spec("fvp");
	EXPECT_TRUE(validate_manifest(build_manifest(s, {}, {}, 0xFFBFF000), 0xFFBFF000, 36).has("ncoh-above-pa"));
}

TEST(manifest_validate, VersionGatesWhatIsRead)
{
	const uint64_t pa = 0xFFBFF000;
	Spec s = platform_spec("fvp");
	// 0.4: SMMUs and root complexes are not read, so their breakage goes unnoticed.
	s.version = make_version(0, 4);
	auto v =
	    validate_manifest(build_manifest(s, {Fault::SmmuChecksum, Fault::RootComplexChecksum}, {}, pa), pa, 40);
	EXPECT_TRUE(v.ok()) << v.describe();
	// 0.3: neither are the device ranges.
	s.version = make_version(0, 3);
	v = validate_manifest(build_manifest(s, {Fault::NcohChecksum}, {}, pa), pa, 40);
	EXPECT_TRUE(v.ok()) << v.describe();
	// Newer minors are compatible; another major is not, and stops validation there.
	s.version = make_version(0, 9);
	EXPECT_TRUE(validate_manifest(build_manifest(s, {}, {}, pa), pa, 40).ok());
	s.version = make_version(1, 5);
	v = validate_manifest(build_manifest(s, {Fault::DramChecksum}, {}, pa), pa, 40);
	ASSERT_EQ(v.problems.size(), 1u);
	EXPECT_EQ(v.problems[0].kind, "manifest-version");
	EXPECT_EQ(v.boot_error(), EL3_E_RMM_BOOT_MANIFEST_VERSION_NOT_SUPPORTED);
}

TEST(manifest_validate, PointersMustStayInThePage)
{
	const uint64_t pa = 0xFFBFF000;
	auto page = page_for("fvp");
	auto v = validate_manifest(page, pa, 40);
	ASSERT_TRUE(v.ok());

	auto bad = page;
	wr64(bad, 48, pa + 4096 - 40);  // console array runs off the page end
	EXPECT_TRUE(validate_manifest(bad, pa, 40).has("console-pointer"));
	bad = page;
	wr64(bad, 24, pa - 0x1000);  // DRAM array below the page
	v = validate_manifest(bad, pa, 40);
	EXPECT_TRUE(v.has("dram-pointer"));
	EXPECT_EQ(v.problems.size(), 1u) << v.describe();
	bad = page;
	wr64(bad, 120, pa + 281);  // misaligned SMMU array
	EXPECT_TRUE(validate_manifest(bad, pa, 40).has("smmu-pointer"));
	bad = page;
	wr64(bad, 64, 0);  // ncoh: a pointer but no entries
	EXPECT_TRUE(validate_manifest(bad, pa, 40).has("ncoh-pointer"));
	bad = page;
	wr64(bad, 328, pa + 8);  // a BDF array before root_complex[]: outside the checksummed block
	EXPECT_TRUE(validate_manifest(bad, pa, 40).has("root-complex-pointer"));
	bad = page;
	wr64(bad, 328, pa + 5000);  // a BDF array beyond the page
	EXPECT_TRUE(validate_manifest(bad, pa, 40).has("root-complex-pointer"));
	// The same page at another address: every pointer is outside.
	v = validate_manifest(page, pa + 0x1000, 40);
	EXPECT_TRUE(v.has("dram-pointer"));
	EXPECT_TRUE(v.has("console-pointer"));
	EXPECT_TRUE(v.has("root-complex-pointer"));
	// A truncated page.
	EXPECT_TRUE(validate_manifest(std::span(page).first(100), pa, 40).has("manifest-size"));
}

TEST(manifest_validate, BootArgs)
{
	const uint64_t pa = 0xFFBFF000;
	EXPECT_TRUE(validate_boot_args(0, 0x20000, 8, pa).ok());
	EXPECT_TRUE(validate_boot_args(0, 0x20003, 4096, pa).ok());  // a newer minor is compatible
	EXPECT_TRUE(validate_boot_args(0, 0x10000, 8, pa).has("interface-version"));
	EXPECT_TRUE(validate_boot_args(0, 0x30000, 8, pa).has("interface-version"));
	EXPECT_TRUE(validate_boot_args(0, 0x8, 8, pa).has("interface-version"));
	EXPECT_TRUE(validate_boot_args(0, 0x100020000, 8, pa).has("interface-version"));
	// An older RMM (0.3 interface) takes 0.8.
	EXPECT_TRUE(validate_boot_args(0, 0x8, 8, pa, make_version(0, 3)).ok());
	EXPECT_TRUE(validate_boot_args(0, 0x20000, 4097, pa).has("cpu-count"));
	EXPECT_TRUE(validate_boot_args(8, 0x20000, 8, pa).has("cpu-id"));
	EXPECT_TRUE(validate_boot_args(0, 0x20000, 8, pa + 8).has("shared-buffer-misaligned"));
	EXPECT_TRUE(validate_boot_args(0, 0x20000, 8, 0).has("shared-buffer-misaligned"));
	// The RMM reports the first failure in its order: x1, x2, x0, x3.
	const auto v = validate_boot_args(9000, 0x8, 5000, pa + 8);
	EXPECT_EQ(v.problems.size(), 4u);
	EXPECT_EQ(v.boot_error(), EL3_E_RMM_BOOT_VERSION_NOT_VALID);
}

// The public C header (include/el3d/boot_manifest.h) reads what the encoder writes: an RMM built on it
// sees el3d's manifest, fields and checksums alike.
TEST(manifest, PublicHeaderReadsTheEncodedPage)
{
	for (const auto& p : platform_profiles()) {
		SCOPED_TRACE(std::string(p.name));
		const Spec s = platform_spec(p.name);
		const auto page = build_manifest(s, {}, {}, p.rmm_limit);
		alignas(8) uint8_t buf[kPageSize];
		std::memcpy(buf, page.data(), kPageSize);
		el3_boot_manifest m;
		std::memcpy(&m, buf, sizeof m);
		auto at = [&](uint64_t pa) { return buf + (pa - p.rmm_limit); };  // the PA of something in the page
		EXPECT_EQ(m.version, EL3_BOOT_MANIFEST_VERSION);
		ASSERT_EQ(m.plat_dram.num_banks, s.dram.size());
		for (std::size_t i = 0; i < s.dram.size(); ++i) {
			el3_memory_bank b;
			std::memcpy(&b, at(m.plat_dram.banks) + i * sizeof b, sizeof b);
			EXPECT_EQ(b.base, s.dram[i].base);
			EXPECT_EQ(b.size, s.dram[i].size);
		}
		EXPECT_EQ(el3_manifest_checksum_ok(m.plat_dram.num_banks, m.plat_dram.banks, at(m.plat_dram.banks),
		                                   m.plat_dram.num_banks * 2, m.plat_dram.checksum),
		          1);
		EXPECT_EQ(el3_manifest_checksum_ok(m.plat_dram.num_banks, m.plat_dram.banks, at(m.plat_dram.banks),
		                                   m.plat_dram.num_banks * 2, m.plat_dram.checksum + 1),
		          0);
		if (m.plat_console.num_consoles != 0) {
			el3_console_info con;
			std::memcpy(&con, at(m.plat_console.consoles), sizeof con);
			EXPECT_EQ(std::string(con.name), s.consoles.at(0).name);
			EXPECT_EQ(con.base, s.consoles.at(0).base);
			EXPECT_EQ(el3_manifest_checksum_ok(m.plat_console.num_consoles, m.plat_console.consoles,
			                                   at(m.plat_console.consoles), m.plat_console.num_consoles * 6,
			                                   m.plat_console.checksum),
			          1);
		}
	}
}
