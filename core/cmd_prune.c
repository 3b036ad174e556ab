/* cmd_prune.c — `arca prune [DESTINATION...] [--dry-run]
 * [--repack-threshold PCT]`: delete and repack what no snapshot uses. */
#include <getopt.h>
#include <stdio.h>
#include <jansson.h>
#include "cli.h"
#include "log.h"
#include "util.h"

struct prune_opts {
	int dry_run;
	int64_t threshold; /* percent */
	json_t *json;      /* --json: one array, an object per destination */
};

static int prune_dest(struct cli *cli, struct engine *e, struct engine_dest *d, void *arg)
{
	(void)cli;
	const struct prune_opts *o = arg;
	int dry_run = o->dry_run;
	struct repo_prune_stats st = {0};
	int r = engine_open_repo(e, d);
	if (r == ARCA_OK)
		r = repo_lock(d->repo, 1);
	if (r == ARCA_OK) {
		r = repo_prune(d->repo, (double)o->threshold / 100.0, dry_run, &st);
		repo_unlock(d->repo);
	}
	if (r != ARCA_OK) {
		err_wrap(r, "prune of destination %s", d->cfg->name);
		if (o->json)
			json_array_append_new(o->json, json_pack("{s:s,s:b,s:s}", "destination",
			                                         d->cfg->name, "dry_run", dry_run,
			                                         "error", err_msg()));
		return err_print(r);
	}
	char b[32];
	format_bytes(st.bytes_freed, b, sizeof b);
	if (o->json)
		json_array_append_new(o->json,
		                      json_pack("{s:s,s:b,s:I,s:I,s:I}", "destination",
		                                d->cfg->name, "dry_run", dry_run, "packs_deleted",
		                                (json_int_t)st.packs_deleted, "packs_repacked",
		                                (json_int_t)st.packs_repacked, "bytes_freed",
		                                (json_int_t)st.bytes_freed));
	else
		printf("destination %s: %s%llu packs deleted, %llu repacked, %s freed\n",
		       d->cfg->name, dry_run ? "(dry run) " : "",
		       (unsigned long long)st.packs_deleted, (unsigned long long)st.packs_repacked,
		       b);
	return ARCA_OK;
}

int cmd_prune(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {{"dry-run", no_argument, NULL, 'n'},
	                                     {"repack-threshold", required_argument, NULL, 't'},
	                                     {NULL, 0, NULL, 0}};
	int c;
	struct prune_opts o = {.dry_run = 0, .threshold = 20};
	while ((c = cli_getopt(cli, argc, argv, "n", opts, NULL)) != -1) {
		if (c == 'n')
			o.dry_run = 1;
		else if (c == 't') {
			if (parse_int64(optarg, &o.threshold) < 0 || o.threshold < 0 ||
			    o.threshold > 100)
				return cli_usage_error("prune", "--repack-threshold takes 0..100");
		} else
			return cli_usage_error("prune", "unknown option");
	}
	if (cli->json)
		o.json = json_array();
	int rc = cli_each_dest(cli, "prune", argc - optind, argv + optind, prune_dest, &o);
	/* a document even when a destination failed: what the others did */
	if (o.json && json_array_size(o.json))
		cli_print_json(o.json);
	else if (o.json)
		json_decref(o.json);
	return rc;
}
