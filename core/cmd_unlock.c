/* cmd_unlock.c — `arca unlock [DESTINATION...]`: remove stale and invalid
 * locks. */
#include <stdio.h>
#include "cli.h"
#include "log.h"

/* Each lock `arca unlock` removes, on stdout. */
static void print_unlocked(void *arg, const char *what)
{
	printf("destination %s: removed %s\n", (const char *)arg, what);
}

static int unlock_dest(struct cli *cli, struct engine *e, struct engine_dest *d, void *arg)
{
	(void)cli, (void)arg;
	const char *name = d->cfg->name;
	int stale = 0, invalid = 0;
	int r = engine_open_repo(e, d);
	if (r == ARCA_OK)
		r = repo_unlock_stale(d->repo, print_unlocked, (void *)name, &stale, &invalid);
	if (r != ARCA_OK)
		return err_print(r);
	printf("destination %s: %d stale lock%s removed", name, stale, stale == 1 ? "" : "s");
	if (invalid)
		printf(", and %d invalid lock%s (unreadable, oversized or absurd)", invalid,
		       invalid == 1 ? "" : "s");
	printf("\n");
	return ARCA_OK;
}

int cmd_unlock(struct cli *cli, int argc, char **argv)
{
	if (cli_no_options(cli, "unlock", argc, argv))
		return 2;
	return cli_each_dest(cli, "unlock", argc - optind, argv + optind, unlock_dest, NULL);
}
