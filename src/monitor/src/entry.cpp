// The boot entry (EL3 entering the RMM on a CPU, with its entry registers and, at a cold boot, the
// Boot Manifest) and the CPU sessions that mark the life of one RMM instance.
#include "el3d/monitor/monitor.hpp"

#include "el3d/monitor/names.hpp"
#include "el3d/util/numbers.hpp"
#include "monitor_impl.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstring>

namespace el3d {

Entry Monitor::enter(uint32_t cpu, EntryKind kind, const manifest::BootConfig* config)
{
	Impl& m = *impl_;
	const Geometry& g = m.carveout->geometry();
	if (cpu >= g.core_count)
		throw EntryRefused("cpu " + std::to_string(cpu) + " is not a CPU of this platform (" +
		                   std::to_string(g.core_count) + " cores)");
	std::lock_guard lock(m.mu);
	m.finish_reset();
	if (const auto& f = m.boot.failure())
		throw EntryRefused("the Realm world is disabled: cpu " + std::to_string(f->cpu) + " reported " +
		                   boot_result_name(f->code) + "; `el3ctl reset` first");
	if (kind == EntryKind::Auto)
		kind = (!m.boot.any_entered() || m.boot.entered(cpu)) ? EntryKind::Cold : EntryKind::Warm;
	if (kind == EntryKind::Warm && !m.boot.any_entered())
		throw EntryRefused("warm boot of cpu " + std::to_string(cpu) + " before any cold boot");

	const bool tokens = m.options.abi != Abi::Seed;  // activation tokens exist from interface 0.7
	Entry e;
	e.kind = kind;
	CpuStatus& st = m.boot.cpu(cpu);
	if (kind == EntryKind::Cold) {
		// A cold boot is a new RMM instance: after an earlier cold boot, and also when plain SMCs
		// ran RMM code before the first one (their CPUs' boot states belong to that earlier instance).
		if (m.boot.started() || m.boot.any_ran())
			m.boot.new_activation();
		m.boot.set_started();
		const manifest::BootConfig* cfg_in = config ? config : &m.boot_config;
		// Entry fault rules: their Boot Manifest faults on top of the configuration's (whose own `faults` list is the
		// shorthand for a rule that fires on every cold boot).
		manifest::BootConfig with_faults;
		if (!m.injector.empty())
			if (auto d = m.injector.decide_entry(cpu)) {
				with_faults = *cfg_in;
				for (const std::string& name : d->second) {
					const manifest::Fault f = *manifest::parse_fault(name);  // checked when the rule was added
					if (std::find(with_faults.faults.begin(), with_faults.faults.end(), f) == with_faults.faults.end())
						with_faults.faults.push_back(f);
				}
				cfg_in = &with_faults;
				e.injected_by = d->first;
				std::string names;
				for (const std::string& n : d->second)
					names += (names.empty() ? "" : ", ") + n;
				spdlog::warn("cpu{} cold boot: Boot Manifest faults {} (injected by fault rule {})", cpu, names, d->first);
			}
		const manifest::BootConfig& cfg = *cfg_in;
		const std::vector<uint8_t> page = manifest::build_manifest(cfg, g.shared_base(), g.shared_size);
		std::memset(m.carveout->ptr(g.shared_base()), 0, g.shared_size);
		std::memcpy(m.carveout->ptr(g.shared_base()), page.data(), page.size());
		m.carveout->sync(g.shared_base(), g.shared_size);
		const manifest::BootRegisters r =
		    manifest::cold_boot_registers(cfg, interface_version(m.options.abi), g.core_count, g.shared_base());
		e.regs = {cpu, r.x1, r.x2, r.x3, tokens ? st.token : 0, 0, 0, 0};
		e.manifest_size = page.size();
		if (config != nullptr && m.observer.load(std::memory_order_relaxed) != nullptr)
			e.config_json = manifest::to_json(*config);
	} else {
		e.regs = {cpu, tokens ? st.token : 0, 0, 0, 0, 0, 0, 0};
	}
	st.state = CpuBootState::Booting;
	++st.entries;
	m.boot.mark_entered(cpu);
	e.activation = m.boot.activation();
	m.commit();
	spdlog::info("cpu{} {} boot entry, activation {}: x0={:#x} x1={:#x} x2={:#x} x3={:#x} x4={:#x}", cpu,
	             kind == EntryKind::Cold ? "cold" : "warm", e.activation, e.regs[0], e.regs[1],
	             e.regs[2], e.regs[3], e.regs[4]);
	if (SmcObserver* o = m.observer.load(std::memory_order_relaxed))
		o->on_entry(cpu, e);
	return e;
}

void Monitor::attach(uint32_t cpu)
{
	Impl& m = *impl_;
	if (cpu >= m.carveout->geometry().core_count)
		throw EntryRefused("cpu " + std::to_string(cpu) + " is not a CPU of this platform (" +
		                   std::to_string(m.carveout->geometry().core_count) + " cores)");
	std::lock_guard lock(m.mu);
	if (m.boot.attached(cpu))
		throw SessionConflict("cpu " + std::to_string(cpu) + " already has a session: two RMM instances cannot run on "
		                      "the same CPU");
	m.boot.set_attached(cpu, true);
}

void Monitor::detach(uint32_t cpu) noexcept
{
	// Called from session destructors: never throws. The in-memory state is always updated (the
	// session is gone whatever the file says); if the file cannot record it, the next state
	// change that commits writes it.
	Impl& m = *impl_;
	if (cpu >= m.carveout->geometry().core_count)
		return;
	try {
		std::lock_guard lock(m.mu);
		if (!m.boot.attached(cpu))
			return;
		m.boot.set_attached(cpu, false);
		if (m.boot.any_attached()) {
			spdlog::info("cpu{} session closed", cpu);
			return;
		}
		// The RMM instance is gone: whatever enters next starts a new activation.
		m.boot.end_activation();
		spdlog::info("cpu{} session closed: the RMM instance of activation {} is gone", cpu, m.boot.activation());
		try {
			m.commit();
		} catch (const std::exception& e) {
			spdlog::error("cpu{} session closed, but the carveout file cannot record the end of activation {}: {} "
			              "(kept in memory; written with the next state change)",
			              cpu, m.boot.activation(), e.what());
		}
	} catch (const std::exception& e) {
		spdlog::error("cpu{} session close: {}", cpu, e.what());
	} catch (...) {
		spdlog::error("cpu{} session close: unknown error", cpu);
	}
}

}  // namespace el3d
