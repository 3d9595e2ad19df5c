// The single dispatch entry: normalise the FID as EL3's runtime-service router does, refuse
// everything once the Realm world is disabled, and hand the call to the command's handler.
#include "monitor_impl.hpp"

#include "el3d/monitor/names.hpp"
#include "el3d/smc.h"
#include "el3d/util/numbers.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <exception>
#include <thread>

namespace el3d {

namespace {

constexpr uint32_t kFastCall = 1u << 31;
constexpr uint32_t kSveHint = 1u << 16;
constexpr uint32_t kMbzBits = 0x7Fu << 17;  // bits [23:17] of a fast-call FID must be zero

bool is_rmm_el3(uint32_t fid) { return fid >= EL3_FID_RMM_EL3_BASE && fid <= EL3_FID_RMM_EL3_LAST; }
bool is_firme(uint32_t fid) { return fid >= EL3_FID_FIRME_FIRST && fid <= EL3_FID_FIRME_LAST; }

// FIRME and SMCCC, as TF-A built with ENABLE_RMM answers them (it forces FIRME_SUPPORT and
// ARCH_FEATURE_AVAILABILITY on, with or without RMM_V1_COMPAT). Every FIRME FID el3d does not
// implement answers FIRME_NOT_SUPPORTED, as TF-A's FIRME dispatcher does.
void add_firme_and_smccc(std::vector<CommandEntry>& t)
{
	const std::vector<CommandEntry> served = {
	    {EL3_FID_FIRME_BASE_VERSION, "FIRME_BASE_VERSION", handle_firme_base_version},
	    {EL3_FID_FIRME_BASE_FEATURES, "FIRME_BASE_FEATURES", handle_firme_base_features},
	    {EL3_FID_FIRME_GM_GPI_SET, "FIRME_GM_GPI_SET", handle_firme_gm_gpi_set},
	    {EL3_FID_FIRME_IDE_KEYSET_PROG, "FIRME_IDE_KEYSET_PROG", handle_firme_ide_keyset},
	    {EL3_FID_FIRME_IDE_KEYSET_GO, "FIRME_IDE_KEYSET_GO", handle_firme_ide_keyset},
	    {EL3_FID_FIRME_IDE_KEYSET_STOP, "FIRME_IDE_KEYSET_STOP", handle_firme_ide_keyset},
	    {EL3_FID_FIRME_MEC_REFRESH, "FIRME_MEC_REFRESH", handle_firme_mec_refresh},
	};
	for (uint32_t fid = EL3_FID_FIRME_FIRST; fid <= EL3_FID_FIRME_LAST; ++fid) {
		auto it = std::find_if(served.begin(), served.end(), [&](const CommandEntry& e) { return e.fid == fid; });
		t.push_back(it != served.end() ? *it : CommandEntry{fid, "FIRME (not provided)", handle_firme_not_supported});
	}
	t.push_back({EL3_FID_SMCCC_VERSION, "SMCCC_VERSION", handle_smccc_version});
	t.push_back({EL3_FID_SMCCC_ARCH_FEATURES, "SMCCC_ARCH_FEATURES", handle_smccc_arch_features});
	t.push_back({EL3_FID_SMCCC_ARCH_FEATURE_AVAILABILITY, "SMCCC_ARCH_FEATURE_AVAILABILITY",
	             handle_smccc_feature_availability});
}

}  // namespace

// The command table of each ABI profile (docs/abi.md). A FID that is not here gets SMC_UNK.
std::vector<CommandEntry> profile_commands(const MonitorOptions& o)
{
	std::vector<CommandEntry> t = {
	    {EL3_FID_RMM_GTSI_DELEGATE, "RMM_GTSI_DELEGATE", handle_gtsi_delegate},
	    {EL3_FID_RMM_GTSI_UNDELEGATE, "RMM_GTSI_UNDELEGATE", handle_gtsi_undelegate},
	    {EL3_FID_RMM_ATTEST_GET_REALM_KEY, "RMM_ATTEST_GET_REALM_KEY", handle_get_realm_key},
	    {EL3_FID_RMM_ATTEST_GET_PLAT_TOKEN, "RMM_ATTEST_GET_PLAT_TOKEN", handle_get_plat_token},
	    {EL3_FID_RMM_EL3_FEATURES, "RMM_EL3_FEATURES", handle_el3_features},
	    {EL3_FID_RMM_BOOT_COMPLETE, "RMM_BOOT_COMPLETE", handle_boot_complete},
	};
	if (o.token_sign)
		t.push_back({EL3_FID_RMM_EL3_TOKEN_SIGN, "RMM_EL3_TOKEN_SIGN", handle_token_sign});
	if (o.abi == Abi::Seed) {
		t.push_back({EL3_FID_RMM_MECID_KEY_UPDATE, "RMM_MECID_KEY_UPDATE", handle_mecid_key_update});
		t.push_back({EL3_FID_RMM_ALLOCATE_MEMORY, "RMM_ALLOCATE_MEMORY", handle_allocate_memory});
	} else {
		t.push_back({EL3_FID_RMM_MEC_REFRESH, "RMM_MEC_REFRESH", handle_mec_refresh});
		t.push_back({EL3_FID_RMM_RESERVE_MEMORY, "RMM_RESERVE_MEMORY", handle_reserve_memory});
		add_firme_and_smccc(t);
	}
	return t;
}

std::vector<FidEntry> profile_fids(Abi a, bool token_sign)
{
	MonitorOptions o;
	o.abi = a;
	o.token_sign = token_sign;
	std::vector<FidEntry> out;
	for (const CommandEntry& e : profile_commands(o))
		if (e.handler != handle_firme_not_supported)
			out.push_back({e.fid, e.name});
	std::sort(out.begin(), out.end(), [](const FidEntry& l, const FidEntry& r) { return l.fid < r.fid; });
	return out;
}

void Monitor::set_observer(SmcObserver* o) { impl_->observer.store(o); }

void Monitor::report(const SmcRecord& r)
{
	if (SmcObserver* o = impl_->observer.load(std::memory_order_relaxed))
		o->on_smc(r);
}

void SmcContext::output(uint64_t pa, const uint8_t* p, uint64_t len)
{
	if (rec != nullptr)
		rec->mem_out.push_back({pa, len, attest::sha256(std::span<const uint8_t>(p, len))});
}

namespace {

// Each firing is logged at warn; a rule that keeps firing (a burst of E_RMM_AGAIN a test holds an RMM in) goes on at
// debug after its first hundred, so that the log stays readable.
constexpr uint64_t kLoudFirings = 100;

void log_injected(uint32_t cpu, uint32_t fid, const faults::Decision& d, const std::string& what)
{
	if (d.fired <= kLoudFirings)
		spdlog::warn("cpu{} {}: {} (injected by fault rule {}){}", cpu, fid_name(fid), what, d.rule,
		             d.fired == kLoudFirings ? "; its further firings are logged at debug" : "");
	else
		spdlog::debug("cpu{} {}: {} (injected by fault rule {})", cpu, fid_name(fid), what, d.rule);
}

}  // namespace

bool Monitor::Impl::injected_at_check(SmcContext& c)
{
	if (injector.empty())
		return false;
	const auto d = injector.decide(c.cpu, c.fid, c.in, faults::Stage::Checked);
	if (!d || !d->result)
		return false;
	c.out[0] = *d->result;
	log_injected(c.cpu, c.fid, *d, result_name(c.fid, *d->result));
	if (c.injected_by != nullptr)
		*c.injected_by = d->rule;
	return true;
}

faults::Injector& Monitor::faults() { return impl_->injector; }

bool Monitor::call(uint32_t cpu, uint64_t fid, const SmcArgs& x, SmcResult& out)
{
	Impl& m = *impl_;
	if (cpu >= m.carveout->geometry().core_count)
		return false;
	SmcObserver* obs = m.observer.load(std::memory_order_relaxed);
	const auto t0 = std::chrono::steady_clock::now();
	std::string injected_by, note;

	// Fault rules first, outside the monitor's lock: a delay holds up this CPU only, and an injected answer or a
	// kill never reaches the handler, so the state is exactly as it was.
	std::optional<faults::Decision> d;
	if (!m.injector.empty())
		d = m.injector.decide(cpu, static_cast<uint32_t>(fid) & ~(1u << 16), x);
	if (d) {
		const auto f = static_cast<uint32_t>(fid) & ~(1u << 16);
		if (d->delay_ms != 0)
			std::this_thread::sleep_for(std::chrono::milliseconds(d->delay_ms));
		injected_by = d->rule;
		if (d->kill || d->result) {
			m.calls.fetch_add(1, std::memory_order_relaxed);
			for (unsigned i = 1; i < out.size(); ++i)
				out[i] = x[i - 1];  // registers the answer does not define: the caller's, as for SMC_UNK
			out[0] = d->result.value_or(EL3_SMC_UNK);
			const std::string what = d->kill ? "the session is killed" : result_name(f, out[0]);
			log_injected(cpu, f, *d, what);
			if (obs != nullptr) {
				SmcRecord r;
				r.cpu = cpu;
				r.fid = fid;
				r.in = x;
				r.out = out;
				r.duration = std::chrono::steady_clock::now() - t0;
				r.injected_by = d->rule;
				r.note = (d->kill ? "session killed by fault rule " : "injected by fault rule ") + d->rule;
				r.activation = activation();
				obs->on_smc(r);
			}
			if (d->kill)
				throw SessionKilled(cpu, d->rule,
				                    "cpu" + std::to_string(cpu) + " " + fid_name(f) + ": session killed by fault rule " +
				                        d->rule + " (as if the RMM had crashed at this SMC)");
			return true;
		}
		log_injected(cpu, f, *d, "delayed " + std::to_string(d->delay_ms) + " ms, then served");
		note = "delayed " + std::to_string(d->delay_ms) + " ms by fault rule " + d->rule;
	}
	if (obs == nullptr)
		return serve(cpu, fid, x, out, nullptr, injected_by);
	SmcRecord r;
	r.cpu = cpu;
	r.fid = fid;
	r.in = x;
	r.note = note;
	return serve(cpu, fid, x, out, &r, injected_by);
}

namespace {

// Completes the record and hands it to the observer when the call is done, before the lock it is
// declared after is released; not when a handler throws (the call failed: there is no result).
class ReportOnExit {
public:
	ReportOnExit(const Monitor::Impl& m, SmcRecord* rec, const SmcResult& out, const std::string& injected_by)
	    : m_(m), rec_(rec), out_(out), injected_by_(injected_by), t0_(std::chrono::steady_clock::now()),
	      exceptions_(std::uncaught_exceptions())
	{
	}
	~ReportOnExit()
	{
		if (rec_ == nullptr || std::uncaught_exceptions() > exceptions_)
			return;
		SmcObserver* o = m_.observer.load(std::memory_order_relaxed);
		if (o == nullptr)
			return;
		rec_->duration = std::chrono::steady_clock::now() - t0_;
		rec_->out = out_;
		rec_->activation = m_.boot.activation();
		rec_->injected_by = injected_by_;
		if (rec_->note.empty() && !injected_by_.empty())
			rec_->note = "injected by fault rule " + injected_by_;
		o->on_smc(*rec_);
	}
	ReportOnExit(const ReportOnExit&) = delete;
	ReportOnExit& operator=(const ReportOnExit&) = delete;

private:
	const Monitor::Impl& m_;
	SmcRecord* rec_;
	const SmcResult& out_;
	const std::string& injected_by_;
	std::chrono::steady_clock::time_point t0_;
	int exceptions_;
};

}  // namespace

namespace {

// An SMC's writes form one batch of the carveout's group commit (Carveout::begin_batch()): opened and
// closed under the monitor lock, made durable after it is released.
class BatchScope {
public:
	BatchScope(Carveout& c, uint64_t& ticket) : c_(c), ticket_(ticket) { c_.begin_batch(); }
	~BatchScope() { ticket_ = c_.end_batch(); }
	BatchScope(const BatchScope&) = delete;
	BatchScope& operator=(const BatchScope&) = delete;

private:
	Carveout& c_;
	uint64_t& ticket_;
};

// The SMC itself, under the monitor lock (the caller holds it).
bool serve_locked(Monitor::Impl& m, uint32_t cpu, uint64_t fid, const SmcArgs& x, SmcResult& out, SmcRecord* rec,
                  std::string& injected_by)
{
	m.calls.fetch_add(1, std::memory_order_relaxed);

	// Registers the command does not define come back as the caller left them.
	for (unsigned i = 1; i < out.size(); ++i)
		out[i] = x[i - 1];
	out[0] = EL3_SMC_UNK;

	// Only the low 32 bits of x0 are the FID; the SVE hint bit is not part of it.
	auto f = static_cast<uint32_t>(fid);
	const bool mbz_set = (f & kFastCall) != 0 && (f & kMbzBits) != 0;
	f &= ~kSveHint;

	const ReportOnExit report(m, rec, out, injected_by);
	if (mbz_set) {
		spdlog::warn("cpu{} SMC {:#x} has bits [23:17] set: SMC_UNK", cpu, fid);
		return true;
	}
	m.finish_reset();
	CpuStatus& st = m.boot.cpu(cpu);
	if (st.state == CpuBootState::Off) {
		// Implicit entry: the CPU is running RMM code. Durable like every other boot-state change
		// (once per CPU and activation); if the file refuses it, the SMC is not made.
		st.state = CpuBootState::Booting;
		m.commit_or_undo([&] { st.state = CpuBootState::Off; });
	}

	// The FIRME services are the Realm world's EL3 interface next to the RMM-EL3 commands: a disabled
	// Realm world can use neither (TF-A never meets the case: there the RMM does not run again).
	if (m.boot.failure() && (is_rmm_el3(f) || is_firme(f))) {
		spdlog::warn("cpu{} {}: SMC_UNK, the Realm world is disabled after a failed boot", cpu, fid_name(f));
		return true;
	}
	auto it = m.commands.find(f);
	if (it == m.commands.end()) {
		if (is_rmm_el3(f) || is_firme(f))
			spdlog::warn("cpu{} {:#x} is not implemented by the {} ABI profile: SMC_UNK", cpu, f, abi_name(m.options.abi));
		else
			spdlog::debug("cpu{} unknown SMC {:#x}: SMC_UNK", cpu, fid);
		return true;
	}
	SmcContext ctx{cpu, f, x, out, rec, &injected_by};
	it->second.handler(m, ctx);
	// Every SMC served, one line at debug (handlers log state changes at info on top of this).
	if (spdlog::should_log(spdlog::level::debug))
		spdlog::debug("cpu{} smc {} x1={:#x} x2={:#x} x3={:#x} x4={:#x} -> x0={:#x} ({}) x1={:#x} x2={:#x}", cpu, it->second.name, x[0],
		              x[1], x[2], x[3], out[0], result_name(f, out[0]), out[1], out[2]);
	return true;
}

}  // namespace

bool Monitor::serve(uint32_t cpu, uint64_t fid, const SmcArgs& x, SmcResult& out, SmcRecord* rec,
                    std::string& injected_by)
{
	Impl& m = *impl_;
	uint64_t ticket = 0;
	bool served = false;
	{
		const std::lock_guard lock(m.mu);
		const BatchScope batch(*m.carveout, ticket);
		served = serve_locked(m, cpu, fid, x, out, rec, injected_by);
	}
	// At Power durability: one flush, shared with the SMCs of other CPUs waiting at the same time. Throws
	// (the call fails, INTERNAL) if the flush fails.
	m.carveout->make_durable(ticket);
	return served;
}

}  // namespace el3d
