/*
 * Stand-in for the fake_host flavour of TF-RMM's lib/smc, written for this test from the
 * description in tfrmm.md §2.1 (no TF-RMM code): monitor_call() and monitor_call_with_arg_res()
 * pack their registers and call host_monitor_call(). Built into its own archive,
 * librmm-lib-smc.a, as TF-RMM's build does. `standin_smc_object` tells the test whether this
 * member was linked.
 */
#include "standin.h"

const char standin_smc_object[] = "stand-in lib/smc";

unsigned long monitor_call(unsigned long id, unsigned long arg0, unsigned long arg1, unsigned long arg2,
                           unsigned long arg3, unsigned long arg4, unsigned long arg5)
{
	struct smc_args args = {{arg0, arg1, arg2, arg3, arg4, arg5}};
	struct smc_result res = {{0}};
	host_monitor_call(id, &args, &res);
	return res.x[0];
}

void monitor_call_with_arg_res(unsigned long fid, struct smc_args *args, struct smc_result *res)
{
	for (int i = 0; i < 8; ++i)
		res->x[i] = 0;
	host_monitor_call(fid, args, res);
}
