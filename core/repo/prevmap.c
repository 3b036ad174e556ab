/* prevmap.c — compact name -> previous item map (see prevmap.h). */
#include "repo/prevmap.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zstd.h>
#include "repo/index.h"

/* Keyed by name and fingerprint: a key (ABI 1.1) may repeat in a snapshot,
 * once per version of an object, each version with its own fingerprint. */
static uint64_t name_hash(const char *s, const char *fp)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a */
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	h = (h ^ 0xffu) * 1099511628211ull; /* a byte no name has: "ab"+"c" != "a"+"bc" */
	for (; *fp; fp++)
		h = (h ^ (unsigned char)*fp) * 1099511628211ull;
	return h;
}

void prevmap_free(struct prevmap *m)
{
	free(m->e);
	free(m->slots);
	buf_free(&m->strings);
	buf_free(&m->ids);
	buf_free(&m->attrs_raw);
	buf_free(&m->attrs_z);
	free(m->blk_start);
	free(m->blk_at);
	buf_free(&m->blk_cache);
	int pack = m->pack_attrs;
	memset(m, 0, sizeof *m);
	m->pack_attrs = pack;
}

static const char *entry_name(const struct prevmap *m, const struct prev_entry *e)
{
	return (const char *)m->strings.data + e->name_off;
}

static void slot_put(uint32_t *slots, size_t cap, uint64_t h, uint32_t v)
{
	size_t i = (size_t)h & (cap - 1);
	while (slots[i])
		i = (i + 1) & (cap - 1);
	slots[i] = v;
}

const struct prev_entry *prevmap_get(const struct prevmap *m, const char *name, const char *fp)
{
	if (!m->slots_cap)
		return NULL;
	for (size_t i = (size_t)name_hash(name, fp) & (m->slots_cap - 1);;
	     i = (i + 1) & (m->slots_cap - 1)) {
		uint32_t v = m->slots[i];
		if (!v)
			return NULL;
		if (!strcmp(entry_name(m, &m->e[v - 1]), name) &&
		    !strcmp(prevmap_fp(m, &m->e[v - 1]), fp))
			return &m->e[v - 1];
	}
}

static uint64_t add_string(struct buf *b, const char *s)
{
	uint64_t off = b->len;
	buf_append(b, s, strlen(s) + 1);
	return off;
}

/* Compress the block being filled onto attrs_z. */
static void attrs_seal(struct prevmap *m)
{
	if (!m->attrs_raw.len)
		return;
	if (m->n_blk == m->blk_cap) {
		m->blk_cap = m->blk_cap ? m->blk_cap * 2 : 64;
		m->blk_start = xrealloc(m->blk_start, m->blk_cap * sizeof *m->blk_start);
		m->blk_at = xrealloc(m->blk_at, m->blk_cap * sizeof *m->blk_at);
	}
	m->blk_start[m->n_blk] = m->attrs_len - m->attrs_raw.len;
	m->blk_at[m->n_blk++] = m->attrs_z.len;
	size_t bound = ZSTD_compressBound(m->attrs_raw.len);
	buf_reserve(&m->attrs_z, 8 + bound);
	unsigned char *q = m->attrs_z.data + m->attrs_z.len;
	size_t z = ZSTD_compress(q + 8, bound, m->attrs_raw.data, m->attrs_raw.len, 3);
	if (ZSTD_isError(z)) { /* not compressed: stored as is */
		memcpy(q + 8, m->attrs_raw.data, m->attrs_raw.len);
		z = 0;
	}
	put_le32(q, (uint32_t)z);
	put_le32(q + 4, (uint32_t)m->attrs_raw.len);
	m->attrs_z.len += 8 + (z ? z : m->attrs_raw.len);
	m->attrs_raw.len = 0;
}

static uint64_t add_attrs(struct prevmap *m, const char *attrs)
{
	if (!m->pack_attrs)
		return add_string(&m->strings, attrs);
	uint64_t off = m->attrs_len;
	size_t n = strlen(attrs) + 1;
	buf_append(&m->attrs_raw, attrs, n);
	m->attrs_len += n;
	if (m->attrs_raw.len >= PM_ATTR_BLOCK)
		attrs_seal(m);
	return PREV_PACKED | off;
}

void prevmap_add(struct prevmap *m, const char *name, const char *fp, const char *attrs,
                 uint32_t type, uint64_t size, const unsigned char *ids, size_t n_chunks)
{
	if (prevmap_get(m, name, fp))
		return;
	if ((m->n + 1) * 2 > m->slots_cap) {
		size_t cap = m->slots_cap ? m->slots_cap * 2 : 1024;
		uint32_t *ns = xcalloc(cap, sizeof *ns);
		for (size_t i = 0; i < m->n; i++)
			slot_put(ns, cap,
			         name_hash(entry_name(m, &m->e[i]), prevmap_fp(m, &m->e[i])),
			         (uint32_t)i + 1);
		free(m->slots);
		m->slots = ns;
		m->slots_cap = cap;
	}
	if (m->n == m->cap) {
		m->cap = m->cap ? m->cap * 2 : 1024;
		m->e = xrealloc(m->e, m->cap * sizeof *m->e);
	}
	struct prev_entry *e = &m->e[m->n];
	e->name_off = add_string(&m->strings, name);
	e->fp_off = add_string(&m->strings, fp);
	e->attrs_off = attrs ? add_attrs(m, attrs) : PREV_NO_ATTRS;
	e->size = size;
	e->type = type;
	e->n_chunks = (uint32_t)n_chunks;
	e->chunk_off = m->ids.len;
	buf_append(&m->ids, ids, n_chunks * ID_LEN);
	m->n++;
	slot_put(m->slots, m->slots_cap, name_hash(name, fp), (uint32_t)m->n);
}

const char *prevmap_fp(const struct prevmap *m, const struct prev_entry *e)
{
	return (const char *)m->strings.data + e->fp_off;
}

/* Attribute text at packed offset `off`: in the block being filled, or in
 * the sealed block holding it (the last one whose start is <= off). */
static const char *packed_attrs(struct prevmap *m, uint64_t off)
{
	uint64_t raw_start = m->attrs_len - m->attrs_raw.len;
	if (off >= raw_start)
		return off < m->attrs_len ? (const char *)m->attrs_raw.data + (off - raw_start)
		                          : NULL;
	size_t lo = 0, hi = m->n_blk; /* blk_start[lo] <= off < blk_start[hi] */
	if (!hi || m->blk_start[0] > off)
		return NULL;
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;
		if (m->blk_start[mid] <= off)
			lo = mid;
		else
			hi = mid;
	}
	const unsigned char *q = m->attrs_z.data + m->blk_at[lo];
	uint32_t z = get_le32(q), n = get_le32(q + 4);
	const unsigned char *text = q + 8;
	if (z) {
		if (m->cached_blk != lo + 1) {
			m->cached_blk = 0;
			buf_reserve(&m->blk_cache, n);
			if (ZSTD_decompress(m->blk_cache.data, n, q + 8, z) != n)
				return NULL;
			m->cached_blk = lo + 1;
		}
		text = m->blk_cache.data;
	}
	return off - m->blk_start[lo] < n ? (const char *)text + (off - m->blk_start[lo]) : NULL;
}

const char *prevmap_attrs(struct prevmap *m, const struct prev_entry *e)
{
	if (e->attrs_off == PREV_NO_ATTRS)
		return NULL;
	if (e->attrs_off & PREV_PACKED)
		return packed_attrs(m, e->attrs_off & ~PREV_PACKED);
	return (const char *)m->strings.data + e->attrs_off;
}

const unsigned char *prevmap_chunk(const struct prevmap *m, const struct prev_entry *e, size_t i)
{
	return m->ids.data + e->chunk_off + i * ID_LEN;
}

/* APM2 added the attributes (ABI 1.1 ARCA_ITEM_KEEP_ATTRS); an APM1 file
 * is not read: the latest manifest is used instead, once. */
#define PM_MAGIC "APM2"
#define PM_HEAD  (4 + 64 + 24)
#define PM_ENTRY (8 * 5 + 4 + 4)
/* ~160 bytes an item: 4 GiB is some 25 million items. A larger file is not
 * read; the latest manifest is used instead. */
#define PM_MAX_BYTES ((size_t)(SIZE_MAX < (4ull << 30) ? SIZE_MAX : (4ull << 30)))

static void put_entry(unsigned char *q, const struct prev_entry *e)
{
	put_le64(q, e->name_off);
	put_le64(q + 8, e->fp_off);
	put_le64(q + 16, e->size);
	put_le64(q + 24, e->chunk_off);
	put_le32(q + 32, e->n_chunks);
	put_le32(q + 36, e->type);
	put_le64(q + 40, e->attrs_off);
}

/* The directory of a metadata cache file, state_dir/<repository id>/meta/
 * (writer.c makes it), opened with <repository id>/ and meta/ not followed
 * if symlinks; *base is the file's name. */
static int meta_dir(const char *path, const char **base)
{
	const char *slash = strrchr(path, '/');
	if (!slash || !slash[1])
		return -1;
	*base = slash + 1;
	char *dir = xstrndup(path, (size_t)(slash - path));
	int dfd = open_dir_nofollow(dir, 2, 0);
	free(dir);
	return dfd;
}

/* The file's bytes after the header and the entries, to `sink`: strings,
 * the packed attributes (a block at a time), ids. */
struct pm_out {
	const struct prevmap *m;
	const unsigned char *head, *ents;
	size_t ents_len;
	void *hash; /* sink: hash it, or write it to fd */
	int fd;
	const unsigned char *sum; /* written last */
};

static int pm_put(struct pm_out *o, const void *p, size_t n)
{
	if (!n)
		return 0;
	if (o->hash) {
		sha256_update(o->hash, p, n);
		return 0;
	}
	return write_fd_all(o->fd, p, n);
}

static int pm_emit(struct pm_out *o)
{
	const struct prevmap *m = o->m;
	if (pm_put(o, o->head, PM_HEAD) || pm_put(o, o->ents, o->ents_len) ||
	    pm_put(o, m->strings.data, m->strings.len))
		return -1;
	struct buf raw = {0};
	int bad = 0;
	for (size_t at = 0; at < m->attrs_z.len && !bad;) {
		const unsigned char *q = m->attrs_z.data + at;
		uint32_t z = get_le32(q), n = get_le32(q + 4);
		const unsigned char *p = q + 8;
		if (z) {
			buf_reserve(&raw, n);
			bad = ZSTD_decompress(raw.data, n, q + 8, z) != n;
			p = raw.data;
		}
		bad = bad || pm_put(o, p, n);
		at += 8 + (z ? z : n);
	}
	buf_free(&raw);
	if (bad)
		return -1;
	if (pm_put(o, m->attrs_raw.data, m->attrs_raw.len) || pm_put(o, m->ids.data, m->ids.len))
		return -1;
	return 0;
}

static int pm_write(void *ctx, int fd)
{
	struct pm_out *o = ctx;
	o->fd = fd;
	return pm_emit(o) || write_fd_all(fd, o->sum, ID_LEN) ? -1 : 0;
}

int prevmap_save(const struct prevmap *m, const char *path, const char *snap_id)
{
	unsigned char head[PM_HEAD];
	memcpy(head, PM_MAGIC, 4);
	memset(head + 4, '0', 64);
	memcpy(head + 4, snap_id, strlen(snap_id) < 64 ? strlen(snap_id) : 64);
	put_le64(head + 68, m->n);
	put_le64(head + 76, m->strings.len + m->attrs_len);
	put_le64(head + 84, m->ids.len);
	/* Written part by part from the map itself, not copied into one
	 * buffer first: that copy was the peak of a large snapshot's memory
	 * (some 380 bytes an item, 38 MB at 100,000 s3 objects). Packed
	 * attributes follow the strings: their offsets move by its length. */
	unsigned char *ents = xmalloc(m->n * PM_ENTRY + 1);
	for (size_t i = 0; i < m->n; i++) {
		struct prev_entry e = m->e[i];
		if (e.attrs_off != PREV_NO_ATTRS && (e.attrs_off & PREV_PACKED))
			e.attrs_off = m->strings.len + (e.attrs_off & ~PREV_PACKED);
		put_entry(ents + i * PM_ENTRY, &e);
	}
	struct pm_out o = {.m = m, .head = head, .ents = ents, .ents_len = m->n * PM_ENTRY};
	unsigned char sum[ID_LEN];
	o.hash = sha256_begin();
	int rc = pm_emit(&o);
	sha256_end(o.hash, sum);
	o.hash = NULL;
	/* a new file of a random name renamed over path: nothing planted at
	 * path or in the cache directories above it is followed */
	const char *base;
	int dfd = rc ? -1 : meta_dir(path, &base);
	rc = -1;
	if (dfd >= 0) {
		o.sum = sum;
		rc = write_file_gen_at(dfd, base, pm_write, &o) < 0 ? -1 : 0;
		close(dfd);
	}
	free(ents);
	return rc;
}

int prevmap_load(struct prevmap *m, const char *path, const char *snap_id)
{
	char *data;
	size_t len;
	/* a regular file, not followed if a symlink, of a sane size */
	const char *base;
	int dfd = meta_dir(path, &base);
	if (dfd < 0)
		return -1;
	int got = read_file_at(dfd, base, PM_MAX_BYTES, &data, &len);
	close(dfd);
	if (got)
		return -1;
	const unsigned char *p = (const unsigned char *)data;
	unsigned char sum[ID_LEN];
	int rc = -1;
	if (len < PM_HEAD + ID_LEN || memcmp(p, PM_MAGIC, 4) || strlen(snap_id) != 64 ||
	    memcmp(p + 4, snap_id, 64))
		goto out;
	sha256(p, len - ID_LEN, sum);
	if (memcmp(sum, p + len - ID_LEN, ID_LEN))
		goto out;
	uint64_t n = get_le64(p + 68), sl = get_le64(p + 76), il = get_le64(p + 84);
	uint64_t body = len - ID_LEN - PM_HEAD;
	if (n > body / PM_ENTRY || sl > body || il > body || n * PM_ENTRY + sl + il != body ||
	    il % ID_LEN || (sl && p[PM_HEAD + n * PM_ENTRY + sl - 1] != 0))
		goto out;
	const unsigned char *ents = p + PM_HEAD, *strs = ents + n * PM_ENTRY, *ids = strs + sl;
	prevmap_free(m);
	for (uint64_t i = 0; i < n; i++) {
		const unsigned char *q = ents + i * PM_ENTRY;
		uint64_t no = get_le64(q), fo = get_le64(q + 8), co = get_le64(q + 24);
		uint64_t ao = get_le64(q + 40);
		uint32_t nc = get_le32(q + 32);
		if (no >= sl || fo >= sl || (ao != PREV_NO_ATTRS && ao >= sl) || co > il ||
		    (uint64_t)nc * ID_LEN > il - co) {
			prevmap_free(m);
			goto out;
		}
		prevmap_add(m, (const char *)strs + no, (const char *)strs + fo,
		            ao == PREV_NO_ATTRS ? NULL : (const char *)strs + ao, get_le32(q + 36),
		            get_le64(q + 16), ids + co, nc);
	}
	rc = 0;
out:
	free(data);
	return rc;
}
