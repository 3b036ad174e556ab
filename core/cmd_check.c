/* cmd_check.c — `arca check [TARGET...]`: config, destinations, targets,
 * without writing anything. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include "cli.h"
#include "jobs.h"
#include "log.h"
#include "util.h"

int cmd_check(struct cli *cli, int argc, char **argv)
{
	struct cli_targets ct;
	int rc = cli_targets_open(cli, "check", "check", NULL, 0, argc, argv, &ct);
	if (rc != ARCA_OK)
		return rc;
	struct engine *e = &ct.e;
	struct engine_target **targets = ct.t;
	size_t n = ct.n;
	printf("config %s: ok (%zu destinations, %zu targets, drivers from %s)\n", e->config_path,
	       e->n_dests, e->n_targets, e->plugin_dir);
	int worst = ARCA_OK;
	for (size_t i = 0; i < e->n_dests; i++) {
		struct engine_dest *d = &e->dests[i];
		if (!targets_use_dest(targets, n, d))
			continue;
		rc = engine_open_dest(e, d);
		int repo_rc = rc == ARCA_OK ? engine_open_repo(e, d) : rc;
		char *repo_err = xstrdup(err_msg());
		if (repo_rc == ARCA_ERR_NOT_FOUND) {
			free(repo_err);
			/* before `arca init`: say so once, and what the driver sees */
			if (d->drv->dest->check && (rc = d->drv->dest->check(d->inst)) != ARCA_OK) {
				err_wrap(rc, "destination %s", d->cfg->name);
				err_print(rc);
			}
			log_error(
			    "destination %s holds no repository yet: `arca init` creates one, "
			    "then run `arca check` again (if it had one, its storage is missing, "
			    "e.g. a backup disk that is not mounted)",
			    d->cfg->name);
			worst = ARCA_ERR_NOT_FOUND;
			continue;
		}
		if (rc == ARCA_OK && d->drv->dest->check)
			rc = d->drv->dest->check(d->inst);
		if (rc == ARCA_OK && repo_rc != ARCA_OK)
			rc = err_set(repo_rc, "%s", repo_err);
		free(repo_err);
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
		struct engine_dest *no_repo = NULL;
		for (size_t k = 0; k < targets[j]->n_dests && !no_repo; k++)
			if (!targets[j]->dests[k]->repo)
				no_repo = targets[j]->dests[k];
		if (no_repo) {
			/* its check may need the repository (the WAL archive does) */
			log_error("target %s: not checked: destination %s has no usable repository "
			          "(see above)",
			          targets[j]->cfg->name, no_repo->cfg->name);
			continue;
		}
		rc = job_check_target(e, targets[j], ct.opts);
		if (rc != ARCA_OK) {
			err_wrap(rc, "target %s", targets[j]->cfg->name);
			err_print(rc);
			worst = rc;
			continue;
		}
		printf("target %s: ok (driver %s)\n", targets[j]->cfg->name, targets[j]->drv->name);
	}
	cli_targets_close(&ct);
	return worst;
}
