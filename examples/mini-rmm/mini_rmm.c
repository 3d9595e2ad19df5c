/*
 * mini-rmm: a small RMM-shaped program written against el3client, the way an RMM built for the
 * host uses EL3. It boots N CPUs as threads, validates the boot registers and the Boot Manifest,
 * sizes a granule array from the DRAM banks and keeps it (and a VMID bitmap) in memory EL3 hands
 * out, delegates granules, completes the boot on every CPU, serves for a while and exits.
 *
 * Run it twice: the second instance is a live activation of the first. With the seed ABI it asks
 * for the same region tags and gets the same addresses back (x0 = 0) with the first instance's
 * state in them; with the tfa ABI it finds its state through the activation token EL3 hands back.
 *
 *   mini-rmm [--endpoint E] [--cpus N] [--granule-bytes B] [--delegate N] [--serve-ms MS]
 *            [--pause-before-complete-ms MS]
 *
 * Physical addresses are pointers: as in TF-RMM's host build, this program dereferences what EL3
 * hands it (the shared page, the manifest's pointers, allocated regions) directly, cast from the
 * physical address. Only when el3client could not map the carveout at VA == PA (it says so, and
 * the summary shows identity=0) does it translate them with el3_pa_to_va().
 *
 * Prints one summary line:  mini-rmm: instance=K abi=seed granules=0x... fresh=0 ... ok
 * Exit status: 0 ok, 1 a failed boot (reported to EL3), 2 usage, 3 el3d unreachable, 4 the
 * previous instance's state is not what this instance expects.
 */
#include <el3d/el3_client.h>

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define GRANULE 4096ull
#define MAGIC 0x4d494e49524d4d31ull /* "MINIRMM1" */
#define VMIDS 65536u
#define TAG_GRANULES 1
#define TAG_VMIDS 2

/* What this RMM keeps in EL3-provided memory: a header, then one entry per granule. */
struct glob {
	uint64_t magic;
	uint64_t instance;    /* 1 for the first instance, +1 per activation */
	uint64_t granules;    /* number of entries */
	uint64_t entry_bytes; /* bytes per entry */
	uint64_t dram_base[4], dram_size[4];
	uint64_t delegated;   /* granules this RMM has delegated so far */
	uint64_t vmids_pa;    /* where the VMID bitmap lives */
};

enum { G_NS = 0, G_DELEGATED = 1 };

static struct {
	const char *endpoint;
	unsigned cpus, delegate;
	uint64_t entry_bytes;
	unsigned serve_ms, pause_ms;
} opt = {NULL, 4, 16, 8, 50, 0};

static el3_client *client;
static struct el3_info info;
static int identity;
static int seed_abi;
static struct glob *glob;
static uint64_t glob_pa;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t primary_done = PTHREAD_COND_INITIALIZER;
static int primary_ready;
static pthread_cond_t all_served = PTHREAD_COND_INITIALIZER;
static unsigned served; /* CPUs that completed their boot and served */
static int failures;

/* exit() from a CPU thread. glibc's exit() must not run in two threads at once (both would run the
 * exit handlers), so the first thread to stop the process takes this lock and the others wait. */
static pthread_mutex_t exit_mu = PTHREAD_MUTEX_INITIALIZER;
static void stop(int rc)
{
	pthread_mutex_lock(&exit_mu);
	exit(rc);
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* A physical address as a pointer: the address itself when the carveout is mapped at VA == PA. */
static void *pa_ptr(uint64_t pa)
{
	return identity ? (void *)(uintptr_t)pa : el3_pa_to_va(client, pa);
}

/* [pa, pa + len) lies inside the carveout el3d provides (shared page included). */
static int in_carveout(uint64_t pa, uint64_t len)
{
	return pa >= info.rmm_base && len <= info.carveout_size && pa - info.rmm_base <= info.carveout_size - len;
}

static el3_regs smc(el3_cpu *cpu, uint64_t fid, uint64_t x1, uint64_t x2, uint64_t x3)
{
	uint64_t a[EL3_SMC_ARGS] = {x1, x2, x3};
	el3_regs r;
	el3_error err;
	if (el3_smc(cpu, fid, a, &r, &err) != EL3_OK) {
		fprintf(stderr, "mini-rmm: SMC 0x%" PRIx64 ": %s\n", fid, err.message);
		stop(3);
	}
	return r;
}

static void fail_boot(el3_cpu *cpu, int64_t code, const char *why)
{
	fprintf(stderr, "mini-rmm: cpu %u: %s\n", el3_cpu_index(cpu), why);
	el3_boot_complete(cpu, code, 0, NULL, NULL); /* does not return */
	stop(1);
}

/* The Boot Manifest checks this RMM relies on: version, DRAM banks, zero-sum checksums. */
static int check_list(const uint64_t *list, unsigned entry_words)
{
	uint64_t num = list[0], ptr = list[1], sum = list[0] + list[1] + list[2];
	if (num == 0)
		return ptr == 0 && list[2] == 0 ? 0 : -1;
	if (num > 64 || !in_carveout(ptr, num * entry_words * 8))
		return -1;
	const uint64_t *a = pa_ptr(ptr);
	for (uint64_t i = 0; i < num * entry_words; ++i)
		sum += a[i];
	return sum == 0 ? 0 : -1;
}

static uint64_t manifest_granules(el3_cpu *cpu, uint64_t shared, uint64_t *base, uint64_t *size)
{
	if (!in_carveout(shared, GRANULE))
		fail_boot(cpu, EL3_E_RMM_BOOT_INVALID_SHARED_BUFFER, "the shared page is not in the carveout");
	const uint8_t *m = pa_ptr(shared);
	uint32_t version;
	memcpy(&version, m, 4);
	if ((version >> 16) != 0 || (version & 0xffff) < 3)
		fail_boot(cpu, EL3_E_RMM_BOOT_MANIFEST_VERSION_NOT_SUPPORTED, "Boot Manifest version not supported");
	const uint64_t *dram = (const uint64_t *)(m + 16), *console = (const uint64_t *)(m + 40);
	if (check_list(dram, 2) != 0 || check_list(console, 6) != 0)
		fail_boot(cpu, EL3_E_RMM_BOOT_MANIFEST_DATA_ERROR, "Boot Manifest checksum or pointer error");
	if (dram[0] == 0 || dram[0] > 4)
		fail_boot(cpu, EL3_E_RMM_BOOT_MANIFEST_DATA_ERROR, "no DRAM, or more DRAM banks than supported");
	const uint64_t *banks = pa_ptr(dram[1]);
	uint64_t granules = 0, prev_end = 0;
	for (uint64_t i = 0; i < dram[0]; ++i) {
		const uint64_t b = banks[2 * i], s = banks[2 * i + 1];
		if (b == 0 || s == 0 || (b | s) % GRANULE != 0 || b < prev_end)
			fail_boot(cpu, EL3_E_RMM_BOOT_MANIFEST_DATA_ERROR, "invalid DRAM bank");
		base[i] = b;
		size[i] = s;
		prev_end = b + s;
		granules += s / GRANULE;
	}
	return granules;
}

/* Memory from EL3: a tagged region (seed ABI) or an untagged reservation (tfa ABI). */
static uint64_t get_memory(el3_cpu *cpu, uint64_t bytes, unsigned tag, int *fresh)
{
	el3_regs r;
	if (seed_abi)
		r = smc(cpu, EL3_FID_RMM_ALLOCATE_MEMORY, bytes, EL3_ALLOC_X2(12, tag), 0);
	else
		r = smc(cpu, EL3_FID_RMM_RESERVE_MEMORY, bytes, (12ull << 56) | 1, 0);
	if ((int64_t)r.x[0] < 0) {
		char why[128];
		snprintf(why, sizeof(why), "%" PRIu64 " bytes with tag %u: EL3 returned %" PRId64, bytes, tag,
		         (int64_t)r.x[0]);
		fail_boot(cpu, EL3_E_RMM_BOOT_NO_MEM, why);
	}
	*fresh = seed_abi ? (r.x[0] == (uint64_t)EL3_ALLOC_FRESH) : 1;
	return r.x[1];
}

static void *cpu_main(void *arg)
{
	const unsigned n = (unsigned)(uintptr_t)arg;
	el3_cpu *cpu;
	el3_regs e;
	el3_error err;
	if (n != 0) { /* secondaries come up after the primary's cold boot */
		pthread_mutex_lock(&mu);
		while (!primary_ready)
			pthread_cond_wait(&primary_done, &mu);
		pthread_mutex_unlock(&mu);
	}
	if (el3_cpu_enter(client, n, n == 0 ? EL3_ENTRY_AUTO : EL3_ENTRY_WARM, &cpu, &e, &err) != EL3_OK) {
		fprintf(stderr, "mini-rmm: cpu %u cannot enter: %s\n", n, err.message);
		stop(3);
	}
	uint64_t token = 0;
	if (n == 0) {
		/* Cold boot: x0 cpu, x1 version, x2 CPUs, x3 shared page, x4 token. */
		if ((e.x[1] >> 16) != 0 && (e.x[1] >> 16) != 2)
			fail_boot(cpu, EL3_E_RMM_BOOT_VERSION_NOT_VALID, "unsupported RMM-EL3 interface version");
		seed_abi = (e.x[1] >> 16) == 0 && (e.x[1] & 0xffff) < 7;
		if (e.x[2] > 4096)
			fail_boot(cpu, EL3_E_RMM_BOOT_CPUS_OUT_OF_RANGE, "too many CPUs");
		if (e.x[0] >= e.x[2] || opt.cpus > e.x[2])
			fail_boot(cpu, EL3_E_RMM_BOOT_CPU_ID_OUT_OF_RANGE, "CPU index out of range");
		if (e.x[3] == 0 || e.x[3] % GRANULE != 0)
			fail_boot(cpu, EL3_E_RMM_BOOT_INVALID_SHARED_BUFFER, "shared buffer not page aligned");
		uint64_t base[4] = {0}, size[4] = {0};
		const uint64_t granules = manifest_granules(cpu, e.x[3], base, size);
		const uint64_t bytes = sizeof(struct glob) + granules * opt.entry_bytes;

		int fresh_g, fresh_v = 1;
		if (seed_abi || e.x[4] == 0)
			glob_pa = get_memory(cpu, bytes, TAG_GRANULES, &fresh_g);
		else {
			glob_pa = e.x[4]; /* the previous instance's state, found through its token */
			fresh_g = 0;
		}
		if (!in_carveout(glob_pa, bytes))
			fail_boot(cpu, EL3_E_RMM_BOOT_NO_MEM, "the granule array is not in the carveout");
		glob = pa_ptr(glob_pa);
		if (fresh_g) {
			memset(glob, 0, sizeof(*glob));
			glob->magic = MAGIC;
			glob->instance = 1;
			glob->granules = granules;
			glob->entry_bytes = opt.entry_bytes;
			memcpy(glob->dram_base, base, sizeof(base));
			memcpy(glob->dram_size, size, sizeof(size));
		} else {
			if (glob->magic != MAGIC || glob->granules != granules || glob->entry_bytes != opt.entry_bytes) {
				fprintf(stderr, "mini-rmm: the previous instance's granule array at 0x%" PRIx64 " is not valid\n",
				        glob_pa);
				stop(4);
			}
			glob->instance += 1;
		}
		uint64_t vmids_pa;
		if (seed_abi)
			vmids_pa = get_memory(cpu, VMIDS / 8, TAG_VMIDS, &fresh_v);
		else if (fresh_g)
			vmids_pa = get_memory(cpu, VMIDS / 8, TAG_VMIDS, &fresh_v);
		else {
			vmids_pa = glob->vmids_pa;
			fresh_v = 0;
		}
		if (!in_carveout(vmids_pa, VMIDS / 8))
			fail_boot(cpu, EL3_E_RMM_BOOT_NO_MEM, "the VMID bitmap is not in the carveout");
		uint8_t *vmids = pa_ptr(vmids_pa);
		if (!fresh_v && glob->vmids_pa != vmids_pa) {
			fprintf(stderr, "mini-rmm: the VMID bitmap moved\n");
			stop(4);
		}
		glob->vmids_pa = vmids_pa;
		/* Every instance owns one more VMID; all earlier ones must still be set. */
		for (uint64_t v = 1; v < glob->instance; ++v)
			if (!(vmids[v / 8] & (1u << (v % 8)))) {
				fprintf(stderr, "mini-rmm: VMID %" PRIu64 " of an earlier instance is not set\n", v);
				stop(4);
			}
		vmids[glob->instance / 8] |= (uint8_t)(1u << (glob->instance % 8));
		token = glob_pa;
		printf("mini-rmm: instance=%" PRIu64 " abi=%s granules=0x%" PRIx64 " fresh=%d vmids=0x%" PRIx64
		       " vmids_fresh=%d entries=%" PRIu64 " identity=%d entry=%s activation=%" PRIu64 "\n",
		       glob->instance, seed_abi ? "seed" : "tfa", glob_pa, fresh_g, vmids_pa, fresh_v, granules, identity,
		       el3_cpu_entry_kind(cpu) == EL3_ENTRY_COLD ? "cold" : "warm", el3_cpu_activation(cpu));
		fflush(stdout);
		/* A window for tests to kill us mid-boot: reported, RMM_BOOT_COMPLETE not yet made. */
		if (opt.pause_ms)
			sleep_ms(opt.pause_ms);
	}

	/* Each CPU delegates granules of its own slice of the first DRAM bank and records them. */
	uint8_t *entries = (uint8_t *)(glob + 1);
	for (unsigned i = 0; i < opt.delegate; ++i) {
		const uint64_t idx = (uint64_t)(glob->instance - 1) * opt.cpus * opt.delegate + n * opt.delegate + i;
		const uint64_t pa = glob->dram_base[0] + idx * GRANULE;
		el3_regs r = smc(cpu, EL3_FID_RMM_GTSI_DELEGATE, pa, 0, 0);
		if (r.x[0] != 0) {
			fprintf(stderr, "mini-rmm: cpu %u: delegating 0x%" PRIx64 " failed: %" PRId64 "\n", n, pa, (int64_t)r.x[0]);
			__atomic_add_fetch(&failures, 1, __ATOMIC_SEQ_CST);
			continue;
		}
		entries[idx * glob->entry_bytes] = G_DELEGATED;
		__atomic_add_fetch(&glob->delegated, 1, __ATOMIC_SEQ_CST);
	}
	/* Granules an earlier instance recorded as delegated must still be Realm: delegating them again
	 * is E_RMM_BAD_PAS. (An instance killed before it delegated anything recorded nothing.) */
	if (n == 0 && glob->instance > 1 && entries[0] == G_DELEGATED) {
		const uint64_t pa = glob->dram_base[0];
		if ((int64_t)smc(cpu, EL3_FID_RMM_GTSI_DELEGATE, pa, 0, 0).x[0] != EL3_E_RMM_BAD_PAS) {
			fprintf(stderr, "mini-rmm: granule 0x%" PRIx64 " of instance 1 is not delegated any more\n", pa);
			__atomic_add_fetch(&failures, 1, __ATOMIC_SEQ_CST);
		}
	}

	if (n != 0 && el3_cpu_entry_kind(cpu) != EL3_ENTRY_WARM) {
		fprintf(stderr, "mini-rmm: cpu %u: expected a warm entry\n", n);
		__atomic_add_fetch(&failures, 1, __ATOMIC_SEQ_CST);
	}
	if (el3_boot_complete(cpu, 0, token, NULL, &err) != EL3_OK) {
		fprintf(stderr, "mini-rmm: cpu %u: %s\n", n, err.message);
		stop(3);
	}
	if (n == 0) {
		pthread_mutex_lock(&mu);
		primary_ready = 1;
		pthread_cond_broadcast(&primary_done);
		pthread_mutex_unlock(&mu);
	}
	sleep_ms(opt.serve_ms); /* "serve" */
	/* No CPU leaves before every CPU has booted: the last session to close ends the RMM instance, and
	 * a secondary entering after that would be a warm boot of an instance that is gone. */
	pthread_mutex_lock(&mu);
	if (++served == opt.cpus)
		pthread_cond_broadcast(&all_served);
	while (served < opt.cpus)
		pthread_cond_wait(&all_served, &mu);
	pthread_mutex_unlock(&mu);
	el3_cpu_leave(cpu);
	return NULL;
}

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; ++i) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--endpoint") && v)
			opt.endpoint = v, ++i;
		else if (!strcmp(a, "--cpus") && v)
			opt.cpus = (unsigned)strtoul(v, NULL, 0), ++i;
		else if (!strcmp(a, "--granule-bytes") && v)
			opt.entry_bytes = strtoull(v, NULL, 0), ++i;
		else if (!strcmp(a, "--delegate") && v)
			opt.delegate = (unsigned)strtoul(v, NULL, 0), ++i;
		else if (!strcmp(a, "--serve-ms") && v)
			opt.serve_ms = (unsigned)strtoul(v, NULL, 0), ++i;
		else if (!strcmp(a, "--pause-before-complete-ms") && v)
			opt.pause_ms = (unsigned)strtoul(v, NULL, 0), ++i;
		else {
			fprintf(stderr, "usage: mini-rmm [--endpoint E] [--cpus N] [--granule-bytes B] [--delegate N] "
			                "[--serve-ms MS] [--pause-before-complete-ms MS]\n");
			return 2;
		}
	}
	if (opt.cpus == 0 || opt.entry_bytes == 0) {
		fprintf(stderr, "mini-rmm: --cpus and --granule-bytes must be positive\n");
		return 2;
	}
	el3_error err;
	if (el3_connect(opt.endpoint, &client, &err) != EL3_OK) {
		fprintf(stderr, "mini-rmm: %s\n", err.message);
		return 3;
	}
	if (el3_get_info(client, &info, &err) != EL3_OK) {
		fprintf(stderr, "mini-rmm: %s\n", err.message);
		return 3;
	}
	identity = el3_identity_mapped(client);
	pthread_t t[64];
	if (opt.cpus > 64)
		opt.cpus = 64;
	for (unsigned n = 0; n < opt.cpus; ++n)
		pthread_create(&t[n], NULL, cpu_main, (void *)(uintptr_t)n);
	for (unsigned n = 0; n < opt.cpus; ++n)
		pthread_join(t[n], NULL);
	printf("mini-rmm: instance=%" PRIu64 " delegated=%" PRIu64 " %s\n", glob->instance, glob->delegated,
	       failures ? "FAILED" : "ok");
	el3_disconnect(client);
	return failures ? 4 : 0;
}
