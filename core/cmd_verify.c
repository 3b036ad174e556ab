/* cmd_verify.c — `arca verify [TARGET...] [--read-data[=PCT]] [--snapshot ID]`. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "cli.h"
#include "jobs.h"
#include "log.h"
#include "util.h"

struct report {
	const char *dest;
	json_t *problems;
	int json;
	size_t n;
};

static void report_problem(void *arg, const char *problem)
{
	struct report *r = arg;
	r->n++;
	if (r->json)
		json_array_append_new(r->problems, json_pack("{s:s,s:s}", "destination", r->dest,
		                                             "problem", problem));
	else
		printf("DAMAGED destination %s: %s\n", r->dest, problem);
	fflush(stdout);
}

/* The last line of a clean verify, as a sentence a newcomer understands. */
static void print_clean_summary(size_t n_repos, size_t n_checked, int read_pct)
{
	printf("verify found no problems: %s %zu destination%s %s complete (every snapshot's "
	       "data is indexed and every pack is there)",
	       n_repos == 1 ? "the repository in" : "the repositories in", n_repos,
	       n_repos == 1 ? "" : "s", n_repos == 1 ? "is" : "are");
	if (read_pct >= 100)
		printf(", and all of the data was read back, decrypted and matched its hashes");
	else if (read_pct > 0)
		printf(", and %d%% of the packs, picked at random, were read back, decrypted and "
		       "matched their hashes",
		       read_pct);
	if (n_checked == 1)
		printf("; the latest snapshot of 1 target passed its driver's own check");
	else if (n_checked)
		printf("; the latest snapshots of %zu targets passed their drivers' own checks",
		       n_checked);
	printf(".%s\n", read_pct > 0 ? "" : " Add --read-data to also read the data back.");
}

/* --read-data[=PERCENT] as a number 0..100 ("yes": all), or -1 when bad. */
static int read_percent(const char *arg)
{
	int64_t p = 100;
	if (!strcmp(arg, "yes"))
		return 100;
	char buf[32];
	snprintf(buf, sizeof buf, "%s", arg);
	char *pc = strchr(buf, '%');
	if (pc && !pc[1])
		*pc = 0;
	if (parse_int64(str_trim(buf), &p) < 0 || p < 0 || p > 100)
		return -1;
	return (int)p;
}

int cmd_verify(struct cli *cli, int argc, char **argv)
{
	static const struct option own[] = {{"read-data", optional_argument, NULL, 0},
	                                    {"snapshot", required_argument, NULL, 0},
	                                    {NULL, 0, NULL, 0}};
	struct cli_targets ct;
	int rc = cli_targets_open(cli, "verify", "verify", own, 0, argc, argv, &ct);
	if (rc != ARCA_OK)
		return rc;
	const char *rd = cli_option(&ct, "read-data");
	int read_pct = rd ? read_percent(rd) : -1;
	if (rd && read_pct < 0) {
		cli_targets_close(&ct);
		return cli_usage_error("verify", "--read-data=PERCENT takes 0..100");
	}
	/* drivers see --read-data as option "read-data" (the percentage, only
	 * when data is read) and --snapshot as given */
	char pct[16];
	snprintf(pct, sizeof pct, "%d", read_pct);
	for (struct ctx_option *o = ct.opts; o->name; o++) {
		if (strcmp(o->name, "read-data"))
			continue;
		o->value = pct;
		if (read_pct <= 0) /* not given, as far as a driver is concerned */
			while ((o[0] = o[1]).name)
				o++;
		break;
	}
	const char *snapshot = cli_option(&ct, "snapshot");
	struct engine *e = &ct.e;
	struct engine_target **targets = ct.t;
	size_t n = ct.n;
	int worst = ARCA_OK;
	json_t *problems = json_array();
	size_t n_problems = 0, n_repos = 0, n_checked = 0;
	for (size_t i = 0; i < e->n_dests; i++) {
		struct engine_dest *d = &e->dests[i];
		if (!targets_use_dest(targets, n, d))
			continue;
		struct report r = {d->cfg->name, problems, cli->json, 0};
		rc = engine_open_repo(e, d);
		if (rc == ARCA_OK)
			rc = repo_lock_reading(d->repo);
		if (rc == ARCA_OK) {
			log_info("verifying repository in destination %s%s", d->cfg->name,
			         read_pct < 0 ? " (structure; --read-data also checks the data)"
			                      : "");
			rc = repo_verify(d->repo, read_pct, report_problem, &r);
			repo_unlock(d->repo);
		}
		n_problems += r.n;
		if (rc != ARCA_OK) {
			if (!r.n)
				err_print(rc);
			worst = rc;
		} else {
			n_repos++;
			if (!cli->json)
				printf("destination %s: repository ok\n", d->cfg->name);
		}
	}
	/* the drivers' own checks of their latest (or chosen) snapshot */
	for (size_t j = 0; j < n; j++) {
		rc = job_verify_target(e, targets[j], snapshot, ct.opts);
		if (rc != ARCA_OK) {
			worst = rc;
			if (cli->json)
				json_array_append_new(problems, json_pack("{s:s,s:s}", "target",
				                                          targets[j]->cfg->name,
				                                          "problem", err_msg()));
			n_problems++;
		} else if (targets[j]->drv->target->verify) {
			n_checked++;
			if (!cli->json)
				printf("target %s: driver check ok\n", targets[j]->cfg->name);
		}
	}
	if (cli->json)
		cli_print_json(
		    json_pack("{s:b,s:o}", "ok", worst == ARCA_OK, "problems", problems));
	else {
		json_decref(problems);
		if (n_problems)
			printf("verify found %zu problem%s, listed above\n", n_problems,
			       n_problems == 1 ? "" : "s");
		else if (worst == ARCA_OK)
			print_clean_summary(n_repos, n_checked, read_pct);
	}
	cli_targets_close(&ct);
	return worst;
}
