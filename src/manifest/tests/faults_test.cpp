// Every fault breaks exactly the one thing it names.
#include "el3d/manifest/boot_config.hpp"

#include "el3d/platform/platform.hpp"
#include "el3d/smc.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>

using namespace el3d;
using namespace el3d::manifest;

namespace {

std::set<std::string> kinds(const Validation& v)
{
	std::set<std::string> out;
	for (const auto& p : v.problems)
		out.insert(p.kind);
	return out;
}

// What an RMM would find at cold boot on `platform` with `config`: the boot registers, then the manifest.
struct Outcome {
	Validation regs, manifest;
};

Outcome boot(const PlatformProfile& p, const BootConfig& config)
{
	const uint64_t pa = p.rmm_limit;
	const auto r = cold_boot_registers(config, kInterfaceVersion, p.core_count, pa);
	const auto page = build_manifest(config, pa);
	return {validate_boot_args(r.x0, r.x1, r.x2, r.x3), validate_manifest(page, pa, p.pa_bits)};
}

}  // namespace

TEST(manifest_faults, NamesAreStableAndUnique)
{
	std::set<std::string_view> names;
	for (const auto& f : fault_table()) {
		EXPECT_TRUE(names.insert(f.name).second) << f.name;
		EXPECT_EQ(parse_fault(f.name), f.fault);
		EXPECT_EQ(fault_name(f.fault), f.name);
		EXPECT_FALSE(f.description.empty());
	}
	EXPECT_EQ(fault_table().size(), 16u);
	// The names config files and CLI flags use: changing one breaks users' files.
	const std::vector<std::string_view> expected{"dram-checksum",    "console-checksum", "ncoh-checksum",
	                                             "coh-checksum",     "smmu-checksum",    "root-complex-checksum",
	                                             "dram-unsorted",    "dram-overlap",     "dram-unaligned",
	                                             "dram-zero-size",   "dram-too-many",    "dram-none",
	                                             "manifest-version", "cpu-count",        "shared-buffer-misaligned",
	                                             "interface-version"};
	for (std::size_t i = 0; i < expected.size(); ++i)
		EXPECT_EQ(fault_table()[i].name, expected[i]);
	EXPECT_EQ(parse_fault("dram_checksum"), std::nullopt);
	EXPECT_EQ(parse_fault(""), std::nullopt);
	EXPECT_NE(fault_names().find("dram-too-many, dram-none"), std::string::npos);
}

TEST(manifest_faults, EachFaultProducesExactlyItsProblemOnEveryPlatform)
{
	for (const auto& p : platform_profiles()) {
		const BootConfig clean = default_boot_config(p.name);
		const auto ok = boot(p, clean);
		ASSERT_TRUE(ok.regs.ok()) << p.name << "\n" << ok.regs.describe();
		ASSERT_TRUE(ok.manifest.ok()) << p.name << "\n" << ok.manifest.describe();

		for (const auto& f : fault_table()) {
			SCOPED_TRACE(std::string(p.name) + " " + std::string(f.name));
			BootConfig c = clean;
			c.faults = {f.fault};
			const auto o = boot(p, c);
			const Validation& hit = f.boot_register ? o.regs : o.manifest;
			const Validation& other = f.boot_register ? o.manifest : o.regs;
			EXPECT_EQ(kinds(hit), std::set<std::string>{std::string(f.name)}) << hit.describe();
			EXPECT_TRUE(other.ok()) << other.describe();
			EXPECT_EQ(hit.boot_error(), f.code);
		}
	}
}

TEST(manifest_faults, DataFaultsKeepTheRestIntact)
{
	const Spec fvp = platform_spec("fvp");
	const FaultParams params;
	auto apply = [&](Fault f, const Spec& s) { return apply_data_faults(s, std::vector<Fault>{f}, params); };

	auto s = apply(Fault::DramUnsorted, fvp);
	EXPECT_EQ(s.dram, (std::vector<Bank>{fvp.dram[1], fvp.dram[0]}));
	s = apply(Fault::DramOverlap, fvp);
	EXPECT_EQ(s.dram[1].base, 0x80000000u + 0x7C000000u - 0x1000u);
	EXPECT_EQ(s.dram[1].base + s.dram[1].size, 0x900000000u);
	s = apply(Fault::DramUnaligned, fvp);
	EXPECT_EQ(s.dram[0], (Bank{0x80000800, 0x7BFFF000}));
	s = apply(Fault::DramZeroSize, fvp);
	EXPECT_EQ(s.dram[1].size, 0u);
	EXPECT_TRUE(apply(Fault::DramNone, fvp).dram.empty());
	EXPECT_EQ(apply(Fault::ManifestVersion, fvp).version, 0x2u);
	// Checksum and register faults change bytes or registers, not the spec.
	EXPECT_EQ(apply(Fault::DramChecksum, fvp), fvp);
	EXPECT_EQ(apply(Fault::CpuCount, fvp), fvp);

	// One-bank platforms are split first.
	const Spec qemu = platform_spec("qemu");
	s = apply(Fault::DramUnsorted, qemu);
	EXPECT_EQ(s.dram, (std::vector<Bank>{{0xA0000000, 0x60000000}, {0x40000000, 0x60000000}}));
	EXPECT_EQ(apply(Fault::DramOverlap, qemu).dram.size(), 2u);
}

TEST(manifest_faults, TooManyBanksSplitsTheSameMemory)
{
	for (const auto& p : platform_profiles()) {
		const Spec base = platform_spec(p.name);
		for (uint32_t n : {3u, 64u, 200u}) {
			FaultParams params;
			params.dram_banks = n;
			const Spec s = apply_data_faults(base, std::vector<Fault>{Fault::DramTooMany}, params);
			ASSERT_EQ(s.dram.size(), n);
			uint64_t total = 0, want = 0;
			for (const auto& b : base.dram)
				want += b.size;
			for (std::size_t i = 0; i < s.dram.size(); ++i) {
				total += s.dram[i].size;
				EXPECT_EQ(s.dram[i].size % kGranule, 0u);
				if (i > 0) {
					EXPECT_LE(s.dram[i - 1].base + s.dram[i - 1].size, s.dram[i].base);
				}
			}
			EXPECT_EQ(total, want);
			// Still fits the page, and the only complaint is the count (given an RMM limit below n).
			const auto page = build_manifest(base, {Fault::DramTooMany}, params, p.rmm_limit);
			const auto v = validate_manifest(page, p.rmm_limit, p.pa_bits);
			EXPECT_EQ(kinds(v), std::set<std::string>{"dram-too-many"}) << v.describe();
			EXPECT_TRUE(validate_manifest(page, p.rmm_limit, p.pa_bits, n).ok());
		}
	}
	// Too many to fit: a length error, not a silently truncated list.
	FaultParams params;
	params.dram_banks = 300;
	EXPECT_THROW(build_manifest(platform_spec("fvp"), {Fault::DramTooMany}, params, 0xFFBFF000), std::length_error);
}

TEST(manifest_faults, DramFaultsNeedDram)
{
	Spec s = platform_spec("fvp");
	s.dram.clear();
	for (Fault f :
	     {Fault::DramUnsorted, Fault::DramOverlap, Fault::DramUnaligned, Fault::DramZeroSize, Fault::DramTooMany})
		EXPECT_THROW(apply_data_faults(s, std::vector<Fault>{f}, {}), std::invalid_argument) << fault_name(f);
	s.dram = {{0x80000000, 0x1000}};  // one page cannot be split
	EXPECT_THROW(apply_data_faults(s, std::vector<Fault>{Fault::DramUnsorted}, {}), std::invalid_argument);
}

TEST(manifest_faults, ParamsAndOverrides)
{
	const auto& fvp = *find_platform("fvp");
	const uint64_t pa = fvp.rmm_limit;
	BootConfig c = default_boot_config("fvp");

	auto r = cold_boot_registers(c, kInterfaceVersion, 8, pa);
	EXPECT_EQ(r.x0, 0u);
	EXPECT_EQ(r.x1, 0x20000u);
	EXPECT_EQ(r.x2, 8u);
	EXPECT_EQ(r.x3, pa);
	EXPECT_EQ(r.x4, 0u);

	c.faults = {Fault::CpuCount, Fault::SharedBufferMisaligned, Fault::InterfaceVersion};
	r = cold_boot_registers(c, kInterfaceVersion, 8, pa);
	EXPECT_EQ(r.x1, 0x8u);
	EXPECT_EQ(r.x2, 4097u);
	EXPECT_EQ(r.x3, pa + 8);

	c.params.core_count = 100000;
	c.params.shared_offset = 0x800;
	c.params.interface_version = make_version(1, 0);
	r = cold_boot_registers(c, kInterfaceVersion, 8, pa);
	EXPECT_EQ(r.x1, 0x10000u);
	EXPECT_EQ(r.x2, 100000u);
	EXPECT_EQ(r.x3, pa + 0x800);

	// Explicit register values win over faults.
	c.boot.x1_version = 0x20001;
	c.boot.x2_core_count = 16;
	c.boot.x3_offset = 0;
	r = cold_boot_registers(c, kInterfaceVersion, 8, pa);
	EXPECT_EQ(r.x1, 0x20001u);
	EXPECT_EQ(r.x2, 16u);
	EXPECT_EQ(r.x3, pa);
	EXPECT_TRUE(validate_boot_args(r.x0, r.x1, r.x2, r.x3).ok());

	// A configured bad manifest version.
	BootConfig v = default_boot_config("qemu");
	v.faults = {Fault::ManifestVersion};
	v.params.bad_version = make_version(1, 0);
	const auto page = build_manifest(v, 0x418FF000);
	EXPECT_TRUE(validate_manifest(page, 0x418FF000, 40).has("manifest-version"));
}

TEST(manifest_faults, CombinedFaultsAreAllReported)
{
	const auto& p = *find_platform("fvp");
	BootConfig c = default_boot_config("fvp");
	c.faults = {Fault::ConsoleChecksum, Fault::DramUnsorted, Fault::SmmuChecksum, Fault::CpuCount};
	const auto o = boot(p, c);
	EXPECT_EQ(kinds(o.manifest), (std::set<std::string>{"console-checksum", "dram-unsorted", "smmu-checksum"}));
	EXPECT_EQ(kinds(o.regs), std::set<std::string>{"cpu-count"});
	// The console list is what TF-RMM's plat/arm reads first.
	EXPECT_EQ(o.manifest.problems.front().kind, "console-checksum");
}
