/* target.c — what one [target] gives the operations: its password, the
 * PostgreSQL programs it runs, and the integer command-line options. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "pg.h"

int pg_password(struct pg_target *t, char **out)
{
	*out = NULL;
	int rc = pg_host->secret(t->cfg, "password", out);
	if (rc == ARCA_ERR_NOT_FOUND) {
		*out = NULL;
		return ARCA_OK;
	}
	return rc;
}

void pg_secret_free(char *s)
{
	if (!s)
		return;
	volatile char *p = s;
	while (*p)
		*p++ = 0;
	free(s);
}

/* The first NAME in an absolute directory on PATH (a relative one would
 * depend on where arca was started), or NULL. */
static char *on_path(const char *name)
{
	const char *env = getenv("PATH");
	char *dirs = strdup(env ? env : "/usr/local/bin:/usr/bin:/bin");
	char *path = NULL, *save = NULL;
	for (char *d = dirs ? strtok_r(dirs, ":", &save) : NULL; d;
	     d = strtok_r(NULL, ":", &save)) {
		if (d[0] != '/')
			continue;
		if (asprintf(&path, "%s/%s", d, name) < 0) {
			path = NULL;
			break;
		}
		if (access(path, X_OK) == 0)
			break;
		free(path);
		path = NULL;
	}
	free(dirs);
	return path;
}

char *pg_program(struct pg_target *t, const char *name)
{
	char *path = NULL;
	int in_bin_dir = 0;
	if (t->bin_dir && t->bin_dir[0]) {
		if (asprintf(&path, "%s/%s", t->bin_dir, name) < 0)
			path = NULL;
		else if (!(in_bin_dir = access(path, X_OK) == 0)) {
			free(path);
			path = NULL;
		}
	}
	if (!path)
		path = on_path(name);
	if (!path) {
		PG_ERR(
		    ARCA_ERR_CONFIG,
		    "[target %s]: cannot find the PostgreSQL program %s in pg_bin_dir (%s) or "
		    "PATH; install the PostgreSQL client (postgresql-client-15) or set pg_bin_dir",
		    t->name, name, t->bin_dir ? t->bin_dir : "unset");
		return NULL;
	}
	/* It runs with a database password in reach: as much trust as a driver. */
	char why[2 * PATH_MAX + 512];
	if (pg_program_unsafe(path, why, sizeof why)) {
		PG_ERR(ARCA_ERR_CONFIG, "[target %s]: refusing to run %s (found %s): %s", t->name,
		       path, in_bin_dir ? "in pg_bin_dir" : "on PATH", why);
		free(path);
		return NULL;
	}
	return path;
}

int pg_option_int(struct arca_ctx *ctx, const char *name, int64_t dflt, int64_t *out)
{
	const char *v = pg_host->option(ctx, name);
	*out = dflt;
	if (!v)
		return ARCA_OK;
	char *end = NULL;
	errno = 0;
	long long n = strtoll(v, &end, 10);
	if (errno || end == v || *end || n < 1 || n > ARCA_JOBS_MAX)
		return PG_ERR(ARCA_ERR_CONFIG, "--%s %s: expected a whole number from 1 to %d",
		              name, v, ARCA_JOBS_MAX);
	*out = n;
	return ARCA_OK;
}
