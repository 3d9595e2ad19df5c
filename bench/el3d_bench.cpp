// el3d_bench: how fast el3d answers, measured beside a bare gRPC echo server over the same kind of Unix socket.
//
//   (0) raw Unix socket ping-pong without gRPC: this machine's floor, comparable with perf-anchors.md
//   (a) SMC round trip for an SMC that touches no disk, el3d and echo, same-cpu and unpinned
//   (b) RMM_ALLOCATE_MEMORY round trip at each durability level (power includes the carveout file's flush)
//   (c) allocations per second from 1 and from 4 concurrent clients at each level, checked against GetState
//   (d) daemon start time with the qemu-sbsa geometry (a carveout image > 1 GiB), new and existing file
//   (e) SMC round trip through el3client's CPU sessions (the shim), 1 and 2 CPUs, beside a bare gRPC
//       bidirectional-stream echo with the same channel settings
//   (f) SMC round trip through el3client's shared-memory fast path, beside the shim's gRPC stream (e) and a raw Unix
//       socket ping-pong (0) in the same placement, 1 and 2 CPUs
//   (g) delegating and undelegating 1 GiB (262144 granules) from 1 and 2 CPUs at each durability level, through
//       el3client and through the core alone
//   (w) RMI round trip through the world switch (caller -> el3d -> RMM -> el3d -> caller) beside the bare gRPC
//       echo hops it is made of
//
// Every server runs as a child process in a temp dir of its own under /tmp; all of them are stopped and the dirs
// removed before the program exits, also on errors and on SIGINT/SIGTERM. docs/performance.md has the method and
// the figures.
#include "calibrate.hpp"
#include "fastpath.hpp"
#include "measure.hpp"
#include "process.hpp"
#include "report.hpp"
#include "sessions.hpp"

#include "el3d/util/numbers.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <google/protobuf/stubs/common.h>
#include <grpcpp/grpcpp.h>

#include <CLI/CLI.hpp>

#include <cstdio>
#include <fstream>
#include <iterator>
#include <memory>

namespace el3d::bench {

namespace {

struct Config {
	std::string el3d = EL3D_BINARY;
	std::string echo = EL3D_BENCH_ECHO;
	std::string raw_echo = EL3D_BENCH_RAW_ECHO;
	uint64_t calls = 20000;
	uint64_t warmup = 2000;
	uint64_t block = 1000;
	uint64_t allocs = 4000;
	uint64_t starts = 5;
	unsigned clients = 4;
	std::string json;
	std::string sections = "abcdefwg";
	bool quick = false;
	uint64_t granules = 262144;       // (g) at process durability
	uint64_t power_granules = 32768;  // (g) at power: one flush per SMC makes 262144 take minutes
};

// The carveout's allocation log holds 65536 records; every run of (b) and (c) has a daemon of its own, so this
// bounds one run, with room to spare.
constexpr uint64_t kMaxAllocsPerRun = 60000;
// 1 GiB of RMM memory: 64-byte allocations take a page each at least, so (b) and (c) never run out of space.
const char* const kAllocRmmSize = "0x40000000";

void progress(const std::string& what)
{
	std::fprintf(stderr, "el3d_bench: %s\n", what.c_str());
	std::fflush(stderr);
}

std::unique_ptr<Child> spawn_el3d(const Config& c, const TempDir& dir, Placement p, std::vector<std::string> extra = {})
{
	std::vector<std::string> argv = {c.el3d,           "--carveout", dir.file("c.img"), "--socket",
	                                 dir.file("s.sock"), "--log-level", "warn"};
	argv.insert(argv.end(), extra.begin(), extra.end());
	return std::make_unique<Child>("el3d", std::move(argv), p, dir.file("el3d.log"));
}

// The daemon promises exit status 0 on SIGTERM; anything else is worth a line in the report.
void stop_checked(Child& child, Results& r)
{
	const int st = child.stop();
	if (!(WIFEXITED(st) && WEXITSTATUS(st) == 0))
		r.notes.push_back(child.what() + " (pid " + std::to_string(child.pid()) + ") stopped with " +
		                  describe_wait_status(st) + " instead of exit 0: " + child.log_tail());
}

// el3d and the echo server side by side in `dir` (sockets s.sock and e.sock), both serving. Both run at once: the one
// not being called sleeps in epoll while the blocks of calls take turns.
struct ServerPair {
	std::unique_ptr<Child> el3d, echo;
	void stop(Results& r)
	{
		stop_checked(*echo, r);
		stop_checked(*el3d, r);
	}
};
ServerPair spawn_pair(const Config& c, const TempDir& dir, Placement p)
{
	ServerPair s{spawn_el3d(c, dir, p),
	             std::make_unique<Child>("el3d_bench_echo", std::vector<std::string>{c.echo, dir.file("e.sock")}, p,
	                                     dir.file("echo.log"))};
	wait_until_serving(*s.el3d, dir.file("s.sock"), Server::El3d);
	wait_until_serving(*s.echo, dir.file("e.sock"), Server::Echo);
	return s;
}

void measure_smc(const Config& c, Results& r)
{
	for (Placement p : {Placement::SameCpu, Placement::Unpinned}) {
		progress(std::string("(a) ") + name(p) + ": el3d and grpc echo, interleaved");
		place_this_process(p);
		TempDir dir;
		ServerPair s = spawn_pair(c, dir, p);
		const std::vector<SmcTarget> targets = {
		    {s.el3d.get(), dir.file("s.sock"), Server::El3d, kQuietUnknownFid},
		    {s.el3d.get(), dir.file("s.sock"), Server::El3d, kWarnedUnknownFid},
		    {s.echo.get(), dir.file("e.sock"), Server::Echo, kQuietUnknownFid},
		};
		const std::vector<SmcRun> runs = smc_round_trips(targets, c.warmup, c.calls, c.block);
		for (std::size_t i = 0; i < targets.size(); ++i)
			r.smc.push_back({p, targets[i].server, targets[i].fid, runs[i]});
		s.stop(r);
	}
	place_this_process(Placement::Unpinned);
}

const char* const kLevels[] = {"power", "process"};

AllocRun alloc_run(const Config& c, const std::string& durability, unsigned clients, Results& r)
{
	TempDir dir;
	auto d = spawn_el3d(c, dir, Placement::Unpinned, {"--rmm-size", kAllocRmmSize, "--durability", durability});
	const std::string sock = dir.file("s.sock");
	wait_until_serving(*d, sock, Server::El3d);
	// Fewer warm-up calls than (a): they only need to set up the connection and the daemon's threads.
	AllocRun run = allocations(sock, clients, c.allocs, std::min<uint64_t>(c.warmup, 200));
	run.durability = durability;
	if (!run.regions_match())
		r.notes.push_back(std::to_string(clients) + " client(s): GetState lists " + std::to_string(run.regions) +
		                  " regions after " + std::to_string(run.fresh) + " successful allocations");
	stop_checked(*d, r);
	return run;
}

void measure_alloc_latency(const Config& c, Results& r)
{
	for (const char* level : kLevels) {
		progress(std::string("(b) allocation latency, 1 client, durability ") + level);
		r.alloc_latency.push_back(alloc_run(c, level, 1, r));
	}
}

void measure_alloc_rate(const Config& c, Results& r)
{
	for (const char* level : kLevels)
		for (unsigned n : {1u, c.clients}) {
			progress("(c) allocation throughput, " + std::to_string(n) + " client(s), durability " + level);
			r.alloc_rate.push_back(alloc_run(c, level, n, r));
		}
}

void measure_start(const Config& c, Results& r)
{
	StartRun& s = r.start;
	s.platform = "qemu-sbsa";
	for (uint64_t i = 0; i < c.starts; ++i) {
		progress("(d) start " + std::to_string(i + 1) + "/" + std::to_string(c.starts) + ", " + s.platform);
		TempDir dir;
		const std::string sock = dir.file("s.sock");
		const std::vector<std::string> args = {"--platform", s.platform};
		{
			auto d = spawn_el3d(c, dir, Placement::Unpinned, args);
			s.created_ms.push_back(wait_until_serving(*d, sock, Server::El3d) * 1e3);
			s.rss_created = d->rss_bytes();
			if (i == 0) {
				const v1::State st = get_state(sock);
				if (st.platform() != s.platform)
					throw std::runtime_error("el3d created a carveout for " + st.platform() + ", not " + s.platform);
				s.image_size = st.rmm_limit() - st.rmm_base() + st.shared_size();
			}
			stop_checked(*d, r);
		}
		if (i == 0)
			s.file = file_usage(dir.file("c.img"));
		{
			auto d = spawn_el3d(c, dir, Placement::Unpinned, args);
			s.reopened_ms.push_back(wait_until_serving(*d, sock, Server::El3d) * 1e3);
			s.rss_reopened = d->rss_bytes();
			stop_checked(*d, r);
		}
	}
}

void measure_sessions(const Config& c, Results& r)
{
	for (Placement p : {Placement::SameCpu, Placement::Unpinned}) {
		place_this_process(p);
		TempDir dir;
		ServerPair s = spawn_pair(c, dir, p);
		const std::vector<SessionTarget> targets = {
		    {SessionPeer::Shim, s.el3d.get(), dir.file("s.sock")},
		    {SessionPeer::Echo, s.echo.get(), dir.file("e.sock")},
		};
		for (unsigned cpus : {1u, 2u}) {
			progress(std::string("(e) ") + name(p) + ": el3client sessions and grpc echo stream, " +
			         std::to_string(cpus) + " CPU(s)");
			const std::vector<SessionRun> runs = session_round_trips(targets, cpus, c.warmup, c.calls, c.block);
			for (std::size_t i = 0; i < targets.size(); ++i)
				r.sessions.push_back({p, targets[i].peer, runs[i]});
		}
		s.stop(r);
	}
	place_this_process(Placement::Unpinned);
}

// (f): el3d (at info level, whose log says which sessions took the fast path) and the raw echo, same placement.
void measure_fastpath(const Config& c, Results& r)
{
	for (Placement p : {Placement::SameCpu, Placement::SplitCpu, Placement::Unpinned}) {
		if (p == Placement::SplitCpu && cpu_count() < 2)
			continue;
		place_this_process(p);
		TempDir dir;
		auto d = std::make_unique<Child>("el3d",
		                                 std::vector<std::string>{c.el3d, "--carveout", dir.file("c.img"), "--socket",
		                                                          dir.file("s.sock"), "--log-level", "info"},
		                                 p, dir.file("el3d.log"));
		auto raw = std::make_unique<Child>("el3d_bench_raw_echo", std::vector<std::string>{c.raw_echo, dir.file("r.sock")},
		                                   p, dir.file("raw.log"));
		wait_until_serving(*d, dir.file("s.sock"), Server::El3d);
		for (int i = 0; i < 3000 && ::access(dir.file("r.sock").c_str(), F_OK) != 0; ++i)
			::usleep(1000);
		const FastTargets t{d.get(), dir.file("s.sock"), raw.get(), dir.file("r.sock")};
		for (unsigned cpus : {1u, 2u}) {
			progress(std::string("(f) ") + name(p) + ": raw socket, el3client stream and fast path, " +
			         std::to_string(cpus) + " CPU(s)");
			const std::vector<SessionRun> runs = fastpath_round_trips(t, cpus, c.warmup, c.calls, c.block);
			const FastPeer peers[] = {FastPeer::Raw, FastPeer::Stream, FastPeer::FastPath};
			for (std::size_t i = 0; i < runs.size(); ++i)
				r.fastpath.push_back({p, peers[i], runs[i]});
		}
		std::ifstream log(dir.file("el3d.log"));
		const std::string text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
		for (unsigned cpu : {2u, 3u})  // the fast path's CPUs of the 2-CPU run (the stream's are 0 and 1)
			if (text.find("cpu" + std::to_string(cpu) + " session on the shared-memory fast path") == std::string::npos)
				r.notes.push_back(std::string("(f) ") + name(p) + ": cpu" + std::to_string(cpu) +
				                  " of the fast-path client did not get the fast path (see el3d's log)");
		stop_checked(*raw, r);
		stop_checked(*d, r);
	}
	place_this_process(Placement::Unpinned);
}

void measure_world_switch(const Config& c, Results& r)
{
	progress("(w) RMI round trip through the world switch, and grpc echo hops");
	TempDir dir;
	ServerPair s = spawn_pair(c, dir, Placement::Unpinned);
	r.rmi = rmi_round_trips(*s.el3d, dir.file("s.sock"), *s.echo, dir.file("e.sock"), c.warmup, c.calls, c.block);
	s.stop(r);
}

// (g): each level through the shim (a daemon of its own per row) and through the core alone, 1 and 2 CPUs.
void measure_delegations(const Config& c, Results& r)
{
	for (const char* level : {"process", "power"}) {
		const uint64_t n = std::string(level) == "power" ? c.power_granules : c.granules;
		for (unsigned cpus : {1u, 2u}) {
			TempDir dir;
			{
				auto d = spawn_el3d(c, dir, Placement::Unpinned, {"--durability", level});
				const std::string sock = dir.file("s.sock");
				wait_until_serving(*d, sock, Server::El3d);
				progress(std::string("(g) ") + std::to_string(n) + " delegations, " + std::to_string(cpus) +
				         " CPU(s), durability " + level + ", " + shim_channel(sock));
				r.delegations.push_back(shim_delegations(sock, level, cpus, n));
				stop_checked(*d, r);
			}
			progress(std::string("(g) ") + std::to_string(n) + " delegations, " + std::to_string(cpus) +
			         " CPU(s), durability " + level + ", core alone");
			r.delegations.push_back(core_delegations(dir.path(), *durability_from_name(level), cpus, n));
		}
	}
}

int run(int argc, char** argv)
{
	Config c;
	CLI::App app{"el3d_bench: SMC latency, durable allocation cost and throughput, and start time of the el3d daemon,\n"
	             "beside a bare gRPC echo server over the same kind of Unix socket.",
	             "el3d_bench"};
	app.add_option("--el3d", c.el3d, "el3d daemon to measure")->capture_default_str();
	app.add_option("--echo", c.echo, "el3d_bench_echo server to compare with")->capture_default_str();
	app.add_option("--raw-echo", c.raw_echo, "el3d_bench_raw_echo server of (f)")->capture_default_str();
	app.add_option("--calls", c.calls, "timed SMC round trips per row of (a), per CPU in (e)")
	    ->capture_default_str()
	    ->check(CLI::PositiveNumber);
	app.add_option("--warmup", c.warmup, "untimed calls before each row of (a)")->capture_default_str();
	app.add_option("--block", c.block, "calls per turn when the rows of (a) take turns")
	    ->capture_default_str()
	    ->check(CLI::PositiveNumber);
	app.add_option("--allocs", c.allocs, "allocations per run of (b) and (c)")->capture_default_str();
	app.add_option("--clients", c.clients, "concurrent clients in (c)")
	    ->capture_default_str()
	    ->check(CLI::Range(1, 64));
	app.add_option("--starts", c.starts, "daemon starts per case of (d)")
	    ->capture_default_str()
	    ->check(CLI::PositiveNumber);
	app.add_option("--granules", c.granules, "granules delegated and undelegated per row of (g) at process durability")
	    ->capture_default_str()
	    ->check(CLI::Range(2, 262144));
	app.add_option("--power-granules", c.power_granules, "granules per row of (g) at power durability")
	    ->capture_default_str()
	    ->check(CLI::Range(2, 262144));
	app.add_option("--json", c.json, "also write the results to this file as JSON");
	app.add_option("--sections", c.sections, "which of the sections a..f, w and g to run, e.g. \"ae\" ((0) always runs)")
	    ->capture_default_str()
	    ->check([](const std::string& v) {
		    return !v.empty() && v.find_first_not_of("abcdefwg") == std::string::npos
		               ? std::string()
		               : std::string("letters from a to f, w and g");
	    });
	app.add_flag("--quick", c.quick, "smoke run with small counts (figures not meaningful)");
	try {
		app.parse(argc, argv);
	} catch (const CLI::ParseError& e) {
		return app.exit(e);
	}
	if (c.quick) {
		// Only the counts not given explicitly.
		if (app.count("--calls") == 0)
			c.calls = 1000;
		if (app.count("--warmup") == 0)
			c.warmup = 100;
		if (app.count("--block") == 0)
			c.block = 250;
		if (app.count("--allocs") == 0)
			c.allocs = 200;
		if (app.count("--starts") == 0)
			c.starts = 1;
		if (app.count("--granules") == 0)
			c.granules = 2048;
		if (app.count("--power-granules") == 0)
			c.power_granules = 256;
	}
	if (c.allocs < c.clients || c.allocs > kMaxAllocsPerRun) {
		std::fprintf(stderr, "el3d_bench: --allocs must be between --clients (%u) and %llu\n", c.clients,
		             static_cast<unsigned long long>(kMaxAllocsPerRun));
		return 1;
	}

	remember_initial_affinity();
	install_interrupt_handlers();

	Results r;
	r.counts = {c.calls, c.warmup, c.block, c.allocs, c.starts, c.clients, c.quick};
	r.machine.cpus = cpu_count();
	r.machine.cpu_model = cpu_model();
	r.machine.kernel = kernel_release();
	r.machine.tmp_fs = filesystem_type("/tmp");
	r.machine.grpc_version = grpc::Version();
	r.machine.protobuf_version = google::protobuf::internal::VersionString(GOOGLE_PROTOBUF_VERSION);
	r.machine.el3d_path = c.el3d;
	r.machine.echo_path = c.echo;
	if (r.machine.cpus < 2)
		r.notes.push_back("only " + std::to_string(r.machine.cpus) +
		                  " CPU available: \"unpinned\" is the same placement as \"same-cpu\"");

	try {
		progress("(0) raw Unix socket ping-pong");
		r.raw_uds = raw_uds_ping_pong(c.warmup, c.calls);  // first: it forks, so before gRPC has threads
		{
			// One short-lived daemon for its version, and to fail early if it does not start at all.
			TempDir dir;
			auto d = spawn_el3d(c, dir, Placement::Unpinned);
			wait_until_serving(*d, dir.file("s.sock"), Server::El3d);
			r.machine.el3d_version = get_state(dir.file("s.sock")).version();
			stop_checked(*d, r);
		}
		auto section = [&](const char* id, auto&& fn) {
			if (c.sections.find(id) == std::string::npos)
				return;
			const LoadSnapshot before = load_snapshot();
			fn(c, r);
			const LoadSnapshot after = load_snapshot();
			r.load.push_back({id, std::chrono::duration<double>(after.at - before.at).count(),
			                  background_between(before, after)});
		};
		section("a", measure_smc);
		section("b", measure_alloc_latency);
		section("c", measure_alloc_rate);
		section("d", measure_start);
		section("e", measure_sessions);
		section("f", measure_fastpath);
		section("w", measure_world_switch);
		section("g", measure_delegations);
	} catch (const Interrupted&) {
		std::fprintf(stderr, "el3d_bench: interrupted; servers stopped, temp dirs removed\n");
		return 130;
	} catch (const std::exception& e) {
		std::fprintf(stderr, "el3d_bench: %s\n", e.what());
		return 2;
	}

	std::printf("\n");
	print_report(stdout, r);
	if (!c.json.empty()) {
		std::ofstream f(c.json);
		f << to_json(r).dump(2) << "\n";
		if (!f) {
			std::fprintf(stderr, "el3d_bench: cannot write %s\n", c.json.c_str());
			return 2;
		}
	}
	return 0;
}

}  // namespace
}  // namespace el3d::bench

int main(int argc, char** argv) { return el3d::bench::run(argc, argv); }
