/* logical_restore.c — mode = logical: restore a pg_dump custom-format stream.
 *
 * pg_restore --clean --if-exists into the original database or
 * --into CONNINFO; a database holding user objects only with --overwrite,
 * and a missing one created with its owner, encoding, locale, settings,
 * comment and privileges as the dump recorded them (dbprops.c); with
 * --jobs > 1 the dump is first copied out, because parallel pg_restore
 * needs a seekable file, and given back the data offsets a piped dump
 * lacks, laid out so that pg_restore loads the tables with the most work
 * first (dumpfix.c, while copying); with --jobs 1 it is piped. The copy
 * goes to memory (a memfd) when the dump takes under a quarter of the
 * memory available, else to the scratch directory (restore_copy chooses),
 * so a restore needs no scratch space for the dump and writes nothing to
 * disk but the database. The copy is bound by decrypting, checking and
 * decompressing, to memory or to disk alike; CREATE DATABASE (which waits
 * for a checkpoint) runs meanwhile. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include "pg.h"

#define IO_BUF (1u << 20)

/* Where a parallel restore's seekable copy of the dump is kept. */
struct dump_copy {
	int fd;
	char *arg;     /* the file name pg_restore is given */
	char *scratch; /* a scratch file to remove afterwards; NULL: in memory */
};

/* The first number in a file; 0 when unreadable (or "max"). */
static uint64_t read_number(const char *path)
{
	FILE *f = fopen(path, "re");
	unsigned long long v = 0;
	if (f) {
		if (fscanf(f, "%llu", &v) != 1)
			v = 0;
		fclose(f);
	}
	return (uint64_t)v;
}

/* What our memory cgroup still allows: a container or a systemd unit with
 * MemoryMax= would kill the restore long before MemAvailable runs out.
 * UINT64_MAX when there is no limit (or it cannot be read). */
static uint64_t cgroup_room(void)
{
	FILE *f = fopen("/proc/self/cgroup", "re");
	char line[4096], v1[4096] = "", v2[4096] = "", path[4200];
	while (f && fgets(line, sizeof line, f)) {
		line[strcspn(line, "\n")] = 0;
		const char *mem = strstr(line, ":memory:");
		if (strncmp(line, "0::", 3) == 0)
			snprintf(v2, sizeof v2, "%s", line + 3);
		else if (mem)
			snprintf(v1, sizeof v1, "%s", mem + 8);
	}
	if (f)
		fclose(f);
	uint64_t limit = 0, used = 0;
	if (v1[0]) { /* the memory controller on cgroup v1 (or a hybrid) */
		snprintf(path, sizeof path, "/sys/fs/cgroup/memory%s/memory.limit_in_bytes", v1);
		limit = read_number(path);
		snprintf(path, sizeof path, "/sys/fs/cgroup/memory%s/memory.usage_in_bytes", v1);
		used = read_number(path);
	} else if (v2[0]) {
		snprintf(path, sizeof path, "/sys/fs/cgroup%s/memory.max", v2);
		limit = read_number(path);
		snprintf(path, sizeof path, "/sys/fs/cgroup%s/memory.current", v2);
		used = read_number(path);
	}
	/* v1 says "no limit" with a huge number */
	if (!limit || limit >= (1ull << 60))
		return UINT64_MAX;
	return limit > used ? limit - used : 0;
}

/* Bytes we could take without swapping or hitting our cgroup's limit. */
static uint64_t mem_available(void)
{
	FILE *f = fopen("/proc/meminfo", "re");
	unsigned long long kib = 0;
	char line[128];
	while (f && fgets(line, sizeof line, f))
		if (sscanf(line, "MemAvailable: %llu kB", &kib) == 1)
			break;
	if (f)
		fclose(f);
	uint64_t avail = (uint64_t)kib * 1024, room = cgroup_room();
	return room < avail ? room : avail;
}

/* restore_copy = auto: a memfd when the dump fits in a quarter of the
 * available memory (the server restoring it needs the rest; a memfd is
 * charged to our cgroup), else a file
 * in the scratch dir. pg_restore gets the memfd as fd 3 and opens
 * "/dev/fd/3"; its parallel workers inherit that descriptor and reopen
 * the name the same way. */
static int copy_open(struct pg_target *t, struct arca_ctx *ctx, uint64_t size, struct dump_copy *cp)
{
	cp->fd = -1;
	cp->arg = cp->scratch = NULL;
	int memory = strcmp(t->restore_copy, "memory") == 0 ||
	             (strcmp(t->restore_copy, "auto") == 0 && size != UINT64_MAX &&
	              size <= mem_available() / 4);
	if (memory) {
		cp->fd = memfd_create("arca-restore.pgdump", MFD_CLOEXEC);
		if (cp->fd >= 0) {
			if (asprintf(&cp->arg, "/dev/fd/%d", CHILD_PASSED_FD) < 0) {
				cp->arg = NULL;
				return PG_ERR(ARCA_ERR_INTERNAL, "out of memory");
			}
			PG_LOG(ARCA_LOG_DEBUG, "copying the dump to memory for pg_restore --jobs");
			return ARCA_OK;
		}
		PG_LOG(ARCA_LOG_WARN,
		       "cannot copy the dump to memory (memfd_create: %s); "
		       "copying it to the scratch directory",
		       strerror(errno));
	}
	const char *dir = pg_host->scratch_dir(ctx);
	if (!dir)
		return PG_ERR(ARCA_ERR_IO, "no scratch directory for the parallel restore");
	if (asprintf(&cp->scratch, "%s/restore.pgdump", dir) < 0) {
		cp->scratch = NULL;
		return PG_ERR(ARCA_ERR_INTERNAL, "out of memory");
	}
	if (!(cp->arg = strdup(cp->scratch)))
		return PG_ERR(ARCA_ERR_INTERNAL, "out of memory");
	cp->fd = open(cp->scratch, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (cp->fd < 0)
		return PG_ERR(errno == ENOSPC ? ARCA_ERR_NOSPACE : ARCA_ERR_IO,
		              "cannot create %s: %s", cp->scratch, strerror(errno));
	PG_LOG(ARCA_LOG_DEBUG, "copying the dump to %s for pg_restore --jobs", cp->scratch);
	return ARCA_OK;
}

static void copy_close(struct dump_copy *cp)
{
	if (cp->fd >= 0)
		close(cp->fd);
	if (cp->scratch)
		unlink(cp->scratch);
	free(cp->scratch);
	free(cp->arg);
	cp->fd = -1;
	cp->arg = cp->scratch = NULL;
}

/* Copy the current item into cp, finding its data blocks on the way. */
static int copy_item(struct arca_ctx *ctx, struct dump_copy *cp, struct dump_offsets *offs,
                     int planned, int *too_big)
{
	const char *what = cp->scratch ? cp->scratch : "memory";
	unsigned char *buf = malloc(IO_BUF);
	int rc = buf ? ARCA_OK : PG_ERR(ARCA_ERR_INTERNAL, "out of memory");
	uint64_t in = 0;
	while (rc == ARCA_OK) {
		size_t got = 0;
		if (pg_host->cancelled(ctx)) {
			rc = PG_ERR(ARCA_ERR_CANCELLED, "interrupted");
			break;
		}
		if ((rc = pg_host->item_read(ctx, buf, IO_BUF, &got)) != ARCA_OK || got == 0)
			break;
		dump_offsets_feed(offs, buf, got);
		int failed = 0;
		for (size_t done = 0; done < got && !failed;) {
			uint64_t out;
			size_t n = dump_offsets_place(offs, in + done, got - done, &out);
			failed = pg_pwrite_all(cp->fd, buf + done, n, (off_t)out) != 0;
			done += n;
		}
		in += got;
		if (failed && errno == EFBIG && planned) {
			rc = ARCA_ERR_IO; /* the holes: the caller copies it as it is */
			*too_big = 1;
		} else if (failed) {
			int full = errno == ENOSPC || errno == EDQUOT || errno == ENOMEM;
			rc = PG_ERR(full ? ARCA_ERR_NOSPACE : ARCA_ERR_IO,
			            "copying the dump to %s: %s%s", what, strerror(errno),
			            full ? "; free space there, or restore with "
			                   "--jobs 1 to stream without a copy"
			                 : "");
		}
	}
	free(buf);
	return rc;
}

/* Role names created by globals.sql ("CREATE ROLE name;" lines). */
static int globals_roles_missing(PGconn *c, const char *sql)
{
	int missing = 0;
	for (const char *p = sql; p && *p && !missing;) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		if (len > 13 && strncmp(p, "CREATE ROLE ", 12) == 0 && p[len - 1] == ';') {
			char *ident = strndup(p + 12, len - 13);
			if (!ident)
				return 1;
			char *lit = PQescapeLiteral(c, ident, strlen(ident));
			/* pg_dumpall quotes identifiers that need it; compare
			 * the way PostgreSQL itself parses them. */
			char *sqlq = NULL;
			if (lit && asprintf(&sqlq,
			                    "SELECT count(*) FROM pg_roles WHERE rolname = "
			                    "(parse_ident(%s))[1]",
			                    lit) > 0) {
				char *v = NULL;
				if (pg_query_value(c, sqlq, &v) == ARCA_OK && v &&
				    strcmp(v, "0") == 0)
					missing = 1;
				free(v);
			}
			free(sqlq);
			PQfreemem(lit);
			free(ident);
		}
		p = nl ? nl + 1 : NULL;
	}
	return missing;
}

/* Replay globals.sql with psql; "already exists" errors are expected on a
 * server that has some of the roles, others are reported as warnings. */
static int restore_globals(struct pg_target *t, struct arca_ctx *ctx, const char *conninfo,
                           const char *password, PGconn *admin)
{
	char *sql = NULL;
	size_t len = 0;
	int rc = pg_item_open(ctx, GLOBALS_ITEM);
	if (rc == ARCA_OK)
		rc = pg_read_current(ctx, &sql, &len, 64u << 20);
	if (rc != ARCA_OK)
		return rc;
	if (strcmp(t->restore_globals, "auto") == 0 && !globals_roles_missing(admin, sql)) {
		PG_LOG(ARCA_LOG_INFO,
		       "every role in globals.sql exists on the server: not replaying "
		       "it (restore_globals = yes forces it)");
		free(sql);
		return ARCA_OK;
	}
	char *psql = pg_program(t, "psql");
	if (!psql) {
		free(sql);
		return ARCA_ERR_CONFIG;
	}
	char *argv[] = {
	    psql, "-X", "-q", "--no-password", "-v", "ON_ERROR_STOP=0", "-d", (char *)conninfo,
	    "-f", "-",  NULL};
	struct child_spec spec = CHILD_SPEC_INIT;
	struct pg_child c;
	spec.argv = argv;
	spec.t = t;
	spec.connects = 1;
	spec.password = password;
	spec.pipes = CHILD_STDIN;
	rc = child_start(&c, &spec);
	if (rc == ARCA_OK) {
		int closed = child_write(&c, sql, len) != ARCA_OK;
		int failed = child_wait(&c) != 0;
		if (failed || closed) {
			char how[160];
			child_describe(&c, how, sizeof how);
			rc = PG_ERR(child_error_status(&c),
			            "[target %s]: replaying globals.sql failed: %s: %s", t->name,
			            how, child_stderr(&c));
		} else {
			int errors = 0, expected = 0;
			for (const char *p = c.err; (p = strstr(p, "ERROR:")); p++) {
				const char *eol = strchr(p, '\n');
				const char *ex = strstr(p, "already exists");
				if (ex && (!eol || ex < eol))
					expected++;
				else
					errors++;
			}
			PG_LOG(ARCA_LOG_INFO, "replayed globals.sql (%d objects already existed)",
			       expected);
			if (errors)
				PG_LOG(ARCA_LOG_WARN, "globals.sql: %d statements failed: %s",
				       errors, child_stderr(&c));
		}
	}
	free(psql);
	free(sql);
	return rc;
}

/* Connect to the restore target. An existing database that holds user
 * objects is replaced only with --overwrite (and says what it replaces).
 * A missing one is created as the dump recorded it (props: encoding,
 * locale; owner and the rest are applied once the roles are back), the
 * CREATE DATABASE sent without waiting for it (*creating = 1): the copy of
 * the dump is made meanwhile, and create_finish collects the result. An
 * existing database needs the admin connection only to replay globals
 * (need_admin): each login is a SCRAM exchange, not free. */
static int prepare_database(struct pg_target *t, struct arca_ctx *ctx, const char *dump,
                            const char *into, const char *db, int need_admin, PGconn **admin_out,
                            int *creating, struct db_props *props)
{
	PGconn *c = NULL;
	*admin_out = NULL;
	*creating = 0;
	int rc = pg_connect(t, into, db, 0, &c);
	if (rc == ARCA_OK) {
		char what[512];
		int any = 0;
		rc = dbprops_user_objects(t, c, db, what, sizeof what, &any);
		PQfinish(c);
		if (rc != ARCA_OK)
			return rc;
		if (any && !pg_host->option(ctx, "overwrite"))
			return PG_ERR(ARCA_ERR_EXISTS,
			              "[target %s]: database \"%s\" is not empty (it holds %s); "
			              "refusing to replace it. Restore beside it with --into "
			              "'dbname=NEWNAME' (arca creates that database), or replace "
			              "it with --overwrite",
			              t->name, db, what);
		if (any)
			PG_LOG(ARCA_LOG_WARN,
			       "--overwrite: replacing what database \"%s\" holds "
			       "(%s) with the snapshot's objects",
			       db, what);
		if (!need_admin)
			return ARCA_OK;
		return pg_connect(t, into, "postgres", 0, admin_out) == ARCA_OK
		           ? ARCA_OK
		           : pg_connect(t, into, db, 0, admin_out);
	}
	if (rc != ARCA_ERR_NOT_FOUND)
		return rc;
	rc = pg_connect(t, into, "postgres", 0, &c);
	if (rc != ARCA_OK)
		return rc;
	rc = dbprops_read(t, ctx, dump, c, db, props);
	char *ident = PQescapeIdentifier(c, db, strlen(db));
	char *sql = NULL;
	if (rc == ARCA_OK && !props->create && ident &&
	    asprintf(&sql, "CREATE DATABASE %s TEMPLATE template0", ident) < 0)
		sql = NULL;
	const char *create = props->create ? props->create : sql;
	if (rc != ARCA_OK || !create) {
		if (rc == ARCA_OK)
			rc = PG_ERR(ARCA_ERR_INTERNAL, "out of memory");
		PQfreemem(ident);
		PQfinish(c);
		return rc;
	}
	if (!PQsendQuery(c, create)) {
		char msg[1024];
		rc = PG_ERR(ARCA_ERR_IO, "[target %s]: sending CREATE DATABASE failed: %s", t->name,
		            pg_conn_error(c, msg, sizeof msg));
		PQfinish(c);
	} else {
		*admin_out = c;
		*creating = 1;
	}
	free(sql);
	PQfreemem(ident);
	return rc;
}

/* Wait for the CREATE DATABASE prepare_database sent. */
static int create_finish(struct pg_target *t, PGconn *c, const char *db)
{
	int rc = ARCA_OK;
	PGresult *r;
	while ((r = PQgetResult(c)) != NULL) {
		if (rc == ARCA_OK && PQresultStatus(r) != PGRES_COMMAND_OK) {
			char msg[1024];
			rc = PG_ERR(pg_classify_error(PQerrorMessage(c)) == ARCA_ERR_AUTH
			                ? ARCA_ERR_AUTH
			                : ARCA_ERR_IO,
			            "[target %s]: database \"%s\" does not exist and creating it "
			            "failed: %s (arca creates it with the encoding and locale the "
			            "dump recorded; for other settings, create it yourself and "
			            "restore again)",
			            t->name, db, pg_conn_error(c, msg, sizeof msg));
		}
		PQclear(r);
	}
	if (rc == ARCA_OK)
		PG_LOG(ARCA_LOG_INFO, "created database \"%s\"", db);
	return rc;
}

/* Copy the dump for a parallel restore (the current item), point its TOC
 * at the blocks, and lay them out so that the tables with the most work
 * are loaded first (dumpfix.c). A dump the walker cannot follow is copied
 * again as it is: the planned copy has holes where nothing may be read. */
static int copy_for_parallel(struct pg_target *t, struct arca_ctx *ctx, const char *dump,
                             uint64_t size, struct dump_copy *cp)
{
	int rc = copy_open(t, ctx, size, cp);
	for (int plan = 1; rc == ARCA_OK; plan = 0) {
		struct dump_offsets *offs = dump_offsets_new();
		if (!offs)
			return PG_ERR(ARCA_ERR_INTERNAL, "out of memory");
		if (plan)
			dump_offsets_plan(offs);
		char why[256];
		int too_big = 0;
		rc = copy_item(ctx, cp, offs, plan, &too_big);
		int fixed = rc == ARCA_OK && dump_offsets_apply(offs, cp->fd, why, sizeof why) == 0;
		dump_offsets_free(offs);
		if (too_big) {
			rc = ARCA_OK;
			snprintf(why, sizeof why, "its holes make a file larger than %s allows",
			         cp->scratch ? cp->scratch : "memory");
		} else if (rc != ARCA_OK || fixed) {
			struct stat st;
			if (fixed && plan && fstat(cp->fd, &st) == 0)
				PG_LOG(ARCA_LOG_DEBUG,
				       "%s: %s; tables ordered by their work (the copy of %llu "
				       "bytes reads as %llu)",
				       dump, why, (unsigned long long)size,
				       (unsigned long long)st.st_size);
			else if (fixed)
				PG_LOG(ARCA_LOG_DEBUG, "%s: %s", dump, why);
			return rc;
		}
		if (!plan) {
			PG_LOG(ARCA_LOG_WARN,
			       "%s: cannot set its data offsets (%s); the parallel "
			       "restore will be slower",
			       dump, why);
			return ARCA_OK;
		}
		PG_LOG(ARCA_LOG_INFO, "%s: %s; copying it again as it is", dump, why);
		struct arca_item_info info;
		memset(&info, 0, sizeof info);
		info.struct_size = sizeof info;
		if (ftruncate(cp->fd, 0) != 0)
			return PG_ERR(ARCA_ERR_IO, "cannot empty the copy of the dump: %s",
			              strerror(errno));
		rc = pg_host->item_open(ctx, dump, &info);
	}
	return rc;
}

int logical_restore(struct pg_target *t, struct arca_ctx *ctx)
{
	struct logical_items li;
	struct dump_copy copy = {-1, NULL, NULL};
	PGconn *admin = NULL;
	char *conninfo = NULL, *admin_conninfo = NULL, *password = NULL, *into_db = NULL;
	char *pg_restore = NULL;
	struct db_props props;
	memset(&props, 0, sizeof props);
	int creating = 0, created = 0;
	int64_t jobs;
	int rc = pg_option_int(ctx, "jobs", t->restore_jobs, &jobs);
	if (rc != ARCA_OK)
		return rc;
	rc = logical_items_find(t, ctx, &li);
	if (rc != ARCA_OK) {
		logical_items_free(&li);
		return rc;
	}
	const char *into = pg_host->option(ctx, "into");
	if (!into)
		into = t->conninfo;
	/* --into without a database restores into one named like the original. */
	into_db = pg_conninfo_dbname(into);
	const char *db = into_db ? into_db : li.dump_db;
	if (!db) {
		rc = PG_ERR(ARCA_ERR_CONFIG, "--into names no database and the dump does not say "
		                             "which one it came from: add dbname=NAME");
		goto out;
	}
	rc = ARCA_ERR_INTERNAL;
	if (!(conninfo = pg_conninfo_build(into, db, &password)) ||
	    !(admin_conninfo = pg_conninfo_build(into, "postgres", NULL)))
		goto out;
	pg_secret_free(password);
	password = NULL;
	if ((rc = pg_password_for(t, into, &password)) != ARCA_OK)
		goto out;
	rc = ARCA_ERR_CONFIG;
	if (!(pg_restore = pg_program(t, "pg_restore")))
		goto out;
	int globals = li.has_globals && strcmp(t->restore_globals, "no") != 0;
	if ((rc = prepare_database(t, ctx, li.dump, into, db, globals, &admin, &creating,
	                           &props)) != ARCA_OK)
		goto out;

	if (jobs > 1) {
		struct arca_item_info info;
		memset(&info, 0, sizeof info);
		info.struct_size = sizeof info;
		if ((rc = pg_host->item_open(ctx, li.dump, &info)) != ARCA_OK ||
		    (rc = copy_for_parallel(t, ctx, li.dump, info.size, &copy)) != ARCA_OK)
			goto out;
	}
	if (creating) {
		creating = 0;
		if ((rc = create_finish(t, admin, db)) != ARCA_OK)
			goto out;
		created = 1;
	}
	if (globals) {
		rc = restore_globals(t, ctx, admin_conninfo, password, admin);
		if (rc != ARCA_OK)
			goto out;
	}
	/* Owner, settings, comment, privileges: after the roles are back. */
	if (created)
		dbprops_apply(t, admin, &props, db);
	PQfinish(admin);
	admin = NULL;
	if (jobs == 1 && (rc = pg_item_open(ctx, li.dump)) != ARCA_OK)
		goto out;

	char jobs_arg[32];
	snprintf(jobs_arg, sizeof jobs_arg, "--jobs=%lld", (long long)jobs);
	struct child_spec spec = CHILD_SPEC_INIT;
	struct pg_child c;
	int closed = 0;
	spec.t = t;
	spec.connects = 1;
	spec.password = password;
	if (jobs > 1) {
		char *argv[] = {pg_restore,      "--clean", "--if-exists",
		                "--no-password", jobs_arg,  "-d",
		                conninfo,        copy.arg,  NULL};
		spec.argv = argv;
		if (!copy.scratch)
			spec.pass_fd = copy.fd;
		if ((rc = child_start(&c, &spec)) != ARCA_OK)
			goto out;
	} else {
		char *argv[] = {pg_restore, "--clean", "--if-exists", "--no-password",
		                "-d",       conninfo,  NULL};
		spec.argv = argv;
		spec.pipes = CHILD_STDIN;
		if ((rc = child_start(&c, &spec)) != ARCA_OK)
			goto out;
		if ((rc = pg_pipe_current(ctx, &c, &closed)) != ARCA_OK) {
			child_kill(&c);
			goto out;
		}
	}
	if (child_wait(&c) != 0 || closed) {
		char how[160];
		child_describe(&c, how, sizeof how);
		rc = PG_ERR(child_error_status(&c),
		            "[target %s]: pg_restore into database \"%s\" failed: "
		            "%s: %s",
		            t->name, db, how, child_stderr(&c));
		goto out;
	}
	if (c.err_len)
		PG_LOG(ARCA_LOG_WARN, "pg_restore said: %s", child_stderr(&c));
	PG_LOG(ARCA_LOG_INFO, "restored %s into database \"%s\" (%lld job%s)", li.dump, db,
	       (long long)jobs, jobs == 1 ? "" : "s");
	rc = ARCA_OK;
out:
	if (creating) { /* an error cut in: let the server finish before we go */
		PGresult *r;
		while ((r = PQgetResult(admin)) != NULL)
			PQclear(r);
	}
	copy_close(&copy);
	PQfinish(admin);
	dbprops_free(&props);
	logical_items_free(&li);
	free(conninfo);
	free(admin_conninfo);
	pg_secret_free(password);
	free(into_db);
	free(pg_restore);
	return rc;
}
