#include "el3d/platform/platform.hpp"

#include "el3d/util/numbers.hpp"

#include <algorithm>
#include <array>

namespace el3d {

namespace {
// Numbers from TF-A's platform headers (see docs/platforms.md for the derivation).
constexpr std::array<PlatformProfile, 3> kProfiles{{
    // The FVP's two DRAM banks; the RMM carveout lies at the top of the first one's 2 GiB window,
    // in the 64 MiB TZC region [0xFC000000, 2^32) that TF-A's GPT maps granule by granule: Secure
    // below the carveout, Root above it (EL3's TZC DRAM and the L1 GPT).
    {"fvp", "Arm FVP Base RevC with RME", 0xFDC00000, 0xFFBFF000, 0x1000, 0x800000, 0x600000, 8, 40,
     {{0x80000000, 0x7C000000}, {0x880000000, 0x80000000}},
     {{0xFC000000, 0x1C00000, Gpi::SecureOnly}, {0xFFC00000, 0x400000, Gpi::Root}},
     // The PCIe memory windows of fdts/fvp-base-psci-common.dtsi (pci 'ranges': 256 MiB at 0x5000_0000, the
     // first 3 GiB of the 256 GiB window at 0x40_0000_0000); fvp_common.c adds the second one if a DT lacks it.
     {{0x50000000, 0x10000000}, {0x4000000000, 0xC0000000}}},
    // QEMU virt: one 3 GiB bank that contains the RMM carveout. qemu_pas_def.h: EL3's Secure SRAM
    // above the 4 KiB shared RAM (Root), the Secure DRAM (Secure) and the GPTs at its top (Root).
    {"qemu", "QEMU virt with RME", 0x40100000, 0x418FF000, 0x1000, 0x800000, 0, 32, 40,
     {{0x40000000, 0xC0000000}},
     {{0x0E001000, 0xFF000, Gpi::Root}, {0x0E100000, 0xDFE000, Gpi::SecureOnly}, {0x0EEFE000, 0x102000, Gpi::Root}},
     {}},
    // QEMU sbsa-ref: normal-world DRAM starts right above the 1072 MiB Realm region (el3d's default
    // size: 4 GiB; the real machine takes it from its NUMA nodes). The GPT covers 4 TiB
    // (PLAT_QEMU_GPCCR_PPS). qemu_sbsa_pas_def.h with the default build: BL32's Secure SRAM, then EL3's
    // SRAM and the GPTs (Root) up to 1 GiB.
    {"qemu-sbsa", "QEMU sbsa-ref with RME", 0x10000000000, 0x10042FFF000, 0x1000, 0x800000, 0x600000, 512, 42,
     {{0x10043000000, 0x100000000}},
     {{0x20008000, 0x17BA1000, Gpi::SecureOnly}, {0x37BA9000, 0x8457000, Gpi::Root}},
     // SBSA_PCIE_MMIO_{BASE,SIZE} and SBSA_PCIE_MMIO_HIGH_{BASE,SIZE}.
     {{0x80000000, 0x70000000}, {0x100000000, 0x280000000}}},
}};

bool page_aligned(uint64_t v) { return (v & (kGranule - 1)) == 0; }

// Appends to `out` the pieces of [base, end) that none of `cuts` (ascending, non-overlapping)
// covers, in PAS `pas`, ascending.
void append_uncovered(uint64_t base, uint64_t end, const std::vector<GptRange>& cuts, Gpi pas,
                      std::vector<GptRange>& out)
{
	for (const GptRange& c : cuts) {
		if (base >= end)
			break;
		if (c.end() <= base || c.base >= end)
			continue;
		if (c.base > base)
			out.push_back({base, c.base - base, pas});
		base = std::max(base, c.end());
	}
	if (base < end)
		out.push_back({base, end - base, pas});
}
}  // namespace

std::span<const PlatformProfile> platform_profiles() { return kProfiles; }

const PlatformProfile* find_platform(std::string_view name)
{
	for (const auto& p : kProfiles)
		if (p.name == name)
			return &p;
	return nullptr;
}

std::string platform_names()
{
	std::string out;
	for (const auto& p : kProfiles) {
		if (!out.empty())
			out += ", ";
		out += p.name;
	}
	return out;
}

uint64_t default_payload_size(const PlatformProfile& profile, PayloadDefault d)
{
	if (d == PayloadDefault::Tfa && profile.payload_size_tfa != 0)
		return profile.payload_size_tfa;
	return profile.payload_size_seed;
}

Geometry make_geometry(const PlatformProfile& profile, const GeometryOverrides& o)
{
	Geometry g;
	g.platform = std::string(profile.name);
	g.rmm_base = o.rmm_base.value_or(profile.rmm_base);
	const uint64_t size = o.rmm_size.value_or(profile.rmm_limit - profile.rmm_base);
	const uint64_t payload = o.payload_size.value_or(default_payload_size(profile, o.payload_default));
	g.shared_size = profile.shared_size;
	g.core_count = o.core_count.value_or(profile.core_count);
	g.region_slots = o.region_slots.value_or(kDefaultRegionSlots);

	if (!page_aligned(g.rmm_base) || g.rmm_base == 0)
		throw GeometryError("rmm-base " + hex(g.rmm_base) + " must be a non-zero multiple of 4 KiB");
	if (!page_aligned(size) || size == 0)
		throw GeometryError("rmm-size " + hex(size) + " must be a non-zero multiple of 4 KiB");
	if (!page_aligned(payload))
		throw GeometryError("payload-size " + hex(payload) + " must be a multiple of 4 KiB");
	if (payload >= size)
		throw GeometryError("payload-size " + hex(payload) + " leaves no room in an rmm-size of " + hex(size));
	if (g.rmm_base > UINT64_MAX - size || g.rmm_base + size > UINT64_MAX - g.shared_size)
		throw GeometryError("rmm-base + rmm-size + the shared page wraps past 2^64");
	if (size > (uint64_t{1} << 40))
		throw GeometryError("rmm-size " + hex(size) + " is larger than el3d supports (1 TiB)");
	if (g.region_slots < 1 || g.region_slots > kMaxRegionSlots)
		throw GeometryError("region-slots must be between 1 and 65536, got " + std::to_string(g.region_slots));
	if (g.core_count < 1 || g.core_count > kMaxCores)
		throw GeometryError("core count must be between 1 and 4096, got " + std::to_string(g.core_count));

	g.rmm_limit = g.rmm_base + size;
	g.payload_limit = g.rmm_base + payload;
	g.pa_bits = profile.pa_bits;
	for (const auto& b : profile.dram_banks())
		g.dram.push_back(b);
	if (g.pa_bits < 64 && g.image_end() > (uint64_t{1} << g.pa_bits))
		throw GeometryError("the carveout ends at " + hex(g.image_end()) + ", beyond the platform's " +
		                    std::to_string(g.pa_bits) + "-bit physical address space");
	return g;
}

uint64_t gpt_map_offset(const std::vector<GptRange>& ranges, std::size_t i)
{
	uint64_t off = 0;
	for (std::size_t j = 0; j < i && j < ranges.size(); ++j)
		off += ((ranges[j].size / kGranule + 1) / 2 + 7) & ~uint64_t{7};
	return off;
}

uint64_t gpt_map_size(const std::vector<GptRange>& ranges) { return gpt_map_offset(ranges, ranges.size()); }

std::vector<GptRange> gpt_layout(const Geometry& g)
{
	const GptRange carveout{g.rmm_base, g.image_end() - g.rmm_base, Gpi::Realm};
	std::vector<GptRange> out;
	for (const auto& bank : g.dram)
		append_uncovered(bank.base, bank.end(), {carveout}, Gpi::NonSecure, out);
	out.push_back(carveout);
	std::sort(out.begin(), out.end(), [](const GptRange& a, const GptRange& b) { return a.base < b.base; });
	return out;
}

std::vector<GptRange> gpt_device_ranges(const Geometry& g)
{
	std::vector<GptRange> out;
	const PlatformProfile* p = find_platform(g.platform);
	if (p == nullptr)
		return out;
	const std::vector<GptRange> tracked = gpt_layout(g);  // ascending, non-overlapping
	for (const MemRange& w : p->device_windows())
		append_uncovered(w.base, w.end(), tracked, Gpi::NonSecure, out);
	return out;
}

std::vector<GptRange> gpt_fixed_ranges(const Geometry& g)
{
	std::vector<GptRange> out;
	const PlatformProfile* p = find_platform(g.platform);
	if (p == nullptr)
		return out;
	std::vector<GptRange> mapped = gpt_layout(g);
	const std::vector<GptRange> device = gpt_device_ranges(g);
	mapped.insert(mapped.end(), device.begin(), device.end());
	std::sort(mapped.begin(), mapped.end(), [](const GptRange& a, const GptRange& b) { return a.base < b.base; });
	for (const GptRange& f : p->fixed_pas_ranges())
		append_uncovered(f.base, f.end(), mapped, f.initial, out);
	mapped.insert(mapped.end(), out.begin(), out.end());
	std::sort(mapped.begin(), mapped.end(), [](const GptRange& a, const GptRange& b) { return a.base < b.base; });
	// An L0 entry that covers any granule-mapped memory is a table: its granules outside every PAS
	// region are GPI any (TF-A fills new L1 tables with it). The L0 regions of those, merged.
	std::vector<GptRange> tables;
	constexpr uint64_t kL0 = uint64_t{1} << kGptL0Bits;
	for (const GptRange& r : mapped) {
		const uint64_t base = r.base & ~(kL0 - 1);
		const uint64_t end = (r.end() + kL0 - 1) & ~(kL0 - 1);  // below 2^pa_bits, so no wrap
		if (!tables.empty() && base <= tables.back().end())
			tables.back().size = std::max(tables.back().end(), end) - tables.back().base;
		else
			tables.push_back({base, end - base, Gpi::Any});
	}
	for (const GptRange& t : tables)
		append_uncovered(t.base, t.end(), mapped, Gpi::Any, out);
	std::sort(out.begin(), out.end(), [](const GptRange& a, const GptRange& b) { return a.base < b.base; });
	return out;
}

std::string describe(const Geometry& g)
{
	std::string s;
	s += "  platform:      " + g.platform + "\n";
	s += "  rmm_base:      " + hex(g.rmm_base) + "\n";
	s += "  rmm_limit:     " + hex(g.rmm_limit) + "\n";
	s += "  payload_limit: " + hex(g.payload_limit) + "\n";
	s += "  shared page:   " + hex(g.shared_base()) + " (+" + hex(g.shared_size) + ")\n";
	s += "  core_count:    " + std::to_string(g.core_count) + "\n";
	s += "  region_slots:  " + std::to_string(g.region_slots) + "\n";
	return s;
}

}  // namespace el3d
