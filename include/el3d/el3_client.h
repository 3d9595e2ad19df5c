/*
 * el3client — the C interface an RMM built for the host uses to reach el3d.
 *
 * Usable from C11 and C++. Every function reports failure as a return value (EL3_OK = 0 on
 * success) and, when `err` is not NULL, a message in it; none of them aborts the caller.
 *
 *   el3_client *c;  el3_cpu *cpu0;  el3_regs entry, r;  el3_error err;
 *   if (el3_connect(NULL, &c, &err) != EL3_OK) { fprintf(stderr, "%s\n", err.message); ... }
 *   el3_cpu_enter(c, 0, EL3_ENTRY_AUTO, &cpu0, &entry, &err);     // x0..x4: the boot registers
 *   el3_smc(cpu0, 0xC40001B7, (uint64_t[12]){0x1000, (12 << 24) | 1}, &r, &err);
 *   uint64_t *granules = (uint64_t *)(uintptr_t)r.x[1];               // PA == VA
 *   el3_boot_complete(cpu0, 0, 0, &r, &err);
 *   el3_cpu_leave(cpu0);  el3_disconnect(c);
 *
 * Endpoints: NULL means $EL3D_ENDPOINT, else the daemon's default socket ($EL3D_SOCKET, else
 * $XDG_RUNTIME_DIR/el3d/el3d.sock). "unix:/path" or "/path" is a daemon's socket;
 * "inproc:/path/carveout.img" runs the el3d core inside this process on that carveout file (no
 * daemon), optionally with "?abi=tfa" and "&platform=qemu" for a new file.
 *
 * Memory: el3_connect maps the daemon's carveout file and its Non-secure memory file so that
 * physical addresses can be used as pointers (PA == VA), as TF-RMM's host build expects. When a
 * virtual range is already taken in this process it falls back to an offset mapping there
 * (el3_identity_mapped() returns 0, and a warning is printed once); el3_pa_to_va() works in both
 * cases. The files must be reachable at the paths the daemon reports (a shared volume when el3d
 * runs in a container). Every el3_cpu_enter checks that the daemon still serves the files this
 * client mapped (EL3_ERR_MAP otherwise).
 *
 * Threads and lifetimes: an el3_cpu is a handle, not memory of the caller's. Any thread may use
 * it; calls on one CPU are made one at a time (a second thread waits). el3_cpu_leave() and
 * el3_disconnect() end handles: afterwards a call through one fails with EL3_ERR_INVALID (or,
 * if it was waiting, EL3_ERR_SESSION), el3_cpu_leave() on one does nothing, and nothing crashes.
 * An el3_client pointer itself is invalid after el3_disconnect(), and el3_disconnect() must not
 * run while another thread uses that client in el3_connect/el3_cpu_enter/el3_get_info/el3_pa_to_va.
 */
#ifndef EL3D_EL3_CLIENT_H
#define EL3D_EL3_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "el3d/smc.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Return codes. */
#define EL3_OK 0
#define EL3_ERR_INVALID 1      /* a bad argument (CPU out of range, bad endpoint, NULL pointer, a left el3_cpu) */
#define EL3_ERR_CONNECT 2      /* the daemon cannot be reached or does not answer, or the carveout file cannot be opened */
#define EL3_ERR_REFUSED 3      /* the daemon refused: CPU already has a session, Realm world disabled, ... */
#define EL3_ERR_SESSION 4      /* an open session broke (the daemon stopped or died, or the session was closed) */
#define EL3_ERR_MAP 5          /* the carveout or NS memory file could not be mapped, or el3d now serves another one */
#define EL3_ERR_BUSY 6         /* el3_rmi: no RMM waits on the CPU (EL3_RMI_FAIL_FAST), or the CPU's RMI queue is full */
#define EL3_ERR_TIMEOUT 7      /* el3_rmi: the RMM did not complete the RMI in time (its result will be dropped) */
#define EL3_ERR_ABORTED 8      /* el3_rmi: the RMM went away while it held the RMI (it may or may not have taken effect) */

typedef struct el3_error {
	int code;
	char message[256];
} el3_error;

typedef struct el3_regs {
	uint64_t x[EL3_SMC_RESULTS]; /* x0 .. x7 */
} el3_regs;

typedef struct el3_client el3_client; /* a connection to el3d, or an in-process el3d */
typedef struct el3_cpu el3_cpu;       /* one CPU's session (a handle) */

enum el3_entry_kind {
	EL3_ENTRY_AUTO = 0, /* cold if nothing entered in this activation or this CPU did already */
	EL3_ENTRY_COLD = 1,
	EL3_ENTRY_WARM = 2,
};

struct el3_info {
	char platform[32];
	char abi[32];
	uint32_t interface_version;
	uint32_t core_count;
	uint64_t rmm_base;       /* first physical address of the carveout */
	uint64_t carveout_size;  /* bytes, shared page included */
	uint64_t shared_base;    /* the EL3-RMM shared page */
	uint64_t shared_size;
	char carveout_path[256];
};

int el3_connect(const char *endpoint, el3_client **out, el3_error *err);
/* Leaves every CPU this client entered (their el3_cpu handles end, see above), unmaps the
 * carveout and the Non-secure memory and frees the client. NULL does nothing. */
void el3_disconnect(el3_client *c);
int el3_get_info(el3_client *c, struct el3_info *info, el3_error *err);

/* Enter as CPU `cpu`: claims the CPU for this process (a second claim is EL3_ERR_REFUSED) and
 * returns EL3's entry registers in `entry` (cold: x0 cpu, x1 version, x2 CPUs, x3 shared page,
 * x4 token; warm: x0 cpu, x1 token). The calling thread becomes this CPU for monitor_call()
 * (el3d/el3_tfrmm.h), replacing the CPU it was bound to. With a daemon, the handshake must be
 * answered within 10 s ($EL3D_ENTER_TIMEOUT_MS, in milliseconds, changes that): EL3_ERR_CONNECT
 * otherwise. EL3_ERR_MAP if el3d now serves a carveout or NS memory file other than the one this
 * client mapped (it restarted on another file): the CPU is released again; connect anew. */
int el3_cpu_enter(el3_client *c, unsigned cpu, enum el3_entry_kind kind, el3_cpu **out, el3_regs *entry,
                  el3_error *err);
/* el3_cpu_enter with flags. EL3_ENTER_SERVE_RMI: this CPU's RMM serves RMIs (the world switch, as
 * on hardware): its RMM_BOOT_COMPLETE reporting success, and each RMM_RMI_REQ_COMPLETE (x1..x8 =
 * the RMI's result), return only when the next RMI for this CPU arrives, with x0 = the RMI's FID
 * and x1..x7 its arguments. The loop of an RMM's main, with handle_rmi() standing for the RMM:
 *
 *   el3_boot_complete(cpu, 0, token, &r, &err);           r = the first RMI
 *   for (;;) {
 *           uint64_t res[EL3_SMC_ARGS] = {0};             res[0..7] = the RMI's x0..x7
 *           handle_rmi(&r, res);
 *           if (el3_smc(cpu, EL3_FID_RMM_RMI_REQ_COMPLETE, res, &r, &err) != EL3_OK)
 *                   break;                                el3d stopped, or the CPU was left
 *   }
 */
#define EL3_ENTER_SERVE_RMI 1u
int el3_cpu_enter_flags(el3_client *c, unsigned cpu, enum el3_entry_kind kind, unsigned flags, el3_cpu **out,
                        el3_regs *entry, el3_error *err);

/* The Non-secure world's side of the world switch: one RMI (x0 = fid, x1..x7 from `args`, NULL =
 * zeros) from CPU `cpu`, which el3d forwards to the RMM serving that CPU (a session entered with
 * EL3_ENTER_SERVE_RMI, in any process); `out` = x0..x7 as the RMM completed it. As EL3 does, el3d
 * answers x0 = SMC_UNK itself for a FID outside the RMI range or after a failed boot (EL3_OK;
 * `*forwarded` = 0, may be NULL). An RMI for a CPU whose RMM is busy or absent waits in a bounded
 * queue, or fails with EL3_ERR_BUSY at once with EL3_RMI_FAIL_FAST. `timeout_ms` (0 = none) bounds
 * the wait: EL3_ERR_TIMEOUT. EL3_ERR_ABORTED if the RMM went away while it held the RMI. */
#define EL3_RMI_FAIL_FAST 1u
int el3_rmi(el3_client *c, unsigned cpu, uint64_t fid, const uint64_t args[EL3_SMC_ARGS], unsigned flags,
            unsigned timeout_ms, el3_regs *out, int *forwarded, el3_error *err);
/* One SMC from this CPU: x1..x12 from `args` (NULL = all zero), x0..x7 into `out`. Like an smc
 * instruction it returns when EL3 has answered, however long that takes. */
int el3_smc(el3_cpu *cpu, uint64_t fid, const uint64_t args[EL3_SMC_ARGS], el3_regs *out, el3_error *err);
/* RMM_BOOT_COMPLETE with x1 = result, x2 = token; el3d's x0..x7 into `out` (may be NULL). A
 * non-zero `result` (a failed boot: EL3 takes any non-zero x1 as one; the boot error codes are
 * negative) is reported to el3d and then ends the process with a message on stderr and exit
 * status 1 (an RMM that panics at boot would spin forever). The process's other CPUs get no more
 * answers: a call in flight on one finishes (or is woken with EL3_ERR_SESSION), a later one never
 * returns; then exit() runs, once, even when several CPUs fail at the same time. */
int el3_boot_complete(el3_cpu *cpu, int64_t result, uint64_t token, el3_regs *out, el3_error *err);
/* The CPU's index; (unsigned)-1 for NULL or a handle that has ended. */
unsigned el3_cpu_index(const el3_cpu *cpu);
/* What el3_cpu_enter did: EL3_ENTRY_COLD or EL3_ENTRY_WARM (EL3_ENTRY_AUTO for NULL or an ended
 * handle), and the activation number after that entry (1 for the first RMM instance on a
 * carveout, +1 for each new activation; 0 for NULL or an ended handle). */
enum el3_entry_kind el3_cpu_entry_kind(const el3_cpu *cpu);
uint64_t el3_cpu_activation(const el3_cpu *cpu);
/* Release the CPU (closes its session; a call another thread is making on it fails with
 * EL3_ERR_SESSION). When the last CPU of an RMM instance leaves, the next entry starts a new
 * activation. NULL or an ended handle does nothing. */
void el3_cpu_leave(el3_cpu *cpu);

/* Physical <-> virtual for the carveout (shared page included) and the Non-secure memory windows.
 * NULL / 0 outside them. */
void *el3_pa_to_va(el3_client *c, uint64_t pa);
uint64_t el3_va_to_pa(el3_client *c, const void *va);
/* 1 if the carveout and every Non-secure memory window are mapped at VA == PA (physical addresses
 * are pointers), 0 if any of them is at an offset. */
int el3_identity_mapped(el3_client *c);

/* Non-secure memory: el3d backs the platform's Non-secure physical memory with a file of its own
 * (DRAM outside the carveout, device windows), which el3_connect maps MAP_SHARED at VA == PA like
 * the carveout (elsewhere if that range is taken, with one note on stderr). Every process
 * connected to the same el3d sees the same bytes at the same physical addresses. */
typedef struct el3_ns_window {
	uint64_t base;   /* first physical address */
	uint64_t size;   /* bytes */
	void *va;        /* where this process maps it (== (void *)base when identity mapped) */
} el3_ns_window;
/* Number of Non-secure memory windows el3d backs (DRAM banks outside the carveout, device windows). */
unsigned el3_ns_window_count(el3_client *c);
/* Window i (ascending by base); EL3_ERR_INVALID if i is out of range. */
int el3_ns_window_get(el3_client *c, unsigned i, el3_ns_window *w, el3_error *err);
/* Map the memory behind physical [pa, pa + len) (inside the carveout or one NS window; pa, len and va page-aligned)
 * MAP_SHARED|MAP_FIXED at `va`, an alias of the same pages (what TF-RMM's host slot buffers do).
 * EL3_ERR_INVALID for a range outside them, unaligned arguments, or a `va` range that overlaps
 * el3client's own mappings; EL3_ERR_MAP if mmap fails. The alias is the caller's: it stays valid
 * after el3_disconnect until the caller maps something else there or unmaps it. */
int el3_map_alias(el3_client *c, uint64_t pa, size_t len, void *va, el3_error *err);

const char *el3_strerror(int code);

#ifdef __cplusplus
}
#endif

#endif /* EL3D_EL3_CLIENT_H */
