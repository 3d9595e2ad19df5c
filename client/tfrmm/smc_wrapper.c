/*
 * TF-RMM drop-in: monitor_call() and monitor_call_with_arg_res() with the signatures of TF-RMM's
 * lib/smc/include/smc.h, forwarding to el3d through the calling thread's CPU session
 * (el3_tfrmm_call()). This object defines nothing else, so linked ahead of rmm-lib-smc it replaces
 * that library's smc_wrapper.o without duplicate symbols. The --wrap=host_monitor_call variant
 * is host_wrap.c, a library of its own.
 */
#include "el3d/el3_tfrmm.h"

#include "tfrmm_smc.h"

unsigned long monitor_call(unsigned long id, unsigned long arg0, unsigned long arg1, unsigned long arg2,
                           unsigned long arg3, unsigned long arg4, unsigned long arg5)
{
	const uint64_t a[EL3_SMC_ARGS] = {arg0, arg1, arg2, arg3, arg4, arg5};
	el3_regs r;
	el3_tfrmm_call(id, a, &r);
	return (unsigned long)r.x[0];
}

void monitor_call_with_arg_res(unsigned long fid, struct smc_args *args, struct smc_result *res)
{
	el3_tfrmm_forward(fid, args, res);
}
