/* restore_live.c — restore into a running server (a managed Redis without
 * file access): every key of the stored RDB is replayed as
 * `RESTORE key ttl payload ABSTTL [REPLACE]`, where payload is the value's
 * bytes as the RDB holds them, the RDB version (2 bytes) and a CRC-64 of
 * both: the DUMP format. Commands are pipelined with a bounded window; a
 * value over VALUE_RAM_MAX waits in a scratch file, not in memory. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "redis.h"

#define VALUE_RAM_MAX (8u << 20)
#define OUT_FLUSH     (1u << 20)
#define WINDOW        20000 /* replies outstanding before we wait for some */

struct live {
	struct arca_ctx *ctx;
	struct rconn *c;
	int replace;
	int db_fixed, cur_db;
	/* the value being collected */
	char *key;
	size_t keylen;
	int64_t expire;
	unsigned char *val;
	size_t vlen, vcap;
	int spill_fd; /* -1 until a large value needs it */
	uint64_t spill_len;
	uint64_t crc;
	/* the output and the replies owed */
	unsigned char *out;
	size_t olen;
	uint64_t owed, sent_keys, functions;
	int64_t restored; /* replies that were not errors, less those of SELECT and FUNCTION */
	int version;
	char first_err[512];
};

static int out_flush(struct live *l)
{
	int rc = ARCA_OK;
	if (l->olen)
		rc = rconn_write(l->c, l->out, l->olen);
	l->olen = 0;
	return rc;
}

static int out_put(struct live *l, const void *p, size_t n)
{
	if (l->olen + n > OUT_FLUSH) {
		int rc = out_flush(l);
		if (rc != ARCA_OK)
			return rc;
		if (n > OUT_FLUSH / 2)
			return rconn_write(l->c, p, n);
	}
	memcpy(l->out + l->olen, p, n);
	l->olen += n;
	return ARCA_OK;
}

static int out_bulk_hdr(struct live *l, size_t n)
{
	char h[32];
	int k = snprintf(h, sizeof h, "$%zu\r\n", n);
	return out_put(l, h, (size_t)k);
}

static int out_arg(struct live *l, const void *p, size_t n)
{
	int rc = out_bulk_hdr(l, n);
	if (rc == ARCA_OK)
		rc = out_put(l, p, n);
	return rc == ARCA_OK ? out_put(l, "\r\n", 2) : rc;
}

/* Read replies until at most `keep` are owed. */
static int drain(struct live *l, uint64_t keep)
{
	int rc = out_flush(l);
	while (rc == ARCA_OK && l->owed > keep) {
		redisReply *r = NULL;
		rc = rconn_reply(l->c, &r);
		if (rc != ARCA_OK)
			break;
		l->owed--;
		if (r->type == REDIS_REPLY_ERROR) {
			if (!l->first_err[0])
				snprintf(l->first_err, sizeof l->first_err, "%s", r->str);
		} else {
			l->restored++;
		}
		freeReplyObject(r);
	}
	return rc;
}

static int on_key(void *arg, const struct rdb_key *k)
{
	struct live *l = arg;
	int db = l->db_fixed >= 0 ? l->db_fixed : (int)k->db;
	int rc = ARCA_OK;
	if (l->first_err[0])
		return R_ERR(ARCA_ERR_IO, "%s: RESTORE failed: %s", l->c->where, l->first_err);
	if (db != l->cur_db) {
		char n[24];
		int m = snprintf(n, sizeof n, "%d", db);
		if ((rc = out_put(l, "*2\r\n$6\r\nSELECT\r\n", 16)) != ARCA_OK ||
		    (rc = out_arg(l, n, (size_t)m)) != ARCA_OK)
			return rc;
		l->owed++;
		l->restored--; /* SELECT's +OK is no key */
		l->cur_db = db;
	}
	free(l->key);
	l->key = malloc(k->keylen ? k->keylen : 1);
	if (!l->key)
		return R_ERR(ARCA_ERR_INTERNAL, "out of memory");
	memcpy(l->key, k->key, k->keylen);
	l->keylen = k->keylen;
	l->expire = k->expire_ms;
	l->vlen = 0;
	l->spill_len = 0;
	l->crc = 0;
	return ARCA_OK;
}

static int spill(struct live *l, const void *p, size_t n)
{
	if (l->spill_fd < 0) {
		char path[4200];
		snprintf(path, sizeof path, "%s/value.spill", redis_host->scratch_dir(l->ctx));
		l->spill_fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (l->spill_fd < 0)
			return R_ERR(ARCA_ERR_IO, "cannot create %s: %s", path, strerror(errno));
	}
	if (l->spill_len == 0 && ftruncate(l->spill_fd, 0) != 0)
		return R_ERR(ARCA_ERR_IO, "scratch file: %s", strerror(errno));
	if (pwrite(l->spill_fd, p, n, (off_t)l->spill_len) != (ssize_t)n)
		return R_ERR(ARCA_ERR_IO, "writing the scratch file: %s", strerror(errno));
	l->spill_len += n;
	return ARCA_OK;
}

static int on_value(void *arg, const void *p, size_t n)
{
	struct live *l = arg;
	l->crc = rdb_crc64(l->crc, p, n);
	if (l->spill_len || l->vlen + n > VALUE_RAM_MAX) {
		int rc = ARCA_OK;
		if (l->vlen) {
			rc = spill(l, l->val, l->vlen);
			l->vlen = 0;
		}
		return rc == ARCA_OK ? spill(l, p, n) : rc;
	}
	if (l->vlen + n > l->vcap) {
		size_t cap = l->vcap ? l->vcap : 4096;
		while (cap < l->vlen + n)
			cap *= 2;
		unsigned char *v = realloc(l->val, cap);
		if (!v)
			return R_ERR(ARCA_ERR_INTERNAL, "out of memory");
		l->val = v, l->vcap = cap;
	}
	memcpy(l->val + l->vlen, p, n);
	l->vlen += n;
	return ARCA_OK;
}

static int on_value_end(void *arg)
{
	struct live *l = arg;
	unsigned char trailer[10];
	uint64_t body = l->spill_len ? l->spill_len : l->vlen;
	trailer[0] = (unsigned char)(l->version & 0xff);
	trailer[1] = (unsigned char)(l->version >> 8);
	uint64_t crc = rdb_crc64(l->crc, trailer, 2);
	for (int i = 0; i < 8; i++)
		trailer[2 + i] = (unsigned char)(crc >> (8 * i));
	char ttl[24];
	int tl = snprintf(ttl, sizeof ttl, "%" PRId64, l->expire >= 0 ? l->expire : 0);
	int rc = out_put(l, l->replace ? "*6\r\n$7\r\nRESTORE\r\n" : "*5\r\n$7\r\nRESTORE\r\n", 17);
	if (rc == ARCA_OK)
		rc = out_arg(l, l->key, l->keylen);
	if (rc == ARCA_OK)
		rc = out_arg(l, ttl, (size_t)tl);
	if (rc == ARCA_OK)
		rc = out_bulk_hdr(l, (size_t)body + sizeof trailer);
	if (rc == ARCA_OK && !l->spill_len)
		rc = out_put(l, l->val, l->vlen);
	if (rc == ARCA_OK && l->spill_len) {
		unsigned char buf[65536];
		if ((rc = out_flush(l)) != ARCA_OK)
			return rc;
		for (uint64_t off = 0; rc == ARCA_OK && off < l->spill_len;) {
			size_t want = l->spill_len - off > sizeof buf
			                  ? sizeof buf
			                  : (size_t)(l->spill_len - off);
			ssize_t k = pread(l->spill_fd, buf, want, (off_t)off);
			if (k <= 0)
				return R_ERR(ARCA_ERR_IO, "reading the scratch file: %s",
				             k < 0 ? strerror(errno) : "short");
			rc = rconn_write(l->c, buf, (size_t)k);
			off += (uint64_t)k;
		}
	}
	if (rc == ARCA_OK)
		rc = out_put(l, trailer, sizeof trailer);
	if (rc == ARCA_OK)
		rc = out_put(l, "\r\n$6\r\nABSTTL\r\n", 14);
	if (rc == ARCA_OK && l->replace)
		rc = out_put(l, "$7\r\nREPLACE\r\n", 13);
	l->spill_len = 0;
	l->vlen = 0;
	if (l->vcap > VALUE_RAM_MAX) { /* one big value does not keep its buffer */
		free(l->val);
		l->val = NULL, l->vcap = 0;
	}
	if (rc != ARCA_OK)
		return rc;
	l->owed++;
	l->sent_keys++;
	if (l->owed >= WINDOW)
		rc = drain(l, WINDOW / 2);
	return rc;
}

/* A function library: FUNCTION LOAD [REPLACE] code, in the pipeline. */
static int on_function(void *arg, const char *code, size_t len)
{
	struct live *l = arg;
	int rc = out_put(l,
	                 l->replace ? "*4\r\n$8\r\nFUNCTION\r\n$4\r\nLOAD\r\n$7\r\nREPLACE\r\n"
	                            : "*3\r\n$8\r\nFUNCTION\r\n$4\r\nLOAD\r\n",
	                 l->replace ? 41 : 28);
	if (rc == ARCA_OK)
		rc = out_arg(l, code, len);
	if (rc == ARCA_OK) {
		l->owed++;
		l->restored--; /* its +OK, or the library's name, is no key */
		l->functions++;
	}
	return rc;
}

/* redis://[user@]host:port[/db][?password_file=PATH] */
int redis_parse_url(struct redis_target *t, const char *url, struct redis_addr *a)
{
	const char *p = url;
	memset(a, 0, sizeof *a);
	a->timeout_ms = t->addr.timeout_ms;
	a->db = -1;
	if (!strncmp(p, "rediss://", 9)) {
		a->tls = 1;
		a->ca_file = t->addr.ca_file, a->cert_file = t->addr.cert_file;
		a->key_file = t->addr.key_file, a->server_name = t->addr.server_name;
		p += 9;
	} else {
		p += 8;
	}
	const char *at = strchr(p, '@'), *end = p + strcspn(p, "/?");
	if (at && at < end) {
		if ((size_t)(at - p) >= sizeof a->user || memchr(p, ':', (size_t)(at - p)))
			return R_ERR(
			    ARCA_ERR_CONFIG,
			    "--into %s: put only the user before '@' (the password comes from "
			    "REDISCLI_AUTH or ?password_file=PATH)",
			    url);
		memcpy(a->user, p, (size_t)(at - p));
		p = at + 1;
	}
	const char *colon = memchr(p, ':', (size_t)(end - p));
	size_t hl = (size_t)((colon ? colon : end) - p);
	if (hl == 0 || hl >= sizeof a->host)
		return R_ERR(ARCA_ERR_CONFIG, "--into %s: no host", url);
	memcpy(a->host, p, hl);
	a->port = 6379;
	if (colon) {
		char *e;
		long port = strtol(colon + 1, &e, 10);
		if (e != end || port < 1 || port > 65535)
			return R_ERR(ARCA_ERR_CONFIG, "--into %s: bad port", url);
		a->port = (int)port;
	}
	p = end;
	if (*p == '/' && p[1] && p[1] != '?') {
		char *e;
		long db = strtol(p + 1, &e, 10);
		if (db < 0 || db > 1000000 || (*e && *e != '?'))
			return R_ERR(ARCA_ERR_CONFIG, "--into %s: bad database number", url);
		a->db = (int)db;
		p = e;
	} else if (*p == '/') {
		p++;
	}
	const char *pf = NULL;
	if (*p == '?') {
		if (strncmp(p + 1, "password_file=", 14) != 0)
			return R_ERR(ARCA_ERR_CONFIG,
			             "--into %s: the only parameter is password_file=PATH", url);
		pf = p + 15;
	}
	if (pf) {
		FILE *f = fopen(pf, "re");
		char line[1024];
		if (!f)
			return R_ERR(ARCA_ERR_CONFIG, "--into: password_file %s: %s", pf,
			             strerror(errno));
		if (!fgets(line, sizeof line, f))
			line[0] = '\0';
		fclose(f);
		line[strcspn(line, "\r\n")] = '\0';
		a->password = strdup(line);
		explicit_bzero(line, sizeof line);
	} else if (getenv("REDISCLI_AUTH")) {
		a->password = strdup(getenv("REDISCLI_AUTH"));
	}
	return ARCA_OK;
}

/* The stored RDB's version, from its header. */
static int stored_version(struct arca_ctx *ctx, int *version)
{
	struct arca_item_info info;
	unsigned char h[9];
	size_t n = 0, got;
	int rc = redis_open_item(ctx, &info);
	while (rc == ARCA_OK && n < 9 &&
	       (rc = redis_host->item_read(ctx, h + n, 9 - n, &got)) == ARCA_OK && got)
		n += got;
	if (rc != ARCA_OK)
		return rc;
	if (n < 9 || memcmp(h, "REDIS", 5) != 0)
		return R_ERR(ARCA_ERR_CORRUPT, "%s: not an RDB file", REDIS_ITEM);
	*version = 0;
	for (int i = 5; i < 9; i++)
		*version = *version * 10 + (h[i] >= '0' && h[i] <= '9' ? h[i] - '0' : 0);
	return redis_open_item(ctx, &info); /* back to the start */
}

int redis_restore_live(struct redis_target *t, struct arca_ctx *ctx, const char *url)
{
	struct redis_addr own, *a = &t->addr;
	int rc;
	if ((rc = redis_addr_for(t, url, &own, &a)) != ARCA_OK)
		return rc;
	int version = 0;
	struct rconn c;
	char *sinfo = NULL, *keyspace = NULL;
	rc = stored_version(ctx, &version);
	if (rc == ARCA_OK)
		rc = rconn_open(&c, a, ctx);
	if (rc != ARCA_OK)
		goto out_addr;
	if ((rc = rconn_info(&c, "server", &sinfo)) != ARCA_OK ||
	    (rc = rconn_info(&c, "keyspace", &keyspace)) != ARCA_OK)
		goto out;
	char ver[32];
	redis_info_field(sinfo, "redis_version", ver, sizeof ver);
	int can = rdb_version_of_server(ver);
	if (can && version > can) {
		rc = R_ERR(ARCA_ERR_UNSUPPORTED,
		           "%s: the snapshot is RDB version %d, Redis %s loads up to version %d; "
		           "restore into a newer server (nothing was sent)",
		           c.where, version, ver, can);
		goto out;
	}
	/* A server that holds keys is refused unless --overwrite: db lines of
	 * INFO keyspace are "dbN:keys=..." */
	int overwrite = redis_host->option(ctx, "overwrite") != NULL;
	char busy[256] = "";
	for (const char *p = keyspace; (p = strstr(p, "\ndb")) != NULL; p++) {
		int db = atoi(p + 3);
		if (a->db >= 0 && db != a->db)
			continue;
		size_t bl = strlen(busy);
		snprintf(busy + bl, sizeof busy - bl, "%sdb%d", bl ? ", " : "", db);
	}
	/* Function libraries count as data too (Redis 7+; older servers
	 * answer an error: none). */
	redisReply *fl = NULL;
	const char *flist[] = {"FUNCTION", "LIST"};
	if ((rc = rconn_send(&c, 2, flist, NULL)) != ARCA_OK ||
	    (rc = rconn_reply(&c, &fl)) != ARCA_OK)
		goto out;
	if (fl->type == REDIS_REPLY_ARRAY && fl->elements > 0) {
		size_t bl = strlen(busy);
		snprintf(busy + bl, sizeof busy - bl, "%s%zu function librar%s", bl ? ", " : "",
		         fl->elements, fl->elements == 1 ? "y" : "ies");
	}
	freeReplyObject(fl);
	if (busy[0] && !overwrite) {
		rc = R_ERR(
		    ARCA_ERR_EXISTS,
		    "%s holds data (%s); restore into an empty server, or give --overwrite to "
		    "replace the keys and libraries the snapshot holds (others stay)",
		    c.where, busy);
		goto out;
	}
	struct live l = {.ctx = ctx,
	                 .c = &c,
	                 .replace = overwrite,
	                 .db_fixed = a->db,
	                 .cur_db = -1,
	                 .spill_fd = -1,
	                 .version = version};
	l.out = malloc(OUT_FLUSH);
	if (!l.out) {
		rc = R_ERR(ARCA_ERR_INTERNAL, "out of memory");
		goto out;
	}
	struct arca_item_info info;
	struct item_src src = {ctx};
	struct rdb_walker w = {0};
	if ((rc = redis_open_item(ctx, &info)) == ARCA_OK) {
		redis_host->progress_total(ctx, info.size == UINT64_MAX ? 0 : info.size, 1);
		w.read = redis_item_read;
		w.read_arg = &src;
		w.on_key = on_key;
		w.on_value = on_value;
		w.on_value_end = on_value_end;
		w.on_function = on_function;
		w.key_arg = &l;
		w.cancelled = redis_item_cancelled;
		w.cancel_arg = &src;
		rc = rdb_walk(&w);
		if (rc == ARCA_ERR_CORRUPT)
			rc = R_ERR(ARCA_ERR_CORRUPT, "%s: the stored RDB fails its check %s",
			           REDIS_ITEM, w.err);
	}
	if (rc == ARCA_OK || l.owed) {
		/* the replies owed: a failure to read them counts when nothing
		 * failed before (its message is set) */
		int d = drain(&l, 0);
		if (rc == ARCA_OK)
			rc = d;
	}
	if (rc == ARCA_OK && l.first_err[0])
		rc = R_ERR(ARCA_ERR_IO,
		           "%s: RESTORE failed: %s (%" PRId64 " of %" PRIu64 " keys restored)",
		           c.where, l.first_err, l.restored, l.sent_keys);
	if (rc == ARCA_OK)
		R_LOG(ARCA_LOG_INFO,
		      "%s: restored %" PRId64 " keys and %" PRIu64 " function librar%s", c.where,
		      l.restored, l.functions, l.functions == 1 ? "y" : "ies");
	else if (l.sent_keys)
		R_LOG(ARCA_LOG_WARN, "%s: %" PRId64 " keys were restored before the failure",
		      c.where, l.restored);
	rdb_walker_free(&w);
	if (l.spill_fd >= 0)
		close(l.spill_fd);
	free(l.out);
	free(l.val);
	free(l.key);
out:
	free(sinfo);
	free(keyspace);
	rconn_close(&c);
out_addr:
	if (a == &own)
		redis_addr_free(&own);
	return rc;
}

/* The server to talk to: `url` (parsed into *own) or the target's own,
 * whose password secret is read on first use. */
int redis_addr_for(struct redis_target *t, const char *url, struct redis_addr *own,
                   struct redis_addr **a)
{
	int rc;
	*a = &t->addr;
	if (url) {
		if ((rc = redis_parse_url(t, url, own)) != ARCA_OK) {
			redis_addr_free(own);
			return rc;
		}
		*a = own;
	} else if (!t->addr.password) {
		char *pw = NULL;
		rc = redis_host->secret(t->cfg, "password", &pw);
		if (rc != ARCA_OK && rc != ARCA_ERR_NOT_FOUND)
			return rc;
		t->addr.password = pw;
	}
	return ARCA_OK;
}
