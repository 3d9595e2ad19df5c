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
	return el3_tfrmm_bound() == NULL ? 0 : 1;
}
