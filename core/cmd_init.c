/* cmd_init.c — `arca init [DESTINATION...]`: create the repository of each
 * destination. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "log.h"

int cmd_init(struct cli *cli, int argc, char **argv)
{
	if (cli_no_options(cli, "init", argc, argv))
		return 2;
	struct engine e = {0};
	struct engine_dest **dests;
	size_t n;
	int rc = cli_load_dests(cli, &e, "init", argc - optind, argv + optind, &dests, &n);
	if (rc != ARCA_OK)
		return rc;
	int worst = rc;
	for (size_t i = 0; rc == ARCA_OK && i < n; i++) {
		struct engine_dest *d = dests[i];
		struct repo_params p;
		char *secret = NULL;
		int r = engine_open_dest(&e, d);
		if (r == ARCA_OK)
			r = engine_repo_params(&e, d, &p, &secret);
		if (r == ARCA_OK) {
			struct repo_dest rd = {d->cfg->name, d->drv->dest, d->inst};
			r = repo_init(&rd, &p);
		}
		if (secret) {
			explicit_bzero(secret, strlen(secret));
			free(secret);
		}
		if (r != ARCA_OK) {
			err_wrap(r, "init of destination %s", d->cfg->name);
			err_print(r);
			worst = r;
			continue;
		}
		printf("created repository in destination %s (%s)\n", d->cfg->name,
		       p.encrypt ? "encrypted with AES-256-GCM; keep the passphrase safe, off this host"
				 : "NOT encrypted: encryption = none");
	}
	if (rc != ARCA_OK)
		err_print(rc);
	free(dests);
	engine_close(&e);
	return worst;
}
