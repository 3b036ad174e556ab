/* cmd_repair.c — `arca repair index|packs|snapshots [--forget]
 * [DESTINATION...]`. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <jansson.h>
#include "cli.h"
#include "log.h"

struct repair_report {
	const char *dest;
	json_t *problems; /* --json: collected here instead of printed */
};

static void report_repair_problem(void *arg, const char *problem)
{
	struct repair_report *r = arg;
	if (r->problems)
		json_array_append_new(r->problems, json_string(problem));
	else
		fprintf(stderr, "arca: destination %s: %s\n", r->dest, problem);
}

/* One run of `arca repair`: what to do, and with --json the report of
 * each destination. */
struct repair_run {
	int packs;  /* repair packs, else snapshots (repair_data only) */
	int forget; /* repair snapshots --forget */
	json_t *out;
};

/* repair packs | snapshots [--forget] of one destination. */
static int repair_data(struct cli *cli, struct engine *e, struct engine_dest *d, void *arg)
{
	struct repair_run *run = arg;
	int packs = run->packs;
	struct repair_report rep = {d->cfg->name, cli->json ? json_array() : NULL};
	struct repo_repair_stats st;
	memset(&st, 0, sizeof st);
	int r = engine_open_repo(e, d);
	if (r == ARCA_OK)
		r = packs ? repo_repair_packs(d->repo, report_repair_problem, &rep, &st)
		          : repo_repair_snapshots(d->repo, run->forget, report_repair_problem, &rep,
		                                  &st);
	if (cli->json) {
		json_t *o = json_pack("{s:s,s:b,s:o}", "destination", d->cfg->name, "ok",
		                      r == ARCA_OK, "findings", rep.problems);
		if (packs)
			json_object_update_new(
			    o, json_pack("{s:I,s:I,s:I}", "packs_read", (json_int_t)st.packs_read,
			                 "chunks_dropped", (json_int_t)st.chunks_dropped,
			                 "snapshots_damaged", (json_int_t)st.snapshots_damaged));
		else
			json_object_update_new(
			    o, json_pack("{s:I,s:I,s:I}", "put_back",
			                 (json_int_t)st.snapshots_restored, "repaired",
			                 (json_int_t)st.snapshots_repaired, "unrepairable",
			                 (json_int_t)st.snapshots_unrepairable));
		if (r != ARCA_OK)
			json_object_set_new(o, "error", json_string(err_msg()));
		json_array_append_new(run->out, o);
	} else if (r == ARCA_OK && packs) {
		printf("destination %s: %llu packs read, %llu damaged chunks dropped from the "
		       "index, %llu snapshots lost data%s\n",
		       d->cfg->name, (unsigned long long)st.packs_read,
		       (unsigned long long)st.chunks_dropped,
		       (unsigned long long)st.snapshots_damaged,
		       st.snapshots_damaged ? " (run arca repair snapshots)" : "");
	} else if (r == ARCA_OK) {
		printf("destination %s: %llu snapshots put back from the cache, %llu rewritten "
		       "without what was lost, %llu beyond repair\n",
		       d->cfg->name, (unsigned long long)st.snapshots_restored,
		       (unsigned long long)st.snapshots_repaired,
		       (unsigned long long)st.snapshots_unrepairable);
	}
	if (r != ARCA_OK) {
		if (!cli->json)
			err_print(r);
		return r;
	}
	return !packs && st.snapshots_unrepairable ? ARCA_ERR_CORRUPT : ARCA_OK;
}

/* repair index of one destination. */
static int repair_index(struct cli *cli, struct engine *e, struct engine_dest *d, void *arg)
{
	struct repair_run *run = arg;
	struct repair_report rep = {d->cfg->name, cli->json ? json_array() : NULL};
	size_t packs = 0;
	int r = engine_open_repo(e, d);
	if (r == ARCA_OK)
		r = repo_rebuild_index(d->repo, report_repair_problem, &rep, &packs);
	int rebuilt = r == ARCA_OK || r == ARCA_ERR_CORRUPT;
	if (cli->json) {
		json_t *o = json_pack("{s:s,s:b,s:o}", "destination", d->cfg->name, "rebuilt",
		                      rebuilt, "damaged_packs", rep.problems);
		if (rebuilt)
			json_object_set_new(o, "packs", json_integer((json_int_t)packs));
		if (r != ARCA_OK && !rebuilt)
			json_object_set_new(o, "error", json_string(err_msg()));
		json_array_append_new(run->out, o);
	} else if (rebuilt) {
		printf("destination %s: index rebuilt from %zu pack%s%s\n", d->cfg->name, packs,
		       packs == 1 ? "" : "s",
		       r ? " (damaged packs left out: see above; run arca verify)" : "");
	}
	if (r != ARCA_OK && !rebuilt && !cli->json)
		err_print(r);
	return r;
}

/* Each destination named after argv[1] (all when none is), one at a time;
 * with --json, one report of them all. */
static int repair_each(struct cli *cli, int argc, char **argv,
                       int (*each)(struct cli *, struct engine *, struct engine_dest *, void *),
                       struct repair_run *run)
{
	run->out = json_array();
	int rc = cli_each_dest(cli, "repair", argc - 2, argv + 2, each, run);
	/* nothing in it: the config or a name was refused, as was said */
	if (cli->json && json_array_size(run->out))
		cli_print_json(
		    json_pack("{s:b,s:o}", "ok", rc == ARCA_OK, "destinations", run->out));
	else
		json_decref(run->out);
	return rc;
}

int cmd_repair(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {{"forget", no_argument, NULL, 'F'},
	                                     {NULL, 0, NULL, 0}};
	int c;
	struct repair_run run = {0};
	while ((c = cli_getopt(cli, argc, argv, "", opts, NULL)) != -1) {
		if (c == 'F')
			run.forget = 1;
		else
			return cli_usage_error("repair", "unknown option");
	}
	/* the arguments follow argv[0] again, as if there had been no options */
	argc -= optind - 1, argv += optind - 1;
	if (argc >= 2 && (!strcmp(argv[1], "packs") || !strcmp(argv[1], "snapshots"))) {
		run.packs = !strcmp(argv[1], "packs");
		return repair_each(cli, argc, argv, repair_data, &run);
	}
	if (run.forget)
		return cli_usage_error("repair", "--forget goes with arca repair snapshots");
	if (argc < 2 || strcmp(argv[1], "index"))
		return cli_usage_error("repair", "say what to repair: arca repair index|packs|"
		                                 "snapshots [DESTINATION...]");
	return repair_each(cli, argc, argv, repair_index, &run);
}
