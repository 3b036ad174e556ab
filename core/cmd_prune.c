/* cmd_prune.c — `arca prune [DESTINATION...] [--dry-run]
 * [--repack-threshold PCT]`: delete and repack what no snapshot uses. */
#include <getopt.h>
#include <stdio.h>
#include <jansson.h>
#include "cli.h"
#include "log.h"
#include "util.h"

int cmd_prune(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {{"dry-run", no_argument, NULL, 'n'},
					     {"repack-threshold", required_argument, NULL, 't'},
					     {NULL, 0, NULL, 0}};
	int c, dry_run = 0;
	int64_t threshold = 20;
	while ((c = cli_getopt(cli, argc, argv, "n", opts, NULL)) != -1) {
		if (c == 'n')
			dry_run = 1;
		else if (c == 't') {
			if (parse_int64(optarg, &threshold) < 0 || threshold < 0 || threshold > 100)
				return cli_usage_error("prune", "--repack-threshold takes 0..100");
		} else
			return cli_usage_error("prune", "unknown option");
	}
	struct engine e = {0};
	struct engine_dest **dests;
	size_t n;
	int rc = cli_load_dests(cli, &e, "prune", argc - optind, argv + optind, &dests, &n);
	if (rc != ARCA_OK)
		return rc;
	int worst = rc;
	for (size_t i = 0; rc == ARCA_OK && i < n; i++) {
		struct engine_dest *d = dests[i];
		struct repo_prune_stats st = {0};
		int r = engine_open_repo(&e, d);
		if (r == ARCA_OK)
			r = repo_lock(d->repo, 1);
		if (r == ARCA_OK) {
			r = repo_prune(d->repo, (double)threshold / 100.0, dry_run, &st);
			repo_unlock(d->repo);
		}
		if (r != ARCA_OK) {
			err_wrap(r, "prune of destination %s", d->cfg->name);
			err_print(r);
			worst = r;
			continue;
		}
		char b[32];
		format_bytes(st.bytes_freed, b, sizeof b);
		if (cli->json)
			cli_print_json(json_pack("{s:s,s:b,s:I,s:I,s:I}", "destination", d->cfg->name,
						 "dry_run", dry_run, "packs_deleted",
						 (json_int_t)st.packs_deleted, "packs_repacked",
						 (json_int_t)st.packs_repacked, "bytes_freed",
						 (json_int_t)st.bytes_freed));
		else
			printf("destination %s: %s%llu packs deleted, %llu repacked, %s freed\n",
			       d->cfg->name, dry_run ? "(dry run) " : "",
			       (unsigned long long)st.packs_deleted,
			       (unsigned long long)st.packs_repacked, b);
	}
	if (rc != ARCA_OK)
		err_print(rc);
	free(dests);
	engine_close(&e);
	return worst;
}
