/* cli_opts.c — the command line of a verb that runs an operation on
 * targets: the verb's own options, the global ones, and those the target
 * drivers declare for the operation (ABI 1.1). Core names no driver's
 * option: the getopt table is built at run time from the declarations of
 * the loaded drivers (those the config names), and each option given is
 * checked against the declarations of every target named before any work;
 * an option only another installed driver declares is named as that
 * driver's (unknown_option). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "host.h"
#include "loader.h"
#include "log.h"
#include "util.h"

/* -c FILE may follow the verb, and the config says which drivers (and so
 * which options) there are; -v, -q and --json after the verb should hold
 * while the config loads, too. Apply those before the options can be
 * parsed; the parse applies them again, to the same effect (--no-lock and
 * --lock-wait are read from cli after it). */
static void early_globals(struct cli *cli, int argc, char **argv)
{
	for (int i = 1; i < argc && strcmp(argv[i], "--"); i++) {
		const char *a = argv[i];
		size_t len = strcspn(a, "=");
		for (const struct option *o = cli_global_options;
		     a[0] == '-' && a[1] == '-' && o->name; o++) {
			if (strlen(o->name) != len - 2 || strncmp(o->name, a + 2, len - 2) ||
			    o->val == CLI_OPT_LOCK_WAIT || o->val == CLI_OPT_NO_LOCK)
				continue;
			const char *val = a[len] ? a + len + 1 : NULL;
			if (o->has_arg && !val && i + 1 < argc)
				val = argv[++i];
			if (!o->has_arg || val)
				cli_global_option(cli, o->val, val);
			break;
		}
		for (int k = 1; a[0] == '-' && a[1] != '-' && a[k] && strchr("vqc", a[k]); k++) {
			if (a[k] != 'c') {
				cli_global_option(cli, a[k], NULL);
				continue;
			}
			if (a[k + 1] || i + 1 < argc)
				cli_global_option(cli, 'c', a[k + 1] ? a + k + 1 : argv[++i]);
			break;
		}
	}
	cli->verbose = 0;
}

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

/* What ABI 1.0 engines handed any restore: a 1.0 driver declares nothing
 * and still takes these. */
static const struct arca_op_option restore_1_0[] = {
    {"into", 1, NULL, NULL, NULL},
    {"overwrite", 0, NULL, NULL, NULL},
    {"jobs", 1, NULL, NULL, NULL},
    {NULL, 0, NULL, NULL, NULL},
};

/* Add the options of a declared list to the getopt table (one entry per
 * name; two drivers that disagree on its value make it --name=VALUE only;
 * the verb's own, the first n_own, stay as they are). */
static void add_declared(struct option *tab, size_t *n, size_t n_own,
                         const struct arca_op_option *list)
{
	for (const struct arca_op_option *d = list; d && d->name; d++) {
		int has_arg = d->takes_value ? required_argument : no_argument;
		size_t k = 0;
		while (k < *n && strcmp(tab[k].name, d->name))
			k++;
		if (k == *n)
			tab[(*n)++] = (struct option){d->name, has_arg, NULL, 1};
		else if (k >= n_own && tab[k].has_arg != has_arg)
			tab[k].has_arg = optional_argument;
	}
}

/* The getopt table: the verb's own options, then every option a loaded
 * target driver (one the config names) declares for op. */
static struct option *option_table(const struct engine *e, const char *op, const struct option *own,
                                   size_t *n_own)
{
	size_t cap = ARRAY_LEN(restore_1_0), n = 0;
	int any, some_any = 0;
	for (const struct option *o = own; o && o->name; o++)
		cap++;
	for (size_t i = 0; i < e->ld.n_drivers; i++)
		for (const struct arca_op_option *d =
		         loader_op_options(e->ld.drivers[i].drv->target, op, &any);
		     d && d->name; d++)
			cap++;
	struct option *tab = xcalloc(cap, sizeof *tab);
	for (const struct option *o = own; o && o->name; o++) /* val: a short option, or 1 */
		tab[n++] = (struct option){o->name, o->has_arg, NULL, o->val > ' ' ? o->val : 1};
	*n_own = n;
	for (size_t i = 0; i < e->ld.n_drivers; i++) {
		add_declared(tab, &n, *n_own,
		             loader_op_options(e->ld.drivers[i].drv->target, op, &any));
		some_any |= any;
	}
	if (some_any)
		add_declared(tab, &n, *n_own, restore_1_0);
	return tab;
}

/* "--a, --b" of the options of list that apply to t (at most cap bytes). */
static void list_taken(const struct engine_target *t, const struct arca_op_option *list, char *out,
                       size_t cap)
{
	size_t at = 0;
	out[0] = 0;
	for (const struct arca_op_option *a = list; a && a->name; a++)
		if (applies(t, a) && at < cap)
			at +=
			    (size_t)snprintf(out + at, cap - at, "%s--%s", at ? ", " : "", a->name);
}

/* The configured targets whose driver takes `name` for op, or "". */
static void targets_taking(const struct engine *e, const char *op, const char *name, char *out,
                           size_t cap)
{
	size_t at = 0;
	out[0] = 0;
	for (size_t i = 0; i < e->n_targets && at < cap; i++) {
		const struct engine_target *t = &e->targets[i];
		int any;
		const struct arca_op_option *d =
		    loader_op_option(loader_op_options(t->drv->target, op, &any), name);
		if (d && applies(t, d))
			at += (size_t)snprintf(out + at, cap - at, "%s%s", at ? ", " : "",
			                       t->cfg->name);
	}
}

/* One driver option o given for target t: declared for t's config, given
 * with a value exactly when it takes one, and excluding none of the later
 * ones. A usage error (2) otherwise. */
static int check_one(const struct cli_targets *ct, const char *verb, const char *op,
                     const struct engine_target *t, const struct ctx_option *o,
                     const char *own_names)
{
	int any;
	const struct arca_op_option *list = loader_op_options(t->drv->target, op, &any);
	if (any) /* a 1.0 driver: everything is handed over, as before */
		return ARCA_OK;
	const struct arca_op_option *d = loader_op_option(list, o->name);
	if (!d || !applies(t, d)) {
		char takes[512], others[512];
		list_taken(t, list, takes, sizeof takes);
		targets_taking(&ct->e, op, o->name, others, sizeof others);
		return cli_usage_error(
		    verb, "target %s (driver %s) does not take --%s%s%s; it takes %s%s%s%s%s",
		    t->cfg->name, t->drv->name, o->name, d ? " here: that option needs " : "",
		    d ? d->when : "", takes[0] ? takes : "nothing else",
		    own_names[0] ? ", besides " : "", own_names,
		    others[0] ? ". Targets that take it: " : "", others);
	}
	if (d->takes_value && !o->value)
		return cli_usage_error(verb, "--%s needs a value: --%s=VALUE", o->name, o->name);
	if (!d->takes_value && o->value)
		return cli_usage_error(verb, "--%s takes no value", o->name);
	for (const struct ctx_option *x = o + 1; x->name; x++)
		if (str_in_list(d->excludes, ',', x->name))
			return cli_usage_error(verb, "--%s and --%s exclude each other: give one",
			                       o->name, x->name);
	return ARCA_OK;
}

/* "--a, --b and --c" of the verb's own options (at most cap bytes). */
static void own_list(const struct option *own, char *out, size_t cap)
{
	size_t at = 0;
	out[0] = 0;
	for (const struct option *o = own; o && o->name && at < cap; o++)
		at += (size_t)snprintf(out + at, cap - at, "%s--%s",
		                       at ? (o[1].name ? ", " : " and ") : "", o->name);
}

/* Every option given that is not the verb's own, for every target picked. */
static int check_driver_options(const struct cli_targets *ct, const char *verb, const char *op,
                                const struct option *own)
{
	char own_names[256];
	own_list(own, own_names, sizeof own_names);
	/* the bound plugin.h promises drivers of an option named "jobs" */
	const char *jobs = cli_option(ct, "jobs");
	int64_t j;
	if (jobs && (parse_int64(jobs, &j) < 0 || j < 1 || j > ARCA_JOBS_MAX))
		return cli_usage_error(verb, "--jobs needs a number from 1 to %d", ARCA_JOBS_MAX);
	for (const struct ctx_option *o = ct->opts; o->name; o++) {
		int mine = 0;
		for (const struct option *w = own; w && w->name; w++)
			mine |= !strcmp(w->name, o->name);
		for (size_t i = 0; i < ct->n && !mine; i++) {
			int rc = check_one(ct, verb, op, ct->t[i], o, own_names);
			if (rc != ARCA_OK)
				return rc;
		}
	}
	return ARCA_OK;
}

/* The drivers of plugin_dir, but not of any target configured, that
 * declare option `name` for op ("a, b"), or "". Only the drivers the config
 * names are loaded (core/loader.h), so such an option was not in the getopt
 * table: the rest are loaded here, quietly, to say so. */
static void drivers_taking(struct engine *e, const struct cli *cli, const char *op,
                           const char *name, char *out, size_t cap)
{
	size_t at = 0;
	out[0] = 0;
	e->ld.quiet = 1;
	if (loader_load_all(&e->ld, cli->host) != ARCA_OK)
		err_clear();
	e->ld.quiet = 0;
	for (size_t i = 0; i < e->ld.n_drivers && at < cap; i++) {
		const struct arca_driver *drv = e->ld.drivers[i].drv;
		int any, used = 0;
		for (size_t k = 0; k < e->n_targets; k++)
			used |= e->targets[k].drv == drv;
		if (!used && loader_op_option(loader_op_options(drv->target, op, &any), name))
			at +=
			    (size_t)snprintf(out + at, cap - at, "%s%s", at ? ", " : "", drv->name);
	}
}

/* An option not in the getopt table, `arg` as given. When it is a driver's
 * that no target here uses, say so for the first target named (all when
 * none is: every word that is a target's name counts), as check_one would
 * have; otherwise it is unknown. */
static int unknown_option(struct cli *cli, struct cli_targets *ct, const char *verb, const char *op,
                          const struct option *own, const char *arg, int argc, char **argv)
{
	char name[64], drivers[256] = "";
	if (op && !strncmp(arg, "--", 2) && strcspn(arg + 2, "=") < sizeof name) {
		snprintf(name, sizeof name, "%.*s", (int)strcspn(arg + 2, "="), arg + 2);
		drivers_taking(&ct->e, cli, op, name, drivers, sizeof drivers);
	}
	struct engine_target *t = NULL;
	for (int i = 1; drivers[0] && !t && i < argc && strcmp(argv[i], "--"); i++)
		t = engine_find_target(&ct->e, argv[i]);
	if (drivers[0] && !t && ct->e.n_targets)
		t = &ct->e.targets[0];
	int any;
	const struct arca_op_option *list = t ? loader_op_options(t->drv->target, op, &any) : NULL;
	if (!t || any)
		return cli_usage_error(verb, "unknown option '%s'", arg);
	char takes[512], own_names[256];
	list_taken(t, list, takes, sizeof takes);
	own_list(own, own_names, sizeof own_names);
	return cli_usage_error(verb,
	                       "target %s (driver %s) does not take --%s; it takes %s%s%s. It is "
	                       "an option of driver %s, which no target of %s uses",
	                       t->cfg->name, t->drv->name, name, takes[0] ? takes : "nothing else",
	                       own_names[0] ? ", besides " : "", own_names, drivers,
	                       ct->e.config_path);
}

/* getopt over tab, each option into ct->opts by its long name (a repeated
 * one replaces its value); the positional arguments are left at optind. */
static int parse(struct cli *cli, struct cli_targets *ct, const char *verb, const char *op,
                 const struct option *own, const struct option *tab, int argc, char **argv)
{
	size_t n_tab = 0, n = 0;
	while (tab[n_tab].name)
		n_tab++;
	ct->opts = xcalloc(n_tab + 1, sizeof *ct->opts);
	char shorts[32] = ":"; /* ':' for a missing value, '?' for the unknown */
	for (size_t k = 0; k < n_tab && strlen(shorts) + 3 < sizeof shorts; k++)
		if (tab[k].val != 1)
			snprintf(shorts + strlen(shorts), 4, "%c%s", tab[k].val,
			         tab[k].has_arg == required_argument ? ":" : "");
	int c, idx;
	while ((c = cli_getopt(cli, argc, argv, shorts, tab, &idx)) != -1) {
		const char *arg = argv[optind - 1];
		if (c == ':')
			return cli_usage_error(verb, "%s needs a value", arg);
		if (c != 1) /* a short option: its entry */
			for (idx = 0; (size_t)idx < n_tab && tab[idx].val != c; idx++)
				;
		if (c == '?' || (size_t)idx == n_tab)
			return unknown_option(cli, ct, verb, op, own, arg, argc, argv);
		size_t k = 0;
		while (k < n && strcmp(ct->opts[k].name, tab[idx].name))
			k++;
		ct->opts[k].name = tab[idx].name;
		ct->opts[k].value = optarg;
		n += k == n;
	}
	return cli->lock_wait == -2 ? 2 : ARCA_OK;
}

int cli_targets_open(struct cli *cli, const char *verb, const char *op, const struct option *own,
                     int one, int argc, char **argv, struct cli_targets *ct)
{
	memset(ct, 0, sizeof *ct);
	early_globals(cli, argc, argv);
	int rc = cli_load(cli, &ct->e);
	if (rc != ARCA_OK)
		return rc;
	size_t n_own;
	struct option *tab = option_table(&ct->e, op, own, &n_own);
	rc = parse(cli, ct, verb, op, own, tab, argc, argv);
	ct->e.no_lock = cli->no_lock; /* they may follow the verb */
	ct->e.lock_wait = cli->lock_wait;
	if (rc == ARCA_OK && one && optind + 1 != argc)
		rc = cli_usage_error(verb, "name exactly one TARGET");
	if (rc == ARCA_OK) {
		rc = engine_select_targets(&ct->e, argc - optind, argv + optind, &ct->t, &ct->n);
		if (rc != ARCA_OK)
			err_print(rc);
	}
	if (rc == ARCA_OK)
		rc = check_driver_options(ct, verb, op, own);
	/* a flag's value is "yes" (the driver's options: checked above) */
	for (struct ctx_option *o = ct->opts; rc == ARCA_OK && o->name; o++)
		if (!o->value)
			o->value = "yes";
	if (rc != ARCA_OK) {
		/* the names point into tab: free both */
		cli_targets_close(ct);
	} else {
		ct->names = tab;
		tab = NULL;
	}
	free(tab);
	return rc;
}

const char *cli_option(const struct cli_targets *ct, const char *name)
{
	for (const struct ctx_option *o = ct->opts; o && o->name; o++)
		if (!strcmp(o->name, name))
			return o->value;
	return NULL;
}

void cli_targets_close(struct cli_targets *ct)
{
	free(ct->t);
	free(ct->opts);
	free(ct->names);
	engine_close(&ct->e);
	memset(ct, 0, sizeof *ct);
}
