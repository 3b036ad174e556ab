/* cmd_restore.c — `arca restore TARGET [options]`. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "jobs.h"
#include "log.h"
#include "util.h"

int cmd_restore(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{"snapshot", required_argument, NULL, 's'}, {"into", required_argument, NULL, 'i'},
		{"from", required_argument, NULL, 'f'},     {"overwrite", no_argument, NULL, 'o'},
		{"jobs", required_argument, NULL, 'j'},     {"to-time", required_argument, NULL, 'T'},
		{"to-lsn", required_argument, NULL, 'L'},   {"to-xid", required_argument, NULL, 'X'},
		{"start", no_argument, NULL, 'S'},          {"no-archive", no_argument, NULL, 'N'},
		{NULL, 0, NULL, 0},
	};
	/* every option is handed to the driver by its long name; the driver
	 * checks what the values mean and which combinations make sense (e.g.
	 * postgres: at most one of --to-time, --to-lsn, --to-xid). Only the
	 * range of --jobs is checked here, as plugin.h promises drivers. */
	struct ctx_option options[ARRAY_LEN(opts)];
	size_t n_opt = 0;
	const char *snapshot = NULL, *from = NULL;
	int c, idx;
	while ((c = cli_getopt(cli, argc, argv, "", opts, &idx)) != -1) {
		if (c == '?')
			return cli_usage_error("restore", "unknown option");
		if (c == 's')
			snapshot = optarg;
		if (c == 'f')
			from = optarg;
		if (c == 'j') {
			int64_t j;
			if (parse_int64(optarg, &j) < 0 || j < 1 || j > ARCA_JOBS_MAX)
				return cli_usage_error("restore", "--jobs needs a number from 1 to %d",
						       ARCA_JOBS_MAX);
		}
		/* a repeated option replaces its value, as getopt users expect;
		 * it does not take another slot of the array */
		size_t k = 0;
		while (k < n_opt && strcmp(options[k].name, opts[idx].name))
			k++;
		options[k].name = opts[idx].name;
		options[k].value = optarg ? optarg : "yes";
		n_opt += k == n_opt;
	}
	options[n_opt].name = NULL;
	if (optind + 1 != argc)
		return cli_usage_error("restore", "name exactly one TARGET");
	struct engine e = {0};
	struct engine_target **t;
	size_t n;
	int rc = cli_load_targets(cli, &e, 1, argv + optind, &t, &n);
	if (rc != ARCA_OK)
		return rc;
	rc = job_restore(&e, t[0], snapshot, from, options);
	free(t);
	if (rc != ARCA_OK)
		err_print(rc);
	engine_close(&e);
	return rc;
}
