/* The public headers compile as C11 on their own (and the drop-in's symbols link). */
#include <el3d/el3_client.h>
#include <el3d/el3_tfrmm.h>
#include <el3d/smc.h>

#include <stdio.h>

int main(void)
{
	el3_client *c = NULL;
	el3_error err;
	int rc = el3_connect("unix:/nonexistent/el3d.sock", &c, &err);
	if (rc != EL3_ERR_CONNECT || c != NULL)
		return 1;
	printf("%s: %s\n", el3_strerror(rc), err.message);
	/* No CPU session in this process: every per-CPU function says so without crashing. */
	el3_regs r;
	if (el3_smc(NULL, EL3_FID_RMM_EL3_FEATURES, NULL, &r, &err) != EL3_ERR_INVALID)
		return 1;
	if (el3_boot_complete(NULL, 0, 0, &r, &err) != EL3_ERR_INVALID)
		return 1;
	if (el3_cpu_entry_kind(NULL) != EL3_ENTRY_AUTO || el3_cpu_activation(NULL) != 0 || el3_cpu_index(NULL) != ~0u)
		return 1;
	if (el3_tfrmm_select(0, &err) != EL3_ERR_INVALID)
		return 1;
	if (el3_tfrmm_call(EL3_FID_RMM_EL3_FEATURES, NULL, &r) == EL3_OK || r.x[0] != EL3_SMC_UNK)
		return 1;
	el3_cpu_leave(NULL);
	el3_disconnect(NULL);
	return el3_tfrmm_bound() == NULL ? 0 : 1;
}
