/* dest.c — the repository's view of its destination: checked puts and gets,
 * listings, content-addressed sealed objects, object-name encoding. */
#include "repo/internal.h"

#include <stddef.h>
#include <string.h>
#include <unistd.h>
#include "log.h"
#include "loader.h"
#include "repo/blob.h"
#include "repo/retry.h"

/* Every op goes through retry_run (retry.h): with a driver of ABI 1.1 its
 * `_call` op gets a context and transient failures are retried; a 1.0
 * driver's op is called as it is, once. */
struct dest_op {
	struct repo *r;
	const char *name;
	/* put, put_stream */
	const void *data;
	size_t len;
	unsigned flags;
	int stream;
	/* get */
	uint64_t off, length;
	arca_sink_fn sink;
	void *sink_arg;
	void (*reset)(void *sink_arg); /* drops what a failed try's sink got */
	/* list */
	struct obj_list *list;
	/* remove */
	const char *const *names;
	size_t n;
	/* stat */
	struct arca_dest_stat *st;
};

/* The 1.1 op `member` of the destination's table, or NULL. */
#define OP11(r, member) (ARCA_OPS_HAS((r)->d.ops, member) ? (r)->d.ops->member : NULL)

static void op_reset(void *arg)
{
	struct dest_op *a = arg;
	if (a->reset)
		a->reset(a->sink_arg);
}

static int retried(struct repo *r, const char *verb, const char *name, retry_op_fn op,
                   struct dest_op *a)
{
	char what[320];
	snprintf(what, sizeof what, "destination %s: %s %s", r->dest_name, verb, name);
	return retry_run(&r->retry, what, op, a, op_reset, NULL);
}

/* A retried exclusive put that meets an object: the earlier try may have
 * written it before its reply was lost. The same bytes are a success. */
static int same_object(const struct dest_op *a)
{
	struct buf b = {0};
	int rc = dest_get_bounded(a->r, a->name, a->len, &b);
	int same =
	    rc == ARCA_OK && b.len == a->len && (!a->len || !memcmp(b.data, a->data, a->len));
	buf_free(&b);
	return same;
}

static int mem_source(void *arg, uint64_t off, void *buf, size_t len)
{
	const struct dest_op *a = arg;
	if (off > a->len || len > a->len - off)
		return err_set(ARCA_ERR_INTERNAL, "read past the end of %s", a->name);
	memcpy(buf, (const unsigned char *)a->data + off, len);
	return ARCA_OK;
}

static int op_put(void *arg, struct arca_dest_call *call)
{
	struct dest_op *a = arg;
	void *inst = a->r->d.inst;
	int rc;
	if (a->stream && OP11(a->r, put_stream))
		rc = a->r->d.ops->put_stream(inst, call, a->name, a->len, mem_source, a, a->flags);
	else if (OP11(a->r, put_call))
		rc = a->r->d.ops->put_call(inst, call, a->name, a->data, a->len, a->flags, NULL);
	else
		rc = a->r->d.ops->put(inst, a->name, a->data, a->len, a->flags);
	if (rc == ARCA_ERR_EXISTS && call->attempt > 1 && (a->flags & ARCA_PUT_EXCLUSIVE)) {
		if (same_object(a)) {
			err_clear();
			return ARCA_OK;
		}
		err_set(rc, "destination %s: object %s already exists with other content",
		        a->r->dest_name, a->name);
	}
	return rc;
}

static int put_common(struct repo *r, const char *name, const void *data, size_t len,
                      unsigned flags, int stream)
{
	struct dest_op a = {
	    .r = r, .name = name, .data = data, .len = len, .flags = flags, .stream = stream};
	int rc = retried(r, "writing", name, op_put, &a);
	if (rc != ARCA_OK && rc != ARCA_ERR_EXISTS)
		return err_wrap(rc, "destination %s: writing %s", r->dest_name, name);
	return rc;
}

int dest_put(struct repo *r, const char *name, const void *data, size_t len, unsigned flags)
{
	return put_common(r, name, data, len, flags, 0);
}

int dest_put_stream(struct repo *r, const char *name, const void *data, size_t len, unsigned flags)
{
	return put_common(r, name, data, len, flags, 1);
}

static int op_get(void *arg, struct arca_dest_call *call)
{
	struct dest_op *a = arg;
	if (OP11(a->r, get_call))
		return a->r->d.ops->get_call(a->r->d.inst, call, a->name, a->off, a->length,
		                             a->sink, a->sink_arg);
	return a->r->d.ops->get(a->r->d.inst, a->name, a->off, a->length, a->sink, a->sink_arg);
}

int dest_get_sink(struct repo *r, const char *name, uint64_t off, uint64_t len, arca_sink_fn sink,
                  void *arg, void (*reset)(void *arg))
{
	struct dest_op a = {.r = r,
	                    .name = name,
	                    .off = off,
	                    .length = len,
	                    .sink = sink,
	                    .sink_arg = arg,
	                    .reset = reset};
	return retried(r, "reading", name, op_get, &a);
}

/* What dest_get appends to, and the length it had: a retry drops the rest. */
struct buf_at {
	struct buf *b;
	size_t base;
};

static int sink_buf_at(void *arg, const void *data, size_t len)
{
	buf_append(((struct buf_at *)arg)->b, data, len);
	return 0;
}

static void reset_buf_at(void *arg)
{
	struct buf_at *p = arg;
	p->b->len = p->base;
}

int dest_get(struct repo *r, const char *name, uint64_t off, uint64_t len, struct buf *out)
{
	struct buf_at at = {out, out->len};
	int rc = dest_get_sink(r, name, off, len, sink_buf_at, &at, reset_buf_at);
	if (rc != ARCA_OK)
		return err_wrap(rc, "destination %s: reading %s", r->dest_name, name);
	return ARCA_OK;
}

static int collect(void *arg, const char *name, uint64_t size);

static int op_list(void *arg, struct arca_dest_call *call)
{
	struct dest_op *a = arg;
	if (OP11(a->r, list_call))
		return a->r->d.ops->list_call(a->r->d.inst, call, a->name, collect, a->list);
	return a->r->d.ops->list(a->r->d.inst, a->name, collect, a->list);
}

static void reset_list(void *arg)
{
	obj_list_free(arg);
}

/* The whole listing, collected (unsorted); a retry starts it again. */
static int list_raw(struct repo *r, const char *prefix, struct obj_list *out)
{
	memset(out, 0, sizeof *out);
	struct dest_op a = {
	    .r = r, .name = prefix, .list = out, .sink_arg = out, .reset = reset_list};
	int rc = retried(r, "listing", prefix, op_list, &a);
	if (rc != ARCA_OK) {
		obj_list_free(out);
		if (err_status() == rc && err_msg()[0])
			err_wrap(rc, "destination %s: listing %s", r->dest_name, prefix);
	}
	return rc;
}

int dest_list(struct repo *r, const char *prefix,
              int (*cb)(void *arg, const char *name, uint64_t size), void *arg)
{
	struct obj_list l;
	int rc = list_raw(r, prefix, &l);
	for (size_t i = 0; rc == ARCA_OK && i < l.n; i++)
		rc = cb(arg, l.v[i].name, l.v[i].size);
	obj_list_free(&l);
	return rc;
}

static int op_remove(void *arg, struct arca_dest_call *call)
{
	struct dest_op *a = arg;
	if (OP11(a->r, remove_call))
		return a->r->d.ops->remove_call(a->r->d.inst, call, a->names, a->n);
	int rc = ARCA_OK;
	for (size_t i = 0; i < a->n && rc == ARCA_OK; i++)
		rc = a->r->d.ops->remove(a->r->d.inst, a->names[i]);
	return rc;
}

/* Names per remove call: S3's DeleteObjects takes at most 1000. */
#define REMOVE_BATCH 1000

int dest_remove_many(struct repo *r, const char *const *names, size_t n)
{
	int rc = ARCA_OK;
	for (size_t i = 0; i < n && rc == ARCA_OK; i += REMOVE_BATCH) {
		struct dest_op a = {
		    .r = r, .names = names + i, .n = n - i < REMOVE_BATCH ? n - i : REMOVE_BATCH};
		rc = retried(r, "removing", names[i], op_remove, &a);
		if (rc != ARCA_OK)
			err_wrap(rc, "destination %s: removing %s%s", r->dest_name, names[i],
			         a.n > 1 ? " and others" : "");
	}
	return rc;
}

int dest_remove(struct repo *r, const char *name)
{
	return dest_remove_many(r, &name, 1);
}

/* Removing the command's own lock is cleanup that runs after ^C too (a
 * lock left behind stops every other command until arca unlock): not cut
 * short by the interrupt, but bounded to a few tries within 10 s, a
 * request still in flight then included. */
int dest_remove_cleanup(struct repo *r, const char *name)
{
	struct retry_policy p = r->retry;
	p.uncancellable = 1;
	if (p.max_tries > 3)
		p.max_tries = 3;
	if (p.max_total_ms > 10000)
		p.max_total_ms = 10000;
	struct dest_op a = {.r = r, .names = &name, .n = 1};
	char what[320];
	snprintf(what, sizeof what, "destination %s: removing %s", r->dest_name, name);
	int rc = retry_run(&p, what, op_remove, &a, op_reset, NULL);
	if (rc == ARCA_ERR_CANCELLED) /* cut at the policy's deadline, not by ^C */
		rc = err_set(ARCA_ERR_IO, "destination %s: removing %s: no answer within %.0f s",
		             r->dest_name, name, (double)p.max_total_ms / 1000.0);
	else if (rc != ARCA_OK)
		err_wrap(rc, "destination %s: removing %s", r->dest_name, name);
	return rc;
}

/* Temporary objects older than this are left by a dead writer wherever it ran. */
#define SWEEP_MAX_AGE (24 * 3600)

int repo_sweep(struct repo *r, unsigned *removed)
{
	*removed = 0;
	const struct arca_dest_ops *o = r->d.ops;
	if (!ARCA_OPS_HAS(o, sweep))
		return ARCA_OK;
	int rc = o->sweep(r->d.inst, r->hostname, SWEEP_MAX_AGE, removed);
	if (rc != ARCA_OK)
		return err_wrap(rc, "destination %s: removing leftover temporary objects",
		                r->dest_name);
	if (*removed)
		log_info("destination %s: %u temporary object(s) left by interrupted writers "
		         "removed",
		         r->dest_name, *removed);
	return ARCA_OK;
}

static int op_stat(void *arg, struct arca_dest_call *call)
{
	struct dest_op *a = arg;
	if (OP11(a->r, stat_call))
		return a->r->d.ops->stat_call(a->r->d.inst, call, a->name, a->st);
	return a->r->d.ops->stat(a->r->d.inst, a->name, &a->st->size);
}

int dest_stat_full(struct repo *r, const char *name, struct arca_dest_stat *st)
{
	memset(st, 0, sizeof *st);
	st->struct_size = sizeof *st;
	struct dest_op a = {.r = r, .name = name, .st = st};
	int rc = retried(r, "looking at", name, op_stat, &a);
	if (rc != ARCA_OK && rc != ARCA_ERR_NOT_FOUND)
		return err_wrap(rc, "destination %s: stat of %s", r->dest_name, name);
	return rc;
}

int dest_stat(struct repo *r, const char *name, uint64_t *size)
{
	struct arca_dest_stat st;
	int rc = dest_stat_full(r, name, &st);
	*size = st.size;
	return rc;
}

static int op_probe(void *arg, struct arca_dest_call *call)
{
	struct dest_op *a = arg;
	unsigned caps = a->r->d.ops->caps;
	int rc = a->r->d.ops->probe(a->r->d.inst, call, &caps);
	if (rc == ARCA_OK)
		a->flags = caps;
	return rc;
}

int dest_probe(struct repo *r)
{
	r->caps = r->d.ops->caps;
	if (!OP11(r, probe))
		return ARCA_OK;
	struct dest_op a = {.r = r};
	int rc = retried(r, "probing", "what it supports", op_probe, &a);
	if (rc != ARCA_OK)
		return err_wrap(rc, "destination %s: probing what it supports", r->dest_name);
	r->caps = a.flags;
	log_debug("destination %s: conditional create %s, conditional replace %s, server-side "
	          "copy %s",
	          r->dest_name, r->caps & ARCA_CAP_COND_CREATE ? "yes" : "no",
	          r->caps & ARCA_CAP_COND_REPLACE ? "yes" : "no",
	          r->caps & ARCA_CAP_SERVER_COPY ? "yes" : "no");
	return ARCA_OK;
}

static int collect(void *arg, const char *name, uint64_t size)
{
	struct obj_list *l = arg;
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 64;
		l->v = xrealloc(l->v, l->cap * sizeof *l->v);
	}
	l->v[l->n].name = xstrdup(name);
	l->v[l->n++].size = size;
	return 0;
}

static int cmp_obj(const void *a, const void *b)
{
	return strcmp(((const struct obj *)a)->name, ((const struct obj *)b)->name);
}

int dest_list_all(struct repo *r, const char *prefix, struct obj_list *out)
{
	int rc = list_raw(r, prefix, out);
	if (rc != ARCA_OK)
		return rc;
	/* Sorted, so every run sees one order and lookups can bsearch. */
	if (out->n)
		qsort(out->v, out->n, sizeof *out->v, cmp_obj);
	return ARCA_OK;
}

int obj_list_has(const struct obj_list *l, const char *name)
{
	size_t lo = 0, hi = l->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(l->v[mid].name, name);
		if (!c)
			return 1;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

void obj_list_free(struct obj_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i].name);
	free(l->v);
	memset(l, 0, sizeof *l);
}

void id_hex(const unsigned char id[ID_LEN], char out[65])
{
	hex_encode(id, ID_LEN, out);
}

int id_parse(const char *hex, unsigned char id[ID_LEN])
{
	if (strlen(hex) != 2 * ID_LEN)
		return -1;
	for (const char *p = hex; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return -1;
	return hex_decode(hex, id, ID_LEN);
}

void pack_name(const unsigned char id[ID_LEN], char out[96])
{
	char hex[65];
	id_hex(id, hex);
	snprintf(out, 96, "packs/%.2s/%s", hex, hex);
}

void repo_aad(const struct repo *r, enum blob_kind kind, const void *ctx, size_t n, struct aad *out)
{
	aad_make(out, kind, r->id_raw, ctx, n);
}

/* dest_get_bounded's sink: appends until the object proves larger than
 * it may be, then refuses (so at most max bytes are ever held). */
struct bounded_sink {
	struct buf *b;
	size_t base;
	uint64_t max;
	int over;
};

static int sink_bounded(void *arg, const void *data, size_t len)
{
	struct bounded_sink *p = arg;
	if ((uint64_t)(p->b->len - p->base) + len > p->max) {
		p->over = 1;
		return ARCA_ERR_CORRUPT;
	}
	buf_append(p->b, data, len);
	return 0;
}

static void reset_bounded(void *arg)
{
	struct bounded_sink *p = arg;
	p->b->len = p->base;
	p->over = 0;
}

/* Up to this bound an object is read at once and cut as soon as it runs
 * over (so at most this much is held before a refusal); past it, the size
 * is asked first, so that a planted huge object is refused unread. */
#define GET_UNSIZED_MAX (64u << 20)

static int too_large(struct repo *r, const char *name, uint64_t size, uint64_t max_bytes)
{
	return err_set(ARCA_ERR_CORRUPT,
	               "destination %s: object %s is %llu bytes, more than the %llu such an "
	               "object can have (damaged or tampered with)",
	               r->dest_name, name, (unsigned long long)size, (unsigned long long)max_bytes);
}

int dest_get_bounded(struct repo *r, const char *name, uint64_t max_bytes, struct buf *out)
{
	uint64_t size;
	int rc;
	if (max_bytes > GET_UNSIZED_MAX) {
		/* the size first; then exactly that many bytes, whatever the
		 * object has grown to meanwhile */
		rc = dest_stat(r, name, &size);
		if (rc == ARCA_OK && size > max_bytes)
			return too_large(r, name, size, max_bytes);
		if (rc == ARCA_OK && size)
			rc = dest_get(r, name, 0, size, out);
	} else {
		/* one read (on S3 asking the size costs a request per object) */
		struct bounded_sink bs = {.b = out, .base = out->len, .max = max_bytes};
		rc = dest_get_sink(r, name, 0, UINT64_MAX, sink_bounded, &bs, reset_bounded);
		if (bs.over) {
			out->len = bs.base;
			if (dest_stat(r, name, &size) == ARCA_OK && size > max_bytes)
				return too_large(r, name, size, max_bytes);
			return err_set(ARCA_ERR_CORRUPT,
			               "destination %s: object %s is more than the %llu bytes such "
			               "an object can have (damaged or tampered with)",
			               r->dest_name, name, (unsigned long long)max_bytes);
		}
		if (rc != ARCA_OK && rc != ARCA_ERR_NOT_FOUND)
			rc = err_wrap(rc, "destination %s: reading %s", r->dest_name, name);
	}
	if (rc == ARCA_ERR_NOT_FOUND)
		return err_set(rc, "destination %s: reading %s: no such object", r->dest_name,
		               name);
	return rc;
}

int parse_pack_name(const char *name, unsigned char id[ID_LEN])
{
	char want[96];
	const char *base = strrchr(name, '/');
	if (!base || id_parse(base + 1, id))
		return -1;
	pack_name(id, want);
	return strcmp(want, name) ? -1 : 0;
}

int parse_object_name(const char *name, const char *prefix)
{
	unsigned char id[ID_LEN];
	return str_starts(name, prefix) && !id_parse(name + strlen(prefix), id) ? 0 : -1;
}

int put_sealed_object(struct repo *r, const char *prefix, enum blob_kind kind, const void *plain,
                      size_t len, unsigned char id_out[ID_LEN])
{
	struct buf sealed = {0};
	struct aad aad;
	repo_aad(r, kind, NULL, 0, &aad);
	int rc = blob_seal(r->keys, &aad, NULL, r->zstd_level, plain, len, &sealed);
	if (rc == ARCA_OK) {
		char hex[65], name[128];
		sha256(sealed.data, sealed.len, id_out);
		id_hex(id_out, hex);
		snprintf(name, sizeof name, "%s%s", prefix, hex);
		rc = dest_put(r, name, sealed.data, sealed.len, 0);
		if (rc == ARCA_OK)
			cache_put(r, name, sealed.data, sealed.len);
	}
	buf_free(&sealed);
	return rc;
}

/* The hex id at the end of a content-addressed name. */
static const char *name_id(const char *name)
{
	const char *s = strrchr(name, '/');
	return s ? s + 1 : name;
}

int get_checked_object(struct repo *r, const char *name, uint64_t max_bytes, struct buf *raw)
{
	unsigned char want[ID_LEN], got[ID_LEN];
	raw->len = 0;
	if (id_parse(name_id(name), want))
		return err_set(ARCA_ERR_CORRUPT,
		               "destination %s: object %s has no valid id in its "
		               "name (not written by arca?)",
		               r->dest_name, name);
	if (!r->cache_bypass && cache_get(r, name, raw) == 0) {
		sha256(raw->data, raw->len, got);
		if (!memcmp(got, want, ID_LEN) && raw->len <= max_bytes)
			return ARCA_OK;
		cache_remove(r, name);
		raw->len = 0;
	}
	int rc = dest_get_bounded(r, name, max_bytes, raw);
	if (rc != ARCA_OK)
		return rc;
	sha256(raw->data, raw->len, got);
	if (memcmp(got, want, ID_LEN))
		return err_set(ARCA_ERR_CORRUPT,
		               "destination %s: object %s is corrupt: its %zu "
		               "bytes do not hash to its name (damaged or truncated; run arca "
		               "verify)",
		               r->dest_name, name, raw->len);
	cache_put(r, name, raw->data, raw->len);
	return ARCA_OK;
}

int get_sealed_object(struct repo *r, const char *name, enum blob_kind kind, size_t max_raw,
                      struct buf *plain)
{
	struct buf raw = {0};
	int rc = get_checked_object(r, name, max_raw + blob_overhead(r->keys), &raw);
	if (rc == ARCA_OK) {
		char what[256];
		struct aad aad;
		repo_aad(r, kind, NULL, 0, &aad);
		snprintf(what, sizeof what, "destination %s: object %s", r->dest_name, name);
		rc = blob_open(r->keys, &aad, raw.data, raw.len, max_raw, plain, what);
	}
	buf_free(&raw);
	return rc;
}

static int name_plain(int c, int first)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || (c == '.' && !first);
}

char *name_encode(const char *s)
{
	struct buf b = {0};
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (name_plain(*p, p == (const unsigned char *)s)) {
			buf_append(&b, p, 1);
		} else {
			char esc[4];
			snprintf(esc, sizeof esc, "_%02x", *p);
			buf_append(&b, esc, 3);
		}
	}
	buf_append(&b, "", 1);
	return (char *)b.data;
}

char *name_decode(const char *s)
{
	struct buf b = {0};
	for (const char *p = s; *p; p++) {
		unsigned char c = (unsigned char)*p;
		if (c == '_') {
			if (hex_decode(p + 1, &c, 1)) {
				buf_free(&b);
				return NULL;
			}
			p += 2;
		}
		buf_append(&b, &c, 1);
	}
	buf_append(&b, "", 1);
	return (char *)b.data;
}

int cpu_count(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? (int)n : 1;
}
