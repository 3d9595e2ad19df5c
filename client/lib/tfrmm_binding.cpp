// The TF-RMM binding of el3client (include/el3d/el3_tfrmm.h): the CPU a thread's monitor_call()
// speaks for, and the call itself.
#include "el3d/el3_client.h"
#include "el3d/el3_tfrmm.h"
#include "sessions.hpp"

#include <cinttypes>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>

using namespace el3d::client;

namespace {

// What a thread was told already (each warning once per thread).
thread_local uint64_t t_warned_stale = 0;
thread_local bool t_warned_unbound = false;

}  // namespace

extern "C" {

void el3_tfrmm_bind(el3_cpu* cpu)
{
	const auto e = find(cpu);
	bind(id_of(cpu), e ? e->cpu : ~0u);
}

el3_cpu* el3_tfrmm_bound(void) { return handle_of(bound_id()); }

int el3_tfrmm_select(unsigned cpu_index, el3_error* err)
{
	uint64_t id = 0;
	unsigned n = 0;
	{
		Registry& r = registry();
		std::lock_guard l(r.mu);
		for (const auto& [k, e] : r.cpus)
			if (e->cpu == cpu_index) {
				id = k;
				++n;
			}
	}
	if (n == 0)
		return set_error(err, EL3_ERR_INVALID, "el3_tfrmm_select(" + std::to_string(cpu_index) +
		                                           "): this process has no session for that CPU (el3_cpu_enter it first)");
	if (n > 1)
		return set_error(err, EL3_ERR_INVALID,
		                 "el3_tfrmm_select(" + std::to_string(cpu_index) + "): " + std::to_string(n) +
		                     " clients of this process have a session for that CPU; bind one with el3_tfrmm_bind()");
	bind(id, cpu_index);
	return ok(err);
}

int el3_tfrmm_call(uint64_t fid, const uint64_t args[EL3_SMC_ARGS], el3_regs* out)
{
	el3_regs r{};
	r.x[0] = EL3_SMC_UNK;
	const uint64_t bound = bound_id();
	std::shared_ptr<CpuEntry> e;
	std::size_t sessions = 0;
	{
		Registry& reg = registry();
		std::lock_guard l(reg.mu);
		if (bound != 0) {
			if (auto it = reg.cpus.find(bound); it != reg.cpus.end())
				e = it->second;
		} else if (reg.cpus.size() == 1) {
			e = reg.cpus.begin()->second;  // one CPU session in the process: it is this thread's CPU
		}
		sessions = reg.cpus.size();
	}
	int rc = EL3_ERR_INVALID;
	if (!e && bound != 0) {
		if (t_warned_stale != bound) {
			t_warned_stale = bound;
			std::fprintf(stderr,
			             "el3client: SMC 0x%" PRIx64 " from a thread bound to cpu %d, whose session has ended "
			             "(el3_cpu_leave or el3_disconnect): SMC_UNK. Bind a live CPU with el3_tfrmm_select() or "
			             "el3_tfrmm_bind() (said once per thread)\n",
			             fid, static_cast<int>(bound_cpu()));
		}
	} else if (!e) {
		if (!t_warned_unbound) {
			t_warned_unbound = true;
			if (sessions == 0)
				std::fprintf(stderr,
				             "el3client: SMC 0x%" PRIx64 " from a thread with no CPU session, and this process has "
				             "none: SMC_UNK. Enter a CPU with el3_cpu_enter() first (said once per thread)\n",
				             fid);
			else
				std::fprintf(stderr,
				             "el3client: SMC 0x%" PRIx64 " from a thread bound to no CPU while this process has %zu CPU "
				             "sessions: SMC_UNK. Call el3_tfrmm_select(n) (or el3_tfrmm_bind(cpu)) on this thread "
				             "before it makes CPU n's calls, e.g. next to host_util_set_cpuid(n) in the boot driver "
				             "(said once per thread)\n",
				             fid, sessions);
		}
	} else {
		el3_error err;
		el3_regs got;
		el3_cpu* h = handle_of(e->id);
		if (fid == EL3_FID_RMM_BOOT_COMPLETE)  // a failed boot ends the process in there
			rc = el3_boot_complete(h, args != nullptr ? static_cast<int64_t>(args[0]) : 0,
			                       args != nullptr ? args[1] : 0, &got, &err);
		else
			rc = el3_smc(h, fid, args, &got, &err);
		if (rc == EL3_OK)
			r = got;
		else
			std::fprintf(stderr, "el3client: %s: SMC_UNK\n", err.message);
	}
	if (out != nullptr)
		*out = r;
	return rc;
}

}  // extern "C"
