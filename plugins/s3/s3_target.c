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
#include "s3_target.h"
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
int s3t_request(struct s3_inst *s, const struct s3_req *rq, struct s3_resp *r, const char *what,
                struct s3_fail *f)
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

static int t_open(const struct arca_config *cfg, void **instance)
{
	return s3_inst_open(cfg, instance);
}

const struct arca_target_ops s3_target_ops = {
    .struct_size = sizeof(struct arca_target_ops),
    .open = t_open,
    .check = t_check,
    .snapshot = t_snapshot,
    .restore = s3t_restore,
    .close = s3_inst_close,
    .restore_options = s3t_restore_options,
};
