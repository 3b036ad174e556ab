/* cmd_health.c — `arca health TARGET [options]`: is the target's store
 * serving (the restored copy, with the driver's --into)? For the recovery
 * orchestrator and for people, after a restore. */
#include <stdio.h>
#include "cli.h"
#include "jobs.h"
#include "log.h"

int cmd_health(struct cli *cli, int argc, char **argv)
{
	struct cli_targets ct;
	int rc = cli_targets_open(cli, "health", "health", NULL, 1, argc, argv, &ct);
	if (rc != ARCA_OK)
		return rc;
	rc = job_health(&ct.e, ct.t[0], ct.opts);
	if (rc == ARCA_OK)
		printf("target %s: healthy (driver %s)\n", ct.t[0]->cfg->name, ct.t[0]->drv->name);
	else if (rc == ARCA_ERR_UNSUPPORTED)
		err_print(err_wrap(rc, "health of target %s", ct.t[0]->cfg->name));
	else
		err_print(err_wrap(rc, "target %s is not healthy", ct.t[0]->cfg->name));
	cli_targets_close(&ct);
	return rc;
}
