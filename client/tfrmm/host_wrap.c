/*
 * TF-RMM with its own lib/smc, linked with -Wl,--wrap=host_monitor_call: TF-RMM's fake_host
 * smc_wrapper.c then calls this instead of its in-tree EL3 stubs, and the SMC goes to el3d through
 * the calling thread's CPU session. A library of its own (libel3client_tfrmm_wrap.a) that defines
 * only this symbol, so that TF-RMM's monitor_call() and monitor_call_with_arg_res() stay the only
 * ones in the link.
 */
#include "tfrmm_smc.h"

void __wrap_host_monitor_call(unsigned long id, struct smc_args *args, struct smc_result *res)
{
	el3_tfrmm_forward(id, args, res);
}
