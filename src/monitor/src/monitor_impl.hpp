#pragma once
// Private to the monitor component: the state every handler works on, and the handler table.
#include "el3d/alloc/allocator.hpp"
#include "el3d/monitor/monitor.hpp"

#include <nlohmann/json.hpp>

#include <atomic>
#include <mutex>
#include <span>
#include <unordered_map>

namespace el3d {

// Per-CPU boot progress and the global boot failure, persisted in the carveout's state block.
class BootState {
public:
	explicit BootState(uint32_t core_count) : cpus_(core_count) {}

	CpuStatus& cpu(uint32_t n) { return cpus_[n]; }
	const CpuStatus& cpu(uint32_t n) const { return cpus_[n]; }
	uint32_t core_count() const { return static_cast<uint32_t>(cpus_.size()); }
	const std::optional<BootFailure>& failure() const { return failure_; }
	void set_failure(BootFailure f) { failure_ = f; }
	uint64_t activation() const { return activation_; }

	nlohmann::json to_json() const;
	void load(const nlohmann::json& j);  // tolerant of a missing document (new file)
	void clear();

private:
	std::vector<CpuStatus> cpus_;
	std::optional<BootFailure> failure_;
	uint64_t activation_ = 1;
};

// One SMC in flight: x1..x12 in, x0..x7 out. Registers a command does not write keep the
// caller's values, as EL3 leaves them in the saved context.
struct SmcContext {
	uint32_t cpu;
	uint32_t fid;  // normalised: low 32 bits, SVE hint cleared
	const SmcArgs& in;
	SmcResult& out;

	uint64_t x(unsigned n) const { return in[n - 1]; }  // x1 .. x12
	void ret(int64_t x0) { out[0] = static_cast<uint64_t>(x0); }
	void ret(int64_t x0, uint64_t x1)
	{
		out[0] = static_cast<uint64_t>(x0);
		out[1] = x1;
	}
};

struct Monitor::Impl {
	Impl(std::unique_ptr<Carveout> c, MonitorOptions o);

	void commit();  // persist the state block (boot state) durably

	std::unique_ptr<Carveout> carveout;
	Allocator allocator;
	BootState boot;
	MonitorOptions options;
	mutable std::mutex mu;
	std::atomic<uint64_t> calls{0};

	using Handler = void (*)(Impl&, SmcContext&);
	struct Command {
		const char* name;
		Handler handler;
	};
	std::unordered_map<uint32_t, Command> commands;
};

// Command handlers, one per file under handlers/.
void handle_allocate_memory(Monitor::Impl& m, SmcContext& c);
void handle_boot_complete(Monitor::Impl& m, SmcContext& c);

// The FIDs of the active ABI profile and their handlers.
struct CommandEntry {
	uint32_t fid;
	const char* name;
	Monitor::Impl::Handler handler;
};
std::span<const CommandEntry> seed_commands();

}  // namespace el3d
