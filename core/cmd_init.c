/* cmd_init.c — `arca init [DESTINATION...]`: create the repository of each
 * destination. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "log.h"

static int init_dest(struct cli *cli, struct engine *e, struct engine_dest *d, void *arg)
{
	(void)cli, (void)arg;
	struct repo_params p;
	char *secret = NULL;
	int r = engine_open_dest(e, d);
	if (r == ARCA_OK)
		r = engine_repo_params(e, d, &p, &secret);
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
		return err_print(r);
	}
	printf("created repository in destination %s (%s)\n", d->cfg->name,
	       p.encrypt ? "encrypted with AES-256-GCM; keep the passphrase safe, off this host"
	                 : "NOT encrypted: encryption = none");
	return ARCA_OK;
}

int cmd_init(struct cli *cli, int argc, char **argv)
{
	if (cli_no_options(cli, "init", argc, argv))
		return 2;
	return cli_each_dest(cli, "init", argc - optind, argv + optind, init_dest, NULL);
}
