/* cmd_repair.c — `arca repair index|packs|snapshots [--forget]
 * [DESTINATION...]`. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
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

/* repair packs | snapshots [--forget]: one destination at a time. */
static int repair_data(struct cli *cli, int argc, char **argv, int forget)
{
	int packs = !strcmp(argv[1], "packs"), first = 2;
	struct engine e = {0};
	struct engine_dest **dests;
	size_t n;
	int rc = cli_load_dests(cli, &e, "repair", argc - first, argv + first, &dests, &n);
	if (rc != ARCA_OK)
		return rc;
	int worst = ARCA_OK;
	json_t *out = json_array();
	for (size_t i = 0; i < n; i++) {
		struct engine_dest *d = dests[i];
		struct repair_report rep = {d->cfg->name, cli->json ? json_array() : NULL};
		struct repo_repair_stats st;
		memset(&st, 0, sizeof st);
		int r = engine_open_repo(&e, d);
		if (r == ARCA_OK)
			r = packs ? repo_repair_packs(d->repo, report_repair_problem, &rep, &st)
				  : repo_repair_snapshots(d->repo, forget, report_repair_problem, &rep,
							  &st);
		if (cli->json) {
			json_t *o = json_pack("{s:s,s:b,s:o}", "destination", d->cfg->name, "ok",
					      r == ARCA_OK, "findings", rep.problems);
			if (packs)
				json_object_update_new(o, json_pack("{s:I,s:I,s:I}", "packs_read",
					(json_int_t)st.packs_read, "chunks_dropped",
					(json_int_t)st.chunks_dropped, "snapshots_damaged",
					(json_int_t)st.snapshots_damaged));
			else
				json_object_update_new(o, json_pack("{s:I,s:I,s:I}", "put_back",
					(json_int_t)st.snapshots_restored, "repaired",
					(json_int_t)st.snapshots_repaired, "unrepairable",
					(json_int_t)st.snapshots_unrepairable));
			if (r != ARCA_OK)
				json_object_set_new(o, "error", json_string(err_msg()));
			json_array_append_new(out, o);
		} else if (r == ARCA_OK && packs) {
			printf("destination %s: %llu packs read, %llu damaged chunks dropped from the "
			       "index, %llu snapshots lost data%s\n", d->cfg->name,
			       (unsigned long long)st.packs_read, (unsigned long long)st.chunks_dropped,
			       (unsigned long long)st.snapshots_damaged,
			       st.snapshots_damaged ? " (run arca repair snapshots)" : "");
		} else if (r == ARCA_OK) {
			printf("destination %s: %llu snapshots put back from the cache, %llu rewritten "
			       "without what was lost, %llu beyond repair\n", d->cfg->name,
			       (unsigned long long)st.snapshots_restored,
			       (unsigned long long)st.snapshots_repaired,
			       (unsigned long long)st.snapshots_unrepairable);
		}
		if (r != ARCA_OK) {
			if (!cli->json)
				err_print(r);
			worst = r;
		} else if (!packs && st.snapshots_unrepairable) {
			worst = ARCA_ERR_CORRUPT;
		}
	}
	if (cli->json)
		cli_print_json(json_pack("{s:b,s:o}", "ok", worst == ARCA_OK, "destinations", out));
	else
		json_decref(out);
	free(dests);
	engine_close(&e);
	return worst;
}

int cmd_repair(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {{"forget", no_argument, NULL, 'F'},
					     {NULL, 0, NULL, 0}};
	int c, forget = 0;
	while ((c = cli_getopt(cli, argc, argv, "", opts, NULL)) != -1) {
		if (c == 'F')
			forget = 1;
		else
			return cli_usage_error("repair", "unknown option");
	}
	/* the arguments follow argv[0] again, as if there had been no options */
	argc -= optind - 1, argv += optind - 1;
	if (argc >= 2 && (!strcmp(argv[1], "packs") || !strcmp(argv[1], "snapshots")))
		return repair_data(cli, argc, argv, forget);
	if (forget)
		return cli_usage_error("repair", "--forget goes with arca repair snapshots");
	if (argc < 2 || strcmp(argv[1], "index"))
		return cli_usage_error("repair", "say what to repair: arca repair index|packs|"
				       "snapshots [DESTINATION...]");
	struct engine e = {0};
	struct engine_dest **dests;
	size_t n;
	int rc = cli_load_dests(cli, &e, "repair", argc - 2, argv + 2, &dests, &n);
	if (rc != ARCA_OK)
		return rc;
	int worst = ARCA_OK;
	json_t *out = json_array();
	for (size_t i = 0; i < n; i++) {
		struct engine_dest *d = dests[i];
		struct repair_report rep = {d->cfg->name, cli->json ? json_array() : NULL};
		size_t packs = 0;
		int r = engine_open_repo(&e, d);
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
			json_array_append_new(out, o);
		} else if (rebuilt) {
			printf("destination %s: index rebuilt from %zu pack%s%s\n", d->cfg->name,
			       packs, packs == 1 ? "" : "s",
			       r ? " (damaged packs left out: see above; run arca verify)" : "");
		}
		if (r != ARCA_OK) {
			if (!rebuilt && !cli->json)
				err_print(r);
			worst = r;
		}
	}
	if (cli->json)
		cli_print_json(json_pack("{s:b,s:o}", "ok", worst == ARCA_OK, "destinations", out));
	else
		json_decref(out);
	free(dests);
	engine_close(&e);
	return worst;
}
