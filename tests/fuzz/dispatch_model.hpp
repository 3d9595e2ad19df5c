#pragma once
// fuzz_dispatch's model of what el3d's single dispatch entry must do: the allocator (top-down, aligned, tagged,
// never below RMM_PAYLOAD_LIMIT), the GPT (each granule's PAS, as the platform starts it and as the Realm world may
// change it) and the boot state of each CPU, written from docs/abi.md and docs/boot.md rather than from the code.
// Each operation returns what the monitor must answer; the fuzz target compares.
#include "el3d/monitor/monitor.hpp"
#include "el3d/platform/platform.hpp"

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <vector>

namespace el3d::fuzz {

struct ModelCpu {
	CpuBootState state = CpuBootState::Off;
	int64_t result = 0;
	uint64_t completions = 0;
	uint64_t token = 0;
	uint64_t entries = 0;
	bool entered = false;   // entered in the current activation
	bool attached = false;  // a session holds it (not persisted)
};

// What an SMC must answer. `full`: every register is known; otherwise only the state change is modelled.
struct SmcExpect {
	bool accepted = true;  // false: not a CPU of the platform (call() returns false)
	bool full = false;
	SmcResult regs{};
};

struct EntryExpect {
	bool refused = false;
	bool conflict = false;  // attach(): SessionConflict rather than EntryRefused
	Entry entry;
};

class Model {
public:
	Model(const Geometry& g, Abi abi, uint64_t log_capacity);

	const Geometry& geometry() const { return g_; }
	Abi abi() const { return abi_; }

	// --- GPT ---------------------------------------------------------------------------------
	enum class GptResult { Ok, BadAddr, BadPas };
	std::optional<Gpi> initial(uint64_t pa) const;  // nullopt: block-mapped
	Gpi current(uint64_t pa) const;                 // pa granule-mapped
	GptResult set_gpi(uint64_t pa, Gpi to);
	std::array<uint64_t, 16> gpt_counts() const;
	// Interesting addresses: granule `k` of each kind of range (DRAM, carveout, device, fixed).
	const std::vector<GptRange>& tracked() const { return tracked_; }
	const std::vector<GptRange>& device() const { return device_; }
	const std::vector<GptRange>& fixed() const { return fixed_; }
	const std::map<uint64_t, Gpi>& changed() const { return changed_; }

	// --- allocator -----------------------------------------------------------------------------
	uint64_t top() const { return top_; }
	const std::vector<AllocRecord>& regions() const { return regions_; }

	// --- the dispatch entry, boot entries, sessions ----------------------------------------------
	SmcExpect smc(uint32_t cpu, uint64_t fid, const SmcArgs& x);
	EntryExpect enter(uint32_t cpu, EntryKind kind);
	EntryExpect attach(uint32_t cpu);
	void detach(uint32_t cpu);
	void reset();
	void reopen();  // the Monitor and the carveout file closed and opened again: sessions end
	const std::vector<ModelCpu>& cpus() const { return cpus_; }
	uint64_t activation() const { return activation_; }
	bool failed() const { return failure_.has_value(); }
	bool served(uint32_t fid) const;  // normalised FID: served by this ABI profile

private:
	SmcExpect allocate(uint32_t cpu, const SmcArgs& x, SmcResult out);
	SmcExpect reserve(uint32_t cpu, const SmcArgs& x, SmcResult out);
	std::optional<uint64_t> fresh(uint32_t cpu, uint64_t size, unsigned align, uint32_t id, uint16_t flags);
	void new_activation();

	Geometry g_;
	Abi abi_;
	uint64_t log_capacity_;
	std::vector<GptRange> tracked_, device_, fixed_;
	std::map<uint64_t, Gpi> changed_;  // granules not in their initial PAS
	uint64_t top_ = 0;
	std::vector<AllocRecord> regions_;
	std::map<uint32_t, std::size_t> tags_;  // id -> index in regions_
	std::vector<ModelCpu> cpus_;
	uint64_t activation_ = 1;
	bool started_ = false;
	std::optional<BootFailure> failure_;
};

}  // namespace el3d::fuzz
