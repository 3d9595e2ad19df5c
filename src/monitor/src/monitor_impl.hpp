#pragma once
// Private to the monitor component: the state every handler works on, and the handler table.
#include "el3d/alloc/allocator.hpp"
#include "el3d/attest/cbor.hpp"
#include "el3d/attest/key.hpp"
#include "el3d/attest/platform_token.hpp"
#include "el3d/gpt/gpt.hpp"
#include "el3d/monitor/monitor.hpp"
#include "token_signer.hpp"

#include <nlohmann/json.hpp>

#include <atomic>
#include <map>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>

namespace el3d {

// Per-CPU boot progress, activation tokens and the global boot failure, persisted in the
// carveout's state block.
class BootState {
public:
	explicit BootState(uint32_t core_count) : core_count_(core_count), attached_(core_count, false) {}

	// A CPU's boot progress; one that has done nothing since the last reset reads as off, with nothing recorded.
	CpuStatus& cpu(uint32_t n) { return record(n).status; }
	const CpuStatus& cpu(uint32_t n) const;
	uint32_t core_count() const { return core_count_; }
	const std::optional<BootFailure>& failure() const { return failure_; }
	void set_failure(BootFailure f) { failure_ = f; }
	uint64_t activation() const { return activation_; }

	// A CPU entered in the current activation.
	bool entered(uint32_t n) const;
	bool any_entered() const;
	void mark_entered(uint32_t n) { record(n).entered = true; }
	// A cold boot happened in the current activation (the next one starts a new activation).
	bool started() const { return started_; }
	// Some CPU ran RMM code in this activation (entered it, or made SMCs without a boot entry).
	bool any_ran() const;
	void set_started() { started_ = true; }
	// Begin a new activation: every CPU's boot state restarts; tokens are kept.
	void new_activation();
	// The RMM instance is gone (its last CPU session closed): the next entry is a cold boot.
	void end_activation();

	// CPUs with an open session (not persisted: sessions end with the daemon).
	bool attached(uint32_t n) const { return attached_[n]; }
	void set_attached(uint32_t n, bool a) { attached_[n] = a; }
	bool any_attached() const;

	// Each CPU with anything to show (status() lists it, the state document keeps it), in CPU order: not off,
	// or it booted, entered or got a token before. Proportional to the CPUs used, not to the platform's count.
	template <class F>
	void for_each_recorded(F&& f) const
	{
		for (const auto& [n, c] : cpus_)
			if (recorded(c.status))
				f(n, c.status, c.entered);
	}
	void encode(attest::cbor::Writer& w) const;  // the state document's "boot" (state_doc.cpp)
	void load(const nlohmann::json& j);  // tolerant of a missing document (new file)
	void clear();

private:
	struct Cpu {
		CpuStatus status;
		bool entered = false;
	};
	static bool recorded(const CpuStatus& c)
	{
		return c.state != CpuBootState::Off || c.completions != 0 || c.entries != 0 || c.token != 0;
	}
	Cpu& record(uint32_t n);

	uint32_t core_count_;
	// Only the CPUs touched since the last reset (a platform has up to 4 096, a run uses a few): what a reset
	// clears, a commit encodes and status() lists grows with the CPUs used.
	std::map<uint32_t, Cpu> cpus_;
	std::vector<bool> attached_;
	bool started_ = false;
	std::optional<BootFailure> failure_;
	uint64_t activation_ = 1;
};

// RMM_ATTEST_GET_PLAT_TOKEN retrieval in progress.
struct PlatTokenState {
	bool active = false;
	std::vector<uint8_t> token;
	uint64_t offset = 0;
};

// One SMC in flight: x1..x12 in, x0..x7 out. Registers a command does not write keep the
// caller's values, as EL3 leaves them in the saved context.
struct SmcContext {
	uint32_t cpu;
	uint32_t fid;  // normalised: low 32 bits, SVE hint cleared
	const SmcArgs& in;
	SmcResult& out;
	SmcRecord* rec = nullptr;  // set while a trace listens
	std::string* injected_by = nullptr;           // a fault rule answering at the command's own check point

	// What the call changed, for the trace; `what` is built only when someone listens.
	template <class F>
	void effect(F&& what)
	{
		if (rec != nullptr)
			rec->effects.push_back(what());
	}
	// Memory the call reads ([p, p + len) at `pa`) and writes, for the trace and its replay.
	void input(uint64_t pa, const uint8_t* p, uint64_t len)
	{
		if (rec != nullptr)
			rec->mem_in.push_back({pa, std::vector<uint8_t>(p, p + len)});
	}
	void output(uint64_t pa, const uint8_t* p, uint64_t len);

	uint64_t x(unsigned n) const { return in[n - 1]; }  // x1 .. x12
	void ret(int64_t x0) { out[0] = static_cast<uint64_t>(x0); }
	void ret(int64_t x0, uint64_t x1)
	{
		out[0] = static_cast<uint64_t>(x0);
		out[1] = x1;
	}
	void ret(int64_t x0, uint64_t x1, uint64_t x2)
	{
		ret(x0, x1);
		out[2] = x2;
	}
};

struct Monitor::Impl {
	Impl(std::unique_ptr<Carveout> c, MonitorOptions o);
	~Impl();

	void commit();  // persist the state block durably
	// commit(); if the file refuses it, undo() takes the in-memory change back first and the error
	// goes on, so a failed SMC changes nothing.
	template <class Undo>
	void commit_or_undo(Undo&& undo)
	{
		try {
			commit();
		} catch (...) {
			undo();
			throw;
		}
	}
	void apply_premarks();  // the boot configuration's [[gpt]] ranges, into the GPT
	void apply_premarks(const std::vector<manifest::PasRange>& ranges);
	// A reset whose last commit failed is finished before anything else changes state.
	void finish_reset();
	// On open: a reset that passed its commit point but did not finish (Carveout::reset_pending()).
	void complete_interrupted_reset(const std::vector<manifest::PasRange>& premarks);
	// The state document as CBOR (state_doc.cpp), in a buffer the next call reuses. `for_reset`: the
	// document a reset commits first (no device-window granules, marked unfinished).
	const std::vector<uint8_t>& encode_state(bool for_reset) const;
	// After Carveout::restore_from(): everything derived from the file, read again (restore.cpp).
	void reload_after_restore();

	// Shared-buffer check of the attestation and token-sign commands: the buffer must start in
	// the shared page (E_RMM_BAD_ADDR) and be non-empty and end in it (E_RMM_INVAL), so that a
	// handler may touch [pa, pa + len). 0 if fine.
	int64_t check_shared_buffer(uint64_t pa, uint64_t len) const;
	// Memory allocation common to RMM_ALLOCATE_MEMORY and RMM_RESERVE_MEMORY.
	bool after_boot(uint32_t cpu) const { return boot.cpu(cpu).state == CpuBootState::Booted; }

	std::unique_ptr<Carveout> carveout;
	Allocator allocator;
	Gpt gpt;
	BootState boot;
	MonitorOptions options;
	manifest::BootConfig boot_config;
	// manifest::to_json(boot_config) as status() shows it, made on the first status() (under mu): boot_config
	// does not change after the monitor is built, and building the JSON cost more than the rest of status().
	mutable std::optional<std::string> boot_config_json;
	attest::EcKey realm_key;
	attest::EcKey platform_key;
	PlatTokenState plat_token;
	std::unique_ptr<TokenSigner> signer;
	uint64_t mec_refreshes = 0;
	nlohmann::json gpt_premarks = nlohmann::json::array();  // [[gpt]] ranges the file was set up with
	// Derived from the keys, which change only when a file is opened or restored (keys_changed()): the state
	// document's "keys" encoded, and the public halves that status() reports.
	std::vector<uint8_t> keys_cbor, realm_pub, platform_pub;
	void keys_changed();
	mutable attest::cbor::Writer state_writer;  // encode_state()'s buffer
	mutable nlohmann::json premarks_encoded;    // gpt_premarks as premarks_cbor encodes them
	mutable std::vector<uint8_t> premarks_cbor;
	mutable std::mutex mu;
	std::atomic<uint64_t> calls{0};
	std::atomic<SmcObserver*> observer{nullptr};
	faults::Injector injector;
	// A rule at a command's check point (Stage::Checked) fired: answer its result, log and mark the call. True if so.
	bool injected_at_check(SmcContext& c);

	using Handler = void (*)(Impl&, SmcContext&);
	struct Command {
		const char* name;
		Handler handler;
	};
	std::unordered_map<uint32_t, Command> commands;
};

// With a seed (MonitorOptions::seed), a copy of `k` that signs with deterministic nonces; `k` itself otherwise.
// Used wherever keys are loaded: at open and after a snapshot restore.
attest::EcKey nonces_for(const attest::EcKey& k, const std::optional<uint64_t>& seed, const char* name);

// The [[gpt]] ranges of a boot configuration as the state document records them.
nlohmann::json premarks_json(const std::vector<manifest::PasRange>& ranges);

// Command handlers, one per file under handlers/.
void handle_allocate_memory(Monitor::Impl& m, SmcContext& c);
void handle_reserve_memory(Monitor::Impl& m, SmcContext& c);
void handle_boot_complete(Monitor::Impl& m, SmcContext& c);
void handle_gtsi_delegate(Monitor::Impl& m, SmcContext& c);
void handle_gtsi_undelegate(Monitor::Impl& m, SmcContext& c);
void handle_get_realm_key(Monitor::Impl& m, SmcContext& c);
void handle_get_plat_token(Monitor::Impl& m, SmcContext& c);
void handle_el3_features(Monitor::Impl& m, SmcContext& c);
void handle_token_sign(Monitor::Impl& m, SmcContext& c);
void handle_mecid_key_update(Monitor::Impl& m, SmcContext& c);
void handle_mec_refresh(Monitor::Impl& m, SmcContext& c);
// FIRME (handlers/firme_*.cpp) and SMCCC (handlers/smccc.cpp), tfa profiles.
void handle_firme_base_version(Monitor::Impl& m, SmcContext& c);
void handle_firme_base_features(Monitor::Impl& m, SmcContext& c);
void handle_firme_not_supported(Monitor::Impl& m, SmcContext& c);
void handle_firme_gm_gpi_set(Monitor::Impl& m, SmcContext& c);
void handle_firme_ide_keyset(Monitor::Impl& m, SmcContext& c);  // KEYSET_PROG, _GO, _STOP
void handle_firme_mec_refresh(Monitor::Impl& m, SmcContext& c);
void handle_smccc_version(Monitor::Impl& m, SmcContext& c);
void handle_smccc_arch_features(Monitor::Impl& m, SmcContext& c);
void handle_smccc_feature_availability(Monitor::Impl& m, SmcContext& c);
// Whether a FIRME service (EL3_FIRME_SVC_*) is present, and its feature registers (nullopt: the
// service is absent or has no such register, FIRME_NOT_SUPPORTED).
bool firme_service_present(const Monitor::Impl& m, uint8_t service);
std::optional<uint64_t> firme_gm_feature(const Monitor::Impl& m, uint8_t index);
std::optional<uint64_t> firme_ide_feature(const Monitor::Impl& m, uint8_t index);
std::optional<uint64_t> firme_mec_feature(const Monitor::Impl& m, uint8_t index);

// The FIDs of an ABI profile and their handlers.
struct CommandEntry {
	uint32_t fid;
	const char* name;
	Monitor::Impl::Handler handler;
};
std::vector<CommandEntry> profile_commands(const MonitorOptions& o);

}  // namespace el3d
