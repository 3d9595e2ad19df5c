#pragma once
// Platform profiles (the RMM carveout of FVP, QEMU virt and QEMU sbsa-ref) and the geometry that
// el3d derives from a profile plus command-line overrides.
#include <cstdint>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace el3d {

inline constexpr uint64_t kGranule = 0x1000;

// A range of physical memory.
struct MemRange {
	uint64_t base;
	uint64_t size;
	uint64_t end() const { return base + size; }
	bool operator==(const MemRange&) const = default;
};

inline constexpr unsigned kMaxDramBanks = 4;

// Granule protection information (GPI) values, as the architecture encodes them.
enum class Gpi : uint8_t {
	NoAccess = 0x0,
	SecureOnly = 0x8,
	NonSecure = 0x9,
	Root = 0xA,
	Realm = 0xB,
	NonSecureOnly = 0xD,
	Any = 0xF,
};

// A range of physical memory the emulated GPT maps granule by granule, and the PAS its granules
// start in. Everything else below 2^pa_bits is treated as block-mapped.
struct GptRange {
	uint64_t base;
	uint64_t size;
	Gpi initial;
	uint64_t end() const { return base + size; }
};

inline constexpr unsigned kMaxFixedPasRanges = 4;
// GPCCR_EL3.L0GPTSZ of every platform el3d emulates (TF-A's PLATFORM_L0GPTSZ): one L0 GPT entry
// covers 1 GiB, as a block or as a table of granules.
inline constexpr unsigned kGptL0Bits = 30;
inline constexpr unsigned kMaxDeviceWindows = 2;

struct PlatformProfile {
	std::string_view name;
	std::string_view description;
	uint64_t rmm_base;         // RMM_BASE
	uint64_t rmm_limit;        // RMM_LIMIT == RMM_SHARED_BASE
	uint64_t shared_size;      // RMM_SHARED_SIZE (one 4 KiB page)
	uint64_t payload_size_seed;  // RMM_PAYLOAD_LIMIT - RMM_BASE in the seed ABI (0x800000)
	uint64_t payload_size_tfa;   // the same in upstream TF-A (0 where upstream defines none)
	uint32_t core_count;       // PLATFORM_CORE_COUNT
	unsigned pa_bits;          // protected physical address size (PPS) of the GPT, in bits
	MemRange dram[kMaxDramBanks];  // DRAM banks, ascending; unused entries have size 0
	// Memory outside DRAM and the carveout that the platform's GPT maps granule by granule in a
	// PAS no Realm-world call can change (Secure or Root: TF-A's PAS regions), ascending; unused
	// entries have size 0.
	GptRange fixed_pas[kMaxFixedPasRanges];
	// The platform's non-coherent device (PCIe) memory windows, Non-secure: the Boot Manifest's
	// plat_ncoh_region list and part of the Non-secure memory el3d backs (src/nsmem). Ascending;
	// unused entries have size 0.
	MemRange device[kMaxDeviceWindows];

	std::span<const MemRange> dram_banks() const { return used(dram); }
	std::span<const GptRange> fixed_pas_ranges() const { return used(fixed_pas); }
	std::span<const MemRange> device_windows() const { return used(device); }

private:
	// The entries of a fixed-size table up to the first unused one (size 0).
	template <class T, std::size_t N>
	static std::span<const T> used(const T (&table)[N])
	{
		std::size_t n = 0;
		while (n < N && table[n].size != 0)
			++n;
		return {table, n};
	}
};

std::span<const PlatformProfile> platform_profiles();
// nullptr if unknown.
const PlatformProfile* find_platform(std::string_view name);
// "fvp, qemu, qemu-sbsa"
std::string platform_names();

// The physical layout el3d emulates. The carveout file holds the image of
// [rmm_base, shared_base + shared_size).
struct Geometry {
	std::string platform;
	uint64_t rmm_base = 0;
	uint64_t rmm_limit = 0;      // end of the allocatable carveout; the shared page starts here
	uint64_t shared_size = 0;
	uint64_t payload_limit = 0;  // allocations never go below this address
	uint32_t core_count = 0;
	uint32_t region_slots = 0;   // tagged region ids are 1 .. region_slots-1
	unsigned pa_bits = 40;       // physical address size covered by the granule protection table
	std::vector<MemRange> dram;  // normal-world DRAM banks, ascending

	uint64_t shared_base() const { return rmm_limit; }
	uint64_t image_size() const { return rmm_limit + shared_size - rmm_base; }
	uint64_t image_end() const { return rmm_limit + shared_size; }
	bool operator==(const Geometry&) const = default;
};

inline constexpr uint32_t kDefaultRegionSlots = 4;   // the seed's NR_MEM_SLOTS
inline constexpr uint32_t kMaxRegionSlots = 65536;   // the id field is 16 bits wide
inline constexpr uint32_t kMaxCores = 4096;          // RMM_EL3_IFC_MAX_CPUS

// The payload size (RMM_PAYLOAD_LIMIT - RMM_BASE) a new carveout gets when none is given: the
// seed ABI's 0x800000 on every platform, or upstream TF-A's (6 MiB on fvp and qemu-sbsa; the seed's
// on qemu, where upstream defines no payload limit).
enum class PayloadDefault : uint8_t { Seed, Tfa };
uint64_t default_payload_size(const PlatformProfile& profile, PayloadDefault d);

struct GeometryOverrides {
	std::optional<uint64_t> rmm_base;
	std::optional<uint64_t> rmm_size;      // RMM_LIMIT - RMM_BASE
	std::optional<uint64_t> payload_size;  // RMM_PAYLOAD_LIMIT - RMM_BASE
	std::optional<uint32_t> region_slots;
	std::optional<uint32_t> core_count;
	// Not an override: the default that applies when payload_size is unset (the ABI the file is
	// created for). any() ignores it.
	PayloadDefault payload_default = PayloadDefault::Seed;

	bool any() const { return rmm_base || rmm_size || payload_size || region_slots || core_count; }
};

class GeometryError : public std::invalid_argument {
	using std::invalid_argument::invalid_argument;
};

// Profile numbers (payload size: overrides.payload_size, else default_payload_size()) plus
// overrides, validated: page alignment, payload
// inside the carveout, no wrap-around past 2^64, slot and core counts in range. Throws GeometryError.
Geometry make_geometry(const PlatformProfile& profile, const GeometryOverrides& overrides);

// One line per field, e.g. "  rmm_base: 0xfdc00000"
std::string describe(const Geometry& g);

// DRAM banks (Non-secure) with the carveout [rmm_base, image_end) cut out of them (Realm),
// ascending and non-overlapping. This is the part of the GPT the carveout file stores (its map's
// size is part of the file's header), so it must not change for an existing geometry.
std::vector<GptRange> gpt_layout(const Geometry& g);

// The platform's device windows (PlatformProfile::device) with whatever gpt_layout(g) tracks cut
// out of them, Non-secure, ascending: TF-A's GPT maps them granule by granule, so the Realm world
// can delegate their granules. Derived from the platform name; the carveout file does not store
// them in its GPT map (whose size must not change), the GPT keeps their Realm granules in the
// state document instead.
std::vector<GptRange> gpt_device_ranges(const Geometry& g);

// Granule-mapped memory whose PAS no Realm-world call can change, ascending, derived from the
// platform name and never stored: the platform's fixed-PAS ranges (PlatformProfile::fixed_pas:
// Secure or Root) with what gpt_layout(g) and gpt_device_ranges(g) cover cut out of them (a
// carveout moved with --rmm-base wins), and GPI any for the rest of every L0 entry (1 GiB) that
// holds granule-mapped memory, as TF-A's GPT has it.
std::vector<GptRange> gpt_fixed_ranges(const Geometry& g);

// The GPT map keeps 4 bits per granule, range after range, each range's part starting 8-byte
// aligned. Byte offset of range `i`'s part, and the size of the whole map.
uint64_t gpt_map_offset(const std::vector<GptRange>& ranges, std::size_t i);
uint64_t gpt_map_size(const std::vector<GptRange>& ranges);

}  // namespace el3d
