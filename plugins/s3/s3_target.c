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
		/* bytes delivered to a sink are the caller's to resume */
		if ((rq->sink && r->delivered) || !s3_retry_pause(f, attempt, what))
			return rc;
		s3_resp_free(r);
	}
}

/* The object's tags (GetObjectTagging) as "tag: KEY=VALUE\n" lines, key and
 * value percent-encoded, into a malloc'd *out ("" when none). */
static int get_tags(struct s3_inst *s, const char *key, const char *vid, char **out,
                    struct s3_fail *f)
{
	const char *const q[] = {"tagging", "", "versionId", vid};
	struct s3_req rq = {.method = "GET", .key = key, .query = q, .n_query = vid ? 2 : 1};
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

/* ---- snapshot ---- */

/*
 * One listing, then per object: item_begin_h with what the listing says
 * (size, ETag, Last-Modified: the fingerprint) and ARCA_ITEM_KEEP_ATTRS,
 * so an unchanged object costs no request at all (the engine records the
 * headers and tags it stored last time); a changed one is queued for one
 * of `parallel_objects` threads, which GETs it into its handle and
 * completes its metadata from the GET's own headers (and its tags, read
 * only when the object has some) with item_end_info_h.
 *
 * Memory: the listing thread waits while 2 x parallel_objects objects are
 * queued, so one listing page (1000 keys) is held at a time; the engine
 * bounds what the handles buffer (plugin.h).
 */
struct job {
	struct job *next;
	struct arca_item *h;
	char *key;
	uint64_t size;
	char fp[512], etag[160];
	char vid[256]; /* versions = yes: the version read ("" the current object) */
	int latest;
	int32_t msec; /* the listing's milliseconds of Last-Modified */
};

enum { TAGS_AUTO, TAGS_ALWAYS, TAGS_NEVER };

struct snap {
	struct s3_inst *s;
	struct arca_ctx *ctx;
	size_t plen;
	struct s3_fail f; /* the listing's */
	pthread_mutex_t mu;
	pthread_cond_t cv_job, cv_space;
	struct job *head, *tail;
	size_t queued, cap;
	int full;     /* --full: every object read again */
	int versions; /* versions = yes on a versioned bucket */
	int listed;   /* no more jobs will come */
	int failed;   /* first failure of a worker, message in msg */
	char msg[1024];
	atomic_int tags_reported; /* the server sent x-amz-tagging-count once */
	int tags;                 /* option tags: TAGS_AUTO, _ALWAYS, _NEVER */
	atomic_ullong fetched, reused, gone, markers;
};

static int snap_failed(struct snap *sn)
{
	pthread_mutex_lock(&sn->mu);
	int rc = sn->failed;
	pthread_mutex_unlock(&sn->mu);
	return rc;
}

static void snap_fail(struct snap *sn, int rc, const char *msg)
{
	pthread_mutex_lock(&sn->mu);
	if (!sn->failed) {
		sn->failed = rc;
		snprintf(sn->msg, sizeof sn->msg, "%s",
		         msg && msg[0] ? msg : "s3: snapshot failed");
	}
	pthread_cond_broadcast(&sn->cv_space);
	pthread_cond_broadcast(&sn->cv_job);
	pthread_mutex_unlock(&sn->mu);
}

static int to_handle(void *arg, const void *data, size_t len)
{
	return s3_host->item_write_h(arg, data, len);
}

/* "2024-05-01T10:20:30.000Z" (a listing's LastModified) as epoch seconds. */
static int64_t iso_time(const char *t)
{
	struct tm tm = {0};
	if (sscanf(t, "%d-%d-%dT%d:%d:%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
	           &tm.tm_min, &tm.tm_sec) != 6)
		return 0;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	return (int64_t)timegm(&tm);
}

/* The milliseconds of a listing's "...T10:20:30.123Z" (0 when not given). */
static int iso_ms(const char *t)
{
	const char *dot = strchr(t, '.');
	int ms = 0, k = 0;
	for (; dot && k < 3; k++)
		ms = ms * 10 + (dot[1 + k] >= '0' && dot[1 + k] <= '9' ? dot[1 + k] - '0' : 0);
	return dot ? ms : 0;
}

/* GET the object into its handle. A transfer cut short after some bytes
 * went in goes on where it stopped (Range, If-Match the ETag read), at
 * most 5 times; a 404 leaves r->status 404. */
static int fetch(struct snap *sn, struct job *j, struct s3_resp *r, uint64_t *got, uint64_t *size,
                 struct s3_fail *f)
{
	char what[600], range[64], etag[160] = "";
	snprintf(what, sizeof what, "reading %s", j->key);
	*got = 0;
	*size = UINT64_MAX;
	for (int resume = 0;; resume++) {
		const char *const vq[] = {"versionId", j->vid};
		struct s3_req get = {.method = "GET",
		                     .key = j->key,
		                     .query = vq,
		                     .n_query = j->vid[0] ? 1 : 0,
		                     .sink = to_handle,
		                     .sink_arg = j->h};
		if (*got) {
			snprintf(range, sizeof range, "bytes=%" PRIu64 "-", *got);
			get.extra[0][0] = "range", get.extra[0][1] = range;
			get.extra[1][0] = "if-match", get.extra[1][1] = etag;
			get.n_extra = 2;
		}
		int rc = s3t_request(sn->s, &get, r, what, f);
		/* the first answer's length: a server that ignored Range and sent
		 * it all again makes the item longer, which the engine refuses */
		if (!*got && r->status == 200 && r->content_length >= 0)
			*size = (uint64_t)r->content_length;
		*got += r->delivered;
		if (!*got || !etag[0])
			snprintf(etag, sizeof etag, "%s", r->etag);
		if (rc == ARCA_OK || !f->transient || !r->delivered || resume >= 5 ||
		    s3_host->cancelled(sn->ctx))
			return rc;
		s3_host->log(ARCA_LOG_INFO, "s3: %s: %s; going on from byte %" PRIu64, what, f->msg,
		             *got);
		s3_resp_free(r);
	}
}

/* One changed object, on a worker: its content, then its metadata from the
 * GET's headers and its tags. */
static int fetch_one(struct snap *sn, struct job *j)
{
	struct s3_resp r;
	struct s3_fail f = {0};
	uint64_t got = 0, size;
	int rc = fetch(sn, j, &r, &got, &size, &f);
	if (rc == ARCA_OK && r.status == 404) {
		s3_resp_free(&r);
		atomic_fetch_add(&sn->gone, 1);
		return s3_host->item_skipped_h(sn->ctx, j->h, NULL,
		                               "deleted since the bucket was listed");
	}
	if (rc != ARCA_OK) {
		s3_resp_free(&r);
		/* the message first: releasing the handle may set another */
		char msg[1024];
		snprintf(msg, sizeof msg, "%s", f.msg[0] ? f.msg : s3_host->error_message());
		s3_host->item_end_h(j->h); /* the snapshot fails: nothing is recorded */
		snap_fail(sn, rc, msg);
		return rc;
	}
	if (r.meta_over)
		s3_host->log(ARCA_LOG_WARN, "s3: %s: headers over 8 KiB left out", j->key);
	/* the tags: asked for unless the server tells their number and it is
	 * 0 (S3 sends x-amz-tagging-count only for an object with tags, so
	 * its absence means none only once the server was seen to send it) */
	char *tags = NULL;
	if (r.tag_count >= 0)
		atomic_store(&sn->tags_reported, 1);
	if (sn->tags != TAGS_NEVER && (sn->tags == TAGS_ALWAYS || r.tag_count > 0 ||
	                               (r.tag_count < 0 && !atomic_load(&sn->tags_reported))))
		rc = get_tags(sn->s, j->key, j->vid[0] ? j->vid : NULL, &tags, &f);
	else
		tags = strdup("");
	if (rc == ARCA_OK && !tags)
		rc = s3_fail_set(&f, ARCA_ERR_INTERNAL, 0, "s3: out of memory");
	char vmeta[320] = "";
	if (j->vid[0])
		snprintf(vmeta, sizeof vmeta, "version-id: %s\nis-latest: %s\n", j->vid,
		         j->latest ? "true" : "false");
	size_t mlen = r.meta_len + strlen(r.etag) + strlen(vmeta) + (tags ? strlen(tags) : 0) + 64;
	char *meta = rc == ARCA_OK ? malloc(mlen) : NULL, sum[200];
	if (rc == ARCA_OK && !meta)
		rc = s3_fail_set(&f, ARCA_ERR_INTERNAL, 0, "s3: out of memory");
	if (rc != ARCA_OK) {
		s3_resp_free(&r);
		free(tags);
		s3_host->item_end_h(j->h);
		snap_fail(sn, rc, f.msg);
		return rc;
	}
	snprintf(meta, mlen, "%setag: %s\nlast-modified: %" PRId64 "\n%s%s", vmeta, r.etag,
	         r.last_modified, r.meta, tags);
	snprintf(sum, sizeof sum, "etag:%s", r.etag);
	int same = !strcmp(r.etag, j->etag);
	if (!same)
		s3_host->log(ARCA_LOG_WARN,
		             "s3: %s changed between the listing and its reading; stored as read, "
		             "the next snapshot reads it again",
		             j->key);
	struct arca_item_info final = {.struct_size = sizeof final,
	                               .type = ARCA_ITEM_STREAM,
	                               .flags = ARCA_ITEM_KEY_NAME | ARCA_ITEM_KEEP_ATTRS,
	                               .mtime_sec = r.last_modified,
	                               .mtime_nsec = j->msec * 1000000,
	                               .size = size,
	                               .meta = meta,
	                               /* no fingerprint: not reused next time */
	                               .fingerprint = same ? j->fp : NULL,
	                               .checksum = sum};
	s3_resp_free(&r);
	rc = s3_host->item_end_info_h(j->h, &final);
	free(meta);
	free(tags);
	if (rc != ARCA_OK)
		snap_fail(sn, rc, s3_host->error_message());
	else
		atomic_fetch_add(&sn->fetched, 1);
	return rc;
}

static void job_free(struct job *j)
{
	free(j->key);
	free(j);
}

static void *fetch_worker(void *arg)
{
	struct snap *sn = arg;
	for (;;) {
		pthread_mutex_lock(&sn->mu);
		while (!sn->head && !sn->listed && !sn->failed)
			pthread_cond_wait(&sn->cv_job, &sn->mu);
		struct job *j = sn->head;
		if (j) {
			sn->head = j->next;
			if (!sn->head)
				sn->tail = NULL;
			sn->queued--;
			pthread_cond_signal(&sn->cv_space);
		}
		int failed = sn->failed;
		pthread_mutex_unlock(&sn->mu);
		if (!j)
			return NULL;
		if (!failed && s3_host->cancelled(sn->ctx)) {
			snap_fail(sn, ARCA_ERR_CANCELLED, "interrupted");
			failed = 1;
		}
		if (failed)
			s3_host->item_end_h(j->h); /* released; the snapshot fails */
		else
			fetch_one(sn, j);
		job_free(j);
	}
}

/* The listing's callback, on the op's thread: unchanged objects end here;
 * the others are queued (waiting while the queue is full). Any key is an
 * item name as it is (ABI 1.1 byte-string names: "/a", "a//b", "..",
 * folder markers "photos/"); only the prefix's own folder marker has no
 * name below the prefix. */
static int snap_entry(struct snap *sn, const struct s3_obj *o, const struct s3_ver *v)
{
	const char *name = o->key + sn->plen;
	int rc = snap_failed(sn);
	if (rc)
		return rc;
	if (s3_host->cancelled(sn->ctx))
		return s3_host->error(ARCA_ERR_CANCELLED, "interrupted");
	if (!*name)
		return ARCA_OK;
	if (strlen(name) > ARCA_KEY_NAME_MAX)
		return s3_host->item_skipped_h(sn->ctx, NULL, name, "key longer than 4096 bytes");
	struct job *j = calloc(1, sizeof *j);
	if (!j || !(j->key = strdup(o->key))) {
		free(j);
		return s3_host->error(ARCA_ERR_INTERNAL, "s3: out of memory");
	}
	j->size = o->size;
	snprintf(j->etag, sizeof j->etag, "%s", o->etag);
	snprintf(j->fp, sizeof j->fp, "%s %" PRIu64 " %s", o->etag, o->size, o->last_modified);
	char meta[700], vmeta[320] = "";
	int64_t mtime = iso_time(o->last_modified);
	int ms = 0;
	if (v) {
		/* a version: the version id is the fingerprint (a version never
		 * changes), with whether it is the latest, so that the metadata
		 * kept for it never says a stale "is-latest: true" (a version
		 * that stops being the latest is read once more); a "null"
		 * version (written while versioning was suspended) can be
		 * replaced in place, so its ETag, size and time count too */
		snprintf(j->vid, sizeof j->vid, "%s", v->version_id);
		j->latest = v->latest;
		if (!strcmp(v->version_id, "null"))
			snprintf(j->fp, sizeof j->fp, "v null %s %" PRIu64 " %s%s", o->etag,
			         o->size, o->last_modified, v->latest ? " latest" : "");
		else
			snprintf(j->fp, sizeof j->fp, "v %s%s", v->version_id,
			         v->latest ? " latest" : "");
		ms = j->msec = iso_ms(o->last_modified);
		snprintf(vmeta, sizeof vmeta, "version-id: %s\nis-latest: %s\n", v->version_id,
		         v->latest ? "true" : "false");
	}
	snprintf(meta, sizeof meta, "%setag: %s\nlast-modified: %" PRId64 "\n", vmeta, o->etag,
	         mtime);
	/* provisional: the stored metadata is kept when unchanged, the GET's
	 * replaces it otherwise */
	struct arca_item_info info = {.struct_size = sizeof info,
	                              .name = name,
	                              .type = ARCA_ITEM_STREAM,
	                              .size = o->size,
	                              .mtime_sec = mtime,
	                              .mtime_nsec = ms * 1000000,
	                              .meta = meta,
	                              .fingerprint = sn->full ? NULL : j->fp,
	                              .flags = ARCA_ITEM_KEY_NAME | ARCA_ITEM_KEEP_ATTRS};
	rc = s3_host->item_begin_h(sn->ctx, &info, &j->h);
	if (rc == ARCA_ITEM_UNCHANGED) {
		struct arca_item *h = j->h;
		job_free(j);
		atomic_fetch_add(&sn->reused, 1);
		return s3_host->item_end_h(h);
	}
	if (rc != ARCA_OK) {
		job_free(j);
		return rc;
	}
	pthread_mutex_lock(&sn->mu);
	while (sn->queued >= sn->cap && !sn->failed)
		pthread_cond_wait(&sn->cv_space, &sn->mu);
	if (!sn->failed) {
		if (sn->tail)
			sn->tail->next = j;
		else
			sn->head = j;
		sn->tail = j;
		sn->queued++;
		pthread_cond_signal(&sn->cv_job);
		j = NULL;
	}
	rc = sn->failed;
	pthread_mutex_unlock(&sn->mu);
	if (j) {
		s3_host->item_end_h(j->h);
		job_free(j);
	}
	return rc;
}

static int snap_object(void *arg, const struct s3_obj *o)
{
	return snap_entry(arg, o, NULL);
}

/* A delete marker: a TOMBSTONE item, complete at once (no content, no
 * headers). */
static int snap_marker(struct snap *sn, const struct s3_ver *v)
{
	const char *name = v->key + sn->plen;
	if (!*name)
		return ARCA_OK;
	if (strlen(name) > ARCA_KEY_NAME_MAX)
		return s3_host->item_skipped_h(sn->ctx, NULL, name, "key longer than 4096 bytes");
	char meta[400];
	int64_t mtime = iso_time(v->last_modified);
	int ms = iso_ms(v->last_modified);
	snprintf(meta, sizeof meta,
	         "version-id: %s\nis-latest: %s\ndelete-marker: true\nlast-modified: %" PRId64 "\n",
	         v->version_id, v->latest ? "true" : "false", mtime);
	struct arca_item_info info = {.struct_size = sizeof info,
	                              .name = name,
	                              .type = ARCA_ITEM_TOMBSTONE,
	                              .size = 0,
	                              .mtime_sec = mtime,
	                              .mtime_nsec = ms * 1000000,
	                              .meta = meta,
	                              .flags = ARCA_ITEM_KEY_NAME};
	struct arca_item *h = NULL;
	int rc = s3_host->item_begin_h(sn->ctx, &info, &h);
	if (rc != ARCA_OK && rc != ARCA_ITEM_UNCHANGED)
		return rc;
	atomic_fetch_add(&sn->markers, 1);
	return s3_host->item_end_h(h);
}

/* ListObjectVersions' callback: a version is read as an object is (by its
 * version id), a delete marker is a tombstone. */
static int snap_version(void *arg, const struct s3_ver *v)
{
	struct snap *sn = arg;
	int rc = snap_failed(sn);
	if (rc)
		return rc;
	if (s3_host->cancelled(sn->ctx))
		return s3_host->error(ARCA_ERR_CANCELLED, "interrupted");
	/* a version id goes into the item's metadata lines: printable
	 * ASCII, bounded (AWS's are 32 URL-safe characters) */
	size_t vl = strlen(v->version_id), i = 0;
	while (i < vl && v->version_id[i] > 0x20 && v->version_id[i] < 0x7f)
		i++;
	if ((vl > 255 || i < vl) && v->key[sn->plen])
		return s3_host->item_skipped_h(
		    sn->ctx, NULL, v->key + sn->plen,
		    "a version id of more than 255 bytes or not printable "
		    "ASCII");
	if (v->marker)
		return snap_marker(sn, v);
	struct s3_obj o = {v->key, v->size, v->etag, v->last_modified};
	return snap_entry(sn, &o, v);
}

static void now_iso(char *out, size_t n)
{
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	size_t k = strftime(out, n, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out + k, n - k, ".%03ldZ", ts.tv_nsec / 1000000);
}

static int t_snapshot(void *instance, struct arca_ctx *ctx)
{
	if (s3_host->abi_minor < 1 || !ARCA_HOST_HAS(s3_host, item_end_info_h))
		return s3_host->error(ARCA_ERR_UNSUPPORTED,
		                      "s3: the bucket target needs an engine of ABI 1.1 with "
		                      "item_end_info_h (this arca is older than the s3 driver)");
	struct snap sn = {
	    .s = instance, .ctx = ctx, .plen = strlen(((struct s3_inst *)instance)->prefix)};
	int jobs = (int)s3_host->config_int(sn.s->cfg, "parallel_objects", 16);
	if (jobs < 1 || jobs > 64)
		jobs = 16;
	sn.cap = 2 * (size_t)jobs;
	sn.full = s3_host->option(ctx, "full") != NULL;
	const char *tags = s3_host->config_get(sn.s->cfg, "tags");
	sn.tags = tags && !strcmp(tags, "always")  ? TAGS_ALWAYS
	          : tags && !strcmp(tags, "never") ? TAGS_NEVER
	                                           : TAGS_AUTO;
	/* Amazon S3 documents x-amz-tagging-count on every GET of an object
	 * with tags: its absence there means none */
	atomic_store(&sn.tags_reported, sn.s->amazon);
	if (s3_host->config_bool(sn.s->cfg, "versions", 0)) {
		/* versions = yes on a bucket without versioning: its current
		 * objects, said at every snapshot (README.md) */
		int state = 0;
		int vrc = s3v_versioning(sn.s, &state, &sn.f);
		if (vrc != ARCA_OK)
			return s3_host->error(vrc, "%s",
			                      sn.f.msg[0] ? sn.f.msg : s3_host->error_message());
		if (state <= 0)
			s3_host->log(
			    ARCA_LOG_WARN,
			    "s3: versions = yes, but bucket %s %s: only its current objects "
			    "are kept (enable versioning on the bucket, or set versions = no)",
			    sn.s->bucket,
			    state < 0 ? "is on a server without versioning"
			              : "does not have versioning enabled");
		sn.versions = state > 0;
	}
	pthread_mutex_init(&sn.mu, NULL);
	pthread_cond_init(&sn.cv_job, NULL);
	pthread_cond_init(&sn.cv_space, NULL);
	pthread_t th[64];
	int started = 0, rc = ARCA_OK;
	for (; started < jobs; started++)
		if (pthread_create(&th[started], NULL, fetch_worker, &sn))
			break;
	if (!started)
		rc = s3_host->error(ARCA_ERR_INTERNAL, "s3: cannot start threads");
	/* a listing is not atomic: when it ran is part of the snapshot */
	char t0[40], t1[40];
	now_iso(t0, sizeof t0);
	if (rc == ARCA_OK && sn.versions)
		rc = s3v_list(sn.s, sn.s->prefix, snap_version, &sn, "1000", &sn.f);
	else if (rc == ARCA_OK)
		rc = s3_list_objects(sn.s, NULL, sn.s->prefix, snap_object, &sn, &sn.f);
	now_iso(t1, sizeof t1);
	char lmsg[1024] = "";
	if (rc != ARCA_OK && !snap_failed(&sn)) /* the listing's own failure */
		snprintf(lmsg, sizeof lmsg, "%s",
		         sn.f.msg[0] && sn.f.status == rc ? sn.f.msg : s3_host->error_message());
	pthread_mutex_lock(&sn.mu);
	sn.listed = 1;
	pthread_cond_broadcast(&sn.cv_job);
	pthread_mutex_unlock(&sn.mu);
	if (rc != ARCA_OK)
		snap_fail(&sn, rc, lmsg);
	for (int i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	for (struct job *j = sn.head, *n; j; j = n) { /* left by failed workers */
		n = j->next;
		s3_host->item_end_h(j->h);
		job_free(j);
	}
	char vnote[64];
	snprintf(vnote, sizeof vnote, "; %llu delete marker(s)",
	         (unsigned long long)atomic_load(&sn.markers));
	s3_host->log(ARCA_LOG_INFO,
	             "s3: bucket %s listed from %s to %s; %llu %s read, %llu unchanged, "
	             "%llu deleted meanwhile%s",
	             sn.s->bucket, t0, t1, (unsigned long long)atomic_load(&sn.fetched),
	             sn.versions ? "version(s)" : "object(s)",
	             (unsigned long long)atomic_load(&sn.reused),
	             (unsigned long long)atomic_load(&sn.gone), sn.versions ? vnote : "");
	int failed = snap_failed(&sn);
	if (failed)
		rc = s3_host->error(failed, "%s", sn.msg);
	else if (ARCA_HOST_HAS(s3_host, snapshot_note)) {
		rc = s3_host->snapshot_note(ctx, "listing-start", t0);
		if (rc == ARCA_OK)
			rc = s3_host->snapshot_note(ctx, "listing-end", t1);
	}
	pthread_cond_destroy(&sn.cv_job);
	pthread_cond_destroy(&sn.cv_space);
	pthread_mutex_destroy(&sn.mu);
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

/* PutObjectTagging changes neither the ETag nor Last-Modified: a tag-only
 * change is otherwise seen when the object next changes. */
static const struct arca_op_option s3_snapshot_options[] = {
    {"full", 0,
     "read every object again, headers and tags included (a tag-only change keeps the "
     "ETag and Last-Modified the incremental snapshot compares)",
     NULL, NULL},
    {NULL, 0, NULL, NULL, NULL},
};

const struct arca_target_ops s3_target_ops = {
    .struct_size = sizeof(struct arca_target_ops),
    .open = t_open,
    .check = t_check,
    .snapshot = t_snapshot,
    .restore = s3t_restore,
    .close = s3_inst_close,
    .restore_options = s3t_restore_options,
    .snapshot_options = s3_snapshot_options,
    .health_options = s3t_health_options,
    .health = s3t_health,
};
