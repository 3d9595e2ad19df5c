#pragma once
// The emulated granule protection table: the physical address space (PAS) of every 4 KiB
// granule of the tracked ranges (DRAM and the RMM carveout), kept as 4 bits per granule in the
// carveout file so that delegations survive restarts. Everything below 2^pa_bits that is not
// tracked is treated as block-mapped, as a GPT L0 block descriptor would map it.
#include "el3d/carveout/carveout.hpp"

#include <array>
#include <cstdint>
#include <mutex>
#include <string>

namespace el3d {

// "ns", "realm", "secure", "root", "no-access", "nso", "any"; nullopt if unknown.
std::optional<Gpi> gpi_from_name(std::string_view name);
const char* gpi_name(Gpi g);

class Gpt {
public:
	enum class Result { Ok, BadAddr, BadPas };

	explicit Gpt(Carveout& carveout);

	// Realm-world transitions, with the checks in TF-A's order: granule alignment, inside the
	// PA space (the last granule of the space is rejected, as TF-A does), tracked (not
	// block-mapped), then the current PAS (NS for delegate, Realm for undelegate).
	// Thread-safe; durable before returning Ok.
	Result delegate(uint64_t pa);
	Result undelegate(uint64_t pa);

	// The PAS of a granule; nullopt if it is not tracked.
	std::optional<Gpi> lookup(uint64_t pa) const;
	// Force a tracked range into a PAS (configuration: pre-marking Secure or Root memory).
	// Throws std::invalid_argument if [base, base+size) is misaligned or not fully tracked.
	void set_range(uint64_t base, uint64_t size, Gpi gpi);

	// Granules per PAS over all tracked ranges (indexed by the GPI value).
	std::array<uint64_t, 16> counts() const;
	// Re-read after the carveout was reset.
	void reload();

private:
	struct Loc {
		std::size_t range;
		uint64_t index;  // granule index within the range
	};
	std::optional<Loc> locate(uint64_t pa) const;
	Gpi get(const Loc& l) const;
	std::error_code put(const Loc& l, Gpi g);
	Result transition(uint64_t pa, Gpi from, Gpi to);

	Carveout& carveout_;
	std::vector<uint64_t> offsets_;
	mutable std::mutex mu_;
	std::array<uint64_t, 16> counts_{};
};

}  // namespace el3d
