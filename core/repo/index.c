/* index.c — chunk index hash table and the index object codec. */
#include "repo/index.h"

#include <stdlib.h>
#include <string.h>
#include "log.h"

void put_le32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

void put_le64(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

uint32_t get_le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

uint64_t get_le64(const unsigned char *p)
{
	return (uint64_t)get_le32(p) | (uint64_t)get_le32(p + 4) << 32;
}

/* Keyed over the whole id: ids read from storage may have been crafted to
 * share any fixed slice (FORMAT.md, "Bounds"). */
static size_t id_hash(const unsigned char *id)
{
	return (size_t)id_hash64(id);
}

void idx_free(struct idx *x)
{
	free(x->slots);
	free(x->packs);
	free(x->pack_slots);
	memset(x, 0, sizeof *x);
}

struct idx_slot *idx_find(const struct idx *x, const unsigned char id[ID_LEN])
{
	if (!x->cap)
		return NULL;
	size_t mask = x->cap - 1;
	for (size_t i = id_hash(id) & mask;; i = (i + 1) & mask) {
		struct idx_slot *s = &x->slots[i];
		if (s->pack == PACK_NONE)
			return NULL;
		if (!memcmp(s->id, id, ID_LEN))
			return s;
	}
}

int idx_slot_usable(const struct idx *x, const struct idx_slot *s)
{
	return s && s->pack != PACK_NONE && s->pack != PACK_PENDING && !x->packs[s->pack - 1].gone;
}

static void idx_grow(struct idx *x)
{
	size_t ncap = x->cap ? x->cap * 2 : 1024;
	struct idx_slot *ns = xcalloc(ncap, sizeof *ns);
	for (size_t i = 0; i < x->cap; i++) {
		struct idx_slot *s = &x->slots[i];
		if (s->pack == PACK_NONE)
			continue;
		size_t j = id_hash(s->id) & (ncap - 1);
		while (ns[j].pack != PACK_NONE)
			j = (j + 1) & (ncap - 1);
		ns[j] = *s;
	}
	free(x->slots);
	x->slots = ns;
	x->cap = ncap;
}

struct idx_slot *idx_insert(struct idx *x, const unsigned char id[ID_LEN], int *added)
{
	if ((x->n + 1) * 4 > x->cap * 3)
		idx_grow(x);
	size_t mask = x->cap - 1;
	for (size_t i = id_hash(id) & mask;; i = (i + 1) & mask) {
		struct idx_slot *s = &x->slots[i];
		if (s->pack == PACK_NONE) {
			memcpy(s->id, id, ID_LEN);
			s->pack = PACK_PENDING;
			x->n++;
			*added = 1;
			return s;
		}
		if (!memcmp(s->id, id, ID_LEN)) {
			*added = 0;
			return s;
		}
	}
}

uint32_t idx_find_pack(const struct idx *x, const unsigned char id[ID_LEN])
{
	if (!x->pack_slots_cap)
		return 0;
	size_t mask = x->pack_slots_cap - 1;
	for (size_t i = id_hash(id) & mask;; i = (i + 1) & mask) {
		uint32_t v = x->pack_slots[i];
		if (!v)
			return 0;
		if (!memcmp(x->packs[v - 1].id, id, ID_LEN))
			return v;
	}
}

static void pack_slot_put(uint32_t *slots, size_t cap, const unsigned char *id, uint32_t v)
{
	size_t j = id_hash(id) & (cap - 1);
	while (slots[j])
		j = (j + 1) & (cap - 1);
	slots[j] = v;
}

uint32_t idx_add_pack(struct idx *x, const unsigned char id[ID_LEN], uint64_t size)
{
	uint32_t v = idx_find_pack(x, id);
	if (v)
		return v;
	if ((x->npacks + 1) * 2 > x->pack_slots_cap) {
		size_t ncap = x->pack_slots_cap ? x->pack_slots_cap * 2 : 256;
		uint32_t *ns = xcalloc(ncap, sizeof *ns);
		for (size_t i = 0; i < x->npacks; i++)
			pack_slot_put(ns, ncap, x->packs[i].id, (uint32_t)i + 1);
		free(x->pack_slots);
		x->pack_slots = ns;
		x->pack_slots_cap = ncap;
	}
	if (x->npacks == x->packs_cap) {
		x->packs_cap = x->packs_cap ? x->packs_cap * 2 : 64;
		x->packs = xrealloc(x->packs, x->packs_cap * sizeof *x->packs);
	}
	memcpy(x->packs[x->npacks].id, id, ID_LEN);
	x->packs[x->npacks].size = size;
	x->packs[x->npacks].gone = 0;
	v = (uint32_t)++x->npacks;
	pack_slot_put(x->pack_slots, x->pack_slots_cap, id, v);
	return v;
}

void pack_info_free(struct pack_info *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(p[i].e);
	free(p);
}

#define IDX_MAGIC "AIX1"
#define ENTRY_LEN (ID_LEN + 8 + 4 + 4)

static void encode_entry(const struct pack_entry *e, unsigned char *q)
{
	memcpy(q, e->id, ID_LEN);
	put_le64(q + ID_LEN, e->offset);
	put_le32(q + ID_LEN + 8, e->length);
	put_le32(q + ID_LEN + 12, e->raw_length);
}

void idx_encode(const struct pack_info *packs, size_t n, struct buf *out)
{
	unsigned char h[8];
	memcpy(h, IDX_MAGIC, 4);
	put_le32(h + 4, (uint32_t)n);
	buf_append(out, h, 8);
	for (size_t i = 0; i < n; i++) {
		unsigned char ph[ID_LEN + 12];
		memcpy(ph, packs[i].id, ID_LEN);
		put_le64(ph + ID_LEN, packs[i].size);
		put_le32(ph + ID_LEN + 8, (uint32_t)packs[i].n);
		buf_append(out, ph, sizeof ph);
		buf_reserve(out, packs[i].n * ENTRY_LEN);
		for (size_t j = 0; j < packs[i].n; j++) {
			encode_entry(&packs[i].e[j], out->data + out->len);
			out->len += ENTRY_LEN;
		}
	}
}

int entry_in_bounds(const struct pack_entry *e, uint32_t max_raw, uint32_t overhead)
{
	return e->raw_length <= max_raw && e->length >= overhead &&
	       (uint64_t)e->length <= (uint64_t)e->raw_length + overhead;
}

int idx_decode(const unsigned char *p, size_t len, const char *name, uint32_t max_raw,
               uint32_t overhead, struct pack_info **packs, size_t *n)
{
	*packs = NULL;
	*n = 0;
	if (len < 8 || memcmp(p, IDX_MAGIC, 4))
		return err_set(ARCA_ERR_CORRUPT, "%s is corrupt: not an index (bad magic)", name);
	uint32_t np = get_le32(p + 4);
	size_t off = 8;
	if (np > (len - off) / (ID_LEN + 12))
		return err_set(ARCA_ERR_CORRUPT, "%s is corrupt: %u packs cannot fit in %zu bytes",
		               name, np, len);
	struct pack_info *pi = xcalloc(np ? np : 1, sizeof *pi);
	for (uint32_t i = 0; i < np; i++) {
		if (len - off < ID_LEN + 12)
			goto trunc;
		memcpy(pi[i].id, p + off, ID_LEN);
		pi[i].size = get_le64(p + off + ID_LEN);
		uint32_t ne = get_le32(p + off + ID_LEN + 8);
		if (pi[i].size > PACK_OBJECT_MAX) {
			char hex[2 * ID_LEN + 1];
			unsigned long long size = pi[i].size;
			hex_encode(pi[i].id, ID_LEN, hex);
			pack_info_free(pi, np);
			return err_set(ARCA_ERR_CORRUPT,
			               "%s is corrupt: pack %s is %llu bytes, more "
			               "than any pack arca writes (%llu)",
			               name, hex, size, (unsigned long long)PACK_OBJECT_MAX);
		}
		off += ID_LEN + 12;
		if (ne > (len - off) / ENTRY_LEN)
			goto trunc;
		pi[i].e = xmalloc((ne ? ne : 1) * sizeof *pi[i].e);
		pi[i].n = ne;
		for (uint32_t j = 0; j < ne; j++, off += ENTRY_LEN) {
			struct pack_entry *e = &pi[i].e[j];
			memcpy(e->id, p + off, ID_LEN);
			e->offset = get_le64(p + off + ID_LEN);
			e->length = get_le32(p + off + ID_LEN + 8);
			e->raw_length = get_le32(p + off + ID_LEN + 12);
			if (e->offset > pi[i].size || e->length > pi[i].size - e->offset ||
			    e->offset > UINT32_MAX) {
				pack_info_free(pi, np);
				return err_set(ARCA_ERR_CORRUPT,
				               "%s is corrupt: an entry lies "
				               "outside its pack",
				               name);
			}
			if (!entry_in_bounds(e, max_raw, overhead)) {
				uint32_t raw = e->raw_length, sealed = e->length;
				pack_info_free(pi, np);
				return err_set(
				    ARCA_ERR_CORRUPT,
				    "%s is corrupt: an entry claims a "
				    "chunk of %u bytes (%u sealed); chunks are at most %u",
				    name, raw, sealed, max_raw);
			}
		}
	}
	if (off != len)
		goto trunc;
	*packs = pi;
	*n = np;
	return ARCA_OK;
trunc:
	pack_info_free(pi, np);
	return err_set(ARCA_ERR_CORRUPT, "%s is corrupt: truncated or overlong entry table", name);
}

void idx_add_packs(struct idx *x, const struct pack_info *packs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint32_t pk = idx_add_pack(x, packs[i].id, packs[i].size);
		for (size_t j = 0; j < packs[i].n; j++) {
			const struct pack_entry *e = &packs[i].e[j];
			int added;
			struct idx_slot *s = idx_insert(x, e->id, &added);
			if (!added && s->pack != PACK_PENDING)
				continue;
			s->pack = pk;
			s->offset = (uint32_t)e->offset;
			s->length = e->length;
			s->raw_length = e->raw_length;
		}
	}
}
