#pragma once
// The carveout allocator: tagged, top-down, stack-like allocation from RMM_LIMIT towards the end
// of the RMM payload, with nothing ever freed (short of a reset). Every allocation is recorded in
// the carveout's durable allocation log before it is handed out, so the allocator's whole state
// (top pointer and tag table) is rebuilt from the log after a restart.
#include "el3d/carveout/carveout.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace el3d {

// Place `size` bytes below `top`, aligned down to 2^align_bits, not below `floor`.
// nullopt if it does not fit; never wraps around (unlike a bare `top - size`).
std::optional<uint64_t> place_top_down(uint64_t top, uint64_t floor, uint64_t size, unsigned align_bits);

struct AllocRequest {
	uint64_t size = 0;
	unsigned align_bits = 0;  // < 64
	uint32_t id = 0;          // < region_slots; 0 = untagged
	uint32_t cpu = 0;
	uint64_t activation = 0;
	bool after_boot_complete = false;
	bool local_cpu = false;  // RMM_RESERVE_MEMORY's LOCAL_CPU flag (recorded only)
};

enum class AllocStatus {
	Fresh,         // new memory, zeroed
	Existing,      // a tagged region handed back with its content
	TooLarge,      // tagged region exists but is smaller than requested
	NoSpace,       // does not fit between the payload limit and the top
	LogFull,       // the allocation log has no room for another record
	StorageError,  // the file system refused to back the region (e.g. ENOSPC)
};

struct AllocOutcome {
	AllocStatus status;
	uint64_t addr = 0;
	std::string detail;  // human-readable reason for failures
};

class Allocator {
public:
	explicit Allocator(Carveout& carveout);

	// Not thread-safe: the monitor serialises calls.
	AllocOutcome allocate(const AllocRequest& req);

	uint64_t top() const { return top_; }
	// The tagged region with this id, if it exists.
	std::optional<AllocRecord> tagged(uint32_t id) const;
	const std::vector<AllocRecord>& records() const { return carveout_.log(); }
	// Re-read the log (after the carveout was reset).
	void reload();

private:
	Carveout& carveout_;
	uint64_t top_ = 0;
	std::vector<int64_t> slot_record_;  // per tag: index into records(), -1 if unused
};

}  // namespace el3d
