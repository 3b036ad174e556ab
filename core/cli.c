/* cli.c — helpers shared by the verbs: help and usage errors, loading the
 * config and picking targets, JSON output. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <jansson.h>
#include "cli.h"
#include "util.h"
#include "log.h"
#include "progress.h"

const struct option cli_global_options[] = {
    {"config", required_argument, NULL, 'c'},
    {"verbose", no_argument, NULL, 'v'},
    {"quiet", no_argument, NULL, 'q'},
    {"json", no_argument, NULL, CLI_OPT_JSON},
    {"no-progress", no_argument, NULL, CLI_OPT_NO_PROGRESS},
    {"no-lock", no_argument, NULL, CLI_OPT_NO_LOCK},
    {"lock-wait", required_argument, NULL, CLI_OPT_LOCK_WAIT},
    {NULL, 0, NULL, 0},
};

const char cli_global_help[] =
    "Global options (before or after the verb):\n"
    "  -c, --config FILE  the INI file (default: $ARCA_CONFIG, else " ARCA_DEFAULT_CONFIG ")\n"
    "  -v, --verbose      also name every item as it is stored, restored or verified;\n"
    "                     twice (-vv) adds debug messages\n"
    "  -q, --quiet        errors only\n"
    "      --json         machine-readable output on stdout\n"
    "      --no-progress  never draw a progress bar\n"
    "      --no-lock      list, restore and verify without writing a lock (a\n"
    "                     repository on read-only media; done by itself, with a\n"
    "                     warning, when the lock cannot be written)\n"
    "      --lock-wait D  wait up to D (30s, 10m, 1h) for another arca's lock instead\n"
    "                     of failing at once (exit 13); the systemd units use 10m\n";

int cli_global_option(struct cli *cli, int c, const char *arg)
{
	switch (c) {
	case 'c':
		cli->config_arg = arg;
		return 1;
	case 'v':
		/* -v: info, and every item named; -vv: debug. The command line
		 * wins over log_level in the file (engine.c). */
		cli->verbose++;
		log_verbose = 1;
		log_level = cli->verbose > 1 ? ARCA_LOG_DEBUG : ARCA_LOG_INFO;
		return 1;
	case 'q':
		cli->verbose = 0;
		log_verbose = 0;
		log_level = ARCA_LOG_ERROR;
		progress_enabled = 0;
		return 1;
	case CLI_OPT_NO_LOCK:
		cli->no_lock = 1;
		return 1;
	case CLI_OPT_LOCK_WAIT:
		if (parse_duration(arg, &cli->lock_wait) || cli->lock_wait < 0) {
			fprintf(stderr, "arca: --lock-wait '%s' is not a duration (30s, 10m, 1h)\n",
			        arg);
			cli->lock_wait = -2;
		}
		return 1;
	case CLI_OPT_JSON:
		cli->json = 1;
		log_json = 1;
		progress_enabled = 0;
		return 1;
	case CLI_OPT_NO_PROGRESS:
		progress_enabled = 0;
		return 1;
	default:
		return 0;
	}
}

int cli_getopt(struct cli *cli, int argc, char **argv, const char *shortopts,
               const struct option *longopts, int *longindex)
{
	/* the verb's options first: its indexes into longopts stay valid (as
	 * many as the drivers declare: the table is built for each call) */
	size_t n = 0, cap = ARRAY_LEN(cli_global_options);
	for (const struct option *o = longopts; o && o->name; o++)
		cap++;
	struct option *all = xcalloc(cap, sizeof *all);
	char shorts[64];
	for (const struct option *o = longopts; o && o->name; o++)
		all[n++] = *o;
	for (const struct option *o = cli_global_options; o->name; o++)
		all[n++] = *o;
	snprintf(shorts, sizeof shorts, "%s%s", shortopts, CLI_GLOBAL_SHORTOPTS);
	int c;
	while ((c = getopt_long(argc, argv, shorts, all, longindex)) != -1)
		if (!cli_global_option(cli, c, optarg))
			break;
	free(all);
	return c;
}

int cli_no_options(struct cli *cli, const char *verb, int argc, char **argv)
{
	static const struct option opts[] = {{NULL, 0, NULL, 0}};
	while (cli_getopt(cli, argc, argv, "", opts, NULL) != -1)
		return cli_usage_error(verb, "unknown option");
	return 0;
}

void cli_verb_help(struct cli *cli, const struct verb *v, FILE *f)
{
	fprintf(f, "Usage: %s\n\n%s — %s\n\n%s", v->usage, v->name, v->summary, v->help);
	driver_options_help(cli, v->name, f);
	fprintf(f, "\n%s", cli_global_help);
}

int cli_usage_error(const char *verb, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "arca%s%s: ", verb ? " " : "", verb ? verb : "");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'arca %s%s--help'.\n", verb ? verb : "", verb ? " " : "");
	return 2;
}

int cli_load(struct cli *cli, struct engine *e)
{
	e->no_lock = cli->no_lock;
	if (cli->lock_wait == -2)
		return 2; /* the usage error was printed as the option was read */
	e->lock_wait = cli->lock_wait;
	return engine_load(e, engine_config_path(cli->config_arg), cli->host);
}

void cli_print_json(void *json)
{
	char *s = json_dumps(json, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	if (s) {
		puts(s);
		free(s);
	}
	json_decref(json);
}

int cli_load_targets(struct cli *cli, struct engine *e, int argc, char **argv,
                     struct engine_target ***targets, size_t *n)
{
	int rc = cli_load(cli, e);
	if (rc != ARCA_OK)
		return rc;
	rc = engine_select_targets(e, argc, argv, targets, n);
	if (rc != ARCA_OK) {
		err_print(rc);
		engine_close(e);
	}
	return rc;
}

int cli_load_dests(struct cli *cli, struct engine *e, const char *verb, int argc, char **argv,
                   struct engine_dest ***dests, size_t *n)
{
	int rc = cli_load(cli, e);
	if (rc != ARCA_OK)
		return rc;
	*dests = xcalloc(e->n_dests + (size_t)argc + 1, sizeof **dests);
	*n = 0;
	if (argc == 0) {
		for (size_t i = 0; i < e->n_dests; i++)
			(*dests)[(*n)++] = &e->dests[i];
		if (!*n)
			rc = err_set(ARCA_ERR_CONFIG, "%s has no [destination NAME] section",
			             e->config_path);
	}
	for (int i = 0; rc == ARCA_OK && i < argc; i++) {
		struct engine_dest *d = engine_find_dest(e, argv[i]);
		if (!d) {
			const char **names = xcalloc(e->n_dests + 1, sizeof *names);
			for (size_t j = 0; j < e->n_dests; j++)
				names[j] = e->dests[j].cfg->name;
			rc = engine_unknown_name(e, "destination", argv[i], names, e->n_dests);
			free(names);
			err_wrap(rc, "%s", verb);
		} else
			(*dests)[(*n)++] = d;
	}
	if (rc != ARCA_OK) {
		err_print(rc);
		free(*dests);
		*dests = NULL;
		*n = 0;
		engine_close(e);
	}
	return rc;
}

int cli_each_dest(struct cli *cli, const char *verb, int argc, char **argv,
                  int (*each)(struct cli *cli, struct engine *e, struct engine_dest *d, void *arg),
                  void *arg)
{
	struct engine e = {0};
	struct engine_dest **dests;
	size_t n;
	int rc = cli_load_dests(cli, &e, verb, argc, argv, &dests, &n);
	if (rc != ARCA_OK)
		return rc;
	int worst = ARCA_OK;
	for (size_t i = 0; i < n; i++) {
		int r = each(cli, &e, dests[i], arg);
		if (r != ARCA_OK)
			worst = r;
	}
	free(dests);
	engine_close(&e);
	return worst;
}

int targets_use_dest(struct engine_target **targets, size_t n, const struct engine_dest *d)
{
	for (size_t j = 0; j < n; j++)
		for (size_t k = 0; k < targets[j]->n_dests; k++)
			if (targets[j]->dests[k] == d)
				return 1;
	return 0;
}
