/* env.c — the environment of the programs the driver runs.
 *
 * arca's own environment holds the repository passphrase (ARCA_PASSPHRASE)
 * and the secrets that `*_env` keys of the config name, this target's and
 * every other one's. pg_dump, pg_restore, psql, pg_ctl and the server it
 * starts must see none of that, so a child's environment is built from a
 * list rather than copied: PATH, HOME, TZ, TMPDIR and the locale for every
 * child; libpq's own variables (PGHOST, PGSSLMODE, PGPASSFILE, ...) and the
 * PGPASSWORD arca sets only for a child that connects. A variable that a
 * `*_env` key names stays out even when it is on the list.
 *
 * The driver sees only its own section: the engine hands it the names every
 * section's `*_env` keys give (host->config_env_names); an older engine
 * without that call leaves the driver to scan the config file it loaded. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "pg.h"

/* A sanitizer build of arca runs itself under the server it starts (the
 * restore_command), where it needs the runtime's options: the test suite's
 * leak suppressions. Release builds pass none of these. */
#ifdef __SANITIZE_ADDRESS__
#define SANITIZER_VARS " ASAN_OPTIONS LSAN_OPTIONS UBSAN_OPTIONS"
#else
#define SANITIZER_VARS ""
#endif

/* Every child: what a program needs to find things and speak the locale. */
static const char base_vars[] = "PATH HOME TZ TMPDIR LANG LANGUAGE" SANITIZER_VARS;

/* libpq's variables (PostgreSQL 15-17, "Environment Variables" in the
 * libpq chapter), for a child that connects. */
static const char libpq_vars[] =
    "PGHOST PGHOSTADDR PGPORT PGDATABASE PGUSER PGPASSWORD PGPASSFILE PGREQUIREAUTH "
    "PGCHANNELBINDING PGSERVICE PGSERVICEFILE PGOPTIONS PGAPPNAME PGSSLMODE PGREQUIRESSL "
    "PGSSLNEGOTIATION PGSSLCOMPRESSION PGSSLCERT PGSSLKEY PGSSLCERTMODE PGSSLROOTCERT "
    "PGSSLCRL PGSSLCRLDIR PGSSLSNI PGREQUIREPEER PGSSLMINPROTOCOLVERSION "
    "PGSSLMAXPROTOCOLVERSION PGGSSENCMODE PGKRBSRVNAME PGGSSLIB PGGSSDELEGATION "
    "PGCONNECT_TIMEOUT PGCLIENTENCODING PGTARGETSESSIONATTRS PGLOADBALANCEHOSTS "
    "PGDATESTYLE PGTZ PGGEQO PGSYSCONFDIR PGLOCALEDIR";

/* Whether "NAME=value" has a NAME among the space-separated `words`. */
static int in_words(const char *entry, const char *words)
{
	size_t len = strcspn(entry, "=");
	for (const char *w = words; *w; w += strspn(w, " ")) {
		size_t n = strcspn(w, " ");
		if (n == len && strncmp(w, entry, len) == 0)
			return 1;
		w += n;
	}
	return 0;
}

/* Whether "NAME=value" has one of `names` as its NAME. */
static int named(const char *entry, char *const *names)
{
	size_t len = strcspn(entry, "=");
	for (; names && *names; names++)
		if (strlen(*names) == len && strncmp(*names, entry, len) == 0)
			return 1;
	return 0;
}

static int passes(const char *e, char *const *secret_vars, int connects, int own_password)
{
	if (!strchr(e, '=') || strncmp(e, "ARCA_", 5) == 0 || named(e, secret_vars))
		return 0;
	if (in_words(e, base_vars) || strncmp(e, "LC_", 3) == 0)
		return 1;
	if (!connects || !in_words(e, libpq_vars))
		return 0;
	/* the password arca sets replaces the user's */
	return !(own_password && strncmp(e, "PGPASSWORD=", 11) == 0);
}

char **pg_env_build(char *const *from, char *const *secret_vars, int connects, const char *password,
                    char **pwvar)
{
	size_t n = 0;
	for (char *const *e = from; e && *e; e++)
		n++;
	char **env = calloc(n + 2, sizeof *env);
	if (!env)
		return NULL;
	connects |= password != NULL;
	size_t k = 0;
	for (char *const *e = from; e && *e; e++)
		if (passes(*e, secret_vars, connects, password != NULL))
			env[k++] = *e;
	*pwvar = NULL;
	if (password) {
		size_t len = strlen(password) + 12;
		if (!(*pwvar = malloc(len))) {
			free(env);
			return NULL;
		}
		snprintf(*pwvar, len, "PGPASSWORD=%s", password);
		env[k++] = *pwvar;
	}
	env[k] = NULL;
	return env;
}

static int add_name(char ***names, size_t *n, const char *name, size_t len)
{
	char **grown = realloc(*names, (*n + 2) * sizeof **names);
	if (!grown)
		return -1;
	*names = grown;
	if (!(grown[*n] = strndup(name, len)))
		return -1;
	grown[++*n] = NULL;
	return 0;
}

/* The variable a "KEY_env = NAME" line names: its length at *name, or 0.
 * Comments, headers and keys are told apart as the engine's INI reader
 * does; names are letters, digits and '_' (the engine accepts no others). */
static size_t env_key_value(const char *line, const char **name)
{
	while (isspace((unsigned char)*line))
		line++;
	if (!*line || strchr(";#[", *line))
		return 0;
	size_t key = strcspn(line, "=:");
	if (!line[key])
		return 0;
	const char *v = line + key + 1;
	while (key > 0 && isspace((unsigned char)line[key - 1]))
		key--;
	if (key < 5 || strncmp(line + key - 4, "_env", 4) != 0)
		return 0;
	while (isspace((unsigned char)*v))
		v++;
	size_t len = 0;
	while (isalnum((unsigned char)v[len]) || v[len] == '_')
		len++;
	*name = v;
	return len;
}

int pg_env_scan(FILE *f, char ***names)
{
	char *line = NULL;
	size_t cap = 0, n = 0;
	int rc = 0;
	if (!(*names = calloc(1, sizeof **names)))
		return -1;
	while (rc == 0 && getline(&line, &cap, f) >= 0) {
		const char *name;
		size_t len = env_key_value(line, &name);
		if (len)
			rc = add_name(names, &n, name, len);
	}
	free(line);
	return rc;
}

void pg_env_free(char **names)
{
	for (char **p = names; p && *p; p++)
		free(*p);
	free(names);
}

/* The names the engine gives, copied; or the config file's scan. */
static int config_names(struct arca_ctx *ctx, char ***names)
{
	if (ARCA_HOST_HAS(pg_host, config_env_names) && pg_host->config_env_names) {
		size_t n = 0;
		if (!(*names = calloc(1, sizeof **names)))
			return -1;
		for (const char *const *from = pg_host->config_env_names(ctx); from && *from;
		     from++)
			if (add_name(names, &n, *from, strlen(*from)) != 0)
				return -1;
		return 0;
	}
	const char *path = pg_host->option(ctx, "config");
	FILE *f = path ? fopen(path, "re") : NULL;
	int bad = f ? pg_env_scan(f, names) : !(*names = calloc(1, sizeof **names));
	if (f)
		fclose(f);
	else
		PG_LOG(ARCA_LOG_WARN,
		       "cannot read the config %s to learn which variables its *_env keys name; "
		       "programs get only PATH, HOME, TZ, TMPDIR, the locale and libpq's variables",
		       path ? path : "(unknown)");
	return bad;
}

int pg_env_load(struct pg_target *t, struct arca_ctx *ctx)
{
	if (t->secret_vars)
		return ARCA_OK;
	char **names = NULL;
	int bad = config_names(ctx, &names);
	/* This target's own, whatever the file said. */
	const char *own = pg_host->config_get(t->cfg, "password_env");
	size_t n = 0;
	while (names && names[n])
		n++;
	if (!bad && own && add_name(&names, &n, own, strlen(own)) != 0)
		bad = 1;
	if (bad) {
		pg_env_free(names);
		return PG_ERR(ARCA_ERR_INTERNAL, "out of memory");
	}
	t->secret_vars = names;
	return ARCA_OK;
}
