/* cmd_driver.c — verbs a driver implements itself through its `command`
 * op (wal-push, wal-get): `arca VERB TARGET ARGS...`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "jobs.h"
#include "log.h"

int cmd_driver_verb(struct cli *cli, int argc, char **argv)
{
	const char *verb = argv[0];
	if (cli_no_options(cli, verb, argc, argv))
		return 2;
	/* the arguments follow argv[0] again, as if there had been no options */
	argc -= optind - 1, argv += optind - 1;
	if (argc < 2)
		return cli_usage_error(verb, "name the TARGET");
	struct engine e = {0};
	struct engine_target **t;
	size_t n;
	int rc = cli_load_targets(cli, &e, 1, argv + 1, &t, &n);
	if (rc != ARCA_OK)
		return rc;
	rc = job_command(&e, t[0], verb, argc - 2, argv + 2, NULL);
	free(t);
	/* wal-get of an absent segment is routine during recovery: no noise */
	if (rc == ARCA_ERR_NOT_FOUND && !strcmp(verb, "wal-get"))
		log_info("%s", err_msg());
	else if (rc != ARCA_OK)
		err_print(rc);
	engine_close(&e);
	return rc;
}
