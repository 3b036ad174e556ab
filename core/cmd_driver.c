/* cmd_driver.c — verbs that target drivers declare (ABI 1.1, e.g. the
 * PostgreSQL WAL archiving verbs): `arca VERB TARGET ARGS...` runs
 * the `command` op of TARGET's driver. Core knows no driver verb by name. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "jobs.h"
#include "loader.h"
#include "log.h"
#include "util.h"

const struct arca_verb *driver_verb(const struct arca_driver *drv, const char *name)
{
	const struct arca_target_ops *ops = drv ? drv->target : NULL;
	if (!ops || !ARCA_OPS_HAS(ops, verbs))
		return NULL;
	for (const struct arca_verb *v = ops->verbs; v && v->name; v++)
		if (!strcmp(v->name, name))
			return v;
	return NULL;
}

/* The modules of plugin_dir, loaded without a word about refused ones. */
static int load_quietly(struct cli *cli, struct loader *ld)
{
	struct cfg_file *cf = NULL;
	const char *dir = plugin_dir_from_config(cli, &cf);
	int saved = log_level;
	log_level = ARCA_LOG_ERROR - 1;
	memset(ld, 0, sizeof *ld);
	int rc = loader_open(ld, dir, cli->host);
	log_level = saved;
	err_clear();
	if (cf)
		cfg_free(cf);
	return rc;
}

void driver_verbs_list(struct cli *cli, FILE *f)
{
	struct loader ld;
	if (load_quietly(cli, &ld) != ARCA_OK)
		return;
	int header = 0;
	for (size_t i = 0; i < ld.n_drivers; i++) {
		const struct arca_driver *drv = ld.drivers[i].drv;
		const struct arca_target_ops *ops = drv->target;
		if (!ops || !ARCA_OPS_HAS(ops, verbs))
			continue;
		for (const struct arca_verb *v = ops->verbs; v && v->name; v++) {
			if (!header++)
				fprintf(
				    f,
				    "\nVerbs of the installed drivers (arca VERB TARGET ...):\n");
			fprintf(f, "  %-10s %s (driver %s)\n", v->name,
			        v->summary ? v->summary : "", drv->name);
		}
	}
	loader_close(&ld);
}

/* `text` after a 23-column option name, wrapped at 79 columns. */
static void print_wrapped(FILE *f, const char *flag, const char *text)
{
	fprintf(f, "  %-20s", flag);
	size_t col = strlen(flag) > 20 ? 2 + strlen(flag) : 22;
	while (*text) {
		size_t word = strcspn(text, " ");
		if (col + 1 + word > 79 && col > 22) {
			fprintf(f, "\n%22s", "");
			col = 22;
		}
		fprintf(f, " %.*s", (int)word, text);
		col += 1 + word;
		text += word + strspn(text + word, " ");
	}
	fputc('\n', f);
}

void driver_options_help(struct cli *cli, const char *op, FILE *f)
{
	struct loader ld;
	if (load_quietly(cli, &ld) != ARCA_OK)
		return;
	for (size_t i = 0; i < ld.n_drivers; i++) {
		int any;
		const struct arca_op_option *o =
		    loader_op_options(ld.drivers[i].drv->target, op, &any);
		if (o && o->name)
			fprintf(f,
			        "\nOptions of driver %s (refused for targets of other drivers):\n",
			        ld.drivers[i].drv->name);
		for (; o && o->name; o++) {
			char flag[64], text[1024];
			snprintf(flag, sizeof flag, "--%s%s", o->name,
			         o->takes_value ? " VALUE" : "");
			size_t at =
			    (size_t)snprintf(text, sizeof text, "%s", o->help ? o->help : "");
			if (o->when && at < sizeof text)
				at += (size_t)snprintf(text + at, sizeof text - at,
				                       " (only where %s)", o->when);
			for (const char *x = o->excludes, *c; x && at < sizeof text;
			     x = c ? c + 1 : NULL) {
				c = strchr(x, ',');
				at += (size_t)snprintf(text + at, sizeof text - at, "%s--%.*s%s",
				                       x == o->excludes ? " (not with " : ", ",
				                       c ? (int)(c - x) : (int)strlen(x), x,
				                       c ? "" : ")");
			}
			print_wrapped(f, flag, text);
		}
	}
	loader_close(&ld);
}

int driver_verb_help(struct cli *cli, const char *verb, FILE *f)
{
	struct loader ld;
	if (load_quietly(cli, &ld) != ARCA_OK)
		return -1;
	int found = -1;
	for (size_t i = 0; i < ld.n_drivers && found; i++) {
		const struct arca_verb *v = driver_verb(ld.drivers[i].drv, verb);
		if (!v)
			continue;
		fprintf(f, "Usage: arca %s TARGET %s\n\n%s — %s (a verb of driver %s)\n\n%s\n%s",
		        v->name, v->synopsis ? v->synopsis : "", v->name,
		        v->summary ? v->summary : "", ld.drivers[i].drv->name,
		        v->help ? v->help : "", cli_global_help);
		found = 0;
	}
	loader_close(&ld);
	return found;
}

int cmd_driver_verb(struct cli *cli, int argc, char **argv)
{
	const char *verb = argv[0];
	if (cli_no_options(cli, verb, argc, argv))
		return 2;
	/* the arguments follow argv[0] again, as if there had been no options */
	argc -= optind - 1, argv += optind - 1;
	if (argc < 2)
		return cli_usage_error(NULL,
		                       "unknown verb '%s' (a driver's verb needs a TARGET "
		                       "after it: arca %s TARGET ...)",
		                       verb, verb);
	struct engine e = {0};
	struct engine_target **t;
	size_t n;
	int rc = cli_load_targets(cli, &e, 1, argv + 1, &t, &n);
	if (rc != ARCA_OK)
		return rc;
	const struct arca_verb *v = driver_verb(t[0]->drv, verb);
	int nargs = argc - 2;
	const char *owner = NULL; /* a driver that has the verb, when this one does not */
	if (!v) {
		/* only the config's drivers are loaded: look at the others too */
		e.ld.quiet = 1;
		if (loader_load_all(&e.ld, cli->host) != ARCA_OK)
			err_clear();
	}
	for (size_t i = 0; !v && i < e.ld.n_drivers && !owner; i++)
		if (driver_verb(e.ld.drivers[i].drv, verb))
			owner = e.ld.drivers[i].drv->name;
	if ((!v || !t[0]->drv->target->command) && owner) {
		rc = err_print(err_set(ARCA_ERR_UNSUPPORTED,
		                       "driver %s of target %s has no '%s' "
		                       "command (it is a verb of driver %s)",
		                       t[0]->drv->name, t[0]->cfg->name, verb, owner));
	} else if (!v || !t[0]->drv->target->command) {
		rc = cli_usage_error(NULL,
		                     "unknown verb '%s': neither arca nor driver %s of target "
		                     "%s has it (arca --help lists both)",
		                     verb, t[0]->drv->name, t[0]->cfg->name);
	} else if (nargs < v->min_args || (v->max_args >= 0 && nargs > v->max_args)) {
		rc = cli_usage_error(verb, "usage: arca %s TARGET %s", verb,
		                     v->synopsis ? v->synopsis : "");
	} else {
		rc = job_command(&e, t[0], verb, nargs, argv + 2, NULL);
		if (rc == ARCA_ERR_NOT_FOUND && (v->flags & ARCA_VERB_QUIET_NOT_FOUND))
			log_info("%s", err_msg());
		else if (rc != ARCA_OK)
			err_print(rc);
	}
	free(t);
	engine_close(&e);
	return rc;
}
