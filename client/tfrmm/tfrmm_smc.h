/*
 * TF-RMM's register structures (the layout of lib/smc/include/smc.h: x1..x12 in, x0..x7 out) and
 * the one forwarding step both TF-RMM entry points of el3client share.
 */
#ifndef EL3D_TFRMM_SMC_H
#define EL3D_TFRMM_SMC_H

#include "el3d/el3_tfrmm.h"

struct smc_args {
	unsigned long v[EL3_SMC_ARGS];
};
struct smc_result {
	unsigned long x[EL3_SMC_RESULTS];
};

unsigned long monitor_call(unsigned long id, unsigned long arg0, unsigned long arg1, unsigned long arg2,
                           unsigned long arg3, unsigned long arg4, unsigned long arg5);
void monitor_call_with_arg_res(unsigned long fid, struct smc_args *args, struct smc_result *res);
void __wrap_host_monitor_call(unsigned long id, struct smc_args *args, struct smc_result *res);

/* x1..x12 from `args` to el3d, x0..x7 into `res` (SMC_UNK in x0 when the call cannot be made). */
static inline void el3_tfrmm_forward(unsigned long fid, const struct smc_args *args, struct smc_result *res)
{
	uint64_t a[EL3_SMC_ARGS];
	el3_regs r;
	for (int i = 0; i < EL3_SMC_ARGS; ++i)
		a[i] = args->v[i];
	el3_tfrmm_call(fid, a, &r);
	for (int i = 0; i < EL3_SMC_RESULTS; ++i)
		res->x[i] = (unsigned long)r.x[i];
}

#endif /* EL3D_TFRMM_SMC_H */
