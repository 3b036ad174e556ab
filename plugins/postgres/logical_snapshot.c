/* logical_snapshot.c — mode = logical: snapshot and check.
 *
 * Snapshot: `pg_dump -Fc -Z0` writes to a pipe that goes straight into the
 * item "dump/DBNAME.pgdump" (no temp file; the engine compresses and
 * deduplicates, which -Z0 leaves it free to do). A reader thread keeps
 * the pipe drained and regroups pg_dump's per-row chunks (dumpframe.c) on
 * the way. pg_dump's exit status is checked after the stream ends: a dump
 * that fails or is killed half way is an error, and the engine then records
 * no snapshot. With globals = yes `pg_dumpall --globals-only` is stored
 * first as "globals.sql".
 *
 * Check: the server is reachable and pg_dump is at least as new as it. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "pg.h"

#define IO_BUF (1u << 20)

/* The pump's filter for pg_dump's output: regroup its per-row chunks. */
static int frame_filter(void *arg, const void *in, size_t n, struct fbuf *out)
{
	struct dump_frame *f = arg;
	return in ? dump_frame_feed(f, in, n, out) : dump_frame_finish(f, out);
}

/* Stream a child's stdout into one item. A reader thread keeps the pipe
 * drained while the engine works on the previous buffer; `frame` (may be
 * NULL) regroups a custom-format dump on the way. */
static int stream_child(struct pg_target *t, struct arca_ctx *ctx, char **argv,
                        const char *password, const struct arca_item_info *info, const char *what,
                        struct dump_frame *frame)
{
	struct pg_child c;
	struct child_pump *pump = NULL;
	struct child_spec spec = CHILD_SPEC_INIT;
	spec.argv = argv;
	spec.t = t;
	spec.connects = 1;
	spec.password = password;
	spec.pipes = CHILD_STDOUT;
	int rc = child_start(&c, &spec);
	if (rc != ARCA_OK)
		return rc;
	if ((rc = pump_start(&pump, &c, IO_BUF, frame ? frame_filter : NULL, frame)) != ARCA_OK ||
	    (rc = pg_host->item_begin(ctx, info)) != ARCA_OK)
		goto fail;
	uint64_t total = 0;
	for (;;) {
		const void *data;
		size_t len;
		if (pg_host->cancelled(ctx)) {
			rc = PG_ERR(ARCA_ERR_CANCELLED, "%s interrupted", what);
			goto fail;
		}
		if ((rc = pump_next(pump, &data, &len)) != ARCA_OK)
			goto fail;
		if (len == 0)
			break;
		rc = pg_host->item_write(ctx, data, len);
		pump_release(pump);
		if (rc != ARCA_OK)
			goto fail;
		total += len;
	}
	pump_stop(pump);
	if (child_wait(&c) != 0) {
		char how[160];
		child_describe(&c, how, sizeof how);
		return PG_ERR(child_error_status(&c),
		              "[target %s]: %s failed after %llu bytes: %s; its last words: %s",
		              t->name, what, (unsigned long long)total, how, child_stderr(&c));
	}
	if (total == 0)
		return PG_ERR(ARCA_ERR_IO, "[target %s]: %s wrote nothing: %s", t->name, what,
		              child_stderr(&c));
	if (c.err_len)
		PG_LOG(ARCA_LOG_WARN, "%s said: %s", what, child_stderr(&c));
	if (frame && dump_frame_note(frame))
		PG_LOG(ARCA_LOG_INFO, "%s stored as pg_dump wrote it: %s", what,
		       dump_frame_note(frame));
	return pg_host->item_end(ctx);
fail:
	/* The reader thread may be blocked on the pipe: end the child (its
	 * stdout closes), then the thread, then reap. */
	if (c.pid > 0)
		kill(c.pid, SIGKILL);
	pump_stop(pump);
	child_kill(&c);
	return rc;
}

/* "dump/" + the database name, '/' escaped so it stays one path part. */
static char *dump_item_name(const char *db)
{
	size_t n = strlen(db);
	char *s = malloc(sizeof DUMP_PREFIX + 3 * n + sizeof DUMP_SUFFIX);
	if (!s)
		return NULL;
	char *p = stpcpy(s, DUMP_PREFIX);
	for (const char *d = db; *d; d++) {
		if (*d == '/' || *d == '%')
			p += sprintf(p, "%%%02X", (unsigned char)*d);
		else
			*p++ = *d;
	}
	strcpy(p, DUMP_SUFFIX);
	return s;
}

int logical_snapshot(struct pg_target *t, struct arca_ctx *ctx)
{
	PGconn *c = NULL;
	char *password = NULL, *super = NULL, *item = NULL, *conninfo = NULL;
	char *pg_dump = NULL, *pg_dumpall = NULL, meta[1024], gmeta[1100], dmeta[1100];
	/* Connect first: a wrong password or a missing database is reported
	 * as such, before any child program runs. */
	int rc = pg_connect(t, NULL, NULL, 0, &c);
	if (rc != ARCA_OK)
		return rc;
	const char *version = PQparameterStatus(c, "server_version");
	char *db = strdup(PQdb(c));
	rc =
	    pg_query_value(c, "SELECT rolsuper FROM pg_roles WHERE rolname = current_user", &super);
	snprintf(meta, sizeof meta, "database=%s\nserver_version=%s\n", db ? db : "",
	         version ? version : "unknown");
	snprintf(gmeta, sizeof gmeta, "format=sql\n%s", meta);
	snprintf(dmeta, sizeof dmeta, "format=custom\n%s", meta);
	PQfinish(c);
	if (rc != ARCA_OK || !db)
		goto out;
	if ((rc = pg_password(t, &password)) != ARCA_OK)
		goto out;
	rc = ARCA_ERR_INTERNAL;
	if (!(item = dump_item_name(db)) ||
	    !(conninfo = pg_conninfo_build(t->conninfo, NULL, NULL)))
		goto out;

	struct arca_item_info info;
	memset(&info, 0, sizeof info);
	info.struct_size = sizeof info;
	info.type = ARCA_ITEM_STREAM;
	info.mode = 0600;
	info.mtime_sec = time(NULL);
	info.size = UINT64_MAX;

	if (t->globals) {
		rc = ARCA_ERR_CONFIG;
		if (!(pg_dumpall = pg_program(t, "pg_dumpall")))
			goto out;
		int is_super = super && strcmp(super, "t") == 0;
		char *argv[] = {
		    pg_dumpall, "--globals-only", "--no-password",
		    "-d",       conninfo,         is_super ? NULL : "--no-role-passwords",
		    NULL};
		if (!is_super)
			PG_LOG(ARCA_LOG_WARN, "the role is not a superuser: role "
			                      "passwords are left out of globals.sql");
		info.name = GLOBALS_ITEM;
		info.meta = gmeta;
		rc = stream_child(t, ctx, argv, password, &info, "pg_dumpall --globals-only", NULL);
		if (rc != ARCA_OK)
			goto out;
	}

	rc = ARCA_ERR_CONFIG;
	if (!(pg_dump = pg_program(t, "pg_dump")))
		goto out;
	char *argv[] = {pg_dump, "--format=custom", "--compress=0", "--no-password", "-d", conninfo,
	                NULL};
	info.name = item;
	info.meta = dmeta;
	char what[512];
	snprintf(what, sizeof what, "pg_dump of database \"%s\"", db);
	struct dump_frame *frame = dump_frame_new();
	if (!frame) {
		rc = PG_ERR(ARCA_ERR_INTERNAL, "out of memory");
		goto out;
	}
	rc = stream_child(t, ctx, argv, password, &info, what, frame);
	dump_frame_free(frame);
out:
	pg_secret_free(password);
	free(super);
	free(db);
	free(item);
	free(conninfo);
	free(pg_dump);
	free(pg_dumpall);
	return rc;
}

int logical_check(struct pg_target *t, struct arca_ctx *ctx)
{
	(void)ctx;
	PGconn *c = NULL;
	char *out = NULL;
	int rc = pg_connect(t, NULL, NULL, 0, &c);
	if (rc != ARCA_OK)
		return rc;
	int server = PQserverVersion(c);
	char where[512];
	pg_describe(c, where, sizeof where);
	PQfinish(c);
	char *pg_dump = pg_program(t, "pg_dump");
	if (!pg_dump)
		return ARCA_ERR_CONFIG;
	char *argv[] = {pg_dump, "--version", NULL};
	struct child_spec spec = CHILD_SPEC_INIT;
	spec.argv = argv;
	spec.t = t;
	rc = child_run(&spec, &out);
	if (rc == ARCA_OK) {
		/* "pg_dump (PostgreSQL) 15.5 (Debian 15.5-0+deb12u1)" */
		const char *v = strstr(out, ") ");
		int major = v ? atoi(v + 2) : 0;
		if (major * 10000 < server / 10000 * 10000)
			rc = PG_ERR(
			    ARCA_ERR_CONFIG,
			    "[target %s]: %s is version %d but the server is %d: pg_dump must "
			    "be at least as new as the server; point pg_bin_dir at a newer one",
			    t->name, pg_dump, major, server / 10000);
		else
			PG_LOG(ARCA_LOG_INFO, "reached %s (server %d.%d); %s is version %d", where,
			       server / 10000, server % 10000, pg_dump, major);
	}
	free(out);
	free(pg_dump);
	return rc;
}
