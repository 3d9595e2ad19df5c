// el3ctl: talk to a running el3d from the shell.
#include "commands.hpp"
#include "el3d/util/paths.hpp"

#include <CLI/CLI.hpp>

#include <iostream>

// The first word that is neither an option of el3ctl's own nor its value, if it names no command: CLI11
// would only say "A subcommand is required".
static std::optional<std::string> unknown_command(CLI::App& app, int argc, char** argv)
{
	for (int i = 1; i < argc; ++i) {
		const std::string a = argv[i];
		if (a == "--socket" || a == "--timeout") {
			++i;  // its value
			continue;
		}
		if (a.empty() || a[0] == '-')
			continue;
		for (const auto* sub : app.get_subcommands({}))
			if (sub->get_name() == a)
				return std::nullopt;
		return a;
	}
	return std::nullopt;
}

int main(int argc, char** argv)
{
	using namespace el3d::cli;
	CLI::App app{"el3ctl " EL3D_VERSION " - command-line client of el3d, the EL3 emulator for RMM development.",
	             "el3ctl"};
	app.set_version_flag("--version", EL3D_VERSION);
	app.require_subcommand(1);
	Session s;
	s.out = &std::cout;
	s.err = &std::cerr;
	s.socket = el3d::default_socket_path();
	double timeout_s = 10;
	app.add_option("--socket", s.socket, "el3d's Unix socket (default: $EL3D_SOCKET, else $XDG_RUNTIME_DIR/el3d/el3d.sock)");
	app.add_option("--timeout", timeout_s, "seconds to wait for each call, above 0 (default 10)")
	    ->check(CLI::Validator(
	        [](std::string& v) {
		        double d = 0;
		        return CLI::detail::lexical_cast(v, d) && d > 0 && d <= 86400
		                   ? std::string()
		                   : "must be a number of seconds above 0 and at most 86400, e.g. 0.5 or 30";
	        },
	        "SECONDS"));

	int rc = kOk;
	uint32_t cpu = 0;

	auto* smc = app.add_subcommand("smc", "issue one SMC; prints x0 (and its name) .. x7 on one line");
	std::string fid;
	std::vector<std::string> xs;
	smc->add_option("--cpu", cpu, "calling CPU (default 0)");
	smc->add_option("FID", fid, "function ID: a number (0xC40001B7) or a name (RMM_ALLOCATE_MEMORY)")->required();
	bool smc_raw = false;
	smc->add_flag("--raw", smc_raw, "x0..x7 only, without x0's name (for scripts)");
	smc->add_option("X", xs, "x1 .. x12 (hex, decimal, or negative decimal)");

	auto* rmi = app.add_subcommand("rmi", "the Non-secure world's SMC: one RMI through el3d to the RMM serving the CPU; "
	                                      "prints x0..x7 on one line");
	bool fail_fast = false;
	rmi->add_option("--cpu", cpu, "calling CPU (default 0)");
	rmi->add_option("FID", fid, "RMI function ID, e.g. 0xC4000150 (RMI_VERSION)")->required();
	rmi->add_option("X", xs, "x1 .. x7 (hex, decimal, or negative decimal)");
	rmi->add_flag("--fail-fast", fail_fast, "fail at once if no RMM waits on the CPU, instead of queueing");

	auto* trace = app.add_subcommand("trace", "el3d's SMC trace: follow it live (default), `show FILE`, or `set`");
	trace->require_subcommand(0, 1);
	TraceFollow tf;
	std::optional<uint32_t> trace_cpu;
	trace->add_option("--cpu", trace_cpu, "only this CPU's events");
	trace->add_option("--fid", tf.fid, "only calls with this FID");
	trace->add_option("--result", tf.result, "only calls with this result, e.g. E_RMM_BAD_PAS");
	trace->add_flag("--ring", tf.ring, "first the events kept in el3d's ring (el3d --trace-ring N)");
	trace->add_option("--count", tf.count, "stop after N events (default: follow until Ctrl-C)");
	trace->add_flag("--json", tf.json, "print the events as JSON lines (the trace file's format)");
	auto* tshow = trace->add_subcommand("show", "print a trace file decoded, with counts per FID and result and the slowest calls");
	std::string trace_path;
	bool show_json = false, summary_only = false;
	tshow->add_option("FILE", trace_path, "a trace file (el3d --trace FILE)")->required();
	tshow->add_flag("--json", show_json, "the events as JSON lines, no summary");
	tshow->add_flag("--summary", summary_only, "the summary only");
	auto* tset = trace->add_subcommand("set", "change where el3d records the trace while it runs");
	std::optional<std::string> tset_file;
	std::optional<uint64_t> tset_ring;
	bool tset_off = false;
	auto* tset_file_opt = tset->add_option("--file", tset_file, "append the trace to FILE (a path as el3d sees it)");
	tset->add_flag("--off", tset_off, "no trace file")->excludes(tset_file_opt);
	tset->add_option("--ring", tset_ring, "keep the last N events in el3d (0: none)");

	auto* rep = app.add_subcommand("replay", "re-issue a trace's calls on a fresh carveout (or a snapshot) in process; "
	                                          "print the first divergence or \"identical\" (exit 3 if they differ)");
	ReplayArgs ra;
	rep->add_option("TRACE", ra.trace, "a trace file of an el3d run (el3d --trace FILE, best with --seed)")->required();
	auto* rep_carveout = rep->add_option("--carveout", ra.carveout, "start from a copy of this carveout file (left untouched)");
	rep->add_option("--snapshot", ra.snapshot, "start from a copy of this snapshot of the traced carveout")
	    ->excludes(rep_carveout);
	rep->add_option("--snapshot-dir", ra.snapshot_dir, "where the snapshots are, for --snapshot and for restores the trace made (default: <traced carveout>.snapshots)");
	rep->add_flag("--registers-only", ra.registers_only,
	              "compare the result registers only (not what the calls changed or the memory they wrote)");
	rep->add_flag("--json", ra.json, "the report as JSON");

	auto* fault = app.add_subcommand("fault", "fault injection: `add` a rule, `list` the rules, `clear` (docs/faults.md)");
	fault->require_subcommand(1);
	auto* fadd = fault->add_subcommand("add", "add a fault rule; prints it as el3d holds it");
	FaultAdd fa;
	fadd->add_option("--id", fa.id, "the rule's id (default: f1, f2, ...)");
	fadd->add_option("--fid", fa.fid, "the FID it picks, by name (RMM_GTSI_DELEGATE) or number (default: every FID)");
	fadd->add_option("--cpu", fa.cpu, "the CPU it picks (default: every CPU)");
	auto* t_nth = fadd->add_option("--nth", fa.nth, "fire on the Nth picked call only");
	auto* t_every = fadd->add_option("--every", fa.every, "fire on picked calls K, 2K, 3K, ...");
	auto* t_prob = fadd->add_option("--probability", fa.probability, "fire on each picked call with probability P")
	                   ->check(CLI::Range(0.0, 1.0));
	fadd->add_option("--seed", fa.seed, "the generator's seed for --probability (default 0)")->needs(t_prob);
	auto* t_cycle = fadd->add_option("--cycle", fa.cycle, "FIRE PASS: FIRE picked calls answered, PASS served, again")
	                    ->expected(2);
	t_nth->excludes(t_every)->excludes(t_prob)->excludes(t_cycle);
	t_every->excludes(t_prob)->excludes(t_cycle);
	t_prob->excludes(t_cycle);
	fadd->add_option("--when", fa.when, "a condition on x1..x12, e.g. 'x2>0x1000' or 'x1&0xfff==0 && x3!=0'");
	fadd->add_option("--times", fa.times, "fire at most N times");
	fadd->add_option("--result", fa.result, "answer this result without running the call (E_RMM_BAD_PAS, SMC_UNK, -3)");
	fadd->add_option("--delay-ms", fa.delay_ms, "wait MS first (then the result, or the real call)");
	fadd->add_flag("--kill", fa.kill, "end the caller's session at this call (an RMM crash)");
	fadd->add_flag("--on-entry", fa.on_entry, "a rule on cold boot entries (with --manifest) instead of SMCs");
	fadd->add_option("--manifest", fa.manifest, "Boot Manifest faults for the cold boots picked, e.g. dram-unsorted");
	auto* flist = fault->add_subcommand("list", "the rules in force, with how often each picked and fired");
	bool flist_json = false;
	flist->add_flag("--json", flist_json, "the rules as JSON with their counters");
	auto* fclear = fault->add_subcommand("clear", "remove a rule by id, or every rule");
	std::string fclear_id;
	fclear->add_option("ID", fclear_id, "the rule (default: all)");

	auto* alloc = app.add_subcommand("alloc", "RMM_ALLOCATE_MEMORY: allocate (or get back) a region");
	std::string size;
	unsigned align_bits = 0, id = 0;
	alloc->add_option("--size", size, "bytes (hex, decimal, K/M/G suffixes)")->required();
	alloc->add_option("--align-bits", align_bits, "alignment as log2 of bytes (12 = 4 KiB)")->check(CLI::Range(0, 255));
	alloc->add_option("--id", id, "region id; 0 (default) = always new memory")->check(CLI::Range(0, 65535));
	alloc->add_option("--cpu", cpu, "calling CPU (default 0)");

	auto* reserve = app.add_subcommand("reserve", "RMM_RESERVE_MEMORY (tfa ABIs): reserve memory from the carveout");
	std::string rsize;
	unsigned ralign = 12;
	bool rlocal = false;
	reserve->add_option("--size", rsize, "bytes (hex, decimal, K/M/G suffixes)")->required();
	reserve->add_option("--align-bits", ralign, "alignment as log2 of bytes (default 12 = 4 KiB)")->check(CLI::Range(0, 255));
	reserve->add_flag("--local", rlocal, "memory close to the calling CPU (x2[0])");
	reserve->add_option("--cpu", cpu, "calling CPU (default 0)");

	auto* mem = app.add_subcommand("mem", "read or write emulated physical memory in the carveout");
	mem->require_subcommand(1);
	auto* mread = mem->add_subcommand("read", "print LEN bytes at ADDR as one lowercase hex string");
	std::string addr, len, hexdata;
	bool dump = false;
	mread->add_option("ADDR", addr, "physical address (hex or decimal), in the carveout or a Non-secure window")
	    ->required();
	mread->add_option("LEN", len, "bytes to read (hex, decimal, K/M/G suffixes)")->required();
	mread->add_flag("--dump", dump, "show a hexdump instead");
	auto* mwrite = mem->add_subcommand("write", "write the bytes HEX (e.g. deadbeef) at ADDR");
	mwrite->add_option("ADDR", addr, "physical address (hex or decimal), in the carveout or a Non-secure window")
	    ->required();
	mwrite->add_option("HEX", hexdata, "the bytes, two hex digits each, in memory order (deadbeef: de ad be ef)")
	    ->required();

	auto* reset = app.add_subcommand("reset", "forget every region and boot state; zero the carveout");

	auto* status = app.add_subcommand("status", "show the carveout map, regions and CPUs");
	bool json = false;
	status->add_flag("--json", json, "machine-readable output");

	auto* boot = app.add_subcommand("boot", "EL3 enters the RMM on a CPU; prints the entry registers x0..x7 on one line");
	std::string kind = "auto", config;
	boot->add_option("--cpu", cpu, "CPU to enter (default 0)");
	bool cold_flag = false, warm_flag = false;
	auto* cold = boot->add_flag("--cold", cold_flag, "a cold boot: a new activation, Boot Manifest written to the shared page");
	auto* warm = boot->add_flag("--warm", warm_flag, "a warm boot (a secondary CPU)");
	cold->excludes(warm);
	boot->add_option("--config", config, "boot configuration for this entry (.json or .toml): manifest, faults, registers");

	auto* man = app.add_subcommand("manifest", "decode and check the Boot Manifest in the shared page");
	bool man_json = false;
	man->add_flag("--json", man_json, "machine-readable output");

	auto* wait = app.add_subcommand("wait", "wait until el3d answers on its socket");
	double wait_s = 10;
	wait->add_option("--timeout", wait_s, "seconds (default 10)");

	auto* fids = app.add_subcommand("fids", "the FIDs el3d serves under its ABI profile (or --abi's), with their names");
	std::string fids_abi;
	bool fids_json = false;
	fids->add_option("--abi", fids_abi, "list this profile's table without asking el3d")
	    ->check(CLI::IsMember({"seed", "tfa", "tfa-v1-compat"}));
	fids->add_flag("--json", fids_json, "machine-readable output");

	auto* snap = app.add_subcommand("snapshot", "carveout snapshots: save, restore, list, rm (docs/snapshots.md)");
	snap->require_subcommand(1);
	std::string snap_name, snap_note;
	bool snap_force = false, snap_json = false;
	auto* ssave = snap->add_subcommand("save", "copy the carveout (image, GPT, metadata) as snapshot NAME");
	ssave->add_option("NAME", snap_name, "letters, digits, '.', '_', '-' (at most 64)")->required();
	ssave->add_option("--note", snap_note, "a note kept with the snapshot");
	ssave->add_flag("--force", snap_force, "replace a snapshot of that name");
	auto* srestore = snap->add_subcommand("restore", "make the carveout what snapshot NAME holds (el3d keeps running)");
	srestore->add_option("NAME", snap_name, "the snapshot")->required();
	srestore->add_flag("--force", snap_force, "restore even while an RMM session holds a CPU");
	auto* slist = snap->add_subcommand("list", "list the snapshots");
	slist->add_flag("--json", snap_json, "machine-readable output");
	auto* srm = snap->add_subcommand("rm", "remove snapshot NAME");
	srm->add_option("NAME", snap_name, "the snapshot")->required();

	if (auto unknown = unknown_command(app, argc, argv)) {
		std::cerr << "el3ctl: '" << *unknown << "' is not a command; the commands are";
		for (const auto* sub : app.get_subcommands({}))
			std::cerr << " " << sub->get_name();
		std::cerr << " (el3ctl --help says what each does)\n";
		return kUsage;
	}
	try {
		app.parse(argc, argv);
	} catch (const CLI::ParseError& e) {
		int r = app.exit(e);
		return r == 0 ? kOk : kUsage;
	}
	s.timeout = std::chrono::milliseconds(static_cast<long>(timeout_s * 1000));
	if (*smc)
		rc = cmd_smc(s, cpu, fid, xs, smc_raw);
	else if (*rmi)
		rc = cmd_rmi(s, cpu, fid, xs, fail_fast);
	else if (*tshow)
		rc = cmd_trace_show(s, trace_path, show_json, summary_only);
	else if (*tset)
		rc = cmd_trace_set(s, tset_file, tset_off, tset_ring);
	else if (*trace) {
		tf.cpu = trace_cpu;
		rc = cmd_trace_follow(s, tf);
	} else if (*rep)
		rc = cmd_replay(s, ra);
	else if (*fadd)
		rc = cmd_fault_add(s, fa);
	else if (*flist)
		rc = cmd_fault_list(s, flist_json);
	else if (*fclear)
		rc = cmd_fault_clear(s, fclear_id);
	else if (*alloc)
		rc = cmd_alloc(s, cpu, size, align_bits, id);
	else if (*reserve)
		rc = cmd_reserve(s, cpu, rsize, ralign, rlocal);
	else if (*mread)
		rc = cmd_mem_read(s, addr, len, dump);
	else if (*mwrite)
		rc = cmd_mem_write(s, addr, hexdata);
	else if (*reset)
		rc = cmd_reset(s);
	else if (*status)
		rc = cmd_status(s, json);
	else if (*boot)
		rc = cmd_boot(s, cpu, cold_flag ? "cold" : warm_flag ? "warm" : kind, config);
	else if (*man)
		rc = cmd_manifest(s, man_json);
	else if (*wait)
		rc = cmd_wait(s, wait_s);
	else if (*fids)
		rc = cmd_fids(s, fids_abi, fids_json);
	else if (*ssave)
		rc = cmd_snapshot_save(s, snap_name, snap_note, snap_force);
	else if (*srestore)
		rc = cmd_snapshot_restore(s, snap_name, snap_force);
	else if (*slist)
		rc = cmd_snapshot_list(s, snap_json);
	else if (*srm)
		rc = cmd_snapshot_rm(s, snap_name);
	return rc;
}
