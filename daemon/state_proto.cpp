#include "state_proto.hpp"

#include "el3d/gpt/gpt.hpp"
#include "el3d/monitor/names.hpp"

#include <unistd.h>

namespace el3d {

namespace {
v1::CpuBootState to_proto(CpuBootState s)
{
	switch (s) {
	case CpuBootState::Off: return v1::CPU_BOOT_STATE_OFF;
	case CpuBootState::Booting: return v1::CPU_BOOT_STATE_BOOTING;
	case CpuBootState::Booted: return v1::CPU_BOOT_STATE_BOOTED;
	case CpuBootState::Failed: return v1::CPU_BOOT_STATE_FAILED;
	}
	return v1::CPU_BOOT_STATE_OFF;
}
}  // namespace

void to_proto(const MonitorStatus& s, v1::State& out)
{
	const Geometry& g = s.geometry;
	out.set_platform(g.platform);
	out.set_abi(abi_name(s.abi));
	out.set_interface_version(s.interface_version);
	out.set_rmm_base(g.rmm_base);
	out.set_rmm_limit(g.rmm_limit);
	out.set_payload_limit(g.payload_limit);
	out.set_shared_base(g.shared_base());
	out.set_shared_size(g.shared_size);
	out.set_top(s.top);
	out.set_core_count(g.core_count);
	out.set_region_slots(g.region_slots);
	for (const auto& r : s.regions) {
		auto* p = out.add_regions();
		p->set_id(r.id);
		p->set_address(r.addr);
		p->set_size(r.size);
		p->set_align_bits(r.align_bits);
		p->set_cpu(r.cpu);
		p->set_activation(r.activation);
		p->set_after_boot_complete((r.flags & kAllocAfterBootComplete) != 0);
		p->set_time_unix_ns(r.time_ns);
	}
	for (const auto& c : s.cpus) {
		auto* p = out.add_cpus();
		p->set_cpu(c.cpu);
		p->set_state(to_proto(c.state));
		p->set_boot_result(c.boot_result);
		p->set_completions(c.completions);
		p->set_token(c.token);
		p->set_entries(c.entries);
		p->set_session(c.session);
	}
	for (const auto& r : s.gpt_ranges) {
		auto* p = out.add_gpt_ranges();
		p->set_base(r.base);
		p->set_size(r.size);
		p->set_initial(gpi_name(r.initial));
	}
	for (unsigned gpi = 0; gpi < s.gpt_granules.size(); ++gpi)
		if (s.gpt_granules[gpi] != 0) {
			auto* p = out.add_gpt();
			p->set_pas(gpi_name(static_cast<Gpi>(gpi)));
			p->set_granules(s.gpt_granules[gpi]);
		}
	out.set_platform_public_key(s.platform_key.data(), s.platform_key.size());
	out.set_realm_public_key(s.realm_key.data(), s.realm_key.size());
	out.set_sign_pending(s.sign_pending);
	out.set_sign_ready(s.sign_ready);
	out.set_sign_done(s.sign_done);
	out.set_mec_refreshes(s.mec_refreshes);
	out.set_boot_config(s.boot_config_json);
	out.set_pa_bits(g.pa_bits);
	for (const auto& b : g.dram) {
		auto* p = out.add_dram();
		p->set_base(b.base);
		p->set_size(b.size);
	}
	if (s.boot_failure) {
		auto* f = out.mutable_boot_failure();
		f->set_cpu(s.boot_failure->cpu);
		f->set_code(s.boot_failure->code);
		f->set_name(boot_result_name(s.boot_failure->code));
	}
	out.set_allocations_after_boot(s.allocations_after_boot);
	out.set_strict_boot(s.strict_boot);
	out.set_carveout_path(s.carveout_path);
	out.set_carveout_id(s.carveout_uuid);
	out.set_image_offset(s.image_offset);
	out.set_epoch(s.epoch);
	out.set_log_capacity(s.log_capacity);
	out.set_smc_calls(s.smc_calls);
	out.set_activation(s.activation);
	out.set_daemon_pid(static_cast<uint32_t>(::getpid()));
	out.set_version(EL3D_VERSION);
	out.set_durability(el3d::durability_name(s.durability));
	auto* fl = out.mutable_flushes();
	fl->set_flushes(s.flushes.flushes);
	fl->set_smc_flushes(s.flushes.batch_flushes);
	fl->set_state_changing_smcs(s.flushes.batches);
	fl->set_grouped(s.flushes.grouped);
}

void to_proto(const NsMemoryInfo& ns, v1::NsMemoryMap& out)
{
	out.set_path(ns.path);
	out.set_id(ns.id);
	out.set_carveout_id(ns.carveout_id);
	for (const NsWindow& w : ns.windows) {
		auto* p = out.add_windows();
		p->set_base(w.base);
		p->set_size(w.size);
		p->set_file_offset(w.file_offset);
	}
}

}  // namespace el3d
