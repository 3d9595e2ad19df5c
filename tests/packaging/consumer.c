/* A consumer of an installed el3d: only <el3d/el3_client.h>. Boots CPU 0, allocates a tagged
 * region, and dereferences the physical address directly (PA == VA), as an RMM built for the
 * host does; el3_pa_to_va() only if el3client had to map the carveout at an offset. */
#include <el3d/el3_client.h>

#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: consumer ENDPOINT\n");
		return 2;
	}
	el3_client *c;
	el3_cpu *cpu;
	el3_regs e, r;
	el3_error err;
	if (el3_connect(argv[1], &c, &err) != EL3_OK || el3_cpu_enter(c, 0, EL3_ENTRY_AUTO, &cpu, &e, &err) != EL3_OK) {
		fprintf(stderr, "consumer: %s\n", err.message);
		return 1;
	}
	const uint64_t args[EL3_SMC_ARGS] = {64, EL3_ALLOC_X2(6, 3)};
	if (el3_smc(cpu, EL3_FID_RMM_ALLOCATE_MEMORY, args, &r, &err) != EL3_OK || (int64_t)r.x[0] < 0) {
		fprintf(stderr, "consumer: allocation failed\n");
		return 1;
	}
	const int identity = el3_identity_mapped(c);
	char *p = identity ? (char *)(uintptr_t)r.x[1] : el3_pa_to_va(c, r.x[1]);
	if (r.x[0] == 1)
		strcpy(p, "hello from an installed el3client");
	printf("consumer: x0=%llu identity=%d %s\n", (unsigned long long)r.x[0], identity, p);
	el3_cpu_leave(cpu);
	el3_disconnect(c);
	return 0;
}
