#pragma once
// The emulated granule protection table: the physical address space (PAS) of every 4 KiB
// granule of the tracked ranges (DRAM and the RMM carveout), kept as 4 bits per granule in the
// carveout file so that delegations survive restarts, plus the platform's fixed-PAS ranges
// (gpt_fixed_ranges(): on FVP the TZC Secure region and EL3's Root memory), mapped granule by
// granule too but never stored, as nothing can change them. Everything else below 2^pa_bits is
// treated as block-mapped, as a GPT L0 block descriptor would map it.
#include "el3d/carveout/carveout.hpp"

#include <array>
#include <cstdint>
#include <mutex>
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

	// Realm-world transitions, with the checks in TF-A's order: granule alignment, inside the
	// PA space (the last granule of the space is rejected, as TF-A does), granule-mapped (tracked
	// or fixed, not block-mapped), then the current PAS (NS for delegate, Realm for undelegate;
	// a fixed-PAS granule is Secure or Root, so always BadPas). Thread-safe; durable before
	// returning Ok.
	Result delegate(uint64_t pa);
	Result undelegate(uint64_t pa);

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

	// Granules per PAS over all granule-mapped ranges, tracked and fixed (indexed by the GPI value).
	std::array<uint64_t, 16> counts() const;
	// Re-read after the carveout was reset.
	void reload();

private:
	struct Loc {
		std::size_t range;
		uint64_t index;  // granule index within the range
	};
	std::optional<Loc> locate(uint64_t pa) const;
	const GptRange* fixed_at(uint64_t pa) const;
	// Throws std::invalid_argument; the first and last granule to change, nullopt for a no-op
	// inside a fixed-PAS range. Caller holds mu_.
	std::optional<std::pair<Loc, Loc>> checked_range(uint64_t base, uint64_t size, Gpi gpi) const;
	Gpi get(const Loc& l) const;
	std::error_code put(const Loc& l, Gpi g);
	Result transition(uint64_t pa, Gpi from, Gpi to);

	Carveout& carveout_;
	const std::vector<GptRange> fixed_;
	std::vector<uint64_t> offsets_;
	mutable std::mutex mu_;
	std::array<uint64_t, 16> counts_{};
};

}  // namespace el3d
