#pragma once
// el3ctl's subcommands, separated from argument parsing so that they can be tested.
#include "el3d/v1/monitor.grpc.pb.h"

#include <chrono>
#include <cstdint>
#include <iosfwd>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace el3d::cli {

// Exit codes (docs/el3ctl.md).
inline constexpr int kOk = 0;
inline constexpr int kUsage = 1;        // bad arguments
inline constexpr int kUnreachable = 2;  // the daemon could not be reached or refused the request
inline constexpr int kSmcError = 3;     // the call completed with an E_RMM_* error (alloc only)

struct Session {
	std::string socket;
	std::chrono::milliseconds timeout{10000};
	std::ostream* out;
	std::ostream* err;
	std::unique_ptr<v1::Monitor::Stub> stub;
	// Connect lazily; false (with a message) if the socket does not exist.
	bool connect();
	int fail(const grpc::Status& s, const std::string& what);
	std::string why_unreachable(const grpc::Status& s) const;
	grpc::Status get_state(v1::State& state);
	std::unique_ptr<grpc::ClientContext> context() const;
};

// A register value: decimal, 0x-hex, K/M/G suffixes, or a negative decimal (two's complement).
std::optional<uint64_t> parse_register(const std::string& s);
// An SMC's FID and registers x1.. (at most as many as `x` holds: the caller checks the count);
// false, with a message naming `cmd` and the register, if one is not a number.
bool parse_call(Session& s, const char* cmd, const std::string& fid, const std::vector<std::string>& args,
                uint64_t& f, uint64_t* x);

// raw: x0..x7 only; otherwise x0 is followed by its name, e.g. "x0=0xfffffffffffffffd (E_RMM_BAD_PAS) x1=...".
int cmd_smc(Session& s, uint32_t cpu, const std::string& fid, const std::vector<std::string>& args, bool raw = false);
int cmd_alloc(Session& s, uint32_t cpu, const std::string& size, unsigned align_bits, unsigned id);
// RMM_RESERVE_MEMORY (tfa profiles): exit kSmcError with the reason when it fails.
int cmd_reserve(Session& s, uint32_t cpu, const std::string& size, unsigned align_bits, bool local_cpu);
int cmd_mem_read(Session& s, const std::string& addr, const std::string& len, bool dump);
int cmd_mem_write(Session& s, const std::string& addr, const std::string& hexdata);
int cmd_reset(Session& s);
int cmd_status(Session& s, bool json);
int cmd_wait(Session& s, double seconds);
// The FID table of ABI profile `abi` ("seed", "tfa", "tfa-v1-compat"), or of the one el3d serves if empty.
int cmd_fids(Session& s, const std::string& abi, bool json);
// kind: "auto", "cold" or "warm"
int cmd_boot(Session& s, uint32_t cpu, const std::string& kind, const std::string& config_path);
int cmd_manifest(Session& s, bool json);
// el3ctl trace: follow live (filters), show a file, set where el3d records.
struct TraceFollow {
	std::optional<uint32_t> cpu;
	std::string fid, result;
	bool ring = false, json = false;
	uint64_t count = 0;
};
int cmd_trace_follow(Session& s, const TraceFollow& t);
int cmd_trace_show(Session& s, const std::string& path, bool json, bool summary_only);
int cmd_trace_set(Session& s, const std::optional<std::string>& file, bool off, std::optional<uint64_t> ring);
// el3ctl replay TRACE: exit kOk when identical, kSmcError (3) at a divergence, kUsage when it cannot run.
struct ReplayArgs {
	std::string trace;
	std::string carveout;      // replay on a copy of this carveout file
	std::string snapshot;      // ... or of this snapshot of the traced carveout
	std::string snapshot_dir;  // where the snapshots are (default: <traced carveout>.snapshots)
	bool registers_only = false, json = false;
};
int cmd_replay(Session& s, const ReplayArgs& a);
// el3ctl snapshot (snapshot_cmd.cpp).
int cmd_snapshot_save(Session& s, const std::string& name, const std::string& note, bool force);
int cmd_snapshot_restore(Session& s, const std::string& name, bool force);
int cmd_snapshot_list(Session& s, bool json);
int cmd_snapshot_rm(Session& s, const std::string& name);
// One RMI from the Non-secure world (world switch); x1..x7.
int cmd_rmi(Session& s, uint32_t cpu, const std::string& fid, const std::vector<std::string>& args, bool fail_fast);

// el3ctl fault: add a fault rule (docs/faults.md), list the rules with their counters, clear one or all.
struct FaultAdd {
	std::string id, fid, result, when;
	std::optional<uint32_t> cpu;
	std::optional<uint64_t> nth, every, times, delay_ms, seed;
	std::optional<double> probability;
	std::vector<uint64_t> cycle;  // fire, pass
	bool kill = false, on_entry = false;
	std::vector<std::string> manifest;
};
int cmd_fault_add(Session& s, const FaultAdd& f);
int cmd_fault_list(Session& s, bool json);
int cmd_fault_clear(Session& s, const std::string& id);

}  // namespace el3d::cli
