#pragma once
// What one run of el3d_bench measured, as the printed table and as JSON (--json).
#include "calibrate.hpp"
#include "delegations.hpp"
#include "fastpath.hpp"
#include "measure.hpp"
#include "process.hpp"
#include "sessions.hpp"
#include "world_switch.hpp"

#include <nlohmann/json.hpp>

#include <cstdio>
#include <string>
#include <vector>

namespace el3d::bench {

struct Machine {
	int cpus = 0;
	std::string cpu_model, kernel, tmp_fs, grpc_version, protobuf_version;
	std::string el3d_path, el3d_version, echo_path;
};

struct Counts {
	uint64_t calls = 0, warmup = 0, block = 0, allocs = 0, starts = 0;
	unsigned clients = 0;
	bool quick = false;
};

struct SmcRow {
	Placement placement;
	Server server;
	uint64_t fid;
	SmcRun run;
};

struct SessionRow {
	Placement placement;
	SessionPeer peer;
	SessionRun run;
};

struct FastRow {
	Placement placement;
	FastPeer peer;
	SessionRun run;
};

struct StartRun {
	std::string platform;
	uint64_t image_size = 0;  // rmm_limit - rmm_base + the shared page
	std::vector<double> created_ms, reopened_ms;
	FileUsage file;  // after the first start created it
	uint64_t rss_created = 0, rss_reopened = 0;  // VmRSS right after start, last repetition
};

struct SectionLoad {
	std::string section;  // "a", "b", ...
	double seconds = 0;
	Background load;
};

struct Results {
	Machine machine;
	Counts counts;
	RawUds raw_uds;
	std::vector<SmcRow> smc;
	std::vector<AllocRun> alloc_latency;  // one per durability level
	std::vector<AllocRun> alloc_rate;     // per level, 1 and --clients clients
	std::vector<DelegateRow> delegations;  // (g)
	StartRun start;
	std::vector<SessionRow> sessions;
	RmiRun rmi;
	std::vector<FastRow> fastpath;  // (f)
	std::vector<SectionLoad> load;
	std::vector<std::string> notes;  // anything that did not go as expected, e.g. a daemon's non-zero exit
};

void print_report(std::FILE* out, const Results& r);
// (f), in fastpath_report.cpp.
void print_fastpath(std::FILE* out, const Results& r);
nlohmann::json fastpath_json(const Results& r);
nlohmann::json to_json(const Results& r);

}  // namespace el3d::bench
