#pragma once
// The emulated EL3 monitor: one dispatch entry for every SMC, whatever front end it came from
// (the gRPC daemon, the client shim's in-process mode, the tests).
#include "el3d/carveout/carveout.hpp"
#include "el3d/platform/platform.hpp"

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace el3d {

using SmcArgs = std::array<uint64_t, 12>;    // x1 .. x12
using SmcResult = std::array<uint64_t, 8>;   // x0 .. x7

struct MonitorOptions {
	// Refuse RMM_ALLOCATE_MEMORY (E_RMM_UNK) from a CPU that has completed its boot.
	bool strict_boot = false;
};

enum class CpuBootState { Off, Booting, Booted, Failed };

struct CpuStatus {
	uint32_t cpu = 0;
	CpuBootState state = CpuBootState::Off;
	int64_t boot_result = 0;     // x1 of the last RMM_BOOT_COMPLETE
	uint64_t completions = 0;    // how many RMM_BOOT_COMPLETE this CPU sent
};

struct BootFailure {
	uint32_t cpu = 0;
	int64_t code = 0;
};

// What `el3ctl status` shows.
struct MonitorStatus {
	Geometry geometry;
	std::string carveout_path;
	std::string carveout_uuid;
	uint64_t image_offset = 0;
	std::string abi;
	bool strict_boot = false;
	uint64_t top = 0;
	std::vector<AllocRecord> regions;  // every allocation, in order; id 0 = untagged
	uint64_t log_capacity = 0;
	uint64_t allocations_after_boot = 0;
	std::vector<CpuStatus> cpus;  // CPUs that have done anything
	std::optional<BootFailure> boot_failure;
	uint64_t epoch = 0;
	uint64_t activation = 0;
	uint64_t smc_calls = 0;  // since the daemon started
};

class Monitor {
public:
	Monitor(std::unique_ptr<Carveout> carveout, MonitorOptions options);
	~Monitor();
	Monitor(const Monitor&) = delete;
	Monitor& operator=(const Monitor&) = delete;

	// The single entry into the core. `fid` is x0 as the caller set it. Returns false (and
	// leaves `out` alone) only when `cpu` is not a CPU of this platform; every other outcome,
	// including unknown FIDs, is an SMC result in `out`. Thread-safe.
	bool call(uint32_t cpu, uint64_t fid, const SmcArgs& x, SmcResult& out);

	MonitorStatus status() const;
	// Forget every region and every CPU's boot state; the image reads as zero afterwards.
	void reset();

	const Geometry& geometry() const;
	const Carveout& carveout() const;

	// Direct access to the emulated physical memory (the image), e.g. for a debugger view.
	// False if [pa, pa+len) is not inside the image. Writes are flushed before returning.
	bool read_memory(uint64_t pa, uint64_t len, std::vector<uint8_t>& out) const;
	bool write_memory(uint64_t pa, const uint8_t* data, uint64_t len);

	struct Impl;

private:
	std::unique_ptr<Impl> impl_;
};

}  // namespace el3d
