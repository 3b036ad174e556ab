/* cli.c — helpers shared by the verbs: help and usage errors, loading the
 * config and picking targets, JSON output. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <jansson.h>
#include "cli.h"
#include "util.h"
#include "log.h"

void cli_verb_help(const struct verb *v, FILE *f)
{
	fprintf(f, "Usage: %s\n\n%s — %s\n\n%s\nGlobal options: -c FILE, -v, -q, --json, "
		   "--no-progress (see arca --help).\n",
		v->usage, v->name, v->summary, v->help);
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
	return engine_load(e, engine_config_path(cli->config_arg));
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
		if (!d)
			rc = err_set(2 /* usage */, "%s: no destination '%s' in %s", verb, argv[i],
				     e->config_path);
		else
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

int targets_use_dest(struct engine_target **targets, size_t n, const struct engine_dest *d)
{
	for (size_t j = 0; j < n; j++)
		for (size_t k = 0; k < targets[j]->n_dests; k++)
			if (targets[j]->dests[k] == d)
				return 1;
	return 0;
}
