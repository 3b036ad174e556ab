/* cmd_restore.c — `arca restore TARGET [options]`. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include "cli.h"
#include "jobs.h"
#include "log.h"

int cmd_restore(struct cli *cli, int argc, char **argv)
{
	/* the engine's own; the rest (--into, --overwrite, ...) are the
	 * options the target's driver declares (restore_options) */
	static const struct option own[] = {{"snapshot", required_argument, NULL, 0},
	                                    {"from", required_argument, NULL, 0},
	                                    {NULL, 0, NULL, 0}};
	struct cli_targets ct;
	int rc = cli_targets_open(cli, "restore", "restore", own, 1, argc, argv, &ct);
	if (rc != ARCA_OK)
		return rc;
	rc = job_restore(&ct.e, ct.t[0], cli_option(&ct, "snapshot"), cli_option(&ct, "from"),
	                 ct.opts);
	if (rc != ARCA_OK)
		err_print(rc);
	cli_targets_close(&ct);
	return rc;
}
