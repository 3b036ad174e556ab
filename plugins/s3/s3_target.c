/* s3_target.c — the `s3` driver as a target: a bucket, or a prefix of one,
 * as the data to protect (issue 16 part 2; started, see README.md "The
 * bucket as a target"). Each object is a STREAM item named by its key below
 * the prefix, with its ETag, Last-Modified and headers (Content-Type,
 * -Encoding, -Disposition, -Language, Cache-Control, Expires, x-amz-meta-*,
 * storage class) in the item's metadata, and "ETag size Last-Modified" as
 * its fingerprint, so an unchanged object is not downloaded again.
 * Restore writes the objects back into the bucket with their headers, and
 * refuses, before writing anything, to replace objects that differ unless
 * --overwrite. */
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "s3.h"
#include "s3_xml.h"
#include "sigv4.h"

/* A listed object whose headers and tags are fetched by a worker. */
struct pend {
	char *key, *lm;
	uint64_t size;
	struct s3_resp r;
	char *tags;
	int rc;
	struct s3_fail f;
};

/* Objects are taken from the listing in batches of S3T_BATCH: the headers
 * and tags of a batch are fetched by `jobs` threads at once, then the
 * engine thread hands the objects to the engine in listing order, reading
 * the content of the changed ones. Memory: one batch (~8.5 KiB each). */
#define S3T_BATCH 64
struct snap {
	struct s3_inst *s;
	struct arca_ctx *ctx;
	size_t plen;
	struct s3_fail f;
	struct pend *batch;
	size_t n;
	int jobs;
	atomic_size_t next;
};

/* One request of the target's own, retried on transient failures (5xx,
 * 429, resets, timeouts, truncated answers) with backoff (0.2 s doubling,
 * or the server's Retry-After; 6 tries). A GET into a sink is retried only
 * while nothing reached the sink. ARCA_OK with a 2xx or 404 in r (which
 * the caller frees either way), else the failure in f. */
static int s3t_request(struct s3_inst *s, const struct s3_req *rq, struct s3_resp *r,
                       const char *what, struct s3_fail *f)
{
	for (int attempt = 0;; attempt++) {
		memset(f, 0, sizeof *f);
		int rc = s3_request(s, NULL, rq, r, f);
		if (rc == ARCA_OK && (r->status == 404 || (r->status >= 200 && r->status < 300))) {
			if (!rq->sink || r->content_length < 0 ||
			    r->delivered == (uint64_t)r->content_length || r->status == 404)
				return ARCA_OK;
			rc = s3_fail_set(f, ARCA_ERR_IO, 1, "s3 %s: %s: the answer was cut short",
			                 s->scheme_host, what);
		} else if (rc == ARCA_OK)
			rc = s3_http_error(s, r, what, f);
		if (!f->transient || attempt >= 5 || (rq->sink && r->delivered))
			return rc;
		int64_t ms = f->retry_after_ms > 0 ? f->retry_after_ms : 200LL << attempt;
		if (ms > 10000)
			ms = 10000;
		s3_resp_free(r);
		s3_host->log(ARCA_LOG_INFO, "s3: %s: %s; trying again in %" PRId64 " ms", what,
		             f->msg, ms);
		struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
		nanosleep(&ts, NULL);
	}
}

static int to_item(void *arg, const void *data, size_t len)
{
	return s3_host->item_write(arg, data, len);
}

/* The object's tags (GetObjectTagging) as "tag: KEY=VALUE\n" lines, key and
 * value percent-encoded, into a malloc'd *out ("" when none). */
static int get_tags(struct s3_inst *s, const char *key, char **out, struct s3_fail *f)
{
	static const char *const q[] = {"tagging", ""};
	struct s3_req rq = {.method = "GET", .key = key, .query = q, .n_query = 1};
	struct s3_resp r;
	char what[600];
	snprintf(what, sizeof what, "reading the tags of %s", key);
	*out = NULL;
	int rc = s3t_request(s, &rq, &r, what, f);
	if (rc != ARCA_OK || r.status == 404 || !r.body) {
		s3_resp_free(&r);
		*out = rc == ARCA_OK ? strdup("") : NULL;
		return rc == ARCA_OK && !*out ? s3_fail_set(f, ARCA_ERR_INTERNAL, 0, "oom") : rc;
	}
	size_t cap = r.body_len * 3 + 16, len = 0;
	char *t = malloc(cap);
	const char *p = r.body, *end = r.body + r.body_len, *a, *b;
	while (t && !s3_xml_find(p, end, "Tag", &a, &b)) {
		char *k = s3_xml_text(a, b, "Key"), *v = s3_xml_text(a, b, "Value");
		char *ke = k ? sigv4_uri_encode(k, 0) : NULL,
		     *ve = v ? sigv4_uri_encode(v, 0) : NULL;
		if (ke && ve && len + strlen(ke) + strlen(ve) + 8 < cap)
			len += (size_t)snprintf(t + len, cap - len, "tag: %s=%s\n", ke, ve);
		free(k), free(v), free(ke), free(ve);
		p = b;
	}
	if (t)
		t[len] = '\0';
	s3_resp_free(&r);
	*out = t;
	return t ? ARCA_OK : s3_fail_set(f, ARCA_ERR_INTERNAL, 0, "s3: out of memory");
}

/* Worker: the headers (HEAD) and tags of the batch's next objects. */
static void *meta_worker(void *arg)
{
	struct snap *sn = arg;
	for (size_t i; (i = atomic_fetch_add(&sn->next, 1)) < sn->n;) {
		struct pend *pd = &sn->batch[i];
		struct s3_req head = {.method = "HEAD", .key = pd->key};
		char what[600];
		snprintf(what, sizeof what, "looking at %s", pd->key);
		pd->rc = s3t_request(sn->s, &head, &pd->r, what, &pd->f);
		if (pd->rc == ARCA_OK && pd->r.status != 404)
			pd->rc = get_tags(sn->s, pd->key, &pd->tags, &pd->f);
	}
	return NULL;
}

/* One object of a fetched batch, on the engine thread: its metadata is
 * whole even when the content is reused (the engine keeps an unchanged
 * item's content, not its metadata); unless "ETag size Last-Modified" is
 * unchanged, its content is read with one GET. */
static int snap_one(struct snap *sn, struct pend *pd)
{
	struct s3_inst *s = sn->s;
	const char *name = pd->key + sn->plen;
	if (pd->rc != ARCA_OK)
		return s3_report(NULL, &pd->f);
	if (pd->r.status == 404) /* removed since the listing */
		return ARCA_OK;
	struct s3_resp *hr = &pd->r;
	if (hr->meta_over)
		s3_host->log(ARCA_LOG_WARN, "s3: %s: headers over 8 KiB left out", pd->key);
	size_t mlen = hr->meta_len + strlen(hr->etag) + strlen(pd->tags) + 64;
	char *meta = malloc(mlen), fp[512], sum[200], etag[160];
	if (!meta)
		return s3_host->error(ARCA_ERR_INTERNAL, "s3: out of memory");
	snprintf(meta, mlen, "etag: %s\nlast-modified: %" PRId64 "\n%s%s", hr->etag,
	         hr->last_modified, hr->meta, pd->tags);
	snprintf(fp, sizeof fp, "%s %" PRIu64 " %s", hr->etag, pd->size, pd->lm);
	snprintf(sum, sizeof sum, "etag:%s", hr->etag);
	snprintf(etag, sizeof etag, "%s", hr->etag);
	struct arca_item_info info = {.struct_size = sizeof info,
	                              .name = name,
	                              .type = ARCA_ITEM_STREAM,
	                              .size = hr->content_length >= 0 ? (uint64_t)hr->content_length
	                                                              : UINT64_MAX,
	                              .mtime_sec = hr->last_modified,
	                              .meta = meta,
	                              .fingerprint = fp,
	                              .flags = ARCA_ITEM_KEY_NAME,
	                              .checksum = sum};
	int rc = s3_host->item_begin(sn->ctx, &info);
	free(meta);
	if (rc == ARCA_ITEM_UNCHANGED)
		return s3_host->item_end(sn->ctx);
	if (rc != ARCA_OK)
		return rc;
	struct s3_req get = {.method = "GET", .key = pd->key, .sink = to_item, .sink_arg = sn->ctx};
	struct s3_resp r;
	char what[600];
	snprintf(what, sizeof what, "reading %s", pd->key);
	rc = s3t_request(s, &get, &r, what, &sn->f);
	if (rc == ARCA_OK && r.status == 404) {
		s3_resp_free(&r);
		return s3_host->item_skipped(sn->ctx, name, "deleted while the snapshot ran");
	}
	if (rc == ARCA_OK && strcmp(r.etag, etag))
		s3_host->log(ARCA_LOG_WARN,
		             "s3: %s changed while it was read; stored as read, the next snapshot "
		             "reads it again",
		             pd->key);
	s3_resp_free(&r);
	if (rc != ARCA_OK)
		return sn->f.msg[0] ? s3_report(NULL, &sn->f) : rc;
	return s3_host->item_end(sn->ctx);
}

static int flush_batch(struct snap *sn)
{
	pthread_t th[64];
	int nt = sn->jobs < (int)sn->n ? sn->jobs : (int)sn->n, started = 0;
	atomic_store(&sn->next, 0);
	for (; started < nt; started++)
		if (pthread_create(&th[started], NULL, meta_worker, sn))
			break;
	if (!started)
		meta_worker(sn);
	for (int i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	int rc = ARCA_OK;
	for (size_t i = 0; i < sn->n; i++) {
		struct pend *pd = &sn->batch[i];
		if (rc == ARCA_OK && s3_host->cancelled(sn->ctx))
			rc = s3_host->error(ARCA_ERR_CANCELLED, "interrupted");
		if (rc == ARCA_OK)
			rc = snap_one(sn, pd);
		s3_resp_free(&pd->r);
		free(pd->key), free(pd->lm), free(pd->tags);
		memset(pd, 0, sizeof *pd);
	}
	sn->n = 0;
	return rc;
}

/* The listing's callback: a key into the batch (any key is an item name
 * as it is, ABI 1.1 byte-string names: "/a", "a//b", "..", folder
 * markers "photos/"; only the prefix's own folder marker has no name
 * below the prefix). */
static int snap_object(void *arg, const struct s3_obj *o)
{
	struct snap *sn = arg;
	const char *name = o->key + sn->plen;
	if (s3_host->cancelled(sn->ctx))
		return s3_host->error(ARCA_ERR_CANCELLED, "interrupted");
	if (!*name)
		return ARCA_OK;
	if (strlen(name) > ARCA_KEY_NAME_MAX)
		return s3_host->item_skipped(sn->ctx, name, "key longer than 4096 bytes");
	struct pend *pd = &sn->batch[sn->n];
	pd->key = strdup(o->key);
	pd->lm = strdup(o->last_modified);
	pd->size = o->size;
	pd->r.content_length = -1;
	if (!pd->key || !pd->lm) {
		free(pd->key), free(pd->lm);
		return s3_host->error(ARCA_ERR_INTERNAL, "s3: out of memory");
	}
	return ++sn->n == S3T_BATCH ? flush_batch(sn) : ARCA_OK;
}

static int t_snapshot(void *instance, struct arca_ctx *ctx)
{
	if (s3_host->abi_minor < 1 || !ARCA_HOST_HAS(s3_host, item_end_info))
		return s3_host->error(ARCA_ERR_UNSUPPORTED,
		                      "s3: the bucket target needs an engine of ABI 1.1 "
		                      "(byte-string item names)");
	struct snap sn = {
	    .s = instance, .ctx = ctx, .plen = strlen(((struct s3_inst *)instance)->prefix)};
	/* a listing is not atomic: say when it ran, so an object changed
	 * during it can be placed */
	sn.jobs = (int)s3_host->config_int(sn.s->cfg, "parallel_objects", 16);
	sn.batch = calloc(S3T_BATCH, sizeof *sn.batch);
	if (!sn.batch)
		return s3_host->error(ARCA_ERR_INTERNAL, "s3: out of memory");
	time_t t0 = time(NULL);
	int rc = s3_list_objects(sn.s, NULL, sn.s->prefix, snap_object, &sn, &sn.f);
	if (rc == ARCA_OK && sn.n)
		rc = flush_batch(&sn);
	for (size_t i = 0; i < sn.n; i++) { /* a failed listing: what was batched */
		s3_resp_free(&sn.batch[i].r);
		free(sn.batch[i].key), free(sn.batch[i].lm), free(sn.batch[i].tags);
	}
	free(sn.batch);
	char a[32], b[32];
	time_t t1 = time(NULL);
	strftime(a, sizeof a, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&t0, &(struct tm){0}));
	strftime(b, sizeof b, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&t1, &(struct tm){0}));
	s3_host->log(ARCA_LOG_INFO, "s3: bucket %s listed from %s to %s", sn.s->bucket, a, b);
	if (rc != ARCA_OK && sn.f.msg[0] && sn.f.status == rc)
		return s3_report(NULL, &sn.f);
	return rc;
}

static int t_check(void *instance, struct arca_ctx *ctx)
{
	(void)ctx;
	return s3_check(instance);
}

/* ---- restore ---- */

/* The headers to send back, from an item's metadata ("name: value" lines),
 * and its tags as the body of a PutObjectTagging. */
struct hdrs {
	char *text;
	const char *h[S3_MAX_EXTRA][2];
	size_t n;
	char etag[160];
	char *tagging; /* <Tagging> XML, NULL: no tags */
};

/* Percent-decoding in place (what get_tags encoded). */
static void pct_decode(char *v)
{
	char *o = v;
	for (const char *p = v; *p; p++) {
		unsigned x;
		if (*p == '%' && p[1] && p[2] && sscanf(p + 1, "%2x", &x) == 1)
			*o++ = (char)x, p += 2;
		else
			*o++ = *p;
	}
	*o = '\0';
}

static void add_tag(struct hdrs *h, char *kv)
{
	char *eq = strchr(kv, '=');
	if (!eq)
		return;
	*eq = '\0';
	pct_decode(kv);
	pct_decode(eq + 1);
	char *k = s3_xml_escape(kv), *v = s3_xml_escape(eq + 1);
	size_t old = h->tagging ? strlen(h->tagging) : 0;
	size_t n = old + (k ? strlen(k) : 0) + (v ? strlen(v) : 0) + 64;
	char *t = k && v ? realloc(h->tagging, n) : NULL;
	if (t) {
		if (!old)
			t[0] = '\0';
		snprintf(t + strlen(t), n - strlen(t), "<Tag><Key>%s</Key><Value>%s</Value></Tag>",
		         k, v);
		h->tagging = t;
	}
	free(k);
	free(v);
}

static void parse_meta(const char *meta, struct hdrs *h)
{
	memset(h, 0, sizeof *h);
	h->text = strdup(meta ? meta : "");
	for (char *save, *l = h->text ? strtok_r(h->text, "\n", &save) : NULL; l;
	     l = strtok_r(NULL, "\n", &save)) {
		char *c = strstr(l, ": ");
		if (!c)
			continue;
		*c = '\0';
		if (!strcmp(l, "etag"))
			snprintf(h->etag, sizeof h->etag, "%s", c + 2);
		else if (!strcmp(l, "tag"))
			add_tag(h, c + 2);
		else if (strcmp(l, "last-modified") && strcmp(l, "x-amz-storage-class") &&
		         h->n < S3_MAX_EXTRA - 2)
			h->h[h->n][0] = l, h->h[h->n++][1] = c + 2;
	}
}

static void hdrs_free(struct hdrs *h)
{
	free(h->text);
	free(h->tagging);
}

/* PutObjectTagging of what parse_meta gathered. */
static int put_tags(struct s3_inst *s, const char *key, const struct hdrs *h, struct s3_fail *f)
{
	static const char *const q[] = {"tagging", ""};
	size_t n = strlen(h->tagging) + 64;
	char *body = malloc(n), what[600];
	if (!body)
		return s3_fail_set(f, ARCA_ERR_INTERNAL, 0, "s3: out of memory");
	snprintf(body, n, "<Tagging><TagSet>%s</TagSet></Tagging>", h->tagging);
	snprintf(what, sizeof what, "writing the tags of %s", key);
	struct s3_req rq = {.method = "PUT",
	                    .key = key,
	                    .query = q,
	                    .n_query = 1,
	                    .body = body,
	                    .body_len = strlen(body)};
	struct s3_resp r;
	int rc = s3t_request(s, &rq, &r, what, f);
	if (rc == ARCA_OK && r.status == 404)
		rc = s3_fail_set(f, ARCA_ERR_IO, 0, "s3 %s: %s: the object vanished",
		                 s->scheme_host, what);
	s3_resp_free(&r);
	free(body);
	return rc;
}

struct reader {
	struct arca_ctx *ctx;
	uint64_t pos;
};

/* put_stream's source over item_read: parts are asked for in order. */
static int item_source(void *arg, uint64_t off, void *buf, size_t len)
{
	struct reader *rd = arg;
	if (off != rd->pos)
		return s3_host->error(ARCA_ERR_INTERNAL, "s3: restore read out of order");
	for (size_t got = 0; got < len;) {
		size_t n = 0;
		int rc = s3_host->item_read(rd->ctx, (char *)buf + got, len - got, &n);
		if (rc != ARCA_OK)
			return rc;
		if (!n)
			return s3_host->error(ARCA_ERR_CORRUPT,
			                      "s3: stored object shorter than its size");
		got += n;
	}
	rd->pos += len;
	return ARCA_OK;
}

/* Does `key` exist with other content than the stored ETag? */
static int differs(struct s3_inst *s, const char *key, const char *etag, int *exists, int *same,
                   struct s3_fail *f)
{
	struct s3_req head = {.method = "HEAD", .key = key};
	struct s3_resp r;
	char what[600];
	snprintf(what, sizeof what, "looking at %s", key);
	int rc = s3t_request(s, &head, &r, what, f);
	*exists = *same = 0;
	if (rc == ARCA_OK && r.status != 404) {
		*exists = 1;
		*same = etag[0] && !strcmp(r.etag, etag);
	}
	s3_resp_free(&r);
	return rc;
}

static char *key_of(const struct s3_inst *s, const char *name)
{
	size_t n = strlen(s->prefix) + strlen(name) + 1;
	char *k = malloc(n);
	if (k)
		snprintf(k, n, "%s%s", s->prefix, name);
	return k;
}

/* --into s3://BUCKET[/PREFIX]: a second instance on the same section (same
 * endpoint and credentials) aimed at another bucket or prefix. */
static int open_into(struct s3_inst *s, const char *into, struct s3_inst **out)
{
	if (strncmp(into, "s3://", 5))
		return s3_host->error(
		    ARCA_ERR_UNSUPPORTED,
		    "s3: --into %s: only s3://BUCKET[/PREFIX] is offered (a local "
		    "directory is not yet)",
		    into);
	const char *bk = into + 5, *sl = strchr(bk, '/');
	size_t bl = sl ? (size_t)(sl - bk) : strlen(bk);
	const char *pf = sl ? sl + 1 : "";
	if (!bl || bl > 63)
		return s3_host->error(ARCA_ERR_CONFIG, "s3: --into %s: no bucket name", into);
	void *v;
	int rc = s3_inst_open(s->cfg, &v);
	if (rc != ARCA_OK)
		return rc;
	struct s3_inst *d = v;
	char bucket[64], host[600];
	snprintf(bucket, sizeof bucket, "%.*s", (int)bl, bk);
	if (d->path_style)
		snprintf(host, sizeof host, "%s", d->host);
	else /* "oldbucket.endpoint" -> "bucket.endpoint" */
		snprintf(host, sizeof host, "%s%s", bucket, d->host + strlen(d->bucket));
	size_t pl = strlen(pf), n = strlen(host) + 9;
	free(d->bucket), free(d->prefix), free(d->host), free(d->scheme_host), free(d->base_path);
	d->bucket = strdup(bucket);
	d->prefix = malloc(pl + 2);
	if (d->prefix)
		snprintf(d->prefix, pl + 2, "%s%s", pf, pl && pf[pl - 1] != '/' ? "/" : "");
	d->host = strdup(host);
	d->scheme_host = malloc(n);
	if (d->scheme_host)
		snprintf(d->scheme_host, n, "%s://%s", d->https ? "https" : "http", host);
	d->base_path = malloc(bl + 2);
	if (d->base_path)
		snprintf(d->base_path, bl + 2, "%s%s", d->path_style ? "/" : "",
		         d->path_style ? bucket : "");
	if (!d->bucket || !d->prefix || !d->host || !d->scheme_host || !d->base_path) {
		s3_inst_close(d);
		return s3_host->error(ARCA_ERR_INTERNAL, "s3: out of memory");
	}
	*out = d;
	return ARCA_OK;
}

static int in_scope(const struct arca_item_info *info, const char *pfx)
{
	return info->type == ARCA_ITEM_STREAM && (!pfx || !strncmp(info->name, pfx, strlen(pfx)));
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* --delete-extra: the keys under the restored prefix the snapshot lacks. */
struct extra {
	struct s3_inst *d;
	char **names;
	size_t n;
	char **del;
	size_t nd, cap;
};

static int extra_cb(void *arg, const struct s3_obj *o)
{
	struct extra *x = arg;
	const char *name = o->key + strlen(x->d->prefix);
	if (!*name || bsearch(&name, x->names, x->n, sizeof *x->names, cmp_str))
		return 0;
	if (x->nd == x->cap) {
		size_t c = x->cap ? 2 * x->cap : 256;
		char **g = realloc(x->del, c * sizeof *g);
		if (!g)
			return s3_host->error(ARCA_ERR_INTERNAL, "s3: out of memory");
		x->del = g, x->cap = c;
	}
	return (x->del[x->nd] = strdup(name)) ? (x->nd++, 0) : ARCA_ERR_INTERNAL;
}

static int delete_extra(struct s3_inst *d, const char *pfx, char **names, size_t n,
                        struct s3_fail *f)
{
	qsort(names, n, sizeof *names, cmp_str);
	struct extra x = {.d = d, .names = names, .n = n};
	char *kp = key_of(d, pfx ? pfx : "");
	int rc = kp ? s3_list_objects(d, NULL, kp, extra_cb, &x, f) : ARCA_ERR_INTERNAL;
	free(kp);
	if (rc == ARCA_OK && x.nd) {
		for (size_t i = 0; i < x.nd && i < 5; i++)
			s3_host->log(ARCA_LOG_INFO, "s3: deleting %s%s (not in the snapshot)",
			             d->prefix, x.del[i]);
		rc = s3_remove_call(d, NULL, (const char *const *)x.del, x.nd);
		if (rc == ARCA_OK)
			s3_host->log(ARCA_LOG_INFO, "s3: %zu object(s) not in the snapshot deleted",
			             x.nd);
	} else if (rc != ARCA_OK && f->msg[0] && f->status == rc)
		rc = s3_report(NULL, f);
	for (size_t i = 0; i < x.nd; i++)
		free(x.del[i]);
	free(x.del);
	return rc;
}

static int restore_into(struct s3_inst *s, struct arca_ctx *ctx)
{
	struct s3_fail f = {0};
	int overwrite = s3_host->option(ctx, "overwrite") != NULL;
	int del_extra = s3_host->option(ctx, "delete-extra") != NULL;
	const char *pfx = s3_host->option(ctx, "prefix");
	struct arca_item_info info = {.struct_size = sizeof info};
	char first[ARCA_KEY_NAME_MAX + 1] = "";
	char **names = NULL;
	size_t nn = 0, ncap = 0;
	int rc, conflicts = 0;
	/* pass 1: nothing is written when something differs (without
	 * --overwrite); the names kept for --delete-extra */
	while ((info.struct_size = sizeof info, rc = s3_host->item_next(ctx, &info)) == ARCA_OK) {
		if (!first[0])
			snprintf(first, sizeof first, "%s", info.name);
		if (!in_scope(&info, pfx))
			continue;
		if (del_extra) {
			if (nn == ncap) {
				size_t c = ncap ? 2 * ncap : 1024;
				char **g = realloc(names, c * sizeof *g);
				if (!g) {
					rc = s3_host->error(ARCA_ERR_INTERNAL, "s3: out of memory");
					break;
				}
				names = g, ncap = c;
			}
			if (!(names[nn] = strdup(info.name))) {
				rc = s3_host->error(ARCA_ERR_INTERNAL, "s3: out of memory");
				break;
			}
			nn++;
		}
		if (overwrite)
			continue;
		struct hdrs h;
		parse_meta(info.meta, &h);
		char *key = key_of(s, info.name);
		int exists, same;
		rc = key ? differs(s, key, h.etag, &exists, &same, &f) : ARCA_ERR_INTERNAL;
		if (rc == ARCA_OK && exists && !same && conflicts++ < 5)
			s3_host->log(ARCA_LOG_ERROR, "s3: %s exists and differs from the snapshot",
			             key);
		free(key);
		hdrs_free(&h);
		if (rc != ARCA_OK) {
			rc = f.msg[0] ? s3_report(NULL, &f) : rc;
			break;
		}
	}
	if (rc == ARCA_ERR_NOT_FOUND && conflicts)
		rc = s3_host->error(ARCA_ERR_EXISTS,
		                    "s3: %d object(s) in bucket %s differ from the snapshot (named "
		                    "above); nothing was written: --overwrite replaces them",
		                    conflicts, s->bucket);
	/* pass 2: write */
	uint64_t n = 0;
	if (rc == ARCA_ERR_NOT_FOUND && first[0]) {
		info.struct_size = sizeof info;
		rc = s3_host->item_open(ctx, first, &info);
	}
	while (rc == ARCA_OK) {
		if (in_scope(&info, pfx)) {
			struct hdrs h;
			parse_meta(info.meta, &h);
			char *key = key_of(s, info.name);
			int exists = 0, same = 0;
			rc = key ? differs(s, key, h.etag, &exists, &same, &f) : ARCA_ERR_INTERNAL;
			if (rc == ARCA_OK && !same) {
				struct reader rd = {ctx, 0};
				rc = s3_put_object(s, NULL, key, NULL, info.size, item_source, &rd,
				                   0, (const char *const(*)[2])h.h, h.n, 1, &f);
				if (rc == ARCA_OK && h.tagging)
					rc = put_tags(s, key, &h, &f);
				n++;
			}
			free(key);
			hdrs_free(&h);
			if (rc != ARCA_OK) {
				rc = f.msg[0] && f.status == rc ? s3_report(NULL, &f) : rc;
				break;
			}
		}
		info.struct_size = sizeof info;
		rc = s3_host->item_next(ctx, &info);
	}
	if (rc == ARCA_ERR_NOT_FOUND) {
		s3_host->log(ARCA_LOG_INFO, "s3: %" PRIu64 " object(s) written to bucket %s", n,
		             s->bucket);
		rc = del_extra ? delete_extra(s, pfx, names, nn, &f) : ARCA_OK;
	}
	for (size_t i = 0; i < nn; i++)
		free(names[i]);
	free(names);
	return rc;
}

/* Back into the bucket, or --into s3://another/prefix; --prefix restores
 * the objects below it only; --delete-extra removes what the snapshot
 * does not have (else objects created since are kept). */
static int t_restore(void *instance, struct arca_ctx *ctx)
{
	struct s3_inst *s = instance, *d = NULL;
	const char *into = s3_host->option(ctx, "into");
	if (into) {
		int rc = open_into(s, into, &d);
		if (rc != ARCA_OK)
			return rc;
		s3_host->log(ARCA_LOG_INFO, "s3: restoring into bucket %s, prefix \"%s\"",
		             d->bucket, d->prefix);
	}
	int rc = restore_into(d ? d : s, ctx);
	if (d)
		s3_inst_close(d);
	return rc;
}

static const struct arca_op_option s3_restore_options[] = {
    {"into", 1,
     "s3://BUCKET[/PREFIX]: restore into another bucket or prefix (same endpoint and "
     "credentials)",
     NULL, NULL},
    {"overwrite", 0, "replace objects that differ from the snapshot", NULL, NULL},
    {"prefix", 1, "restore only the objects whose key (below the target's prefix) starts so", NULL,
     NULL},
    {"delete-extra", 0, "delete the objects (under the restored prefix) the snapshot does not have",
     NULL, NULL},
    {NULL, 0, NULL, NULL, NULL},
};

static int t_open(const struct arca_config *cfg, void **instance)
{
	return s3_inst_open(cfg, instance);
}

const struct arca_target_ops s3_target_ops = {
    .struct_size = sizeof(struct arca_target_ops),
    .open = t_open,
    .check = t_check,
    .snapshot = t_snapshot,
    .restore = t_restore,
    .close = s3_inst_close,
    .restore_options = s3_restore_options,
};
