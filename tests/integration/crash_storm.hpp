#pragma once
// The crash storm (crash_storm_test.cpp): a model of every effect the daemon acknowledged, and the
// check that compares a restarted daemon with it (crash_storm_check.cpp).
#include "harness.hpp"

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <vector>

namespace el3d::test::storm {

// Operations a client thread makes; Count is the number of kinds.
enum Kind : int { Alloc, Write, BootComplete, Delegate, Undelegate, Boot, Reset, Count };
const char* kind_name(int k);

enum class Pas { Ns, Realm };
inline const char* pas_name(Pas p) { return p == Pas::Ns ? "Non-secure" : "Realm"; }

struct RegionM {
	uint64_t addr = 0, size = 0;
	uint32_t id = 0, cpu = 0;
	uint64_t epoch = 0;
	int round = 0;
	std::string content;  // every byte, as the last acknowledged write left it
	std::string what() const;
};

struct GranuleM {
	uint64_t pa = 0;
	uint32_t owner = 0;   // the client thread (and CPU) that delegates and undelegates it
	Pas initial = Pas::Ns;  // after creation or a reset (the boot configuration's pre-marks)
	Pas now = Pas::Ns;
	std::string last;  // the last acknowledged event, for messages
	std::string what() const;
};

struct CpuM {
	uint64_t token = 0, completions = 0;
	std::string last;
};

// One operation sent and not (yet) answered: after a kill, its effect may or may not be there.
struct Pending {
	int kind = -1;  // -1: none
	uint64_t size = 0, align = 0;
	uint32_t id = 0;
	uint64_t region = 0, offset = 0;  // Write: region address, offset in it
	std::string data;
	uint64_t token = 0;
	std::size_t granule = 0;
};

// What a client thread or a check counts; summed over the run.
struct Stats {
	std::array<uint64_t, Count> acked{}, in_flight{}, aimed{};
	uint64_t kills = 0, rounds = 0, checks = 0, regions_checked = 0, bytes_compared = 0, granules_probed = 0,
	         cpus_checked = 0, ns_marks_checked = 0, resets_committed_at_kill = 0, resets_undone_at_kill = 0,
	         torn_writes = 0, failed_rounds = 0, failed_rounds_reset_in_flight = 0;
	void add(const Stats& o);
	std::string summary() const;
};

// A daemon, its carveout file and the model of what it acknowledged.
struct Rig {
	// `durability`: el3d --durability (the file names carry it, so both levels can share a directory).
	Rig(const TempDir& dir, std::string profile, unsigned threads, const std::string& durability);
	std::string profile;  // "seed" or "tfa"
	unsigned threads;
	Daemon daemon;
	std::string boot_config;  // path, or empty

	// Geometry, from the first State.
	uint64_t rmm_limit = 0, shared_size = 0, realm_baseline = 0;
	std::string ns_path;
	std::vector<std::array<uint64_t, 3>> ns_windows;  // base, size, file offset
	bool initialised = false;

	// The model. `mu` guards it and `pending` while clients run.
	std::mutex mu;
	uint64_t epoch = 0;
	uint64_t activation_lo = 0, activation_hi = UINT64_MAX;
	std::map<uint64_t, RegionM> regions;  // by address
	std::vector<RegionM> retired;         // regions forgotten by the last reset (for messages)
	std::vector<GranuleM> granules;
	std::map<uint32_t, CpuM> cpus;
	std::map<uint64_t, std::string> ns_marks;  // NS memory bytes written through the file, by PA
	uint64_t low_water = UINT64_MAX;           // lowest address any region ever had
	uint32_t next_id = 1;
	std::vector<Pending> pending;              // one per thread
	std::string reset_what;                    // the last reset, for messages
	int kill_round = -1;                       // the round of the last kill, for messages

	void model_reset(int round, const std::string& how);
	uint64_t ns_offset(uint64_t pa) const;
};

// After a restart: compare everything the daemon reports with the model, resolve what was in flight
// (adopting the outcome found), append one line per discrepancy to `failures`.
void check(Rig& rig, v1::Monitor::Stub& stub, int round, Stats& st, std::vector<std::string>& failures);

// A client thread per CPU of the rig, making operations as fast as it can, and a SIGKILL at a random
// instant or inside an operation of a random kind; returns once the threads have stopped. What was in
// flight is left in rig.pending for the next check.
void run_round(Rig& rig, int round, uint64_t seed, std::mt19937_64& rng, Stats& total, std::vector<std::string>& failures);

std::string hex(uint64_t v);
std::string bytes_hex(const char* p, std::size_t n);  // up to 16 bytes, then "..."

}  // namespace el3d::test::storm
