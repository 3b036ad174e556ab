/* dest.c — the repository's view of its destination: checked puts and gets,
 * listings, content-addressed sealed objects, object-name encoding. */
#include "repo/internal.h"

#include <stddef.h>
#include <string.h>
#include <unistd.h>
#include "log.h"
#include "loader.h"
#include "repo/blob.h"

int dest_put(struct repo *r, const char *name, const void *data, size_t len, unsigned flags)
{
	int rc = r->d.ops->put(r->d.inst, name, data, len, flags);
	if (rc != ARCA_OK && rc != ARCA_ERR_EXISTS)
		return err_wrap(rc, "destination %s: writing %s", r->dest_name, name);
	return rc;
}

static int sink_buf(void *arg, const void *data, size_t len)
{
	buf_append(arg, data, len);
	return 0;
}

int dest_get(struct repo *r, const char *name, uint64_t off, uint64_t len, struct buf *out)
{
	int rc = r->d.ops->get(r->d.inst, name, off, len, sink_buf, out);
	if (rc != ARCA_OK)
		return err_wrap(rc, "destination %s: reading %s", r->dest_name, name);
	return ARCA_OK;
}

int dest_list(struct repo *r, const char *prefix,
              int (*cb)(void *arg, const char *name, uint64_t size), void *arg)
{
	int rc = r->d.ops->list(r->d.inst, prefix, cb, arg);
	if (rc != ARCA_OK && err_status() == rc && err_msg()[0])
		return err_wrap(rc, "destination %s: listing %s", r->dest_name, prefix);
	return rc;
}

int dest_remove(struct repo *r, const char *name)
{
	int rc = r->d.ops->remove(r->d.inst, name);
	if (rc != ARCA_OK)
		return err_wrap(rc, "destination %s: removing %s", r->dest_name, name);
	return ARCA_OK;
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

int dest_stat(struct repo *r, const char *name, uint64_t *size)
{
	int rc = r->d.ops->stat(r->d.inst, name, size);
	if (rc != ARCA_OK && rc != ARCA_ERR_NOT_FOUND)
		return err_wrap(rc, "destination %s: stat of %s", r->dest_name, name);
	return rc;
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
	memset(out, 0, sizeof *out);
	int rc = dest_list(r, prefix, collect, out);
	if (rc != ARCA_OK) {
		obj_list_free(out);
		return rc;
	}
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

int dest_get_bounded(struct repo *r, const char *name, uint64_t max_bytes, struct buf *out)
{
	/* The size first, so an oversized object is never read; then exactly
	 * that many bytes, whatever the object has grown to meanwhile. */
	uint64_t size;
	int rc = dest_stat(r, name, &size);
	if (rc == ARCA_ERR_NOT_FOUND)
		return err_set(rc, "destination %s: reading %s: no such object", r->dest_name,
		               name);
	if (rc != ARCA_OK)
		return rc;
	if (size > max_bytes)
		return err_set(ARCA_ERR_CORRUPT,
		               "destination %s: object %s is %llu bytes, more "
		               "than the %llu such an object can have (damaged or tampered with)",
		               r->dest_name, name, (unsigned long long)size,
		               (unsigned long long)max_bytes);
	return size ? dest_get(r, name, 0, size, out) : ARCA_OK;
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
