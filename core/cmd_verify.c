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

int cmd_verify(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{"read-data", optional_argument, NULL, 'r'},
		{"snapshot", required_argument, NULL, 's'},
		{NULL, 0, NULL, 0},
	};
	int c, read_pct = -1;
	const char *snapshot = NULL;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'r') {
			int64_t p = 100;
			if (optarg && (parse_int64(str_trim(optarg), &p) < 0 || p < 0 || p > 100)) {
				char *pc = strchr(optarg, '%');
				if (pc)
					*pc = 0;
				if (parse_int64(optarg, &p) < 0 || p < 0 || p > 100)
					return cli_usage_error("verify", "--read-data=PERCENT takes 0..100");
			}
			read_pct = (int)p;
		} else if (c == 's') {
			snapshot = optarg;
		} else {
			return cli_usage_error("verify", "unknown option");
		}
	}
	struct engine e = {0};
	struct engine_target **targets;
	size_t n;
	int rc = cli_load_targets(cli, &e, argc - optind, argv + optind, &targets, &n);
	if (rc != ARCA_OK)
		return rc;
	int worst = ARCA_OK;
	json_t *problems = json_array();
	size_t n_problems = 0;
	for (size_t i = 0; i < e.n_dests; i++) {
		struct engine_dest *d = &e.dests[i];
		if (!targets_use_dest(targets, n, d))
			continue;
		struct report r = {d->cfg->name, problems, cli->json, 0};
		rc = engine_open_repo(&e, d);
		if (rc == ARCA_OK)
			rc = repo_lock(d->repo, 0);
		if (rc == ARCA_OK) {
			log_info("verifying repository in destination %s%s", d->cfg->name,
				 read_pct < 0 ? " (structure; --read-data also checks the data)" : "");
			rc = repo_verify(d->repo, read_pct, report_problem, &r);
			repo_unlock(d->repo);
		}
		n_problems += r.n;
		if (rc != ARCA_OK) {
			if (!r.n)
				err_print(rc);
			worst = rc;
		} else if (!cli->json) {
			printf("destination %s: repository ok\n", d->cfg->name);
		}
	}
	/* the drivers' own checks of their latest (or chosen) snapshot */
	for (size_t j = 0; j < n; j++) {
		rc = job_verify_target(&e, targets[j], snapshot, NULL);
		if (rc != ARCA_OK) {
			worst = rc;
			if (cli->json)
				json_array_append_new(problems, json_pack("{s:s,s:s}", "target",
						targets[j]->cfg->name, "problem", err_msg()));
			n_problems++;
		} else if (!cli->json && targets[j]->drv->target->verify) {
			printf("target %s: driver check ok\n", targets[j]->cfg->name);
		}
	}
	if (cli->json)
		cli_print_json(json_pack("{s:b,s:o}", "ok", worst == ARCA_OK, "problems", problems));
	else {
		json_decref(problems);
		if (n_problems)
			printf("verify found %zu problem%s\n", n_problems, n_problems == 1 ? "" : "s");
	}
	free(targets);
	engine_close(&e);
	return worst;
}
