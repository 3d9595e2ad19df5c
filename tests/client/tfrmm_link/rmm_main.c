/*
 * A host-built "RMM" linked the way docs/client.md says TF-RMM's rmm_core.elf is: its code calls
 * only monitor_call() and monitor_call_with_arg_res(). main() is the boot driver, and like
 * TF-RMM's fake_host it runs every CPU serialised on one thread: it enters CPUs 0 and 1 and then
 * switches between them with el3_tfrmm_select() next to host_util_set_cpuid().
 *
 *   rmm-link ENDPOINT   prints "rmm-link: ok x0=..." and exits 0 if every SMC reached el3d
 */
#include <el3d/el3_client.h>
#include <el3d/el3_tfrmm.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "standin.h"

static int failed;

#define CHECK(cond, ...)                                  \
	do {                                              \
		if (!(cond)) {                            \
			fprintf(stderr, "rmm-link: ");    \
			fprintf(stderr, __VA_ARGS__);     \
			fprintf(stderr, "\n");            \
			failed = 1;                       \
		}                                         \
	} while (0)

/* "RMM" code: nothing but TF-RMM's two entry points. */
static unsigned long rmm_reserve(unsigned long size, unsigned tag, unsigned long *pa)
{
	struct smc_args a = {{size, EL3_ALLOC_X2(12, tag)}};
	struct smc_result r;
	monitor_call_with_arg_res(EL3_FID_RMM_ALLOCATE_MEMORY, &a, &r);
	*pa = r.x[1];
	return r.x[0];
}

static void select_cpu(unsigned n)
{
	el3_error err;
	host_util_set_cpuid(n);
	CHECK(el3_tfrmm_select(n, &err) == EL3_OK, "el3_tfrmm_select(%u): %s", n, err.message);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: rmm-link ENDPOINT\n");
		return 2;
	}
	el3_client *c;
	el3_cpu *cpu[2];
	el3_regs e;
	el3_error err;
	struct el3_info info;
	if (el3_connect(argv[1], &c, &err) != EL3_OK || el3_get_info(c, &info, &err) != EL3_OK) {
		fprintf(stderr, "rmm-link: %s\n", err.message);
		return 1;
	}
	for (unsigned n = 0; n < 2; ++n)
		if (el3_cpu_enter(c, n, n == 0 ? EL3_ENTRY_COLD : EL3_ENTRY_WARM, &cpu[n], &e, &err) != EL3_OK) {
			fprintf(stderr, "rmm-link: cpu %u: %s\n", n, err.message);
			return 1;
		}
	/* EL3D_EXPECT_IDENTITY=0: PA == VA cannot be had here (AddressSanitizer's shadow gap). */
	const char *want = getenv("EL3D_EXPECT_IDENTITY");
	const int identity = want == NULL || strcmp(want, "0") != 0;
	CHECK(el3_identity_mapped(c) == identity, "the carveout is %smapped at PA == VA", identity ? "not " : "");

	select_cpu(0);
	CHECK(el3_tfrmm_bound() == cpu[0], "CPU 0 is not bound");
	unsigned long pa = 0;
	const unsigned long x0 = rmm_reserve(0x1000, 3, &pa);
	CHECK(x0 == 0 || x0 == 1, "RMM_ALLOCATE_MEMORY x0 = 0x%lx", x0);
	CHECK(pa >= info.rmm_base && pa < info.rmm_base + info.carveout_size, "region 0x%lx not in the carveout", pa);
	if (!failed) {
		volatile uint64_t *p = identity ? (volatile uint64_t *)(uintptr_t)pa /* PA == VA */
		                                : (volatile uint64_t *)el3_pa_to_va(c, pa);
		if (x0 == 1)
			*p = 0x6c696e6b6564; /* "linked" */
		CHECK(*p == 0x6c696e6b6564, "the region does not hold what the first run wrote");
	}
	CHECK(monitor_call(EL3_FID_RMM_EL3_FEATURES, 0, 0, 0, 0, 0, 0) == 0, "RMM_EL3_FEATURES failed");

	select_cpu(1);
	CHECK(el3_tfrmm_bound() == cpu[1], "CPU 1 is not bound");
	/* BOOT_COMPLETE through TF-RMM's entry point: x0 is el3d's answer, not made up. */
	struct smc_args a = {{0, 0}};
	struct smc_result r;
	monitor_call_with_arg_res(EL3_FID_RMM_BOOT_COMPLETE, &a, &r);
	CHECK(r.x[0] != STANDIN_STUB_X0 && r.x[0] != ~0UL, "RMM_BOOT_COMPLETE x0 = 0x%lx", r.x[0]);

	CHECK(standin_stub_calls == 0, "%d SMCs reached the in-tree stub instead of el3d", standin_stub_calls);
	el3_cpu_leave(cpu[1]);
	el3_cpu_leave(cpu[0]);
	el3_disconnect(c);
	if (failed)
		return 1;
	printf("rmm-link: ok x0=%lu\n", x0);
	return 0;
}
