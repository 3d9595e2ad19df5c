/* Declarations shared by the TF-RMM stand-ins of the link test (tfrmm.md §2.1 layouts). */
#ifndef STANDIN_H
#define STANDIN_H

struct smc_args {
	unsigned long v[12];
};
struct smc_result {
	unsigned long x[8];
};

#define STANDIN_STUB_X0 0x5354554253UL /* what the in-tree stub answers: "STUBS" */

unsigned long monitor_call(unsigned long id, unsigned long arg0, unsigned long arg1, unsigned long arg2,
                           unsigned long arg3, unsigned long arg4, unsigned long arg5);
void monitor_call_with_arg_res(unsigned long fid, struct smc_args *args, struct smc_result *res);
void host_monitor_call(unsigned long id, struct smc_args *args, struct smc_result *res);
void host_util_set_cpuid(unsigned cpu);
unsigned host_util_get_cpuid(void);

extern int standin_stub_calls;

#endif
