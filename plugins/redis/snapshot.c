/* snapshot.c — the RDB of a full resynchronisation, streamed into one item
 * while the walker checks it; or, with method = bgsave, the dump file a
 * BGSAVE wrote. Nothing touches the disk on the way, and a walk that fails
 * returns an error, so nothing is recorded. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "redis.h"

/* The target's password into t->addr (once per op). */
static int load_password(struct redis_target *t)
{
	char *pw = NULL;
	if (t->addr.password)
		return ARCA_OK;
	int rc = redis_host->secret(t->cfg, "password", &pw);
	if (rc == ARCA_ERR_NOT_FOUND)
		return ARCA_OK;
	if (rc != ARCA_OK)
		return rc;
	t->addr.password = pw;
	return ARCA_OK;
}

static int connect_target(struct redis_target *t, struct arca_ctx *ctx, struct rconn *c)
{
	int rc = load_password(t);
	return rc == ARCA_OK ? rconn_open(c, &t->addr, ctx) : rc;
}

/* INFO SECTION's text (malloc'd) or NULL when the user may not run INFO. */
static int info(struct rconn *c, const char *section, char **out)
{
	redisReply *r = NULL;
	const char *argv[] = {"INFO", section};
	*out = NULL;
	int rc = rconn_send(c, 2, argv, NULL);
	if (rc == ARCA_OK)
		rc = rconn_reply(c, &r);
	if (rc != ARCA_OK)
		return rc;
	if (r->type == REDIS_REPLY_ERROR && !strncmp(r->str, "NOPERM", 6)) {
		freeReplyObject(r);
		return ARCA_OK;
	}
	rc = rconn_reply_status(c, r, "INFO");
	if (rc == ARCA_OK && r->type == REDIS_REPLY_STRING && !(*out = strdup(r->str)))
		rc = R_ERR(ARCA_ERR_INTERNAL, "out of memory");
	freeReplyObject(r);
	return rc;
}

struct server_facts {
	char version[32], role[16], loading[8], pid[16];
};

static int server_facts(struct rconn *c, struct server_facts *f)
{
	char *s = NULL;
	memset(f, 0, sizeof *f);
	int rc = info(c, "server", &s);
	if (rc == ARCA_OK && s)
		redis_info_field(s, "redis_version", f->version, sizeof f->version);
	if (rc == ARCA_OK && s)
		redis_info_field(s, "process_id", f->pid, sizeof f->pid);
	free(s);
	s = NULL;
	if (rc == ARCA_OK)
		rc = info(c, "replication", &s);
	if (rc == ARCA_OK && s)
		redis_info_field(s, "role", f->role, sizeof f->role);
	free(s);
	s = NULL;
	if (rc == ARCA_OK)
		rc = info(c, "persistence", &s);
	if (rc == ARCA_OK && s)
		redis_info_field(s, "loading", f->loading, sizeof f->loading);
	free(s);
	if (rc == ARCA_OK && !strcmp(f->loading, "1"))
		rc = R_ERR(ARCA_ERR_CONNECT,
		           "%s: the server is still loading its dataset; try again once it has "
		           "loaded",
		           c->where);
	return rc;
}

int redis_check_op(struct redis_target *t, struct arca_ctx *ctx)
{
	struct rconn c;
	struct server_facts f;
	int rc = connect_target(t, ctx, &c);
	if (rc != ARCA_OK)
		return rc;
	const char *ping[] = {"PING"};
	rc = rconn_cmd(&c, NULL, "PING", 1, ping);
	if (rc == ARCA_OK)
		rc = server_facts(&c, &f);
	if (rc == ARCA_OK)
		R_LOG(ARCA_LOG_INFO, "%s: Redis %s, role %s", c.where,
		      f.version[0] ? f.version : "?", f.role[0] ? f.role : "?");
	rconn_close(&c);
	return rc;
}

/* ---- the item ------------------------------------------------------------ */

struct snap {
	struct arca_ctx *ctx;
	struct rconn *c;
	uint64_t left; /* $<len> framing: bytes still to come; UINT64_MAX: EOF mark */
	int fd;        /* bgsave: the dump file */
	const char *what;
};

static int tee_item(void *arg, const void *data, size_t len)
{
	struct snap *s = arg;
	return redis_host->item_write(s->ctx, data, len);
}

static int src_conn(void *arg, void *buf, size_t cap, size_t *got)
{
	struct snap *s = arg;
	if (s->left == 0) {
		*got = 0;
		return ARCA_OK;
	}
	if (s->left != UINT64_MAX && cap > s->left)
		cap = (size_t)s->left;
	int rc = rconn_read(s->c, buf, cap, got);
	if (rc != ARCA_OK)
		return rc;
	if (*got == 0)
		return R_ERR(
		    ARCA_ERR_IO,
		    "%s: the server closed the connection in the middle of the RDB (did it "
		    "die or run out of memory?); nothing was recorded",
		    s->c->where);
	if (s->left != UINT64_MAX)
		s->left -= *got;
	return ARCA_OK;
}

static int src_file(void *arg, void *buf, size_t cap, size_t *got)
{
	struct snap *s = arg;
	ssize_t k;
	do
		k = read(s->fd, buf, cap);
	while (k < 0 && errno == EINTR);
	if (k < 0)
		return R_ERR(ARCA_ERR_IO, "reading %s: %s", s->what, strerror(errno));
	*got = (size_t)k;
	return ARCA_OK;
}

static int cancelled(void *arg)
{
	return redis_host->cancelled(((struct snap *)arg)->ctx);
}

/* The walk's findings as the text of the second item. */
static char *summary_text(const struct rdb_walker *w, const struct server_facts *f,
                          const char *replid, const char *offset, const char *method)
{
	size_t cap = 512 + w->n_dbs * 64, n = 0;
	char *s = malloc(cap);
	if (!s)
		return NULL;
	n += (size_t)snprintf(s + n, cap - n,
	                      "method=%s\nrdb_version=%d\nserver_version=%s\nrole=%s\n"
	                      "replid=%s\nrepl_offset=%s\nkeys=%" PRIu64 "\n",
	                      method, w->version, f->version[0] ? f->version : w->redis_ver,
	                      f->role, replid, offset, w->keys);
	for (size_t i = 0; i < w->n_dbs && n < cap; i++)
		n += (size_t)snprintf(s + n, cap - n,
		                      "db%" PRIu64 "=keys:%" PRIu64 ",expires:%" PRIu64 "\n",
		                      w->dbs[i].db, w->dbs[i].keys, w->dbs[i].expires);
	return s;
}

static int store_summary(struct arca_ctx *ctx, const char *text)
{
	struct arca_item_info info = {.struct_size = sizeof info,
	                              .name = "redis-info.txt",
	                              .type = ARCA_ITEM_STREAM,
	                              .mode = 0600,
	                              .size = strlen(text),
	                              .mtime_sec = time(NULL)};
	int rc = redis_host->item_begin(ctx, &info);
	if (rc == ARCA_OK)
		rc = redis_host->item_write(ctx, text, strlen(text));
	if (rc == ARCA_OK || rc == ARCA_ITEM_UNCHANGED)
		rc = redis_host->item_end(ctx);
	return rc;
}

/* The RDB header, read before the item starts (its version goes into the
 * item's metadata), then the rest of the source. */
struct peeked {
	rdb_read_fn src;
	void *arg;
	unsigned char head[9];
	size_t n, off;
};

static int src_peeked(void *arg, void *buf, size_t cap, size_t *got)
{
	struct peeked *p = arg;
	if (p->off < p->n) {
		size_t k = p->n - p->off < cap ? p->n - p->off : cap;
		memcpy(buf, p->head + p->off, k);
		p->off += k;
		*got = k;
		return ARCA_OK;
	}
	return p->src(p->arg, buf, cap, got);
}

/* Walk the source into the dump.rdb item. */
static int store(struct arca_ctx *ctx, struct snap *s, rdb_read_fn src, uint64_t size,
                 const char *meta0, struct rdb_walker *w)
{
	struct peeked pk = {.src = src, .arg = s};
	char meta[320];
	int rc;
	while (pk.n < sizeof pk.head) {
		size_t got = 0;
		if ((rc = src(s, pk.head + pk.n, sizeof pk.head - pk.n, &got)) != ARCA_OK)
			return rc;
		if (got == 0)
			break;
		pk.n += got;
	}
	int v = 0;
	for (size_t i = 5; i < pk.n; i++)
		v = pk.head[i] >= '0' && pk.head[i] <= '9' ? v * 10 + (pk.head[i] - '0') : -1000000;
	if (pk.n == sizeof pk.head && !memcmp(pk.head, "REDIS", 5) && v >= 0)
		snprintf(meta, sizeof meta, "%s rdb_version=%d", meta0, v);
	else
		snprintf(meta, sizeof meta, "%s", meta0);
	struct arca_item_info info = {.struct_size = sizeof info,
	                              .name = REDIS_ITEM,
	                              .type = ARCA_ITEM_STREAM,
	                              .mode = 0600,
	                              .size = size,
	                              .mtime_sec = time(NULL),
	                              .meta = meta};
	redis_host->progress_total(ctx, size == UINT64_MAX ? 0 : size, 2);
	rc = redis_host->item_begin(ctx, &info);
	if (rc != ARCA_OK)
		return rc == ARCA_ITEM_UNCHANGED
		           ? R_ERR(ARCA_ERR_INTERNAL, "unexpected unchanged item")
		           : rc;
	w->read = src_peeked;
	w->read_arg = &pk;
	w->tee = tee_item;
	w->tee_arg = s;
	w->cancelled = cancelled;
	w->cancel_arg = s;
	rc = rdb_walk(w);
	if (rc == ARCA_ERR_CORRUPT)
		return R_ERR(ARCA_ERR_CORRUPT,
		             "%s: the RDB fails its check %s; nothing was recorded", s->what,
		             w->err);
	if (rc != ARCA_OK)
		return rc;
	if (!ARCA_HOST_HAS(redis_host, item_end_info))
		return redis_host->item_end(ctx);
	/* ABI 1.1: what only the walk knows (keys and expiring keys per
	 * database) completes the item's metadata, so `arca list --items`
	 * shows it with the replication offset */
	size_t shown = w->n_dbs < 512 ? w->n_dbs : 512; /* meta stays far under 64 KiB */
	size_t cap = sizeof meta + 64 + shown * 64, n;
	char *full = malloc(cap);
	if (!full)
		return R_ERR(ARCA_ERR_INTERNAL, "out of memory");
	n = (size_t)snprintf(full, cap, "%s keys=%" PRIu64, meta, w->keys);
	for (size_t i = 0; i < shown && n < cap; i++)
		n += (size_t)snprintf(full + n, cap - n,
		                      " db%" PRIu64 "=keys:%" PRIu64 ",expires:%" PRIu64,
		                      w->dbs[i].db, w->dbs[i].keys, w->dbs[i].expires);
	struct arca_item_info final = info;
	final.meta = full;
	rc = redis_host->item_end_info(ctx, &final);
	free(full);
	return rc;
}

/* A reply line of the replication handshake, keep-alive newlines skipped. */
static int handshake_line(struct rconn *c, char *line, size_t cap)
{
	for (;;) {
		int rc = rconn_readline(c, line, cap);
		if (rc != ARCA_OK || line[0])
			return rc;
		if (c->ctx && redis_host->cancelled(c->ctx))
			return ARCA_ERR_CANCELLED;
	}
}

static int perm_error(struct rconn *c, const char *cmd, const char *err)
{
	return R_ERR(
	    ARCA_ERR_AUTH,
	    "%s: %s refused: %s. The backup user needs +psync +sync +replconf (ACL SETUSER "
	    "<user> +psync +sync +replconf), or set method = bgsave (needs +bgsave "
	    "+config|get +info and the dump file on this host)",
	    c->where, cmd, err);
}

static int snapshot_replication(struct redis_target *t, struct arca_ctx *ctx, struct rconn *c,
                                const struct server_facts *f)
{
	char line[512], replid[48] = "", offset[24] = "";
	redisReply *r = NULL;
	const char *capa[] = {"REPLCONF", "capa", "eof"};
	int rc = rconn_send(c, 3, capa, NULL);
	if (rc == ARCA_OK)
		rc = rconn_reply(c, &r);
	if (rc != ARCA_OK)
		return rc;
	if (r->type == REDIS_REPLY_ERROR && !strncmp(r->str, "NOPERM", 6)) {
		rc = perm_error(c, "REPLCONF", r->str);
		freeReplyObject(r);
		return rc;
	}
	rc = rconn_reply_status(c, r, "REPLCONF capa eof");
	freeReplyObject(r);
	if (rc != ARCA_OK)
		return rc;
	/* Only the RDB, no command stream after it (Redis 7+); older servers
	 * answer an error that changes nothing. */
	const char *rdbonly[] = {"REPLCONF", "rdb-only", "1"};
	rc = rconn_send(c, 3, rdbonly, NULL);
	if (rc == ARCA_OK)
		rc = rconn_reply(c, &r);
	if (rc != ARCA_OK)
		return rc;
	freeReplyObject(r);

	const char *psync[] = {"PSYNC", "?", "-1"};
	if ((rc = rconn_send(c, 3, psync, NULL)) != ARCA_OK ||
	    (rc = handshake_line(c, line, sizeof line)) != ARCA_OK)
		return rc;
	if (line[0] == '-' && !strncmp(line + 1, "NOPERM", 6))
		return perm_error(c, "PSYNC", line + 1);
	if (line[0] == '-' && !strstr(line, "unknown command")) {
		struct redisReply fake = {.type = REDIS_REPLY_ERROR, .str = line + 1};
		return rconn_reply_status(c, &fake, "PSYNC");
	}
	if (line[0] == '-') {
		/* A server without PSYNC (before 2.8): SYNC. */
		R_LOG(ARCA_LOG_INFO, "%s: PSYNC refused (%s); trying SYNC", c->where, line + 1);
		const char *sync[] = {"SYNC"};
		if ((rc = rconn_send(c, 1, sync, NULL)) != ARCA_OK ||
		    (rc = handshake_line(c, line, sizeof line)) != ARCA_OK)
			return rc;
		if (line[0] == '-' && !strncmp(line + 1, "NOPERM", 6))
			return perm_error(c, "SYNC", line + 1);
	} else if (!strncmp(line, "+FULLRESYNC ", 12)) {
		if (sscanf(line + 12, "%47s %23s", replid, offset) != 2)
			return R_ERR(ARCA_ERR_IO,
			             "%s: a FULLRESYNC reply without replid and offset: %s",
			             c->where, line);
		if ((rc = handshake_line(c, line, sizeof line)) != ARCA_OK)
			return rc;
	} else {
		return R_ERR(ARCA_ERR_IO, "%s: PSYNC answered \"%.80s\", not +FULLRESYNC", c->where,
		             line);
	}
	if (line[0] == '-') {
		struct redisReply fake = {.type = REDIS_REPLY_ERROR, .str = line + 1};
		return rconn_reply_status(c, &fake, "SYNC");
	}
	if (line[0] != '$')
		return R_ERR(ARCA_ERR_IO, "%s: expected the RDB's $ header, got \"%.80s\"",
		             c->where, line);
	struct snap s = {.ctx = ctx, .c = c, .what = c->where};
	char mark[41] = "";
	uint64_t size = UINT64_MAX;
	if (!strncmp(line + 1, "EOF:", 4)) {
		if (strlen(line + 5) != 40)
			return R_ERR(ARCA_ERR_IO, "%s: an EOF mark that is not 40 bytes", c->where);
		memcpy(mark, line + 5, 41);
		s.left = UINT64_MAX;
	} else {
		char *end;
		errno = 0;
		size = strtoull(line + 1, &end, 10);
		if (errno || *end || end == line + 1)
			return R_ERR(ARCA_ERR_IO, "%s: a bad RDB length \"%.40s\"", c->where, line);
		s.left = size;
	}
	char meta[256];
	snprintf(meta, sizeof meta, "replid=%s repl_offset=%s server_version=%s role=%s",
	         replid[0] ? replid : "-", offset[0] ? offset : "-",
	         f->version[0] ? f->version : "-", f->role[0] ? f->role : "-");
	struct rdb_walker w = {0};
	rc = store(ctx, &s, src_conn, size, meta, &w);
	if (rc == ARCA_OK) {
		const unsigned char *lo;
		size_t ln;
		rdb_walk_leftover(&w, &lo, &ln);
		if (mark[0]) {
			/* the mark follows the RDB's last byte */
			char got[40];
			size_t have = ln > 40 ? 40 : ln;
			memcpy(got, lo, have);
			while (rc == ARCA_OK && have < 40) {
				size_t k;
				rc = rconn_read(c, got + have, 40 - have, &k);
				if (rc == ARCA_OK && k == 0)
					rc = R_ERR(
					    ARCA_ERR_IO,
					    "%s: the connection closed before the RDB's end mark",
					    c->where);
				have += k;
			}
			if (rc == ARCA_OK && memcmp(got, mark, 40) != 0)
				rc = R_ERR(
				    ARCA_ERR_CORRUPT,
				    "%s: the RDB ended at byte %" PRIu64
				    " but the end mark does not follow it; nothing was recorded",
				    c->where, w.offset);
		} else if (ln > 0 || s.left > 0) {
			rc = R_ERR(ARCA_ERR_CORRUPT,
			           "%s: the RDB ends at byte %" PRIu64 " of the %" PRIu64
			           " announced; nothing was recorded",
			           c->where, w.offset, size);
		}
	}
	if (rc == ARCA_OK) {
		char *text = summary_text(&w, f, replid, offset, "replication");
		rc = text ? store_summary(ctx, text) : R_ERR(ARCA_ERR_INTERNAL, "out of memory");
		if (rc == ARCA_OK)
			R_LOG(ARCA_LOG_INFO,
			      "RDB version %d, %" PRIu64 " keys in %zu database%s, %" PRIu64
			      " bytes, replication id %s offset %s",
			      w.version, w.keys, w.n_dbs, w.n_dbs == 1 ? "" : "s", w.offset,
			      replid[0] ? replid : "-", offset[0] ? offset : "-");
		free(text);
	}
	rdb_walker_free(&w);
	return rc;
}

static int config_get(struct rconn *c, const char *key, char *out, size_t cap)
{
	redisReply *r = NULL;
	const char *argv[] = {"CONFIG", "GET", key};
	int rc = rconn_cmd(c, &r, "CONFIG GET", 3, argv);
	if (rc != ARCA_OK)
		return rc;
	if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
	    r->element[1]->type != REDIS_REPLY_STRING)
		rc = R_ERR(ARCA_ERR_IO, "%s: CONFIG GET %s: unexpected reply", c->where, key);
	else
		snprintf(out, cap, "%s", r->element[1]->str);
	freeReplyObject(r);
	return rc;
}

static int persistence_field(struct rconn *c, const char *field, char *out, size_t cap)
{
	char *s = NULL;
	int rc = info(c, "persistence", &s);
	if (rc == ARCA_OK && !s)
		return R_ERR(ARCA_ERR_AUTH, "%s: INFO refused; method = bgsave needs +info",
		             c->where);
	if (rc == ARCA_OK)
		redis_info_field(s, field, out, cap);
	free(s);
	return rc;
}

/* The dump file is read from this host's disk: refuse when the server is
 * elsewhere (a file at the same path here would be another server's).
 * Redis runs in its `dir`, so /proc/PID/cwd of its process_id is `dir`. */
static int same_host(struct rconn *c, const struct server_facts *f, const char *dir)
{
	char proc[64];
	struct stat a, b;
	if (!f->pid[0])
		return R_ERR(ARCA_ERR_CONFIG,
		             "%s: INFO gives no process_id: method = bgsave needs "
		             "the server on this host",
		             c->where);
	snprintf(proc, sizeof proc, "/proc/%s/cwd", f->pid);
	if (stat(proc, &a) != 0) {
		if (errno == EACCES || errno == EPERM) {
			R_LOG(ARCA_LOG_INFO,
			      "%s: cannot confirm the server runs on this host (%s: %s)", c->where,
			      proc, strerror(errno));
			return ARCA_OK;
		}
		return R_ERR(ARCA_ERR_CONFIG,
		             "%s: the server (pid %s) does not run on this host; method = bgsave "
		             "reads its dump file here: use method = replication",
		             c->where, f->pid);
	}
	if (stat(dir, &b) != 0 || a.st_dev != b.st_dev || a.st_ino != b.st_ino)
		return R_ERR(ARCA_ERR_CONFIG,
		             "%s: the server's dir %s is not the directory of process %s here: the "
		             "server is on another host (or in a container); use method = "
		             "replication",
		             c->where, dir, f->pid);
	return ARCA_OK;
}

static int snapshot_bgsave(struct redis_target *t, struct arca_ctx *ctx, struct rconn *c,
                           const struct server_facts *f)
{
	char dir[4096], file[1024], v[64], path[5200];
	int rc;
	if ((rc = config_get(c, "dir", dir, sizeof dir)) != ARCA_OK ||
	    (rc = config_get(c, "dbfilename", file, sizeof file)) != ARCA_OK)
		return rc;
	snprintf(path, sizeof path, "%s/%s", dir, file);
	if ((rc = same_host(c, f, dir)) != ARCA_OK)
		return rc;
	/* Wait for a BGSAVE of someone else to end, then start ours. */
	for (int tries = 0;; tries++) {
		redisReply *r = NULL;
		const char *bg[] = {"BGSAVE"};
		if ((rc = rconn_send(c, 1, bg, NULL)) != ARCA_OK ||
		    (rc = rconn_reply(c, &r)) != ARCA_OK)
			return rc;
		int busy = r->type == REDIS_REPLY_ERROR && strstr(r->str, "in progress");
		rc = busy ? ARCA_OK : rconn_reply_status(c, r, "BGSAVE");
		freeReplyObject(r);
		if (rc != ARCA_OK)
			return rc;
		if (!busy)
			break;
		if (tries > t->timeout * 10)
			return R_ERR(ARCA_ERR_IO, "%s: another save is still running", c->where);
		if (redis_host->cancelled(ctx))
			return ARCA_ERR_CANCELLED;
		usleep(100000);
	}
	for (int64_t waited = 0;; waited += 100) {
		if ((rc = persistence_field(c, "rdb_bgsave_in_progress", v, sizeof v)) != ARCA_OK)
			return rc;
		if (!strcmp(v, "0"))
			break;
		if (redis_host->cancelled(ctx))
			return ARCA_ERR_CANCELLED;
		usleep(100000);
	}
	if ((rc = persistence_field(c, "rdb_last_bgsave_status", v, sizeof v)) != ARCA_OK)
		return rc;
	if (strcmp(v, "ok") != 0)
		return R_ERR(ARCA_ERR_IO,
		             "%s: BGSAVE failed (rdb_last_bgsave_status:%s); see the "
		             "server's log",
		             c->where, v);
	struct snap s = {.ctx = ctx, .c = c, .what = path};
	s.fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (s.fd < 0)
		return R_ERR(errno == EACCES ? ARCA_ERR_AUTH : ARCA_ERR_IO,
		             "%s: the dump file %s cannot be read here: %s; method = bgsave needs "
		             "the server on this host and read access to its dir",
		             c->where, path, strerror(errno));
	struct stat st;
	fstat(s.fd, &st);
	char meta[256];
	snprintf(meta, sizeof meta, "replid=- repl_offset=- server_version=%s role=%s",
	         f->version[0] ? f->version : "-", f->role[0] ? f->role : "-");
	struct rdb_walker w = {0};
	rc = store(ctx, &s, src_file, (uint64_t)st.st_size, meta, &w);
	if (rc == ARCA_OK && w.offset != (uint64_t)st.st_size)
		rc = R_ERR(ARCA_ERR_CORRUPT, "%s: %" PRIu64 " bytes follow the RDB's end", path,
		           (uint64_t)st.st_size - w.offset);
	if (rc == ARCA_OK) {
		char *text = summary_text(&w, f, "-", "-", "bgsave");
		rc = text ? store_summary(ctx, text) : R_ERR(ARCA_ERR_INTERNAL, "out of memory");
		free(text);
	}
	close(s.fd);
	rdb_walker_free(&w);
	return rc;
}

int redis_snapshot(void *instance, struct arca_ctx *ctx)
{
	struct redis_target *t = instance;
	struct rconn c;
	struct server_facts f;
	int rc = connect_target(t, ctx, &c);
	if (rc != ARCA_OK)
		return rc;
	rc = server_facts(&c, &f);
	if (rc == ARCA_OK)
		rc = t->bgsave ? snapshot_bgsave(t, ctx, &c, &f)
		               : snapshot_replication(t, ctx, &c, &f);
	rconn_close(&c);
	return rc;
}
