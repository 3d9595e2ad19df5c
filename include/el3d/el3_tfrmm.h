/*
 * el3client_tfrmm — TF-RMM drop-in. libel3client_tfrmm.a defines monitor_call() and
 * monitor_call_with_arg_res() with the signatures of TF-RMM's lib/smc (struct smc_args: x1..x12,
 * struct smc_result: x0..x7), so that linking it ahead of TF-RMM's rmm-lib-smc sends every SMC of
 * a host-built RMM to el3d. libel3client_tfrmm_wrap.a instead defines only
 * __wrap_host_monitor_call(), for linking with -Wl,--wrap=host_monitor_call and TF-RMM's own
 * lib/smc. See docs/client.md for both link lines.
 *
 * Which CPU an SMC comes from: the CPU session bound to the calling thread. el3_cpu_enter() binds
 * its caller; el3_tfrmm_bind() and el3_tfrmm_select() bind the calling thread to another CPU,
 * which is what a boot driver running every CPU on one thread (TF-RMM's fake_host) does next to
 * host_util_set_cpuid(n). A thread that is bound to nothing uses the process's session if there
 * is exactly one; otherwise its SMCs return SMC_UNK, with a message on stderr (once per thread)
 * saying what to call. An SMC through a binding whose CPU has left (or whose client
 * disconnected) returns SMC_UNK with a message too. RMM_BOOT_COMPLETE with a non-zero x1 ends
 * the process (see el3_boot_complete()).
 */
#ifndef EL3D_EL3_TFRMM_H
#define EL3D_EL3_TFRMM_H

#include "el3d/el3_client.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Bind the calling thread to `cpu` (NULL: unbind). */
void el3_tfrmm_bind(el3_cpu *cpu);
/* The calling thread's binding (NULL if none; it may have ended). */
el3_cpu *el3_tfrmm_bound(void);
/* Bind the calling thread to the CPU session of CPU `cpu_index` in this process. EL3_ERR_INVALID
 * (and the binding unchanged) if no session of this process has that CPU, or if several clients
 * each have one (use el3_tfrmm_bind then). */
int el3_tfrmm_select(unsigned cpu_index, el3_error *err);
/* What monitor_call() does: one SMC from the calling thread's CPU (as above); x0..x7 into `out`,
 * which holds SMC_UNK in x0 and zeros when the call could not be made (the return code and a
 * message on stderr say why). */
int el3_tfrmm_call(uint64_t fid, const uint64_t args[EL3_SMC_ARGS], el3_regs *out);

#ifdef __cplusplus
}
#endif

#endif /* EL3D_EL3_TFRMM_H */
