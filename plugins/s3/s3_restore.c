/* s3_restore.c — the `s3` target's restore (README.md, "The bucket as a
 * target"): the objects of a snapshot written back into the bucket, or
 * --into another bucket or prefix, with their headers and tags; refusing,
 * before writing anything, to replace objects that differ unless
 * --overwrite; --prefix restores part; --delete-extra removes what the
 * snapshot does not have. A first pass reads every item's attributes
 * (item_next, which the engine counts) and picks the state of each key to
 * give back (s3_select.c: the newest, none when it is a delete marker); the
 * second reaches each of those with item_open (not counted again). */
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "s3.h"
#include "s3_extras.h"
#include "s3_select.h"
#include "s3_target.h"
#include "s3_xml.h"

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

/* put_stream's source over the stored item: item_read on the driver's
 * thread (ctx), item_read_h from a writer thread (h); parts come in order. */
struct reader {
	struct arca_ctx *ctx;
	struct arca_item *h; /* NULL: read through ctx */
	uint64_t pos;
};

static int item_source(void *arg, uint64_t off, void *buf, size_t len)
{
	struct reader *rd = arg;
	if (off != rd->pos)
		return s3_host->error(ARCA_ERR_INTERNAL, "s3: restore read out of order");
	for (size_t got = 0; got < len;) {
		size_t n = 0;
		char *at = (char *)buf + got;
		int rc = rd->h ? s3_host->item_read_h(rd->h, at, len - got, &n)
		               : s3_host->item_read(rd->ctx, at, len - got, &n);
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

static char *key_of(const struct s3_inst *s, const char *name)
{
	size_t n = strlen(s->prefix) + strlen(name) + 1;
	char *k = malloc(n);
	if (k)
		snprintf(k, n, "%s%s", s->prefix, name);
	return k;
}

/* A growable array's room for one more element: *arr (of `size` bytes
 * each) reallocated to twice its capacity, or `first` elements. */
static int grow(void *arr, size_t *cap, size_t n, size_t size, size_t first)
{
	void *a;
	memcpy(&a, arr, sizeof a);
	if (n < *cap)
		return ARCA_OK;
	size_t c = *cap ? 2 * *cap : first;
	void *g = c > *cap && c <= SIZE_MAX / size ? realloc(a, c * size) : NULL;
	if (!g)
		return s3_host->error(ARCA_ERR_INTERNAL, "s3: out of memory");
	memcpy(arr, &g, sizeof g);
	*cap = c;
	return ARCA_OK;
}

/* One object to give back (the item a key's run chose, no delete marker)
 * and what the destination's listing said of its key. */
enum { THERE_NO, THERE_SAME, THERE_DIFF };
struct want {
	const struct s3s_entry *e;
	int there; /* THERE_* */
};

static int want_cmp(const void *a, const void *b)
{
	return strcmp(((const struct want *)a)->e->name, ((const struct want *)b)->e->name);
}

static int want_ord(const void *a, const void *b)
{
	uint64_t x = ((const struct want *)a)->e->ord, y = ((const struct want *)b)->e->ord;
	return x < y ? -1 : x > y;
}

/* What the bucket holds under the restored prefix, from one listing made
 * before anything is written (as `aws s3 sync` does: one page per 1000
 * keys instead of a HEAD per object), streamed: each key listed is looked
 * up among the objects to give back (sorted by name) and marks it the same
 * (ETag and size) or not; of the others only --delete-extra's names are
 * kept (s3_extras.c, on disk past a batch). Memory is bounded by the
 * snapshot, not by what the server lists. The server's order is not relied
 * upon; a key listed twice with two answers counts as differing. */
struct seen {
	size_t plen; /* the destination's prefix */
	struct want *w;
	size_t n;
	struct s3x_extras *extra; /* NULL: without --delete-extra */
};

static int seen_cb(void *arg, const struct s3_obj *o)
{
	struct seen *sn = arg;
	const char *name = o->key + sn->plen;
	struct s3s_entry k = {.name = (char *)name};
	struct want kw = {.e = &k};
	struct want *w = sn->n ? bsearch(&kw, sn->w, sn->n, sizeof *sn->w, want_cmp) : NULL;
	if (w) {
		int same = w->e->etag[0] && !strcmp(o->etag, w->e->etag) && o->size == w->e->size;
		int t = same ? THERE_SAME : THERE_DIFF;
		if (t > w->there)
			w->there = t;
		return 0;
	}
	/* the prefix's own key ("pre/" restoring into pre/) is never deleted */
	return sn->extra && *name ? s3x_add(sn->extra, name) : 0;
}

static int seen_list(struct s3_inst *d, const char *pfx, struct seen *sn)
{
	struct s3_fail f = {0};
	char *kp = key_of(d, pfx ? pfx : "");
	int rc = kp ? s3_list_objects(d, NULL, kp, seen_cb, sn, &f)
	            : s3_host->error(ARCA_ERR_INTERNAL, "s3: out of memory");
	free(kp);
	if (rc != ARCA_OK && f.msg[0] && f.status == rc)
		rc = s3_report(NULL, &f);
	return rc;
}

static int in_scope(const struct arca_item_info *info, const char *pfx)
{
	return (info->type == ARCA_ITEM_STREAM || info->type == ARCA_ITEM_TOMBSTONE) &&
	       (!pfx || !strncmp(info->name, pfx, strlen(pfx)));
}

static uint64_t sig_of(const struct arca_item_info *info)
{
	return s3s_sig(
	    (int)info->type, info->mtime_sec, info->mtime_nsec, info->meta,
	    info->struct_size > offsetof(struct arca_item_info, checksum) ? info->checksum : NULL);
}

struct plan {
	struct s3s_entry *e;
	size_t n, cap;
};

static void plan_free(struct plan *pl)
{
	for (size_t i = 0; i < pl->n; i++)
		free(pl->e[i].name), free(pl->e[i].etag);
	free(pl->e);
}

/* Pass 1: the attributes of every item in scope, each read once. */
static int scan(struct arca_ctx *ctx, const char *pfx, struct plan *pl)
{
	struct arca_item_info info;
	int rc;
	uint64_t ord = 0;
	while ((info = (struct arca_item_info){.struct_size = sizeof info},
	        rc = s3_host->item_next(ctx, &info)) == ARCA_OK) {
		uint64_t o = ord++;
		if (!in_scope(&info, pfx))
			continue;
		if (grow(&pl->e, &pl->cap, pl->n, sizeof *pl->e, 1024) != ARCA_OK)
			return ARCA_ERR_INTERNAL;
		struct hdrs h;
		parse_meta(info.meta, &h);
		struct s3s_entry *e = &pl->e[pl->n];
		*e = (struct s3s_entry){.name = strdup(info.name),
		                        .etag = strdup(h.etag),
		                        .ord = o,
		                        .sig = sig_of(&info),
		                        .size = info.size,
		                        .sec = info.mtime_sec,
		                        .nsec = info.mtime_nsec,
		                        .tomb = info.type == ARCA_ITEM_TOMBSTONE,
		                        .latest = s3s_meta_latest(info.meta)};
		hdrs_free(&h);
		if (!e->name || !e->etag) {
			free(e->name), free(e->etag);
			return s3_host->error(ARCA_ERR_INTERNAL, "s3: out of memory");
		}
		pl->n++;
	}
	if (rc != ARCA_ERR_NOT_FOUND)
		return rc;
	s3s_select(pl->e, pl->n);
	return ARCA_OK;
}

int s3r_position(struct arca_ctx *ctx, const struct s3s_entry *w, struct arca_item_info *info)
{
	*info = (struct arca_item_info){.struct_size = sizeof *info};
	int rc = s3_host->item_open(ctx, w->name, info);
	/* a key stored more than once (versions): on to the one chosen */
	while (rc == ARCA_OK && (strcmp(info->name, w->name) || sig_of(info) != w->sig)) {
		*info = (struct arca_item_info){.struct_size = sizeof *info};
		rc = s3_host->item_next(ctx, info);
	}
	if (rc == ARCA_ERR_NOT_FOUND)
		return s3_host->error(ARCA_ERR_CORRUPT,
		                      "s3: the snapshot's item %s cannot be found again", w->name);
	return rc;
}

/* ---- pass 2: the objects written, `jobs` at once ---- */

/* One object for a writer (one the listing did not show the same): the
 * engine thread found it and opened it by handle; the writer writes it,
 * then closes the handle. */
struct wjob {
	char *key;
	struct hdrs h;
	uint64_t size;
	struct arca_item *ih;
};

#define WQ 16
struct wpool {
	struct s3_inst *s;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct wjob q[WQ];
	size_t head, count;
	int done, failed;
	struct s3_fail f; /* the first failure */
	uint64_t written;
};

/* Write one object with its headers and tags; *wrote. */
static int write_one(struct s3_inst *s, const char *key, struct hdrs *h, uint64_t size,
                     arca_source_fn src, void *arg, int *wrote, struct s3_fail *f)
{
	int rc = s3_put_object(s, NULL, key, NULL, size, src, arg, 0, (const char *const(*)[2])h->h,
	                       h->n, S3_PUT_SEQUENTIAL, f);
	if (rc == ARCA_OK && h->tagging)
		rc = put_tags(s, key, h, f);
	*wrote = rc == ARCA_OK;
	return rc;
}

static void *writer(void *arg)
{
	struct wpool *wp = arg;
	for (;;) {
		pthread_mutex_lock(&wp->mu);
		while (!wp->count && !wp->done)
			pthread_cond_wait(&wp->cv, &wp->mu);
		if (!wp->count) {
			pthread_mutex_unlock(&wp->mu);
			return NULL;
		}
		struct wjob j = wp->q[wp->head];
		wp->head = (wp->head + 1) % WQ, wp->count--;
		int skip = wp->failed;
		pthread_cond_broadcast(&wp->cv);
		pthread_mutex_unlock(&wp->mu);
		struct s3_fail f = {0};
		int rc = ARCA_OK, wrote = 0;
		if (!skip) {
			struct reader rd = {NULL, j.ih, 0};
			rc = write_one(wp->s, j.key, &j.h, j.size, item_source, &rd, &wrote, &f);
			if (rc != ARCA_OK && (!f.msg[0] || f.status != rc)) {
				/* a host call's failure (reading the snapshot): its message */
				f.status = rc, f.transient = 0;
				snprintf(f.msg, sizeof f.msg, "%s", s3_host->error_message());
				if (!f.msg[0])
					snprintf(f.msg, sizeof f.msg, "s3: writing %.600s failed",
					         j.key);
			}
		}
		s3_host->item_close_h(j.ih);
		free(j.key);
		hdrs_free(&j.h);
		pthread_mutex_lock(&wp->mu);
		wp->written += (uint64_t)wrote;
		if (rc != ARCA_OK && !wp->failed)
			wp->failed = 1, wp->f = f;
		pthread_mutex_unlock(&wp->mu);
	}
}

/* Credentials are read at the first request; host->secret may be called
 * only from the engine's thread: read them here, before the writers. */
static int creds_now(struct s3_inst *s)
{
	pthread_mutex_lock(&s->creds_mu);
	int rc = s->creds_loaded ? ARCA_OK : s3_creds_load(s->cfg, &s->creds);
	if (rc == ARCA_OK)
		s->creds_loaded = 1;
	pthread_mutex_unlock(&s->creds_mu);
	return rc;
}

/* The objects of w not there the same, in the snapshot's order (w is
 * sorted so). */
static int write_objects(struct s3_inst *s, struct arca_ctx *ctx, const struct want *w, size_t nw,
                         uint64_t *n)
{
	const char *jo = s3_host->option(ctx, "jobs");
	int jobs = jo ? atoi(jo) : (int)s3_host->config_int(s->cfg, "parallel_objects", 16);
	if (jobs > 64)
		jobs = 64;
	if (jobs < 1)
		jobs = 1;
	int par = jobs > 1 && s3_host->abi_minor >= 1 && ARCA_HOST_HAS(s3_host, item_open_h) &&
	          ARCA_HOST_HAS(s3_host, error_message);
	struct wpool wp = {.s = s};
	pthread_t th[64];
	int started = 0, rc = par ? creds_now(s) : ARCA_OK;
	if (par && rc == ARCA_OK) {
		pthread_mutex_init(&wp.mu, NULL);
		pthread_cond_init(&wp.cv, NULL);
		for (; started < jobs; started++)
			if (pthread_create(&th[started], NULL, writer, &wp))
				break;
		if (!started) {
			pthread_mutex_destroy(&wp.mu);
			pthread_cond_destroy(&wp.cv);
			par = 0;
		}
	}
	for (size_t i = 0; i < nw && rc == ARCA_OK; i++) {
		const struct s3s_entry *e = w[i].e;
		if (w[i].there == THERE_SAME)
			continue;
		if (s3_host->cancelled(ctx)) {
			rc = s3_host->error(ARCA_ERR_CANCELLED, "interrupted");
			break;
		}
		struct arca_item_info info;
		rc = s3r_position(ctx, e, &info);
		if (rc != ARCA_OK)
			break;
		struct wjob j = {.key = key_of(s, e->name), .size = info.size};
		parse_meta(info.meta, &j.h);
		if (!j.key || !j.h.text) {
			free(j.key);
			hdrs_free(&j.h);
			rc = s3_host->error(ARCA_ERR_INTERNAL, "s3: out of memory");
			break;
		}
		if (!par) {
			struct s3_fail f = {0};
			struct reader rd = {ctx, NULL, 0};
			int wrote = 0;
			rc = write_one(s, j.key, &j.h, j.size, item_source, &rd, &wrote, &f);
			*n += (uint64_t)wrote;
			free(j.key);
			hdrs_free(&j.h);
			if (rc != ARCA_OK)
				rc = f.msg[0] && f.status == rc ? s3_report(NULL, &f) : rc;
			continue;
		}
		rc = s3_host->item_open_h(ctx, NULL, NULL, &j.ih);
		if (rc != ARCA_OK) {
			free(j.key);
			hdrs_free(&j.h);
			break;
		}
		pthread_mutex_lock(&wp.mu);
		while (wp.count == WQ && !wp.failed)
			pthread_cond_wait(&wp.cv, &wp.mu);
		int failed = wp.failed;
		if (!failed) {
			wp.q[(wp.head + wp.count) % WQ] = j;
			wp.count++;
			pthread_cond_broadcast(&wp.cv);
		}
		pthread_mutex_unlock(&wp.mu);
		if (failed) {
			s3_host->item_close_h(j.ih);
			free(j.key);
			hdrs_free(&j.h);
			break;
		}
	}
	if (par) {
		pthread_mutex_lock(&wp.mu);
		wp.done = 1;
		pthread_cond_broadcast(&wp.cv);
		pthread_mutex_unlock(&wp.mu);
		for (int i = 0; i < started; i++)
			pthread_join(th[i], NULL);
		pthread_mutex_destroy(&wp.mu);
		pthread_cond_destroy(&wp.cv);
		*n += wp.written;
		/* a writer's failure first: the engine thread's may be its echo */
		if (wp.failed)
			rc =
			    wp.f.msg[0] ? s3_host->error(wp.f.status, "%s", wp.f.msg) : wp.f.status;
	}
	return rc;
}

/* ---- pass 1 bis: what is there already, from the listing ---- */

/* The objects to give back that are there with another ETag or size:
 * counted, the first five logged (in key order: w is), the first named. */
static int check_all(struct s3_inst *s, const struct want *w, size_t nw, int *conflicts,
                     char **first)
{
	for (size_t i = 0; i < nw; i++) {
		if (w[i].there != THERE_DIFF)
			continue;
		char *key = key_of(s, w[i].e->name);
		if (!key)
			return s3_host->error(ARCA_ERR_INTERNAL, "s3: out of memory");
		if ((*conflicts)++ < 5)
			s3_host->log(ARCA_LOG_ERROR, "s3: %s exists and differs from the snapshot",
			             key);
		if (!*first)
			*first = key, key = NULL;
		free(key);
	}
	return ARCA_OK;
}

/* Into a bucket (the target's, or --into's): nothing is written when an
 * object there differs from the one to give back, unless --overwrite.
 * --delete-extra removes afterwards the keys the listing made before
 * writing showed and the snapshot lacks, and no other: an object created
 * while the restore ran is kept (a second listing would take it for one
 * the snapshot lacks). One listed then replaced in between is removed. */
static int restore_bucket(struct s3_inst *s, struct arca_ctx *ctx, struct plan *pl, const char *pfx)
{
	int overwrite = s3_host->option(ctx, "overwrite") != NULL;
	int del_extra = s3_host->option(ctx, "delete-extra") != NULL;
	int rc = ARCA_OK, conflicts = 0;
	char *first = NULL;
	/* the objects to give back, by name as pl->e (one winner per name) */
	struct want *w = malloc((pl->n ? pl->n : 1) * sizeof *w);
	size_t nw = 0;
	if (!w)
		return s3_host->error(ARCA_ERR_INTERNAL, "s3: out of memory");
	for (size_t i = 0; i < pl->n; i++)
		if (pl->e[i].win && !pl->e[i].tomb)
			w[nw++] = (struct want){.e = &pl->e[i]};
	struct s3x_extras extra;
	s3x_init(&extra);
	struct seen sn = {strlen(s->prefix), w, nw, del_extra ? &extra : NULL};
	rc = creds_now(s);
	if (rc == ARCA_OK)
		rc = seen_list(s, pfx, &sn);
	if (rc == ARCA_OK && !overwrite)
		rc = check_all(s, w, nw, &conflicts, &first);
	if (rc == ARCA_OK && conflicts)
		rc =
		    s3_host->error(ARCA_ERR_EXISTS,
		                   "s3: %d object(s) in bucket %s differ from the snapshot (%s%s); "
		                   "nothing was written: --overwrite replaces them, or restore "
		                   "--into another bucket or prefix",
		                   conflicts, s->bucket, first ? first : "",
		                   conflicts > 1 ? " and more, named above" : "");
	free(first);
	/* pass 2: write */
	uint64_t n = 0;
	qsort(w, nw, sizeof *w, want_ord); /* in the snapshot's order */
	if (rc == ARCA_OK)
		rc = write_objects(s, ctx, w, nw, &n);
	if (rc == ARCA_OK) {
		s3_host->log(ARCA_LOG_INFO, "s3: %" PRIu64 " object(s) written to bucket %s", n,
		             s->bucket);
		rc = del_extra ? s3x_delete(s, ctx, &extra) : ARCA_OK;
	}
	s3x_free(&extra);
	free(w);
	return rc;
}

/* Back into the bucket; or --into s3://BUCKET[/PREFIX][?...], the NAME of
 * a [destination] of driver s3, or a local directory (a path with a '/');
 * --prefix restores the objects below it only; --delete-extra removes
 * what the snapshot does not have (else objects created since are kept). */
int s3t_restore(void *instance, struct arca_ctx *ctx)
{
	struct s3_inst *s = instance, *d = NULL;
	const char *into = s3_host->option(ctx, "into");
	const char *pfx = s3_host->option(ctx, "prefix");
	int local = into && strncmp(into, "s3://", 5) && strchr(into, '/');
	int rc = ARCA_OK, repo_dest = 0;
	if (into && !local)
		rc = s3_into_open(s, ctx, into, "restoring into", &d, &repo_dest);
	if (rc == ARCA_OK && repo_dest) {
		/* a [destination]'s prefix may hold a repository: never mix */
		char *k = key_of(d, "config");
		struct s3_req head = {.method = "HEAD", .key = k};
		struct s3_resp r = {0};
		struct s3_fail f = {0};
		rc = k ? s3t_request(d, &head, &r, "looking for a repository", &f)
		       : ARCA_ERR_INTERNAL;
		if (rc == ARCA_OK && r.status != 404)
			rc = s3_host->error(
			    ARCA_ERR_EXISTS,
			    "s3: --into %s: bucket %s prefix \"%s\" holds an arca "
			    "repository (%s); nothing was written: give another prefix "
			    "(--into s3://%s/OTHER/PREFIX with the section's endpoint= and "
			    "credentials)",
			    into, d->bucket, d->prefix, k, d->bucket);
		else if (rc != ARCA_OK && f.msg[0])
			rc = s3_report(NULL, &f);
		s3_resp_free(&r);
		free(k);
	}
	struct plan pl = {0};
	if (rc == ARCA_OK)
		rc = scan(ctx, pfx, &pl);
	if (rc == ARCA_OK && pfx && !pl.n)
		s3_host->log(ARCA_LOG_WARN,
		             "s3: no object of the snapshot has a key starting with "
		             "--prefix \"%s\" (below the target's prefix)",
		             pfx);
	if (rc == ARCA_OK && local)
		rc = s3_restore_local(into, ctx, pl.e, pl.n);
	else if (rc == ARCA_OK)
		rc = restore_bucket(d ? d : s, ctx, &pl, pfx);
	plan_free(&pl);
	if (d)
		s3_inst_close(d);
	return rc;
}

const struct arca_op_option s3t_restore_options[] = {
    {"into", 1,
     "s3://BUCKET[/PREFIX][?endpoint=URL&credentials_file=PATH...]: another bucket or prefix, "
     "on this endpoint or another; NAME: a [destination NAME] of driver s3; /DIR (a path with "
     "a '/'): files and DIR/%manifest.jsonl",
     NULL, NULL},
    {"overwrite", 0,
     "replace objects that differ from the snapshot (or files in a non-empty --into DIR)", NULL,
     NULL},
    {"prefix", 1, "restore only the objects whose key (below the target's prefix) starts so", NULL,
     NULL},
    {"delete-extra", 0, "delete the objects (under the restored prefix) the snapshot does not have",
     NULL, NULL},
    {"jobs", 1, "objects written to a bucket at once (default: parallel_objects, 16; at most 64)",
     NULL, NULL},
    {NULL, 0, NULL, NULL, NULL},
};
