/* cmd_unlock.c — `arca unlock [DESTINATION...]`: remove stale and invalid
 * locks. */
#include <stdio.h>
#include <stdlib.h>
#include "cli.h"
#include "log.h"

/* Each lock `arca unlock` removes, on stdout. */
static void print_unlocked(void *arg, const char *what)
{
	printf("destination %s: removed %s\n", (const char *)arg, what);
}

int cmd_unlock(struct cli *cli, int argc, char **argv)
{
	if (cli_no_options(cli, "unlock", argc, argv))
		return 2;
	struct engine e = {0};
	struct engine_dest **dests;
	size_t n;
	int rc = cli_load_dests(cli, &e, "unlock", argc - optind, argv + optind, &dests, &n);
	if (rc != ARCA_OK)
		return rc;
	int worst = rc;
	for (size_t i = 0; rc == ARCA_OK && i < n; i++) {
		const char *name = dests[i]->cfg->name;
		int stale = 0, invalid = 0;
		int r = engine_open_repo(&e, dests[i]);
		if (r == ARCA_OK)
			r = repo_unlock_stale(dests[i]->repo, print_unlocked, (void *)name, &stale,
					      &invalid);
		if (r != ARCA_OK) {
			err_print(r);
			worst = r;
			continue;
		}
		printf("destination %s: %d stale lock%s removed", name, stale, stale == 1 ? "" : "s");
		if (invalid)
			printf(", and %d invalid lock%s (unreadable, oversized or absurd)", invalid,
			       invalid == 1 ? "" : "s");
		printf("\n");
	}
	if (rc != ARCA_OK)
		err_print(rc);
	free(dests);
	engine_close(&e);
	return worst;
}
