#include "el3d/gpt/gpt.hpp"

#include "el3d/util/numbers.hpp"

#include <algorithm>
#include <cstring>
#include <stdexcept>

namespace el3d {

namespace {
struct Name {
	const char* name;
	Gpi gpi;
};
constexpr Name kNames[] = {
    {"no-access", Gpi::NoAccess}, {"secure", Gpi::SecureOnly}, {"ns", Gpi::NonSecure}, {"root", Gpi::Root},
    {"realm", Gpi::Realm},        {"nso", Gpi::NonSecureOnly}, {"any", Gpi::Any},
};
}  // namespace

std::optional<Gpi> gpi_from_name(std::string_view name)
{
	for (const auto& n : kNames)
		if (name == n.name)
			return n.gpi;
	return std::nullopt;
}

const char* gpi_name(Gpi g)
{
	for (const auto& n : kNames)
		if (n.gpi == g)
			return n.name;
	return "reserved";
}

namespace {
// The transitions a Realm-world caller may make (TF-A's gpi_config policy for SMC_FROM_REALM).
bool realm_may(Gpi from, Gpi to)
{
	return (from == Gpi::NonSecure && to == Gpi::Realm) || (from == Gpi::Realm && to == Gpi::NonSecure);
}
}  // namespace

Gpt::Gpt(Carveout& carveout)
    : carveout_(carveout),
      fixed_(gpt_fixed_ranges(carveout.geometry())),
      device_(gpt_device_ranges(carveout.geometry()))
{
	reload();
}

// Granules [2 * from, 2 * to) of a range of `n` granules whose map starts at `off`: each non-zero nibble moves its
// granule from the range's initial PAS to the one it encodes. Whole zero pages (as the platform started) at memory
// speed, then a word at a time.
void Gpt::scan(const uint8_t* map, uint64_t off, uint64_t from, uint64_t to, uint64_t n, uint8_t initial)
{
	static const uint8_t zeros[4096] = {};
	for (uint64_t w = from & ~uint64_t{7}; w < to; w += 8) {
		if (w % sizeof(zeros) == 0 && to - w >= sizeof(zeros) && std::memcmp(map + off + w, zeros, sizeof(zeros)) == 0) {
			w += sizeof(zeros) - 8;
			continue;
		}
		uint64_t word = 0;
		std::memcpy(&word, map + off + w, std::min<uint64_t>(8, to - w));
		if (word == 0)
			continue;
		for (uint64_t g = 2 * w; g < std::min(n, 2 * w + 16); ++g) {
			const auto nib = static_cast<uint8_t>((word >> (4 * (g - 2 * w))) & 0xf);
			if (nib == 0)
				continue;
			--counts_[initial];
			++counts_[initial ^ nib];
		}
	}
}

void Gpt::reload()
{
	std::lock_guard lock(mu_);
	const auto& ranges = carveout_.gpt_ranges();
	offsets_.clear();
	counts_.fill(0);
	// Every granule starts as its range's initial PAS; only the map's non-zero words (granules that
	// changed since the platform started) are looked at granule by granule, and only where the file has
	// data, so that a reload costs what was used since the last reset.
	const uint8_t* map = carveout_.gpt_map();
	const bool clear = carveout_.gpt_map_clear();  // just reset: nothing to look at
	for (std::size_t i = 0; i < ranges.size(); ++i) {
		const uint64_t off = gpt_map_offset(ranges, i);
		offsets_.push_back(off);
		const uint64_t n = ranges[i].size / kGranule;
		const auto initial = static_cast<uint8_t>(ranges[i].initial);
		counts_[initial] += n;
		const uint64_t bytes = clear ? 0 : (n + 1) / 2;
		// Holes in the file (never written, or punched by a reset) are skipped unread: reading them through the
		// mapping would also give them pages.
		for (const auto& [lo, hi] : carveout_.gpt_map_extents(off, bytes))
			scan(map, off, lo - off, hi - off, n, initial);
	}
	for (const auto& f : fixed_)
		counts_[static_cast<unsigned>(f.initial)] += f.size / kGranule;
	device_realm_.clear();
	for (const auto& d : device_)
		counts_[static_cast<unsigned>(d.initial)] += d.size / kGranule;
	if (clear)
		return;  // a reset puts the device windows back to Non-secure too (the monitor's fresh document has none)
	const auto& doc = carveout_.state();
	const auto it = doc.find(kDeviceStateKey);
	if (it == doc.end() || !it->is_array())
		return;
	for (const auto& run : *it) {
		if (!run.is_array() || run.size() != 2 || !run[0].is_number_unsigned() || !run[1].is_number_unsigned())
			continue;
		const auto base = run[0].get<uint64_t>(), count = run[1].get<uint64_t>();
		if ((base & (kGranule - 1)) != 0)
			continue;
		for (uint64_t i = 0, pa = base; i < count && device_at(pa) != nullptr; ++i, pa += kGranule)
			if (device_realm_.insert(pa).second) {
				--counts_[static_cast<unsigned>(Gpi::NonSecure)];
				++counts_[static_cast<unsigned>(Gpi::Realm)];
			}
	}
}

const GptRange* Gpt::device_at(uint64_t pa) const
{
	for (const auto& d : device_)
		if (pa >= d.base && pa < d.end())
			return &d;
	return nullptr;
}

std::vector<std::pair<uint64_t, uint64_t>> Gpt::device_runs_list() const
{
	std::lock_guard lock(mu_);
	std::vector<std::pair<uint64_t, uint64_t>> runs;
	uint64_t first = 0, count = 0;
	for (uint64_t pa : device_realm_) {
		if (count != 0 && pa == first + count * kGranule) {
			++count;
			continue;
		}
		if (count != 0)
			runs.emplace_back(first, count);
		first = pa;
		count = 1;
	}
	if (count != 0)
		runs.emplace_back(first, count);
	return runs;
}

nlohmann::json Gpt::device_runs() const
{
	nlohmann::json runs = nlohmann::json::array();
	for (const auto& [first, count] : device_runs_list())
		runs.push_back({first, count});
	return runs;
}

nlohmann::json Gpt::device_state() const
{
	std::lock_guard lock(mu_);
	return device_runs();
}

void Gpt::set_committer(std::function<void()> commit)
{
	std::lock_guard lock(mu_);
	committer_ = std::move(commit);
}

// A device-window granule: its PAS is in device_realm_, and the state document keeps it.
Gpt::Result Gpt::set_device_gpi(uint64_t pa, Gpi to)
{
	const Gpi cur = device_realm_.count(pa) != 0 ? Gpi::Realm : Gpi::NonSecure;
	if (!realm_may(cur, to))
		return Result::BadPas;
	auto flip = [&](Gpi g) {
		if (g == Gpi::Realm)
			device_realm_.insert(pa);
		else
			device_realm_.erase(pa);
	};
	flip(to);
	try {
		if (committer_) {
			committer_();
		} else {
			nlohmann::json doc = carveout_.state();
			doc[kDeviceStateKey] = device_runs();
			carveout_.commit_state(doc);
		}
	} catch (...) {
		flip(cur);
		throw;
	}
	--counts_[static_cast<unsigned>(cur)];
	++counts_[static_cast<unsigned>(to)];
	return Result::Ok;
}

std::optional<Gpt::Loc> Gpt::locate(uint64_t pa) const
{
	const auto& ranges = carveout_.gpt_ranges();
	for (std::size_t i = 0; i < ranges.size(); ++i)
		if (pa >= ranges[i].base && pa < ranges[i].end())
			return Loc{i, (pa - ranges[i].base) / kGranule};
	return std::nullopt;
}

const GptRange* Gpt::fixed_at(uint64_t pa) const
{
	for (const auto& f : fixed_)
		if (pa >= f.base && pa < f.end())
			return &f;
	return nullptr;
}

// Each nibble holds the granule's GPI XOR its range's initial GPI, so an untouched (zero) map
// means "as the platform started".
Gpi Gpt::get(const Loc& l) const
{
	const uint8_t byte = carveout_.gpt_map()[offsets_[l.range] + l.index / 2];
	const uint8_t nib = (l.index & 1) ? (byte >> 4) : (byte & 0xf);
	return static_cast<Gpi>(nib ^ static_cast<uint8_t>(carveout_.gpt_ranges()[l.range].initial));
}

std::error_code Gpt::put(const Loc& l, Gpi g)
{
	const uint64_t off = offsets_[l.range] + l.index / 2;
	uint8_t& byte = carveout_.gpt_map()[off];
	const auto nib = static_cast<uint8_t>(static_cast<uint8_t>(g) ^ static_cast<uint8_t>(carveout_.gpt_ranges()[l.range].initial));
	byte = (l.index & 1) ? static_cast<uint8_t>((byte & 0x0f) | (nib << 4)) : static_cast<uint8_t>((byte & 0xf0) | nib);
	return carveout_.sync_gpt(off, 1);
}

std::optional<Gpi> Gpt::lookup(uint64_t pa) const
{
	std::lock_guard lock(mu_);
	if (auto l = locate(pa))
		return get(*l);
	if (device_at(pa) != nullptr)
		return device_realm_.count(pa & ~(kGranule - 1)) != 0 ? Gpi::Realm : Gpi::NonSecure;
	if (const GptRange* f = fixed_at(pa))
		return f->initial;
	return std::nullopt;
}

Gpt::Result Gpt::set_gpi(uint64_t pa, Gpi to)
{
	const unsigned bits = carveout_.geometry().pa_bits;
	if ((pa & (kGranule - 1)) != 0)
		return Result::BadAddr;
	// TF-A: base + size >= PPS is rejected (and so is a base + size that wraps past 2^64)
	if (pa > UINT64_MAX - kGranule || (bits < 64 && pa + kGranule >= (uint64_t{1} << bits)))
		return Result::BadAddr;
	std::lock_guard lock(mu_);
	auto l = locate(pa);
	if (!l) {
		if (device_at(pa) != nullptr)
			return set_device_gpi(pa, to);
		// Secure, Root or any, which no transition starts from; otherwise block-mapped
		return fixed_at(pa) ? Result::BadPas : Result::BadAddr;
	}
	const Gpi cur = get(*l);
	if (!realm_may(cur, to))
		return Result::BadPas;
	if (put(*l, to))
		throw std::runtime_error("cannot flush the GPT to the carveout file");
	--counts_[static_cast<unsigned>(cur)];
	++counts_[static_cast<unsigned>(to)];
	return Result::Ok;
}


std::optional<std::pair<Gpt::Loc, Gpt::Loc>> Gpt::checked_range(uint64_t base, uint64_t size, Gpi gpi) const
{
	if ((base | size) & (kGranule - 1) || size == 0)
		throw std::invalid_argument("GPT range must be non-empty and 4 KiB aligned");
	if (base > UINT64_MAX - size)
		throw std::invalid_argument("GPT range wraps past 2^64");
	for (const auto& f : fixed_) {
		if (base >= f.end() || f.base >= base + size)
			continue;
		if (base >= f.base && base + size <= f.end() && gpi == f.initial)
			return std::nullopt;  // already so: the platform's own layout
		throw std::invalid_argument(std::string("GPT range overlaps the platform's fixed ") + gpi_name(f.initial) +
		                            " memory [" + hex(f.base) + ", " + hex(f.end()) + "), which cannot be re-marked");
	}
	for (const auto& d : device_)
		if (base < d.end() && d.base < base + size)
			throw std::invalid_argument("GPT range overlaps the platform's device window [" + hex(d.base) + ", " +
			                            hex(d.end()) + "): pre-marks apply to DRAM and the carveout only");
	auto first = locate(base);
	auto last = locate(base + size - 1);
	if (!first || !last || first->range != last->range)
		throw std::invalid_argument("GPT range is not inside one tracked range (DRAM bank or carveout)");
	return std::pair{*first, *last};
}

void Gpt::check_range(uint64_t base, uint64_t size, Gpi gpi) const
{
	std::lock_guard lock(mu_);
	checked_range(base, size, gpi);
}

void Gpt::set_range(uint64_t base, uint64_t size, Gpi gpi)
{
	std::lock_guard lock(mu_);
	const auto r = checked_range(base, size, gpi);
	if (!r)
		return;
	const auto& [first, last] = *r;
	for (uint64_t i = first.index; i <= last.index; ++i) {
		Loc l{first.range, i};
		const Gpi cur = get(l);
		if (cur == gpi)
			continue;
		const uint64_t off = offsets_[l.range] + i / 2;
		uint8_t& byte = carveout_.gpt_map()[off];
		const auto nib =
		    static_cast<uint8_t>(static_cast<uint8_t>(gpi) ^ static_cast<uint8_t>(carveout_.gpt_ranges()[l.range].initial));
		byte = (i & 1) ? static_cast<uint8_t>((byte & 0x0f) | (nib << 4)) : static_cast<uint8_t>((byte & 0xf0) | nib);
		--counts_[static_cast<unsigned>(cur)];
		++counts_[static_cast<unsigned>(gpi)];
	}
	const uint64_t a = offsets_[first.range] + first.index / 2, b = offsets_[first.range] + last.index / 2;
	if (carveout_.sync_gpt(a, b - a + 1))
		throw std::runtime_error("cannot flush the GPT to the carveout file");
}

std::array<uint64_t, 16> Gpt::counts() const
{
	std::lock_guard lock(mu_);
	return counts_;
}

}  // namespace el3d
