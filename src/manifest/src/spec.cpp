// Platform manifests and faults.
#include "el3d/manifest/manifest.hpp"

#include "el3d/platform/platform.hpp"
#include "el3d/smc.h"
#include "el3d/util/numbers.hpp"

#include <algorithm>
#include <array>
#include <stdexcept>

namespace el3d::manifest {

namespace {

// The values of TF-A's plat_rmmd_load_manifest() (arm-trusted-firmware 6a164dda7208), see tfa-rmmd.md §4.5, §7.
// The DRAM banks and the device (PCIe) windows come from el3d's platform profile, so that a profile change cannot
// leave them behind.
Spec fvp_spec()
{
	Spec s;
	// plat/arm/board/fvp/fvp_common.c: FVP_RMM_CONSOLE_{BASE,CLK_IN_HZ,BAUD,NAME}, map_pages 1.
	s.consoles = {{0x1C0C0000, 1, "pl011", 14745600, 115200, 0}};
	// PLAT_FVP_SMMUV3_BASE. TF-A reads the Realm page offset from SMMU_ROOT_IDR0.BA_REALM: 0x20000 + BA_REALM *
	// 0x10000. The FVP command lines of TF-A/TF-RMM/Shrinkwrap set SMMU_ROOT_IDR0=3, i.e. BA_REALM 0.
	s.smmus = {{0x2B400000, 0x2B400000 + 0x20000}};
	// fvp_rc_info: one RC at PCIE_EXP_BASE, segment 0; root ports 0x8 (00:01.0) and 0x10 (00:02.0) splitting the
	// requester IDs in two halves, both on SMMU 0.
	s.root_complexes = {{0x40000000, 0, {{0x8, {{0x0000, 0x7FFF, 0, 0}}}, {0x10, {{0x8000, 0xFFFF, 0, 0}}}}}};
	return s;
}

Spec qemu_spec()
{
	Spec s;
	// plat/qemu/common/qemu_common.c with plat/qemu/qemu/include/platform_def.h: UART0 (PL011) at 0x0900_0000,
	// UART0_CLK_IN_HZ 1, PLAT_QEMU_CONSOLE_BAUDRATE 115200. No device ranges, SMMUs or root complexes.
	s.consoles = {{0x09000000, 1, "pl011", 1, 115200, 0}};
	return s;
}

Spec qemu_sbsa_spec()
{
	Spec s;
	// plat/qemu/qemu_sbsa/include/platform_def.h: UART0 at 0x6000_0000, clock 1, 115200 baud.
	s.consoles = {{0x60000000, 1, "pl011", 1, 115200, 0}};
	// qemu_common.c rc_data: one RC with ECAM at 0xF000_0000 (QEMU's sbsa_ref_memmap), root port 0 with BDFs
	// [0, 0x8000] on SMMU index 0, although the platform lists no SMMU (QEMU_RMM_SMMU_COUNT 0).
	s.root_complexes = {{0xF0000000, 0, {{0, {{0x0000, 0x8000, 0, 0}}}}}};
	return s;
}

constexpr std::array<FaultInfo, 16> kFaults{{
    {Fault::DramChecksum, "dram-checksum", "DRAM list checksum off by one", EL3_E_RMM_BOOT_MANIFEST_DATA_ERROR, false},
    {Fault::ConsoleChecksum, "console-checksum", "console list checksum off by one", EL3_E_RMM_BOOT_MANIFEST_DATA_ERROR,
     false},
    {Fault::NcohChecksum, "ncoh-checksum", "non-coherent device range list checksum off by one",
     EL3_E_RMM_BOOT_MANIFEST_DATA_ERROR, false},
    {Fault::CohChecksum, "coh-checksum", "coherent device range list checksum off by one",
     EL3_E_RMM_BOOT_MANIFEST_DATA_ERROR, false},
    {Fault::SmmuChecksum, "smmu-checksum", "SMMU list checksum off by one", EL3_E_RMM_BOOT_MANIFEST_DATA_ERROR, false},
    {Fault::RootComplexChecksum, "root-complex-checksum", "PCIe root complex list checksum off by one",
     EL3_E_RMM_BOOT_MANIFEST_DATA_ERROR, false},
    {Fault::DramUnsorted, "dram-unsorted", "two DRAM banks in descending order", EL3_E_RMM_BOOT_MANIFEST_DATA_ERROR, false},
    {Fault::DramOverlap, "dram-overlap", "the second DRAM bank starts a page before the first one ends",
     EL3_E_RMM_BOOT_MANIFEST_DATA_ERROR, false},
    {Fault::DramUnaligned, "dram-unaligned", "the first DRAM bank's base is not 4 KiB aligned",
     EL3_E_RMM_BOOT_MANIFEST_DATA_ERROR, false},
    {Fault::DramZeroSize, "dram-zero-size", "the last DRAM bank has size 0", EL3_E_RMM_BOOT_MANIFEST_DATA_ERROR, false},
    {Fault::DramTooMany, "dram-too-many", "the DRAM split into fault_params.dram_banks banks (default 64)",
     EL3_E_RMM_BOOT_MANIFEST_DATA_ERROR, false},
    {Fault::DramNone, "dram-none", "no DRAM: num_banks 0, NULL banks", EL3_E_RMM_BOOT_MANIFEST_DATA_ERROR, false},
    {Fault::ManifestVersion, "manifest-version", "manifest version fault_params.bad_version (default 0.2)",
     EL3_E_RMM_BOOT_MANIFEST_VERSION_NOT_SUPPORTED, false},
    {Fault::CpuCount, "cpu-count", "x2 = fault_params.core_count (default 4097)", EL3_E_RMM_BOOT_CPUS_OUT_OF_RANGE, true},
    {Fault::SharedBufferMisaligned, "shared-buffer-misaligned",
     "x3 = shared page + fault_params.shared_offset (default 8)", EL3_E_RMM_BOOT_INVALID_SHARED_BUFFER, true},
    {Fault::InterfaceVersion, "interface-version", "x1 = fault_params.interface_version (default 0.8)",
     EL3_E_RMM_BOOT_VERSION_NOT_VALID, true},
}};

bool has(std::span<const Fault> faults, Fault f) { return std::find(faults.begin(), faults.end(), f) != faults.end(); }

// Splits bank i into two page-aligned halves in place (the first gets the smaller half).
void split_bank(std::vector<Bank>& banks, std::size_t i, std::string_view why)
{
	const uint64_t pages = banks[i].size / kGranule;
	if (pages < 2)
		throw std::invalid_argument(std::string(why) + ": DRAM bank at " + hex(banks[i].base) +
		                            " is too small to split into page-aligned parts");
	const uint64_t first = (pages / 2) * kGranule;
	const Bank second{banks[i].base + first, banks[i].size - first};
	banks[i].size = first;
	banks.insert(banks.begin() + static_cast<std::ptrdiff_t>(i) + 1, second);
}

void need_dram(const Spec& s, std::string_view why)
{
	if (s.dram.empty())
		throw std::invalid_argument(std::string(why) + " needs at least one DRAM bank");
}

}  // namespace

Spec platform_spec(std::string_view platform)
{
	const PlatformProfile* p = find_platform(platform);
	if (p == nullptr)
		throw std::invalid_argument("unknown platform '" + std::string(platform) +
		                            "' (known: " + platform_names() + ")");
	Spec s;
	if (platform == "fvp")
		s = fvp_spec();
	else if (platform == "qemu")
		s = qemu_spec();
	else if (platform == "qemu-sbsa")
		s = qemu_sbsa_spec();
	else
		throw std::invalid_argument("no Boot Manifest contents for platform '" + std::string(platform) + "'");
	for (const MemRange& r : p->dram_banks())
		s.dram.push_back({r.base, r.size});
	for (const MemRange& r : p->device_windows())  // plat_ncoh_region: the PCIe memory windows
		s.ncoh.push_back({r.base, r.size});
	return s;
}

Spec default_spec(std::string_view platform)
{
	Spec s = platform_spec(platform);
	// el3d backs no SMMU register pages and no ECAM: an RMM that is a host process would fault reading them
	// (TF-RMM's SMMUv3 driver probes every SMMU the manifest lists at boot). A boot configuration can still list
	// them, e.g. TF-A's own values (docs/boot.md).
	s.smmus.clear();
	s.root_complexes.clear();
	return s;
}

std::span<const FaultInfo> fault_table() { return kFaults; }

const FaultInfo& fault_info(Fault f)
{
	for (const auto& i : kFaults)
		if (i.fault == f)
			return i;
	throw std::invalid_argument("unknown fault value " + std::to_string(static_cast<int>(f)));
}

std::string_view fault_name(Fault f) { return fault_info(f).name; }

std::optional<Fault> parse_fault(std::string_view name)
{
	for (const auto& i : kFaults)
		if (i.name == name)
			return i.fault;
	return std::nullopt;
}

std::string fault_names()
{
	std::string out;
	for (const auto& i : kFaults) {
		if (!out.empty())
			out += ", ";
		out += i.name;
	}
	return out;
}

Spec apply_data_faults(Spec s, std::span<const Fault> faults, const FaultParams& params)
{
	// Splitting first: the other DRAM faults then break the split layout, as a combination would be expected to.
	if (has(faults, Fault::DramTooMany)) {
		need_dram(s, "dram-too-many");
		if (params.dram_banks < 1)
			throw std::invalid_argument("dram-too-many: fault_params.dram_banks must be at least 1");
		// Always split the largest bank, so that the banks stay ascending and adjacent parts stay page sized.
		while (s.dram.size() < params.dram_banks) {
			auto largest = std::max_element(s.dram.begin(), s.dram.end(),
			                                [](const Bank& a, const Bank& b) { return a.size < b.size; });
			split_bank(s.dram, static_cast<std::size_t>(largest - s.dram.begin()), "dram-too-many");
		}
	}
	if (has(faults, Fault::DramUnsorted)) {
		need_dram(s, "dram-unsorted");
		if (s.dram.size() < 2)
			split_bank(s.dram, 0, "dram-unsorted");
		std::swap(s.dram[0], s.dram[1]);
	}
	if (has(faults, Fault::DramOverlap)) {
		need_dram(s, "dram-overlap");
		if (s.dram.size() < 2)
			split_bank(s.dram, 0, "dram-overlap");
		// The second bank keeps its end and starts one page before the first bank's end.
		const uint64_t end1 = s.dram[1].base + s.dram[1].size;
		s.dram[1].base = s.dram[0].base + s.dram[0].size - kGranule;
		s.dram[1].size = end1 - s.dram[1].base;
	}
	if (has(faults, Fault::DramUnaligned)) {
		need_dram(s, "dram-unaligned");
		if (s.dram[0].size < 2 * kGranule)
			throw std::invalid_argument("dram-unaligned: the first DRAM bank is smaller than two pages");
		// Half a page up and a page shorter: unaligned base, aligned size, still inside the original bank, so
		// that no ordering or range rule is broken as well.
		s.dram[0].base += kGranule / 2;
		s.dram[0].size -= kGranule;
	}
	if (has(faults, Fault::DramZeroSize)) {
		need_dram(s, "dram-zero-size");
		s.dram.back().size = 0;
	}
	if (has(faults, Fault::DramNone))
		s.dram.clear();
	if (has(faults, Fault::ManifestVersion))
		s.version = params.bad_version;
	return s;
}

}  // namespace el3d::manifest
