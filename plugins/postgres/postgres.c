/* postgres.c — the postgres driver's descriptor, options and instance.
 *
 * A [target] with `driver = postgres` protects one PostgreSQL database
 * (mode = logical) or one whole cluster with its WAL (mode = physical).
 * Each op is dispatched to the file that implements the mode. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include "pg.h"

const struct arca_host *pg_host;

static const struct arca_option pg_options[] = {
    {"mode", ARCA_OPT_ENUM, 0, "logical",
     "logical: pg_dump of one database; physical: base backup of the cluster + WAL",
     "logical|physical", 0, 0},
    {"conninfo", ARCA_OPT_STRING, ARCA_OPT_REQUIRED, NULL,
     "libpq connection string or URI, without the password (e.g. host=db dbname=app user=backup)",
     NULL, 0, 0},
    {"password", ARCA_OPT_STRING, ARCA_OPT_SECRET, NULL,
     "the role's password (password_file = PATH or password_env = VAR); PGPASSFILE works too", NULL,
     0, 0},
    {"globals", ARCA_OPT_BOOL, 0, "no",
     "logical: also store roles and tablespaces (pg_dumpall --globals-only)", NULL, 0, 0},
    {"restore_globals", ARCA_OPT_ENUM, 0, "auto",
     "logical restore: replay the stored globals (auto: when a role is missing on the server)",
     "auto|yes|no", 0, 0},
    {"pg_bin_dir", ARCA_OPT_PATH, 0, "/usr/lib/postgresql/15/bin",
     "where pg_dump, pg_restore, pg_dumpall, psql and pg_ctl are; PATH is searched after it; "
     "a program and its directories must be writable by root or arca's user only",
     NULL, 0, 0},
    {"restore_jobs", ARCA_OPT_INT, 0, "2",
     "logical restore: parallel pg_restore jobs when --jobs is not given", NULL, 1, 64},
    {"restore_copy", ARCA_OPT_ENUM, 0, "auto",
     "logical restore with jobs > 1: where the seekable copy of the dump is made (auto: in "
     "memory when it takes under a quarter of the available memory, else in the scratch "
     "directory)",
     "auto|memory|disk", 0, 0},
    {"archive_timeout", ARCA_OPT_DURATION, 0, "60s",
     "physical check: how long to wait for a switched WAL segment to be archived", NULL, 1, 86400},
    {"recovery_timeout", ARCA_OPT_DURATION, 0, "24h",
     "physical restore --start: how long to wait for recovery to reach its target", NULL, 1,
     30 * 86400},
    {NULL, 0, 0, NULL, NULL, NULL, 0, 0},
};

static int pg_open(const struct arca_config *cfg, void **instance)
{
	struct pg_target *t = calloc(1, sizeof *t);
	if (!t)
		return PG_ERR(ARCA_ERR_INTERNAL, "out of memory");
	const char *mode = pg_host->config_get(cfg, "mode");
	t->cfg = cfg;
	t->name = pg_host->config_section(cfg);
	t->physical = mode && strcmp(mode, "physical") == 0;
	t->conninfo = pg_host->config_get(cfg, "conninfo");
	t->bin_dir = pg_host->config_get(cfg, "pg_bin_dir");
	t->globals = pg_host->config_bool(cfg, "globals", 0);
	t->restore_globals = pg_host->config_get(cfg, "restore_globals");
	if (!t->restore_globals)
		t->restore_globals = "auto";
	t->restore_jobs = pg_host->config_int(cfg, "restore_jobs", 2);
	t->restore_copy = pg_host->config_get(cfg, "restore_copy");
	if (!t->restore_copy)
		t->restore_copy = "auto";
	t->archive_timeout = pg_host->config_int(cfg, "archive_timeout", 60);
	t->recovery_timeout = pg_host->config_int(cfg, "recovery_timeout", 86400);
	if (!t->conninfo || !t->conninfo[0]) {
		free(t);
		return PG_ERR(ARCA_ERR_CONFIG, "[target %s]: conninfo is empty",
		              pg_host->config_section(cfg));
	}
	/* A password inside conninfo would end up in process lists and logs. */
	char *err = NULL;
	PQconninfoOption *opts = PQconninfoParse(t->conninfo, &err);
	if (!opts) {
		int rc = PG_ERR(ARCA_ERR_CONFIG, "[target %s]: conninfo does not parse: %s",
		                pg_host->config_section(cfg), err ? err : "out of memory");
		PQfreemem(err);
		free(t);
		return rc;
	}
	for (PQconninfoOption *o = opts; o->keyword; o++) {
		if (strcmp(o->keyword, "password") == 0 && o->val && o->val[0]) {
			PQconninfoFree(opts);
			free(t);
			return PG_ERR(
			    ARCA_ERR_CONFIG,
			    "[target %s]: conninfo contains a password; remove it and use "
			    "password_file = PATH, password_env = VAR or PGPASSFILE",
			    pg_host->config_section(cfg));
		}
	}
	PQconninfoFree(opts);
	*instance = t;
	return ARCA_OK;
}

static void pg_close(void *instance)
{
	struct pg_target *t = instance;
	pg_env_free(t->secret_vars);
	free(t);
}

static int pg_check(void *instance, struct arca_ctx *ctx)
{
	struct pg_target *t = instance;
	int rc = pg_env_load(t, ctx);
	if (rc != ARCA_OK)
		return rc;
	return t->physical ? physical_check(t, ctx) : logical_check(t, ctx);
}

static int pg_snapshot(void *instance, struct arca_ctx *ctx)
{
	struct pg_target *t = instance;
	int rc = pg_env_load(t, ctx);
	if (rc != ARCA_OK)
		return rc;
	return t->physical ? physical_snapshot(t, ctx) : logical_snapshot(t, ctx);
}

/* The stored snapshot decides how to read it, not the current mode: a
 * target switched from logical to physical still restores its old dumps.
 * A base backup's items start with tblspc/ (tablespaces) or base/ (the
 * data directory). */
static int snapshot_kind(struct arca_ctx *ctx, int *physical)
{
	struct arca_item_info info;
	int rc = pg_item_next(ctx, &info);
	if (rc == ARCA_ERR_NOT_FOUND)
		return PG_ERR(ARCA_ERR_CORRUPT, "the snapshot holds no items");
	if (rc != ARCA_OK)
		return rc;
	*physical = strncmp(info.name, "base/", 5) == 0 || strncmp(info.name, "tblspc/", 7) == 0;
	return pg_host->item_rewind(ctx);
}

/* The engine hands the --to-* options through unchecked: at most one
 * recovery target, refused before anything is read, in either mode. */
static int check_recovery_target_options(struct arca_ctx *ctx)
{
	int n = !!pg_host->option(ctx, "to-time") + !!pg_host->option(ctx, "to-lsn") +
	        !!pg_host->option(ctx, "to-xid");
	if (n > 1)
		return PG_ERR(ARCA_ERR_CONFIG, "give at most one of --to-time, --to-lsn, --to-xid");
	return ARCA_OK;
}

static int pg_restore_op(void *instance, struct arca_ctx *ctx)
{
	struct pg_target *t = instance;
	int physical = 0;
	int rc = check_recovery_target_options(ctx);
	if (rc == ARCA_OK)
		rc = pg_env_load(t, ctx);
	if (rc == ARCA_OK)
		rc = snapshot_kind(ctx, &physical);
	if (rc == ARCA_OK)
		rc = physical ? physical_restore(t, ctx) : logical_restore(t, ctx);
	return rc;
}

static int pg_verify(void *instance, struct arca_ctx *ctx)
{
	struct pg_target *t = instance;
	int physical = 0;
	int rc = pg_env_load(t, ctx);
	if (rc == ARCA_OK)
		rc = snapshot_kind(ctx, &physical);
	if (rc == ARCA_OK)
		rc = physical ? physical_verify(t, ctx) : logical_verify(t, ctx);
	return rc;
}

static int pg_command(void *instance, struct arca_ctx *ctx, const char *verb, int argc, char **argv)
{
	struct pg_target *t = instance;
	if (strcmp(verb, "wal-push") == 0)
		return wal_push(t, ctx, argc, argv);
	if (strcmp(verb, "wal-get") == 0)
		return wal_get(t, ctx, argc, argv);
	return PG_ERR(ARCA_ERR_UNSUPPORTED,
	              "the postgres driver has no verb '%s' (it offers wal-push, wal-get)", verb);
}

static const struct arca_op_option pg_restore_options[] = {
    {"into", 1,
     "logical: a conninfo (a database it names that does not exist is created); physical: "
     "an empty data directory",
     NULL, NULL},
    {"overwrite", 0, "replace a database that holds objects, or a non-empty data directory", NULL,
     NULL},
    {"jobs", 1, "parallel pg_restore jobs (default: restore_jobs)", "mode=logical", NULL},
    {"to-time", 1, "recover to this time, e.g. '2026-04-01 12:30:00+00' (point-in-time recovery)",
     "mode=physical", "to-lsn,to-xid"},
    {"to-lsn", 1, "recover to this WAL position, e.g. 0/3000060", "mode=physical",
     "to-time,to-xid"},
    {"to-xid", 1, "recover to just after this transaction id", "mode=physical", "to-time,to-lsn"},
    {"start", 0, "start a server on the restored data directory and wait for recovery",
     "mode=physical", NULL},
    {"no-archive", 0,
     "with --start: the server runs with archive_mode = off (drills and copies must not push "
     "WAL into the production archive)",
     "mode=physical", NULL},
    {NULL, 0, NULL, NULL, NULL},
};

static const struct arca_op_option pg_health_options[] = {
    {"into", 1,
     "look at this server instead of the target's: a conninfo, or the data directory of a "
     "restored server that runs (arca restore --start)",
     NULL, NULL},
    {"standby", 0, "a server in recovery (a standby, or still replaying WAL) is healthy too", NULL,
     NULL},
    {NULL, 0, NULL, NULL, NULL},
};

static int pg_health_op(void *instance, struct arca_ctx *ctx)
{
	int rc = pg_env_load(instance, ctx);
	return rc == ARCA_OK ? pg_health(instance, ctx) : rc;
}

static const struct arca_verb pg_verbs[] = {
    {"wal-push", "PATH", "archive one WAL segment (PostgreSQL archive_command)",
     "For archive_command = 'arca wal-push TARGET %p'. Exits 0 only once the\n"
     "segment is durable in every destination of TARGET. Pushing an identical\n"
     "segment again succeeds; a different one under the same name fails.\n",
     1, 1, 0},
    {"wal-get", "NAME PATH", "fetch one WAL segment (PostgreSQL restore_command)",
     "For restore_command = 'arca wal-get TARGET %f %p'. Exits 8 when the segment\n"
     "does not exist, which ends recovery cleanly.\n",
     2, 2, ARCA_VERB_QUIET_NOT_FOUND},
    {NULL, NULL, NULL, NULL, 0, 0, 0},
};

/* After forget: archived WAL the oldest kept base backup no longer needs. */
static int pg_after_forget(void *instance, struct arca_ctx *ctx)
{
	return wal_prune(instance, ctx, 0, NULL);
}

/* After verify: the WAL the oldest kept base backup needs is still there. */
static int pg_verify_oldest(void *instance, struct arca_ctx *ctx)
{
	return physical_verify_oldest(instance, ctx, 0, NULL);
}

static const struct arca_target_ops pg_target_ops = {
    .struct_size = sizeof(struct arca_target_ops),
    .restore_options = pg_restore_options,
    .verbs = pg_verbs,
    .after_forget = pg_after_forget,
    .verify_oldest = pg_verify_oldest,
    .health_options = pg_health_options,
    .health = pg_health_op,
    .open = pg_open,
    .check = pg_check,
    .snapshot = pg_snapshot,
    .restore = pg_restore_op,
    .verify = pg_verify,
    .close = pg_close,
    .command = pg_command,
};

static const struct arca_driver pg_driver = {
    .abi_major = ARCA_ABI_MAJOR,
    .struct_size = sizeof(struct arca_driver),
    .name = "postgres",
    .version = "0.1.0",
    .description = "PostgreSQL: pg_dump streams, base backups, WAL archiving, "
                   "point-in-time restore",
    .target_options = pg_options,
    .dest_options = NULL,
    .target = &pg_target_ops,
    .dest = NULL,
};

ARCA_DRIVER_EXPORT const struct arca_driver *arca_driver_entry(const struct arca_host *host);

const struct arca_driver *arca_driver_entry(const struct arca_host *host)
{
	/* Every host call up to item_rewind is used; an older engine lacks some. */
	if (!host || host->abi_major != ARCA_ABI_MAJOR || !ARCA_HOST_HAS(host, item_rewind))
		return NULL;
	pg_host = host;
	return &pg_driver;
}
