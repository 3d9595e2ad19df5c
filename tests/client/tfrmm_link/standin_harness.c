/*
 * Stand-in for TF-RMM's host platform harness (tfrmm.md §2.1, §2.4): it defines
 * host_monitor_call(), the in-tree EL3 stubs, next to other harness functions the program needs
 * (here host_util_set_cpuid()), so the object is always linked. The stub answers with a marker
 * and counts its calls: an SMC that reaches it did not reach el3d.
 */
#include "standin.h"

int standin_stub_calls;
static unsigned standin_cpuid;

void host_monitor_call(unsigned long id, struct smc_args *args, struct smc_result *res)
{
	(void)id;
	(void)args;
	++standin_stub_calls;
	res->x[0] = STANDIN_STUB_X0;
}

void host_util_set_cpuid(unsigned cpu) { standin_cpuid = cpu; }
unsigned host_util_get_cpuid(void) { return standin_cpuid; }
