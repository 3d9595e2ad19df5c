/*
 * A minimal RMM for the world-switch tests: a separate process that enters one CPU serving RMIs
 * (EL3_ENTER_SERVE_RMI), completes its boot, and answers each RMI as below until its session ends.
 *
 *   echo_rmm CPU        (EL3D_ENDPOINT says where el3d is)
 *
 *   0xC4000150  RMI_VERSION          x0 = 0, x1 = x2 = 0x10000 + CPU
 *   0xC4000151  delegate x1          RMM_GTSI_DELEGATE of x1 through el3d; x0 = its result
 *   0xC4000152  undelegate x1        RMM_GTSI_UNDELEGATE of x1; x0 = its result
 *   0xC4000160  read x1              x0 = 0, x1 = the 64-bit word at physical x1 (el3_pa_to_va)
 *   0xC4000161  write x1, x2         the word at physical x1 = x2; x0 = 0
 *   0xC400017E  crash                the process kills itself (SIGKILL) holding the RMI
 *   0xC400017F  sleep x1 ms          then x0 = 0, x1 = the number of RMIs answered before
 *   anything else                    x0 = 0, x1..x7 = the RMI's x1..x7 + 1
 *
 * Exit status: 0 never (it serves until the session ends), 1 when the session ends or fails.
 */
#include <el3d/el3_client.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static el3_client *client;
static el3_cpu *cpu;

/* A physical address as a pointer: PA == VA when el3client could map so, an offset mapping otherwise
 * (AddressSanitizer's shadow takes those addresses). */
static volatile uint64_t *word_at(uint64_t pa)
{
	volatile uint64_t *p = (volatile uint64_t *)el3_pa_to_va(client, pa);

	if (p == NULL) {
		fprintf(stderr, "echo_rmm: 0x%llx is not memory el3d backs\n", (unsigned long long)pa);
		exit(1);
	}
	return p;
}

static void answer(const el3_regs *rmi, uint64_t res[EL3_SMC_ARGS], unsigned int n, unsigned int me)
{
	const uint64_t fid = rmi->x[0];
	el3_regs r;
	el3_error err;
	uint64_t a[EL3_SMC_ARGS] = {0};

	switch (fid) {
	case 0xC4000150:
		res[1] = res[2] = 0x10000U + me;
		break;
	case 0xC4000151:
	case 0xC4000152:
		a[0] = rmi->x[1];
		if (el3_smc(cpu, fid == 0xC4000151 ? EL3_FID_RMM_GTSI_DELEGATE : EL3_FID_RMM_GTSI_UNDELEGATE, a, &r, &err) !=
		    EL3_OK) {
			fprintf(stderr, "echo_rmm: %s\n", err.message);
			el3_disconnect(client);
			exit(1);
		}
		res[0] = r.x[0];
		break;
	case 0xC4000160:
		res[1] = *word_at(rmi->x[1]);
		break;
	case 0xC4000161:
		*word_at(rmi->x[1]) = rmi->x[2];
		break;
	case 0xC400017E:
		raise(SIGKILL);
		break;
	case 0xC400017F: {
		struct timespec ts = {(time_t)(rmi->x[1] / 1000U), (long)(rmi->x[1] % 1000U) * 1000000L};
		nanosleep(&ts, NULL);
		res[1] = n;
		break;
	}
	default:
		for (unsigned int i = 1; i < 8; i++)
			res[i] = rmi->x[i] + 1U;
		break;
	}
}

int main(int argc, char **argv)
{
	el3_error err;
	el3_regs entry, rmi;
	const unsigned int me = argc > 1 ? (unsigned int)atoi(argv[1]) : 0U;

	if (el3_connect(NULL, &client, &err) != EL3_OK) {
		fprintf(stderr, "echo_rmm: cannot connect: %s\n", err.message);
		return 1;
	}
	if (el3_cpu_enter_flags(client, me, EL3_ENTRY_AUTO, EL3_ENTER_SERVE_RMI, &cpu, &entry, &err) != EL3_OK) {
		fprintf(stderr, "echo_rmm: cannot enter cpu %u: %s\n", me, err.message);
		el3_disconnect(client);
		return 1;
	}
	if (el3_boot_complete(cpu, 0, 0x70000U + me, &rmi, &err) != EL3_OK) {
		fprintf(stderr, "echo_rmm: %s\n", err.message);
		el3_disconnect(client);
		return 1;
	}
	for (unsigned int n = 0;; n++) {
		uint64_t res[EL3_SMC_ARGS] = {0};

		answer(&rmi, res, n, me);
		if (el3_smc(cpu, EL3_FID_RMM_RMI_REQ_COMPLETE, res, &rmi, &err) != EL3_OK) {
			fprintf(stderr, "echo_rmm: the session ended: %s\n", err.message);
			el3_disconnect(client);
			return 1;
		}
	}
}
