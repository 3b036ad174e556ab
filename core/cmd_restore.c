/* cmd_restore.c — `arca restore TARGET [options]`. */
#include <getopt.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "jobs.h"
#include "log.h"
#include "util.h"

/* Whether a declared option applies to this target ("KEY=VALUE" against
 * its config, defaults included). */
static int applies(const struct engine_target *t, const struct arca_op_option *o)
{
	if (!o->when)
		return 1;
	const char *eq = strchr(o->when, '=');
	if (!eq)
		return 0;
	char key[64];
	snprintf(key, sizeof key, "%.*s", (int)(eq - o->when), o->when);
	const char *v = cfg_get(t->cfg, key);
	return v && !strcmp(v, eq + 1);
}

static const struct arca_op_option *declared(const struct arca_op_option *list, const char *name)
{
	for (; list && list->name; list++)
		if (!strcmp(list->name, name))
			return list;
	return NULL;
}

/* Refuse, before any work, an option the target's driver does not take
 * (for this target's config) and options that exclude each other. A 1.0
 * driver declares nothing: everything is handed over, as before. */
static int check_options(const struct engine_target *t, const struct ctx_option *opts)
{
	const struct arca_target_ops *ops = t->drv->target;
	if (!ARCA_OPS_HAS(ops, restore_options))
		return ARCA_OK;
	for (const struct ctx_option *o = opts; o->name; o++) {
		if (!strcmp(o->name, "snapshot") || !strcmp(o->name, "from"))
			continue;
		const struct arca_op_option *d = declared(ops->restore_options, o->name);
		if (d && applies(t, d)) {
			for (const struct ctx_option *x = o + 1; x->name; x++)
				if (str_in_list(d->excludes, ',', x->name))
					return cli_usage_error("restore",
					                       "--%s and --%s exclude each "
					                       "other: give one",
					                       o->name, x->name);
			continue;
		}
		char takes[512] = "";
		size_t at = 0;
		for (const struct arca_op_option *a = ops->restore_options; a->name; a++)
			if (applies(t, a) && at < sizeof takes)
				at += (size_t)snprintf(takes + at, sizeof takes - at, "%s--%s",
				                       at ? ", " : "", a->name);
		return cli_usage_error("restore",
		                       "target %s (driver %s) does not take --%s%s%s; "
		                       "it takes %s, besides --snapshot and --from",
		                       t->cfg->name, t->drv->name, o->name,
		                       d ? " here: that option needs " : "", d ? d->when : "",
		                       at ? takes : "nothing else");
	}
	return ARCA_OK;
}

int cmd_restore(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"snapshot", required_argument, NULL, 's'},
	    {"into", required_argument, NULL, 'i'},
	    {"from", required_argument, NULL, 'f'},
	    {"overwrite", no_argument, NULL, 'o'},
	    {"jobs", required_argument, NULL, 'j'},
	    {"to-time", required_argument, NULL, 'T'},
	    {"to-lsn", required_argument, NULL, 'L'},
	    {"to-xid", required_argument, NULL, 'X'},
	    {"start", no_argument, NULL, 'S'},
	    {"no-archive", no_argument, NULL, 'N'},
	    {"index", required_argument, NULL, 'I'},
	    {"rebuild", no_argument, NULL, 'R'},
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
				return cli_usage_error(
				    "restore", "--jobs needs a number from 1 to %d", ARCA_JOBS_MAX);
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
	rc = check_options(t[0], options);
	if (rc != ARCA_OK) {
		free(t);
		engine_close(&e);
		return rc;
	}
	rc = job_restore(&e, t[0], snapshot, from, options);
	free(t);
	if (rc != ARCA_OK)
		err_print(rc);
	engine_close(&e);
	return rc;
}
