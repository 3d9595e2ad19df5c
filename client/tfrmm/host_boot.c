/*
 * el3d's boot driver for TF-RMM's own host program (HOST_VARIANT=host_build).
 *
 * el3d-tfrmm.cmake compiles this file into TF-RMM's rmm_core.elf (and nothing else) and links
 * it with -Wl,--wrap for the functions below, so that TF-RMM's unchanged host main() boots
 * through el3d and runs its realm flow against it:
 *
 *   host_util_setup_sysreg_and_boot_manifest  after TF-RMM's sysreg defaults: connect to el3d
 *                                             ($EL3D_ENDPOINT) and enter CPU 0 (a cold boot)
 *   host_util_get_el3_rmm_shared_buffer       el3d's shared page (x3), not TF-RMM's static one
 *   plat_setup                                called with el3d's entry registers x0..x4
 *   pcpu_fake_host_setup (TF-RMM main)        the per-CPU region from el3d: reserved with
 *                                             RMM_RESERVE_MEMORY (LOCAL) when the activation
 *                                             token is 0, else the region the token names
 *   rmm_main, rmm_warmboot_main               el3d's token in (tf-rmm-v0.9.0), RMM_BOOT_COMPLETE
 *                                             out with the token the RMM returns
 *   host_util_get_granule_base                TF-RMM's host DRAM is a DRAM bank el3d backs at
 *                                             VA == PA (so delegations land in el3d's GPT)
 *   host_util_slot_map                        slot buffers alias el3d's pages of that bank
 *   host_monitor_call                         every SMC to el3d (none to TF-RMM's in-tree stubs)
 *   host_rmi_rmm_config_set, host_rmm_activate  the host program's one-time RMM configuration is
 *                                             not sent again to an RMM that a live activation
 *                                             found ACTIVE (a hypervisor does not either; TF-RMM
 *                                             would answer RMI_ERROR_GLOBAL)
 *
 * EL3D_TFRMM=off runs the same binary on TF-RMM's in-tree stubs (its stand-alone behaviour);
 * EL3D_TFRMM_CPUS=all (or a number) boots that many CPUs, cold then warm, before main()'s flow.
 * EL3D_TFRMM_SERVE=1 replaces main()'s flow with the RMM's RMI loop on CPU 0, driven through el3d's
 * world switch by a Non-secure program in another process: CPU 0's RMM_BOOT_COMPLETE and every
 * RMM_RMI_REQ_COMPLETE return with the next RMI, which goes to TF-RMM's handle_ns_smc(), as its
 * rmm_handler does on hardware, until the session with el3d ends.
 *
 * Built with TF-RMM's headers and flags; TF-RMM_EL3D_HEAD (per-CPU regions from EL3) and
 * EL3D_TFRMM_MAIN_TOKEN (rmm_main(token)) are set by el3d-tfrmm.cmake from the tree it is given.
 */
#include <arch_helpers.h>
#include <glob_data.h>
#include <granule.h>
#include <host_harness.h>
#include <host_rmi_wrappers.h>
#include <host_utils.h>
#include <platform_api.h>
#include <rmm_el3_ifc.h>
#include <smc.h>
#include <smc-rmi.h>
#if EL3D_TFRMM_PCPU_REGIONS
#include <pcpu_data.h>
#endif

#include <el3d/el3_tfrmm.h>

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef EL3D_TFRMM_MAX_CPUS
#define EL3D_TFRMM_MAX_CPUS MAX_CPUS
#endif

/*
 * Each function the link wraps: TF-RMM's own definition (__real_) and el3d's (__wrap_), declared
 * together (TF-RMM builds with -Wmissing-prototypes).
 */
#define EL3D_WRAPPED(ret, name, params) \
	ret __real_##name params;       \
	ret __wrap_##name params

EL3D_WRAPPED(void, host_util_setup_sysreg_and_boot_manifest, (void));
EL3D_WRAPPED(unsigned char *, host_util_get_el3_rmm_shared_buffer, (void));
EL3D_WRAPPED(void, plat_setup, (uint64_t x0, uint64_t x1, uint64_t x2, uint64_t x3, uint64_t x4));
EL3D_WRAPPED(unsigned long, host_util_get_granule_base, (void));
EL3D_WRAPPED(void *, host_util_slot_map, (unsigned int slot, unsigned long addr));
EL3D_WRAPPED(void, host_monitor_call, (unsigned long id, struct smc_args *args, struct smc_result *res));
EL3D_WRAPPED(void, host_rmi_rmm_config_set, (unsigned long config_ptr, struct smc_result *res));
EL3D_WRAPPED(void, host_rmm_activate, (struct smc_result *res));
void handle_ns_smc(unsigned int function_id, unsigned long arg0, unsigned long arg1, unsigned long arg2,
		   unsigned long arg3, unsigned long arg4, unsigned long arg5, unsigned long arg6, struct smc_result *res);
#if EL3D_TFRMM_PCPU_REGIONS
EL3D_WRAPPED(void, pcpu_fake_host_setup, (unsigned long cpu_index, uint64_t token));
#endif
#if EL3D_TFRMM_MAIN_TOKEN
EL3D_WRAPPED(uint64_t, rmm_main, (uint64_t token));
uint64_t rmm_warmboot_main(uint64_t token);
#else
EL3D_WRAPPED(uint64_t, rmm_main, (void));
uint64_t rmm_warmboot_main(void);
#endif

#define EL3D_PAGE 4096UL
/* Boot Manifest v0.5: plat_dram is {num_banks, banks *, checksum} at offset 16. */
#define EL3D_MANIFEST_DRAM_OFFSET 16U

static struct {
	bool decided, active, serve;
	el3_client *client;
	el3_cpu *cpu[EL3D_TFRMM_MAX_CPUS];
	el3_regs entry[EL3D_TFRMM_MAX_CPUS];
	uint64_t ncpus;        /* x2 of the cold boot */
	uint64_t dram_base;    /* TF-RMM's host DRAM: a DRAM bank el3d backs */
	uint64_t dram_size;
	unsigned long served, stubbed;  /* SMCs sent to el3d, and to TF-RMM's in-tree stubs */
} el3d;

static void el3d_at_exit(void)
{
	/* main() stops TF-RMM's SPDM responder emulator at its end; an exit before (a failed boot) must too. */
	host_util_stop_spdm_responder();
	(void)fprintf(stderr, "el3d-tfrmm: %lu SMCs served by el3d, %lu by TF-RMM's in-tree stubs\n", el3d.served,
		      el3d.stubbed);
}

static void el3d_die(const char *what, const char *why)
{
	(void)fprintf(stderr, "el3d-tfrmm: %s%s%s\n", what, why != NULL ? ": " : "", why != NULL ? why : "");
	(void)fflush(stderr);
	exit(EXIT_FAILURE);
}

/* Whether el3d serves this process (decided once, from EL3D_TFRMM). */
static bool el3d_active(void)
{
	if (!el3d.decided) {
		const char *v = getenv("EL3D_TFRMM");
		el3d.decided = true;
		el3d.active = v == NULL || strcmp(v, "off") != 0;
		v = getenv("EL3D_TFRMM_SERVE");
		el3d.serve = el3d.active && v != NULL && strcmp(v, "1") == 0;
	}
	return el3d.active;
}

static uint64_t el3d_token(unsigned int cpu)
{
	/* The activation token: x4 of a cold entry, x1 of a warm one. */
	return el3_cpu_entry_kind(el3d.cpu[cpu]) == EL3_ENTRY_COLD ? el3d.entry[cpu].x[4] : el3d.entry[cpu].x[1];
}

/* The first DRAM bank of el3d's Boot Manifest that holds TF-RMM's host DRAM and that el3d backs. */
static void el3d_pick_dram(void)
{
	const uint64_t need = (uint64_t)plat_get_num_granules() * EL3D_PAGE;
	const uint8_t *m = (const uint8_t *)(uintptr_t)el3d.entry[0].x[3];
	uint64_t nbanks, banks;

	(void)memcpy(&nbanks, m + EL3D_MANIFEST_DRAM_OFFSET, sizeof(nbanks));
	(void)memcpy(&banks, m + EL3D_MANIFEST_DRAM_OFFSET + 8U, sizeof(banks));
	for (uint64_t i = 0U; i < nbanks && i < 64U; i++) {
		uint64_t b[2];
		unsigned int w, nw = el3_ns_window_count(el3d.client);

		(void)memcpy(b, (const void *)(uintptr_t)(banks + i * sizeof(b)), sizeof(b));
		if (b[1] < need) {
			continue;
		}
		for (w = 0U; w < nw; w++) {
			el3_ns_window win;

			if (el3_ns_window_get(el3d.client, w, &win, NULL) == EL3_OK && b[0] >= win.base &&
			    b[0] + need <= win.base + win.size && win.va == (void *)(uintptr_t)win.base) {
				el3d.dram_base = b[0];
				el3d.dram_size = need;
				return;
			}
		}
	}
	(void)fprintf(stderr, "el3d-tfrmm: TF-RMM's host DRAM needs 0x%llx bytes in one DRAM bank el3d backs\n",
		      (unsigned long long)need);
	el3d_die("no DRAM bank of el3d's Boot Manifest is large enough and mapped at VA == PA", NULL);
}

/* Enter `cpu` (cold for the first, warm after), bind this thread to it. In serve mode CPU 0's RMM serves RMIs. */
static void el3d_enter(unsigned int cpu, enum el3_entry_kind kind)
{
	el3_error err;
	const unsigned int flags = el3d.serve && cpu == 0U ? EL3_ENTER_SERVE_RMI : 0U;

	if (el3_cpu_enter_flags(el3d.client, cpu, kind, flags, &el3d.cpu[cpu], &el3d.entry[cpu], &err) != EL3_OK) {
		el3d_die("el3d refused the CPU entry", err.message);
	}
	el3_tfrmm_bind(el3d.cpu[cpu]);
}

static void el3d_connect_and_enter(void)
{
	el3_error err;
	struct el3_info info;

	(void)atexit(el3d_at_exit);
	if (el3_connect(NULL, &el3d.client, &err) != EL3_OK) {
		el3d_die("cannot reach el3d (set EL3D_ENDPOINT=unix:/path/to/el3d.sock, or EL3D_TFRMM=off to run "
			 "TF-RMM's in-tree EL3 stubs)", err.message);
	}
	if (el3_identity_mapped(el3d.client) == 0) {
		el3d_die("TF-RMM dereferences physical addresses, but el3d's memory could not be mapped at VA == PA "
			 "in this process (AddressSanitizer's shadow, or the range is taken)", NULL);
	}
	el3d_enter(0U, EL3_ENTRY_AUTO);
	if (el3_cpu_entry_kind(el3d.cpu[0]) != EL3_ENTRY_COLD) {
		el3d_die("CPU 0's entry is a warm boot: another RMM instance holds CPUs of this activation", NULL);
	}
	el3d.ncpus = el3d.entry[0].x[2];
	el3d_pick_dram();
	if (el3_get_info(el3d.client, &info, &err) == EL3_OK) {
		(void)fprintf(stderr, "el3d-tfrmm: cold boot of CPU 0 through el3d (%s, %s, interface 0x%x, %llu CPUs), "
			      "activation %llu, token 0x%llx; host DRAM at 0x%llx; TF-RMM %s\n", info.platform, info.abi,
			      info.interface_version, (unsigned long long)el3d.ncpus,
			      (unsigned long long)el3_cpu_activation(el3d.cpu[0]),
			      (unsigned long long)el3d_token(0U), (unsigned long long)el3d.dram_base,
			      EL3D_TFRMM_PCPU_REGIONS ? "main (per-CPU regions from EL3)" : "v0.9.0 (rmm_main(token))");
	}
}

void __wrap_host_util_setup_sysreg_and_boot_manifest(void)
{
	/* TF-RMM's sysreg defaults (and its own manifest, which nothing reads once el3d's is used). */
	__real_host_util_setup_sysreg_and_boot_manifest();
	if (el3d_active() && el3d.client == NULL) {
		el3d_connect_and_enter();
	}
}

unsigned char *__wrap_host_util_get_el3_rmm_shared_buffer(void)
{
	if (!el3d_active() || el3d.client == NULL) {
		return __real_host_util_get_el3_rmm_shared_buffer();
	}
	return (unsigned char *)(uintptr_t)el3d.entry[0].x[3];
}

void __wrap_plat_setup(uint64_t x0, uint64_t x1, uint64_t x2, uint64_t x3, uint64_t x4)
{
	if (!el3d_active() || el3d.client == NULL) {
		__real_plat_setup(x0, x1, x2, x3, x4);
		return;
	}
	/* The cold-boot registers EL3 entered CPU 0 with, not the host program's constants. */
	__real_plat_setup(el3d.entry[0].x[0], el3d.entry[0].x[1], el3d.entry[0].x[2], el3d.entry[0].x[3],
			  el3d.entry[0].x[4]);
}

unsigned long __wrap_host_util_get_granule_base(void)
{
	if (!el3d_active() || el3d.client == NULL) {
		return __real_host_util_get_granule_base();
	}
	return (unsigned long)el3d.dram_base;
}

void *__wrap_host_util_slot_map(unsigned int slot, unsigned long addr)
{
	el3_error err;
	void *va;

	if (!el3d_active() || el3d.client == NULL || addr < el3d.dram_base ||
	    addr >= el3d.dram_base + el3d.dram_size) {
		return __real_host_util_slot_map(slot, addr);
	}
	/* TF-RMM's slot for the same granule of its own buffer, then el3d's page over it. */
	va = __real_host_util_slot_map(slot, __real_host_util_get_granule_base() + (addr - el3d.dram_base));
	if (el3_map_alias(el3d.client, addr & ~(EL3D_PAGE - 1UL), EL3D_PAGE, va, &err) != EL3_OK) {
		el3d_die("cannot map a granule of el3d's DRAM into a slot buffer", err.message);
	}
	return va;
}

void __wrap_host_monitor_call(unsigned long id, struct smc_args *args, struct smc_result *res)
{
	uint64_t a[EL3_SMC_ARGS];
	el3_regs r;
	int rc;

	if (!el3d_active() || el3d.client == NULL) {
		el3d.stubbed++;
		__real_host_monitor_call(id, args, res);
		return;
	}
	el3d.served++;
	for (unsigned int i = 0U; i < EL3_SMC_ARGS; i++) {
		a[i] = args->v[i];
	}
	rc = el3_tfrmm_call(id, a, &r);
	if (rc == EL3_ERR_SESSION) {
		/*
		 * el3d died, the session broke, or a fault rule of el3d's killed it (an RMM crash at this SMC): TF-RMM
		 * would panic() and spin on the SMC_UNK.
		 */
		el3d_die("the session with el3d broke (el3d stopped, or a fault rule ended it); exiting instead of "
			 "answering SMC_UNK", NULL);
	}
	for (unsigned int i = 0U; i < EL3_SMC_RESULTS; i++) {
		res->x[i] = (unsigned long)r.x[i];
	}
}

/*
 * After a live activation the RMM keeps its global state, ACTIVE included: the Non-secure side does not
 * configure and activate it again. TF-RMM's host main() is written for a first boot and would; in an
 * activation that reused the previous instance's state, those two RMIs are answered here.
 */
static bool el3d_already_active(const char *rmi)
{
	if (!el3d_active() || el3d.client == NULL || el3d_token(0U) == 0U ||
	    glob_data_get_rmm_state() != RMM_STATE_ACTIVE) {
		return false;
	}
	(void)fprintf(stderr, "el3d-tfrmm: %s not sent: the RMM of activation %llu is ACTIVE with the state of the "
		      "previous one (Live Firmware Activation)\n", rmi,
		      (unsigned long long)el3_cpu_activation(el3d.cpu[0]));
	return true;
}

void __wrap_host_rmi_rmm_config_set(unsigned long config_ptr, struct smc_result *res)
{
	if (el3d_already_active("RMI_RMM_CONFIG_SET")) {
		(void)memset(res, 0, sizeof(*res));
		res->x[0] = RMI_SUCCESS;
		return;
	}
	__real_host_rmi_rmm_config_set(config_ptr, res);
}

void __wrap_host_rmm_activate(struct smc_result *res)
{
	if (el3d_already_active("RMI_RMM_ACTIVATE")) {
		(void)memset(res, 0, sizeof(*res));
		res->x[0] = RMI_SUCCESS;
		return;
	}
	__real_host_rmm_activate(res);
}

/* RMM_BOOT_COMPLETE from `cpu` with the RMM's token (what head.S does after rmm_main()). */
static void el3d_boot_complete(unsigned int cpu, uint64_t token)
{
	el3_error err;

	el3d.served++;
	if (el3_boot_complete(el3d.cpu[cpu], 0, token, NULL, &err) != EL3_OK) {
		el3d_die("RMM_BOOT_COMPLETE did not reach el3d", err.message);
	}
}

#if EL3D_TFRMM_PCPU_REGIONS
/* The per-CPU region, as pcpu_region_alloc does on hardware: reserved from EL3 on first entry. */
static void el3d_pcpu_setup(unsigned int cpu)
{
	const uint64_t token = el3d_token(cpu);
	uintptr_t region = (uintptr_t)token;

	if (token == 0U) {
		struct smc_args args = {{0}};
		struct smc_result res = {{0}};

		args.v[0] = PCPU_REGION_PAGES * EL3D_PAGE;
		args.v[1] = (12UL << 56) | 1UL; /* 4 KiB aligned, local CPU */
		monitor_call_with_arg_res(SMC_RMM_RESERVE_MEMORY, &args, &res);
		if (res.x[0] != 0UL) {
			(void)fprintf(stderr, "el3d-tfrmm: RMM_RESERVE_MEMORY of CPU %u's per-CPU region failed: x0 = %ld%s\n",
				      cpu, (long)res.x[0],
				      (el3d.entry[0].x[1] >> 16) != 2U ? " (el3d serves interface 0.x without "
				      "RMM_RESERVE_MEMORY: start it with --abi tfa)" : "");
			(void)el3_boot_complete(el3d.cpu[cpu], E_RMM_BOOT_NO_MEM, 0U, NULL, NULL); /* exits */
			el3d_die("RMM_RESERVE_MEMORY of the per-CPU region failed", NULL);
		}
		region = (uintptr_t)res.x[1];
	}
	pcpu_metadata_early_init(region, cpu, token);
}

void __wrap_pcpu_fake_host_setup(unsigned long cpu_index, uint64_t token)
{
	if (!el3d_active() || el3d.client == NULL || cpu_index != 0UL) {
		__real_pcpu_fake_host_setup(cpu_index, token);
		return;
	}
	el3d_pcpu_setup(0U);
}
#endif

/* EL3D_TFRMM_CPUS: how many CPUs to boot (default 1, "all" = every CPU of el3d's platform). */
static unsigned int el3d_cpus_wanted(void)
{
	const char *v = getenv("EL3D_TFRMM_CPUS");
	unsigned long n;
	char *end;

	if (v == NULL || *v == '\0') {
		return 1U;
	}
	if (strcmp(v, "all") == 0) {
		n = el3d.ncpus;
	} else {
		n = strtoul(v, &end, 10);
		if (*end != '\0' || n == 0UL || n > el3d.ncpus) {
			(void)fprintf(stderr, "el3d-tfrmm: EL3D_TFRMM_CPUS='%s' is not \"all\" or 1..%llu\n", v,
				      (unsigned long long)el3d.ncpus);
			exit(EXIT_FAILURE);
		}
	}
	if (n > (unsigned long)EL3D_TFRMM_MAX_CPUS) {
		(void)fprintf(stderr, "el3d-tfrmm: el3d's platform has %lu CPUs, this TF-RMM build at most %u: booting %u\n",
			      n, (unsigned int)EL3D_TFRMM_MAX_CPUS, (unsigned int)EL3D_TFRMM_MAX_CPUS);
		n = EL3D_TFRMM_MAX_CPUS;
	}
	return (unsigned int)n;
}

/* Warm boot of `cpu` on this thread (TF-RMM's host CPUs are serialised), as PSCI CPU_ON would. */
static void el3d_warm_boot(unsigned int cpu)
{
	uint64_t token;

	host_util_set_cpuid(cpu);
	el3d_enter(cpu, EL3_ENTRY_WARM);
#if EL3D_TFRMM_PCPU_REGIONS
	el3d_pcpu_setup(cpu);
#else
	write_tpidr_el2(cpu);
#endif
	plat_warmboot_setup(el3d.entry[cpu].x[0], el3d.entry[cpu].x[1], el3d.entry[cpu].x[2],
			    el3d.entry[cpu].x[3]);
	write_sctlr_el2(SCTLR_ELx_WXN_BIT | SCTLR_ELx_M_BIT); /* the emulated MMU on */
#if EL3D_TFRMM_MAIN_TOKEN
	token = rmm_warmboot_main(el3d_token(cpu));
#else
	token = rmm_warmboot_main();
#endif
	el3d_boot_complete(cpu, token);
}

/*
 * The Non-secure side's part of a live activation. TF-RMM keeps the granule states of the previous
 * instance, but the host program that delegated them is a new process that knows nothing of them
 * (TF-RMM's host flow also leaves some delegated at its end, harmless in a process that exits). As
 * a hypervisor reclaiming its memory would, undelegate (RMI_GRANULE_RANGE_UNDELEGATE) every granule of the
 * host DRAM that TF-RMM holds DELEGATED and unused, before the host flow allocates from it again.
 */
static void el3d_reclaim_delegated(void)
{
	unsigned long done = 0UL, failed = 0UL;

	for (uint64_t addr = el3d.dram_base; addr < el3d.dram_base + el3d.dram_size; addr += EL3D_PAGE) {
		struct granule *g = find_granule((unsigned long)addr);
		struct smc_result res;

		if (g == NULL || granule_unlocked_state(g) != GRANULE_STATE_DELEGATED) {
			continue;
		}
		host_rmi_granule_range_undelegate((void *)(uintptr_t)addr, (void *)(uintptr_t)(addr + EL3D_PAGE), &res);
		if (res.x[0] == RMI_SUCCESS) {
			done++;
		} else {
			failed++;
		}
	}
	if (done != 0UL || failed != 0UL) {
		(void)fprintf(stderr, "el3d-tfrmm: the previous host program left %lu granules delegated: undelegated %lu "
			      "(RMI_GRANULE_RANGE_UNDELEGATE) before the host flow%s\n", done + failed, done,
			      failed != 0UL ? ", the others refused" : "");
	}
}

/*
 * Serve mode: the RMI loop of TF-RMM's rmm_handler on CPU 0, through el3d's world switch. The boot
 * completion returns the first RMI; each result goes back with RMM_RMI_REQ_COMPLETE, which returns
 * the next. x4..x7 of an RMI are the result's x4..x7 unless the handler writes them (SMCCC 1.2, as
 * rmm_handler pre-loads them). Ends the process when the session with el3d ends.
 */
static void el3d_serve(uint64_t token)
{
	el3_regs r;
	el3_error err;

	(void)fprintf(stderr, "el3d-tfrmm: serving RMIs on CPU 0; host DRAM at 0x%llx, 0x%llx bytes\n",
		      (unsigned long long)el3d.dram_base, (unsigned long long)el3d.dram_size);
	(void)fflush(stderr);
	el3d.served++;
	if (el3_boot_complete(el3d.cpu[0], 0, token, &r, &err) != EL3_OK) {
		el3d_die("RMM_BOOT_COMPLETE did not reach el3d", err.message);
	}
	for (;;) {
		struct smc_result res;
		uint64_t a[EL3_SMC_ARGS] = {0};

		(void)memset(&res, 0, sizeof(res));
		for (unsigned int i = 4U; i < 8U; i++) {
			res.x[i] = (unsigned long)r.x[i];
		}
		handle_ns_smc((unsigned int)r.x[0], (unsigned long)r.x[1], (unsigned long)r.x[2], (unsigned long)r.x[3],
			      (unsigned long)r.x[4], (unsigned long)r.x[5], (unsigned long)r.x[6], (unsigned long)r.x[7],
			      &res);
		for (unsigned int i = 0U; i < 8U; i++) {
			a[i] = (uint64_t)res.x[i];
		}
		el3d.served++;
		if (el3_smc(el3d.cpu[0], SMC_RMM_REQ_COMPLETE, a, &r, &err) != EL3_OK) {
			el3d_die("the session with el3d ended; the RMM stops serving RMIs", err.message);
		}
	}
}

static uint64_t el3d_after_rmm_main(uint64_t token)
{
	unsigned int n = el3d_cpus_wanted();

	if (el3d.serve) {
		/* The other CPUs first: CPU 0's boot completion does not return until the first RMI. */
		for (unsigned int cpu = 1U; cpu < n; cpu++) {
			el3d_warm_boot(cpu);
		}
		host_util_set_cpuid(0U);
		el3_tfrmm_bind(el3d.cpu[0]);
		el3d_serve(token); /* does not return */
	}
	el3d_boot_complete(0U, token);
	for (unsigned int cpu = 1U; cpu < n; cpu++) {
		el3d_warm_boot(cpu);
	}
	if (n > 1U) {
		(void)fprintf(stderr, "el3d-tfrmm: CPUs 1..%u booted warm; the host flow runs on CPU 0\n", n - 1U);
		host_util_set_cpuid(0U);
		el3_tfrmm_bind(el3d.cpu[0]);
	}
	if (el3d_token(0U) != 0U) {
		el3d_reclaim_delegated();
	}
	return token;
}

#if EL3D_TFRMM_MAIN_TOKEN
uint64_t __wrap_rmm_main(uint64_t token)
{
	if (!el3d_active() || el3d.client == NULL) {
		return __real_rmm_main(token);
	}
	return el3d_after_rmm_main(__real_rmm_main(el3d_token(0U)));
}
#else
uint64_t __wrap_rmm_main(void)
{
	if (!el3d_active() || el3d.client == NULL) {
		return __real_rmm_main();
	}
	return el3d_after_rmm_main(__real_rmm_main());
}
#endif
