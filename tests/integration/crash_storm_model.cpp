// The crash storm's model: what the daemon acknowledged, and the counts of a run (crash_storm.hpp).
#include "crash_storm.hpp"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <sstream>

namespace el3d::test::storm {

std::string hex(uint64_t v)
{
	char b[24];
	std::snprintf(b, sizeof b, "0x%" PRIx64, v);
	return b;
}

std::string bytes_hex(const char* p, std::size_t n)
{
	std::string s;
	char b[4];
	for (std::size_t i = 0; i < std::min<std::size_t>(n, 16); ++i) {
		std::snprintf(b, sizeof b, "%02x", static_cast<unsigned char>(p[i]));
		s += b;
	}
	return n > 16 ? s + "..." : s;
}

const char* kind_name(int k)
{
	static const char* const names[] = {"alloc", "write", "boot_complete", "delegate", "undelegate", "boot", "reset"};
	return k >= 0 && k < Count ? names[k] : "none";
}

std::string RegionM::what() const
{
	return "region id " + std::to_string(id) + " at " + hex(addr) + " size " + hex(size) + " (cpu " +
	       std::to_string(cpu) + ", epoch " + std::to_string(epoch) + ", round " + std::to_string(round) + ")";
}

std::string GranuleM::what() const { return "granule " + hex(pa) + " (cpu " + std::to_string(owner) + "'s)"; }

void Stats::add(const Stats& o)
{
	for (int k = 0; k < Count; ++k) {
		acked[k] += o.acked[k];
		in_flight[k] += o.in_flight[k];
		aimed[k] += o.aimed[k];
	}
	kills += o.kills, rounds += o.rounds, checks += o.checks, regions_checked += o.regions_checked;
	bytes_compared += o.bytes_compared, granules_probed += o.granules_probed, cpus_checked += o.cpus_checked;
	ns_marks_checked += o.ns_marks_checked, resets_committed_at_kill += o.resets_committed_at_kill;
	resets_undone_at_kill += o.resets_undone_at_kill, torn_writes += o.torn_writes;
	failed_rounds += o.failed_rounds, failed_rounds_reset_in_flight += o.failed_rounds_reset_in_flight;
}

std::string Stats::summary() const
{
	std::ostringstream o;
	auto per_kind = [&](const char* title, const std::array<uint64_t, Count>& a) {
		o << " " << title << "{";
		for (int k = 0; k < Count; ++k)
			o << (k ? " " : "") << kind_name(k) << "=" << a[k];
		o << "}";
	};
	o << "rounds=" << rounds << " kills=" << kills;
	per_kind("acked", acked);
	per_kind("in_flight_at_kill", in_flight);
	per_kind("aimed_kills", aimed);
	o << " resets_at_kill{committed=" << resets_committed_at_kill << " not=" << resets_undone_at_kill << "}"
	  << " checks=" << checks << " regions_checked=" << regions_checked << " bytes_compared=" << bytes_compared
	  << " granules_probed=" << granules_probed << " cpus_checked=" << cpus_checked
	  << " ns_marks_checked=" << ns_marks_checked << " torn_in_flight_writes=" << torn_writes
	  << " failed_rounds=" << failed_rounds << " (with a reset in flight: " << failed_rounds_reset_in_flight << ")";
	return o.str();
}

Rig::Rig(const TempDir& dir, std::string p, unsigned n, const std::string& durability)
    : profile(std::move(p)), threads(n), daemon(dir, {}, profile + "-" + durability + ".img"), pending(n)
{
	daemon.socket = dir.file(profile + "-" + durability + ".sock");
	daemon.args = {"--abi", profile, "--durability", durability};
	if (profile == "seed") {
		daemon.args.insert(daemon.args.end(), {"--region-slots", "65536"});
	} else {
		// Pre-marked Realm granules: a reset must bring them back (docs/boot.md).
		boot_config = dir.file(profile + "-boot.json");
		write_file(boot_config, R"({"gpt": [{"base": "0x80100000", "size": "0x10000", "pas": "realm"}]})");
		daemon.args.insert(daemon.args.end(), {"--boot-config", boot_config});
	}
	// Each thread owns granules in both DRAM banks, a PCIe window (kept in the state document) and,
	// for tfa, the pre-marked range.
	for (uint32_t t = 0; t < n; ++t) {
		auto add = [&](uint64_t pa, Pas initial) {
			granules.push_back(GranuleM{pa, t, initial, initial, "never touched"});
		};
		for (uint64_t i = 0; i < 5; ++i)
			add(0x80000000 + (t * 16 + i) * 0x1000, Pas::Ns);
		add(0x880000000 + t * 0x1000, Pas::Ns);
		for (uint64_t i = 0; i < 2; ++i)
			add(0x50000000 + (t * 16 + i) * 0x1000, Pas::Ns);
		for (uint64_t i = 0; i < 2; ++i)
			add(0x80100000 + (t * 4 + i) * 0x1000, profile == "seed" ? Pas::Ns : Pas::Realm);
	}
}

void Rig::model_reset(int round, const std::string& how)
{
	reset_what = how + " (round " + std::to_string(round) + ", epoch " + std::to_string(epoch) + " -> " +
	             std::to_string(epoch + 1) + ")";
	retired.clear();
	for (auto& [a, r] : regions)
		retired.push_back(r);
	regions.clear();
	for (auto& g : granules) {
		g.now = g.initial;
		g.last = std::string("back to ") + pas_name(g.initial) + " by " + reset_what;
	}
	cpus.clear();
	for (auto& [pa, bytes] : ns_marks)
		bytes.assign(bytes.size(), '\0');
	++epoch;
	activation_lo = 0;
	activation_hi = UINT64_MAX;
	next_id = 1;
}

uint64_t Rig::ns_offset(uint64_t pa) const
{
	for (const auto& w : ns_windows)
		if (pa >= w[0] && pa < w[0] + w[1])
			return w[2] + (pa - w[0]);
	return UINT64_MAX;
}

}  // namespace el3d::test::storm
