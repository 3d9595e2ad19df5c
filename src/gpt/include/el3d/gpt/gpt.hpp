#pragma once
// The emulated granule protection table: the physical address space (PAS) of every 4 KiB
// granule of
//   - the tracked ranges (DRAM and the RMM carveout), kept as 4 bits per granule in the carveout
//     file's GPT map so that delegations survive restarts;
//   - the device windows (gpt_device_ranges(): the PCIe memory windows of fvp and qemu-sbsa),
//     Non-secure to start with, whose Realm granules are kept in the carveout's state document
//     (key kDeviceStateKey), committed before a transition returns, so that they survive restarts
//     too without changing the size of the file's GPT map;
//   - the platform's fixed-PAS ranges (gpt_fixed_ranges(): Secure and Root memory, and the GPI-any
//     rest of every L0 entry that holds granule-mapped memory), never stored, as nothing can
//     change them.
// Everything else below 2^pa_bits is treated as block-mapped, as a GPT L0 block descriptor maps it.
// Whoever else commits the carveout's state document must carry device_state() under
// kDeviceStateKey (the monitor's state document does), and should then commit a device
// transition itself (set_committer()).
#include "el3d/carveout/carveout.hpp"

#include <array>
#include <cstdint>
#include <functional>
#include <mutex>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace el3d {

// "ns", "realm", "secure", "root", "no-access", "nso", "any"; nullopt if unknown.
std::optional<Gpi> gpi_from_name(std::string_view name);
const char* gpi_name(Gpi g);

class Gpt {
public:
	enum class Result { Ok, BadAddr, BadPas };

	explicit Gpt(Carveout& carveout);

	// A Realm-world transition of one granule to `target`, with the checks of TF-A's
	// gpt_transition_pas() in its order: granule alignment, inside the PA space (the last granule
	// of the space is rejected, as TF-A does), granule-mapped (tracked or fixed, not block-mapped),
	// then the policy: a Realm-world caller may turn NS into Realm and Realm into NS, nothing else
	// (a fixed-PAS granule is Secure, Root or any, so always BadPas; so is a granule already in
	// `target`). Thread-safe; durable before returning Ok.
	Result set_gpi(uint64_t pa, Gpi target);
	Result delegate(uint64_t pa) { return set_gpi(pa, Gpi::Realm); }
	Result undelegate(uint64_t pa) { return set_gpi(pa, Gpi::NonSecure); }

	// The PAS of a granule; nullopt if it is block-mapped.
	std::optional<Gpi> lookup(uint64_t pa) const;
	// Force a tracked range into a PAS (configuration: pre-marking Secure or Root memory).
	// Throws std::invalid_argument if [base, base+size) is misaligned or not inside one tracked
	// range; inside a fixed-PAS range it is accepted (and changes nothing) only with that range's
	// own PAS. check_range() makes the same checks and changes nothing.
	void set_range(uint64_t base, uint64_t size, Gpi gpi);
	void check_range(uint64_t base, uint64_t size, Gpi gpi) const;

	// The fixed-PAS ranges (gpt_fixed_ranges() of the carveout's geometry).
	const std::vector<GptRange>& fixed_ranges() const { return fixed_; }
	// The device windows (gpt_device_ranges() of the carveout's geometry), with their initial PAS.
	const std::vector<GptRange>& device_ranges() const { return device_; }
	// The device windows' Realm granules as the state document keeps them: an array of
	// [PA of the first granule, granule count] runs, ascending.
	nlohmann::json device_state() const;
	// The same runs, without building JSON.
	std::vector<std::pair<uint64_t, uint64_t>> device_runs_list() const;
	// How a device transition is made durable: `commit` writes the whole state document (with
	// device_state()) and throws if the file refuses it. Called with the GPT's lock held, on the
	// transition's thread; device_state() may be called from it. Without one, the GPT commits
	// the carveout's current document with its own key replaced.
	void set_committer(std::function<void()> commit);
	static constexpr const char* kDeviceStateKey = "gpt_device_realm";

	// Granules per PAS over all granule-mapped ranges, tracked and fixed (indexed by the GPI value).
	std::array<uint64_t, 16> counts() const;
	// Re-read the map and the device windows' state (after the carveout was reset). Runs of the
	// state document outside today's device windows are dropped.
	void reload();

private:
	struct Loc {
		std::size_t range;
		uint64_t index;  // granule index within the range
	};
	std::optional<Loc> locate(uint64_t pa) const;
	const GptRange* fixed_at(uint64_t pa) const;
	const GptRange* device_at(uint64_t pa) const;
	nlohmann::json device_runs() const;  // caller holds mu_
	Result set_device_gpi(uint64_t pa, Gpi to);  // caller holds mu_
	// Throws std::invalid_argument; the first and last granule to change, nullopt for a no-op
	// inside a fixed-PAS range. Caller holds mu_.
	std::optional<std::pair<Loc, Loc>> checked_range(uint64_t base, uint64_t size, Gpi gpi) const;
	Gpi get(const Loc& l) const;
	std::error_code put(const Loc& l, Gpi g);
	void scan(const uint8_t* map, uint64_t off, uint64_t from, uint64_t to, uint64_t n, uint8_t initial);  // reload()'s

	Carveout& carveout_;
	const std::vector<GptRange> fixed_;
	const std::vector<GptRange> device_;
	std::set<uint64_t> device_realm_;  // PAs of the device windows' Realm granules
	std::vector<uint64_t> offsets_;
	mutable std::recursive_mutex mu_;  // recursive: the committer reads device_state()
	std::function<void()> committer_;
	std::array<uint64_t, 16> counts_{};
};

}  // namespace el3d
