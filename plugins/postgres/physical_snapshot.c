/* physical_snapshot.c — mode = physical: a base backup over the replication protocol.
 *
 * BASE_BACKUP (LABEL, PROGRESS, CHECKPOINT 'fast', MANIFEST 'yes') on a
 * replication=true libpq connection. Since PostgreSQL 15 the server sends
 * one COPY stream whose CopyData messages start with a type byte: 'n' a new
 * archive (base.tar, then OID.tar per tablespace), 'd' data of the current
 * archive or of the manifest, 'p' progress, 'm' the manifest follows. The
 * tar streams are parsed on the fly into one item per file, directory and
 * symlink ("base/PATH" for the data directory, "tblspc/OID/PATH" for a
 * tablespace): per-file items let the engine deduplicate unchanged relation
 * files between backups. The manifest becomes the last item,
 * "backup_manifest", with the backup's WAL range in its metadata.
 *
 * The backup is only useful with the WAL from its start to its end, which
 * archive_command (`arca wal-push TARGET %p`) stores. The server waits at
 * the end of BASE_BACKUP until that WAL is archived; the snapshot then
 * checks the segments are in this target's archive and fails otherwise,
 * so an unrestorable backup is never recorded.
 *
 * Check: the settings backups and archiving need, a replication
 * connection, and a switched WAL segment that must reach the archive. */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "pg.h"

/* ---- settings ------------------------------------------------------------- */

static char *show(PGconn *c, const char *name)
{
	char sql[128], *v = NULL;
	snprintf(sql, sizeof sql, "SHOW %s", name);
	PGresult *r = PQexec(c, sql);
	if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
		v = strdup(PQgetvalue(r, 0, 0));
	PQclear(r);
	return v;
}

/* "16MB" -> 16777216 */
static uint64_t parse_pg_size(const char *s)
{
	char *end = NULL;
	uint64_t v = strtoull(s, &end, 10);
	if (!end)
		return 0;
	if (strcmp(end, "kB") == 0)
		v <<= 10;
	else if (strcmp(end, "MB") == 0)
		v <<= 20;
	else if (strcmp(end, "GB") == 0)
		v <<= 30;
	else if (*end)
		return 0;
	return v;
}

/* The settings that physical backups and WAL archiving need. */
static int physical_check_settings(struct pg_target *t, PGconn *c)
{
	char *level = show(c, "wal_level");
	char *mode = show(c, "archive_mode");
	char *cmd = show(c, "archive_command");
	int rc = ARCA_OK;
	if (!level || !mode) {
		rc = PG_ERR(ARCA_ERR_IO,
		            "[target %s]: cannot read wal_level/archive_mode from the "
		            "server",
		            t->name);
	} else if (strcmp(level, "minimal") == 0) {
		rc = PG_ERR(
		    ARCA_ERR_CONFIG,
		    "[target %s]: wal_level is minimal: physical backups and WAL archiving "
		    "need wal_level = replica (or logical) in postgresql.conf, then a server "
		    "restart",
		    t->name);
	} else if (strcmp(mode, "off") == 0) {
		rc = PG_ERR(
		    ARCA_ERR_CONFIG,
		    "[target %s]: archive_mode is off: set archive_mode = on and "
		    "archive_command = 'arca wal-push %s %%p' in postgresql.conf, then restart "
		    "the server; without archived WAL a base backup cannot be restored",
		    t->name, t->name);
	} else if (cmd && (!strstr(cmd, "wal-push") || !strstr(cmd, t->name))) {
		PG_LOG(ARCA_LOG_WARN,
		       "archive_command is '%s'; expected 'arca wal-push %s %%p' (fine "
		       "if a script calls it)",
		       cmd, t->name);
	}
	free(level);
	free(mode);
	free(cmd);
	return rc;
}

/* ---- the COPY stream into items ----------------------------------------- */

struct backup {
	struct pg_target *t;
	struct arca_ctx *ctx;
	PGconn *conn;
	struct tar_reader tar;
	struct tar_sink sink;
	char prefix[64]; /* "base/" or "tblspc/OID/" */
	char archive[128];
	int have_archive;
	int in_manifest;
	char *manifest;
	size_t manifest_len, manifest_cap;
	uint64_t files, bytes;
};

static int entry_begin(void *arg, const struct tar_entry *e)
{
	struct backup *b = arg;
	char name[512];
	struct arca_item_info info;
	memset(&info, 0, sizeof info);
	info.struct_size = sizeof info;
	snprintf(name, sizeof name, "%s%s", b->prefix, e->name);
	info.name = name;
	info.mode = e->mode;
	info.uid = e->uid;
	info.gid = e->gid;
	info.mtime_sec = e->mtime;
	info.size = e->size;
	switch (e->type) {
	case '5':
		info.type = ARCA_ITEM_DIR;
		break;
	case '2':
		info.type = ARCA_ITEM_SYMLINK;
		info.link_target = e->link;
		break;
	default:
		info.type = ARCA_ITEM_FILE;
		b->files++;
		break;
	}
	if (pg_host->cancelled(b->ctx))
		return PG_ERR(ARCA_ERR_CANCELLED, "base backup interrupted");
	int rc = pg_host->item_begin(b->ctx, &info);
	return rc == ARCA_ITEM_UNCHANGED ? ARCA_OK : rc;
}

static int entry_data(void *arg, const void *p, size_t n)
{
	struct backup *b = arg;
	b->bytes += n;
	return pg_host->item_write(b->ctx, p, n);
}

static int entry_end(void *arg)
{
	struct backup *b = arg;
	return pg_host->item_end(b->ctx);
}

static int manifest_append(struct backup *b, const char *p, size_t n)
{
	if (b->manifest_len + n + 1 > b->manifest_cap) {
		size_t cap = (b->manifest_len + n + 1) * 2;
		char *m = realloc(b->manifest, cap);
		if (!m)
			return PG_ERR(ARCA_ERR_INTERNAL, "out of memory for the backup manifest");
		b->manifest = m;
		b->manifest_cap = cap;
	}
	memcpy(b->manifest + b->manifest_len, p, n);
	b->manifest_len += n;
	b->manifest[b->manifest_len] = 0;
	return ARCA_OK;
}

static int end_archive(struct backup *b)
{
	if (!b->have_archive)
		return ARCA_OK;
	b->have_archive = 0;
	return tar_finish(&b->tar);
}

/* A NUL-terminated string at *pos inside msg[0..len). */
static const char *copy_string(const char *msg, size_t len, size_t *pos)
{
	const char *s = msg + *pos;
	const char *nul = memchr(s, 0, len - *pos);
	if (!nul)
		return NULL;
	*pos = (size_t)(nul - msg) + 1;
	return s;
}

static int handle_message(struct backup *b, const char *msg, size_t len)
{
	if (len == 0)
		return PG_ERR(ARCA_ERR_CORRUPT, "empty CopyData message in the base backup stream");
	size_t pos = 1;
	switch (msg[0]) {
	case 'n': {
		const char *name = copy_string(msg, len, &pos);
		const char *location = name ? copy_string(msg, len, &pos) : NULL;
		if (!location || b->in_manifest)
			return PG_ERR(ARCA_ERR_CORRUPT, "malformed new-archive message in the base "
			                                "backup stream");
		int rc = end_archive(b);
		if (rc != ARCA_OK)
			return rc;
		/* base.tar holds the data directory, OID.tar a tablespace. */
		if (strcmp(name, "base.tar") == 0) {
			snprintf(b->prefix, sizeof b->prefix, "base/");
		} else {
			unsigned oid;
			char tail[8];
			if (sscanf(name, "%u.ta%1s", &oid, tail) != 2)
				return PG_ERR(ARCA_ERR_UNSUPPORTED,
				              "unexpected archive \"%s\" in the base "
				              "backup (compression is not "
				              "requested)",
				              name);
			snprintf(b->prefix, sizeof b->prefix, "tblspc/%u/", oid);
		}
		snprintf(b->archive, sizeof b->archive, "%s", name);
		tar_init(&b->tar, &b->sink, b->archive);
		b->have_archive = 1;
		return ARCA_OK;
	}
	case 'd':
		if (b->in_manifest)
			return manifest_append(b, msg + 1, len - 1);
		if (!b->have_archive)
			return PG_ERR(ARCA_ERR_CORRUPT,
			              "archive data before any archive in the base "
			              "backup stream");
		return tar_feed(&b->tar, msg + 1, len - 1);
	case 'p':
		return ARCA_OK; /* the engine counts bytes itself */
	case 'm': {
		int rc = end_archive(b);
		b->in_manifest = 1;
		return rc;
	}
	default:
		return PG_ERR(ARCA_ERR_UNSUPPORTED,
		              "unknown message type '%c' in the base backup "
		              "stream (server newer than this driver?)",
		              msg[0]);
	}
}

static int server_error(struct backup *b, PGresult *r, const char *when)
{
	char msg[1024];
	const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
	pg_conn_error(b->conn, msg, sizeof msg);
	int status = state && strcmp(state, "XX001") == 0      ? ARCA_ERR_CORRUPT
	             : pg_classify_error(msg) == ARCA_ERR_AUTH ? ARCA_ERR_AUTH
	                                                       : ARCA_ERR_IO;
	return PG_ERR(status, "[target %s]: base backup failed %s: %s", b->t->name, when, msg);
}

/*
 * Receiving the COPY stream. The engine chunks what item_write gives it on
 * the calling thread, so a receiver thread takes the socket and libpq's
 * parsing off that thread: it queues CopyData messages (at most RECV_QUEUE
 * bytes) and the caller's thread parses the tar and feeds the engine. The
 * receiver makes no host calls; it ends at the end of the COPY, on an
 * error (kept as text), or when told to stop.
 */
#define RECV_QUEUE (16u << 20)
#define RECV_SLOTS 1024

struct copy_msg {
	char *buf;
	int len;
};

struct receiver {
	PGconn *conn;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct copy_msg q[RECV_SLOTS];
	size_t head, count, bytes;
	int done, stop;
	char err[512];
};

static void recv_fail(struct receiver *rv, const char *what)
{
	pthread_mutex_lock(&rv->mu);
	snprintf(rv->err, sizeof rv->err, "%s: %s", what, PQerrorMessage(rv->conn));
	rv->done = 1;
	pthread_cond_broadcast(&rv->cv);
	pthread_mutex_unlock(&rv->mu);
}

static void *receiver_main(void *arg)
{
	struct receiver *rv = arg;
	for (;;) {
		char *buf = NULL;
		int n = PQgetCopyData(rv->conn, &buf, 1);
		if (n > 0) {
			pthread_mutex_lock(&rv->mu);
			while ((rv->count == RECV_SLOTS || rv->bytes > RECV_QUEUE) && !rv->stop)
				pthread_cond_wait(&rv->cv, &rv->mu);
			if (rv->stop) {
				pthread_mutex_unlock(&rv->mu);
				PQfreemem(buf);
				return NULL;
			}
			rv->q[(rv->head + rv->count) % RECV_SLOTS] = (struct copy_msg){buf, n};
			rv->count++;
			rv->bytes += (size_t)n;
			pthread_cond_broadcast(&rv->cv);
			pthread_mutex_unlock(&rv->mu);
			continue;
		}
		if (n == -1) {
			pthread_mutex_lock(&rv->mu);
			rv->done = 1; /* end of COPY */
			pthread_cond_broadcast(&rv->cv);
			pthread_mutex_unlock(&rv->mu);
			return NULL;
		}
		if (n == -2) {
			recv_fail(rv, "while streaming");
			return NULL;
		}
		/* Nothing yet (the server may be checkpointing or waiting for
		 * the WAL archive): wait, but look at `stop` every second. */
		pthread_mutex_lock(&rv->mu);
		int stop = rv->stop;
		pthread_mutex_unlock(&rv->mu);
		if (stop)
			return NULL;
		struct pollfd p = {PQsocket(rv->conn), POLLIN, 0};
		if (poll(&p, 1, 1000) < 0 && errno != EINTR) {
			recv_fail(rv, "poll");
			return NULL;
		}
		if (!PQconsumeInput(rv->conn)) {
			recv_fail(rv, "while streaming");
			return NULL;
		}
	}
}

/* Stop the receiver and drop what it queued. */
static void receiver_stop(struct receiver *rv)
{
	pthread_mutex_lock(&rv->mu);
	rv->stop = 1;
	pthread_cond_broadcast(&rv->cv);
	pthread_mutex_unlock(&rv->mu);
	pthread_join(rv->thread, NULL);
	for (; rv->count; rv->count--, rv->head++)
		PQfreemem(rv->q[rv->head % RECV_SLOTS].buf);
	pthread_mutex_destroy(&rv->mu);
	pthread_cond_destroy(&rv->cv);
}

static void cancel_backup(PGconn *conn)
{
	char err[256];
	PGcancel *cancel = PQgetCancel(conn);
	if (cancel) {
		PQcancel(cancel, err, sizeof err);
		PQfreeCancel(cancel);
	}
}

static int receive_stream(struct backup *b)
{
	struct receiver *rv = calloc(1, sizeof *rv);
	if (!rv)
		return PG_ERR(ARCA_ERR_INTERNAL, "out of memory");
	rv->conn = b->conn;
	pthread_mutex_init(&rv->mu, NULL);
	pthread_cond_init(&rv->cv, NULL);
	if (pthread_create(&rv->thread, NULL, receiver_main, rv) != 0) {
		pthread_mutex_destroy(&rv->mu);
		pthread_cond_destroy(&rv->cv);
		free(rv);
		return PG_ERR(ARCA_ERR_INTERNAL, "cannot start the base backup receiver thread");
	}
	int rc = ARCA_OK;
	for (;;) {
		pthread_mutex_lock(&rv->mu);
		while (!rv->count && !rv->done) {
			struct timespec until;
			clock_gettime(CLOCK_REALTIME, &until);
			until.tv_sec += 1;
			pthread_cond_timedwait(&rv->cv, &rv->mu, &until);
			if (!rv->count && !rv->done && pg_host->cancelled(b->ctx))
				break;
		}
		if (!rv->count) {
			int done = rv->done;
			pthread_mutex_unlock(&rv->mu);
			if (!done) {
				receiver_stop(rv);
				cancel_backup(b->conn);
				free(rv);
				return PG_ERR(ARCA_ERR_CANCELLED, "base backup interrupted");
			}
			break;
		}
		struct copy_msg m = rv->q[rv->head % RECV_SLOTS];
		rv->head++;
		rv->count--;
		rv->bytes -= (size_t)m.len;
		pthread_cond_broadcast(&rv->cv);
		pthread_mutex_unlock(&rv->mu);
		rc = handle_message(b, m.buf, (size_t)m.len);
		PQfreemem(m.buf);
		if (rc == ARCA_OK && pg_host->cancelled(b->ctx))
			rc = PG_ERR(ARCA_ERR_CANCELLED, "base backup interrupted");
		if (rc != ARCA_OK) {
			receiver_stop(rv);
			cancel_backup(b->conn);
			free(rv);
			return rc;
		}
	}
	pthread_join(rv->thread, NULL);
	pthread_mutex_destroy(&rv->mu);
	pthread_cond_destroy(&rv->cv);
	if (rv->err[0]) {
		size_t n = strlen(rv->err);
		while (n && (rv->err[n - 1] == '\n' || rv->err[n - 1] == ' '))
			rv->err[--n] = 0;
		rc = PG_ERR(ARCA_ERR_IO, "[target %s]: base backup failed %s", b->t->name, rv->err);
	}
	free(rv);
	return rc;
}

/* Every segment from start_wal to end_wal must be in this target's archive. */
static int check_wal_archived(struct backup *b, const char *start_wal, const char *end_wal,
                              uint64_t seg_size)
{
	char last[WAL_NAME_LEN + 1], hole[WAL_NAME_LEN + 1], newest[WAL_NAME_LEN + 1];
	/* archive_command may still be finishing the last push. */
	for (int tries = 0; tries < 30; tries++) {
		int rc = wal_chain(b->ctx, start_wal, seg_size, last, hole, newest);
		if (rc != ARCA_OK)
			return rc;
		if (last[0] && strcmp(last, end_wal) >= 0)
			return ARCA_OK;
		struct timespec ts = {1, 0};
		nanosleep(&ts, NULL);
	}
	return PG_ERR(ARCA_ERR_NOT_FOUND,
	              "[target %s]: the base backup needs WAL %s to %s, but %s is not in this "
	              "target's archive; archive_command must be 'arca wal-push %s %%p' (see the "
	              "server log for archiver errors). No snapshot was recorded",
	              b->t->name, start_wal, end_wal, last[0] ? "a later segment" : start_wal,
	              b->t->name);
}

int physical_snapshot(struct pg_target *t, struct arca_ctx *ctx)
{
	struct backup b;
	memset(&b, 0, sizeof b);
	b.t = t;
	b.ctx = ctx;
	b.sink.arg = &b;
	b.sink.begin = entry_begin;
	b.sink.data = entry_data;
	b.sink.end = entry_end;
	PGresult *r = NULL;
	char *seg_text = NULL, *version = NULL, *data_dir = NULL, *meta = NULL;
	char *sysid = NULL, start_lsn[64] = "", end_lsn[64] = "";
	uint32_t tli = 0;
	/* Settings first, on a plain connection: with wal_level = minimal a
	 * replication connection is refused before anything can be said. */
	int rc = pg_connect(t, NULL, NULL, 0, &b.conn);
	if (rc != ARCA_OK)
		return rc;
	if ((rc = physical_check_settings(t, b.conn)) != ARCA_OK)
		goto out;
	seg_text = show(b.conn, "wal_segment_size");
	version = show(b.conn, "server_version");
	data_dir = show(b.conn, "data_directory"); /* NULL without the privilege */
	PQfinish(b.conn);
	if ((rc = pg_connect(t, NULL, NULL, 1, &b.conn)) != ARCA_OK) {
		b.conn = NULL;
		goto out;
	}
	uint64_t seg_size = seg_text ? parse_pg_size(seg_text) : 0;
	if (!seg_size || (seg_size & (seg_size - 1))) {
		rc = PG_ERR(ARCA_ERR_IO, "[target %s]: cannot read wal_segment_size", t->name);
		goto out;
	}
	r = PQexec(b.conn, "IDENTIFY_SYSTEM");
	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1 || PQnfields(r) < 3) {
		rc = server_error(&b, r, "at IDENTIFY_SYSTEM");
		goto out;
	}
	sysid = strdup(PQgetvalue(r, 0, 0));
	PQclear(r);

	char cmd[512];
	char stamp[32];
	time_t now = time(NULL);
	strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
	snprintf(cmd, sizeof cmd,
	         "BASE_BACKUP (LABEL 'arca %s %s', PROGRESS, CHECKPOINT 'fast', MANIFEST 'yes', "
	         "MANIFEST_CHECKSUMS 'CRC32C')",
	         t->name, stamp);
	PG_LOG(ARCA_LOG_INFO, "starting base backup (fast checkpoint)");
	if (!PQsendQuery(b.conn, cmd)) {
		r = NULL;
		rc = server_error(&b, NULL, "to start");
		goto out;
	}
	/* 1: start position and timeline */
	r = PQgetResult(b.conn);
	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1 || PQnfields(r) < 2) {
		rc = server_error(&b, r, "to start");
		goto out;
	}
	snprintf(start_lsn, sizeof start_lsn, "%s", PQgetvalue(r, 0, 0));
	tli = (uint32_t)strtoul(PQgetvalue(r, 0, 1), NULL, 10);
	PQclear(r);
	/* 2: tablespaces (oid, location, size in kB) */
	r = PQgetResult(b.conn);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		rc = server_error(&b, r, "listing tablespaces");
		goto out;
	}
	uint64_t total = 0;
	for (int i = 0; i < PQntuples(r); i++)
		total += strtoull(PQgetvalue(r, i, 2), NULL, 10) * 1024;
	pg_host->progress_total(ctx, total, 0);
	PQclear(r);
	/* 3: the COPY stream */
	r = PQgetResult(b.conn);
	if (PQresultStatus(r) != PGRES_COPY_OUT) {
		rc = server_error(&b, r, "at the start of the data stream");
		goto out;
	}
	PQclear(r);
	r = NULL;
	if ((rc = receive_stream(&b)) != ARCA_OK || (rc = end_archive(&b)) != ARCA_OK)
		goto out;
	/* 4: end position */
	r = PQgetResult(b.conn);
	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
		rc = server_error(&b, r, "at its end");
		goto out;
	}
	snprintf(end_lsn, sizeof end_lsn, "%s", PQgetvalue(r, 0, 0));
	PQclear(r);
	while ((r = PQgetResult(b.conn)) != NULL) {
		ExecStatusType st = PQresultStatus(r);
		if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
			rc = server_error(&b, r, "at its end");
			goto out;
		}
		PQclear(r);
	}
	if (!b.manifest) {
		rc = PG_ERR(ARCA_ERR_CORRUPT, "[target %s]: the server sent no backup manifest",
		            t->name);
		goto out;
	}

	uint64_t start, end;
	char start_wal[WAL_NAME_LEN + 1], end_wal[WAL_NAME_LEN + 1];
	if (wal_parse_lsn(start_lsn, &start) != 0 || wal_parse_lsn(end_lsn, &end) != 0) {
		rc = PG_ERR(ARCA_ERR_CORRUPT, "[target %s]: bad WAL positions %s..%s", t->name,
		            start_lsn, end_lsn);
		goto out;
	}
	wal_segment_name(tli, start, seg_size, start_wal);
	/* The end LSN points just past the last record: it belongs to the
	 * segment before when it falls exactly on a boundary. */
	wal_segment_name(tli, end > start && end % seg_size == 0 ? end - 1 : end, seg_size,
	                 end_wal);
	if ((rc = check_wal_archived(&b, start_wal, end_wal, seg_size)) != ARCA_OK)
		goto out;

	if (asprintf(&meta,
	             "format=base_backup\nsystem_identifier=%s\ntimeline=%u\nstart_lsn=%s\n"
	             "end_lsn=%s\nstart_wal=%s\nend_wal=%s\nwal_segment_size=%" PRIu64 "\n"
	             "server_version=%s\ndata_directory=%s\nlabel=arca %s %s\n",
	             sysid ? sysid : "", tli, start_lsn, end_lsn, start_wal, end_wal, seg_size,
	             version ? version : "", data_dir ? data_dir : "", t->name, stamp) < 0) {
		rc = PG_ERR(ARCA_ERR_INTERNAL, "out of memory");
		goto out;
	}
	struct arca_item_info info;
	memset(&info, 0, sizeof info);
	info.struct_size = sizeof info;
	info.name = "backup_manifest";
	info.type = ARCA_ITEM_FILE;
	info.mode = 0600;
	info.mtime_sec = now;
	info.size = b.manifest_len;
	info.meta = meta;
	if ((rc = pg_host->item_begin(ctx, &info)) == ARCA_OK &&
	    (rc = pg_host->item_write(ctx, b.manifest, b.manifest_len)) == ARCA_OK)
		rc = pg_host->item_end(ctx);
	if (rc == ARCA_OK)
		PG_LOG(ARCA_LOG_INFO,
		       "base backup of %" PRIu64 " files (%" PRIu64 " bytes), WAL %s to %s",
		       b.files, b.bytes, start_wal, end_wal);
	r = NULL;
out:
	PQclear(r);
	PQfinish(b.conn);
	free(b.manifest);
	free(seg_text);
	free(version);
	free(data_dir);
	free(sysid);
	free(meta);
	return rc;
}

/* ---- check: settings, privileges, and a WAL switch that must arrive ------ */

int physical_check(struct pg_target *t, struct arca_ctx *ctx)
{
	PGconn *c = NULL, *rep = NULL;
	char *walfile = NULL;
	int rc = pg_connect(t, NULL, NULL, 0, &c);
	if (rc != ARCA_OK)
		return rc;
	if ((rc = physical_check_settings(t, c)) != ARCA_OK)
		goto out;
	/* A replication connection proves the REPLICATION attribute and the
	 * pg_hba.conf entry that BASE_BACKUP needs. */
	if ((rc = pg_connect(t, NULL, NULL, 1, &rep)) != ARCA_OK)
		goto out;
	PQfinish(rep);
	rep = NULL;
	/* As pgBackRest's check: write a record so the switch is never a
	 * no-op, switch, and wait for that segment to reach the archive. */
	PQclear(PQexec(c, "SELECT pg_create_restore_point('arca check')"));
	rc = pg_query_value(c, "SELECT pg_walfile_name(pg_switch_wal())", &walfile);
	if (rc != ARCA_OK || !walfile) {
		rc = rc != ARCA_OK ? rc : PG_ERR(ARCA_ERR_IO, "pg_switch_wal returned nothing");
		goto out;
	}
	char blob[64];
	wal_blob_name(walfile, blob, sizeof blob);
	PG_LOG(ARCA_LOG_INFO, "switched WAL; waiting up to %llds for %s to be archived",
	       (long long)t->archive_timeout, walfile);
	time_t deadline = time(NULL) + t->archive_timeout;
	for (;;) {
		void *data = NULL;
		size_t len = 0;
		rc = pg_host->blob_get(ctx, blob, &data, &len);
		free(data);
		if (rc == ARCA_OK) {
			PG_LOG(ARCA_LOG_INFO, "WAL archiving works (%s arrived)", walfile);
			break;
		}
		if (rc != ARCA_ERR_NOT_FOUND)
			goto out;
		if (time(NULL) >= deadline || pg_host->cancelled(ctx)) {
			char *failed = NULL;
			pg_query_value(c,
			               "SELECT coalesce(last_failed_wal || ' at ' || "
			               "last_failed_time, 'none') FROM pg_stat_archiver",
			               &failed);
			rc = PG_ERR(
			    ARCA_ERR_NOT_FOUND,
			    "[target %s]: WAL segment %s did not reach the archive within %llds "
			    "(last failed archive_command: %s); check archive_command = "
			    "'arca wal-push %s %%p' and the server log",
			    t->name, walfile, (long long)t->archive_timeout,
			    failed ? failed : "unknown", t->name);
			free(failed);
			goto out;
		}
		struct timespec ts = {0, 250 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
out:
	free(walfile);
	PQfinish(rep);
	PQfinish(c);
	return rc;
}
