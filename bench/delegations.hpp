#pragma once
// (g) of el3d_bench: delegating 1 GiB of DRAM (262 144 granules, RMM_GTSI_DELEGATE) and undelegating it again, from
// one CPU and from two at once, at each durability level: through el3client (whatever channel the shim picks to the
// daemon) and through the core alone in this process (no transport), which shows what the transport costs.
#include "el3d/carveout/carveout.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

namespace el3d::bench {

struct DelegateRow {
	std::string durability;  // "process" / "power"
	std::string path;        // how the SMCs reach the monitor
	unsigned cpus = 0;
	uint64_t granules = 0;       // delegated, then undelegated, by all CPUs together
	double delegate_s = 0;       // all CPUs: first delegation's start to the last one's end
	double undelegate_s = 0;
	uint64_t state_changing_smcs = 0, smc_flushes = 0, grouped = 0;  // the daemon's (core's) flush counters
};

// Granules [kDelegateBase, kDelegateBase + granules * 4 KiB) of FVP DRAM, split evenly between the CPUs.
inline constexpr uint64_t kDelegateBase = 0x80000000;

// Through el3client connected to the daemon at `socket` (CPU sessions, el3_cpu_enter + el3_smc). Throws on a
// failed call or an answer other than E_RMM_OK.
DelegateRow shim_delegations(const std::string& socket, const std::string& durability, unsigned cpus, uint64_t granules);
// Through Monitor::call() on a carveout file of its own in `dir` (FVP, seed ABI), at `durability`.
DelegateRow core_delegations(const std::string& dir, Durability durability, unsigned cpus, uint64_t granules);
// The channel el3client uses to reach the daemon at `socket`, as the report names it.
std::string shim_channel(const std::string& socket);

void print_g(std::FILE* out, const std::vector<DelegateRow>& rows);
nlohmann::json delegations_json(const std::vector<DelegateRow>& rows);

}  // namespace el3d::bench
