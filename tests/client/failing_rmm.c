/* An RMM whose every CPU fails its boot at the same instant, each from its own thread: it enters
 * CPUs 0..N-1 of the endpoint, releases N threads together, and each reports
 * E_RMM_BOOT_ERR_UNKNOWN with el3_boot_complete(), which must end the process with status 1.
 *
 *   failing-rmm ENDPOINT N
 *
 * Other exit statuses: 42 a CPU could not be entered, 43 el3_boot_complete() returned. */
#include "el3d/el3_client.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define MAX_CPUS 64

static el3_cpu *cpus[MAX_CPUS];
static unsigned ncpus;
static pthread_barrier_t together;

static void *fail(void *arg)
{
	el3_cpu *cpu = cpus[(unsigned)(uintptr_t)arg];
	pthread_barrier_wait(&together);
	el3_boot_complete(cpu, EL3_E_RMM_BOOT_ERR_UNKNOWN, 0, NULL, NULL);
	_exit(43);
}

int main(int argc, char **argv)
{
	el3_client *c;
	el3_error err;
	pthread_t t[MAX_CPUS];
	if (argc != 3 || (ncpus = (unsigned)strtoul(argv[2], NULL, 0)) == 0 || ncpus > MAX_CPUS) {
		fprintf(stderr, "usage: failing-rmm ENDPOINT N (1..%d)\n", MAX_CPUS);
		return 2;
	}
	if (el3_connect(argv[1], &c, &err) != EL3_OK) {
		fprintf(stderr, "failing-rmm: %s\n", err.message);
		return 42;
	}
	for (unsigned n = 0; n < ncpus; ++n)
		if (el3_cpu_enter(c, n, n == 0 ? EL3_ENTRY_COLD : EL3_ENTRY_WARM, &cpus[n], NULL, &err) != EL3_OK) {
			fprintf(stderr, "failing-rmm: cpu %u: %s\n", n, err.message);
			return 42;
		}
	pthread_barrier_init(&together, NULL, ncpus);
	for (unsigned n = 0; n < ncpus; ++n)
		pthread_create(&t[n], NULL, fail, (void *)(uintptr_t)n);
	for (unsigned n = 0; n < ncpus; ++n)
		pthread_join(t[n], NULL);
	return 43;
}
