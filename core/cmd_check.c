/* cmd_check.c — `arca check [TARGET...]`: config, destinations, targets,
 * without writing anything. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include "cli.h"
#include "jobs.h"
#include "log.h"

int cmd_check(struct cli *cli, int argc, char **argv)
{
	int c;
	static const struct option opts[] = {{NULL, 0, NULL, 0}};
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1)
		return cli_usage_error("check", "unknown option");
	struct engine e = {0};
	struct engine_target **targets;
	size_t n;
	int rc = cli_load_targets(cli, &e, argc - optind, argv + optind, &targets, &n);
	if (rc != ARCA_OK)
		return rc;
	printf("config %s: ok (%zu destinations, %zu targets, drivers from %s)\n", e.config_path,
	       e.n_dests, e.n_targets, e.plugin_dir);
	int worst = ARCA_OK;
	for (size_t i = 0; i < e.n_dests; i++) {
		struct engine_dest *d = &e.dests[i];
		if (!targets_use_dest(targets, n, d))
			continue;
		rc = engine_open_dest(&e, d);
		if (rc == ARCA_OK && d->drv->dest->check)
			rc = d->drv->dest->check(d->inst);
		if (rc == ARCA_OK)
			rc = engine_open_repo(&e, d);
		if (rc != ARCA_OK) {
			err_wrap(rc, "destination %s", d->cfg->name);
			err_print(rc);
			worst = rc;
			continue;
		}
		printf("destination %s: ok (driver %s, repository opens)\n", d->cfg->name,
		       d->drv->name);
	}
	for (size_t j = 0; j < n; j++) {
		rc = job_check_target(&e, targets[j]);
		if (rc != ARCA_OK) {
			err_wrap(rc, "target %s", targets[j]->cfg->name);
			err_print(rc);
			worst = rc;
			continue;
		}
		printf("target %s: ok (driver %s)\n", targets[j]->cfg->name, targets[j]->drv->name);
	}
	free(targets);
	engine_close(&e);
	return worst;
}
