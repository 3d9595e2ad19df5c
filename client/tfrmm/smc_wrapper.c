/*
 * TF-RMM drop-in: monitor_call() and monitor_call_with_arg_res() with the signatures of TF-RMM's
 * lib/smc/include/smc.h, forwarding to el3d through the CPU session bound to the calling thread.
 * This object defines nothing else, so linked ahead of rmm-lib-smc it replaces that library's
 * smc_wrapper.o without duplicate symbols.
 */
#include "el3d/el3_tfrmm.h"

#include <stdio.h>

/* Same layout as TF-RMM's: x1..x12 in, x0..x7 out. */
struct smc_args {
	unsigned long v[12];
};
struct smc_result {
	unsigned long x[8];
};

unsigned long monitor_call(unsigned long id, unsigned long arg0, unsigned long arg1, unsigned long arg2,
                           unsigned long arg3, unsigned long arg4, unsigned long arg5);
void monitor_call_with_arg_res(unsigned long fid, struct smc_args *args, struct smc_result *res);

static int forward(unsigned long fid, const uint64_t a[12], uint64_t out[8])
{
	el3_cpu *cpu = el3_tfrmm_bound();
	el3_regs r;
	el3_error err;
	if (cpu == NULL) {
		fprintf(stderr, "el3client: SMC 0x%lx from a thread with no CPU session (el3_cpu_enter or "
		                "el3_tfrmm_bind first): SMC_UNK\n", fid);
		return -1;
	}
	if (fid == EL3_FID_RMM_BOOT_COMPLETE) {
		/* A failed boot ends the process inside el3_boot_complete(). */
		if (el3_boot_complete(cpu, (int64_t)a[0], a[1], &err) != EL3_OK) {
			fprintf(stderr, "el3client: RMM_BOOT_COMPLETE: %s\n", err.message);
			return -1;
		}
		out[0] = 0;
		for (int i = 1; i < 8; ++i)
			out[i] = a[i - 1];
		return 0;
	}
	if (el3_smc(cpu, fid, a, &r, &err) != EL3_OK) {
		fprintf(stderr, "el3client: SMC 0x%lx: %s: SMC_UNK\n", fid, err.message);
		return -1;
	}
	for (int i = 0; i < 8; ++i)
		out[i] = r.x[i];
	return 0;
}

unsigned long monitor_call(unsigned long id, unsigned long arg0, unsigned long arg1, unsigned long arg2,
                           unsigned long arg3, unsigned long arg4, unsigned long arg5)
{
	const uint64_t a[12] = {arg0, arg1, arg2, arg3, arg4, arg5};
	uint64_t out[8];
	if (forward(id, a, out) != 0)
		return ~0UL;
	return (unsigned long)out[0];
}

void monitor_call_with_arg_res(unsigned long fid, struct smc_args *args, struct smc_result *res)
{
	uint64_t a[12], out[8];
	for (int i = 0; i < 12; ++i)
		a[i] = args->v[i];
	for (int i = 0; i < 8; ++i)
		res->x[i] = 0;
	if (forward(fid, a, out) != 0) {
		res->x[0] = ~0UL;
		return;
	}
	for (int i = 0; i < 8; ++i)
		res->x[i] = (unsigned long)out[i];
}

/*
 * For linking with -Wl,--wrap=host_monitor_call instead of ahead of rmm-lib-smc: TF-RMM's own
 * smc_wrapper.c then calls this, with the same effect.
 */
void __wrap_host_monitor_call(unsigned long id, struct smc_args *args, struct smc_result *res);
void __wrap_host_monitor_call(unsigned long id, struct smc_args *args, struct smc_result *res)
{
	monitor_call_with_arg_res(id, args, res);
}
