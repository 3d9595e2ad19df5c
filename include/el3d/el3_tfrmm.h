/*
 * el3client_tfrmm — TF-RMM drop-in: defines monitor_call() and monitor_call_with_arg_res() with
 * the signatures of TF-RMM's lib/smc (struct smc_args: x1..x12, struct smc_result: x0..x7), so
 * that linking this library ahead of TF-RMM's rmm-lib-smc sends every SMC of a host-built RMM to
 * el3d. See docs/client.md for the link line.
 *
 * Each thread that calls monitor_call() must be bound to a CPU session: el3_cpu_enter() binds the
 * calling thread; el3_tfrmm_bind() binds another. An unbound call returns SMC_UNK and says so on
 * stderr. RMM_BOOT_COMPLETE with a negative x1 ends the process (see el3_boot_complete()).
 */
#ifndef EL3D_EL3_TFRMM_H
#define EL3D_EL3_TFRMM_H

#include "el3d/el3_client.h"

#ifdef __cplusplus
extern "C" {
#endif

void el3_tfrmm_bind(el3_cpu *cpu);
el3_cpu *el3_tfrmm_bound(void);

#ifdef __cplusplus
}
#endif

#endif /* EL3D_EL3_TFRMM_H */
