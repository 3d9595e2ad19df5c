#pragma once
// Deterministic replay of an SMC trace (docs/replay.md): the events of a trace file re-issued, in the
// order el3d served them, against an in-process monitor on a fresh carveout or on a copy of a saved
// one (a snapshot), and compared call by call with what was recorded. The first difference (which
// call, which register, expected and got) is the report, or "identical".
//
// A trace can be replayed when it begins with el3d's `start` event, which records how el3d was set up
// (platform, geometry, ABI and other options, the seed); describe_setup() builds it. For a replay to
// be identical el3d must have run with a seed (el3d --seed), which makes its keys, signatures and
// token signer depend on the calls alone.
#include "el3d/carveout/carveout.hpp"
#include "el3d/monitor/monitor.hpp"
#include "el3d/trace/trace.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace el3d::replay {

// The `config` of a trace's start event: how `m` is set up, and where its carveout stands (`created`:
// this run of el3d created the file, so a fresh carveout is the same starting point).
nlohmann::json describe_setup(const Monitor& m, bool created);

// A start event's config back as what opens a carveout and builds a monitor like the traced one.
// Throws std::invalid_argument naming the field.
struct Setup {
	CarveoutOpenRequest carveout;  // path left empty; platform and geometry overrides as traced
	MonitorOptions options;
	bool created = false;          // the traced el3d started on a new carveout file
	std::string carveout_path;     // the traced el3d's carveout file
	uint64_t regions = 0, epoch = 0, activation = 0;
};
Setup setup_from_json(const nlohmann::json& config);

struct Options {
	// Replay on a copy of this carveout file (e.g. a snapshot's carveout.img; never modified) instead
	// of a fresh one.
	std::string from_carveout;
	// Where the scratch carveout goes; empty: $TMPDIR or /tmp. Removed afterwards.
	std::string work_dir;
	// Compare the result registers only, not what the calls changed or the memory they wrote.
	bool registers_only = false;
	// Where the snapshots a traced `snapshot restore` named are (default: beside the traced carveout,
	// snapshot::Store::default_dir): the replay restores the same snapshot into its scratch carveout.
	std::string snapshot_dir;
};

struct Divergence {
	std::size_t index = 0;  // of the event in the trace (0-based)
	uint64_t seq = 0;
	std::string event;      // the recorded event, as `el3ctl trace show` prints it
	std::string what;       // "x0", "x3", "effects", "memory written at 0x...", "refused", ...
	std::string expected, got;
};

struct Report {
	uint64_t smcs = 0, entries = 0, sessions = 0, resets = 0, restarts = 0;  // events replayed and compared
	uint64_t restores = 0;  // snapshot restores redone from the same snapshot
	uint64_t injected = 0;  // calls an injected fault answered: not re-issued (the fault changed nothing)
	uint64_t rmis = 0;      // RMIs and their completions: the world switch's Non-secure side is not replayed
	std::vector<std::string> notes;     // what may make the replay differ, e.g. "not a fresh carveout"
	std::optional<Divergence> divergence;
	bool identical() const { return !divergence.has_value(); }
	std::string format() const;        // what `el3ctl replay` prints
	nlohmann::json to_json() const;    // what `el3ctl replay --json` prints
};

// Throws std::runtime_error when the replay cannot start (no start event, a carveout that cannot be
// made or opened); a call that differs is a Divergence, not an exception.
Report run(const std::vector<trace::Event>& events, const Options& o);

}  // namespace el3d::replay
