/* config.c — the engine's side of the config: the option tables of the
 * sections the engine owns, lookups with their defaults applied (cfg_get,
 * cfg_get_int, cfg_get_bool, cfg_get_list) and secrets (cfg_secret, the
 * passphrase's environment variable).
 *
 * Reading the INI file is config_read.c; checking it against the tables
 * and the drivers' declared options is config_check.c. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "config.h"
#include "config_internal.h"
#include "log.h"
#include "repo.h"
#include "util.h"

#ifndef ARCA_PLUGIN_DIR
#define ARCA_PLUGIN_DIR "/usr/local/lib/arca"
#endif

/* "2" from a macro that expands to 2 */
#define STRINGIFY_(x) #x
#define STRINGIFY(x)  STRINGIFY_(x)

/* ---------------------------------------------------------------------- */
/* The engine-owned option tables.                                        */
/* ---------------------------------------------------------------------- */

const struct arca_option cfg_engine_options[] = {
    {.name = "plugin_dir",
     .type = ARCA_OPT_PATH,
     .default_value = ARCA_PLUGIN_DIR,
     .help = "directory the driver modules (*.so) are loaded from"},
    {.name = "state_dir",
     .type = ARCA_OPT_PATH,
     .default_value = ARCA_DEFAULT_STATE_DIR,
     .help = "local cache of repository indexes and file metadata"},
    {.name = "log_level",
     .type = ARCA_OPT_ENUM,
     .default_value = "info",
     .help = "how much to log",
     .choices = "error|warn|info|debug"},
    {.name = "workers",
     .type = ARCA_OPT_INT,
     .default_value = "0",
     .help = "threads that hash, compress and encrypt; 0 = one per CPU core",
     .min = 0,
     .max = 256},
    {.name = "hostname",
     .type = ARCA_OPT_STRING,
     .help = "name recorded in snapshots and locks (default: the system's host name)"},
    {.name = NULL},
};

const struct arca_option cfg_dest_common_options[] = {
    {.name = "driver",
     .type = ARCA_OPT_STRING,
     .flags = ARCA_OPT_REQUIRED,
     .help = "the destination driver that stores the repository, e.g. dir "
             "(`arca plugins` lists them)"},
    {.name = "passphrase",
     .type = ARCA_OPT_STRING,
     .flags = ARCA_OPT_SECRET,
     .help = "passphrase that unlocks the repository key"},
    {.name = "encryption",
     .type = ARCA_OPT_ENUM,
     .default_value = "aes-256-gcm",
     .help = "encryption of the repository's objects",
     .choices = "aes-256-gcm|none"},
    {.name = "compression",
     .type = ARCA_OPT_INT,
     .default_value = STRINGIFY(REPO_ZSTD_LEVEL_DEFAULT),
     .help = "zstd level of stored chunks (the README's design notes say why the default)",
     .min = REPO_ZSTD_LEVEL_MIN,
     .max = REPO_ZSTD_LEVEL_MAX},
    {.name = "pack_size",
     .type = ARCA_OPT_SIZE,
     .default_value = "32M",
     .help = "target size of the pack objects chunks are grouped into",
     .min = 4 * MIB,
     .max = GIB},
    {.name = NULL},
};

const struct arca_option cfg_target_common_options[] = {
    {.name = "driver",
     .type = ARCA_OPT_STRING,
     .flags = ARCA_OPT_REQUIRED,
     .help = "the target driver that reads the data store, e.g. postgres or files"},
    {.name = "destinations",
     .type = ARCA_OPT_LIST,
     .flags = ARCA_OPT_REQUIRED,
     .help = "the [destination NAME] sections that receive this target's snapshots"},
    {.name = "retention",
     .type = ARCA_OPT_STRING,
     .help = "snapshots to keep, e.g. last=7, daily=30, weekly=8, monthly=12, within=30d"},
    {.name = "description", .type = ARCA_OPT_STRING, .help = "free text shown by arca list"},
    {.name = NULL},
};

const struct arca_option cfg_recovery_options[] = {
    {.name = "order",
     .type = ARCA_OPT_LIST,
     .help = "targets restored by arca recover, in this order"},
    {.name = "pre_hook",
     .type = ARCA_OPT_STRING,
     .help = "command arca recover runs first (/bin/sh -c; e.g. provision, stop the application)"},
    {.name = "post_hook",
     .type = ARCA_OPT_STRING,
     .help = "command arca recover runs after the restores (e.g. migrations, start services)"},
    {.name = "verify_hook",
     .type = ARCA_OPT_STRING,
     .help = "command arca recover runs last to check the result (e.g. a health query)"},
    {.name = "health",
     .type = ARCA_OPT_BOOL,
     .default_value = "yes",
     .help = "after post_hook, ask each recovered target's driver whether its store serves"},
    {.name = "scratch_dir",
     .type = ARCA_OPT_PATH,
     .help = "for arca drill's scratch instances (arca drill is not there yet: unused)"},
    {.name = NULL},
};

const char *const cfg_kind_names[CFG_KIND_COUNT] = {
    "engine",
    "destination",
    "target",
    "recovery",
};

const char *cfg_kind_name(enum cfg_kind kind)
{
	return (size_t)kind < CFG_KIND_COUNT ? cfg_kind_names[kind] : "?";
}

int cfg_kind_has_name(enum cfg_kind kind)
{
	return kind == CFG_DESTINATION || kind == CFG_TARGET;
}

/* "[target app-db]" or "[engine]" */
void cfg_section_label(const struct arca_config *sec, char *out, size_t n)
{
	if (sec->name)
		snprintf(out, n, "[%s %s]", cfg_kind_name(sec->kind), sec->name);
	else
		snprintf(out, n, "[%s]", cfg_kind_name(sec->kind));
}

/* ---------------------------------------------------------------------- */
/* Lookups.                                                               */
/* ---------------------------------------------------------------------- */

int cfg_same_section(const struct arca_config *sec, enum cfg_kind kind, const char *name)
{
	if (sec->kind != kind)
		return 0;
	if (!cfg_kind_has_name(kind))
		return 1;
	return name && sec->name && !strcmp(sec->name, name);
}

struct arca_config *cfg_section(struct cfg_file *cf, enum cfg_kind kind, const char *name)
{
	for (size_t i = 0; i < cf->n_sections; i++)
		if (cfg_same_section(&cf->sections[i], kind, name))
			return &cf->sections[i];
	return NULL;
}

const struct cfg_entry *cfg_entry(const struct arca_config *sec, const char *key)
{
	for (size_t i = 0; i < sec->n_entries; i++)
		if (!strcmp(sec->entries[i].key, key))
			return &sec->entries[i];
	return NULL;
}

/* The engine's table for a kind of section. */
const struct arca_option *cfg_engine_table(enum cfg_kind kind)
{
	switch (kind) {
	case CFG_ENGINE:
		return cfg_engine_options;
	case CFG_DESTINATION:
		return cfg_dest_common_options;
	case CFG_TARGET:
		return cfg_target_common_options;
	case CFG_RECOVERY:
		return cfg_recovery_options;
	}
	return NULL;
}

const struct arca_option *cfg_table_find(const struct arca_option *table, const char *key)
{
	for (; table && table->name; table++)
		if (!strcmp(table->name, key))
			return table;
	return NULL;
}

/* The option declaring `key` in a section: the engine's first, then the driver's. */
static const struct arca_option *option_for(const struct arca_config *sec, const char *key)
{
	const struct arca_option *opt = cfg_table_find(cfg_engine_table(sec->kind), key);
	return opt ? opt : cfg_table_find(sec->driver_options, key);
}

const char *cfg_get(const struct arca_config *sec, const char *key)
{
	const struct arca_option *opt = option_for(sec, key);
	if (opt && (opt->flags & ARCA_OPT_SECRET))
		return NULL; /* secrets only through cfg_secret */
	const struct cfg_entry *e = cfg_entry(sec, key);
	if (e)
		return e->value;
	return opt ? opt->default_value : NULL;
}

static int parse_sized(const char *s, int64_t *out)
{
	uint64_t v;
	if (parse_size(s, &v) < 0 || v > INT64_MAX)
		return -1;
	*out = (int64_t)v;
	return 0;
}

/* Parses an INT, SIZE or DURATION value into *out. */
int cfg_parse_number(enum arca_opt_type type, const char *s, int64_t *out)
{
	switch (type) {
	case ARCA_OPT_SIZE:
		return parse_sized(s, out);
	case ARCA_OPT_DURATION:
		return parse_duration(s, out);
	default:
		return parse_int64(s, out);
	}
}

int64_t cfg_get_int(const struct arca_config *sec, const char *key, int64_t dflt)
{
	const char *s = cfg_get(sec, key);
	const struct arca_option *opt = option_for(sec, key);
	int64_t v;
	if (!s || cfg_parse_number(opt ? opt->type : ARCA_OPT_INT, s, &v) < 0)
		return dflt;
	return v;
}

int cfg_get_bool(const struct arca_config *sec, const char *key, int dflt)
{
	const char *s = cfg_get(sec, key);
	int v;
	if (!s || parse_bool(s, &v) < 0)
		return dflt;
	return v;
}

/* Splits at commas, trimming; empty items are kept (validation reports them). */
char **cfg_list_split(const char *value, size_t *n)
{
	char **items = NULL;
	*n = 0;
	const char *s = value;
	for (;;) {
		size_t len = strcspn(s, ",");
		char *item = xstrndup(s, len);
		char *trimmed = str_trim(item);
		items = xrealloc(items, (*n + 1) * sizeof *items);
		items[(*n)++] = xstrdup(trimmed);
		free(item);
		if (!s[len])
			break;
		s += len + 1;
	}
	/* an all-blank value is an empty list, not one empty item */
	if (*n == 1 && !*items[0]) {
		cfg_list_free(items, *n);
		*n = 0;
		return NULL;
	}
	return items;
}

char **cfg_get_list(const struct arca_config *sec, const char *key, size_t *n)
{
	const char *s = cfg_get(sec, key);
	*n = 0;
	return s ? cfg_list_split(s, n) : NULL;
}

void cfg_list_free(char **items, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(items[i]);
	free(items);
}

/* ---------------------------------------------------------------------- */
/* Secrets.                                                               */
/* ---------------------------------------------------------------------- */

const struct cfg_entry *cfg_secret_entry(const struct arca_config *sec, const char *key,
                                         const char *suffix)
{
	char *name = xasprintf("%s%s", key, suffix);
	const struct cfg_entry *e = cfg_entry(sec, name);
	free(name);
	return e;
}

static void warn_if_world_readable(const char *key, const char *path)
{
	struct stat st;
	if (stat(path, &st) == 0 && (st.st_mode & S_IROTH))
		log_warn("%s_file %s is readable by every user: chmod o-r %s", key, path, path);
}

static int secret_from_file(const struct arca_config *sec, const char *key,
                            const struct cfg_entry *e, char **out)
{
	char label[256], *data;
	size_t len;
	cfg_section_label(sec, label, sizeof label);
	if (read_file(e->value, &data, &len) < 0)
		return err_set(ARCA_ERR_CONFIG, "cannot read %s_file %s (%s, %s:%d): %s", key,
		               e->value, label, sec->file, e->line, strerror(errno));
	size_t first = strcspn(data, "\n");
	if (first > 0 && data[first - 1] == '\r')
		first--;
	if (first > 0)
		*out = xstrndup(data, first);
	explicit_bzero(data, len);
	free(data);
	if (!*out)
		return err_set(ARCA_ERR_CONFIG,
		               "%s_file %s (%s, %s:%d) has an empty first line: "
		               "write the secret on it",
		               key, e->value, label, sec->file, e->line);
	warn_if_world_readable(key, e->value);
	return ARCA_OK;
}

static int secret_from_env(const struct arca_config *sec, const char *key,
                           const struct cfg_entry *e, char **out)
{
	char label[256];
	cfg_section_label(sec, label, sizeof label);
	const char *v = getenv(e->value);
	if (!v)
		return err_set(ARCA_ERR_CONFIG,
		               "%s_env names the variable %s (%s, %s:%d), which "
		               "is not set in the environment",
		               key, e->value, label, sec->file, e->line);
	if (!*v)
		return err_set(ARCA_ERR_CONFIG,
		               "%s_env names the variable %s (%s, %s:%d), which "
		               "is empty",
		               key, e->value, label, sec->file, e->line);
	*out = xstrdup(v);
	return ARCA_OK;
}

int cfg_secret(const struct arca_config *sec, const char *key, char **out)
{
	*out = NULL;
	const struct cfg_entry *f = cfg_secret_entry(sec, key, "_file");
	if (f)
		return secret_from_file(sec, key, f, out);
	const struct cfg_entry *e = cfg_secret_entry(sec, key, "_env");
	if (e)
		return secret_from_env(sec, key, e, out);
	char label[256];
	cfg_section_label(sec, label, sizeof label);
	return err_set(ARCA_ERR_NOT_FOUND, "%s sets neither %s_file nor %s_env (%s:%d)", label, key,
	               key, sec->file, sec->line);
}

const char *cfg_passphrase_var(const struct arca_config *dest, int *fallback)
{
	const struct cfg_entry *file = cfg_secret_entry(dest, "passphrase", "_file");
	const struct cfg_entry *env = cfg_secret_entry(dest, "passphrase", "_env");
	if (fallback)
		*fallback = !file && !env;
	if (file)
		return NULL;
	return env ? env->value : CFG_PASSPHRASE_FALLBACK_ENV;
}
