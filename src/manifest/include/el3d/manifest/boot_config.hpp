#pragma once
// The boot configuration: which Boot Manifest EL3 writes, which faults it injects, the cold-boot registers, and the
// memory pre-marked in the GPT. Read from a JSON or TOML file that starts from the platform's defaults:
//
//   faults = ["dram-unsorted"]                      # names from fault_table()
//   [manifest]                                      # any list given replaces the platform's whole list
//   version = 5
//   [[manifest.dram]]
//   base = 0x80000000                               # numbers: integers, or strings "0x800000", "8M", "2G"
//   size = "2G"
//   [[manifest.consoles]]
//   base = 0x1C0C0000
//   name = "pl011"                                  # map_pages (1), name ("pl011") and flags (0) are optional
//   clk_in_hz = 14745600
//   baud_rate = 115200
//   [[manifest.root_complexes]]
//   ecam_base = 0x40000000                          # segment optional (0)
//   ports = [{ id = 8, bdfs = [{ base = 0, top = 0x7FFF }] }]   # off, smmu_idx optional (0)
//   [fault_params]                                  # each optional, see FaultParams
//   dram_banks = 64
//   [boot]                                          # cold-boot registers, each optional, see BootOverrides
//   x2_core_count = 4097
//   [[gpt]]
//   base = 0xFFC00000
//   size = "3M"
//   pas = "root"
//
// The JSON form has the same keys ({"manifest": {"dram": [{"base": ..., "size": ...}]}, "faults": [...], ...}).
// Manifest keys: version, plat_data, dram, ncoh, coh (lists of {base, size}), consoles, smmus ({base, r_base}),
// rc_info_version, root_complexes. The file is checked for syntax, key names and value ranges only: it may describe
// a manifest an RMM would reject on purpose; validate_manifest() says what is wrong with it.
#include "el3d/manifest/manifest.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace el3d::manifest {

// Explicit cold-boot register values. Set ones win over the register faults and over the platform's values.
struct BootOverrides {
	std::optional<uint64_t> x1_version;     // RMM-EL3 interface version
	std::optional<uint64_t> x2_core_count;  // number of CPUs
	std::optional<uint64_t> x3_offset;      // x3 = shared page PA + this
	bool operator==(const BootOverrides&) const = default;
};

// A GPT range to mark before the RMM boots (Secure or Root memory that the RMM must not be able to delegate).
// Consumed by the GPT emulation, not here: the monitor applies the ranges when the carveout file is created or
// reset, never at a plain restart (docs/boot.md).
struct PasRange {
	uint64_t base = 0;  // 4 KiB aligned
	uint64_t size = 0;  // 4 KiB multiple, non-zero
	std::string pas;    // "secure" | "root" | "realm" | "ns"
	bool operator==(const PasRange&) const = default;
};

struct BootConfig {
	Spec manifest;
	std::vector<Fault> faults;  // no duplicates, in the order given
	FaultParams params;
	BootOverrides boot;
	std::vector<PasRange> gpt;  // page aligned, non-overlapping
	bool operator==(const BootConfig&) const = default;
};

// A config file that cannot be used. The message names the key, e.g. "manifest.dram[1].size: ...".
class ConfigError : public std::runtime_error {
	using std::runtime_error::runtime_error;
};

enum class Format { Json, Toml };

// The bounded reader every configuration file goes through (the boot configuration, the fault rules of
// src/faults): at most 1 MiB of valid UTF-8 nested at most 32 levels, then JSON, or TOML turned into the same JSON
// tree (integers as signed 64-bit numbers; dates refused). Syntax errors and bounds are ConfigErrors.
nlohmann::json parse_document(std::string_view text, Format fmt);

// The platform's defaults (platform_spec) with no faults, overrides or GPT ranges.
BootConfig default_boot_config(std::string_view platform);

// Starts from default_boot_config(platform) and applies the file. Unknown keys, wrong types, out-of-range numbers,
// unknown fault or PAS names are ConfigErrors; so is an unknown platform.
BootConfig parse_boot_config(std::string_view text, Format fmt, std::string_view platform);

// The format from the extension (.json or .toml, any case). ConfigErrors carry the path.
BootConfig load_boot_config(const std::string& path, std::string_view platform);

// The whole config (every list, even the platform's defaults) as pretty-printed JSON that parse_boot_config() reads
// back to an equal BootConfig. Addresses and sizes are hex strings. Bytes of a console name that are not UTF-8 (a
// name decoded from a page) are written as U+FFFD.
std::string to_json(const BootConfig& config);

// The cold-boot registers EL3 enters the RMM with on the primary CPU.
struct BootRegisters {
	uint64_t x0 = 0;  // CPU index (the primary is 0)
	uint64_t x1 = 0;  // interface version
	uint64_t x2 = 0;  // CPU count
	uint64_t x3 = 0;  // shared page PA
	uint64_t x4 = 0;  // activation token, 0 at first boot
};

// x1..x3 from, by precedence: config.boot, the register faults (with config.params), then the given values.
BootRegisters cold_boot_registers(const BootConfig& config, uint64_t interface_version, uint64_t core_count,
                                  uint64_t shared_pa);

// The page to write at the shared PA: build_manifest(config.manifest, config.faults, config.params, ...).
std::vector<uint8_t> build_manifest(const BootConfig& config, uint64_t shared_pa, std::size_t capacity = kPageSize);

}  // namespace el3d::manifest
