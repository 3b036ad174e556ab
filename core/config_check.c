/* config_check.c — validating a read config against the engine's option
 * tables (config.c) and each driver's declared options, and collecting
 * every problem as "FILE:LINE: message", with a "did you mean" where a
 * name is close to a known one, in file order. */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "config.h"
#include "config_internal.h"
#include "log.h"
#include "repo.h"
#include "util.h"

/* ---------------------------------------------------------------------- */
/* Error collector.                                                       */
/* ---------------------------------------------------------------------- */

void cfg_errors_vadd(struct cfg_errors *e, const char *file, int line, const char *fmt, va_list ap)
{
	char *msg, *full;
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = xstrdup(fmt);
	if (line > 0)
		full = xasprintf("%s:%d: %s", file ? file : "arca", line, msg);
	else
		full = xasprintf("%s: %s", file ? file : "arca", msg);
	free(msg);
	e->msgs = xrealloc(e->msgs, (e->n + 1) * sizeof *e->msgs);
	e->lines = xrealloc(e->lines, (e->n + 1) * sizeof *e->lines);
	e->msgs[e->n] = full;
	e->lines[e->n] = line;
	e->n++;
}

void cfg_errors_add(struct cfg_errors *e, const char *file, int line, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	cfg_errors_vadd(e, file, line, fmt, ap);
	va_end(ap);
}

void cfg_errors_free(struct cfg_errors *e)
{
	for (size_t i = 0; i < e->n; i++)
		free(e->msgs[i]);
	free(e->msgs);
	free(e->lines);
	e->msgs = NULL;
	e->lines = NULL;
	e->n = 0;
}

/* Stable insertion sort by line: parse errors and validation errors come
 * from different passes, the user wants them in file order. */
static void errors_sort(struct cfg_errors *e)
{
	if (!e->lines)
		return;
	for (size_t i = 1; i < e->n; i++) {
		char *msg = e->msgs[i];
		int line = e->lines[i];
		size_t j = i;
		for (; j > 0 && e->lines[j - 1] > line; j--) {
			e->msgs[j] = e->msgs[j - 1];
			e->lines[j] = e->lines[j - 1];
		}
		e->msgs[j] = msg;
		e->lines[j] = line;
	}
}

/* ---------------------------------------------------------------------- */
/* Validation.                                                            */
/* ---------------------------------------------------------------------- */

struct validator {
	struct cfg_file *cf;
	cfg_driver_lookup lookup;
	void *lookup_arg;
	const char *const *installed;
	size_t n_installed;
	struct cfg_errors *errs;
	int errors;
};

/* The section being checked, with its label for messages. */
struct vsec {
	struct arca_config *sec;
	char label[256];
	int driver_ok; /* a usable driver was found (or none is needed) */
};

__attribute__((format(printf, 3, 4))) static void verr(struct validator *v, int line,
                                                       const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	cfg_errors_vadd(v->errs, v->cf->path, line, fmt, ap);
	va_end(ap);
	v->errors++;
}

/* "a, b, c" from a NULL-free array; malloc'd. */
static char *join(const char *const *words, size_t n)
{
	struct buf b = {0};
	for (size_t i = 0; i < n; i++) {
		if (i)
			buf_append(&b, ", ", 2);
		buf_append(&b, words[i], strlen(words[i]));
	}
	buf_append(&b, "", 1);
	return (char *)b.data;
}

/* ---- names of things, for suggestions ---- */

struct names {
	char **v;
	size_t n;
};

static void names_add(struct names *nm, const char *s)
{
	nm->v = xrealloc(nm->v, (nm->n + 1) * sizeof *nm->v);
	nm->v[nm->n++] = xstrdup(s);
}

static void names_free(struct names *nm)
{
	cfg_list_free(nm->v, nm->n);
	nm->v = NULL;
	nm->n = 0;
}

/* The keys a user may write for a table: secrets as NAME_file / NAME_env. */
static void names_add_keys(struct names *nm, const struct arca_option *table)
{
	for (; table && table->name; table++) {
		if (table->flags & ARCA_OPT_SECRET) {
			char *f = xasprintf("%s_file", table->name);
			char *e = xasprintf("%s_env", table->name);
			names_add(nm, f);
			names_add(nm, e);
			free(f);
			free(e);
		} else {
			names_add(nm, table->name);
		}
	}
}

static void names_of_sections(struct names *nm, struct cfg_file *cf, enum cfg_kind kind)
{
	for (size_t i = 0; i < cf->n_sections; i++)
		if (cf->sections[i].kind == kind)
			names_add(nm, cf->sections[i].name);
}

static const char *names_suggest(const struct names *nm, const char *word)
{
	return did_you_mean(word, (const char *const *)nm->v, nm->n);
}

/* ---- drivers ---- */

static char *installed_list(const struct validator *v)
{
	if (!v->n_installed)
		return xstrdup("none (check plugin_dir in [engine])");
	return join(v->installed, v->n_installed);
}

static void report_unknown_driver(struct validator *v, const struct cfg_entry *e)
{
	char *list = installed_list(v);
	const char *hint = did_you_mean(e->value, v->installed, v->n_installed);
	if (!*e->value)
		verr(v, e->line, "'driver' is empty; installed drivers: %s", list);
	else if (hint)
		verr(v, e->line, "unknown driver '%s' (did you mean '%s'?); installed drivers: %s",
		     e->value, hint, list);
	else
		verr(v, e->line, "unknown driver '%s'; installed drivers: %s", e->value, list);
	free(list);
}

/* Finds the section's driver and its option table; 0 if there is none. */
static int resolve_driver(struct validator *v, struct vsec *vs)
{
	struct arca_config *sec = vs->sec;
	const struct cfg_entry *e = cfg_entry(sec, "driver");
	if (!e)
		return 0; /* reported as a missing required key */
	const struct arca_driver *d =
	    *e->value && v->lookup ? v->lookup(e->value, v->lookup_arg) : NULL;
	if (!d) {
		report_unknown_driver(v, e);
		return 0;
	}
	if (sec->kind == CFG_TARGET && !d->target) {
		verr(v, e->line,
		     "driver '%s' is a destination driver, it cannot back up %s: "
		     "use it in a [destination NAME] section",
		     d->name, vs->label);
		return 0;
	}
	if (sec->kind == CFG_DESTINATION && !d->dest) {
		verr(v, e->line,
		     "driver '%s' is a target driver, it cannot store %s: "
		     "use it in a [target NAME] section",
		     d->name, vs->label);
		return 0;
	}
	sec->driver = d;
	sec->driver_options = sec->kind == CFG_TARGET ? d->target_options : d->dest_options;
	return 1;
}

/* ---- required keys ---- */

static int option_is_set(const struct arca_config *sec, const struct arca_option *opt)
{
	if (opt->flags & ARCA_OPT_SECRET)
		return cfg_secret_entry(sec, opt->name, "_file") ||
		       cfg_secret_entry(sec, opt->name, "_env");
	return cfg_entry(sec, opt->name) != NULL;
}

static void report_missing(struct validator *v, const struct vsec *vs,
                           const struct arca_option *opt, const struct arca_driver *drv)
{
	char *want = opt->flags & ARCA_OPT_SECRET
	                 ? xasprintf("'%s_file' or '%s_env'", opt->name, opt->name)
	                 : xasprintf("'%s'", opt->name);
	const char *help = opt->help ? opt->help : "no description";
	if (drv)
		verr(v, vs->sec->line, "%s needs %s (driver %s: %s)", vs->label, want, drv->name,
		     help);
	else
		verr(v, vs->sec->line, "%s needs %s (%s)", vs->label, want, help);
	free(want);
}

static void check_required_in(struct validator *v, const struct vsec *vs,
                              const struct arca_option *table, const struct arca_driver *drv)
{
	for (; table && table->name; table++)
		if ((table->flags & ARCA_OPT_REQUIRED) && !option_is_set(vs->sec, table))
			report_missing(v, vs, table, drv);
}

/* An encrypted repository cannot be opened without its passphrase. */
static void check_passphrase(struct validator *v, const struct vsec *vs)
{
	const char *enc = cfg_get(vs->sec, "encryption");
	int fallback;
	const char *var = cfg_passphrase_var(vs->sec, &fallback);
	/* a named source is checked when it is read; the fallback must be set now */
	const char *env = fallback ? getenv(var) : NULL;
	if (enc && strcmp(enc, "none") && fallback && !(env && *env))
		verr(v, vs->sec->line,
		     "%s needs 'passphrase_file' or 'passphrase_env' "
		     "(encryption is %s), or " CFG_PASSPHRASE_FALLBACK_ENV " in the environment, "
		     "or set encryption = none",
		     vs->label, enc);
}

static void check_required(struct validator *v, const struct vsec *vs)
{
	check_required_in(v, vs, cfg_engine_table(vs->sec->kind), NULL);
	if (vs->driver_ok)
		check_required_in(v, vs, vs->sec->driver_options, vs->sec->driver);
	if (vs->sec->kind == CFG_DESTINATION)
		check_passphrase(v, vs);
}

/* ---- key resolution ---- */

enum key_form { KEY_PLAIN, KEY_FILE, KEY_ENV };

struct key_ref {
	const struct arca_option *opt;
	enum key_form form;
};

/* NAME_file / NAME_env of a secret option in `table`. */
static int resolve_secret_form(const struct arca_option *table, const char *key,
                               struct key_ref *ref)
{
	static const struct {
		const char *suffix;
		enum key_form form;
	} forms[] = {{"_file", KEY_FILE}, {"_env", KEY_ENV}};
	for (size_t i = 0; i < ARRAY_LEN(forms); i++) {
		if (!str_ends(key, forms[i].suffix))
			continue;
		char *base = xstrndup(key, strlen(key) - strlen(forms[i].suffix));
		const struct arca_option *opt = cfg_table_find(table, base);
		free(base);
		if (opt && (opt->flags & ARCA_OPT_SECRET)) {
			ref->opt = opt;
			ref->form = forms[i].form;
			return 1;
		}
	}
	return 0;
}

static int resolve_key(const struct arca_config *sec, const char *key, struct key_ref *ref)
{
	const struct arca_option *tables[] = {cfg_engine_table(sec->kind), sec->driver_options};
	for (size_t i = 0; i < ARRAY_LEN(tables); i++) {
		ref->opt = cfg_table_find(tables[i], key);
		ref->form = KEY_PLAIN;
		if (ref->opt)
			return 1;
	}
	for (size_t i = 0; i < ARRAY_LEN(tables); i++)
		if (resolve_secret_form(tables[i], key, ref))
			return 1;
	return 0;
}

static void report_unknown_key(struct validator *v, const struct vsec *vs,
                               const struct cfg_entry *e)
{
	struct names keys = {0};
	names_add_keys(&keys, cfg_engine_table(vs->sec->kind));
	names_add_keys(&keys, vs->sec->driver_options);
	const char *hint = names_suggest(&keys, e->key);
	if (hint) {
		verr(v, e->line, "unknown key '%s' in %s (did you mean '%s'?)", e->key, vs->label,
		     hint);
	} else {
		char *list = join((const char *const *)keys.v, keys.n);
		verr(v, e->line, "unknown key '%s' in %s; valid keys: %s", e->key, vs->label, list);
		free(list);
	}
	names_free(&keys);
}

/* ---- values ---- */

struct unit {
	char suffix;
	int64_t mult;
};

static const struct unit size_units[] = {{'T', 1024 * GIB}, {'G', GIB}, {'M', MIB}, {'K', KIB}};
static const struct unit duration_units[] = {
    {'w', 604800}, {'d', 86400}, {'h', 3600}, {'m', 60}, {'s', 1},
};

/* "4M", "1G", "30d": a bound in the unit the user would write. */
static void format_bound(enum arca_opt_type type, int64_t v, char *out, size_t n)
{
	const struct unit *units = NULL;
	size_t count = 0;
	if (type == ARCA_OPT_SIZE) {
		units = size_units;
		count = ARRAY_LEN(size_units);
	} else if (type == ARCA_OPT_DURATION) {
		units = duration_units;
		count = ARRAY_LEN(duration_units);
	}
	for (size_t i = 0; i < count; i++) {
		if (v && v % units[i].mult == 0) {
			snprintf(out, n, "%lld%c", (long long)(v / units[i].mult), units[i].suffix);
			return;
		}
	}
	snprintf(out, n, "%lld", (long long)v);
}

static const char *type_phrase(enum arca_opt_type type)
{
	switch (type) {
	case ARCA_OPT_SIZE:
		return "a size like 512K, 32M or 1G";
	case ARCA_OPT_DURATION:
		return "a duration like 90s, 15m, 2h, 30d or 2w";
	default:
		return "a whole number";
	}
}

static int bad_number(const struct arca_option *opt, const char *value, char *why, size_t n)
{
	int64_t v;
	int parsed = cfg_parse_number(opt->type, value, &v) == 0;
	if (opt->min == opt->max) {
		if (!parsed)
			snprintf(why, n, "must be %s", type_phrase(opt->type));
		return !parsed;
	}
	if (parsed && v >= opt->min && v <= opt->max)
		return 0;
	char lo[32], hi[32];
	format_bound(opt->type, opt->min, lo, sizeof lo);
	format_bound(opt->type, opt->max, hi, sizeof hi);
	snprintf(why, n, "must be %s from %s to %s", type_phrase(opt->type), lo, hi);
	return 1;
}

static int bad_enum(const struct arca_option *opt, const char *value, char *why, size_t n)
{
	size_t count = 0;
	char *copy = xstrdup(opt->choices ? opt->choices : "");
	const char *choices[64];
	for (char *save, *c = strtok_r(copy, "|", &save); c && count < ARRAY_LEN(choices);
	     c = strtok_r(NULL, "|", &save))
		choices[count++] = c;
	int bad = 1;
	for (size_t i = 0; i < count; i++)
		if (!strcmp(value, choices[i]))
			bad = 0;
	if (bad) {
		char *list = join(choices, count);
		const char *hint = did_you_mean(value, choices, count);
		if (hint)
			snprintf(why, n, "must be one of: %s (did you mean '%s'?)", list, hint);
		else
			snprintf(why, n, "must be one of: %s", list);
		free(list);
	}
	free(copy);
	return bad;
}

static int bad_list(const char *value, char *why, size_t n)
{
	size_t count;
	char **items = cfg_list_split(value, &count);
	int bad = 0;
	for (size_t i = 0; i < count; i++)
		if (!*items[i])
			bad = 1;
	cfg_list_free(items, count);
	if (bad)
		snprintf(why, n, "must be a comma-separated list without empty items");
	return bad;
}

/* Nonzero, with a phrase in `why`, when `value` does not fit `opt`'s type. */
static int bad_value(const struct arca_option *opt, const char *value, char *why, size_t n)
{
	int b;
	switch (opt->type) {
	case ARCA_OPT_INT:
	case ARCA_OPT_SIZE:
	case ARCA_OPT_DURATION:
		return bad_number(opt, value, why, n);
	case ARCA_OPT_BOOL:
		snprintf(why, n, "must be yes or no (or true/false, on/off, 1/0)");
		return parse_bool(value, &b) < 0;
	case ARCA_OPT_PATH:
		snprintf(why, n, "must be an absolute path (starting with '/')");
		return value[0] != '/';
	case ARCA_OPT_ENUM:
		return bad_enum(opt, value, why, n);
	case ARCA_OPT_LIST:
		return bad_list(value, why, n);
	case ARCA_OPT_STRING:
		return 0;
	}
	snprintf(why, n, "has a type (%d) this engine does not know: update arca", opt->type);
	return 1;
}

static void check_value(struct validator *v, const struct vsec *vs, const struct cfg_entry *e,
                        const struct arca_option *opt)
{
	char why[512];
	if (!*e->value && (opt->flags & ARCA_OPT_REQUIRED)) {
		verr(v, e->line, "'%s' in %s is empty, and it is required (%s)", e->key, vs->label,
		     opt->help ? opt->help : "no description");
		return;
	}
	if (bad_value(opt, e->value, why, sizeof why))
		verr(v, e->line, "'%s' in %s %s, got '%s'", e->key, vs->label, why, e->value);
}

/* ---- references between sections ---- */

static int named_before(char **items, size_t i)
{
	for (size_t j = 0; j < i; j++)
		if (!strcmp(items[i], items[j]))
			return 1;
	return 0;
}

/* Each item of a LIST must name a section of `kind`, once. */
static void check_refs(struct validator *v, const struct vsec *vs, const struct cfg_entry *e,
                       enum cfg_kind kind)
{
	struct names known = {0};
	names_of_sections(&known, v->cf, kind);
	size_t n;
	char **items = cfg_list_split(e->value, &n);
	for (size_t i = 0; i < n; i++) {
		if (!*items[i])
			continue; /* reported by the LIST check */
		if (named_before(items, i)) {
			verr(v, e->line, "'%s' in %s names %s twice", e->key, vs->label, items[i]);
			continue;
		}
		if (cfg_section(v->cf, kind, items[i]))
			continue;
		const char *hint = names_suggest(&known, items[i]);
		if (hint)
			verr(v, e->line,
			     "'%s' in %s names [%s %s], which is not defined (did you "
			     "mean '%s'?)",
			     e->key, vs->label, cfg_kind_name(kind), items[i], hint);
		else
			verr(v, e->line,
			     "'%s' in %s names [%s %s], which is not defined in this "
			     "file",
			     e->key, vs->label, cfg_kind_name(kind), items[i]);
	}
	cfg_list_free(items, n);
	names_free(&known);
}

/* The policy is parsed by the same function `arca forget` uses. */
static void check_retention(struct validator *v, const struct vsec *vs, const struct cfg_entry *e)
{
	int64_t counts[7];
	if (retention_parse(e->value, counts) == ARCA_OK)
		return;
	verr(v, e->line,
	     "'retention' in %s is not a valid policy: %s; write e.g. "
	     "retention = last=7, daily=30, within=30d",
	     vs->label, err_msg());
	err_clear(); /* the message is in errs now */
}

/* Rules of particular engine keys beyond their type. */
static void check_engine_key(struct validator *v, const struct vsec *vs, const struct cfg_entry *e)
{
	enum cfg_kind kind = vs->sec->kind;
	if (kind == CFG_TARGET && !strcmp(e->key, "destinations"))
		check_refs(v, vs, e, CFG_DESTINATION);
	else if (kind == CFG_TARGET && !strcmp(e->key, "retention"))
		check_retention(v, vs, e);
	else if (kind == CFG_RECOVERY && !strcmp(e->key, "order"))
		check_refs(v, vs, e, CFG_TARGET);
}

/* ---- secrets ---- */

static int valid_env_name(const char *s)
{
	if (!isalpha((unsigned char)*s) && *s != '_')
		return 0;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '_')
			return 0;
	return 1;
}

static void check_secret_form(struct validator *v, const struct vsec *vs, const struct cfg_entry *e,
                              const struct key_ref *ref)
{
	const char *name = ref->opt->name;
	const struct cfg_entry *f = cfg_secret_entry(vs->sec, name, "_file");
	const struct cfg_entry *env = cfg_secret_entry(vs->sec, name, "_env");
	if (ref->form == KEY_FILE && e->value[0] != '/')
		verr(v, e->line,
		     "'%s' in %s must be an absolute path (starting with '/'), "
		     "got '%s'",
		     e->key, vs->label, e->value);
	if (ref->form == KEY_ENV && !valid_env_name(e->value))
		verr(v, e->line,
		     "'%s' in %s must name an environment variable (letters, digits, "
		     "'_'), got '%s'",
		     e->key, vs->label, e->value);
	/* reported once, at whichever of the two comes second */
	if (f && env && e == (f->line > env->line ? f : env))
		verr(v, e->line, "both %s_file and %s_env are set in %s: keep one", name, name,
		     vs->label);
}

/* ---- one entry, one section, the file ---- */

static void check_entry(struct validator *v, const struct vsec *vs, const struct cfg_entry *e)
{
	const struct cfg_entry *first = cfg_entry(vs->sec, e->key);
	if (first != e) {
		verr(v, e->line, "duplicate key '%s' in %s (already set at line %d): keep one",
		     e->key, vs->label, first->line);
		return;
	}
	struct key_ref ref;
	if (!resolve_key(vs->sec, e->key, &ref)) {
		/* without a driver we cannot know its keys: only the driver is reported */
		if (vs->driver_ok)
			report_unknown_key(v, vs, e);
		return;
	}
	if (ref.form != KEY_PLAIN) {
		check_secret_form(v, vs, e, &ref);
		return;
	}
	if (cfg_kind_has_name(vs->sec->kind) && !strcmp(e->key, "driver"))
		return; /* resolve_driver checked it */
	if (ref.opt->flags & ARCA_OPT_SECRET) {
		verr(v, e->line,
		     "'%s' in %s is a secret, and secrets are not written in the "
		     "config: use %s_file = /path or %s_env = VARIABLE",
		     e->key, vs->label, e->key, e->key);
		return;
	}
	check_value(v, vs, e, ref.opt);
	if (ref.opt == cfg_table_find(cfg_engine_table(vs->sec->kind), e->key))
		check_engine_key(v, vs, e);
}

static const struct arca_config *first_like(const struct cfg_file *cf,
                                            const struct arca_config *sec)
{
	for (size_t i = 0; i < cf->n_sections; i++)
		if (cfg_same_section(&cf->sections[i], sec->kind, sec->name))
			return &cf->sections[i];
	return sec;
}

static void check_section(struct validator *v, struct arca_config *sec)
{
	struct vsec vs = {.sec = sec, .driver_ok = 1};
	cfg_section_label(sec, vs.label, sizeof vs.label);
	sec->driver = NULL;
	sec->driver_options = NULL;
	const struct arca_config *first = first_like(v->cf, sec);
	if (first != sec) {
		verr(v, sec->line, "duplicate section %s (first at line %d): merge the two",
		     vs.label, first->line);
		return;
	}
	if (cfg_kind_has_name(sec->kind))
		vs.driver_ok = resolve_driver(v, &vs);
	check_required(v, &vs);
	for (size_t i = 0; i < sec->n_entries; i++)
		check_entry(v, &vs, &sec->entries[i]);
}

int cfg_validate(struct cfg_file *cf, cfg_driver_lookup lookup, void *lookup_arg,
                 const char *const *installed_drivers, size_t n_installed, struct cfg_errors *errs)
{
	struct validator v = {
	    .cf = cf,
	    .lookup = lookup,
	    .lookup_arg = lookup_arg,
	    .installed = installed_drivers,
	    .n_installed = n_installed,
	    .errs = errs,
	};
	for (size_t i = 0; i < cf->n_sections; i++)
		check_section(&v, &cf->sections[i]);
	errors_sort(errs);
	return v.errors;
}
