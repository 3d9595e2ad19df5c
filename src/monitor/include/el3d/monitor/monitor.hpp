#pragma once
// The emulated EL3 monitor: one dispatch entry for every SMC, whatever front end it came from
// (the gRPC daemon, the client shim's in-process mode, the tests), plus the boot entry that
// hands a CPU its entry registers.
#include "el3d/carveout/carveout.hpp"
#include "el3d/faults/faults.hpp"
#include "el3d/manifest/boot_config.hpp"
#include "el3d/platform/platform.hpp"

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace el3d {

using SmcArgs = std::array<uint64_t, 12>;    // x1 .. x12
using SmcResult = std::array<uint64_t, 8>;   // x0 .. x7

// Which RMM-EL3 interface el3d speaks (docs/abi.md).
enum class Abi {
	Seed,         // interface 0.6 with RMM_ALLOCATE_MEMORY (the founding patch): the default
	Tfa,          // interface 2.0 as upstream TF-A: RMM_RESERVE_MEMORY, activation tokens, MEC_REFRESH
	TfaV1Compat,  // upstream TF-A built with RMM_V1_COMPAT: interface 0.8, otherwise as Tfa
};
const char* abi_name(Abi a);
std::optional<Abi> abi_from_name(std::string_view name);
uint32_t interface_version(Abi a);  // x1 at cold boot: bits [30:16] major, [15:0] minor
// The FIDs an ABI profile serves (docs/abi.md), ascending, with their names: what `el3ctl fids` lists.
// The FIRME FIDs el3d does not provide (they answer FIRME_NOT_SUPPORTED) are left out; with
// `token_sign` false, RMM_EL3_TOKEN_SIGN is too (el3d --no-token-sign). Any other FID answers SMC_UNK.
struct FidEntry {
	uint32_t fid;
	std::string name;
};
std::vector<FidEntry> profile_fids(Abi a, bool token_sign = true);
// The payload size a new carveout file for this ABI gets unless --payload-size says otherwise:
// the seed's 0x800000, or upstream TF-A's (docs/platforms.md). For CarveoutOpenRequest's
// overrides.payload_default, which must be set before the file is created.
PayloadDefault payload_default(Abi a);

struct MonitorOptions {
	Abi abi = Abi::Seed;
	// Refuse memory allocation (E_RMM_UNK) from a CPU that has completed its boot.
	bool strict_boot = false;
	// RMM_EL3_TOKEN_SIGN is offered (EL3_FEATURES bit 0); otherwise that FID is SMC_UNK.
	bool token_sign = true;
	unsigned sign_queue_depth = 4;              // requests pushed and not yet pulled
	std::chrono::milliseconds sign_delay{20};   // time the emulated signer takes per request
	uint64_t token_hunk_size = 0;               // bytes per GET_PLAT_TOKEN call; 0 = as much as fits
	// GET_PLAT_TOKEN answers E_RMM_AGAIN this often before each hunk: a built-in fault rule "inject-again" (a cycle
	// of N answers and one hunk, on calls the command's checks accept), listed and cleared like any other.
	unsigned inject_again = 0;
	bool mec = true;                            // FEAT_MEC present
	unsigned mecid_width = 16;                  // MECIDR_EL2.MECIDWidthm1 + 1
	// Reproducible runs (el3d --seed): the attestation keys of a new carveout file derived from the seed,
	// signatures with deterministic nonces, and the token signer answering in call order instead of
	// after sign_delay, so that what el3d answers depends on the calls alone and a recorded run replays
	// identically (docs/replay.md).
	std::optional<uint64_t> seed;
	// The Boot Manifest, boot-register overrides, deliberate faults and GPT pre-marks. Empty
	// manifest = the platform's default.
	std::optional<manifest::BootConfig> boot_config;
};

enum class CpuBootState { Off, Booting, Booted, Failed };

struct CpuStatus {
	uint32_t cpu = 0;
	CpuBootState state = CpuBootState::Off;
	int64_t boot_result = 0;     // x1 of the last RMM_BOOT_COMPLETE
	uint64_t completions = 0;    // how many RMM_BOOT_COMPLETE this CPU sent
	uint64_t token = 0;          // activation token: x2 of its last RMM_BOOT_COMPLETE
	uint64_t entries = 0;        // boot entries (cold or warm) of this CPU
	bool session = false;        // a client session is attached to this CPU
};

struct BootFailure {
	uint32_t cpu = 0;
	int64_t code = 0;
};

enum class EntryKind { Auto, Cold, Warm };

// What a CPU finds in its registers when EL3 enters the RMM.
struct Entry {
	EntryKind kind = EntryKind::Cold;  // Cold or Warm
	SmcResult regs{};                  // x0 .. x7
	uint64_t activation = 0;
	uint64_t manifest_size = 0;        // bytes written at the start of the shared page (cold boot)
	// The boot configuration this entry was given instead of el3d's own (JSON, manifest::to_json), for
	// the trace; empty when it used el3d's own or nothing observes.
	std::string config_json;
	std::string injected_by;           // a fault rule that added Boot Manifest faults to this entry (docs/faults.md)
};

class EntryRefused : public std::runtime_error {
	using std::runtime_error::runtime_error;
};

// A fault rule with `kill` fired on this call: the caller's session must end as if its RMM had crashed at this SMC
// (the daemon ends the Session stream with ABORTED, the client shim reports EL3_ERR_SESSION). Nothing changed.
class SessionKilled : public std::runtime_error {
public:
	SessionKilled(uint32_t c, std::string r, const std::string& what)
	    : std::runtime_error(what), cpu(c), rule(std::move(r))
	{
	}
	uint32_t cpu;
	std::string rule;
};

// A second session claimed a CPU that already has one.
class SessionConflict : public EntryRefused {
	using EntryRefused::EntryRefused;
};

// A restore refused because an RMM holds a CPU (Monitor::restore without force).
class RestoreRefused : public std::runtime_error {
	using std::runtime_error::runtime_error;
};

// What `el3ctl status` shows.
struct MonitorStatus {
	Geometry geometry;
	std::string carveout_path;
	std::string carveout_uuid;
	uint64_t image_offset = 0;
	Abi abi = Abi::Seed;
	uint32_t interface_version = 0;
	bool strict_boot = false;
	uint64_t top = 0;
	std::vector<AllocRecord> regions;  // every allocation, in order; id 0 = untagged
	uint64_t log_capacity = 0;
	uint64_t allocations_after_boot = 0;
	std::vector<CpuStatus> cpus;  // CPUs that have done anything
	std::optional<BootFailure> boot_failure;
	uint64_t epoch = 0;
	uint64_t activation = 0;
	uint64_t smc_calls = 0;  // since the daemon started
	std::array<uint64_t, 16> gpt_granules{};  // granules per GPI value
	std::vector<GptRange> gpt_ranges;
	std::vector<uint8_t> platform_key;  // uncompressed P-384 public key that signs platform tokens
	std::vector<uint8_t> realm_key;     // uncompressed P-384 public key of the realm attestation key
	uint64_t sign_pending = 0, sign_ready = 0, sign_done = 0;
	uint64_t mec_refreshes = 0;
	std::string boot_config_json;
	Durability durability = Durability::Power;  // how far a change is made durable before its SMC returns
	FlushStats flushes;                         // flushes made so far (Carveout::flush_stats())
};

// Memory a call read (bytes) or wrote (a SHA-256 of them): the shared buffer of the attestation and
// token-sign commands. What a replay puts back before the call, and checks after it.
struct MemRead {
	uint64_t pa = 0;
	std::vector<uint8_t> bytes;
};
struct MemWrite {
	uint64_t pa = 0, len = 0;
	std::array<uint8_t, 32> sha256{};
};

// What the monitor reports of each call it serves, for the trace (src/trace). Called on the calling
// thread after the call, while the monitor still holds its lock: the observer sees the calls of all
// CPUs in the order they were served (the order a replay re-issues them in). It must not call the
// monitor, and should be quick.
struct SmcRecord {
	uint32_t cpu = 0;
	uint64_t activation = 0;
	uint64_t fid = 0;  // x0 as the caller set it
	SmcArgs in{};
	SmcResult out{};
	std::chrono::nanoseconds duration{0};
	std::vector<std::string> effects;  // what the call changed, e.g. "region id=1 0xffbfd000+0x2000 fresh"
	std::vector<MemRead> mem_in;       // memory the call read, as it found it
	std::vector<MemWrite> mem_out;     // memory the call wrote
	std::string injected_by;           // the fault rule that answered (or delayed, or killed) the call; empty: none
	std::string note;                  // how it was injected, e.g. "injected by rule d3", "session killed by rule k"
};
class SmcObserver {
public:
	virtual ~SmcObserver() = default;
	virtual void on_smc(const SmcRecord& r) = 0;
	virtual void on_entry(uint32_t cpu, const Entry& e) = 0;
};

class Monitor {
public:
	Monitor(std::unique_ptr<Carveout> carveout, MonitorOptions options);
	~Monitor();
	Monitor(const Monitor&) = delete;
	Monitor& operator=(const Monitor&) = delete;

	// The single entry into the core. `fid` is x0 as the caller set it. Returns false (and
	// leaves `out` alone) only when `cpu` is not a CPU of this platform; every other outcome,
	// including unknown FIDs, is an SMC result in `out`. Thread-safe. A fault rule may answer instead of the
	// command (nothing changes), delay the call (outside the monitor's lock), or throw SessionKilled.
	bool call(uint32_t cpu, uint64_t fid, const SmcArgs& x, SmcResult& out);

	// EL3 enters the RMM on `cpu`. Auto picks a cold boot (a new activation, Boot Manifest
	// written to the shared page) when no CPU has entered in this activation or this CPU
	// already has (the RMM was restarted), and a warm boot otherwise. `config` replaces the
	// daemon's boot configuration for this entry. Throws EntryRefused (bad CPU, Realm world
	// disabled after a failed boot, warm boot before any cold boot) and manifest::ConfigError.
	Entry enter(uint32_t cpu, EntryKind kind, const manifest::BootConfig* config = nullptr);

	// Sessions: a client claims a CPU for the life of one RMM instance on it. attach() throws
	// SessionConflict if the CPU is already claimed (EntryRefused for a bad CPU). When the last
	// session detaches, the RMM instance is gone and the next entry starts a new activation.
	// detach() never throws (it runs in session destructors): errors are logged.
	void attach(uint32_t cpu);
	void detach(uint32_t cpu) noexcept;

	MonitorStatus status() const;
	// The same into `s`, every field replaced, reusing its storage: a caller that asks often (a poller, a
	// fuzz target) allocates nothing once `s` has grown to size.
	void status(MonitorStatus& s) const;
	// Forget every region, delegation and CPU's boot state; the image reads as zero afterwards.
	// Attestation keys are kept.
	void reset();

	// Snapshots (src/snapshot, docs/snapshots.md). quiesce() runs `fn` with no SMC, boot entry, reset,
	// restore or memory write in progress (under the monitor's lock), so that a copy of the carveout
	// file made in it holds no half-applied call. `fn` must not call the monitor (it would deadlock);
	// it may read carveout(). restore() replaces the carveout file's content by the
	// carveout file `source` (Carveout::restore_from) and reloads everything derived from it (regions,
	// GPT, boot states, activation, tokens, keys), as a restart would. Refused with RestoreRefused while
	// a session holds a CPU unless `force`, and with CarveoutError (GeometryMismatch) if `source` is laid
	// out differently; nothing changes then. Sessions stay attached through a forced restore.
	void quiesce(const std::function<void()>& fn) const;
	void restore(const std::string& source, bool force);

	const Geometry& geometry() const;
	const Carveout& carveout() const;
	const MonitorOptions& options() const;

	// Direct access to the emulated physical memory (the image), e.g. for a debugger view.
	// False if [pa, pa+len) is not inside the image, or if the file refuses the copy (an I/O error; a full
	// file system for a write, which may have changed part of the range): logged. Writes are flushed
	// before returning.
	bool read_memory(uint64_t pa, uint64_t len, std::vector<uint8_t>& out) const;
	bool write_memory(uint64_t pa, const uint8_t* data, uint64_t len);

	// What the world switch (src/worldswitch) asks: whether a failed boot disabled the Realm world,
	// and where a CPU's boot is (Off for a CPU outside the platform).
	bool realm_world_disabled() const;
	CpuBootState cpu_state(uint32_t cpu) const;
	uint64_t activation() const;  // the current RMM activation number
	// The Non-secure world's granule protection check: the first granule of [pa, pa + len) whose
	// PAS the Non-secure world may not access (anything but Non-secure, Non-secure-only or any),
	// with that PAS; nullopt if it may access all of them (block-mapped memory included).
	std::optional<std::pair<uint64_t, Gpi>> ns_access_fault(uint64_t pa, uint64_t len) const;

	// Fault injection (docs/faults.md): the rules the dispatch entry asks before each handler and the boot entry
	// before each cold boot. Thread-safe; rules may be added and cleared while calls are made.
	faults::Injector& faults();

	// The trace's hook: every SMC and boot entry is reported to `o` (null: none) from now on. Set it
	// before calls are made, or while none is in flight.
	void set_observer(SmcObserver* o);
	// A call served outside call() (the world switch's RMM_RMI_REQ_COMPLETE), for the observer.
	void report(const SmcRecord& r);

	struct Impl;

private:
	// `rec` (null: nothing observes): filled in and reported before the lock is released. `injected_by`:
	// set when a fault rule answers at the command's own check point.
	bool serve(uint32_t cpu, uint64_t fid, const SmcArgs& x, SmcResult& out, SmcRecord* rec, std::string& injected_by);
	std::unique_ptr<Impl> impl_;
};

}  // namespace el3d
