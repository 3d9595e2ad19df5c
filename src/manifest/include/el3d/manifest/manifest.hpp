#pragma once
// The Boot Manifest that EL3 writes at offset 0 of the 4 KiB EL3-RMM shared page before it enters the RMM at cold
// boot (RMM-EL3 interface, Boot Manifest v0.5), and deliberate breakage of it for testing the RMM's boot error paths.
//
// Three layers, each usable alone:
//   Spec            what the manifest says (lists of DRAM banks, consoles, device ranges, SMMUs, PCIe root
//                   complexes), as plain values. platform_spec() gives what TF-A writes for each el3d platform.
//   build_manifest  the exact bytes: the 168-byte core struct at offset 0, the arrays after it in the same page,
//                   every pointer a physical address inside the page, every list checksummed (tfa-rmmd.md §4.5).
//   validate_manifest  reads a page back the way an RMM does (tfrmm.md §1.4) and lists what it would reject.
//
// No SMC handling and no I/O here: the daemon decides where the page lives and when it is written.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace el3d::manifest {

// ---- Versions and sizes (rmm_core_manifest.h; the spec prose's "160 bytes" is wrong, the v0.5 core is 168) ----

// bits [30:16] major, [15:0] minor, bit 31 RES0: the encoding of the interface, manifest and RC-info versions.
constexpr uint32_t make_version(uint32_t major, uint32_t minor) { return ((major & 0x7FFF) << 16) | (minor & 0xFFFF); }
constexpr uint32_t version_major(uint64_t v) { return static_cast<uint32_t>((v >> 16) & 0x7FFF); }
constexpr uint32_t version_minor(uint64_t v) { return static_cast<uint32_t>(v & 0xFFFF); }

inline constexpr uint32_t kManifestVersion = make_version(0, 5);     // what TF-A writes today
inline constexpr uint32_t kMinManifestVersion = make_version(0, 3);  // the oldest a current TF-RMM accepts
inline constexpr uint32_t kRcInfoVersion = make_version(0, 1);       // root_complex_list.rc_info_version
// The RMM-EL3 interface version TF-A passes in x1 (default build, 2.0) and the one a current TF-RMM requires.
inline constexpr uint32_t kInterfaceVersion = make_version(2, 0);

inline constexpr std::size_t kPageSize = 4096;    // the shared buffer is exactly one 4 KiB page
inline constexpr std::size_t kCoreSize = 168;     // struct rmm_manifest v0.5
inline constexpr std::size_t kBankSize = 16;      // struct memory_bank
inline constexpr std::size_t kConsoleSize = 48;   // struct console_info
inline constexpr std::size_t kSmmuSize = 16;      // struct smmu_info
inline constexpr std::size_t kRcSize = 24;        // struct root_complex_info (v0.1)
inline constexpr std::size_t kRootPortSize = 16;  // struct root_port_info
inline constexpr std::size_t kBdfSize = 8;        // struct bdf_mapping_info
// console_info.name is char[8] and NUL-terminated, so a name has at most 7 characters.
inline constexpr std::size_t kConsoleNameMax = 7;

// TF-RMM's plat/arm limit on DRAM banks (build option PLAT_ARM_MAX_DRAM_BANKS, default 2): more banks than this and
// rmm_el3_ifc_get_dram_data_validated_pa() reports E_RMM_BOOT_MANIFEST_DATA_ERROR.
inline constexpr std::size_t kRmmMaxDramBanks = 2;
// The most CPUs an RMM supports: the CPU index lives in the low 12 bits of TPIDR_EL2 (RMM_EL3_IFC_MAX_CPUS).
inline constexpr uint64_t kRmmMaxCpus = 4096;

// ---- The data model ----

// A memory_bank: one DRAM bank, or one device (non-)coherent address range. Physical addresses.
struct Bank {
	uint64_t base = 0;
	uint64_t size = 0;
	bool operator==(const Bank&) const = default;
};

// A console_info: a UART the RMM may use. TF-RMM's plat/arm only takes a console named "pl011".
struct Console {
	uint64_t base = 0;       // MMIO base
	uint64_t map_pages = 1;  // pages the RMM maps for the MMIO
	std::string name;        // at most kConsoleNameMax characters; stored NUL-padded in char[8]
	uint64_t clk_in_hz = 0;  // UART input clock
	uint64_t baud_rate = 0;
	uint64_t flags = 0;  // RES0
	bool operator==(const Console&) const = default;
};

// An smmu_info: an SMMUv3 and the base of its Realm register pages.
struct Smmu {
	uint64_t base = 0;
	uint64_t r_base = 0;
	bool operator==(const Smmu&) const = default;
};

// A bdf_mapping_info: requester IDs [base, top] (top inclusive since TF-A 8ac2abc09) go to SMMU smmu_idx with
// StreamID = RequesterID + (off << 16).
struct BdfMapping {
	uint16_t base = 0, top = 0, off = 0, smmu_idx = 0;
	bool operator==(const BdfMapping&) const = default;
};

// A root_port_info and its BDF mappings.
struct RootPort {
	uint16_t id = 0;
	std::vector<BdfMapping> bdfs;
	bool operator==(const RootPort&) const = default;
};

// A root_complex_info (v0.1): ECAM base (the ECAM is implicitly 256 MiB), PCIe segment, root ports.
struct RootComplex {
	uint64_t ecam_base = 0;
	uint8_t segment = 0;
	std::vector<RootPort> ports;
	bool operator==(const RootComplex&) const = default;
};

// Everything the Boot Manifest carries. An empty list is encoded as {0, NULL, 0}, which the RMM reads as "none"
// (for DRAM that is an error).
struct Spec {
	uint32_t version = kManifestVersion;
	uint64_t plat_data = 0;  // PA of the platform manifest, 0 = none
	std::vector<Bank> dram, ncoh, coh;
	std::vector<Console> consoles;
	std::vector<Smmu> smmus;
	uint32_t rc_info_version = kRcInfoVersion;
	std::vector<RootComplex> root_complexes;
	bool operator==(const Spec&) const = default;
};

// What TF-A's plat_rmmd_load_manifest() writes on each el3d platform ("fvp", "qemu", "qemu-sbsa"), with the DRAM
// banks of el3d's platform profile (el3d::find_platform(name)->dram_banks()). Throws std::invalid_argument for an
// unknown platform. Sources are listed next to each value in spec.cpp.
Spec platform_spec(std::string_view platform);

// The manifest el3d gives an RMM when no boot configuration says otherwise: platform_spec() without what el3d does
// not back (SMMUs and PCIe root complexes, whose register pages and ECAM an RMM process could not read).
Spec default_spec(std::string_view platform);

// ---- Deliberate breakage ----

// Each fault breaks one thing an RMM checks at cold boot, and nothing else, so that each boot error path can be
// driven on purpose. The first group breaks the manifest, the last group the boot registers x1..x3.
enum class Fault {
	// The list's checksum is off by one: E_RMM_BOOT_MANIFEST_DATA_ERROR (-7).
	DramChecksum,
	ConsoleChecksum,
	NcohChecksum,
	CohChecksum,
	SmmuChecksum,
	RootComplexChecksum,
	// DRAM banks (checksums stay correct, so the RMM sees the data problem itself): -7.
	DramUnsorted,   // two banks in descending order (a single bank is split in two first)
	DramOverlap,    // the second bank starts one page before the end of the first
	DramUnaligned,  // the first bank's base moves by 0x800 (its size shrinks by a page so it stays inside)
	DramZeroSize,   // the last bank's size is 0
	DramTooMany,    // the DRAM is split into FaultParams::dram_banks banks (default 64)
	DramNone,       // {num_banks 0, NULL, checksum 0}
	// The manifest version is FaultParams::bad_version (default 0.2):
	// E_RMM_BOOT_MANIFEST_VERSION_NOT_SUPPORTED (-6).
	ManifestVersion,
	// Boot registers, not in the manifest (see BootOverrides in boot_config.hpp):
	// x2 = FaultParams::core_count (default 4097): E_RMM_BOOT_CPUS_OUT_OF_RANGE (-3)
	CpuCount,
	// x3 = shared page + FaultParams::shared_offset (default 8): E_RMM_BOOT_INVALID_SHARED_BUFFER (-5)
	SharedBufferMisaligned,
	// x1 = FaultParams::interface_version (default 0.8): E_RMM_BOOT_VERSION_NOT_VALID (-2)
	InterfaceVersion,
};

struct FaultInfo {
	Fault fault;
	std::string_view name;  // stable: used in config files, CLI flags and as the Problem::kind it produces
	std::string_view description;
	int64_t code;        // the E_RMM_BOOT_* code an RMM reports for it
	bool boot_register;  // true: changes x1..x3, not the manifest
};

// Every fault, in enum order.
std::span<const FaultInfo> fault_table();
const FaultInfo& fault_info(Fault f);
std::string_view fault_name(Fault f);
// Accepts exactly the names of fault_table(); nullopt otherwise.
std::optional<Fault> parse_fault(std::string_view name);
// "dram-checksum, console-checksum, ..."
std::string fault_names();

// The values the faults write. Defaults are chosen to break every RMM, not just a particular build.
struct FaultParams {
	uint32_t dram_banks = 64;  // DramTooMany: well above TF-RMM's 2, and 168 + 64*16 B still fits the page
	uint32_t bad_version = make_version(0, 2);        // ManifestVersion: 0.2, older than the 0.3 an RMM requires
	uint64_t core_count = kRmmMaxCpus + 1;            // CpuCount: x2
	uint64_t shared_offset = 8;                       // SharedBufferMisaligned: x3 = shared page + this
	uint64_t interface_version = make_version(0, 8);  // InterfaceVersion: x1; 0.8 is TF-A with RMM_V1_COMPAT=1
	bool operator==(const FaultParams&) const = default;
};

// The manifest faults that change data rather than bytes (DRAM layout, version) applied to a copy of the spec;
// checksum and register faults leave it unchanged. Throws std::invalid_argument if the DRAM cannot be broken that
// way (no bank, or too few pages to split into the requested number of banks).
Spec apply_data_faults(Spec spec, std::span<const Fault> faults, const FaultParams& params);

// ---- Encoding ----

// The Boot Manifest as `capacity` bytes to copy to the shared page at physical address `shared_pa`: the core struct
// at offset 0, then DRAM banks, consoles, ncoh, coh, SMMUs, root complexes, root ports and BDF mappings, in TF-A's
// order, each checksummed; then zeros. The faults are applied (apply_data_faults, then the checksum corruption).
// Little-endian regardless of the host. Throws std::length_error if it does not fit in `capacity` bytes or a console
// name is longer than kConsoleNameMax, std::invalid_argument for an unaligned shared_pa or a fault that cannot apply.
std::vector<uint8_t> build_manifest(const Spec& spec, const std::vector<Fault>& faults, const FaultParams& params,
                                    uint64_t shared_pa, std::size_t capacity = kPageSize);

// Bytes the encoding of `spec` takes (core struct and arrays), without faults.
std::size_t encoded_size(const Spec& spec);

// The Spec a page encodes (the inverse of build_manifest without faults): for showing what a page holds and for
// round-trip tests. Reads every list whatever the version says. Throws std::invalid_argument if a pointer or count
// leads outside the page; checksums and bank rules are validate_manifest's business, not checked here.
Spec decode_manifest(std::span<const uint8_t> page, uint64_t shared_pa);

// ---- Validation ----

// One reason an RMM would refuse to boot. `kind` is stable: "<list>-<rule>" where list is dram, console, ncoh,
// coh, smmu or root-complex and rule is checksum, pointer, none, too-many, zero-base, zero-size, unaligned,
// unsorted, overlap or above-pa; or manifest-version, manifest-size; or, from validate_boot_args, interface-version,
// cpu-count, cpu-id, shared-buffer-misaligned. A Fault produces the Problem of the same name.
struct Problem {
	std::string kind;
	int64_t code;         // E_RMM_BOOT_* (el3d/smc.h)
	std::string message;  // one line, with the offending values
};

struct Validation {
	std::vector<Problem> problems;  // in the order an RMM meets them; one per kind
	bool ok() const { return problems.empty(); }
	// What the RMM would pass to RMM_BOOT_COMPLETE: the first problem's code, or 0.
	int64_t boot_error() const { return problems.empty() ? 0 : problems.front().code; }
	bool has(std::string_view kind) const;
	// "kind: message" lines.
	std::string describe() const;
};

// Reads the manifest in `page` (the shared page, at physical address `shared_pa`) as TF-RMM's rmm_el3_ifc does and
// reports everything it would reject: a version below 0.3 or of another major (then nothing else is read, as the
// RMM stops there); each list's zero-sum checksum (all six lists, although a current TF-RMM no longer re-checks the
// cached DRAM, device, SMMU and root-complex ones: TF-A always fills them); DRAM present and at most
// `max_dram_banks` banks; every DRAM and device bank with a non-zero, 4 KiB-aligned base and size, ascending,
// non-overlapping and below 2^pa_bits; every pointer, nested ones included, 8-byte aligned with its whole array
// inside the page (el3d backs only the page). Lists newer than the manifest's version are not read.
Validation validate_manifest(std::span<const uint8_t> page, uint64_t shared_pa, unsigned pa_bits,
                             std::size_t max_dram_banks = kRmmMaxDramBanks);

// The cold-boot register checks of rmm_el3_ifc_init(), in its order: x1 compatible with `rmm_version` (same major,
// minor at least as high; -2), x2 <= 4096 (-3), x0 < x2 (-4), x3 non-zero and 4 KiB aligned (-5).
Validation validate_boot_args(uint64_t x0, uint64_t x1, uint64_t x2, uint64_t x3,
                              uint32_t rmm_version = kInterfaceVersion);

}  // namespace el3d::manifest
