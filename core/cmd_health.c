/* cmd_health.c — `arca health TARGET [options]`: is the target's store
 * serving (the restored copy, with the driver's --into)? For the recovery
 * orchestrator (job_health) and for people and scripts, after a restore. */
#include <stdio.h>
#include <jansson.h>
#include "cli.h"
#include "jobs.h"
#include "log.h"

int cmd_health(struct cli *cli, int argc, char **argv)
{
	struct cli_targets ct;
	int rc = cli_targets_open(cli, "health", "health", NULL, 1, argc, argv, &ct);
	if (rc != ARCA_OK)
		return rc;
	const char *name = ct.t[0]->cfg->name;
	rc = job_health(&ct.e, ct.t[0], ct.opts);
	if (rc == ARCA_ERR_UNSUPPORTED)
		err_wrap(rc, "health of target %s", name);
	else if (rc != ARCA_OK)
		err_wrap(rc, "target %s is not healthy", name);
	if (cli->json)
		cli_print_json(json_pack("{s:s,s:b,s:i,s:s*}", "target", name, "healthy",
		                         rc == ARCA_OK, "status", rc, "error",
		                         rc == ARCA_OK ? NULL : err_msg()));
	else if (rc == ARCA_OK)
		printf("target %s: healthy (driver %s)\n", name, ct.t[0]->drv->name);
	if (rc != ARCA_OK)
		err_print(rc);
	cli_targets_close(&ct);
	return rc;
}
