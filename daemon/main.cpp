// el3d: emulates EL3 (the RMM-EL3 interface) for RMM development, over gRPC on a Unix socket.
#include "el3d/carveout/carveout.hpp"
#include "el3d/monitor/monitor.hpp"
#include "el3d/nsmem/nsmem.hpp"
#include "el3d/util/numbers.hpp"
#include "el3d/util/paths.hpp"
#include "reason_sink.hpp"
#include "reflection_v1.hpp"
#include "service.hpp"
#include "socket_guard.hpp"

#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <asio.hpp>
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <optional>

namespace {

// Exit codes (documented in docs/daemon.md).
constexpr int kExitOk = 0;
constexpr int kExitUsage = 1;
constexpr int kExitRefused = 2;  // carveout or NS memory file, socket or an unsafe default directory refused
constexpr int kExitFailed = 3;   // could not start serving

struct Options {
	std::string carveout;
	std::string ns_memory;
	std::string socket;
	std::optional<std::string> platform;
	std::string rmm_base, rmm_size, payload_size;
	std::optional<uint32_t> region_slots;
	bool reset = false;
	bool strict_boot = false;
	std::string log_level = "info";
	std::string abi = "seed";
	std::string boot_config;
	bool no_token_sign = false;
	unsigned sign_queue_depth = 4;
	unsigned sign_delay_ms = 20;
	std::string token_hunk_size;
	unsigned inject_again = 0;
	std::string faults;
	bool no_mec = false;
	unsigned mecid_width = 16;
	std::string trace_file;
	std::string snapshot_dir;
	std::size_t trace_ring = 0;
	std::optional<uint64_t> seed;
	bool fixed_clock = false;
	bool no_fastpath = false;
	std::string durability = "process";
};

std::optional<uint64_t> parse_opt(const std::string& s, const char* name)
{
	if (s.empty())
		return std::nullopt;
	auto v = el3d::parse_u64(s);
	if (!v)
		throw CLI::ValidationError(std::string("--") + name, "'" + s + "' is not a number (e.g. 0x800000, 8M)");
	return v;
}

// A file made for another ABI keeps its payload size (the seed's 8 MiB, upstream's 6 MiB on fvp): say
// so, with the remedies, instead of silently running tfa with the seed's limit or the reverse.
void warn_if_other_abis_file(const el3d::Carveout& c, const std::string& abi, bool payload_given)
{
	if (c.created() || payload_given)
		return;
	const el3d::Geometry& g = c.geometry();
	const el3d::PlatformProfile* p = el3d::find_platform(g.platform);
	if (p == nullptr)
		return;
	const uint64_t want = el3d::default_payload_size(*p, el3d::payload_default(*el3d::abi_from_name(abi)));
	const uint64_t have = g.payload_limit - g.rmm_base;
	if (have == want)
		return;
	spdlog::warn("carveout {} has a payload size of {} (payload limit {}), not the {} the {} ABI gives a new file "
	             "on {}: it was made by a run with another ABI or --payload-size, and keeps its own. For {}'s, use "
	             "another --carveout, or --reset (erases this one); --payload-size {} makes this warning an error",
	             c.path(), el3d::hex(have), el3d::hex(g.payload_limit), el3d::hex(want), abi, g.platform, abi,
	             el3d::hex(want));
}

}  // namespace

int main(int argc, char** argv)
{
	Options o;
	CLI::App app{"el3d " EL3D_VERSION " - emulates EL3's RMM-EL3 interface for RMM development.\n"
	             "Serves el3d.v1.Monitor (gRPC) on a Unix socket; the RMM carveout lives in a file that\n"
	             "survives restarts of the RMM and of el3d.",
	             "el3d"};
	app.set_version_flag("--version", EL3D_VERSION);
	app.add_option("--carveout", o.carveout,
	               "carveout file (default: $XDG_STATE_HOME/el3d/carveout-<platform>.img); created if missing");
	app.add_option("--ns-memory", o.ns_memory,
	               "Non-secure memory file (DRAM outside the carveout, device windows; default: <carveout>.ns); "
	               "created sparse if missing");
	app.add_option("--snapshot-dir", o.snapshot_dir,
	               "directory of the carveout's snapshots (default: <carveout>.snapshots; docs/snapshots.md)");
	app.add_option("--socket", o.socket, "Unix socket to serve (default: $XDG_RUNTIME_DIR/el3d/el3d.sock)");
	app.add_option("--platform", o.platform, "platform profile for a new carveout: " + el3d::platform_names() +
	                                             " (default fvp; an existing file keeps its own)");
	app.add_option("--rmm-base", o.rmm_base, "override RMM_BASE (physical address)");
	app.add_option("--rmm-size", o.rmm_size, "override RMM_LIMIT - RMM_BASE (bytes; K/M/G suffixes)");
	app.add_option("--payload-size", o.payload_size, "override RMM_PAYLOAD_LIMIT - RMM_BASE of a new carveout file (default 0x800000; "
	               "0x600000 with --abi tfa or tfa-v1-compat on fvp and qemu-sbsa)");
	app.add_option("--region-slots", o.region_slots, "number of region ids (1..65536, default 4)")
	    ->check(CLI::Range(1, 65536));
	app.add_flag("--reset", o.reset, "recreate the carveout file, erasing every region (also replaces a foreign file)");
	app.add_flag("--strict-boot", o.strict_boot,
	             "RMM_ALLOCATE_MEMORY from a CPU that completed its boot returns E_RMM_UNK instead of a warning");
	app.add_option("--abi", o.abi, "ABI profile: seed (interface 0.6, RMM_ALLOCATE_MEMORY; default), tfa (2.0, "
	                                "RMM_RESERVE_MEMORY, activation tokens) or tfa-v1-compat (0.8)")
	    ->check(CLI::IsMember({"seed", "tfa", "tfa-v1-compat"}));
	app.add_option("--boot-config", o.boot_config,
	               "boot configuration (.json or .toml): Boot Manifest contents, deliberate faults, boot-register "
	               "overrides, GPT ranges pre-marked Secure/Root (docs/boot.md)");
	app.add_flag("--no-token-sign", o.no_token_sign, "do not offer RMM_EL3_TOKEN_SIGN (EL3_FEATURES bit 0 clear)");
	app.add_option("--sign-queue-depth", o.sign_queue_depth, "token-sign requests in flight before E_RMM_AGAIN (default 4)")
	    ->check(CLI::Range(1, 1024));
	app.add_option("--sign-delay-ms", o.sign_delay_ms, "time the emulated signer takes per request (default 20)")
	    ->check(CLI::Range(0, 60000));
	app.add_option("--token-hunk-size", o.token_hunk_size,
	               "bytes per RMM_ATTEST_GET_PLAT_TOKEN call (default: as much as the buffer holds)");
	app.add_option("--inject-again", o.inject_again,
	               "RMM_ATTEST_GET_PLAT_TOKEN answers E_RMM_AGAIN N times before each hunk (default 0; the built-in "
	               "fault rule inject-again)");
	app.add_option("--faults", o.faults,
	               "fault rules (.json or .toml) in force from the start: chosen SMCs fail, are delayed or kill their "
	               "session (docs/faults.md)");
	app.add_flag("--no-mec", o.no_mec, "FEAT_MEC absent: MEC commands return E_RMM_UNK");
	app.add_option("--mecid-width", o.mecid_width, "MECID width in bits (default 16)")->check(CLI::Range(1, 16));
	app.add_option("--trace", o.trace_file,
	               "record every SMC, boot entry, session and RMI in FILE (JSON Lines, appended; docs/trace.md)");
	app.add_option("--trace-ring", o.trace_ring, "keep the last N trace events in memory for `el3ctl trace --ring`")
	    ->check(CLI::Range(0, 1 << 20));
	app.add_option("--seed", o.seed,
	               "reproducible run: attestation keys of a new carveout, signature nonces and the token signer "
	               "follow from N and the calls alone, so that `el3ctl replay` of its trace is identical (docs/replay.md)");
	app.add_flag("--fixed-clock", o.fixed_clock,
	             "the trace's times are a counter (1 us per event) and its durations 0: two runs write the same file");
	app.add_flag("--no-fastpath", o.no_fastpath,
	             "sessions make their SMCs over their gRPC stream only, not through a shared-memory mailbox "
	             "(docs/client.md)");
	app.add_option("--durability", o.durability,
	               "how far a state change is made durable before its SMC returns: process (in the file's shared "
	               "page cache, survives kill -9 of el3d or the RMM; default) or power (also flushed to disk, one "
	               "flush per SMC shared by concurrent CPUs; survives a power cut); docs/persistence.md")
	    ->envname("EL3D_DURABILITY")
	    ->check(CLI::IsMember({"process", "power"}));
	app.add_option("--log-level", o.log_level, "trace, debug, info, warn, error or off")
	    ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}));

	el3d::CarveoutOpenRequest req;
	try {
		app.parse(argc, argv);
		req.overrides.rmm_base = parse_opt(o.rmm_base, "rmm-base");
		req.overrides.rmm_size = parse_opt(o.rmm_size, "rmm-size");
		req.overrides.payload_size = parse_opt(o.payload_size, "payload-size");
	} catch (const CLI::ParseError& e) {
		int rc = app.exit(e);
		return rc == 0 ? kExitOk : kExitUsage;
	}
	req.overrides.region_slots = o.region_slots;
	// A new carveout file gets its ABI's payload size (tfa: 6 MiB on fvp and qemu-sbsa, as upstream).
	req.overrides.payload_default = el3d::payload_default(*el3d::abi_from_name(o.abi));
	req.platform = o.platform;
	req.reset = o.reset;
	req.durability = *el3d::durability_from_name(o.durability);
	if (o.platform && !el3d::find_platform(*o.platform)) {
		std::fprintf(stderr, "el3d: unknown platform '%s' (known: %s)\n", o.platform->c_str(),
		             el3d::platform_names().c_str());
		return kExitUsage;
	}

	// Two sinks: stderr at the level asked for, and the reasons handed back to clients with failed calls
	// (info and above, whatever stderr shows: see reason_sink.hpp).
	auto console = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
	const auto level = spdlog::level::from_str(o.log_level);
	console->set_level(level);
	auto reasons = std::make_shared<el3d::ReasonSink>();
	reasons->set_level(spdlog::level::info);
	auto logger = std::make_shared<spdlog::logger>("el3d", spdlog::sinks_init_list{console, reasons});
	logger->set_level(std::min(level, spdlog::level::info));
	spdlog::set_default_logger(logger);
	spdlog::set_pattern("%Y-%m-%d %H:%M:%S.%e %^%-7l%$ %v");
	spdlog::flush_on(spdlog::level::info);

	::umask(077);
	std::signal(SIGPIPE, SIG_IGN);

	// Signals first, so that a SIGTERM during start-up is not lost; asio turns them into events.
	// They are blocked here, before any thread starts (threads inherit the mask), and unblocked only
	// in signal_thread below: gRPC's and the token signer's threads never take them, and one that
	// comes during start-up stays pending until signal_thread takes it. Under ThreadSanitizer a
	// handler runs only when the thread that took the signal next enters an intercepted call, and a
	// gRPC thread asleep in a raw futex syscall never does: el3d ignored SIGTERM there.
	sigset_t stop_signals;
	sigemptyset(&stop_signals);
	for (int sig : {SIGINT, SIGTERM, SIGHUP})
		sigaddset(&stop_signals, sig);
	pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
	asio::io_context io;
	asio::signal_set signals(io, SIGINT, SIGTERM, SIGHUP);

	std::string socket_path = o.socket.empty() ? el3d::default_socket_path() : o.socket;
	std::unique_ptr<el3d::SocketGuard> guard;
	std::unique_ptr<el3d::Monitor> monitor;
	std::unique_ptr<el3d::NsMemory> ns;  // opened while the carveout is (its lock covers the file)
	const auto t0 = std::chrono::steady_clock::now();
	bool created = false;  // this start created the carveout file (the trace's start event says so)
	try {
		// The default directories are el3d's own (and in /tmp anyone can guess their names):
		// create them private and refuse one that someone else could control. A path the user
		// gave (--socket, $EL3D_SOCKET, --carveout) is used as it is.
		if (o.socket.empty() && el3d::env_socket_path().empty())
			el3d::make_private_dir(el3d::default_runtime_dir());
		guard = std::make_unique<el3d::SocketGuard>(socket_path);
		socket_path = guard->path();
		if (o.carveout.empty()) {
			// Default file per platform; with no --platform, use the fvp file.
			el3d::make_private_dir(el3d::default_state_dir());
			o.carveout = el3d::default_carveout_path(o.platform.value_or("fvp"));
		}
		req.path = o.carveout;
		auto carveout = el3d::Carveout::open(req);
		created = carveout->created();
		warn_if_other_abis_file(*carveout, o.abi, !o.payload_size.empty());
		spdlog::info("{} carveout {} (id {}, epoch {}, {} regions, durability {})",
		             carveout->created() ? "created" : "opened", carveout->path(), carveout->uuid_string(),
		             carveout->epoch(), carveout->log().size(), el3d::durability_name(carveout->durability()));
		ns = el3d::NsMemory::open(*carveout, {o.ns_memory, o.reset});
		if (!ns->created())  // a new one is logged as it is created
			spdlog::info("opened NS memory file {} (id {}, {} windows)", ns->path(), ns->id_string(), ns->windows().size());
		el3d::MonitorOptions mo;
		mo.abi = *el3d::abi_from_name(o.abi);
		mo.strict_boot = o.strict_boot;
		mo.token_sign = !o.no_token_sign;
		mo.sign_queue_depth = o.sign_queue_depth;
		mo.sign_delay = std::chrono::milliseconds(o.sign_delay_ms);
		if (!o.token_hunk_size.empty()) {
			auto h = el3d::parse_u64(o.token_hunk_size);
			if (!h || *h == 0)
				throw std::runtime_error("--token-hunk-size '" + o.token_hunk_size + "' is not a positive number");
			mo.token_hunk_size = *h;
		}
		mo.inject_again = o.inject_again;
		mo.mec = !o.no_mec;
		mo.mecid_width = o.mecid_width;
		mo.seed = o.seed;
		if (!o.boot_config.empty())
			mo.boot_config = el3d::manifest::load_boot_config(o.boot_config, carveout->geometry().platform);
		monitor = std::make_unique<el3d::Monitor>(std::move(carveout), std::move(mo));
		if (!o.faults.empty()) {
			// A bad rule refuses the start: a test that runs without the faults it asked for would pass for nothing.
			for (el3d::faults::Rule& r : el3d::faults::load_rules(o.faults)) {
				monitor->faults().add(std::move(r));
				spdlog::info("fault rule {}", el3d::faults::describe(monitor->faults().list().back().rule));
			}
		}
	} catch (const el3d::faults::RuleError& e) {
		spdlog::critical("--faults: {}", e.what());
		return kExitUsage;
	} catch (const el3d::CarveoutError& e) {
		spdlog::critical("{}", e.what());
		return kExitRefused;
	} catch (const el3d::NsMemoryError& e) {
		spdlog::critical("{}", e.what());
		return kExitRefused;
	} catch (const el3d::SocketBusy& e) {
		spdlog::critical("{}", e.what());
		return kExitRefused;
	} catch (const el3d::UnsafePath& e) {
		spdlog::critical("{}", e.what());
		return kExitRefused;
	} catch (const el3d::manifest::ConfigError& e) {
		spdlog::critical("boot configuration: {}", e.what());
		return kExitUsage;
	} catch (const std::exception& e) {
		spdlog::critical("{}", e.what());
		return kExitFailed;
	}

	const el3d::Geometry& g = monitor->geometry();
	// Destroyed before the monitor (it is the monitor's trace observer).
	auto service = std::make_unique<el3d::MonitorService>(*monitor, ns.get());
	el3d::snapshot::Store snapshots(o.snapshot_dir.empty() ? el3d::snapshot::Store::default_dir(monitor->carveout().path())
	                                                       : o.snapshot_dir);
	snapshots.clean_leftovers();  // what a save or removal killed with the last el3d left
	service->set_snapshots(&snapshots);
	try {
		service->tracer().open_file(o.trace_file);
	} catch (const std::exception& e) {
		spdlog::critical("--trace: {}", e.what());
		return kExitUsage;
	}
	service->tracer().set_ring(o.trace_ring);
	service->tracer().set_fixed_clock(o.fixed_clock);
	service->record_start(created);
	if (!o.trace_file.empty() || o.trace_ring != 0)
		spdlog::info("trace: {}{}{}", o.trace_file.empty() ? "" : "file " + o.trace_file,
		             !o.trace_file.empty() && o.trace_ring != 0 ? ", " : "",
		             o.trace_ring != 0 ? "ring of " + std::to_string(o.trace_ring) + " events" : "");
	// The shared-memory fast path: mailboxes handed over on a socket beside the gRPC one. Without it
	// (refused, or a path too long for a socket) sessions use their stream, as with --no-fastpath.
	std::unique_ptr<el3d::fastpath::Listener> fastpath;
	if (!o.no_fastpath) {
		const std::string fp_path = socket_path + ".fp";
		try {
			if (fp_path.size() > el3d::fastpath::max_socket_path())
				throw std::runtime_error(fp_path + " is too long for a Unix socket");
			fastpath = std::make_unique<el3d::fastpath::Listener>(fp_path);
			service->set_fastpath(fastpath.get());
		} catch (const std::exception& e) {
			spdlog::warn("no shared-memory fast path (sessions use their stream): {}", e.what());
		}
	}
	grpc::reflection::InitProtoReflectionServerBuilderPlugin();
	grpc::ServerBuilder builder;
	builder.AddListeningPort("unix:" + socket_path, grpc::InsecureServerCredentials());
	builder.RegisterService(service.get());
	el3d::ReflectionV1 reflection_v1({"el3d.v1.Monitor", "grpc.reflection.v1.ServerReflection",
	                                  "grpc.reflection.v1alpha.ServerReflection"});
	builder.RegisterService(&reflection_v1);
	builder.SetMaxReceiveMessageSize(8 << 20);
	builder.SetMaxSendMessageSize(8 << 20);
	std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
	if (!server) {
		spdlog::critical("cannot serve on unix:{}", socket_path);
		return kExitFailed;
	}
	if (std::error_code ec = guard->restrict_socket_mode())
		spdlog::warn("cannot make {} private (mode 0600): {}", socket_path, ec.message());
	const auto ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
	spdlog::info("el3d {} ready in {:.1f} ms: platform {} ({} ABI, interface {}.{}), carveout [{}, {}) + shared page "
	             "{}, payload limit {}, {} CPUs, {} region slots{}",
	             EL3D_VERSION, ms, g.platform, o.abi, el3d::interface_version(monitor->options().abi) >> 16,
	             el3d::interface_version(monitor->options().abi) & 0xffff, el3d::hex(g.rmm_base), el3d::hex(g.rmm_limit),
	             el3d::hex(g.shared_base()), el3d::hex(g.payload_limit), g.core_count, g.region_slots,
	             o.strict_boot ? ", strict boot" : "");
	if (o.seed)
		spdlog::info("reproducible run: seed {}{}", *o.seed, o.fixed_clock ? ", fixed trace clock" : "");
	spdlog::info("listening on unix:{}", socket_path);
	if (fastpath)
		spdlog::info("shared-memory fast path: mailboxes handed over on {}", fastpath->path());

	int exit_code = kExitOk;
	signals.async_wait([&](const std::error_code& ec, int sig) {
		if (ec)
			return;
		spdlog::info("{} received: finishing in-flight calls and stopping", strsignal(sig));
		// Stop accepting; in-flight calls get up to 500 ms to finish before they are cancelled.
		server->Shutdown(std::chrono::system_clock::now() + std::chrono::milliseconds(500));
	});
	std::thread signal_thread([&] {
		pthread_sigmask(SIG_UNBLOCK, &stop_signals, nullptr);
		io.run();
	});
	server->Wait();  // returns once Shutdown() has completed
	io.stop();
	signal_thread.join();

	server.reset();
	fastpath.reset();
	service.reset();
	guard->release();
	ns.reset();
	monitor.reset();  // flushes and unlocks the carveout file
	spdlog::info("stopped");
	return exit_code;
}
